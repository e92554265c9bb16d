package fhir

import (
	"net/url"
	"testing"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
)

// FuzzDirectoryQuery feeds arbitrary query strings to the directory's search parameters: they
// must never panic, must fail only with an Invalid error (a 422, never a 500), and what they
// accept must be a bounded search with at least one criterion.
func FuzzDirectoryQuery(f *testing.F) {
	for _, s := range []string{
		"name=lefevre", "identifier=urn:oid:1.2.250.1.71.4.2.1|810990000019", "identifier=10099000001",
		"practitioner=Practitioner/810990000019&_count=5&_offset=10", "organization=Organization/1750100125",
		"role=urn:oid:1.2.250.1.213.1.1.4.5|G15_10", "address-city=saint-%C3%A9tienne", "email=a.b@carnet.example",
		"identifier=http://finess.sante.gouv.fr|750100125", "identifier=73282932000074", "name=%25&_count=0",
		"name=a&name=b", "_count=99999999999999999999", "role=|", "identifier=|", "email=<>",
	} {
		for _, k := range []string{"Practitioner", "PractitionerRole", "Organization"} {
			f.Add(k, s)
		}
	}
	f.Fuzz(func(t *testing.T, kind, raw string) {
		k := dirKind(kind)
		if _, ok := dirParams[k]; !ok {
			return
		}
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		s, err := directoryQuery(k, form)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("%s?%s: %v is not Invalid", k, raw, err)
			}
			return
		}
		q := s.q
		if s.count < 1 || s.count > directoryMaxCount || q.Limit != s.count+1 || q.Offset < 0 || q.Offset > mail.MaxDirectoryOffset {
			t.Fatalf("%s?%s: unbounded page %+v", k, raw, s)
		}
		if q.Name == "" && q.Organisation == "" && q.Town == "" && q.RPPS == "" && q.StructureID == "" && q.Profession == "" && q.Address == "" {
			t.Fatalf("%s?%s: a search without criterion", k, raw)
		}
		for _, kd := range q.Kinds {
			if kd == mail.PAT {
				t.Fatalf("%s?%s: patients' mailboxes searched", k, raw)
			}
		}
	})
}
