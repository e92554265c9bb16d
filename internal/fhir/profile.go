package fhir

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record"
)

// The medical profile's resources (issue 8): AllergyIntolerance, Condition, MedicationStatement,
// Immunization, FamilyMemberHistory, Observation and RelatedPerson, each read, searched by
// patient, created, updated and deleted through the profile service, which decides and traces;
// and IHE PCH-01 (pch.go), a transaction Bundle of measurements and their Device, on the same
// POST [base] as ITI-65.

// profileKind is one resource type of the profile.
type profileKind struct {
	name     string
	sections []profile.Section
	// decode reads a resource sent by a client into an item and the patient it names.
	decode func(raw []byte) (profile.Item, *r4.Reference, error)
	// encode writes an item as the resource.
	encode func(ms *profile.Measures, it *profile.Item) r4.Resource
	// params are the search parameters of the type beyond the patient and _count.
	params map[string]bool
}

// profileKinds are the profile's resource types, in the order the CapabilityStatement lists
// them.
var profileKinds = []*profileKind{
	{name: "AllergyIntolerance", sections: []profile.Section{profile.SectionAllergies}, decode: decodeAllergy,
		encode: encodeAllergy, params: map[string]bool{"code": true}},
	{name: "Condition", sections: []profile.Section{profile.SectionHistory}, decode: decodeCondition,
		encode: encodeCondition, params: map[string]bool{"code": true}},
	{name: "MedicationStatement", sections: []profile.Section{profile.SectionTreatments}, decode: decodeTreatment,
		encode: encodeTreatment, params: map[string]bool{"code": true}},
	{name: "Immunization", sections: []profile.Section{profile.SectionVaccinations}, decode: decodeVaccination,
		encode: encodeVaccination, params: map[string]bool{"vaccine-code": true}},
	{name: "FamilyMemberHistory", sections: []profile.Section{profile.SectionFamilyHistory}, decode: decodeFamily,
		encode: encodeFamily, params: map[string]bool{"code": true}},
	{name: "Observation", sections: []profile.Section{profile.SectionMeasurements, profile.SectionBloodGroup},
		decode: decodeObservation, encode: encodeObservation,
		params: map[string]bool{"code": true, "category": true, "date": true, "subject": true, "subject.identifier": true}},
	{name: "RelatedPerson", sections: []profile.Section{profile.SectionEmergencyContacts, profile.SectionTrustedPerson},
		decode: decodeRelated, encode: encodeRelated, params: map[string]bool{"relationship": true}},
}

// profileRoutes serves the profile's resources and PCH-01, when the API has a profile
// service. PCH-01 is a transaction on the base, as ITI-65 is: the routes are served by a mux in
// front of the API's own, which sends each transaction to the one its content is for.
func (a *API) profileRoutes() {
	if a.d.Profile == nil {
		return
	}
	inner, outer := a.mux, http.NewServeMux()
	for _, k := range profileKinds {
		outer.HandleFunc("GET /fhir/"+k.name, a.auth(a.profileSearch(k)))
		outer.HandleFunc("POST /fhir/"+k.name+"/_search", a.auth(a.profileSearch(k)))
		outer.HandleFunc("GET /fhir/"+k.name+"/{id}", a.auth(a.profileRead(k)))
		outer.HandleFunc("POST /fhir/"+k.name, a.auth(a.profileCreate(k)))
		outer.HandleFunc("PUT /fhir/"+k.name+"/{id}", a.auth(a.profileUpdate(k)))
		outer.HandleFunc("DELETE /fhir/"+k.name+"/{id}", a.auth(a.profileDelete(k)))
	}
	outer.HandleFunc("POST /fhir", a.transactions(inner))
	outer.HandleFunc("POST /fhir/{$}", a.transactions(inner))
	outer.Handle("/", inner)
	a.mux = outer
}

// profileRequest is the request as the profile service takes it.
func profileRequest(req record.Request) profile.Request {
	return profile.Request{Actor: req.Actor, Channel: req.Channel, BreakGlass: req.BreakGlass}
}

func (a *API) profileRead(k *profileKind) func(http.ResponseWriter, *http.Request, record.Request) {
	return func(w http.ResponseWriter, r *http.Request, req record.Request) {
		it, err := a.d.Profile.Get(r.Context(), profileRequest(req), r.PathValue("id"))
		if err == nil && !slices.Contains(k.sections, it.Section) {
			err = errs.E(errs.NotFound, "no such %s", k.name)
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.writeItem(w, http.StatusOK, k, &it)
	}
}

func (a *API) writeItem(w http.ResponseWriter, status int, k *profileKind, it *profile.Item) {
	w.Header().Set("ETag", `W/"`+strconv.Itoa(it.Version)+`"`)
	if status == http.StatusCreated {
		w.Header().Set("Location", a.d.BaseURL+"/"+k.name+"/"+it.ID+"/_history/"+strconv.Itoa(it.Version))
	}
	a.write(w, status, k.encode(a.d.Profile.Measures(), it))
}

// readItem reads the body of a create or update into an item of k and its patient's id.
func (a *API) readItem(r *http.Request, k *profileKind) (profile.Item, int64, error) {
	raw, err := a.body(r)
	if err != nil {
		return profile.Item{}, 0, err
	}
	it, ref, err := k.decode(raw)
	if err != nil {
		return profile.Item{}, 0, err
	}
	pid, err := a.patientOf(r.Context(), ref)
	if err != nil {
		return profile.Item{}, 0, err
	}
	return it, pid, nil
}

func (a *API) profileCreate(k *profileKind) func(http.ResponseWriter, *http.Request, record.Request) {
	return func(w http.ResponseWriter, r *http.Request, req record.Request) {
		it, pid, err := a.readItem(r, k)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if it, err = a.d.Profile.Add(r.Context(), profileRequest(req), pid, it); err != nil {
			a.fail(w, r, err)
			return
		}
		a.writeItem(w, http.StatusCreated, k, &it)
	}
}

// profileUpdate is a FHIR update (PUT): a new version of the item. If-Match (W/"<version>")
// makes it conditional on the version the client read.
func (a *API) profileUpdate(k *profileKind) func(http.ResponseWriter, *http.Request, record.Request) {
	return func(w http.ResponseWriter, r *http.Request, req record.Request) {
		it, pid, err := a.readItem(r, k)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		ifVersion := 0
		if m := strings.TrimSpace(r.Header.Get("If-Match")); m != "" {
			v := strings.Trim(strings.TrimPrefix(m, "W/"), `"`)
			if ifVersion, err = strconv.Atoi(v); err != nil || ifVersion < 1 {
				a.fail(w, r, errs.E(errs.Invalid, `If-Match is W/"<version>"`))
				return
			}
		}
		it.PatientID = pid
		if it, err = a.d.Profile.Update(r.Context(), profileRequest(req), r.PathValue("id"), it, ifVersion); err != nil {
			a.fail(w, r, err)
			return
		}
		a.writeItem(w, http.StatusOK, k, &it)
	}
}

func (a *API) profileDelete(k *profileKind) func(http.ResponseWriter, *http.Request, record.Request) {
	return func(w http.ResponseWriter, r *http.Request, req record.Request) {
		if err := a.d.Profile.Delete(r.Context(), profileRequest(req), r.PathValue("id"), k.sections...); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// patientOf resolves the patient a resource names: Patient/<id> as the Patient lookup returns
// it, or the INS as an identifier.
func (a *API) patientOf(ctx context.Context, ref *r4.Reference) (int64, error) {
	switch {
	case ref == nil:
		return 0, errs.E(errs.Invalid, "the patient is required: Patient/<id> or the INS as an identifier")
	case ref.Reference != "":
		id, err := strconv.ParseInt(strings.TrimPrefix(ref.Reference, "Patient/"), 10, 64)
		if err != nil || id <= 0 || !strings.HasPrefix(ref.Reference, "Patient/") {
			return 0, errs.E(errs.Invalid, "the patient reference must be Patient/<id>")
		}
		return id, nil
	case ref.Identifier != nil:
		ins, err := insOf(ref.Identifier)
		if err != nil {
			return 0, errs.E(errs.Invalid, "the patient's INS: %s", errs.MessageOf(err))
		}
		return a.d.Records.PatientID(ctx, ins)
	}
	return 0, errs.E(errs.Invalid, "the patient is required: Patient/<id> or the INS as an identifier")
}

// profileSearch is a search by patient (required), with the type's parameters.
func (a *API) profileSearch(k *profileKind) func(http.ResponseWriter, *http.Request, record.Request) {
	return func(w http.ResponseWriter, r *http.Request, req record.Request) {
		if err := r.ParseForm(); err != nil {
			a.fail(w, r, errs.E(errs.Invalid, "the search parameters do not parse"))
			return
		}
		q, err := a.profileQuery(r.Context(), k, r.Form)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		page, err := a.d.Profile.List(r.Context(), profileRequest(req), q)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		self := a.d.BaseURL + "/" + k.name + "?" + r.Form.Encode()
		b := r4.Bundle{Type: r4.BundleTypeSearchset, Timestamp: r4.InstantOf(time.Now().UTC()),
			Link: []r4.BundleLink{{Relation: "self", URL: self}}}
		if page.More {
			last := page.Items[len(page.Items)-1]
			next := cloneValues(r.Form)
			next.Set("_cursor", strconv.FormatInt(last.At.UnixMicro(), 10)+"."+last.ID)
			b.Link = append(b.Link, r4.BundleLink{Relation: "next", URL: a.d.BaseURL + "/" + k.name + "?" + next.Encode()})
		} else if q.AfterID == "" {
			b.Total = r4.Ptr(len(page.Items))
		}
		for i := range page.Items {
			e := r4.BundleEntry{FullURL: a.d.BaseURL + "/" + k.name + "/" + page.Items[i].ID, Search: &r4.BundleSearch{Mode: "match"}}
			if err := e.SetResource(k.encode(a.d.Profile.Measures(), &page.Items[i])); err != nil {
				a.fail(w, r, err)
				return
			}
			b.Entry = append(b.Entry, e)
		}
		a.write(w, http.StatusOK, b)
	}
}

// profileQuery reads the search parameters of k.
func (a *API) profileQuery(ctx context.Context, k *profileKind, form url.Values) (profile.Query, error) {
	q := profile.Query{Sections: k.sections}
	for key := range form {
		switch key {
		case "patient", "patient.identifier", "_count", "_cursor", "_format":
		default:
			if !k.params[key] {
				return q, errs.E(errs.Invalid, "unknown search parameter %q", key)
			}
		}
	}
	var ref *r4.Reference
	for _, p := range []string{"patient", "subject"} {
		if v := form.Get(p); v != "" {
			ref = &r4.Reference{Reference: v}
		}
		if v := form.Get(p + ".identifier"); v != "" {
			ins, err := identity.ParseFHIRIdentifier(v)
			if err != nil {
				return q, err
			}
			sys, val := ins.FHIR()
			ref = &r4.Reference{Identifier: &r4.Identifier{System: sys, Value: val}}
		}
	}
	if ref == nil {
		return q, errs.E(errs.Invalid, "the patient is required: patient=Patient/<id> or patient.identifier=urn:oid:…|<INS>")
	}
	var err error
	if q.PatientID, err = a.patientOf(ctx, ref); err != nil {
		return q, err
	}
	for _, p := range []string{"code", "vaccine-code", "relationship"} {
		for _, c := range splitAll(form[p]) {
			q.Codes = append(q.Codes, tokenCode(c))
		}
	}
	if k.name == "RelatedPerson" && len(q.Codes) > 0 {
		// relationship selects the section: the trusted person or the emergency contacts.
		q.Sections, q.Codes = relatedSections(q.Codes), nil
		if len(q.Sections) == 0 {
			return q, errs.E(errs.Invalid, "relationship: %s (trusted person) or %s (emergency contact)", codeTrustedPerson, codeEmergencyContact)
		}
	}
	if cats := splitAll(form["category"]); len(cats) > 0 {
		if err := checkCategories(cats); err != nil {
			return q, err
		}
		codes := observationCodes(a.d.Profile.Measures(), cats)
		if len(q.Codes) > 0 {
			codes = slices.DeleteFunc(codes, func(c string) bool { return !slices.Contains(q.Codes, c) })
		}
		if len(codes) == 0 {
			codes = []string{"-"} // no code matches: an empty result, not every item
		}
		q.Codes = codes
	}
	if q.From, q.To, err = dateRange(form["date"]); err != nil {
		return q, err
	}
	if c := form.Get("_count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return q, errs.E(errs.Invalid, "_count must be a positive number")
		}
		q.Limit = min(n, profile.MaxLimit)
	}
	if c := form.Get("_cursor"); c != "" {
		us, id, ok := strings.Cut(c, ".")
		n, err := strconv.ParseInt(us, 10, 64)
		if !ok || err != nil {
			return q, errs.E(errs.Invalid, "_cursor is not one this server gave")
		}
		q.AfterAt, q.AfterID = time.UnixMicro(n).UTC(), id
	}
	return q, nil
}

// The carnet extension that says who wrote a profile item and when, on every profile resource:
// FHIR has an element for it in some resources (recorder, informationSource…), not in all.
const (
	ExtProfileEntered = "https://carnet-sante.org/fhir/StructureDefinition/profile-entered"
	// SystemContactRole says the role of a RelatedPerson in the profile.
	SystemContactRole = "https://carnet-sante.org/fhir/CodeSystem/profile-contact-role"
	// SystemHistoryKind says whether an antécédent is medical or surgical.
	SystemHistoryKind = "https://carnet-sante.org/fhir/CodeSystem/history-kind"
)

// itemMeta is the meta of a profile resource: its version, when it last changed, and the
// MASQUE_PS label when the patient hid it.
func itemMeta(it *profile.Item) *r4.Meta {
	m := &r4.Meta{VersionID: strconv.Itoa(it.Version), LastUpdated: r4.InstantOf(it.Changed)}
	if it.Hidden {
		m.Security = []r4.Coding{{System: r4.SystemVisibility, Code: "MASQUE_PS", Display: "Masqué aux professionnels de santé"}}
	}
	return m
}

// entered is the extension saying who wrote the item's content, and when.
func entered(it *profile.Item) []r4.Extension {
	return []r4.Extension{{URL: ExtProfileEntered, Extension: []r4.Extension{
		{URL: "author", ValueReference: authorRef(it.Author, it.PatientID)},
		{URL: "date", ValueDateTime: r4.DateTimeOf(it.Written)},
	}}}
}

// authorRef points at who wrote an item: a professional by IdNat_PS, the patient by their
// Patient, anyone else by name.
func authorRef(a profile.Author, patientID int64) *r4.Reference {
	ref := &r4.Reference{Display: a.Name}
	switch a.Kind {
	case "professional":
		ref.Type = "Practitioner"
		ref.Identifier = &r4.Identifier{System: r4.SystemIdNatPS, Value: a.ID}
	case "patient":
		ref.Reference = "Patient/" + strconv.FormatInt(patientID, 10)
	}
	if ref.Display == "" && ref.Reference == "" && ref.Identifier == nil {
		ref.Display = string(a.Kind)
	}
	return ref
}

func patientRef(it *profile.Item) r4.Reference {
	return r4.Reference{Reference: "Patient/" + strconv.FormatInt(it.PatientID, 10)}
}

// identifiers writes the item's identifier ("system|value").
func identifiers(it *profile.Item) []r4.Identifier {
	sys, val, ok := strings.Cut(it.Identifier, "|")
	if !ok {
		return nil
	}
	return []r4.Identifier{{System: sys, Value: val}}
}

// concept writes a coded concept and its words.
func conceptOf(c profile.Code, text string) *r4.CodeableConcept {
	cc := &r4.CodeableConcept{Text: text}
	if !c.IsZero() {
		cc.Coding = []r4.Coding{{System: c.System, Code: c.Code, Display: c.Display}}
	}
	if cc.Text == "" && len(cc.Coding) == 0 {
		return nil
	}
	return cc
}

func statusConcept(system, code string) *r4.CodeableConcept {
	return &r4.CodeableConcept{Coding: []r4.Coding{{System: system, Code: code}}}
}

func notes(text string) []r4.Annotation {
	if text == "" {
		return nil
	}
	return []r4.Annotation{{Text: text}}
}

// decoding: what a client sends, read into an item. Every problem is collected and reported
// at once (Invalid: 422).

type readProblems []string

func (p *readProblems) add(format string, args ...any) {
	*p = append(*p, errs.E(errs.Invalid, format, args...).Message)
}

func (p readProblems) err(rt string) error {
	if len(p) == 0 {
		return nil
	}
	return errs.E(errs.Invalid, "%s: %s", rt, strings.Join(p, "; "))
}

// commonElements are kept or ignored on every profile resource: the server's (id, meta) are
// its own, the narrative is regenerated from the data.
var commonElements = []string{"resourceType", "id", "meta", "text", "language", "identifier"}

// onlyElements refuses the elements of raw the profile does not keep: dropping them without a
// word would make the client believe they were stored.
func onlyElements(raw []byte, rt string, kept ...string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return errs.E(errs.Invalid, "%s: not a JSON object", rt)
	}
	var extra []string
	for k := range m {
		if !slices.Contains(commonElements, k) && !slices.Contains(kept, k) {
			extra = append(extra, rt+"."+k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return errs.E(errs.Invalid, "the profile does not keep %s", strings.Join(extra, ", "))
	}
	return nil
}

// decodeAs decodes raw strictly into r and checks its elements.
func decodeAs(raw []byte, r r4.Resource, kept ...string) error {
	if err := r4.Decode(raw, r); err != nil {
		return err
	}
	return onlyElements(raw, r.ResourceType(), kept...)
}

// identifierOf reads the one identifier the profile keeps.
func identifierOf(ids []r4.Identifier, p *readProblems) string {
	switch {
	case len(ids) == 0:
		return ""
	case len(ids) > 1:
		p.add("one identifier is kept, not %d", len(ids))
	case ids[0].System == "" || ids[0].Value == "":
		p.add("the identifier needs a system and a value")
	default:
		return ids[0].System + "|" + ids[0].Value
	}
	return ""
}

// codeOfConcept reads a coded concept: its first coding, and its words (the text, else the
// coding's display).
func codeOfConcept(cc *r4.CodeableConcept) (profile.Code, string) {
	if cc == nil {
		return profile.Code{}, ""
	}
	var c profile.Code
	if len(cc.Coding) > 0 {
		c = profile.Code{System: cc.Coding[0].System, Code: cc.Coding[0].Code, Display: cc.Coding[0].Display}
	}
	text := cc.Text
	if text == "" {
		text = c.Display
	}
	return c, text
}

// dateOf reads the calendar date of a FHIR dateTime (its day, month or year).
func dateOf(dt r4.DateTime) profile.Date {
	s := string(dt)
	if len(s) > 10 {
		s = s[:10]
	}
	return profile.Date(s)
}

// statusCode reads the code of a status CodeableConcept of system.
func statusCode(cc *r4.CodeableConcept, system string) string {
	if cc == nil {
		return ""
	}
	for _, c := range cc.Coding {
		if c.System == system {
			return c.Code
		}
	}
	return ""
}

func noteText(ns []r4.Annotation) string {
	var parts []string
	for _, n := range ns {
		parts = append(parts, n.Text)
	}
	return strings.Join(parts, "\n")
}

// profileCapabilities declares the profile's resources in the CapabilityStatement, when the
// profile is served: every route profileRoutes serves, and Device, created by PCH-01
// transactions.
func profileCapabilities() []r4.CapabilityStatementResource {
	param := func(name, typ, doc string) r4.CapabilityStatementSearchParam {
		return r4.CapabilityStatementSearchParam{Name: name, Type: typ, Documentation: doc}
	}
	docs := map[string]string{
		"AllergyIntolerance":  "The profile's allergies and intolerances.",
		"Condition":           "The profile's history (antécédents), medical or surgical (category " + SystemHistoryKind + ").",
		"MedicationStatement": "The profile's current treatments.",
		"Immunization":        "The profile's vaccinations.",
		"FamilyMemberHistory": "The profile's family history: one condition of one relative each.",
		"Observation": "The profile's measurements (LOINC, UCUM units, plausible ranges) and blood group (LOINC 882-1). " +
			"Measurements are also pushed by IHE PCH-01 transactions.",
		"RelatedPerson": "The profile's emergency contacts and trusted person (relationship " + SystemContactRole + ").",
	}
	paramDocs := map[string]r4.CapabilityStatementSearchParam{
		"code":               param("code", "token", "what the item is about: its code (a LOINC code for an Observation)."),
		"vaccine-code":       param("vaccine-code", "token", "the vaccine's code."),
		"category":           param("category", "token", "vital-signs, laboratory, activity or survey."),
		"date":               param("date", "date", "when the measurement was taken (ge, gt, le, lt, eq)."),
		"subject":            param("subject", "reference", "as patient."),
		"subject.identifier": param("subject.identifier", "token", "as patient.identifier."),
		"relationship":       param("relationship", "token", codeEmergencyContact+" or "+codeTrustedPerson+"."),
	}
	var out []r4.CapabilityStatementResource
	for _, k := range profileKinds {
		res := r4.CapabilityStatementResource{Type: k.name, Profile: "http://hl7.org/fhir/StructureDefinition/" + k.name,
			Documentation: docs[k.name] + " Each write is a new version; what the patient hides carries meta.security MASQUE_PS. " +
				"Every read and write is decided by the patient's access rules and traced.",
			Interaction: []r4.CapabilityStatementInteraction{{Code: "read"}, {Code: "search-type"}, {Code: "create"},
				{Code: "update"}, {Code: "delete"}},
			Versioning: "versioned",
			SearchParam: []r4.CapabilityStatementSearchParam{
				param("patient", "reference", "Patient/<id> as the Patient lookup returns it. Required, or patient.identifier."),
				param("patient.identifier", "token", "the patient's INS: urn:oid:1.2.250.1.213.1.4.8|<INS>."),
				param("_count", "number", "page size, at most 1000; next pages by the next link."),
			}}
		for _, name := range slices.Sorted(maps.Keys(k.params)) {
			res.SearchParam = append(res.SearchParam, paramDocs[name])
		}
		out = append(out, res)
	}
	return append(out, r4.CapabilityStatementResource{Type: "Device", ConditionalCreate: r4.Ptr(true),
		Documentation: "Created by an IHE PCH-01 transaction (POST [base]: a Bundle of Observations and their Device), " +
			"conditionally on its identifier (request.ifNoneExist identifier=<system>|<value>); bound to the patient it first pushed for."})
}
