package identity

import (
	"strings"
	"testing"
)

func TestParseRPPS(t *testing.T) {
	for _, in := range []string{"10100534436", "10100710366", "10100842904", " 10100534436 "} {
		t.Run("valid "+in, func(t *testing.T) {
			got, err := ParseRPPS(in)
			if err != nil || string(got) != strings.TrimSpace(in) {
				t.Fatalf("ParseRPPS(%q) = %q, %v", in, got, err)
			}
		})
	}
	tests := []struct {
		name, in string
		reason   Reason
		pos      int
		expected string
	}{
		{"empty", "", ReasonEmpty, 0, ""},
		{"inner space", "101 00534436", ReasonInnerSpace, 4, ""},
		{"ten digits", "1010053443", ReasonLength, 0, ""},
		{"IdNat_PS given instead", "810100534436", ReasonLength, 0, ""},
		{"letter", "1010053443X", ReasonNonDigit, 11, ""},
		{"Corsican letters have no place", "2A100534436", ReasonCorsica, 2, ""},
		{"made-up number", "10001234567", ReasonKey, 11, "5"},
		{"one digit off", "10100534437", ReasonKey, 11, "6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRPPS(tt.in)
			e := mustReason(t, err, tt.reason, tt.pos)
			if tt.expected != "" && e.Expected != tt.expected {
				t.Fatalf("expected key %q, want %q", e.Expected, tt.expected)
			}
		})
	}
}

func TestParseADELI(t *testing.T) {
	valid := []struct{ in, want string }{
		{"101005344", "101005344"},
		{"441253000", "441253000"},
		{"2A0012345", "2A0012345"},
		{"2b0012345", "2B0012345"},
	}
	for _, tt := range valid {
		t.Run("valid "+tt.in, func(t *testing.T) {
			got, err := ParseADELI(tt.in)
			if err != nil || string(got) != tt.want {
				t.Fatalf("ParseADELI(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	tests := []struct {
		name, in string
		reason   Reason
		pos      int
	}{
		{"empty", " ", ReasonEmpty, 0},
		{"eight digits", "10100534", ReasonLength, 0},
		{"ten digits", "1010053440", ReasonLength, 0},
		{"letter", "1010053X4", ReasonNonDigit, 8},
		{"letter first", "A10053444", ReasonCorsica, 1},
		{"letter after the department", "101A05344", ReasonCorsica, 4},
		{"3A is no department", "3A0012345", ReasonCorsica, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseADELI(tt.in)
			mustReason(t, err, tt.reason, tt.pos)
		})
	}
}

func TestParseIdNatPS(t *testing.T) {
	valid := []struct {
		name, in string
		want     IdNatPS
	}{
		{"RPPS", "810100534436", IdNatPS{Kind: PSRPPS, ID: "10100534436"}},
		{"ADELI", "0101005344", IdNatPS{Kind: PSADELI, ID: "101005344"}},
		{"ADELI Corsica", "02a0012345", IdNatPS{Kind: PSADELI, ID: "2A0012345"}},
		{"ADELI cabinet", "110100534401/sec-2", IdNatPS{Kind: PSADELICabinet, ID: "10100534401", Local: "sec-2"}},
		{"FINESS staff", "3750100125/9762", IdNatPS{Kind: PSFINESS, ID: "750100125", Local: "9762"}},
		{"SIREN staff", "4732829320/ab.c_1", IdNatPS{Kind: PSSIREN, ID: "732829320", Local: "ab.c_1"}},
		{"SIRET staff", "573282932000074/42", IdNatPS{Kind: PSSIRET, ID: "73282932000074", Local: "42"}},
		{"RPPS cabinet", "610100534436015/A1", IdNatPS{Kind: PSRPPSCabinet, ID: "10100534436015", Local: "A1"}},
		{"surrounding space", "  810100534436\n", IdNatPS{Kind: PSRPPS, ID: "10100534436"}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIdNatPS(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseIdNatPS(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if got.Kind.Local() != (got.Local != "") {
				t.Fatalf("Kind.Local() = %v but Local = %q", got.Kind.Local(), got.Local)
			}
			again, err := ParseIdNatPS(got.String())
			if err != nil || again != got {
				t.Fatalf("round trip of %q: %+v, %v", got.String(), again, err)
			}
			if sys, val := got.FHIR(); sys != "urn:oid:1.2.250.1.71.4.2.1" || val != got.String() {
				t.Fatalf("FHIR() = %q, %q", sys, val)
			}
		})
	}

	tests := []struct {
		name, in string
		reason   Reason
		pos      int
		kind     string
	}{
		{"empty", "", ReasonEmpty, 0, "IdNat_PS"},
		{"prefix only", "8", ReasonEmpty, 0, "IdNat_PS (RPPS)"},
		{"inner space", "8 10100534436", ReasonInnerSpace, 2, "IdNat_PS"},
		{"space in the internal id", "3750100125/97 62", ReasonInnerSpace, 14, "IdNat_PS"},
		{"unknown prefix 2", "2101005344", ReasonPrefix, 1, "IdNat_PS"},
		{"unknown prefix 9", "910100534436", ReasonPrefix, 1, "IdNat_PS"},
		{"letter prefix", "R10100534436", ReasonPrefix, 1, "IdNat_PS"},
		{"RPPS bad key", "810100534437", ReasonKey, 12, "IdNat_PS (RPPS)"},
		{"RPPS too short", "81010053443", ReasonLength, 0, "IdNat_PS (RPPS)"},
		{"RPPS with a local part", "810100534436/1", ReasonLength, 0, "IdNat_PS (RPPS)"},
		{"ADELI with letter", "01010053X4", ReasonNonDigit, 9, "IdNat_PS (ADELI)"},
		{"FINESS without internal id", "3750100125", ReasonLocalID, 0, "IdNat_PS"},
		{"FINESS with empty internal id", "3750100125/", ReasonLocalID, 0, "IdNat_PS"},
		{"FINESS bad key", "3750100126/9762", ReasonKey, 10, "IdNat_PS (FINESS)"},
		{"SIREN bad key", "4732829321/1", ReasonKey, 10, "IdNat_PS (SIREN)"},
		{"SIRET bad key", "573282932000075/1", ReasonKey, 15, "IdNat_PS (SIRET)"},
		{"RPPS-rang bad key", "610100534436016/1", ReasonKey, 15, "IdNat_PS (RPPS-rang)"},
		{"RPPS-rang too short", "610100534436/1", ReasonLength, 0, "IdNat_PS (RPPS-rang)"},
		{"ADELI-rang too short", "1101005344/1", ReasonLength, 0, "IdNat_PS (ADELI-rang)"},
		{"HL7 separator in internal id", "3750100125/a^b", ReasonLocalID, 13, "IdNat_PS"},
		{"long internal id", "3750100125/" + strings.Repeat("x", 51), ReasonLocalID, 0, "IdNat_PS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIdNatPS(tt.in)
			e := mustReason(t, err, tt.reason, tt.pos)
			if e.Kind != tt.kind {
				t.Fatalf("kind %q, want %q", e.Kind, tt.kind)
			}
			if got != (IdNatPS{}) {
				t.Fatalf("got %+v with an error", got)
			}
		})
	}
}
