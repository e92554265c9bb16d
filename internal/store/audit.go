package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	sealer := tx.db.key.Sealer()
	t.Hash = sealer.Seal(chain, t.Seq, lastHash, e)
	var patient sql.NullInt64
	if e.PatientID != 0 {
		patient = sql.NullInt64{Int64: e.PatientID, Valid: true}
	}
	args := []any{chain, t.Seq, micros(e.At), string(e.Actor.Kind), e.Actor.ID, e.Actor.Name, e.Actor.Org,
		string(e.Channel), e.Action, patient, e.Object, string(e.Outcome), e.Reason, t.PrevHash, t.Hash,
		sealer.SealHead(chain, t.Seq, t.Hash), e.Detail}
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

// AppendTraces appends many entries at once, as a batch of space creations does, and ends
// with the chains exactly as appending them one by one, in order, would: each new chain
// anchored first, hashes chained in memory. The heads of the chains written to are read in a
// statement per kind of chain (PostgreSQL: and locked), then those of their anchor chains,
// then the root's; the traces go in a few multi-row inserts (COPY on PostgreSQL), and so do
// the heads, new and updated. Locks are taken actors' chains, patients' chains, anchors, root, each group
// in the order of the names: consistent with the order of a single append (its chain, then
// its anchor chain, then the root), so that batches neither deadlock with each other (two
// batches used to, over the anchors) nor with single appends. The traces' ids are not
// returned.
func (tx *Tx) AppendTraces(ctx context.Context, es []audit.Entry) error {
	type head struct {
		seq     int64
		hash    string
		stored  bool // a row holds it already (else the final write creates it)
		touched bool
	}
	heads := map[string]*head{}
	// read reads (and on PostgreSQL locks) the heads of chains, creating the missing ones
	// if create (see chainHeads).
	read := func(chains []string, create bool) error {
		if len(chains) == 0 {
			return nil
		}
		slices.Sort(chains)
		return tx.chainHeads(ctx, chains, create, func(chain string, seq int64, hash string, stored bool) {
			heads[chain] = &head{seq: seq, hash: hash, stored: stored}
		})
	}
	var actors, patients []string
	for i := range es {
		if err := es[i].Validate(); err != nil {
			return err
		}
		if c := audit.ChainOf(es[i]); heads[c] == nil {
			heads[c] = &head{}
			if es[i].PatientID != 0 {
				patients = append(patients, c)
			} else {
				actors = append(actors, c)
			}
		}
	}
	if len(actors)+len(patients) == 0 {
		return nil
	}
	// A patient's chain is created with the patient (by this transaction, for the new ones):
	// no other transaction can be creating it, and locking the existing ones is enough.
	if err := read(actors, true); err != nil {
		return err
	}
	if err := read(patients, false); err != nil {
		return err
	}
	var anchors []string
	for _, c := range append(actors, patients...) {
		if a := audit.AnchorChain(c); heads[c].seq == 0 && heads[a] == nil {
			heads[a] = &head{}
			anchors = append(anchors, a)
		}
	}
	if err := read(anchors, true); err != nil {
		return err
	}
	for _, a := range anchors {
		if heads[a].seq == 0 && heads[audit.RootAnchor] == nil {
			heads[audit.RootAnchor] = &head{}
			if err := read([]string{audit.RootAnchor}, true); err != nil {
				return err
			}
		}
	}
	// The traces, column by column, in the order they are chained: the anchor chains' in one
	// group, inserted first, the others in another. Each chain's traces keep their order (a
	// chain is all in one group) and an anchor still comes before the chain it anchors; and
	// within a group most columns hold one value in every row (a batch of creations: the same
	// time, actor, action; its anchors: all of theirs but the chain, object and hashes), which
	// insertBulk binds once per statement instead of once per row on SQLite.
	type traceCols struct {
		chain, prev, hash                       []string
		seq, at                                 []int64
		actorKind, actorID, actorName, actorOrg []string
		channel, action, object                 []string
		patient                                 []*int64
		outcome, reason, detail                 []string
	}
	// Sized up front (an anchor per new chain, and the root's per new anchor chain):
	// grown by append, these columns were a tenth of the bytes a batch allocates.
	var groups [2]traceCols
	newChains := 0
	for _, h := range heads {
		if h.seq == 0 {
			newChains++
		}
	}
	for i, n := range []int{newChains, len(es)} {
		t := &groups[i]
		t.chain, t.prev, t.hash = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		t.seq, t.at, t.patient = make([]int64, 0, n), make([]int64, 0, n), make([]*int64, 0, n)
		t.actorKind, t.actorID, t.actorName, t.actorOrg = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		t.channel, t.action, t.object = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		t.outcome, t.reason, t.detail = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	}
	sealer := tx.db.key.Sealer()
	var add func(chain string, e audit.Entry)
	add = func(chain string, e audit.Entry) {
		h := heads[chain]
		if h.seq == 0 && chain != audit.RootAnchor {
			add(audit.AnchorChain(chain), audit.Anchor(chain, e.At, e.Channel))
		}
		seq, hash := h.seq+1, sealer.Seal(chain, h.seq+1, h.hash, e)
		var patient *int64
		if e.PatientID != 0 {
			patient = &e.PatientID
		}
		t := &groups[1]
		if audit.IsAnchorChain(chain) {
			t = &groups[0]
		}
		t.chain, t.seq, t.at, t.patient = append(t.chain, chain), append(t.seq, seq), append(t.at, micros(e.At)), append(t.patient, patient)
		t.actorKind, t.actorID = append(t.actorKind, string(e.Actor.Kind)), append(t.actorID, e.Actor.ID)
		t.actorName, t.actorOrg = append(t.actorName, e.Actor.Name), append(t.actorOrg, e.Actor.Org)
		t.channel, t.action, t.object = append(t.channel, string(e.Channel)), append(t.action, e.Action), append(t.object, e.Object)
		t.outcome, t.reason, t.detail = append(t.outcome, string(e.Outcome)), append(t.reason, e.Reason), append(t.detail, e.Detail)
		t.prev, t.hash = append(t.prev, h.hash), append(t.hash, hash)
		h.seq, h.hash, h.touched = seq, hash, true
	}
	for _, e := range es {
		e.At = e.At.UTC().Truncate(time.Microsecond) // seal what is stored
		add(audit.ChainOf(e), e)
	}
	for _, t := range groups {
		err := tx.insertBulk(ctx, "traces", []bulkCol{{"chain", "text", t.chain}, {"seq", "bigint", t.seq}, {"at", "bigint", t.at},
			{"actor_kind", "text", t.actorKind}, {"actor_id", "text", t.actorID}, {"actor_name", "text", t.actorName},
			{"actor_org", "text", t.actorOrg}, {"channel", "text", t.channel}, {"action", "text", t.action},
			{"patient_id", "bigint", t.patient}, {"object", "text", t.object}, {"outcome", "text", t.outcome},
			{"reason", "text", t.reason}, {"prev_hash", "text", t.prev}, {"hash", "text", t.hash}, {"detail", "text", t.detail}}, "", nil)
		if err != nil {
			return fmt.Errorf("append traces: %w", err)
		}
	}
	// The heads: the new ones inserted (COPY on PostgreSQL), the others updated.
	var write [2]struct {
		chain, hash, seal []string
		seq               []int64
	}
	for c, h := range heads {
		if h.touched {
			w := &write[0]
			if h.stored {
				w = &write[1]
			}
			w.chain, w.seq, w.hash, w.seal = append(w.chain, c), append(w.seq, h.seq), append(w.hash, h.hash), append(w.seal, sealer.SealHead(c, h.seq, h.hash))
		}
	}
	for i, tail := range []string{"", `ON CONFLICT (chain) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash, seal = excluded.seal`} {
		w := write[i]
		err := tx.insertBulk(ctx, "audit_chains", []bulkCol{{"chain", "text", w.chain}, {"last_seq", "bigint", w.seq},
			{"last_hash", "text", w.hash}, {"seal", "text", w.seal}}, tail, nil)
		if err != nil {
			return fmt.Errorf("advance trace chains: %w", err)
		}
	}
	return nil
}

// chainHeads calls fn with the head of each of chains (sorted), {0, "", not stored} for a
// chain that has none yet. On PostgreSQL the heads are locked until the commit, in the order of the names;
// with create, the missing ones are created (and locked) on the way, as appendTo's upsert does
// one at a time, so that two transactions taking the same chain for new wait for each other.
// Without it, a chain new to the log is created by AppendTraces' final upsert (should another
// transaction create it meanwhile, the unique (chain, seq) of traces fails one of them before
// any head is written). SQLite has one writer and only reads.
func (tx *Tx) chainHeads(ctx context.Context, chains []string, create bool, fn func(chain string, seq int64, hash string, stored bool)) error {
	var rows *sql.Rows
	var err error
	if tx.db.dialect == Postgres && create {
		rows, err = tx.query(ctx, `INSERT INTO audit_chains (chain, last_seq, last_hash, seal)
			SELECT c, 0, '', '' FROM unnest($1::text[]) WITH ORDINALITY AS u(c, n) ORDER BY n
			ON CONFLICT (chain) DO UPDATE SET chain = excluded.chain
			RETURNING chain, last_seq, last_hash`, chains)
	} else {
		var cond string
		var arg any
		if cond, arg, err = tx.db.inList("chain", chains, 1); err != nil {
			return err
		}
		q := `SELECT chain, last_seq, last_hash FROM audit_chains WHERE ` + cond
		if tx.db.dialect == Postgres {
			q += ` ORDER BY chain COLLATE "C" FOR UPDATE`
		}
		rows, err = tx.query(ctx, q, arg)
	}
	if err != nil {
		return fmt.Errorf("lock trace chains: %w", err)
	}
	defer rows.Close()
	for _, c := range chains {
		fn(c, 0, "", false)
	}
	for rows.Next() {
		var c, hash string
		var seq int64
		if err := rows.Scan(&c, &seq, &hash); err != nil {
			return fmt.Errorf("lock trace chains: %w", err)
		}
		fn(c, seq, hash, true)
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
