package space_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

var start = time.Date(2026, 1, 5, 8, 30, 0, 0, time.UTC)

var operator = space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op-1", Name: "CPAM"}, Channel: audit.ChannelCLI}

type env struct {
	db     *store.DB
	clock  *clock.Fake
	svc    *space.Service
	outbox string
	queue  *jobs.Queue
}

var codeRE = regexp.MustCompile(`code d'activation : ([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})`)

// codeIn returns the activation code a notice carries.
func codeIn(t *testing.T, mail string) string {
	t.Helper()
	m := codeRE.FindStringSubmatch(mail)
	if m == nil {
		t.Fatalf("no activation code in the notice:\n%s", mail)
	}
	return m[1]
}

// newEnv builds the real thing: a migrated store, River on it, the outbox sender.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{db: storetest.New(t), clock: clock.NewFake(start), outbox: filepath.Join(t.TempDir(), "outbox")}
	if _, err := jobs.Migrate(ctx, e.db); err != nil {
		t.Fatal(err)
	}
	sender, err := notify.NewOutbox(notify.Config{Mode: notify.ModeOutbox, OutboxDir: e.outbox, From: "carnet <no-reply@carnet.example>"}, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	e.svc, err = space.NewService(space.Deps{Store: e.db.Spaces(), Clock: e.clock, Policy: space.DefaultPolicy(),
		PublicURL: "https://carnet.example", Sender: sender, CodeKey: []byte("activation-code-key-32-bytes-abc")})
	if err != nil {
		t.Fatal(err)
	}
	e.queue = e.newQueue(t)
	return e
}

func (e *env) newQueue(t *testing.T) *jobs.Queue {
	t.Helper()
	q, err := jobs.New(e.db, jobs.Config{Workers: 2, PollInterval: 100 * time.Millisecond, SweepInterval: time.Hour}, jobs.Deps{Spaces: e.svc})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func (e *env) start(t *testing.T) {
	t.Helper()
	if err := e.queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.queue.Stop(ctx)
	})
}

// waitMail waits until the outbox holds a message to `to` whose subject contains `subject`,
// and returns its text.
func (e *env) waitMail(t *testing.T, to, subject string, body ...string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil || !strings.Contains(string(b), "To: "+to) || !strings.Contains(decodeSubject(string(b)), subject) {
				continue
			}
			text, ok := decodeBody(string(b)), true
			for _, want := range body {
				ok = ok && strings.Contains(text, want)
			}
			if ok {
				return text
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no mail to %s about %q in the outbox", to, subject)
	return ""
}

func ins(t *testing.T, nir13 string) identity.INS {
	t.Helper()
	key, err := identity.INSKey(nir13)
	if err != nil {
		t.Fatal(err)
	}
	i, err := identity.NewINS(nir13+key, identity.OIDTestNIR)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func person(t *testing.T, nir13, given, email string, born time.Time) space.Patient {
	return space.Patient{INS: ins(t, nir13), BirthName: "DUPONT", GivenNames: given, BirthDate: born, Sex: space.Female, Email: email}
}

func (e *env) traces(t *testing.T, patientID int64) []audit.Trace {
	t.Helper()
	var out []audit.Trace
	if err := e.db.View(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = tx.TracesOfPatient(context.Background(), patientID, 100)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) hasTrace(t *testing.T, patientID int64, action string, outcome audit.Outcome) audit.Trace {
	t.Helper()
	for _, tr := range e.traces(t, patientID) {
		if tr.Entry.Action == action && tr.Entry.Outcome == outcome {
			return tr
		}
	}
	t.Fatalf("no %s trace %s for patient %d", outcome, action, patientID)
	return audit.Trace{}
}

func (e *env) verifyLog(t *testing.T) {
	t.Helper()
	res, err := e.db.VerifyTraces(context.Background(), storetest.Key)
	if err != nil || !res.OK() {
		t.Fatalf("trace log: %v %+v", err, res.Problems)
	}
}

func (e *env) sweep(t *testing.T) space.SweepReport {
	t.Helper()
	rep, err := e.svc.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestOptOutOpensAfterSixWeeks(t *testing.T) {
	e := newEnv(t)
	e.start(t)
	ctx := context.Background()
	c, err := e.svc.Create(ctx, operator, space.NewSpace{Patient: person(t, "2790351215189", "Marie Louise", "marie@example.fr", time.Date(1979, 3, 5, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	if c.Space.State != space.Pending || !c.Space.OpensAt.Equal(start.Add(42*24*time.Hour)) || c.ActivationCode != "" {
		t.Fatalf("created %+v, code %q (the notice carries it)", c.Space, c.ActivationCode)
	}
	mail := e.waitMail(t, "marie@example.fr", "Création")
	codeIn(t, mail)
	if !strings.Contains(mail, "16 février 2026") {
		t.Fatalf("the notice lacks the opening date:\n%s", mail)
	}
	// The code is nowhere in the database, not even in the job queue.
	var leaks int
	if err := e.db.SQL().QueryRow(`SELECT COUNT(*) FROM river_job WHERE CAST(args AS TEXT) LIKE $1`, "%"+codeIn(t, mail)+"%").Scan(&leaks); err != nil || leaks != 0 {
		t.Fatalf("the activation code is stored in the job queue (%d, %v)", leaks, err)
	}
	e.hasTrace(t, c.Patient.ID, "space.create", audit.Allowed)

	e.clock.Advance(42*24*time.Hour - time.Second)
	if rep := e.sweep(t); rep.Opened != 0 {
		t.Fatalf("opened %d spaces one second early", rep.Opened)
	}
	e.clock.Advance(time.Second)
	if rep := e.sweep(t); rep.Opened != 1 {
		t.Fatalf("sweep after 6 weeks: %+v", rep)
	}
	_, sp, err := e.svc.Get(ctx, c.Patient.ID)
	if err != nil || sp.State != space.Open || sp.Activated {
		t.Fatalf("after 6 weeks: %+v %v", sp, err)
	}
	tr := e.hasTrace(t, c.Patient.ID, "space.open", audit.Allowed)
	if tr.Entry.Actor.Kind != audit.ActorSystem || tr.Entry.Channel != audit.ChannelJob {
		t.Fatalf("open traced as %+v", tr.Entry)
	}
	e.waitMail(t, "marie@example.fr", "Ouverture")
	if rep := e.sweep(t); rep.Opened != 0 {
		t.Fatalf("second sweep reopened: %+v", rep)
	}
	// Objection is no longer possible; it is refused, traced, and changes nothing.
	if _, err := e.svc.Oppose(ctx, operator, c.Patient.ID); !errs.Is(err, errs.Conflict) {
		t.Fatalf("oppose after opening: %v", err)
	}
	e.hasTrace(t, c.Patient.ID, "space.oppose", audit.Denied)
	if _, sp, _ := e.svc.Get(ctx, c.Patient.ID); sp.State != space.Open {
		t.Fatalf("refused objection changed the state: %s", sp.State)
	}
	e.verifyLog(t)
}

func TestObjectionPreventsOpening(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c, err := e.svc.Create(ctx, operator, space.NewSpace{Patient: person(t, "1850275123456", "Jean", "", time.Date(1985, 2, 1, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(20 * 24 * time.Hour)
	me := space.By{Actor: audit.Actor{Kind: audit.ActorPatient, ID: "self", Name: "Jean"}, Channel: audit.ChannelWeb}
	sp, err := e.svc.Oppose(ctx, me, c.Patient.ID)
	if err != nil || sp.State != space.Opposed {
		t.Fatalf("oppose: %+v %v", sp, err)
	}
	e.clock.Advance(365 * 24 * time.Hour)
	if rep := e.sweep(t); rep.Opened != 0 {
		t.Fatalf("an opposed space opened: %+v", rep)
	}
	// Changing one's mind later: activation with the notice's code opens it.
	sp, err = e.svc.Activate(ctx, me, c.Patient.INS, c.ActivationCode)
	if err != nil || sp.State != space.Open || !sp.Activated {
		t.Fatalf("activate after objection: %+v %v", sp, err)
	}
	e.verifyLog(t)
}

func TestEarlyActivation(t *testing.T) {
	e := newEnv(t)
	e.start(t)
	ctx := context.Background()
	c, err := e.svc.Create(ctx, operator, space.NewSpace{Patient: person(t, "2900175123457", "Alice", "alice@example.fr", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	c.ActivationCode = codeIn(t, e.waitMail(t, "alice@example.fr", "Création"))
	me := space.By{Actor: audit.Actor{Kind: audit.ActorPatient, ID: "self", Name: "Alice"}, Channel: audit.ChannelWeb}
	if _, err := e.svc.Activate(ctx, me, c.Patient.INS, "AAAA-BBBB-CCCC"); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("wrong code: %v", err)
	}
	e.hasTrace(t, c.Patient.ID, "space.activate", audit.Denied)
	if _, sp, _ := e.svc.Get(ctx, c.Patient.ID); sp.State != space.Pending {
		t.Fatalf("a wrong code changed the state: %s", sp.State)
	}
	e.clock.Advance(3 * 24 * time.Hour)
	// The code is accepted however it is typed: lower case, without dashes.
	typed := strings.ToLower(strings.ReplaceAll(c.ActivationCode, "-", ""))
	sp, err := e.svc.Activate(ctx, me, c.Patient.INS, typed)
	if err != nil || sp.State != space.Open || !sp.Activated || !sp.OpenedAt.Equal(start.Add(72*time.Hour)) {
		t.Fatalf("activate: %+v %v", sp, err)
	}
	if _, err := e.svc.Activate(ctx, me, c.Patient.INS, c.ActivationCode); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a code served twice: %v", err)
	}
	// An unknown INS gets the same answer as a wrong code: nothing tells which INS exist.
	other := ins(t, "1010175123458")
	if _, err := e.svc.Activate(ctx, me, other, c.ActivationCode); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("unknown INS: %v", err)
	}
	e.verifyLog(t)
}

func TestClosureArchiveReopenPurge(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c, err := e.svc.Create(ctx, operator, space.NewSpace{Patient: person(t, "2790351215189", "Marie", "", time.Date(1979, 3, 5, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	me := space.By{Actor: audit.Actor{Kind: audit.ActorPatient, ID: "self", Name: "Marie"}, Channel: audit.ChannelWeb}
	if _, err := e.svc.Activate(ctx, me, c.Patient.INS, c.ActivationCode); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(400 * 24 * time.Hour)
	closedAt := e.clock.Now()
	sp, err := e.svc.Close(ctx, me, c.Patient.ID, false)
	if err != nil || sp.State != space.Closed || !sp.PurgeAt.Equal(closedAt.AddDate(10, 0, 0)) {
		t.Fatalf("close: %+v %v", sp, err)
	}
	// Reopening within the archive period restores it.
	e.clock.Advance(5 * 365 * 24 * time.Hour)
	if sp, err = e.svc.Reopen(ctx, me, c.Patient.ID); err != nil || sp.State != space.Open {
		t.Fatalf("reopen: %+v %v", sp, err)
	}
	closedAt = e.clock.Now()
	if _, err := e.svc.Close(ctx, me, c.Patient.ID, false); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(closedAt.AddDate(10, 0, 0).Add(-time.Minute))
	if rep := e.sweep(t); rep.Purged != 0 {
		t.Fatalf("purged before 10 years: %+v", rep)
	}
	e.clock.Advance(time.Minute)
	if rep := e.sweep(t); rep.Purged != 1 {
		t.Fatalf("sweep after 10 years: %+v", rep)
	}
	p, sp, err := e.svc.Get(ctx, c.Patient.ID)
	if err != nil || sp.State != space.Purged || p.BirthName != "" || p.Email != "" || p.INS.Matricule == "" {
		t.Fatalf("after purge: %+v %+v %v", p, sp, err)
	}
	e.hasTrace(t, c.Patient.ID, "space.purge", audit.Allowed)
	// The run itself reports what it did in the job's chain, once per run that did something.
	var runs []string
	rows, err := e.db.SQL().Query(`SELECT detail FROM traces WHERE action = $1 ORDER BY id`, space.SweepRunAction)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, d)
	}
	rows.Close()
	if len(runs) == 0 || runs[len(runs)-1] != "opened=0 purged=1 failed=0" {
		t.Fatalf("sweep runs traced: %q", runs)
	}
	e.verifyLog(t)
	if _, err := e.svc.Reopen(ctx, me, c.Patient.ID); !errs.Is(err, errs.Conflict) {
		t.Fatalf("reopen after purge: %v", err)
	}
	// The purged person is not created again by the next opt-out run.
	_, err = e.svc.Create(ctx, operator, space.NewSpace{Patient: person(t, "2790351215189", "Marie", "", time.Date(1979, 3, 5, 0, 0, 0, 0, time.UTC))})
	if !errs.Is(err, errs.Conflict) {
		t.Fatalf("recreated after purge: %v", err)
	}
	e.verifyLog(t)
}

func TestDeletionOnRequestWithinThreeMonths(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mk := func(nir string) space.Created {
		c, err := e.svc.Create(ctx, operator, space.NewSpace{Patient: person(t, nir, "Lou", "", time.Date(1970, 6, 1, 0, 0, 0, 0, time.UTC))})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := mk("1700675123451"), mk("1700675123452")
	e.clock.Advance(42 * 24 * time.Hour)
	e.sweep(t)
	closedAt := e.clock.Now()
	sp, err := e.svc.Close(ctx, operator, a.Patient.ID, true)
	if err != nil || !sp.DeletionRequested || !sp.PurgeAt.Equal(closedAt.AddDate(0, 3, 0)) {
		t.Fatalf("close with deletion: %+v %v", sp, err)
	}
	if _, err := e.svc.Close(ctx, operator, b.Patient.ID, false); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * 24 * time.Hour)
	requested := e.clock.Now()
	if sp, err = e.svc.RequestDeletion(ctx, operator, b.Patient.ID); err != nil || !sp.PurgeAt.Equal(requested.AddDate(0, 3, 0)) {
		t.Fatalf("request deletion: %+v %v", sp, err)
	}
	e.clock.Set(closedAt.AddDate(0, 3, 0))
	if rep := e.sweep(t); rep.Purged != 1 {
		t.Fatalf("at 3 months from the first closure: %+v", rep)
	}
	e.clock.Set(requested.AddDate(0, 3, 0))
	if rep := e.sweep(t); rep.Purged != 1 {
		t.Fatalf("at 3 months from the request: %+v", rep)
	}
	e.verifyLog(t)
}

func TestInvalidIdentityChangesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := person(t, "2790351215189", "", "marie@example.fr", time.Date(1979, 3, 5, 0, 0, 0, 0, time.UTC))
	p.INS.Matricule = "279035121518988" // wrong key
	_, err := e.svc.Create(ctx, operator, space.NewSpace{Patient: p})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "given name") {
		t.Fatalf("invalid identity: %v", err)
	}
	if _, _, err := e.svc.ByINS(ctx, p.INS.Matricule); !errs.Is(err, errs.NotFound) {
		t.Fatalf("something was created: %v", err)
	}
}
