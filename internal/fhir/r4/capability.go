package r4

import "encoding/json"

// CapabilityStatement describes what a FHIR server does (GET [base]/metadata). The model covers
// a server's statement: no messaging, document or useContext parts.
type CapabilityStatement struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	URL                 string                             `json:"url,omitempty"`
	Version             string                             `json:"version,omitempty"`
	Name                string                             `json:"name,omitempty"`
	Title               string                             `json:"title,omitempty"`
	Status              string                             `json:"status"` // draft | active | retired | unknown
	Experimental        *bool                              `json:"experimental,omitempty"`
	Date                DateTime                           `json:"date"`
	Publisher           string                             `json:"publisher,omitempty"`
	Contact             []ContactDetail                    `json:"contact,omitempty"`
	Description         string                             `json:"description,omitempty"`
	Jurisdiction        []CodeableConcept                  `json:"jurisdiction,omitempty"`
	Purpose             string                             `json:"purpose,omitempty"`
	Copyright           string                             `json:"copyright,omitempty"`
	Kind                string                             `json:"kind"` // instance | capability | requirements
	Instantiates        []string                           `json:"instantiates,omitempty"`
	Imports             []string                           `json:"imports,omitempty"`
	Software            *CapabilityStatementSoftware       `json:"software,omitempty"`
	Implementation      *CapabilityStatementImplementation `json:"implementation,omitempty"`
	FHIRVersion         string                             `json:"fhirVersion"`
	Format              []string                           `json:"format"`
	PatchFormat         []string                           `json:"patchFormat,omitempty"`
	ImplementationGuide []string                           `json:"implementationGuide,omitempty"`
	Rest                []CapabilityStatementRest          `json:"rest,omitempty"`
}

// FHIRVersion is the version of FHIR this package speaks.
const FHIRVersion = "4.0.1"

// ContactDetail is a contact for a conformance resource.
type ContactDetail struct {
	ID        string         `json:"id,omitempty"`
	Extension []Extension    `json:"extension,omitempty"`
	Name      string         `json:"name,omitempty"`
	Telecom   []ContactPoint `json:"telecom,omitempty"`
}

// CapabilityStatementSoftware names the software.
type CapabilityStatementSoftware struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Name              string      `json:"name"`
	Version           string      `json:"version,omitempty"`
	ReleaseDate       DateTime    `json:"releaseDate,omitempty"`
}

// CapabilityStatementImplementation names the instance.
type CapabilityStatementImplementation struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Description       string      `json:"description"`
	URL               string      `json:"url,omitempty"`
	Custodian         *Reference  `json:"custodian,omitempty"`
}

// CapabilityStatementRest is the RESTful interface.
type CapabilityStatementRest struct {
	ID                string                           `json:"id,omitempty"`
	Extension         []Extension                      `json:"extension,omitempty"`
	ModifierExtension []Extension                      `json:"modifierExtension,omitempty"`
	Mode              string                           `json:"mode"` // client | server
	Documentation     string                           `json:"documentation,omitempty"`
	Security          *CapabilityStatementSecurity     `json:"security,omitempty"`
	Resource          []CapabilityStatementResource    `json:"resource,omitempty"`
	Interaction       []CapabilityStatementInteraction `json:"interaction,omitempty"`
	SearchParam       []CapabilityStatementSearchParam `json:"searchParam,omitempty"`
	Operation         []CapabilityStatementOperation   `json:"operation,omitempty"`
	Compartment       []string                         `json:"compartment,omitempty"`
}

// CapabilityStatementSecurity describes how clients authenticate.
type CapabilityStatementSecurity struct {
	ID                string            `json:"id,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`
	CORS              *bool             `json:"cors,omitempty"`
	Service           []CodeableConcept `json:"service,omitempty"`
	Description       string            `json:"description,omitempty"`
}

// CapabilityStatementResource is what the server does with one resource type.
type CapabilityStatementResource struct {
	ID                string                           `json:"id,omitempty"`
	Extension         []Extension                      `json:"extension,omitempty"`
	ModifierExtension []Extension                      `json:"modifierExtension,omitempty"`
	Type              string                           `json:"type"`
	Profile           string                           `json:"profile,omitempty"`
	SupportedProfile  []string                         `json:"supportedProfile,omitempty"`
	Documentation     string                           `json:"documentation,omitempty"`
	Interaction       []CapabilityStatementInteraction `json:"interaction,omitempty"`
	Versioning        string                           `json:"versioning,omitempty"`
	ReadHistory       *bool                            `json:"readHistory,omitempty"`
	UpdateCreate      *bool                            `json:"updateCreate,omitempty"`
	ConditionalCreate *bool                            `json:"conditionalCreate,omitempty"`
	ConditionalRead   string                           `json:"conditionalRead,omitempty"`
	ConditionalUpdate *bool                            `json:"conditionalUpdate,omitempty"`
	ConditionalDelete string                           `json:"conditionalDelete,omitempty"`
	ReferencePolicy   []string                         `json:"referencePolicy,omitempty"`
	SearchInclude     []string                         `json:"searchInclude,omitempty"`
	SearchRevInclude  []string                         `json:"searchRevInclude,omitempty"`
	SearchParam       []CapabilityStatementSearchParam `json:"searchParam,omitempty"`
	Operation         []CapabilityStatementOperation   `json:"operation,omitempty"`
}

// CapabilityStatementInteraction is one supported interaction: read, vread, update, patch,
// delete, history-instance, history-type, create, search-type (resource level), or transaction,
// batch, search-system, history-system (system level).
type CapabilityStatementInteraction struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Code              string      `json:"code"`
	Documentation     string      `json:"documentation,omitempty"`
}

// CapabilityStatementSearchParam is one supported search parameter.
type CapabilityStatementSearchParam struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Name              string      `json:"name"`
	Definition        string      `json:"definition,omitempty"`
	Type              string      `json:"type"` // number | date | string | token | reference | composite | quantity | uri | special
	Documentation     string      `json:"documentation,omitempty"`
}

// CapabilityStatementOperation is one supported operation ($name).
type CapabilityStatementOperation struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Name              string      `json:"name"`
	Definition        string      `json:"definition"`
	Documentation     string      `json:"documentation,omitempty"`
}
