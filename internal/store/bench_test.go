package store_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// BenchmarkTraceAppend measures traces appended per second, each in its own committed
// transaction (the cost an action pays for its trace), on the engine selected by
// CARNET_TEST_DATABASE:
//
//	go test -run '^$' -bench TraceAppend -benchtime 2000x ./internal/store/
//	CARNET_TEST_DATABASE=postgres go test -run '^$' -bench TraceAppend ./internal/store/
//
// single: one writer. concurrent/same-chain: writers share one patient's chain (they queue
// on its head). concurrent/many-chains: each append goes to another patient, the national
// case.
func BenchmarkTraceAppend(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, db *store.DB, patient func() int64) {
		if err := db.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.AppendTrace(ctx, entry(patient(), 0))
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	// baseline: the same commit with one bare row and no chain, to read the trace's own cost
	// as a ratio on this noisy machine.
	b.Run("baseline-one-row-commit", func(b *testing.B) {
		db := storetest.New(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := db.Update(ctx, func(tx *store.Tx) error {
				return tx.ExecForBenchmark(ctx, `INSERT INTO audit_chains (chain, last_seq, last_hash, seal) VALUES ($1, 0, '', '')`, "bench"+strconv.Itoa(i))
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	})
	b.Run("single", func(b *testing.B) {
		db := storetest.New(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			run(b, db, func() int64 { return 1 })
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "traces/s")
	})
	for _, mode := range []string{"same-chain", "many-chains"} {
		b.Run("concurrent-8/"+mode, func(b *testing.B) {
			db := storetest.New(b)
			var next atomic.Int64
			b.SetParallelism(4) // 4 × GOMAXPROCS (2 here) = 8 writers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					run(b, db, func() int64 {
						if mode == "same-chain" {
							return 1
						}
						return next.Add(1)%10000 + 1
					})
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "traces/s")
		})
	}
}
