// Package store is carnet's one SQL store, shared by every capability, on SQLite (the embedded
// default, pure Go) and on PostgreSQL. Queries are written once with $N placeholders, which
// both engines accept; what differs between the dialects (connection set-up, DDL, locking)
// is isolated here and in the per-dialect migration folders.
//
// Domain packages declare the small interfaces they need; *Tx implements them. Every write of
// patient data happens inside Update, so that the trace of the action (see AppendTrace) and
// the jobs it queues commit or roll back with it.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"modernc.org/sqlite"               // database/sql driver "sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names a supported SQL engine.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// JobInserter queues background jobs inside the caller's transaction, so that a job exists if
// and only if the transaction commits. The jobs package provides it (River's InsertManyTx).
type JobInserter interface {
	InsertManyTx(ctx context.Context, tx *sql.Tx, jobs []Job) error
}

// Job is what a domain asks to run later: a kind and JSON-serialisable arguments. An alias of
// the bare interface, so that domain packages can name the same type without importing this one.
type Job = interface{ Kind() string }

// Options tune Open.
type Options struct {
	// Readers is the size of the SQLite reader pool (default: 2 × CPUs). PostgreSQL uses one
	// pool for both.
	Readers int
	// MaxConns bounds the PostgreSQL pool (default 16).
	MaxConns int
	// TraceKey seals the trace log's chains (audit.DeriveKey of the master key).
	TraceKey audit.Key
}

// DB is the store.
type DB struct {
	dialect Dialect
	write   *sql.DB // SQLite: exactly one connection, the one writer
	read    *sql.DB // SQLite: a pool of query_only connections; PostgreSQL: same as write
	jobs    JobInserter
	key     audit.Key
	entries entryCache // documents by entryUUID (records.go)
	mailHub mail.Hub   // signals mail deliveries to IMAP sessions (mail_folders.go)
	// SQLite: Update's work goes to the committer (groupcommit.go).
	writes    chan *commitReq
	closing   chan struct{}
	closeOnce sync.Once
	stopped   chan struct{}
}

// Open connects to the database named by dialect and dsn (a file path for SQLite, a URL for
// PostgreSQL). It does not migrate: see Migrate and CheckSchema.
func Open(ctx context.Context, dialect Dialect, dsn string, opt Options) (*DB, error) {
	if len(opt.TraceKey) < 32 {
		return nil, errs.E(errs.Invalid, "store: a trace key of 32 bytes is required")
	}
	var db *DB
	var err error
	switch dialect {
	case SQLite:
		db, err = openSQLite(ctx, dsn, opt)
	case Postgres:
		db, err = openPostgres(ctx, dsn, opt)
	default:
		return nil, errs.E(errs.Invalid, "unknown database dialect %q (want sqlite or postgres)", dialect)
	}
	if err != nil {
		return nil, err
	}
	db.key = opt.TraceKey
	return db, nil
}

func openSQLite(ctx context.Context, path string, opt Options) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	// busy_timeout comes first so that every later pragma already waits instead of failing
	// on a lock. synchronous=FULL: an acknowledged write survives power loss (DESIGN
	// invariant 1); NORMAL would only survive a process crash.
	// mmap_size: reads map the file instead of a pread per page; every write invalidates the
	// other connections' page caches (searches write their trace), so without it each search
	// read its pages again through syscalls.
	pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=mmap_size(268435456)"
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + pragmas
	// _txlock=immediate takes the write lock at BEGIN, so two processes (the server and a CLI
	// command) never deadlock upgrading read locks.
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, errs.Wrap(errs.Unavailable, err, "open sqlite database %s", path)
	}
	readers := opt.Readers
	if readers <= 0 {
		readers = 2 * runtime.NumCPU()
	}
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite readers %s: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	db := &DB{dialect: SQLite, write: w, read: r}
	db.startCommitter()
	return db, nil
}

func openPostgres(ctx context.Context, dsn string, opt Options) (*DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "postgres database URL")
	}
	max := opt.MaxConns
	if max <= 0 {
		max = 16
	}
	db.SetMaxOpenConns(max)
	db.SetMaxIdleConns(max)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, errs.Wrap(errs.Unavailable, err, "connect to postgres")
	}
	return &DB{dialect: Postgres, write: db, read: db}, nil
}

// Dialect reports the engine in use.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQL returns the connection pool that writes, for the job queue which needs the raw pool.
func (db *DB) SQL() *sql.DB { return db.write }

// SetJobInserter connects the job queue, once at wiring time, before any Update that queues a
// job (jobs.New does it).
func (db *DB) SetJobInserter(j JobInserter) { db.jobs = j }

// Ping checks that the database answers (readiness).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return errs.Wrap(errs.Unavailable, err, "database unreachable")
	}
	return nil
}

// Close closes every connection.
func (db *DB) Close() error {
	if db.writes != nil {
		db.stopCommitter()
	}
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Tx is one transaction. Its methods are the store's queries.
type Tx struct {
	db    *DB
	tx    *sql.Tx
	stmts map[string]*sql.Stmt // SQLite: statements prepared in this transaction
	// readOnly: a View. Only what a View reads is committed for sure, so only it fills caches.
	readOnly bool
	jobs     []Job     // queued by Enqueue, inserted before the commit
	conn     *sql.Conn // the transaction's connection, when it was begun on one (bulk writes: COPY)
}

// Update runs fn in a write transaction, committed if fn returns nil. fn must not call
// Update itself: on SQLite the one writer connection is already taken, and the nested call
// would wait for it forever. (View inside Update is fine: readers have their own pool.)
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	if db.writes != nil {
		return db.updateGrouped(ctx, fn)
	}
	return db.run(ctx, db.write, false, fn)
}

// View runs fn in a read-only transaction (a consistent snapshot).
func (db *DB) View(ctx context.Context, fn func(*Tx) error) error {
	return db.run(ctx, db.read, true, fn)
}

// beginner begins transactions: a pool (*sql.DB), or one connection of it (*sql.Conn).
type beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

func (db *DB) run(ctx context.Context, pool beginner, readOnly bool, fn func(*Tx) error) (err error) {
	var opts *sql.TxOptions // SQLite: a transaction is a snapshot; the reader pool is query_only
	if db.dialect == Postgres && readOnly {
		// One snapshot for the whole read, as SQLite gives: READ COMMITTED would let two
		// queries of one View see two different states.
		opts = &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	}
	sqlTx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "begin transaction")
	}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	tx := &Tx{db: db, tx: sqlTx, readOnly: readOnly}
	tx.conn, _ = pool.(*sql.Conn)
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.flushJobs(ctx); err != nil {
		return err
	}
	if err = sqlTx.Commit(); err != nil {
		return errs.Wrap(errs.Unavailable, err, "commit transaction")
	}
	return nil
}

// Enqueue queues job to run after this transaction commits. The jobs of a transaction are
// inserted together just before the commit: one statement for a whole batch on PostgreSQL,
// where each round trip counts.
func (tx *Tx) Enqueue(ctx context.Context, job Job) error {
	if tx.db.jobs == nil {
		return errs.E(errs.Internal, "no job queue connected to the store")
	}
	tx.jobs = append(tx.jobs, job)
	return nil
}

func (tx *Tx) flushJobs(ctx context.Context) error {
	if len(tx.jobs) == 0 {
		return nil
	}
	if err := tx.db.jobs.InsertManyTx(ctx, tx.tx, tx.jobs); err != nil {
		return fmt.Errorf("enqueue %d jobs: %w", len(tx.jobs), err)
	}
	tx.jobs = nil
	return nil
}

func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := tx.db.prepared(ctx, tx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.tx.ExecContext(ctx, q, args...)
}

func (tx *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := tx.db.prepared(ctx, tx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.tx.QueryContext(ctx, q, args...)
}

func (tx *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := tx.db.prepared(ctx, tx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, q, args...)
}

// prepared returns q prepared once per transaction, on SQLite, where parsing a statement costs
// more than running it: a batch of 500 creations runs each of its statements 500 times, and
// half the CPU of a bulk import went to the SQL parser. (A cache across transactions would
// need a second connection to prepare on, and the writer has one.) PostgreSQL needs none of
// this: pgx caches prepared statements per connection itself.
func (db *DB) prepared(ctx context.Context, tx *Tx, q string) *sql.Stmt {
	if db.dialect != SQLite {
		return nil
	}
	if st, ok := tx.stmts[q]; ok {
		return st
	}
	st, err := tx.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil // let the plain call report the error
	}
	if tx.stmts == nil {
		tx.stmts = map[string]*sql.Stmt{}
	}
	tx.stmts[q] = st // closed with the transaction
	return st
}

// micros converts a time to the stored form: microseconds since the epoch, UTC.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros converts the stored form back.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros stores a zero time as NULL.
func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

// isUniqueViolation reports a unique-constraint failure in either dialect.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isForeignKeyViolation reports whether err is a foreign key constraint failure.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// notFound turns sql.ErrNoRows into the project's NotFound error.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errs.Wrap(errs.NotFound, err, "%s not found", what)
	}
	return err
}
