package space_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
)

// Two opt-out batches at once, each opening hundreds of trace chains (and so writing to the
// anchor chains in its own order), both succeed: on PostgreSQL they used to deadlock. (On a
// brand-new database, while its 16 anchor chains are being created, they still can: a run of
// the import then stops with the error and resumes from its checkpoint.)
func TestConcurrentBatchesDoNotDeadlock(t *testing.T) {
	e := newEnv(t)
	batch := func(first int) []space.NewSpace {
		rows := make([]space.NewSpace, 200)
		for i := range rows {
			nir13 := fmt.Sprintf("1850575%06d", first+i)
			n, _ := strconv.ParseInt(nir13, 10, 64)
			ins, err := identity.NewINS(fmt.Sprintf("%s%02d", nir13, 97-n%97), identity.OIDNIR)
			if err != nil {
				t.Fatal(err)
			}
			rows[i] = space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "MARTIN", GivenNames: "Jean",
				BirthDate: time.Date(1985, 5, 1, 0, 0, 0, 0, time.UTC), Sex: space.Male, Email: fmt.Sprintf("p%d@example.fr", first+i)}}
		}
		return rows
	}
	// A database in use has its anchor chains.
	if _, err := e.svc.CreateBatch(context.Background(), operator, batch(5000), nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for b := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[b] = e.svc.CreateBatch(context.Background(), operator, batch(b*1000), nil)
		}()
	}
	wg.Wait()
	for b, err := range errs {
		if err != nil {
			t.Errorf("batch %d: %v", b, err)
		}
	}
}
