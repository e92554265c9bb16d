package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func entry(patient int64, i int) audit.Entry {
	return audit.Entry{
		At:        t0.Add(time.Duration(i) * time.Second),
		Actor:     audit.Actor{Kind: audit.ActorProfessional, ID: "810001234567", Name: "Dr Martin", Org: "CHU"},
		Channel:   audit.ChannelFHIR,
		Action:    "document.read",
		PatientID: patient,
		Object:    fmt.Sprintf("document/%d", i),
		Outcome:   audit.Allowed,
		Reason:    "care_team",
		Detail:    "patient unconscious, allergy check",
	}
}

func appendN(t *testing.T, db *store.DB, patient int64, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := db.Update(context.Background(), func(tx *store.Tx) error {
			_, err := tx.AppendTrace(context.Background(), entry(patient, i))
			return err
		}); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
}

// own counts the traces written by the test, leaving out the anchors the log adds.
func own(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM traces WHERE chain NOT LIKE 'anchor/%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func verify(t *testing.T, db *store.DB) audit.Result {
	t.Helper()
	res, err := db.VerifyTraces(context.Background(), storetest.Key)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return res
}

func TestTraceChainVerifies(t *testing.T) {
	db := storetest.New(t)
	appendN(t, db, 0, 3)
	appendN(t, db, 1, 5)
	appendN(t, db, 2, 4)
	res := verify(t, db)
	if !res.OK() || own(t, db) != 12 || res.Traces <= 12 {
		t.Fatalf("verify = %+v, want 12 traces and their anchors, no problem", res)
	}
	// The traces read back are those written.
	var got []audit.Trace
	if err := db.View(context.Background(), func(tx *store.Tx) error {
		var err error
		got, err = tx.TracesOfPatient(context.Background(), 1, 10)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0].Seq != 5 || got[0].Entry.Object != "document/4" || !got[0].Entry.At.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("traces of patient 1 = %+v", got)
	}
}

// A rolled-back action leaves no trace and no hole in the chain.
func TestTraceRollsBackWithAction(t *testing.T) {
	db := storetest.New(t)
	appendN(t, db, 7, 2)
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.AppendTrace(context.Background(), entry(7, 99)); err != nil {
			return err
		}
		return fmt.Errorf("the action failed")
	})
	if err == nil {
		t.Fatal("expected the failure")
	}
	appendN(t, db, 7, 1)
	if res := verify(t, db); !res.OK() || own(t, db) != 3 {
		t.Fatalf("verify = %+v", res)
	}
}

func TestTraceChainConcurrentWriters(t *testing.T) {
	db := storetest.New(t)
	var wg sync.WaitGroup
	const writers, each = 8, 20
	errc := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := db.Update(context.Background(), func(tx *store.Tx) error {
					_, err := tx.AppendTrace(context.Background(), entry(int64(w%3), i)) // writers share chains
					return err
				})
				if err != nil {
					errc <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("concurrent append: %v", err)
	}
	if res := verify(t, db); !res.OK() || own(t, db) != writers*each {
		t.Fatalf("verify = %+v", res)
	}
}

// Each kind of tampering is detected and named, with the trace concerned.
func TestTraceTampering(t *testing.T) {
	cases := []struct {
		name    string
		tamper  []string // statements run directly on the database
		want    audit.ProblemKind
		wantSeq int64
	}{
		{"changed", []string{`UPDATE traces SET outcome = 'denied' WHERE chain = 'p1' AND seq = 3`}, audit.Altered, 3},
		{"changed actor", []string{`UPDATE traces SET actor_name = 'Someone else' WHERE chain = 'p1' AND seq = 2`}, audit.Altered, 2},
		{"changed stated reason", []string{`UPDATE traces SET detail = 'routine check' WHERE chain = 'p1' AND seq = 4`}, audit.Altered, 4},
		{"deleted", []string{`DELETE FROM traces WHERE chain = 'p1' AND seq = 3`}, audit.Missing, 4},
		{"deleted tail", []string{`DELETE FROM traces WHERE chain = 'p1' AND seq = 5`}, audit.Missing, 5},
		{"deleted chain", []string{`DELETE FROM traces WHERE chain = 'p1'`}, audit.Missing, 1},
		{"inserted", []string{`INSERT INTO traces (chain, seq, at, actor_kind, actor_id, actor_name, actor_org, channel, action,
			patient_id, object, outcome, reason, prev_hash, hash)
			SELECT chain, 6, at, actor_kind, actor_id, actor_name, actor_org, channel, action, patient_id, object, outcome,
			reason, hash, hash FROM traces WHERE chain = 'p1' AND seq = 5`}, audit.Inserted, 6},
		{"inserted with head", []string{`INSERT INTO traces (chain, seq, at, actor_kind, actor_id, actor_name, actor_org, channel, action,
			patient_id, object, outcome, reason, prev_hash, hash)
			SELECT chain, 6, at, actor_kind, actor_id, actor_name, actor_org, channel, action, patient_id, object, outcome,
			reason, hash, hash FROM traces WHERE chain = 'p1' AND seq = 5`,
			`UPDATE audit_chains SET last_seq = 6 WHERE chain = 'p1'`}, audit.Altered, 6},
		{"reordered", []string{
			`UPDATE traces SET seq = 100 WHERE chain = 'p1' AND seq = 2`,
			`UPDATE traces SET seq = 2 WHERE chain = 'p1' AND seq = 3`,
			`UPDATE traces SET seq = 3 WHERE chain = 'p1' AND seq = 100`}, audit.Reordered, 3},
		{"orphan", []string{`UPDATE traces SET chain = 'p99' WHERE chain = 'p2'`}, audit.Inserted, 0},
		{"chain deleted with its head", []string{`DELETE FROM traces WHERE chain = 'p1'`, `DELETE FROM audit_chains WHERE chain = 'p1'`}, audit.Missing, 0},
		{"tail cut and head rewound", []string{`DELETE FROM traces WHERE chain = 'p1' AND seq = 5`,
			`UPDATE audit_chains SET last_seq = 4, last_hash = (SELECT hash FROM traces WHERE chain = 'p1' AND seq = 4) WHERE chain = 'p1'`}, audit.Altered, 4},
		{"anchor bucket wiped", []string{`DELETE FROM traces WHERE chain LIKE 'anchor/%' AND chain <> 'anchor/root'`,
			`DELETE FROM audit_chains WHERE chain LIKE 'anchor/%' AND chain <> 'anchor/root'`,
			`DELETE FROM traces WHERE chain IN ('p1', 'p2')`, `DELETE FROM audit_chains WHERE chain IN ('p1', 'p2')`}, audit.Missing, 0},
		{"everything wiped but the root", []string{`DELETE FROM traces WHERE chain <> 'anchor/root'`,
			`DELETE FROM audit_chains WHERE chain <> 'anchor/root'`}, audit.Missing, 0},
		{"root wiped", []string{`DELETE FROM traces WHERE chain = 'anchor/root'`,
			`DELETE FROM audit_chains WHERE chain = 'anchor/root'`}, audit.Missing, 0},
		{"chain made up", []string{`INSERT INTO audit_chains (chain, last_seq, last_hash, seal) SELECT 'p77', last_seq, last_hash, seal FROM audit_chains WHERE chain = 'p2'`,
			`INSERT INTO traces (chain, seq, at, actor_kind, actor_id, actor_name, actor_org, channel, action,
			patient_id, object, outcome, reason, prev_hash, hash)
			SELECT 'p77', seq, at, actor_kind, actor_id, actor_name, actor_org, channel, action, 77, object, outcome,
			reason, prev_hash, hash FROM traces WHERE chain = 'p2'`}, audit.Inserted, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := storetest.New(t)
			appendN(t, db, 1, 5)
			appendN(t, db, 2, 2)
			if res := verify(t, db); !res.OK() {
				t.Fatalf("before tampering: %+v", res.Problems)
			}
			// The database itself refuses to change or delete a trace...
			if first := c.tamper[0]; strings.HasPrefix(first, "UPDATE traces") || strings.HasPrefix(first, "DELETE") {
				if _, err := db.SQL().Exec(first); err == nil {
					t.Fatalf("the database let %q through", first)
				}
			}
			// ...unless someone with full rights drops its guard.
			storetest.DisableAppendOnly(t, db)
			for _, q := range c.tamper {
				if _, err := db.SQL().Exec(q); err != nil {
					t.Fatalf("tamper %q: %v", q, err)
				}
			}
			res := verify(t, db)
			if res.OK() {
				t.Fatal("tampering not detected")
			}
			found := false
			for _, p := range res.Problems {
				if p.Kind == c.want && (p.Seq == c.wantSeq || c.wantSeq == 0) {
					found = true
				}
			}
			if !found {
				var lines []string
				for _, p := range res.Problems {
					lines = append(lines, p.String())
				}
				t.Fatalf("want a %s problem at #%d, got:\n%s", c.want, c.wantSeq, strings.Join(lines, "\n"))
			}
		})
	}
}

// Without the key, a verifier cannot be fooled by a log re-sealed with another key.
func TestTraceWrongKey(t *testing.T) {
	db := storetest.New(t)
	appendN(t, db, 1, 2)
	res, err := db.VerifyTraces(context.Background(), audit.Key([]byte("another key, 32 bytes long......")))
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() {
		t.Fatal("a log sealed with another key verified")
	}
}
