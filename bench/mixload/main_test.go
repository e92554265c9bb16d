package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/bench/benchseed"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/config"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// The load tool against a real `carnet serve --demo` (the built binary, SQLite or PostgreSQL
// by CARNET_TEST_DATABASE) on a store seeded as `mhdload seed` does (patients, a professional
// and their token, PER mailboxes with app passwords and messages in their INBOX, app grants):
// one short step at a low rate runs every operation of the mix, and none fails.
func TestEveryOperationRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	target := storetest.NewTarget(t)
	dbURL := "sqlite:" + filepath.Join(dir, "carnet.db")
	if target.Dialect == store.Postgres {
		dbURL = target.DSN
	}
	settings := []string{"--data-dir", dir, "--database-url", dbURL}
	bin := buildCarnet(t)

	seedPath := filepath.Join(dir, "seed.txt")
	func() {
		cfg, err := config.Load(flag.NewFlagSet("test", flag.ContinueOnError), settings, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		db, err := benchseed.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		now := time.Now().UTC()
		patients, err := benchseed.Patients(ctx, db, 0, 12, 12, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := benchseed.Professional(ctx, db, 1, now)
		if err != nil {
			t.Fatal(err)
		}
		token, err := benchseed.Token(ctx, db, p, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		master, err := cfg.MasterKey()
		if err != nil {
			t.Fatal(err)
		}
		blobs, err := blob.NewFS(filepath.Join(dir, "blobs"), master)
		if err != nil {
			t.Fatal(err)
		}
		// The mail service's argon2id parameters (only app passwords made before the keyed
		// hash use them); cheap, for a test.
		cheap := password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32, MinLength: 12, MaxBytes: 1024}
		boxes, err := benchseed.Mailboxes(ctx, db, benchseed.MailSpec{Domain: cfg.Domain, Seal: cfg.SealKey(master), Blobs: blobs,
			First: 1, Count: 2, Inbox: 3, Size: 4096, Password: cheap}, now)
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := benchseed.AppTokens(ctx, db, patients[:3], time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		f := &benchseed.File{Token: token, Professional: p.IdNat.String(), Domain: cfg.Domain, Mailboxes: boxes}
		for i, pt := range patients {
			f.Patients = append(f.Patients, pt.INS)
			if i < len(tokens) {
				f.Apps = append(f.Apps, benchseed.App{INS: pt.INS, Token: tokens[i]})
			}
		}
		if err := f.Write(seedPath, "test"); err != nil {
			t.Fatal(err)
		}
		back, err := benchseed.ReadFile(seedPath)
		if err != nil || back.Domain != f.Domain || len(back.Mailboxes) != 2 || back.Mailboxes[1] != boxes[1] ||
			len(back.Apps) != 3 || back.Apps[2] != f.Apps[2] || len(back.Patients) != 12 {
			t.Fatalf("seed file read back: %+v %v", back, err)
		}
	}()

	srv := startServe(t, bin, settings)
	out := filepath.Join(dir, "mixload.json")
	var stdout, stderr bytes.Buffer
	// Every operation weighs the same, at a rate that gives each of them several runs.
	err := run(ctx, []string{"--url", srv.http, "--seed", seedPath, "--outbox", filepath.Join(dir, "outbox"),
		"--smtp-addr", srv.submission, "--imap-addr", srv.imap, "--rates", "40", "--duration", "1s", "--p99", "1m",
		"--mix", "deposit=1,search=1,read=1,page=1,smtp=1,imap=1,pch01=1", "--json", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s\nserver:\n%s", err, stderr.String(), srv.stderr.String())
	}
	var rep Report
	raw, err := os.ReadFile(out)
	if err != nil || json.Unmarshal(raw, &rep) != nil || len(rep.Steps) != 1 {
		t.Fatalf("report: %v %s", err, raw)
	}
	st := rep.Steps[0]
	for _, name := range operations {
		op := st.Ops[name]
		if op == nil || op.Count == 0 {
			t.Errorf("%s never ran:\n%s", name, stdout.String())
			continue
		}
		if op.Errors != 0 {
			t.Errorf("%s: %d errors:\n%s\nserver:\n%s", name, op.Errors, stdout.String(), srv.stderr.String())
		}
	}
	if st.Dropped != 0 || rep.Capacity != 40 || st.ServerCPU <= 0 || st.ServerRSS <= 0 {
		t.Errorf("step: dropped %d, capacity %v, server CPU %v, RSS %v", st.Dropped, rep.Capacity, st.ServerCPU, st.ServerRSS)
	}
	if !strings.Contains(stdout.String(), "capacity: 40 ops/s") {
		t.Errorf("table:\n%s", stdout.String())
	}
	// An operation the tool does not know is refused before anything runs.
	if err := run(ctx, []string{"--seed", seedPath, "--mix", "fax=1"}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "fax") {
		t.Errorf("unknown operation: %v", err)
	}
}

func buildCarnet(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "carnet")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	if out, err := exec.Command(goTool, "build", "-o", bin, "github.com/carnet-sante/carnet/cmd/carnet").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// served is `carnet serve --demo` running as a child process.
type served struct {
	http, submission, imap string
	stderr                 *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	httpListening = regexp.MustCompile(`listening on (http://[0-9.:]+)`)
	mailListening = regexp.MustCompile(`^carnet (SMTP submission|IMAP) listening on ([0-9.:]+)`)
)

func startServe(t *testing.T, bin string, settings []string) *served {
	t.Helper()
	args := append([]string{"serve", "--demo", "--http-addr", "127.0.0.1:0", "--smtp-relay-addr", "127.0.0.1:0",
		"--smtp-submission-addr", "127.0.0.1:0", "--imap-addr", "127.0.0.1:0", "--shutdown-timeout", "10s", "--log-level", "warn"}, settings...)
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &served{stderr: new(syncBuffer)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if m := mailListening.FindStringSubmatch(sc.Text()); m != nil {
				if m[1] == "IMAP" {
					s.imap = m[2]
				} else {
					s.submission = m[2]
				}
			}
			if m := httpListening.FindStringSubmatch(sc.Text()); m != nil && !strings.HasPrefix(sc.Text(), "carnet SMTP") &&
				!strings.HasPrefix(sc.Text(), "carnet IMAP") {
				s.http = m[1]
				close(ready)
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-done:
		done <- err
		t.Fatalf("carnet serve exited (%v) before listening:\n%s", err, s.stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("carnet serve did not say where it listens:\n%s", s.stderr.String())
	}
	if s.imap == "" || s.submission == "" {
		t.Fatalf("listeners: %+v", s)
	}
	return s
}
