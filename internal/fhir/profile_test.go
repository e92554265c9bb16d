package fhir_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/fhir"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
)

// profileEnv is the API with the profile, and one patient.
type profileEnv struct {
	*env
	prof *profile.Service
	ins  identity.INS
	pid  int64
}

func newProfileEnv(t testing.TB) *profileEnv {
	t.Helper()
	e := &env{Env: recordtest.New(t)}
	prof, err := profile.NewService(profile.Deps{Store: e.DB.Profile(), Access: e.Access, Catalog: e.Catalog, Clock: e.Clock})
	if err != nil {
		t.Fatal(err)
	}
	var api *fhir.API
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL + "/fhir"
	e.tokens = apitoken.NewService(e.DB.Tokens(), e.Clock)
	api = fhir.New(fhir.Deps{Records: e.Records, Tokens: e.tokens, Catalog: e.Catalog, Profile: prof, BaseURL: e.base, Version: "test"})
	ins := recordtest.TestINS(t, 800)
	return &profileEnv{env: e, prof: prof, ins: ins, pid: e.Patient(t, ins)}
}

// pro records professional n of profession and returns their IdNat_PS and a token.
func (e *profileEnv) pro(t testing.TB, n int, profession string) (string, string) {
	t.Helper()
	idnat := recordtest.RPPS(t, n)
	id, _ := identity.ParseIdNatPS(idnat)
	p := account.Professional{IdNat: id, FamilyName: "MARTIN", GivenName: fmt.Sprint("Claire", n), Profession: profession, CreatedAt: e.Clock.Now()}
	if err := e.DB.Update(ctx, func(tx *store.Tx) error { return tx.InsertProfessional(ctx, &p) }); err != nil {
		t.Fatal(err)
	}
	return idnat, e.token(t, apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: p.ID})
}

// appToken is a token of an app the patient connected, with the actions and classes granted.
func (e *profileEnv) appToken(t testing.TB, classes []string, actions ...access.Action) string {
	t.Helper()
	secret, hash, tok, err := apitoken.Mint(apitoken.Token{Subject: apitoken.Subject{Kind: audit.ActorApp, PatientID: e.pid,
		Scopes: actions, Classes: classes}, Label: "Suivi Tension", ClientID: "suivi-tension",
		// Every resource type: these tests are about the decision's actions and classes.
		Scope: "patient/*.crs"}, e.Clock.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.DB.Update(ctx, func(tx *store.Tx) error { return tx.InsertAPIToken(ctx, hash, tok) }); err != nil {
		t.Fatal(err)
	}
	return secret
}

func (e *profileEnv) holder() access.Actor { return recordtest.Holder(e.pid).Actor }

func (e *profileEnv) patientRef() string { return fmt.Sprintf(`{"reference":"Patient/%d"}`, e.pid) }

func (e *profileEnv) insRef() string {
	sys, val := e.ins.FHIR()
	return fmt.Sprintf(`{"identifier":{"system":%q,"value":%q}}`, sys, val)
}

// failsWith checks an error answer: its status, an OperationOutcome, valid FHIR, saying want.
func failsWith(t *testing.T, res response, status int, want string) {
	t.Helper()
	if res.status != status {
		t.Errorf("status %d, want %d: %s", res.status, status, res.body)
		return
	}
	o := res.outcome(t)
	if !strings.Contains(o.Issue[0].Diagnostics, want) {
		t.Errorf("diagnostics %q, want %q", o.Issue[0].Diagnostics, want)
	}
	fhirtest.Validate(t, res.body)
}

// resources are a create and an update body of each profile resource, for a patient reference.
func profileBodies(subject string) map[string][2]string {
	return map[string][2]string{
		"AllergyIntolerance": {
			`{"resourceType":"AllergyIntolerance","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},"type":"allergy","category":["medication"],"criticality":"high","code":{"coding":[{"system":"http://snomed.info/sct","code":"764146007","display":"Penicillin"}],"text":"Pénicilline"},"patient":` + subject + `,"reaction":[{"manifestation":[{"text":"urticaire"}]}]}`,
			`{"resourceType":"AllergyIntolerance","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"resolved"}]},"code":{"text":"Pénicilline"},"patient":` + subject + `}`},
		"Condition": {
			`{"resourceType":"Condition","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"category":[{"coding":[{"system":"https://carnet-sante.org/fhir/CodeSystem/history-kind","code":"medical"}]}],"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"I10"}],"text":"Hypertension artérielle"},"subject":` + subject + `,"onsetDateTime":"2019"}`,
			`{"resourceType":"Condition","code":{"text":"Hypertension artérielle"},"subject":` + subject + `,"onsetDateTime":"2019-04","abatementDateTime":"2024-01-15"}`},
		"MedicationStatement": {
			`{"resourceType":"MedicationStatement","status":"active","medicationCodeableConcept":{"coding":[{"system":"http://www.whocc.no/atc","code":"C09AA05"}],"text":"Ramipril 5 mg"},"subject":` + subject + `,"effectivePeriod":{"start":"2025-01-15"},"dosage":[{"text":"1 comprimé le matin"}]}`,
			`{"resourceType":"MedicationStatement","status":"stopped","medicationCodeableConcept":{"text":"Ramipril 5 mg"},"subject":` + subject + `,"effectivePeriod":{"start":"2025-01-15","end":"2026-03-01"}}`},
		"Immunization": {
			`{"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"Grippe saisonnière"},"patient":` + subject + `,"occurrenceDateTime":"2025-10-21","lotNumber":"X42","protocolApplied":[{"doseNumberPositiveInt":1}]}`,
			`{"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"Grippe saisonnière"},"patient":` + subject + `,"occurrenceDateTime":"2025-10-22"}`},
		"FamilyMemberHistory": {
			`{"resourceType":"FamilyMemberHistory","status":"completed","patient":` + subject + `,"relationship":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"FTH"}]},"condition":[{"code":{"text":"Infarctus du myocarde"},"onsetAge":{"value":54,"unit":"a","system":"http://unitsofmeasure.org","code":"a"}}]}`,
			`{"resourceType":"FamilyMemberHistory","status":"completed","patient":` + subject + `,"relationship":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"FTH"}]},"condition":[{"code":{"text":"Infarctus du myocarde"}}]}`},
		"Observation": {
			`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":` + subject + `,"effectiveDateTime":"2026-03-10T08:30:00+01:00","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":128,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":82,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`,
			`{"resourceType":"Observation","status":"corrected","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":` + subject + `,"effectiveDateTime":"2026-03-10T08:30:00+01:00","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":126,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`},
		"RelatedPerson": {
			`{"resourceType":"RelatedPerson","patient":` + subject + `,"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0131","code":"C"}]},{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"SIS"}]}],"name":[{"family":"DUPONT","given":["Anne"]}],"telecom":[{"system":"phone","value":"+33612345678"}]}`,
			`{"resourceType":"RelatedPerson","patient":` + subject + `,"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0131","code":"C"}]}],"name":[{"text":"Anne DUPONT"}],"telecom":[{"system":"email","value":"anne@example.fr"}]}`},
	}
}

// Each profile resource: created (by a doctor, or by the patient for what only the patient
// writes), read, searched, updated to a new version, deleted; every answer valid FHIR R4.
func TestProfileResources(t *testing.T) {
	e := newProfileEnv(t)
	_, doctor := e.pro(t, 1, "G15_10")
	patient := e.token(t, apitoken.Subject{Kind: audit.ActorPatient, PatientID: e.pid})
	for name, bodies := range profileBodies(e.insRef()) {
		t.Run(name, func(t *testing.T) {
			tok := doctor
			if name == "RelatedPerson" {
				tok = patient // the patient's word: a professional is refused (below)
			}
			res := e.do(t, "POST", "/"+name, tok, r4.MIMEFHIRJSON, []byte(bodies[0]))
			if res.status != http.StatusCreated {
				t.Fatalf("create: %d %s", res.status, res.body)
			}
			fhirtest.Validate(t, res.body)
			var created struct {
				ID   string `json:"id"`
				Meta r4.Meta
			}
			if err := json.Unmarshal(res.body, &created); err != nil || created.ID == "" || created.Meta.VersionID != "1" ||
				!strings.HasSuffix(res.header.Get("Location"), "/"+name+"/"+created.ID+"/_history/1") || res.header.Get("ETag") != `W/"1"` {
				t.Fatalf("created: %s %v %v", res.body, res.header, err)
			}
			if !strings.Contains(string(res.body), fhir.ExtProfileEntered) {
				t.Errorf("who wrote it is not said: %s", res.body)
			}
			read := e.do(t, "GET", "/"+name+"/"+created.ID, tok, "", nil)
			if read.status != http.StatusOK {
				t.Fatalf("read: %d %s", read.status, read.body)
			}
			fhirtest.Validate(t, read.body)
			search := e.do(t, "GET", "/"+name+"?patient="+url.QueryEscape(fmt.Sprintf("Patient/%d", e.pid)), tok, "", nil)
			if search.status != http.StatusOK || len(decodeBundle(t, search).Entry) != 1 {
				t.Fatalf("search: %d %s", search.status, search.body)
			}
			fhirtest.Validate(t, search.body)
			// Another type does not read it.
			other := "Condition"
			if name == other {
				other = "AllergyIntolerance"
			}
			if res := e.do(t, "GET", "/"+other+"/"+created.ID, tok, "", nil); res.status != http.StatusNotFound {
				t.Errorf("read as %s: %d", other, res.status)
			}
			up := e.do(t, "PUT", "/"+name+"/"+created.ID, tok, r4.MIMEFHIRJSON, []byte(bodies[1]), "If-Match", `W/"1"`)
			if up.status != http.StatusOK || up.header.Get("ETag") != `W/"2"` {
				t.Fatalf("update: %d %s", up.status, up.body)
			}
			fhirtest.Validate(t, up.body)
			stale := e.do(t, "PUT", "/"+name+"/"+created.ID, tok, r4.MIMEFHIRJSON, []byte(bodies[1]), "If-Match", `W/"1"`)
			failsWith(t, stale, http.StatusConflict, "not 1")
			failsWith(t, e.do(t, "DELETE", "/"+other+"/"+created.ID, tok, "", nil), http.StatusNotFound, "no such")
			if res := e.do(t, "DELETE", "/"+name+"/"+created.ID, tok, "", nil); res.status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", res.status, res.body)
			}
			failsWith(t, e.do(t, "GET", "/"+name+"/"+created.ID, tok, "", nil), http.StatusNotFound, "deleted")
		})
	}
	// A professional writes no contact; an element the profile does not keep is refused.
	failsWith(t, e.do(t, "POST", "/RelatedPerson", doctor, r4.MIMEFHIRJSON, []byte(profileBodies(e.patientRef())["RelatedPerson"][0])),
		http.StatusForbidden, "may not deposit")
	failsWith(t, e.do(t, "POST", "/Condition", doctor, r4.MIMEFHIRJSON,
		[]byte(`{"resourceType":"Condition","code":{"text":"x"},"subject":`+e.patientRef()+`,"bodySite":[{"text":"genou"}]}`)),
		http.StatusUnprocessableEntity, "does not keep Condition.bodySite")
	failsWith(t, e.do(t, "GET", "/Observation?patient=Patient/"+strconv.FormatInt(e.pid, 10)+"&category=imaging", doctor, "", nil),
		http.StatusUnprocessableEntity, "category")
}

// A measurement's search by code, category and date; the blood group is an Observation too.
func TestObservationSearch(t *testing.T) {
	e := newProfileEnv(t)
	me := profile.Request{Actor: e.holder(), Channel: audit.ChannelWeb}
	for i, kg := range []float64{80, 79, 78} {
		it := profile.Item{Section: profile.SectionMeasurements, Measurement: &profile.Measurement{Code: "29463-7", Value: kg, Unit: "kg",
			Taken: recordtest.T0.AddDate(0, 0, -10+i)}}
		if _, err := e.prof.Add(ctx, me, e.pid, it); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.prof.Add(ctx, me, e.pid, profile.Item{Section: profile.SectionBloodGroup, BloodGroup: &profile.BloodGroup{ABO: "O", Rh: "-"}}); err != nil {
		t.Fatal(err)
	}
	patient := e.token(t, apitoken.Subject{Kind: audit.ActorPatient, PatientID: e.pid})
	sys, val := e.ins.FHIR()
	base := "/Observation?subject.identifier=" + url.QueryEscape(sys+"|"+val)
	for _, c := range []struct {
		query string
		n     int
	}{
		{"", 4},
		{"&code=http://loinc.org|29463-7", 3},
		{"&category=laboratory", 1},
		{"&category=vital-signs&date=ge2026-03-01", 2},
		{"&code=29463-7&category=laboratory", 0},
		{"&_count=2", 2},
	} {
		res := e.do(t, "GET", base+c.query, patient, "", nil)
		if res.status != http.StatusOK {
			t.Fatalf("%s: %d %s", c.query, res.status, res.body)
		}
		fhirtest.Validate(t, res.body)
		b := decodeBundle(t, res)
		if len(b.Entry) != c.n {
			t.Errorf("%s: %d entries, want %d", c.query, len(b.Entry), c.n)
		}
		if c.query == "&_count=2" {
			var next string
			for _, l := range b.Link {
				if l.Relation == "next" {
					next = strings.TrimPrefix(l.URL, e.base)
				}
			}
			if res := e.do(t, "GET", next, patient, "", nil); next == "" || len(decodeBundle(t, res).Entry) != 2 {
				t.Errorf("next page %q: %s", next, res.body)
			}
		}
	}
	res := e.do(t, "GET", base+"&code=882-1", patient, "", nil)
	if !strings.Contains(string(res.body), `"code":"278148006"`) || !strings.Contains(string(res.body), `"text":"O-"`) {
		t.Errorf("blood group: %s", res.body)
	}
}

// A hidden item is invisible to a professional of the care team, visible to the médecin
// traitant and to its author; a refused professional gets 403, and every decision is traced.
func TestProfileAccessThroughTheAPI(t *testing.T) {
	e := newProfileEnv(t)
	_, author := e.pro(t, 1, "G15_10")
	mtID, mt := e.pro(t, 2, "G15_10")
	otherID, other := e.pro(t, 3, "G15_10")
	blockedID, blocked := e.pro(t, 4, "G15_10")
	me := e.holder()
	for _, id := range []string{mtID, otherID} {
		if err := e.Access.AddToCareTeam(ctx, me, audit.ChannelWeb, e.pid, id, access.CareDesignated); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Access.DesignateMedecinTraitant(ctx, me, audit.ChannelWeb, e.pid, mtID); err != nil {
		t.Fatal(err)
	}
	if err := e.Access.Block(ctx, me, audit.ChannelWeb, e.pid, blockedID); err != nil {
		t.Fatal(err)
	}
	res := e.do(t, "POST", "/AllergyIntolerance", author, r4.MIMEFHIRJSON, []byte(profileBodies(e.patientRef())["AllergyIntolerance"][0]))
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	var created struct{ ID string }
	json.Unmarshal(res.body, &created)
	if _, err := e.prof.Hide(ctx, profile.Request{Actor: me, Channel: audit.ChannelWeb}, created.ID); err != nil {
		t.Fatal(err)
	}
	path := "/AllergyIntolerance/" + created.ID
	failsWith(t, e.do(t, "GET", path, other, "", nil), http.StatusNotFound, "does not exist or is not available")
	search := e.do(t, "GET", "/AllergyIntolerance?patient=Patient/"+strconv.FormatInt(e.pid, 10), other, "", nil)
	if search.status != http.StatusOK || len(decodeBundle(t, search).Entry) != 0 {
		t.Errorf("hidden item listed to a care-team doctor: %s", search.body)
	}
	for who, tok := range map[string]string{"médecin traitant": mt, "author": author} {
		res := e.do(t, "GET", path, tok, "", nil)
		if res.status != http.StatusOK || !strings.Contains(string(res.body), `"code":"MASQUE_PS"`) {
			t.Errorf("%s: %d %s", who, res.status, res.body)
		}
		fhirtest.Validate(t, res.body)
	}
	failsWith(t, e.do(t, "GET", path, blocked, "", nil), http.StatusForbidden, "blocked")
	failsWith(t, e.do(t, "POST", "/AllergyIntolerance", blocked, r4.MIMEFHIRJSON, []byte(profileBodies(e.patientRef())["AllergyIntolerance"][0])),
		http.StatusForbidden, "blocked")
	failsWith(t, e.do(t, "PUT", path, other, r4.MIMEFHIRJSON, []byte(profileBodies(e.patientRef())["AllergyIntolerance"][1])),
		http.StatusForbidden, "Only the document's author")
	traces := strings.Join(e.Traces(t, e.pid), "\n")
	for _, want := range []string{"document.deposit allowed act_of_care", "document.mask allowed self", "document.read denied masked basis=care_team",
		"document.read allowed medecin_traitant", "document.read allowed author", "document.read denied blocked", "document.deposit denied blocked"} {
		if !strings.Contains(traces, want) {
			t.Errorf("no trace %q in\n%s", want, traces)
		}
	}
	// An app within its scope reads and writes; an update is not an app's (access rules).
	app := e.appToken(t, []string{"11"}, access.ActionDeposit, access.ActionRead, access.ActionList, access.ActionSearch)
	obs := profileBodies(e.patientRef())["Observation"]
	res = e.do(t, "POST", "/Observation", app, r4.MIMEFHIRJSON, []byte(obs[0]))
	if res.status != http.StatusCreated {
		t.Fatalf("app create: %d %s", res.status, res.body)
	}
	json.Unmarshal(res.body, &created)
	failsWith(t, e.do(t, "PUT", "/Observation/"+created.ID, app, r4.MIMEFHIRJSON, []byte(obs[1])), http.StatusForbidden, "not granted")
}

// pchBundle is a PCH-01 transaction: a Device (conditional create on its identifier) and one
// Observation of a weight, edited by change (a text replacement) when given.
func (e *profileEnv) pchBundle(device, obsID string, value string, change ...string) []byte {
	sys, val := e.ins.FHIR()
	b := `{"resourceType":"Bundle","type":"transaction","entry":[
	{"fullUrl":"urn:uuid:3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b","resource":{"resourceType":"Device","identifier":[{"system":"urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680","value":"` + device + `"}],"manufacturer":"Acme Santé","modelNumber":"S-200"},
	 "request":{"method":"POST","url":"Device","ifNoneExist":"identifier=urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680|` + device + `"}},
	{"fullUrl":"urn:uuid:9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","resource":{"resourceType":"Observation","identifier":[{"system":"urn:ietf:rfc:3986","value":"urn:uuid:` + obsID + `"}],"status":"final",
	 "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
	 "code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"identifier":{"system":"` + sys + `","value":"` + val + `"}},
	 "effectiveDateTime":"2026-03-10T07:45:00+01:00","valueQuantity":{"value":` + value + `,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"},
	 "device":{"reference":"urn:uuid:3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b"}},"request":{"method":"POST","url":"Observation"}}]}`
	for i := 0; i+1 < len(change); i += 2 {
		b = strings.Replace(b, change[i], change[i+1], 1)
	}
	return []byte(b)
}

// PCH-01: the Device created once across two pushes; a measurement sent again stored once;
// every error answer an OperationOutcome with its status.
func TestPCH01(t *testing.T) {
	e := newProfileEnv(t)
	app := e.appToken(t, []string{"11"}, access.ActionDeposit)
	obsID := "7b1f0c9a-2d44-4f7e-8a11-6c3b2a1d0e9f"
	push := func(body []byte, tok string) response {
		return e.do(t, "POST", "", tok, r4.MIMEFHIRJSON, body)
	}
	first := push(e.pchBundle("FE-ED-AB-EE-DE-AD-BE-EF", obsID, "72.4"), app)
	if first.status != http.StatusOK {
		t.Fatalf("first push: %d %s", first.status, first.body)
	}
	fhirtest.Validate(t, first.body)
	b := decodeBundle(t, first)
	if b.Type != r4.BundleTypeTransactionResponse || len(b.Entry) != 2 || b.Entry[0].Response.Status != "201 Created" ||
		b.Entry[1].Response.Status != "201 Created" || !strings.HasPrefix(b.Entry[1].Response.Location, "Observation/") {
		t.Fatalf("first push: %s", first.body)
	}
	device := b.Entry[0].Response.Location
	second := push(e.pchBundle("FE-ED-AB-EE-DE-AD-BE-EF", obsID, "72.4", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "00000000-0000-4000-8000-000000000002"), app)
	b2 := decodeBundle(t, second)
	if second.status != http.StatusOK || b2.Entry[0].Response.Status != "200 OK" || b2.Entry[0].Response.Location != device ||
		b2.Entry[1].Response.Status != "200 OK" || b2.Entry[1].Response.Location != b.Entry[1].Response.Location {
		t.Fatalf("second push: %s", second.body)
	}
	fhirtest.Validate(t, second.body)
	third := push(e.pchBundle("FE-ED-AB-EE-DE-AD-BE-EF", "00000000-0000-4000-8000-000000000003", "72.1"), app)
	if b3 := decodeBundle(t, third); b3.Entry[0].Response.Location != device || b3.Entry[1].Response.Status != "201 Created" {
		t.Fatalf("third push: %s", third.body)
	}
	obs := e.do(t, "GET", "/"+strings.Split(b.Entry[1].Response.Location, "/_history")[0], e.token(t, apitoken.Subject{Kind: audit.ActorPatient, PatientID: e.pid}), "", nil)
	if obs.status != http.StatusOK || !strings.Contains(string(obs.body), `"reference":"`+device+`"`) || !strings.Contains(string(obs.body), `"value":72.4`) {
		t.Errorf("the measurement: %s", obs.body)
	}
	fhirtest.Validate(t, obs.body)

	// 403: no consent.
	failsWith(t, push(e.pchBundle("dev-2", "00000000-0000-4000-8000-000000000010", "70"), e.appToken(t, []string{"11"}, access.ActionRead)),
		http.StatusForbidden, "not granted")
	failsWith(t, push(e.pchBundle("dev-2", "00000000-0000-4000-8000-000000000010", "70"), e.appToken(t, []string{"52"}, access.ActionDeposit)),
		http.StatusForbidden, "not granted")
	blockedID, blocked := e.pro(t, 9, "G15_10")
	if err := e.Access.Block(ctx, e.holder(), audit.ChannelWeb, e.pid, blockedID); err != nil {
		t.Fatal(err)
	}
	failsWith(t, push(e.pchBundle("dev-2", "00000000-0000-4000-8000-000000000010", "70"), blocked), http.StatusForbidden, "blocked")

	// 409: identifier conflicts.
	failsWith(t, push(e.pchBundle("FE-ED-AB-EE-DE-AD-BE-EF", obsID, "75"), app), http.StatusConflict, "already stored with other content")
	otherINS := recordtest.TestINS(t, 801)
	otherPID := e.Patient(t, otherINS)
	osys, oval := otherINS.FHIR()
	sys, val := e.ins.FHIR()
	otherPatient := e.token(t, apitoken.Subject{Kind: audit.ActorPatient, PatientID: otherPID})
	failsWith(t, push(e.pchBundle("FE-ED-AB-EE-DE-AD-BE-EF", "00000000-0000-4000-8000-000000000011", "70",
		`"value":"`+val+`"`, `"value":"`+oval+`"`, `"system":"`+sys+`"`, `"system":"`+osys+`"`), otherPatient),
		http.StatusConflict, "bound to another patient")

	// 422: invalid bundles.
	for _, c := range []struct {
		name   string
		change []string
		want   string
	}{
		{"unknown code", []string{`"code":"29463-7"`, `"code":"12345-6"`}, "unknown measure"},
		{"unit mismatch", []string{`"code":"kg"`, `"code":"mm[Hg]"`}, "weight is measured in kg"},
		{"implausible value", []string{`"value":72.4`, `"value":900`}, "a weight of 900 kg is outside the plausible range 0.3–400 kg"},
		{"Observation not pointing at the Device", []string{`"device":{"reference":"urn:uuid:3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b"}`, `"device":{"reference":"Device/other"}`}, "must point at the bundle's Device"},
		{"ifNoneExist on something else", []string{`"ifNoneExist":"identifier=`, `"ifNoneExist":"manufacturer=Acme&x=`}, "matched on its identifier"},
	} {
		t.Run(c.name, func(t *testing.T) {
			failsWith(t, push(e.pchBundle("dev-3", "00000000-0000-4000-8000-000000000020", "72.4", c.change...), app), http.StatusUnprocessableEntity, c.want)
		})
	}
	noDevice := []byte(strings.Replace(string(e.pchBundle("dev-3", "00000000-0000-4000-8000-000000000021", "72.4")),
		`{"fullUrl":"urn:uuid:3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b","resource":{"resourceType":"Device","identifier":[{"system":"urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680","value":"dev-3"}],"manufacturer":"Acme Santé","modelNumber":"S-200"},
	 "request":{"method":"POST","url":"Device","ifNoneExist":"identifier=urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680|dev-3"}},`, "", 1))
	failsWith(t, push(noDevice, app), http.StatusUnprocessableEntity, "no Device")

	// Nothing of the refused pushes was stored.
	page, err := e.prof.List(ctx, profile.Request{Actor: e.holder(), Channel: audit.ChannelWeb}, profile.Query{PatientID: e.pid})
	if err != nil || len(page.Items) != 2 {
		t.Errorf("stored: %d %v", len(page.Items), err)
	}
	traces := strings.Join(e.Traces(t, e.pid), "\n")
	for _, want := range []string{"document.deposit allowed app", "document.deposit denied scope", "document.deposit denied blocked", "document.deposit denied conflict"} {
		if !strings.Contains(traces, want) {
			t.Errorf("no trace %q in\n%s", want, traces)
		}
	}
	// ITI-65 still goes where it went.
	idnat, doctor := e.pro(t, 10, "G15_10")
	if res := push(provideBundle(t, e.ins, idnat, recordtest.PDF(1000, 1)), doctor); res.status != http.StatusOK {
		t.Errorf("ITI-65 beside PCH-01: %d %s", res.status, res.body)
	}
}

// The CapabilityStatement declares every profile route and search parameter, and stays valid.
func TestProfileCapabilities(t *testing.T) {
	e := newProfileEnv(t)
	res := e.do(t, "GET", "/metadata", "", "", nil)
	fhirtest.Validate(t, res.body)
	var cs r4.CapabilityStatement
	if err := json.Unmarshal(res.body, &cs); err != nil {
		t.Fatal(err)
	}
	declared := map[string]r4.CapabilityStatementResource{}
	for _, r := range cs.Rest[0].Resource {
		declared[r.Type] = r
	}
	patient := e.token(t, apitoken.Subject{Kind: audit.ActorPatient, PatientID: e.pid})
	for name := range profileBodies(e.patientRef()) {
		r, ok := declared[name]
		if !ok {
			t.Errorf("%s is not declared", name)
			continue
		}
		var inter []string
		for _, i := range r.Interaction {
			inter = append(inter, i.Code)
		}
		for _, want := range []string{"read", "search-type", "create", "update", "delete"} {
			if !slices.Contains(inter, want) {
				t.Errorf("%s: %s not declared", name, want)
			}
		}
		// Each declared search parameter is one the server takes.
		for _, p := range r.SearchParam {
			v := "x"
			switch p.Name {
			case "patient", "subject":
				v = "Patient/" + strconv.FormatInt(e.pid, 10)
			case "patient.identifier", "subject.identifier":
				sys, val := e.ins.FHIR()
				v = sys + "|" + val
			case "_count":
				v = "5"
			case "date":
				v = "ge2026-01-01"
			case "category":
				v = "vital-signs"
			case "relationship":
				v = "trusted-person"
			}
			q := "?" + p.Name + "=" + url.QueryEscape(v)
			if p.Name != "patient" {
				q += "&patient=Patient/" + strconv.FormatInt(e.pid, 10)
			}
			if res := e.do(t, "GET", "/"+name+q, patient, "", nil); res.status != http.StatusOK {
				t.Errorf("%s%s: %d %s", name, q, res.status, res.body)
			}
		}
	}
	if r, ok := declared["Device"]; !ok || r.ConditionalCreate == nil || !*r.ConditionalCreate {
		t.Errorf("Device: %+v", r)
	}
	// Without the profile, none of it is declared, nor served.
	plain := newEnv(t)
	if res := plain.do(t, "GET", "/metadata", "", "", nil); strings.Contains(string(res.body), `"Observation"`) {
		t.Errorf("the profile declared without being served")
	}
	if res := plain.do(t, "GET", "/Observation?patient=Patient/1", patient, "", nil); res.status != http.StatusNotFound {
		t.Errorf("the profile served without a profile service: %d", res.status)
	}
}

// BenchmarkPCH01 measures one PCH-01 push over HTTP: decoding, the decision, the device
// found, the measurement stored and traced.
func BenchmarkPCH01(b *testing.B) {
	e := newProfileEnv(b)
	app := e.appToken(b, []string{"11"}, access.ActionDeposit)
	client := e.srv.Client()
	i := 0
	for b.Loop() {
		i++
		body := e.pchBundle("FE-ED-AB-EE-DE-AD-BE-EF", fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "72.4")
		req, _ := http.NewRequest("POST", e.base, strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+app)
		req.Header.Set("Content-Type", r4.MIMEFHIRJSON)
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("push: %d", res.StatusCode)
		}
	}
}
