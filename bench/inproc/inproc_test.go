// Package inproc_test runs carnet's HTTP server in the benchmark's own process, wired as
// `carnet serve` wires it, so that `go test -bench -cpuprofile` profiles the server's code
// (`carnet serve` exposes no pprof). The load is the same as bench/mhdload's: real HTTP over
// loopback, with mhdclient. The client's own CPU is in the profile too, under mhdclient and
// net/http's client side.
//
//	go test -run '^$' -bench ITI65 -benchtime 3000x -cpuprofile /tmp/cpu.out ./bench/inproc/
//	go test -run '^$' -bench ITI67 -benchtime 2000x ./bench/inproc/ -args -docs 1000000
//	(CARNET_TEST_DATABASE=postgres for PostgreSQL)
package inproc_test

import (
	"context"
	"crypto/rand"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carnet-sante/carnet/bench/benchseed"
	"github.com/carnet-sante/carnet/bench/mhdclient"
	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/config"
	"github.com/carnet-sante/carnet/internal/fhir"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/server"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
	"github.com/carnet-sante/carnet/internal/terminology"
)

var (
	clients  = flag.Int("clients", 16, "concurrent clients")
	size     = flag.Int("size", 100<<10, "bytes of each deposited PDF")
	patients = flag.Int("patients", 1000, "patients deposited for (ITI-65) or holding the background documents (ITI-67)")
	docs     = flag.Int("docs", 0, "background documents spread over the patients (ITI-67)")
	hot      = flag.Int("hot", 1000, "documents of the searched patient (ITI-67)")
	count    = flag.Int("count", 100, "_count of the ITI-67 searches (0: the first listing)")
	// A store prepared by `mhdload seed` (a million documents take minutes to seed): its
	// carnet settings, e.g. "--data-dir /tmp/s1m", and the seed file.
	storeArgs = flag.String("store", "", "carnet settings of an existing store to run on, instead of a fresh one")
	seedPath  = flag.String("seed", "", "with -store: the file mhdload seed wrote for it")
)

// instance is a server wired as cmd/carnet's runServe wires it (keep the two in step): store,
// blobs, notices, the job queue with its workers, the FHIR API on the HTTP server with its
// request logging (to io.Discard) and metrics.
type instance struct {
	url string
	db  *store.DB
}

func start(b *testing.B) *instance {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	master := make([]byte, 32)
	rand.Read(master)
	target := storetest.Target{}
	if *storeArgs != "" {
		fs := flag.NewFlagSet("store", flag.ContinueOnError)
		cfg, err := config.Load(fs, strings.Fields(*storeArgs), os.Getenv)
		if err != nil {
			b.Fatal(err)
		}
		if master, err = cfg.ExistingMasterKey(); err != nil {
			b.Fatal(err)
		}
		target = storetest.Target{Dialect: store.SQLite, DSN: cfg.DB.DSN}
		if cfg.DB.Driver == config.DriverPostgres {
			target.Dialect = store.Postgres
		}
		dir = cfg.DataDir
	} else {
		target = storetest.NewTarget(b)
	}
	trace, err := audit.DeriveKey(master)
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(ctx, target.Dialect, target.DSN, store.Options{TraceKey: trace})
	if err != nil {
		b.Fatal(err)
	}
	if err := benchseed.Prepare(ctx, db); err != nil {
		b.Fatal(err)
	}
	clk := clock.System{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	blobs, err := blob.NewFS(filepath.Join(dir, "blobs"), master)
	if err != nil {
		b.Fatal(err)
	}
	sender, err := notify.New(notify.Config{Mode: notify.ModeOutbox, OutboxDir: filepath.Join(dir, "outbox")}, clk)
	if err != nil {
		b.Fatal(err)
	}
	codeKey, err := space.CodeKey(master)
	if err != nil {
		b.Fatal(err)
	}
	spaces, err := space.NewService(space.Deps{Store: db.Spaces(), Clock: clk, Policy: space.DefaultPolicy(),
		PublicURL: "http://127.0.0.1", Sender: sender, CodeKey: codeKey})
	if err != nil {
		b.Fatal(err)
	}
	queue, err := jobs.New(db, jobs.Config{Workers: 10, Logger: log}, jobs.Deps{Spaces: spaces, Blobs: blobs, DB: db})
	if err != nil {
		b.Fatal(err)
	}
	catalog, err := terminology.Default()
	if err != nil {
		b.Fatal(err)
	}
	matrix, err := access.DefaultMatrix()
	if err != nil {
		b.Fatal(err)
	}
	acc := access.NewService(db.Access(), clk, matrix, access.ServicePolicy{})
	records, err := record.NewService(record.Deps{Store: db.Records(), Access: acc, Blobs: blobs, Catalog: catalog, Clock: clk, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	api := fhir.New(fhir.Deps{Records: records, Tokens: apitoken.NewService(db.Tokens(), clk), Catalog: catalog,
		BaseURL: base + "/fhir", Version: "bench", Log: log})
	srv := server.New(log, prometheus.NewRegistry(), map[string]server.Pinger{"database": db, "blobs": blobs})
	srv.Handle("/fhir/", api)
	srv.Handle("/fhir", api)
	qctx, cancel := context.WithCancel(ctx)
	if err := queue.Start(qctx); err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	b.Cleanup(func() {
		sctx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		srv.Shutdown(sctx)
		queue.Stop(sctx)
		cancel()
		db.Close()
	})
	return &instance{url: base, db: db}
}

// professional records the synthetic professional and returns their IdNat_PS and a token.
func (in *instance) professional(b *testing.B) (string, string) {
	b.Helper()
	ctx := context.Background()
	p, err := benchseed.Professional(ctx, in.db, 1, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	tok, err := benchseed.Token(ctx, in.db, p, 24*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return p.IdNat.String(), tok
}

type durations []time.Duration

func (d durations) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(float64(len(d))*p/100+0.5) - 1
	return d[max(0, min(i, len(d)-1))]
}

// parallel runs n calls of op from c goroutines and returns their latencies and errors.
func parallel(n, c int, op func(rng int) error) (durations, []error, time.Duration) {
	var (
		mu   sync.Mutex
		all  durations
		errs []error
		next atomic.Int64
		wg   sync.WaitGroup
	)
	began := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat durations
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					break
				}
				t0 := time.Now()
				err := op(i)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, errs, time.Since(began)
}

func report(b *testing.B, unit string, lat durations, errs []error, elapsed time.Duration) {
	b.Helper()
	if len(errs) > 0 {
		b.Fatalf("%d of %d requests failed; first: %v", len(errs), len(errs)+len(lat), errs[0])
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), unit)
	b.ReportMetric(float64(lat.pct(50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat.pct(99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op") // meaningless for a concurrent load
}

// BenchmarkITI65 deposits b.N documents of -size bytes from -clients clients.
func BenchmarkITI65(b *testing.B) {
	in := start(b)
	ctx := context.Background()
	var (
		ps         []identity.INS
		idnat, tok string
	)
	if seed := in.seed(b); seed != nil {
		ps, idnat, tok = seed.Patients, seed.Professional, seed.Token
	} else {
		made, err := benchseed.Patients(ctx, in.db, 0, *patients, 1000, time.Now(), nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range made {
			ps = append(ps, p.INS)
		}
		idnat, tok = in.professional(b)
	}
	c := mhdclient.New(in.url, tok, *clients)
	defer c.Close()
	seed := time.Now().UnixNano()
	b.ResetTimer()
	lat, errs, elapsed := parallel(b.N, *clients, func(i int) error {
		doc := mhdclient.NewDocument(ps[i%len(ps)], idnat, "CR de consultation (bench)", mhdclient.PDF(*size, uint64(seed)+uint64(i)), time.Now())
		bundle, err := mhdclient.ProvideBundle(doc)
		if err != nil {
			return err
		}
		_, err = c.Deposit(ctx, bundle)
		return err
	})
	b.StopTimer()
	report(b, "deposits/s", lat, errs, elapsed)
}

// BenchmarkITI67 searches b.N times the record of a patient with -hot documents, in a store
// of -docs more spread over -patients patients.
func BenchmarkITI67(b *testing.B) {
	in := start(b)
	ctx := context.Background()
	now := time.Now().UTC()
	var hotINS identity.INS
	var tok string
	if seed := in.seed(b); seed != nil {
		hotINS, tok = seed.Hot, seed.Token
	} else {
		hotINS, tok = in.hotRecord(b, now)
	}
	c := mhdclient.New(in.url, tok, *clients)
	defer c.Close()
	r, err := c.Search(ctx, hotINS, *count)
	if err != nil {
		b.Fatal(err)
	}
	if *count != 0 && r.Entries != min(*count, *hot) || *count == 0 && r.Entries != min(100, *hot) {
		b.Fatalf("a page holds %d entries", r.Entries)
	}
	b.ResetTimer()
	lat, errs, elapsed := parallel(b.N, *clients, func(int) error {
		_, err := c.Search(ctx, hotINS, *count)
		return err
	})
	b.StopTimer()
	report(b, "searches/s", lat, errs, elapsed)
}

// hotRecord seeds the ITI-67 store: -docs documents over -patients patients, and the hot
// patient with -hot documents, whose care team the professional joins.
func (in *instance) hotRecord(b *testing.B, now time.Time) (identity.INS, string) {
	b.Helper()
	ctx := context.Background()
	idnat, tok := in.professional(b)
	if *docs > 0 {
		ps, err := benchseed.Patients(ctx, in.db, 0, *patients, 1000, now, nil)
		if err != nil {
			b.Fatal(err)
		}
		workers := 1
		if in.db.Dialect() == store.Postgres {
			workers = 4
		}
		if err := benchseed.Documents(ctx, in.db, benchseed.DocSpec{Count: *docs, Author: idnat, Now: now, Workers: workers,
			Patient: func(i int) benchseed.Patient { return ps[i*len(ps) / *docs] }}); err != nil {
			b.Fatal(err)
		}
	}
	hp, err := benchseed.Patients(ctx, in.db, *patients, 1, 1, now, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := benchseed.JoinCareTeam(ctx, in.db, hp[0].ID, idnat, now); err != nil {
		b.Fatal(err)
	}
	if err := benchseed.Documents(ctx, in.db, benchseed.DocSpec{Count: *hot, Author: idnat, Now: now,
		Patient: func(int) benchseed.Patient { return hp[0] }}); err != nil {
		b.Fatal(err)
	}
	return hp[0].INS, tok
}

// seed reads the -seed file of a -store, nil without one.
func (in *instance) seed(b *testing.B) *benchseed.File {
	b.Helper()
	if *storeArgs == "" {
		return nil
	}
	f, err := benchseed.ReadFile(*seedPath)
	if err != nil {
		b.Fatal(err)
	}
	if f.HotDocs > 0 {
		*hot = f.HotDocs
	}
	return f
}
