// Command mhdload is carnet's whole-system load tool for the IHE MHD API:
//
//	mhdload seed    fill a store with patients, a professional, a token and synthetic documents,
//	                PER mailboxes with app passwords and messages, app grants (for mixload)
//	mhdload load    ITI-65 deposits from concurrent clients against a running `carnet serve`
//	mhdload verify  read back every deposit a load's journal holds (ITI-68) and check its hashes
//	mhdload search  ITI-67 latency for the "hot" patient seeded with many documents
//
// See bench/README.md for the commands that produced the published figures. Figures print;
// nothing here is a test.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/carnet-sante/carnet/bench/mhdclient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "mhdload: %v\n", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = `mhdload: load and check a running carnet through its FHIR API (IHE MHD).

Usage:
  mhdload seed   [carnet settings] [--patients N] [--docs M] [--hot K] [--mailboxes B] [--inbox I] [--apps A] [--out seed.txt]
  mhdload load   --url URL --seed seed.txt [--clients 16] [--duration 30s | --count N] [--size 102400] [--journal FILE]
  mhdload verify --url URL --seed seed.txt --journal FILE [--clients 8]
  mhdload search --url URL --seed seed.txt [--requests 1000] [--clients 1,4,16]

Run "mhdload <command> --help" for each command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"seed": runSeed, "load": runLoad, "verify": runVerify, "search": runSearch,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

// latencies summarises request durations.
type latencies []time.Duration

func (l latencies) summary() string {
	if len(l) == 0 {
		return "no requests"
	}
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", ms(s.pct(50)), ms(s.pct(90)), ms(s.pct(99)), ms(s[len(s)-1]))
}

// pct returns the p-th percentile of sorted s (nearest rank).
func (l latencies) pct(p float64) time.Duration {
	i := int(float64(len(l))*p/100+0.5) - 1
	return l[max(0, min(i, len(l)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// errorKind names an error for the report: its HTTP status, or what failed in transport.
func errorKind(err error) string {
	var se *mhdclient.StatusError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("HTTP %d", se.Code)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	}
	return "other"
}

// cpuTime is the CPU this process used so far (user + system), to show what the load
// generator took from the machine it shares with the server.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startCPUProfile profiles this process into path until the returned stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// procCPU returns the CPU time (user + system) process pid used so far, from /proc (Linux), or
// -1 when it cannot be read. The server's CPU per request is a figure that other load on a
// shared machine disturbs far less than latency.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name, field 2, is in parentheses and may hold spaces: count from after it.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	const clockTicks = 100 // USER_HZ, 100 on every Linux platform Go supports
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// serverCPU describes what the server used during a run of n requests.
func serverCPU(before, after time.Duration, n int, elapsed time.Duration, what string) string {
	if before < 0 || after < 0 || n == 0 {
		return ""
	}
	d := after - before
	return fmt.Sprintf("server CPU %.2fms per %s (%.0f%% of one core)",
		float64(d)/float64(time.Millisecond)/float64(n), what, 100*d.Seconds()/elapsed.Seconds())
}

// loadAverage returns the 1-minute load average, to show how busy the shared machine was.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
