// Package relay delivers carnet's outbound mail to the other operators of the MSSanté trust
// space: one durable River job per message and destination domain, queued in the
// transaction that accepted the message (mail.Service.Accept). A job looks the destination
// up (its MX records, or a configured static route), requires STARTTLS, delivers, and records
// each recipient's outcome; a temporary failure is retried with growing delays, and when the
// recipients left cannot be delivered by the last attempt, or are refused for good, the
// sender gets a delivery status notification (mail.Service.RecordAttempt).
package relay

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/store"
)

// QueueName is the River queue of outbound deliveries.
const QueueName = "mail"

// Config tunes the queue.
type Config struct {
	// Hostname is what this server says in EHLO (the mail service's hostname).
	Hostname string
	// Routes send a domain's mail to a fixed host:port instead of its MX hosts: the other
	// relays of a trust space behind one gateway, and tests. "*" routes every domain.
	Routes map[string]string
	// TLS verifies the destinations (RootCAs: the health PKI's; nil: the system's) and may
	// present the operator's client certificate. MinVersion is raised to TLS 1.2.
	TLS *tls.Config
	// Attempts is the number of delivery attempts before the bounce (default 12); Backoff
	// the waits between them, the last one repeated (default 1 min, 5 min, 15 min, 30 min,
	// then hourly: about 8 hours in all).
	Attempts int
	Backoff  []time.Duration
	// Timeout bounds one attempt: connection, TLS, transaction (default 5 minutes).
	Timeout time.Duration
	// Workers deliver concurrently (default 4); PollInterval is how often new jobs are
	// looked for (default 1 s).
	Workers      int
	PollInterval time.Duration
	// Lead lets this queue's client take part in River's leader election, which runs the
	// scheduling of retries and the periodic jobs. Leave it off when another River client
	// (internal/jobs) runs on the same database: its leader serves this queue too, and a
	// leader without that client's periodic jobs would starve them. Turn it on when this
	// queue is alone on its database (tests, a mail-only node).
	Lead bool
	// Reconcile is how often deliveries still queued are checked to have a job (default
	// 5 minutes): a job lost to River's rescue after a crash is queued again.
	Reconcile time.Duration
	// Resolver looks MX records up (default net.DefaultResolver).
	Resolver MXResolver
	Log      *slog.Logger
}

// Queue is the outbound queue: its River client and its worker.
type Queue struct {
	client *river.Client[*sql.Tx]
	cfg    Config
	svc    *mail.Service
	log    *slog.Logger
	stop   chan struct{}
	done   chan struct{}
}

func driver(db *store.DB) riverdriver.Driver[*sql.Tx] {
	if db.Dialect() == store.SQLite {
		return riversqlite.New(db.SQL())
	}
	return riverdatabasesql.New(db.SQL())
}

// New builds the queue over db. Give it to the mail store (db.Mail(q)) so that accepted
// messages queue their deliveries through it; Start it with the mail service.
func New(db *store.DB, cfg Config) (*Queue, error) {
	if cfg.Attempts <= 0 {
		cfg.Attempts = 12
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Reconcile <= 0 {
		cfg.Reconcile = 5 * time.Minute
	}
	if cfg.Resolver == nil {
		cfg.Resolver = netResolver{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.TLS == nil {
		cfg.TLS = &tls.Config{}
	} else {
		cfg.TLS = cfg.TLS.Clone()
	}
	if cfg.TLS.MinVersion < tls.VersionTLS12 {
		cfg.TLS.MinVersion = tls.VersionTLS12
	}
	q := &Queue{cfg: cfg, log: cfg.Log.With("component", "mail-relay")}
	workers := river.NewWorkers()
	q.Register(workers)
	client, err := river.NewClient(driver(db), &river.Config{
		Logger:                 q.log,
		Queues:                 map[string]river.QueueConfig{QueueName: {MaxWorkers: cfg.Workers}},
		Workers:                workers,
		PollOnly:               true,
		FetchPollInterval:      cfg.PollInterval,
		FetchCooldown:          min(cfg.PollInterval, 100*time.Millisecond),
		LeaderElectionDisabled: !cfg.Lead,
		FetchOnlyKnownKinds:    true,
	})
	if err != nil {
		return nil, fmt.Errorf("outbound mail queue: %w", err)
	}
	q.client = client
	return q, nil
}

// Register adds the delivery and inspection workers to a set of River workers, for a job
// client that works the "mail" queue itself.
func (q *Queue) Register(w *river.Workers) {
	river.AddWorker(w, &worker{q: q})
	river.AddWorker(w, &inspectWorker{q: q})
}

// jobArgs makes mail.DeliveryJob a River job on the mail queue, unique while it waits or
// runs, so that the reconciliation can queue it again without doubling it.
type jobArgs struct{ mail.DeliveryJob }

func (jobArgs) Kind() string { return mail.DeliveryJob{}.Kind() }

func (q *Queue) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: QueueName, MaxAttempts: q.cfg.Attempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// InsertManyTx queues delivery and inspection jobs inside tx (store.JobInserter).
func (q *Queue) InsertManyTx(ctx context.Context, tx *sql.Tx, jobs []store.Job) error {
	params := make([]river.InsertManyParams, 0, len(jobs))
	for _, j := range jobs {
		var args river.JobArgs
		switch j := j.(type) {
		case mail.DeliveryJob:
			args = jobArgs{j}
		case mail.InspectJob:
			args = inspectArgs{j}
		default:
			return errs.E(errs.Internal, "the mail queue takes delivery and inspection jobs only, not %s", j.Kind())
		}
		params = append(params, river.InsertManyParams{Args: args, InsertOpts: q.insertOpts()})
	}
	_, err := q.client.InsertManyTx(ctx, tx, params)
	return err
}

// Start starts delivering for svc, and the reconciliation of queued deliveries.
func (q *Queue) Start(ctx context.Context, svc *mail.Service) error {
	q.svc = svc
	if err := q.client.Start(ctx); err != nil {
		return err
	}
	q.stop, q.done = make(chan struct{}), make(chan struct{})
	go q.reconcileLoop()
	return nil
}

// Stop lets running deliveries finish until ctx ends, then cancels them.
func (q *Queue) Stop(ctx context.Context) error {
	if q.stop != nil {
		close(q.stop)
		<-q.done
	}
	err := q.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return q.client.StopAndCancel(cctx)
	}
	return err
}

// Client exposes River's client (tests, the admin's job list).
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }

func (q *Queue) reconcileLoop() {
	defer close(q.done)
	t := time.NewTicker(q.cfg.Reconcile)
	defer t.Stop()
	for {
		q.Reconcile(context.Background())
		select {
		case <-q.stop:
			return
		case <-t.C:
		}
	}
}

// Reconcile queues again the deliveries still queued whose job is gone; a delivery with a
// job waiting or running is left alone (the job is unique by its arguments).
func (q *Queue) Reconcile(ctx context.Context) int {
	ids, err := q.svc.StaleDeliveries(ctx, q.cfg.Reconcile, 500)
	if err != nil {
		q.log.Warn("outbound reconciliation failed", "err", err)
		return 0
	}
	n := 0
	for _, id := range ids {
		res, err := q.client.Insert(ctx, jobArgs{mail.DeliveryJob{OutboundID: id}}, q.insertOpts())
		if err != nil {
			q.log.Warn("outbound delivery not queued again", "outbound", id, "err", err)
			continue
		}
		if !res.UniqueSkippedAsDuplicate {
			n++
			q.log.Warn("outbound delivery had lost its job: queued again", "outbound", id)
		}
	}
	return n
}

type worker struct {
	river.WorkerDefaults[jobArgs]
	q *Queue
}

// Timeout: one attempt over every MX host, each bounded by cfg.Timeout.
func (w *worker) Timeout(*river.Job[jobArgs]) time.Duration { return 3*w.q.cfg.Timeout + time.Minute }

// NextRetry spaces the attempts by cfg.Backoff.
func (w *worker) NextRetry(job *river.Job[jobArgs]) time.Time {
	b := w.q.cfg.Backoff
	return time.Now().Add(b[min(max(job.Attempt-1, 0), len(b)-1)])
}

func (w *worker) Work(ctx context.Context, job *river.Job[jobArgs]) error {
	q := w.q
	if q.svc == nil {
		return errs.E(errs.Unavailable, "outbound queue not started")
	}
	id := job.Args.OutboundID
	d, err := q.svc.LoadDelivery(ctx, id)
	if errs.Is(err, errs.Conflict) {
		return nil // done by an earlier run
	}
	if errs.Is(err, errs.NotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	final := job.Attempt >= job.MaxAttempts
	att := q.attempt(ctx, d)
	done, err := q.svc.RecordAttempt(ctx, id, att, final)
	if err != nil {
		return err
	}
	q.log.Info("outbound delivery attempt", "outbound", id, "attempt", job.Attempt, "delivered", len(att.Delivered),
		"failed", len(att.Failed), "done", done)
	if !done {
		return fmt.Errorf("delivery to %s deferred: %s", d.Outbound.Domain, firstLine(att.Temporary))
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
