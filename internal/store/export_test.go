package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/carnet-sante/carnet/internal/trail"
)

// ExecForBenchmark runs a statement in the transaction (tests and benchmarks only).
func (tx *Tx) ExecForBenchmark(ctx context.Context, q string, args ...any) error {
	_, err := tx.exec(ctx, q, args...)
	return err
}

// InsertTestOrganisation inserts an organisation with a unique structure id and returns its id.
func (tx *Tx) InsertTestOrganisation(ctx context.Context, name string) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, `INSERT INTO organisations (structure_id, name, created_at) VALUES ($1, $2, 0) RETURNING id`,
		"test-"+name, name).Scan(&id)
	return id, err
}

// PurgedTables lists the tables a purge erases or blanks, and KeptOnPurge those it keeps.
func PurgedTables() []string {
	var out []string
	for _, st := range purgeStatements {
		out = append(out, st.table)
	}
	return out
}

// KeptOnPurge is keptOnPurge, for the tests.
var KeptOnPurge = keptOnPurge

// PgArray is pgArray, for the tests.
var PgArray = pgArray

// TrailPlansForTest returns the query plans of the trail's queries for q and for the first
// accesses of idnats, as the engine gives them (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's
// EXPLAIN with sequential scans discouraged, as on a large table).
func (tx *Tx) TrailPlansForTest(ctx context.Context, q trail.Query, patientID int64, idnats []string) ([]string, error) {
	var out []string
	tq, targs := trailQuery(q)
	fq, fargs := firstAccessesQuery(patientID, idnats)
	if tx.db.dialect == Postgres {
		if _, err := tx.exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return nil, err
		}
	}
	for _, c := range []struct {
		q    string
		args []any
	}{{tq, targs}, {fq, fargs}} {
		explain := `EXPLAIN QUERY PLAN `
		if tx.db.dialect == Postgres {
			explain = `EXPLAIN `
		}
		rows, err := tx.query(ctx, explain+c.q, c.args...)
		if err != nil {
			return nil, err
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return nil, err
		}
		var plan strings.Builder
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, err
			}
			fmt.Fprintf(&plan, "%v\n", vals[len(vals)-1])
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		out = append(out, plan.String())
	}
	return out, nil
}
