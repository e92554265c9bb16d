package agenda

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// SourceAppointment is the source of the appointments and convocations professionals' software
// sends (FHIR Appointment): the event's reference is the Appointment's id.
const SourceAppointment = "appointment"

// The record category of appointments: "Notification de rendez-vous" (LOINC 56446-8, class 95).
// Filing one is decided as a professional depositing such a document.
const (
	AppointmentClass = "95"
	AppointmentType  = "56446-8"
)

// Appointment statuses kept (FHIR R4 appointmentstatus): what professionals' software sends.
const (
	StatusBooked    = "booked"
	StatusProposed  = "proposed"
	StatusCancelled = "cancelled"
)

// Appointment is an appointment or convocation as professionals' software sends it; it is kept
// as the payload of its event.
type Appointment struct {
	ID      string    `json:"-"` // the event's SourceRef
	Version int       `json:"version"`
	Updated time.Time `json:"updated"`
	Status  string    `json:"status"`
	// ServiceType: what the appointment is for, coded or in words.
	ServiceSystem  string `json:"serviceSystem,omitempty"`
	ServiceCode    string `json:"serviceCode,omitempty"`
	ServiceDisplay string `json:"serviceDisplay,omitempty"`
	Description    string `json:"description,omitempty"`
	Comment        string `json:"comment,omitempty"`
	// The practitioner, by RPPS, and their name as sent.
	RPPS             string `json:"rpps,omitempty"`
	PractitionerName string `json:"practitioner,omitempty"`
	// The place: a Location's and an Organization's names (and the organisation's FINESS).
	Location       string      `json:"location,omitempty"`
	Organization   string      `json:"organization,omitempty"`
	OrganizationID string      `json:"organizationId,omitempty"`
	Start, End     time.Time   `json:"-"`
	PatientID      int64       `json:"-"`
	Created        time.Time   `json:"-"`
	CreatedBy      audit.Actor `json:"-"`
	// IfVersion, on an update, is the version the client read (If-Match): another one is a
	// Conflict. 0 updates whatever the version.
	IfVersion int `json:"-"`

	// An appointment read from an iCalendar invitation in a message (invite.go): where it
	// came from, its SEQUENCE and DTSTAMP (which of two versions is the later), and whether
	// it is of whole days.
	Origin   string    `json:"origin,omitempty"`
	Sequence int       `json:"sequence,omitempty"`
	Stamp    time.Time `json:"stamp,omitzero"`
	AllDay   bool      `json:"allDay,omitempty"`
	// Recurring: the invitation has a recurrence rule (RRULE, RDATE). Only its first instance
	// is filed; the title says the appointment recurs, that the patient looks for the others
	// in the invitation itself.
	Recurring bool `json:"recurring,omitempty"`
}

// appointment limits: the payload of an event is bounded (maxPayload).
const maxAppointmentText = 1024

func (a *Appointment) check() string {
	var problems []string
	bad := func(s string) { problems = append(problems, s) }
	switch a.Status {
	case StatusBooked, StatusProposed, StatusCancelled:
	default:
		bad("the status must be booked, proposed or cancelled, not " + quote(a.Status))
	}
	if a.Start.IsZero() {
		bad("the start is missing")
	}
	if !a.End.IsZero() && a.End.Before(a.Start) {
		bad("the end is before the start")
	}
	for name, v := range map[string]string{"description": a.Description, "comment": a.Comment, "service type": a.ServiceDisplay,
		"practitioner's name": a.PractitionerName, "location": a.Location, "organization": a.Organization} {
		if len(v) > maxAppointmentText {
			bad("the " + name + " is longer than 1024 bytes")
		}
	}
	if a.ServiceDisplay == "" && a.ServiceCode == "" && a.Description == "" {
		bad("say what the appointment is for: a serviceType or a description")
	}
	return strings.Join(problems, "; ")
}

// title writes the event's title in French.
func (a *Appointment) title() string {
	what := a.ServiceDisplay
	if what == "" {
		what = a.Description
	}
	if what == "" {
		what = a.ServiceCode
	}
	head := "Rendez-vous"
	switch a.Status {
	case StatusProposed:
		head = "Rendez-vous proposé"
	case StatusCancelled:
		head = "Rendez-vous annulé"
	}
	t := head + " : " + what
	if a.Recurring {
		t += " (rendez-vous récurrent)"
	}
	if a.PractitionerName != "" {
		t += " — " + a.PractitionerName
	}
	return truncate(t, maxTitle)
}

func (a *Appointment) detail() string {
	var parts []string
	for _, s := range []string{a.Location, a.Organization, a.Comment} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return truncate(strings.Join(parts, " · "), maxDetail)
}

// AppointmentOf reads an appointment back from its event.
func AppointmentOf(e *Event) (Appointment, error) {
	if e.Source != SourceAppointment {
		return Appointment{}, errs.E(errs.NotFound, "no such Appointment")
	}
	var a Appointment
	if err := json.Unmarshal(e.Payload, &a); err != nil {
		return Appointment{}, errs.E(errs.Internal, "appointment %s: its payload does not parse", e.Ref())
	}
	a.ID, a.Start, a.End, a.PatientID, a.Created, a.CreatedBy = e.SourceRef, e.Start, e.End, e.PatientID, e.CreatedAt, e.CreatedBy
	return a, nil
}

func (a *Appointment) fill(e *Event) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	e.Kind, e.Start, e.End, e.Title, e.Detail, e.Payload = KindAppointment, a.Start, a.End, a.title(), a.detail(), b
	if p := e.check(); p != "" {
		return errs.E(errs.Invalid, "%s", p)
	}
	return nil
}

// appointmentTarget describes filing an appointment to the access decision: a "Notification de
// rendez-vous" the actor deposits.
func appointmentTarget(r Request, ref string) access.Target {
	e := Event{Class: AppointmentClass, Type: AppointmentType, CreatedBy: r.Actor.Audit()}
	return access.Target{Ref: ref, Object: e.Object()}
}

// FileAppointment files a new appointment in the patient's agenda (its ID is chosen here), or,
// when a.ID is set, rewrites the appointment of that id (an update: a new time, a
// cancellation). Both are decided as depositing a "Notification de rendez-vous" into the
// patient's record (access.ActionDeposit), and traced with the decision. An update must name
// the patient the appointment is for; NotFound otherwise, so that an id tells nothing of whose
// it is.
func (s *Service) FileAppointment(ctx context.Context, r Request, patientID int64, a Appointment) (Appointment, bool, error) {
	a.Description, a.Comment = strings.TrimSpace(a.Description), strings.TrimSpace(a.Comment)
	if p := a.check(); p != "" {
		return Appointment{}, false, errs.E(errs.Invalid, "%s", p)
	}
	now := s.clock.Now()
	created := a.ID == ""
	if created {
		a.ID = newRef()
	}
	ref := "appointment/" + a.ID
	var out Appointment
	_, err := access.Do(ctx, s.access, s.store.UpdateAgenda, r.Actor, r.Channel, patientID, access.ActionDeposit,
		appointmentTarget(r, ref), r.BreakGlass, func(tx Tx, _ access.Decision) error {
			if err := openSpace(ctx, tx, patientID); err != nil {
				return err
			}
			a.Updated = now
			if created {
				a.Version = 1
				e := Event{PatientID: patientID, Source: SourceAppointment, SourceRef: a.ID, Class: AppointmentClass,
					Type: AppointmentType, CreatedBy: r.Actor.Audit(), CreatedAt: now}
				if err := a.fill(&e); err != nil {
					return err
				}
				if _, err := tx.InsertAgendaEvent(ctx, &e); err != nil {
					return err
				}
				out, _ = AppointmentOf(&e)
				return nil
			}
			e, found, err := tx.AgendaEventByRef(ctx, SourceAppointment, a.ID)
			if err != nil {
				return err
			}
			if !found || e.PatientID != patientID {
				return errs.E(errs.NotFound, "no Appointment %s for this patient", a.ID)
			}
			old, err := AppointmentOf(&e)
			if err != nil {
				return err
			}
			if a.IfVersion != 0 && a.IfVersion != old.Version {
				return errs.E(errs.Conflict, "the Appointment is at version %d, not %d", old.Version, a.IfVersion)
			}
			a.Version = old.Version + 1
			if err := a.fill(&e); err != nil {
				return err
			}
			if err := tx.UpdateAgendaEvent(ctx, &e); err != nil {
				return err
			}
			out, err = AppointmentOf(&e)
			return err
		})
	if err != nil {
		return Appointment{}, false, err
	}
	return out, created, nil
}

// Appointment reads one appointment by its id: decided as reading the event (on the document
// it is linked to, else its own category: a professional's deposit), and traced. An id the
// store does not hold, and one the actor may not see, are both NotFound... the latter after
// its refusal is traced.
func (s *Service) Appointment(ctx context.Context, r Request, id string) (Appointment, error) {
	var e Event
	var found bool
	if err := s.store.ViewAgenda(ctx, func(tx Tx) error {
		var err error
		e, found, err = tx.AgendaEventByRef(ctx, SourceAppointment, id)
		return err
	}); err != nil {
		return Appointment{}, err
	}
	if !found {
		return Appointment{}, errs.E(errs.NotFound, "no such Appointment")
	}
	if _, err := access.Do(ctx, s.access, s.store.UpdateAgenda, r.Actor, r.Channel, e.PatientID, access.ActionRead,
		access.Target{Ref: e.Ref(), Object: e.Object()}, r.BreakGlass, nil); err != nil {
		return Appointment{}, err
	}
	return AppointmentOf(&e)
}

// Appointments returns the patient's appointments that start in [from, to) (zero bounds are
// open) and that the actor may see: List's decision, and its trace naming these only.
func (s *Service) Appointments(ctx context.Context, r Request, patientID int64, from, to time.Time) ([]Appointment, error) {
	evs, err := s.list(ctx, r, patientID, from, to, func(e *Event) bool {
		return e.Source == SourceAppointment && (from.IsZero() || !e.Start.Before(from)) && (to.IsZero() || e.Start.Before(to))
	})
	if err != nil {
		return nil, err
	}
	out := make([]Appointment, 0, len(evs))
	for i := range evs {
		a, err := AppointmentOf(&evs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
