package xdm

import (
	"bytes"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/record"
)

func TestParseDTM(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	valid := []struct {
		in   string
		want time.Time
	}{
		{"2024", utc(2024, 1, 1, 0, 0, 0)},
		{"202403", utc(2024, 3, 1, 0, 0, 0)},
		{"20240314", utc(2024, 3, 14, 0, 0, 0)},
		{"2024031409", utc(2024, 3, 14, 9, 0, 0)},
		{"202403140930", utc(2024, 3, 14, 9, 30, 0)},
		{"20240314093015", utc(2024, 3, 14, 9, 30, 15)},
		{"20240314093015.123", utc(2024, 3, 14, 9, 30, 15)}, // fractions dropped
		{"20210401134745+0100", utc(2021, 4, 1, 12, 47, 45)},
		{"20240229", utc(2024, 2, 29, 0, 0, 0)},
		{"20240101003000-0230", utc(2024, 1, 1, 3, 0, 0)},
	}
	for _, c := range valid {
		got, err := parseDTM(c.in)
		if err != nil || !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("parseDTM(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "24", "20240", "20241314", "20230229", "20240314246000", "2024031409301", "20240314093015.",
		"2024-03-14", "20240314Z", "20240314+01", "20240314+2500", "00000101000000+0100", "99991231235959-0100", "２０２４"} {
		if got, err := parseDTM(in); err == nil {
			t.Errorf("parseDTM(%q) = %v, want an error", in, got)
		}
	}
	if s := formatDTM(utc(2024, 3, 14, 9, 30, 15)); s != "20240314093015" {
		t.Errorf("formatDTM: %s", s)
	}
}

// What Write writes in HL7 v2 form, Read reads back, separators in values included.
func TestHL7RoundTrip(t *testing.T) {
	tricky := `A^B&C|D~E\F`
	p := Person{ID: "8" + tricky, Family: "D'ARTAGNAN " + tricky, Given: "Jean-" + tricky, Authority: "1.2.250.1.71.4.2.1", IDType: "IDNPS"}
	if got := parsePerson(p.hl7()); got != p {
		t.Errorf("person: %q read as %+v", p.hl7(), got)
	}
	in := Institution{Name: "Hôpital " + tricky, ID: "1" + tricky, Authority: "1.2.250.1.71.4.2.2", IDType: "IDNST"}
	if got := parseInstitution(in.hl7()); got != in {
		t.Errorf("institution: %q read as %+v", in.hl7(), got)
	}
	r := Recipient{Institution: in, Person: p, Telecom: "^NET^Internet^a@b.fr"}
	if got := parseRecipient(r.hl7()); got != r {
		t.Errorf("recipient: %q read as %+v", r.hl7(), got)
	}
	for _, r := range []Recipient{{Telecom: "^NET^Internet^a@b.fr"}, {Person: p}, {Institution: in}} {
		if got := parseRecipient(r.hl7()); got != r {
			t.Errorf("recipient: %q read as %+v", r.hl7(), got)
		}
	}
	for _, c := range []record.Code{{Code: "G15_10/SM26", Display: tricky, System: "1.2.250.1.213.1.1.4.5"}, {Code: "x"}, {System: "1.2"}, {Display: "d"}} {
		if got := parseCode(codeHL7(c)); got != c {
			t.Errorf("code: %q read as %+v", codeHL7(c), got)
		}
	}
	// The forms other senders write.
	if c := parseCode("ODRP^^^&2.16.840.1.113883.5.88&ISO"); c != (record.Code{Code: "ODRP", System: "2.16.840.1.113883.5.88"}) {
		t.Errorf("CX-style code: %+v", c)
	}
	if in := parseInstitution("Clinique^^750000001"); in.ID != "750000001" {
		t.Errorf("XON.3: %+v", in)
	}
	if p := parsePerson("10002422979^MARTIN&&van^Paul^^^^^^1.2.250.1.71.4.2.1^L^^^RPPS"); p.Family != "MARTIN" || p.Authority != "1.2.250.1.71.4.2.1" || p.IDType != "RPPS" {
		t.Errorf("XCN variants: %+v", p)
	}
	if e := (Recipient{Telecom: "dr@hop.mssante.fr"}).Email(); e != "dr@hop.mssante.fr" {
		t.Errorf("bare e-mail: %q", e)
	}
}

// Signatures straddling the chunks of countSignatures are counted once.
func TestCountSignatures(t *testing.T) {
	const chunk = 64 << 10
	for _, at := range []int{0, 1, chunk - 4, chunk - 3, chunk - 2, chunk - 1, chunk, 2*chunk - 2} {
		b := make([]byte, 3*chunk)
		copy(b[at:], centralSig)
		copy(b[len(b)-4:], centralSig)
		n, err := countSignatures(bytes.NewReader(b), int64(len(b)), 10)
		if err != nil || n != 2 {
			t.Errorf("signature at %d: counted %d, %v; want 2", at, n, err)
		}
	}
}
