package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// holderColumns name a patient, an account or a mailbox: a table with one of them holds
// someone's data, which a purge must erase or deliberately keep.
var holderColumns = []string{"patient_id", "account_id", "mailbox_id", "representative_id", "patient_address"}

// Every table of the schema that holds a patient, an account or a mailbox is purged or said
// to be kept (with why), so that a capability adding such a table cannot forget the purge.
func TestPurgeCoversEveryTable(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	var q string
	if db.Dialect() == store.SQLite {
		q = `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'`
	} else {
		q = `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()`
	}
	rows, err := db.SQL().QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	holders := map[string]bool{}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(holderColumns, column) && !strings.HasPrefix(table, "river_") {
			holders[table] = true
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	purged := map[string]bool{}
	for _, table := range store.PurgedTables() {
		purged[table] = true
	}
	if len(holders) < 20 {
		t.Fatalf("only %d tables hold a patient, an account or a mailbox: the schema query is wrong", len(holders))
	}
	for table := range holders {
		if !purged[table] && store.KeptOnPurge[table] == "" {
			t.Errorf("table %s holds a patient, an account or a mailbox: purge it in purgeStatements or say why it is kept in keptOnPurge", table)
		}
	}
	for table := range store.KeptOnPurge {
		if !holders[table] {
			t.Errorf("keptOnPurge names %s, which holds no patient, account or mailbox (gone or renamed?)", table)
		}
	}
}
