package r4

import "encoding/json"

// Observation is a measurement or a simple assertion about the patient (FHIR R4 Observation):
// in the profile, a health measurement (vital signs, activity, glucose, pain) or the blood
// group. IHE PCH-01 carries it in a transaction Bundle with its Device.
type Observation struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier           []Identifier           `json:"identifier,omitempty"`
	BasedOn              []Reference            `json:"basedOn,omitempty"`
	PartOf               []Reference            `json:"partOf,omitempty"`
	Status               string                 `json:"status"` // registered | preliminary | final | amended | corrected | cancelled | entered-in-error | unknown
	Category             []CodeableConcept      `json:"category,omitempty"`
	Code                 CodeableConcept        `json:"code"`
	Subject              *Reference             `json:"subject,omitempty"`
	Focus                []Reference            `json:"focus,omitempty"`
	Encounter            *Reference             `json:"encounter,omitempty"`
	EffectiveDateTime    DateTime               `json:"effectiveDateTime,omitempty"`
	EffectivePeriod      *Period                `json:"effectivePeriod,omitempty"`
	EffectiveInstant     Instant                `json:"effectiveInstant,omitempty"`
	Issued               Instant                `json:"issued,omitempty"`
	Performer            []Reference            `json:"performer,omitempty"`
	ValueQuantity        *Quantity              `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *CodeableConcept       `json:"valueCodeableConcept,omitempty"`
	ValueString          string                 `json:"valueString,omitempty"`
	ValueBoolean         *bool                  `json:"valueBoolean,omitempty"`
	ValueInteger         *int                   `json:"valueInteger,omitempty"`
	ValueRange           *Range                 `json:"valueRange,omitempty"`
	ValueDateTime        DateTime               `json:"valueDateTime,omitempty"`
	ValuePeriod          *Period                `json:"valuePeriod,omitempty"`
	DataAbsentReason     *CodeableConcept       `json:"dataAbsentReason,omitempty"`
	Interpretation       []CodeableConcept      `json:"interpretation,omitempty"`
	Note                 []Annotation           `json:"note,omitempty"`
	BodySite             *CodeableConcept       `json:"bodySite,omitempty"`
	Method               *CodeableConcept       `json:"method,omitempty"`
	Specimen             *Reference             `json:"specimen,omitempty"`
	Device               *Reference             `json:"device,omitempty"`
	HasMember            []Reference            `json:"hasMember,omitempty"`
	DerivedFrom          []Reference            `json:"derivedFrom,omitempty"`
	Component            []ObservationComponent `json:"component,omitempty"`
}

// ObservationComponent is one part of a measurement taken together (the systolic and
// diastolic pressures of a blood pressure).
type ObservationComponent struct {
	ID                   string            `json:"id,omitempty"`
	Extension            []Extension       `json:"extension,omitempty"`
	ModifierExtension    []Extension       `json:"modifierExtension,omitempty"`
	Code                 CodeableConcept   `json:"code"`
	ValueQuantity        *Quantity         `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *CodeableConcept  `json:"valueCodeableConcept,omitempty"`
	ValueString          string            `json:"valueString,omitempty"`
	ValueBoolean         *bool             `json:"valueBoolean,omitempty"`
	ValueInteger         *int              `json:"valueInteger,omitempty"`
	ValueRange           *Range            `json:"valueRange,omitempty"`
	ValueDateTime        DateTime          `json:"valueDateTime,omitempty"`
	ValuePeriod          *Period           `json:"valuePeriod,omitempty"`
	DataAbsentReason     *CodeableConcept  `json:"dataAbsentReason,omitempty"`
	Interpretation       []CodeableConcept `json:"interpretation,omitempty"`
}

// Observation.status values used by carnet (FHIR R4 observation-status).
const (
	ObservationStatusFinal   = "final"
	ObservationStatusAmended = "amended"
)

// Device is the instrument that took a measurement: in IHE PCH-01, the personal health device
// (a scale, a blood pressure monitor) or the app that read it (FHIR R4 Device).
type Device struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier         []Identifier           `json:"identifier,omitempty"`
	Definition         *Reference             `json:"definition,omitempty"`
	Status             string                 `json:"status,omitempty"` // active | inactive | entered-in-error | unknown
	StatusReason       []CodeableConcept      `json:"statusReason,omitempty"`
	DistinctIdentifier string                 `json:"distinctIdentifier,omitempty"`
	Manufacturer       string                 `json:"manufacturer,omitempty"`
	ManufactureDate    DateTime               `json:"manufactureDate,omitempty"`
	ExpirationDate     DateTime               `json:"expirationDate,omitempty"`
	LotNumber          string                 `json:"lotNumber,omitempty"`
	SerialNumber       string                 `json:"serialNumber,omitempty"`
	DeviceName         []DeviceName           `json:"deviceName,omitempty"`
	ModelNumber        string                 `json:"modelNumber,omitempty"`
	PartNumber         string                 `json:"partNumber,omitempty"`
	Type               *CodeableConcept       `json:"type,omitempty"`
	Specialization     []DeviceSpecialization `json:"specialization,omitempty"`
	Version            []DeviceVersion        `json:"version,omitempty"`
	Patient            *Reference             `json:"patient,omitempty"`
	Owner              *Reference             `json:"owner,omitempty"`
	Contact            []ContactPoint         `json:"contact,omitempty"`
	Location           *Reference             `json:"location,omitempty"`
	URL                string                 `json:"url,omitempty"`
	Note               []Annotation           `json:"note,omitempty"`
	Safety             []CodeableConcept      `json:"safety,omitempty"`
	Parent             *Reference             `json:"parent,omitempty"`
}

// DeviceName is a name of the device.
type DeviceName struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Name              string      `json:"name"`
	Type              string      `json:"type"` // udi-label-name | user-friendly-name | patient-reported-name | manufacturer-name | model-name | other
}

// DeviceSpecialization is a standard the device follows (IEEE 11073 for personal health
// devices).
type DeviceSpecialization struct {
	ID                string          `json:"id,omitempty"`
	Extension         []Extension     `json:"extension,omitempty"`
	ModifierExtension []Extension     `json:"modifierExtension,omitempty"`
	SystemType        CodeableConcept `json:"systemType"`
	Version           string          `json:"version,omitempty"`
}

// DeviceVersion is a version of the device's hardware or software.
type DeviceVersion struct {
	ID                string           `json:"id,omitempty"`
	Extension         []Extension      `json:"extension,omitempty"`
	ModifierExtension []Extension      `json:"modifierExtension,omitempty"`
	Type              *CodeableConcept `json:"type,omitempty"`
	Component         *Identifier      `json:"component,omitempty"`
	Value             string           `json:"value"`
}
