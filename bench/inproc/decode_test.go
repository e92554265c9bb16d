package inproc_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/bench/mhdclient"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
)

// What reading an ITI-65 Bundle of one -size document costs, as the API reads it (the strict
// decode of the Bundle, then of each entry), against a floor: one plain encoding/json pass into
// the same types, which checks nothing FHIR-specific. The gap is what a one-pass strict decoder
// could save per deposit.
func BenchmarkDecodeProvideBundle(b *testing.B) {
	raw := provideBundle(b)
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var bundle r4.Bundle
			if err := r4.Decode(raw, &bundle); err != nil {
				b.Fatal(err)
			}
			for i := range bundle.Entry {
				if _, _, err := bundle.Entry[i].DecodeChecked(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("plain-json", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var bundle struct {
				Entry []struct {
					Resource struct {
						ResourceType string `json:"resourceType"`
						Data         []byte `json:"data"`
					} `json:"resource"`
				} `json:"entry"`
			}
			if err := json.Unmarshal(raw, &bundle); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func provideBundle(b *testing.B) []byte {
	b.Helper()
	ins, err := identity.NewINS("279035121518989", identity.OIDTestNIR)
	if err != nil {
		b.Fatal(err)
	}
	doc := mhdclient.NewDocument(ins, "810100534436", "CR", mhdclient.PDF(*size, 1), time.Now())
	raw, err := mhdclient.ProvideBundle(doc)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}
