package relay

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
)

// The mail queue also works the inspections of messages delivered to patients
// (mail.InspectJob): they are queued by the same transactions as the outbound deliveries, and
// need the mail service this queue starts with.

// inspectArgs makes mail.InspectJob a River job on the mail queue, unique while it waits or
// runs: a delivery is inspected once, however it was queued.
type inspectArgs struct{ mail.InspectJob }

func (inspectArgs) Kind() string { return mail.InspectJob{}.Kind() }

type inspectWorker struct {
	river.WorkerDefaults[inspectArgs]
	q *Queue
}

// Timeout: reading a message of up to the size limit and filing what it carries.
func (w *inspectWorker) Timeout(*river.Job[inspectArgs]) time.Duration { return 5 * time.Minute }

// NextRetry: a capability unreachable now is likely back within minutes.
func (w *inspectWorker) NextRetry(job *river.Job[inspectArgs]) time.Time {
	b := w.q.cfg.Backoff
	return time.Now().Add(b[min(max(job.Attempt-1, 0), len(b)-1)])
}

func (w *inspectWorker) Work(ctx context.Context, job *river.Job[inspectArgs]) error {
	q := w.q
	if q.svc == nil {
		return errs.E(errs.Unavailable, "mail queue not started")
	}
	findings, err := q.svc.Inspect(ctx, job.Args.InspectJob)
	for _, f := range findings {
		// The inspector's name and outcome only: the finding's label may describe the content.
		q.log.Info("message inspected", "message", job.Args.MessageID, "inspector", f.Inspector,
			"processed", f.Processed, "refused", f.Failure != "")
	}
	if errs.Is(err, errs.Invalid) {
		// The message cannot be taken apart (too many parts, nested too deep): no retry reads
		// it better.
		q.log.Warn("message not inspected: unreadable", "message", job.Args.MessageID)
		return river.JobCancel(err)
	}
	if err != nil {
		q.log.Warn("message inspection failed", "message", job.Args.MessageID, "attempt", job.Attempt, "code", errs.CodeOf(err))
	}
	return err
}
