package agenda

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// Appointments and convocations professionals send as iCalendar invitations in a message to
// the patient's mailbox (RFC 5546 iTIP over mail, RFC 6047): filed as the appointments their
// software sends over FHIR are (appointment.go), in the same source, so that one timeline and
// one reminder job hold both.
//
// An invitation names its event by its UID: a REQUEST or PUBLISH files it, a later one with
// the same UID moves it, a CANCEL cancels it. The UID is the sender's word, so it names an
// event only within what this sender filed for this patient: the event's reference is a hash
// of the patient, the sender and the UID (and RECURRENCE-ID), and one sender cannot move or
// cancel another's event by sending its UID. Which of two versions is the later is RFC 5546
// §2.1.5's: the higher SEQUENCE, then the later DTSTAMP; an older or identical version changes
// nothing, so that a message inspected twice (a retried job), or delivered out of order, files
// one event in its latest state.

// OriginMail marks an appointment read from an invitation in a message.
const OriginMail = "mail"

// Filed says what FileInvitation did.
type Filed string

const (
	FiledCreated   Filed = "created"
	FiledUpdated   Filed = "updated"
	FiledCancelled Filed = "cancelled"
	// FiledUnchanged: the agenda holds this version or a later one already, or a cancellation
	// named an event it does not hold.
	FiledUnchanged Filed = "unchanged"
)

// InvitationRef is the reference (and Appointment id) of the event an invitation names: the
// same patient, sender and UID make the same event.
func InvitationRef(patientID int64, sender string, ev *ICalEvent) string {
	h := sha256.Sum256([]byte(strconv.FormatInt(patientID, 10) + "\x00" + sender + "\x00" + ev.UID + "\x00" + ev.RecurrenceID))
	return "m" + hex.EncodeToString(h[:])[:31]
}

// invitationAppointment is the appointment an event of an invitation describes.
func invitationAppointment(method string, ev *ICalEvent, fallback string) Appointment {
	a := Appointment{Status: StatusBooked, Origin: OriginMail, Sequence: ev.Sequence, Stamp: ev.Stamp.UTC(),
		AllDay: ev.AllDay, Start: ev.Start, End: ev.End}
	switch {
	case method == MethodCancel || ev.Status == "CANCELLED":
		a.Status = StatusCancelled
	case ev.Status == "TENTATIVE":
		a.Status = StatusProposed
	}
	a.Description = oneLine(ev.Summary, maxAppointmentText)
	if a.Description == "" {
		a.Description = oneLine(fallback, maxAppointmentText)
	}
	if a.Description == "" {
		a.Description = "Convocation"
	}
	a.Location = oneLine(ev.Location, maxAppointmentText)
	a.PractitionerName = oneLine(ev.OrganizerName, maxAppointmentText)
	a.Comment = truncate(strings.TrimSpace(ev.Description), maxAppointmentText)
	return a
}

// oneLine makes s one line of at most n bytes.
func oneLine(s string, n int) string {
	return truncate(strings.Join(strings.Fields(s), " "), n)
}

// later reports whether the version (seq, stamp) comes after the stored appointment's.
func later(seq int, stamp time.Time, old *Appointment) bool {
	if seq != old.Sequence {
		return seq > old.Sequence
	}
	return stamp.After(old.Stamp)
}

// FileInvitation files one event of an iCalendar invitation sent to the patient: decided as
// the sender (r.Actor) depositing a "Notification de rendez-vous" in the patient's record,
// like an Appointment sent over FHIR, and traced with the decision. method is the object's
// iTIP method (PUBLISH, REQUEST, CANCEL; none is read as PUBLISH, a calendar file); fallback
// says what the appointment is for when the event has no SUMMARY (the message's subject).
// Other methods (REPLY, COUNTER…) are answers to an organiser, not invitations: Invalid.
func (s *Service) FileInvitation(ctx context.Context, r Request, patientID int64, method string, ev ICalEvent, fallback string) (Filed, Appointment, error) {
	switch method {
	case "", MethodPublish, MethodRequest, MethodCancel:
	default:
		return "", Appointment{}, errs.E(errs.Invalid, "the iCalendar method %s is not an invitation", quote(method))
	}
	if method != MethodCancel && ev.Start.IsZero() {
		return "", Appointment{}, errs.E(errs.Invalid, "the event has no start (DTSTART)")
	}
	sender := canonicalID(r.Actor)
	if sender == "" {
		return "", Appointment{}, errs.E(errs.Invalid, "the sender of the invitation is not identified")
	}
	ref := InvitationRef(patientID, sender, &ev)
	in := invitationAppointment(method, &ev, fallback)
	if method != MethodCancel {
		if p := in.check(); p != "" {
			return "", Appointment{}, errs.E(errs.Invalid, "%s", p)
		}
	}
	now := s.clock.Now()
	var (
		filed Filed
		out   Appointment
	)
	_, err := access.Do(ctx, s.access, s.store.UpdateAgenda, r.Actor, r.Channel, patientID, access.ActionDeposit,
		appointmentTarget(r, "appointment/"+ref), r.BreakGlass, func(tx Tx, _ access.Decision) error {
			filed, out = FiledUnchanged, Appointment{}
			if err := openSpace(ctx, tx, patientID); err != nil {
				return err
			}
			e, found, err := tx.AgendaEventByRef(ctx, SourceAppointment, ref)
			if err != nil {
				return err
			}
			if found && e.PatientID != patientID {
				// The reference hashes the patient in: another patient's is a collision.
				return errs.E(errs.Conflict, "the invitation's reference names another event")
			}
			if !found {
				if method == MethodCancel {
					return nil // nothing to cancel: the invitation never came, or came elsewhere
				}
				in.Version, in.Updated = 1, now
				e = Event{PatientID: patientID, Source: SourceAppointment, SourceRef: ref, Class: AppointmentClass,
					Type: AppointmentType, CreatedBy: r.Actor.Audit(), CreatedAt: now}
				e.CreatedBy.ID = sender
				if err := in.fill(&e); err != nil {
					return err
				}
				if _, err := tx.InsertAgendaEvent(ctx, &e); err != nil {
					return err
				}
				filed = FiledCreated
				out, err = AppointmentOf(&e)
				return err
			}
			old, err := AppointmentOf(&e)
			if err != nil {
				return err
			}
			next := in
			switch {
			case method == MethodCancel:
				// A cancellation ends the event it names unless a later version was filed
				// since; it keeps what the event said, only its status changes.
				if old.Status == StatusCancelled || ev.Sequence < old.Sequence {
					out = old
					return nil
				}
				next = old
				next.Status, next.Sequence = StatusCancelled, ev.Sequence
				if ev.Stamp.After(old.Stamp) {
					next.Stamp = ev.Stamp.UTC()
				}
			case !later(ev.Sequence, ev.Stamp, &old):
				out = old
				return nil
			}
			next.Version, next.Updated = old.Version+1, now
			if err := next.fill(&e); err != nil {
				return err
			}
			if err := tx.UpdateAgendaEvent(ctx, &e); err != nil {
				return err
			}
			filed = FiledUpdated
			if next.Status == StatusCancelled && old.Status != StatusCancelled {
				filed = FiledCancelled
			}
			out, err = AppointmentOf(&e)
			return err
		})
	if err != nil {
		return "", Appointment{}, err
	}
	return filed, out, nil
}

// canonicalID is the actor's id as traces and decisions name it (a professional's IdNat_PS in
// its canonical form).
func canonicalID(a access.Actor) string {
	if a.Kind == audit.ActorProfessional {
		if id, err := identity.ParseIdNatPS(a.ID); err == nil {
			return id.String()
		}
	}
	return a.ID
}
