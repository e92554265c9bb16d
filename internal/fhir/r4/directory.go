package r4

// The directory's resources (the MSSanté directory, internal/fhir directory.go): Practitioner,
// PractitionerRole and Organization, with the elements the directory fills, in the pattern of
// marshal.go, and their registration with the strict decoder.

import (
	"encoding/json"
	"reflect"
)

func init() {
	for name, f := range map[string]func() Resource{
		"Practitioner":     func() Resource { return new(Practitioner) },
		"PractitionerRole": func() Resource { return new(PractitionerRole) },
		"Organization":     func() Resource { return new(Organization) },
	} {
		newResource[name] = f
		resourceStructs[name] = reflect.TypeOf(f()).Elem()
	}
}

// Practitioner is a person with a formal responsibility in providing health care: in the
// directory, a professional identified by their IdNat_PS.
type Practitioner struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier    []Identifier                `json:"identifier,omitempty"`
	Active        *bool                       `json:"active,omitempty"`
	Name          []HumanName                 `json:"name,omitempty"`
	Telecom       []ContactPoint              `json:"telecom,omitempty"`
	Address       []Address                   `json:"address,omitempty"`
	Gender        string                      `json:"gender,omitempty"`
	BirthDate     Date                        `json:"birthDate,omitempty"`
	Qualification []PractitionerQualification `json:"qualification,omitempty"`
}

// PractitionerQualification is a qualification (a profession, a specialty) of a practitioner.
type PractitionerQualification struct {
	ID                string          `json:"id,omitempty"`
	Extension         []Extension     `json:"extension,omitempty"`
	ModifierExtension []Extension     `json:"modifierExtension,omitempty"`
	Identifier        []Identifier    `json:"identifier,omitempty"`
	Code              CodeableConcept `json:"code"`
	Period            *Period         `json:"period,omitempty"`
	Issuer            *Reference      `json:"issuer,omitempty"`
}

// PractitionerRole is what a practitioner does for an organisation: in the directory, one
// nominative (PER) mailbox, with its owner, their organisation and profession.
type PractitionerRole struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier   []Identifier      `json:"identifier,omitempty"`
	Active       *bool             `json:"active,omitempty"`
	Period       *Period           `json:"period,omitempty"`
	Practitioner *Reference        `json:"practitioner,omitempty"`
	Organization *Reference        `json:"organization,omitempty"`
	Code         []CodeableConcept `json:"code,omitempty"`
	Specialty    []CodeableConcept `json:"specialty,omitempty"`
	Location     []Reference       `json:"location,omitempty"`
	Telecom      []ContactPoint    `json:"telecom,omitempty"`
}

// Organization is a formally recognised grouping of people or organisations: in the
// directory, an organisation identified by its IdNat_Struct.
type Organization struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier []Identifier      `json:"identifier,omitempty"`
	Active     *bool             `json:"active,omitempty"`
	Type       []CodeableConcept `json:"type,omitempty"`
	Name       string            `json:"name,omitempty"`
	Alias      []string          `json:"alias,omitempty"`
	Telecom    []ContactPoint    `json:"telecom,omitempty"`
	Address    []Address         `json:"address,omitempty"`
	PartOf     *Reference        `json:"partOf,omitempty"`
}

type plainPractitioner Practitioner

// ResourceType returns "Practitioner".
func (Practitioner) ResourceType() string { return "Practitioner" }

// MarshalJSON writes the resource with its resourceType first.
func (r Practitioner) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainPractitioner
	}{"Practitioner", plainPractitioner(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *Practitioner) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainPractitioner
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("Practitioner", v.ResourceType); err != nil {
		return err
	}
	*r = Practitioner(v.plainPractitioner)
	return nil
}

type plainPractitionerRole PractitionerRole

// ResourceType returns "PractitionerRole".
func (PractitionerRole) ResourceType() string { return "PractitionerRole" }

// MarshalJSON writes the resource with its resourceType first.
func (r PractitionerRole) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainPractitionerRole
	}{"PractitionerRole", plainPractitionerRole(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *PractitionerRole) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainPractitionerRole
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("PractitionerRole", v.ResourceType); err != nil {
		return err
	}
	*r = PractitionerRole(v.plainPractitionerRole)
	return nil
}

type plainOrganization Organization

// ResourceType returns "Organization".
func (Organization) ResourceType() string { return "Organization" }

// MarshalJSON writes the resource with its resourceType first.
func (r Organization) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainOrganization
	}{"Organization", plainOrganization(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *Organization) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainOrganization
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("Organization", v.ResourceType); err != nil {
		return err
	}
	*r = Organization(v.plainOrganization)
	return nil
}
