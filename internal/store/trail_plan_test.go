package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
	"github.com/carnet-sante/carnet/internal/trail"
)

// The trail's indexes hold only the traces naming a patient (migration 0027): every query of
// the trail must still be planned on them, never as a scan of the trace log, on both engines.
func TestTrailQueriesUseTheTrailIndexes(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		q    trail.Query
	}{
		{"newest first", trail.Query{PatientID: 7, Limit: 50}},
		{"from a cursor", trail.Query{PatientID: 7, Before: 1000, Limit: 50}},
		{"one professional", trail.Query{PatientID: 7, ActorID: "810001234567", Limit: 50}},
		{"first accesses", trail.Query{PatientID: 7, FirstAccess: true, Limit: 50}},
		{"by action", trail.Query{PatientID: 7, Actions: []string{"document."}, Limit: 50}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var plans []string
			err := db.Update(ctx, func(tx *store.Tx) error {
				var err error
				plans, err = tx.TrailPlansForTest(ctx, c.q, 7, []string{"810001234567", "810009876543"})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, plan := range plans {
				if !strings.Contains(plan, "traces_by_patient_") {
					t.Errorf("query %d is not planned on a trail index:\n%s", i, plan)
				}
				for _, line := range strings.Split(plan, "\n") {
					if strings.Contains(line, "Seq Scan") || (strings.HasPrefix(strings.TrimSpace(line), "SCAN ") && !strings.Contains(line, "CONSTANT ROW")) {
						t.Errorf("query %d scans:\n%s", i, plan)
					}
				}
			}
		})
	}
}
