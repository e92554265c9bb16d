package r4

import "encoding/json"

// List is a FHIR List. MHD uses it for the XDS SubmissionSet (code "submissionset") and Folder
// (code "folder") of the MHDlistTypes code system.
//
// SubmissionSet ↔ List, as MHD maps them: sourceId, designationType (contentTypeCode) and
// intendedRecipient are extensions; entryUUID and uniqueId = identifier; availabilityStatus =
// status; mode is always "working"; title; subject = patientId; date = submissionTime;
// source = author; note = comments; entry.item = the DocumentReferences and Folders submitted.
type List struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier  []Identifier     `json:"identifier,omitempty"`
	Status      string           `json:"status"` // current | retired | entered-in-error
	Mode        string           `json:"mode"`   // working | snapshot | changes
	Title       string           `json:"title,omitempty"`
	Code        *CodeableConcept `json:"code,omitempty"`
	Subject     *Reference       `json:"subject,omitempty"`
	Encounter   *Reference       `json:"encounter,omitempty"`
	Date        DateTime         `json:"date,omitempty"`
	Source      *Reference       `json:"source,omitempty"`
	OrderedBy   *CodeableConcept `json:"orderedBy,omitempty"`
	Note        []Annotation     `json:"note,omitempty"`
	Entry       []ListEntry      `json:"entry,omitempty"`
	EmptyReason *CodeableConcept `json:"emptyReason,omitempty"`
}

// ListEntry is one item of a List.
type ListEntry struct {
	ID                string           `json:"id,omitempty"`
	Extension         []Extension      `json:"extension,omitempty"`
	ModifierExtension []Extension      `json:"modifierExtension,omitempty"`
	Flag              *CodeableConcept `json:"flag,omitempty"`
	Deleted           *bool            `json:"deleted,omitempty"`
	Date              DateTime         `json:"date,omitempty"`
	Item              Reference        `json:"item"`
}
