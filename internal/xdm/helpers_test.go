package xdm_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/xdm"
)

// testINS is the test INS of the CI-SIS examples (identifier system of test NIRs).
var testINS = identity.INS{Matricule: "279035121518989", System: identity.OIDTestNIR}

const testPatientID = "279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH"

var t0 = time.Date(2024, 3, 14, 9, 30, 0, 0, time.UTC)

// drMartin is a professional as CI-SIS senders write one (8 + RPPS, a valid Luhn key).
func drMartin() xdm.Author {
	return xdm.Author{
		Person:       xdm.Person{ID: "810002422979", Family: "MARTIN", Given: "Claire", Authority: "1.2.250.1.71.4.2.1", IDType: "IDNPS"},
		Institutions: []xdm.Institution{{Name: "Cabinet du Dr Martin", ID: "1750000001", Authority: "1.2.250.1.71.4.2.2", IDType: "IDNST"}},
		Roles:        []record.Code{{Code: "ODRP", Display: "Prescripteur", System: "2.16.840.1.113883.5.88"}},
		Specialties:  []record.Code{{Code: "G15_10/SM54", Display: "Médecine générale (SM)", System: "1.2.250.1.213.1.1.4.5"}},
		Telecoms:     []string{"^NET^Internet^claire.martin@cabinet.mssante.fr"},
	}
}

// samplePackage is a complete package: every field Write would fill is stated, so that
// Read(Write(p)) is p.
func samplePackage(n int) xdm.Package {
	p := xdm.Package{Submission: xdm.Submission{
		Subset:    "SUBSET01",
		EntryUUID: "0b8e1c3a-4a7f-4d2e-9a51-3c6f1e2d7b90",
		UniqueID:  "1.2.250.1.999.1.2024.3.14.1",
		SourceID:  "1.2.250.1.999.1",
		PatientID: testPatientID,
		INS:       testINS,
		Submitted: t0,
		Title:     "Envoi du Dr Martin",
		Comments:  "Résultats & compte rendu <urgent>",
		ContentType: record.Code{Code: "11488-4", Display: "Note de consultation",
			System: "2.16.840.1.113883.6.1"},
		Authors: []xdm.Author{drMartin()},
		IntendedRecipients: []xdm.Recipient{{
			Person:  xdm.Person{ID: "279035121518989", Authority: "1.2.250.1.213.1.4.10"},
			Telecom: "^NET^Internet^279035121518989@patient.mssante.fr"}},
	}}
	for i := range n {
		content := []byte(fmt.Sprintf("%%PDF-1.4\n%% document %d\n", i+1))
		d := xdm.Document{
			Path:              fmt.Sprintf("IHE_XDM/SUBSET01/DOC%04d.PDF", i+1),
			Content:           content,
			EntryUUID:         fmt.Sprintf("5f0c2e9a-1b3d-4c5e-8f70-%012d", i+1),
			UniqueID:          fmt.Sprintf("1.2.250.1.999.1.2024.3.14.1.%d", i+1),
			PatientID:         testPatientID,
			INS:               testINS,
			SourcePatientID:   "IPP4242^^^&1.2.250.1.999.1.4&ISO^PI",
			SourcePatientInfo: []string{"PID-3|IPP4242^^^&1.2.250.1.999.1.4&ISO^PI", "PID-5|DUPONT^Marie^^^^^L", "PID-7|19790328", "PID-8|F"},
			Title:             fmt.Sprintf("Compte rendu n°%d \"entre guillemets\"", i+1),
			Comments:          "ligne 1\nligne 2",
			Language:          "fr-FR",
			MimeType:          "application/pdf",
			Class:             record.Code{Code: "10", Display: "Compte rendu", System: "1.2.250.1.213.1.1.4.1"},
			Type:              record.Code{Code: "11488-4", Display: "CR de consultation", System: "2.16.840.1.113883.6.1"},
			Format:            record.Code{Code: "urn:ihe:iti:xds-sd:pdf:2008", Display: "Document à corps non structuré en Pdf/A-1", System: "1.3.6.1.4.1.19376.1.2.3"},
			Confidentiality:   []record.Code{{Code: "N", Display: "Normal", System: record.ConfidentialitySystem}},
			MasquePS:          i%2 == 1,
			InvisiblePatient:  i%3 == 2,
			FacilityType:      record.Code{Code: "SA07", Display: "Cabinet individuel", System: "1.2.250.1.71.4.2.4"},
			PracticeSetting:   record.Code{Code: "AMBULATOIRE", Display: "Ambulatoire", System: "1.2.250.1.213.1.1.4.9"},
			EventCodes:        []record.Code{{Code: "GLQP012", Display: "Acte CCAM", System: "1.2.250.1.213.2.5"}},
			ReferenceIDs:      []string{"ORD-42^^^&1.2.250.1.999.1.5&ISO^urn:ihe:iti:xds:2013:order"},
			Authors:           []xdm.Author{drMartin()},
			LegalAuthenticator: xdm.Person{ID: "810002422979", Family: "MARTIN", Given: "Claire",
				Authority: "1.2.250.1.71.4.2.1", IDType: "IDNPS"},
			Created:      t0.Add(-time.Hour),
			ServiceStart: t0.Add(-48 * time.Hour),
			ServiceEnd:   t0.Add(-47 * time.Hour),
			Size:         int64(len(content)),
		}
		d.SHA1 = sha1Hex(content)
		p.Documents = append(p.Documents, d)
	}
	return p
}

func mustWrite(tb testing.TB, p xdm.Package) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := xdm.Write(&b, p); err != nil {
		tb.Fatalf("Write: %v", err)
	}
	return b.Bytes()
}

func read(b []byte, l xdm.Limits) (*xdm.Package, error) {
	return xdm.Read(bytes.NewReader(b), int64(len(b)), l)
}

func mustRead(tb testing.TB, b []byte) *xdm.Package {
	tb.Helper()
	p, err := read(b, xdm.Limits{})
	if err != nil {
		tb.Fatalf("Read: %v", err)
	}
	return p
}

// mustRefuse checks that err is an errs.Invalid whose message holds want.
func mustRefuse(tb testing.TB, err error, want string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("accepted, want a refusal saying %q", want)
	}
	if errs.CodeOf(err) != errs.Invalid {
		tb.Fatalf("code %s, want invalid: %v", errs.CodeOf(err), err)
	}
	if !strings.Contains(errs.MessageOf(err), want) {
		tb.Fatalf("message %q, want it to say %q", errs.MessageOf(err), want)
	}
}

// entry is a file of a zip built by a test.
type entry struct {
	name string
	data []byte
	hdr  *zip.FileHeader // written raw with this header when set (data is then the raw bytes)
}

func buildZip(tb testing.TB, entries ...entry) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		var (
			w   io.Writer
			err error
		)
		if e.hdr != nil {
			if e.hdr.CompressedSize64 == 0 {
				e.hdr.CompressedSize64 = uint64(len(e.data))
			}
			w, err = zw.CreateRaw(e.hdr)
		} else {
			w, err = zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate})
		}
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// entries returns the files of a zip, in order.
func entries(tb testing.TB, b []byte) []entry {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatal(err)
	}
	var out []entry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, entry{name: f.Name, data: data})
	}
	return out
}

// rezip rebuilds a zip, passing each file through edit; a file whose name edit returns
// empty is left out.
func rezip(tb testing.TB, b []byte, edit func(name string, data []byte) (string, []byte), extra ...entry) []byte {
	tb.Helper()
	var out []entry
	for _, e := range entries(tb, b) {
		if name, data := edit(e.name, e.data); name != "" {
			out = append(out, entry{name: name, data: data})
		}
	}
	return buildZip(tb, append(out, extra...)...)
}

// editMetadata rebuilds a zip with its first METADATA.XML changed by replacing old with new.
func editMetadata(tb testing.TB, b []byte, old, new string) []byte {
	tb.Helper()
	found := false
	out := rezip(tb, b, func(name string, data []byte) (string, []byte) {
		if strings.HasSuffix(name, "/METADATA.XML") && !found {
			if !bytes.Contains(data, []byte(old)) {
				tb.Fatalf("METADATA.XML holds no %q", old)
			}
			found = true
			return name, bytes.Replace(data, []byte(old), []byte(new), 1)
		}
		return name, data
	})
	return out
}

// diff reports the first fields that differ between two packages, for a readable failure.
func diff(tb testing.TB, got, want any) {
	tb.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	var walk func(path string, g, w reflect.Value)
	n := 0
	walk = func(path string, g, w reflect.Value) {
		if n > 10 || reflect.DeepEqual(g.Interface(), w.Interface()) {
			return
		}
		switch g.Kind() {
		case reflect.Struct:
			if g.Type() == reflect.TypeOf(time.Time{}) {
				break
			}
			for i := 0; i < g.NumField(); i++ {
				walk(path+"."+g.Type().Field(i).Name, g.Field(i), w.Field(i))
			}
			return
		case reflect.Slice:
			if g.Len() == w.Len() && g.Type().Elem().Kind() != reflect.Uint8 {
				for i := 0; i < g.Len(); i++ {
					walk(fmt.Sprintf("%s[%d]", path, i), g.Index(i), w.Index(i))
				}
				return
			}
		case reflect.Pointer:
			if !g.IsNil() && !w.IsNil() {
				walk(path, g.Elem(), w.Elem())
				return
			}
		}
		n++
		tb.Errorf("%s: got %#v, want %#v", path, g.Interface(), w.Interface())
	}
	walk("", gv, wv)
	if n == 0 {
		tb.Errorf("packages differ")
	}
}

func isInvalid(err error) bool {
	var e *errs.Error
	return errors.As(err, &e) && e.Code == errs.Invalid
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}
