package agenda_test

import (
	"context"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

func TestTomorrowOf(t *testing.T) {
	// 2026-03-28 23:30 UTC is already the 29th in Paris (UTC+1 until the 29th at 2:00).
	from, to, due := agenda.TomorrowOf(time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC))
	if from.Format(time.RFC3339) != "2026-03-30T00:00:00+02:00" || to.Format(time.RFC3339) != "2026-03-31T00:00:00+02:00" ||
		due.Format(time.RFC3339) != "2026-03-29T17:00:00+02:00" {
		t.Fatalf("%s %s %s", from, to, due)
	}
}

func TestQueueReminders(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	now := e.Clock.Now()
	from, _, due := agenda.TomorrowOf(now)
	me := holder(e.pid)
	// Another patient who opted out, and a third whose only appointment tomorrow is cancelled.
	out := e.Patient(t, recordtest.TestINS(t, 2))
	cancelledOnly := e.Patient(t, recordtest.TestINS(t, 3))
	if _, err := e.agenda.AddPersonal(ctx, me, e.pid, agenda.Personal{Title: "Prise de sang", Start: from.Add(8 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.agenda.AddPersonal(ctx, me, e.pid, agenda.Personal{Title: "Kiné", Start: from.Add(15 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// An event the day after tomorrow calls for nothing yet.
	if _, err := e.agenda.AddPersonal(ctx, holder(out), out, agenda.Personal{Title: "x", Start: from.Add(9 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := e.agenda.SetReminders(ctx, holder(out), out, false); err != nil {
		t.Fatal(err)
	}
	doctor := pro(recordtest.RPPS(t, 1), "G15_10")
	if _, _, err := e.agenda.FileAppointment(ctx, doctor, cancelledOnly, agenda.Appointment{Status: agenda.StatusCancelled,
		Start: from.Add(10 * time.Hour), Description: "Consultation"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.agenda.AddPersonal(ctx, holder(cancelledOnly), cancelledOnly, agenda.Personal{Title: "plus tard",
		Start: from.AddDate(0, 0, 1).Add(10 * time.Hour)}); err != nil {
		t.Fatal(err)
	}

	n, err := agenda.QueueReminders(ctx, e.DB.Reminders(), now)
	if err != nil || n != 1 {
		t.Fatalf("queued %d: %v", n, err)
	}
	type row struct {
		pid       int64
		key       string
		notBefore int64
	}
	read := func() []row {
		rows, err := e.DB.SQL().Query(`SELECT patient_id, notice_key, not_before FROM notice_outbox WHERE notice_key LIKE 'agenda-%' ORDER BY patient_id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.pid, &r.key, &r.notBefore); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	got := read()
	wantAt := due
	if wantAt.Before(now) {
		wantAt = now
	}
	if len(got) != 1 || got[0].pid != e.pid || got[0].key != "agenda-"+from.Format(time.DateOnly) || got[0].notBefore != wantAt.UnixMicro() {
		t.Fatalf("outbox: %+v (want patient %d, key agenda-%s, at %d)", got, e.pid, from.Format(time.DateOnly), wantAt.UnixMicro())
	}
	// Run again, after the outbox sent it (deleted): nothing new.
	if _, err := e.DB.SQL().Exec(`DELETE FROM notice_outbox`); err != nil {
		t.Fatal(err)
	}
	if n, err := agenda.QueueReminders(ctx, e.DB.Reminders(), now.Add(time.Hour)); err != nil || n != 0 || len(read()) != 0 {
		t.Fatalf("run again: %d %v", n, err)
	}
	// The next day, the later event is reminded.
	if n, err := agenda.QueueReminders(ctx, e.DB.Reminders(), now.Add(24*time.Hour)); err != nil || n != 1 || read()[0].pid != cancelledOnly {
		t.Fatalf("the next day: %d %v %+v", n, err, read())
	}
}
