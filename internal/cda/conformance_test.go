package cda

import (
	"bytes"
	"errors"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// The conformance tests read the CI-SIS example documents of ../shared/data/cda (README.md
// there): what carnet receives must parse like these.

// level1Examples are the examples with a nonXMLBody; every other one is structured.
var level1Examples = map[string]bool{
	"DOC_NON_STRUCTURE_CDA-R2-N1.xml":        true,
	"IMG_CR_IMG_2024.01_CDA-R2-Niveau-1.xml": true,
}

// badINSExamples are the examples whose recordTarget INS is not a valid INS, with the reason.
// CSE-CS8 writes 223042545611404 under the real-NIR OID; its key should be 82, not 04.
var badINSExamples = map[string]identity.Reason{
	"CSE-CS8_2024.01.xml": identity.ReasonKey,
}

func TestConformanceExamples(t *testing.T) {
	catalog, err := terminology.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range exampleFiles(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Parse(bytes.NewReader(b), 0)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}

			wantLevel := 3
			if level1Examples[name] {
				wantLevel = 1
			}
			if d.Level != wantLevel {
				t.Errorf("level %d, want %d", d.Level, wantLevel)
			}

			// The patient: a valid INS, which Check accepts as the deposit's patient.
			if reason, bad := badINSExamples[name]; bad {
				var ie *identity.Error
				if !errors.As(d.Patient.INSError, &ie) || ie.Reason != reason {
					t.Errorf("INSError %v, want the known defect %s", d.Patient.INSError, reason)
				}
				if err := d.Check(identity.INS{Matricule: "279035121518989"}, d.Code.Code); err == nil {
					t.Error("Check accepted a document whose INS is not valid")
				}
			} else {
				if d.Patient.INSError != nil || !d.Patient.INS.System.IsINS() {
					t.Fatalf("INS %v, error %v", d.Patient.INS, d.Patient.INSError)
				}
				if _, err := identity.NewINS(d.Patient.INS.Matricule, d.Patient.INS.System); err != nil {
					t.Errorf("INS does not check: %v", err)
				}
				if err := d.Check(d.Patient.INS, d.Code.Code); err != nil {
					t.Errorf("Check against its own INS and code: %v", err)
				}
			}
			if d.Patient.Name.Family() == "" || d.Patient.Name.Given() == "" || d.Patient.BirthTime.IsZero() || d.Patient.Gender == "" {
				t.Errorf("patient traits incomplete: name %d parts, birth %v, gender %q",
					len(d.Patient.Name.Parts), !d.Patient.BirthTime.IsZero(), d.Patient.Gender)
			}

			// The document type is one of the national type codes, in the same code system.
			tc, err := catalog.Type(d.Code.Code)
			if err != nil {
				t.Errorf("ClinicalDocument/code: %v", err)
			} else if tc.System != d.Code.System {
				t.Errorf("code %s in system %s, the type codes have it in %s", d.Code.Code, d.Code.System, tc.System)
			}

			// The header the record's metadata come from.
			if d.ID.Root == "" || d.Title == "" || d.EffectiveTime.IsZero() || d.ConfidentialityCode.Code == "" {
				t.Errorf("header incomplete: id %v, title %t, time %v, confidentiality %q",
					d.ID.Root != "", d.Title != "", d.EffectiveTime, d.ConfidentialityCode.Code)
			}
			if d.LanguageCode != "fr-FR" {
				t.Errorf("language %q", d.LanguageCode)
			}
			if d.SetID.Root == "" || d.VersionNumber < 1 {
				t.Errorf("setId %v, version %d", d.SetID, d.VersionNumber)
			}
			if len(d.Authors) == 0 || d.Authors[0].ID.Root != string(identity.OIDIdNatPS) || d.Authors[0].Code.Code == "" || d.Authors[0].Time.IsZero() {
				t.Errorf("first author %+v: want an IdNat_PS, a profession and a time", d.Authors)
			}
			if d.Custodian.ID.Root == "" {
				t.Error("custodian without id")
			}
			if d.LegalAuthenticator == nil || d.LegalAuthenticator.Time.IsZero() {
				t.Error("no legal authenticator with a time")
			}
			// XDS serviceStartTime is required by the national record.
			if d.ServiceStart.IsZero() {
				t.Error("no service start time")
			}
			if !d.ServiceEnd.IsZero() && d.ServiceEnd.Before(d.ServiceStart) {
				t.Errorf("service ends (%v) before it starts (%v)", d.ServiceEnd, d.ServiceStart)
			}
			if d.PracticeSetting.Code == "" || d.FacilityType.Code == "" {
				t.Errorf("practice setting %q, facility type %q", d.PracticeSetting.Code, d.FacilityType.Code)
			}

			out := mustRender(t, d)
			if !strings.Contains(out, "<h1>"+html.EscapeString(d.Title)+"</h1>") {
				t.Error("rendering lacks the title")
			}
			if !strings.Contains(out, html.EscapeString(d.Patient.Name.String())) {
				t.Error("rendering lacks the patient's name")
			}

			switch d.Level {
			case 1:
				if !isPDF(d.Content) && !isImage(d.Content) {
					t.Errorf("level 1 content (%s, %d bytes) is neither a PDF nor an image", d.MediaType, len(d.Content))
				}
				if d.MediaType == "" || len(d.Sections) != 0 {
					t.Errorf("media type %q, %d sections", d.MediaType, len(d.Sections))
				}
				if strings.Contains(out, "<section") {
					t.Error("level 1 rendering has sections")
				}
			case 3:
				if len(d.Sections) == 0 || d.Content != nil {
					t.Fatalf("%d sections, %d bytes of content", len(d.Sections), len(d.Content))
				}
				titles := 0
				walkSections(d.Sections, func(s *Section) {
					title := s.Title
					if title == "" {
						title = s.Code.DisplayName
					}
					if title == "" {
						t.Errorf("section %s has neither title nor code label", s.Code.Code)
						return
					}
					titles++
					if !strings.Contains(out, ">"+html.EscapeString(title)+"</h") {
						t.Errorf("rendering lacks the section title %q", title)
					}
				})
				if titles == 0 {
					t.Error("no section title")
				}
			}
		})
	}
}

func walkSections(ss []*Section, f func(*Section)) {
	for _, s := range ss {
		f(s)
		walkSections(s.Sections, f)
	}
}

func isPDF(b []byte) bool { return bytes.HasPrefix(b, []byte("%PDF-")) }

func isImage(b []byte) bool {
	return bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) || // JPEG
		bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*")) || // TIFF
		bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n"))
}

// What the examples are, so that a change of the reference data is noticed.
func TestConformanceExampleCodes(t *testing.T) {
	want := map[string]string{
		"BIO-CR-BIO_2024.01_TSH_1.xml":           "11502-2",
		"CSE-CS8_2024.01.xml":                    "CERT_DECL",
		"DOC_NON_STRUCTURE_CDA-R2-N1.xml":        "11502-2",
		"IMG_CR_IMG_2024.01.xml":                 "18748-4",
		"IMG_CR_IMG_2024.01_CDA-R2-Niveau-1.xml": "18748-4",
		"IPS-FR_2024.01.xml":                     "60591-5",
		"LDL-SES_2022.01.xml":                    "11490-0",
		"OBP-SAP_2024.01.xml":                    "57055-6",
		"VAC-NOTE_2023.01.xml":                   "87273-9",
		"VAC_2023.01.xml":                        "11369-6",
		"VSM_1.4_2022.01.xml":                    "SYNTH",
	}
	files := exampleFiles(t)
	if len(files) != len(want) {
		t.Errorf("%d examples, want %d", len(files), len(want))
	}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Parse(f, 0)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(path), err)
		}
		if got, w := d.Code.Code, want[filepath.Base(path)]; got != w {
			t.Errorf("%s: code %s, want %s", filepath.Base(path), got, w)
		}
	}
}

// The largest example sets the pace: parse it whole, header, sections and narrative trees.
func BenchmarkParse(b *testing.B) {
	path, data := largestExample(b)
	b.Logf("%s, %d bytes", filepath.Base(path), len(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data), 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderHTML(b *testing.B) {
	_, data := largestExample(b)
	d, err := Parse(bytes.NewReader(data), 0)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := RenderHTML(&buf, d); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

func largestExample(b *testing.B) (string, []byte) {
	var path string
	var size int64
	for _, p := range exampleFiles(b) {
		fi, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		if fi.Size() > size {
			path, size = p, fi.Size()
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return path, data
}
