// Package profile is in charge of the patient's medical profile (DOMAIN.md "Medical profile"):
// the sections that describe the person rather than one act of care — history (antécédents),
// current treatments, allergies and intolerances, family history, vaccinations, health
// measurements, wishes (advance directives, organ donation), emergency contacts, the trusted
// person and the blood group — and the personal health devices that push measurements (IHE
// PCH-01).
//
// An item of the profile is read and written like a document of the record, through the one
// access decision: the patient (or their representative, or an app within its scopes) and the
// professionals the decision allows add items; every item says who wrote it and when; the
// patient hides an item from professionals as they mask a document (MASQUE_PS: its author and
// the médecin traitant still see it); an edit, a masking or a deletion is a new version of the
// item, the former one superseded, as a document's metadata versions are. Each item is decided
// as a document of a category of the national tables (categories.go): a professional's entry
// as a document of the "profil_medical" space, the patient's own as a document they deposit in
// their "espace_personnel". Reads are decided in a read-only snapshot and traced after (the
// record's shape); writes are decided and traced in their own transaction.
package profile

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
)

// Section is a part of the profile.
type Section string

const (
	SectionHistory           Section = "history"            // antécédents médicaux et chirurgicaux
	SectionTreatments        Section = "treatments"         // traitements en cours
	SectionAllergies         Section = "allergies"          // allergies et intolérances
	SectionFamilyHistory     Section = "family_history"     // antécédents familiaux
	SectionVaccinations      Section = "vaccinations"       // vaccinations
	SectionMeasurements      Section = "measurements"       // mesures de santé
	SectionWishes            Section = "wishes"             // volontés (directives anticipées, don d'organes)
	SectionEmergencyContacts Section = "emergency_contacts" // contacts en cas d'urgence
	SectionTrustedPerson     Section = "trusted_person"     // personne de confiance (CSP L1111-6)
	SectionBloodGroup        Section = "blood_group"        // groupe sanguin
)

// Sections lists the sections in the order the profile shows them.
func Sections() []Section {
	return []Section{SectionAllergies, SectionTreatments, SectionHistory, SectionFamilyHistory, SectionVaccinations,
		SectionMeasurements, SectionBloodGroup, SectionWishes, SectionEmergencyContacts, SectionTrustedPerson}
}

// Valid reports whether s is one of the sections.
func (s Section) Valid() bool {
	for _, v := range Sections() {
		if s == v {
			return true
		}
	}
	return false
}

// Label says the section in French.
func (s Section) Label() string {
	switch s {
	case SectionHistory:
		return "Antécédents"
	case SectionTreatments:
		return "Traitements"
	case SectionAllergies:
		return "Allergies et intolérances"
	case SectionFamilyHistory:
		return "Antécédents familiaux"
	case SectionVaccinations:
		return "Vaccinations"
	case SectionMeasurements:
		return "Mesures de santé"
	case SectionWishes:
		return "Volontés"
	case SectionEmergencyContacts:
		return "Contacts en cas d'urgence"
	case SectionTrustedPerson:
		return "Personne de confiance"
	case SectionBloodGroup:
		return "Groupe sanguin"
	}
	return string(s)
}

// Status is the state of an item's current version.
type Status string

const (
	Active  Status = "active"
	Deleted Status = "deleted" // its author or the patient deleted it; its versions are kept
)

// Author is who wrote an item, or made one of its versions.
type Author struct {
	Kind audit.ActorKind `json:"kind"`
	// ID is the canonical IdNat_PS of a professional; the account, app or representative id
	// otherwise.
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	Profession string `json:"profession,omitempty"` // a professional's, e.g. G15_10
	Org        string `json:"org,omitempty"`
}

// Item is one entry of a patient's profile, as its current version (or, in a history, one of
// its versions) says it. Exactly one of the content fields is set, the one of Section.
type Item struct {
	ID        string // stable across versions: the FHIR id
	VersionID string // new for each version
	Version   int
	PatientID int64
	Section   Section
	Status    Status
	// Hidden: the patient hid the item from professionals (MASQUE_PS); its author and the
	// médecin traitant still see it.
	Hidden bool

	// Class and Type are the record category the item is decided as (categories.go), fixed
	// when the item is created.
	Class, Type string
	DepositedBy access.Depositor

	Author  Author    // who wrote the content of this version
	Written time.Time // when
	// ChangedBy made this version (a content edit, a masking, a deletion), at Changed.
	ChangedBy Author
	Changed   time.Time
	Created   time.Time // when the item's first version was written
	// At dates the item in the profile: when a measurement was taken, when the item was
	// created otherwise. Lists are newest first by At.
	At time.Time
	// Identifier is the sender's business identifier of the item ("system|value"), "" when
	// none: a measurement pushed twice with the same identifier is stored once.
	Identifier string
	// Device is the id of the device that took a measurement, "" when none.
	Device string

	Condition   *Condition
	Treatment   *Treatment
	Allergy     *Allergy
	Family      *FamilyHistory
	Vaccination *Vaccination
	Measurement *Measurement
	Wish        *Wish
	Contact     *Contact
	BloodGroup  *BloodGroup
}

// Ref names the item in traces.
func (it *Item) Ref() string { return "profile/" + it.ID }

// Object describes the item to the access decision: a document of its category, masked when
// the patient hid it, authored by the professional who wrote it.
func (it *Item) Object() access.Object {
	o := access.Object{Class: it.Class, Type: it.Type, Labels: access.Labels{MasquePS: it.Hidden},
		DepositedBy: it.DepositedBy}
	if it.DepositedBy == access.DepositedByProfessional && it.Author.ID != "" {
		o.Authors = []string{it.Author.ID}
	}
	return o
}

// Code is a coded concept: a code of a code system (its FHIR URI) and what it says.
type Code struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// IsZero reports whether c holds no code.
func (c Code) IsZero() bool { return c.Code == "" }

// Date is a calendar date, possibly partial as people remember them: "1995", "1995-06" or
// "1995-06-14".
type Date string

var dateRE = regexp.MustCompile(`^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$`)

// Valid reports whether d is a real (possibly partial) date.
func (d Date) Valid() bool {
	if !dateRE.MatchString(string(d)) {
		return false
	}
	if len(d) == 10 {
		_, err := time.Parse("2006-01-02", string(d))
		return err == nil
	}
	return true
}

// Time returns the first moment d designates, in UTC.
func (d Date) Time() time.Time {
	layout := map[int]string{4: "2006", 7: "2006-01", 10: "2006-01-02"}[len(d)]
	t, _ := time.Parse(layout, string(d))
	return t
}

// Condition is an antécédent: a past or current illness (medical) or an operation (surgical).
type Condition struct {
	Code     Code   `json:"code,omitzero"` // CIM-10 or SNOMED CT, when known
	Text     string `json:"text,omitempty"`
	Surgical bool   `json:"surgical,omitempty"`
	Status   string `json:"status"` // active | resolved
	Onset    Date   `json:"onset,omitempty"`
	End      Date   `json:"end,omitempty"`
	Note     string `json:"note,omitempty"`
}

// Treatment is a medication the patient takes.
type Treatment struct {
	Medication Code   `json:"medication,omitzero"` // ATC or CIS, when known
	Text       string `json:"text,omitempty"`
	Status     string `json:"status"` // active | completed | stopped
	Dosage     string `json:"dosage,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Start      Date   `json:"start,omitempty"`
	End        Date   `json:"end,omitempty"`
	Note       string `json:"note,omitempty"`
}

// Allergy is an allergy or an intolerance.
type Allergy struct {
	Substance   Code   `json:"substance,omitzero"`
	Text        string `json:"text,omitempty"`
	Type        string `json:"type,omitempty"`        // allergy | intolerance
	Category    string `json:"category,omitempty"`    // food | medication | environment | biologic
	Criticality string `json:"criticality,omitempty"` // low | high | unable-to-assess
	Status      string `json:"status"`                // active | inactive | resolved
	Reaction    string `json:"reaction,omitempty"`
	Onset       Date   `json:"onset,omitempty"`
	Note        string `json:"note,omitempty"`
}

// FamilyHistory is a condition of a relative.
type FamilyHistory struct {
	// Relationship is a code of HL7 v3 RoleCode (MTH mother, FTH father, SIS, BRO, GRMTH…).
	Relationship Code   `json:"relationship"`
	Condition    Code   `json:"condition,omitzero"`
	Text         string `json:"text,omitempty"`
	OnsetAge     int    `json:"onset_age,omitempty"` // in years, 0 when unknown
	Note         string `json:"note,omitempty"`
}

// Vaccination is a vaccine dose received.
type Vaccination struct {
	Vaccine Code   `json:"vaccine,omitzero"` // ATC or CIS, when known
	Text    string `json:"text,omitempty"`
	Date    Date   `json:"date"`
	Lot     string `json:"lot,omitempty"`
	Dose    int    `json:"dose,omitempty"` // the dose's number in its schedule, 0 when unknown
	Note    string `json:"note,omitempty"`
}

// Component is one value of a measurement taken together with others (the systolic and
// diastolic pressures of a blood pressure).
type Component struct {
	Code  string  `json:"code"` // LOINC
	Value float64 `json:"value"`
	Unit  string  `json:"unit"` // UCUM, the measure's own
}

// Measurement is a health measurement (measures.go): the value in the measure's unit, or, for
// a blood pressure, its components.
type Measurement struct {
	Code       string      `json:"code"` // LOINC, one of Measures
	Value      float64     `json:"value,omitempty"`
	Unit       string      `json:"unit,omitempty"` // UCUM
	Components []Component `json:"components,omitempty"`
	Taken      time.Time   `json:"taken"`
	// Sent is the value as sent when it was converted to the measure's unit ("5.5 mmol/L").
	Sent string `json:"sent,omitempty"`
	Note string `json:"note,omitempty"`
}

// ValueOf returns the measurement's value for component code (the measure's own code for a
// measure without components), and whether it has one.
func (m *Measurement) ValueOf(code string) (float64, bool) {
	if code == m.Code && len(m.Components) == 0 {
		return m.Value, true
	}
	for _, c := range m.Components {
		if c.Code == code {
			return c.Value, true
		}
	}
	return 0, false
}

// The kinds of wishes.
const (
	WishAdvanceDirectives = "advance_directives" // directives anticipées (CSP L1111-11)
	WishOrganDonation     = "organ_donation"     // position on organ donation (CSP L1232-1)
	WishOther             = "other"
)

// Wish is what the patient wants known: their advance directives, their position on organ
// donation, another wish.
type Wish struct {
	Kind string `json:"kind"`
	Text string `json:"text,omitempty"`
	// Consent is the position on organ donation: "yes" or "no" ("" for other kinds).
	Consent string `json:"consent,omitempty"`
	Date    Date   `json:"date,omitempty"` // when the patient wrote it
}

// Contact is an emergency contact or the trusted person.
type Contact struct {
	Name string `json:"name"`
	// Relationship is a code of HL7 v3 RoleCode (SPS spouse, MTH, CHILD, FRND…), when given.
	Relationship Code   `json:"relationship,omitzero"`
	Phone        string `json:"phone,omitempty"`
	Email        string `json:"email,omitempty"`
	Note         string `json:"note,omitempty"`
}

// BloodGroup is the ABO group and the RhD factor.
type BloodGroup struct {
	ABO string `json:"abo"` // A | B | AB | O
	Rh  string `json:"rh"`  // + | -
}

// String writes the group as people do: "A+", "O-".
func (b BloodGroup) String() string { return b.ABO + b.Rh }

// content returns the section of the content field set, and how many are set.
func (it *Item) content() (Section, int) {
	var s Section
	n := 0
	set := func(ok bool, sec Section) {
		if ok {
			s = sec
			n++
		}
	}
	set(it.Condition != nil, SectionHistory)
	set(it.Treatment != nil, SectionTreatments)
	set(it.Allergy != nil, SectionAllergies)
	set(it.Family != nil, SectionFamilyHistory)
	set(it.Vaccination != nil, SectionVaccinations)
	set(it.Measurement != nil, SectionMeasurements)
	set(it.Wish != nil, SectionWishes)
	set(it.Contact != nil, SectionEmergencyContacts)
	set(it.BloodGroup != nil, SectionBloodGroup)
	if s == SectionEmergencyContacts && it.Section == SectionTrustedPerson {
		s = SectionTrustedPerson
	}
	return s, n
}

// Code returns what the item is about, as a code: a measurement's LOINC code, the coded
// concept of the others ("" when it has none). The store indexes it for searches by code.
func (it *Item) Code() string {
	switch {
	case it.Measurement != nil:
		return it.Measurement.Code
	case it.Condition != nil:
		return it.Condition.Code.Code
	case it.Treatment != nil:
		return it.Treatment.Medication.Code
	case it.Allergy != nil:
		return it.Allergy.Substance.Code
	case it.Family != nil:
		return it.Family.Condition.Code
	case it.Vaccination != nil:
		return it.Vaccination.Vaccine.Code
	case it.BloodGroup != nil:
		return BloodGroupCode
	}
	return ""
}

// BloodGroupCode is the LOINC code of the blood group (ABO and Rh group).
const BloodGroupCode = "882-1"

// Limits of what an item holds.
const (
	maxText       = 1024 // a name, a label, a dosage
	maxNote       = 4096 // a note, an advance directive's text
	maxIdentifier = 256
	maxCode       = 128
)

// problems collects what is wrong with an item, in words safe to show to who sent it.
type problems []string

func (p *problems) add(format string, args ...any) {
	if len(args) == 0 {
		*p = append(*p, format)
		return
	}
	*p = append(*p, fmt.Sprintf(format, args...))
}

func (p *problems) text(field, v string, max int, required bool) {
	switch {
	case required && strings.TrimSpace(v) == "":
		p.add("the %s is missing", field)
	case len(v) > max:
		p.add("the %s is longer than %d bytes", field, max)
	}
}

func (p *problems) code(field string, c Code) {
	if len(c.Code) > maxCode || len(c.System) > maxText || len(c.Display) > maxText {
		p.add("the %s code is too long", field)
	}
	if c.Code != "" && c.System == "" {
		p.add("the %s code has no code system", field)
	}
}

func (p *problems) date(field string, d Date) {
	if d != "" && !d.Valid() {
		p.add("the %s is not a date (YYYY, YYYY-MM or YYYY-MM-DD)", field)
	}
}

func (p *problems) oneOf(field, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	p.add("the %s %s is not one of %s", field, strconv.Quote(short(v)), strings.Join(allowed, ", "))
}

// short cuts what a sender wrote for an error message.
func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
