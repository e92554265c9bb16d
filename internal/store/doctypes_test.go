package store_test

import (
	"context"
	"testing"

	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// The document types table holds exactly the embedded table, however often it is synced.
func TestSyncDocumentTypes(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	cat, err := terminology.Default()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := db.Update(ctx, func(tx *store.Tx) error { return tx.SyncDocumentTypes(ctx, cat.Types()) }); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	var class, space string
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM document_types`).Scan(&n); err != nil || n != len(cat.Types()) {
		t.Fatalf("%d types stored (%v), want %d", n, err, len(cat.Types()))
	}
	if err := db.SQL().QueryRow(`SELECT class_code, space FROM document_types WHERE code = '60591-5'`).Scan(&class, &space); err != nil ||
		class != "11" || space != string(terminology.SpaceProfile) {
		t.Errorf("60591-5: class %q space %q (%v)", class, space, err)
	}
}
