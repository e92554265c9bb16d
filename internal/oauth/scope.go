package oauth

import (
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
//	patient/*.<perms>                                                   both
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
// c → document.deposit; AuditEvent r or s → trace.read. u and d (replace, delete) have no app
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
	// Classes restricts Documents to these document classes (sorted); nil is every class.
	Classes []string
	// Trail are the permissions on AuditEvent.
	Trail Perm
	// Offline: offline_access, a refresh token may be issued.
	Offline bool
	// LaunchPatient: launch/patient was asked (and is always satisfied).
	LaunchPatient bool
}

const (
	resDocuments = "DocumentReference"
	resTrail     = "AuditEvent"
	maxScopeLen  = 2048
	maxScopes    = 64
)

// ClassSystem is the FHIR system of document classes, as scopes write it.
const ClassSystem = "urn:oid:1.2.250.1.213.1.1.4.1"

// classSystemURL is TRE_A03's FHIR URL, also accepted.
const classSystemURL = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"

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
			if res != resDocuments {
				return sc, errs.E(errs.Invalid, "scope %s: only DocumentReference takes a category", clip(tok))
			}
			var err error
			if classes, err = parseCategories(query, cat); err != nil {
				return sc, err
			}
		}
		switch res {
		case resDocuments:
			sc.Documents |= p
			docClasses = append(docClasses, classes)
		case resTrail:
			sc.Trail |= p
		case "*":
			sc.Documents |= p
			sc.Trail |= p
			docClasses = append(docClasses, nil)
		default:
			return sc, errs.E(errs.Invalid, "scope %s: carnet serves DocumentReference and AuditEvent", clip(tok))
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
	if sc.Documents != 0 {
		s := string(sc.Context) + "/" + resDocuments + "." + sc.Documents.String()
		if sc.Classes != nil {
			cs := make([]string, len(sc.Classes))
			for i, c := range sc.Classes {
				cs[i] = ClassSystem + "|" + c
			}
			s += "?category=" + strings.Join(cs, ",")
		}
		parts = append(parts, s)
	}
	if sc.Trail != 0 {
		parts = append(parts, string(sc.Context)+"/"+resTrail+"."+sc.Trail.String())
	}
	if sc.Offline {
		parts = append(parts, "offline_access")
	}
	return strings.Join(parts, " ")
}

// Empty reports whether the scope allows nothing on data.
func (sc Scope) Empty() bool { return sc.Documents == 0 && sc.Trail == 0 }

// forApp drops what an app cannot be granted (u, d; AuditEvent is read only).
func (sc Scope) forApp() Scope {
	sc.Documents &^= PermUpdate | PermDelete
	sc.Trail &= PermRead | PermSearch
	if sc.Documents == 0 {
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
	if sc.Documents&^allowed.Documents != 0 || sc.Trail&^allowed.Trail != 0 || (sc.Offline && !allowed.Offline) {
		return sc, errs.E(errs.Invalid, "the scope asks more than this client is registered for")
	}
	if sc.Documents != 0 && allowed.Classes != nil {
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

// Actions are the access actions the scope grants an app.
func (sc Scope) Actions() []access.Action {
	var out []access.Action
	add := func(a access.Action) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if sc.Documents&PermRead != 0 {
		add(access.ActionRead)
		add(access.ActionList)
	}
	if sc.Documents&PermSearch != 0 {
		add(access.ActionSearch)
		add(access.ActionList)
	}
	if sc.Documents&PermCreate != 0 {
		add(access.ActionDeposit)
	}
	if sc.Trail != 0 {
		add(access.ActionReadTraces)
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
	permOffline  = "offline"
)

var permLabels = map[string]string{
	permReadDocs: "Lire vos documents",
	permDeposit:  "Déposer dans votre espace personnel",
	permTrail:    "Consulter l'historique des accès",
	permOffline:  "Garder cet accès sans vous redemander, jusqu'à ce que vous le retiriez",
}

// permItems lists what sc asks, as the consent page's checkboxes name it.
func (sc Scope) permItems() []string {
	var out []string
	if sc.Documents&(PermRead|PermSearch) != 0 {
		out = append(out, permReadDocs)
	}
	if sc.Documents&PermCreate != 0 {
		out = append(out, permDeposit)
	}
	if sc.Trail != 0 {
		out = append(out, permTrail)
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
	if !slices.Contains(perms, permReadDocs) {
		sc.Documents &^= PermRead | PermSearch
	}
	if !slices.Contains(perms, permDeposit) {
		sc.Documents &^= PermCreate
	}
	if !slices.Contains(perms, permTrail) {
		sc.Trail = 0
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
		sc.Documents = 0
		sc.Classes = nil
	default:
		slices.Sort(kept)
		sc.Classes = kept
	}
	if sc.Documents == 0 {
		sc.Classes = nil
	}
	return sc
}
