package identity

import "testing"

func TestParseFINESS(t *testing.T) {
	valid := []struct{ in, want string }{
		{"750100125", "750100125"}, // Groupe hospitalier Pitié-Salpêtrière
		{"130783293", "130783293"}, // AP-HM
		{"690781810", "690781810"}, // Hospices civils de Lyon
		{"010780195", "010780195"}, // leading zero kept
		{"2A0000014", "2A0000014"}, // Corsica: form only
		{"2b0000020", "2B0000020"},
	}
	for _, tt := range valid {
		t.Run("valid "+tt.in, func(t *testing.T) {
			got, err := ParseFINESS(tt.in)
			if err != nil || string(got) != tt.want {
				t.Fatalf("ParseFINESS(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
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
		{"inner space", "750 100125", ReasonInnerSpace, 4, ""},
		{"eight characters", "75010012", ReasonLength, 0, ""},
		{"IdNat_Struct given instead", "1750100125", ReasonLength, 0, ""},
		{"letter", "75010012X", ReasonNonDigit, 9, ""},
		{"letter out of the department", "7501A0125", ReasonCorsica, 5, ""},
		{"2C is no department", "2C0000014", ReasonNonDigit, 2, ""},
		{"bad key", "750100126", ReasonKey, 9, "5"},
		{"swapped digits", "705100125", ReasonKey, 9, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFINESS(tt.in)
			e := mustReason(t, err, tt.reason, tt.pos)
			if tt.expected != "" && e.Expected != tt.expected {
				t.Fatalf("expected key %q, want %q", e.Expected, tt.expected)
			}
		})
	}
}

func TestParseSIRENAndSIRET(t *testing.T) {
	t.Run("SIREN", func(t *testing.T) {
		for _, in := range []string{"732829320", "356000000"} {
			if got, err := ParseSIREN(in); err != nil || string(got) != in {
				t.Fatalf("ParseSIREN(%q) = %q, %v", in, got, err)
			}
		}
		_, err := ParseSIREN("732829321")
		if e := mustReason(t, err, ReasonKey, 9); e.Expected != "0" || e.Found != "1" {
			t.Fatalf("got %+v, want key 0 instead of 1", e)
		}
		_, err = ParseSIREN("73282932")
		mustReason(t, err, ReasonLength, 0)
		_, err = ParseSIREN("2A2829320")
		mustReason(t, err, ReasonCorsica, 2)
	})
	t.Run("SIRET", func(t *testing.T) {
		valid := []string{
			"73282932000074", // Luhn
			"35600000000048", // La Poste head office: Luhn holds
			"35600000000010", // La Poste: fails Luhn, digit sum 15
			"35600000001005", // La Poste: fails Luhn, digit sum 20
		}
		for _, in := range valid {
			got, err := ParseSIRET(in)
			if err != nil || string(got) != in {
				t.Fatalf("ParseSIRET(%q) = %q, %v", in, got, err)
			}
			if got.SIREN() != SIREN(in[:9]) {
				t.Fatalf("SIREN() = %q", got.SIREN())
			}
		}
		for _, bad := range []struct {
			in     string
			reason Reason
		}{
			{"73282932000075", ReasonKey},
			{"35600000000011", ReasonKey}, // La Poste, digit sum 16, fails Luhn too
			{"35600000000019", ReasonKey},
			{"7328293200007", ReasonLength},
			{"7328293200007 4", ReasonInnerSpace},
		} {
			_, err := ParseSIRET(bad.in)
			mustReason(t, err, bad.reason, 0)
		}
	})
}

func TestParseStructureID(t *testing.T) {
	valid := []struct {
		name, in string
		want     StructureID
	}{
		{"ADELI cabinet", "010100534401", StructureID{Kind: StructADELICabinet, ID: "10100534401"}},
		{"FINESS", "1750100125", StructureID{Kind: StructFINESS, ID: "750100125"}},
		{"FINESS Corsica", "12a0000014", StructureID{Kind: StructFINESS, ID: "2A0000014"}},
		{"SIREN", "2732829320", StructureID{Kind: StructSIREN, ID: "732829320"}},
		{"SIRET", "373282932000074", StructureID{Kind: StructSIRET, ID: "73282932000074"}},
		{"RPPS-rang", "410100534436015", StructureID{Kind: StructRPPSRang, ID: "10100534436015"}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStructureID(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseStructureID(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if again, err := ParseStructureID(got.String()); err != nil || again != got {
				t.Fatalf("round trip of %q: %+v, %v", got.String(), again, err)
			}
			if sys, val := got.FHIR(); sys != "urn:oid:1.2.250.1.71.4.2.2" || val != got.String() {
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
		{"empty", "", ReasonEmpty, 0, "IdNat_Struct"},
		{"prefix only", "1", ReasonEmpty, 0, "IdNat_Struct (FINESS)"},
		{"inner space", "1 750100125", ReasonInnerSpace, 2, "IdNat_Struct"},
		{"unknown prefix", "5750100125", ReasonPrefix, 1, "IdNat_Struct"},
		{"technical number without prefix", "R10000000012345", ReasonPrefix, 1, "IdNat_Struct"},
		{"FINESS bad key", "1750100126", ReasonKey, 10, "IdNat_Struct (FINESS)"},
		{"SIREN bad key", "2732829321", ReasonKey, 10, "IdNat_Struct (SIREN)"},
		{"SIRET too long", "3732829320000740", ReasonLength, 0, "IdNat_Struct (SIRET)"},
		{"RPPS-rang bad key", "410100534436016", ReasonKey, 15, "IdNat_Struct (RPPS-rang)"},
		{"ADELI-rang letter", "01010053440X", ReasonNonDigit, 12, "IdNat_Struct (ADELI-rang)"},
		{"IdNat_PS given instead", "3750100125/9762", ReasonNonDigit, 11, "IdNat_Struct (SIRET)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStructureID(tt.in)
			e := mustReason(t, err, tt.reason, tt.pos)
			if e.Kind != tt.kind {
				t.Fatalf("kind %q, want %q", e.Kind, tt.kind)
			}
			if got != (StructureID{}) {
				t.Fatalf("got %+v with an error", got)
			}
		})
	}
}
