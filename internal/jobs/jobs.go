// Package jobs runs carnet's durable background jobs on River (riverqueue.com), in the same
// database as the data, so that a job is queued in the transaction of the change that calls
// for it and survives restarts: the notices of patient spaces, and the periodic sweep of
// their deadlines. SQLite uses River's SQLite driver on the store's single writer connection;
// PostgreSQL uses its database/sql driver in poll-only mode over the store's pool.
package jobs

import (
	"context"
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
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/alert"
	"github.com/carnet-sante/carnet/internal/emergency"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
)

func driver(db *store.DB) riverdriver.Driver[*sql.Tx] {
	if db.Dialect() == store.SQLite {
		return riversqlite.New(db.SQL())
	}
	return riverdatabasesql.New(db.SQL())
}

// Migrate applies River's own migrations (its tables live beside ours).
func Migrate(ctx context.Context, db *store.DB) (int, error) {
	m, err := rivermigrate.New(driver(db), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, fmt.Errorf("job queue migrations: %w", err)
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, fmt.Errorf("job queue migrations: %w", err)
	}
	return len(res.Versions), nil
}

// SchemaVersion reports River's applied and latest migration versions.
func SchemaVersion(ctx context.Context, db *store.DB) (current, latest int, err error) {
	m, err := rivermigrate.New(driver(db), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, 0, err
	}
	all := m.AllVersions()
	latest = all[len(all)-1].Version
	existing, err := m.ExistingVersions(ctx)
	if err != nil {
		// No river_migration table yet: a new database.
		return 0, latest, nil
	}
	if len(existing) > 0 {
		current = existing[len(existing)-1].Version
	}
	return current, latest, nil
}

// CheckSchema refuses a job schema behind this binary.
func CheckSchema(ctx context.Context, db *store.DB) error {
	cur, latest, err := SchemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if cur < latest {
		return errs.E(errs.Unavailable, "the job queue schema is at version %d but this carnet needs version %d: run `carnet migrate` and start again", cur, latest)
	}
	return nil
}

// Config tunes the queue.
type Config struct {
	Workers       int           // concurrent jobs
	SweepInterval time.Duration // how often deadlines are swept (default 1 minute)
	PollInterval  time.Duration // how often new jobs are looked for (default 1 s)
	// NoticeInterval is how often queued "something new" notices are sent (default 30 s): the
	// documents deposited in between make one e-mail per patient.
	NoticeInterval time.Duration
	Logger         *slog.Logger
}

// Deps are the services the workers call. With none, the queue only inserts.
type Deps struct {
	Spaces *space.Service
	// Blobs, with DB, lets the queue erase the bytes no document refers to any more (a purged
	// space's): the blob garbage sweep.
	Blobs BlobDeleter
	DB    *store.DB
	// Records releases the documents held back from the patient whose announcement delay
	// ended (record.Service.ReleaseAnnounced).
	Records Releaser
	// Alerts tells médecins traitants of emergency accesses (queued in the notice outbox).
	Alerts *alert.Service
	// MailRetention applies the mailbox inactivity rule (mailretention.go).
	MailRetention MailRetention
}

// Releaser releases the documents whose announcement delay ended.
type Releaser interface {
	ReleaseAnnounced(ctx context.Context) (int, error)
}

// BlobDeleter erases blobs (blob.Store's Delete).
type BlobDeleter interface {
	Delete(ctx context.Context, id string) error
}

// Queue inserts and works jobs.
type Queue struct {
	client *river.Client[*sql.Tx]
	log    *slog.Logger
}

// New builds the queue over db and connects it to the store for transactional inserts. It
// works nothing until Start. With no Deps, the queue only inserts (operator commands).
func New(db *store.DB, cfg Config, deps Deps) (*Queue, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 10
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Minute
	}
	if cfg.NoticeInterval <= 0 {
		cfg.NoticeInterval = 30 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	workers := river.NewWorkers()
	var periodic []*river.PeriodicJob
	if deps.Spaces != nil {
		river.AddWorker(workers, &noticeWorker{spaces: deps.Spaces, log: cfg.Logger})
		river.AddWorker(workers, &sweepWorker{spaces: deps.Spaces, log: cfg.Logger})
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(cfg.SweepInterval),
			func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil },
			&river.PeriodicJobOpts{ID: "space-sweep", RunOnStart: true}))
	}
	if deps.Spaces != nil && deps.DB != nil {
		river.AddWorker(workers, &outboxWorker{db: deps.DB, log: cfg.Logger})
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(cfg.NoticeInterval),
			func() (river.JobArgs, *river.InsertOpts) { return OutboxArgs{}, nil },
			&river.PeriodicJobOpts{ID: "notice-outbox", RunOnStart: true}))
	}
	if deps.Spaces != nil && deps.DB != nil {
		periodic = append(periodic, addAgendaReminders(workers, deps.DB, cfg.Logger)) // agenda.go
	}
	if deps.Alerts != nil {
		river.AddWorker(workers, &alertWorker{alerts: deps.Alerts, log: cfg.Logger})
	}
	if deps.MailRetention != nil {
		periodic = append(periodic, addMailRetention(workers, deps.MailRetention, cfg.Logger))
	}
	if deps.Records != nil {
		river.AddWorker(workers, &releaseWorker{records: deps.Records, log: cfg.Logger})
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(cfg.SweepInterval),
			func() (river.JobArgs, *river.InsertOpts) { return ReleaseArgs{}, nil },
			&river.PeriodicJobOpts{ID: "record-release", RunOnStart: true}))
	}
	if deps.Blobs != nil && deps.DB != nil {
		river.AddWorker(workers, &blobGCWorker{db: deps.DB, blobs: deps.Blobs, log: cfg.Logger})
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(cfg.SweepInterval),
			func() (river.JobArgs, *river.InsertOpts) { return BlobGCArgs{}, nil },
			&river.PeriodicJobOpts{ID: "blob-gc", RunOnStart: true}))
	}
	rc := &river.Config{
		Logger:            cfg.Logger.With("component", "jobs"),
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:           workers,
		PeriodicJobs:      periodic,
		PollOnly:          true, // LISTEN/NOTIFY needs a dedicated pgx connection; polling is enough here
		FetchPollInterval: cfg.PollInterval,
		MaxAttempts:       12, // with River's backoff, about a day and a half of retries
	}
	if deps.Spaces == nil && deps.Blobs == nil && deps.Records == nil {
		// Insert-only, for the operator's commands: the server works what they queue.
		rc.Queues, rc.Workers, rc.SkipUnknownJobCheck = nil, nil, true
	}
	client, err := river.NewClient(driver(db), rc)
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	q := &Queue{client: client, log: cfg.Logger}
	db.SetJobInserter(q)
	return q, nil
}

// InsertManyTx queues jobs inside tx, in one statement where the driver can.
func (q *Queue) InsertManyTx(ctx context.Context, tx *sql.Tx, jobs []store.Job) error {
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		args, ok := j.(river.JobArgs)
		if !ok {
			return errs.E(errs.Internal, "job %T is not insertable", j)
		}
		params[i] = river.InsertManyParams{Args: args}
	}
	_, err := q.client.InsertManyTx(ctx, tx, params)
	return err
}

// Start starts working jobs.
func (q *Queue) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop lets running jobs finish, until ctx ends; then cancels them.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return q.client.StopAndCancel(cctx)
	}
	return err
}

// Client exposes River's client to tests and the admin (job listing).
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }

type noticeWorker struct {
	river.WorkerDefaults[space.NoticeJob]
	spaces *space.Service
	log    *slog.Logger
}

func (w *noticeWorker) Work(ctx context.Context, job *river.Job[space.NoticeJob]) error {
	err := w.spaces.SendNotice(ctx, job.Args)
	if err == nil {
		return nil
	}
	// Log the job and the error class only: the error may name the recipient.
	w.log.Warn("notice not sent", "job", job.ID, "notice", job.Args.Notice, "attempt", job.Attempt, "code", errs.CodeOf(err))
	if errs.Is(err, errs.Invalid) || errs.Is(err, errs.NotFound) {
		return river.JobCancel(err) // permanent: retrying cannot help
	}
	return err
}

type alertWorker struct {
	river.WorkerDefaults[alert.Job]
	alerts *alert.Service
	log    *slog.Logger
}

func (w *alertWorker) Work(ctx context.Context, job *river.Job[alert.Job]) error {
	_, err := w.alerts.Send(ctx, job.Args)
	if err == nil {
		return nil
	}
	w.log.Warn("médecin traitant alert not sent", "job", job.ID, "attempt", job.Attempt, "code", errs.CodeOf(err))
	if errs.Is(err, errs.Invalid) || errs.Is(err, errs.NotFound) {
		return river.JobCancel(err)
	}
	return err
}

// SweepArgs runs the deadline sweep.
type SweepArgs struct{}

// Kind names the job.
func (SweepArgs) Kind() string { return "space.sweep" }

// InsertOpts: at most one sweep queued at a time.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStatePending}}}
}

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	spaces *space.Service
	log    *slog.Logger
}

// Timeout lets a sweep run past River's default minute: after downtime, or after a bulk
// opt-out run, a sweep may open hundreds of thousands of spaces. Its progress is committed
// space by space, so a sweep cut short loses nothing.
func (w *sweepWorker) Timeout(*river.Job[SweepArgs]) time.Duration { return time.Hour }

func (w *sweepWorker) Work(ctx context.Context, job *river.Job[SweepArgs]) error {
	rep, err := w.spaces.Sweep(ctx)
	if rep.Opened+rep.Purged+rep.Failed > 0 {
		w.log.Info("space deadlines swept", "opened", rep.Opened, "purged", rep.Purged, "failed", rep.Failed)
	}
	return err
}

// BlobGCArgs erases the blobs listed as garbage.
type BlobGCArgs struct{}

// Kind names the job.
func (BlobGCArgs) Kind() string { return "blob.gc" }

// InsertOpts: at most one queued at a time.
func (BlobGCArgs) InsertOpts() river.InsertOpts { return SweepArgs{}.InsertOpts() }

type blobGCWorker struct {
	river.WorkerDefaults[BlobGCArgs]
	db    *store.DB
	blobs BlobDeleter
	log   *slog.Logger
}

func (w *blobGCWorker) Timeout(*river.Job[BlobGCArgs]) time.Duration { return time.Hour }

// Work erases the listed blobs a batch at a time; each is forgotten once erased, so an
// interrupted run resumes where it stopped (erasing a blob already gone is no error).
func (w *blobGCWorker) Work(ctx context.Context, job *river.Job[BlobGCArgs]) error {
	n, err := CollectBlobGarbage(ctx, w.db, w.blobs)
	if n > 0 {
		w.log.Info("blobs of purged records erased", "count", n)
	}
	return err
}

// CollectBlobGarbage erases every blob listed as garbage and returns how many it erased.
func CollectBlobGarbage(ctx context.Context, db *store.DB, blobs BlobDeleter) (int, error) {
	total := 0
	for {
		var ids []string
		if err := db.View(ctx, func(tx *store.Tx) error {
			var err error
			ids, err = tx.PendingBlobGarbage(ctx, 500)
			return err
		}); err != nil || len(ids) == 0 {
			return total, err
		}
		for _, id := range ids {
			if err := blobs.Delete(ctx, id); err != nil {
				return total, fmt.Errorf("erase blob: %w", err)
			}
			if err := db.Update(ctx, func(tx *store.Tx) error { return tx.ForgetBlobGarbage(ctx, id) }); err != nil {
				return total, err
			}
			total++
		}
	}
}

// OutboxArgs turns the due notices of the outbox into notice jobs.
type OutboxArgs struct{}

// Kind names the job.
func (OutboxArgs) Kind() string { return "notice.outbox" }

// InsertOpts: at most one queued at a time.
func (OutboxArgs) InsertOpts() river.InsertOpts { return SweepArgs{}.InsertOpts() }

type outboxWorker struct {
	river.WorkerDefaults[OutboxArgs]
	db  *store.DB
	log *slog.Logger
}

func (w *outboxWorker) Work(ctx context.Context, job *river.Job[OutboxArgs]) error {
	_, err := FlushNotices(ctx, w.db, time.Now())
	return err
}

// noticeOf tells the kind of a queued notice by its key's prefix (record.NoticeKey).
func noticeOf(key string) string {
	if _, ok := space.CreatedNoticeVersion(key); ok {
		return space.NoticeCreated
	}
	switch {
	case strings.HasPrefix(key, "emergency-"):
		return space.NoticeEmergencyAccess
	case strings.HasPrefix(key, "first-"):
		return space.NoticeNewProfessional
	case strings.HasPrefix(key, emergency.NoticeKeyPrefix):
		return space.NoticeEmergencyCard
	case strings.HasPrefix(key, agenda.NoticeKeyPrefix):
		return space.NoticeAgendaReminder
	}
	return space.NoticeNewContent
}

// FlushNotices turns the notices due at now into notice jobs, one per patient whatever the
// number of documents, in the transaction that removes them from the outbox. It returns the
// number of notice jobs queued.
func FlushNotices(ctx context.Context, db *store.DB, now time.Time) (int, error) {
	total := 0
	for {
		n, more := 0, false
		err := db.Update(ctx, func(tx *store.Tx) error {
			n = 0
			due, err := tx.DueNotices(ctx, now, 500)
			if err != nil {
				return err
			}
			more = len(due) == 500
			type group struct {
				patient int64
				notice  string
			}
			seen := map[group]bool{}
			for _, d := range due {
				if _, ok := access.ParseAlertKey(d.Key); ok {
					// One alert job per key: each names its accessing professional and day.
					if err := tx.Enqueue(ctx, alert.Job{PatientID: d.PatientID, Key: d.Key}); err != nil {
						return err
					}
					if err := tx.DeleteNotice(ctx, d); err != nil {
						return err
					}
					n++
					continue
				}
				g := group{d.PatientID, noticeOf(d.Key)}
				if !seen[g] {
					seen[g] = true
					job := space.NoticeJob{PatientID: d.PatientID, Notice: g.notice, Key: d.Key}
					if v, ok := space.CreatedNoticeVersion(d.Key); ok {
						job.Version, job.Key = v, "" // as space.Create queues it
					}
					if err := tx.Enqueue(ctx, job); err != nil {
						return err
					}
				}
				if err := tx.DeleteNotice(ctx, d); err != nil {
					return err
				}
			}
			n += len(seen)
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if !more {
			return total, nil
		}
	}
}

// ReleaseArgs releases the documents whose announcement delay ended.
type ReleaseArgs struct{}

// Kind names the job.
func (ReleaseArgs) Kind() string { return "record.release" }

// InsertOpts: at most one queued at a time.
func (ReleaseArgs) InsertOpts() river.InsertOpts { return SweepArgs{}.InsertOpts() }

type releaseWorker struct {
	river.WorkerDefaults[ReleaseArgs]
	records Releaser
	log     *slog.Logger
}

func (w *releaseWorker) Timeout(*river.Job[ReleaseArgs]) time.Duration { return time.Hour }

func (w *releaseWorker) Work(ctx context.Context, job *river.Job[ReleaseArgs]) error {
	n, err := w.records.ReleaseAnnounced(ctx)
	if n > 0 {
		w.log.Info("documents released at the end of their announcement delay", "count", n)
	}
	return err
}
