package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/store"
)

// AgendaRemindArgs queues the day-before reminders of the agenda's events (agenda.QueueReminders)
// in the notice outbox, which the outbox job sends at their hour.
type AgendaRemindArgs struct{}

// Kind names the job.
func (AgendaRemindArgs) Kind() string { return "agenda.remind" }

// InsertOpts: at most one queued at a time.
func (AgendaRemindArgs) InsertOpts() river.InsertOpts { return SweepArgs{}.InsertOpts() }

// agendaRemindInterval: hourly is enough for reminders due at a fixed hour of the day before,
// and a run missed (downtime) is caught up by the next.
const agendaRemindInterval = time.Hour

type agendaRemindWorker struct {
	river.WorkerDefaults[AgendaRemindArgs]
	db  *store.DB
	log *slog.Logger
}

// Timeout: a day's appointments across every space may take more than River's default minute;
// each batch is committed, so a run cut short loses nothing.
func (w *agendaRemindWorker) Timeout(*river.Job[AgendaRemindArgs]) time.Duration { return time.Hour }

func (w *agendaRemindWorker) Work(ctx context.Context, job *river.Job[AgendaRemindArgs]) error {
	n, err := agenda.QueueReminders(ctx, w.db.Reminders(), time.Now())
	if n > 0 {
		w.log.Info("agenda reminders queued", "patients", n)
	}
	return err
}

// addAgendaReminders registers the reminder job and its hourly schedule.
func addAgendaReminders(workers *river.Workers, db *store.DB, log *slog.Logger) *river.PeriodicJob {
	river.AddWorker(workers, &agendaRemindWorker{db: db, log: log})
	return river.NewPeriodicJob(river.PeriodicInterval(agendaRemindInterval),
		func() (river.JobArgs, *river.InsertOpts) { return AgendaRemindArgs{}, nil },
		&river.PeriodicJobOpts{ID: "agenda-remind", RunOnStart: true})
}
