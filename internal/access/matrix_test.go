package access_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/terminology"
)

func MustCatalog(tb testing.TB) *terminology.Catalog {
	tb.Helper()
	c, err := terminology.Default()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// reads reports whether the default matrix lets profession (and specialty) read a document of
// type typeCode.
func reads(t *testing.T, m *access.Matrix, cat *terminology.Catalog, profession, specialty, typeCode string) bool {
	t.Helper()
	ty, err := cat.Type(typeCode)
	if err != nil {
		t.Fatal(err)
	}
	c, found, err := m.Lookup(profession, specialty, ty.Class, ty.Code)
	if err != nil {
		t.Fatalf("%s %s: %v", profession, specialty, err)
	}
	return found && c.Allow
}

// TestDefaultMatrix holds the shipped matrix to what DOMAIN.md says of it, over every type code
// of the terminology.
func TestDefaultMatrix(t *testing.T) {
	m, cat := MustMatrix(t), MustCatalog(t)
	if m.Version() != "default-v1" || len(m.Digest()) != 64 {
		t.Fatalf("version %q digest %q", m.Version(), m.Digest())
	}
	for _, ty := range cat.Types() {
		// Doctors read every category but the proof of residence.
		if got, want := reads(t, m, cat, "G15_10", "", ty.Code), ty.Code != "ATTEST-RESID"; got != want {
			t.Errorf("doctor reads %s (%s, class %s): %v, want %v", ty.Code, ty.Label, ty.Class, got, want)
		}
		if got, want := reads(t, m, cat, "", "G15_10/SM26", ty.Code), ty.Code != "ATTEST-RESID"; got != want {
			t.Errorf("doctor specialist reads %s: %v, want %v", ty.Code, got, want)
		}
		// Authors that are no profession read nothing.
		for _, p := range cat.ProfessionsOf(terminology.KindOther) {
			if reads(t, m, cat, p.Code, "", ty.Code) {
				t.Errorf("%s (kind other) reads %s", p.Code, ty.Code)
			}
		}
		// Every health carer reads care plans, and the patient's wishes.
		if ty.Class == "44" || ty.Class == "90" {
			for _, p := range cat.ProfessionsOf(terminology.KindHealth) {
				if industry := slices.Contains([]string{"G15_21/B", "G15_21/C", "G15_21/EB", "G15_21/EC"}, p.Code); !industry &&
					!reads(t, m, cat, p.Code, "", ty.Code) {
					t.Errorf("%s (%s) does not read %s", p.Code, p.Label, ty.Code)
				}
			}
		}
	}
	// Social and medico-social professions read far less: care plans, management documents,
	// and the documents of their own sector.
	socialTypes := []string{"28653-4", "83981-1", "88348-8", "34842-5", "BIL_AUTO"}
	for _, p := range cat.ProfessionsOf(terminology.KindSocial) {
		n := 0
		for _, ty := range cat.Types() {
			r := reads(t, m, cat, p.Code, "", ty.Code)
			want := ty.Class == "44" || ty.Class == "95" || slices.Contains(socialTypes, ty.Code)
			if r != want {
				t.Errorf("%s (%s) reads %s: %v, want %v", p.Code, p.Label, ty.Code, r, want)
			}
			if r {
				n++
			}
		}
		if n*3 > len(cat.Types()) {
			t.Errorf("%s reads %d of %d types: not far less", p.Code, n, len(cat.Types()))
		}
	}
}

func TestLookupOrder(t *testing.T) {
	const src = "version\tt1\nprofession\tdocument\taccess\tnote\n" +
		"G15_10\t*\tallow\n" +
		"G15_10\ttype:ATTEST-RESID\tdeny\n" +
		"G15_10/SM26\tclass:95\tallow\tthe specialty's class beats the profession's type\n" +
		"kind:health\tclass:10\tallow\n" +
		"G15_60\t*\tdeny\tthe profession's * beats the kind's class\n"
	m, err := access.ParseMatrix(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		profession, specialty, class, typ string
		allow, found                      bool
		line                              int
	}{
		{"G15_10", "", "95", "ATTEST-RESID", false, true, 4},
		{"G15_10", "", "95", "51851-4", true, true, 3},
		{"G15_10", "G15_10/SM26", "95", "ATTEST-RESID", true, true, 5},
		{"G15_60", "", "10", "11488-4", false, true, 7},
		{"G15_70", "", "10", "11488-4", true, true, 6},
		{"G15_70", "", "31", "18748-4", false, false, 0},
		{"41", "", "10", "11488-4", false, false, 0},
	} {
		cell, found, err := m.Lookup(c.profession, c.specialty, c.class, c.typ)
		if err != nil || found != c.found || cell.Allow != c.allow || cell.Line != c.line {
			t.Errorf("%s %s × %s/%s: %v found=%v err=%v, want allow=%v found=%v line %d",
				c.profession, c.specialty, c.class, c.typ, cell, found, err, c.allow, c.found, c.line)
		}
	}
	for _, p := range [][2]string{{"", ""}, {"G99", ""}, {"G15_10", "G15_60/SI01"}, {"", "NOPE"}} {
		if _, _, err := m.Lookup(p[0], p[1], "10", ""); !errs.Is(err, errs.Invalid) {
			t.Errorf("Lookup(%q, %q): %v, want an invalid error", p[0], p[1], err)
		}
	}
}

func TestParseMatrixErrors(t *testing.T) {
	const head = "# a comment\nversion\tv2\nprofession\tdocument\taccess\tnote\n"
	for _, c := range []struct{ name, src, want string }{
		{"empty", "", "no version line"},
		{"comments only", "# nothing\n\n", "no version line"},
		{"no header", "version\tv2\n", "no header"},
		{"cells before the version", "profession\tdocument\taccess\tnote\n", "line 1: want the version line"},
		{"version with a space", "version\tv 2\n", "line 1: version"},
		{"empty version", "version\t\n", "line 1: version"},
		{"long version", "version\t" + strings.Repeat("v", 65) + "\n", "line 1: version"},
		{"wrong header", "version\tv2\nwho\twhat\taccess\tnote\n", "line 2: header"},
		{"too few fields", head + "G15_10\t*\n", "line 4: 2 fields"},
		{"too many fields", head + "G15_10\t*\tallow\tnote\textra\n", "line 4: 5 fields"},
		{"bad access", head + "G15_10\t*\tmaybe\t\n", `line 4: access "maybe"`},
		{"unknown profession", head + "G15_10\t*\tallow\t\nG99_99\t*\tallow\t\n", `line 5: unknown profession or specialty code "G99_99"`},
		{"unknown kind", head + "kind:alien\t*\tallow\t\n", `line 4: unknown kind "alien"`},
		{"unknown class", head + "G15_10\tclass:99\tallow\t\n", `line 4: unknown document class code "99"`},
		{"unknown type", head + "G15_10\ttype:NOPE\tallow\t\n", `line 4: unknown document type code "NOPE"`},
		{"bare class code", head + "G15_10\t10\tallow\t\n", `line 4: document "10"`},
		{"duplicate", head + "G15_10\t*\tallow\t\n\n# again\nG15_10\t*\tdeny\t\n", "line 7: G15_10 × * already on line 4"},
		{"allow to kind other", head + "kind:other\tclass:10\tallow\t\n", "line 4: kind:other is not a profession"},
		{"allow to a non-profession", head + "ALIM_AM\t*\tallow\t\n", "line 4: ALIM_AM is not a profession"},
		{"not UTF-8", head + "G15_10\t*\tallow\t\xff\n", "line 4: not UTF-8"},
		{"line too long", head + strings.Repeat("x", 70_000) + "\n", "line 4:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := access.ParseMatrix(strings.NewReader(c.src))
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want an invalid error containing %q", err, c.want)
			}
		})
	}
}

func TestParseMatrixTolerates(t *testing.T) {
	src := "version\tv3\r\nprofession\tdocument\taccess\tnote\r\n  \r\nG15_10\t*\tallow\r\nkind:other\t*\tdeny\r\n"
	m, err := access.ParseMatrix(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if cells := m.Cells(); len(cells) != 2 || cells[0].Line != 4 || cells[1].Note != "" {
		t.Fatalf("cells %+v", cells)
	}
}

// TestMatrixRoundTrip: what WriteTSV writes, ParseMatrix reads back to the same matrix, and a
// changed cell changes the digest.
func TestMatrixRoundTrip(t *testing.T) {
	m := MustMatrix(t)
	var buf bytes.Buffer
	if err := m.WriteTSV(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := access.ParseMatrix(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if back.Version() != m.Version() || back.Digest() != m.Digest() || len(back.Cells()) != len(m.Cells()) {
		t.Fatalf("round trip: %s %s %d cells, want %s %s %d", back.Version(), back.Digest(), len(back.Cells()),
			m.Version(), m.Digest(), len(m.Cells()))
	}
	for i, c := range back.Cells() {
		o := m.Cells()[i]
		if c.Profession != o.Profession || c.Document != o.Document || c.Allow != o.Allow || c.Note != o.Note {
			t.Errorf("cell %d: %+v, want %+v", i, c, o)
		}
	}
	changed := strings.Replace(buf.String(), "G15_60\tclass:10\tallow", "G15_60\tclass:10\tdeny", 1)
	other, err := access.ParseMatrix(strings.NewReader(changed))
	if err != nil {
		t.Fatal(err)
	}
	if other.Digest() == m.Digest() {
		t.Error("a changed cell kept the digest")
	}
}

// TestOperatorMatrix: a matrix loaded by the operator is the one decisions use and name.
func TestOperatorMatrix(t *testing.T) {
	m, err := access.ParseMatrix(strings.NewReader("version\tops-2025-04\nprofession\tdocument\taccess\tnote\nG15_60\tclass:52\tallow\tIDE vaccinations\n"))
	if err != nil {
		t.Fatal(err)
	}
	in := object(inTeam(t, nurse, "G15_60"), doc("89601-9"))
	in.Matrix = m
	d := access.Decide(in)
	if !d.Allowed || d.MatrixVersion != "ops-2025-04" || d.Cell.Line != 3 {
		t.Fatalf("decision %+v", d)
	}
	in.Object = report()
	if d := access.Decide(in); d.Allowed || d.Reason != access.ReasonMatrixDenied || d.Cell.Line != 0 || d.MatrixVersion != "ops-2025-04" {
		t.Fatalf("no cell: %+v", d)
	}
}
