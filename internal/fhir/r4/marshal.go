package r4

// The methods below follow one pattern for every resource; keep them in step with newResource
// in decode.go.

import "encoding/json"

type plainDocumentReference DocumentReference

// ResourceType returns "DocumentReference".
func (DocumentReference) ResourceType() string { return "DocumentReference" }

// MarshalJSON writes the resource with its resourceType first.
func (r DocumentReference) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainDocumentReference
	}{"DocumentReference", plainDocumentReference(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *DocumentReference) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainDocumentReference
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("DocumentReference", v.ResourceType); err != nil {
		return err
	}
	*r = DocumentReference(v.plainDocumentReference)
	return nil
}

type plainList List

// ResourceType returns "List".
func (List) ResourceType() string { return "List" }

// MarshalJSON writes the resource with its resourceType first.
func (r List) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainList
	}{"List", plainList(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *List) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainList
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("List", v.ResourceType); err != nil {
		return err
	}
	*r = List(v.plainList)
	return nil
}

type plainBinary Binary

// ResourceType returns "Binary".
func (Binary) ResourceType() string { return "Binary" }

// MarshalJSON writes the resource with its resourceType first.
func (r Binary) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainBinary
	}{"Binary", plainBinary(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *Binary) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainBinary
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("Binary", v.ResourceType); err != nil {
		return err
	}
	*r = Binary(v.plainBinary)
	return nil
}

type plainBundle Bundle

// ResourceType returns "Bundle".
func (Bundle) ResourceType() string { return "Bundle" }

// MarshalJSON writes the resource with its resourceType first.
func (r Bundle) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainBundle
	}{"Bundle", plainBundle(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *Bundle) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainBundle
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("Bundle", v.ResourceType); err != nil {
		return err
	}
	*r = Bundle(v.plainBundle)
	return nil
}

type plainOperationOutcome OperationOutcome

// ResourceType returns "OperationOutcome".
func (OperationOutcome) ResourceType() string { return "OperationOutcome" }

// MarshalJSON writes the resource with its resourceType first.
func (r OperationOutcome) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainOperationOutcome
	}{"OperationOutcome", plainOperationOutcome(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *OperationOutcome) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainOperationOutcome
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("OperationOutcome", v.ResourceType); err != nil {
		return err
	}
	*r = OperationOutcome(v.plainOperationOutcome)
	return nil
}

type plainPatient Patient

// ResourceType returns "Patient".
func (Patient) ResourceType() string { return "Patient" }

// MarshalJSON writes the resource with its resourceType first.
func (r Patient) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainPatient
	}{"Patient", plainPatient(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *Patient) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainPatient
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("Patient", v.ResourceType); err != nil {
		return err
	}
	*r = Patient(v.plainPatient)
	return nil
}

type plainCapabilityStatement CapabilityStatement

// ResourceType returns "CapabilityStatement".
func (CapabilityStatement) ResourceType() string { return "CapabilityStatement" }

// MarshalJSON writes the resource with its resourceType first.
func (r CapabilityStatement) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainCapabilityStatement
	}{"CapabilityStatement", plainCapabilityStatement(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *CapabilityStatement) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainCapabilityStatement
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("CapabilityStatement", v.ResourceType); err != nil {
		return err
	}
	*r = CapabilityStatement(v.plainCapabilityStatement)
	return nil
}

type plainAuditEvent AuditEvent

// ResourceType returns "AuditEvent".
func (AuditEvent) ResourceType() string { return "AuditEvent" }

// MarshalJSON writes the resource with its resourceType first.
func (r AuditEvent) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainAuditEvent
	}{"AuditEvent", plainAuditEvent(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *AuditEvent) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainAuditEvent
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("AuditEvent", v.ResourceType); err != nil {
		return err
	}
	*r = AuditEvent(v.plainAuditEvent)
	return nil
}
