package fhir

import (
	"strconv"
	"testing"
)

// A Patient's id is read one way only: what parses writes back the same, positive.
func FuzzParsePatientID(f *testing.F) {
	for _, s := range []string{"1", "42", "0", "007", "-3", "+3", "9223372036854775807", "9223372036854775808", "1e3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := parsePatientID(s)
		if ok && (id <= 0 || strconv.FormatInt(id, 10) != s) {
			t.Fatalf("%q read as %d", s, id)
		}
	})
}
