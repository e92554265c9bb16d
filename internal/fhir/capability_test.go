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

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/fhir"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/questionnaire"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
)

// The CapabilityStatement lists what the API serves as it is built, from one list, whichever
// mux answers GET /fhir/metadata (the profile's and the agenda's stand in front of the API's
// own): with everything, the profile's resources, Appointment and, once the questionnaires
// are given, QuestionnaireResponse with its read, its search and the parameters the search
// accepts.
func TestCapabilitiesListWhatIsServed(t *testing.T) {
	for _, c := range []struct {
		name            string
		profile, agenda bool
	}{{"documents only", false, false}, {"with the profile", true, false}, {"with the agenda", false, true}, {"with both", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			e := &env{Env: recordtest.New(t)}
			d := fhir.Deps{Records: e.Records, Catalog: e.Catalog, Version: "test"}
			if c.profile {
				prof, err := profile.NewService(profile.Deps{Store: e.DB.Profile(), Access: e.Access, Catalog: e.Catalog, Clock: e.Clock})
				if err != nil {
					t.Fatal(err)
				}
				d.Profile = prof
			}
			if c.agenda {
				ag, err := agenda.NewService(agenda.Deps{Store: e.DB.Agenda(), Access: e.Access, Clock: e.Clock})
				if err != nil {
					t.Fatal(err)
				}
				d.Agenda = ag
			}
			var api *fhir.API
			e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
			t.Cleanup(e.srv.Close)
			e.base = e.srv.URL + "/fhir"
			e.tokens = apitoken.NewService(e.DB.Tokens(), e.Clock)
			d.Tokens, d.BaseURL = e.tokens, e.base
			api = fhir.New(d)

			declared := func() map[string]r4.CapabilityStatementResource {
				t.Helper()
				res := e.do(t, "GET", "/metadata", "", "", nil)
				if res.status != http.StatusOK {
					t.Fatalf("metadata: %d %s", res.status, res.body)
				}
				fhirtest.Validate(t, res.body)
				var cs r4.CapabilityStatement
				if err := json.Unmarshal(res.body, &cs); err != nil {
					t.Fatal(err)
				}
				out := map[string]r4.CapabilityStatementResource{}
				for _, r := range cs.Rest[0].Resource {
					if _, twice := out[r.Type]; twice {
						t.Errorf("%s declared twice", r.Type)
					}
					out[r.Type] = r
				}
				return out
			}
			before := declared()
			for typ, want := range map[string]bool{"DocumentReference": true, "Observation": c.profile, "Appointment": c.agenda,
				"QuestionnaireResponse": false} {
				if _, ok := before[typ]; ok != want {
					t.Errorf("%s declared: %v, want %v", typ, ok, want)
				}
			}
			// Before the questionnaires are given, the resource is not served either.
			_, tok := e.professional(t, 820)
			if res := e.do(t, "GET", "/QuestionnaireResponse/1", tok, "", nil); res.status != http.StatusNotFound {
				t.Errorf("QuestionnaireResponse served before it is given: %d", res.status)
			}

			api.SetQuestionnaires(newQuestionnaires(t, e))
			after := declared()
			if len(after) != len(before)+1 {
				t.Errorf("%d resources declared, want %d", len(after), len(before)+1)
			}
			qr, ok := after["QuestionnaireResponse"]
			if !ok {
				t.Fatal("QuestionnaireResponse is not in the CapabilityStatement")
			}
			var inter, params []string
			for _, i := range qr.Interaction {
				inter = append(inter, i.Code)
			}
			for _, p := range qr.SearchParam {
				params = append(params, p.Name)
			}
			if !slices.Equal(inter, []string{"read", "search-type"}) {
				t.Errorf("interactions %v", inter)
			}
			for _, p := range []string{"patient", "subject", "patient.identifier", "subject.identifier", "questionnaire", "_count"} {
				if !slices.Contains(params, p) {
					t.Errorf("search parameter %s not declared: %v", p, params)
				}
			}
			// What is declared is served: a professional's search by each parameter declared
			// is answered (with nothing: they sent no questionnaire).
			ins := recordtest.TestINS(t, 820)
			pid := strconv.FormatInt(e.Patient(t, ins), 10)
			system, value := ins.FHIR()
			values := map[string]string{"patient": pid, "subject": "Patient/" + pid, "patient.identifier": system + "|" + value,
				"subject.identifier": system + "|" + value, "questionnaire": "https://hopital.example/fhir/Questionnaire/q|1", "_count": "5"}
			for _, p := range qr.SearchParam {
				v, ok := values[p.Name]
				if !ok {
					t.Errorf("no value to try the parameter %s with", p.Name)
					continue
				}
				res := e.do(t, "GET", "/QuestionnaireResponse?"+url.Values{p.Name: {v}}.Encode(), tok, "", nil)
				if res.status != http.StatusOK || !strings.Contains(string(res.body), `"total":0`) {
					t.Errorf("search by %s: %d %s", p.Name, res.status, res.body)
				}
			}
		})
	}
}

// newQuestionnaires is the questionnaires' service over the env's database, answering through
// a real mail portal.
func newQuestionnaires(t *testing.T, e *env) *questionnaire.Service {
	t.Helper()
	m := mailtest.New(t, mailtest.Options{Store: func(testing.TB) *store.DB { return e.DB }})
	portal, err := mail.NewPortal(m.Mail, e.DB.MailPortal(m.Queue), e.Access, e.Records)
	if err != nil {
		t.Fatal(err)
	}
	s, err := questionnaire.NewService(questionnaire.Deps{Store: e.DB.Questionnaires(), Blobs: m.Blobs, Access: e.Access, Mail: portal, Clock: e.Clock})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
