package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/carnet-sante/carnet/bench/benchseed"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carnet-sante/carnet/bench/mhdclient"
)

// runLoad sends ITI-65 deposits from concurrent clients and reports throughput and latency.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		url, seedPath, journalPath string
		clients, count, size, pid  int
		duration, warmup           time.Duration
	)
	fs := flag.NewFlagSet("mhdload load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&url, "url", "http://127.0.0.1:8080", "carnet's base URL")
	fs.StringVar(&seedPath, "seed", "seed.txt", "the file mhdload seed wrote (token, patients)")
	fs.IntVar(&clients, "clients", 16, "concurrent clients, each with its own connection")
	fs.DurationVar(&duration, "duration", 30*time.Second, "how long to load (after the warm-up); ignored with --count")
	fs.IntVar(&count, "count", 0, "deposits to make in all (instead of --duration)")
	fs.DurationVar(&warmup, "warmup", 0, "deposits during this first period are made but not measured")
	fs.IntVar(&size, "size", 100<<10, "bytes of each PDF")
	fs.StringVar(&journalPath, "journal", "", "append each acknowledged deposit (id and hashes) to this file, fsynced")
	fs.IntVar(&pid, "server-pid", 0, "the server's process id, to report its CPU per deposit (Linux)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	seed, err := benchseed.ReadFile(seedPath)
	if err != nil {
		return err
	}
	if len(seed.Patients) == 0 {
		return fmt.Errorf("%s lists no patient to deposit for", seedPath)
	}
	var journal *mhdclient.Journal
	if journalPath != "" {
		if journal, err = mhdclient.CreateJournal(journalPath); err != nil {
			return err
		}
		defer journal.Close()
	}
	c := mhdclient.New(url, seed.Token, clients)
	defer c.Close()

	fmt.Fprintf(stdout, "ITI-65 to %s: %d clients, %d-byte PDFs, ", url, clients, size)
	if count > 0 {
		fmt.Fprintf(stdout, "%d deposits", count)
	} else {
		fmt.Fprintf(stdout, "%s", duration)
	}
	if warmup > 0 {
		fmt.Fprintf(stdout, " after a %s warm-up", warmup)
	}
	fmt.Fprintln(stdout)

	res := loadRun(ctx, loadSpec{client: c, journal: journal, seed: seed, clients: clients, size: size,
		count: count, duration: duration, warmup: warmup, pid: pid})
	res.report(stdout)
	if res.journalErr != nil {
		return res.journalErr
	}
	return nil
}

type loadSpec struct {
	client           *mhdclient.Client
	journal          *mhdclient.Journal
	seed             *benchseed.File
	clients, size    int
	count            int
	duration, warmup time.Duration
	pid              int // the server's, for its CPU time
}

type loadResult struct {
	ok         int
	lat        latencies
	errors     map[string]int
	firstErr   map[string]string
	elapsed    time.Duration
	cpu        time.Duration
	serverCPU  string
	load       string
	size       int
	journalErr error
}

// loadRun runs the deposits; measurement starts after the warm-up.
func loadRun(ctx context.Context, s loadSpec) loadResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		res      = loadResult{errors: map[string]int{}, firstErr: map[string]string{}, size: s.size}
		started  atomic.Int64 // deposits begun, for --count
		measured atomic.Bool
		wg       sync.WaitGroup
	)
	measureFrom := time.Now().Add(s.warmup)
	measured.Store(s.warmup <= 0)
	var begin time.Time
	var cpu0, srv0 time.Duration
	var beginOnce sync.Once
	startMeasure := func() {
		beginOnce.Do(func() { begin, cpu0, srv0, res.load = time.Now(), cpuTime(), procCPU(s.pid), loadAverage() })
	}
	if s.warmup <= 0 {
		startMeasure()
	}
	for w := 0; w < s.clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			var lat latencies
			errs := map[string]int{}
			first := map[string]string{}
			ok := 0
			defer func() {
				mu.Lock()
				res.ok += ok
				res.lat = append(res.lat, lat...)
				for k, v := range errs {
					res.errors[k] += v
					if _, seen := res.firstErr[k]; !seen {
						res.firstErr[k] = first[k]
					}
				}
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				if s.count > 0 && started.Add(1) > int64(s.count) {
					return
				}
				if !measured.Load() && time.Now().After(measureFrom) {
					measured.Store(true)
					startMeasure()
				}
				ins := s.seed.Patients[rng.IntN(len(s.seed.Patients))]
				doc := mhdclient.NewDocument(ins, s.seed.Professional, "CR de consultation (mhdload)",
					mhdclient.PDF(s.size, rng.Uint64()), time.Now().Add(-time.Minute))
				bundle, err := mhdclient.ProvideBundle(doc)
				if err != nil {
					errs["bundle"]++
					first["bundle"] = err.Error()
					return
				}
				inWindow := measured.Load()
				t0 := time.Now()
				ack, err := s.client.Deposit(ctx, bundle)
				d := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						return // cut by the end of the run: neither success nor failure
					}
					if inWindow {
						k := errorKind(err)
						if errs[k] == 0 {
							first[k] = err.Error()
						}
						errs[k]++
					}
					continue
				}
				if s.journal != nil {
					if err := s.journal.Append(mhdclient.Record{ID: ack.ID, Size: int64(len(doc.Content)),
						SHA1: doc.SHA1, SHA256: doc.SHA256, INS: ins.Matricule}); err != nil {
						mu.Lock()
						res.journalErr = err
						mu.Unlock()
						cancel()
						return
					}
				}
				if inWindow {
					ok++
					lat = append(lat, d)
				}
			}
		}()
	}
	if s.count <= 0 {
		select {
		case <-time.After(s.warmup + s.duration):
		case <-ctx.Done():
		}
		cancel()
	}
	wg.Wait()
	startMeasure()
	res.elapsed = time.Since(begin)
	res.cpu = cpuTime() - cpu0
	res.serverCPU = serverCPU(srv0, procCPU(s.pid), res.ok, res.elapsed, "deposit")
	return res
}

func (r loadResult) report(w io.Writer) {
	secs := r.elapsed.Seconds()
	failed := 0
	for _, n := range r.errors {
		failed += n
	}
	fmt.Fprintf(w, "deposits: %d acknowledged, %d failed in %.1fs: %.1f deposits/s (%.1f MB/s of documents)\n",
		r.ok, failed, secs, float64(r.ok)/secs, float64(r.ok)*float64(r.size)/secs/1e6)
	fmt.Fprintf(w, "latency: %s\n", r.lat.summary())
	kinds := make([]string, 0, len(r.errors))
	for k := range r.errors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "errors: %s × %d, first: %.300s\n", k, r.errors[k], r.firstErr[k])
	}
	fmt.Fprintf(w, "load generator CPU: %.1fs (%.0f%% of one core); load average %s at the start\n",
		r.cpu.Seconds(), 100*r.cpu.Seconds()/secs, r.load)
	if r.serverCPU != "" {
		fmt.Fprintln(w, r.serverCPU)
	}
}
