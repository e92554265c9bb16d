package cda

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

func TestParseMinimal(t *testing.T) {
	d := mustParse(t, doc())
	paris := time.FixedZone("", 3600)

	if d.ID != (II{Root: "1.2.250.1.999.1", Extension: "doc-42"}) {
		t.Errorf("ID %+v", d.ID)
	}
	if d.SetID.Root != "1.2.250.1.999.2" || d.VersionNumber != 2 {
		t.Errorf("SetID %+v, version %d", d.SetID, d.VersionNumber)
	}
	if d.Code != (Code{Code: "11488-4", System: "2.16.840.1.113883.6.1", DisplayName: "CR de consultation"}) {
		t.Errorf("Code %+v", d.Code)
	}
	if d.Title != "Compte rendu de consultation" {
		t.Errorf("Title %q", d.Title)
	}
	if want := time.Date(2024, 1, 5, 10, 30, 0, 0, paris); !d.EffectiveTime.Equal(want) {
		t.Errorf("EffectiveTime %v, want %v", d.EffectiveTime, want)
	}
	if d.ConfidentialityCode.Code != "N" || d.LanguageCode != "fr-FR" {
		t.Errorf("confidentiality %+v, language %q", d.ConfidentialityCode, d.LanguageCode)
	}

	p := d.Patient
	if want := (identity.INS{Matricule: testINS, System: identity.OIDTestNIR}); p.INS != want || p.INSError != nil {
		t.Errorf("INS %v (%v), want %v", p.INS, p.INSError, want)
	}
	if len(p.IDs) != 1 || p.IDs[0] != (II{Root: "1.2.3.4.567", Extension: "IPP-1"}) {
		t.Errorf("IDs %+v", p.IDs)
	}
	if p.Name.String() != "ALI USAGE" || p.Name.Family() != "USAGE" || p.Name.Given() != "ALI" {
		t.Errorf("name %q (family %q, given %q)", p.Name, p.Name.Family(), p.Name.Given())
	}
	if !p.BirthTime.Equal(time.Date(1979, 3, 28, 0, 0, 0, 0, time.UTC)) || p.Gender != "F" {
		t.Errorf("birth %v, gender %q", p.BirthTime, p.Gender)
	}

	if len(d.Authors) != 2 {
		t.Fatalf("%d authors, want 2", len(d.Authors))
	}
	a := d.Authors[0]
	if a.ID != (II{Root: string(identity.OIDIdNatPS), Extension: "810001234567"}) {
		t.Errorf("author ID %+v: want the IdNat_PS, not the first id", a.ID)
	}
	if a.Code.Code != "G15_10/SM26" || a.Code.System != "1.2.250.1.213.1.1.4.5" || a.Name.String() != "Jean DUPONT" {
		t.Errorf("author %+v", a)
	}
	if a.Organization.ID.Extension != "1750803447" || a.Organization.Name != "Cabinet du Dr DUPONT" {
		t.Errorf("author organisation %+v", a.Organization)
	}
	if !a.Time.Equal(time.Date(2024, 1, 5, 10, 15, 0, 0, paris)) {
		t.Errorf("author time %v", a.Time)
	}
	if dev := d.Authors[1]; dev.Device != "Logiciel LAB" || dev.ID.Root != "1.2.3.4.6" || dev.Name.String() != "" {
		t.Errorf("device author %+v", dev)
	}
	if d.Custodian.Name != "Hébergeur" || d.Custodian.ID.Root != "1.2.250.1.213.4.1" {
		t.Errorf("custodian %+v", d.Custodian)
	}
	if la := d.LegalAuthenticator; la == nil || la.Name.String() != "Jean DUPONT" || la.Time.IsZero() {
		t.Errorf("legal authenticator %+v", la)
	}

	// Two service events: the earliest low and the latest high; the performer's own time
	// (2025) is not the service's.
	if want := time.Date(2024, 1, 4, 0, 0, 0, 0, time.UTC); !d.ServiceStart.Equal(want) {
		t.Errorf("ServiceStart %v, want %v", d.ServiceStart, want)
	}
	if want := time.Date(2024, 1, 6, 12, 0, 0, 0, paris); !d.ServiceEnd.Equal(want) {
		t.Errorf("ServiceEnd %v, want %v", d.ServiceEnd, want)
	}
	if len(d.EventCodes) != 2 || d.EventCodes[0].Code != "11429006" || d.EventCodes[1].Code != "18723-7" {
		t.Errorf("EventCodes %+v", d.EventCodes)
	}
	if d.PracticeSetting.Code != "AMBULATOIRE" || d.FacilityType.Code != "SA07" {
		t.Errorf("practice setting %+v, facility type %+v", d.PracticeSetting, d.FacilityType)
	}

	if d.Level != 3 || len(d.Sections) != 2 {
		t.Fatalf("level %d, %d sections", d.Level, len(d.Sections))
	}
	s := d.Sections[0]
	if s.Title != "Motif de la consultation" || s.Code.Code != "29299-5" || s.Entries != 2 || s.ID.Root != "1.2.3" {
		t.Errorf("section %+v", s)
	}
	if s.Text == nil || strings.TrimSpace(s.Text.InnerText()) != "Douleur thoracique." {
		t.Errorf("section text %q", s.Text.InnerText())
	}
	if len(s.Sections) != 1 || s.Sections[0].Title != "Sous-section" {
		t.Errorf("subsections %+v", s.Sections)
	}
	if d.Sections[1].Title != "" || d.Sections[1].Code.DisplayName != "Sans titre" {
		t.Errorf("untitled section %+v", d.Sections[1])
	}
	if d.MediaType != "" || d.Content != nil {
		t.Errorf("level 3 document with level 1 content %q", d.MediaType)
	}
}

// What CDA R2 requires is required, and each refusal says what is missing.
func TestParseRefuses(t *testing.T) {
	drop := func(element string) string {
		s := doc()
		i := strings.Index(s, "<"+element)
		end := strings.Index(s[i:], "</"+element+">")
		if end < 0 {
			end = strings.Index(s[i:], "/>")
			return s[:i] + s[i+end+2:]
		}
		return s[:i] + s[i+end+len("</"+element+">"):]
	}
	tests := []struct{ name, doc, want string }{
		{"empty", "", "no root element"},
		{"not XML", "PATIENTE ALICE", "text outside the root element"},
		{"truncated", doc()[:len(doc())/2], "not well-formed XML"},
		{"wrong root", `<Bundle xmlns="urn:hl7-org:v3"/>`, "root element must be ClinicalDocument"},
		{"no namespace", `<ClinicalDocument><code code="x"/></ClinicalDocument>`, "root element must be ClinicalDocument"},
		{"id", drop("id root=\"1.2.250.1.999.1\""), "ClinicalDocument/id missing"},
		{"code", drop("code code=\"11488-4\""), "ClinicalDocument/code missing"},
		{"code empty", doc("{{code}}", " "), "ClinicalDocument/code missing"},
		{"title", drop("title"), "ClinicalDocument/title missing"},
		{"blank title", doc("{{title}}", "  \n "), "ClinicalDocument/title missing"},
		{"effectiveTime", drop("effectiveTime value"), "ClinicalDocument/effectiveTime missing"},
		{"bad effectiveTime", doc("{{time}}", "2024-01-05"), "ClinicalDocument/effectiveTime is not an HL7 timestamp"},
		{"confidentiality", drop("confidentialityCode"), "confidentialityCode missing"},
		{"version", doc("{{version}}", "0"), "versionNumber is not a positive integer"},
		{"recordTarget", drop("recordTarget"), "recordTarget missing"},
		{"two recordTargets", doc("{{recordTarget}}", defaultRecordTarget+defaultRecordTarget), "more than one recordTarget"},
		{"patientRole", doc("{{recordTarget}}", "<recordTarget/>"), "recordTarget/patientRole missing"},
		{"bad birthTime", doc("{{birth}}", "19791399"), "birthTime is not an HL7 timestamp"},
		{"author", strings.ReplaceAll(strings.ReplaceAll(doc(), "<author>", "<informant>"), "</author>", "</informant>"), "author missing"},
		{"bad author time", strings.Replace(doc(), "20240105101500+0100", "yesterday", 1), "author/time is not an HL7 timestamp"},
		{"custodian", drop("custodian"), "custodian missing"},
		{"bad service time", strings.Replace(doc(), `<low value="20240104"/>`, `<low value="2024010"/>`, 1), "serviceEvent/effectiveTime/low is not an HL7 timestamp"},
		{"no body", doc("{{body}}", ""), "neither structuredBody nor nonXMLBody"},
		{"empty structuredBody", doc("{{body}}", "<structuredBody/>"), "structuredBody has no section"},
		{"content after root", doc() + "<ClinicalDocument/>", "content after the root element"},
		{"text after root", doc() + "ALICE", "text outside the root element"},
		{"undeclared entity", withBody("&xxe;"), "not well-formed XML"},
		{"latin-1", strings.Replace(doc(), `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1), "must be encoded in UTF-8"},
		{"invalid UTF-8", withBody("\xff\xfe"), "not well-formed XML"},
		{"mismatched tags", withBody("<paragraph></content>"), "not well-formed XML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.doc), 0)
			mustInvalid(t, err, tt.want)
		})
	}
}

// A DOCTYPE is refused whatever it declares: external entities (XXE), entity expansion
// (billion laughs), or nothing at all.
func TestParseRefusesDOCTYPE(t *testing.T) {
	body := strings.TrimPrefix(doc(), `<?xml version="1.0" encoding="UTF-8"?>`)
	tests := map[string]string{
		"plain": `<!DOCTYPE ClinicalDocument>` + body,
		"external entity": `<?xml version="1.0"?><!DOCTYPE ClinicalDocument [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` +
			strings.Replace(body, "Compte rendu de consultation", "&xxe;", 1),
		"billion laughs": `<!DOCTYPE ClinicalDocument [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">` +
			`<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>` + strings.Replace(body, "Compte rendu de consultation", "&c;", 1),
		"public DTD": `<!DOCTYPE ClinicalDocument PUBLIC "-//HL7//CDA" "http://example.org/cda.dtd">` + body,
		"after root": doc() + `<!DOCTYPE x>`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(in), 0)
			if name == "after root" {
				// The decoder reads on to the end of the input, so a late declaration is seen too.
				mustInvalid(t, err, "DOCTYPE")
				return
			}
			mustInvalid(t, err, "DOCTYPE and other <!...> declarations are refused")
		})
	}
}

func TestParseSizeLimit(t *testing.T) {
	in := doc()
	n := int64(len(in))
	if _, err := Parse(strings.NewReader(in), n); err != nil {
		t.Errorf("a document of exactly maxBytes: %v", err)
	}
	_, err := Parse(strings.NewReader(in), n-1)
	mustInvalid(t, err, "larger than")
	// The limit holds even when the excess is after the root element.
	_, err = Parse(strings.NewReader(in+strings.Repeat(" ", 100)), n+10)
	mustInvalid(t, err, "larger than")
	// And the reader is not read to its end: the parser stops right after the limit.
	r := &countingReader{r: io.MultiReader(strings.NewReader(in), endless{})}
	_, err = Parse(r, n+1000)
	mustInvalid(t, err, "larger than")
	if r.n > n+1000+64<<10 {
		t.Errorf("read %d bytes with a limit of %d", r.n, n+1000)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

func TestParseDepthLimit(t *testing.T) {
	nest := func(depth int) string {
		// The root and depth-1 nested elements: depth levels in all.
		return `<ClinicalDocument xmlns="urn:hl7-org:v3">` + strings.Repeat("<content>", depth-1) +
			strings.Repeat("</content>", depth-1) + `</ClinicalDocument>`
	}
	if _, err := parseTree(strings.NewReader(nest(MaxDepth)), DefaultMaxBytes); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	_, err := parseTree(strings.NewReader(nest(MaxDepth+1)), DefaultMaxBytes)
	mustInvalid(t, err, "nested deeper than 256 levels")
	// Through Parse, in a narrative block.
	_, err = Parse(strings.NewReader(withBody(strings.Repeat("<content>", 300)+strings.Repeat("</content>", 300))), 0)
	mustInvalid(t, err, "nested deeper than")
	// A million levels cost no more than the first 257.
	deep := `<ClinicalDocument xmlns="urn:hl7-org:v3">` + strings.Repeat("<a>", 1_000_000)
	_, err = parseTree(strings.NewReader(deep), DefaultMaxBytes)
	mustInvalid(t, err, "nested deeper than")
}

func TestParseElementLimit(t *testing.T) {
	flat := func(n int) string {
		return `<ClinicalDocument xmlns="urn:hl7-org:v3">` + strings.Repeat("<br/>", n-1) + `</ClinicalDocument>`
	}
	if _, err := parseTree(strings.NewReader(flat(MaxElements)), DefaultMaxBytes); err != nil {
		t.Errorf("%d elements: %v", MaxElements, err)
	}
	_, err := parseTree(strings.NewReader(flat(MaxElements+1)), DefaultMaxBytes)
	mustInvalid(t, err, "more than 200000 elements")
}

func TestParseINS(t *testing.T) {
	other := mustINSKey(t, "1850775123456")
	tests := []struct {
		name, root, ext string
		extraIDs        string
		want            identity.INS
		wantErr         identity.Reason
		ids             int
	}{
		{name: "test NIR", root: testINSOID, ext: testINS, want: identity.INS{Matricule: testINS, System: identity.OIDTestNIR}, ids: 1},
		{name: "NIR", root: "1.2.250.1.213.1.4.8", ext: other, want: identity.INS{Matricule: other, System: identity.OIDNIR}, ids: 1},
		{name: "NIA", root: "1.2.250.1.213.1.4.9", ext: other, want: identity.INS{Matricule: other, System: identity.OIDNIA}, ids: 1},
		{name: "demo NIR", root: "1.2.250.1.213.1.4.11", ext: other, want: identity.INS{Matricule: other, System: identity.OIDDemoNIR}, ids: 1},
		{name: "spaces around", root: " " + testINSOID + " ", ext: " " + testINS + " ", want: identity.INS{Matricule: testINS, System: identity.OIDTestNIR}, ids: 1},
		{name: "wrong key", root: testINSOID, ext: testINS[:13] + "00", wantErr: identity.ReasonKey, ids: 1},
		{name: "13 digits", root: testINSOID, ext: testINS[:13], wantErr: identity.ReasonLength, ids: 1},
		{name: "no INS", root: "1.2.3.4", ext: testINS, ids: 2},
		{name: "second INS kept among IDs", root: testINSOID, ext: testINS,
			extraIDs: `<id root="1.2.250.1.213.1.4.8" extension="` + other + `"/>`,
			want:     identity.INS{Matricule: testINS, System: identity.OIDTestNIR}, ids: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := strings.Replace(defaultRecordTarget, `<id root="1.2.3.4.567"`, tt.extraIDs+`<id root="1.2.3.4.567"`, 1)
			d := mustParse(t, doc("{{recordTarget}}", rt, "{{insRoot}}", tt.root, "{{ins}}", tt.ext))
			p := d.Patient
			if p.INS != tt.want {
				t.Errorf("INS %v, want %v", p.INS, tt.want)
			}
			var ie *identity.Error
			switch {
			case tt.wantErr == "" && p.INSError != nil:
				t.Errorf("INSError %v", p.INSError)
			case tt.wantErr != "" && (!errors.As(p.INSError, &ie) || ie.Reason != tt.wantErr):
				t.Errorf("INSError %v, want reason %s", p.INSError, tt.wantErr)
			}
			if len(p.IDs) != tt.ids {
				t.Errorf("IDs %+v, want %d", p.IDs, tt.ids)
			}
		})
	}
}

func mustINSKey(t *testing.T, nir13 string) string {
	t.Helper()
	k, err := identity.INSKey(nir13)
	if err != nil {
		t.Fatal(err)
	}
	return nir13 + k
}

func TestPersonName(t *testing.T) {
	tests := []struct {
		name, xml, want, family, given string
	}{
		{"used name first", `<name><family qualifier="BR">NAISSANCE</family><given qualifier="BR">ANNE</given><family qualifier="CL">USAGE</family><given qualifier="CL">ANNIE</given></name>`,
			"ANNIE USAGE", "USAGE", "ANNIE"},
		{"birth name", `<name><given>ANNE MARIE</given><family qualifier="BR">NAISSANCE</family><given qualifier="BR">ANNE</given></name>`,
			"ANNE NAISSANCE", "NAISSANCE", "ANNE"},
		{"plain", `<name><prefix>MME</prefix><given> Anne </given><family>Martin</family></name>`, "Anne Martin", "Martin", "Anne"},
		{"set of qualifiers", `<name><family qualifier="SP CL">EPOUSE</family><family>NAISSANCE</family></name>`, "EPOUSE", "EPOUSE", ""},
		{"untagged", `<name>Dr  Anne
			Martin</name>`, "Dr Anne Martin", "", ""},
		{"empty", `<name nullFlavor="UNK"/>`, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, err := parseTree(strings.NewReader(`<r xmlns="urn:hl7-org:v3">`+tt.xml+`</r>`), DefaultMaxBytes)
			if err != nil {
				t.Fatal(err)
			}
			n := personName(root.child("name"))
			if n.String() != tt.want || n.Family() != tt.family || n.Given() != tt.given {
				t.Errorf("%q (family %q, given %q), want %q (%q, %q)", n, n.Family(), n.Given(), tt.want, tt.family, tt.given)
			}
		})
	}
}

// pdfBytes is the start of a PDF file, enough for the content checks.
var pdfBytes = []byte("%PDF-1.7\n%\xb5\xb5\xb5\xb5\n1 0 obj\n<</Type/Catalog>>\nendobj\n%%EOF\n")

func level1(mediaType, attrs, text string) string {
	return doc("{{body}}", `<nonXMLBody><text mediaType="`+mediaType+`" `+attrs+`>`+text+`</text></nonXMLBody>`)
}

// wrap cuts s in lines of n characters, indented, as senders write base64.
func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString("\n\t\t" + s[:n])
		s = s[n:]
	}
	b.WriteString("\r\n  " + s + "\n")
	return b.String()
}

func TestParseLevel1(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(pdfBytes)
	jpeg := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F'}
	tiff := []byte("II*\x00\x08\x00\x00\x00")
	ok := []struct {
		name, mediaType, text string
		want                  []byte
	}{
		{"pdf", "application/pdf", b64, pdfBytes},
		{"pdf wrapped", "application/pdf", wrap(b64, 76), pdfBytes},
		{"pdf unpadded", "application/pdf", strings.TrimRight(base64.StdEncoding.EncodeToString(pdfBytes[:len(pdfBytes)-1]), "="), pdfBytes[:len(pdfBytes)-1]},
		{"pdf after junk", "application/pdf", base64.StdEncoding.EncodeToString(append([]byte("junk\n"), pdfBytes...)), append([]byte("junk\n"), pdfBytes...)},
		{"jpeg", "image/jpeg", base64.StdEncoding.EncodeToString(jpeg), jpeg},
		{"tiff", "image/tiff", base64.StdEncoding.EncodeToString(tiff), tiff},
		{"media type case", "Application/PDF", b64, pdfBytes},
		{"text", "text/plain", base64.StdEncoding.EncodeToString([]byte("Bonjour")), []byte("Bonjour")},
		{"rtf", "text/rtf", base64.StdEncoding.EncodeToString([]byte(`{\rtf1 Bonjour}`)), []byte(`{\rtf1 Bonjour}`)},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, level1(tt.mediaType, `representation="B64"`, tt.text))
			if d.Level != 1 || len(d.Sections) != 0 {
				t.Errorf("level %d, %d sections", d.Level, len(d.Sections))
			}
			if d.MediaType != strings.ToLower(tt.mediaType) || !bytes.Equal(d.Content, tt.want) {
				t.Errorf("%s %q, want %q", d.MediaType, d.Content, tt.want)
			}
		})
	}

	refused := []struct{ name, doc, want string }{
		{"html", level1("text/html", `representation="B64"`, base64.StdEncoding.EncodeToString([]byte("<script>alert(1)</script>"))), "media type must be one of"},
		{"no media type", level1("", `representation="B64"`, b64), "media type must be one of"},
		{"not base64 representation", level1("text/plain", ``, "Bonjour"), `representation="B64"`},
		{"compressed", level1("application/pdf", `representation="B64" compression="DF"`, b64), "compressed"},
		{"empty", level1("application/pdf", `representation="B64"`, " \n "), "is empty"},
		{"reference only", level1("application/pdf", `representation="B64"`, `<reference value="http://example.org/x.pdf"/>`), "is empty"},
		{"bad base64", level1("application/pdf", `representation="B64"`, "JVBER!0xLjcK"), "not valid base64"},
		{"not a pdf", level1("application/pdf", `representation="B64"`, base64.StdEncoding.EncodeToString([]byte("<html><script>"))), "declared application/pdf but its content is not"},
		{"not a jpeg", level1("image/jpeg", `representation="B64"`, b64), "declared image/jpeg"},
		{"no text", doc("{{body}}", `<nonXMLBody/>`), "nonXMLBody/text missing"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.doc), 0)
			mustInvalid(t, err, tt.want)
		})
	}
}

// A failing reader is not an invalid document.
func TestParseReaderError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := Parse(io.MultiReader(strings.NewReader(doc()[:100]), errReader{boom}), 0)
	if !errors.Is(err, boom) || errs.Is(err, errs.Invalid) {
		t.Errorf("error %v (%s), want the reader's, not a fault of the document", err, errs.CodeOf(err))
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// A syntax error says what is wrong and where, and quotes no text of the document.
func TestParseSyntaxErrorQuotesNothing(t *testing.T) {
	_, err := Parse(strings.NewReader(doc("{{title}}", "PATIENTE&ALICE MARIE")), 0)
	mustInvalid(t, err, "not well-formed XML at line 9: invalid character entity")
	_, err = Parse(strings.NewReader(withBody("<paragraph>a</content>")), 0)
	mustInvalid(t, err, "element <paragraph> closed by </content>")
}
