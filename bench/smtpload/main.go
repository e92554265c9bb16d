// Command smtpload measures how fast an SMTP server accepts mail: N concurrent sessions, each
// over STARTTLS (and AUTH PLAIN when a user is given), send M messages of S bytes in all, each
// session reusing its connection for many messages (RSET between), and it reports messages per
// second, the p50/p95/p99 latency of the DATA-to-250 step (the message sent and acknowledged:
// what a durable server pays its fsyncs in) and the errors, as a table and a JSON file.
//
//	smtpload run --addr 127.0.0.1:2587 --insecure --user claire.martin@carnet.test \
//	    --password-file pw --from claire.martin@carnet.test --to claire.martin@carnet.test \
//	    --messages 4000 --label carnet --json carnet.json
//	smtpload compare carnet.json postfix.json
//
// The messages look like what health professionals send: a multipart/mixed MIME message, a
// French text part and a PDF attachment in base64 filling it to --size, each with its own
// Message-ID and distinct attachment bytes. Sessions are opened (and authenticated) one after
// the other before the clock starts: a server that throttles a burst of logins from one
// address, as carnet does, is measured on mail, not on sign-in.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/carnet-sante/carnet/bench/smtpclient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "smtpload: %v\n", err)
		os.Exit(1)
	}
}

const usage = `usage: smtpload run [flags]        send the load, print the figures, write --json
       smtpload compare FILE.json...  one table of several runs`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "run":
		return runLoad(ctx, args[1:], stdout, stderr)
	case "compare":
		return compare(args[1:], stdout)
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, usage)
		return flag.ErrHelp
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

type options struct {
	addr, helo, user, password, from, label, out string
	to                                           []string
	sessions, messages, size, warmup             int
	starttls, insecure, spread                   bool
	timeout                                      time.Duration
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	var to, pwFile string
	fs := flag.NewFlagSet("smtpload run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:2587", "the SMTP server, host:port")
	fs.StringVar(&o.helo, "helo", "smtpload.localhost", "the name given in EHLO")
	fs.IntVar(&o.sessions, "sessions", 16, "concurrent SMTP sessions")
	fs.IntVar(&o.messages, "messages", 2000, "messages to send in all, shared by the sessions")
	fs.IntVar(&o.warmup, "warmup", 0, "messages sent first and not measured")
	fs.IntVar(&o.size, "size", 20<<10, "approximate size of each message in bytes")
	fs.StringVar(&o.from, "from", "", "the envelope sender and From field (required)")
	fs.StringVar(&to, "to", "", "the recipients of every message, comma-separated (required)")
	fs.BoolVar(&o.spread, "spread", false, "send each message to one recipient of --to in turn, not to all of them")
	fs.BoolVar(&o.starttls, "starttls", true, "STARTTLS before anything else")
	fs.BoolVar(&o.insecure, "insecure", false, "accept any server certificate (a self-signed test certificate)")
	fs.StringVar(&o.user, "user", "", "AUTH PLAIN with this username (none when empty)")
	fs.StringVar(&pwFile, "password-file", "", "file holding the AUTH password (or $SMTPLOAD_PASSWORD)")
	fs.DurationVar(&o.timeout, "timeout", time.Minute, "a transaction taking longer counts as an error")
	fs.StringVar(&o.label, "label", "", "the name of this run in tables (default the address)")
	fs.StringVar(&o.out, "json", "smtpload.json", "where to write the figures")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, r := range strings.Split(to, ",") {
		if r = strings.TrimSpace(r); r != "" {
			o.to = append(o.to, r)
		}
	}
	switch {
	case o.from == "" || len(o.to) == 0:
		return errors.New("--from and --to are required")
	case o.sessions < 1 || o.messages < 1 || o.warmup < 0:
		return errors.New("--sessions and --messages must be at least 1, --warmup at least 0")
	case o.size < 1024 || o.size > 64<<20:
		return errors.New("--size must be between 1 KB and 64 MB")
	case o.user != "" && !o.starttls:
		return errors.New("AUTH needs --starttls: the password never goes in clear")
	}
	if o.label == "" {
		o.label = o.addr
	}
	if o.user != "" {
		o.password = os.Getenv("SMTPLOAD_PASSWORD")
		if pwFile != "" {
			b, err := os.ReadFile(pwFile)
			if err != nil {
				return err
			}
			o.password = strings.TrimSpace(string(b))
		}
		if o.password == "" {
			return errors.New("--user needs --password-file or $SMTPLOAD_PASSWORD")
		}
	}
	rep, err := load(ctx, o, stderr)
	if err != nil {
		return err
	}
	printTable(stdout, []Report{*rep})
	if rep.FirstError != "" {
		fmt.Fprintf(stdout, "first error: %.300s\n", rep.FirstError)
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	return os.WriteFile(o.out, append(b, '\n'), 0o644)
}

// Report is the JSON file of one run.
type Report struct {
	Label         string
	Addr          string
	Start         time.Time
	Sessions      int
	Messages      int  // acknowledged with 250 in the measured part
	Errors        int  // refused or failed transactions
	SizeBytes     int  // of each message, as sent
	Recipients    int  // in --to
	Spread        bool // each message to one of them in turn
	Seconds       float64
	PerSecond     float64
	P50, P95, P99 float64 // DATA to 250, milliseconds
	Max           float64
	AUTH, TLS     bool
	LoadAverage   string // the machine's, at the end (/proc/loadavg): a shared machine's noise
	FirstError    string `json:",omitempty"`
}

// session is one SMTP connection and its figures.
type session struct {
	o    options
	c    *smtpclient.Session
	lat  []time.Duration
	errs int
	err  string
}

func (s *session) dial() error {
	c, err := smtpclient.Dial(smtpclient.Options{Addr: s.o.addr, Helo: s.o.helo, StartTLS: s.o.starttls, Insecure: s.o.insecure,
		User: s.o.user, Password: s.o.password})
	if err != nil {
		return err
	}
	s.c = c
	return nil
}

func load(ctx context.Context, o options, stderr io.Writer) (*Report, error) {
	gen, err := newGenerator(o)
	if err != nil {
		return nil, err
	}
	sessions := make([]*session, o.sessions)
	fmt.Fprintf(stderr, "smtpload: %s: opening %d sessions…\n", o.label, o.sessions)
	for i := range sessions {
		sessions[i] = &session{o: o}
		if err := sessions[i].dial(); err != nil {
			for _, s := range sessions[:i] {
				s.c.Close()
			}
			return nil, fmt.Errorf("session %d: %w", i+1, err)
		}
	}
	defer func() {
		for _, s := range sessions {
			if s.c != nil {
				s.c.Quit()
			}
		}
	}()
	phase := func(total int, measured bool) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for _, s := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil && next.Add(1) <= int64(total) {
					if s.c == nil {
						if err := s.dial(); err != nil {
							s.fail(measured, err)
							return
						}
					}
					to, msg := gen.message()
					d, err := s.c.Send(s.o.from, to, msg)
					if err != nil {
						s.fail(measured, err)
						if !smtpclient.IsReply(err) { // a broken connection: open another
							s.c.Close()
							s.c = nil
						} else if s.c.Reset() != nil {
							s.c.Close()
							s.c = nil
						}
						continue
					}
					if measured {
						s.lat = append(s.lat, d)
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	if o.warmup > 0 {
		fmt.Fprintf(stderr, "smtpload: %s: warm-up, %d messages…\n", o.label, o.warmup)
		phase(o.warmup, false)
	}
	fmt.Fprintf(stderr, "smtpload: %s: %d messages of %d bytes to %d recipient(s) over %d sessions…\n",
		o.label, o.messages, gen.size, len(o.to), o.sessions)
	startAt := time.Now()
	elapsed := phase(o.messages, true)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	rep := &Report{Label: o.label, Addr: o.addr, Start: startAt.UTC(), Sessions: o.sessions, SizeBytes: gen.size,
		Recipients: len(o.to), Spread: o.spread, Seconds: elapsed.Seconds(), AUTH: o.user != "", TLS: o.starttls}
	var all []time.Duration
	for _, s := range sessions {
		all = append(all, s.lat...)
		rep.Errors += s.errs
		if rep.FirstError == "" {
			rep.FirstError = s.err
		}
	}
	rep.Messages = len(all)
	rep.PerSecond = float64(len(all)) / elapsed.Seconds()
	if len(all) > 0 {
		slices.Sort(all)
		q := func(p float64) float64 { return ms(all[min(len(all)-1, int(float64(len(all))*p))]) }
		rep.P50, rep.P95, rep.P99, rep.Max = q(0.50), q(0.95), q(0.99), ms(all[len(all)-1])
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.LoadAverage = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return rep, nil
}

func (s *session) fail(measured bool, err error) {
	if !measured {
		return
	}
	s.errs++
	if s.err == "" {
		s.err = err.Error()
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// generator makes the messages (smtpclient.Generator) and picks their recipients.
type generator struct {
	o    options
	g    *smtpclient.Generator
	n    atomic.Int64
	size int
}

func newGenerator(o options) (*generator, error) {
	g := smtpclient.NewGenerator(o.from, o.helo, o.size)
	return &generator{o: o, g: g, size: g.Size()}, nil
}

// message returns the next message and its recipients.
func (g *generator) message() ([]string, []byte) {
	n := g.n.Add(1)
	to := g.o.to
	if g.o.spread {
		to = to[n%int64(len(to)) : n%int64(len(to))+1]
	}
	return to, g.g.Message(to)
}

func printTable(w io.Writer, reps []Report) {
	fmt.Fprintf(w, "%-26s %8s %6s %9s %9s %9s %9s %9s %8s  %s\n", "server", "messages", "errors", "msgs/s", "p50 ms", "p95 ms",
		"p99 ms", "max ms", "size", "load average")
	for _, r := range reps {
		fmt.Fprintf(w, "%-26.26s %8d %6d %9.1f %9.1f %9.1f %9.1f %9.1f %6.1fKB  %s\n", r.Label, r.Messages, r.Errors, r.PerSecond,
			r.P50, r.P95, r.P99, r.Max, float64(r.SizeBytes)/1024, r.LoadAverage)
	}
}

func compare(files []string, stdout io.Writer) error {
	if len(files) == 0 {
		return errors.New("compare needs the JSON files of the runs")
	}
	var reps []Report
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var r Report
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		reps = append(reps, r)
	}
	printTable(stdout, reps)
	if len(reps) >= 2 && reps[len(reps)-1].PerSecond > 0 {
		base := reps[len(reps)-1]
		for _, r := range reps[:len(reps)-1] {
			fmt.Fprintf(stdout, "%s / %s: %.2f× the messages per second\n", r.Label, base.Label, r.PerSecond/base.PerSecond)
		}
	}
	return nil
}
