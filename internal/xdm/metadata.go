package xdm

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
)

// entry is a document entry read from METADATA.XML, before its bytes are found.
type entry struct {
	doc   Document
	uri   string
	label string // how errors name it: "<METADATA.XML path>: document <n>"
}

// invalid builds the error of a problem found in metadata.
func invalid(format string, args ...any) error { return errs.E(errs.Invalid, format, args...) }

// parseMetadata reads the submission set and document entries of a SubmitObjectsRequest.
// where names the METADATA.XML in errors.
func parseMetadata(root *node, where string) (Submission, []entry, error) {
	if root.name.Space != nsLCM || root.name.Local != "SubmitObjectsRequest" {
		return Submission{}, nil, invalid("%s: the root element is %s, not the ebRS 3.0 lcm:SubmitObjectsRequest of an XDM package", where, describe(root))
	}
	list := root.child("RegistryObjectList")
	if list == nil {
		return Submission{}, nil, invalid("%s: rim:RegistryObjectList is missing", where)
	}
	var (
		packages, extrinsics []*node
		classified           = map[string][]*node{} // top-level classifications by object
		submissionIDs        = map[string]bool{}
		ids                  = map[string]bool{}
	)
	for _, c := range list.children {
		switch {
		case c.is("Classification"):
			obj := strings.TrimSpace(c.attr("classifiedObject"))
			if strings.TrimSpace(c.attr("classificationNode")) == nodeSubmissionSet {
				submissionIDs[obj] = true
			} else {
				classified[obj] = append(classified[obj], c)
			}
		case c.is("RegistryPackage"):
			packages = append(packages, c)
		case c.is("ExtrinsicObject"):
			extrinsics = append(extrinsics, c)
		default:
			continue
		}
		// Classifications classify objects by id: two objects of one id would make that
		// ambiguous.
		if id := trimUUID(strings.TrimSpace(c.attr("id"))); id != "" {
			if ids[id] {
				return Submission{}, nil, invalid("%s: two objects have the id %q", where, clip(id))
			}
			ids[id] = true
		}
	}

	// The submission set is the RegistryPackage classified as one (ITI TF-3 §4.2.1.1); other
	// packages are folders. A sender that forgot the classification is still understood when
	// exactly one package carries a submission set's uniqueId.
	var sets []*node
	for _, p := range packages {
		if submissionIDs[strings.TrimSpace(p.attr("id"))] {
			sets = append(sets, p)
		}
	}
	if len(sets) == 0 {
		for _, p := range packages {
			for _, e := range p.children {
				if e.is("ExternalIdentifier") && strings.TrimSpace(e.attr("identificationScheme")) == idSSUniqueID {
					sets = append(sets, p)
					break
				}
			}
		}
	}
	switch len(sets) {
	case 0:
		return Submission{}, nil, invalid("%s: no submission set (a rim:RegistryPackage classified as XDSSubmissionSet)", where)
	case 1:
	default:
		return Submission{}, nil, invalid("%s: %d submission sets, where a subset holds one", where, len(sets))
	}
	sub, err := submissionSet(sets[0], classified, where+": submission set")
	if err != nil {
		return Submission{}, nil, err
	}
	if len(extrinsics) == 0 {
		return Submission{}, nil, invalid("%s: no document entry (rim:ExtrinsicObject)", where)
	}
	entries := make([]entry, len(extrinsics))
	for i, n := range extrinsics {
		label := fmt.Sprintf("%s: document %d", where, i+1)
		e, err := documentEntry(n, classified, label)
		if err != nil {
			return Submission{}, nil, err
		}
		if patientKey(e.doc.PatientID) != patientKey(sub.PatientID) {
			return Submission{}, nil, invalid("%s: its patientId is not the submission set's: a subset is for one patient", label)
		}
		entries[i] = e
	}
	return sub, entries, nil
}

func describe(n *node) string {
	if n.name.Space == "" {
		return n.name.Local
	}
	return fmt.Sprintf("%s in namespace %s", n.name.Local, clip(n.name.Space))
}

// object is what every ebRIM RegistryObject carries.
type object struct {
	id      string
	slots   map[string][]string
	name    string
	desc    string
	classes []*node           // nested and top-level classifications
	extIDs  map[string]string // ExternalIdentifier value by identificationScheme
	label   string
}

func readObject(n *node, classified map[string][]*node, label string) (*object, error) {
	o := &object{id: strings.TrimSpace(n.attr("id")), extIDs: map[string]string{}, label: label}
	if o.id == "" {
		return nil, invalid("%s: the id attribute is missing", label)
	}
	var err error
	if o.slots, err = readSlots(n, label); err != nil {
		return nil, err
	}
	for _, c := range n.children {
		switch {
		case c.is("Name"):
			o.name = localized(c)
		case c.is("Description"):
			o.desc = localized(c)
		case c.is("Classification"):
			o.classes = append(o.classes, c)
		case c.is("ExternalIdentifier"):
			scheme := strings.TrimSpace(c.attr("identificationScheme"))
			if _, dup := o.extIDs[scheme]; dup {
				return nil, invalid("%s: two external identifiers of scheme %s", label, clip(scheme))
			}
			o.extIDs[scheme] = strings.TrimSpace(c.attr("value"))
		}
	}
	o.classes = append(o.classes, classified[o.id]...)
	return o, nil
}

// readSlots reads the rim:Slot children of n: their values, trimmed, the empty ones left out.
func readSlots(n *node, label string) (map[string][]string, error) {
	slots := map[string][]string{}
	for _, s := range n.children {
		if !s.is("Slot") {
			continue
		}
		name := strings.TrimSpace(s.attr("name"))
		if name == "" {
			return nil, invalid("%s: a slot has no name", label)
		}
		if _, dup := slots[name]; dup {
			return nil, invalid("%s: the slot %s appears twice", label, clip(name))
		}
		var values []string
		if vl := s.child("ValueList"); vl != nil {
			for _, v := range vl.children {
				if t := strings.TrimSpace(string(v.text)); v.is("Value") && t != "" {
					values = append(values, t)
				}
			}
		}
		slots[name] = values
	}
	return slots, nil
}

// one returns the single value of a slot, "" when absent.
func one(slots map[string][]string, name, label string) (string, error) {
	v := slots[name]
	switch len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	}
	return "", invalid("%s: the slot %s has %d values, where one is expected", label, name, len(v))
}

// time returns the date-time of a single-valued slot, the zero time when absent.
func (o *object) time(name string) (time.Time, error) {
	v, err := one(o.slots, name, o.label)
	if err != nil || v == "" {
		return time.Time{}, err
	}
	t, err := parseDTM(v)
	if err != nil {
		return time.Time{}, invalid("%s: slot %s: %v", o.label, name, err)
	}
	return t, nil
}

// localized returns the text of the first rim:LocalizedString of a Name or Description.
func localized(n *node) string {
	if n == nil {
		return ""
	}
	if s := n.child("LocalizedString"); s != nil {
		return strings.TrimSpace(s.attr("value"))
	}
	return ""
}

// trimUUID returns an object id without its urn:uuid: prefix when it is a UUID, else as is.
func trimUUID(id string) string {
	if len(id) > 9 && strings.EqualFold(id[:9], "urn:uuid:") && validUUID(id[9:]) {
		return id[9:]
	}
	return id
}

// validUUID reports whether s is a UUID in its canonical text form (RFC 9562 §4).
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func submissionSet(n *node, classified map[string][]*node, label string) (Submission, error) {
	o, err := readObject(n, classified, label)
	if err != nil {
		return Submission{}, err
	}
	s := Submission{EntryUUID: trimUUID(o.id), Title: o.name, Comments: o.desc}
	if s.Submitted, err = o.time(slotSubmissionTime); err != nil {
		return Submission{}, err
	}
	for _, v := range o.slots[slotRecipient] {
		if r := parseRecipient(v); r != (Recipient{}) {
			s.IntendedRecipients = append(s.IntendedRecipients, r)
		}
	}
	seen := false
	for _, c := range o.classes {
		switch strings.TrimSpace(c.attr("classificationScheme")) {
		case schemeSSAuthor:
			a, err := readAuthor(c, label)
			if err != nil {
				return Submission{}, err
			}
			s.Authors = append(s.Authors, a)
		case schemeSSContent:
			if seen {
				return Submission{}, invalid("%s: two contentTypeCode classifications, where one is expected", label)
			}
			seen = true
			if s.ContentType, err = readCode(c, label); err != nil {
				return Submission{}, err
			}
		}
	}
	s.UniqueID, s.SourceID, s.PatientID = o.extIDs[idSSUniqueID], o.extIDs[idSSSourceID], o.extIDs[idSSPatientID]
	if s.UniqueID == "" {
		return Submission{}, invalid("%s: its uniqueId is missing", label)
	}
	if s.INS, err = patientINS(s.PatientID, label); err != nil {
		return Submission{}, err
	}
	return s, nil
}

func documentEntry(n *node, classified map[string][]*node, label string) (entry, error) {
	if ot := strings.TrimSpace(n.attr("objectType")); ot != "" && ot != objectTypeStable {
		if ot == objectTypeOnDemand {
			return entry{}, invalid("%s: an on-demand document entry, which has no bytes to carry", label)
		}
		return entry{}, invalid("%s: objectType %q is not the one of a document entry", label, clip(ot))
	}
	o, err := readObject(n, classified, label)
	if err != nil {
		return entry{}, err
	}
	d := Document{EntryUUID: trimUUID(o.id), Title: o.name, Comments: o.desc, MimeType: strings.TrimSpace(n.attr("mimeType"))}
	if d.MimeType == "" {
		return entry{}, invalid("%s: the mimeType attribute is missing", label)
	}
	if d.Created, err = o.time(slotCreationTime); err != nil {
		return entry{}, err
	}
	if d.ServiceStart, err = o.time(slotServiceStart); err != nil {
		return entry{}, err
	}
	if d.ServiceEnd, err = o.time(slotServiceStop); err != nil {
		return entry{}, err
	}
	var single [5]string
	for i, name := range []string{slotSourcePatientID, slotLanguage, slotSize, slotHash, slotLegalAuth} {
		if single[i], err = one(o.slots, name, label); err != nil {
			return entry{}, err
		}
	}
	d.SourcePatientID, d.Language = single[0], single[1]
	d.SourcePatientInfo = o.slots[slotSourcePatientInfo]
	d.ReferenceIDs = o.slots[slotReferenceIDs]
	d.LegalAuthenticator = parsePerson(single[4])

	// XDM requires size and hash (ITI TF-3 Table 4.2.3.2-1, "R" for XDM media): they are what
	// tells a document damaged or swapped in transit.
	switch size := single[2]; {
	case size == "":
		return entry{}, invalid("%s: the size slot is missing", label)
	case digits(size, 0) != len(size) || len(size) > 18:
		return entry{}, invalid("%s: the size %q is not a number of bytes", label, clip(size))
	default:
		d.Size, _ = strconv.ParseInt(size, 10, 64)
	}
	switch hash := strings.ToLower(single[3]); {
	case hash == "":
		return entry{}, invalid("%s: the hash slot is missing", label)
	case len(hash) != 40 || strings.Trim(hash, "0123456789abcdef") != "":
		return entry{}, invalid("%s: the hash %q is not a SHA-1 in hexadecimal", label, clip(hash))
	default:
		d.SHA1 = hash
	}
	uri, err := joinURI(o.slots[slotURI])
	if err != nil {
		return entry{}, invalid("%s: %v", label, err)
	}
	if uri == "" {
		return entry{}, invalid("%s: the URI slot, which names the document's file, is missing", label)
	}

	codeFields := map[string]*record.Code{schemeClass: &d.Class, schemeType: &d.Type, schemeFormat: &d.Format,
		schemeFacility: &d.FacilityType, schemePractice: &d.PracticeSetting}
	seen := map[string]bool{}
	for _, c := range o.classes {
		scheme := strings.TrimSpace(c.attr("classificationScheme"))
		if scheme == schemeAuthor {
			a, err := readAuthor(c, label)
			if err != nil {
				return entry{}, err
			}
			d.Authors = append(d.Authors, a)
			continue
		}
		dst, isSingle := codeFields[scheme]
		if !isSingle && scheme != schemeConfidential && scheme != schemeEvent {
			continue // a classification XDS does not define for a document entry
		}
		code, err := readCode(c, label)
		if err != nil {
			return entry{}, err
		}
		switch {
		case isSingle:
			if seen[scheme] {
				return entry{}, invalid("%s: two %s classifications, where one is expected", label, schemeName(scheme))
			}
			seen[scheme] = true
			*dst = code
		case code == (record.Code{}):
		case scheme == schemeEvent:
			d.EventCodes = append(d.EventCodes, code)
		case code.System == visibilitySystem:
			switch access.Label(code.Code) {
			case access.LabelMasquePS:
				d.MasquePS = true
			case access.LabelInvisiblePatient:
				d.InvisiblePatient = true
			case access.LabelInvisibleRepresentants:
				d.InvisibleRepresentants = true
			default:
				return entry{}, invalid("%s: unknown visibility label %q", label, clip(code.Code))
			}
		default:
			d.Confidentiality = append(d.Confidentiality, code)
		}
	}
	d.UniqueID, d.PatientID = o.extIDs[idUniqueID], o.extIDs[idPatientID]
	if d.UniqueID == "" {
		return entry{}, invalid("%s: its uniqueId is missing", label)
	}
	if d.INS, err = patientINS(d.PatientID, label); err != nil {
		return entry{}, err
	}
	return entry{doc: d, uri: uri, label: label}, nil
}

func schemeName(scheme string) string {
	switch scheme {
	case schemeClass:
		return "classCode"
	case schemeType:
		return "typeCode"
	case schemeFormat:
		return "formatCode"
	case schemeFacility:
		return "healthcareFacilityTypeCode"
	case schemePractice:
		return "practiceSettingCode"
	}
	return scheme
}

// joinURI returns the URI of a document from the values of its URI slot. A URI longer than a
// slot value (128 characters) is cut into values written "1|…", "2|…" (ITI TF-3
// §4.2.3.2.24); a single value may be written either way.
func joinURI(values []string) (string, error) {
	if len(values) == 0 {
		return "", nil
	}
	type part struct {
		n int
		s string
	}
	parts := make([]part, len(values))
	for i, v := range values {
		k := digits(v, 0)
		if k == 0 || k > 4 || k >= len(v) || v[k] != '|' {
			if len(values) == 1 {
				return v, nil
			}
			return "", fmt.Errorf("the URI slot has %d values, which are not numbered n|…", len(values))
		}
		parts[i] = part{atoi(v[:k]), v[k+1:]}
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].n < parts[j].n })
	var b strings.Builder
	for i, p := range parts {
		if p.n != i+1 {
			return "", fmt.Errorf("the URI slot's values are not numbered 1 to %d", len(parts))
		}
		b.WriteString(p.s)
	}
	return strings.TrimSpace(b.String()), nil
}

// readCode reads a coded classification: nodeRepresentation is the code, the codingScheme
// slot its system and the Name its display (ITI TF-3 §4.2.3.1.2).
func readCode(c *node, label string) (record.Code, error) {
	slots, err := readSlots(c, label)
	if err != nil {
		return record.Code{}, err
	}
	sys, err := one(slots, slotCodingScheme, label)
	if err != nil {
		return record.Code{}, err
	}
	return record.Code{Code: strings.TrimSpace(c.attr("nodeRepresentation")), System: sys, Display: localized(c.child("Name"))}, nil
}

// readAuthor reads an author classification (ITI TF-3 §4.2.3.1.4).
func readAuthor(c *node, label string) (Author, error) {
	slots, err := readSlots(c, label)
	if err != nil {
		return Author{}, err
	}
	person, err := one(slots, slotAuthorPerson, label)
	if err != nil {
		return Author{}, err
	}
	a := Author{Person: parsePerson(person), Telecoms: slots[slotAuthorTelecom]}
	for _, v := range slots[slotAuthorInstitution] {
		if in := parseInstitution(v); in != (Institution{}) {
			a.Institutions = append(a.Institutions, in)
		}
	}
	for _, v := range slots[slotAuthorRole] {
		if code := parseCode(v); code != (record.Code{}) {
			a.Roles = append(a.Roles, code)
		}
	}
	for _, v := range slots[slotAuthorSpecialty] {
		if code := parseCode(v); code != (record.Code{}) {
			a.Specialties = append(a.Specialties, code)
		}
	}
	return a, nil
}

// patientINS checks a patientId and returns the INS it holds when its assigning authority is
// one of the INS systems.
func patientINS(patientID, label string) (identity.INS, error) {
	if patientID == "" {
		return identity.INS{}, invalid("%s: its patientId is missing", label)
	}
	c := parseCX(patientID)
	if c.id == "" {
		return identity.INS{}, invalid("%s: its patientId holds no identifier", label)
	}
	if !identity.OID(c.authority).IsINS() {
		return identity.INS{}, nil
	}
	ins, err := identity.NewINS(c.id, identity.OID(c.authority))
	if err != nil {
		return identity.INS{}, invalid("%s: its patientId is not a valid INS: %v", label, err)
	}
	return ins, nil
}

// patientKey identifies the patient of a patientId: the identifier (in any letter case, as
// an INS of Corsica may be written 2A or 2a) and its authority.
func patientKey(patientID string) string {
	c := parseCX(patientID)
	return fold(c.id) + "\x00" + c.authority
}
