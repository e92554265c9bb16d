package terminology

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestReadTSV(t *testing.T) {
	cols := []string{"code", "system", "label"}
	in := "# a comment\n\ncode\tsystem\tlabel\r\n# another\n10\t1.2\tCompte rendu\r\n\n11\t1.2\tSynthèse\n"
	recs, err := readTSV("x.tsv", strings.NewReader(in), cols)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	if recs[0].line != 5 || recs[0].fields[2] != "Compte rendu" {
		t.Errorf("first record %+v", recs[0])
	}
	if recs[1].line != 7 || recs[1].fields[0] != "11" || recs[1].fields[2] != "Synthèse" {
		t.Errorf("second record %+v", recs[1])
	}
}

// A malformed line is refused with the file name and its line number, so the fix is one look away.
func TestReadTSVRejects(t *testing.T) {
	cols := []string{"code", "system", "label"}
	tests := []struct {
		name, in, want string
	}{
		{"too few fields", "code\tsystem\tlabel\n10\t1.2\tCompte rendu\n# c\n11\t1.2\n", "x.tsv:4: 2 fields, want 3"},
		{"too many fields", "# c\ncode\tsystem\tlabel\n10\t1.2\tCompte\trendu\n", "x.tsv:3: 4 fields, want 3"},
		{"spaces instead of tabs", "code\tsystem\tlabel\n10 1.2 Compte rendu\n", "x.tsv:2: 1 fields, want 3"},
		{"wrong header", "# c\ncode\tlabel\tsystem\n", "x.tsv:2: header"},
		{"no header", "# only comments\n\n", "x.tsv: no header line"},
		{"not UTF-8", "code\tsystem\tlabel\n10\t1.2\tCompte rendu \xe9\n", "x.tsv:2: not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readTSV("x.tsv", strings.NewReader(tt.in), cols)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// Files small enough to read in a test, each valid; the load tests break one thing at a time.
const (
	testClasses = "code\tsystem\tlabel\n10\t1.2.250.1.213.1.1.4.1\tCompte rendu\n60\t1.2.250.1.213.1.1.4.1\tDonnées de remboursement\n"
	testTypes   = "code\tsystem\tlabel\tclass\tspace\tbasis\tnote\n" +
		"11488-4\t2.16.840.1.113883.6.1\tCR de consultation\t10\tdocuments_sante\tX04\t\n" +
		"REMB\t1.2.250.1.213.1.1.4.12\tDonnées de remboursement\t60\tremboursements\tX04\t\n"
	testProfessions = "code\tsystem\tlabel\tprofession\tkind\tsets\tlabel_j48\n" +
		"G15_10\t1.2.250.1.213.1.1.4.5\tMédecin\tG15_10\thealth\tJ01\t\n" +
		"ALIM_AM\t1.2.250.1.213.1.1.4.6\tAlimentation\t\tother\tJ01\t\n"
)

func testFS(classes, types, professions string) fstest.MapFS {
	return fstest.MapFS{
		classFile:      {Data: []byte(classes)},
		typeFile:       {Data: []byte(types)},
		professionFile: {Data: []byte(professions)},
	}
}

func TestLoad(t *testing.T) {
	c, err := load(testFS(testClasses, testTypes, testProfessions))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := c.Type("REMB")
	if err != nil || tc.Class != "60" || tc.Space != SpaceReimbursements {
		t.Errorf("REMB: %+v, %v", tc, err)
	}
}

func TestLoadRejects(t *testing.T) {
	typeHeader := "code\tsystem\tlabel\tclass\tspace\tbasis\tnote\n"
	profHeader := "code\tsystem\tlabel\tprofession\tkind\tsets\tlabel_j48\n"
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"malformed type line", testFS(testClasses, typeHeader+"11488-4\t2.16.840.1.113883.6.1\tCR\t10\n", testProfessions),
			"typecodes.tsv:2: 4 fields, want 7"},
		{"unknown class", testFS(testClasses, typeHeader+"11488-4\t2.16.840.1.113883.6.1\tCR\t99\tdocuments_sante\tX04\t\n", testProfessions),
			`typecodes.tsv:2: code "11488-4": class "99" is not in classcodes.tsv`},
		{"unknown space", testFS(testClasses, typeHeader+"11488-4\t2.16.840.1.113883.6.1\tCR\t10\tdocuments\tX04\t\n", testProfessions),
			`typecodes.tsv:2: code "11488-4": unknown space "documents"`},
		{"empty label", testFS(testClasses, typeHeader+"11488-4\t2.16.840.1.113883.6.1\t\t10\tdocuments_sante\tX04\t\n", testProfessions),
			"typecodes.tsv:2: label"},
		{"padded code", testFS(testClasses, typeHeader+"11488-4 \t2.16.840.1.113883.6.1\tCR\t10\tdocuments_sante\tX04\t\n", testProfessions),
			"typecodes.tsv:2: code"},
		{"duplicate type", testFS(testClasses, testTypes+"REMB\t1.2.250.1.213.1.1.4.12\tRemboursement\t60\tremboursements\tX04\t\n", testProfessions),
			`typecodes.tsv:4: code "REMB" twice`},
		{"duplicate class", testFS(testClasses+"10\t1.2.250.1.213.1.1.4.1\tCR\n", testTypes, testProfessions),
			`classcodes.tsv:4: code "10" twice`},
		{"unknown kind", testFS(testClasses, testTypes, profHeader+"G15_10\t1.2.250.1.213.1.1.4.5\tMédecin\tG15_10\tdoctor\tJ01\t\n"),
			`professions.tsv:2: code "G15_10": unknown kind "doctor"`},
		{"profession of other", testFS(testClasses, testTypes, profHeader+"ALIM_AM\t1.2.250.1.213.1.1.4.6\tAlimentation\tALIM_AM\tother\tJ01\t\n"),
			`professions.tsv:2: code "ALIM_AM": profession "ALIM_AM" does not fit kind "other"`},
		{"missing file", fstest.MapFS{classFile: {Data: []byte(testClasses)}}, "typecodes.tsv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(tt.fsys)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}
