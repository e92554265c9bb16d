package r4

import (
	"encoding/json"
	"reflect"
)

// Appointment is a booking of a healthcare event among patient(s), practitioner(s), related
// person(s) and/or device(s) for a specific date and time (FHIR R4 Appointment), as
// professionals' software sends appointments and convocations to the patient's agenda. It
// follows the R4 definition element for element, but for supportingInformation, slot, basedOn
// and requestedPeriod, which no client of ours sends: a client that sends one is told the
// element is unknown.
type Appointment struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Identifier         []Identifier             `json:"identifier,omitempty"`
	Status             string                   `json:"status"` // proposed | pending | booked | arrived | fulfilled | cancelled | noshow | entered-in-error | checked-in | waitlist
	CancelationReason  *CodeableConcept         `json:"cancelationReason,omitempty"`
	ServiceCategory    []CodeableConcept        `json:"serviceCategory,omitempty"`
	ServiceType        []CodeableConcept        `json:"serviceType,omitempty"`
	Specialty          []CodeableConcept        `json:"specialty,omitempty"`
	AppointmentType    *CodeableConcept         `json:"appointmentType,omitempty"`
	ReasonCode         []CodeableConcept        `json:"reasonCode,omitempty"`
	ReasonReference    []Reference              `json:"reasonReference,omitempty"`
	Priority           *int                     `json:"priority,omitempty"`
	Description        string                   `json:"description,omitempty"`
	Start              Instant                  `json:"start,omitempty"`
	End                Instant                  `json:"end,omitempty"`
	MinutesDuration    *int                     `json:"minutesDuration,omitempty"`
	Created            DateTime                 `json:"created,omitempty"`
	Comment            string                   `json:"comment,omitempty"`
	PatientInstruction string                   `json:"patientInstruction,omitempty"`
	Participant        []AppointmentParticipant `json:"participant"`
}

// AppointmentParticipant is one participant of an appointment.
type AppointmentParticipant struct {
	ID                string            `json:"id,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`
	Type              []CodeableConcept `json:"type,omitempty"`
	Actor             *Reference        `json:"actor,omitempty"`
	Required          string            `json:"required,omitempty"` // required | optional | information-only
	Status            string            `json:"status"`             // accepted | declined | tentative | needs-action
	Period            *Period           `json:"period,omitempty"`
}

// init registers Appointment with DecodeResource from this file, as profile_marshal.go does.
func init() {
	newResource["Appointment"] = func() Resource { return new(Appointment) }
	resourceStructs["Appointment"] = reflect.TypeOf(Appointment{})
}

type plainAppointment Appointment

// ResourceType returns "Appointment".
func (Appointment) ResourceType() string { return "Appointment" }

// MarshalJSON writes the resource with its resourceType first.
func (r Appointment) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plainAppointment
	}{"Appointment", plainAppointment(r)})
}

// UnmarshalJSON reads the resource, refusing JSON of another resourceType.
func (r *Appointment) UnmarshalJSON(data []byte) error {
	var v struct {
		ResourceType string `json:"resourceType"`
		plainAppointment
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if err := checkResourceType("Appointment", v.ResourceType); err != nil {
		return err
	}
	*r = Appointment(v.plainAppointment)
	return nil
}
