package fhir_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// GET Patient/{id} answers the holder's identity to whoever may read the record, and 404 to
// everyone else, whether the patient exists or not; every answer is decided and traced.
func TestPatientRead(t *testing.T) {
	e := newEnv(t)
	ins := recordtest.TestINS(t, 160)
	pid := e.Patient(t, ins)
	other := e.Patient(t, recordtest.TestINS(t, 161))
	authorID, authorTok := e.professional(t, 160)
	_, outsiderTok := e.professional(t, 161)
	patientTok := e.token(t, apitoken.Subject{Kind: audit.ActorPatient, PatientID: pid})
	path := fmt.Sprint("/Patient/", pid)

	res := e.do(t, "GET", path, patientTok, "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("the holder: %d %s", res.status, res.body)
	}
	fhirtest.Validate(t, res.body)
	var p r4.Patient
	if err := json.Unmarshal(res.body, &p); err != nil {
		t.Fatal(err)
	}
	sys, val := ins.FHIR()
	if p.ID != fmt.Sprint(pid) || len(p.Identifier) != 1 || p.Identifier[0].System != sys || p.Identifier[0].Value != val ||
		p.Gender != "female" || len(p.Name) == 0 || p.Name[0].Family != "DUPONT" || p.BirthDate == "" {
		t.Fatalf("the Patient: %s", res.body)
	}

	// A professional without ground: 404 as for a patient that does not exist, and traced.
	for _, c := range []struct{ path, tok string }{{path, outsiderTok}, {fmt.Sprint("/Patient/", other), patientTok},
		{"/Patient/999999", patientTok}, {"/Patient/999999", outsiderTok}, {"/Patient/0", patientTok}, {"/Patient/abc", patientTok},
		{"/Patient/0" + fmt.Sprint(pid), patientTok}} {
		res := e.do(t, "GET", c.path, c.tok, "", nil)
		if res.status != http.StatusNotFound || strings.Contains(string(res.body), "DUPONT") {
			t.Errorf("GET %s: %d %s", c.path, res.status, res.body)
		}
		fhirtest.Validate(t, res.body)
	}
	if tr := strings.Join(e.Traces(t, pid), "\n"); !strings.Contains(tr, "record.search denied") || !strings.Contains(tr, "record.search allowed") {
		t.Errorf("reads not traced:\n%s", tr)
	}
	if tr := strings.Join(e.Traces(t, other), "\n"); strings.Contains(tr, "record.search") {
		t.Errorf("the other patient's chain names a read they were not asked about:\n%s", tr)
	}

	// The author of a document is in the care team: they may read the record, and so its Patient.
	if res := e.do(t, "POST", "", authorTok, r4.MIMEFHIRJSON, provideBundle(t, ins, authorID, recordtest.PDF(2000, 160))); res.status != 200 {
		t.Fatalf("deposit: %d %s", res.status, res.body)
	}
	if res := e.do(t, "GET", path, authorTok, "", nil); res.status != http.StatusOK || !strings.Contains(string(res.body), val) {
		t.Fatalf("the care team: %d %s", res.status, res.body)
	}

	// Patient?_id= is the same read, as a searchset.
	res = e.do(t, "GET", fmt.Sprint("/Patient?_id=", pid), patientTok, "", nil)
	fhirtest.Validate(t, res.body)
	if b := decodeBundle(t, res); res.status != 200 || b.Total == nil || *b.Total != 1 || len(b.Entry) != 1 {
		t.Fatalf("_id: %d %s", res.status, res.body)
	}
	res = e.do(t, "GET", fmt.Sprint("/Patient?_id=", pid), outsiderTok, "", nil)
	if b := decodeBundle(t, res); res.status != 200 || *b.Total != 0 || strings.Contains(string(res.body), "DUPONT") {
		t.Fatalf("_id for an outsider: %d %s", res.status, res.body)
	}
	if res := e.do(t, "GET", fmt.Sprint("/Patient?_id=", pid, "&name=DUPONT"), patientTok, "", nil); res.status != http.StatusBadRequest && res.status != http.StatusUnprocessableEntity {
		t.Errorf("_id with another parameter: %d %s", res.status, res.body)
	}
}
