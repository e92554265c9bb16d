package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Group commit (SQLite). SQLite has one writer, and every commit with synchronous=FULL waits
// for an fsync: one transaction per request caps writes at the disk's fsync rate, whatever
// the CPU (LIMITS.md: ~6k commits/s at best, far less with real transactions). So concurrent
// Update calls are run by one committer goroutine, several to a transaction: each in a
// savepoint of its own (rolled back alone when it fails), then one COMMIT, one fsync, for all.
// Each caller returns when its work is durable, exactly as with a transaction of its own;
// work that runs in the same batch sees the work before it, as if they had run one after the
// other, which is what the single writer did anyway.
//
// A caller alone does not wait for company: the committer takes what is queued when it is
// free, so batching happens only when callers overlap, where it pays.

// maxBatch bounds the work in one transaction, so that one failing commit does not fail too
// many callers and no caller waits behind a long batch.
const maxBatch = 64

type commitReq struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan commitResult
}

type commitResult struct {
	err   error
	panic any
}

// startCommitter starts the committer of an SQLite database.
func (db *DB) startCommitter() {
	db.writes = make(chan *commitReq)
	db.closing = make(chan struct{})
	db.stopped = make(chan struct{})
	go db.committer()
}

// stopCommitter lets the batch in progress finish and stops the committer; Update then fails.
func (db *DB) stopCommitter() {
	db.closeOnce.Do(func() { close(db.closing) })
	<-db.stopped
}

func (db *DB) committer() {
	defer close(db.stopped)
	for {
		var first *commitReq
		select {
		case first = <-db.writes:
		case <-db.closing:
			return
		}
		batch := []*commitReq{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-db.writes:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		db.runBatch(batch)
	}
}

// updateGrouped hands fn to the committer and waits for its outcome.
func (db *DB) updateGrouped(ctx context.Context, fn func(*Tx) error) error {
	r := &commitReq{ctx: ctx, fn: fn, done: make(chan commitResult, 1)}
	select {
	case db.writes <- r:
	case <-ctx.Done():
		return errs.Wrap(errs.Unavailable, ctx.Err(), "begin transaction")
	case <-db.closing:
		return errs.E(errs.Unavailable, "the database is closed")
	}
	res := <-r.done // not abandoned on ctx: the caller must learn whether its work committed
	if res.panic != nil {
		panic(res.panic)
	}
	return res.err
}

// runBatch runs the batch's work in one transaction, each in its own savepoint.
func (db *DB) runBatch(batch []*commitReq) {
	results := make([]commitResult, len(batch))
	finish := func() {
		for i, r := range batch {
			r.done <- results[i]
		}
	}
	defer finish()
	sqlTx, err := db.write.BeginTx(context.Background(), nil)
	if err != nil {
		for i := range results {
			results[i].err = errs.Wrap(errs.Unavailable, err, "begin transaction")
		}
		return
	}
	stmts := map[string]*sql.Stmt{}
	committed := 0
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i].err = errs.Wrap(errs.Unavailable, err, "begin transaction")
			continue
		}
		if _, err := sqlTx.ExecContext(r.ctx, "SAVEPOINT w"); err != nil {
			results[i].err = errs.Wrap(errs.Unavailable, err, "begin transaction")
			continue
		}
		tx := &Tx{db: db, tx: sqlTx, stmts: stmts}
		res := runOne(r.ctx, tx, r.fn)
		if res.err == nil && res.panic == nil {
			if _, err := sqlTx.ExecContext(context.Background(), "RELEASE w"); err != nil {
				res.err = errs.Wrap(errs.Unavailable, err, "release savepoint")
			} else {
				committed++
				results[i] = res
				continue
			}
		}
		if _, err := sqlTx.ExecContext(context.Background(), "ROLLBACK TO w"); err == nil {
			_, err = sqlTx.ExecContext(context.Background(), "RELEASE w")
			if err != nil {
				res.err = fmt.Errorf("%w (and the savepoint could not be released: %v)", res.err, err)
			}
		} else {
			// The transaction is beyond repair: fail everything in it.
			_ = sqlTx.Rollback()
			results[i] = res
			for j := range batch {
				if j != i && results[j].err == nil && results[j].panic == nil {
					results[j].err = errs.Wrap(errs.Unavailable, err, "roll back a failed write")
				}
			}
			return
		}
		results[i] = res
	}
	if committed == 0 {
		_ = sqlTx.Rollback()
		return
	}
	if err := sqlTx.Commit(); err != nil {
		for i := range results {
			if results[i].err == nil && results[i].panic == nil {
				results[i].err = errs.Wrap(errs.Unavailable, err, "commit transaction")
			}
		}
	}
}

// runOne runs fn and inserts the jobs it queued, inside the current savepoint; a panic is
// caught and handed back to the caller's goroutine.
func runOne(ctx context.Context, tx *Tx, fn func(*Tx) error) (res commitResult) {
	defer func() {
		if p := recover(); p != nil {
			res = commitResult{panic: p}
		}
	}()
	if err := fn(tx); err != nil {
		return commitResult{err: err}
	}
	if err := tx.flushJobs(ctx); err != nil {
		return commitResult{err: err}
	}
	return commitResult{}
}
