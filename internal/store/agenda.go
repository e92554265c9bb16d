package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/reimburse"
)

// Agenda adapts the store to the agenda service.
func (db *DB) Agenda() agenda.Store { return agendaStore{db} }

type agendaStore struct{ db *DB }

func (s agendaStore) UpdateAgenda(ctx context.Context, fn func(agenda.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s agendaStore) ViewAgenda(ctx context.Context, fn func(agenda.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

// Reimbursements adapts the store to the reimbursement import, which reads what it filed
// before (the patient, their space, the month's statement and events) to file only what is new.
func (db *DB) Reimbursements() reimburse.Store { return reimburseStore{db} }

type reimburseStore struct{ db *DB }

func (s reimburseStore) ViewReimbursements(ctx context.Context, fn func(reimburse.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var (
	_ agenda.Tx    = (*Tx)(nil)
	_ reimburse.Tx = (*Tx)(nil)
)

const agendaColumns = `id, patient_id, kind, starts_at, ends_at, title, detail, class_code, type_code, source, source_ref,
	document_id, payload, created_by_kind, created_by_id, created_by_name, created_at`

// InsertAgendaEvent stores e and sets its ID, unless the patient has an event of the same
// source and reference already.
func (tx *Tx) InsertAgendaEvent(ctx context.Context, e *agenda.Event) (bool, error) {
	err := tx.queryRow(ctx, `INSERT INTO agenda_events (patient_id, kind, starts_at, ends_at, title, detail, class_code,
		type_code, source, source_ref, document_id, payload, created_by_kind, created_by_id, created_by_name, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (source, source_ref, patient_id) DO NOTHING RETURNING id`,
		e.PatientID, string(e.Kind), micros(e.Start), nullMicros(e.End), e.Title, e.Detail, e.Class, e.Type, e.Source,
		e.SourceRef, e.Document, string(e.Payload), string(e.CreatedBy.Kind), e.CreatedBy.ID, e.CreatedBy.Name,
		micros(e.CreatedAt)).Scan(&e.ID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("insert agenda event: %w", err)
	}
	return true, nil
}

// RelinkAgendaEvents moves the patient's events linked to document from to document to.
func (tx *Tx) RelinkAgendaEvents(ctx context.Context, patientID int64, from, to string) error {
	if from == "" {
		return nil
	}
	if _, err := tx.exec(ctx, `UPDATE agenda_events SET document_id = $3 WHERE patient_id = $1 AND document_id = $2`,
		patientID, from, to); err != nil {
		return fmt.Errorf("relink agenda events: %w", err)
	}
	return nil
}

// AgendaEvents returns the patient's events that overlap [from, to), by start then id, at most
// limit. It walks agenda_events_timeline up to to; the end is checked on the rows.
func (tx *Tx) AgendaEvents(ctx context.Context, patientID int64, from, to time.Time, limit int) ([]agenda.Event, error) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		lo = micros(from)
	}
	if !to.IsZero() {
		hi = micros(to)
	}
	return tx.agendaEvents(ctx, `SELECT `+agendaColumns+` FROM agenda_events WHERE patient_id = $1 AND starts_at < $3
		AND COALESCE(ends_at, starts_at) >= $2 ORDER BY starts_at, id LIMIT $4`, patientID, lo, hi, limit)
}

// AgendaSourceEvents returns the patient's events of source that start in [from, to).
func (tx *Tx) AgendaSourceEvents(ctx context.Context, patientID int64, source string, from, to time.Time) ([]agenda.Event, error) {
	return tx.agendaEvents(ctx, `SELECT `+agendaColumns+` FROM agenda_events WHERE patient_id = $1 AND starts_at >= $2
		AND starts_at < $3 AND source = $4 ORDER BY starts_at, id`, patientID, micros(from), micros(to), source)
}

// AgendaEventsByRef returns the events of source whose reference is one of refs, whoever's.
func (tx *Tx) AgendaEventsByRef(ctx context.Context, source string, refs []string) ([]agenda.Event, error) {
	var out []agenda.Event
	const chunk = 500 // well under both engines' limits on parameters
	for len(refs) > 0 {
		n := min(len(refs), chunk)
		args := []any{source}
		ph := make([]string, n)
		for i, r := range refs[:n] {
			args = append(args, r)
			ph[i] = "$" + strconv.Itoa(len(args))
		}
		evs, err := tx.agendaEvents(ctx, `SELECT `+agendaColumns+` FROM agenda_events WHERE source = $1
			AND source_ref IN (`+strings.Join(ph, ", ")+`)`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
		refs = refs[n:]
	}
	return out, nil
}

// AgendaDocuments describes the current version of each of the patient's documents named.
func (tx *Tx) AgendaDocuments(ctx context.Context, patientID int64, logicalIDs []string) (map[string]access.Object, error) {
	return tx.TrailDocuments(ctx, patientID, logicalIDs)
}

func (tx *Tx) agendaEvents(ctx context.Context, q string, args ...any) ([]agenda.Event, error) {
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read agenda events: %w", err)
	}
	defer rows.Close()
	var out []agenda.Event
	for rows.Next() {
		var (
			e                    agenda.Event
			kind, payload, byKnd string
			start, created       int64
			end                  sql.NullInt64
		)
		if err := rows.Scan(&e.ID, &e.PatientID, &kind, &start, &end, &e.Title, &e.Detail, &e.Class, &e.Type, &e.Source,
			&e.SourceRef, &e.Document, &payload, &byKnd, &e.CreatedBy.ID, &e.CreatedBy.Name, &created); err != nil {
			return nil, fmt.Errorf("read agenda events: %w", err)
		}
		e.Kind, e.CreatedBy.Kind = agenda.Kind(kind), audit.ActorKind(byKnd)
		e.Start, e.End, e.CreatedAt = fromMicros(start), fromNullMicros(end), fromMicros(created)
		if payload != "" {
			e.Payload = []byte(payload)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
