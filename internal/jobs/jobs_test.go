package jobs_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

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

// sender fails with the given error, counting attempts.
type sender struct {
	err   error
	calls atomic.Int32
}

func (s *sender) Send(context.Context, notify.Message) error {
	s.calls.Add(1)
	return s.err
}

func setup(t *testing.T, snd notify.Sender, spaces func(*store.DB) *space.Service) (*store.DB, *jobs.Queue) {
	t.Helper()
	db := storetest.New(t)
	if _, err := jobs.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	deps := jobs.Deps{Sender: snd}
	if spaces != nil {
		deps.Spaces = spaces(db)
	}
	q, err := jobs.New(db, jobs.Config{Workers: 2, PollInterval: 100 * time.Millisecond, SweepInterval: time.Hour}, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
	return db, q
}

func enqueue(t *testing.T, db *store.DB) {
	t.Helper()
	m := notify.Message{To: "a@example.fr", Subject: "s", Text: "t", ID: "n1"}
	if err := db.Update(context.Background(), func(tx *store.Tx) error { return tx.Enqueue(context.Background(), notify.Job{Message: m}) }); err != nil {
		t.Fatal(err)
	}
}

func waitState(t *testing.T, q *jobs.Queue, want rivertype.JobState) *rivertype.JobRow {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		job, err := q.Client().JobGet(context.Background(), 1)
		if err == nil && job.State == want {
			return job
		}
		time.Sleep(50 * time.Millisecond)
	}
	job, err := q.Client().JobGet(context.Background(), 1)
	t.Fatalf("job never reached %s: %+v %v", want, job, err)
	return nil
}

// A permanent refusal (a malformed message, a relay's 5xx for this message) is not retried.
func TestPermanentFailureIsNotRetried(t *testing.T) {
	snd := &sender{err: errs.E(errs.Invalid, "mailbox unavailable")}
	db, q := setup(t, snd, nil)
	enqueue(t, db)
	waitState(t, q, rivertype.JobStateCancelled)
	if n := snd.calls.Load(); n != 1 {
		t.Fatalf("sent %d times", n)
	}
}

// A temporary failure is retried later.
func TestTemporaryFailureIsRetried(t *testing.T) {
	snd := &sender{err: errs.E(errs.Unavailable, "relay down")}
	db, q := setup(t, snd, nil)
	enqueue(t, db)
	job := waitState(t, q, rivertype.JobStateRetryable)
	if len(job.Errors) == 0 || !job.ScheduledAt.After(job.Errors[len(job.Errors)-1].At) {
		t.Fatalf("retry not scheduled: %+v", job)
	}
}

// The periodic sweep runs by itself at start: a space whose opt-out period ended while the
// server was down opens without anyone calling Sweep.
func TestSweepJobOpensDueSpaces(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC))
	var svc *space.Service
	db := storetest.New(t)
	if _, err := jobs.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	svc = space.NewService(db.Spaces(), clk, space.DefaultPolicy(), "https://carnet.example")
	// A first process queues the creation (its queue connects to the store) and never works.
	if _, err := jobs.New(db, jobs.Config{}, jobs.Deps{}); err != nil {
		t.Fatal(err)
	}
	key, _ := identity.INSKey("2790351215189")
	ins, _ := identity.NewINS("2790351215189"+key, identity.OIDTestNIR)
	c, err := svc.Create(context.Background(), space.By{Actor: audit.System("test"), Channel: audit.ChannelCLI},
		space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "X", GivenNames: "Y", BirthDate: time.Date(1979, 3, 5, 0, 0, 0, 0, time.UTC), Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(43 * 24 * time.Hour)
	// The next process starts its queue: the sweep runs on start.
	q, err := jobs.New(db, jobs.Config{Workers: 2, PollInterval: 100 * time.Millisecond, SweepInterval: time.Hour}, jobs.Deps{Sender: &sender{}, Spaces: svc})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(context.Background())
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, sp, err := svc.Get(context.Background(), c.Patient.ID); err == nil && sp.State == space.Open {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the sweep job did not open the space")
}
