package cda

import (
	"bytes"
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// Parse reads a CDA R2 document of at most maxBytes bytes (DefaultMaxBytes when maxBytes <= 0)
// within the bounds MaxDepth and MaxElements, refusing any DOCTYPE.
//
// Every error is an *errs.Error with code errs.Invalid whose message says what is wrong
// ("CDA: ClinicalDocument/code missing") and never quotes the document's content.
//
// Parse checks the form of the document, not whom it is about: Check compares it with the
// deposit. An invalid INS does not stop Parse (see Patient.INSError); Check refuses it.
func Parse(r io.Reader, maxBytes int64) (*Document, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	root, err := parseTree(r, maxBytes)
	if err != nil {
		return nil, err
	}
	if root.Name != "ClinicalDocument" || root.Space != hl7NS {
		return nil, invalid("the root element must be ClinicalDocument in the namespace %s", hl7NS)
	}
	d := &Document{}
	for _, step := range []func(*Document, *Node) error{
		(*Document).readHeader,
		(*Document).readPatient,
		(*Document).readParticipants,
		(*Document).readService,
		(*Document).readBody,
	} {
		if err := step(d, root); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func invalid(format string, args ...any) error {
	return errs.E(errs.Invalid, "CDA: "+format, args...)
}

// readHeader reads the identification of the document itself.
func (d *Document) readHeader(cd *Node) error {
	d.ID = ii(cd.child("id"))
	if d.ID.Root == "" {
		return invalid("ClinicalDocument/id missing")
	}
	d.Code = code(cd.child("code"))
	if d.Code.Code == "" {
		return invalid("ClinicalDocument/code missing")
	}
	d.Title = cd.child("title").text()
	if d.Title == "" {
		return invalid("ClinicalDocument/title missing")
	}
	et := cd.child("effectiveTime")
	if et.Attr("value") == "" {
		return invalid("ClinicalDocument/effectiveTime missing")
	}
	var err error
	if d.EffectiveTime, err = ts(et, "ClinicalDocument/effectiveTime"); err != nil {
		return err
	}
	d.ConfidentialityCode = code(cd.child("confidentialityCode"))
	if d.ConfidentialityCode.Code == "" {
		return invalid("ClinicalDocument/confidentialityCode missing")
	}
	d.LanguageCode = strings.TrimSpace(cd.child("languageCode").Attr("code"))
	d.SetID = ii(cd.child("setId"))
	if v := cd.child("versionNumber").Attr("value"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return invalid("ClinicalDocument/versionNumber is not a positive integer")
		}
		d.VersionNumber = n
	}
	return nil
}

// readPatient reads recordTarget/patientRole. CDA R2 allows several record targets; a
// document of the national record is about one patient, and we refuse one about several.
func (d *Document) readPatient(cd *Node) error {
	rts := cd.all("recordTarget")
	switch {
	case len(rts) == 0:
		return invalid("ClinicalDocument/recordTarget missing")
	case len(rts) > 1:
		return invalid("more than one recordTarget: a document is about one patient")
	}
	pr := rts[0].child("patientRole")
	if pr == nil {
		return invalid("recordTarget/patientRole missing")
	}
	p := &d.Patient
	seenINS := false
	for _, id := range pr.all("id") {
		v := ii(id)
		if v.Root == "" {
			continue
		}
		if oid := identity.OID(v.Root); oid.IsINS() && !seenINS {
			seenINS = true
			ins, err := identity.NewINS(v.Extension, oid)
			if err != nil {
				p.INSError = err
			} else {
				p.INS = ins
			}
			continue
		}
		p.IDs = append(p.IDs, v)
	}
	pat := pr.child("patient")
	p.Name = personName(pat.child("name"))
	p.Gender = strings.TrimSpace(pat.child("administrativeGenderCode").Attr("code"))
	var err error
	p.BirthTime, err = ts(pat.child("birthTime"), "recordTarget/patientRole/patient/birthTime")
	return err
}

// readParticipants reads the authors, the custodian and the legal authenticator.
func (d *Document) readParticipants(cd *Node) error {
	authors := cd.all("author")
	if len(authors) == 0 {
		return invalid("ClinicalDocument/author missing")
	}
	for _, a := range authors {
		p, err := participant(a, a.child("assignedAuthor"), "author")
		if err != nil {
			return err
		}
		d.Authors = append(d.Authors, p)
	}
	cust := cd.child("custodian")
	if cust == nil {
		return invalid("ClinicalDocument/custodian missing")
	}
	d.Custodian = organization(cust.path("assignedCustodian", "representedCustodianOrganization"))
	if la := cd.child("legalAuthenticator"); la != nil {
		p, err := participant(la, la.child("assignedEntity"), "legalAuthenticator")
		if err != nil {
			return err
		}
		d.LegalAuthenticator = &p
	}
	return nil
}

// readService reads the service events (documentationOf) and the encounter (componentOf).
func (d *Document) readService(cd *Node) error {
	for _, doc := range cd.all("documentationOf") {
		se := doc.child("serviceEvent")
		if se == nil {
			continue
		}
		if c := code(se.child("code")); c.Code != "" {
			d.EventCodes = append(d.EventCodes, c)
		}
		et := se.child("effectiveTime")
		// An IVL_TS is low/high, or a single value for a point in time.
		low, err := ts(et.child("low"), "documentationOf/serviceEvent/effectiveTime/low")
		if err != nil {
			return err
		}
		high, err := ts(et.child("high"), "documentationOf/serviceEvent/effectiveTime/high")
		if err != nil {
			return err
		}
		if et.Attr("value") != "" {
			at, err := ts(et, "documentationOf/serviceEvent/effectiveTime")
			if err != nil {
				return err
			}
			low, high = at, at
		}
		if !low.IsZero() && (d.ServiceStart.IsZero() || low.Before(d.ServiceStart)) {
			d.ServiceStart = low
		}
		if !high.IsZero() && (d.ServiceEnd.IsZero() || high.After(d.ServiceEnd)) {
			d.ServiceEnd = high
		}
		if d.PracticeSetting.Code == "" {
			for _, perf := range se.all("performer") {
				c := code(perf.path("assignedEntity", "representedOrganization", "standardIndustryClassCode"))
				if c.Code != "" {
					d.PracticeSetting = c
					break
				}
			}
		}
	}
	d.FacilityType = code(cd.path("componentOf", "encompassingEncounter", "location", "healthCareFacility", "code"))
	return nil
}

// readBody finds the body and reads it according to its level.
func (d *Document) readBody(cd *Node) error {
	comp := cd.child("component")
	if sb := comp.child("structuredBody"); sb != nil {
		d.Level = 3
		d.Sections = sections(sb)
		if len(d.Sections) == 0 {
			return invalid("structuredBody has no section")
		}
		return nil
	}
	if nx := comp.child("nonXMLBody"); nx != nil {
		d.Level = 1
		return d.readNonXML(nx.child("text"))
	}
	return invalid("ClinicalDocument/component has neither structuredBody nor nonXMLBody")
}

// mediaTypes are the media types the CI-SIS accepts in a nonXMLBody (schematron
// nonXMLBody20110627), with the leading bytes their content must have, where there are some.
var mediaTypes = map[string]func([]byte) bool{
	"application/pdf": func(b []byte) bool {
		// ISO 32000-1 §7.5.2: the header is "%PDF-"; readers tolerate up to 1024 bytes before it.
		return bytes.Contains(b[:min(len(b), 1024)], []byte("%PDF-"))
	},
	"image/jpeg": func(b []byte) bool { return bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) }, // SOI
	"image/tiff": func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*"))
	},
	"text/rtf":   func(b []byte) bool { return bytes.HasPrefix(b, []byte(`{\rtf`)) },
	"text/plain": func([]byte) bool { return true },
}

// readNonXML decodes the level 1 content: nonXMLBody/text, base64 (representation="B64",
// required by the CI-SIS), line breaks and spaces allowed anywhere.
func (d *Document) readNonXML(t *Node) error {
	if t == nil {
		return invalid("nonXMLBody/text missing")
	}
	mt := strings.ToLower(strings.TrimSpace(t.Attr("mediaType")))
	check, ok := mediaTypes[mt]
	if !ok {
		return invalid("nonXMLBody/text media type must be one of application/pdf, image/jpeg, image/tiff, text/plain, text/rtf")
	}
	if t.Attr("representation") != "B64" {
		return invalid(`nonXMLBody/text must be base64 (representation="B64")`)
	}
	if t.Attr("compression") != "" {
		return invalid("nonXMLBody/text: compressed content is not supported")
	}
	var raw []byte
	for _, c := range t.Children {
		if c.IsText() {
			raw = appendNonSpace(raw, c.Text)
		}
	}
	if len(raw) == 0 {
		return invalid("nonXMLBody/text is empty")
	}
	enc := base64.StdEncoding
	if len(raw)%4 != 0 {
		enc = base64.RawStdEncoding // tolerate missing padding
	}
	b := make([]byte, enc.DecodedLen(len(raw)))
	n, err := enc.Decode(b, raw)
	if err != nil {
		return invalid("nonXMLBody/text is not valid base64")
	}
	b = b[:n]
	if !check(b) {
		return invalid("nonXMLBody/text is declared %s but its content is not", mt)
	}
	d.MediaType, d.Content = mt, b
	return nil
}

func appendNonSpace(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\r', '\n':
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// sections reads the component/section children of a structured body or of a section.
// The tree is at most MaxDepth deep, so the recursion is bounded.
func sections(parent *Node) []*Section {
	var out []*Section
	for _, c := range parent.all("component") {
		s := c.child("section")
		if s == nil {
			continue
		}
		out = append(out, &Section{
			ID:       ii(s.child("id")),
			Code:     code(s.child("code")),
			Title:    s.child("title").text(),
			Text:     s.child("text"),
			Entries:  len(s.all("entry")),
			Sections: sections(s),
		})
	}
	return out
}

// participant reads an author (assignedAuthor) or a legal authenticator (assignedEntity).
func participant(role, entity *Node, where string) (Participant, error) {
	var p Participant
	var err error
	if p.Time, err = ts(role.child("time"), where+"/time"); err != nil {
		return p, err
	}
	for i, id := range entity.all("id") {
		v := ii(id)
		if i == 0 || v.Root == string(identity.OIDIdNatPS) {
			p.ID = v
		}
		if v.Root == string(identity.OIDIdNatPS) {
			break
		}
	}
	p.Code = code(entity.child("code"))
	p.Name = personName(entity.path("assignedPerson", "name"))
	if dev := entity.child("assignedAuthoringDevice"); dev != nil {
		p.Device = dev.child("softwareName").text()
		if p.Device == "" {
			p.Device = dev.child("manufacturerModelName").text()
		}
	}
	p.Organization = organization(entity.child("representedOrganization"))
	return p, nil
}

func organization(n *Node) Organization {
	return Organization{ID: ii(n.child("id")), Name: n.child("name").text()}
}

func personName(n *Node) PersonName {
	var pn PersonName
	if n == nil {
		return pn
	}
	for _, c := range n.Children {
		switch {
		case c.IsText():
			if v := collapse(c.Text); v != "" {
				pn.Parts = append(pn.Parts, NamePart{Kind: "text", Value: v})
			}
		case c.Space == hl7NS:
			switch c.Name {
			case "family", "given", "prefix", "suffix", "delimiter":
				pn.Parts = append(pn.Parts, NamePart{Kind: c.Name, Qualifier: strings.TrimSpace(c.Attr("qualifier")), Value: c.text()})
			}
		}
	}
	return pn
}

func ii(n *Node) II {
	return II{Root: strings.TrimSpace(n.Attr("root")), Extension: strings.TrimSpace(n.Attr("extension"))}
}

func code(n *Node) Code {
	return Code{
		Code:        strings.TrimSpace(n.Attr("code")),
		System:      strings.TrimSpace(n.Attr("codeSystem")),
		DisplayName: collapse(n.Attr("displayName")),
	}
}

// ts reads the value attribute of a TS element; absent (or nullFlavor) is the zero time.
func ts(n *Node, where string) (time.Time, error) {
	v := strings.TrimSpace(n.Attr("value"))
	if v == "" {
		return time.Time{}, nil
	}
	t, err := ParseTS(v)
	if err != nil {
		return time.Time{}, errs.E(errs.Invalid, "CDA: %s is %s", where, errs.MessageOf(err))
	}
	return t, nil
}
