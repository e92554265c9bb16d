package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

func TestMigrateAndSchemaCheck(t *testing.T) {
	ctx := context.Background()
	target := storetest.NewTarget(t)
	db := target.Open(t)
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.Current != 0 || v.Latest < 1 {
		t.Fatalf("new database: %+v", v)
	}
	err = db.CheckSchema(ctx)
	if !errs.Is(err, errs.Unavailable) || !strings.Contains(err.Error(), "carnet migrate") {
		t.Fatalf("CheckSchema on a new database = %v, want a message saying to run carnet migrate", err)
	}
	applied, err := db.Migrate(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != v.Latest {
		t.Fatalf("applied %d migrations, want %d", len(applied), v.Latest)
	}
	if err := db.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after migrate: %v", err)
	}
	// Migrating again does nothing.
	if again, err := db.Migrate(ctx, time.Now()); err != nil || len(again) != 0 {
		t.Fatalf("second migrate: %v applied, err %v", len(again), err)
	}
	// A database behind the binary is refused: simulate by forgetting the last migration.
	if _, err := db.SQL().Exec(`DELETE FROM schema_migrations WHERE version = $1`, v.Latest); err != nil {
		t.Fatal(err)
	}
	if err := db.CheckSchema(ctx); err == nil || !strings.Contains(err.Error(), "run `carnet migrate`") {
		t.Fatalf("behind: %v", err)
	}
	// A database ahead of the binary is refused too.
	if _, err := db.SQL().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'x', 0), ($2, 'future', 0)`, v.Latest, v.Latest+1); err != nil {
		t.Fatal(err)
	}
	if err := db.CheckSchema(ctx); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("ahead: %v", err)
	}
}

func TestDialectAsSelected(t *testing.T) {
	db := storetest.New(t)
	if db.Dialect() != storetest.Dialect() {
		t.Fatalf("opened %s, selected %s", db.Dialect(), storetest.Dialect())
	}
	t.Logf("store tests run on %s", db.Dialect())
}
