package r4

import "encoding/json"

// AuditEvent is a FHIR R4 AuditEvent: the form in which IHE (ATNA, and each MHD transaction's
// "Security Considerations") records who did what to which record.
type AuditEvent struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Type           Coding             `json:"type"`
	Subtype        []Coding           `json:"subtype,omitempty"`
	Action         string             `json:"action,omitempty"` // C | R | U | D | E
	Period         *Period            `json:"period,omitempty"`
	Recorded       Instant            `json:"recorded"`
	Outcome        string             `json:"outcome,omitempty"` // 0 | 4 | 8 | 12
	OutcomeDesc    string             `json:"outcomeDesc,omitempty"`
	PurposeOfEvent []CodeableConcept  `json:"purposeOfEvent,omitempty"`
	Agent          []AuditEventAgent  `json:"agent"`
	Source         AuditEventSource   `json:"source"`
	Entity         []AuditEventEntity `json:"entity,omitempty"`
}

// AuditEvent.action and AuditEvent.outcome values (FHIR R4 audit-event-action,
// audit-event-outcome).
const (
	AuditActionCreate  = "C"
	AuditActionRead    = "R"
	AuditActionUpdate  = "U"
	AuditActionDelete  = "D"
	AuditActionExecute = "E"

	AuditOutcomeSuccess        = "0"
	AuditOutcomeMinorFailure   = "4"
	AuditOutcomeSeriousFailure = "8"
	AuditOutcomeMajorFailure   = "12"
)

// AuditEventAgent is an actor of the event: the professional, the patient, the software.
type AuditEventAgent struct {
	ID                string             `json:"id,omitempty"`
	Extension         []Extension        `json:"extension,omitempty"`
	ModifierExtension []Extension        `json:"modifierExtension,omitempty"`
	Type              *CodeableConcept   `json:"type,omitempty"`
	Role              []CodeableConcept  `json:"role,omitempty"`
	Who               *Reference         `json:"who,omitempty"`
	AltID             string             `json:"altId,omitempty"`
	Name              string             `json:"name,omitempty"`
	Requestor         bool               `json:"requestor"`
	Location          *Reference         `json:"location,omitempty"`
	Policy            []string           `json:"policy,omitempty"`
	Media             *Coding            `json:"media,omitempty"`
	Network           *AuditEventNetwork `json:"network,omitempty"`
	PurposeOfUse      []CodeableConcept  `json:"purposeOfUse,omitempty"`
}

// AuditEventNetwork is the network access point of an agent.
type AuditEventNetwork struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Address           string      `json:"address,omitempty"`
	Type              string      `json:"type,omitempty"` // 1 machine name | 2 IP address | 3 telephone | 4 e-mail | 5 URI
}

// AuditEventSource is the system that reports the event.
type AuditEventSource struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Site              string      `json:"site,omitempty"`
	Observer          Reference   `json:"observer"`
	Type              []Coding    `json:"type,omitempty"`
}

// AuditEventEntity is a thing the event concerns: the patient, the document, the query.
type AuditEventEntity struct {
	ID                string             `json:"id,omitempty"`
	Extension         []Extension        `json:"extension,omitempty"`
	ModifierExtension []Extension        `json:"modifierExtension,omitempty"`
	What              *Reference         `json:"what,omitempty"`
	Type              *Coding            `json:"type,omitempty"`
	Role              *Coding            `json:"role,omitempty"`
	Lifecycle         *Coding            `json:"lifecycle,omitempty"`
	SecurityLabel     []Coding           `json:"securityLabel,omitempty"`
	Name              string             `json:"name,omitempty"`
	Description       string             `json:"description,omitempty"`
	Query             []byte             `json:"query,omitempty"`
	Detail            []AuditEventDetail `json:"detail,omitempty"`
}

// AuditEventDetail is a named extra piece of information about an entity.
type AuditEventDetail struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Type              string      `json:"type"`
	ValueString       string      `json:"valueString,omitempty"`
	ValueBase64Binary []byte      `json:"valueBase64Binary,omitempty"`
}
