package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/carnet-sante/carnet/internal/mail"
)

// MailRetentionArgs runs the mailbox inactivity rule (mail.Retention.Sweep): warnings of
// mailboxes unused for nearly a year, deletion of those still unused a month later.
type MailRetentionArgs struct{}

// Kind names the job.
func (MailRetentionArgs) Kind() string { return "mail.retention" }

// InsertOpts: at most one queued at a time.
func (MailRetentionArgs) InsertOpts() river.InsertOpts { return SweepArgs{}.InsertOpts() }

// MailRetention runs the rule (mail.Retention).
type MailRetention interface {
	Sweep(ctx context.Context) (mail.RetentionReport, error)
}

// mailRetentionInterval: the rule counts in days; a run every six hours keeps a warning or a
// deletion within hours of its date, and a run missed (downtime) is caught up by the next.
const mailRetentionInterval = 6 * time.Hour

type mailRetentionWorker struct {
	river.WorkerDefaults[MailRetentionArgs]
	rule MailRetention
	log  *slog.Logger
}

// Timeout: a run handles a batch of each kind, each mailbox in its own transaction.
func (w *mailRetentionWorker) Timeout(*river.Job[MailRetentionArgs]) time.Duration { return time.Hour }

func (w *mailRetentionWorker) Work(ctx context.Context, job *river.Job[MailRetentionArgs]) error {
	rep, err := w.rule.Sweep(ctx)
	if rep.Warned+rep.Deleted+rep.Failed > 0 {
		w.log.Info("mailbox inactivity", "warned", rep.Warned, "deleted", rep.Deleted, "failed", rep.Failed)
	}
	return err
}

// addMailRetention registers the rule's job and its schedule.
func addMailRetention(workers *river.Workers, rule MailRetention, log *slog.Logger) *river.PeriodicJob {
	river.AddWorker(workers, &mailRetentionWorker{rule: rule, log: log})
	return river.NewPeriodicJob(river.PeriodicInterval(mailRetentionInterval),
		func() (river.JobArgs, *river.InsertOpts) { return MailRetentionArgs{}, nil },
		&river.PeriodicJobOpts{ID: "mail-retention", RunOnStart: true})
}
