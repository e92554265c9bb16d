package fhir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
)

// FuzzProfileDecode feeds arbitrary bytes to the readers of the profile's resources and of
// PCH-01 bundles, which take clients' input: they must never panic, must fail only with a
// decoding error or an Invalid one (a 400 or a 422, never a 500), and what they accept must be
// an item of their resource's sections.
func FuzzProfileDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("r4", "testdata", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"882-1"}]},"subject":{"reference":"Patient/1"},"valueCodeableConcept":{"text":"AB Rh-"}}`))
	f.Add([]byte(`{"resourceType":"RelatedPerson","patient":{"reference":"Patient/1"},"relationship":[{"coding":[{"system":"https://carnet-sante.org/fhir/CodeSystem/profile-contact-role","code":"trusted-person"}]}],"name":[{"given":["Paul"]}]}`))
	refused := func(t *testing.T, what string, err error) {
		var de *r4.DecodeError
		if !errors.As(err, &de) && !errs.Is(err, errs.Invalid) {
			t.Fatalf("%s: error of code %s: %v", what, errs.CodeOf(err), err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, k := range profileKinds {
			it, _, err := k.decode(data)
			if err != nil {
				refused(t, k.name, err)
				continue
			}
			if !slices.Contains(k.sections, it.Section) {
				t.Fatalf("%s read an item of %q", k.name, it.Section)
			}
		}
		isPCH(data)
		var b r4.Bundle
		if r4.Decode(data, &b) != nil {
			return
		}
		p, err := readPCH(&b)
		if err != nil {
			refused(t, "PCH-01", err)
			return
		}
		if len(p.items) == 0 || p.device.Identifier == "" || p.subject == nil || len(p.item) != len(b.Entry) {
			t.Fatalf("a PCH-01 bundle accepted without its parts: %+v", p)
		}
	})
}
