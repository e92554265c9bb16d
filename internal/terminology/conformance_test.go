package terminology

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The conformance tests compare our tables with the ANS value sets in ../shared/data (README.md
// there): the reference data CI always has, which the repository must not copy.

// sharedData finds shared/data by walking up from the working directory, or skips the test.
func sharedData(t *testing.T, elem ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	start := dir
	for {
		candidate := filepath.Join(dir, "shared", "data")
		if fi, err := os.Stat(candidate); err == nil && fi.IsDir() {
			return filepath.Join(append([]string{candidate}, elem...)...)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skipf("reference data not found: no shared/data in %s or any folder above it (expected ../shared/data from the repository root)", start)
		}
		dir = parent
	}
}

type svsConcept struct {
	Code        string `xml:"code,attr"`
	CodeSystem  string `xml:"codeSystem,attr"`
	DisplayName string `xml:"displayName,attr"`
}

// readValueSet reads the concepts of an IHE SVS RetrieveValueSetResponse (ITI TF-2 §3.48).
func readValueSet(t *testing.T, file string) []svsConcept {
	t.Helper()
	path := sharedData(t, "terminology", file)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reference value set missing: %v", err)
	}
	var doc struct {
		Concepts []svsConcept `xml:"ValueSet>ConceptList>Concept"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(doc.Concepts) == 0 {
		t.Fatalf("%s: no concept", path)
	}
	return doc.Concepts
}

// Every code of J07 is in typecodes.tsv with the same system and label, and nothing else is.
func TestConformanceTypeCodes(t *testing.T) {
	j07 := readValueSet(t, "JDV_J07_XdsTypeCode_CISIS.xml")
	c := mustDefault(t)
	want := map[string]bool{}
	for _, v := range j07 {
		want[v.Code] = true
		tc, err := c.Type(v.Code)
		if err != nil {
			t.Errorf("J07 %s %q: %v", v.Code, v.DisplayName, err)
			continue
		}
		if tc.System != v.CodeSystem || tc.Label != v.DisplayName {
			t.Errorf("J07 %s: ours (%s, %q), value set (%s, %q)", v.Code, tc.System, tc.Label, v.CodeSystem, v.DisplayName)
		}
	}
	for _, tc := range c.Types() {
		if !want[tc.Code] {
			t.Errorf("typecodes.tsv has %s, which J07 does not", tc.Code)
		}
	}
	if len(c.Types()) != len(j07) {
		t.Errorf("%d type codes, J07 has %d", len(c.Types()), len(j07))
	}
}

// Every code of J01 and of J48 is in professions.tsv with the same system and label (J48's own
// label in label_j48 where J01 relabelled the code), the sets column says which value sets hold
// it, and nothing else is in the file.
func TestConformanceProfessions(t *testing.T) {
	sets := map[string][]svsConcept{
		"J01": readValueSet(t, "JDV_J01_XdsAuthorSpecialty_CISIS.xml"),
		"J48": readValueSet(t, "JDV_J48_ProfessionNonPS_CISIS.xml"),
	}
	f, err := dataFS.Open("data/" + professionFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := readTSV(professionFile, f, professionColumns)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ system, label, labelJ48, sets string }
	ours := map[string]row{}
	for _, r := range recs {
		ours[r.fields[0]] = row{system: r.fields[1], label: r.fields[2], sets: r.fields[5], labelJ48: r.fields[6]}
	}

	inSets := map[string][]string{}
	for _, name := range []string{"J01", "J48"} {
		for _, v := range sets[name] {
			inSets[v.Code] = append(inSets[v.Code], name)
			r, ok := ours[v.Code]
			if !ok {
				t.Errorf("%s %s %q: not in professions.tsv", name, v.Code, v.DisplayName)
				continue
			}
			label := r.label
			if name == "J48" && r.labelJ48 != "" {
				label = r.labelJ48
			}
			if r.system != v.CodeSystem || label != v.DisplayName {
				t.Errorf("%s %s: ours (%s, %q), value set (%s, %q)", name, v.Code, r.system, label, v.CodeSystem, v.DisplayName)
			}
		}
	}
	for code, r := range ours {
		want := strings.Join(inSets[code], ",")
		if want == "" {
			t.Errorf("professions.tsv has %s, which neither J01 nor J48 has", code)
		} else if r.sets != want {
			t.Errorf("%s: sets %q, want %q", code, r.sets, want)
		}
		if r.labelJ48 != "" && (r.labelJ48 == r.label || !slices.Contains(inSets[code], "J48")) {
			t.Errorf("%s: label_j48 %q where there is no other J48 label", code, r.labelJ48)
		}
	}
	if len(ours) != len(inSets) {
		t.Errorf("%d professions, the value sets have %d distinct codes", len(ours), len(inSets))
	}
}

// The example documents of the CI-SIS (../shared/data/cda) carry type codes we know, in the
// same code system, and land in the space the product promises: VSM and vaccinations in the
// medical profile, reports with health documents.
func TestConformanceCDAExamples(t *testing.T) {
	dir := sharedData(t, "cda")
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no example document in %s", dir)
	}
	wantSpace := map[string]Space{
		"VSM_1.4_2022.01.xml":          SpaceProfile,
		"IPS-FR_2024.01.xml":           SpaceProfile,
		"VAC_2023.01.xml":              SpaceProfile,
		"VAC-NOTE_2023.01.xml":         SpaceProfile,
		"BIO-CR-BIO_2024.01_TSH_1.xml": SpaceDocuments,
		"LDL-SES_2022.01.xml":          SpaceDocuments,
		"IMG_CR_IMG_2024.01.xml":       SpaceDocuments,
		"CSE-CS8_2024.01.xml":          SpaceDocuments,
	}
	c := mustDefault(t)
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// ClinicalDocument/code is the document type (CDA R2; CI-SIS: it is the XDS typeCode).
			var doc struct {
				XMLName xml.Name
				Code    struct {
					Code       string `xml:"code,attr"`
					CodeSystem string `xml:"codeSystem,attr"`
				} `xml:"code"`
			}
			if err := xml.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.XMLName.Local != "ClinicalDocument" {
				t.Fatalf("root %s, want ClinicalDocument", doc.XMLName.Local)
			}
			tc, err := c.Type(doc.Code.Code)
			if err != nil {
				t.Fatal(err)
			}
			if tc.System != doc.Code.CodeSystem {
				t.Errorf("%s: code system %s, ours %s", tc.Code, doc.Code.CodeSystem, tc.System)
			}
			if want, ok := wantSpace[name]; ok && tc.Space != want {
				t.Errorf("%s (%s): space %s, want %s", name, tc.Code, tc.Space, want)
			}
		})
	}
}
