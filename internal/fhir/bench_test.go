package fhir_test

import (
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
)

// BenchmarkITI67 searches the record of a patient with 1,000 documents over HTTP (the first
// listing: the 100 newest of the last two years), and reports the latency percentiles.
//
//	go test -run '^$' -bench ITI67 -benchtime 500x ./internal/fhir/
func BenchmarkITI67(b *testing.B) {
	e := newEnvB(b)
	ins := recordtest.TestINS(b, 7000)
	e.Patient(b, ins)
	idnat, tok := e.professionalB(b, 7000)
	dr := recordtest.Doctor(idnat)
	items := make([]record.Item, 0, 100)
	for i := range 1000 {
		dep := recordtest.Report(ins, fmt.Sprint("CR ", i))
		dep.Created = recordtest.T0.Add(-time.Duration(i) * time.Hour)
		items = append(items, record.Item{Deposit: dep, Content: recordtest.PDF(600, i)})
		if len(items) == 100 {
			if _, err := e.Records.DepositAll(ctx, dr, items); err != nil {
				b.Fatal(err)
			}
			items = items[:0]
		}
	}
	if e.DB.Dialect() == store.SQLite {
		// A store in service has its documents in the database file, not in the WAL the
		// deposits above just filled (SQLite checkpoints every 1,000 pages): read from there.
		if _, err := e.DB.SQL().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
	}
	path := e.base + searchPath(ins, "")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		req, _ := http.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		start := time.Now()
		res, err := e.srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var buf [32 << 10]byte
		for {
			if _, err := res.Body.Read(buf[:]); err != nil {
				break
			}
		}
		res.Body.Close()
		lat = append(lat, time.Since(start))
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
