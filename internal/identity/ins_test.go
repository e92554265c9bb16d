package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/errs"
)

// officialTestINS is the test identity of the ANS examples (OID test NIR).
const officialTestINS = "279035121518989"

// mustReason fails unless err is an *Error of the given reason, coded errs.Invalid, and,
// when pos > 0, pointing at pos.
func mustReason(tb testing.TB, err error, reason Reason, pos int) *Error {
	tb.Helper()
	if err == nil {
		tb.Fatalf("no error, want reason %q", reason)
	}
	var e *Error
	if !errors.As(err, &e) {
		tb.Fatalf("error %v (%T) is not an *identity.Error", err, err)
	}
	if e.Reason != reason {
		tb.Fatalf("reason %q (%v), want %q", e.Reason, err, reason)
	}
	if pos > 0 && e.Pos != pos {
		tb.Fatalf("position %d (%v), want %d", e.Pos, err, pos)
	}
	if !errs.Is(err, errs.Invalid) {
		tb.Fatalf("code %q, want %q", errs.CodeOf(err), errs.Invalid)
	}
	if errs.MessageOf(err) != err.Error() {
		tb.Fatalf("safe message %q differs from error %q", errs.MessageOf(err), err.Error())
	}
	return e
}

func TestParseINSValid(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"official test identity", officialTestINS, officialTestINS},
		{"surrounding space trimmed", " \t" + officialTestINS + "\n", officialTestINS},
		{"Corsica 2A counts as 19", "184122A12345697", "184122A12345697"},
		{"Corsica 2B counts as 18", "184122B12345627", "184122B12345627"},
		{"Corsica lower case is canonicalised", "184122a12345697", "184122A12345697"},
		{"pseudo-month 20", "185209912304576", "185209912304576"},
		{"pseudo-month 35", "285359912304572", "285359912304572"},
		{"pseudo-month 50", "185507505600157", "185507505600157"},
		{"pseudo-month 42", "299421305501213", "299421305501213"},
		{"temporary number, 7", "760127512000106", "760127512000106"},
		{"temporary number, 8", "860127512000153", "860127512000153"},
		{"older series, 3", "360127512000112", "360127512000112"},
		{"older series, 4", "460127512000159", "460127512000159"},
		{"overseas department", "160129710500165", "160129710500165"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ins, err := ParseINS(tt.in)
			if err != nil {
				t.Fatalf("ParseINS(%q): %v", tt.in, err)
			}
			if ins.Matricule != tt.want || ins.System != "" {
				t.Fatalf("ParseINS(%q) = %+v, want matricule %s and no system", tt.in, ins, tt.want)
			}
			if got := ins.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseINSInvalid(t *testing.T) {
	tests := []struct {
		name, in string
		reason   Reason
		pos      int
		check    func(t *testing.T, e *Error)
	}{
		{name: "empty", in: "", reason: ReasonEmpty},
		{name: "only spaces", in: "  \t ", reason: ReasonEmpty},
		{name: "written with spaces", in: "2 79 03 51 215 189 89", reason: ReasonInnerSpace, pos: 2},
		{name: "non-breaking space inside", in: "279035121\u00a0518989", reason: ReasonInnerSpace, pos: 10},
		{name: "NIR without key", in: "2790351215189", reason: ReasonLength,
			check: func(t *testing.T, e *Error) {
				if e.Length != 13 || e.Expected != "15" || !strings.Contains(e.Error(), "2-digit key") {
					t.Fatalf("got %+v, want length 13 of 15 with a hint about the key", e)
				}
			}},
		{name: "too long", in: officialTestINS + "0", reason: ReasonLength,
			check: func(t *testing.T, e *Error) {
				if e.Length != 16 || !strings.Contains(e.Error(), "found 16") {
					t.Fatalf("got %+v (%v), want length 16 said", e, e)
				}
			}},
		{name: "huge input", in: strings.Repeat("1", 10000), reason: ReasonLength},
		{name: "letter in key", in: "27903512151898X", reason: ReasonNonDigit, pos: 15},
		{name: "punctuation", in: "279-35121518989", reason: ReasonNonDigit, pos: 4},
		{name: "multi-byte character counts once", in: "2790351215189é9", reason: ReasonNonDigit, pos: 14},
		{name: "bad key", in: "279035121518988", reason: ReasonKey, pos: 14,
			check: func(t *testing.T, e *Error) {
				if e.Expected != "89" || e.Found != "88" {
					t.Fatalf("key expected %q found %q, want 89 and 88", e.Expected, e.Found)
				}
				if !strings.Contains(e.Error(), "88") || !strings.Contains(e.Error(), "89") {
					t.Fatalf("message %q does not say both keys", e.Error())
				}
			}},
		{name: "key 00 never valid", in: "279035121518900", reason: ReasonKey},
		{name: "first digit 0", in: "079035121518989", reason: ReasonFirstDigit, pos: 1},
		{name: "first digit 5", in: "579035121518989", reason: ReasonFirstDigit, pos: 1},
		{name: "first digit 9", in: "979035121518989", reason: ReasonFirstDigit, pos: 1},
		{name: "month 00", in: "279005121518989", reason: ReasonMonth, pos: 4},
		{name: "month 13", in: "279135121518989", reason: ReasonMonth, pos: 4},
		{name: "month 19", in: "279195121518989", reason: ReasonMonth, pos: 4},
		{name: "month 43", in: "279435121518989", reason: ReasonMonth, pos: 4},
		{name: "month 49", in: "279495121518989", reason: ReasonMonth, pos: 4},
		{name: "letter in first place", in: "A79035121518989", reason: ReasonCorsica, pos: 1},
		{name: "letter in commune", in: "184122A1A345697", reason: ReasonCorsica, pos: 9},
		{name: "letter first in department", in: "18412A212345697", reason: ReasonCorsica, pos: 6},
		{name: "letter after a department other than 2", in: "184123B12345697", reason: ReasonCorsica, pos: 7},
		{name: "Corsica with a wrong key", in: "184122A12345698", reason: ReasonKey},
		{name: "Corsica letter other than A or B", in: "184122C12345697", reason: ReasonNonDigit, pos: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ins, err := ParseINS(tt.in)
			e := mustReason(t, err, tt.reason, tt.pos)
			if ins != (INS{}) {
				t.Fatalf("got %+v with an error, want the zero INS", ins)
			}
			if e.Kind != "INS" {
				t.Fatalf("kind %q, want INS", e.Kind)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

// The message may quote positions and keys but never the number: it reaches the user and
// possibly logs.
func TestErrorMessageHidesTheNumber(t *testing.T) {
	for _, in := range []string{"279035121518988", "279135121518989", "27903512151898X", "urn:oid:9.9|279035121518989"} {
		_, err := ParseINS(in)
		if err == nil {
			t.Fatalf("ParseINS(%q) accepted", in)
		}
		if strings.Contains(err.Error(), "2790351215") {
			t.Fatalf("message %q quotes the matricule", err.Error())
		}
	}
}

func TestNewINS(t *testing.T) {
	tests := []struct {
		name     string
		system   OID
		wantTest bool
	}{
		{"NIR", OIDNIR, false},
		{"NIA", OIDNIA, false},
		{"test NIR", OIDTestNIR, true},
		{"demo NIR", OIDDemoNIR, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ins, err := NewINS(officialTestINS, tt.system)
			if err != nil {
				t.Fatal(err)
			}
			if ins.Matricule != officialTestINS || ins.System != tt.system || ins.IsTest() != tt.wantTest {
				t.Fatalf("got %+v test=%v, want %s in %s test=%v", ins, ins.IsTest(), officialTestINS, tt.system, tt.wantTest)
			}
		})
	}
	t.Run("professional OID refused", func(t *testing.T) {
		_, err := NewINS(officialTestINS, OIDIdNatPS)
		mustReason(t, err, ReasonSystem, 0)
	})
	t.Run("empty OID refused", func(t *testing.T) {
		_, err := NewINS(officialTestINS, "")
		mustReason(t, err, ReasonSystem, 0)
	})
	t.Run("bad matricule refused", func(t *testing.T) {
		_, err := NewINS("279035121518988", OIDNIR)
		mustReason(t, err, ReasonKey, 14)
	})
}

func TestFHIR(t *testing.T) {
	const token = "urn:oid:1.2.250.1.213.1.4.10|" + officialTestINS
	ins, err := ParseFHIRIdentifier(token)
	if err != nil {
		t.Fatal(err)
	}
	if ins != (INS{Matricule: officialTestINS, System: OIDTestNIR}) || !ins.IsTest() {
		t.Fatalf("got %+v, want the official test INS", ins)
	}
	if got := ins.String(); got != token {
		t.Fatalf("String() = %q, want %q", got, token)
	}
	system, value := ins.FHIR()
	if system != "urn:oid:1.2.250.1.213.1.4.10" || value != officialTestINS {
		t.Fatalf("FHIR() = %q, %q", system, value)
	}
	back, err := FromFHIR(system, value)
	if err != nil || back != ins {
		t.Fatalf("FromFHIR(FHIR()) = %+v, %v; want %+v", back, err, ins)
	}
	if again, err := ParseINS(token); err != nil || again != ins {
		t.Fatalf("ParseINS(token) = %+v, %v; want %+v", again, err, ins)
	}
	bare, _ := ParseINS(officialTestINS)
	if s, v := bare.FHIR(); s != "" || v != officialTestINS {
		t.Fatalf("FHIR() of a bare matricule = %q, %q; want no system", s, v)
	}
}

func TestParseFHIRIdentifierInvalid(t *testing.T) {
	const nir = "urn:oid:1.2.250.1.213.1.4.8|"
	tests := []struct {
		name, in string
		reason   Reason
		pos      int
	}{
		{"empty", "", ReasonEmpty, 0},
		{"no bar", officialTestINS, ReasonSyntax, 0},
		{"no system", "|" + officialTestINS, ReasonSystem, 0},
		{"bare OID", "1.2.250.1.213.1.4.8|" + officialTestINS, ReasonSystem, 0},
		{"unknown OID", "urn:oid:1.2.250.1.213.1.4.2|" + officialTestINS, ReasonSystem, 0},
		{"URL system", "http://example.org/ins|" + officialTestINS, ReasonSystem, 0},
		{"empty value", nir, ReasonEmpty, 0},
		{"short value", nir + "2790351215189", ReasonLength, 0},
		{"position counts the system", nir + "27903512151898X", ReasonNonDigit, 43},
		{"position counts leading space of the value", nir + " 27903512151898X", ReasonNonDigit, 44},
		{"second bar", nir + officialTestINS + "|x", ReasonLength, 0},
		{"bad key", nir + "279035121518988", ReasonKey, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFHIRIdentifier(tt.in)
			mustReason(t, err, tt.reason, tt.pos)
		})
	}
}

func TestINSKey(t *testing.T) {
	tests := []struct{ nir, want string }{
		{"2790351215189", "89"},
		{"184122A123456", "97"}, // n mod 97 = 0 gives 97, never 00
		{"184122B123456", "27"},
		{" 1852099123045 ", "76"},
	}
	for _, tt := range tests {
		t.Run(tt.nir, func(t *testing.T) {
			got, err := INSKey(tt.nir)
			if err != nil || got != tt.want {
				t.Fatalf("INSKey(%q) = %q, %v; want %q", tt.nir, got, err, tt.want)
			}
			if _, err := ParseINS(strings.TrimSpace(tt.nir) + got); err != nil {
				t.Fatalf("NIR + computed key does not parse: %v", err)
			}
		})
	}
	for _, bad := range []struct {
		in     string
		reason Reason
	}{
		{"279035121518", ReasonLength},
		{"279035121518989", ReasonLength},
		{"2791351215189", ReasonMonth},
		{"6790351215189", ReasonFirstDigit},
		{"27903512151A9", ReasonCorsica},
	} {
		t.Run("invalid "+bad.in, func(t *testing.T) {
			_, err := INSKey(bad.in)
			mustReason(t, err, bad.reason, 0)
		})
	}
}

func TestINSLogValueRedacts(t *testing.T) {
	var b strings.Builder
	log := slog.New(slog.NewTextHandler(&b, nil))
	ins, _ := NewINS(officialTestINS, OIDTestNIR)
	log.Info("lookup", "ins", ins)
	if strings.Contains(b.String(), officialTestINS) {
		t.Fatalf("log line %q carries the matricule", b.String())
	}
	if !strings.Contains(b.String(), string(OIDTestNIR)) {
		t.Fatalf("log line %q lost the system", b.String())
	}
}

func TestErrorWrapsWithContext(t *testing.T) {
	_, err := ParseINS("279035121518988")
	wrapped := fmt.Errorf("open space: %w", err)
	var e *Error
	if !errors.As(wrapped, &e) || e.Reason != ReasonKey || !errs.Is(wrapped, errs.Invalid) {
		t.Fatalf("wrapped error lost its reason or code: %v", wrapped)
	}
}
