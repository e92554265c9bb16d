package agenda

import (
	"context"
	"encoding/json"
	"time"
)

// The e-mail reminders of upcoming events: the day before an appointment or a personal event,
// the patient gets a notice that says only "you have an appointment tomorrow, see your agenda"
// (space.NoticeAgendaReminder), unless they opted out on the subscription page. A periodic job
// (internal/jobs) calls QueueReminders: it queues one notice per patient and day in the notice
// outbox, due at RemindHour (Paris) the day before, and records the day in agenda_settings so
// that however often it runs, a day is reminded once. The outbox job then sends it through
// space.SendNotice, which traces the sending and finds the addresses.

// NoticeKeyPrefix starts the outbox key of a reminder: "agenda-2026-04-02" for the events of
// that day (internal/jobs maps it to space.NoticeAgendaReminder).
const NoticeKeyPrefix = "agenda-"

// RemindHour is the hour (Paris time) the reminder of the next day's events is sent at.
const RemindHour = 17

// Due is an event that may call for a reminder: its patient, kind and payload.
type Due struct {
	PatientID int64
	Kind      Kind
	Payload   []byte
}

// ReminderTx is what QueueReminders needs of a store transaction.
type ReminderTx interface {
	// AgendaRemindersDue returns up to limit events of kind appointment or personal starting in
	// [from, to), of patients who did not opt out and were not reminded of the day to.
	AgendaRemindersDue(ctx context.Context, from, to time.Time, limit int) ([]Due, error)
	// MarkAgendaReminded records that the patient was reminded of the days up to until.
	MarkAgendaReminded(ctx context.Context, patientID int64, until time.Time) error
	QueueNotice(ctx context.Context, patientID int64, key string, notBefore, now time.Time) error
}

// ReminderStore opens the transactions of QueueReminders.
type ReminderStore interface {
	UpdateReminders(ctx context.Context, fn func(ReminderTx) error) error
}

var paris = func() *time.Location {
	l, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return l
}()

// TomorrowOf is the day after now's in Paris: [from, to), and when its reminder is due.
func TomorrowOf(now time.Time) (from, to, due time.Time) {
	p := now.In(paris)
	from = time.Date(p.Year(), p.Month(), p.Day()+1, 0, 0, 0, 0, paris)
	to = time.Date(p.Year(), p.Month(), p.Day()+2, 0, 0, 0, 0, paris)
	due = time.Date(p.Year(), p.Month(), p.Day(), RemindHour, 0, 0, 0, paris)
	return from, to, due
}

// reminderBatch bounds one transaction of QueueReminders.
const reminderBatch = 500

// QueueReminders queues the reminders of tomorrow's events (Paris) and returns how many
// patients it queued. A cancelled appointment calls for none.
func QueueReminders(ctx context.Context, st ReminderStore, now time.Time) (int, error) {
	from, to, due := TomorrowOf(now)
	if due.Before(now) {
		due = now
	}
	key := NoticeKeyPrefix + from.Format(time.DateOnly)
	total := 0
	for {
		n := 0
		more := false
		err := st.UpdateReminders(ctx, func(tx ReminderTx) error {
			n = 0
			evs, err := tx.AgendaRemindersDue(ctx, from, to, reminderBatch)
			if err != nil {
				return err
			}
			more = len(evs) == reminderBatch
			if more && evs[0].PatientID != evs[len(evs)-1].PatientID {
				// The batch may cut the last patient's events: they come whole in the next one.
				last := evs[len(evs)-1].PatientID
				for len(evs) > 0 && evs[len(evs)-1].PatientID == last {
					evs = evs[:len(evs)-1]
				}
			}
			wanted := map[int64]bool{}
			var order []int64
			for _, e := range evs {
				if _, seen := wanted[e.PatientID]; !seen {
					wanted[e.PatientID] = false
					order = append(order, e.PatientID)
				}
				if e.Kind == KindAppointment && cancelled(e.Payload) {
					continue
				}
				wanted[e.PatientID] = true
			}
			for _, pid := range order {
				if wanted[pid] {
					if err := tx.QueueNotice(ctx, pid, key, due, now); err != nil {
						return err
					}
					n++
				}
				// Marked either way: a patient whose only event is cancelled is not read again.
				if err := tx.MarkAgendaReminded(ctx, pid, to); err != nil {
					return err
				}
			}
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

func cancelled(payload []byte) bool {
	var a struct {
		Status string `json:"status"`
	}
	return json.Unmarshal(payload, &a) == nil && a.Status == StatusCancelled
}
