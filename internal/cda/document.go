// Package cda is in charge of the clinical documents carnet receives as HL7 CDA R2, written
// the way the French CI-SIS profiles them: it parses a document safely, reads the header the
// record needs (patient INS, type code, dates, authors, custodian, practice setting, facility
// type, event codes), checks the document against the deposit it came with, and renders a
// structured body as a safe HTML fragment.
//
// Levels: a CI-SIS document is either "level 1", a nonXMLBody wrapping a PDF, JPEG, TIFF,
// plain text or RTF file in base64, or a structuredBody of sections whose narrative block is
// the legally binding text ("level 3" when its sections also carry coded entries, "level 2"
// when they do not). Both structured forms are reported as Level 3: nothing here depends on
// the entries.
//
// Sources: HL7 CDA R2 (ANSI/HL7 CDA R2-2005), its narrative block (POCD_MT000040 StrucDoc);
// HL7 V3 Data Types R1 (TS, II, CD); ANS, CI-SIS "Volet Structuration minimale des documents
// de santé" and its schematrons (nonXMLBody media types, INS in recordTarget); DOMAIN.md
// "Documents".
package cda

import (
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/identity"
)

// Document is what carnet reads from a CDA R2 document. Fields absent from the document are
// left at their zero value; Parse refuses a document that lacks what CDA R2 itself requires
// (id, code, title, effectiveTime, confidentialityCode, one recordTarget, an author, the
// custodian, a body).
type Document struct {
	ID            II     // ClinicalDocument/id: the XDS uniqueId
	SetID         II     // ClinicalDocument/setId: the same for every version of the document
	VersionNumber int    // ClinicalDocument/versionNumber; 0 when absent
	Code          Code   // ClinicalDocument/code: the document type, the XDS typeCode (CI-SIS)
	Title         string // ClinicalDocument/title, white space collapsed
	// EffectiveTime is ClinicalDocument/effectiveTime, the creation time (XDS creationTime).
	EffectiveTime       time.Time
	ConfidentialityCode Code   // ClinicalDocument/confidentialityCode (N, R, V)
	LanguageCode        string // ClinicalDocument/languageCode ("fr-FR")

	Patient            Patient       // recordTarget/patientRole
	Authors            []Participant // author, in document order (at least one)
	Custodian          Organization  // custodian/assignedCustodian/representedCustodianOrganization
	LegalAuthenticator *Participant  // legalAuthenticator; nil when absent

	// ServiceStart and ServiceEnd span the documentationOf/serviceEvent/effectiveTime of
	// every service event (the earliest low, the latest high): XDS serviceStartTime and
	// serviceEndTime. Zero when no event states them.
	ServiceStart, ServiceEnd time.Time
	// EventCodes are the documentationOf/serviceEvent/code of every service event that has
	// one (XDS eventCodeList).
	EventCodes []Code
	// PracticeSetting is the first documentationOf/serviceEvent/performer/assignedEntity/
	// representedOrganization/standardIndustryClassCode (XDS practiceSettingCode, J04).
	PracticeSetting Code
	// FacilityType is componentOf/encompassingEncounter/location/healthCareFacility/code
	// (XDS healthcareFacilityTypeCode, J02).
	FacilityType Code

	Level int // 1 (nonXMLBody) or 3 (structuredBody)

	// Level 1: the media type of nonXMLBody/text and its decoded content. Parse accepts the
	// media types of the CI-SIS only, and checks that a PDF, JPEG, TIFF or RTF starts like one.
	MediaType string
	Content   []byte

	// Level 3: the sections of structuredBody, in document order, with their subsections.
	Sections []*Section
}

// II is an HL7 instance identifier: an OID or UUID (Root) and an optional Extension.
type II struct {
	Root      string
	Extension string
}

// Code is an HL7 coded value (CD/CE/CV): the code, its code system OID and the label the
// sender wrote. A value with a nullFlavor reads as the zero Code.
type Code struct {
	Code        string
	System      string
	DisplayName string
}

// Patient is recordTarget/patientRole.
type Patient struct {
	// INS is the national health identifier: the first patientRole/id whose root is one of
	// the INS OIDs (NIR, NIA, test NIR, demo NIR), checked by identity.NewINS. Zero when no
	// such id is present or when the first one is not a valid INS (see INSError).
	INS identity.INS
	// INSError says why the first id carrying an INS OID was refused (wrong length, key…);
	// nil when INS is set or when no id carries an INS OID. It never quotes the number.
	INSError error
	// IDs are the other identifiers of patientRole (the local patient id of the sender, and
	// any further id with an INS OID, which Check compares as well).
	IDs       []II
	Name      PersonName
	BirthTime time.Time // patient/birthTime; a date reads as midnight UTC
	Gender    string    // patient/administrativeGenderCode/@code: F, M or U
}

// Participant is an author or the legal authenticator: a professional (or a device) acting
// for an organisation.
type Participant struct {
	Time time.Time // author/time, legalAuthenticator/time
	// ID is the participant's identifier: the id whose root is the IdNat_PS OID
	// (1.2.250.1.71.4.2.1) when there is one, else the first id.
	ID           II
	Code         Code       // profession or specialty (J01: G15_10/SM26 = médecin généraliste)
	Name         PersonName // assignedPerson/name; zero for a device
	Device       string     // assignedAuthoringDevice: software name, else model name
	Organization Organization
}

// Organization is a represented organisation: its identifier (IdNat_Struct, FINESS…) and name.
type Organization struct {
	ID   II
	Name string
}

// Section is a section of a structured body.
type Section struct {
	ID    II
	Code  Code
	Title string // section/title, white space collapsed; may be empty
	// Text is the section/text element: the narrative block, which RenderHTML renders. Nil
	// when the section has none.
	Text     *Node
	Entries  int        // how many entry elements the section has
	Sections []*Section // component/section, in document order
}

// NamePart is one part of an HL7 person name (PN).
type NamePart struct {
	Kind      string // family, given, prefix, suffix, delimiter; "text" for untagged text
	Qualifier string // HL7 EntityNamePartQualifier: BR (birth), CL (used name), SP (spouse)…
	Value     string // white space collapsed
}

// PersonName is an HL7 person name. French documents give the birth names (qualifier BR: the
// INS traits) and the used names (CL) side by side.
type PersonName struct {
	Parts []NamePart
}

// Family returns the family name to show: the used name (CL) when there is one, else the
// birth name (BR), else the first family part.
func (n PersonName) Family() string { return n.pick("family") }

// Given returns the given name to show: the used first name (CL), else the first birth given
// name (BR), else the first given part (which may hold several names).
func (n PersonName) Given() string { return n.pick("given") }

// String returns "Given Family", or the untagged text of a name written without parts.
func (n PersonName) String() string {
	s := strings.TrimSpace(n.Given() + " " + n.Family())
	if s != "" {
		return s
	}
	var text []string
	for _, p := range n.Parts {
		if p.Kind == "text" {
			text = append(text, p.Value)
		}
	}
	return strings.Join(text, " ")
}

func (n PersonName) pick(kind string) string {
	for _, q := range []string{"CL", "BR", ""} {
		for _, p := range n.Parts {
			if p.Kind != kind || p.Value == "" {
				continue
			}
			if q == "" || hasToken(p.Qualifier, q) {
				return p.Value
			}
		}
	}
	return ""
}

// hasToken reports whether the space-separated set s holds tok (HL7 set<CS> attributes).
func hasToken(s, tok string) bool {
	for _, f := range strings.Fields(s) {
		if f == tok {
			return true
		}
	}
	return false
}
