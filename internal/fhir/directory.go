package fhir

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/record"
)

// The MSSanté directory (issue 6): the professional mailboxes, published as the French
// directory publishes them, Practitioner (a professional, by IdNat_PS), PractitionerRole (one
// nominative mailbox: its owner, their organisation and profession, the address as telecom) and
// Organization (by IdNat_Struct, its organisational and applicative mailboxes as telecom).
//
// Who may search: the directory holds no health data, but it is the trust space's and names
// people, so it is served to the professionals (their own tokens, or their software's) and to
// the operator, and refused (403) to patients, their representatives and the apps a patient
// connected: those act for one patient, whose messages reach professionals by replying, and
// the SMART scopes a patient grants have no directory resource. Patient mailboxes are never in
// it; a mailbox on the "liste rouge" is left out of every search and read, except for its own
// owner (a professional sees their own PER mailboxes and the ORG ones they are a member of).
// Searching is not traced: no patient is concerned.

// Directory is the directory the API publishes (mail.Service).
type Directory interface {
	Directory(ctx context.Context, q mail.DirectoryQuery) ([]mail.DirectoryEntry, error)
}

type directoryRef struct{ d Directory }

// SetDirectory gives the API the MSSanté directory: `carnet serve` starts the messaging after
// the API is built. Until it is given, the directory's resources are not found and the
// CapabilityStatement does not list them.
func (a *API) SetDirectory(d Directory) { a.dir.Store(&directoryRef{d: d}) }

func (a *API) directory() Directory {
	if r := a.dir.Load(); r != nil {
		return r.d
	}
	return nil
}

// Identifier systems of the directory (DOMAIN.md "Identities"; FINESS as the French FHIR
// profiles write it).
const (
	SystemIdNatPS     = "urn:oid:1.2.250.1.71.4.2.1"
	SystemIdNatStruct = "urn:oid:1.2.250.1.71.4.2.2"
	SystemFINESS      = "http://finess.sante.gouv.fr"
)

// Paging of the directory's searches.
const (
	directoryDefaultCount = 20
	directoryMaxCount     = 100
)

// dirKind is one resource type of the directory.
type dirKind string

const (
	kindPractitioner dirKind = "Practitioner"
	kindRole         dirKind = "PractitionerRole"
	kindOrganization dirKind = "Organization"
)

// dirParams are the search parameters of each type, beyond _count, _offset and _format.
var dirParams = map[dirKind][]string{
	kindPractitioner: {"name", "identifier"},
	kindRole:         {"practitioner", "organization", "role", "address-city", "email"},
	kindOrganization: {"name", "identifier", "address-city"},
}

// directoryRoutes serves the directory's searches and reads.
func (a *API) directoryRoutes() {
	for _, k := range []dirKind{kindPractitioner, kindRole, kindOrganization} {
		a.mux.HandleFunc("GET /fhir/"+string(k), a.directoryAuth(a.directorySearch(k)))
		a.mux.HandleFunc("POST /fhir/"+string(k)+"/_search", a.directoryAuth(a.directorySearch(k)))
		a.mux.HandleFunc("GET /fhir/"+string(k)+"/{id}", a.directoryAuth(a.directoryRead(k)))
	}
}

// directoryAuth authenticates the caller (a.auth) and lets professionals and operators in.
func (a *API) directoryAuth(h func(http.ResponseWriter, *http.Request, Directory, string)) http.HandlerFunc {
	return a.auth(func(w http.ResponseWriter, r *http.Request, req record.Request) {
		d := a.directory()
		if d == nil {
			a.fail(w, r, errs.E(errs.NotFound, "the MSSanté directory is not served here"))
			return
		}
		viewer := ""
		switch req.Actor.Kind {
		case audit.ActorProfessional:
			viewer = req.Actor.ID
		case audit.ActorOperator:
		default:
			a.fail(w, r, errs.E(errs.Forbidden, "the MSSanté directory is open to professionals and their software, not to patients' tokens or apps"))
			return
		}
		h(w, r, d, viewer)
	})
}

// dirSearch is a parsed directory search.
type dirSearch struct {
	q             mail.DirectoryQuery
	count, offset int
}

// directoryQuery reads the search parameters of kind k. Every error is Invalid.
func directoryQuery(k dirKind, form url.Values) (dirSearch, error) {
	s := dirSearch{count: directoryDefaultCount}
	known := map[string]bool{"_count": true, "_offset": true, "_format": true}
	for _, p := range dirParams[k] {
		known[p] = true
	}
	for name, vs := range form {
		if !known[name] {
			return s, errs.E(errs.Invalid, "unknown search parameter %q for %s: %s, _count", clipParam(name), k, strings.Join(dirParams[k], ", "))
		}
		if len(vs) != 1 {
			return s, errs.E(errs.Invalid, "the search parameter %q is given more than once", name)
		}
		if len(vs[0]) > 200 {
			return s, errs.E(errs.Invalid, "the search parameter %q is longer than 200 characters", name)
		}
	}
	if c := form.Get("_count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return s, errs.E(errs.Invalid, "_count must be a positive number")
		}
		s.count = min(n, directoryMaxCount)
	}
	if o := form.Get("_offset"); o != "" {
		n, err := strconv.Atoi(o)
		if err != nil || n < 0 || n > mail.MaxDirectoryOffset {
			return s, errs.E(errs.Invalid, "_offset is not one this server gave")
		}
		s.offset = n
	}
	q := &s.q
	switch k {
	case kindPractitioner:
		q.Kinds, q.Distinct = []mail.Kind{mail.PER}, mail.OnePerProfessional
		q.Name = form.Get("name")
		if v := form.Get("identifier"); v != "" {
			id, err := idNatPSParam(v)
			if err != nil {
				return s, err
			}
			q.RPPS = id
		}
	case kindRole:
		q.Kinds = []mail.Kind{mail.PER}
		if v := form.Get("practitioner"); v != "" {
			id, err := idNatPSParam(strings.TrimPrefix(v, "Practitioner/"))
			if err != nil {
				return s, errs.E(errs.Invalid, "practitioner: Practitioner/<IdNat_PS>")
			}
			q.RPPS = id
		}
		if v := form.Get("organization"); v != "" {
			sid, err := identity.ParseStructureID(strings.TrimPrefix(v, "Organization/"))
			if err != nil {
				return s, errs.E(errs.Invalid, "organization: Organization/<IdNat_Struct>")
			}
			q.StructureID = sid.String()
		}
		if v := form.Get("role"); v != "" {
			_, code, ok := strings.Cut(v, "|")
			if !ok {
				code = v
			}
			if code == "" || strings.ContainsAny(code, " |,") {
				return s, errs.E(errs.Invalid, "role: a profession code, e.g. G15_10 (médecin)")
			}
			q.Profession = code
		}
		q.Town = form.Get("address-city")
		if v := form.Get("email"); v != "" {
			a, err := mail.ParseAddress(strings.TrimSpace(v))
			if err != nil || a.IsNull() {
				return s, errs.E(errs.Invalid, "email: a mailbox address")
			}
			q.Address = a.String()
		}
	case kindOrganization:
		q.Distinct = mail.OnePerOrganisation
		q.Organisation = form.Get("name")
		q.Town = form.Get("address-city")
		if v := form.Get("identifier"); v != "" {
			sid, err := structureParam(v)
			if err != nil {
				return s, err
			}
			q.StructureID = sid
		}
	}
	if strings.TrimSpace(q.Name+q.Organisation+q.Town+q.RPPS+q.StructureID+q.Profession+q.Address) == "" {
		return s, errs.E(errs.Invalid, "give at least one search parameter of %s: %s (the directory is searched, not listed)", k, strings.Join(dirParams[k], ", "))
	}
	// One more than the page: whether there is a next one.
	q.Limit, q.Offset = s.count+1, s.offset
	return s, nil
}

// idNatPSParam reads a professional's identifier token: system|value with the IdNat_PS
// system, or a bare IdNat_PS or RPPS number.
func idNatPSParam(v string) (string, error) {
	sys, val, ok := strings.Cut(v, "|")
	if !ok {
		sys, val = "", v
	}
	if sys != "" && sys != SystemIdNatPS {
		return "", errs.E(errs.Invalid, "identifier: the system of professionals is %s (IdNat_PS)", SystemIdNatPS)
	}
	val = strings.TrimSpace(val)
	if r, err := identity.ParseRPPS(val); err == nil && sys == "" {
		return string(identity.PSRPPS) + string(r), nil
	}
	id, err := identity.ParseIdNatPS(val)
	if err != nil {
		return "", errs.E(errs.Invalid, "identifier: an IdNat_PS (8 + RPPS, 0 + ADELI) or an RPPS number")
	}
	return id.String(), nil
}

// structureParam reads an organisation's identifier token: an IdNat_Struct (its system, or
// none), a FINESS (its system, or nine characters alone) or a SIRET (fourteen digits alone).
func structureParam(v string) (string, error) {
	sys, val, ok := strings.Cut(v, "|")
	if !ok {
		sys, val = "", v
	}
	val = strings.TrimSpace(val)
	bad := errs.E(errs.Invalid, "identifier: an IdNat_Struct (%s), a FINESS (%s) or a SIRET", SystemIdNatStruct, SystemFINESS)
	switch sys {
	case SystemFINESS:
		f, err := identity.ParseFINESS(val)
		if err != nil {
			return "", bad
		}
		return string(identity.StructFINESS) + string(f), nil
	case "":
		if f, err := identity.ParseFINESS(val); err == nil {
			return string(identity.StructFINESS) + string(f), nil
		}
		if s, err := identity.ParseSIRET(val); err == nil {
			return string(identity.StructSIRET) + string(s), nil
		}
	case SystemIdNatStruct:
	default:
		return "", bad
	}
	sid, err := identity.ParseStructureID(val)
	if err != nil {
		return "", bad
	}
	return sid.String(), nil
}

// clipParam bounds what an error repeats of a parameter's name.
func clipParam(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func (a *API) directorySearch(k dirKind) func(http.ResponseWriter, *http.Request, Directory, string) {
	return func(w http.ResponseWriter, r *http.Request, d Directory, viewer string) {
		if err := r.ParseForm(); err != nil {
			a.fail(w, r, errs.E(errs.Invalid, "the search parameters do not parse"))
			return
		}
		s, err := directoryQuery(k, r.Form)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		s.q.Viewer = viewer
		entries, err := d.Directory(r.Context(), s.q)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		b := r4.Bundle{Type: r4.BundleTypeSearchset, Timestamp: r4.InstantOf(time.Now().UTC()),
			Link: []r4.BundleLink{{Relation: "self", URL: a.d.BaseURL + "/" + string(k) + "?" + r.Form.Encode()}}}
		if len(entries) > s.count {
			entries = entries[:s.count]
			next := cloneValues(r.Form)
			next.Set("_offset", strconv.Itoa(s.offset+s.count))
			next.Set("_count", strconv.Itoa(s.count))
			b.Link = append(b.Link, r4.BundleLink{Relation: "next", URL: a.d.BaseURL + "/" + string(k) + "?" + next.Encode()})
		} else if s.offset == 0 {
			total := len(entries) // exact only when the whole result is on this first page
			b.Total = &total
		}
		if s.offset > 0 {
			prev := cloneValues(r.Form)
			prev.Set("_offset", strconv.Itoa(max(0, s.offset-s.count)))
			prev.Set("_count", strconv.Itoa(s.count))
			b.Link = append(b.Link, r4.BundleLink{Relation: "previous", URL: a.d.BaseURL + "/" + string(k) + "?" + prev.Encode()})
		}
		for i := range entries {
			res, id, err := a.directoryResource(r.Context(), k, d, viewer, &entries[i])
			if err != nil {
				a.fail(w, r, err)
				return
			}
			e := r4.BundleEntry{FullURL: a.d.BaseURL + "/" + string(k) + "/" + id, Search: &r4.BundleSearch{Mode: "match"}}
			if err := e.SetResource(res); err != nil {
				a.fail(w, r, err)
				return
			}
			b.Entry = append(b.Entry, e)
		}
		a.write(w, http.StatusOK, b)
	}
}

func (a *API) directoryRead(k dirKind) func(http.ResponseWriter, *http.Request, Directory, string) {
	return func(w http.ResponseWriter, r *http.Request, d Directory, viewer string) {
		id := r.PathValue("id")
		q := mail.DirectoryQuery{Viewer: viewer, Limit: 1}
		notFound := errs.E(errs.NotFound, "no %s %q in the directory", k, clipParam(id))
		switch k {
		case kindPractitioner:
			p, err := identity.ParseIdNatPS(id)
			if err != nil || p.String() != id {
				a.fail(w, r, notFound)
				return
			}
			q.RPPS, q.Kinds, q.Distinct = id, []mail.Kind{mail.PER}, mail.OnePerProfessional
		case kindRole:
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil || n <= 0 || strconv.FormatInt(n, 10) != id {
				a.fail(w, r, notFound)
				return
			}
			q.MailboxID, q.Kinds = n, []mail.Kind{mail.PER}
		case kindOrganization:
			sid, err := identity.ParseStructureID(id)
			if err != nil || sid.String() != id {
				a.fail(w, r, notFound)
				return
			}
			q.StructureID, q.Distinct = id, mail.OnePerOrganisation
		}
		entries, err := d.Directory(r.Context(), q)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if len(entries) == 0 {
			a.fail(w, r, notFound)
			return
		}
		res, _, err := a.directoryResource(r.Context(), k, d, viewer, &entries[0])
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.write(w, http.StatusOK, res)
	}
}

// directoryResource writes a directory entry as the resource of kind k, and returns its id.
func (a *API) directoryResource(ctx context.Context, k dirKind, d Directory, viewer string, e *mail.DirectoryEntry) (r4.Resource, string, error) {
	active := true
	switch k {
	case kindPractitioner:
		p := r4.Practitioner{ID: e.IdNat, Active: &active,
			Identifier: []r4.Identifier{{Use: "official", System: SystemIdNatPS, Value: e.IdNat}},
			Name:       []r4.HumanName{personName(e)}}
		if c := a.professionConcept(e.Profession, ""); c != nil {
			p.Qualification = append(p.Qualification, r4.PractitionerQualification{Code: *c})
		}
		if c := a.professionConcept(e.Profession, e.Specialty); c != nil && e.Specialty != "" {
			p.Qualification = append(p.Qualification, r4.PractitionerQualification{Code: *c})
		}
		return p, p.ID, nil
	case kindRole:
		id := strconv.FormatInt(e.MailboxID, 10)
		pr := r4.PractitionerRole{ID: id, Active: &active,
			Practitioner: &r4.Reference{Reference: "Practitioner/" + e.IdNat, Display: personName(e).Text},
			Telecom:      []r4.ContactPoint{mailboxTelecom(e)}}
		if e.StructureID != "" {
			pr.Organization = &r4.Reference{Reference: "Organization/" + e.StructureID, Display: e.OrganisationName}
		}
		if c := a.professionConcept(e.Profession, ""); c != nil {
			pr.Code = []r4.CodeableConcept{*c}
		}
		if c := a.professionConcept(e.Profession, e.Specialty); c != nil && e.Specialty != "" {
			pr.Specialty = []r4.CodeableConcept{*c}
		}
		return pr, id, nil
	default:
		o := r4.Organization{ID: e.StructureID, Active: &active, Name: e.OrganisationName,
			Identifier: []r4.Identifier{{Use: "official", System: SystemIdNatStruct, Value: e.StructureID}}}
		if sid, err := identity.ParseStructureID(e.StructureID); err == nil && sid.Kind == identity.StructFINESS {
			o.Identifier = append(o.Identifier, r4.Identifier{System: SystemFINESS, Value: sid.ID})
		}
		if e.Town != "" {
			o.Address = []r4.Address{{City: e.Town, Country: "FR"}}
		}
		// Its own mailboxes (ORG, APP) are its telecom; its professionals' are their roles'.
		boxes, err := d.Directory(ctx, mail.DirectoryQuery{StructureID: e.StructureID, Kinds: []mail.Kind{mail.ORG, mail.APP},
			Viewer: viewer, Limit: 50})
		if err != nil {
			return nil, "", err
		}
		for i := range boxes {
			o.Telecom = append(o.Telecom, mailboxTelecom(&boxes[i]))
		}
		return o, o.ID, nil
	}
}

func personName(e *mail.DirectoryEntry) r4.HumanName {
	n := r4.HumanName{Use: "usual", Family: e.FamilyName, Text: strings.TrimSpace(e.GivenName + " " + e.FamilyName)}
	if e.GivenName != "" {
		n.Given = []string{e.GivenName}
	}
	if n.Text == "" {
		n.Text = e.DisplayName
	}
	return n
}

// mailboxTelecom is an MSSanté address as telecom: an e-mail address at work (DOMAIN.md names
// no extension of the French directory for it).
func mailboxTelecom(e *mail.DirectoryEntry) r4.ContactPoint {
	return r4.ContactPoint{System: "email", Value: e.Address, Use: "work"}
}

// professionConcept is a profession (or, with specialty, the specialty) coded in the
// catalogue's system; nil when the code is unknown to it.
func (a *API) professionConcept(profession, specialty string) *r4.CodeableConcept {
	code := profession
	if specialty != "" {
		code += "/" + specialty
	}
	if code == "" || a.d.Catalog == nil {
		return nil
	}
	p, err := a.d.Catalog.Profession(code)
	if err != nil {
		return &r4.CodeableConcept{Text: code}
	}
	return &r4.CodeableConcept{Coding: []r4.Coding{{System: systemURI(p.System), Code: code, Display: p.Label}}, Text: p.Label}
}

// directoryCapabilities declares the directory's resources in the CapabilityStatement, when
// the API has a directory.
func (a *API) directoryCapabilities() []r4.CapabilityStatementResource {
	if a.directory() == nil {
		return nil
	}
	param := func(name, typ, doc string) r4.CapabilityStatementSearchParam {
		return r4.CapabilityStatementSearchParam{Name: name, Type: typ, Documentation: doc}
	}
	inter := []r4.CapabilityStatementInteraction{{Code: "read"}, {Code: "search-type"}}
	paging := []r4.CapabilityStatementSearchParam{
		param("_count", "number", "page size, 20 by default, at most 100; next pages by the next link"),
	}
	who := " Professionals and the operator only; patients' mailboxes are never listed, nor those on the liste rouge (but to their owner)."
	return []r4.CapabilityStatementResource{
		{Type: string(kindPractitioner), Interaction: inter,
			SearchParam: append([]r4.CapabilityStatementSearchParam{
				param("name", "string", "part of the family or given name, any case or accents"),
				param("identifier", "token", SystemIdNatPS+"|<IdNat_PS> (8 + RPPS), or an RPPS number"),
			}, paging...),
			Documentation: "The MSSanté directory's professionals (those with a listed nominative mailbox), by IdNat_PS." + who},
		{Type: string(kindRole), Interaction: inter,
			SearchParam: append([]r4.CapabilityStatementSearchParam{
				param("practitioner", "reference", "Practitioner/<IdNat_PS>"),
				param("organization", "reference", "Organization/<IdNat_Struct>"),
				param("role", "token", "the profession code (TRE_G15 as in the catalogue), e.g. G15_10"),
				param("address-city", "string", "part of the organisation's town"),
				param("email", "token", "the MSSanté address"),
			}, paging...),
			Documentation: "A nominative (PER) MSSanté mailbox: its owner, their organisation and profession, the address as telecom (system email)." + who},
		{Type: string(kindOrganization), Interaction: inter,
			SearchParam: append([]r4.CapabilityStatementSearchParam{
				param("name", "string", "part of the organisation's name"),
				param("identifier", "token", SystemIdNatStruct+"|<IdNat_Struct>, "+SystemFINESS+"|<FINESS>, or a FINESS or SIRET alone"),
				param("address-city", "string", "part of the town"),
			}, paging...),
			Documentation: "The directory's organisations, by IdNat_Struct; their organisational and applicative mailboxes as telecom." + who},
	}
}
