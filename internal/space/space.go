// Package space is in charge of the life of a patient space (DOMAIN.md "Life of a patient
// space", décret n° 2021-1048 on the espace numérique de santé): creation by the operator
// with an opt-out notice, automatic opening after the opt-out period, early activation,
// objection, closure with archiving, deletion on request, reopening, purge, and the legal
// representatives who act for a minor or a protected adult.
//
// The rules are pure methods on Space that take the time as an argument; the Service runs them
// in a transaction with their trace and the jobs they queue. Deadlines are data (opens_at,
// purge_at) swept by a periodic job against the injected clock, so they survive restarts and
// tests move the clock instead of waiting.
package space

import (
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

// State of a space.
type State string

const (
	Pending State = "pending" // created, notice sent, opt-out period running
	Open    State = "open"
	Opposed State = "opposed" // the person objected during the opt-out period
	Closed  State = "closed"  // archived until PurgeAt, can be reopened
	Purged  State = "purged"  // data deleted; only the INS remains, so the space is not created again
)

// Policy holds the legal delays. The defaults are the law's; they are values, not constants,
// so that tests and a changed regulation do not need a code change. Years and months are
// calendar ones: "10 years" lands on the same calendar day, never later.
type Policy struct {
	OptOutPeriod   time.Duration // notice → automatic opening
	ArchiveYears   int           // closure → purge
	DeletionMonths int           // deletion request → purge, at the latest
	MajorityAge    int           // years: parental representation ends
}

// DefaultPolicy: 6 weeks to object, archives kept 10 years, deletion on request within 3 months.
func DefaultPolicy() Policy {
	return Policy{OptOutPeriod: 6 * 7 * 24 * time.Hour, ArchiveYears: 10, DeletionMonths: 3, MajorityAge: 18}
}

// Space is a patient's space.
type Space struct {
	PatientID         int64
	State             State
	CreatedAt         time.Time
	OpensAt           time.Time // while Pending
	OpenedAt          time.Time
	Activated         bool // the person activated it (set credentials), early or after opening
	OpposedAt         time.Time
	ClosedAt          time.Time
	PurgeAt           time.Time // while Closed
	DeletionRequested bool
	PurgedAt          time.Time
	Version           int64 // optimistic concurrency: bumped by every change
}

// New returns the space the operator creates for a person: pending until the end of the
// opt-out period.
func New(patientID int64, now time.Time, p Policy) Space {
	return Space{PatientID: patientID, State: Pending, CreatedAt: now, OpensAt: now.Add(p.OptOutPeriod), Version: 1}
}

func (s Space) refuse(format string, args ...any) error {
	return errs.E(errs.Conflict, format, args...)
}

// Activate: the person proves possession of the notice and sets their credentials. A pending
// space opens at once; an opened one becomes activated; an objection is withdrawn.
func (s Space) Activate(now time.Time) (Space, error) {
	switch s.State {
	case Pending, Opposed:
		s.State, s.OpenedAt, s.OpensAt, s.OpposedAt = Open, now, time.Time{}, time.Time{}
	case Open:
		if s.Activated {
			return s, s.refuse("the space is already activated")
		}
	default:
		return s, s.refuse("a %s space cannot be activated", s.State)
	}
	s.Activated = true
	return s, nil
}

// Oppose: the person objects during the opt-out period; the space is never opened.
func (s Space) Oppose(now time.Time) (Space, error) {
	if s.State != Pending {
		return s, s.refuse("objection is only possible before the space opens (it is %s); an open space can be closed instead", s.State)
	}
	s.State, s.OpposedAt, s.OpensAt = Opposed, now, time.Time{}
	return s, nil
}

// OpenIfDue opens a pending space whose opt-out period is over.
func (s Space) OpenIfDue(now time.Time) (Space, bool) {
	if s.State != Pending || now.Before(s.OpensAt) {
		return s, false
	}
	s.State, s.OpenedAt, s.OpensAt = Open, now, time.Time{}
	return s, true
}

// Close archives the space for the archive period, or, when deletion is requested, until the
// deletion delay.
func (s Space) Close(now time.Time, deletion bool, p Policy) (Space, error) {
	if s.State != Open {
		return s, s.refuse("only an open space can be closed (it is %s)", s.State)
	}
	s.State, s.ClosedAt, s.PurgeAt = Closed, now, addCalendar(now, p.ArchiveYears, 0)
	if deletion {
		s.DeletionRequested, s.PurgeAt = true, addCalendar(now, 0, p.DeletionMonths)
	}
	return s, nil
}

// RequestDeletion shortens the archive of a closed space to the deletion delay.
func (s Space) RequestDeletion(now time.Time, p Policy) (Space, error) {
	if s.State != Closed {
		return s, s.refuse("deletion on request applies to a closed space (it is %s): close it with deletion", s.State)
	}
	if s.DeletionRequested {
		return s, s.refuse("deletion is already requested")
	}
	if at := addCalendar(now, 0, p.DeletionMonths); at.Before(s.PurgeAt) {
		s.PurgeAt = at
	}
	s.DeletionRequested = true
	return s, nil
}

// Reopen restores a closed space before its purge.
func (s Space) Reopen(now time.Time) (Space, error) {
	if s.State != Closed {
		return s, s.refuse("only a closed space can be reopened (it is %s)", s.State)
	}
	if !now.Before(s.PurgeAt) {
		return s, s.refuse("the archive period is over: the space is being deleted")
	}
	s.State, s.ClosedAt, s.PurgeAt, s.DeletionRequested, s.OpenedAt = Open, time.Time{}, time.Time{}, false, now
	return s, nil
}

// PurgeIfDue marks a closed space whose archive is over as purged.
func (s Space) PurgeIfDue(now time.Time) (Space, bool) {
	if s.State != Closed || now.Before(s.PurgeAt) {
		return s, false
	}
	s.State, s.PurgedAt, s.PurgeAt = Purged, now, time.Time{}
	return s, true
}

// addCalendar adds calendar years and months, keeping the day of the month but clamping it to
// the last day of a shorter month: 30 November + 3 months is 28 (or 29) February, not 2 March,
// so that a deadline "within 3 months" is never late (time.AddDate would normalise forward).
func addCalendar(t time.Time, years, months int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y+years, m+time.Month(months), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}
