package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/carnet-sante/carnet/internal/audit"
)

// AppendTrace chains e at the end of its patient's chain, inside the caller's transaction.
//
// The upsert on the chain head both creates a missing head and locks the row until commit
// (PostgreSQL row lock; SQLite has one writer), so appends to one chain are serialised while
// appends to different patients' chains run side by side. Three statements, one row lock.
func (tx *Tx) AppendTrace(ctx context.Context, e audit.Entry) (audit.Trace, error) {
	if err := e.Validate(); err != nil {
		return audit.Trace{}, err
	}
	e.At = e.At.UTC().Truncate(1000) // stored to the microsecond: seal what is stored
	chain := audit.ChainOf(e.PatientID)
	var lastSeq int64
	var lastHash string
	err := tx.queryRow(ctx, `INSERT INTO audit_chains (chain, last_seq, last_hash) VALUES ($1, 0, '')
		ON CONFLICT (chain) DO UPDATE SET chain = excluded.chain
		RETURNING last_seq, last_hash`, chain).Scan(&lastSeq, &lastHash)
	if err != nil {
		return audit.Trace{}, fmt.Errorf("lock trace chain: %w", err)
	}
	t := audit.Trace{Chain: chain, Seq: lastSeq + 1, Entry: e, PrevHash: lastHash}
	t.Hash = tx.db.key.Seal(chain, t.Seq, lastHash, e)
	var patient sql.NullInt64
	if e.PatientID != 0 {
		patient = sql.NullInt64{Int64: e.PatientID, Valid: true}
	}
	err = tx.queryRow(ctx, `INSERT INTO traces (chain, seq, at, actor_kind, actor_id, actor_name, actor_org,
		channel, action, patient_id, object, outcome, reason, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
		chain, t.Seq, micros(e.At), string(e.Actor.Kind), e.Actor.ID, e.Actor.Name, e.Actor.Org,
		string(e.Channel), e.Action, patient, e.Object, string(e.Outcome), e.Reason, t.PrevHash, t.Hash).Scan(&t.ID)
	if err != nil {
		return audit.Trace{}, fmt.Errorf("append trace: %w", err)
	}
	if _, err := tx.exec(ctx, `UPDATE audit_chains SET last_seq = $2, last_hash = $3 WHERE chain = $1`,
		chain, t.Seq, t.Hash); err != nil {
		return audit.Trace{}, fmt.Errorf("advance trace chain: %w", err)
	}
	return t, nil
}

const traceColumns = `traces.id, traces.chain, traces.seq, traces.at, traces.actor_kind, traces.actor_id,
	traces.actor_name, traces.actor_org, traces.channel, traces.action, COALESCE(traces.patient_id, 0),
	traces.object, traces.outcome, traces.reason, traces.prev_hash, traces.hash`

func scanTrace(rows interface{ Scan(...any) error }) (audit.Trace, error) {
	var t audit.Trace
	var at int64
	var kind, channel, outcome string
	err := rows.Scan(&t.ID, &t.Chain, &t.Seq, &at, &kind, &t.Entry.Actor.ID, &t.Entry.Actor.Name,
		&t.Entry.Actor.Org, &channel, &t.Entry.Action, &t.Entry.PatientID, &t.Entry.Object, &outcome,
		&t.Entry.Reason, &t.PrevHash, &t.Hash)
	t.Entry.At = fromMicros(at)
	t.Entry.Actor.Kind = audit.ActorKind(kind)
	t.Entry.Channel = audit.Channel(channel)
	t.Entry.Outcome = audit.Outcome(outcome)
	return t, err
}

// TracesOfPatient returns the patient's traces, newest first, at most limit.
func (tx *Tx) TracesOfPatient(ctx context.Context, patientID int64, limit int) ([]audit.Trace, error) {
	rows, err := tx.query(ctx, `SELECT `+traceColumns+` FROM traces WHERE patient_id = $1
		ORDER BY at DESC, id DESC LIMIT $2`, patientID, limit)
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

// VerifyTraces checks every chain against the key. One statement reads each trace beside its
// chain's head (and the heads left with no trace at all), so the whole check sees one snapshot
// while the server keeps appending, and memory stays constant whatever the size of the log.
func (db *DB) VerifyTraces(ctx context.Context, key audit.Key) (audit.Result, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+traceColumns+`, h.chain IS NOT NULL, COALESCE(h.last_seq, 0), COALESCE(h.last_hash, '')
		FROM traces LEFT JOIN audit_chains h ON h.chain = traces.chain
		UNION ALL
		SELECT 0, h.chain, 0, 0, '', '', '', '', '', '', 0, '', '', '', '', '', TRUE, h.last_seq, h.last_hash
		FROM audit_chains h WHERE NOT EXISTS (SELECT 1 FROM traces t WHERE t.chain = h.chain)
		ORDER BY 2, 3`)
	if err != nil {
		return audit.Result{}, fmt.Errorf("read traces: %w", err)
	}
	defer rows.Close()
	v := audit.NewVerifier(key)
	var (
		chain          string
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
			v.Orphan(chain, count)
		}
	}
	for rows.Next() {
		var t audit.Trace
		var at int64
		var kind, channel, outcome string
		var h audit.Head
		var headExists bool
		if err := rows.Scan(&t.ID, &t.Chain, &t.Seq, &at, &kind, &t.Entry.Actor.ID, &t.Entry.Actor.Name,
			&t.Entry.Actor.Org, &channel, &t.Entry.Action, &t.Entry.PatientID, &t.Entry.Object, &outcome,
			&t.Entry.Reason, &t.PrevHash, &t.Hash, &headExists, &h.LastSeq, &h.LastHash); err != nil {
			return audit.Result{}, fmt.Errorf("read trace: %w", err)
		}
		t.Entry.At = fromMicros(at)
		t.Entry.Actor.Kind = audit.ActorKind(kind)
		t.Entry.Channel = audit.Channel(channel)
		t.Entry.Outcome = audit.Outcome(outcome)
		if !started || t.Chain != chain {
			end()
			started, chain, count, lastSeq, lastHash = true, t.Chain, 0, 0, ""
			h.Chain = t.Chain
			head, hasHead = h, headExists
		}
		if t.Seq == 0 { // a head with no trace left
			continue
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
	return v.Result(), nil
}
