package optout_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/optout"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

var by = space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "CPAM"}, Channel: audit.ChannelCLI}

type env struct {
	db     *store.DB
	clock  *clock.Fake
	spaces *space.Service
	im     *optout.Importer
	dir    string
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	db := storetest.New(tb)
	if _, err := jobs.Migrate(context.Background(), db); err != nil {
		tb.Fatal(err)
	}
	if _, err := jobs.New(db, jobs.Config{}, jobs.Deps{}); err != nil {
		tb.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	spaces, err := space.NewService(space.Deps{Store: db.Spaces(), Clock: clk, Policy: space.DefaultPolicy(),
		PublicURL: "https://carnet.example", CodeKey: []byte("activation-code-key-32-bytes-abc")})
	if err != nil {
		tb.Fatal(err)
	}
	return &env{db: db, clock: clk, spaces: spaces, im: optout.New(spaces, db, clk), dir: tb.TempDir()}
}

// ins returns a valid matricule for a 13-digit NIR.
func ins(tb testing.TB, nir13 string) string {
	tb.Helper()
	key, err := identity.INSKey(nir13)
	if err != nil {
		tb.Fatal(err)
	}
	return nir13 + key
}

func (e *env) write(tb testing.TB, name, content string) string {
	tb.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

type result struct {
	counts  optout.Counts
	rejects [][]string
	postal  [][]string
	err     error
}

func (e *env) run(tb testing.TB, path string, opt optout.Options) result {
	tb.Helper()
	var rej, post bytes.Buffer
	opt.Rejects, opt.Postal, opt.By = &rej, &post, by
	c, err := e.im.Run(context.Background(), path, opt)
	r := result{counts: c, err: err}
	r.rejects, _ = csv.NewReader(&rej).ReadAll()
	r.postal, _ = csv.NewReader(&post).ReadAll()
	return r
}

func (e *env) count(tb testing.TB, q string) int {
	tb.Helper()
	var n int
	if err := e.db.SQL().QueryRow(q).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

const header = "ins,birth_name,given_names,birth_date,sex,email,postal_address,parent_ins\n"

func sample(tb testing.TB) string {
	mum, dad := ins(tb, "2880675123456"), ins(tb, "1860675123457")
	rows := []string{
		mum + ",DUPONT,Inès Marie,1988-06-01,F,ines@example.fr,,",                        // 2 created, e-mail
		dad + ",MARTIN,Paul,1986-06-01,M,,\"3 rue des Lilas, 75020 Paris\",",             // 3 created, postal
		ins(tb, "1250675123458") + ",MARTIN,Léo,2025-06-01,M,,," + mum + "|" + dad,       // 4 created, minor with parents above
		"279035121518988,DOE,Jane,1979-03-05,F,jane@example.fr,,",                        // 5 bad INS key
		ins(tb, "1700675123459") + ",DOE,,1970-01-01,M,j@example.fr,,",                   // 6 missing given name
		ins(tb, "1250675123460") + ",DOE,Tim,2025-01-01,M,,," + ins(tb, "1700675123461"), // 7 unknown parent
		mum + ",DUPONT,Inès,1988-06-01,F,ines@example.fr,,",                              // 8 duplicate of 2
		ins(tb, "2700675123462") + ",DOE,Ann,1970-13-01,F,a@example.fr,,",                // 9 bad date
		ins(tb, "2700675123463") + ",DOE,Ann,1970-01-01,F",                               // 10 missing fields
		ins(tb, "2250675123464") + ",DOE,Lou,2025-01-01,F,lou@example.fr,,",              // 11 minor without parent
		ins(tb, "2700675123465") + ",DOE,Eve,1970-01-01,F,,,",                            // 12 no way to reach
	}
	return header + strings.Join(rows, "\n") + "\n"
}

func TestImport(t *testing.T) {
	e := newEnv(t)
	path := e.write(t, "optout.csv", sample(t))
	r := e.run(t, path, optout.Options{BatchSize: 4})
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := optout.Counts{Rows: 11, Created: 3, Duplicates: 1, Rejected: 7}
	if r.counts != want {
		t.Fatalf("counts = %+v, want %+v", r.counts, want)
	}
	reasons := map[string]string{}
	for _, rec := range r.rejects {
		reasons[rec[0]] = rec[2]
	}
	for line, want := range map[string]string{"5": "key", "6": "given name", "7": "representative has no space", "8": "duplicate",
		"9": "birth date", "10": "fields", "11": "legal representative", "12": "cannot reach"} {
		if !strings.Contains(reasons[line], want) {
			t.Errorf("line %s: reason %q, want it to mention %q", line, reasons[line], want)
		}
	}
	if len(r.postal) != 1 || r.postal[0][1] != "MARTIN" || len(r.postal[0][5]) != 14 || r.postal[0][6] != "2026-04-13" {
		t.Fatalf("postal notices: %v", r.postal)
	}
	// Notices queued for the e-mail rows (the mother, and the child through his parents), in
	// the outbox, which turns them into notice jobs.
	if n := e.count(t, `SELECT COUNT(*) FROM notice_outbox`); n != 2 {
		t.Fatalf("%d notices queued, want 2", n)
	}
	if n, err := jobs.FlushNotices(context.Background(), e.db, e.clock.Now()); n != 2 || err != nil {
		t.Fatalf("outbox flush: %d notice jobs, %v", n, err)
	}
	if n := e.count(t, `SELECT COUNT(*) FROM river_job WHERE kind = 'space.notice'`); n != 2 {
		t.Fatalf("%d notice jobs, want 2", n)
	}
	if n := e.count(t, `SELECT COUNT(*) FROM representatives`); n != 2 {
		t.Fatalf("%d parent links, want 2", n)
	}
	// Every creation and every refusal that reached the service is traced, in an intact log.
	res, err := e.db.VerifyTraces(context.Background(), storetest.Key)
	if err != nil || !res.OK() {
		t.Fatalf("trace log: %v %v", err, res.Problems)
	}
	if n := e.count(t, `SELECT COUNT(*) FROM traces WHERE action = 'space.create'`); n != 3+3 { // created + refused by the service (6, 7, 11)
		t.Fatalf("%d creation traces", n)
	}

	// Running it again creates nothing twice.
	e.clock.Advance(time.Hour)
	again := e.run(t, path, optout.Options{BatchSize: 4})
	// (The duplicate row now finds a space made by an earlier run: it counts as existing.)
	if again.err != nil || again.counts.Created != 0 || again.counts.Existed != 4 || again.counts.Duplicates != 0 {
		t.Fatalf("second run: %+v %v", again.counts, again.err)
	}
	if n := e.count(t, `SELECT COUNT(*) FROM patients`); n != 3 {
		t.Fatalf("%d patients after two runs", n)
	}
}

// Rows are checked as if one after the other whatever the batches: a parent in the same batch
// as the child or in an earlier one, a duplicate of a row of the same batch or of an earlier one.
func TestBatchSizeChangesNothing(t *testing.T) {
	var first result
	for _, size := range []int{1, 3, 100} {
		e := newEnv(t)
		r := e.run(t, e.write(t, "optout.csv", sample(t)), optout.Options{BatchSize: size})
		if r.err != nil {
			t.Fatal(r.err)
		}
		if size == 1 {
			first = r
			continue
		}
		if r.counts != first.counts || fmt.Sprint(r.rejects) != fmt.Sprint(first.rejects) || len(r.postal) != len(first.postal) {
			t.Errorf("batches of %d: %+v %v, batches of 1: %+v %v", size, r.counts, r.rejects, first.counts, first.rejects)
		}
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	e := newEnv(t)
	path := e.write(t, "optout.csv", sample(t))
	dry := e.run(t, path, optout.Options{DryRun: true, BatchSize: 4})
	if dry.err != nil {
		t.Fatal(dry.err)
	}
	if n := e.count(t, `SELECT COUNT(*) FROM patients`); n != 0 {
		t.Fatalf("a dry run created %d patients", n)
	}
	real := e.run(t, path, optout.Options{BatchSize: 4})
	if dry.counts != real.counts || len(dry.rejects) != len(real.rejects) {
		t.Fatalf("dry run %+v (%d rejects) differs from the real run %+v (%d rejects)", dry.counts, len(dry.rejects), real.counts, len(real.rejects))
	}
	for i := range dry.rejects {
		if dry.rejects[i][0] != real.rejects[i][0] || dry.rejects[i][2] != real.rejects[i][2] {
			t.Errorf("reject %d: dry %v, real %v", i, dry.rejects[i], real.rejects[i])
		}
	}
}

func TestResumeAfterInterruption(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString(header)
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "%s,NOM,Prénom,1980-01-01,F,p%d@example.fr,,\n", ins(t, fmt.Sprintf("28001751%05d", i)), i)
	}
	path := e.write(t, "big.csv", b.String())
	ctx, cancel := context.WithCancel(context.Background())
	var rej, post bytes.Buffer
	batches := 0
	_, err := e.im.Run(ctx, path, optout.Options{BatchSize: 10, Rejects: &rej, Postal: &post, By: by,
		Progress: func(optout.Progress) {
			if batches++; batches == 2 {
				cancel() // interrupted after two committed batches
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	if n := e.count(t, `SELECT COUNT(*) FROM patients`); n != 20 {
		t.Fatalf("%d patients after the interruption, want 20", n)
	}
	e.clock.Advance(time.Minute)
	r := e.run(t, path, optout.Options{BatchSize: 10})
	// The second run starts after the last committed batch: it reads 30 rows, not 50.
	if r.err != nil || r.counts.Rows != 30 || r.counts.Created != 30 || r.counts.Existed != 0 {
		t.Fatalf("resumed run: %+v %v", r.counts, r.err)
	}
	if n := e.count(t, `SELECT COUNT(*) FROM patients`); n != 50 {
		t.Fatalf("%d patients in the end", n)
	}
	cp, err := e.db.LoadCheckpoint(context.Background(), sha(t, path))
	if err != nil || cp.Counts.Created != 50 || cp.FinishedAt.IsZero() {
		t.Fatalf("checkpoint: %+v %v", cp, err)
	}
}

func TestFrenchSpreadsheetFile(t *testing.T) {
	e := newEnv(t)
	content := "\ufeffINS;Birth_Name;given_names;birth_date;sex;email\r\n" +
		ins(t, "2790351215189") + ";DUPONT;Marie;05/03/1979;f;Marie@Example.fr\r\n"
	r := e.run(t, e.write(t, "fr.csv", content), optout.Options{})
	if r.err != nil || r.counts.Created != 1 || len(r.rejects) != 0 {
		t.Fatalf("%+v %v %v", r.counts, r.rejects, r.err)
	}
}

func TestBadHeader(t *testing.T) {
	e := newEnv(t)
	for _, h := range []string{"ins,birth_name,given_names,birth_date\n", "ins,nom,given_names,birth_date,sex,birth_name\n", ""} {
		r := e.run(t, e.write(t, "h.csv", h), optout.Options{})
		if r.err == nil {
			t.Errorf("header %q accepted", h)
		}
	}
}

func sha(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256sum(b))
}

// An import interrupted and resumed ends as one that ran through: the same people, spaces,
// parent links, queued notices, traces, the same rejects and postal notices (with their
// activation codes) and the same counts, with a duplicate, a minor and refusals on either
// side of the interruption.
func TestInterruptedImportEndsAsAnUninterruptedOne(t *testing.T) {
	type outcome struct {
		counts          optout.Counts
		rejects, postal string
		state           string
	}
	// interruptAfter: the batches committed before the run is cut (0: never).
	run := func(interruptAfter int) outcome {
		e := newEnv(t)
		path := e.write(t, "optout.csv", sample(t))
		var rej, post bytes.Buffer
		opt := optout.Options{BatchSize: 1, Rejects: &rej, Postal: &post, By: by}
		if interruptAfter > 0 {
			ctx, cancel := context.WithCancel(context.Background())
			batches := 0
			opt.Progress = func(optout.Progress) {
				if batches++; batches == interruptAfter {
					cancel()
				}
			}
			if _, err := e.im.Run(ctx, path, opt); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: %v", err)
			}
			opt.Progress = nil
			e.clock.Advance(time.Minute) // the operator starts it again
		}
		if _, err := e.im.Run(context.Background(), path, opt); err != nil {
			t.Fatal(err)
		}
		cp, err := e.db.LoadCheckpoint(context.Background(), sha(t, path))
		if err != nil || cp.FinishedAt.IsZero() {
			t.Fatalf("checkpoint: %+v %v", cp, err)
		}
		return outcome{counts: cp.Counts, rejects: rej.String(), postal: post.String(), state: storeState(t, e)}
	}
	through := run(0)
	if through.counts.Duplicates != 1 || through.counts.Created != 3 {
		t.Fatalf("uninterrupted run: %+v", through.counts)
	}
	// Cut after line 5 (batches of one row): the duplicate (line 8) of line 2 and the unknown
	// parent come after the cut, the minor's parents before it; cut after line 3: the minor
	// comes after its parents' batch.
	for _, after := range []int{2, 4, 7} {
		got := run(after)
		if got.counts != through.counts {
			t.Errorf("cut after %d batches: counts %+v, uninterrupted %+v", after, got.counts, through.counts)
		}
		if got.rejects != through.rejects {
			t.Errorf("cut after %d batches: rejects\n%s\nuninterrupted:\n%s", after, got.rejects, through.rejects)
		}
		if got.postal != through.postal {
			t.Errorf("cut after %d batches: postal notices\n%s\nuninterrupted:\n%s", after, got.postal, through.postal)
		}
		if got.state != through.state {
			t.Errorf("cut after %d batches: store\n%s\nuninterrupted:\n%s", after, got.state, through.state)
		}
	}
}

// storeState is what an import leaves in the store, after checking the trace log: people
// named by their INS, not by their ids (PostgreSQL does not give back the ids of a batch
// rolled back), times, activation codes and anchors (which follow the ids: a chain's anchor
// chain is chosen by its name) aside.
func storeState(t *testing.T, e *env) string {
	var b strings.Builder
	for _, q := range []string{
		`SELECT ins || ' ' || birth_name || ' ' || given_names || ' ' || birth_date || ' ' || email || ' ' || postal_address FROM patients ORDER BY ins`,
		`SELECT p.ins || ' ' || s.state || ' ' || CASE WHEN s.activation_hash = '' THEN 'no code' ELSE 'code' END || ' ' || s.version
			FROM spaces s JOIN patients p ON p.id = s.patient_id ORDER BY p.ins`,
		`SELECT p.ins || ' ' || r.ins || ' ' || l.role FROM representatives l JOIN patients p ON p.id = l.patient_id
			JOIN patients r ON r.id = l.representative_id ORDER BY p.ins, r.ins`,
		`SELECT p.ins || ' ' || o.notice_key FROM notice_outbox o JOIN patients p ON p.id = o.patient_id ORDER BY p.ins, o.notice_key`,
		`SELECT t.action || ' ' || t.outcome || ' ' || COALESCE(p.ins, '-') || ' ' || t.reason || ' ' || COUNT(*) FROM traces t
			LEFT JOIN patients p ON p.id = t.patient_id WHERE t.action <> 'trace.chain_open'
			GROUP BY t.action, t.outcome, p.ins, t.reason ORDER BY t.action, t.outcome, p.ins, t.reason`,
	} {
		rows, err := e.db.SQL().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			b.WriteString(s + "\n")
		}
		rows.Close()
		b.WriteString("--\n")
	}
	res, err := e.db.VerifyTraces(context.Background(), storetest.Key)
	if err != nil || !res.OK() {
		t.Fatalf("trace log: %v %v", err, res.Problems)
	}
	return b.String()
}

// failing cuts the batch it is told to as a kill -9 would between its outputs and its commit:
// the batch's rejects and postal notices are written and synced, its transaction does not
// commit.
type failing struct {
	optout.Spaces
	at, n int
}

func (f *failing) CreateBatch(ctx context.Context, by space.By, rows []space.NewSpace, hook func(space.Tx, []space.Outcome) error) ([]space.Outcome, error) {
	f.n++
	return f.Spaces.CreateBatch(ctx, by, rows, func(tx space.Tx, out []space.Outcome) error {
		if err := hook(tx, out); err != nil {
			return err
		}
		if f.n == f.at {
			return errors.New("killed before the commit")
		}
		return nil
	})
}

// A batch that wrote its lines to the output files and did not commit leaves nothing behind
// once the import is resumed: the files are cut back to their last committed batch, so that no
// postal notice carries a code for a space that does not exist, and no reject is told twice.
func TestResumedImportCutsTheOutputsOfABatchThatDidNotCommit(t *testing.T) {
	type outcome struct{ rejects, postal, state string }
	run := func(failAt int) outcome {
		e := newEnv(t)
		path := e.write(t, "optout.csv", sample(t))
		open := func(name string) *os.File {
			f, err := os.OpenFile(filepath.Join(e.dir, name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		}
		opt := optout.Options{BatchSize: 2, Rejects: open("rejects.csv"), Postal: open("postal.csv"), By: by}
		if failAt > 0 {
			im := optout.New(&failing{Spaces: e.spaces, at: failAt}, e.db, e.clock)
			if _, err := im.Run(context.Background(), path, opt); err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("cut run: %v", err)
			}
			e.clock.Advance(time.Minute)
			// The operator runs the command again: the files are opened anew, as the CLI does.
			opt.Rejects, opt.Postal = open("rejects.csv"), open("postal.csv")
		}
		if _, err := e.im.Run(context.Background(), path, opt); err != nil {
			t.Fatal(err)
		}
		read := func(name string) string {
			b, err := os.ReadFile(filepath.Join(e.dir, name))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		if failAt > 0 {
			// What was cut is kept aside: the lines of the batch that did not commit.
			if _, err := os.Stat(filepath.Join(e.dir, "postal.csv.cut")); failAt == 1 && err != nil {
				t.Errorf("cut in batch 1: the postal notice cut is not kept aside: %v", err)
			}
		}
		return outcome{read("rejects.csv"), withoutCodes(t, read("postal.csv")), storeState(t, e)}
	}
	through := run(0)
	if !strings.Contains(through.postal, "MARTIN") || !strings.Contains(through.rejects, "duplicate") {
		t.Fatalf("uninterrupted run: postal %q, rejects %q", through.postal, through.rejects)
	}
	// Batches of two rows: the 1st holds the postal notice (line 3), the 2nd a reject and
	// the minor, the 4th the duplicate.
	for _, at := range []int{1, 2, 4} {
		got := run(at)
		if got != through {
			t.Errorf("cut in batch %d:\nrejects %q\npostal %q\nuninterrupted:\nrejects %q\npostal %q\nstore\n%s\nuninterrupted:\n%s",
				at, got.rejects, got.postal, through.rejects, through.postal, got.state, through.state)
		}
	}
}

// withoutCodes returns the postal file with its activation codes (which follow the ids)
// replaced by their format.
func withoutCodes(t *testing.T, postal string) string {
	recs, err := csv.NewReader(strings.NewReader(postal)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	for _, r := range recs {
		if len(r[5]) != len("XXXX-XXXX-XXXX") {
			t.Fatalf("postal notice with code %q", r[5])
		}
		r[5] = "XXXX-XXXX-XXXX"
		w.Write(r)
	}
	w.Flush()
	return b.String()
}
