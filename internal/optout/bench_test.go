package optout_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/optout"
)

// BenchmarkImport measures the opt-out import in rows per second, on the engine selected by
// CARNET_TEST_DATABASE (a third of the rows with no e-mail, so with a postal notice):
//
//	go test -run '^$' -bench Import -benchtime 1x ./internal/optout/
func BenchmarkImport(b *testing.B) {
	const rows = 5000
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
		r := e.run(b, path, optout.Options{})
		if r.err != nil || r.counts.Created != rows {
			b.Fatalf("%+v %v", r.counts, r.err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
