package jobs_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// An agenda reminder queued in the outbox becomes a notice job of its own kind, which the
// notice worker sends as the day-before reminder (space.NoticeAgendaReminder).
func TestAgendaReminderBecomesItsNotice(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	if _, err := jobs.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	svc := newSpaces(t, db, clock.NewFake(t0), &sender{})
	q, err := jobs.New(db, jobs.Config{}, jobs.Deps{}) // insert-only: the jobs stay queued to be read
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.Create(ctx, space.By{Actor: audit.System("test"), Channel: audit.ChannelCLI}, space.NewSpace{Patient: marie(t, "marie@example.fr")})
	if err != nil {
		t.Fatal(err)
	}
	key := agenda.NoticeKeyPrefix + "2026-01-06"
	if err := db.Update(ctx, func(tx *store.Tx) error { return tx.QueueNotice(ctx, c.Patient.ID, key, t0, t0) }); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.FlushNotices(ctx, db, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	res, err := q.Client().JobList(ctx, river.NewJobListParams().Kinds(space.NoticeJob{}.Kind()))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, j := range res.Jobs {
		var a space.NoticeJob
		if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
			t.Fatal(err)
		}
		if a.Key == key {
			found = a.Notice == space.NoticeAgendaReminder && a.PatientID == c.Patient.ID
		}
	}
	if !found {
		t.Fatalf("no agenda reminder notice among %d jobs", len(res.Jobs))
	}
}
