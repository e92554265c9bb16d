package store_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// A bulk insert stores every row as given, whether a column varies from row to row or holds
// one value (NULL included) in all of them, which SQLite binds once per statement; across
// statements (more rows than one statement takes) and with an upsert after the rows.
func TestInsertBulkSameAndVaryingColumns(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	const n = 250
	keys, varying, ptrs, nulls := make([]string, n), make([]int64, n), make([]*int64, n), make([]*int64, n)
	sameText, sameNum, sameBool := make([]string, n), make([]int64, n), make([]bool, n)
	for i := range n {
		keys[i], varying[i] = fmt.Sprintf("k%03d", i), int64(i*i)
		sameText[i], sameNum[i], sameBool[i] = "même", 42, true
		if i%3 != 0 {
			v := int64(-i)
			ptrs[i] = &v
		}
	}
	// Rows lo to hi, with same_num from num.
	cols := func(lo, hi int, num []int64) []store.BulkColumn {
		return []store.BulkColumn{{"k", "text", keys[lo:hi]}, {"same_text", "text", sameText[lo:hi]},
			{"varying", "bigint", varying[lo:hi]}, {"same_num", "bigint", num}, {"ptr", "bigint", ptrs[lo:hi]},
			{"null_ptr", "bigint", nulls[lo:hi]}, {"flag", "boolean", sameBool[lo:hi]}}
	}
	err := db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.ExecForBenchmark(ctx, `CREATE TABLE bulk_probe (k TEXT PRIMARY KEY, same_text TEXT NOT NULL,
			varying BIGINT NOT NULL, same_num BIGINT NOT NULL, ptr BIGINT, null_ptr BIGINT, flag BOOLEAN NOT NULL)`); err != nil {
			return err
		}
		if err := tx.InsertBulkForTest(ctx, "bulk_probe", cols(0, n-50, sameNum[:n-50]), ""); err != nil {
			return err
		}
		// The last 100 again (50 of them new) with another same_num, through an upsert.
		upd := make([]int64, 100)
		for i := range upd {
			upd[i] = 43
		}
		return tx.InsertBulkForTest(ctx, "bulk_probe", cols(n-100, n, upd), `ON CONFLICT (k) DO UPDATE SET same_num = excluded.same_num`)
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.SQL().Query(`SELECT k, same_text, varying, same_num, ptr, null_ptr, flag FROM bulk_probe ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var k, text string
		var v, num int64
		var ptr, null *int64
		var flag bool
		if err := rows.Scan(&k, &text, &v, &num, &ptr, &null, &flag); err != nil {
			t.Fatal(err)
		}
		wantNum := int64(42)
		if i >= n-100 {
			wantNum = 43
		}
		got := fmt.Sprint(k, text, v, num, deref(ptr), null == nil, flag)
		want := fmt.Sprint(keys[i], "même", varying[i], wantNum, deref(ptrs[i]), true, true)
		if got != want {
			t.Errorf("row %d: %s, want %s", i, got, want)
		}
	}
	if err := rows.Err(); err != nil || i != n {
		t.Fatalf("%d rows, %v", i, err)
	}
}

func deref(p *int64) string {
	if p == nil {
		return "NULL"
	}
	return strconv.FormatInt(*p, 10)
}
