package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
)

// AppendTrace chains e at the end of its chain (its patient's, or its actor's), inside the
// caller's transaction. The first trace of a chain is preceded by the chain's anchor, so that
// the chain cannot later vanish unnoticed.
func (tx *Tx) AppendTrace(ctx context.Context, e audit.Entry) (audit.Trace, error) {
	if err := e.Validate(); err != nil {
		return audit.Trace{}, err
	}
	e.At = e.At.UTC().Truncate(time.Microsecond) // seal what is stored
	return tx.appendTo(ctx, audit.ChainOf(e), e)
}

// appendTo appends e to chain. The upsert on the chain head both creates a missing head and
// locks the row until commit (PostgreSQL row lock; SQLite has one writer), so appends to one
// chain are serialised while appends to different chains run side by side.
func (tx *Tx) appendTo(ctx context.Context, chain string, e audit.Entry) (audit.Trace, error) {
	var lastSeq int64
	var lastHash string
	err := tx.queryRow(ctx, `INSERT INTO audit_chains (chain, last_seq, last_hash, seal) VALUES ($1, 0, '', '')
		ON CONFLICT (chain) DO UPDATE SET chain = excluded.chain
		RETURNING last_seq, last_hash`, chain).Scan(&lastSeq, &lastHash)
	if err != nil {
		return audit.Trace{}, fmt.Errorf("lock trace chain: %w", err)
	}
	// A new chain is anchored first; the locks are always taken chain, then its anchor chain,
	// then the root, so appends cannot deadlock as long as a transaction appends to one chain
	// (and its anchors): every caller does.
	if lastSeq == 0 && chain != audit.RootAnchor {
		if _, err := tx.appendTo(ctx, audit.AnchorChain(chain), audit.Anchor(chain, e.At, e.Channel)); err != nil {
			return audit.Trace{}, err
		}
	}
	t := audit.Trace{Chain: chain, Seq: lastSeq + 1, Entry: e, PrevHash: lastHash}
	t.Hash = tx.db.key.Seal(chain, t.Seq, lastHash, e)
	var patient sql.NullInt64
	if e.PatientID != 0 {
		patient = sql.NullInt64{Int64: e.PatientID, Valid: true}
	}
	args := []any{chain, t.Seq, micros(e.At), string(e.Actor.Kind), e.Actor.ID, e.Actor.Name, e.Actor.Org,
		string(e.Channel), e.Action, patient, e.Object, string(e.Outcome), e.Reason, t.PrevHash, t.Hash,
		tx.db.key.SealHead(chain, t.Seq, t.Hash), e.Detail}
	if tx.db.dialect == Postgres {
		// One round trip for the trace and the head: PostgreSQL runs both statements of a
		// data-modifying WITH, and round trips are what a PostgreSQL write costs.
		err = tx.queryRow(ctx, `WITH t AS (`+insertTrace+` RETURNING id)
			UPDATE audit_chains SET last_seq = $2, last_hash = $15, seal = $16 WHERE chain = $1
			RETURNING (SELECT id FROM t)`, args...).Scan(&t.ID)
		if err != nil {
			return audit.Trace{}, fmt.Errorf("append trace: %w", err)
		}
		return t, nil
	}
	if err = tx.queryRow(ctx, insertTrace+` RETURNING id`, args...).Scan(&t.ID); err != nil {
		return audit.Trace{}, fmt.Errorf("append trace: %w", err)
	}
	if _, err := tx.exec(ctx, `UPDATE audit_chains SET last_seq = $2, last_hash = $3, seal = $4 WHERE chain = $1`,
		chain, t.Seq, t.Hash, args[15]); err != nil {
		return audit.Trace{}, fmt.Errorf("advance trace chain: %w", err)
	}
	return t, nil
}

// LockAnchorChains locks the existing anchor chains, in the order of their names, for a
// transaction about to open many trace chains (a batch of space creations): each new chain
// writes to one of 16 anchors, and two batches taking anchors in their own orders deadlock on
// PostgreSQL. Taken in one order up front, they wait for each other instead. Anchors that do not
// exist yet (a database's first chains) are created on the way, as before; SQLite has one
// writer and needs nothing.
func (tx *Tx) LockAnchorChains(ctx context.Context) error {
	if tx.db.dialect != Postgres {
		return nil
	}
	rows, err := tx.query(ctx, `SELECT chain FROM audit_chains WHERE chain LIKE 'anchor/%' ORDER BY chain FOR UPDATE`)
	if err != nil {
		return fmt.Errorf("lock anchor chains: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

const insertTrace = `INSERT INTO traces (chain, seq, at, actor_kind, actor_id, actor_name, actor_org,
	channel, action, patient_id, object, outcome, reason, prev_hash, hash, detail)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $17)`

const traceColumns = `traces.id, traces.chain, traces.seq, traces.at, traces.actor_kind, traces.actor_id,
	traces.actor_name, traces.actor_org, traces.channel, traces.action, COALESCE(traces.patient_id, 0),
	traces.object, traces.outcome, traces.reason, traces.prev_hash, traces.hash, traces.detail`

// traceDest returns the scan destinations of traceColumns into t.
func traceDest(t *audit.Trace) []any {
	return []any{&t.ID, &t.Chain, &t.Seq, timeDest{&t.Entry.At}, (*string)(&t.Entry.Actor.Kind), &t.Entry.Actor.ID,
		&t.Entry.Actor.Name, &t.Entry.Actor.Org, (*string)(&t.Entry.Channel), &t.Entry.Action, &t.Entry.PatientID,
		&t.Entry.Object, (*string)(&t.Entry.Outcome), &t.Entry.Reason, &t.PrevHash, &t.Hash, &t.Entry.Detail}
}

func scanTrace(rows interface{ Scan(...any) error }) (audit.Trace, error) {
	var t audit.Trace
	err := rows.Scan(traceDest(&t)...)
	return t, err
}

// timeDest scans a stored microsecond count into a time.
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(src any) error {
	us, ok := src.(int64)
	if !ok {
		return fmt.Errorf("stored time: want an integer, got %T", src)
	}
	*d.t = fromMicros(us)
	return nil
}

// TracesOfPatient returns the patient's traces, newest first, at most limit.
func (tx *Tx) TracesOfPatient(ctx context.Context, patientID int64, limit int) ([]audit.Trace, error) {
	rows, err := tx.query(ctx, `SELECT `+traceColumns+` FROM traces WHERE patient_id = $1
		ORDER BY id DESC LIMIT $2`, patientID, limit)
	if err != nil {
		return nil, fmt.Errorf("list traces: %w", err)
	}
	defer rows.Close()
	var out []audit.Trace
	for rows.Next() {
		t, err := scanTrace(rows)
		if err != nil {
			return nil, fmt.Errorf("read trace: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// VerifyTraces checks every chain against the key, then that every chain's creation is
// anchored and every anchored chain exists. The first statement reads each trace beside its
// chain's head (and the heads left with no trace at all), so the check sees one snapshot while
// the server keeps appending, and memory stays constant whatever the size of the log.
func (db *DB) VerifyTraces(ctx context.Context, key audit.Key) (audit.Result, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT TRUE, `+traceColumns+`, h.chain IS NOT NULL, COALESCE(h.last_seq, 0),
			COALESCE(h.last_hash, ''), COALESCE(h.seal, '')
		FROM traces LEFT JOIN audit_chains h ON h.chain = traces.chain
		UNION ALL
		SELECT FALSE, 0, h.chain, 0, 0, '', '', '', '', '', '', 0, '', '', '', '', '', '', TRUE, h.last_seq, h.last_hash, h.seal
		FROM audit_chains h WHERE NOT EXISTS (SELECT 1 FROM traces t WHERE t.chain = h.chain)
		ORDER BY 3, 4`)
	if err != nil {
		return audit.Result{}, fmt.Errorf("read traces: %w", err)
	}
	defer rows.Close()
	v := audit.NewVerifier(key)
	var (
		head           audit.Head
		hasHead        bool
		count, lastSeq int64
		lastHash       string
		started        bool
	)
	end := func() {
		if !started {
			return
		}
		if hasHead {
			v.EndChain(head, lastSeq, lastHash)
		} else {
			v.Orphan(head.Chain, count)
		}
	}
	for rows.Next() {
		var t audit.Trace
		var isTrace, headExists bool
		var h audit.Head
		dest := append([]any{&isTrace}, traceDest(&t)...)
		dest = append(dest, &headExists, &h.LastSeq, &h.LastHash, &h.Seal)
		if err := rows.Scan(dest...); err != nil {
			v.Unreadable(err) // and go on: one bad row must not hide the others
			continue
		}
		if !started || t.Chain != head.Chain {
			end()
			started, count, lastSeq, lastHash = true, 0, 0, ""
			h.Chain = t.Chain
			head, hasHead = h, headExists
		}
		if !isTrace {
			continue // a head with no trace left
		}
		count++
		if hasHead {
			v.Add(t)
		}
		lastSeq, lastHash = t.Seq, t.Hash
	}
	if err := rows.Err(); err != nil {
		return audit.Result{}, fmt.Errorf("read traces: %w", err)
	}
	end()
	if err := db.verifyAnchors(ctx, v); err != nil {
		return audit.Result{}, err
	}
	return v.Result(), nil
}

// verifyAnchors reports chains created without an anchor, anchors whose chain is gone,
// patients without a chain, and a missing root. A chain and its anchor are written in one
// transaction, so each statement's snapshot sees both or neither.
func (db *DB) verifyAnchors(ctx context.Context, v *audit.Verifier) error {
	checks := []struct {
		q      string
		args   []any
		report func(chain string, id int64)
	}{
		{`SELECT h.chain, 0 FROM audit_chains h WHERE h.chain <> $1 AND NOT EXISTS (
			SELECT 1 FROM traces t WHERE t.action = $2 AND t.object = h.chain AND t.chain LIKE 'anchor/%')
			ORDER BY h.chain`, []any{audit.RootAnchor, audit.AnchorAction}, func(c string, _ int64) { v.Unanchored(c) }},
		{`SELECT t.object, t.id FROM traces t WHERE t.action = $1 AND t.chain LIKE 'anchor/%' AND NOT EXISTS (
			SELECT 1 FROM audit_chains h WHERE h.chain = t.object) ORDER BY t.object`,
			[]any{audit.AnchorAction}, func(c string, id int64) { v.Vanished(c, id) }},
		{`SELECT '', p.id FROM patients p WHERE NOT EXISTS (
			SELECT 1 FROM audit_chains h WHERE h.chain = 'p' || p.id) ORDER BY p.id`,
			nil, func(_ string, id int64) { v.Untraced(id) }},
		{`SELECT '', 0 FROM audit_chains WHERE NOT EXISTS (SELECT 1 FROM audit_chains r WHERE r.chain = $1)
			LIMIT 1`, []any{audit.RootAnchor}, func(string, int64) { v.RootMissing() }},
	}
	for _, c := range checks {
		if err := db.each(ctx, c.q, c.args, c.report); err != nil {
			return fmt.Errorf("check anchors: %w", err)
		}
	}
	return nil
}

func (db *DB) each(ctx context.Context, q string, args []any, fn func(string, int64)) error {
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return err
		}
		fn(s, n)
	}
	return rows.Err()
}

// Heads calls fn with every chain head, in one snapshot.
func (db *DB) Heads(ctx context.Context, fn func(audit.Head) error) error {
	rows, err := db.read.QueryContext(ctx, `SELECT chain, last_seq, last_hash, seal FROM audit_chains ORDER BY chain`)
	if err != nil {
		return fmt.Errorf("read chain heads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h audit.Head
		if err := rows.Scan(&h.Chain, &h.LastSeq, &h.LastHash, &h.Seal); err != nil {
			return err
		}
		if err := fn(h); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CheckCheckpoint reports every head of a checkpoint whose trace is no longer in its chain.
func (db *DB) CheckCheckpoint(ctx context.Context, v *audit.Verifier, h audit.Head) error {
	if h.LastSeq == 0 {
		return nil
	}
	var got string
	err := db.read.QueryRowContext(ctx, `SELECT hash FROM traces WHERE chain = $1 AND seq = $2`, h.Chain, h.LastSeq).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		v.RolledBack(h, "")
		return nil
	}
	if err != nil {
		return err
	}
	if got != h.LastHash {
		v.RolledBack(h, got)
	}
	return nil
}
