package identity

import (
	"errors"
	"math/big"
	"strings"
	"testing"
)

// The oracles below recompute the check keys another way than the code under test, so
// that a fuzzer finding an "accepted" number with a wrong key is a real finding.

// oracleINSKey computes 97 − (n mod 97) with big integers, Corsica handled by subtracting
// 10^6 × 1 (2A → 19) or 2 (2B → 18) from the number read with 20 in their place.
func oracleINSKey(n13 string) int64 {
	digits := n13
	var minus int64
	switch n13[5:7] {
	case "2A":
		digits, minus = n13[:5]+"20"+n13[7:], 1_000_000
	case "2B":
		digits, minus = n13[:5]+"20"+n13[7:], 2_000_000
	}
	v, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return -1
	}
	v.Sub(v, big.NewInt(minus))
	return 97 - new(big.Int).Mod(v, big.NewInt(97)).Int64()
}

// oracleLuhn checks a Luhn number with the doubling table, left to right.
func oracleLuhn(s string) bool {
	doubled := [10]int{0, 2, 4, 6, 8, 1, 3, 5, 7, 9}
	sum := 0
	parity := len(s) % 2
	for i, r := range s {
		if r < '0' || r > '9' {
			return false
		}
		d := int(r - '0')
		if i%2 == parity {
			d = doubled[d]
		}
		sum += d
	}
	return sum%10 == 0
}

func mustBeIdentityError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Reason == "" || e.Kind == "" || e.Error() == "" {
		t.Fatalf("error %v (%T) is not a complete *identity.Error", err, err)
	}
}

func checkINS(t *testing.T, ins INS) {
	t.Helper()
	m := ins.Matricule
	if len(m) != 15 {
		t.Fatalf("accepted matricule %q of length %d", m, len(m))
	}
	key := oracleINSKey(m[:13])
	if key < 1 || key > 97 || m[13:] != string([]byte{byte('0' + key/10), byte('0' + key%10)}) {
		t.Fatalf("accepted %q whose key should be %02d", m, key)
	}
	if ins.System != "" && !ins.System.IsINS() {
		t.Fatalf("accepted system %q", ins.System)
	}
	again, err := ParseINS(ins.String())
	if err != nil || again != ins {
		t.Fatalf("ParseINS(%q) = %+v, %v; want %+v", ins.String(), again, err, ins)
	}
	if ins.System != "" {
		back, err := FromFHIR(ins.FHIR())
		if err != nil || back != ins {
			t.Fatalf("FromFHIR(FHIR()) = %+v, %v; want %+v", back, err, ins)
		}
	}
}

func FuzzParseINS(f *testing.F) {
	for _, s := range []string{
		officialTestINS, "184122A12345697", "184122B12345627", "2 79 03 51 215 189 89",
		"279035121518988", "urn:oid:1.2.250.1.213.1.4.8|" + officialTestINS, "", "2A", "é",
		"860127512000153", "185509999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Random bytes rarely carry a right key; completing the first 13 characters with
		// the key INSKey gives reaches the accepting path on every structurally valid input.
		if body := strings.TrimSpace(s); len(body) >= 13 {
			if k, err := INSKey(body[:13]); err == nil {
				ins, err := ParseINS(body[:13] + k)
				if err != nil {
					t.Fatalf("INSKey(%q) = %s but the matricule is refused: %v", body[:13], k, err)
				}
				checkINS(t, ins)
			}
		}
		ins, err := ParseINS(s)
		if err != nil {
			mustBeIdentityError(t, err)
			return
		}
		checkINS(t, ins)
		if !strings.Contains(s, "|") {
			if k, err := INSKey(ins.Matricule[:13]); err != nil || k != ins.Matricule[13:] {
				t.Fatalf("INSKey disagrees with ParseINS on %q: %q, %v", ins.Matricule, k, err)
			}
		}
	})
}

func FuzzParseFHIRIdentifier(f *testing.F) {
	for _, s := range []string{
		"urn:oid:1.2.250.1.213.1.4.8|" + officialTestINS,
		"urn:oid:1.2.250.1.213.1.4.10|" + officialTestINS,
		"urn:oid:1.2.250.1.213.1.4.9|184122A12345697",
		"urn:oid:1.2.250.1.213.1.4.11| 184122B12345627 ",
		"|" + officialTestINS, "urn:oid:|", "urn:oid:1.2.250.1.213.1.4.8||", officialTestINS,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ins, err := ParseFHIRIdentifier(s)
		if err != nil {
			mustBeIdentityError(t, err)
			return
		}
		if ins.System == "" {
			t.Fatalf("FHIR identifier %q accepted without a system", s)
		}
		checkINS(t, ins)
		if ins.IsTest() != (ins.System == OIDTestNIR || ins.System == OIDDemoNIR) {
			t.Fatalf("IsTest() wrong for %s", ins.System)
		}
	})
}

func FuzzParseIdNatPS(f *testing.F) {
	for _, s := range []string{
		"810100534436", "0101005344", "02A0012345", "110100534401/x", "3750100125/9762",
		"4732829320/1", "573282932000074/a.b", "535600000000010/z", "610100534436015/A1",
		"8", "3/", "3750100125/", "9", "810100534436/1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseIdNatPS(s)
		if err != nil {
			mustBeIdentityError(t, err)
			return
		}
		again, err := ParseIdNatPS(p.String())
		if err != nil || again != p {
			t.Fatalf("ParseIdNatPS(%q) = %+v, %v; want %+v", p.String(), again, err, p)
		}
		if p.Kind.Local() != (p.Local != "") {
			t.Fatalf("kind %s with local part %q", p.Kind, p.Local)
		}
		id := p.ID
		switch p.Kind {
		case PSRPPS:
			if len(id) != 11 || !oracleLuhn(id) {
				t.Fatalf("accepted RPPS %q", id)
			}
		case PSADELI:
			if len(id) != 9 {
				t.Fatalf("accepted ADELI %q", id)
			}
		case PSADELICabinet:
			if len(id) != 11 {
				t.Fatalf("accepted ADELI-rang %q", id)
			}
		case PSFINESS:
			checkFINESS(t, id)
		case PSSIREN:
			if len(id) != 9 || !(oracleLuhn(id) || id == "356000000") {
				t.Fatalf("accepted SIREN %q", id)
			}
		case PSSIRET:
			if len(id) != 14 || !(oracleLuhn(id) || id[:9] == "356000000" && digitSum(id)%5 == 0) {
				t.Fatalf("accepted SIRET %q", id)
			}
		case PSRPPSCabinet:
			if len(id) != 14 || !oracleLuhn(id) {
				t.Fatalf("accepted RPPS-rang %q", id)
			}
		default:
			t.Fatalf("accepted kind %q", p.Kind)
		}
	})
}

func checkFINESS(t *testing.T, n string) {
	t.Helper()
	if len(n) != 9 {
		t.Fatalf("accepted FINESS %q of length %d", n, len(n))
	}
	if strings.HasPrefix(n, "2A") || strings.HasPrefix(n, "2B") {
		// No key rule is known for Corsica: only the form is checked.
		if strings.Trim(n[2:], "0123456789") != "" {
			t.Fatalf("accepted Corsican FINESS %q with a non-digit", n)
		}
		return
	}
	if !oracleLuhn(n) {
		t.Fatalf("accepted FINESS %q whose Luhn key is wrong", n)
	}
}

func FuzzParseFINESS(f *testing.F) {
	for _, s := range []string{"750100125", "130783293", "2A0000014", "2b0000020", "750100126", "75010012", "", "2A", "7501 00125"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// As for the INS: complete 8 digits with their key to reach the accepting path.
		if body := strings.TrimSpace(s); len(body) >= 8 && strings.Trim(body[:8], "0123456789") == "" {
			full := body[:8] + string(luhnDigit(body[:8]))
			if n, err := ParseFINESS(full); err != nil || string(n) != full {
				t.Fatalf("ParseFINESS(%q) = %q, %v", full, n, err)
			}
		}
		n, err := ParseFINESS(s)
		if err != nil {
			mustBeIdentityError(t, err)
			return
		}
		checkFINESS(t, string(n))
		if again, err := ParseFINESS(string(n)); err != nil || again != n {
			t.Fatalf("ParseFINESS(%q) = %q, %v", n, again, err)
		}
		// The structure identifier built on it must parse back to the same number.
		sid, err := ParseStructureID("1" + string(n))
		if err != nil || sid.ID != string(n) || sid.Kind != StructFINESS {
			t.Fatalf("ParseStructureID(1%s) = %+v, %v", n, sid, err)
		}
	})
}
