package store

import "context"

// BulkColumn is a column of InsertBulkForTest: its name, its PostgreSQL type and its values
// ([]string, []int64, []bool or []*int64).
type BulkColumn struct {
	Name, PgType string
	Values       any
}

// InsertBulkForTest runs insertBulk (tests only).
func (tx *Tx) InsertBulkForTest(ctx context.Context, table string, cols []BulkColumn, tail string) error {
	bc := make([]bulkCol, len(cols))
	for i, c := range cols {
		bc[i] = bulkCol{c.Name, c.PgType, c.Values}
	}
	return tx.insertBulk(ctx, table, bc, tail, nil)
}
