package oauth

import (
	"maps"
	"slices"
	"strings"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// The scope syntax is SMART App Launch 2.0's ("scopes for requesting clinical data"), cut down
// to what carnet serves, so that SMART client libraries work unchanged (issue 9):
//
//	patient/DocumentReference.<perms>[?category=<class>[,<class>…]]   documents (and their Binary)
//	patient/AuditEvent.<perms>                                          the trail of accesses
//	patient/<profile resource>.<perms>                                  the medical profile (Observation…)
//	patient/Patient.<perms>                                             the holder's identity (r, s)
//	patient/*.<perms>                                                   all of them
//	system/…                                                            the same, for client_credentials
//	offline_access                                                      a refresh token (SMART)
//	launch/patient                                                      accepted: a token is always for one patient
//
// perms is SMART v2's, a subset of "cruds" in that order, or SMART v1's read (= rs), write
// (= cud) and * (= cruds). A class is a document class (XDS classCode, TRE_A03), written as a
// FHIR token: "urn:oid:1.2.250.1.213.1.1.4.1|10", the TRE_A03 FHIR system URL and "|10", or
// "10" alone. Without a category, a document scope covers every class.
//
// Why SMART's and not our own: a referenced app's developers know it already, FHIR search
// parameters (category) say which documents, and the access decision's vocabulary maps onto it
// without loss: r → document.read and document.list, s → record.search and document.list,
// c → document.deposit; AuditEvent r or s → trace.read; Patient r or s → record.search, the
// read of the record as a whole, which is what reading the holder's identity is decided as
// (record.ReadHolder), the API checking the type (internal/fhir appgrant.go). u and d (replace, delete) have no app
// action (access.appActions: masking, deleting and managing stay with the patient), so a
// patient/ scope asking them is granted without them and the answer's scope says so (RFC 6749
// §3.3). openid, fhirUser, profile and online_access are not served and are dropped likewise.
//
// One rule is carnet's: the access decision gives an app one set of actions and one set of
// classes (access.Actor.Scopes × Classes), not classes per action, so every document scope of a
// request must name the same categories. "patient/DocumentReference.rs?category=…|10
// patient/DocumentReference.c?category=…|90" is refused (invalid_scope) rather than silently
// widened to reading class 90 too; ask "patient/DocumentReference.crs?category=…|10,…|90".

// Perm is a set of SMART permissions.
type Perm uint8

// The SMART v2 permissions, in the order the syntax writes them.
const (
	PermCreate Perm = 1 << iota
	PermRead
	PermUpdate
	PermDelete
	PermSearch
)

const permAll = PermCreate | PermRead | PermUpdate | PermDelete | PermSearch

const permLetters = "cruds"

func (p Perm) String() string {
	var b strings.Builder
	for i := range len(permLetters) {
		if p&(1<<i) != 0 {
			b.WriteByte(permLetters[i])
		}
	}
	return b.String()
}

// parsePerm reads v2 letters in order, or a v1 word.
func parsePerm(s string) (Perm, bool) {
	switch s {
	case "read":
		return PermRead | PermSearch, true
	case "write":
		return PermCreate | PermUpdate | PermDelete, true
	case "*":
		return permAll, true
	}
	var p Perm
	next := 0
	for i := 0; i < len(s); i++ {
		k := strings.IndexByte(permLetters[next:], s[i])
		if k < 0 {
			return 0, false
		}
		p |= 1 << (next + k)
		next += k + 1
	}
	return p, p != 0
}

// Context says whose data a scope is about: one patient's (an app the patient connected,
// authorization_code) or whatever the client's own subject may reach (client_credentials).
type Context string

const (
	ContextPatient Context = "patient"
	ContextSystem  Context = "system"
)

// Scope is a parsed scope: what it allows, in carnet's terms.
type Scope struct {
	Context Context
	// Documents are the permissions on DocumentReference and the Binary of its content.
	Documents Perm
	// Resources are the permissions on each profile resource type (profileResources) that was
	// asked; a type absent is not granted.
	Resources map[string]Perm
	// Classes restricts Documents and Resources to these document classes (sorted); nil is
	// every class.
	Classes []string
	// Trail are the permissions on AuditEvent.
	Trail Perm
	// Patient are the permissions on Patient: the identity of the holder (GET Patient/{id},
	// the first read of a SMART patient app).
	Patient Perm
	// Offline: offline_access, a refresh token may be issued.
	Offline bool
	// LaunchPatient: launch/patient was asked (and is always satisfied).
	LaunchPatient bool
}

const (
	resDocuments = "DocumentReference"
	resTrail     = "AuditEvent"
	resPatient   = "Patient"
	maxScopeLen  = 2048
	maxScopes    = 64
)

// ClassSystem is the FHIR system of document classes, as scopes write it.
const ClassSystem = "urn:oid:1.2.250.1.213.1.1.4.1"

// classSystemURL is TRE_A03's FHIR URL, also accepted.
const classSystemURL = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"

// profileResources are the FHIR resources of the medical profile (internal/fhir profile.go)
// and Binary (a document's content): "patient/Observation.c" is how a SMART app asks to push a
// measurement. The access decision knows actions and categories, not resource types: a
// profile item is decided as a document of its section's category, so each type's permissions
// add to the actions of the token (Actions), and the types themselves travel on the token
// (access.Actor.Resources, ResourceGrants) for the API to check, so that Observation.c does
// not deposit documents nor Immunization.rs with DocumentReference.c create vaccinations.
//
// Appointment (internal/fhir appointment.go, the agenda) is not a profile resource, but is
// decided the same way and granted by type the same way.
var profileResources = []string{"Observation", "AllergyIntolerance", "Condition", "MedicationStatement", "Immunization",
	"FamilyMemberHistory", "RelatedPerson", "Binary", "Appointment"}

// ignoredScopes are asked by common SMART and OpenID clients but not served here: they are
// dropped from the grant, not refused.
var ignoredScopes = []string{"openid", "fhirUser", "profile", "online_access"}

// ParseScope reads a scope string (RFC 6749 §3.3: space-separated tokens). cat names the
// document classes a category may be. Every error is Invalid, with a message for
// error_description.
func ParseScope(s string, cat *terminology.Catalog) (Scope, error) {
	var sc Scope
	if len(s) > maxScopeLen {
		return sc, errs.E(errs.Invalid, "the scope is longer than %d characters", maxScopeLen)
	}
	tokens := strings.Split(s, " ")
	if len(tokens) > maxScopes {
		return sc, errs.E(errs.Invalid, "more than %d scopes", maxScopes)
	}
	var docClasses [][]string // the classes of each document scope; nil entries are "all"
	for _, tok := range tokens {
		if tok == "" {
			continue
		}
		for i := 0; i < len(tok); i++ {
			// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
			if c := tok[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return sc, errs.E(errs.Invalid, "a scope holds a character outside RFC 6749 section 3.3")
			}
		}
		switch tok {
		case "offline_access":
			sc.Offline = true
			continue
		case "launch/patient":
			sc.LaunchPatient = true
			continue
		}
		if slices.Contains(ignoredScopes, tok) {
			continue
		}
		ctx, rest, ok := strings.Cut(tok, "/")
		if !ok || (ctx != string(ContextPatient) && ctx != string(ContextSystem)) {
			return sc, errs.E(errs.Invalid, "unknown scope %s", clip(tok))
		}
		if sc.Context != "" && string(sc.Context) != ctx {
			return sc, errs.E(errs.Invalid, "patient/ and system/ scopes cannot be mixed")
		}
		sc.Context = Context(ctx)
		rest, query, hasQuery := strings.Cut(rest, "?")
		res, perms, ok := strings.Cut(rest, ".")
		if !ok {
			return sc, errs.E(errs.Invalid, "scope %s: expected resource.permissions", clip(tok))
		}
		p, ok := parsePerm(perms)
		if !ok {
			return sc, errs.E(errs.Invalid, "scope %s: permissions are a subset of cruds in that order, or read, write, *", clip(tok))
		}
		var classes []string
		if hasQuery {
			profileRes := slices.Contains(profileResources, res)
			if res != resDocuments && !profileRes {
				return sc, errs.E(errs.Invalid, "scope %s: only DocumentReference and the profile's resources take a category", clip(tok))
			}
			if profileRes && !strings.Contains(query, "|") {
				// FHIR's category of an Observation is another code system (vital-signs…): on
				// a profile resource, a document class is written with its system.
				return sc, errs.E(errs.Invalid, "scope %s: a profile resource's category is a document class with its system, %s|<class>", clip(tok), ClassSystem)
			}
			var err error
			if classes, err = parseCategories(query, cat); err != nil {
				return sc, err
			}
		}
		switch {
		case slices.Contains(profileResources, res):
			// The profile's resources are decided as the documents of their section's category
			// (internal/profile categories.go), within the categories the document scopes, or
			// the registration, name; their type is granted alone.
			sc.addResource(res, p)
			if hasQuery {
				docClasses = append(docClasses, classes)
			}
			continue
		}
		switch res {
		case resDocuments:
			sc.Documents |= p
			docClasses = append(docClasses, classes)
		case resTrail:
			sc.Trail |= p
		case resPatient:
			sc.Patient |= p
		case "*":
			sc.Documents |= p
			sc.Trail |= p
			sc.Patient |= p
			for _, r := range profileResources {
				sc.addResource(r, p)
			}
			docClasses = append(docClasses, nil)
		default:
			return sc, errs.E(errs.Invalid, "scope %s: carnet serves DocumentReference, AuditEvent and the profile's resources", clip(tok))
		}
	}
	for i := 1; i < len(docClasses); i++ {
		if !slices.Equal(docClasses[i], docClasses[0]) {
			return sc, errs.E(errs.Invalid, "every document scope must name the same categories")
		}
	}
	if len(docClasses) > 0 {
		sc.Classes = docClasses[0]
	}
	return sc, nil
}

func (sc *Scope) addResource(res string, p Perm) {
	if sc.Resources == nil {
		sc.Resources = map[string]Perm{}
	}
	sc.Resources[res] |= p
}

// onResources applies f to every profile resource's permissions and drops the types left
// without any.
func (sc *Scope) onResources(f func(Perm) Perm) {
	for r, p := range sc.Resources {
		if p = f(p); p == 0 {
			delete(sc.Resources, r)
		} else {
			sc.Resources[r] = p
		}
	}
	if len(sc.Resources) == 0 {
		sc.Resources = nil
	}
}

// profilePerms is the union of the permissions on the profile's resources.
func (sc Scope) profilePerms() Perm {
	var p Perm
	for _, q := range sc.Resources {
		p |= q
	}
	return p
}

// classed reports whether the scope allows anything that Classes restrict.
func (sc Scope) classed() bool { return sc.Documents != 0 || sc.profilePerms() != 0 }

// ResourceGrants lists the FHIR resource types a scope in canonical form (Scope.String, as a
// token stores it) grants, each with its permissions: "DocumentReference.crs",
// "Observation.c". What it does not read grants nothing.
func ResourceGrants(scope string) []string {
	perms := map[string]Perm{}
	for tok := range strings.FieldsSeq(scope) {
		_, rest, ok := strings.Cut(tok, "/")
		if !ok {
			continue
		}
		rest, _, _ = strings.Cut(rest, "?")
		res, ps, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		p, ok := parsePerm(ps)
		if !ok {
			continue
		}
		switch {
		case res == "*":
			perms[resDocuments] |= p
			perms[resTrail] |= p
			perms[resPatient] |= p
			for _, r := range profileResources {
				perms[r] |= p
			}
		case res == resDocuments || res == resTrail || res == resPatient || slices.Contains(profileResources, res):
			perms[res] |= p
		}
	}
	var out []string
	for r, p := range perms {
		out = append(out, r+"."+p.String())
	}
	slices.Sort(out)
	return out
}

// parseCategories reads "category=<token>[,<token>…]" into sorted class codes.
func parseCategories(query string, cat *terminology.Catalog) ([]string, error) {
	v, ok := strings.CutPrefix(query, "category=")
	if !ok || v == "" {
		return nil, errs.E(errs.Invalid, "a document scope is restricted by category=<class>")
	}
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		code := item
		if sys, c, ok := strings.Cut(item, "|"); ok {
			if sys != ClassSystem && sys != classSystemURL {
				return nil, errs.E(errs.Invalid, "category %s: the system is %s", clip(item), ClassSystem)
			}
			code = c
		}
		if _, err := cat.Class(code); err != nil {
			return nil, errs.E(errs.Invalid, "category %s: not a document class", clip(item))
		}
		if !slices.Contains(out, code) {
			out = append(out, code)
		}
	}
	slices.Sort(out)
	return out, nil
}

// clip bounds what a message repeats of the request.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// String writes the scope in canonical form: SMART v2 permissions, one scope per resource.
func (sc Scope) String() string {
	var parts []string
	if sc.LaunchPatient {
		parts = append(parts, "launch/patient")
	}
	if sc.all() {
		// SMART's "*": every type, with one set of permissions and no category.
		parts = append(parts, string(sc.Context)+"/*."+sc.Documents.String())
	} else if sc.Documents != 0 {
		s := string(sc.Context) + "/" + resDocuments + "." + sc.Documents.String()
		if sc.Classes != nil {
			s += "?category=" + sc.classList()
		}
		parts = append(parts, s)
	}
	for _, r := range profileResources {
		if p := sc.Resources[r]; p != 0 && !sc.all() {
			s := string(sc.Context) + "/" + r + "." + p.String()
			if sc.Documents == 0 && sc.Classes != nil {
				// No document scope to carry the categories: each profile scope carries them.
				s += "?category=" + sc.classList()
			}
			parts = append(parts, s)
		}
	}
	if sc.Trail != 0 && !sc.all() {
		parts = append(parts, string(sc.Context)+"/"+resTrail+"."+sc.Trail.String())
	}
	if sc.Patient != 0 && !sc.all() {
		parts = append(parts, string(sc.Context)+"/"+resPatient+"."+sc.Patient.String())
	}
	if sc.Offline {
		parts = append(parts, "offline_access")
	}
	return strings.Join(parts, " ")
}

// classList writes Classes as a scope's category parameter.
func (sc Scope) classList() string {
	cs := make([]string, len(sc.Classes))
	for i, c := range sc.Classes {
		cs[i] = ClassSystem + "|" + c
	}
	return strings.Join(cs, ",")
}

// HasData reports whether the scope reads or writes documents or profile items, which its
// categories (Classes) restrict.
func (sc Scope) HasData() bool { return sc.classed() }

// all reports whether the scope is SMART's "*": the same permissions on every type served,
// in every category.
func (sc Scope) all() bool {
	if sc.Documents == 0 || sc.Classes != nil || sc.Trail != sc.Documents || sc.Patient != sc.Documents ||
		len(sc.Resources) != len(profileResources) {
		return false
	}
	for _, p := range sc.Resources {
		if p != sc.Documents {
			return false
		}
	}
	return true
}

// Empty reports whether the scope allows nothing on data.
func (sc Scope) Empty() bool { return !sc.classed() && sc.Trail == 0 && sc.Patient == 0 }

// forApp drops what an app cannot be granted (u, d; AuditEvent is read only).
func (sc Scope) forApp() Scope {
	sc.Resources = maps.Clone(sc.Resources)
	sc.Documents &^= PermUpdate | PermDelete
	sc.onResources(func(p Perm) Perm { return p &^ (PermUpdate | PermDelete) })
	sc.Trail &= PermRead | PermSearch
	sc.Patient &= PermRead | PermSearch
	if !sc.classed() {
		sc.Classes = nil
	}
	return sc
}

// within checks that sc asks nothing beyond allowed and returns it narrowed to allowed's
// classes when it asked for every class. A scope naming classes allowed does not have is
// refused rather than narrowed: the client asked for something precise it cannot have.
func (sc Scope) within(allowed Scope) (Scope, error) {
	if sc.Context != "" && sc.Context != allowed.Context {
		return sc, errs.E(errs.Invalid, "this client is registered for %s/ scopes", allowed.Context)
	}
	sc.Context = allowed.Context
	if sc.Documents&^allowed.Documents != 0 || sc.Trail&^allowed.Trail != 0 || sc.Patient&^allowed.Patient != 0 ||
		(sc.Offline && !allowed.Offline) {
		return sc, errs.E(errs.Invalid, "the scope asks more than this client is registered for")
	}
	for r, p := range sc.Resources {
		if p&^allowed.Resources[r] != 0 {
			return sc, errs.E(errs.Invalid, "the scope asks more on %s than this client is registered for", r)
		}
	}
	if sc.classed() && allowed.Classes != nil {
		if sc.Classes == nil {
			sc.Classes = slices.Clone(allowed.Classes)
		}
		for _, c := range sc.Classes {
			if !slices.Contains(allowed.Classes, c) {
				return sc, errs.E(errs.Invalid, "category %s is beyond what this client is registered for", c)
			}
		}
	}
	return sc, nil
}

// intersect keeps of sc what allowed allows too: the client's registration as it is now, which
// the operator may have narrowed since the patient's consent. Unlike within, it narrows rather
// than refuses: the patient consented to sc, and less than that is still within their consent.
func (sc Scope) intersect(allowed Scope) Scope {
	sc.Resources = maps.Clone(sc.Resources)
	for r := range sc.Resources {
		sc.Resources[r] &= allowed.Resources[r]
	}
	sc.onResources(func(p Perm) Perm { return p })
	sc.Documents &= allowed.Documents
	sc.Trail &= allowed.Trail
	sc.Patient &= allowed.Patient
	sc.Offline = sc.Offline && allowed.Offline
	if allowed.Classes != nil {
		if sc.Classes == nil {
			sc.Classes = slices.Clone(allowed.Classes)
		} else {
			var kept []string
			for _, c := range sc.Classes {
				if slices.Contains(allowed.Classes, c) {
					kept = append(kept, c)
				}
			}
			if len(kept) == 0 {
				sc.Documents, sc.Resources = 0, nil
			}
			sc.Classes = kept
		}
	}
	if !sc.classed() {
		sc.Classes = nil
	}
	return sc
}

// Actions are the access actions the scope grants an app.
func (sc Scope) Actions() []access.Action {
	var out []access.Action
	add := func(a access.Action) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	// The decision does not know resource types: it allows what any of them was granted, and
	// the API checks the type (access.Actor.Resources).
	data := sc.Documents | sc.profilePerms()
	if data&PermRead != 0 {
		add(access.ActionRead)
		add(access.ActionList)
	}
	if data&PermSearch != 0 {
		add(access.ActionSearch)
		add(access.ActionList)
	}
	if data&PermCreate != 0 {
		add(access.ActionDeposit)
	}
	if sc.Trail != 0 {
		add(access.ActionReadTraces)
	}
	if sc.Patient != 0 {
		add(access.ActionSearch)
	}
	return out
}

// AppClasses are the document classes as access.Actor.Classes holds them: "*" for all.
func (sc Scope) AppClasses() []string {
	if sc.Classes == nil {
		return []string{"*"}
	}
	return slices.Clone(sc.Classes)
}

// What an app may do, in the patient's words, for the consent page.
const (
	permReadDocs = "read"
	permDeposit  = "deposit"
	permTrail    = "trail"
	permIdentity = "identity"
	permOffline  = "offline"
)

var permLabels = map[string]string{
	permReadDocs: "Lire vos documents",
	permDeposit:  "Déposer dans votre espace personnel",
	permTrail:    "Consulter l'historique des accès",
	permIdentity: "Connaître votre identité : INS, nom, prénoms, sexe, date de naissance",
	permOffline:  "Garder cet accès sans vous redemander, jusqu'à ce que vous le retiriez",
}

// permItems lists what sc asks, as the consent page's checkboxes name it.
func (sc Scope) permItems() []string {
	var out []string
	data := sc.Documents | sc.profilePerms()
	if data&(PermRead|PermSearch) != 0 {
		out = append(out, permReadDocs)
	}
	if data&PermCreate != 0 {
		out = append(out, permDeposit)
	}
	if sc.Trail != 0 {
		out = append(out, permTrail)
	}
	if sc.Patient != 0 {
		out = append(out, permIdentity)
	}
	if sc.Offline {
		out = append(out, permOffline)
	}
	return out
}

// narrow keeps of sc what the patient ticked: never more than sc asked. classes nil keeps
// sc's classes; allClasses is the catalogue's list, so that ticking every class of an
// "every class" request keeps it open to classes added later.
func (sc Scope) narrow(perms, classes, allClasses []string) Scope {
	sc.Resources = maps.Clone(sc.Resources)
	if !slices.Contains(perms, permReadDocs) {
		sc.Documents &^= PermRead | PermSearch
		sc.onResources(func(p Perm) Perm { return p &^ (PermRead | PermSearch) })
	}
	if !slices.Contains(perms, permDeposit) {
		sc.Documents &^= PermCreate
		sc.onResources(func(p Perm) Perm { return p &^ PermCreate })
	}
	if !slices.Contains(perms, permTrail) {
		sc.Trail = 0
	}
	if !slices.Contains(perms, permIdentity) {
		sc.Patient = 0
	}
	if !slices.Contains(perms, permOffline) {
		sc.Offline = false
	}
	asked := sc.Classes
	if asked == nil {
		asked = allClasses
	}
	var kept []string
	for _, c := range asked {
		if slices.Contains(classes, c) {
			kept = append(kept, c)
		}
	}
	switch {
	case sc.Classes == nil && len(kept) == len(allClasses):
		// every class still: keep "all"
	case len(kept) == 0:
		sc.Documents, sc.Resources = 0, nil
		sc.Classes = nil
	default:
		slices.Sort(kept)
		sc.Classes = kept
	}
	if !sc.classed() {
		sc.Classes = nil
	}
	return sc
}
