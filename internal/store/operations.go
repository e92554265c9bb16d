package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/operations"
)

// Operations adapts the store to the operator's figures.
func (db *DB) Operations() operations.Store { return operationsStore{db} }

type operationsStore struct{ db *DB }

// exactBelow: on PostgreSQL a table the statistics say is smaller than this is counted; a
// larger one is estimated from them (a count of a billion traces takes minutes).
const exactBelow = 200_000

func (s operationsStore) Figures(ctx context.Context, now time.Time) (operations.Figures, error) {
	f := operations.Figures{At: now, Spaces: map[string]int64{}}
	err := s.db.View(ctx, func(tx *Tx) error {
		counts := []struct {
			dst          *int64
			table, where string
		}{
			{&f.Documents, "documents", "is_current AND status <> 'deleted'"},
			{&f.Traces, "traces", ""},
			{&f.Messages, "mail_messages", ""},
			{&f.Professionals, "professionals", ""},
			{&f.Organisations, "organisations", ""},
			{&f.PatientAccounts, "accounts", "kind = 'patient' AND disabled_at IS NULL"},
			{&f.Mailboxes, "mailboxes", "disabled_at IS NULL"},
		}
		for _, c := range counts {
			n, est, err := tx.countRows(ctx, c.table, c.where)
			if err != nil {
				return err
			}
			*c.dst, f.Estimated = n, f.Estimated || est
		}
		est, err := tx.spacesByState(ctx, f.Spaces)
		if err != nil {
			return err
		}
		f.Estimated = f.Estimated || est
		var imported sql.NullInt64
		err = tx.queryRow(ctx, `SELECT COALESCE(MAX(domains), 0), MAX(imported_at) FROM mail_allowlist_import`).Scan(&f.AllowlistDomains, &imported)
		if err != nil {
			return fmt.Errorf("allowlist status: %w", err)
		}
		f.AllowlistImported = fromNullMicros(imported)
		return nil
	})
	return f, err
}

// estimate returns the planner's row count of table on PostgreSQL; ok is false on SQLite, for
// a table never analysed, and for a small one (counted exactly instead).
func (tx *Tx) estimate(ctx context.Context, table string) (n int64, ok bool, err error) {
	if tx.db.dialect != Postgres {
		return 0, false, nil
	}
	var r float64
	if err := tx.queryRow(ctx, `SELECT COALESCE((SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)), -1)`, table).Scan(&r); err != nil {
		return 0, false, fmt.Errorf("estimate %s: %w", table, err)
	}
	if r < exactBelow {
		return 0, false, nil
	}
	return int64(r), true, nil
}

// countRows counts the rows of table matching where, or estimates the whole table's.
func (tx *Tx) countRows(ctx context.Context, table, where string) (n int64, estimated bool, err error) {
	if n, ok, err := tx.estimate(ctx, table); err != nil || ok {
		return n, ok, err
	}
	q := `SELECT COUNT(*) FROM ` + table
	if where != "" {
		q += ` WHERE ` + where
	}
	if err := tx.queryRow(ctx, q).Scan(&n); err != nil {
		return 0, false, fmt.Errorf("count %s: %w", table, err)
	}
	return n, false, nil
}

// spacesByState counts the spaces of each state; on a large PostgreSQL table, from the
// statistics of the state column (its most common values and their frequencies).
func (tx *Tx) spacesByState(ctx context.Context, out map[string]int64) (bool, error) {
	total, ok, err := tx.estimate(ctx, "spaces")
	if err != nil {
		return false, err
	}
	if ok {
		var vals, freqs sql.NullString
		err := tx.queryRow(ctx, `SELECT most_common_vals::text, most_common_freqs::text FROM pg_stats
			WHERE schemaname = current_schema() AND tablename = 'spaces' AND attname = 'state'`).Scan(&vals, &freqs)
		if err == nil && vals.Valid && freqs.Valid {
			vs, fs := pgArray(vals.String), pgArray(freqs.String)
			for i := range min(len(vs), len(fs)) {
				f, err := strconv.ParseFloat(fs[i], 64)
				if err == nil {
					out[vs[i]] = int64(f*float64(total) + 0.5)
				}
			}
			return true, nil
		}
		if err != nil && err != sql.ErrNoRows {
			return false, fmt.Errorf("spaces statistics: %w", err)
		}
	}
	rows, err := tx.query(ctx, `SELECT state, COUNT(*) FROM spaces GROUP BY state`)
	if err != nil {
		return false, fmt.Errorf("count spaces: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return false, err
		}
		out[st] = n
	}
	return false, rows.Err()
}

// pgArray splits the text form of a one-dimensional array of simple values: {a,b,c}.
func pgArray(s string) []string {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.Trim(p, `"`)
	}
	return parts
}

func (s operationsStore) Queues(ctx context.Context, now time.Time) (operations.Queues, error) {
	q := operations.Queues{At: now}
	err := s.db.View(ctx, func(tx *Tx) error {
		q.Jobs = nil
		rows, err := tx.query(ctx, `SELECT kind, state, COUNT(*) FROM river_job GROUP BY kind, state`)
		if err != nil {
			return fmt.Errorf("count jobs: %w", err)
		}
		for rows.Next() {
			var j operations.JobCount
			if err := rows.Scan(&j.Kind, &j.State, &j.Count); err != nil {
				rows.Close()
				return err
			}
			q.Jobs = append(q.Jobs, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// The column keeps its declared type (a timestamp) only when selected as is.
		var oldest time.Time
		err = tx.queryRow(ctx, `SELECT scheduled_at FROM river_job WHERE state = 'available' ORDER BY scheduled_at LIMIT 1`).Scan(&oldest)
		switch {
		case err == sql.ErrNoRows:
		case err != nil:
			return fmt.Errorf("oldest job: %w", err)
		default:
			q.OldestAvailable = oldest.UTC()
		}
		for _, c := range []struct {
			dst *int64
			q   string
			arg []any
		}{
			{&q.OutboundQueued, `SELECT COUNT(*) FROM mail_outbound WHERE state = 'queued'`, nil},
			{&q.OutboundBounced, `SELECT COUNT(*) FROM mail_outbound WHERE state = 'bounced' AND updated_at >= $1`, []any{micros(now.Add(-24 * time.Hour))}},
			{&q.NoticesDue, `SELECT COUNT(*) FROM notice_outbox WHERE not_before <= $1`, []any{micros(now)}},
			{&q.BlobGarbage, `SELECT COUNT(*) FROM blob_garbage`, nil},
		} {
			if err := tx.queryRow(ctx, c.q, c.arg...).Scan(c.dst); err != nil {
				return fmt.Errorf("queue figures: %w", err)
			}
		}
		return nil
	})
	return q, err
}
