package optout_test

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/optout"
)

var (
	benchBatch = flag.Int("batch", optout.DefaultBatch, "BenchmarkImport: rows per transaction")
	benchFile  = flag.String("file", "", "BenchmarkImport: import this file (bench/optoutgen makes one) instead of 20,000 generated rows")
	benchCache = flag.Int("cache", 0, "BenchmarkImport: SQLite write cache in MiB (TuneForBulkImport, as carnet optout import does; 0: not tuned)")
)

// BenchmarkImport measures the opt-out import in rows per second, on the engine selected by
// CARNET_TEST_DATABASE (a third of the rows with no e-mail, so with a postal notice):
//
//	go test -run '^$' -bench Import -benchtime 1x ./internal/optout/ [-args -batch 20000]
//
// With -file, it imports a file of bench/optoutgen's (a profile of a large import:
// -cpuprofile, which `carnet optout import` does not have).
func BenchmarkImport(b *testing.B) {
	if *benchFile != "" {
		benchFileImport(b, *benchFile)
		return
	}
	const rows = 20000
	var sb strings.Builder
	sb.WriteString(header)
	for i := 0; i < rows; i++ {
		email := fmt.Sprintf("p%d@example.fr", i)
		addr := ""
		if i%3 == 0 {
			email, addr = "", `"1 rue de la Paix, Paris"`
		}
		fmt.Fprintf(&sb, "%s,NOM,Prénom,1980-01-01,F,%s,%s,\n", ins(b, fmt.Sprintf("28001751%05d", i)), email, addr)
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b)
		path := e.write(b, "bench.csv", sb.String())
		b.StartTimer()
		r := e.run(b, path, optout.Options{BatchSize: *benchBatch})
		if r.err != nil || r.counts.Created != rows {
			b.Fatalf("%+v %v", r.counts, r.err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func benchFileImport(b *testing.B, path string) {
	var rows int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b)
		if *benchCache > 0 {
			if err := e.db.TuneForBulkImport(context.Background(), *benchCache); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		r := e.run(b, path, optout.Options{BatchSize: *benchBatch})
		if r.err != nil {
			b.Fatalf("%+v %v", r.counts, r.err)
		}
		rows += r.counts.Rows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
