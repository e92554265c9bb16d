package xdm_test

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/xdm"
)

// fuzzDocs are the documents every fuzzed METADATA.XML is packed with: those of
// samplePackage(2), so that the seed's hashes and sizes match.
var fuzzDocs = samplePackage(2).Documents

// storedZip packs entries without compression and without CRC (archive/zip then checks none),
// so that the fuzzer's changes to an entry's bytes reach the parsers.
func storedZip(tb testing.TB, entries ...entry) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: zip.Store,
			CompressedSize64: uint64(len(e.data)), UncompressedSize64: uint64(len(e.data))})
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// withMetadata packs a METADATA.XML with the fuzz documents.
func withMetadata(tb testing.TB, metadata []byte) []byte {
	tb.Helper()
	es := []entry{{name: "IHE_XDM/SUBSET01/METADATA.XML", data: metadata}}
	for _, d := range fuzzDocs {
		es = append(es, entry{name: d.Path, data: d.Content})
	}
	return storedZip(tb, es...)
}

// fuzzFields are the values a fuzz input sets in fuzzTemplate, one a line, in this order; a
// missing line takes its default, so that the empty input is a complete, valid package.
var fuzzFields = []struct{ name, def string }{
	{"title", "CR"},
	{"mimeType", "application/pdf"},
	{"creationTime", "20240314093015"},
	{"serviceStartTime", "202403140930+0100"},
	{"URI", "1|DOC00\t2|01.PDF"}, // values separated by tabs
	{"legalAuthenticator", `810002422979^A\S\B^C^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS`},
	{"authorPerson", "810002422979^MARTIN^Claire^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"},
	{"authorInstitution", "Cabinet^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1750000001"},
	{"authorRole", "ODRP^^^&2.16.840.1.113883.5.88&ISO"},
	{"authorSpecialty", "G15_10/SM54^MG^1.2.250.1.213.1.1.4.5"},
	{"confidentiality", "MASQUE_PS\t1.2.250.1.213.1.1.4.13"}, // code, tab, system
	{"patientId", "279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH"},
	{"submissionPatientId", "279035121518989^^^&1.2.250.1.213.1.4.10&ISO"},
	{"intendedRecipient", "|^P^J|^NET^Internet^a@b.fr"},
	{"id", "urn:uuid:5F0C2E9A-1B3D-4C5E-8F70-000000000001"},
	{"submissionTime", "20240314"},
	{"sourcePatientId", "IPP1^^^&1.2.3&ISO^PI"},
}

// fuzzMetadata builds a METADATA.XML from the lines of data (see fuzzFields), escaping them,
// for the document fuzzDocs[0].
func fuzzMetadata(data []byte) []byte {
	lines := strings.Split(string(data), "\n")
	f := map[string]string{}
	for i, field := range fuzzFields {
		f[field.name] = field.def
		if i < len(lines) && len(data) > 0 {
			f[field.name] = lines[i]
		}
	}
	esc := func(s string) string {
		var b bytes.Buffer
		xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	slot := func(name string, values ...string) string {
		s := `<Slot name="` + name + `"><ValueList>`
		for _, v := range values {
			s += "<Value>" + esc(v) + "</Value>"
		}
		return s + "</ValueList></Slot>"
	}
	conf := strings.SplitN(f["confidentiality"]+"\t", "\t", 3)
	doc := fuzzDocs[0]
	return []byte(`<?xml version="1.0"?><l:SubmitObjectsRequest xmlns:l="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><RegistryObjectList>` +
		`<ExtrinsicObject id="` + esc(f["id"]) + `" mimeType="` + esc(f["mimeType"]) + `">` +
		slot("creationTime", f["creationTime"]) + slot("serviceStartTime", f["serviceStartTime"]) +
		slot("hash", doc.SHA1) + slot("size", strconv.FormatInt(doc.Size, 10)) +
		slot("URI", strings.Split(f["URI"], "\t")...) + slot("legalAuthenticator", f["legalAuthenticator"]) +
		slot("sourcePatientId", f["sourcePatientId"]) + slot("sourcePatientInfo", "PID-8|F") +
		`<Name><LocalizedString value="` + esc(f["title"]) + `"/></Name>` +
		`<Classification classificationScheme="urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d">` +
		slot("authorPerson", f["authorPerson"]) + slot("authorInstitution", f["authorInstitution"]) +
		slot("authorRole", f["authorRole"]) + slot("authorSpecialty", f["authorSpecialty"]) + `</Classification>` +
		`<Classification classificationScheme="urn:uuid:f0306f51-975f-434e-a61c-c59651d33983" nodeRepresentation="11488-4">` +
		slot("codingScheme", "2.16.840.1.113883.6.1") + `<Name><LocalizedString value="CR"/></Name></Classification>` +
		`<Classification classificationScheme="urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f" nodeRepresentation="` + esc(conf[0]) + `">` +
		slot("codingScheme", conf[1]) + `</Classification>` +
		`<Classification classificationScheme="urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4" nodeRepresentation="E"/>` +
		`<ExternalIdentifier identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" value="` + esc(f["patientId"]) + `"/>` +
		`<ExternalIdentifier identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="1.2.3"/>` +
		`</ExtrinsicObject>` +
		`<RegistryPackage id="ss">` + slot("submissionTime", f["submissionTime"]) + slot("intendedRecipient", f["intendedRecipient"]) +
		`<ExternalIdentifier identificationScheme="urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8" value="1.2.4"/>` +
		`<ExternalIdentifier identificationScheme="urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446" value="` + esc(f["submissionPatientId"]) + `"/>` +
		`</RegistryPackage><Classification classifiedObject="ss" classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"/>` +
		`</RegistryObjectList></l:SubmitObjectsRequest>`)
}

// FuzzRead checks that Read never panics, refuses with errs.Invalid only, and that what it
// accepts writes and reads back unchanged. An input is one of:
//   - a whole archive, when it starts with the zip signature "PK";
//   - a METADATA.XML, when it starts with "<", packed with the documents of fuzzDocs;
//   - otherwise, the values of fuzzFields, one a line, set in a complete METADATA.XML.
//
// The last form keeps inputs short: Go's minimiser is quadratic in the input's length
// (golang/go#48820), and on whole packages of some kilobytes it would take a short run's
// whole time on the first new input.
func FuzzRead(f *testing.F) {
	small := xdm.Package{Submission: xdm.Submission{INS: testINS, Submitted: t0, EntryUUID: "ss", UniqueID: "1.2.3"},
		Documents: []xdm.Document{{INS: testINS, MimeType: "text/plain", Content: []byte("x"), EntryUUID: "d", UniqueID: "1.2"}}}
	f.Add([]byte{}) // every field at its default: a valid package
	f.Add([]byte("T\ntext/xml\n2024\n\nDOC0001.PDF\n\n8^X\\T\\Y^Z\n^^123\nR\nEXP_PATIENT\nN\t2.16.840.1.113883.5.25"))
	f.Add([]byte("\n\n\n\n\n\n\n\n\n\n\n2A0000000000000^^^&1.2.250.1.213.1.4.8&ISO\n2a0000000000000^^^&1.2.250.1.213.1.4.8&ISO"))
	f.Add(mustWrite(f, small))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`))
	f.Add([]byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xe9</a>"))

	limits := xdm.Limits{MaxEntries: 64, MaxEntry: 1 << 20, MaxTotal: 4 << 20, MaxMetadata: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		switch {
		case bytes.HasPrefix(data, []byte("PK")):
			checkRead(t, data, limits)
		case bytes.HasPrefix(data, []byte("<")):
			checkRead(t, withMetadata(t, data), limits)
		default:
			checkRead(t, withMetadata(t, fuzzMetadata(data)), limits)
		}
	})
}

func checkRead(t *testing.T, b []byte, limits xdm.Limits) {
	p, err := read(b, limits)
	if err != nil {
		if errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("refused with code %s: %v", errs.CodeOf(err), err)
		}
		return
	}
	var w bytes.Buffer
	if err := xdm.Write(&w, *p); err != nil {
		t.Fatalf("what Read accepted, Write refuses: %v", err)
	}
	q, err := read(w.Bytes(), xdm.Limits{})
	if err != nil {
		t.Fatalf("what Write wrote from what Read accepted, Read refuses: %v", err)
	}
	// Write fills in a missing submission time: that one may differ.
	if p.Submission.Submitted.IsZero() {
		q.Submission.Submitted = p.Submission.Submitted
	}
	for i := range p.Others {
		if p.Others[i].Submitted.IsZero() && i < len(q.Others) {
			q.Others[i].Submitted = p.Others[i].Submitted
		}
	}
	if !reflect.DeepEqual(p, q) {
		diff(t, *q, *p)
		t.Fatalf("Read(Write(p)) is not p")
	}
}

// The fuzz seeds are accepted, so that the fuzzer starts from inputs that reach the round
// trip. (A CRC of zero means "not checked" to archive/zip: storedZip relies on it.)
func TestFuzzSeedsRead(t *testing.T) {
	for _, meta := range [][]byte{metadataOf(t, mustWrite(t, samplePackage(2))), fuzzMetadata(nil)} {
		p, err := read(withMetadata(t, meta), xdm.Limits{})
		if err != nil {
			t.Fatalf("a fuzz seed does not read: %v", err)
		}
		if d := p.Documents[0]; len(d.Authors) == 0 || d.Type.Code != "11488-4" || d.INS != testINS || d.Size != fuzzDocs[0].Size {
			t.Errorf("seed misread: %+v", d)
		}
	}
}
