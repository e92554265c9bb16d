package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/trail"
)

// Trail adapts the store to the trail service.
func (db *DB) Trail() trail.Store { return trailStore{db} }

type trailStore struct{ db *DB }

func (s trailStore) UpdateTrail(ctx context.Context, fn func(trail.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ trail.Tx = (*Tx)(nil)

// firstAccess is the first access of a professional to a patient's data (trail.Tx): their
// first allowed trace of a document.* or record.* action. t is the alias of the traces row.
func firstAccess(t string) string {
	return t + `.actor_kind = 'professional' AND ` + t + `.outcome = 'allowed' AND (` + t + `.action LIKE 'document.%' OR ` +
		t + `.action LIKE 'record.%')`
}

// TrailTraces returns the patient's traces matching q, newest first, at most q.Limit+1. Every
// query is keyed by patient and walks traces_by_patient_id (or traces_by_patient_actor when
// the actor is known) backwards from the cursor.
func (tx *Tx) TrailTraces(ctx context.Context, q trail.Query) ([]audit.Trace, error) {
	query, args := trailQuery(q)
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read the trail: %w", err)
	}
	defer rows.Close()
	var out []audit.Trace
	for rows.Next() {
		t, err := scanTrace(rows)
		if err != nil {
			return nil, fmt.Errorf("read the trail: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// trailQuery is the SQL of TrailTraces and its arguments.
func trailQuery(q trail.Query) (string, []any) {
	var b strings.Builder
	args := []any{q.PatientID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	b.WriteString(`SELECT ` + traceColumns + ` FROM traces WHERE traces.patient_id = $1`)
	if q.ActorKind != "" {
		b.WriteString(` AND traces.actor_kind = ` + arg(string(q.ActorKind)))
	}
	if q.ActorID != "" {
		b.WriteString(` AND traces.actor_id = ` + arg(q.ActorID))
	}
	if len(q.Actions) > 0 {
		alts := make([]string, len(q.Actions))
		for i, a := range q.Actions {
			if strings.HasSuffix(a, ".") {
				alts[i] = `traces.action LIKE ` + arg(likePrefix(a)) + ` ESCAPE '\'`
			} else {
				alts[i] = `traces.action = ` + arg(a)
			}
		}
		b.WriteString(` AND (` + strings.Join(alts, " OR ") + `)`)
	}
	if q.Outcome != "" {
		b.WriteString(` AND traces.outcome = ` + arg(string(q.Outcome)))
	}
	if !q.From.IsZero() {
		b.WriteString(` AND traces.at >= ` + arg(micros(q.From)))
	}
	if !q.To.IsZero() {
		b.WriteString(` AND traces.at < ` + arg(micros(q.To)))
	}
	if q.Object != "" {
		b.WriteString(` AND traces.object = ` + arg(q.Object))
	}
	if q.FirstAccess {
		b.WriteString(` AND ` + firstAccess("traces") + ` AND traces.id = (` +
			firstAccessOf("f", "traces.patient_id", "traces.actor_id") + `)`)
	}
	if q.Before > 0 {
		b.WriteString(` AND traces.id < ` + arg(q.Before))
	}
	b.WriteString(` ORDER BY traces.id DESC LIMIT ` + arg(q.Limit+1))
	return b.String(), args
}

// likePrefix returns the LIKE pattern of the strings starting with p, its wildcards escaped.
func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p) + "%"
}

// TrailFirstAccesses returns the id of the first access of each professional named. Each is
// found by its own walk of traces_by_patient_actor from the oldest, which stops at the first
// access: a GROUP BY would read every trace of every professional named.
func (tx *Tx) TrailFirstAccesses(ctx context.Context, patientID int64, idnats []string) (map[string]int64, error) {
	out := map[string]int64{}
	if len(idnats) == 0 {
		return out, nil
	}
	query, args := firstAccessesQuery(patientID, idnats)
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read first accesses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var first sql.NullInt64
		if err := rows.Scan(&id, &first); err != nil {
			return nil, fmt.Errorf("read first accesses: %w", err)
		}
		if first.Valid {
			out[id] = first.Int64
		}
	}
	return out, rows.Err()
}

// firstAccessesQuery is the SQL of TrailFirstAccesses and its arguments.
func firstAccessesQuery(patientID int64, idnats []string) (string, []any) {
	args := []any{patientID}
	parts := make([]string, len(idnats))
	for i, id := range idnats {
		args = append(args, id)
		ph := "$" + strconv.Itoa(len(args))
		parts[i] = `SELECT CAST(` + ph + ` AS TEXT), (` + firstAccessOf("t", "$1", ph) + `)`
	}
	return strings.Join(parts, " UNION ALL "), args
}

// firstAccessOf is the query of the id of the first access of the professional actor to the
// patient's data, t the alias it gives the traces.
func firstAccessOf(t, patient, actor string) string {
	return `SELECT ` + t + `.id FROM traces ` + t + ` WHERE ` + t + `.patient_id = ` + patient + ` AND ` + t + `.actor_id = ` +
		actor + ` AND ` + firstAccess(t) + ` ORDER BY ` + t + `.id LIMIT 1`
}

// TrailDocuments describes the current version of each of the patient's documents named.
func (tx *Tx) TrailDocuments(ctx context.Context, patientID int64, logicalIDs []string) (map[string]access.Object, error) {
	out := map[string]access.Object{}
	if len(logicalIDs) == 0 {
		return out, nil
	}
	args := []any{patientID}
	ph := make([]string, len(logicalIDs))
	for i, id := range logicalIDs {
		args = append(args, id)
		ph[i] = "$" + strconv.Itoa(len(args))
	}
	rows, err := tx.query(ctx, `SELECT `+documentColumns+` FROM documents WHERE patient_id = $1 AND is_current
		AND logical_id IN (`+strings.Join(ph, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read traced documents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := tx.scanDocument(rows)
		if err != nil {
			return nil, fmt.Errorf("read traced documents: %w", err)
		}
		out[d.LogicalID] = d.Object()
	}
	return out, rows.Err()
}
