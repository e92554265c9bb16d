package record_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// BenchmarkDeposit deposits 100 KB PDFs from 16 goroutines (b.SetParallelism), each for its
// own patient, through the whole service: blob (encrypted, fsynced), decision, metadata, care
// team, notice, traces.
//
//	go test -run '^$' -bench Deposit -benchtime 2000x ./internal/record/
func BenchmarkDeposit(b *testing.B) {
	e := recordtest.New(b)
	const patients = 64
	ins := make([]identity.INS, patients)
	for i := range ins {
		ins[i] = recordtest.TestINS(b, 5000+i)
		e.Patient(b, ins[i])
	}
	dr := recordtest.Doctor(recordtest.RPPS(b, 5000))
	pdf := recordtest.PDF(100<<10, 1)
	var n atomic.Int64
	b.SetBytes(int64(len(pdf)))
	b.SetParallelism(8) // 8 × GOMAXPROCS(2) = 16 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			dep := recordtest.Report(ins[i%patients], fmt.Sprint("doc ", i))
			content := append([]byte(nil), pdf...)
			copy(content[20:], fmt.Sprintf("%012d", i)) // distinct bytes
			if _, err := e.Records.Deposit(ctx, dr, dep, content); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deposits/s")
}

// BenchmarkSearch100 lists 100 documents of a patient with 1,000, with a decision on each.
func BenchmarkSearch100(b *testing.B) {
	e := recordtest.New(b)
	in := recordtest.TestINS(b, 6000)
	pid := e.Patient(b, in)
	dr := recordtest.Doctor(recordtest.RPPS(b, 6000))
	items := make([]record.Item, 0, 100)
	for i := range 1000 {
		items = append(items, record.Item{Deposit: recordtest.Report(in, fmt.Sprint("doc ", i)), Content: recordtest.PDF(600, i)})
		if len(items) == 100 {
			if _, err := e.Records.DepositAll(ctx, dr, items); err != nil {
				b.Fatal(err)
			}
			items = items[:0]
		}
	}
	b.ResetTimer()
	for range b.N {
		p, err := e.Records.Search(ctx, dr, record.Query{PatientID: pid, Limit: 100})
		if err != nil || len(p.Documents) != 100 {
			b.Fatalf("%v %d", err, len(p.Documents))
		}
	}
}
