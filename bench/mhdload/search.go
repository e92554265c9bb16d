package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/carnet-sante/carnet/bench/benchseed"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carnet-sante/carnet/bench/mhdclient"
)

// runSearch measures ITI-67 on the hot patient: with _count=100, and the first listing
// (no _count), from 1..C concurrent clients.
func runSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		url, seedPath, levels string
		requests, count, pid  int
	)
	fs := flag.NewFlagSet("mhdload search", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&url, "url", "http://127.0.0.1:8080", "carnet's base URL")
	fs.StringVar(&seedPath, "seed", "seed.txt", "the file mhdload seed wrote (token, hot patient)")
	fs.IntVar(&requests, "requests", 1000, "requests per query and concurrency level")
	fs.IntVar(&count, "count", 100, "the _count of the first query")
	fs.StringVar(&levels, "clients", "1,4,16", "concurrency levels, comma-separated")
	fs.IntVar(&pid, "server-pid", 0, "the server's process id, to report its CPU per request (Linux)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	seed, err := benchseed.ReadFile(seedPath)
	if err != nil {
		return err
	}
	if seed.Hot.Matricule == "" {
		return fmt.Errorf("%s names no hot patient: seed with --hot K", seedPath)
	}
	var conc []int
	for _, s := range strings.Split(levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("--clients: %q is not a positive number", s)
		}
		conc = append(conc, n)
	}
	c := mhdclient.New(url, seed.Token, conc[len(conc)-1])
	defer c.Close()

	fmt.Fprintf(stdout, "ITI-67 on %s: hot patient with %d documents, %d requests per line\n", url, seed.HotDocs, requests)
	for _, q := range []struct {
		name  string
		count int
	}{{fmt.Sprintf("_count=%d", count), count}, {"first listing (no _count)", 0}} {
		// One request first, to check what a page holds, and to warm up.
		r, err := c.Search(ctx, seed.Hot, q.count)
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		fmt.Fprintf(stdout, "%s: %d entries per page (total %s, next page: %v)\n", q.name, r.Entries, totalString(r.Total), r.Next)
		for _, n := range conc {
			load, cpu0 := loadAverage(), procCPU(pid)
			lat, failed, elapsed := searchRun(ctx, c, seed, q.count, n, requests)
			fmt.Fprintf(stdout, "  %2d clients: %6.0f req/s  %s  (%d failed; load average %s) %s\n", n,
				float64(len(lat))/elapsed.Seconds(), lat.summary(), failed, load, serverCPU(cpu0, procCPU(pid), len(lat), elapsed, "search"))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

func totalString(t int) string {
	if t < 0 {
		return "not given"
	}
	return strconv.Itoa(t)
}

func searchRun(ctx context.Context, c *mhdclient.Client, seed *benchseed.File, count, clients, requests int) (latencies, int, time.Duration) {
	var (
		mu     sync.Mutex
		all    latencies
		failed atomic.Int64
		left   atomic.Int64
		wg     sync.WaitGroup
	)
	left.Store(int64(requests))
	began := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat latencies
			for left.Add(-1) >= 0 && ctx.Err() == nil {
				t0 := time.Now()
				if _, err := c.Search(ctx, seed.Hot, count); err != nil {
					failed.Add(1)
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
	return all, int(failed.Load()), time.Since(began)
}
