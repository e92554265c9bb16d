package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/operations"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// The figures count what is there; the queues count jobs by kind and state and find the
// oldest waiting one, on both databases (River's timestamps read back as times).
func TestOperationsFigures(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	if _, err := jobs.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.New(db, jobs.Config{}, jobs.Deps{}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var ids []int64
	for i := range 3 {
		ids = append(ids, insertPatient(t, db, i+1))
	}
	first := ids[0]
	if err := db.Update(ctx, func(tx *store.Tx) error {
		if _, err := tx.InsertTestOrganisation(ctx, "clinique"); err != nil {
			return err
		}
		for i, id := range ids {
			sp := space.New(id, now, space.DefaultPolicy())
			if i == 0 {
				sp.State = space.Open
			}
			if err := tx.InsertSpace(ctx, sp, ""); err != nil {
				return err
			}
		}
		if err := tx.Enqueue(ctx, jobs.OutboxArgs{}); err != nil {
			return err
		}
		return tx.QueueNotice(ctx, first, "doc-x", now.Add(-time.Minute), now)
	}); err != nil {
		t.Fatal(err)
	}
	ops := operations.NewService(db.Operations(), fixedClock{now})
	f, err := ops.Figures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.Estimated || f.Spaces["pending"] != 2 || f.Spaces["open"] != 1 || f.Organisations != 1 || f.Documents != 0 || f.Traces < 0 || !f.AllowlistImported.IsZero() {
		t.Errorf("figures: %+v", f)
	}
	q, err := ops.Queues(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var outbox int64
	for _, j := range q.Jobs {
		if j.Kind == (jobs.OutboxArgs{}).Kind() && j.State == "available" {
			outbox = j.Count
		}
	}
	if outbox < 1 || q.NoticesDue != 1 || q.OutboundQueued != 0 {
		t.Errorf("queues: %+v", q)
	}
	if q.OldestAvailable.IsZero() || q.OldestAvailable.After(time.Now().Add(time.Minute)) || q.OldestAvailable.Before(time.Now().Add(-time.Hour)) {
		t.Errorf("oldest available job at %v, want about now", q.OldestAvailable)
	}
	if r, d := q.Failing(); r != 0 || d != 0 {
		t.Errorf("failing %d %d", r, d)
	}
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func TestPgArray(t *testing.T) {
	for in, want := range map[string][]string{"{}": nil, "{open,pending}": {"open", "pending"}, `{"a b",0.25}`: {"a b", "0.25"}} {
		if got := store.PgArray(in); !slices.Equal(got, want) {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
