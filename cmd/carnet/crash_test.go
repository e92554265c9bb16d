package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/bench/benchseed"
	"github.com/carnet-sante/carnet/bench/mhdclient"
	"github.com/carnet-sante/carnet/internal/identity"
)

// DESIGN invariant 1: an acknowledged deposit survives kill -9. The built binary serves
// (SQLite, or PostgreSQL with CARNET_TEST_DATABASE=postgres), eight clients deposit 100 KB
// PDFs through ITI-65 and journal every acknowledgement (fsynced as it arrives), the server is
// killed with SIGKILL in the middle of the load, restarted on the same data, and every
// journalled document must read back (ITI-68) with the hashes of the bytes sent; then the
// trace log must verify.
func TestCrashKeepsAcknowledgedDeposits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	db := dbArgs(t, dir)
	bin := buildCarnet(t)

	// The store is seeded in-process before the server starts: `carnet space create` makes
	// a pending space, which refuses deposits, so the open spaces are written directly.
	const nPatients = 8
	var (
		patients []identity.INS
		idnat    string
		token    string
	)
	func() {
		cfg, _, err := loadConfig("test", db, io.Discard, nil)
		if err != nil {
			t.Fatal(err)
		}
		st, err := benchseed.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		now := time.Now().UTC()
		ps, err := benchseed.Patients(ctx, st, 0, nPatients, nPatients, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			patients = append(patients, p.INS)
		}
		p, err := benchseed.Professional(ctx, st, 1, now)
		if err != nil {
			t.Fatal(err)
		}
		idnat = p.IdNat.String()
		if token, err = benchseed.Token(ctx, st, p, time.Hour); err != nil {
			t.Fatal(err)
		}
	}()

	srv := startChild(t, bin, db)
	journalPath := filepath.Join(dir, "journal")
	journal, err := mhdclient.CreateJournal(journalPath)
	if err != nil {
		t.Fatal(err)
	}
	defer journal.Close()

	// The load: eight clients until the kill.
	const clients = 8
	c := mhdclient.New(srv.base, token, clients)
	var (
		killing  atomic.Bool
		acked    atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string // errors before the kill: none is expected
	)
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			for !killing.Load() && ctx.Err() == nil {
				ins := patients[rng.IntN(len(patients))]
				doc := mhdclient.NewDocument(ins, idnat, "CR de consultation (crash test)", mhdclient.PDF(100<<10, rng.Uint64()), time.Now())
				bundle, err := mhdclient.ProvideBundle(doc)
				if err != nil {
					t.Error(err)
					return
				}
				ack, err := c.Deposit(ctx, bundle)
				if err != nil {
					if !killing.Load() {
						mu.Lock()
						failures = append(failures, err.Error())
						mu.Unlock()
					}
					continue
				}
				if err := journal.Append(mhdclient.Record{ID: ack.ID, Size: int64(len(doc.Content)),
					SHA1: doc.SHA1, SHA256: doc.SHA256, INS: ins.Matricule}); err != nil {
					t.Error(err)
					return
				}
				acked.Add(1)
			}
		}()
	}
	// Kill after a second and a half of load, once some deposits are acknowledged.
	time.Sleep(1500 * time.Millisecond)
	for deadline := time.Now().Add(20 * time.Second); acked.Load() < 20 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	killing.Store(true)
	srv.kill(t)
	wg.Wait()
	c.Close()
	if len(failures) > 0 {
		t.Fatalf("%d deposits failed before the kill; first: %s\nserver log:\n%s", len(failures), failures[0], srv.stderr.String())
	}
	if acked.Load() < 20 {
		t.Fatalf("only %d deposits acknowledged before the kill:\n%s", acked.Load(), srv.stderr.String())
	}

	// Restart on the same data: every acknowledged deposit is there, whole.
	srv = startChild(t, bin, db)
	recs, err := mhdclient.ReadJournal(journalPath)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(recs)) != acked.Load() {
		t.Fatalf("the journal holds %d records, %d deposits were acknowledged", len(recs), acked.Load())
	}
	c = mhdclient.New(srv.base, token, 8)
	defer c.Close()
	sum := mhdclient.CheckAll(ctx, c, recs, 8)
	if !sum.Intact() {
		t.Fatalf("after kill -9, %d of %d acknowledged deposits are lost or damaged:\n%s", len(recs)-sum.OK, len(recs),
			strings.Join(sum.Lines(20), "\n"))
	}
	// The restarted server takes deposits again, and finds each patient's documents.
	doc := mhdclient.NewDocument(patients[0], idnat, "CR après redémarrage", mhdclient.PDF(10<<10, rand.Uint64()), time.Now())
	bundle, err := mhdclient.ProvideBundle(doc)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := c.Deposit(ctx, bundle)
	if err != nil {
		t.Fatalf("deposit after the restart: %v", err)
	}
	if err := c.Check(ctx, mhdclient.Record{ID: ack.ID, Size: int64(len(doc.Content)), SHA1: doc.SHA1, SHA256: doc.SHA256}); err != nil {
		t.Fatalf("read back after the restart: %v", err)
	}
	perPatient := map[string]int{}
	for _, r := range recs {
		perPatient[r.INS]++
	}
	perPatient[patients[0].Matricule]++
	for _, ins := range patients {
		if perPatient[ins.Matricule] == 0 {
			// No deposit of theirs was acknowledged before the kill (a slow machine spreads
			// few over many patients): the doctor is not in their care team, and rightly
			// refused.
			continue
		}
		r, err := c.Search(ctx, ins, 1000)
		if err != nil {
			t.Fatalf("ITI-67 after the restart: %v", err)
		}
		if r.Entries < perPatient[ins.Matricule] {
			t.Fatalf("ITI-67 finds %d documents of a patient, %d were acknowledged", r.Entries, perPatient[ins.Matricule])
		}
	}
	srv.stop(t)

	out, err := exec.CommandContext(ctx, bin, append([]string{"audit", "verify"}, db...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "the trace log is intact") {
		t.Fatalf("audit verify after the crash: %v\n%s", err, out)
	}
	t.Logf("%d deposits acknowledged before kill -9, all intact after the restart; %s", len(recs), strings.TrimSpace(string(out)))
}

// buildCarnet builds this command into a temporary directory, once per test.
func buildCarnet(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "carnet")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// child is `carnet serve` running as a process of its own.
type child struct {
	cmd    *exec.Cmd
	base   string
	stderr *syncBuffer
	done   chan error
}

var childListening = regexp.MustCompile(`listening on (http://[0-9.:]+)`)

// startChild starts the binary's serve on a free port with the database flags db.
func startChild(t *testing.T, bin string, db []string) *child {
	t.Helper()
	args := append([]string{"serve", "--http-addr", "127.0.0.1:0", "--smtp-relay-addr", "127.0.0.1:0", "--imap-addr", "127.0.0.1:0", "--smtp-submission-addr", "127.0.0.1:0", "--shutdown-timeout", "10s", "--log-level", "warn"}, db...)
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stderr: new(syncBuffer), done: make(chan error, 1)}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-c.done
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := childListening.FindStringSubmatch(sc.Text()); m != nil {
				lines <- m[1]
			}
		}
		c.done <- cmd.Wait()
	}()
	select {
	case c.base = <-lines:
		return c
	case err := <-c.done:
		t.Fatalf("carnet serve exited (%v) before listening:\n%s", err, c.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("carnet serve did not say where it listens:\n%s", c.stderr.String())
	}
	return nil
}

// kill ends the server as a crash would: SIGKILL, no shutdown of any kind.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-c.done
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the server did not die of SIGKILL: %v", err)
	}
}

// stop ends the server cleanly (SIGTERM), so that the trace log can be checked.
func (c *child) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("carnet serve after SIGTERM: %v\n%s", err, c.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("carnet serve did not stop on SIGTERM:\n%s", c.stderr.String())
	}
}
