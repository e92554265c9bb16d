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
//
// Out of order (RFC 5546 §2.1.5, and mail is not ordered): a CANCEL for a UID the agenda does
// not hold yet files a hidden placeholder (kindCancelledInvitation) keeping its SEQUENCE and
// DTSTAMP, so that the REQUEST it cancels, arriving later, is judged against it and filed
// cancelled rather than booked. A CANCEL without RECURRENCE-ID is about the whole series: it
// cancels every instance of that UID this sender filed, the moved ones (an instance's
// reference is the series' followed by a hash of its RECURRENCE-ID, so that they are found
// by the series' reference) included; an instance arriving after its series was cancelled is
// filed cancelled unless it is the later version.

// OriginMail marks an appointment read from an invitation in a message.
const OriginMail = "mail"

// kindCancelledInvitation is the hidden placeholder of a cancellation that came before the
// invitation it cancels (see above): stored so that the invitation is judged against it, never
// listed, never reminded of (the reminder job reads appointments and personal events only).
const kindCancelledInvitation Kind = "invitation-cancelled"

// Filed says what FileInvitation did.
type Filed string

const (
	FiledCreated   Filed = "created"
	FiledUpdated   Filed = "updated"
	FiledCancelled Filed = "cancelled"
	// FiledUnchanged: the agenda holds this version or a later one already.
	FiledUnchanged Filed = "unchanged"
)

// InvitationRef is the reference (and Appointment id) of the event an invitation names: the
// same patient, sender and UID make the same event. sender is the scope of the UID: the
// mailbox's owner, or the organisation's mailbox the invitation left from (agendamail). An
// instance of a recurring event (RECURRENCE-ID, normalised to UTC by the parser) is the series'
// reference, "-", and a hash of the instance's RECURRENCE-ID.
func InvitationRef(patientID int64, sender string, ev *ICalEvent) string {
	ref := seriesRef(patientID, sender, ev.UID)
	if ev.RecurrenceID == "" {
		return ref
	}
	h := sha256.Sum256([]byte(ev.RecurrenceID))
	return ref + "-" + hex.EncodeToString(h[:])[:16]
}

// seriesRef is the reference of the event a UID names without RECURRENCE-ID (the same hash as
// before instances were told apart, so that the references filed then still name their events).
func seriesRef(patientID int64, sender, uid string) string {
	h := sha256.Sum256([]byte(strconv.FormatInt(patientID, 10) + "\x00" + sender + "\x00" + uid + "\x00"))
	return "m" + hex.EncodeToString(h[:])[:31]
}

// invitationAppointment is the appointment an event of an invitation describes. who is the
// practitioner's name as the directory knows the sender: the ORGANIZER's CN is whatever the
// sender wrote, and would let one name another doctor.
func invitationAppointment(method string, ev *ICalEvent, fallback, who string) Appointment {
	a := Appointment{Status: StatusBooked, Origin: OriginMail, Sequence: ev.Sequence, Stamp: ev.Stamp.UTC(),
		AllDay: ev.AllDay, Start: ev.Start, End: ev.End, Recurring: ev.Recurring}
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
	a.PractitionerName = oneLine(who, maxAppointmentText)
	a.Comment = truncate(strings.TrimSpace(ev.Description), maxAppointmentText)
	return a
}

// oneLine makes s one line of at most n bytes.
func oneLine(s string, n int) string {
	return truncate(strings.Join(strings.Fields(s), " "), n)
}

// later reports whether the version (seq, stamp) comes after the stored appointment's (RFC 5546
// §2.1.5: the SEQUENCE, then the DTSTAMP).
func later(seq int, stamp time.Time, old *Appointment) bool {
	if seq != old.Sequence {
		return seq > old.Sequence
	}
	return stamp.After(old.Stamp)
}

// FileInvitation files one event of an iCalendar invitation sent to the patient, the UID
// scoped by the actor (FileInvitationFrom).
func (s *Service) FileInvitation(ctx context.Context, r Request, patientID int64, method string, ev ICalEvent, fallback string) (Filed, Appointment, error) {
	return s.FileInvitationFrom(ctx, r, patientID, "", method, ev, fallback)
}

// FileInvitationFrom files one event of an iCalendar invitation sent to the patient: decided
// as the sender (r.Actor) depositing a "Notification de rendez-vous" in the patient's record,
// like an Appointment sent over FHIR, and traced with the decision. scope names whose UIDs
// these are: the organisation's mailbox the members of which send the same convocations ("":
// the actor's own). method is the object's iTIP method (PUBLISH, REQUEST, CANCEL; none is read
// as PUBLISH, a calendar file); fallback says what the appointment is for when the event has
// no SUMMARY (the message's subject). Other methods (REPLY, COUNTER…) are answers to an
// organiser, not invitations: Invalid.
//
// A version that changes nothing (the same one again: a retried inspection, or an older one)
// is told by a reading first, and answers FiledUnchanged without a decision nor a trace: what
// the sender sent was decided and traced when it was filed.
func (s *Service) FileInvitationFrom(ctx context.Context, r Request, patientID int64, scope, method string, ev ICalEvent, fallback string) (Filed, Appointment, error) {
	switch method {
	case "", MethodPublish, MethodRequest, MethodCancel:
	default:
		return "", Appointment{}, errs.E(errs.Invalid, "the iCalendar method %s is not an invitation", quote(method))
	}
	if method != MethodCancel && ev.Start.IsZero() {
		return "", Appointment{}, errs.E(errs.Invalid, "the event has no start (DTSTART)")
	}
	actorID := canonicalID(r.Actor)
	if actorID == "" {
		return "", Appointment{}, errs.E(errs.Invalid, "the sender of the invitation is not identified")
	}
	if scope == "" {
		scope = actorID
	}
	f := invitationFiling{patientID: patientID, method: method, ev: ev, ref: InvitationRef(patientID, scope, &ev),
		series: seriesRef(patientID, scope, ev.UID), in: invitationAppointment(method, &ev, fallback, r.Actor.Name),
		by: r.Actor.Audit(), now: s.clock.Now()}
	f.by.ID = actorID
	if method != MethodCancel {
		if p := f.in.check(); p != "" {
			return "", Appointment{}, errs.E(errs.Invalid, "%s", p)
		}
	}
	// A dry run first: nothing to do is answered without a decision (see above). Whatever
	// fails here is left to the decided run, which says it.
	var dry invitationResult
	if err := s.store.ViewAgenda(ctx, func(tx Tx) error {
		var err error
		dry, err = f.run(ctx, tx, false)
		return err
	}); err == nil && dry.filed == FiledUnchanged {
		return dry.filed, dry.out, nil
	}
	var res invitationResult
	_, err := access.Do(ctx, s.access, s.store.UpdateAgenda, r.Actor, r.Channel, patientID, access.ActionDeposit,
		appointmentTarget(r, "appointment/"+f.ref), r.BreakGlass, func(tx Tx, _ access.Decision) error {
			var err error
			res, err = f.run(ctx, tx, true)
			return err
		})
	if err != nil {
		return "", Appointment{}, err
	}
	return res.filed, res.out, nil
}

// invitationFiling is one event of an invitation on its way into the agenda.
type invitationFiling struct {
	patientID   int64
	method      string
	ev          ICalEvent
	ref, series string
	in          Appointment // what the invitation says
	by          audit.Actor
	now         time.Time
}

type invitationResult struct {
	filed Filed
	out   Appointment
}

// run files the invitation (write), or only says what filing it would do.
func (f *invitationFiling) run(ctx context.Context, tx Tx, write bool) (invitationResult, error) {
	if err := openSpace(ctx, tx, f.patientID); err != nil {
		return invitationResult{}, err
	}
	res, err := f.one(ctx, tx, write)
	if err != nil {
		return invitationResult{}, err
	}
	if f.method == MethodCancel && f.ev.RecurrenceID == "" {
		// The whole series: every instance this sender filed under it is cancelled too.
		n, err := f.cancelInstances(ctx, tx, write)
		if err != nil {
			return invitationResult{}, err
		}
		if n > 0 && res.filed == FiledUnchanged {
			res.filed = FiledCancelled
		}
	}
	return res, nil
}

// one files the event the invitation names.
func (f *invitationFiling) one(ctx context.Context, tx Tx, write bool) (invitationResult, error) {
	// Twice at most: an insert that finds the reference taken (a concurrent filing, which the
	// trace chain's lock should make impossible) reads it again and compares the versions.
	for range 2 {
		e, found, err := tx.AgendaEventByRef(ctx, SourceAppointment, f.ref)
		if err != nil {
			return invitationResult{}, err
		}
		if found && e.PatientID != f.patientID {
			// The reference hashes the patient in: another patient's is a collision.
			return invitationResult{}, errs.E(errs.Conflict, "the invitation's reference names another event")
		}
		if found {
			return f.update(ctx, tx, &e, write)
		}
		next, kind := f.in, KindAppointment
		filed := FiledCreated
		if f.method == MethodCancel {
			// A cancellation before its invitation: a hidden placeholder, so that the
			// invitation is judged against it when it comes.
			kind, filed = kindCancelledInvitation, FiledCancelled
			if next.Start.IsZero() {
				next.Start, next.End = f.ev.Stamp.UTC(), time.Time{}
			}
		} else if f.ev.RecurrenceID != "" {
			// An instance of a series already cancelled by a later (or the same) version.
			cancelled, err := f.seriesCancelled(ctx, tx)
			if err != nil {
				return invitationResult{}, err
			}
			if cancelled {
				next.Status = StatusCancelled
			}
		}
		if !write {
			return invitationResult{filed: filed}, nil
		}
		next.Version, next.Updated = 1, f.now
		e = Event{PatientID: f.patientID, Source: SourceAppointment, SourceRef: f.ref, Class: AppointmentClass,
			Type: AppointmentType, CreatedBy: f.by, CreatedAt: f.now}
		if err := next.fill(&e); err != nil {
			return invitationResult{}, err
		}
		e.Kind = kind
		created, err := tx.InsertAgendaEvent(ctx, &e)
		if err != nil {
			return invitationResult{}, err
		}
		if !created {
			continue
		}
		out, err := AppointmentOf(&e)
		return invitationResult{filed: filed, out: out}, err
	}
	return invitationResult{}, errs.E(errs.Unavailable, "the invitation's event changed while it was filed: try again")
}

// update files the invitation over the event its reference names already.
func (f *invitationFiling) update(ctx context.Context, tx Tx, e *Event, write bool) (invitationResult, error) {
	old, err := AppointmentOf(e)
	if err != nil {
		return invitationResult{}, err
	}
	placeholder := e.Kind == kindCancelledInvitation
	newer := later(f.ev.Sequence, f.ev.Stamp, &old)
	var (
		next  Appointment
		filed Filed
		kind  = KindAppointment
	)
	switch {
	case f.method == MethodCancel && !newer:
		return invitationResult{filed: FiledUnchanged, out: old}, nil
	case f.method == MethodCancel:
		// A later cancellation ends the event, keeping what it said; over a cancellation
		// already filed, it only keeps the later version, that invitations be judged by.
		next, filed = old, FiledCancelled
		if old.Status == StatusCancelled {
			filed = FiledUpdated
		}
		if placeholder {
			kind = kindCancelledInvitation
		}
		next.Status, next.Sequence, next.Stamp = StatusCancelled, f.ev.Sequence, f.ev.Stamp.UTC()
	case newer:
		next, filed = f.in, FiledUpdated
		if placeholder {
			filed = FiledCreated // the cancellation it followed was of an older version
		}
		if f.ev.RecurrenceID != "" && next.Status != StatusCancelled {
			cancelled, err := f.seriesCancelled(ctx, tx)
			if err != nil {
				return invitationResult{}, err
			}
			if cancelled {
				next.Status = StatusCancelled
			}
		}
		if next.Status == StatusCancelled && (old.Status != StatusCancelled || placeholder) {
			filed = FiledCancelled
		}
	case placeholder:
		// The invitation a cancellation came before: filed as it would have been in order,
		// cancelled, with what it says and the cancellation's version.
		next, filed = f.in, FiledCancelled
		next.Status, next.Sequence, next.Stamp = StatusCancelled, old.Sequence, old.Stamp
	default:
		return invitationResult{filed: FiledUnchanged, out: old}, nil
	}
	if !write {
		return invitationResult{filed: filed}, nil
	}
	next.Version, next.Updated = old.Version+1, f.now
	if err := next.fill(e); err != nil {
		return invitationResult{}, err
	}
	e.Kind = kind
	if err := tx.UpdateAgendaEvent(ctx, e); err != nil {
		return invitationResult{}, err
	}
	out, err := AppointmentOf(e)
	return invitationResult{filed: filed, out: out}, err
}

// seriesCancelled reports whether the series this instance belongs to was cancelled by a
// version that is not older than the instance's.
func (f *invitationFiling) seriesCancelled(ctx context.Context, tx Tx) (bool, error) {
	e, found, err := tx.AgendaEventByRef(ctx, SourceAppointment, f.series)
	if err != nil || !found || e.PatientID != f.patientID {
		return false, err
	}
	s, err := AppointmentOf(&e)
	if err != nil {
		return false, err
	}
	return s.Status == StatusCancelled && !later(f.ev.Sequence, f.ev.Stamp, &s), nil
}

// cancelInstances cancels the instances of the series (not the series' own event) that the
// cancellation is later than; it returns how many it cancelled (or would).
func (f *invitationFiling) cancelInstances(ctx context.Context, tx Tx, write bool) (int, error) {
	evs, err := tx.AgendaEventsByRefPrefix(ctx, f.patientID, SourceAppointment, f.series+"-", maxInstances)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range evs {
		e := &evs[i]
		old, err := AppointmentOf(e)
		if err != nil {
			return 0, err
		}
		if old.Status == StatusCancelled || !later(f.ev.Sequence, f.ev.Stamp, &old) {
			continue
		}
		n++
		if !write {
			continue
		}
		next := old
		next.Status, next.Sequence, next.Stamp = StatusCancelled, f.ev.Sequence, f.ev.Stamp.UTC()
		next.Version, next.Updated = old.Version+1, f.now
		kind := e.Kind
		if err := next.fill(e); err != nil {
			return 0, err
		}
		e.Kind = kind
		if err := tx.UpdateAgendaEvent(ctx, e); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// maxInstances bounds the instances of one series a cancellation walks: the instances filed
// are those an invitation named one by one (moved or cancelled), a handful.
const maxInstances = 500

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

// Professional is one of this operator's professionals as the access decision sees them (as
// sign-in builds them), by IdNat_PS: who signed in to send an invitation (agendamail).
// NotFound when the directory holds none.
func (s *Service) Professional(ctx context.Context, idnat string) (access.Actor, error) {
	var a access.Actor
	err := s.store.ViewAgenda(ctx, func(tx Tx) error {
		p, err := tx.ProfessionalByIdNat(ctx, idnat)
		if err != nil {
			return err
		}
		a = access.Actor{Kind: audit.ActorProfessional, ID: p.IdNat.String(), Name: p.DisplayName(), Profession: p.Profession}
		if p.Specialty != "" {
			a.Specialty = p.Profession + "/" + p.Specialty
		}
		if p.OrganisationID != 0 {
			o, err := tx.Organisation(ctx, p.OrganisationID)
			if err != nil && !errs.Is(err, errs.NotFound) {
				return err
			}
			a.Org = o.StructureID.String()
		}
		return nil
	})
	return a, err
}
