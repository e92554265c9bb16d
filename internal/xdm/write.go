package xdm

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
)

// Write writes p as an XDM zip: README.TXT, INDEX.HTM, and for each submission set
// IHE_XDM/<subset>/METADATA.XML and its documents.
//
// What p leaves empty is filled in: subset names (SUBSET01, SUBSET02…), document paths
// (DOC0001.XML, DOC0002.PDF… in the first subset), entryUUIDs (random UUIDs), uniqueIds
// (2.25 OIDs of random UUIDs), sizes and hashes (of Content), patientIds (from the INS, or
// from the submission set), and the submission time (now). So Read(Write(p)) is p once those
// are filled, and Write is deterministic when none needs a random value or the clock.
//
// A stated size or hash that does not match Content, a path outside its subset, or documents
// of two patients in one subset are refused (errs.Invalid).
func Write(w io.Writer, p Package) error {
	subs := append([]Submission{p.Submission}, p.Others...)
	folded := map[string]bool{}
	for i := range subs {
		s := &subs[i]
		if s.Subset == "" {
			s.Subset = fmt.Sprintf("SUBSET%02d", i+1)
		}
		if why := entryNameProblem(s.Subset); why != "" || strings.Contains(s.Subset, "/") {
			if why == "" {
				why = "it holds a slash"
			}
			return errs.E(errs.Invalid, "write XDM: subset name %q: %s", clip(s.Subset), why)
		}
		if folded[fold(s.Subset)] {
			return errs.E(errs.Invalid, "write XDM: two subsets named %q", clip(s.Subset))
		}
		folded[fold(s.Subset)] = true
	}

	// Each document goes to the subset its path names, or to the first.
	docs := append([]Document(nil), p.Documents...)
	member := make([]int, len(docs))
	taken := map[string]bool{}
	for i := range docs {
		d := &docs[i]
		if d.Path == "" {
			continue
		}
		member[i] = -1
		for j, s := range subs {
			if rel, ok := strings.CutPrefix(d.Path, rootDir+"/"+s.Subset+"/"); ok {
				if why := uriProblem(rel); why != "" {
					return errs.E(errs.Invalid, "write XDM: document %d: path %q: %s", i+1, clip(d.Path), why)
				}
				if fold(rel) == metadataName {
					return errs.E(errs.Invalid, "write XDM: document %d: path %q is the subset's %s", i+1, clip(d.Path), metadataName)
				}
				member[i] = j
			}
		}
		if member[i] < 0 {
			return errs.E(errs.Invalid, "write XDM: document %d: path %q is not in %s/<subset>/ of a subset of the package", i+1, clip(d.Path), rootDir)
		}
		if taken[fold(d.Path)] {
			return errs.E(errs.Invalid, "write XDM: two documents at %q", clip(d.Path))
		}
		taken[fold(d.Path)] = true
	}
	n := 0
	for i := range docs {
		d := &docs[i]
		if d.Path != "" {
			continue
		}
		for {
			n++
			d.Path = fmt.Sprintf("%s/%s/DOC%04d.%s", rootDir, subs[0].Subset, n, extension(d.MimeType))
			if !taken[fold(d.Path)] {
				break
			}
		}
		taken[fold(d.Path)] = true
	}

	for i := range docs {
		if err := fillDocument(&docs[i], subs[member[i]]); err != nil {
			return errs.E(errs.CodeOf(err), "write XDM: document %d: %s", i+1, errs.MessageOf(err))
		}
	}
	for j := range subs {
		s := &subs[j]
		if s.EntryUUID == "" {
			s.EntryUUID = newUUID()
		}
		if s.UniqueID == "" {
			s.UniqueID = uuidOID(newUUID())
		}
		if s.Submitted.IsZero() {
			s.Submitted = time.Now().UTC().Truncate(time.Second)
		}
		if s.PatientID == "" {
			s.PatientID = insCX(s.INS)
		}
		for i, d := range docs {
			if member[i] != j {
				continue
			}
			if s.PatientID == "" {
				s.PatientID = d.PatientID
			}
			if patientKey(d.PatientID) != patientKey(s.PatientID) {
				return errs.E(errs.Invalid, "write XDM: document %d is not for the patient of subset %s", i+1, s.Subset)
			}
		}
		if s.PatientID == "" {
			return errs.E(errs.Invalid, "write XDM: subset %s: the patient is missing (no INS nor patientId)", s.Subset)
		}
		if err := checkINS(s.PatientID, s.INS); err != nil {
			return errs.E(errs.Invalid, "write XDM: subset %s: %s", s.Subset, errs.MessageOf(err))
		}
	}

	zw := zip.NewWriter(w)
	modified := subs[0].Submitted
	put := func(name string, data []byte) error {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified})
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		return err
	}
	if err := put(readmeName, readme(subs, docs)); err != nil {
		return fmt.Errorf("write XDM: %w", err)
	}
	if err := put(indexName, index(subs, docs, member)); err != nil {
		return fmt.Errorf("write XDM: %w", err)
	}
	for j, s := range subs {
		var mine []Document
		for i := range docs {
			if member[i] == j {
				mine = append(mine, docs[i])
			}
		}
		if len(mine) == 0 {
			return errs.E(errs.Invalid, "write XDM: subset %s holds no document", s.Subset)
		}
		if err := put(rootDir+"/"+s.Subset+"/"+metadataName, metadataXML(s, mine)); err != nil {
			return fmt.Errorf("write XDM: %w", err)
		}
		for _, d := range mine {
			if err := put(d.Path, d.Content); err != nil {
				return fmt.Errorf("write XDM: %w", err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write XDM: %w", err)
	}
	return nil
}

// fillDocument fills what d leaves empty and checks what it states.
func fillDocument(d *Document, s Submission) error {
	if d.MimeType == "" {
		return errs.E(errs.Invalid, "the mime type is missing")
	}
	if d.Size == 0 {
		d.Size = int64(len(d.Content)) // not stated
	}
	if d.Size != int64(len(d.Content)) {
		return errs.E(errs.Invalid, "the size stated (%d) is not the content's (%d bytes)", d.Size, len(d.Content))
	}
	sum := sha1.Sum(d.Content)
	if h := hex.EncodeToString(sum[:]); d.SHA1 == "" {
		d.SHA1 = h
	} else if !strings.EqualFold(d.SHA1, h) {
		return errs.E(errs.Invalid, "the hash stated does not match the content")
	}
	d.SHA1 = strings.ToLower(d.SHA1)
	if d.EntryUUID == "" {
		d.EntryUUID = newUUID()
	}
	if d.UniqueID == "" {
		d.UniqueID = uuidOID(newUUID())
	}
	if d.PatientID == "" {
		d.PatientID = insCX(d.INS)
	}
	if d.PatientID == "" {
		d.PatientID = s.PatientID
	}
	if d.PatientID == "" {
		d.PatientID = insCX(s.INS)
	}
	if d.PatientID == "" {
		return errs.E(errs.Invalid, "the patient is missing (no INS nor patientId)")
	}
	return checkINS(d.PatientID, d.INS)
}

// checkINS checks that a patientId and an INS, when both are given, name the same patient.
func checkINS(patientID string, ins identity.INS) error {
	if ins.Matricule == "" {
		return nil
	}
	c := parseCX(patientID)
	named, err := identity.NewINS(c.id, identity.OID(c.authority))
	if err != nil || named.Matricule != ins.Matricule || ins.System != "" && named.System != ins.System {
		return errs.E(errs.Invalid, "the patientId and the INS name different patients")
	}
	return nil
}

// insCX writes an INS as a patientId: matricule^^^&OID&ISO^NH (CI-SIS; NH: national health
// number, HL7 Table 0203).
func insCX(ins identity.INS) string {
	if ins.Matricule == "" {
		return ""
	}
	sys := ins.System
	if sys == "" {
		sys = identity.OIDNIR
	}
	return escape(ins.Matricule) + "^^^" + hd(string(sys)) + "^NH"
}

// extension returns the file extension of a mime type, in the upper case of XDM names.
func extension(mime string) string {
	m, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(mime)), ";")
	switch strings.TrimSpace(m) {
	case "text/xml", "application/xml", "application/hl7-v3+xml":
		return "XML"
	case "application/pdf":
		return "PDF"
	case "image/jpeg":
		return "JPG"
	case "image/png":
		return "PNG"
	case "image/tiff":
		return "TIF"
	case "text/plain":
		return "TXT"
	case "text/html":
		return "HTM"
	}
	return "BIN"
}

// xmlWriter writes indented XML, escaping every text and attribute value.
type xmlWriter struct {
	b     bytes.Buffer
	depth int
	ids   int    // classification and identifier ids given so far
	seed  string // what ids are derived from
}

func (x *xmlWriter) indent() {
	for i := 0; i < x.depth; i++ {
		x.b.WriteString("  ")
	}
}

func (x *xmlWriter) start(name string, empty bool, attrs ...string) {
	x.indent()
	x.b.WriteString("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		x.b.WriteString(" " + attrs[i] + `="`)
		xml.EscapeText(&x.b, []byte(attrs[i+1]))
		x.b.WriteString(`"`)
	}
	if empty {
		x.b.WriteString("/>\n")
		return
	}
	x.b.WriteString(">\n")
	x.depth++
}

func (x *xmlWriter) open(name string, attrs ...string)  { x.start(name, false, attrs...) }
func (x *xmlWriter) empty(name string, attrs ...string) { x.start(name, true, attrs...) }

func (x *xmlWriter) close(name string) {
	x.depth--
	x.indent()
	x.b.WriteString("</" + name + ">\n")
}

// slot writes a rim:Slot, or nothing when it has no value.
func (x *xmlWriter) slot(name string, values ...string) {
	var vs []string
	for _, v := range values {
		if v != "" {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return
	}
	x.open("rim:Slot", "name", name)
	x.open("rim:ValueList")
	for _, v := range vs {
		x.indent()
		x.b.WriteString("<rim:Value>")
		xml.EscapeText(&x.b, []byte(v))
		x.b.WriteString("</rim:Value>\n")
	}
	x.close("rim:ValueList")
	x.close("rim:Slot")
}

// localized writes a rim:Name or rim:Description, or nothing when text is empty.
func (x *xmlWriter) localized(element, text string) {
	if text == "" {
		return
	}
	x.open(element)
	x.empty("rim:LocalizedString", "xml:lang", "fr-FR", "charset", "UTF-8", "value", text)
	x.close(element)
}

// newID returns an id for a classification or external identifier: a UUID derived from the
// object's, so that the same package writes the same bytes.
func (x *xmlWriter) newID() string {
	x.ids++
	sum := sha1.Sum([]byte(x.seed + "#" + strconv.Itoa(x.ids)))
	sum[6] = sum[6]&0x0f | 0x50 // version 5 (name-based, SHA-1), RFC 9562 §5.5
	sum[8] = sum[8]&0x3f | 0x80
	return "urn:uuid:" + formatUUID(sum[:16])
}

func (x *xmlWriter) code(scheme, object string, c record.Code) {
	if c == (record.Code{}) {
		return
	}
	x.open("rim:Classification", "id", x.newID(), "objectType", otClass, "classificationScheme", scheme,
		"classifiedObject", object, "nodeRepresentation", c.Code)
	x.slot(slotCodingScheme, c.System)
	x.localized("rim:Name", c.Display)
	x.close("rim:Classification")
}

func (x *xmlWriter) author(scheme, object string, a Author) {
	x.open("rim:Classification", "id", x.newID(), "objectType", otClass, "classificationScheme", scheme,
		"classifiedObject", object, "nodeRepresentation", "")
	x.slot(slotAuthorPerson, a.Person.hl7())
	var vs []string
	for _, in := range a.Institutions {
		vs = append(vs, in.hl7())
	}
	x.slot(slotAuthorInstitution, vs...)
	vs = vs[:0]
	for _, c := range a.Roles {
		vs = append(vs, codeHL7(c))
	}
	x.slot(slotAuthorRole, vs...)
	vs = vs[:0]
	for _, c := range a.Specialties {
		vs = append(vs, codeHL7(c))
	}
	x.slot(slotAuthorSpecialty, vs...)
	x.slot(slotAuthorTelecom, a.Telecoms...)
	x.close("rim:Classification")
}

func (x *xmlWriter) externalID(scheme, object, value, name string) {
	if value == "" {
		return
	}
	x.open("rim:ExternalIdentifier", "id", x.newID(), "objectType", otExternalID, "identificationScheme", scheme,
		"registryObject", object, "value", value)
	x.localized("rim:Name", name)
	x.close("rim:ExternalIdentifier")
}

// objectID writes an entryUUID as an ebRIM id.
func objectID(entryUUID string) string {
	if validUUID(entryUUID) {
		return "urn:uuid:" + entryUUID
	}
	return entryUUID
}

// metadataXML writes the SubmitObjectsRequest of one subset.
func metadataXML(s Submission, docs []Document) []byte {
	ssID := objectID(s.EntryUUID)
	x := &xmlWriter{seed: ssID}
	x.b.WriteString(xml.Header)
	x.open("lcm:SubmitObjectsRequest", "xmlns:lcm", nsLCM, "xmlns:rim", nsRIM)
	x.open("rim:RegistryObjectList")
	for _, d := range docs {
		id := objectID(d.EntryUUID)
		x.open("rim:ExtrinsicObject", "id", id, "mimeType", d.MimeType, "objectType", objectTypeStable, "status", statusApproved)
		x.slot(slotCreationTime, formatDTM(d.Created))
		x.slot(slotHash, d.SHA1)
		x.slot(slotLanguage, d.Language)
		x.slot(slotLegalAuth, d.LegalAuthenticator.hl7())
		x.slot(slotServiceStart, formatDTM(d.ServiceStart))
		x.slot(slotServiceStop, formatDTM(d.ServiceEnd))
		x.slot(slotSize, strconv.FormatInt(d.Size, 10))
		x.slot(slotSourcePatientID, d.SourcePatientID)
		x.slot(slotSourcePatientInfo, d.SourcePatientInfo...)
		x.slot(slotURI, splitURI(strings.TrimPrefix(d.Path, rootDir+"/"+s.Subset+"/"))...)
		x.slot(slotReferenceIDs, d.ReferenceIDs...)
		x.localized("rim:Name", d.Title)
		x.localized("rim:Description", d.Comments)
		for _, a := range d.Authors {
			x.author(schemeAuthor, id, a)
		}
		x.code(schemeClass, id, d.Class)
		for _, c := range confidentiality(d) {
			x.code(schemeConfidential, id, c)
		}
		for _, c := range d.EventCodes {
			x.code(schemeEvent, id, c)
		}
		x.code(schemeFormat, id, d.Format)
		x.code(schemeFacility, id, d.FacilityType)
		x.code(schemePractice, id, d.PracticeSetting)
		x.code(schemeType, id, d.Type)
		x.externalID(idPatientID, id, d.PatientID, "XDSDocumentEntry.patientId")
		x.externalID(idUniqueID, id, d.UniqueID, "XDSDocumentEntry.uniqueId")
		x.close("rim:ExtrinsicObject")
	}

	x.open("rim:RegistryPackage", "id", ssID, "objectType", otPackage, "status", statusApproved)
	x.slot(slotSubmissionTime, formatDTM(s.Submitted))
	var rs []string
	for _, r := range s.IntendedRecipients {
		rs = append(rs, r.hl7())
	}
	x.slot(slotRecipient, rs...)
	x.localized("rim:Name", s.Title)
	x.localized("rim:Description", s.Comments)
	for _, a := range s.Authors {
		x.author(schemeSSAuthor, ssID, a)
	}
	x.code(schemeSSContent, ssID, s.ContentType)
	x.externalID(idSSUniqueID, ssID, s.UniqueID, "XDSSubmissionSet.uniqueId")
	x.externalID(idSSSourceID, ssID, s.SourceID, "XDSSubmissionSet.sourceId")
	x.externalID(idSSPatientID, ssID, s.PatientID, "XDSSubmissionSet.patientId")
	x.close("rim:RegistryPackage")
	x.empty("rim:Classification", "id", x.newID(), "objectType", otClass, "classifiedObject", ssID, "classificationNode", nodeSubmissionSet)
	for _, d := range docs {
		x.open("rim:Association", "id", x.newID(), "objectType", otAssociation, "associationType", assocHasMember,
			"sourceObject", ssID, "targetObject", objectID(d.EntryUUID))
		x.slot("SubmissionSetStatus", "Original")
		x.close("rim:Association")
	}
	x.close("rim:RegistryObjectList")
	x.close("lcm:SubmitObjectsRequest")
	return x.b.Bytes()
}

// confidentiality returns the confidentialityCode values of d, its visibility labels included.
func confidentiality(d Document) []record.Code {
	out := append([]record.Code(nil), d.Confidentiality...)
	for _, l := range []struct {
		set   bool
		label access.Label
	}{{d.MasquePS, access.LabelMasquePS}, {d.InvisiblePatient, access.LabelInvisiblePatient},
		{d.InvisibleRepresentants, access.LabelInvisibleRepresentants}} {
		if l.set {
			out = append(out, record.Code{Code: string(l.label), System: visibilitySystem})
		}
	}
	return out
}

// splitURI cuts a URI longer than 128 characters into numbered slot values (ITI TF-3
// §4.2.3.2.24). Cuts fall between characters, and never after a space, which a reader trims
// from a value.
func splitURI(uri string) []string {
	const max = 128
	if len(uri) <= max {
		return []string{uri}
	}
	var out []string
	for i := 0; len(uri) > 0; i++ {
		prefix := strconv.Itoa(i+1) + "|"
		n := min(len(uri), max-len(prefix))
		for n < len(uri) && n > 1 {
			r, _ := utf8.DecodeLastRuneInString(uri[:n])
			if utf8.RuneStart(uri[n]) && !unicode.IsSpace(r) {
				break
			}
			n--
		}
		out = append(out, prefix+uri[:n])
		uri = uri[n:]
	}
	return out
}

func readme(subs []Submission, docs []Document) []byte {
	var b strings.Builder
	b.WriteString("IHE XDM package (IHE ITI TF-1 §16, ITI TF-2b §3.32)\r\n\r\n")
	b.WriteString("Written by carnet, the patient health space (Mon espace santé).\r\n")
	b.WriteString("Contact: the operator of the patient's health space.\r\n\r\n")
	fmt.Fprintf(&b, "It holds %d submission set(s) and %d document(s).\r\n", len(subs), len(docs))
	b.WriteString("INDEX.HTM lists them; IHE_XDM/<subset>/METADATA.XML describes each document (ebRS 3.0).\r\n")
	return []byte(b.String())
}

func index(subs []Submission, docs []Document, member []int) []byte {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"fr\">\n<head><meta charset=\"utf-8\"><title>IHE XDM</title></head>\n<body>\n")
	b.WriteString("<h1>Documents de santé</h1>\n<p><a href=\"README.TXT\">README.TXT</a></p>\n")
	for j, s := range subs {
		fmt.Fprintf(&b, "<h2>%s</h2>\n<ul>\n", html.EscapeString(s.Subset))
		for i, d := range docs {
			if member[i] != j {
				continue
			}
			title := d.Title
			if title == "" {
				title = d.Path
			}
			fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a> (%s)</li>\n", html.EscapeString(d.Path), html.EscapeString(title), html.EscapeString(d.MimeType))
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString("</body>\n</html>\n")
	return []byte(b.String())
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b[:])
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// uuidOID returns the OID of a UUID under the 2.25 arc (ITU-T X.667 §6.3), as XDS requires an
// OID for a uniqueId.
func uuidOID(u string) string {
	b, _ := hex.DecodeString(strings.ReplaceAll(u, "-", ""))
	return "2.25." + new(big.Int).SetBytes(b).String()
}
