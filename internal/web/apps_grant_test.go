package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/carnet-sante/carnet/internal/audit"
	appcat "github.com/carnet-sante/carnet/internal/catalogue"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// The grants an app holds, enforced on every FHIR endpoint and never across patients.

func pchBundle(ins identity.INS, obs string) string {
	sys, val := ins.FHIR()
	return `{"resourceType":"Bundle","type":"transaction","entry":[
	{"fullUrl":"urn:uuid:3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b","resource":{"resourceType":"Device","identifier":[{"system":"urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680","value":"scale-` + val + `"}],"manufacturer":"Acme Santé","modelNumber":"S-200"},
	 "request":{"method":"POST","url":"Device","ifNoneExist":"identifier=urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680|scale-` + val + `"}},
	{"fullUrl":"urn:uuid:9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","resource":{"resourceType":"Observation","identifier":[{"system":"urn:ietf:rfc:3986","value":"urn:uuid:` + obs + `"}],"status":"final",
	 "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
	 "code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"identifier":{"system":"` + sys + `","value":"` + val + `"}},
	 "effectiveDateTime":"2026-03-10T07:45:00+01:00","valueQuantity":{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"},
	 "device":{"reference":"urn:uuid:3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b"}},"request":{"method":"POST","url":"Observation"}}]}`
}

const vaccination = `{"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"Grippe saisonnière"},"patient":{"reference":"Patient/%d"},"occurrenceDateTime":"2025-10-21"}`

// idOf reads a created resource's id.
func idOf(t *testing.T, body string) string {
	t.Helper()
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.ID == "" {
		t.Fatalf("no id in %.300s", body)
	}
	return r.ID
}

// healthApp references, through the service, an app asking for reports (10), the profile's
// medical summary (11) and vaccinations (52), reading and depositing.
func (p *appsPortal) healthApp(t *testing.T, id string, redirect ...string) *oauth2.Config {
	t.Helper()
	ctx := context.Background()
	by := audit.Actor{Kind: audit.ActorOperator, ID: "op-2", Name: "Équipe catalogue"}
	redirectURI := appRedirect
	if len(redirect) > 0 {
		redirectURI = redirect[0]
	}
	a, secret, err := p.apps.Add(ctx, by, audit.ChannelCLI, appcat.Input{ID: id, Name: "Mon Carnet Plus", Publisher: "Éditeur Santé",
		Category: "maladie-chronique", Description: "Suivi complet.", Website: "https://plus.example", PrivacyPolicy: "https://plus.example/vie-privee",
		Data: []appcat.DataCategory{{Class: "10", Justification: "Lire les comptes rendus de vos consultations."},
			{Class: "11", Justification: "Lire et compléter votre synthèse et vos mesures."},
			{Class: "52", Justification: "Afficher votre carnet de vaccination."}},
		RedirectURIs: []string{redirectURI}, Scopes: "patient/DocumentReference.crs patient/Observation.crs patient/Immunization.rs", Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.apps.SetStatus(ctx, by, audit.ChannelCLI, a.ID, appcat.Referenced, ""); err != nil {
		t.Fatal(err)
	}
	endpoint, _ := discovery(t, p.srv.URL)
	return &oauth2.Config{ClientID: a.ID, ClientSecret: secret, RedirectURL: redirectURI, Endpoint: endpoint,
		Scopes: []string{"patient/DocumentReference.crs", "patient/Observation.crs", "patient/Immunization.rs", "offline_access"}}
}

// grant connects app to b's space, ticking what keep keeps of the consent form (nil: all).
func grant(t *testing.T, b *browser, app *oauth2.Config, perms, categories []string) string {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	code, _ := consent(t, b, app.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), func(f url.Values) {
		if perms != nil {
			f["perm"] = perms
		}
		if categories != nil {
			f["category"] = categories
		}
	})
	tok, err := app.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// documentFor is a DocumentReference of class 10 (a report the patient deposits, DOCPAT03, in
// their Espace personnel) for ins with its content inline, as an app deposits it.
func documentFor(ins identity.INS, n int) string {
	sys, val := ins.FHIR()
	pdf := base64.StdEncoding.EncodeToString(recordtest.PDF(2000, 500+n))
	return `{"resourceType":"DocumentReference","status":"current",
	 "masterIdentifier":{"system":"urn:ietf:rfc:3986","value":"urn:oid:1.2.250.1.999.7.` + strconv.Itoa(n) + `"},
	 "type":{"coding":[{"system":"urn:oid:1.2.250.1.213.1.1.4.12","code":"DOCPAT03"}]},
	 "category":[{"coding":[{"system":"urn:oid:1.2.250.1.213.1.1.4.1","code":"10"}]}],
	 "subject":{"identifier":{"system":"` + sys + `","value":"` + val + `"}},
	 "securityLabel":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"N"}]}],
	 "content":[{"attachment":{"contentType":"application/pdf","data":"` + pdf + `","title":"Mon compte rendu"}}]}`
}

// iti65For is an ITI-65 transaction: a SubmissionSet and one class-10 document for ins.
func iti65For(ins identity.INS, n int) string {
	sys, val := ins.FHIR()
	pdf := base64.StdEncoding.EncodeToString(recordtest.PDF(2000, 500+n))
	doc := strings.Replace(documentFor(ins, n), `"data":"`+pdf+`"`, `"url":"urn:uuid:00000000-0000-4000-8000-1000000000aa"`, 1)
	return `{"resourceType":"Bundle","type":"transaction","meta":{"profile":["https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.ProvideBundle"]},"entry":[
	{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000001","request":{"method":"POST","url":"List"},"resource":{"resourceType":"List",
	 "meta":{"profile":["https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.SubmissionSet"]},
	 "extension":[{"url":"https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId","valueIdentifier":{"value":"urn:oid:1.2.250.1.999.1"}}],
	 "identifier":[{"use":"official","system":"urn:ietf:rfc:3986","value":"urn:oid:1.2.250.1.999.2.` + strconv.Itoa(n) + `"}],
	 "status":"current","mode":"working","subject":{"identifier":{"system":"` + sys + `","value":"` + val + `"}},"date":"2026-03-10T08:00:00+01:00",
	 "code":{"coding":[{"system":"https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes","code":"submissionset"}]},
	 "entry":[{"item":{"reference":"urn:uuid:00000000-0000-4000-8000-2000000000aa"}}]}},
	{"fullUrl":"urn:uuid:00000000-0000-4000-8000-2000000000aa","request":{"method":"POST","url":"DocumentReference"},"resource":` + doc + `},
	{"fullUrl":"urn:uuid:00000000-0000-4000-8000-1000000000aa","request":{"method":"POST","url":"Binary"},"resource":{"resourceType":"Binary","contentType":"application/pdf","data":"` + pdf + `"}}]}`
}

// A narrower grant is enforced on every FHIR endpoint an app may call: documents (search,
// read, Binary, deposit alone or by ITI-65, update and delete), the profile's resources (search,
// read, create, update, delete), PCH-01, the trail and $everything. The patient unticks
// categories and rights on the consent page; each token gets exactly what was kept, and each
// resource type only what was asked for it (least privilege).
func TestNarrowerGrantOnEveryEndpoint(t *testing.T) {
	p := newAppsPortal(t)
	app := p.healthApp(t, "mon-carnet-plus")
	b, pid, ins, docID := p.patientSignedIn(t, 402)
	all := grant(t, b, app, nil, nil)
	reports := grant(t, b, app, []string{"read"}, []string{"10"})              // read reports only
	summary := grant(t, b, app, []string{"read", "deposit"}, []string{"11"})   // read and write the summary, no reports
	nothingWritten := grant(t, b, app, []string{"read"}, []string{"10", "11"}) // read only
	// The app asks Immunization.rs: even the full grant creates no vaccination (the access
	// decision alone, which knows deposits and categories but not resource types, would let
	// DocumentReference.c create one). A vaccination app, granted Immunization.c, records it.
	if st, body := fhirCall(t, p.srv.URL, all, "POST", "/Immunization", fmt.Sprintf(vaccination, pid)); st != http.StatusForbidden {
		t.Fatalf("full grant without Immunization.c, vaccination: %d %.300s", st, body)
	}
	vacApp := p.vaccinationApp(t)
	st, body := fhirCall(t, p.srv.URL, grant(t, b, vacApp, nil, nil), "POST", "/Immunization", fmt.Sprintf(vaccination, pid))
	if st != http.StatusCreated {
		t.Fatalf("vaccination app: %d %.300s", st, body)
	}
	vacID := idOf(t, body)
	if st, body = fhirCall(t, p.srv.URL, all, "POST", "/Observation", fmt.Sprintf(bloodPressure, pid)); st != http.StatusCreated {
		t.Fatalf("full grant, create: %d %.300s", st, body)
	}
	obsID := idOf(t, body)
	// The full grant deposits a report (class 10) and reads the trail: the refusals below are
	// the narrower grants', not the endpoints'.
	if st, body = fhirCall(t, p.srv.URL, all, "POST", "/DocumentReference", documentFor(ins, 1)); st != http.StatusCreated {
		t.Fatalf("full grant, document deposit: %d %.300s", st, body)
	}
	if st, body = fhirCall(t, p.srv.URL, all, "POST", "", iti65For(ins, 2)); st != http.StatusOK {
		t.Fatalf("full grant, ITI-65: %d %.300s", st, body)
	}
	patient := fmt.Sprintf("Patient/%d", pid)
	type call struct {
		name, method, path, body string
	}
	calls := []call{
		{"documents search", "GET", "/DocumentReference?patient=" + patient, ""},
		{"document read", "GET", "/DocumentReference/" + docID, ""},
		{"Binary", "GET", "/Binary/" + docID, ""},
		{"Observation search", "GET", "/Observation?patient=" + patient, ""},
		{"Observation read", "GET", "/Observation/" + obsID, ""},
		{"Immunization read", "GET", "/Immunization/" + vacID, ""},
		{"Observation create", "POST", "/Observation", fmt.Sprintf(bloodPressure, pid)},
		{"PCH-01", "POST", "", pchBundle(ins, "5f0e7a3c-1b2d-4c5e-8f90-a1b2c3d4e5f6")},
		{"AuditEvent", "GET", "/AuditEvent?patient=" + patient, ""},
		{"document deposit, class 10", "POST", "/DocumentReference", documentFor(ins, 3)},
		{"ITI-65, class 10", "POST", "", iti65For(ins, 4)},
		{"Observation update", "PUT", "/Observation/" + obsID, strings.Replace(fmt.Sprintf(bloodPressure, pid), `"resourceType":"Observation",`, `"resourceType":"Observation","id":"`+obsID+`",`, 1)},
		{"Observation delete", "DELETE", "/Observation/" + obsID, ""},
		{"Immunization delete", "DELETE", "/Immunization/" + vacID, ""},
		{"document patch", "PATCH", "/DocumentReference/" + docID, `[{"op":"replace","path":"/status","value":"superseded"}]`},
		{"document delete", "DELETE", "/DocumentReference/" + docID, ""},
		{"everything", "GET", "/Patient/" + strconv.FormatInt(pid, 10) + "/$everything", ""},
	}
	// want is the status, and for a search the number found (-1: not a search). No app updates
	// or deletes (access.appActions), and $everything is the holder's: 403 for every token.
	type want struct{ status, found int }
	never := []want{{403, -1}, {403, -1}, {403, -1}, {403, -1}, {403, -1}, {403, -1}, {403, -1}, {403, -1}}
	for _, tc := range []struct {
		token string
		name  string
		want  []want
	}{
		{reports, "reports only", append([]want{{200, 3}, {200, -1}, {200, -1}, {200, 0}, {403, -1}, {403, -1}, {403, -1}, {403, -1}, {403, -1},
			{403, -1}, {403, -1}}, never[:6]...)},
		{summary, "summary read and write", append([]want{{200, 0}, {403, -1}, {403, -1}, {200, 1}, {200, -1}, {403, -1}, {201, -1}, {200, -1}, {403, -1},
			{403, -1}, {403, -1}}, never[:6]...)},
		// By then the summary token has pushed two measurements more: the read-only token sees all three.
		{nothingWritten, "read only", append([]want{{200, 3}, {200, -1}, {200, -1}, {200, 3}, {200, -1}, {403, -1}, {403, -1}, {403, -1}, {403, -1},
			{403, -1}, {403, -1}}, never[:6]...)},
	} {
		for i, c := range calls {
			st, body := fhirCall(t, p.srv.URL, tc.token, c.method, c.path, c.body)
			w := tc.want[i]
			if st != w.status {
				t.Errorf("%s, %s: %d, want %d: %.300s", tc.name, c.name, st, w.status, body)
				continue
			}
			if w.found >= 0 {
				if got := searchTotal(t, body); got != w.found {
					t.Errorf("%s, %s: found %d, want %d", tc.name, c.name, got, w.found)
				}
			}
		}
	}
	// The trail is the full grant's only: a token without AuditEvent is refused it, one with it
	// reads it (so the refusals above were the grants', not the endpoint's).
	trailApp := p.trailApp(t)
	if st, body = fhirCall(t, p.srv.URL, grant(t, b, trailApp, nil, nil), "GET", "/AuditEvent?patient="+patient, ""); st != 200 {
		t.Fatalf("trail app: %d %.300s", st, body)
	}
	if st, body = fhirCall(t, p.srv.URL, grant(t, b, trailApp, []string{"read"}, nil), "GET", "/AuditEvent?patient="+patient, ""); st != 403 {
		t.Fatalf("trail app, trail unticked: %d %.300s", st, body)
	}
	// The full grant reads the vaccination: the narrower ones were refused for their grant only.
	if st, _ := fhirCall(t, p.srv.URL, all, "GET", "/Immunization/"+vacID, ""); st != 200 {
		t.Fatalf("full grant, vaccination read: %d", st)
	}
	// Every refusal by resource type is traced with the app as actor, in the patient's chain.
	var refused int
	if err := p.DB.SQL().QueryRow(`SELECT COUNT(*) FROM traces WHERE patient_id = $1 AND actor_kind = 'app' AND outcome = 'denied'
		AND action LIKE 'fhir.%'`, pid).Scan(&refused); err != nil || refused < 10 {
		t.Fatalf("refusals by resource type traced: %d %v", refused, err)
	}
}

// vaccinationApp references an app that records vaccinations (class 52), and nothing else.
func (p *appsPortal) vaccinationApp(t *testing.T) *oauth2.Config {
	return p.smallApp(t, "carnet-vaccins", "52", "patient/Immunization.crs")
}

// trailApp references an app that reads reports and the trail of accesses.
func (p *appsPortal) trailApp(t *testing.T) *oauth2.Config {
	return p.smallApp(t, "qui-a-vu", "10", "patient/DocumentReference.rs patient/AuditEvent.rs")
}

func (p *appsPortal) smallApp(t *testing.T, id, class, scopes string) *oauth2.Config {
	t.Helper()
	ctx := context.Background()
	by := audit.Actor{Kind: audit.ActorOperator, ID: "op-2", Name: "Équipe catalogue"}
	a, secret, err := p.apps.Add(ctx, by, audit.ChannelCLI, appcat.Input{ID: id, Name: "Appli " + id, Publisher: "Éditeur Santé",
		Category: "maladie-chronique", Description: "Une seule chose.", Website: "https://" + id + ".example",
		PrivacyPolicy: "https://" + id + ".example/vie-privee",
		Data:          []appcat.DataCategory{{Class: class, Justification: "Ce que cette application fait."}},
		RedirectURIs:  []string{appRedirect}, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.apps.SetStatus(ctx, by, audit.ChannelCLI, a.ID, appcat.Referenced, ""); err != nil {
		t.Fatal(err)
	}
	endpoint, _ := discovery(t, p.srv.URL)
	return &oauth2.Config{ClientID: a.ID, ClientSecret: secret, RedirectURL: appRedirect, Endpoint: endpoint, Scopes: strings.Fields(scopes)}
}

// A token for patient A never reads or writes patient B's data, whatever the endpoint, even
// when the app is connected to both spaces.
func TestAppTokenNeverCrossesPatients(t *testing.T) {
	p := newAppsPortal(t)
	app := p.healthApp(t, "mon-carnet-plus")
	ba, pidA, insA, _ := p.patientSignedIn(t, 403)
	bb, pidB, insB, docB := p.patientSignedIn(t, 404)
	tokA, tokB := grant(t, ba, app, nil, nil), grant(t, bb, app, nil, nil)
	st, body := fhirCall(t, p.srv.URL, tokB, "POST", "/Observation", fmt.Sprintf(bloodPressure, pidB))
	if st != http.StatusCreated {
		t.Fatalf("B's app: %d %.300s", st, body)
	}
	obsB := idOf(t, body)
	patientB := fmt.Sprintf("Patient/%d", pidB)
	for _, c := range []struct{ name, method, path, body string }{
		{"documents search", "GET", "/DocumentReference?patient=" + patientB, ""},
		{"document read", "GET", "/DocumentReference/" + docB, ""},
		{"Binary", "GET", "/Binary/" + docB, ""},
		{"Observation search", "GET", "/Observation?patient=" + patientB, ""},
		{"Observation read", "GET", "/Observation/" + obsB, ""},
		{"Observation create", "POST", "/Observation", fmt.Sprintf(bloodPressure, pidB)},
		{"PCH-01", "POST", "", pchBundle(insB, "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")},
		{"AuditEvent", "GET", "/AuditEvent?patient=" + patientB, ""},
		{"everything", "GET", "/Patient/" + strconv.FormatInt(pidB, 10) + "/$everything", ""},
	} {
		st, body := fhirCall(t, p.srv.URL, tokA, c.method, c.path, c.body)
		if st != http.StatusForbidden && st != http.StatusNotFound {
			t.Errorf("A's token, B's %s: %d %.300s", c.name, st, body)
		}
		if strings.Contains(body, docB) && c.name != "document read" && c.name != "Binary" {
			t.Errorf("A's token, B's %s: the answer names B's document", c.name)
		}
	}
	// And B's own token still reads B's data (the refusals were about A's).
	if st, _ := fhirCall(t, p.srv.URL, tokB, "GET", "/Observation/"+obsB, ""); st != 200 {
		t.Fatalf("B's token on B's measurement: %d", st)
	}

	// The existence test by INS: A's token learns nothing of B, not even that B has a space. An
	// empty searchset, as for an INS nobody holds (a 403 here and a 200 there would tell), and
	// the refusal is in the app's own chain, never in B's history.
	lookup := func(tok string, ins identity.INS) (int, string) {
		sys, val := ins.FHIR()
		return fhirCall(t, p.srv.URL, tok, "GET", "/Patient?"+url.Values{"identifier": {sys + "|" + val}}.Encode(), "")
	}
	st, body = lookup(tokA, insB)
	if st != http.StatusOK || searchTotal(t, body) != 0 || strings.Contains(body, `"entry"`) {
		t.Fatalf("A's token looks B up by INS: %d %.300s", st, body)
	}
	var inB, refused int
	if err := p.DB.SQL().QueryRow(`SELECT COUNT(*) FROM traces WHERE patient_id = $1 AND action = 'space.lookup'`, pidB).Scan(&inB); err != nil || inB != 0 {
		t.Fatalf("B's history holds %d lookups (%v)", inB, err)
	}
	if err := p.DB.SQL().QueryRow(`SELECT COUNT(*) FROM traces WHERE patient_id IS NULL AND action = 'space.lookup' AND actor_kind = 'app'
		AND outcome = 'denied'`).Scan(&refused); err != nil || refused != 1 {
		t.Fatalf("refused lookups in the app's chain: %d %v", refused, err)
	}
	// A's token looks A up.
	if st, body = lookup(tokA, insA); st != http.StatusOK || searchTotal(t, body) != 1 || !strings.Contains(body, fmt.Sprintf("/Patient/%d", pidA)) {
		t.Fatalf("A's token looks A up: %d %.300s", st, body)
	}
}
