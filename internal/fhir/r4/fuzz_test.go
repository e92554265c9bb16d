package r4_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/fhir/r4"
)

// FuzzDecodeResource feeds arbitrary bytes to the decoder of client input. It must never panic,
// must fail only with a DecodeError, and what it accepts must re-encode to JSON that it accepts
// again and that re-encodes identically (nothing read is lost or changed by a write).
func FuzzDecodeResource(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		minimalDoc,
		withDoc(`"extension":[{"url":"http://x","valueDecimal":1.0}]`),
		withDoc(`"contained":[{"resourceType":"Practitioner","id":"p","name":[{"family":"X"}]}]`),
		`{"resourceType":"Binary","contentType":"a","data":"aGVsbG8="}`,
		`{"resourceType":"Bundle","type":"searchset","total":0}`,
		`{"resourceType":"Patient","birthDate":"2024-02-29","active":false}`,
		`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rt, v, err := r4.DecodeResource(data)
		if err != nil {
			var de *r4.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if strings.HasSuffix(de.Message, "could not be decoded") {
				t.Fatalf("the walk accepted what encoding/json refused: %v", err)
			}
			return
		}
		if v.(r4.Resource).ResourceType() != rt {
			t.Fatalf("%T for %s", v, rt)
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal what was accepted: %v", err)
		}
		rt2, v2, err := r4.DecodeResource(out)
		if err != nil {
			t.Fatalf("refused its own output: %v\n%s", err, out)
		}
		if rt2 != rt {
			t.Fatalf("resource type changed: %s → %s", rt, rt2)
		}
		out2, err := json.Marshal(v2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}
