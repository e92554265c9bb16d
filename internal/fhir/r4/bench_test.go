package r4_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/fhir/r4"
)

// BenchmarkDecodeProvideBundle prints what strict decoding costs for an ITI-65 bundle, as
// written in testdata and with a 5 MB document.
func BenchmarkDecodeProvideBundle(b *testing.B) {
	small := mustRead(b, "iti65-provide-bundle.json")
	doc := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("compte rendu "), 5<<20/13/3*3)) // no padding
	var large bytes.Buffer
	if err := json.Compact(&large, small); err != nil {
		b.Fatal(err)
	}
	big := strings.Replace(large.String(), `"data":"Q29tcHRl`, `"data":"`+doc+`Q29tcHRl`, 1)
	for _, bm := range []struct {
		name string
		data []byte
	}{{"testdata", small}, {"5MB-document", []byte(big)}} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(bm.data)))
			for i := 0; i < b.N; i++ {
				if _, _, err := r4.DecodeResource(bm.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
