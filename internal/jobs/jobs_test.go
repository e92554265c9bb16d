package jobs_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
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

var t0 = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)

// setup starts a queue whose notices go through snd, and creates a space with an e-mail
// address, which queues its creation notice.
func setup(t *testing.T, snd notify.Sender) *jobs.Queue {
	t.Helper()
	db := storetest.New(t)
	if _, err := jobs.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	svc := newSpaces(t, db, clock.NewFake(t0), snd)
	q, err := jobs.New(db, jobs.Config{Workers: 2, PollInterval: 100 * time.Millisecond, SweepInterval: time.Hour}, jobs.Deps{Spaces: svc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(context.Background(), space.By{Actor: audit.System("test"), Channel: audit.ChannelCLI},
		space.NewSpace{Patient: marie(t, "marie@example.fr")}); err != nil {
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
	return q
}

func marie(t *testing.T, email string) space.Patient {
	t.Helper()
	key, _ := identity.INSKey("2790351215189")
	ins, err := identity.NewINS("2790351215189"+key, identity.OIDTestNIR)
	if err != nil {
		t.Fatal(err)
	}
	return space.Patient{INS: ins, BirthName: "X", GivenNames: "Marie", BirthDate: time.Date(1979, 3, 5, 0, 0, 0, 0, time.UTC), Sex: space.Female, Email: email}
}

// waitNotice waits until the notice job reaches the state.
func waitNotice(t *testing.T, q *jobs.Queue, want rivertype.JobState) *rivertype.JobRow {
	t.Helper()
	var last []*rivertype.JobRow
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		res, err := q.Client().JobList(context.Background(), river.NewJobListParams().Kinds(space.NoticeJob{}.Kind()))
		if err == nil && len(res.Jobs) == 1 && res.Jobs[0].State == want {
			return res.Jobs[0]
		}
		if err == nil {
			last = res.Jobs
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the notice job never reached %s: %+v", want, last)
	return nil
}

// A permanent refusal (a malformed message, a relay's 5xx for this message) is not retried.
func TestPermanentFailureIsNotRetried(t *testing.T) {
	snd := &sender{err: errs.E(errs.Invalid, "mailbox unavailable")}
	q := setup(t, snd)
	waitNotice(t, q, rivertype.JobStateCancelled)
	if n := snd.calls.Load(); n != 1 {
		t.Fatalf("sent %d times", n)
	}
}

// A temporary failure is retried later.
func TestTemporaryFailureIsRetried(t *testing.T) {
	snd := &sender{err: errs.E(errs.Unavailable, "relay down")}
	q := setup(t, snd)
	job := waitNotice(t, q, rivertype.JobStateRetryable)
	if len(job.Errors) == 0 || !job.ScheduledAt.After(job.Errors[len(job.Errors)-1].At) {
		t.Fatalf("retry not scheduled: %+v", job)
	}
}

// The periodic sweep runs by itself at start: a space whose opt-out period ended while the
// server was down opens without anyone calling Sweep.
func TestSweepJobOpensDueSpaces(t *testing.T) {
	clk := clock.NewFake(t0)
	db := storetest.New(t)
	if _, err := jobs.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	svc := newSpaces(t, db, clk, &sender{})
	// A first process queues the creation (its queue connects to the store) and never works.
	if _, err := jobs.New(db, jobs.Config{}, jobs.Deps{}); err != nil {
		t.Fatal(err)
	}
	c, err := svc.Create(context.Background(), space.By{Actor: audit.System("test"), Channel: audit.ChannelCLI},
		space.NewSpace{Patient: marie(t, "")})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(43 * 24 * time.Hour)
	// The next process starts its queue: the sweep runs on start.
	q, err := jobs.New(db, jobs.Config{Workers: 2, PollInterval: 100 * time.Millisecond, SweepInterval: time.Hour}, jobs.Deps{Spaces: svc})
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

func newSpaces(t *testing.T, db *store.DB, clk clock.Clock, snd notify.Sender) *space.Service {
	t.Helper()
	svc, err := space.NewService(space.Deps{Store: db.Spaces(), Clock: clk, Policy: space.DefaultPolicy(),
		PublicURL: "https://carnet.example", Sender: snd, CodeKey: []byte("activation-code-key-32-bytes-abc")})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// slowSender holds every send until released.
type slowSender struct {
	started chan struct{}
	release chan struct{}
	done    atomic.Int32
}

func (s *slowSender) Send(ctx context.Context, _ notify.Message) error {
	close(s.started)
	<-s.release
	s.done.Add(1)
	return nil
}

// Stopping the queue lets a running job finish (graceful shutdown).
func TestStopLetsRunningJobsFinish(t *testing.T) {
	snd := &slowSender{started: make(chan struct{}), release: make(chan struct{})}
	q := setup(t, snd)
	select {
	case <-snd.started:
	case <-time.After(20 * time.Second):
		t.Fatal("the notice job never started")
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- q.Stop(ctx)
	}()
	time.Sleep(200 * time.Millisecond) // Stop is now waiting for the job
	close(snd.release)
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
	if snd.done.Load() != 1 {
		t.Fatal("the running job did not finish")
	}
	res, err := q.Client().JobList(context.Background(), river.NewJobListParams().Kinds(space.NoticeJob{}.Kind()))
	if err != nil || len(res.Jobs) != 1 || res.Jobs[0].State != rivertype.JobStateCompleted {
		t.Fatalf("job after a graceful stop: %+v %v", res, err)
	}
}
