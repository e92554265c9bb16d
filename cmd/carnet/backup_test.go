package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/backup"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// liveData is a data directory wired as `carnet serve` wires it (openStore, prepareSchema,
// the blob store in data_dir/blobs, the record service), being written to by the test. Backups
// are of the embedded default, so it is SQLite whatever CARNET_TEST_DATABASE says; these tests
// do not depend on the engine under test and never skip.
type liveData struct {
	dir    string
	args   []string // the settings pointing a command at it
	db     *store.DB
	blobs  *blob.FS
	rec    *record.Service
	ins    identity.INS
	pid    int64
	doctor record.Request

	mu   sync.Mutex
	sums map[string]string // logical id → SHA-256 of the bytes deposited, once acknowledged
}

func newLiveData(t *testing.T) *liveData {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--database-url", "sqlite:" + filepath.Join(dir, "carnet.db")}
	cfg, _, err := loadConfig("test", args, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, key, err := openStore(ctx, cfg, false) // generates data_dir/master.key
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := clock.NewFake(recordtest.T0)
	if err := prepareSchema(ctx, db, clk, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.New(db, jobs.Config{}, jobs.Deps{}); err != nil { // deposits queue their jobs
		t.Fatal(err)
	}
	blobs, err := blob.NewFS(filepath.Join(dir, "blobs"), key.master)
	if err != nil {
		t.Fatal(err)
	}
	matrix, err := access.DefaultMatrix()
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := terminology.Default()
	if err != nil {
		t.Fatal(err)
	}
	acc := access.NewService(db.Access(), clk, matrix, access.ServicePolicy{})
	rec, err := record.NewService(record.Deps{Store: db.Records(), Access: acc, Blobs: blobs, Catalog: catalog, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	d := &liveData{dir: dir, args: args, db: db, blobs: blobs, rec: rec, ins: recordtest.TestINS(t, 777),
		doctor: recordtest.Doctor(recordtest.RPPS(t, 777)), sums: map[string]string{}}
	d.pid = (&recordtest.Env{DB: db, Clock: clk}).Patient(t, d.ins)
	return d
}

// deposit stores document seq and records its hash once acknowledged.
func (d *liveData) deposit(ctx context.Context, seq, size int) (string, error) {
	content := recordtest.PDF(size, seq)
	doc, err := d.rec.Deposit(ctx, d.doctor, recordtest.Report(d.ins, fmt.Sprint("report ", seq)), content)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(content)
	d.mu.Lock()
	d.sums[doc.LogicalID] = hex.EncodeToString(sum[:])
	d.mu.Unlock()
	return doc.LogicalID, nil
}

// acknowledged returns the documents acknowledged so far.
func (d *liveData) acknowledged() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]string, len(d.sums))
	for k, v := range d.sums {
		out[k] = v
	}
	return out
}

// countDocs counts the documents ever deposited in the database at path (a deletion changes a
// document's status, it does not remove its row): a number that only grows.
func countDocs(t *testing.T, path string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(`SELECT COUNT(*) FROM documents WHERE is_current`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// A backup taken while documents keep being deposited and deleted restores to the state of
// one instant: the count of documents is the snapshot's, between the counts before and after
// the backup; every document acknowledged before the backup began is there; the trace log
// verifies; and every readable document reads back with the hash of the bytes deposited.
func TestBackupUnderWriteLoadRestoresConsistently(t *testing.T) {
	ctx := context.Background()
	live := newLiveData(t)
	const size = 20 << 10
	for i := range 200 {
		if _, err := live.deposit(ctx, i, size); err != nil {
			t.Fatal(err)
		}
	}

	// The write load: deposits, and every fifth time the deletion of an earlier document,
	// whose blob is erased right after the deletion commits.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var loadErr error
	wg.Go(func() {
		var mine []string
		for i := 1000; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id, err := live.deposit(ctx, i, size)
			if err != nil {
				loadErr = err
				return
			}
			mine = append(mine, id)
			if i%5 == 0 {
				if err := live.rec.Delete(ctx, live.doctor, mine[0]); err != nil {
					loadErr = err
					return
				}
				mine = mine[1:]
			}
		}
	})
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	dbPath := filepath.Join(live.dir, "carnet.db")
	for countDocs(t, dbPath) < 220 { // the load is running
		time.Sleep(5 * time.Millisecond)
	}

	before := live.acknowledged()
	countBefore := countDocs(t, dbPath)
	dest := filepath.Join(t.TempDir(), "backup")
	code, out, errOut := runCmd(append([]string{"backup", "--to", dest}, live.args...)...)
	countAfter := countDocs(t, dbPath)
	close(stop)
	wg.Wait()
	if loadErr != nil {
		t.Fatalf("write load: %v", loadErr)
	}
	if code != 0 || !strings.Contains(out, "backup complete") {
		t.Fatalf("backup: %d\n%s\n%s", code, out, errOut)
	}
	if countAfter <= countBefore {
		t.Fatalf("no document was deposited during the backup (%d before, %d after): the test took no backup under load", countBefore, countAfter)
	}
	t.Logf("%d documents before the backup, %d after\n%s", countBefore, countAfter, out)
	m, err := backup.ReadManifest(dest)
	if err != nil {
		t.Fatal(err)
	}
	master, err := os.ReadFile(filepath.Join(live.dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dest, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if filepath.Base(path) == "master.key" {
			return fmt.Errorf("the master key is in the backup: %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "keep master key "+m.MasterKeys.Current) {
		t.Fatalf("the backup does not say which key it needs:\n%s", out)
	}

	// Restored into a new data directory holding only the backup's master key.
	newDir := filepath.Join(t.TempDir(), "restored")
	if err := os.Mkdir(newDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(newDir, "master.key"), master, 0o600); err != nil {
		t.Fatal(err)
	}
	newArgs := []string{"--data-dir", newDir}
	code, out, errOut = runCmd(append([]string{"restore", "--from", dest}, newArgs...)...)
	if code != 0 || !strings.Contains(out, "the trace log is intact") || !strings.Contains(out, "restore complete") {
		t.Fatalf("restore: %d\n%s\n%s", code, out, errOut)
	}
	restoredDB := filepath.Join(newDir, "carnet.db")
	total := countDocs(t, restoredDB)
	if total < countBefore || total > countAfter {
		t.Fatalf("restored %d documents: not a state between the backup's start (%d) and end (%d)", total, countBefore, countAfter)
	}
	if code, out, errOut := runCmd(append([]string{"audit", "verify"}, newArgs...)...); code != 0 {
		t.Fatalf("audit verify of the restored data: %d\n%s\n%s", code, out, errOut)
	}

	// Every document of the restored database: one the test deposited, acknowledged with the
	// same bytes; and every readable one reads back.
	cfg, _, err := loadConfig("test", newArgs, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, key, err := openStore(ctx, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs, err := blob.NewFS(filepath.Join(newDir, "blobs"), key.master)
	if err != nil {
		t.Fatal(err)
	}
	acked := live.acknowledged()
	var readable int64
	err = db.View(ctx, func(tx *store.Tx) error {
		docs, err := tx.SearchDocuments(ctx, record.Query{PatientID: live.pid, Limit: 1 << 20,
			Statuses: []record.Status{record.Approved, record.Deprecated, record.Deleted}})
		if err != nil {
			return err
		}
		if int64(len(docs)) != total {
			return fmt.Errorf("%d documents listed, %d counted", len(docs), total)
		}
		present := map[string]bool{}
		for _, d := range docs {
			present[d.LogicalID] = true
			sum, ok := acked[d.LogicalID]
			if !ok {
				// Committed during the backup, before its deposit returned: possible, and
				// its bytes must still be there.
				sum = d.SHA256
			}
			if d.SHA256 != sum {
				return fmt.Errorf("document %s: SHA-256 %s, deposited with %s", d.LogicalID, d.SHA256, sum)
			}
			if d.Status == record.Deleted {
				continue
			}
			readable++
			rc, err := blobs.Open(ctx, blob.Ref{ID: d.BlobID, Size: d.Size, SHA256: d.SHA256, SHA1: d.SHA1})
			if err != nil {
				return fmt.Errorf("document %s: %w", d.LogicalID, err)
			}
			h := sha256.New()
			_, err = io.Copy(h, rc)
			rc.Close()
			if err != nil || hex.EncodeToString(h.Sum(nil)) != sum {
				return fmt.Errorf("document %s reads back wrong: %v", d.LogicalID, err)
			}
		}
		for id := range before {
			if !present[id] {
				return fmt.Errorf("document %s, acknowledged before the backup began, is not in it", id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if readable != m.Counts.Documents || readable == 0 {
		t.Fatalf("%d readable documents restored, the manifest says %d", readable, m.Counts.Documents)
	}
}

// newBackup makes a data directory with a few documents and backs it up.
func newBackup(t *testing.T, docs int) (live *liveData, dest string) {
	t.Helper()
	live = newLiveData(t)
	for i := range docs {
		if _, err := live.deposit(context.Background(), i, 5000+i); err != nil {
			t.Fatal(err)
		}
	}
	dest = filepath.Join(t.TempDir(), "backup")
	if code, out, errOut := runCmd(append([]string{"backup", "--to", dest}, live.args...)...); code != 0 {
		t.Fatalf("backup: %d\n%s\n%s", code, out, errOut)
	}
	return live, dest
}

// A restore checks what it restores, and refuses to put anything damaged in place.
func TestRestoreRefusesDamage(t *testing.T) {
	live, dest := newBackup(t, 3)
	keyArgs := []string{"--master-key-file", filepath.Join(live.dir, "master.key")}
	restore := func(dir string) (int, string, string) {
		return runCmd(append([]string{"restore", "--from", dest, "--data-dir", dir}, keyArgs...)...)
	}
	unverified := func(dir string) {
		t.Helper()
		if _, err := os.Stat(filepath.Join(dir, "carnet.db")); err == nil {
			t.Fatal("a damaged restore was put in place")
		}
		if _, err := os.Stat(filepath.Join(dir, "carnet.db"+backup.UnverifiedSuffix)); err != nil {
			t.Fatalf("the unverified copy is not left for inspection: %v", err)
		}
	}

	t.Run("non-empty target", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "carnet.db"), []byte("older"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := restore(dir)
		if code != 1 || !strings.Contains(errOut, "is not empty (it holds carnet.db)") {
			t.Fatalf("into a non-empty directory: %d %s", code, errOut)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "carnet.db")); string(b) != "older" {
			t.Fatal("the existing database was touched")
		}
	})

	t.Run("corrupted blob", func(t *testing.T) {
		var victim string
		err := filepath.WalkDir(filepath.Join(dest, backup.BlobsDir), func(path string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && !strings.HasSuffix(path, ".key") && victim == "" {
				victim = path
			}
			return err
		})
		if err != nil || victim == "" {
			t.Fatalf("no blob in the backup: %v", err)
		}
		b, err := os.ReadFile(victim)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(victim, b, 0o600)
		bad := bytes.Clone(b)
		bad[len(bad)/2] ^= 0x01
		if err := os.WriteFile(victim, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "new")
		code, out, errOut := restore(dir)
		id := filepath.Base(victim)
		if code != 1 || !strings.Contains(out, "blob "+id+": blob corrupted") || !strings.Contains(errOut, "1 of 3 blobs the database refers to are missing or corrupted") {
			t.Fatalf("restore of a corrupted blob: %d\n%s\n%s", code, out, errOut)
		}
		unverified(dir)
		t.Logf("restore of a corrupted blob:\n%s%s", out, errOut)
	})

	t.Run("database does not match the manifest", func(t *testing.T) {
		path := filepath.Join(dest, backup.DatabaseName)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(path, b, 0o600)
		bad := bytes.Clone(b)
		bad[len(bad)-1] ^= 0x01 // the last page: the file still opens
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "new")
		code, _, errOut := restore(dir)
		if code != 1 || !strings.Contains(errOut, "the database of the backup does not match its manifest") || !strings.Contains(errOut, "the backup is damaged") {
			t.Fatalf("restore of an altered database: %d %s", code, errOut)
		}
		unverified(dir)
	})

	t.Run("manifest does not match the backup", func(t *testing.T) {
		path := filepath.Join(dest, backup.ManifestName)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(path, b, 0o600)
		var m backup.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m.Counts.Documents++ // as if a document had been dropped from the database
		edited, _ := json.Marshal(m)
		if err := os.WriteFile(path, edited, 0o600); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "new")
		code, _, errOut := restore(dir)
		if code != 1 || !strings.Contains(errOut, "does not match its manifest (schema version") {
			t.Fatalf("restore against an edited manifest: %d %s", code, errOut)
		}
		unverified(dir)
	})

	t.Run("missing blob", func(t *testing.T) {
		var victim string
		filepath.WalkDir(filepath.Join(dest, backup.BlobsDir), func(path string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && !strings.HasSuffix(path, ".key") && victim == "" {
				victim = path
			}
			return err
		})
		b, err := os.ReadFile(victim)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(victim, b, 0o600)
		os.Remove(victim)
		code, _, errOut := restore(filepath.Join(t.TempDir(), "new"))
		if code != 1 || !strings.Contains(errOut, "the blobs of the backup do not match its manifest (2 blobs") {
			t.Fatalf("restore with a blob missing: %d %s", code, errOut)
		}
	})

	// Put back as it was, the backup restores.
	dir := filepath.Join(t.TempDir(), "new")
	code, out, errOut := restore(dir)
	if code != 0 || !strings.Contains(out, "3 documents; 3 blobs") {
		t.Fatalf("restore of the intact backup: %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("restore:\n%s%s", out, errOut)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "blobs carnet.db" {
		t.Fatalf("the restored data directory holds %s", got)
	}
}

func TestBackupUsageAndPostgres(t *testing.T) {
	if code, _, errOut := runCmd("backup", "--data-dir", t.TempDir()); code != 2 || !strings.Contains(errOut, "usage: carnet backup --to DIR") {
		t.Fatalf("backup without --to: %d %s", code, errOut)
	}
	if code, _, errOut := runCmd("restore", "--data-dir", t.TempDir()); code != 2 || !strings.Contains(errOut, "usage: carnet restore --from DIR") {
		t.Fatalf("restore without --from: %d %s", code, errOut)
	}
	// On PostgreSQL the command says what to do instead, without connecting anywhere.
	pg := []string{"--data-dir", t.TempDir(), "--database-url", "postgres://carnet@127.0.0.1:1/carnet"}
	for _, cmd := range [][]string{{"backup", "--to", t.TempDir()}, {"restore", "--from", t.TempDir()}} {
		code, _, errOut := runCmd(append(cmd, pg...)...)
		if code != 1 || !strings.Contains(errOut, "pg_dump") || !strings.Contains(errOut, "blobs after the dump") {
			t.Fatalf("%s on PostgreSQL: %d %s", cmd[0], code, errOut)
		}
	}
	// A backup of a data directory that has none refuses, rather than invent a master key.
	if code, _, errOut := runCmd("backup", "--to", t.TempDir(), "--data-dir", t.TempDir()); code != 1 || !strings.Contains(errOut, "no master key") {
		t.Fatalf("backup of an empty data directory: %d %s", code, errOut)
	}
}
