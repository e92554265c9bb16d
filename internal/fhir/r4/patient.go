package r4

import "encoding/json"

// Patient is a FHIR Patient. In carnet it is mostly the holder of a space, identified by INS;
// in MHD it also appears contained in a DocumentReference as its sourcePatientInfo.
type Patient struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier           []Identifier           `json:"identifier,omitempty"`
	Active               *bool                  `json:"active,omitempty"`
	Name                 []HumanName            `json:"name,omitempty"`
	Telecom              []ContactPoint         `json:"telecom,omitempty"`
	Gender               string                 `json:"gender,omitempty"` // male | female | other | unknown
	BirthDate            Date                   `json:"birthDate,omitempty"`
	DeceasedBoolean      *bool                  `json:"deceasedBoolean,omitempty"`
	DeceasedDateTime     DateTime               `json:"deceasedDateTime,omitempty"`
	Address              []Address              `json:"address,omitempty"`
	MaritalStatus        *CodeableConcept       `json:"maritalStatus,omitempty"`
	MultipleBirthBoolean *bool                  `json:"multipleBirthBoolean,omitempty"`
	MultipleBirthInteger *int                   `json:"multipleBirthInteger,omitempty"`
	Photo                []Attachment           `json:"photo,omitempty"`
	Contact              []PatientContact       `json:"contact,omitempty"`
	Communication        []PatientCommunication `json:"communication,omitempty"`
	GeneralPractitioner  []Reference            `json:"generalPractitioner,omitempty"`
	ManagingOrganization *Reference             `json:"managingOrganization,omitempty"`
	Link                 []PatientLink          `json:"link,omitempty"`
}

// PatientContact is a contact party of the patient (trusted person, legal representative, ...).
type PatientContact struct {
	ID                string            `json:"id,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`
	Relationship      []CodeableConcept `json:"relationship,omitempty"`
	Name              *HumanName        `json:"name,omitempty"`
	Telecom           []ContactPoint    `json:"telecom,omitempty"`
	Address           *Address          `json:"address,omitempty"`
	Gender            string            `json:"gender,omitempty"`
	Organization      *Reference        `json:"organization,omitempty"`
	Period            *Period           `json:"period,omitempty"`
}

// PatientCommunication is a language the patient speaks.
type PatientCommunication struct {
	ID                string          `json:"id,omitempty"`
	Extension         []Extension     `json:"extension,omitempty"`
	ModifierExtension []Extension     `json:"modifierExtension,omitempty"`
	Language          CodeableConcept `json:"language"`
	Preferred         *bool           `json:"preferred,omitempty"`
}

// PatientLink links to another Patient or RelatedPerson record of the same person.
type PatientLink struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Other             Reference   `json:"other"`
	Type              string      `json:"type"` // replaced-by | replaces | refer | seealso
}
