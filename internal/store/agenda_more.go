package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/errs"
)

// The agenda beyond its page (issue 8): one event changed or removed (personal events,
// appointments updated by their software), the patient's feed and reminder settings
// (agenda_settings, migration 0023), and what the reminder job reads.

// AgendaEvent returns the patient's event id.
func (tx *Tx) AgendaEvent(ctx context.Context, patientID, id int64) (agenda.Event, error) {
	evs, err := tx.agendaEvents(ctx, `SELECT `+agendaColumns+` FROM agenda_events WHERE patient_id = $1 AND id = $2`, patientID, id)
	if err != nil {
		return agenda.Event{}, err
	}
	if len(evs) == 0 {
		return agenda.Event{}, errs.E(errs.NotFound, "no such event")
	}
	return evs[0], nil
}

// AgendaEventByRef returns the event of source with reference ref, whoever's.
func (tx *Tx) AgendaEventByRef(ctx context.Context, source, ref string) (agenda.Event, bool, error) {
	evs, err := tx.agendaEvents(ctx, `SELECT `+agendaColumns+` FROM agenda_events WHERE source = $1 AND source_ref = $2
		ORDER BY id LIMIT 1`, source, ref)
	if err != nil || len(evs) == 0 {
		return agenda.Event{}, false, err
	}
	return evs[0], true, nil
}

// UpdateAgendaEvent rewrites what an event says.
func (tx *Tx) UpdateAgendaEvent(ctx context.Context, e *agenda.Event) error {
	res, err := tx.exec(ctx, `UPDATE agenda_events SET kind = $3, starts_at = $4, ends_at = $5, title = $6, detail = $7,
		document_id = $8, payload = $9 WHERE patient_id = $1 AND id = $2`, e.PatientID, e.ID, string(e.Kind), micros(e.Start),
		nullMicros(e.End), e.Title, e.Detail, e.Document, string(e.Payload))
	if err != nil {
		return fmt.Errorf("update agenda event: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return errs.E(errs.NotFound, "no such event")
	}
	return nil
}

// DeleteAgendaEvent removes the patient's event id.
func (tx *Tx) DeleteAgendaEvent(ctx context.Context, patientID, id int64) error {
	res, err := tx.exec(ctx, `DELETE FROM agenda_events WHERE patient_id = $1 AND id = $2`, patientID, id)
	if err != nil {
		return fmt.Errorf("delete agenda event: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return errs.E(errs.NotFound, "no such event")
	}
	return nil
}

// AgendaSettings returns the patient's feed and reminder settings, the defaults when none.
func (tx *Tx) AgendaSettings(ctx context.Context, patientID int64) (agenda.Settings, error) {
	var (
		hash            sql.NullString
		details, remind int
		created         sql.NullInt64
	)
	err := tx.queryRow(ctx, `SELECT feed_hash, feed_details, feed_created_at, remind_email FROM agenda_settings
		WHERE patient_id = $1`, patientID).Scan(&hash, &details, &created, &remind)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return agenda.Settings{RemindEmail: true}, nil
	case err != nil:
		return agenda.Settings{}, fmt.Errorf("read agenda settings: %w", err)
	}
	opt := feedOptions(details)
	st := agenda.Settings{Feed: hash.Valid && hash.String != "", FeedDetails: opt.Details, FeedCare: opt.Care, RemindEmail: remind == 1}
	if st.Feed {
		st.FeedCreatedAt = fromNullMicros(created)
	}
	return st, nil
}

// What a feed shows is kept in feed_details (migration 0023) as flags: feedDetails (1, the
// column's meaning when it was made) and feedCare (2, the record's stays and consultations,
// which the patient chooses since; a feed made before shows none).
const (
	feedDetails = 1
	feedCare    = 2
)

func feedFlags(opt agenda.FeedOptions) int {
	n := 0
	if opt.Details {
		n |= feedDetails
	}
	if opt.Care {
		n |= feedCare
	}
	return n
}

func feedOptions(n int) agenda.FeedOptions {
	return agenda.FeedOptions{Details: n&feedDetails != 0, Care: n&feedCare != 0}
}

// SetAgendaFeedOptions changes what the patient's feed shows.
func (tx *Tx) SetAgendaFeedOptions(ctx context.Context, patientID int64, opt agenda.FeedOptions) error {
	res, err := tx.exec(ctx, `UPDATE agenda_settings SET feed_details = $2 WHERE patient_id = $1 AND feed_hash IS NOT NULL`,
		patientID, feedFlags(opt))
	if err != nil {
		return fmt.Errorf("set agenda feed options: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return errs.E(errs.NotFound, "no calendar feed to change")
	}
	return nil
}

// SetAgendaFeed stores the hash of the patient's feed secret; "" revokes it.
func (tx *Tx) SetAgendaFeed(ctx context.Context, patientID int64, hash string, opt agenda.FeedOptions, at time.Time) error {
	var h any
	var created any
	if hash != "" {
		h, created = hash, micros(at)
	}
	_, err := tx.exec(ctx, `INSERT INTO agenda_settings (patient_id, feed_hash, feed_details, feed_created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (patient_id) DO UPDATE SET feed_hash = excluded.feed_hash,
		feed_details = excluded.feed_details, feed_created_at = excluded.feed_created_at`,
		patientID, h, feedFlags(opt), created)
	if err != nil {
		return fmt.Errorf("set agenda feed: %w", err)
	}
	return nil
}

// SetAgendaReminders stores whether the patient gets e-mail reminders.
func (tx *Tx) SetAgendaReminders(ctx context.Context, patientID int64, email bool) error {
	_, err := tx.exec(ctx, `INSERT INTO agenda_settings (patient_id, remind_email) VALUES ($1, $2)
		ON CONFLICT (patient_id) DO UPDATE SET remind_email = excluded.remind_email`, patientID, boolInt(email))
	if err != nil {
		return fmt.Errorf("set agenda reminders: %w", err)
	}
	return nil
}

// AgendaFeedOwner returns the patient whose feed secret hashes to hash.
func (tx *Tx) AgendaFeedOwner(ctx context.Context, hash string) (int64, agenda.FeedOptions, bool, error) {
	var (
		pid     int64
		details int
	)
	err := tx.queryRow(ctx, `SELECT patient_id, feed_details FROM agenda_settings WHERE feed_hash = $1`, hash).Scan(&pid, &details)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, agenda.FeedOptions{}, false, nil
	case err != nil:
		return 0, agenda.FeedOptions{}, false, fmt.Errorf("read agenda feed: %w", err)
	}
	return pid, feedOptions(details), true, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Reminders adapts the store to the agenda's reminder job.
func (db *DB) Reminders() agenda.ReminderStore { return reminderStore{db} }

type reminderStore struct{ db *DB }

func (s reminderStore) UpdateReminders(ctx context.Context, fn func(agenda.ReminderTx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ agenda.ReminderTx = (*Tx)(nil)

// AgendaRemindersDue returns the appointments and personal events starting in [from, to) of
// patients who did not opt out of reminders and were not reminded of the day ending at to. It
// walks agenda_events_by_start.
func (tx *Tx) AgendaRemindersDue(ctx context.Context, from, to time.Time, limit int) ([]agenda.Due, error) {
	rows, err := tx.query(ctx, `SELECT e.patient_id, e.kind, e.payload FROM agenda_events e
		LEFT JOIN agenda_settings s ON s.patient_id = e.patient_id
		WHERE e.starts_at >= $1 AND e.starts_at < $2 AND e.kind IN ('appointment', 'personal')
		AND COALESCE(s.remind_email, 1) = 1 AND COALESCE(s.reminded_until, 0) < $2
		ORDER BY e.patient_id, e.id LIMIT $3`, micros(from), micros(to), limit)
	if err != nil {
		return nil, fmt.Errorf("read agenda reminders: %w", err)
	}
	defer rows.Close()
	var out []agenda.Due
	for rows.Next() {
		var (
			d             agenda.Due
			kind, payload string
		)
		if err := rows.Scan(&d.PatientID, &kind, &payload); err != nil {
			return nil, err
		}
		d.Kind, d.Payload = agenda.Kind(kind), []byte(payload)
		out = append(out, d)
	}
	return out, rows.Err()
}

// MarkAgendaReminded records that the patient was reminded of the days up to until.
func (tx *Tx) MarkAgendaReminded(ctx context.Context, patientID int64, until time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO agenda_settings (patient_id, reminded_until) VALUES ($1, $2)
		ON CONFLICT (patient_id) DO UPDATE SET reminded_until = excluded.reminded_until`, patientID, micros(until))
	if err != nil {
		return fmt.Errorf("mark agenda reminded: %w", err)
	}
	return nil
}
