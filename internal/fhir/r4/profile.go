package r4

import "encoding/json"

// The resources of a patient's medical profile (issue 8): what the patient and their
// professionals record about the person rather than about one act. Each follows its R4
// definition element for element (FHIR R4 §9 "Clinical"), but for a few elements whose data
// types are not modelled here (Timing, Ratio, SampledData, the backbone elements no client of
// ours sends: Condition.stage and .evidence, Dosage.doseAndRate, Device.udiCarrier and
// .property, Observation.referenceRange): a client that sends one is told the element is
// unknown, as for any element this package does not model. Choice elements ([x]) are one
// field per type; that at most one of them is set is the caller's check.

// Quantity is a measured amount (FHIR R4 §2.24.0.14), also used as Age and SimpleQuantity.
// Value is a decimal kept as written.
type Quantity struct {
	ID         string      `json:"id,omitempty"`
	Extension  []Extension `json:"extension,omitempty"`
	Value      json.Number `json:"value,omitempty"`
	Comparator string      `json:"comparator,omitempty"` // < | <= | >= | >
	Unit       string      `json:"unit,omitempty"`
	System     string      `json:"system,omitempty"`
	Code       string      `json:"code,omitempty"`
}

// SystemUCUM is the code system of units (UCUM).
const SystemUCUM = "http://unitsofmeasure.org"

// Range is a low and a high quantity, either optional.
type Range struct {
	ID        string      `json:"id,omitempty"`
	Extension []Extension `json:"extension,omitempty"`
	Low       *Quantity   `json:"low,omitempty"`
	High      *Quantity   `json:"high,omitempty"`
}

// The code systems of the profile resources' statuses (FHIR R4 terminology).
const (
	SystemAllergyClinical     = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
	SystemAllergyVerification = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
	SystemConditionClinical   = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	SystemConditionVerStatus  = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	SystemConditionCategory   = "http://terminology.hl7.org/CodeSystem/condition-category"
	SystemObservationCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
	SystemV3RoleCode          = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
	SystemV2ContactRole       = "http://terminology.hl7.org/CodeSystem/v2-0131"
	SystemSNOMED              = "http://snomed.info/sct"
)

// AllergyIntolerance is a risk of harmful reaction to a substance (FHIR R4 AllergyIntolerance).
type AllergyIntolerance struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier         []Identifier                 `json:"identifier,omitempty"`
	ClinicalStatus     *CodeableConcept             `json:"clinicalStatus,omitempty"`
	VerificationStatus *CodeableConcept             `json:"verificationStatus,omitempty"`
	Type               string                       `json:"type,omitempty"`        // allergy | intolerance
	Category           []string                     `json:"category,omitempty"`    // food | medication | environment | biologic
	Criticality        string                       `json:"criticality,omitempty"` // low | high | unable-to-assess
	Code               *CodeableConcept             `json:"code,omitempty"`
	Patient            Reference                    `json:"patient"`
	Encounter          *Reference                   `json:"encounter,omitempty"`
	OnsetDateTime      DateTime                     `json:"onsetDateTime,omitempty"`
	OnsetAge           *Quantity                    `json:"onsetAge,omitempty"`
	OnsetPeriod        *Period                      `json:"onsetPeriod,omitempty"`
	OnsetRange         *Range                       `json:"onsetRange,omitempty"`
	OnsetString        string                       `json:"onsetString,omitempty"`
	RecordedDate       DateTime                     `json:"recordedDate,omitempty"`
	Recorder           *Reference                   `json:"recorder,omitempty"`
	Asserter           *Reference                   `json:"asserter,omitempty"`
	LastOccurrence     DateTime                     `json:"lastOccurrence,omitempty"`
	Note               []Annotation                 `json:"note,omitempty"`
	Reaction           []AllergyIntoleranceReaction `json:"reaction,omitempty"`
}

// AllergyIntoleranceReaction is one adverse reaction event.
type AllergyIntoleranceReaction struct {
	ID                string            `json:"id,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`
	Substance         *CodeableConcept  `json:"substance,omitempty"`
	Manifestation     []CodeableConcept `json:"manifestation"`
	Description       string            `json:"description,omitempty"`
	Onset             DateTime          `json:"onset,omitempty"`
	Severity          string            `json:"severity,omitempty"` // mild | moderate | severe
	ExposureRoute     *CodeableConcept  `json:"exposureRoute,omitempty"`
	Note              []Annotation      `json:"note,omitempty"`
}

// Condition is a problem, diagnosis or health concern: in the profile, a past or current one
// (antécédent) (FHIR R4 Condition).
type Condition struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier         []Identifier      `json:"identifier,omitempty"`
	ClinicalStatus     *CodeableConcept  `json:"clinicalStatus,omitempty"`
	VerificationStatus *CodeableConcept  `json:"verificationStatus,omitempty"`
	Category           []CodeableConcept `json:"category,omitempty"`
	Severity           *CodeableConcept  `json:"severity,omitempty"`
	Code               *CodeableConcept  `json:"code,omitempty"`
	BodySite           []CodeableConcept `json:"bodySite,omitempty"`
	Subject            Reference         `json:"subject"`
	Encounter          *Reference        `json:"encounter,omitempty"`
	OnsetDateTime      DateTime          `json:"onsetDateTime,omitempty"`
	OnsetAge           *Quantity         `json:"onsetAge,omitempty"`
	OnsetPeriod        *Period           `json:"onsetPeriod,omitempty"`
	OnsetRange         *Range            `json:"onsetRange,omitempty"`
	OnsetString        string            `json:"onsetString,omitempty"`
	AbatementDateTime  DateTime          `json:"abatementDateTime,omitempty"`
	AbatementAge       *Quantity         `json:"abatementAge,omitempty"`
	AbatementPeriod    *Period           `json:"abatementPeriod,omitempty"`
	AbatementRange     *Range            `json:"abatementRange,omitempty"`
	AbatementString    string            `json:"abatementString,omitempty"`
	RecordedDate       DateTime          `json:"recordedDate,omitempty"`
	Recorder           *Reference        `json:"recorder,omitempty"`
	Asserter           *Reference        `json:"asserter,omitempty"`
	Note               []Annotation      `json:"note,omitempty"`
}

// MedicationStatement is a medication the patient takes, took or will take (FHIR R4
// MedicationStatement): in the profile, a current treatment.
type MedicationStatement struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier                []Identifier      `json:"identifier,omitempty"`
	BasedOn                   []Reference       `json:"basedOn,omitempty"`
	PartOf                    []Reference       `json:"partOf,omitempty"`
	Status                    string            `json:"status"` // active | completed | entered-in-error | intended | stopped | on-hold | unknown | not-taken
	StatusReason              []CodeableConcept `json:"statusReason,omitempty"`
	Category                  *CodeableConcept  `json:"category,omitempty"`
	MedicationCodeableConcept *CodeableConcept  `json:"medicationCodeableConcept,omitempty"`
	MedicationReference       *Reference        `json:"medicationReference,omitempty"`
	Subject                   Reference         `json:"subject"`
	Context                   *Reference        `json:"context,omitempty"`
	EffectiveDateTime         DateTime          `json:"effectiveDateTime,omitempty"`
	EffectivePeriod           *Period           `json:"effectivePeriod,omitempty"`
	DateAsserted              DateTime          `json:"dateAsserted,omitempty"`
	InformationSource         *Reference        `json:"informationSource,omitempty"`
	DerivedFrom               []Reference       `json:"derivedFrom,omitempty"`
	ReasonCode                []CodeableConcept `json:"reasonCode,omitempty"`
	ReasonReference           []Reference       `json:"reasonReference,omitempty"`
	Note                      []Annotation      `json:"note,omitempty"`
	Dosage                    []Dosage          `json:"dosage,omitempty"`
}

// Dosage is how a medication is taken, in words and in the codes that do not need a Timing.
type Dosage struct {
	ID                       string            `json:"id,omitempty"`
	Extension                []Extension       `json:"extension,omitempty"`
	ModifierExtension        []Extension       `json:"modifierExtension,omitempty"`
	Sequence                 *int              `json:"sequence,omitempty"`
	Text                     string            `json:"text,omitempty"`
	AdditionalInstruction    []CodeableConcept `json:"additionalInstruction,omitempty"`
	PatientInstruction       string            `json:"patientInstruction,omitempty"`
	AsNeededBoolean          *bool             `json:"asNeededBoolean,omitempty"`
	AsNeededCodeableConcept  *CodeableConcept  `json:"asNeededCodeableConcept,omitempty"`
	Site                     *CodeableConcept  `json:"site,omitempty"`
	Route                    *CodeableConcept  `json:"route,omitempty"`
	Method                   *CodeableConcept  `json:"method,omitempty"`
	MaxDosePerAdministration *Quantity         `json:"maxDosePerAdministration,omitempty"`
	MaxDosePerLifetime       *Quantity         `json:"maxDosePerLifetime,omitempty"`
}

// Immunization is a vaccination given (FHIR R4 Immunization).
type Immunization struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier         []Identifier                  `json:"identifier,omitempty"`
	Status             string                        `json:"status"` // completed | entered-in-error | not-done
	StatusReason       *CodeableConcept              `json:"statusReason,omitempty"`
	VaccineCode        CodeableConcept               `json:"vaccineCode"`
	Patient            Reference                     `json:"patient"`
	Encounter          *Reference                    `json:"encounter,omitempty"`
	OccurrenceDateTime DateTime                      `json:"occurrenceDateTime,omitempty"`
	OccurrenceString   string                        `json:"occurrenceString,omitempty"`
	Recorded           DateTime                      `json:"recorded,omitempty"`
	PrimarySource      *bool                         `json:"primarySource,omitempty"`
	ReportOrigin       *CodeableConcept              `json:"reportOrigin,omitempty"`
	Location           *Reference                    `json:"location,omitempty"`
	Manufacturer       *Reference                    `json:"manufacturer,omitempty"`
	LotNumber          string                        `json:"lotNumber,omitempty"`
	ExpirationDate     Date                          `json:"expirationDate,omitempty"`
	Site               *CodeableConcept              `json:"site,omitempty"`
	Route              *CodeableConcept              `json:"route,omitempty"`
	DoseQuantity       *Quantity                     `json:"doseQuantity,omitempty"`
	Performer          []ImmunizationPerformer       `json:"performer,omitempty"`
	Note               []Annotation                  `json:"note,omitempty"`
	ReasonCode         []CodeableConcept             `json:"reasonCode,omitempty"`
	ReasonReference    []Reference                   `json:"reasonReference,omitempty"`
	IsSubpotent        *bool                         `json:"isSubpotent,omitempty"`
	ProtocolApplied    []ImmunizationProtocolApplied `json:"protocolApplied,omitempty"`
}

// ImmunizationPerformer is who vaccinated.
type ImmunizationPerformer struct {
	ID                string           `json:"id,omitempty"`
	Extension         []Extension      `json:"extension,omitempty"`
	ModifierExtension []Extension      `json:"modifierExtension,omitempty"`
	Function          *CodeableConcept `json:"function,omitempty"`
	Actor             Reference        `json:"actor"`
}

// ImmunizationProtocolApplied is the dose's place in a vaccination schedule.
type ImmunizationProtocolApplied struct {
	ID                     string            `json:"id,omitempty"`
	Extension              []Extension       `json:"extension,omitempty"`
	ModifierExtension      []Extension       `json:"modifierExtension,omitempty"`
	Series                 string            `json:"series,omitempty"`
	Authority              *Reference        `json:"authority,omitempty"`
	TargetDisease          []CodeableConcept `json:"targetDisease,omitempty"`
	DoseNumberPositiveInt  *int              `json:"doseNumberPositiveInt,omitempty"`
	DoseNumberString       string            `json:"doseNumberString,omitempty"`
	SeriesDosesPositiveInt *int              `json:"seriesDosesPositiveInt,omitempty"`
	SeriesDosesString      string            `json:"seriesDosesString,omitempty"`
}

// FamilyMemberHistory is a condition of a relative (FHIR R4 FamilyMemberHistory).
type FamilyMemberHistory struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier       []Identifier                   `json:"identifier,omitempty"`
	Status           string                         `json:"status"` // partial | completed | entered-in-error | health-unknown
	DataAbsentReason *CodeableConcept               `json:"dataAbsentReason,omitempty"`
	Patient          Reference                      `json:"patient"`
	Date             DateTime                       `json:"date,omitempty"`
	Name             string                         `json:"name,omitempty"`
	Relationship     CodeableConcept                `json:"relationship"`
	Sex              *CodeableConcept               `json:"sex,omitempty"`
	BornPeriod       *Period                        `json:"bornPeriod,omitempty"`
	BornDate         Date                           `json:"bornDate,omitempty"`
	BornString       string                         `json:"bornString,omitempty"`
	AgeAge           *Quantity                      `json:"ageAge,omitempty"`
	AgeRange         *Range                         `json:"ageRange,omitempty"`
	AgeString        string                         `json:"ageString,omitempty"`
	EstimatedAge     *bool                          `json:"estimatedAge,omitempty"`
	DeceasedBoolean  *bool                          `json:"deceasedBoolean,omitempty"`
	DeceasedAge      *Quantity                      `json:"deceasedAge,omitempty"`
	DeceasedRange    *Range                         `json:"deceasedRange,omitempty"`
	DeceasedDate     Date                           `json:"deceasedDate,omitempty"`
	DeceasedString   string                         `json:"deceasedString,omitempty"`
	ReasonCode       []CodeableConcept              `json:"reasonCode,omitempty"`
	ReasonReference  []Reference                    `json:"reasonReference,omitempty"`
	Note             []Annotation                   `json:"note,omitempty"`
	Condition        []FamilyMemberHistoryCondition `json:"condition,omitempty"`
}

// FamilyMemberHistoryCondition is one condition of the relative.
type FamilyMemberHistoryCondition struct {
	ID                 string           `json:"id,omitempty"`
	Extension          []Extension      `json:"extension,omitempty"`
	ModifierExtension  []Extension      `json:"modifierExtension,omitempty"`
	Code               CodeableConcept  `json:"code"`
	Outcome            *CodeableConcept `json:"outcome,omitempty"`
	ContributedToDeath *bool            `json:"contributedToDeath,omitempty"`
	OnsetAge           *Quantity        `json:"onsetAge,omitempty"`
	OnsetRange         *Range           `json:"onsetRange,omitempty"`
	OnsetPeriod        *Period          `json:"onsetPeriod,omitempty"`
	OnsetString        string           `json:"onsetString,omitempty"`
	Note               []Annotation     `json:"note,omitempty"`
}

// RelatedPerson is someone involved in the patient's care without being a carer: in the
// profile, an emergency contact or the trusted person (personne de confiance, CSP L1111-6)
// (FHIR R4 RelatedPerson).
type RelatedPerson struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier    []Identifier                 `json:"identifier,omitempty"`
	Active        *bool                        `json:"active,omitempty"`
	Patient       Reference                    `json:"patient"`
	Relationship  []CodeableConcept            `json:"relationship,omitempty"`
	Name          []HumanName                  `json:"name,omitempty"`
	Telecom       []ContactPoint               `json:"telecom,omitempty"`
	Gender        string                       `json:"gender,omitempty"`
	BirthDate     Date                         `json:"birthDate,omitempty"`
	Address       []Address                    `json:"address,omitempty"`
	Photo         []Attachment                 `json:"photo,omitempty"`
	Period        *Period                      `json:"period,omitempty"`
	Communication []RelatedPersonCommunication `json:"communication,omitempty"`
}

// RelatedPersonCommunication is a language the related person speaks.
type RelatedPersonCommunication struct {
	ID                string          `json:"id,omitempty"`
	Extension         []Extension     `json:"extension,omitempty"`
	ModifierExtension []Extension     `json:"modifierExtension,omitempty"`
	Language          CodeableConcept `json:"language"`
	Preferred         *bool           `json:"preferred,omitempty"`
}

// Consent is a statement of the patient's choices (FHIR R4 Consent): in the profile, their
// wishes (advance directives, CSP L1111-11; their position on organ donation, CSP L1232-1).
type Consent struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier       []Identifier      `json:"identifier,omitempty"`
	Status           string            `json:"status"` // draft | proposed | active | rejected | inactive | entered-in-error
	Scope            CodeableConcept   `json:"scope"`
	Category         []CodeableConcept `json:"category"`
	Patient          *Reference        `json:"patient,omitempty"`
	DateTime         DateTime          `json:"dateTime,omitempty"`
	Performer        []Reference       `json:"performer,omitempty"`
	SourceAttachment *Attachment       `json:"sourceAttachment,omitempty"`
	PolicyRule       *CodeableConcept  `json:"policyRule,omitempty"`
	Provision        *ConsentProvision `json:"provision,omitempty"`
}

// ConsentProvision is what a Consent permits or denies.
type ConsentProvision struct {
	Type string `json:"type,omitempty"` // deny | permit
}
