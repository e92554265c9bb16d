package fhir_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/archive/archivetest"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/fhir"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

func newExportEnv(t *testing.T) *env {
	t.Helper()
	e := &env{Env: recordtest.New(t)}
	arch, tr := archivetest.New(t, e.Env)
	var api *fhir.API
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL + "/fhir"
	e.tokens = apitoken.NewService(e.DB.Tokens(), e.Clock)
	api = fhir.New(fhir.Deps{Records: e.Records, Tokens: e.tokens, Catalog: e.Catalog, Trail: tr, Exporter: arch,
		BaseURL: e.base, Version: "test"})
	return e
}

// TestPatientEverything: the holder takes their whole space, as a FHIR Bundle or as the
// archive; nobody else does.
func TestPatientEverything(t *testing.T) {
	e := newExportEnv(t)
	ins := recordtest.TestINS(t, 160)
	pid := e.Patient(t, ins)
	author, authorTok := e.professional(t, 160)
	res := e.do(t, "POST", "", authorTok, r4.MIMEFHIRJSON, provideBundle(t, ins, author, recordtest.PDF(3000, 160), recordtest.PDF(3100, 161)))
	if res.status != http.StatusOK {
		t.Fatalf("deposit: %d %s", res.status, res.body)
	}
	patTok := e.token(t, apitoken.Subject{Kind: audit.ActorPatient, PatientID: pid})
	path := "/Patient/" + strconv.FormatInt(pid, 10) + "/$everything"

	res = e.do(t, "GET", path, patTok, "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("$everything: %d %s", res.status, res.body)
	}
	fhirtest.Validate(t, res.body)
	var b r4.Bundle
	if err := json.Unmarshal(res.body, &b); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, en := range b.Entry {
		var r struct{ ResourceType string }
		if err := json.Unmarshal(en.Resource, &r); err != nil {
			t.Fatal(err)
		}
		kinds[r.ResourceType]++
	}
	if b.Type != "collection" || kinds["Patient"] != 1 || kinds["DocumentReference"] != 2 || kinds["AuditEvent"] == 0 {
		t.Fatalf("bundle %s holds %v", b.Type, kinds)
	}

	res = e.do(t, "GET", path, patTok, "", nil, "Accept", "application/zip")
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("archive: %d %s", res.status, res.header.Get("Content-Type"))
	}
	zr, err := zip.NewReader(bytes.NewReader(res.body), int64(len(res.body)))
	if err != nil {
		t.Fatal(err)
	}
	docs := 0
	for _, f := range zr.File {
		if len(f.Name) > 10 && f.Name[:10] == "documents/" {
			docs++
		}
	}
	if docs != 2 {
		t.Fatalf("the archive holds %d documents, want 2", docs)
	}

	// The author of the documents takes nothing: the export is the holder's.
	for _, accept := range []string{"", "application/zip"} {
		res = e.do(t, "GET", path, authorTok, "", nil, "Accept", accept)
		if res.status != http.StatusForbidden {
			t.Fatalf("a professional's $everything (%q): %d %s", accept, res.status, res.body)
		}
		res.outcome(t)
	}
	// Another patient's space is not theirs either.
	other := e.Patient(t, recordtest.TestINS(t, 161))
	res = e.do(t, "GET", "/Patient/"+strconv.FormatInt(other, 10)+"/$everything", patTok, "", nil)
	if res.status != http.StatusForbidden {
		t.Fatalf("someone else's $everything: %d %s", res.status, res.body)
	}
}
