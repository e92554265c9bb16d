package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Bulk writes, for the opt-out import: thousands of rows of a table in a few statements
// instead of one statement per row. On PostgreSQL a statement is a round trip (~0.1 ms over
// loopback, more than the insert itself); on SQLite it is the driver's fixed cost per call.
//
// The two engines get different SQL, each its fastest: PostgreSQL one INSERT … SELECT FROM
// unnest of one array per column, whatever the number of rows (16 parameters for 10,000
// traces, planned in no time; a VALUES list of 16,000 parameters took longer to plan than to
// run); SQLite, which has no arrays, multi-row VALUES in chunks of sqliteBulkRows rows.

// sqliteBulkRows bounds the rows of one SQLite statement. SQLite parses a statement again
// in every transaction (prepared statements are cached per transaction) and its parse costs
// about as much as running it once: short statements, run many times, keep parsing a small
// part. The parameters stay far below SQLITE_MAX_VARIABLE_NUMBER (32766).
const sqliteBulkRows = 100

// bulkCol is a column of a bulk insert: its name, its PostgreSQL type and its values, one per
// row: []string, []int64, []bool or []*int64 (nil for NULL).
type bulkCol struct {
	name, pgType string
	vals         any
}

func (c bulkCol) len() int {
	switch v := c.vals.(type) {
	case []string:
		return len(v)
	case []int64:
		return len(v)
	case []bool:
		return len(v)
	case []*int64:
		return len(v)
	}
	panic(fmt.Sprintf("store: bulk column %s of %T", c.name, c.vals))
}

func (c bulkCol) at(i int) any {
	switch v := c.vals.(type) {
	case []string:
		return v[i]
	case []int64:
		return v[i]
	case []bool:
		return v[i]
	case []*int64:
		if v[i] == nil {
			return nil
		}
		return *v[i]
	}
	panic(fmt.Sprintf("store: bulk column %s of %T", c.name, c.vals))
}

// insertBulk inserts the rows of cols into table; tail follows the rows (ON CONFLICT …,
// RETURNING …), and each, if not nil, reads the rows RETURNING gives back.
func (tx *Tx) insertBulk(ctx context.Context, table string, cols []bulkCol, tail string, each func(*sql.Rows) error) error {
	if len(cols) == 0 || cols[0].len() == 0 {
		return nil
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	if tx.conn != nil && tail == "" {
		return tx.copyFrom(ctx, table, names, cols)
	}
	head := `INSERT INTO ` + table + ` (` + strings.Join(names, ", ") + `) `
	if tx.db.dialect == Postgres {
		params := make([]string, len(cols))
		args := make([]any, len(cols))
		for i, c := range cols {
			params[i], args[i] = "$"+strconv.Itoa(i+1)+"::"+c.pgType+"[]", c.vals
		}
		return tx.execOrQuery(ctx, head+`SELECT * FROM unnest(`+strings.Join(params, ", ")+`) `+tail, args, each)
	}
	n := cols[0].len()
	// A column holding one value in every row (a batch's time, its actor, its notice key, the
	// columns still NULL) is bound once per statement instead of once per row: binding (and
	// boxing each value for database/sql) was a tenth of the import's CPU, and about half the
	// values of a batch of creations are the same in every row.
	var varying, same []int
	for i, c := range cols {
		if n > 1 && c.same() {
			same = append(same, i)
		} else {
			varying = append(varying, i)
		}
	}
	var row, sel string
	if len(same) == 0 {
		row = "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	} else {
		// INSERT … SELECT from a VALUES list: SQLite names its columns column1, column2, …
		exprs := make([]string, len(cols))
		for k, i := range same {
			exprs[i] = "?" + strconv.Itoa(k+1)
		}
		for k, i := range varying {
			exprs[i] = "column" + strconv.Itoa(k+1)
		}
		sel = `SELECT ` + strings.Join(exprs, ", ") + ` FROM (`
		row = "(" + strings.TrimSuffix(strings.Repeat("?, ", len(varying)), ", ") + ")"
	}
	args := make([]any, 0, len(same)+min(n, sqliteBulkRows)*len(varying))
	for lo := 0; lo < n; lo += sqliteBulkRows {
		hi := min(lo+sqliteBulkRows, n)
		args = args[:0]
		for _, i := range same {
			args = append(args, cols[i].at(0))
		}
		for r := lo; r < hi; r++ {
			for _, i := range varying {
				args = append(args, cols[i].at(r))
			}
		}
		q := `VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", hi-lo), ", ")
		if sel != "" {
			// The numbered parameters of the SELECT come first; SQLite numbers each "?" after
			// the highest number used before it, so the rows' follow them. WHERE true: an
			// upsert after a SELECT's FROM would otherwise parse as a join's ON.
			q = sel + q + `) WHERE true`
		}
		if err := tx.execOrQuery(ctx, head+q+` `+tail, args, each); err != nil {
			return err
		}
	}
	return nil
}

// same reports whether every row of c holds the same value.
func (c bulkCol) same() bool {
	switch v := c.vals.(type) {
	case []string:
		return allSame(v, func(a, b string) bool { return a == b })
	case []int64:
		return allSame(v, func(a, b int64) bool { return a == b })
	case []bool:
		return allSame(v, func(a, b bool) bool { return a == b })
	case []*int64:
		return allSame(v, func(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) })
	}
	return false
}

func allSame[T any](v []T, eq func(a, b T) bool) bool {
	for i := 1; i < len(v); i++ {
		if !eq(v[0], v[i]) {
			return false
		}
	}
	return true
}

// copyFrom inserts the rows of cols into table with COPY (PostgreSQL's fastest way in, about
// twice an INSERT's rate), on the transaction's connection.
func (tx *Tx) copyFrom(ctx context.Context, table string, names []string, cols []bulkCol) error {
	n := cols[0].len()
	return tx.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy into %s: the connection is a %T, not pgx's", table, dc)
		}
		row := make([]any, len(cols))
		_, err := c.Conn().CopyFrom(ctx, pgx.Identifier{table}, names, pgx.CopyFromFunc(func() ([]any, error) {
			if n == 0 {
				return nil, nil
			}
			i := cols[0].len() - n
			n--
			for k, col := range cols {
				row[k] = col.at(i)
			}
			return row, nil
		}))
		return err
	})
}

// execOrQuery runs q with args, reading its rows with each when each is not nil.
func (tx *Tx) execOrQuery(ctx context.Context, q string, args []any, each func(*sql.Rows) error) error {
	if each == nil {
		_, err := tx.exec(ctx, q, args...)
		return err
	}
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// inList returns the SQL of "column is one of these strings" and its one argument: an array
// on PostgreSQL, a JSON array read by json_each on SQLite. One statement whatever the count,
// and one text to prepare.
func (db *DB) inList(column string, values []string, param int) (string, any, error) {
	p := "$" + strconv.Itoa(param)
	if db.dialect == Postgres {
		return column + " = ANY(" + p + ")", values, nil
	}
	j, err := json.Marshal(values)
	if err != nil {
		return "", nil, fmt.Errorf("encode list: %w", err)
	}
	return column + " IN (SELECT value FROM json_each(" + p + "))", string(j), nil
}
