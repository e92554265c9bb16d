package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// The agenda's queries: one event per source reference and patient, the timeline by period,
// references found whoever's, links moved to a new version.
func TestAgendaEvents(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	var pids []int64
	for _, m := range []string{"279035121518989", "184122A12345697"} {
		p := space.Patient{INS: identity.INS{Matricule: m, System: identity.OIDNIR}, BirthName: "X", GivenNames: "Y",
			BirthDate: t0, Sex: space.Female, CreatedAt: t0}
		if err := db.Update(ctx, func(tx *store.Tx) error { return tx.InsertPatient(ctx, &p) }); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p.ID)
	}
	ev := func(pid int64, ref string, start, end time.Time, doc string) *agenda.Event {
		return &agenda.Event{PatientID: pid, Kind: agenda.KindReimbursement, Start: start, End: end, Title: "t " + ref,
			Class: "60", Type: "REMB", Source: agenda.SourceReimbursement, SourceRef: ref, Document: doc,
			CreatedBy: audit.Actor{Kind: audit.ActorOperator, ID: "cli:ops", Name: "ops"}, CreatedAt: t0}
	}
	a, b := pids[0], pids[1]
	inserts := []struct {
		e       *agenda.Event
		created bool
	}{
		{ev(a, "R1", t0.AddDate(0, 0, 2), time.Time{}, "doc-1"), true},
		{ev(a, "R2", t0.AddDate(0, 0, 5), t0.AddDate(0, 0, 9), "doc-1"), true},
		{ev(a, "R3", t0.AddDate(0, 1, 0), time.Time{}, "doc-2"), true},
		{ev(a, "R1", t0.AddDate(0, 0, 7), time.Time{}, "doc-9"), false}, // the same reference: kept as it was
		{ev(b, "R1", t0, time.Time{}, ""), true},                        // another patient's
	}
	err := db.Update(ctx, func(tx *store.Tx) error {
		for i, in := range inserts {
			created, err := tx.InsertAgendaEvent(ctx, in.e)
			if err != nil || created != in.created || created != (in.e.ID > 0) {
				t.Errorf("insert %d: created %v id %d %v", i, created, in.e.ID, err)
			}
		}
		return tx.RelinkAgendaEvents(ctx, a, "doc-1", "doc-3")
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(ctx, func(tx *store.Tx) error {
		evs, err := tx.AgendaEvents(ctx, a, t0.AddDate(0, 0, 6), t0.AddDate(0, 1, 1), 10)
		if err != nil || len(evs) != 2 || evs[0].SourceRef != "R2" || evs[1].SourceRef != "R3" ||
			!evs[0].End.Equal(t0.AddDate(0, 0, 9)) || evs[0].Document != "doc-3" || evs[1].Document != "doc-2" {
			t.Errorf("timeline: %+v %v", evs, err)
		}
		if evs, err := tx.AgendaEvents(ctx, a, time.Time{}, time.Time{}, 1); err != nil || len(evs) != 1 || evs[0].SourceRef != "R1" ||
			!evs[0].Start.Equal(t0.AddDate(0, 0, 2)) {
			t.Errorf("limit: %+v %v", evs, err)
		}
		evs, err = tx.AgendaEventsByRef(ctx, agenda.SourceReimbursement, []string{"R1", "R9"})
		if err != nil || len(evs) != 2 || evs[0].PatientID == evs[1].PatientID {
			t.Errorf("by reference: %+v %v", evs, err)
		}
		evs, err = tx.AgendaSourceEvents(ctx, a, agenda.SourceReimbursement, t0, t0.AddDate(0, 1, 0))
		if err != nil || len(evs) != 2 || evs[0].SourceRef != "R1" || evs[0].CreatedBy.Name != "ops" {
			t.Errorf("the month's: %+v %v", evs, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
