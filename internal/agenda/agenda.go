// Package agenda is in charge of the agenda of care: the events of a patient's timeline
// (DOMAIN.md "Agenda"), each filed by a source (the health insurer's reimbursements today;
// appointments, stays, consultations, personal events and reminders with issue 8) under a
// reference of its own, so that a source that files the same event twice makes one event.
//
// An event reveals care as much as the document it comes from (a reimbursed act says who
// treated whom, and for what): reading a patient's agenda passes through the one access
// decision like a search of the record (access.ActionSearch on the record, then
// access.ActionList on each event, described by the document it is linked to or by its own
// category), and leaves a trace; filing events is decided as a deposit of their category
// (access.ActionDeposit) and traced in the same transaction.
package agenda

import (
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Kind is what an event is.
type Kind string

const (
	// KindReimbursement: a care act the health insurer reimbursed, on the day of the act.
	KindReimbursement Kind = "reimbursement"
	// KindAppointment: an appointment or convocation a professional's software sent (FHIR
	// Appointment, appointment.go).
	KindAppointment Kind = "appointment"
	// KindPersonal: an event the patient wrote in their own agenda (personal.go).
	KindPersonal Kind = "personal"
	// KindReminder: a vaccination or screening of the national calendar due at the patient's
	// age and sex (reminders.go). Computed when read, never stored.
	KindReminder Kind = "reminder"
)

// Valid reports whether k is one of the kinds stored.
func (k Kind) Valid() bool {
	return k == KindReimbursement || k == KindAppointment || k == KindPersonal || k == kindCancelledInvitation
}

// Label says the kind in French.
func (k Kind) Label() string {
	switch k {
	case KindReimbursement:
		return "Remboursement"
	case KindAppointment:
		return "Rendez-vous"
	case KindPersonal:
		return "Événement personnel"
	case KindReminder:
		return "Rappel"
	case KindStay:
		return "Séjour hospitalier"
	case KindConsultation:
		return "Consultation"
	}
	return string(k)
}

// Event is one event of a patient's timeline.
type Event struct {
	ID        int64
	PatientID int64
	Kind      Kind
	// Start is when it happens; End when it ends (a hospital stay), zero when it has no length.
	// A date without a time of day (an act's date) is at midnight UTC.
	Start, End time.Time
	Title      string // in French, e.g. "Remboursement : consultation — MARTIN Claire"
	Detail     string // in French, optional, e.g. "Payé 30,00 € · remboursé 21,00 €"

	// Class and Type are the record category the event belongs to (classCode, typeCode, e.g.
	// 60 and REMB for a reimbursement): who may see an event not linked to a document is
	// decided as for a document of that category.
	Class, Type string

	// Source names who filed it (SourceReimbursement); SourceRef is the source's own reference
	// of the event, unique per patient and source: filing it again changes nothing.
	Source    string
	SourceRef string
	// Document is the logicalId of the record document the event comes from, "" when none.
	// When that document is replaced, the source moves the link to the new version (Relink).
	Document string
	// Payload is what the source keeps of the event for its own use (JSON), e.g. the act a
	// reimbursement statement is rebuilt from. Never shown as is.
	Payload []byte

	CreatedBy audit.Actor // kind, id and name of who filed it
	CreatedAt time.Time

	// The events derived from the record (derived.go), never stored. What is the title
	// without its kind (the report's own title, "" when it has none), so that a page names
	// the kind in its reader's language; Documents are the logicalIds of every report the
	// event is read from (a stay's report, its discharge letter…), Document the first.
	What      string
	Documents []string
}

// SourceReimbursement is the source of the events the insurer's reimbursement feed files.
const SourceReimbursement = "reimbursement"

// Ref names the event in traces.
func (e *Event) Ref() string { return "event/" + strconv.FormatInt(e.ID, 10) }

// Object describes the event to the access decision when it is linked to no document (or its
// document is gone): a document of its category, deposited by whoever filed it.
func (e *Event) Object() access.Object {
	o := access.Object{Class: e.Class, Type: e.Type}
	switch e.CreatedBy.Kind {
	case audit.ActorProfessional:
		o.DepositedBy = access.DepositedByProfessional
		if e.CreatedBy.ID != "" {
			o.Authors = []string{e.CreatedBy.ID}
		}
	case audit.ActorOperator, audit.ActorSystem:
		o.DepositedBy = access.DepositedByInsurer
	default:
		o.DepositedBy = access.DepositedByPatient
	}
	return o
}

// Limits of what an event holds.
const (
	maxTitle  = 256
	maxDetail = 1024
	maxRef    = 128
	// maxPayload bounds what a source keeps of one event.
	maxPayload = 8 << 10
)

// check returns the problems of an event about to be filed, "" when there are none.
func (e *Event) check() string {
	var problems []string
	bad := func(s string) { problems = append(problems, s) }
	if !e.Kind.Valid() {
		bad("unknown event kind " + quote(string(e.Kind)))
	}
	if e.Start.IsZero() {
		bad("the start is missing")
	}
	if !e.End.IsZero() && e.End.Before(e.Start) {
		bad("the end is before the start")
	}
	switch t := strings.TrimSpace(e.Title); {
	case t == "":
		bad("the title is missing")
	case len(t) > maxTitle:
		bad("the title is longer than 256 bytes")
	}
	if len(e.Detail) > maxDetail {
		bad("the detail is longer than 1024 bytes")
	}
	if e.SourceRef == "" || len(e.SourceRef) > maxRef {
		bad("the source reference is missing or longer than 128 bytes")
	}
	if len(e.Payload) > maxPayload {
		bad("the payload is larger than 8 kB")
	}
	if e.Class == "" && e.Type == "" {
		bad("the category (class or type) is missing")
	}
	if len(problems) == 0 {
		return ""
	}
	return strings.Join(problems, "; ")
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + s + `"`
}

// errTooMany is returned by List when the range holds more events than MaxEvents.
func errTooMany() error {
	return errs.E(errs.Invalid, "the period holds more than %d events: ask for a shorter one", MaxEvents)
}
