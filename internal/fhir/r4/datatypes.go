package r4

// The general-purpose data types of FHIR R4 §2.24 that the resources below use. Every element
// carries the optional id and extension of FHIR's Element.

// Meta is the metadata of a resource, maintained by the server (versionId, lastUpdated) or
// declared by the client (profile, security labels, tags).
type Meta struct {
	ID          string      `json:"id,omitempty"`
	Extension   []Extension `json:"extension,omitempty"`
	VersionID   string      `json:"versionId,omitempty"`
	LastUpdated Instant     `json:"lastUpdated,omitempty"`
	Source      string      `json:"source,omitempty"`
	Profile     []string    `json:"profile,omitempty"`
	Security    []Coding    `json:"security,omitempty"`
	Tag         []Coding    `json:"tag,omitempty"`
}

// Identifier is a business identifier: an INS (system urn:oid:1.2.250.1.213.1.4.8), a
// document's uniqueId, an IdNat_PS, ...
type Identifier struct {
	ID        string           `json:"id,omitempty"`
	Extension []Extension      `json:"extension,omitempty"`
	Use       string           `json:"use,omitempty"` // usual | official | temp | secondary | old
	Type      *CodeableConcept `json:"type,omitempty"`
	System    string           `json:"system,omitempty"`
	Value     string           `json:"value,omitempty"`
	Period    *Period          `json:"period,omitempty"`
	Assigner  *Reference       `json:"assigner,omitempty"`
}

// Coding is one code from one code system.
type Coding struct {
	ID           string      `json:"id,omitempty"`
	Extension    []Extension `json:"extension,omitempty"`
	System       string      `json:"system,omitempty"`
	Version      string      `json:"version,omitempty"`
	Code         string      `json:"code,omitempty"`
	Display      string      `json:"display,omitempty"`
	UserSelected *bool       `json:"userSelected,omitempty"`
}

// CodeableConcept is a concept given by codes from one or more systems, and/or by text.
type CodeableConcept struct {
	ID        string      `json:"id,omitempty"`
	Extension []Extension `json:"extension,omitempty"`
	Coding    []Coding    `json:"coding,omitempty"`
	Text      string      `json:"text,omitempty"`
}

// Reference points at another resource: by literal reference ("Patient/123", "#contained-id",
// "urn:uuid:…" inside a transaction Bundle), by business identifier, or both.
type Reference struct {
	ID         string      `json:"id,omitempty"`
	Extension  []Extension `json:"extension,omitempty"`
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// Attachment is content given inline (Data) or by location (URL). Hash is the SHA-1 of the
// content (FHIR R4 Attachment.hash; XDS hash is SHA-1 too).
type Attachment struct {
	ID          string      `json:"id,omitempty"`
	Extension   []Extension `json:"extension,omitempty"`
	ContentType string      `json:"contentType,omitempty"`
	Language    string      `json:"language,omitempty"`
	Data        []byte      `json:"data,omitempty"`
	URL         string      `json:"url,omitempty"`
	Size        *int64      `json:"size,omitempty"` // unsignedInt in R4
	Hash        []byte      `json:"hash,omitempty"`
	Title       string      `json:"title,omitempty"`
	Creation    DateTime    `json:"creation,omitempty"`
}

// Period is a time range; an absent end means "ongoing".
type Period struct {
	ID        string      `json:"id,omitempty"`
	Extension []Extension `json:"extension,omitempty"`
	Start     DateTime    `json:"start,omitempty"`
	End       DateTime    `json:"end,omitempty"`
}

// HumanName is a person's name. For an INS-qualified identity the birth name has use
// "official" and the used name "usual" (ANS FR Core).
type HumanName struct {
	ID        string      `json:"id,omitempty"`
	Extension []Extension `json:"extension,omitempty"`
	Use       string      `json:"use,omitempty"` // usual | official | temp | nickname | anonymous | old | maiden
	Text      string      `json:"text,omitempty"`
	Family    string      `json:"family,omitempty"`
	Given     []string    `json:"given,omitempty"`
	Prefix    []string    `json:"prefix,omitempty"`
	Suffix    []string    `json:"suffix,omitempty"`
	Period    *Period     `json:"period,omitempty"`
}

// ContactPoint is a phone number, e-mail address, URL, ...
type ContactPoint struct {
	ID        string      `json:"id,omitempty"`
	Extension []Extension `json:"extension,omitempty"`
	System    string      `json:"system,omitempty"` // phone | fax | email | pager | url | sms | other
	Value     string      `json:"value,omitempty"`
	Use       string      `json:"use,omitempty"` // home | work | temp | old | mobile
	Rank      *int        `json:"rank,omitempty"`
	Period    *Period     `json:"period,omitempty"`
}

// Address is a postal address.
type Address struct {
	ID         string      `json:"id,omitempty"`
	Extension  []Extension `json:"extension,omitempty"`
	Use        string      `json:"use,omitempty"`  // home | work | temp | old | billing
	Type       string      `json:"type,omitempty"` // postal | physical | both
	Text       string      `json:"text,omitempty"`
	Line       []string    `json:"line,omitempty"`
	City       string      `json:"city,omitempty"`
	District   string      `json:"district,omitempty"`
	State      string      `json:"state,omitempty"`
	PostalCode string      `json:"postalCode,omitempty"`
	Country    string      `json:"country,omitempty"`
	Period     *Period     `json:"period,omitempty"`
}

// Narrative is the human-readable XHTML summary of a resource.
type Narrative struct {
	ID        string      `json:"id,omitempty"`
	Extension []Extension `json:"extension,omitempty"`
	Status    string      `json:"status"` // generated | extensions | additional | empty
	Div       string      `json:"div"`
}

// Annotation is a note (List.note carries the SubmissionSet comments in MHD).
type Annotation struct {
	ID              string      `json:"id,omitempty"`
	Extension       []Extension `json:"extension,omitempty"`
	AuthorReference *Reference  `json:"authorReference,omitempty"`
	AuthorString    string      `json:"authorString,omitempty"`
	Time            DateTime    `json:"time,omitempty"`
	Text            string      `json:"text"`
}

// Signature is a digital signature (Bundle.signature).
type Signature struct {
	ID           string      `json:"id,omitempty"`
	Extension    []Extension `json:"extension,omitempty"`
	Type         []Coding    `json:"type,omitempty"`
	When         Instant     `json:"when,omitempty"`
	Who          *Reference  `json:"who,omitempty"`
	OnBehalfOf   *Reference  `json:"onBehalfOf,omitempty"`
	TargetFormat string      `json:"targetFormat,omitempty"`
	SigFormat    string      `json:"sigFormat,omitempty"`
	Data         []byte      `json:"data,omitempty"`
}
