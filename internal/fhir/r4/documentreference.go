package r4

import "encoding/json"

// DocumentReference is the metadata of one document: an XDS DocumentEntry in MHD (IHE ITI TF-3
// §4.5.1 "DocumentEntry Metadata Attributes", MHD "DocumentReference" mapping).
//
// XDS ↔ FHIR, as MHD maps them: uniqueId = masterIdentifier; entryUUID = identifier
// (urn:ietf:rfc:3986, "urn:uuid:…"); availabilityStatus = status; typeCode = type; classCode =
// category; patientId = subject; author = author; legalAuthenticator = authenticator;
// comments = description; confidentialityCode = securityLabel; mimeType, languageCode, size,
// hash, title, creationTime = content.attachment; formatCode = content.format;
// serviceStartTime/StopTime = context.period; healthcareFacilityTypeCode =
// context.facilityType; practiceSettingCode = context.practiceSetting; sourcePatientInfo =
// context.sourcePatientInfo; eventCodeList = context.event; referenceIdList = context.related.
type DocumentReference struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	MasterIdentifier *Identifier                  `json:"masterIdentifier,omitempty"`
	Identifier       []Identifier                 `json:"identifier,omitempty"`
	Status           string                       `json:"status"`              // current | superseded | entered-in-error
	DocStatus        string                       `json:"docStatus,omitempty"` // preliminary | final | amended | entered-in-error
	Type             *CodeableConcept             `json:"type,omitempty"`
	Category         []CodeableConcept            `json:"category,omitempty"`
	Subject          *Reference                   `json:"subject,omitempty"`
	Date             Instant                      `json:"date,omitempty"`
	Author           []Reference                  `json:"author,omitempty"`
	Authenticator    *Reference                   `json:"authenticator,omitempty"`
	Custodian        *Reference                   `json:"custodian,omitempty"`
	RelatesTo        []DocumentReferenceRelatesTo `json:"relatesTo,omitempty"`
	Description      string                       `json:"description,omitempty"`
	SecurityLabel    []CodeableConcept            `json:"securityLabel,omitempty"`
	Content          []DocumentReferenceContent   `json:"content"`
	Context          *DocumentReferenceContext    `json:"context,omitempty"`
}

// DocumentReference.status values (FHIR R4 document-reference-status, required binding).
const (
	DocumentStatusCurrent        = "current"
	DocumentStatusSuperseded     = "superseded"
	DocumentStatusEnteredInError = "entered-in-error"
)

// DocumentReferenceRelatesTo links to another document: "replaces" is the XDS RPLC association.
type DocumentReferenceRelatesTo struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Code              string      `json:"code"` // replaces | transforms | signs | appends
	Target            Reference   `json:"target"`
}

// DocumentReferenceContent is the document itself (by URL, usually a Binary of the same
// transaction) and its format.
type DocumentReferenceContent struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Attachment        Attachment  `json:"attachment"`
	Format            *Coding     `json:"format,omitempty"`
}

// DocumentReferenceContext is the clinical context of the document.
type DocumentReferenceContext struct {
	ID                string            `json:"id,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`
	Encounter         []Reference       `json:"encounter,omitempty"`
	Event             []CodeableConcept `json:"event,omitempty"`
	Period            *Period           `json:"period,omitempty"`
	FacilityType      *CodeableConcept  `json:"facilityType,omitempty"`
	PracticeSetting   *CodeableConcept  `json:"practiceSetting,omitempty"`
	SourcePatientInfo *Reference        `json:"sourcePatientInfo,omitempty"`
	Related           []Reference       `json:"related,omitempty"`
}
