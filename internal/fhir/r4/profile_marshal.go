package r4

// The marshalling methods of the profile resources, in the pattern of marshal.go, and their
// registration with the strict decoder.

import (
	"encoding/json"
	"reflect"
)

// init registers the profile resources with DecodeResource (newResource and resourceStructs
// in decode.go) from this file, so that the profile's types stay in the files of the profile:
// init runs after both maps are built, and before any decoding.
func init() {
	for name, f := range map[string]func() Resource{
		"AllergyIntolerance":  func() Resource { return new(AllergyIntolerance) },
		"Condition":           func() Resource { return new(Condition) },
		"Consent":             func() Resource { return new(Consent) },
		"Device":              func() Resource { return new(Device) },
		"FamilyMemberHistory": func() Resource { return new(FamilyMemberHistory) },
		"Immunization":        func() Resource { return new(Immunization) },
		"MedicationStatement": func() Resource { return new(MedicationStatement) },
		"Observation":         func() Resource { return new(Observation) },
		"RelatedPerson":       func() Resource { return new(RelatedPerson) },
	} {
		newResource[name] = f
		resourceStructs[name] = reflect.TypeOf(f()).Elem()
	}
}

type plainAllergyIntolerance AllergyIntolerance

// ResourceType returns "AllergyIntolerance".
func (AllergyIntolerance) ResourceType() string { return "AllergyIntolerance" }

// MarshalJSON writes the resource with its resourceType first.
func (r AllergyIntolerance) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainAllergyIntolerance
	}{"AllergyIntolerance", plainAllergyIntolerance(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *AllergyIntolerance) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainAllergyIntolerance
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("AllergyIntolerance", v.ResourceType); err != nil {
		return err
	}
	*r = AllergyIntolerance(v.plainAllergyIntolerance)
	return nil
}

type plainCondition Condition

// ResourceType returns "Condition".
func (Condition) ResourceType() string { return "Condition" }

// MarshalJSON writes the resource with its resourceType first.
func (r Condition) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainCondition
	}{"Condition", plainCondition(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *Condition) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainCondition
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("Condition", v.ResourceType); err != nil {
		return err
	}
	*r = Condition(v.plainCondition)
	return nil
}

type plainDevice Device

// ResourceType returns "Device".
func (Device) ResourceType() string { return "Device" }

// MarshalJSON writes the resource with its resourceType first.
func (r Device) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainDevice
	}{"Device", plainDevice(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *Device) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainDevice
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("Device", v.ResourceType); err != nil {
		return err
	}
	*r = Device(v.plainDevice)
	return nil
}

type plainFamilyMemberHistory FamilyMemberHistory

// ResourceType returns "FamilyMemberHistory".
func (FamilyMemberHistory) ResourceType() string { return "FamilyMemberHistory" }

// MarshalJSON writes the resource with its resourceType first.
func (r FamilyMemberHistory) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainFamilyMemberHistory
	}{"FamilyMemberHistory", plainFamilyMemberHistory(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *FamilyMemberHistory) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainFamilyMemberHistory
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("FamilyMemberHistory", v.ResourceType); err != nil {
		return err
	}
	*r = FamilyMemberHistory(v.plainFamilyMemberHistory)
	return nil
}

type plainImmunization Immunization

// ResourceType returns "Immunization".
func (Immunization) ResourceType() string { return "Immunization" }

// MarshalJSON writes the resource with its resourceType first.
func (r Immunization) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainImmunization
	}{"Immunization", plainImmunization(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *Immunization) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainImmunization
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("Immunization", v.ResourceType); err != nil {
		return err
	}
	*r = Immunization(v.plainImmunization)
	return nil
}

type plainMedicationStatement MedicationStatement

// ResourceType returns "MedicationStatement".
func (MedicationStatement) ResourceType() string { return "MedicationStatement" }

// MarshalJSON writes the resource with its resourceType first.
func (r MedicationStatement) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainMedicationStatement
	}{"MedicationStatement", plainMedicationStatement(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *MedicationStatement) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainMedicationStatement
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("MedicationStatement", v.ResourceType); err != nil {
		return err
	}
	*r = MedicationStatement(v.plainMedicationStatement)
	return nil
}

type plainObservation Observation

// ResourceType returns "Observation".
func (Observation) ResourceType() string { return "Observation" }

// MarshalJSON writes the resource with its resourceType first.
func (r Observation) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainObservation
	}{"Observation", plainObservation(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *Observation) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainObservation
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("Observation", v.ResourceType); err != nil {
		return err
	}
	*r = Observation(v.plainObservation)
	return nil
}

type plainRelatedPerson RelatedPerson

// ResourceType returns "RelatedPerson".
func (RelatedPerson) ResourceType() string { return "RelatedPerson" }

// MarshalJSON writes the resource with its resourceType first.
func (r RelatedPerson) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainRelatedPerson
	}{"RelatedPerson", plainRelatedPerson(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *RelatedPerson) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainRelatedPerson
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("RelatedPerson", v.ResourceType); err != nil {
		return err
	}
	*r = RelatedPerson(v.plainRelatedPerson)
	return nil
}

type plainConsent Consent

// ResourceType returns "Consent".
func (Consent) ResourceType() string { return "Consent" }

// MarshalJSON writes the resource with its resourceType first.
func (r Consent) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainConsent
	}{"Consent", plainConsent(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *Consent) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainConsent
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("Consent", v.ResourceType); err != nil {
		return err
	}
	*r = Consent(v.plainConsent)
	return nil
}
