package fhir_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/fhir"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/trail"
)

// newTrailEnv is newEnv with the access trail served.
func newTrailEnv(t *testing.T) *env {
	t.Helper()
	e := &env{Env: recordtest.New(t)}
	m, err := access.DefaultMatrix()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := trail.NewService(e.DB.Trail(), e.Access, m)
	if err != nil {
		t.Fatal(err)
	}
	var api *fhir.API
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL + "/fhir"
	e.tokens = apitoken.NewService(e.DB.Tokens(), e.Clock)
	api = fhir.New(fhir.Deps{Records: e.Records, Tokens: e.tokens, Catalog: e.Catalog, Trail: tr, BaseURL: e.base, Version: "test"})
	return e
}

// trailScene is a record with a deposit by the author, a refused search by an outsider and an
// emergency search by a third professional.
type trailScene struct {
	*env
	ins                           identity.INS
	pid                           int64
	author, outsider, emergency   string // IdNat_PS
	authorTok, outsiderTok, patTk string
	docID                         string
}

func newTrailScene(t *testing.T) *trailScene {
	t.Helper()
	s := &trailScene{env: newTrailEnv(t)}
	s.ins = recordtest.TestINS(t, 150)
	s.pid = s.Patient(t, s.ins)
	s.author, s.authorTok = s.professional(t, 150)
	s.outsider, s.outsiderTok = s.professional(t, 151)
	var emergencyTok string
	s.emergency, emergencyTok = s.professional(t, 152)
	s.patTk = s.token(t, apitoken.Subject{Kind: audit.ActorPatient, PatientID: s.pid})

	res := s.do(t, "POST", "", s.authorTok, r4.MIMEFHIRJSON, provideBundle(t, s.ins, s.author, recordtest.PDF(3000, 150)))
	if res.status != http.StatusOK {
		t.Fatalf("deposit: %d %s", res.status, res.body)
	}
	loc := decodeBundle(t, res).Entry[1].Response.Location // DocumentReference/<id>/_history/1
	s.docID = strings.Split(loc, "/")[1]
	s.Clock.Advance(time.Hour)
	if res := s.do(t, "GET", searchPath(s.ins, ""), s.outsiderTok, "", nil); res.status != http.StatusForbidden {
		t.Fatalf("outsider: %d %s", res.status, res.body)
	}
	s.Clock.Advance(time.Hour)
	if res := s.do(t, "GET", searchPath(s.ins, ""), emergencyTok, "", nil, "X-Carnet-Break-Glass", "patient inconscient"); res.status != http.StatusOK {
		t.Fatalf("break-glass: %d %s", res.status, res.body)
	}
	s.Clock.Advance(time.Hour)
	return s
}

// events searches AuditEvent and returns the validated Bundle and its events.
func (s *trailScene) events(t *testing.T, token, query string) (r4.Bundle, []r4.AuditEvent) {
	t.Helper()
	res := s.do(t, "GET", "/AuditEvent?"+query, token, "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("AuditEvent?%s: %d %s", query, res.status, res.body)
	}
	fhirtest.Validate(t, res.body)
	b := decodeBundle(t, res)
	if b.Type != r4.BundleTypeSearchset {
		t.Fatalf("bundle type %s", b.Type)
	}
	evs := make([]r4.AuditEvent, len(b.Entry))
	for i, e := range b.Entry {
		if err := json.Unmarshal(e.Resource, &evs[i]); err != nil {
			t.Fatal(err)
		}
		if e.FullURL != s.base+"/AuditEvent/"+evs[i].ID {
			t.Errorf("fullUrl %s for id %s", e.FullURL, evs[i].ID)
		}
	}
	return b, evs
}

func summary(evs []r4.AuditEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Subtype[0].Code + " " + ev.Outcome + " " + ev.Agent[0].Who.Identifier.Value
	}
	return out
}

func (s *trailScene) patientQuery(extra string) string {
	return "patient=Patient/" + strconv.FormatInt(s.pid, 10) + extra
}

func TestAuditEventSearchByThePatient(t *testing.T) {
	s := newTrailScene(t)
	b, evs := s.events(t, s.patTk, s.patientQuery("&_count=500"))
	if n := len(s.Traces(t, s.pid)); len(evs) != n || b.Total == nil || *b.Total != n {
		t.Fatalf("%d events (total %v) for %d traces:\n%s", len(evs), b.Total, n, strings.Join(summary(evs), "\n"))
	}
	first := evs[0]
	if first.Subtype[0].Code != "trace.read" || first.Type.Code != "rest" || first.Action != r4.AuditActionExecute ||
		first.Agent[0].Who.Identifier.Value != "patient-"+strconv.FormatInt(s.pid, 10) || first.Outcome != r4.AuditOutcomeSuccess {
		t.Errorf("the newest event should be this search: %s", mustJSON(t, first))
	}
	find := func(action, outcome, who string) r4.AuditEvent {
		t.Helper()
		for _, ev := range evs {
			if ev.Subtype[0].Code == action && ev.Outcome == outcome && ev.Agent[0].Who.Identifier.Value == who {
				return ev
			}
		}
		t.Fatalf("no %s %s by %s in\n%s", action, outcome, who, strings.Join(summary(evs), "\n"))
		return r4.AuditEvent{}
	}
	dep := find("document.deposit", r4.AuditOutcomeSuccess, s.author)
	if dep.Action != r4.AuditActionCreate || dep.Subtype[0].System != fhir.TraceActionSystem ||
		dep.Agent[0].Who.Identifier.System != r4.SystemIdNatPS || !dep.Agent[0].Requestor || dep.Agent[0].Network != nil ||
		dep.Agent[0].Who.Display != "Paul150 MARTIN" || len(dep.Entity) != 2 ||
		dep.Entity[0].What.Reference != "Patient/"+strconv.FormatInt(s.pid, 10) ||
		dep.Entity[1].What.Reference != "DocumentReference/"+s.docID || dep.Recorded != r4.InstantOf(recordtest.T0) {
		t.Errorf("the deposit: %s", mustJSON(t, dep))
	}
	refused := find("record.search", r4.AuditOutcomeMinorFailure, s.outsider)
	fr, _ := access.ReasonNoAuthorisation.Messages()
	if refused.OutcomeDesc != fr || refused.Action != r4.AuditActionExecute || !hasExtension(refused, fhir.ReasonExtension, "no_authorisation") ||
		len(refused.PurposeOfEvent) != 0 {
		t.Errorf("the refused search: %s", mustJSON(t, refused))
	}
	bg := find("record.search", r4.AuditOutcomeSuccess, s.emergency)
	if len(bg.PurposeOfEvent) != 1 || bg.PurposeOfEvent[0].Coding[0].Code != "ETREAT" || bg.PurposeOfEvent[0].Coding[0].System != r4.SystemV3ActReason ||
		bg.PurposeOfEvent[0].Text != "patient inconscient" || !hasExtension(bg, fhir.BasisExtension, "break_glass") ||
		!hasExtension(bg, fhir.FirstAccessExtension, "") {
		t.Errorf("the emergency search: %s", mustJSON(t, bg))
	}
	// The same by INS.
	sys, val := s.ins.FHIR()
	if _, byINS := s.events(t, s.patTk, "patient.identifier="+url.QueryEscape(sys+"|"+val)+"&subtype=document.deposit"); len(byINS) != 1 {
		t.Errorf("by INS: %v", summary(byINS))
	}
	// Every search is traced in the patient's chain.
	n := 0
	for _, l := range s.Traces(t, s.pid) {
		if strings.HasPrefix(l, "trace.read allowed self") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d searches traced, want 2", n)
	}
}

func TestAuditEventFilters(t *testing.T) {
	s := newTrailScene(t)
	from := url.QueryEscape(recordtest.T0.Add(30 * time.Minute).Format(time.RFC3339))
	to := url.QueryEscape(recordtest.T0.Add(90 * time.Minute).Format(time.RFC3339))
	cases := []struct {
		query string
		want  []string
	}{
		{"&subtype=record.search", []string{"record.search 0 " + s.emergency, "record.search 4 " + s.outsider}},
		{"&subtype=" + url.QueryEscape(fhir.TraceActionSystem+"|document."), []string{"document.deposit 0 " + s.author}},
		{"&outcome=4", []string{"record.search 4 " + s.outsider}},
		{"&agent.identifier=" + url.QueryEscape(r4.SystemIdNatPS+"|"+s.author), []string{
			"access.care_team_add 0 " + s.author, "document.deposit 0 " + s.author}},
		{"&agent=" + s.outsider, []string{"record.search 4 " + s.outsider}},
		{"&entity=DocumentReference/" + s.docID, []string{"document.deposit 0 " + s.author}},
		{"&action=C", []string{"document.deposit 0 " + s.author}},
		{"&date=ge" + from + "&date=lt" + to, []string{"record.search 4 " + s.outsider}},
		{"&date=lt2026-03-10T09:00:00Z", nil},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			_, evs := s.events(t, s.patTk, s.patientQuery(c.query))
			var got []string
			for _, l := range summary(evs) {
				if !strings.HasPrefix(l, "trace.read ") && !strings.HasPrefix(l, "space.lookup ") {
					got = append(got, l)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
	for _, bad := range []string{"&colour=blue", "&outcome=12", "&outcome=0,4", "&action=X", "&action=R&subtype=document.read",
		"&entity=Patient/1", "&subtype=DOCUMENT", "&_count=0", "&_cursor=abc", "&date=yesterday",
		"&subtype=" + url.QueryEscape("http://example.org|document.read")} {
		res := s.do(t, "GET", "/AuditEvent?"+s.patientQuery(bad), s.patTk, "", nil)
		if res.status != http.StatusBadRequest && res.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", bad, res.status, res.body)
		}
		fhirtest.Validate(t, res.body)
	}
	if res := s.do(t, "GET", "/AuditEvent", s.patTk, "", nil); res.status/100 != 4 {
		t.Errorf("no patient: %d", res.status)
	}
}

func TestAuditEventPaging(t *testing.T) {
	s := newTrailScene(t)
	for range 3 {
		if res := s.do(t, "GET", "/DocumentReference/"+s.docID, s.authorTok, "", nil); res.status != http.StatusOK {
			t.Fatalf("read: %d %s", res.status, res.body)
		}
	}
	q := s.patientQuery("&subtype=document.,record.,access.")
	_, all := s.events(t, s.patTk, q)
	if len(all) != 7 {
		t.Fatalf("%d events", len(all))
	}
	var got []string
	path := "/AuditEvent?" + q + "&_count=2"
	for pages := 0; path != ""; pages++ {
		if pages > len(all) {
			t.Fatal("the next links do not end")
		}
		b, evs := s.events(t, s.patTk, strings.TrimPrefix(path, "/AuditEvent?"))
		if len(evs) > 2 || (pages > 0 && b.Total != nil) {
			t.Fatalf("page %d: %d events, total %v", pages, len(evs), b.Total)
		}
		for _, ev := range evs {
			got = append(got, ev.ID)
		}
		path = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				path = strings.TrimPrefix(l.URL, s.base)
			}
		}
	}
	var want []string
	for _, ev := range all {
		want = append(want, ev.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages give %v, want %v", got, want)
	}
}

func TestAuditEventAccess(t *testing.T) {
	s := newTrailScene(t)
	// A professional reads the traces of their own actions only.
	_, evs := s.events(t, s.authorTok, s.patientQuery(""))
	if len(evs) < 3 {
		t.Fatalf("the author's events: %v", summary(evs))
	}
	for _, ev := range evs {
		if ev.Agent[0].Who.Identifier.Value != s.author {
			t.Errorf("the author sees %s", summary([]r4.AuditEvent{ev}))
		}
	}
	_, evs = s.events(t, s.outsiderTok, s.patientQuery("&subtype=record."))
	if got := summary(evs); len(got) != 1 || got[0] != "record.search 4 "+s.outsider {
		t.Errorf("the outsider sees %v", got)
	}
	// Another patient (their app) is refused, with a reason, and the refusal is traced.
	other := s.Patient(t, recordtest.TestINS(t, 151))
	otherTok := s.token(t, apitoken.Subject{Kind: audit.ActorPatient, PatientID: other})
	res := s.do(t, "GET", "/AuditEvent?"+s.patientQuery(""), otherTok, "", nil)
	if res.status != http.StatusForbidden || res.outcome(t).Issue[0].Code != r4.IssueForbidden {
		t.Fatalf("another patient: %d %s", res.status, res.body)
	}
	fhirtest.Validate(t, res.body)
	if !slices.ContainsFunc(s.Traces(t, s.pid), func(l string) bool { return strings.HasPrefix(l, "trace.read denied not_holder") }) {
		t.Errorf("the refusal is not traced:\n%s", strings.Join(s.Traces(t, s.pid), "\n"))
	}
	if res := s.do(t, "GET", "/AuditEvent?"+s.patientQuery(""), "", "", nil); res.status != http.StatusUnauthorized {
		t.Errorf("no token: %d", res.status)
	}
}

func hasExtension(ev r4.AuditEvent, url, code string) bool {
	for _, x := range ev.Extension {
		if x.URL == url && (x.ValueCode == code || code == "" && x.ValueBoolean != nil && *x.ValueBoolean) {
			return true
		}
	}
	return false
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
