package agenda

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// The iCalendar feed: a secret URL the patient gives their calendar app, which fetches it
// without a session. The secret is 256 random bits; only its SHA-256 is stored, so the URL
// cannot be shown again, only renewed (a new secret, the old one dead) or revoked. A fetch acts
// as the patient reading their own agenda: decided and traced like the agenda page, with the
// channel "feed" named in the trace's actor.

// Settings are the patient's feed and reminder settings.
type Settings struct {
	Feed          bool      // a feed is set
	FeedDetails   bool      // the feed shows titles and places, not minimal titles
	FeedCare      bool      // the feed shows the stays and consultations read from the record
	FeedCreatedAt time.Time // when the current secret was made
	RemindEmail   bool      // the day-before e-mail of upcoming events
}

// FeedOptions are what the patient chose their feed to show.
type FeedOptions struct {
	// Details: titles, places and details, not only the kind and the time.
	Details bool
	// Care: the hospital stays and consultations read from the record's reports (derived.go),
	// which reveal what the reports say of one's care to the calendar's maker: the patient's
	// choice, off unless they make it (feeds made before the choice existed show none).
	Care bool
}

// FeedActorID is the actor ID the feed's fetches are traced under.
const FeedActorID = "agenda-feed"

// tokenBytes: 256 bits of secret.
const tokenBytes = 32

// HashFeedToken is what the store keeps of a feed's secret.
func HashFeedToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// ValidFeedToken reports whether token has the form of a secret this package makes (43
// base64url characters), so that anything else is refused before the store is asked.
func ValidFeedToken(token string) bool {
	if len(token) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil
}

// holderOnly: the feed and the e-mail reminders belong to the patient themselves: a feed acts
// as the patient when it is fetched, and the e-mails go to the patient's address.
func holderOnly(r Request, patientID int64) error {
	if r.Actor.Kind == audit.ActorPatient && r.Actor.PatientID == patientID {
		return nil
	}
	return errs.E(errs.Forbidden, "only the patient sets their calendar feed and reminders")
}

// Settings returns the patient's agenda settings.
func (s *Service) Settings(ctx context.Context, r Request, patientID int64) (Settings, error) {
	if err := holderOnly(r, patientID); err != nil {
		return Settings{}, err
	}
	var st Settings
	err := s.store.ViewAgenda(ctx, func(tx Tx) error {
		var err error
		st, err = tx.AgendaSettings(ctx, patientID)
		return err
	})
	return st, err
}

// settingsTarget: managing how the agenda leaves the service (a feed) is decided as managing
// access to the record, for the patient only.
func settingsTarget() access.Target { return access.Target{Ref: ObjectAgenda + "/feed"} }

// NewFeed makes a new secret for the patient's feed (revoking any previous one) and returns
// it: the only time it exists outside the URL the patient copies. opt chooses what the feed
// shows. Decided as managing access (access.ActionManageAccess), and traced.
func (s *Service) NewFeed(ctx context.Context, r Request, patientID int64, opt FeedOptions) (string, error) {
	if err := holderOnly(r, patientID); err != nil {
		return "", err
	}
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.clock.Now()
	_, err := access.Do(ctx, s.access, s.store.UpdateAgenda, r.Actor, r.Channel, patientID, access.ActionManageAccess,
		settingsTarget(), r.BreakGlass, func(tx Tx, _ access.Decision) error {
			return tx.SetAgendaFeed(ctx, patientID, HashFeedToken(token), opt, now)
		})
	if err != nil {
		return "", err
	}
	return token, nil
}

// SetFeedOptions changes what the patient's feed shows, keeping its address (the calendar app
// subscribed to it need not be told): decided and traced as NewFeed. NotFound when the patient
// has no feed.
func (s *Service) SetFeedOptions(ctx context.Context, r Request, patientID int64, opt FeedOptions) error {
	if err := holderOnly(r, patientID); err != nil {
		return err
	}
	_, err := access.Do(ctx, s.access, s.store.UpdateAgenda, r.Actor, r.Channel, patientID, access.ActionManageAccess,
		settingsTarget(), r.BreakGlass, func(tx Tx, _ access.Decision) error {
			return tx.SetAgendaFeedOptions(ctx, patientID, opt)
		})
	return err
}

// RevokeFeed ends the patient's feed: its URL answers 404 from now on.
func (s *Service) RevokeFeed(ctx context.Context, r Request, patientID int64) error {
	if err := holderOnly(r, patientID); err != nil {
		return err
	}
	_, err := access.Do(ctx, s.access, s.store.UpdateAgenda, r.Actor, r.Channel, patientID, access.ActionManageAccess,
		settingsTarget(), r.BreakGlass, func(tx Tx, _ access.Decision) error {
			return tx.SetAgendaFeed(ctx, patientID, "", FeedOptions{}, s.clock.Now())
		})
	return err
}

// SetReminders sets whether the patient gets the day-before e-mail of upcoming events.
func (s *Service) SetReminders(ctx context.Context, r Request, patientID int64, email bool) error {
	if err := holderOnly(r, patientID); err != nil {
		return err
	}
	_, err := access.Do(ctx, s.access, s.store.UpdateAgenda, r.Actor, r.Channel, patientID, access.ActionManageAccess,
		access.Target{Ref: ObjectAgenda + "/reminders"}, r.BreakGlass, func(tx Tx, _ access.Decision) error {
			return tx.SetAgendaReminders(ctx, patientID, email)
		})
	return err
}

// FeedWindow is the period a feed shows: calendar apps keep what they fetched, so a year back
// and a year ahead is enough to follow one's care without copying a whole life of it.
const (
	feedPast   = 1 // year
	feedFuture = 1 // year
)

// Feed is what a feed's fetch gives: the events to write, and whether to show their details.
type Feed struct {
	PatientID int64
	Details   bool
	Events    []Event
}

// FeedEvents resolves a feed's secret and reads its events as the patient: decided and traced
// like the agenda page (Timeline), under the actor FeedActorID. An unknown or malformed secret
// is NotFound, and costs one hash and one indexed lookup.
func (s *Service) FeedEvents(ctx context.Context, token string) (Feed, error) {
	notFound := errs.E(errs.NotFound, "no such calendar feed")
	if !ValidFeedToken(token) {
		return Feed{}, notFound
	}
	var (
		f     Feed
		opt   FeedOptions
		found bool
	)
	if err := s.store.ViewAgenda(ctx, func(tx Tx) error {
		var err error
		f.PatientID, opt, found, err = tx.AgendaFeedOwner(ctx, HashFeedToken(token))
		return err
	}); err != nil {
		return Feed{}, err
	}
	if !found {
		return Feed{}, notFound
	}
	now := s.clock.Now()
	r := Request{Channel: audit.ChannelWeb, Actor: access.Actor{Kind: audit.ActorPatient, ID: FeedActorID,
		Name: "Abonnement agenda (iCalendar)", PatientID: f.PatientID}}
	// The stays and consultations only when the patient chose them: the record is not even
	// searched otherwise.
	evs, err := s.timeline(ctx, r, f.PatientID, now.AddDate(-feedPast, 0, 0), now.AddDate(feedFuture, 0, 0), opt.Care)
	if err != nil {
		return Feed{}, err
	}
	f.Details, f.Events = opt.Details, evs
	return f, nil
}
