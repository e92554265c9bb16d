package backup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/store"
)

// UnverifiedSuffix ends the name of a restored database until every check has passed: under
// it, `carnet serve` does not pick the database up.
const UnverifiedSuffix = ".unverified"

// masterKeyFile is the one file a restore target may already hold: the operator puts the
// backup's master key where `carnet serve` will look for it.
const masterKeyFile = "master.key"

// Target is where a backup is restored: a data directory, empty but for its master key, and
// the database file (data_dir/carnet.db unless the configuration says otherwise).
type Target struct {
	DataDir  string
	Database string
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Keys are the configured master keys, by ID: the current one must be the one the backup
	// was taken under, which seals its trace log.
	Keys KeyIDs
	// OpenBlobs opens the restored blob directory with the configured master keys.
	OpenBlobs func(dir string) (blob.Store, error)
	// Audit checks the trace log of the restored database at the given path (the CLI runs
	// `carnet audit verify` on it).
	Audit func(ctx context.Context, database string) error
	// Migrate brings a restored database whose schema is behind this carnet up to date. Nil:
	// such a backup is refused.
	Migrate func(ctx context.Context, database string) error
	Workers int // files copied, and blobs checked, at once
	// Progress, when set, is called from time to time.
	Progress func(Progress)
}

// Restored is what a restore found.
type Restored struct {
	Manifest  *Manifest
	Database  string // where the database is, under its final name once the restore succeeded
	Migrated  bool
	Documents int64 // readable documents
	Blobs     int64 // blobs read back and checked against their documents' hashes
	Bytes     int64 // their plaintext
	Problems  []string
}

// maxProblems bounds the problems a restore lists; it counts them all.
const maxProblems = 100

// Restore copies the backup in dir into t and checks it: the database against the manifest's
// hash, size, schema version and counts; the blob files against its counts; the database's
// schema against this carnet's; its trace log (opt.Audit); and every blob a readable document
// refers to, read back through the blob store, which checks its authentication tags and its
// SHA-256 and SHA-1 against the document's. The database keeps the suffix UnverifiedSuffix
// until all of it passed; on failure what was copied is left in place for inspection, under
// that name, and the error says so.
func Restore(ctx context.Context, dir string, t Target, opt RestoreOptions) (*Restored, error) {
	if opt.OpenBlobs == nil || opt.Audit == nil {
		return nil, errs.E(errs.Internal, "restore: OpenBlobs and Audit are required")
	}
	if opt.Workers <= 0 {
		opt.Workers = 8
	}
	if opt.Progress == nil {
		opt.Progress = func(Progress) {}
	}
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if m.MasterKeys.Current != opt.Keys.Current {
		return nil, errs.E(errs.Invalid, "this backup was taken under master key %s, which seals its trace log and wraps its blobs' keys, but the configured master key is %s: configure the backup's key (master_key_file, or master.key in the new data directory)",
			m.MasterKeys.Current, opt.Keys.Current)
	}
	if err := checkTarget(t); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(t.DataDir, 0o700); err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "create the data directory")
	}
	staging := t.Database + UnverifiedSuffix
	res := &Restored{Manifest: m, Database: staging}
	if err := restore(ctx, dir, t, staging, m, opt, res); err != nil {
		return res, errs.Wrap(errs.CodeOf(err), err, "restore failed, what was copied is left for inspection in %s (the database as %s; remove both before restoring again)", t.DataDir, staging)
	}
	if err := commit(staging, t); err != nil {
		return res, err
	}
	res.Database = t.Database
	return res, nil
}

func restore(ctx context.Context, dir string, t Target, staging string, m *Manifest, opt RestoreOptions, res *Restored) error {
	// The database first: the copy is hashed as it is written, and checked before anything
	// relies on it.
	opt.Progress(Progress{Phase: "database"})
	if err := os.MkdirAll(filepath.Dir(staging), 0o700); err != nil {
		return errs.Wrap(errs.Internal, err, "create the database directory")
	}
	h := sha256.New()
	n, err := copyFile(filepath.Join(dir, DatabaseName), staging, h)
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "copy the database of the backup")
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != m.Database.Size || sum != m.Database.SHA256 {
		return errs.E(errs.Invalid, "the database of the backup does not match its manifest (%d bytes, SHA-256 %s; the manifest says %d bytes, %s): the backup is damaged",
			n, sum, m.Database.Size, m.Database.SHA256)
	}
	v, counts, err := describeChecked(ctx, staging)
	if err != nil {
		return err
	}
	if v != m.SchemaVersion || counts != m.Counts {
		return errs.E(errs.Invalid, "the database of the backup does not match its manifest (schema version %d, %+v; the manifest says %d, %+v)",
			v, counts, m.SchemaVersion, m.Counts)
	}
	migrations, err := store.Migrations(store.SQLite)
	if err != nil {
		return err
	}
	switch latest := len(migrations); {
	case v > latest:
		return errs.E(errs.Invalid, "the backup's schema is at version %d, newer than this carnet knows (%d): restore it with carnet %s or later", v, latest, m.CarnetVersion)
	case v < latest && opt.Migrate == nil:
		return errs.E(errs.Invalid, "the backup's schema is at version %d and this carnet's at %d: restore with --migrate to bring it up to date, or with carnet %s", v, latest, m.CarnetVersion)
	}

	// The blob files, each synced, checked against the manifest's counts.
	blobDir := filepath.Join(t.DataDir, BlobsDir)
	if err := os.Mkdir(blobDir, 0o700); err != nil {
		return errs.Wrap(errs.Internal, err, "create %s", blobDir)
	}
	got, err := copyTree(ctx, filepath.Join(dir, BlobsDir), blobDir, opt)
	if err != nil {
		return err
	}
	if err := syncFanout(blobDir); err != nil {
		return err
	}
	if got.blobs != m.Blobs.Count || got.sidecars != m.Blobs.Sidecars || got.bytes != m.Blobs.Bytes {
		return errs.E(errs.Invalid, "the blobs of the backup do not match its manifest (%d blobs, %d key files, %d bytes; the manifest says %d, %d, %d)",
			got.blobs, got.sidecars, got.bytes, m.Blobs.Count, m.Blobs.Sidecars, m.Blobs.Bytes)
	}

	if v < len(migrations) {
		if err := opt.Migrate(ctx, staging); err != nil {
			return fmt.Errorf("migrate the restored database: %w", err)
		}
		res.Migrated = true
	}
	opt.Progress(Progress{Phase: "audit"})
	if err := opt.Audit(ctx, staging); err != nil {
		return err
	}
	return checkBlobs(ctx, staging, blobDir, opt, res)
}

// checkTarget refuses a data directory that holds anything but a master key, and a database
// path that exists.
func checkTarget(t Target) error {
	entries, err := os.ReadDir(t.DataDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errs.Wrap(errs.Invalid, err, "the data directory")
	}
	for _, e := range entries {
		if e.Name() == masterKeyFile && e.Type().IsRegular() {
			continue
		}
		return errs.E(errs.Invalid, "%s is not empty (it holds %s): a backup is restored into a new data directory, which may hold only %s",
			t.DataDir, e.Name(), masterKeyFile)
	}
	for _, p := range []string{t.Database, t.Database + "-wal", t.Database + UnverifiedSuffix} {
		if _, err := os.Lstat(p); err == nil {
			return errs.E(errs.Invalid, "%s exists: a backup is restored into a new database", p)
		}
	}
	return nil
}

// describeChecked is describe after SQLite's own structural check of the file.
func describeChecked(ctx context.Context, path string) (int, Counts, error) {
	db, err := openReadOnly(path)
	if err != nil {
		return 0, Counts{}, err
	}
	var ok string
	err = db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&ok)
	db.Close()
	if err != nil || ok != "ok" {
		return 0, Counts{}, errs.E(errs.Invalid, "the database of the backup is damaged: quick_check says %q (%v)", ok, err)
	}
	return describe(ctx, path)
}

// copyTree copies the blob tree of a backup into dst, one leaf directory per worker at a time.
func copyTree(ctx context.Context, src, dst string, opt RestoreOptions) (copyStats, error) {
	type leaf struct {
		from, to string
		names    []string
	}
	var stats tally
	prog := newProgressor(opt.Progress, "blobs")
	err := parallel(ctx, opt.Workers, func(send func(leaf) error) error {
		return walkBlobs(src, func(dir string, names []string) error {
			rel, err := filepath.Rel(src, dir)
			if err != nil {
				return err
			}
			return send(leaf{from: dir, to: filepath.Join(dst, rel), names: names})
		})
	}, func(ctx context.Context, l leaf) error {
		if err := os.MkdirAll(l.to, 0o700); err != nil {
			return errs.Wrap(errs.Internal, err, "create %s", l.to)
		}
		for _, name := range l.names {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, err := copyFile(filepath.Join(l.from, name), filepath.Join(l.to, name), nil)
			if err != nil {
				return err
			}
			var blobs, sidecars int64 = 1, 0
			if filepath.Ext(name) == sidecarSuffix {
				blobs, sidecars = 0, 1
			}
			stats.add(blobs, sidecars, n)
			prog.add(blobs, n)
		}
		return syncDir(l.to)
	})
	return stats.s, err
}

// checkBlobs reads back every blob the database refers to (blobRefs).
func checkBlobs(ctx context.Context, database, blobDir string, opt RestoreOptions, res *Restored) error {
	blobs, err := opt.OpenBlobs(blobDir)
	if err != nil {
		return err
	}
	db, err := openReadOnly(database)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM documents WHERE `+readable).Scan(&res.Documents); err != nil {
		return fmt.Errorf("count the documents: %w", err)
	}
	var mu sync.Mutex
	bad := 0
	prog := newProgressor(opt.Progress, "verify")
	workers := runtime.NumCPU() // decryption and hashing: CPU-bound
	err = parallel(ctx, workers, func(send func(blobRef) error) error {
		return eachRef(ctx, db, send)
	}, func(ctx context.Context, r blobRef) error {
		n, err := readBack(ctx, blobs, r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			bad++
			if len(res.Problems) < maxProblems {
				res.Problems = append(res.Problems, fmt.Sprintf("%s, blob %s: %v", r.doc, r.id, err))
			}
			return nil
		}
		res.Blobs++
		res.Bytes += n
		prog.add(1, n)
		return nil
	})
	if err != nil {
		return err
	}
	if bad > 0 {
		return errs.E(errs.Invalid, "%d of %d blobs the database refers to are missing or corrupted", bad, res.Blobs+int64(bad))
	}
	return nil
}

// readBack reads blob r to its end: the store's reader returns an error instead of io.EOF
// when the content does not match r.
func readBack(ctx context.Context, blobs blob.Store, r blobRef) (int64, error) {
	rc, err := blobs.Open(ctx, blob.Ref{ID: r.id, Size: r.size, SHA256: r.sha256, SHA1: r.sha1})
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.Copy(io.Discard, rc)
}

// commit gives the verified database its name. The checks opened it in WAL mode: it is
// switched back to a single file first (which checkpoints and removes the WAL), so that no
// WAL is left under the old name, nor could ever be met under the new one by another file.
func commit(staging string, t Target) error {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: staging}).EscapedPath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("open the restored database: %w", err)
	}
	_, err = db.Exec(`PRAGMA journal_mode=DELETE`)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errs.Wrap(errs.Internal, err, "close the restored database's journal")
	}
	if _, err := os.Lstat(staging + "-wal"); err == nil {
		return errs.E(errs.Internal, "%s-wal is still there: is a process using the restored database?", staging)
	}
	if err := os.Remove(staging + "-shm"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errs.Wrap(errs.Internal, err, "remove the restored database's shared memory file")
	}
	if err := os.Rename(staging, t.Database); err != nil {
		return errs.Wrap(errs.Internal, err, "name the restored database")
	}
	if err := syncDir(filepath.Dir(t.Database)); err != nil {
		return err
	}
	return syncDir(filepath.Dir(filepath.Clean(t.DataDir)))
}
