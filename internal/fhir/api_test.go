package fhir_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/fhir"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
)

var ctx = context.Background()

// env is the API on a real HTTP server over a real store and blob store.
type env struct {
	*recordtest.Env
	srv    *httptest.Server
	base   string
	tokens *apitoken.Service
}

func newEnv(t *testing.T) *env { return newEnvB(t) }

func newEnvB(t testing.TB) *env {
	t.Helper()
	e := &env{Env: recordtest.New(t)}
	var api *fhir.API
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL + "/fhir"
	e.tokens = apitoken.NewService(e.DB.Tokens(), e.Clock)
	api = fhir.New(fhir.Deps{Records: e.Records, Tokens: e.tokens, Catalog: e.Catalog, BaseURL: e.base, Version: "test"})
	return e
}

// professional records professional n and returns a bearer token for them.
func (e *env) professional(t *testing.T, n int) (idnat, token string) { return e.professionalB(t, n) }

func (e *env) professionalB(t testing.TB, n int) (idnat, token string) {
	t.Helper()
	idnat = recordtest.RPPS(t, n)
	id, err := identity.ParseIdNatPS(idnat)
	if err != nil {
		t.Fatal(err)
	}
	p := account.Professional{IdNat: id, FamilyName: "MARTIN", GivenName: fmt.Sprint("Paul", n), Profession: "G15_10", Specialty: "SM54", CreatedAt: e.Clock.Now()}
	if err := e.DB.Update(ctx, func(tx *store.Tx) error { return tx.InsertProfessional(ctx, &p) }); err != nil {
		t.Fatal(err)
	}
	return idnat, e.token(t, apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: p.ID})
}

func (e *env) token(t testing.TB, s apitoken.Subject) string {
	t.Helper()
	secret, _, err := e.tokens.Issue(ctx, audit.Actor{Kind: audit.ActorOperator, ID: "1", Name: "ops"}, audit.ChannelCLI, s, "test", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) outcome(t *testing.T) r4.OperationOutcome {
	t.Helper()
	var o r4.OperationOutcome
	if err := json.Unmarshal(r.body, &o); err != nil || len(o.Issue) == 0 {
		t.Fatalf("not an OperationOutcome (%d): %s", r.status, r.body)
	}
	return o
}

func (e *env) do(t *testing.T, method, path, token, contentType string, body []byte, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// provideBundle is an ITI-65 transaction for ins with one document per content.
func provideBundle(t *testing.T, ins identity.INS, author string, docs ...[]byte) []byte {
	t.Helper()
	sys, val := ins.FHIR()
	subject := &r4.Reference{Identifier: &r4.Identifier{System: sys, Value: val}}
	list := r4.List{
		Meta:       &r4.Meta{Profile: []string{r4.ProfileMHDComprehensiveSubmissionSet}},
		Extension:  []r4.Extension{{URL: "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId", ValueIdentifier: &r4.Identifier{Value: "urn:oid:1.2.250.1.999.1"}}},
		Identifier: []r4.Identifier{{Use: "official", System: r4.SystemRFC3986, Value: "urn:oid:1.2.250.1.999.2.1"}},
		Status:     "current", Mode: "working", Subject: subject, Date: r4.DateTimeOf(recordtest.T0),
		Code: &r4.CodeableConcept{Coding: []r4.Coding{{System: r4.SystemMHDListTypes, Code: r4.ListTypeSubmissionSet}}},
	}
	b := r4.Bundle{Type: r4.BundleTypeTransaction, Meta: &r4.Meta{Profile: []string{r4.ProfileMHDComprehensiveProvideBundle}}}
	listEntry := r4.BundleEntry{FullURL: "urn:uuid:00000000-0000-4000-8000-000000000001", Request: &r4.BundleRequest{Method: "POST", URL: "List"}}
	var entries []r4.BundleEntry
	for i, content := range docs {
		h := sha1.Sum(content)
		size := int64(len(content))
		binURL := fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-1000000000%02d", i)
		drURL := fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-2000000000%02d", i)
		dr := r4.DocumentReference{
			MasterIdentifier: &r4.Identifier{System: r4.SystemRFC3986, Value: fmt.Sprintf("urn:oid:1.2.250.1.999.3.%d.%d", time.Now().UnixNano()%1e9, i)},
			Status:           "current",
			Type:             &r4.CodeableConcept{Coding: []r4.Coding{{System: r4.SystemLOINC, Code: "11488-4", Display: "Compte rendu de consultation"}}},
			Category:         []r4.CodeableConcept{{Coding: []r4.Coding{{System: r4.OIDClassCode, Code: "10"}}}},
			Subject:          subject,
			Author:           []r4.Reference{{Identifier: &r4.Identifier{System: r4.SystemIdNatPS, Value: author}, Display: "Dr Paul Martin"}},
			SecurityLabel:    []r4.CodeableConcept{{Coding: []r4.Coding{{System: r4.SystemConfidentiality, Code: "N"}}}},
			Content: []r4.DocumentReferenceContent{{Attachment: r4.Attachment{ContentType: "application/pdf", URL: binURL,
				Size: &size, Hash: h[:], Title: fmt.Sprintf("CR de consultation %d", i+1), Creation: r4.DateTimeOf(recordtest.T0.Add(-time.Hour))}}},
			Context: &r4.DocumentReferenceContext{Period: &r4.Period{Start: r4.DateTimeOf(recordtest.T0.Add(-2 * time.Hour))}},
		}
		list.Entry = append(list.Entry, r4.ListEntry{Item: r4.Reference{Reference: drURL}})
		de := r4.BundleEntry{FullURL: drURL, Request: &r4.BundleRequest{Method: "POST", URL: "DocumentReference"}}
		if err := de.SetResource(dr); err != nil {
			t.Fatal(err)
		}
		be := r4.BundleEntry{FullURL: binURL, Request: &r4.BundleRequest{Method: "POST", URL: "Binary"}}
		if err := be.SetResource(r4.Binary{ContentType: "application/pdf", Data: content}); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, de, be)
	}
	if err := listEntry.SetResource(list); err != nil {
		t.Fatal(err)
	}
	b.Entry = append([]r4.BundleEntry{listEntry}, entries...)
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func searchPath(ins identity.INS, extra string) string {
	sys, val := ins.FHIR()
	return "/DocumentReference?patient.identifier=" + url.QueryEscape(sys+"|"+val) + extra
}

func decodeBundle(t *testing.T, r response) r4.Bundle {
	t.Helper()
	var b r4.Bundle
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("not a Bundle (%d): %v: %s", r.status, err, r.body)
	}
	return b
}

func TestProvideFindRetrieve(t *testing.T) {
	e := newEnv(t)
	ins := recordtest.TestINS(t, 100)
	pid := e.Patient(t, ins)
	idnat, tok := e.professional(t, 100)
	pdf := recordtest.PDF(100<<10, 100)
	bundle := provideBundle(t, ins, idnat, pdf)
	fhirtest.Validate(t, bundle)

	res := e.do(t, "POST", "", tok, r4.MIMEFHIRJSON, bundle)
	if res.status != http.StatusOK {
		t.Fatalf("ITI-65: %d %s", res.status, res.body)
	}
	fhirtest.Validate(t, res.body)
	tr := decodeBundle(t, res)
	if tr.Type != r4.BundleTypeTransactionResponse || len(tr.Entry) != 3 || !strings.HasPrefix(tr.Entry[1].Response.Location, "DocumentReference/") {
		t.Fatalf("transaction-response: %s", res.body)
	}

	found := e.do(t, "GET", searchPath(ins, ""), tok, "", nil)
	if found.status != http.StatusOK {
		t.Fatalf("ITI-67: %d %s", found.status, found.body)
	}
	fhirtest.Validate(t, found.body)
	sb := decodeBundle(t, found)
	if sb.Total == nil || *sb.Total != 1 || len(sb.Entry) != 1 {
		t.Fatalf("ITI-67 found: %s", found.body)
	}
	var dr r4.DocumentReference
	if err := json.Unmarshal(sb.Entry[0].Resource, &dr); err != nil {
		t.Fatal(err)
	}
	h := sha1.Sum(pdf)
	if dr.Status != "current" || dr.Type.Coding[0].Code != "11488-4" || dr.Category[0].Coding[0].Code != "10" ||
		!bytes.Equal(dr.Content[0].Attachment.Hash, h[:]) || *dr.Content[0].Attachment.Size != int64(len(pdf)) {
		t.Errorf("DocumentReference: %s", sb.Entry[0].Resource)
	}

	read := e.do(t, "GET", "/DocumentReference/"+dr.ID, tok, "", nil)
	if read.status != http.StatusOK {
		t.Fatalf("read: %d %s", read.status, read.body)
	}
	fhirtest.Validate(t, read.body)

	bin := e.do(t, "GET", strings.TrimPrefix(dr.Content[0].Attachment.URL, e.base), tok, "", nil)
	if bin.status != http.StatusOK || !bytes.Equal(bin.body, pdf) || bin.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("ITI-68: %d, %d bytes, %s", bin.status, len(bin.body), bin.header.Get("Content-Type"))
	}
	binJSON := e.do(t, "GET", "/Binary/"+dr.ID, tok, "", nil, "Accept", r4.MIMEFHIRJSON)
	fhirtest.Validate(t, binJSON.body)

	meta := e.do(t, "GET", "/metadata", "", "", nil)
	if meta.status != http.StatusOK {
		t.Fatalf("metadata: %d", meta.status)
	}
	fhirtest.Validate(t, meta.body)

	traces := strings.Join(e.Traces(t, pid), "\n")
	for _, want := range []string{"document.deposit allowed act_of_care", "record.search allowed", "document.list allowed author", "document.read allowed author"} {
		if !strings.Contains(traces, want) {
			t.Errorf("no trace %q in\n%s", want, traces)
		}
	}
}

func TestBadBundlesStoreNothing(t *testing.T) {
	e := newEnv(t)
	ins := recordtest.TestINS(t, 110)
	e.Patient(t, ins)
	other := recordtest.TestINS(t, 111)
	e.Patient(t, other)
	idnat, tok := e.professional(t, 110)
	pdf := recordtest.PDF(4000, 110)

	edit := func(f func(b map[string]any)) []byte {
		var b map[string]any
		if err := json.Unmarshal(provideBundle(t, ins, idnat, pdf, recordtest.PDF(3000, 111)), &b); err != nil {
			t.Fatal(err)
		}
		f(b)
		out, _ := json.Marshal(b)
		return out
	}
	entry := func(b map[string]any, i int) map[string]any {
		return b["entry"].([]any)[i].(map[string]any)["resource"].(map[string]any)
	}
	cases := []struct {
		name   string
		body   []byte
		status int
		msg    string
	}{
		{"missing Binary", edit(func(b map[string]any) {
			b["entry"] = b["entry"].([]any)[:4] // drops the second document's Binary
		}), 422, "names no Binary"},
		{"hash mismatch", edit(func(b map[string]any) {
			att := entry(b, 3)["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)
			att["hash"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
		}), 422, "hash (SHA-1) stated does not match"},
		{"unknown type", edit(func(b map[string]any) {
			entry(b, 3)["type"] = map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "00000-0"}}}
		}), 422, `unknown typeCode "00000-0"`},
		{"wrong patient", edit(func(b map[string]any) {
			sys, val := other.FHIR()
			entry(b, 3)["subject"] = map[string]any{"identifier": map[string]any{"system": sys, "value": val}}
		}), 422, "not the patient of the submission"},
		{"no SubmissionSet", edit(func(b map[string]any) {
			b["entry"] = b["entry"].([]any)[1:]
		}), 422, "no List"},
		{"not a transaction", edit(func(b map[string]any) { b["type"] = "batch" }), 422, "is a transaction"},
		{"unknown element", edit(func(b map[string]any) { entry(b, 1)["colour"] = "blue" }), 400, "colour"},
		{"duplicate uniqueId", edit(func(b map[string]any) {
			entry(b, 3)["masterIdentifier"] = entry(b, 1)["masterIdentifier"]
		}), 409, "already in this record"},
		{"not JSON", []byte("{"), 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.do(t, "POST", "", tok, r4.MIMEFHIRJSON, c.body)
			o := res.outcome(t)
			if res.status != c.status || !strings.Contains(o.Issue[0].Diagnostics, c.msg) {
				t.Errorf("got %d %q, want %d containing %q", res.status, o.Issue[0].Diagnostics, c.status, c.msg)
			}
			fhirtest.Validate(t, res.body)
		})
	}
	// Oversize: more than the record accepts.
	big := provideBundle(t, ins, idnat, recordtest.PDF(21<<20, 112))
	res := e.do(t, "POST", "", tok, r4.MIMEFHIRJSON, big)
	if o := res.outcome(t); res.status/100 != 4 || !strings.Contains(o.Issue[0].Diagnostics, "larger than") {
		t.Errorf("oversize: %d %q", res.status, o.Issue[0].Diagnostics)
	}
	var n int
	if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM documents`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d documents stored (%v)", n, err)
	}
	blobs := 0
	filepath.WalkDir(e.BlobDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			blobs++
		}
		return nil
	})
	if blobs != 0 {
		t.Errorf("%d blob files left", blobs)
	}
}

func TestAccessThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	ins := recordtest.TestINS(t, 120)
	pid := e.Patient(t, ins)
	authorID, authorTok := e.professional(t, 120)
	outsiderID, outsiderTok := e.professional(t, 121)
	patientTok := e.token(t, apitoken.Subject{Kind: audit.ActorPatient, PatientID: pid})

	if res := e.do(t, "POST", "", authorTok, r4.MIMEFHIRJSON, provideBundle(t, ins, authorID, recordtest.PDF(2000, 120))); res.status != 200 {
		t.Fatalf("deposit: %d %s", res.status, res.body)
	}
	res := e.do(t, "GET", searchPath(ins, ""), outsiderTok, "", nil)
	if res.status != http.StatusForbidden || res.outcome(t).Issue[0].Code != r4.IssueForbidden {
		t.Fatalf("outsider: %d %s", res.status, res.body)
	}
	fhirtest.Validate(t, res.body)

	holder := recordtest.Holder(pid)
	if _, err := e.Access.GrantAuthorisation(ctx, holder.Actor, holder.Channel, pid, outsiderID, 0); err != nil {
		t.Fatal(err)
	}
	res = e.do(t, "GET", searchPath(ins, ""), outsiderTok, "", nil)
	if res.status != http.StatusOK || len(decodeBundle(t, res).Entry) != 1 {
		t.Fatalf("authorised: %d %s", res.status, res.body)
	}
	id := decodeBundle(t, res).Entry[0].FullURL[len(e.base+"/DocumentReference/"):]

	// The patient masks it (through their own token): the outsider no longer sees it.
	patch := []byte(`[{"op":"add","path":"/securityLabel/-","value":{"coding":[{"system":"` + r4.SystemVisibility + `","code":"MASQUE_PS"}]}}]`)
	res = e.do(t, "PATCH", "/DocumentReference/"+id, patientTok, "application/json-patch+json", patch)
	if res.status != http.StatusOK {
		t.Fatalf("mask: %d %s", res.status, res.body)
	}
	fhirtest.Validate(t, res.body)
	if v := res.header.Get("ETag"); v != `W/"2"` {
		t.Errorf("masking is a new version: ETag %s", v)
	}
	if res := e.do(t, "GET", searchPath(ins, ""), outsiderTok, "", nil); len(decodeBundle(t, res).Entry) != 0 {
		t.Errorf("masked document shown to the outsider")
	}
	if res := e.do(t, "GET", "/Binary/"+id, outsiderTok, "", nil); res.status/100 != 4 {
		t.Errorf("masked document read by the outsider: %d", res.status)
	}
	res = e.do(t, "PATCH", "/DocumentReference/"+id, outsiderTok, "application/json-patch+json",
		[]byte(`[{"op":"remove","path":"/securityLabel/1"}]`))
	if res.status/100 != 4 {
		t.Errorf("outsider unmasks: %d %s", res.status, res.body)
	}
	if res := e.do(t, "PATCH", "/DocumentReference/"+id, patientTok, "application/json-patch+json",
		[]byte(`[{"op":"remove","path":"/securityLabel/1"}]`)); res.status != 200 {
		t.Fatalf("unmask: %d %s", res.status, res.body)
	}

	// The author archives it (PDSm isArchived extension): out of the default listing, found
	// with _archived=true.
	archive := []byte(`[{"op":"add","path":"/extension/-","value":{"url":"` + r4.ExtPDSmIsArchived + `","valueBoolean":true}}]`)
	if res := e.do(t, "PATCH", "/DocumentReference/"+id, authorTok, "application/json-patch+json", archive); res.status != 200 ||
		!strings.Contains(string(res.body), "pdsm-ext-is-archived") {
		t.Fatalf("archive: %d %s", res.status, res.body)
	}
	if res := e.do(t, "GET", searchPath(ins, ""), authorTok, "", nil); len(decodeBundle(t, res).Entry) != 0 {
		t.Errorf("an archived document in the default listing")
	}
	res = e.do(t, "GET", searchPath(ins, "&_archived=true"), authorTok, "", nil)
	if len(decodeBundle(t, res).Entry) != 1 {
		t.Errorf("the archived document not found with _archived=true: %s", res.body)
	}
	fhirtest.Validate(t, res.body)

	if err := e.Access.Block(ctx, holder.Actor, holder.Channel, pid, outsiderID); err != nil {
		t.Fatal(err)
	}
	res = e.do(t, "GET", searchPath(ins, ""), outsiderTok, "", nil)
	if res.status != http.StatusForbidden {
		t.Fatalf("blocked: %d %s", res.status, res.body)
	}
	if res := e.do(t, "GET", "/DocumentReference/"+id, outsiderTok, "", nil); res.status/100 != 4 {
		t.Errorf("blocked professional read the metadata: %d", res.status)
	}
	traces := strings.Join(e.Traces(t, pid), "\n")
	for _, want := range []string{"record.search denied no_authorisation", "record.search allowed authorisation", "document.mask allowed self", "record.search denied blocked"} {
		if !strings.Contains(traces, want) {
			t.Errorf("no trace %q in\n%s", want, traces)
		}
	}
}

func TestPublishPatientLookupAndAuth(t *testing.T) {
	e := newEnv(t)
	ins := recordtest.TestINS(t, 130)
	pid := e.Patient(t, ins)
	idnat, tok := e.professional(t, 130)
	sys, val := ins.FHIR()
	pdf := recordtest.PDF(5000, 130)
	dr := r4.DocumentReference{
		Status:  "current",
		Type:    &r4.CodeableConcept{Coding: []r4.Coding{{System: r4.SystemLOINC, Code: "11502-2"}}},
		Subject: &r4.Reference{Identifier: &r4.Identifier{System: sys, Value: val}},
		Author:  []r4.Reference{{Identifier: &r4.Identifier{System: r4.SystemIdNatPS, Value: idnat}}},
		Content: []r4.DocumentReferenceContent{{Attachment: r4.Attachment{ContentType: "application/pdf", Data: pdf, Title: "CR de biologie"}}},
		Context: &r4.DocumentReferenceContext{Period: &r4.Period{Start: r4.DateTimeOf(recordtest.T0.Add(-time.Hour))}},
	}
	body, _ := json.Marshal(dr)
	fhirtest.Validate(t, body)
	res := e.do(t, "POST", "/DocumentReference", tok, r4.MIMEFHIRJSON, body)
	if res.status != http.StatusCreated || !strings.Contains(res.header.Get("Location"), "/DocumentReference/") {
		t.Fatalf("ITI-105: %d %s", res.status, res.body)
	}
	fhirtest.Validate(t, res.body)

	res = e.do(t, "GET", "/Patient?identifier="+url.QueryEscape(sys+"|"+val), tok, "", nil)
	fhirtest.Validate(t, res.body)
	b := decodeBundle(t, res)
	if res.status != 200 || b.Total == nil || *b.Total != 1 || !strings.Contains(string(b.Entry[0].Resource), `"valueCode":"open"`) {
		t.Errorf("patient lookup: %d %s", res.status, res.body)
	}
	if strings.Contains(string(res.body), "DUPONT") {
		t.Errorf("the lookup reveals the patient's name")
	}
	unknown := recordtest.TestINS(t, 131)
	us, uv := unknown.FHIR()
	res = e.do(t, "GET", "/Patient?identifier="+url.QueryEscape(us+"|"+uv), tok, "", nil)
	if b := decodeBundle(t, res); res.status != 200 || *b.Total != 0 {
		t.Errorf("unknown patient: %d %s", res.status, res.body)
	}
	if !strings.Contains(strings.Join(e.Traces(t, pid), "\n"), "space.lookup allowed existence_test") {
		t.Errorf("lookup not traced")
	}

	for _, bad := range []string{"", "carnet_nope", tok + "x"} {
		res := e.do(t, "GET", searchPath(ins, ""), bad, "", nil)
		if res.status != http.StatusUnauthorized || res.header.Get("WWW-Authenticate") == "" || res.outcome(t).Issue[0].Code != r4.IssueLogin {
			t.Errorf("token %q: %d %s", bad, res.status, res.body)
		}
	}
	res = e.do(t, "GET", searchPath(ins, "&colour=blue"), tok, "", nil)
	if res.status != 400 && res.status != 422 {
		t.Errorf("unknown parameter: %d", res.status)
	}
}
