package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// Concurrent writers: each one's work commits or rolls back alone, whatever the others do,
// whether the store groups them in one transaction (SQLite) or not (PostgreSQL).
func TestConcurrentUpdatesAreIndependent(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	const writers = 64
	var wg sync.WaitGroup
	errsOut := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errsOut[i] = db.Update(ctx, func(tx *store.Tx) error {
				if err := tx.QueueNotice(ctx, 0, fmt.Sprint("k", i), t0, t0); err == nil {
					return errors.New("a notice for no patient was accepted") // patient 0 does not exist
				}
				return errs.E(errs.Conflict, "writer %d fails", i)
			})
		}()
	}
	wg.Wait()
	for i, err := range errsOut {
		if !errs.Is(err, errs.Conflict) {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	// Half fail after writing, half succeed: only the successful rows remain.
	ids := make([]int64, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errsOut[i] = db.Update(ctx, func(tx *store.Tx) error {
				id, err := tx.InsertTestOrganisation(ctx, fmt.Sprintf("group commit %d", i))
				if err != nil {
					return err
				}
				ids[i] = id
				if i%2 == 1 {
					return errs.E(errs.Invalid, "odd writer %d rolls back", i)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	var n int
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM organisations WHERE name LIKE 'group commit %'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != writers/2 {
		t.Errorf("%d organisations committed, want %d", n, writers/2)
	}
	for i, err := range errsOut {
		if (i%2 == 1) != errs.Is(err, errs.Invalid) || (i%2 == 0 && err != nil) {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	// A panic reaches the caller and leaves the store usable.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic was swallowed")
			}
		}()
		_ = db.Update(ctx, func(tx *store.Tx) error { panic("boom") })
	}()
	if err := db.Update(ctx, func(tx *store.Tx) error { return nil }); err != nil {
		t.Fatalf("after a panic: %v", err)
	}
	db.Close()
	if err := db.Update(ctx, func(tx *store.Tx) error { return nil }); err == nil {
		t.Error("Update after Close succeeded")
	}
}
