package store

import "context"

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
