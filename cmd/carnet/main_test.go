package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// dbArgs returns the flags that point a command at a fresh database of the selected engine.
func dbArgs(t *testing.T, dataDir string) []string {
	t.Helper()
	target := storetest.NewTarget(t)
	url := "sqlite:" + filepath.Join(dataDir, "carnet.db")
	if target.Dialect == store.Postgres {
		url = target.DSN
	}
	return []string{"--data-dir", dataDir, "--database-url", url}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two goroutines.
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

var listening = regexp.MustCompile(`listening on (http://[0-9.:]+)`)

// served is a `carnet serve` running in-process on a free port.
type served struct {
	base           string
	stdout, stderr *syncBuffer
	cancel         func()
	done           chan int
}

// startServe runs serve with the database flags db (dbArgs) until the test ends or stop is
// called. Commands run beside it take the same flags: dbArgs makes a new database each call.
func startServe(t *testing.T, db []string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{stdout: new(syncBuffer), stderr: new(syncBuffer), cancel: cancel, done: make(chan int, 1)}
	stopped := make(chan struct{})
	// Stop the server and wait for it before the test's directories are removed (cleanups run
	// last registered first): a server still writing its data directory would fail the removal.
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
		}
	})
	args := append([]string{"serve", "--http-addr", "127.0.0.1:0", "--smtp-relay-addr", "127.0.0.1:0", "--imap-addr", "127.0.0.1:0", "--smtp-submission-addr", "127.0.0.1:0", "--shutdown-timeout", "10s"}, db...)
	go func() { s.done <- run(ctx, args, s.stdout, s.stderr); close(stopped) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := listening.FindStringSubmatch(s.stdout.String()); m != nil {
			s.base = m[1]
			return s
		}
		select {
		case code := <-s.done:
			t.Fatalf("serve exited with %d:\n%s\n%s", code, s.stdout.String(), s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not say where it listens:\n%s", s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, dbArgs(t, dir))
	base, stderr, cancel, done := s.base, s.stderr, s.cancel, s.done
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	if code, _ := get("/no/such/page"); code != 404 {
		t.Fatalf("unknown path = %d", code)
	}
	code, metrics := get("/metrics")
	if code != 200 || !strings.Contains(metrics, `carnet_http_requests_total{code="200",route="GET /readyz"} 1`) ||
		!strings.Contains(metrics, `go_sql_max_open_connections{db_name="carnet"}`) {
		t.Fatalf("/metrics = %d, missing request or database metrics:\n%.2000s", code, metrics)
	}
	// The key was generated with owner-only permissions.
	if fi, err := os.Stat(filepath.Join(dir, "blobs", "tmp")); err != nil || !fi.IsDir() {
		t.Fatalf("blob store not created: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master.key: %v %v", fi, err)
	}
	// Logs name routes, never paths (which may carry an INS).
	if strings.Contains(stderr.String(), "/no/such/page") {
		t.Fatalf("a request path reached the logs:\n%s", stderr.String())
	}
	cancel() // SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited with %d after shutdown:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(stderr.String(), "carnet stopped") {
		t.Fatalf("no clean stop in the logs:\n%s", stderr.String())
	}
}

func TestSchemaBehindIsRefused(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db := dbArgs(t, dir)
	var out, errb bytes.Buffer
	if code := run(ctx, append([]string{"migrate"}, db...), &out, &errb); code != 0 {
		t.Fatalf("migrate: %d %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "schema version 0 → ") {
		t.Fatalf("migrate said %q", out.String())
	}
	// Pretend the binary is newer than the database: forget the job queue's last migration.
	cfg, _, err := loadConfig("test", db, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := openStore(ctx, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SQL().Exec(`DELETE FROM river_migration WHERE version = (SELECT MAX(version) FROM river_migration)`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out.Reset()
	errb.Reset()
	code := run(ctx, append([]string{"serve", "--http-addr", "127.0.0.1:0", "--smtp-relay-addr", "127.0.0.1:0", "--imap-addr", "127.0.0.1:0", "--smtp-submission-addr", "127.0.0.1:0"}, db...), &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "run `carnet migrate`") {
		t.Fatalf("serve on a schema behind: exit %d, %s", code, errb.String())
	}
	if code := run(ctx, append([]string{"migrate"}, db...), &out, &errb); code != 0 {
		t.Fatalf("migrate: %d %s", code, errb.String())
	}
}

func TestAuditVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db := dbArgs(t, dir)
	var out, errb bytes.Buffer
	// Without a key, verify refuses rather than generating one.
	if code := run(ctx, append([]string{"audit", "verify"}, db...), &out, &errb); code != 1 || !strings.Contains(errb.String(), "no master key") {
		t.Fatalf("verify without a key: %d %s", code, errb.String())
	}
	if code := run(ctx, append([]string{"migrate"}, db...), &out, &errb); code != 0 {
		t.Fatalf("migrate: %d %s", code, errb.String())
	}
	cfg, _, err := loadConfig("test", db, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, k, err := openStore(ctx, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; i < 4; i++ {
		if err := st.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.AppendTrace(ctx, audit.Entry{At: time.Now(), Actor: audit.System("test"), Channel: audit.ChannelCLI,
				Action: "space.create", PatientID: 42, Object: "space", Outcome: audit.Allowed})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	if code := run(ctx, append([]string{"audit", "verify"}, db...), &out, &errb); code != 0 || !strings.Contains(out.String(), "6 traces in 3 chains") || !strings.Contains(out.String(), "intact") {
		t.Fatalf("verify intact: %d %s %s", code, out.String(), errb.String())
	}
	// A checkpoint kept outside the database catches a chain cut back to an earlier head.
	cpFile := filepath.Join(t.TempDir(), "checkpoint")
	out.Reset()
	if code := run(ctx, append([]string{"audit", "verify", "--save-checkpoint", cpFile}, db...), &out, &errb); code != 0 || !strings.Contains(out.String(), "checkpoint saved") {
		t.Fatalf("save checkpoint: %d %s %s", code, out.String(), errb.String())
	}
	var oldSeq int64
	var oldHash, oldSeal string
	if err := st.SQL().QueryRow(`SELECT last_seq, last_hash, seal FROM audit_chains WHERE chain = 'p42'`).Scan(&oldSeq, &oldHash, &oldSeal); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.AppendTrace(ctx, audit.Entry{At: time.Now(), Actor: audit.System("test"), Channel: audit.ChannelCLI,
			Action: "space.read", PatientID: 42, Object: "space", Outcome: audit.Allowed})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	storetest.DisableAppendOnly(t, st)
	// Cut the trace written after the checkpoint and put the old head back: the seals agree...
	if _, err := st.SQL().Exec(`DELETE FROM traces WHERE chain = 'p42' AND seq = $1`, oldSeq+1); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SQL().Exec(`UPDATE audit_chains SET last_seq = $1, last_hash = $2, seal = $3 WHERE chain = 'p42'`, oldSeq, oldHash, oldSeal); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(ctx, append([]string{"audit", "verify"}, db...), &out, &errb); code != 0 {
		t.Fatalf("a rollback to a real head should pass the seals: %d %s", code, out.String())
	}
	// ...and the checkpoint finds nothing wrong either: the cut trace came after it. A
	// checkpoint protects what it recorded.
	if code := run(ctx, append([]string{"audit", "verify", "--checkpoint", cpFile}, db...), &out, &errb); code != 0 {
		t.Fatalf("verify against the checkpoint: %d %s", code, out.String())
	}
	// Cutting below the checkpoint is caught.
	if _, err := st.SQL().Exec(`DELETE FROM traces WHERE chain = 'p42' AND seq = $1`, oldSeq); err != nil {
		t.Fatal(err)
	}
	prev := oldSeq - 1
	var prevHash string
	st.SQL().QueryRow(`SELECT hash FROM traces WHERE chain = 'p42' AND seq = $1`, prev).Scan(&prevHash)
	if _, err := st.SQL().Exec(`UPDATE audit_chains SET last_seq = $1, last_hash = $2, seal = $3 WHERE chain = 'p42'`,
		prev, prevHash, k.trace.SealHead("p42", prev, prevHash)); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(ctx, append([]string{"audit", "verify"}, db...), &out, &errb); code != 0 {
		t.Fatalf("without the checkpoint, a sealed rollback is invisible: %d %s", code, out.String())
	}
	out.Reset()
	if code := run(ctx, append([]string{"audit", "verify", "--checkpoint", cpFile}, db...), &out, &errb); code != 1 || !strings.Contains(out.String(), "cut back") {
		t.Fatalf("rollback below the checkpoint: %d %s", code, out.String())
	}
	cp, _ := os.ReadFile(cpFile)
	os.WriteFile(cpFile, []byte(strings.Replace(string(cp), "p42\t", "p43\t", 1)), 0o600)
	if code := run(ctx, append([]string{"audit", "verify", "--checkpoint", cpFile}, db...), &out, &errb); code != 1 || !strings.Contains(errb.String(), "altered") {
		t.Fatalf("edited checkpoint: %d %s", code, errb.String())
	}
	if _, err := st.SQL().Exec(`UPDATE traces SET action = 'space.read' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(ctx, append([]string{"audit", "verify"}, db...), &out, &errb); code != 1 || !strings.Contains(out.String(), "altered: chain p42, trace #2") {
		t.Fatalf("verify tampered: %d %s", code, out.String())
	}
}

func TestHelpAndVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--help"}, &out, &errb); code != 0 {
		t.Fatalf("serve --help: %d", code)
	}
	for _, key := range []string{"CARNET_DATA_DIR", "CARNET_DATABASE_URL", "CARNET_HTTP_ADDR", "CARNET_MASTER_KEY_FILE", "CARNET_NOTIFY_MODE", "CARNET_SHUTDOWN_TIMEOUT"} {
		if !strings.Contains(errb.String(), key) {
			t.Errorf("serve --help does not document %s", key)
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "carnet ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("unknown command: %d", code)
	}
	errb.Reset()
	if code := run(context.Background(), []string{"serve", "--http-addr", "nonsense"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "http_addr") {
		t.Fatalf("bad setting: %d %s", code, errb.String())
	}
}
