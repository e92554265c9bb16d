// Command optoutceiling measures what the SQLite engine alone can write, on this machine, of
// the rows a space created by the opt-out import needs: the ceiling of `carnet optout import`
// on SQLite, whatever the Go code around the engine does.
//
//	go run ./bench/optoutceiling -n 1000000
//
// It opens a fresh database with carnet's own schema (every migration, so every index) and
// settings (WAL, synchronous=FULL, the import's page cache, statement journals in memory and
// checkpoints of TuneForBulkImport), then inserts n spaces five times over, each time one
// kind of row more: the patient; its space; the creation trace the patient's trail shows
// (DESIGN invariant 2); its chain's head and the anchor trace recording the chain's opening;
// the notice outbox row of two people in three. The rows come in batches of -batch people,
// one transaction each, through multi-row INSERTs of 100 rows. Every value is computed before
// the batch's clock starts: no parsing, no checks, no HMAC, no allocation is timed, only
// database/sql handing prepared arguments to the engine, the engine's work and the commit.
// The INS come in no order, as in the insurer's file. Each level prints its spaces per
// second: the first line is the most any import that creates a patient row could reach here.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/store"
)

// level is what one run writes for each space: the kinds of rows up to and including it.
type level int

const (
	patientRow level = iota
	spaceRow
	creationTrace
	chainAndAnchor
	outboxRow
)

var levelNames = []string{"patient", "+ space", "+ creation trace", "+ chain head and anchor trace", "+ notice outbox (2 in 3)"}

func main() {
	n := flag.Int("n", 200_000, "spaces to create at each level")
	batch := flag.Int("batch", 5000, "spaces per transaction")
	cache := flag.Int("cache-mib", 64, "the writer's page cache, as carnet optout import --cache-mib")
	dir := flag.String("dir", "", "directory for the databases (default: a temporary one, removed after)")
	flag.Parse()
	if *n <= 0 || *batch <= 0 {
		log.Fatal("optoutceiling: -n and -batch must be positive")
	}
	base := *dir
	if base == "" {
		d, err := os.MkdirTemp("", "optoutceiling")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		base = d
	}
	fmt.Printf("SQLite engine ceiling, %d spaces a level, %d a transaction (carnet's schema and settings, values prepared before the clock)\n", *n, *batch)
	fmt.Printf("%-32s %12s %10s %14s\n", "rows written per space", "spaces/s", "µs/space", "rows/s")
	for lv := patientRow; lv <= outboxRow; lv++ {
		path := filepath.Join(base, fmt.Sprintf("level%d", lv), "carnet.db")
		el, rows, err := run(context.Background(), path, lv, *n, *batch, *cache)
		if err != nil {
			log.Fatalf("optoutceiling: %s: %v", levelNames[lv], err)
		}
		sec := el.Seconds()
		fmt.Printf("%-32s %12.0f %10.1f %14.0f\n", levelNames[lv], float64(*n)/sec, sec*1e6/float64(*n), float64(rows)/sec)
		os.RemoveAll(filepath.Dir(path))
	}
}

// run creates n spaces at level lv in a fresh database at path and returns the time spent in
// transactions and the rows written.
func run(ctx context.Context, path string, lv level, n, batch, cacheMiB int) (time.Duration, int64, error) {
	key := make([]byte, 32)
	rand.Read(key)
	db, err := store.Open(ctx, store.SQLite, path, store.Options{TraceKey: audit.Key(key)})
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx, time.Now()); err != nil {
		return 0, 0, err
	}
	if err := db.TuneForBulkImport(ctx, cacheMiB); err != nil {
		return 0, 0, err
	}
	w := db.SQL()
	rng := mrand.New(mrand.NewPCG(1, uint64(lv)))
	hash := strings.Repeat("ab12", 16) // the length of a stored hash (hex SHA-256)
	now := time.Now().UnixMicro()
	opens := now + 42*24*3600*1e6
	anchorSeq := map[string]int64{}
	var spent time.Duration
	var rows int64
	id := int64(0)
	for done := 0; done < n; done += batch {
		size := min(batch, n-done)
		// Every statement of the batch, with its arguments, before the clock starts.
		var stmts []stmt
		for lo := 0; lo < size; lo += 100 {
			k := min(100, size-lo)
			var pat, sp, tr, ch, ob multi
			for j := 0; j < k; j++ {
				id++
				email := fmt.Sprintf("personne.%d@example.fr", id)
				if id%3 == 0 {
					email = ""
				}
				pat.add(id, fmt.Sprintf("%015d", rng.Int64N(1e15)), "1.2.250.1.213.1.4.8", "DUPONT", "Jean Pierre", "",
					"1980-01-02", "M", email, "0601020304", "", now)
				sp.add(id, "pending", now, opens)
				chain := fmt.Sprintf("p%d", id)
				tr.add(chain, 1, now, "operator", "cnam", "Assurance Maladie", "", "cli", "space.create", id, "", "allowed", "", "", "", hash)
				if lv >= chainAndAnchor {
					a := audit.AnchorChain(chain)
					anchorSeq[a]++
					tr.add(a, anchorSeq[a], now, "system", "trace-log", "trace-log", "", "cli", audit.AnchorAction, nil, chain, "allowed", "", "", hash, hash)
					ch.add(chain, 1, hash, hash)
				}
				if lv >= outboxRow && email != "" {
					ob.add(id, "space.created.1", now, now)
				}
			}
			stmts = append(stmts, pat.stmt(`INSERT INTO patients (id, ins, ins_oid, birth_name, given_names, used_name, birth_date, sex, email, phone, postal_address, created_at)`))
			if lv >= spaceRow {
				stmts = append(stmts, sp.stmt(`INSERT INTO spaces (patient_id, state, created_at, opens_at)`))
			}
			if lv >= creationTrace {
				stmts = append(stmts, tr.stmt(`INSERT INTO traces (chain, seq, at, actor_kind, actor_id, actor_name, actor_org, channel, action, patient_id, object, outcome, reason, detail, prev_hash, hash)`))
			}
			if lv >= chainAndAnchor {
				stmts = append(stmts, ch.stmt(`INSERT INTO audit_chains (chain, last_seq, last_hash, seal)`))
			}
			if lv >= outboxRow && len(ob.args) > 0 {
				stmts = append(stmts, ob.stmt(`INSERT INTO notice_outbox (patient_id, notice_key, not_before, created_at)`))
			}
		}
		start := time.Now()
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			return 0, 0, err
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
				tx.Rollback()
				return 0, 0, err
			}
			rows += int64(s.rows)
		}
		if err := tx.Commit(); err != nil {
			return 0, 0, err
		}
		spent += time.Since(start)
	}
	return spent, rows, nil
}

type stmt struct {
	q    string
	args []any
	rows int
}

// multi gathers the rows of one multi-row INSERT.
type multi struct {
	rows  int
	width int
	args  []any
}

func (m *multi) add(vals ...any) {
	m.rows, m.width = m.rows+1, len(vals)
	m.args = append(m.args, vals...)
}

func (m *multi) stmt(head string) stmt {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", m.width), ", ") + ")"
	return stmt{q: head + " VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", m.rows), ", "), args: m.args, rows: m.rows}
}
