package reimburse

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

const testHeader = "ins;act_date;end_date;nature;code_system;code;provider_id;provider_name;amount_paid;amount_reimbursed;reference"

// row parses one line of a file with testHeader.
func row(t testing.TB, h Header, line string) (Act, error) {
	t.Helper()
	r := csv.NewReader(strings.NewReader(line))
	r.Comma = h.Comma
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil {
		return Act{}, errs.Wrap(errs.Invalid, err, "unreadable")
	}
	return h.Row(rec)
}

func TestRow(t *testing.T) {
	h, err := ParseHeader("\ufeff" + testHeader + "\r\n")
	if err != nil {
		t.Fatal(err)
	}
	const ins = "279035121518989"
	good := func(a Act) bool { return a.Matricule == ins }
	tests := []struct {
		name, line string
		ok         func(Act) bool
		err        string // part of the message when refused
	}{
		{"consultation", ins + ";2026-02-03;;consultation;;GS;810100534436;MARTIN Claire;30,00;21.00;R-1",
			func(a Act) bool {
				return good(a) && a.CodeSystem == NGAP && a.Code == "GS" && a.ProviderID == "810100534436" &&
					a.Paid == 3000 && a.Reimbursed == 2100 && a.Date.Equal(time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)) &&
					a.Month().Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
			}, ""},
		{"French date, CCAM inferred", ins + ";03/02/2026;;IMAGERIE;;zbqk002;;Cabinet de radiologie;25;17,5;R/2",
			func(a Act) bool {
				return a.CodeSystem == CCAM && a.Code == "ZBQK002" && a.Reimbursed == 1750 && a.Date.Day() == 3
			}, ""},
		{"NGAP with coefficient", ins + ";2026-02-03;;soins_infirmiers;NGAP;AMI 1.5;;Infirmière DURAND;4,73;3,31;R3",
			func(a Act) bool { return a.Code == "AMI 1.5" }, ""},
		{"FINESS of an establishment, a stay", ins + ";2026-02-03;2026-02-07;hospitalisation;;;750100125;Hôpital;1200;1200;R4",
			func(a Act) bool { return a.ProviderID == "750100125" && a.End.Day() == 7 }, ""},
		{"bare RPPS, a stay of one day", ins + ";2026-02-03;2026-02-03;consultation;;;10100534436;;30;21;R5",
			func(a Act) bool { return a.ProviderID == "810100534436" && a.End.IsZero() }, ""},
		{"FHIR form of the INS", "urn:oid:1.2.250.1.213.1.4.8|" + ins + ";2026-02-03;;pharmacie;CIP;3400930000001;;Pharmacie;10;6,5;R6",
			func(a Act) bool { return a.System == string(identity.OIDNIR) && a.CodeSystem == CIP }, ""},

		{"bad INS key", "279035121518988;2026-02-03;;consultation;;GS;;X;30;21;R", nil, "key"},
		{"bad date", ins + ";2026-02-30;;consultation;;GS;;X;30;21;R", nil, "bad date"},
		{"missing date", ins + ";;;consultation;;GS;;X;30;21;R", nil, "act_date is missing"},
		{"end before start", ins + ";2026-02-03;2026-02-01;hospitalisation;;;;X;30;21;R", nil, "end_date is before"},
		{"stay too long", ins + ";2024-02-03;2026-02-01;hospitalisation;;;;X;30;21;R", nil, "several acts"},
		{"too old", ins + ";1899-12-31;;consultation;;;;X;30;21;R", nil, "before 1900"},
		{"bad amount", ins + ";2026-02-03;;consultation;;GS;;X;12,345;1;R", nil, "bad amount"},
		{"negative amount", ins + ";2026-02-03;;consultation;;GS;;X;-12;0;R", nil, "negative"},
		{"amount with letters", ins + ";2026-02-03;;consultation;;GS;;X;12€;0;R", nil, "bad amount"},
		{"reimbursed more than paid", ins + ";2026-02-03;;consultation;;GS;;X;10;11;R", nil, "more than amount_paid"},
		{"huge amount", ins + ";2026-02-03;;consultation;;GS;;X;100000000;1;R", nil, "ten million"},
		{"unknown nature", ins + ";2026-02-03;;massage;;;;X;30;21;R", nil, "unknown nature"},
		{"bad CCAM", ins + ";2026-02-03;;imagerie;CCAM;ZBQ12;;X;30;21;R", nil, "not a CCAM code"},
		{"code without system", ins + ";2026-02-03;;imagerie;;12-34;;X;30;21;R", nil, "state its code_system"},
		{"system without code", ins + ";2026-02-03;;imagerie;CCAM;;;X;30;21;R", nil, "without a code"},
		{"unknown system", ins + ";2026-02-03;;imagerie;ICD;A00;;X;30;21;R", nil, "unknown code_system"},
		{"bad provider", ins + ";2026-02-03;;consultation;;GS;810100534437;X;30;21;R", nil, "key"},
		{"no provider", ins + ";2026-02-03;;consultation;;GS;;;30;21;R", nil, "who performed"},
		{"control character", ins + ";2026-02-03;;consultation;;GS;;X\x01Y;30;21;R", nil, "control character"},
		{"bad reference", ins + ";2026-02-03;;consultation;;GS;;X;30;21;R 1", nil, "bad reference"},
		{"no reference", ins + ";2026-02-03;;consultation;;GS;;X;30;21;", nil, "bad reference"},
		{"too few fields", ins + ";2026-02-03;consultation", nil, "3 fields, the header has 11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := row(t, h, tt.line)
			if tt.ok != nil {
				if err != nil || !tt.ok(a) {
					t.Fatalf("got %+v, %v", a, err)
				}
				return
			}
			if err == nil || !errs.Is(err, errs.Invalid) || !strings.Contains(errs.MessageOf(err), tt.err) {
				t.Fatalf("got %+v, %v; want an invalid row saying %q", a, err, tt.err)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	if h, err := ParseHeader("ins,act_date,nature,provider_name,amount_paid,amount_reimbursed,reference\n"); err != nil || h.Comma != ',' {
		t.Fatalf("comma header: %v %v", h, err)
	}
	for _, tt := range []struct{ line, want string }{
		{"ins;act_date;nature;amount_paid;amount_reimbursed;reference", "provider_id or provider_name"},
		{"ins;act_date;nature;provider_name;amount_paid;reference", `missing column "amount_reimbursed"`},
		{"ins;act_date;nature;provider_name;amount_paid;amount_reimbursed;reference;colour", `unknown column "colour"`},
		{"ins;ins;act_date;nature;provider_name;amount_paid;amount_reimbursed;reference", `column "ins" twice`},
	} {
		if _, err := ParseHeader(tt.line); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.line, err, tt.want)
		}
	}
}

func TestCentsString(t *testing.T) {
	for c, want := range map[Cents]string{0: "0,00 €", 5: "0,05 €", 2100: "21,00 €", 123456: "1 234,56 €", 100000000: "1 000 000,00 €"} {
		if got := c.String(); got != want {
			t.Errorf("%d: %q, want %q", c, got, want)
		}
	}
}

func TestStatementUniqueID(t *testing.T) {
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	a, b := StatementUniqueID("279035121518989", feb), StatementUniqueID("279035121518989", feb.AddDate(0, 1, 0))
	if a != StatementUniqueID("279035121518989", feb) || a == b || a == StatementUniqueID("184122A12345697", feb) {
		t.Fatalf("uniqueIds not derived from person and month: %s %s", a, b)
	}
	if !strings.HasPrefix(a, "2.25.") || len(a) > 64 || strings.ContainsFunc(a[5:], func(r rune) bool { return r < '0' || r > '9' }) {
		t.Fatalf("not an OID under 2.25: %s", a)
	}
}

// The row parser takes any line without panicking, and what it accepts keeps the rules.
func FuzzRow(f *testing.F) {
	h, err := ParseHeader(testHeader)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"279035121518989;2026-02-03;;consultation;;GS;810100534436;MARTIN Claire;30,00;21.00;R-1",
		"279035121518989;03/02/2026;2026-02-09;hospitalisation;;;750100125;Hôpital;1200;1200;R/2",
		"urn:oid:1.2.250.1.213.1.4.8|279035121518989;2026-02-03;;pharmacie;CIP;3400930000001;;P;10;6,5;R6",
		"279035121518989;2026-02-03;;soins_infirmiers;NGAP;AMI 1.5;;D;4,73;3,31;R3",
		"2A9035121518989;2026-02-03;;x;;;;;;;",
		`"a;b";"c""d"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		a, err := row(t, h, line)
		if err != nil {
			if errs.CodeOf(err) != errs.Invalid || errs.MessageOf(err) == "" {
				t.Fatalf("a refusal must be Invalid with a message: %v", err)
			}
			return
		}
		if _, err := identity.ParseINS(a.Matricule); err != nil || len(a.Matricule) != 15 {
			t.Fatalf("accepted a bad INS %q: %v", a.Matricule, err)
		}
		if a.Date.IsZero() || a.Date.Before(earliest) || !a.End.IsZero() && !a.End.After(a.Date) {
			t.Fatalf("accepted dates %v %v", a.Date, a.End)
		}
		if a.Paid < 0 || a.Reimbursed < 0 || a.Reimbursed > a.Paid || a.Paid > maxAmount {
			t.Fatalf("accepted amounts %d %d", a.Paid, a.Reimbursed)
		}
		if !validRef(a.Reference) || a.Nature.Label() == string(a.Nature) {
			t.Fatalf("accepted reference %q nature %q", a.Reference, a.Nature)
		}
		if a.ProviderID == "" && a.ProviderName == "" {
			t.Fatal("accepted an act performed by no one")
		}
		if a.Code != "" && a.CodeSystem == "" || a.Code == "" && a.CodeSystem != "" {
			t.Fatalf("accepted code %q in %q", a.Code, a.CodeSystem)
		}
		// What the payload keeps reads back the same.
		b, err := decodePayload(a.Reference, encodePayload(a, ""))
		if err != nil || !b.Date.Equal(a.Date) || !b.End.Equal(a.End) || b.Paid != a.Paid || b.Code != a.Code || b.ProviderName != a.ProviderName {
			t.Fatalf("payload round trip: %+v %v, want %+v", b, err, a)
		}
		// And so does the row it came from, when the run names its file; the act is the same.
		a.Line = 7
		withRow := encodePayload(a, testFileID)
		if c, err := decodePayload(a.Reference, withRow); err != nil || c != b {
			t.Fatalf("payload with its row: %+v %v, want %+v", c, err, b)
		}
		if f, l, ok := payloadRow(withRow); !ok || f != testFileID || l != 7 {
			t.Fatalf("the payload's row: %q %d %v", f, l, ok)
		}
	})
}
