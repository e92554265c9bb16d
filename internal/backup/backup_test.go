package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/terminology"
)

var ctx = context.Background()

// testMaster is the master key of the test data directories.
var testMaster = bytes.Repeat([]byte{9}, 32)

// env is a data directory laid out as `carnet serve` keeps it (dir/carnet.db, dir/blobs), with
// a record service on it. Backups are of the embedded default only, so it is SQLite whatever
// CARNET_TEST_DATABASE says.
type env struct {
	dir     string
	rec     *recordtest.Env
	ins     identity.INS
	doctor  record.Request
	content map[string][]byte // logical id → bytes deposited
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	dir := tb.TempDir()
	trace, err := audit.DeriveKey(testMaster)
	if err != nil {
		tb.Fatal(err)
	}
	db, err := store.Open(ctx, store.SQLite, filepath.Join(dir, "carnet.db"), store.Options{TraceKey: trace})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	clk := clock.NewFake(recordtest.T0)
	if _, err := db.Migrate(ctx, clk.Now()); err != nil {
		tb.Fatal(err)
	}
	if _, err := jobs.Migrate(ctx, db); err != nil {
		tb.Fatal(err)
	}
	if _, err := jobs.New(db, jobs.Config{}, jobs.Deps{}); err != nil { // deposits queue jobs
		tb.Fatal(err)
	}
	blobs, err := blob.NewFS(filepath.Join(dir, "blobs"), testMaster)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := access.DefaultMatrix()
	if err != nil {
		tb.Fatal(err)
	}
	cat, err := terminology.Default()
	if err != nil {
		tb.Fatal(err)
	}
	acc := access.NewService(db.Access(), clk, m, access.ServicePolicy{})
	rec, err := record.NewService(record.Deps{Store: db.Records(), Access: acc, Blobs: blobs, Catalog: cat, Clock: clk})
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{dir: dir, rec: &recordtest.Env{DB: db, Clock: clk, Access: acc, Blobs: blobs, Records: rec, Catalog: cat, BlobDir: filepath.Join(dir, "blobs")},
		ins: recordtest.TestINS(tb, 4242), doctor: recordtest.Doctor(recordtest.RPPS(tb, 4242)), content: map[string][]byte{}}
	e.rec.Patient(tb, e.ins)
	return e
}

// deposit stores n documents of size bytes and returns their logical ids.
func (e *env) deposit(tb testing.TB, n, size int) []string {
	tb.Helper()
	var ids []string
	for i := range n {
		seed := len(e.content) + i
		content := recordtest.PDF(size, seed)
		d, err := e.rec.Records.Deposit(ctx, e.doctor, recordtest.Report(e.ins, fmt.Sprint("doc ", seed)), content)
		if err != nil {
			tb.Fatal(err)
		}
		e.content[d.LogicalID] = content
		ids = append(ids, d.LogicalID)
	}
	return ids
}

func (e *env) source() Source {
	return Source{Database: filepath.Join(e.dir, "carnet.db"), Blobs: filepath.Join(e.dir, "blobs")}
}

func keys() KeyIDs { return KeyIDs{Current: blob.KeyID(testMaster)} }

// auditVerify is what `carnet audit verify` does, for the tests of this package (the CLI's
// tests run the command itself).
func auditVerify(ctx context.Context, database string) error {
	trace, err := audit.DeriveKey(testMaster)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, store.SQLite, database, store.Options{TraceKey: trace})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CheckSchema(ctx); err != nil {
		return err
	}
	res, err := db.VerifyTraces(ctx, trace)
	if err != nil {
		return err
	}
	if !res.OK() {
		return fmt.Errorf("trace log: %v", res.Problems)
	}
	return nil
}

func restoreOptions() RestoreOptions {
	return RestoreOptions{Keys: keys(), Audit: auditVerify, OpenBlobs: func(dir string) (blob.Store, error) {
		return blob.NewFS(dir, testMaster)
	}}
}

// blobFiles lists the blob ids (not sidecars) under a blob directory.
func blobFiles(tb testing.TB, dir string) map[string]bool {
	tb.Helper()
	got := map[string]bool{}
	if err := walkBlobs(dir, func(_ string, names []string) error {
		for _, n := range names {
			if !strings.HasSuffix(n, sidecarSuffix) {
				got[n] = true
			}
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return got
}

// Documents deleted between the snapshot and the copy of their blobs: the backup takes a new
// snapshot, and what it keeps holds neither the documents nor their bytes.
func TestBackupStartsAgainWhenBlobsAreErased(t *testing.T) {
	e := newEnv(t)
	ids := e.deposit(t, 6, 3000)
	blobOf := map[string]string{}
	for _, id := range ids {
		d, err := e.rec.Records.Get(ctx, e.doctor, id)
		if err != nil {
			t.Fatal(err)
		}
		blobOf[id] = d.BlobID
	}
	erasedFirst, erasedAfterCopy := ids[1], ids[4]
	dest := filepath.Join(t.TempDir(), "b")
	var steps []string
	opt := Options{Version: "test", Keys: keys(), step: func(name string, attempt int) {
		steps = append(steps, fmt.Sprint(name, attempt))
		switch {
		case name == "snapshot" && attempt == 1:
			// Erased before its blob is copied: the copy misses it.
			if err := e.rec.Records.Delete(ctx, e.doctor, erasedFirst); err != nil {
				t.Error(err)
			}
		case name == "copied" && attempt == 1:
			// Erased after its blob was copied: the backup must not keep the copy.
			if err := e.rec.Records.Delete(ctx, e.doctor, erasedAfterCopy); err != nil {
				t.Error(err)
			}
		}
	}}
	m, err := Backup(ctx, e.source(), dest, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(steps, " "); got != "snapshot1 copied1 snapshot2 copied2" {
		t.Fatalf("steps: %s", got)
	}
	if m.Attempts != 2 || m.Counts.Documents != 4 || m.Blobs.Count != 4 {
		t.Fatalf("manifest: %+v", m)
	}
	files := blobFiles(t, filepath.Join(dest, BlobsDir))
	if len(files) != 4 || files[blobOf[erasedFirst]] || files[blobOf[erasedAfterCopy]] {
		t.Fatalf("blobs in the backup: %v", files)
	}
	if _, err := os.Stat(filepath.Join(dest, DatabaseName+partialSuffix)); err == nil {
		t.Fatal("the partial snapshot is left")
	}

	res, err := Restore(ctx, dest, Target{DataDir: filepath.Join(t.TempDir(), "new"), Database: filepath.Join(t.TempDir(), "db", "carnet.db")}, restoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	if res.Documents != 4 || res.Blobs != 4 || res.Bytes != 4*3000 || len(res.Problems) != 0 {
		t.Fatalf("restored: %+v", res)
	}
}

// A blob gone from the data directory while its document stays is not a deletion: the backup
// fails, naming it, rather than keep a document without its bytes.
func TestBackupFailsOnALostBlob(t *testing.T) {
	e := newEnv(t)
	ids := e.deposit(t, 3, 1000)
	d, err := e.rec.Records.Get(ctx, e.doctor, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(e.dir, "blobs", d.BlobID[:2], d.BlobID[2:4], d.BlobID)); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	_, err = Backup(ctx, e.source(), dest, Options{Keys: keys()})
	if err == nil || !strings.Contains(err.Error(), "blob "+d.BlobID+" of document "+d.LogicalID+" is missing") {
		t.Fatalf("backup with a lost blob: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dest, ManifestName)); err == nil {
		t.Fatal("a failed backup has a manifest")
	}
}

func TestBackupRefusals(t *testing.T) {
	e := newEnv(t)
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Backup(ctx, e.source(), full, Options{}); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("into a non-empty directory: %v", err)
	}
	if _, err := Backup(ctx, Source{Database: filepath.Join(e.dir, "nope.db"), Blobs: e.source().Blobs}, t.TempDir(), Options{}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("without a database: %v", err)
	}
}

func TestRestoreRefusals(t *testing.T) {
	e := newEnv(t)
	e.deposit(t, 2, 1000)
	dest := filepath.Join(t.TempDir(), "b")
	if _, err := Backup(ctx, e.source(), dest, Options{Keys: keys()}); err != nil {
		t.Fatal(err)
	}
	target := func(dir string) Target { return Target{DataDir: dir, Database: filepath.Join(dir, "carnet.db")} }

	// A data directory holding anything but its master key.
	used := t.TempDir()
	if err := os.WriteFile(filepath.Join(used, "master.key"), []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(used, "outbox"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, dest, target(used), restoreOptions()); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "holds outbox") {
		t.Fatalf("into a used directory: %v", err)
	}
	// Another master key than the backup's.
	opt := restoreOptions()
	opt.Keys.Current = blob.KeyID(bytes.Repeat([]byte{1}, 32))
	if _, err := Restore(ctx, dest, target(t.TempDir()), opt); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "taken under master key "+keys().Current) {
		t.Fatalf("under another key: %v", err)
	}
	// Not a backup, or an unfinished one.
	if _, err := Restore(ctx, t.TempDir(), target(t.TempDir()), restoreOptions()); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "no manifest.json") {
		t.Fatalf("without a manifest: %v", err)
	}
	// A file that has nothing to do in a blob tree, which could name another path.
	stray := filepath.Join(dest, BlobsDir, "zz")
	if err := os.Mkdir(stray, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, dest, target(filepath.Join(t.TempDir(), "n")), restoreOptions()); err == nil || !strings.Contains(err.Error(), "unexpected zz") {
		t.Fatalf("with a stray directory: %v", err)
	}
	os.Remove(stray)
	// The master key may already be in place: restored beside it.
	ok := t.TempDir()
	if err := os.WriteFile(filepath.Join(ok, "master.key"), []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := Restore(ctx, dest, target(ok), restoreOptions())
	if err != nil || res.Documents != 2 {
		t.Fatalf("beside its key: %+v %v", res, err)
	}
	for _, leftover := range []string{"carnet.db" + UnverifiedSuffix, "carnet.db-wal", "carnet.db-shm"} {
		if _, err := os.Stat(filepath.Join(ok, leftover)); err == nil {
			t.Errorf("%s left after the restore", leftover)
		}
	}
	// The restored database opens as the server opens it, and every document reads back.
	trace, _ := audit.DeriveKey(testMaster)
	db, err := store.Open(ctx, store.SQLite, filepath.Join(ok, "carnet.db"), store.Options{TraceKey: trace})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs, err := blob.NewFS(filepath.Join(ok, BlobsDir), testMaster)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range e.content {
		var d record.Document
		if err := db.View(ctx, func(tx *store.Tx) error {
			d, err = tx.Document(ctx, id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		rc, err := blobs.Open(ctx, blob.Ref{ID: d.BlobID, Size: d.Size, SHA256: d.SHA256, SHA1: d.SHA1})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if sum := sha256.Sum256(want); err != nil || !bytes.Equal(got, want) || d.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("document %s: %v", id, err)
		}
	}
}

// Blobs rewrapped under a new master key are backed up with their key files, so that the
// restore opens them with the new key alone.
func TestBackupCarriesKeyFiles(t *testing.T) {
	e := newEnv(t)
	e.deposit(t, 4, 2000)
	newKey := bytes.Repeat([]byte{3}, 32)
	rotated, err := blob.NewFS(e.source().Blobs, newKey, blob.WithPreviousKeys(testMaster))
	if err != nil {
		t.Fatal(err)
	}
	if err := rotated.RewrapAll(ctx, func(int, int) {}); err != nil {
		t.Fatal(err)
	}
	ids := KeyIDs{Current: blob.KeyID(newKey), Previous: []string{blob.KeyID(testMaster)}}
	dest := filepath.Join(t.TempDir(), "b")
	m, err := Backup(ctx, e.source(), dest, Options{Keys: ids})
	if err != nil {
		t.Fatal(err)
	}
	if m.Blobs.Count != 4 || m.Blobs.Sidecars != 4 || m.MasterKeys.Previous[0] != blob.KeyID(testMaster) {
		t.Fatalf("manifest: %+v", m)
	}
	opt := restoreOptions()
	opt.Keys = KeyIDs{Current: ids.Current}
	opt.OpenBlobs = func(dir string) (blob.Store, error) { return blob.NewFS(dir, newKey) }
	dir := t.TempDir()
	res, err := Restore(ctx, dest, Target{DataDir: dir, Database: filepath.Join(dir, "carnet.db")}, opt)
	if err != nil || res.Blobs != 4 {
		t.Fatalf("restore under the new key alone: %+v %v", res, err)
	}
}

// Every table whose rows refer to a blob is read by the backup (blobRefs): a table added with
// a blob_id and forgotten there would leave its blobs out of every backup, and a restore's
// checks would not see them missing.
func TestEveryBlobTableIsBackedUp(t *testing.T) {
	e := newEnv(t)
	rows, err := e.rec.DB.SQL().QueryContext(ctx, `SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c
		WHERE m.type = 'table' AND c.name = 'blob_id' AND m.name <> 'blob_garbage' ORDER BY m.name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			t.Fatal(err)
		}
		n++
		if !strings.Contains(strings.Join(blobRefs, "\n"), " FROM "+table+" ") {
			t.Errorf("table %s refers to blobs and the backup does not read it (files.go, blobRefs)", table)
		}
	}
	if err := rows.Err(); err != nil || n < 4 {
		t.Fatalf("%d tables with blobs: %v", n, err)
	}
}

// A message's blob (a patient's or a professional's mail) is backed up and checked on restore
// as a document's is: before, only documents' blobs were, and a restored carnet had lost every
// message while its checks passed.
func TestBackupKeepsMessageBlobs(t *testing.T) {
	e := newEnv(t)
	e.deposit(t, 1, 1000)
	msg := []byte("Subject: =?utf-8?q?r=C3=A9sultat?=\r\n\r\nvotre bilan est normal\r\n")
	ref, err := e.rec.Blobs.Put(ctx, bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rec.DB.SQL().ExecContext(ctx, `INSERT INTO mail_messages (channel, envelope_from, header_from, message_id,
		blob_id, size, sha256, received_at) VALUES ('relay', 'dr@hopital.mssante.fr', 'dr@hopital.mssante.fr', '<m1@hopital>', $1, $2, $3, 0)`,
		ref.ID, ref.Size, ref.SHA256); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "b")
	m, err := Backup(ctx, e.source(), dest, Options{Keys: keys()})
	if err != nil {
		t.Fatal(err)
	}
	if m.Blobs.Count != 2 || !blobFiles(t, filepath.Join(dest, BlobsDir))[ref.ID] {
		t.Fatalf("the message's blob is not in the backup: %+v", m.Blobs)
	}
	dir := t.TempDir()
	res, err := Restore(ctx, dest, Target{DataDir: dir, Database: filepath.Join(dir, "carnet.db")}, restoreOptions())
	if err != nil || res.Blobs != 2 {
		t.Fatalf("restore: %+v %v", res, err)
	}
	restored, err := blob.NewFS(filepath.Join(dir, "blobs"), testMaster)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := restored.Open(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("restored message: %q %v", got, err)
	}
	// A backup that lost the message's bytes does not restore.
	if err := os.Remove(filepath.Join(dest, BlobsDir, ref.ID[:2], ref.ID[2:4], ref.ID)); err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	_, err = Restore(ctx, dest, Target{DataDir: dir, Database: filepath.Join(dir, "carnet.db")}, restoreOptions())
	if err == nil {
		t.Fatal("a backup without the message's blob restored")
	}
}
