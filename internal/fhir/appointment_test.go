package fhir_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/fhir"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
)

// newAppointmentEnv is the API with the agenda (and the profile env's helpers).
func newAppointmentEnv(t *testing.T) (*profileEnv, *agenda.Service) {
	t.Helper()
	e := &env{Env: recordtest.New(t)}
	ag, err := agenda.NewService(agenda.Deps{Store: e.DB.Agenda(), Access: e.Access, Clock: e.Clock})
	if err != nil {
		t.Fatal(err)
	}
	var api *fhir.API
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL + "/fhir"
	e.tokens = apitoken.NewService(e.DB.Tokens(), e.Clock)
	api = fhir.New(fhir.Deps{Records: e.Records, Tokens: e.tokens, Catalog: e.Catalog, Agenda: ag, BaseURL: e.base, Version: "test"})
	ins := recordtest.TestINS(t, 801)
	return &profileEnv{env: e, ins: ins, pid: e.Patient(t, ins)}, ag
}

func appointmentBody(status, subject, extra string) string {
	return `{"resourceType":"Appointment","status":"` + status + `","serviceType":[{"coding":[{"system":"urn:oid:1.2.250.1.213.2.5","code":"cardio"}],"text":"Consultation de cardiologie"}],` +
		`"description":"Contrôle annuel","start":"2026-04-02T08:00:00Z","end":"2026-04-02T08:30:00Z",` + extra +
		`"participant":[{"actor":` + subject + `,"status":"accepted"},` +
		`{"actor":{"type":"Practitioner","identifier":{"system":"https://rpps.esante.gouv.fr","value":"10001234567"},"display":"Dr Claire MARTIN"},"status":"accepted"},` +
		`{"actor":{"type":"Location","display":"Hôpital Nord, bâtiment B"},"status":"accepted"},` +
		`{"actor":{"type":"Organization","identifier":{"system":"urn:oid:1.2.250.1.71.4.2.2","value":"130001234"},"display":"AP-HM"},"status":"accepted"}]}`
}

func TestAppointmentAPI(t *testing.T) {
	e, _ := newAppointmentEnv(t)
	idnat, tok := e.pro(t, 1, "G15_10")

	// Create, by INS.
	res := e.do(t, "POST", "/Appointment", tok, r4.MIMEFHIRJSON, []byte(appointmentBody("booked", e.insRef(), "")))
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	fhirtest.Validate(t, res.body)
	var ap r4.Appointment
	if err := json.Unmarshal(res.body, &ap); err != nil || ap.ID == "" || ap.Status != "booked" || ap.Meta.VersionID != "1" ||
		len(ap.Participant) != 4 || ap.Participant[0].Actor.Reference != fmt.Sprintf("Patient/%d", e.pid) ||
		ap.Participant[1].Actor.Identifier.Value != "10001234567" || ap.ServiceType[0].Text != "Consultation de cardiologie" {
		t.Fatalf("created: %+v %v", ap, err)
	}
	if !strings.HasSuffix(res.header.Get("Location"), "/Appointment/"+ap.ID+"/_history/1") {
		t.Fatalf("Location: %s", res.header.Get("Location"))
	}
	if tr := e.Traces(t, e.pid); !strings.HasPrefix(tr[len(tr)-1], "document.deposit allowed") {
		t.Fatalf("the creation's trace: %s", tr[len(tr)-1])
	}

	// Cancelled by PUT, conditional on the version read; a stale version is a conflict.
	failsWith(t, e.do(t, "PUT", "/Appointment/"+ap.ID, tok, r4.MIMEFHIRJSON, []byte(appointmentBody("cancelled", e.patientRef(), "")),
		"If-Match", `W/"7"`), http.StatusConflict, "at version 1")
	failsWith(t, e.do(t, "PUT", "/Appointment/"+ap.ID, tok, r4.MIMEFHIRJSON, []byte(appointmentBody("cancelled", e.patientRef(), "")),
		"If-Match", `nope`), http.StatusUnprocessableEntity, "If-Match")
	res = e.do(t, "PUT", "/Appointment/"+ap.ID, tok, r4.MIMEFHIRJSON, []byte(appointmentBody("cancelled", e.patientRef(), "")),
		"If-Match", `W/"1"`)
	if res.status != http.StatusOK {
		t.Fatalf("update: %d %s", res.status, res.body)
	}
	fhirtest.Validate(t, res.body)
	var upd r4.Appointment
	if err := json.Unmarshal(res.body, &upd); err != nil || upd.ID != ap.ID || upd.Status != "cancelled" || upd.Meta.VersionID != "2" {
		t.Fatalf("updated: %+v %v", upd, err)
	}

	// Read.
	res = e.do(t, "GET", "/Appointment/"+ap.ID, tok, "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("read: %d %s", res.status, res.body)
	}
	fhirtest.Validate(t, res.body)

	// Search: by INS and date; the doctor authorised by the patient, then the patient's app.
	h := recordtest.Holder(e.pid)
	if _, err := e.Access.GrantAuthorisation(ctx, h.Actor, h.Channel, e.pid, idnat, 0); err != nil {
		t.Fatal(err)
	}
	sys, val := e.ins.FHIR()
	q := url.Values{"patient.identifier": {sys + "|" + val}, "date": {"ge2026-04-01", "lt2026-04-03"}}
	for name, token := range map[string]string{"doctor": tok, "app": appointmentApp(t, e)} {
		res = e.do(t, "GET", "/Appointment?"+q.Encode(), token, "", nil)
		if res.status != http.StatusOK {
			t.Fatalf("%s search: %d %s", name, res.status, res.body)
		}
		fhirtest.Validate(t, res.body)
		var b r4.Bundle
		if err := json.Unmarshal(res.body, &b); err != nil || b.Total == nil || *b.Total != 1 || len(b.Entry) != 1 {
			t.Fatalf("%s search: %s", name, res.body)
		}
	}
	// The app was granted to read, not to create.
	failsWith(t, e.do(t, "POST", "/Appointment", appointmentApp(t, e), r4.MIMEFHIRJSON, []byte(appointmentBody("booked", e.patientRef(), ""))),
		http.StatusForbidden, "")
	q.Set("date", "2026-05")
	res = e.do(t, "GET", "/Appointment?"+q.Encode(), tok, "", nil)
	fhirtest.Validate(t, res.body)
	if !strings.Contains(string(res.body), `"total":0`) {
		t.Fatalf("another month: %s", res.body)
	}

	// A stranger reads nothing; every refusal is an OperationOutcome.
	_, stranger := e.pro(t, 2, "G15_10")
	failsWith(t, e.do(t, "GET", "/Appointment/"+ap.ID, stranger, "", nil), http.StatusForbidden, "")
	failsWith(t, e.do(t, "GET", "/Appointment?"+q.Encode(), stranger, "", nil), http.StatusForbidden, "")
	failsWith(t, e.do(t, "GET", "/Appointment/nope", tok, "", nil), http.StatusNotFound, "")
	failsWith(t, e.do(t, "PUT", "/Appointment/nope", tok, r4.MIMEFHIRJSON, []byte(appointmentBody("booked", e.patientRef(), ""))),
		http.StatusNotFound, "no Appointment")
	failsWith(t, e.do(t, "GET", "/Appointment?date=2026", tok, "", nil), http.StatusUnprocessableEntity, "patient is required")
	failsWith(t, e.do(t, "GET", "/Appointment?patient=Patient/1&status=booked", tok, "", nil), http.StatusUnprocessableEntity, "unknown search parameter")

	// Bad bodies: each says what is wrong, and nothing is filed.
	for _, tt := range []struct{ body, want string }{
		{appointmentBody("arrived", e.patientRef(), ""), "booked, proposed or cancelled"},
		{appointmentBody("booked", e.patientRef(), `"priority":3,`), "does not keep Appointment.priority"},
		{`{"resourceType":"Appointment","status":"booked","start":"2026-04-02T08:00:00Z","description":"x","participant":[{"actor":{"reference":"Practitioner/1"},"status":"accepted"}]}`, "the patient is required"},
		{`{"resourceType":"Appointment","status":"booked","description":"x","participant":[{"actor":` + e.patientRef() + `,"status":"accepted"}]}`, "the start is required"},
		{`{"resourceType":"Appointment","status":"booked","start":"2026-04-02T08:00:00Z","participant":[{"actor":` + e.patientRef() + `,"status":"accepted"}]}`, "serviceType or a description"},
		{`{"resourceType":"Patient"}`, ""},
		{`not json`, ""},
	} {
		res := e.do(t, "POST", "/Appointment", tok, r4.MIMEFHIRJSON, []byte(tt.body))
		if res.status < 400 || res.status >= 500 {
			t.Errorf("%s: %d %s", tt.body, res.status, res.body)
			continue
		}
		o := res.outcome(t)
		if !strings.Contains(o.Issue[0].Diagnostics, tt.want) {
			t.Errorf("%s: %s", tt.want, o.Issue[0].Diagnostics)
		}
		fhirtest.Validate(t, res.body)
	}
	var n int
	if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM agenda_events WHERE patient_id = $1`, e.pid).Scan(&n); err != nil || n != 1 {
		t.Fatalf("events filed: %d %v", n, err)
	}
	failsWith(t, e.do(t, "POST", "/Appointment", "", r4.MIMEFHIRJSON, []byte(appointmentBody("booked", e.patientRef(), ""))),
		http.StatusUnauthorized, "authentication required")

	// The CapabilityStatement declares it.
	res = e.do(t, "GET", "/metadata", "", "", nil)
	fhirtest.Validate(t, res.body)
	if !strings.Contains(string(res.body), `"type":"Appointment"`) {
		t.Fatal("Appointment is not in the CapabilityStatement")
	}
}

func FuzzDecodeAppointment(f *testing.F) {
	f.Add(appointmentBody("booked", `{"reference":"Patient/1"}`, ""))
	f.Add(appointmentBody("proposed", `{"identifier":{"system":"urn:oid:1.2.250.1.213.1.4.8","value":"255069999999934"}}`, `"minutesDuration":20,`))
	f.Add(`{"resourceType":"Appointment","status":"cancelled","start":"2026-01-01T00:00:00+01:00","participant":[]}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, body string) {
		ap, ref, err := fhir.DecodeAppointment([]byte(body))
		if err != nil {
			return
		}
		if ref == nil || ap.Start.IsZero() {
			t.Fatalf("accepted without a patient or a start: %+v", ap)
		}
		switch ap.Status {
		case agenda.StatusBooked, agenda.StatusProposed, agenda.StatusCancelled:
		default:
			t.Fatalf("accepted status %q", ap.Status)
		}
		// What is accepted encodes to an Appointment that decodes again.
		ap.ID, ap.Version = "x", 1
		b, err := json.Marshal(fhir.EncodeAppointment(&ap))
		if err != nil {
			t.Fatal(err)
		}
		var back r4.Appointment
		if err := r4.Decode(b, &back); err != nil {
			t.Fatalf("the encoding does not decode: %v\n%s", err, b)
		}
	})
}

// appointmentApp is a token of an app the patient connected with the scope
// patient/Appointment.rs: searching and reading their appointments.
func appointmentApp(t *testing.T, e *profileEnv) string {
	t.Helper()
	secret, hash, tok, err := apitoken.Mint(apitoken.Token{Subject: apitoken.Subject{Kind: audit.ActorApp, PatientID: e.pid,
		Scopes: []access.Action{access.ActionSearch, access.ActionList, access.ActionRead}, Classes: []string{"*"}},
		Label: "Mes rendez-vous", ClientID: "mes-rdv", Scope: "patient/Appointment.rs"}, e.Clock.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.DB.Update(ctx, func(tx *store.Tx) error { return tx.InsertAPIToken(ctx, hash, tok) }); err != nil {
		t.Fatal(err)
	}
	return secret
}
