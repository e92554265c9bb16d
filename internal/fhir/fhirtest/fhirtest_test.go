package fhirtest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const validDocRef = `{
  "resourceType": "DocumentReference",
  "status": "current",
  "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
  "subject": {"reference": "Patient/p1"},
  "date": "2025-03-12T10:15:00+01:00",
  "content": [{"attachment": {"contentType": "application/pdf", "url": "Binary/b1", "size": 10}}]
}`

func TestValidResourcesPass(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "r4", "testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no r4 testdata found (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			Validate(t, b)
		})
	}
	ValidateAll(t,
		[]byte(validDocRef),
		[]byte(`{"resourceType":"Binary","contentType":"text/plain","data":"aGVsbG8="}`),
		[]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"x"}]}`),
	)
}

// The validator must be able to say no, or every test that relies on it proves nothing.
func TestInvalidResourcesAreReported(t *testing.T) {
	tests := []struct {
		name     string
		resource string
		path     string // expected in at least one issue
	}{
		{"status outside its value set", strings.Replace(validDocRef, `"current"`, `"approved"`, 1), "DocumentReference.status"},
		{"number where a string is due", strings.Replace(validDocRef, `"status": "current",`, `"status": "current", "description": 42,`, 1), "DocumentReference.description"},
		{"object where an array is due", strings.Replace(validDocRef, `"content": [`, `"author": {"reference": "Practitioner/x"}, "content": [`, 1), "DocumentReference.author"},
		{"unknown element", strings.Replace(validDocRef, `"status"`, `"statut": "x", "status"`, 1), "DocumentReference"},
		{"date without time zone", strings.Replace(validDocRef, `+01:00"`, `"`, 1), "DocumentReference.date"},
		{"missing required content", `{"resourceType":"DocumentReference","status":"current"}`, "DocumentReference"},
		{"invariant ext-1", strings.Replace(validDocRef, `"status"`, `"extension":[{"url":"http://x","valueString":"a","extension":[{"url":"y","valueString":"b"}]}], "status"`, 1), "DocumentReference.extension"},
		{"invalid resource inside a Bundle", `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1","resource":` +
			strings.Replace(validDocRef, `"current"`, `"bogus"`, 1) + `,"request":{"method":"POST","url":"DocumentReference"}}]}`, "Bundle.entry[0].resource.status"},
		{"unknown resource type", `{"resourceType":"Dossier"}`, "resourceType"},
		{"not JSON", `{"resourceType":`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Check([]byte(tt.resource))
			if err != nil {
				t.Fatal(err)
			}
			if res.Valid {
				t.Fatalf("reported valid: %s", tt.resource)
			}
			if len(res.Errors()) == 0 {
				t.Fatalf("invalid without an error issue: %+v", res.Issues)
			}
			for _, i := range res.Issues {
				if strings.HasPrefix(i.Path, tt.path) {
					return
				}
			}
			t.Errorf("no issue at %s: %+v", tt.path, res.Issues)
		})
	}
}

func TestInstalledStamp(t *testing.T) {
	dir := t.TempDir()
	lock := []byte(`{"lockfileVersion":3}`)
	if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), lock, 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := installed(dir); err != nil || ok {
		t.Fatalf("no node_modules: installed = %v, %v", ok, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "node_modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	if err := os.WriteFile(filepath.Join(dir, stampName), []byte(hex.EncodeToString(sum[:])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := installed(dir); err != nil || !ok {
		t.Fatalf("matching stamp: installed = %v, %v", ok, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(`{"lockfileVersion":3,"x":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := installed(dir); err != nil || ok {
		t.Fatalf("stale stamp: installed = %v, %v", ok, err)
	}
}

// BenchmarkCheck prints what one validation costs once the validator runs.
func BenchmarkCheck(b *testing.B) {
	bundle, err := os.ReadFile(filepath.Join("..", "r4", "testdata", "iti65-provide-bundle.json"))
	if err != nil {
		b.Fatal(err)
	}
	for _, bm := range []struct {
		name string
		data []byte
	}{{"DocumentReference", []byte(validDocRef)}, {"ProvideBundle", bundle}} {
		b.Run(bm.name, func(b *testing.B) {
			if _, err := Check(bm.data); err != nil { // start-up outside the timing
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if res, err := Check(bm.data); err != nil || !res.Valid {
					b.Fatalf("%v %+v", err, res)
				}
			}
		})
	}
}

// Without Node.js the helper must fail the test, never skip it. The check runs in a child
// process of this test binary whose PATH holds no node.
func TestMissingNodeFails(t *testing.T) {
	if os.Getenv("FHIRTEST_CHILD") == "1" {
		Validate(t, []byte(validDocRef))
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestMissingNodeFails$", "-test.v")
	cmd.Env = append(os.Environ(), "FHIRTEST_CHILD=1", "PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the child passed without node:\n%s", out)
	}
	if !strings.Contains(string(out), "--- FAIL: TestMissingNodeFails") || !strings.Contains(string(out), "node (Node.js") {
		t.Fatalf("the child did not fail with a clear message:\n%s", out)
	}
	if strings.Contains(string(out), "SKIP") {
		t.Fatalf("the child skipped:\n%s", out)
	}
}
