package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

//go:embed migrations
var migrationFS embed.FS

// Migration is one numbered schema step of a dialect.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations of the dialect, in order.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations of %s: %w", d, err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must be NNNN_description.sql", dir, name)
		}
		body, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations of %s: expected version %d, found %s", d, i+1, m.Name)
		}
	}
	return ms, nil
}

// SchemaVersion is where a database stands against this binary.
type SchemaVersion struct {
	Current int // last applied migration, 0 for a new database
	Latest  int // last migration this binary knows
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  BIGINT NOT NULL
)`

// SchemaVersion reads the applied version.
func (db *DB) SchemaVersion(ctx context.Context) (SchemaVersion, error) {
	ms, err := Migrations(db.dialect)
	if err != nil {
		return SchemaVersion{}, err
	}
	v := SchemaVersion{Latest: len(ms)}
	exists, err := db.tableExists(ctx, "schema_migrations")
	if err != nil || !exists {
		return v, err
	}
	if err := db.write.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v.Current); err != nil {
		return v, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func (db *DB) tableExists(ctx context.Context, name string) (bool, error) {
	var q string
	switch db.dialect {
	case SQLite:
		q = `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1`
	default:
		// to_regclass resolves through search_path, so a test schema sees only its own tables.
		q = `SELECT COUNT(*) FROM (SELECT to_regclass($1) AS t) x WHERE t IS NOT NULL`
	}
	var n int
	if err := db.write.QueryRowContext(ctx, q, name).Scan(&n); err != nil {
		return false, fmt.Errorf("look for table %s: %w", name, err)
	}
	return n > 0, nil
}

// Migrate applies every pending migration, each in its own transaction, and returns the
// versions applied.
func (db *DB) Migrate(ctx context.Context, now time.Time) ([]Migration, error) {
	ms, err := Migrations(db.dialect)
	if err != nil {
		return nil, err
	}
	if _, err := db.write.ExecContext(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied []Migration
	for _, m := range ms {
		done, err := db.applyOne(ctx, m, now)
		if err != nil {
			return applied, err
		}
		if done {
			applied = append(applied, m)
		}
	}
	return applied, nil
}

// applyOne applies m unless it is already recorded. The check and the apply share one
// transaction, so two processes migrating at once cannot both apply it (SQLite: the
// immediate write lock; PostgreSQL: the primary key of schema_migrations).
func (db *DB) applyOne(ctx context.Context, m Migration, now time.Time) (applied bool, err error) {
	err = db.Update(ctx, func(tx *Tx) error {
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		// Several statements in one: run as is, never through the prepared-statement cache.
		if _, err := tx.tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.Version, m.Name, micros(now)); err != nil {
			return fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		applied = true
		return nil
	})
	return applied, err
}

// CheckSchema refuses a database whose schema is behind or ahead of this binary.
func (db *DB) CheckSchema(ctx context.Context) error {
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	switch {
	case v.Current < v.Latest:
		return errs.E(errs.Unavailable, "the database schema is at version %d but this carnet needs version %d: run `carnet migrate` (with the same database settings) and start again", v.Current, v.Latest)
	case v.Current > v.Latest:
		return errs.E(errs.Unavailable, "the database schema is at version %d, newer than this carnet knows (%d): run a newer carnet", v.Current, v.Latest)
	}
	return nil
}
