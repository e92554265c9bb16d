package agenda

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/space"
)

// EventTx is what the service needs of a store transaction to change one event, and to keep
// the patient's agenda settings (feed.go).
type EventTx interface {
	// AgendaEvent returns the patient's event id; NotFound when the patient has none of that id.
	AgendaEvent(ctx context.Context, patientID, id int64) (Event, error)
	// AgendaEventByRef returns the event of source with reference ref, whoever's, if any (the
	// references of appointments are unique across patients).
	AgendaEventByRef(ctx context.Context, source, ref string) (Event, bool, error)
	// AgendaEventsByRefPrefix returns the patient's events of source whose reference begins
	// with prefix (the instances of a series of invitations), at most limit of them.
	AgendaEventsByRefPrefix(ctx context.Context, patientID int64, source, prefix string, limit int) ([]Event, error)
	// UpdateAgendaEvent rewrites what an event says (kind, start, end, title, detail, document,
	// payload) by its id and patient.
	UpdateAgendaEvent(ctx context.Context, e *Event) error
	// DeleteAgendaEvent removes the patient's event id.
	DeleteAgendaEvent(ctx context.Context, patientID, id int64) error
	// AgendaSettings returns the patient's feed and reminder settings (the defaults when none).
	AgendaSettings(ctx context.Context, patientID int64) (Settings, error)
	// SetAgendaFeed stores the hash of the patient's feed secret ("" revokes it).
	SetAgendaFeed(ctx context.Context, patientID int64, hash string, opt FeedOptions, at time.Time) error
	// SetAgendaFeedOptions changes what the patient's feed shows; NotFound when they have none.
	SetAgendaFeedOptions(ctx context.Context, patientID int64, opt FeedOptions) error
	// SetAgendaReminders stores whether the patient gets e-mail reminders.
	SetAgendaReminders(ctx context.Context, patientID int64, email bool) error
	// Patient returns the patient's identity traits (birth date and sex, for the reminders).
	Patient(ctx context.Context, id int64) (space.Patient, error)
	// AgendaFeedOwner returns the patient whose feed secret hashes to hash, and what the feed
	// shows; found is false when no feed has that hash.
	AgendaFeedOwner(ctx context.Context, hash string) (patientID int64, opt FeedOptions, found bool, err error)
}

// SourcePersonal is the source of the events the patient writes in their agenda.
const SourcePersonal = "personal"

// The record category of personal events: an administrative document deposited by the patient
// (DOCPAT09, class 95), in the Espace personnel. Who sees them is decided as for such a
// document: the patient, and the professionals the patient lets see their Espace personnel.
const (
	personalClass = "95"
	personalType  = "DOCPAT09"
)

// Personal is an event as the patient writes it.
type Personal struct {
	Title string
	// Start and End: for an all-day event, the first and last days (at midnight UTC, End may
	// equal Start); else times, End zero when the event has no length.
	Start, End time.Time
	AllDay     bool
	Place      string
	Note       string
}

// personalPayload is what a personal event keeps besides its title and dates.
type personalPayload struct {
	AllDay bool   `json:"allDay,omitempty"`
	Place  string `json:"place,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Limits of a personal event.
const (
	maxPlace = 256
	maxNote  = 2000
	// maxPersonalSpan bounds an event's length: an agenda event is not a period of life.
	maxPersonalSpan = 366 * 24 * time.Hour
)

// check returns the problems of p, "" when there are none, and normalises it.
func (p *Personal) check() string {
	var problems []string
	bad := func(s string) { problems = append(problems, s) }
	p.Title, p.Place, p.Note = strings.TrimSpace(p.Title), strings.TrimSpace(p.Place), strings.TrimSpace(p.Note)
	switch {
	case p.Title == "":
		bad("the title is missing")
	case len(p.Title) > maxTitle:
		bad("the title is longer than 256 bytes")
	}
	if len(p.Place) > maxPlace {
		bad("the place is longer than 256 bytes")
	}
	if len(p.Note) > maxNote {
		bad("the note is longer than 2000 bytes")
	}
	for _, s := range []string{p.Title, p.Place, p.Note} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			bad("the text is not valid UTF-8")
			break
		}
	}
	if p.Start.IsZero() {
		bad("the start is missing")
	}
	if p.AllDay {
		p.Start = midnight(p.Start)
		if !p.End.IsZero() {
			p.End = midnight(p.End)
		}
	}
	if !p.End.IsZero() {
		switch {
		case p.End.Before(p.Start):
			bad("the end is before the start")
		case p.End.Sub(p.Start) > maxPersonalSpan:
			bad("the event lasts more than a year")
		}
	}
	return strings.Join(problems, "; ")
}

func midnight(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// event is the stored event of p.
func (p *Personal) event(e *Event) {
	e.Kind, e.Title, e.Start, e.End = KindPersonal, p.Title, p.Start, p.End
	var detail []string
	for _, s := range []string{p.Place, p.Note} {
		if s != "" {
			detail = append(detail, s)
		}
	}
	e.Detail = strings.Join(detail, " · ")
	if len(e.Detail) > maxDetail {
		e.Detail = truncate(e.Detail, maxDetail)
	}
	e.Payload, _ = json.Marshal(personalPayload{AllDay: p.AllDay, Place: p.Place, Note: p.Note})
}

// truncate cuts s to at most n bytes, on a rune boundary, with an ellipsis.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// PersonalOf reads back what the patient wrote of a personal event, for its edit form.
func PersonalOf(e *Event) (Personal, bool) {
	if e.Kind != KindPersonal {
		return Personal{}, false
	}
	var pl personalPayload
	if len(e.Payload) > 0 && json.Unmarshal(e.Payload, &pl) != nil {
		return Personal{}, false
	}
	return Personal{Title: e.Title, Start: e.Start, End: e.End, AllDay: pl.AllDay, Place: pl.Place, Note: pl.Note}, true
}

// AllDay reports whether the event is of whole days (a personal event so marked, or any event
// filed at midnight UTC without a time of day, as the insurer's acts are).
func (e *Event) AllDay() bool {
	if p, ok := PersonalOf(e); ok {
		return p.AllDay
	}
	if e.Kind == KindAppointment {
		a, err := AppointmentOf(e)
		return err == nil && a.AllDay
	}
	return e.Start.Equal(midnight(e.Start)) && (e.End.IsZero() || e.End.Equal(midnight(e.End)))
}

func newRef() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// personalTarget is what writing a personal event is decided on: a document the patient
// deposits in their Espace personnel.
func personalTarget(ref string) access.Target {
	o := access.Object{Class: personalClass, Type: personalType, DepositedBy: access.DepositedByPatient}
	return access.Target{Ref: ref, Object: o}
}

// ownOnly refuses personal events to anyone but the patient and their representatives: a
// professional or an app files events through their own sources.
func ownOnly(r Request, patientID int64) error {
	switch r.Actor.Kind {
	case audit.ActorPatient, audit.ActorRepresentative:
		if r.Actor.PatientID == patientID {
			return nil
		}
	}
	return errs.E(errs.Forbidden, "only the patient (or their representative) writes personal events")
}

// AddPersonal files a personal event in the patient's agenda, decided as the patient's deposit
// in their Espace personnel and traced with the decision, and returns it.
func (s *Service) AddPersonal(ctx context.Context, r Request, patientID int64, p Personal) (Event, error) {
	if err := ownOnly(r, patientID); err != nil {
		return Event{}, err
	}
	if prob := p.check(); prob != "" {
		return Event{}, errs.E(errs.Invalid, "%s", prob)
	}
	now := s.clock.Now()
	e := Event{PatientID: patientID, Source: SourcePersonal, SourceRef: newRef(), Class: personalClass, Type: personalType,
		CreatedBy: r.Actor.Audit(), CreatedAt: now}
	p.event(&e)
	if prob := e.check(); prob != "" {
		return Event{}, errs.E(errs.Invalid, "%s", prob)
	}
	_, err := access.Do(ctx, s.access, s.store.UpdateAgenda, r.Actor, r.Channel, patientID, access.ActionDeposit,
		personalTarget(ObjectAgenda), r.BreakGlass, func(tx Tx, _ access.Decision) error {
			if err := openSpace(ctx, tx, patientID); err != nil {
				return err
			}
			_, err := tx.InsertAgendaEvent(ctx, &e)
			return err
		})
	if err != nil {
		return Event{}, err
	}
	return e, nil
}

func openSpace(ctx context.Context, tx Tx, patientID int64) error {
	sp, err := tx.Space(ctx, patientID)
	if err != nil {
		return err
	}
	if sp.State != space.Open {
		return errs.E(errs.Conflict, "this patient's space is %s: its agenda takes no new events", sp.State)
	}
	return nil
}

// Personal returns one of the patient's personal events, for its edit form: decided as reading
// a document of the Espace personnel, and traced.
func (s *Service) Personal(ctx context.Context, r Request, patientID, id int64) (Event, error) {
	if err := ownOnly(r, patientID); err != nil {
		return Event{}, err
	}
	var e Event
	_, err := access.Do(ctx, s.access, s.store.UpdateAgenda, r.Actor, r.Channel, patientID, access.ActionRead,
		personalTarget("event/"+itoa(id)), r.BreakGlass, func(tx Tx, _ access.Decision) error {
			var err error
			e, err = personalEvent(ctx, tx, patientID, id)
			return err
		})
	if err != nil {
		return Event{}, err
	}
	return e, nil
}

func personalEvent(ctx context.Context, tx Tx, patientID, id int64) (Event, error) {
	e, err := tx.AgendaEvent(ctx, patientID, id)
	if err != nil {
		return Event{}, err
	}
	if e.Source != SourcePersonal {
		return Event{}, errs.E(errs.Forbidden, "this event was filed by its source: it is not the patient's to change")
	}
	return e, nil
}

// EditPersonal rewrites one of the patient's personal events, decided as replacing a document
// of their Espace personnel, and traced.
func (s *Service) EditPersonal(ctx context.Context, r Request, patientID, id int64, p Personal) (Event, error) {
	if err := ownOnly(r, patientID); err != nil {
		return Event{}, err
	}
	if prob := p.check(); prob != "" {
		return Event{}, errs.E(errs.Invalid, "%s", prob)
	}
	var e Event
	_, err := access.Do(ctx, s.access, s.store.UpdateAgenda, r.Actor, r.Channel, patientID, access.ActionReplace,
		personalTarget("event/"+itoa(id)), r.BreakGlass, func(tx Tx, _ access.Decision) error {
			if err := openSpace(ctx, tx, patientID); err != nil {
				return err
			}
			var err error
			if e, err = personalEvent(ctx, tx, patientID, id); err != nil {
				return err
			}
			p.event(&e)
			if prob := e.check(); prob != "" {
				return errs.E(errs.Invalid, "%s", prob)
			}
			return tx.UpdateAgendaEvent(ctx, &e)
		})
	if err != nil {
		return Event{}, err
	}
	return e, nil
}

// DeletePersonal removes one of the patient's personal events, decided as deleting a document
// of their Espace personnel, and traced.
func (s *Service) DeletePersonal(ctx context.Context, r Request, patientID, id int64) error {
	if err := ownOnly(r, patientID); err != nil {
		return err
	}
	_, err := access.Do(ctx, s.access, s.store.UpdateAgenda, r.Actor, r.Channel, patientID, access.ActionDelete,
		personalTarget("event/"+itoa(id)), r.BreakGlass, func(tx Tx, _ access.Decision) error {
			if _, err := personalEvent(ctx, tx, patientID, id); err != nil {
				return err
			}
			return tx.DeleteAgendaEvent(ctx, patientID, id)
		})
	return err
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
