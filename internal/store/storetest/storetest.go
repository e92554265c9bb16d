// Package storetest opens a real, migrated, empty store for a test: SQLite in a temporary
// directory, or PostgreSQL in a schema of its own, chosen by the environment so that the whole
// suite runs on both engines.
//
//	CARNET_TEST_DATABASE=sqlite   (default)
//	CARNET_TEST_DATABASE=postgres CARNET_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test
//
// With postgres selected, a database that cannot be reached fails the test: it never skips,
// so a CI run cannot pass by silently testing nothing.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/store"
)

// DefaultPostgresURL is the CI machine's database (trust authentication).
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Key is the trace key of test stores.
var Key = audit.Key([]byte("0123456789abcdef0123456789abcdef"))

// Dialect returns the engine the tests run on.
func Dialect() store.Dialect {
	if os.Getenv("CARNET_TEST_DATABASE") == "postgres" {
		return store.Postgres
	}
	return store.SQLite
}

// Target is a fresh database for one test: its dialect and DSN. The schema is dropped at the
// end of the test.
type Target struct {
	Dialect store.Dialect
	DSN     string
}

// NewTarget prepares an empty database (not opened, not migrated).
func NewTarget(tb testing.TB) Target {
	tb.Helper()
	if Dialect() == store.SQLite {
		return Target{Dialect: store.SQLite, DSN: filepath.Join(tb.TempDir(), "carnet.db")}
	}
	base := os.Getenv("CARNET_TEST_POSTGRES_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("storetest: postgres URL: %v", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatalf("storetest: PostgreSQL selected (CARNET_TEST_DATABASE=postgres) but unusable at %s: %v", redact(base), err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Logf("storetest: drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("storetest: postgres URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return Target{Dialect: store.Postgres, DSN: u.String()}
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Open opens the target's store, registers its closing with tb.
func (t Target) Open(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), t.Dialect, t.DSN, store.Options{TraceKey: Key})
	if err != nil {
		tb.Fatalf("storetest: open %s: %v", t.Dialect, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// New returns a migrated empty store.
func New(tb testing.TB) *store.DB {
	tb.Helper()
	db := NewTarget(tb).Open(tb)
	if _, err := db.Migrate(context.Background(), time.Now()); err != nil {
		tb.Fatalf("storetest: migrate: %v", err)
	}
	return db
}

// DisableAppendOnly drops the triggers that keep the trace log append-only, as an attacker
// with full rights on the database would, so that tests can tamper with traces and check that
// `audit verify` notices.
func DisableAppendOnly(tb testing.TB, db *store.DB) {
	tb.Helper()
	stmts := []string{`DROP TRIGGER traces_no_update`, `DROP TRIGGER traces_no_delete`, `DROP TRIGGER audit_chains_no_delete`}
	if db.Dialect() == store.Postgres {
		stmts = []string{`DROP TRIGGER traces_append_only ON traces`, `DROP TRIGGER audit_chains_no_delete ON audit_chains`}
	}
	for _, q := range stmts {
		if _, err := db.SQL().Exec(q); err != nil {
			tb.Fatalf("storetest: %s: %v", q, err)
		}
	}
}
