package backup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// BenchmarkBackup backs up, then restores, a data directory of 10,000 documents of 100 KB
// (CARNET_BENCH_DOCS changes the count), deposited through the record service. Each run
// writes about twice the data to the temporary directory.
//
//	go test -run '^$' -bench Backup -benchtime 1x -timeout 30m ./internal/backup/
func BenchmarkBackup(b *testing.B) {
	docs := 10000
	if s := os.Getenv("CARNET_BENCH_DOCS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		docs = n
	}
	const size = 100 << 10
	e := newEnv(b)
	began := time.Now()
	items := make([]record.Item, 0, 100)
	for i := range docs {
		items = append(items, record.Item{Deposit: recordtest.Report(e.ins, fmt.Sprint("doc ", i)), Content: recordtest.PDF(size, i)})
		if len(items) == cap(items) || i == docs-1 {
			if _, err := e.rec.Records.DepositAll(ctx, e.doctor, items); err != nil {
				b.Fatal(err)
			}
			items = items[:0]
		}
	}
	b.Logf("%d documents of %d KB deposited in %s", docs, size>>10, time.Since(began).Round(time.Millisecond))
	src := e.source()

	// The snapshot alone, while a client keeps depositing: how long VACUUM INTO takes, and
	// whether it holds the server's writes (it should not: WAL lets them go on).
	b.Run("snapshot", func(b *testing.B) {
		stop := make(chan struct{})
		done := make(chan struct{})
		var deposits int
		var slowest time.Duration
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				if _, err := e.rec.Records.Deposit(ctx, e.doctor, recordtest.Report(e.ins, "during"), recordtest.PDF(size, docs+i)); err != nil {
					b.Error(err)
					return
				}
				deposits++
				slowest = max(slowest, time.Since(t0))
			}
		}()
		b.ResetTimer()
		for i := range b.N {
			out := filepath.Join(b.TempDir(), fmt.Sprint("s", i))
			if err := snapshot(ctx, src.Database, out); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		close(stop)
		<-done
		b.ReportMetric(float64(deposits)/b.Elapsed().Seconds(), "deposits/s")
		b.ReportMetric(float64(slowest.Milliseconds()), "slowest-deposit-ms")
	})
	var last string
	var m *Manifest
	tmp := b.TempDir()
	b.Run("backup", func(b *testing.B) {
		for i := range b.N {
			last = filepath.Join(tmp, fmt.Sprint("b", i))
			var err error
			if m, err = Backup(ctx, src, last, Options{Keys: keys()}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(m.Blobs.Count*int64(b.N))/b.Elapsed().Seconds(), "blobs/s")
		b.ReportMetric(float64(m.Blobs.Bytes*int64(b.N))/b.Elapsed().Seconds()/1e6, "MB/s")
	})
	b.Run("restore", func(b *testing.B) {
		for i := range b.N {
			dir := filepath.Join(tmp, fmt.Sprint("r", i))
			res, err := Restore(ctx, last, Target{DataDir: dir, Database: filepath.Join(dir, "carnet.db")}, restoreOptions())
			if err != nil || res.Blobs != m.Blobs.Count {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.ReportMetric(float64(m.Blobs.Count*int64(b.N))/b.Elapsed().Seconds(), "blobs/s")
		b.ReportMetric(float64(m.Blobs.Bytes*int64(b.N))/b.Elapsed().Seconds()/1e6, "MB/s")
	})
}
