// Command mixload drives a running carnet over its real interfaces with a national-profile mix
// of operations, open-loop at target rates, and reports throughput, p50/p95/p99 latency and
// errors per operation, with the server's CPU and memory (from its /metrics), as a table and a
// JSON file. With several rates (--rates 20,40,80) it runs one step per rate and names the
// highest that held a p99 under --p99 with no error: the node's capacity.
//
// The operations, weighted by --mix:
//
//	deposit  an ITI-65 Provide Document Bundle (a 20 KB PDF) by a professional's software
//	search   an ITI-67 search of a patient's documents
//	read     an ITI-68 retrieval of a document deposited in this run
//	page     a patient portal page (/moi, /moi/documents, /moi/historique), signed in
//	smtp     a professional's message to a patient over SMTP submission (mail.go)
//	imap     a professional's mail client reading their INBOX over IMAP (mail.go)
//	pch01    a connected app's measurement push, IHE PCH-01 (mail.go)
//
// The default mix follows the national profile (DOMAIN.md "Scale"): 420 million documents a
// year and 28 million messages a month are about 13 and 11 a second, so messages are sent about
// as often as documents are deposited.
//
// Open loop: each operation starts at its scheduled time whatever the ones before did (a slow
// server is not given a rest, as real users do not wait for each other); at most --inflight
// run at once, and an operation that could not start in time counts as dropped.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/carnet-sante/carnet/bench/benchseed"
	"github.com/carnet-sante/carnet/bench/mhdclient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "mixload: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	url, seed, login, password, outbox, out string
	smtpAddr, imapAddr                      string
	insecure                                bool
	mailSize, imapFetch, smtpSessions       int
	rates                                   []float64
	duration                                time.Duration
	inflight                                int
	mix                                     map[string]int
	p99                                     time.Duration
}

// operations are the operations of the mix, in the order of --mix's default.
var operations = []string{"deposit", "search", "read", "page", "smtp", "imap", "pch01"}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	var rates, mix string
	fs := flag.NewFlagSet("mixload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "the running carnet")
	fs.StringVar(&o.seed, "seed", "seed.txt", "the file `mhdload seed` wrote (the professional's token, the patients)")
	fs.StringVar(&o.login, "login", "patient@demo.carnet.test", "a patient's sign-in for the portal pages (carnet serve --demo prints one)")
	fs.StringVar(&o.password, "password", "carnet-demo-2026", "their password")
	fs.StringVar(&o.outbox, "outbox", "carnet-data/outbox", "the server's e-mail outbox, where the sign-in code arrives")
	fs.StringVar(&rates, "rates", "20", "operations per second, one step per rate (e.g. 10,20,40,80)")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "length of each step")
	fs.IntVar(&o.inflight, "inflight", 256, "operations running at once at most")
	fs.StringVar(&mix, "mix", "deposit=3,search=4,read=1,page=2,smtp=3,imap=2,pch01=1", "weights of the operations")
	fs.StringVar(&o.smtpAddr, "smtp-addr", "127.0.0.1:2587", "the server's SMTP submission listener")
	fs.StringVar(&o.imapAddr, "imap-addr", "127.0.0.1:2143", "the server's IMAP listener")
	fs.BoolVar(&o.insecure, "insecure", true, "accept the mail listeners' self-signed certificate (carnet serve generates one)")
	fs.IntVar(&o.mailSize, "mail-size", 20<<10, "size of the messages sent over SMTP, in bytes")
	fs.IntVar(&o.smtpSessions, "smtp-sessions", 16, "SMTP sessions the messages share, opened before the clock starts")
	fs.IntVar(&o.imapFetch, "imap-fetch", 10, "the IMAP reads fetch the envelopes of this many last messages")
	fs.DurationVar(&o.p99, "p99", 100*time.Millisecond, "the p99 a step must hold to count as held")
	fs.StringVar(&o.out, "json", "mixload.json", "where to write the figures")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, s := range strings.Split(rates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("--rates: %q is not a rate", s)
		}
		o.rates = append(o.rates, r)
	}
	o.mix = map[string]int{}
	for _, kv := range strings.Split(mix, ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || !slices.Contains(operations, k) {
			return fmt.Errorf("--mix: %q", kv)
		}
		o.mix[k] = n
	}
	seed, err := benchseed.ReadFile(o.seed)
	if err != nil {
		return err
	}
	d := &driver{o: o, seed: seed, fhir: mhdclient.New(strings.TrimSuffix(o.url, "/")+"/fhir", seed.Token, o.inflight)}
	defer d.fhir.Close()
	if o.mix["page"] > 0 {
		if d.portal, err = signIn(ctx, o); err != nil {
			return fmt.Errorf("portal sign-in: %w", err)
		}
	}
	if o.mix["smtp"] > 0 || o.mix["imap"] > 0 {
		if d.mail, err = newMessaging(o, seed); err != nil {
			return err
		}
		defer d.mail.close()
		if o.mix["smtp"] > 0 {
			if err := d.mail.open(max(o.smtpSessions, 1)); err != nil {
				return err
			}
		}
	}
	if o.mix["pch01"] > 0 {
		if d.apps, err = newPusher(o, seed); err != nil {
			return err
		}
	}
	// Warm-up, not measured: the professional deposits once for each patient of their
	// practice, which puts them in the care team (a professional searches their patients).
	n := min(len(seed.Patients), 100)
	fmt.Fprintf(stderr, "mixload: warm-up, a first document for %d patients…\n", n)
	for i := range n {
		if err := d.do(ctx, "deposit", uint64(i)); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	d.practice = n
	var report Report
	for _, rate := range o.rates {
		fmt.Fprintf(stderr, "mixload: %.0f ops/s for %s…\n", rate, o.duration)
		step, err := d.step(ctx, rate)
		if err != nil {
			return err
		}
		report.Steps = append(report.Steps, *step)
		step.print(stdout)
		if step.held(o.p99) {
			report.Capacity = rate
		}
	}
	report.P99Goal = o.p99.String()
	fmt.Fprintf(stdout, "capacity: %.0f ops/s held with p99 under %s and no error\n", report.Capacity, o.p99)
	b, _ := json.MarshalIndent(report, "", "  ")
	return os.WriteFile(o.out, b, 0o644)
}

// Report is the JSON file.
type Report struct {
	Steps    []Step
	Capacity float64 // the highest rate held
	P99Goal  string
}

// Step is one rate's figures.
type Step struct {
	Rate       float64
	Seconds    float64
	Ops        map[string]*OpStats
	Dropped    int
	ServerCPU  float64 // cores used by the server on average (process_cpu_seconds_total)
	ServerRSS  float64 // bytes at the end (process_resident_memory_bytes)
	Throughput float64
}

// OpStats are one operation's figures in a step.
type OpStats struct {
	Count, Errors int
	P50, P95, P99 float64 // milliseconds
	PerSecond     float64
	lat           []time.Duration
	firstErr      string
}

func (s Step) held(p99 time.Duration) bool {
	if s.Dropped > 0 {
		return false
	}
	for _, op := range s.Ops {
		if op.Errors > 0 || op.P99 > float64(p99)/float64(time.Millisecond) {
			return false
		}
	}
	return true
}

func (s Step) print(w io.Writer) {
	fmt.Fprintf(w, "\n%.0f ops/s target, %.1f s: %.1f ops/s done, %d dropped, server %.2f cores, %.0f MB RSS\n",
		s.Rate, s.Seconds, s.Throughput, s.Dropped, s.ServerCPU, s.ServerRSS/1e6)
	fmt.Fprintf(w, "%-8s %8s %7s %9s %9s %9s %9s\n", "op", "count", "errors", "per s", "p50 ms", "p95 ms", "p99 ms")
	names := make([]string, 0, len(s.Ops))
	for n := range s.Ops {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		op := s.Ops[n]
		fmt.Fprintf(w, "%-8s %8d %7d %9.1f %9.1f %9.1f %9.1f\n", n, op.Count, op.Errors, op.PerSecond, op.P50, op.P95, op.P99)
		if op.firstErr != "" {
			fmt.Fprintf(w, "         first error: %.200s\n", op.firstErr)
		}
	}
}

type driver struct {
	o      options
	seed   *benchseed.File
	fhir   *mhdclient.Client
	portal *http.Client
	mail   *messaging
	apps   *pusher

	mu  sync.Mutex
	ids []string // documents deposited, for reads
	// practice is how many of the seeded patients the professional has in their care team
	// (the first ones); 0 during the warm-up.
	practice int
}

func (d *driver) step(ctx context.Context, rate float64) (*Step, error) {
	cpu0, _ := metric(ctx, d.o.url, "process_cpu_seconds_total")
	st := &Step{Rate: rate, Ops: map[string]*OpStats{}}
	var mu sync.Mutex
	sem := make(chan struct{}, d.o.inflight)
	var wg sync.WaitGroup
	r := rand.New(rand.NewPCG(uint64(rate), 7))
	var ops []string
	for name, w := range d.o.mix {
		for range w {
			ops = append(ops, name)
		}
	}
	slices.Sort(ops)
	interval := time.Duration(float64(time.Second) / rate)
	began := time.Now()
	next := began
	for time.Since(began) < d.o.duration && ctx.Err() == nil {
		time.Sleep(time.Until(next))
		next = next.Add(interval)
		name := ops[r.IntN(len(ops))]
		select {
		case sem <- struct{}{}:
		default:
			mu.Lock()
			st.Dropped++
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func(name string, seq uint64) {
			defer wg.Done()
			defer func() { <-sem }()
			t := time.Now()
			err := d.do(ctx, name, seq)
			lat := time.Since(t)
			mu.Lock()
			defer mu.Unlock()
			op := st.Ops[name]
			if op == nil {
				op = &OpStats{}
				st.Ops[name] = op
			}
			op.Count++
			op.lat = append(op.lat, lat)
			if err != nil {
				op.Errors++
				if op.firstErr == "" {
					op.firstErr = err.Error()
				}
			}
		}(name, r.Uint64())
	}
	wg.Wait()
	st.Seconds = time.Since(began).Seconds()
	cpu1, _ := metric(ctx, d.o.url, "process_cpu_seconds_total")
	st.ServerCPU = (cpu1 - cpu0) / st.Seconds
	st.ServerRSS, _ = metric(ctx, d.o.url, "process_resident_memory_bytes")
	total := 0
	for _, op := range st.Ops {
		slices.Sort(op.lat)
		q := func(p float64) float64 {
			return float64(op.lat[min(len(op.lat)-1, int(p*float64(len(op.lat))))]) / float64(time.Millisecond)
		}
		op.P50, op.P95, op.P99 = q(0.50), q(0.95), q(0.99)
		op.PerSecond = float64(op.Count) / st.Seconds
		total += op.Count
	}
	st.Throughput = float64(total) / st.Seconds
	return st, ctx.Err()
}

// do runs one operation.
func (d *driver) do(ctx context.Context, name string, seq uint64) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	patients := d.seed.Patients
	if d.practice > 0 {
		patients = patients[:d.practice]
	}
	ins := patients[int(seq%uint64(len(patients)))]
	switch name {
	case "deposit":
		doc := mhdclient.NewDocument(ins, d.seed.Professional, "Compte rendu (charge mixte)", mhdclient.PDF(20<<10, seq), time.Now().Add(-time.Hour))
		b, err := mhdclient.ProvideBundle(doc)
		if err != nil {
			return err
		}
		ack, err := d.fhir.Deposit(ctx, b)
		if err == nil {
			d.mu.Lock()
			d.ids = append(d.ids, ack.ID)
			d.mu.Unlock()
		}
		return err
	case "search":
		_, err := d.fhir.Search(ctx, ins, 100)
		return err
	case "read":
		d.mu.Lock()
		var id string
		if len(d.ids) > 0 {
			id = d.ids[int(seq%uint64(len(d.ids)))]
		}
		d.mu.Unlock()
		if id == "" {
			_, err := d.fhir.Search(ctx, ins, 10)
			return err
		}
		_, err := d.fhir.Retrieve(ctx, id)
		return err
	case "page":
		pages := []string{"/moi", "/moi/documents", "/moi/historique"}
		req, _ := http.NewRequestWithContext(ctx, "GET", d.o.url+pages[seq%uint64(len(pages))], nil)
		res, err := d.portal.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("%s: HTTP %d", req.URL.Path, res.StatusCode)
		}
		return nil
	case "smtp":
		return d.mail.send(ctx, patientAddress(ins.Matricule, d.seed.Domain))
	case "imap":
		return d.mail.read(ctx, seq)
	case "pch01":
		return d.apps.push(ctx, seq)
	}
	return fmt.Errorf("unknown operation %s", name)
}

// signIn opens a portal session as a patient: password, then the code from the outbox.
func signIn(ctx context.Context, o options) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	since := time.Now().Add(-time.Second)
	res, err := c.PostForm(o.url+"/connexion", url.Values{"identifiant": {o.login}, "mot_de_passe": {o.password}})
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	code := regexp.MustCompile(`\b(\d{6})\b`)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(o.outbox, "*.eml"))
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil || fi.ModTime().Before(since) {
				continue
			}
			b, _ := os.ReadFile(f)
			if !strings.Contains(string(b), o.login) {
				continue
			}
			if m := code.FindSubmatch(b); m != nil {
				res, err := c.PostForm(o.url+"/connexion/code", url.Values{"code": {string(m[1])}})
				if err != nil {
					return nil, err
				}
				res.Body.Close()
				if res.Request.URL.Path == "/connexion/code" {
					return nil, fmt.Errorf("the code was refused")
				}
				return c, nil
			}
		}
	}
	return nil, fmt.Errorf("no sign-in code for %s in %s (is the server's notify_mode outbox?)", o.login, o.outbox)
}

// metric reads one gauge or counter from the server's /metrics.
func metric(ctx context.Context, base, name string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(base, "/")+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}
