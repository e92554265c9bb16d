// Package backup is in charge of the operator's copies of the embedded default (SQLite and the
// file system blob store): a consistent backup taken while `carnet serve` runs, and its
// restore into an empty data directory, checked before it is put in place.
//
// A backup is a directory, so that rsync and the like can carry it and copy only what changed
// (blob files never change once written):
//
//	manifest.json            what the backup holds, written last: no manifest, no backup
//	carnet.db                a transactionally consistent snapshot of the database
//	blobs/ab/cd/<id>[.key]   the blobs that snapshot refers to, laid out as in data_dir/blobs
//
// # Why the copy is consistent
//
// The database is copied first, with SQLite's VACUUM INTO on a read-only connection of its
// own: one read transaction, so one snapshot, and in WAL mode the server's writer is not
// blocked meanwhile (only the checkpoint waits for the snapshot to end). The blobs that
// snapshot refers to are copied next. Every such blob existed when the snapshot was taken: a
// deposit writes and fsyncs its blob before the transaction that refers to it commits
// (record.Service.DepositAll). A blob file is never rewritten: only its key sidecar is
// replaced, atomically, on a master key rotation, and either wrapping opens it. So a blob found
// later is the blob the snapshot meant.
//
// What can happen in between is a deletion: a document deleted or a space purged after the
// snapshot has its blob erased once that change has committed. The snapshot would then restore
// a document whose bytes are gone. The backup sees it (the file is missing) and starts again
// with a new snapshot, which no longer refers to the blob; blobs already copied are kept, and
// those the final snapshot no longer refers to are removed from the backup, so that erased data
// does not live on in it. A blob still missing from the next snapshot was not deleted after it:
// it is lost from the data directory, and the backup fails naming it.
//
// Blobs no document refers to (orphans of failed deposits, blobs of deleted documents waiting
// for erasure) are not copied. The master key is not copied either: it is a secret, to be kept
// apart from the backups; the manifest names the keys the backup needs by their key IDs.
//
// A restore (restore.go) goes into a new data directory: the database is copied and checked
// against the manifest, the blobs copied, the trace log verified, and every blob a readable
// document refers to read back and checked against the document's hashes, before the database
// gets the name the server opens.
//
// PostgreSQL is not this package's business: its database is backed up with pg_dump or
// pg_basebackup, before the blob directory is copied (the same order, for the same reason).
package backup

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Names inside a backup directory.
const (
	ManifestName = "manifest.json"
	DatabaseName = "carnet.db"
	BlobsDir     = "blobs"

	// FormatVersion is the layout of the backup directory this package writes and reads.
	FormatVersion = 1

	partialSuffix = ".partial" // the snapshot before it is complete, synced and hashed
)

// Manifest describes a backup. It is written last, so that its presence says the backup is
// complete and durable.
type Manifest struct {
	Format        int       `json:"format"`
	CarnetVersion string    `json:"carnet_version"`
	TakenAt       time.Time `json:"taken_at"` // when the database snapshot that was kept began
	Took          string    `json:"took"`
	Attempts      int       `json:"attempts"` // snapshots taken: more than one if blobs were erased meanwhile
	SchemaVersion int       `json:"schema_version"`
	Database      File      `json:"database"`
	Counts        Counts    `json:"counts"`
	Blobs         Blobs     `json:"blobs"`
	// MasterKeys are the IDs of the master keys configured when the backup was taken: the
	// current one seals the trace log and wraps the blobs' keys, the previous ones may still
	// wrap blobs that were not rewrapped. The keys themselves are not in the backup.
	MasterKeys KeyIDs `json:"master_keys"`
}

// File is a file of the backup and what it must hash to.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Counts are rows of the snapshot, for the operator and for the restore to check.
type Counts struct {
	Patients  int64 `json:"patients"`
	Documents int64 `json:"documents"` // current, not deleted: those whose bytes are readable
	Traces    int64 `json:"traces"`
}

// Blobs sums up the blob files of the backup.
type Blobs struct {
	Dir      string `json:"dir"`
	Count    int64  `json:"count"`
	Sidecars int64  `json:"sidecars"` // <id>.key files, of blobs rewrapped after a key rotation
	Bytes    int64  `json:"bytes"`    // encrypted bytes, sidecars included
}

// KeyIDs names master keys by blob.KeyID.
type KeyIDs struct {
	Current  string   `json:"current"`
	Previous []string `json:"previous,omitempty"`
}

// Source is what Backup copies: the embedded default's database file and blob directory.
type Source struct {
	Database string
	Blobs    string
}

// Progress is reported while a backup or a restore runs.
type Progress struct {
	Phase string // "snapshot", "blobs", "verify"
	Done  int64  // blobs so far in this phase
	Bytes int64
}

// Options tune Backup.
type Options struct {
	Version  string // of the carnet writing the backup, for the manifest
	Keys     KeyIDs // the configured master keys, by ID only
	Clock    clock.Clock
	Workers  int // blobs copied at once (default 8: concurrent fsyncs share journal commits)
	Attempts int // snapshots before giving up when blobs keep being erased (default 5)
	// Progress, when set, is called from time to time (from several goroutines, one at a time).
	Progress func(Progress)
	// step, when set, is called at the named steps of each attempt, for tests.
	step func(name string, attempt int)
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Progress == nil {
		o.Progress = func(Progress) {}
	}
	if o.step == nil {
		o.step = func(string, int) {}
	}
}

// Backup copies src into dest, a directory that must not exist or be empty, while the server
// may keep writing, and returns the manifest it wrote. Everything is synced to disk, files and
// directories, before the manifest is; on error dest is left without a manifest.
func Backup(ctx context.Context, src Source, dest string, opt Options) (*Manifest, error) {
	opt.defaults()
	began := time.Now()
	if fi, err := os.Stat(src.Database); err != nil || !fi.Mode().IsRegular() {
		return nil, errs.E(errs.Invalid, "no database file at %s: is data_dir right?", src.Database)
	}
	if fi, err := os.Stat(src.Blobs); err != nil || !fi.IsDir() {
		return nil, errs.E(errs.Invalid, "no blob directory at %s: is data_dir right?", src.Blobs)
	}
	if err := makeEmptyDir(dest, "backup"); err != nil {
		return nil, err
	}
	blobDest := filepath.Join(dest, BlobsDir)
	if err := os.Mkdir(blobDest, 0o700); err != nil {
		return nil, errs.Wrap(errs.Internal, err, "create %s", blobDest)
	}
	snap := filepath.Join(dest, DatabaseName+partialSuffix)
	var (
		taken   time.Time
		stats   copyStats
		missing map[string]string // blob id → a document referring to it, of the previous attempt
		attempt int
	)
	for attempt = 1; ; attempt++ {
		if err := os.Remove(snap); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, errs.Wrap(errs.Internal, err, "remove the previous snapshot")
		}
		opt.Progress(Progress{Phase: "snapshot"})
		taken = opt.Clock.Now()
		if err := snapshot(ctx, src.Database, snap); err != nil {
			return nil, err
		}
		opt.step("snapshot", attempt)
		var gone map[string]string
		var err error
		stats, gone, err = copyReferenced(ctx, snap, src.Blobs, blobDest, opt)
		if err != nil {
			return nil, err
		}
		opt.step("copied", attempt)
		if len(gone) == 0 {
			break
		}
		// A blob missing again, although this snapshot was taken after it vanished, was not
		// erased by a deletion committed since: the data directory has lost it.
		for id, doc := range gone {
			if _, again := missing[id]; again {
				return nil, errs.E(errs.Internal, "blob %s of %s is missing from %s although the database still refers to it: the data directory has lost it (run `carnet blobs verify`)", id, doc, src.Blobs)
			}
		}
		if attempt == opt.Attempts {
			return nil, errs.E(errs.Unavailable, "documents or messages kept being deleted during the backup (%d snapshots): run it again at a quieter time", attempt)
		}
		missing = gone
	}
	if attempt > 1 {
		// Blobs copied for an earlier snapshot whose documents were deleted since.
		if _, err := prune(ctx, snap, blobDest); err != nil {
			return nil, err
		}
	}
	m := &Manifest{Format: FormatVersion, CarnetVersion: opt.Version, TakenAt: taken.UTC(), Attempts: attempt,
		Blobs: Blobs{Dir: BlobsDir, Count: stats.blobs, Sidecars: stats.sidecars, Bytes: stats.bytes}, MasterKeys: opt.Keys}
	var err error
	if m.SchemaVersion, m.Counts, err = describe(ctx, snap); err != nil {
		return nil, err
	}
	if m.Database, err = seal(snap, filepath.Join(dest, DatabaseName)); err != nil {
		return nil, err
	}
	// Every blob file and leaf directory was synced as it was copied; the directories above
	// them, and the backup directory itself, now.
	if err := syncFanout(blobDest); err != nil {
		return nil, err
	}
	m.Took = time.Since(began).Round(time.Millisecond).String()
	if err := writeManifest(dest, m); err != nil {
		return nil, err
	}
	return m, nil
}

// snapshot writes a consistent copy of the database at path into out with VACUUM INTO. The
// connection is read-only (mode=ro: query_only would refuse VACUUM INTO) and its own, never
// the server's: the server's single writer is not held, and in WAL mode the read transaction
// does not block it.
func snapshot(ctx context.Context, path, out string) error {
	db, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO $1`, out); err != nil {
		return errs.Wrap(errs.Unavailable, err, "snapshot the database %s", path)
	}
	return nil
}

// openReadOnly opens the SQLite database at path for reading only, on one connection.
func openReadOnly(path string) (*sql.DB, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// describe reads the schema version and the counts of a snapshot.
func describe(ctx context.Context, path string) (int, Counts, error) {
	db, err := openReadOnly(path)
	if err != nil {
		return 0, Counts{}, err
	}
	defer db.Close()
	var v int
	var c Counts
	for _, q := range []struct {
		sql  string
		dest any
	}{
		{`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`, &v},
		{`SELECT COUNT(*) FROM patients`, &c.Patients},
		{`SELECT COUNT(*) FROM documents WHERE ` + readable, &c.Documents},
		{`SELECT COUNT(*) FROM traces`, &c.Traces},
	} {
		if err := db.QueryRowContext(ctx, q.sql).Scan(q.dest); err != nil {
			return 0, Counts{}, errs.Wrap(errs.Invalid, err, "read %s: is it a carnet database?", path)
		}
	}
	return v, c, nil
}

// seal syncs the finished snapshot, hashes it and gives it its final name.
func seal(partial, final string) (File, error) {
	if err := syncFile(partial); err != nil {
		return File{}, err
	}
	size, sum, err := hashFile(partial)
	if err != nil {
		return File{}, err
	}
	if err := os.Rename(partial, final); err != nil {
		return File{}, errs.Wrap(errs.Internal, err, "name the snapshot")
	}
	return File{Name: filepath.Base(final), Size: size, SHA256: sum}, nil
}

// writeManifest writes m into dir atomically and durably: under a temporary name, synced,
// renamed, and the directory synced.
func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ManifestName+partialSuffix)
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return errs.Wrap(errs.Internal, err, "write the manifest")
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestName)); err != nil {
		return errs.Wrap(errs.Internal, err, "write the manifest")
	}
	return syncDir(dir)
}

// ReadManifest reads the manifest of the backup in dir.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	b, err := readLimited(path, 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.E(errs.Invalid, "no %s in %s: not a backup, or an unfinished one", ManifestName, dir)
	}
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "read the manifest")
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "%s is damaged", path)
	}
	if m.Format != FormatVersion {
		return nil, errs.E(errs.Invalid, "backup format %d, this carnet reads format %d", m.Format, FormatVersion)
	}
	if m.Database.Name != DatabaseName || m.Blobs.Dir != BlobsDir {
		return nil, errs.E(errs.Invalid, "the manifest names files that a backup does not hold (%q, %q)", m.Database.Name, m.Blobs.Dir)
	}
	return &m, nil
}

// makeEmptyDir creates dir, or accepts it when it exists and is empty, and makes its name
// durable.
func makeEmptyDir(dir, what string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return errs.Wrap(errs.Invalid, err, "create the %s directory", what)
		}
	case err != nil:
		return errs.Wrap(errs.Invalid, err, "the %s directory", what)
	case len(entries) > 0:
		return errs.E(errs.Invalid, "%s is not empty: a %s goes into a new or empty directory", dir, what)
	}
	return syncDir(filepath.Dir(filepath.Clean(dir)))
}

// progressor calls Progress from several workers one at a time, at most every tick.
type progressor struct {
	mu    sync.Mutex
	fn    func(Progress)
	phase string
	done  int64
	bytes int64
	last  time.Time
}

// newProgressor announces phase and returns its progressor.
func newProgressor(fn func(Progress), phase string) *progressor {
	fn(Progress{Phase: phase})
	return &progressor{fn: fn, phase: phase, last: time.Now()}
}

func (p *progressor) add(n, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.bytes += bytes
	if now := time.Now(); now.Sub(p.last) >= time.Second {
		p.last = now
		p.fn(Progress{Phase: p.phase, Done: p.done, Bytes: p.bytes})
	}
}
