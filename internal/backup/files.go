package backup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/carnet-sante/carnet/internal/errs"
)

// readable selects the documents whose bytes can be read: the current metadata version of a
// document that is not deleted (record.Service.Open serves exactly these). A deleted
// document's blob is erased once the deletion commits, so it is neither copied nor checked.
const readable = `is_current AND status <> 'deleted'`

// sidecarSuffix ends the name of a blob's key sidecar (internal/blob/keys.go).
const sidecarSuffix = ".key"

// blobRef is a blob a row refers to, and what its plaintext must be.
type blobRef struct {
	id, doc       string // doc: the row referring to it ("document <logical id>", "message <id>"…), for messages
	size          int64
	sha256, sha1  string
	mid, leafName string
}

// blobRefs lists every row of carnet's that refers to a blob, as (blob id, size, SHA-256,
// SHA-1 or ”, what refers to it): a document's current version (an older one's bytes are
// gone with its replacement), a message as received (the patients' and professionals' mail),
// a questionnaire a message carried and a patient's answer to one. A capability that stores
// blobs elsewhere must add its table here, or its blobs are left out of backups and out of
// the restore's checks; TestEveryBlobTableIsBackedUp compares this list with the schema.
var blobRefs = []string{
	`SELECT blob_id, size, sha256, sha1, 'document ' || logical_id FROM documents WHERE ` + readable + ` AND blob_id <> ''`,
	`SELECT blob_id, size, sha256, '', 'message ' || id FROM mail_messages WHERE blob_id <> ''`,
	`SELECT blob_id, size, sha256, '', 'questionnaire ' || id FROM questionnaires WHERE blob_id <> ''`,
	`SELECT blob_id, size, sha256, '', 'questionnaire answer ' || id FROM questionnaire_responses WHERE blob_id <> ''`,
}

// eachRef calls fn with every blob the rows of db refer to (blobRefs), once each, in the
// order of their ids, so that the blobs of one fan-out directory come together. The query
// lives here rather than in the store because it runs on a snapshot file, not on the server's
// database. The ids come from a database that may come from elsewhere (a backup), so they are
// checked before they become file names.
func eachRef(ctx context.Context, db *sql.DB, fn func(blobRef) error) error {
	rows, err := db.QueryContext(ctx, strings.Join(blobRefs, ` UNION ALL `)+` ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("list the blobs: %w", err)
	}
	defer rows.Close()
	prev := ""
	for rows.Next() {
		var r blobRef
		if err := rows.Scan(&r.id, &r.size, &r.sha256, &r.sha1, &r.doc); err != nil {
			return fmt.Errorf("list the blobs: %w", err)
		}
		if r.id == prev {
			continue
		}
		prev = r.id
		if !validID(r.id) {
			return errs.E(errs.Invalid, "%s refers to blob %q, which is not a blob id", r.doc, r.id)
		}
		r.mid, r.leafName = r.id[:2], r.id[2:4]
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// eachLeaf groups the refs of eachRef by fan-out directory.
func eachLeaf(ctx context.Context, db *sql.DB, fn func([]blobRef) error) error {
	var batch []blobRef
	err := eachRef(ctx, db, func(r blobRef) error {
		if len(batch) > 0 && r.id[:4] != batch[0].id[:4] {
			if err := fn(batch); err != nil {
				return err
			}
			batch = nil
		}
		batch = append(batch, r)
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = fn(batch)
	}
	return err
}

// parallel runs work on every item produce sends, on n goroutines, and returns the first error.
func parallel[T any](ctx context.Context, n int, produce func(send func(T) error) error, work func(context.Context, T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	items := make(chan T)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for it := range items {
				if ctx.Err() != nil {
					continue // drain
				}
				if err := work(ctx, it); err != nil {
					cancel(err)
				}
			}
		})
	}
	err := produce(func(it T) error {
		select {
		case items <- it:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(items)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause // a worker's error explains a producer's "cancelled"
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

// copyStats counts the blob files of a copy.
type copyStats struct {
	blobs, sidecars, bytes int64
}

// tally is a copyStats that several workers add to.
type tally struct {
	mu sync.Mutex
	s  copyStats
}

func (t *tally) add(blobs, sidecars, bytes int64) {
	t.mu.Lock()
	t.s.blobs += blobs
	t.s.sidecars += sidecars
	t.s.bytes += bytes
	t.mu.Unlock()
}

// copyReferenced copies into dst every blob of src that the snapshot at snap refers to, with
// its sidecar, each file synced and each leaf directory synced once its files are. A blob
// already in dst (copied for an earlier snapshot) is kept: blob files never change. It returns
// the blobs that are missing from src, by id, with a document referring to each.
func copyReferenced(ctx context.Context, snap, src, dst string, opt Options) (copyStats, map[string]string, error) {
	db, err := openReadOnly(snap)
	if err != nil {
		return copyStats{}, nil, err
	}
	defer db.Close()
	var stats tally
	var mu sync.Mutex
	gone := map[string]string{}
	prog := newProgressor(opt.Progress, "blobs")
	err = parallel(ctx, opt.Workers, func(send func([]blobRef) error) error {
		return eachLeaf(ctx, db, send)
	}, func(ctx context.Context, batch []blobRef) error {
		leaf := filepath.Join(dst, batch[0].mid, batch[0].leafName)
		if err := os.MkdirAll(leaf, 0o700); err != nil {
			return errs.Wrap(errs.Internal, err, "create %s", leaf)
		}
		for _, r := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			from := filepath.Join(src, r.mid, r.leafName, r.id)
			to := filepath.Join(leaf, r.id)
			n, side, err := copyBlob(from, to)
			if errors.Is(err, fs.ErrNotExist) {
				mu.Lock()
				gone[r.id] = r.doc
				mu.Unlock()
				continue
			}
			if err != nil {
				return err
			}
			stats.add(1, side, n)
			prog.add(1, n)
		}
		if err := syncDir(leaf); err != nil {
			return errs.Wrap(errs.Internal, err, "sync %s", leaf)
		}
		return nil
	})
	if err != nil {
		return copyStats{}, nil, err
	}
	return stats.s, gone, nil
}

// copyBlob copies blob file from, and its sidecar if it has one, to to. It returns the bytes
// of both and whether there was a sidecar; fs.ErrNotExist when the blob is missing. The blob
// is copied before its sidecar, so that a sidecar found is one that wraps this blob's key (a
// sidecar may appear or be replaced meanwhile by a rewrap: either wrapping opens the blob).
func copyBlob(from, to string) (n, sidecars int64, err error) {
	if fi, err := os.Lstat(to); err == nil {
		n = fi.Size() // copied for an earlier snapshot
		if fi, err := os.Lstat(to + sidecarSuffix); err == nil {
			n += fi.Size()
			sidecars = 1
		}
		return n, sidecars, nil
	}
	n, err = copyFile(from, to, nil)
	if err != nil {
		return 0, 0, err
	}
	m, err := copyFile(from+sidecarSuffix, to+sidecarSuffix, nil)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return n, 0, nil
	case err != nil:
		return 0, 0, err
	}
	return n + m, 1, nil
}

// copyFile copies the regular file from to a new file to (0600), synced, and writes what it
// copies into h when h is not nil. The error wraps fs.ErrNotExist when from does not exist; on
// error, to is removed.
func copyFile(from, to string, h hash.Hash) (n int64, err error) {
	in, err := os.Open(from)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		return 0, errs.Wrap(errs.Internal, err, "read %s", from)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return 0, errs.Wrap(errs.Internal, err, "read %s", from)
	}
	if !fi.Mode().IsRegular() {
		return 0, errs.E(errs.Invalid, "%s is not a regular file", from)
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, errs.Wrap(errs.Internal, err, "create %s", to)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(to)
		}
	}()
	var r io.Reader = in
	if h != nil {
		r = io.TeeReader(in, h)
	}
	// Without a hash, io.Copy between two files lets the kernel copy (copy_file_range).
	if n, err = io.Copy(out, r); err != nil {
		return 0, errs.Wrap(errs.Internal, err, "copy %s", from)
	}
	if err = out.Sync(); err != nil {
		return 0, errs.Wrap(errs.Internal, err, "sync %s", to)
	}
	if err = out.Close(); err != nil {
		return 0, errs.Wrap(errs.Internal, err, "close %s", to)
	}
	return n, nil
}

// prune removes from the blob directory dst every blob (and sidecar) that the snapshot at
// snap does not refer to: blobs copied for an earlier snapshot whose documents were deleted
// since. It walks dst and the snapshot's blob ids in the same order, a merge, so that memory
// stays constant whatever the number of blobs.
func prune(ctx context.Context, snap, dst string) (int, error) {
	db, err := openReadOnly(snap)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	refs := make(chan string)
	stop := make(chan struct{})
	defer close(stop)
	errc := make(chan error, 1)
	go func() {
		defer close(refs)
		errc <- eachRef(ctx, db, func(r blobRef) error {
			select {
			case refs <- r.id:
				return nil
			case <-stop:
				return context.Canceled
			}
		})
	}()
	// The listing's result is in errc by the time refs is closed (the send comes before the
	// deferred close): a listing that failed half-way must not pass for one that ended, or
	// every blob after the point it failed at would be removed from the backup.
	var listErr error
	listed := false
	next := func() (string, bool, error) {
		id, ok := <-refs
		if !ok && !listed {
			listed, listErr = true, <-errc
		}
		return id, ok, listErr
	}
	cur, more, err := next()
	if err != nil {
		return 0, err
	}
	removed := 0
	err = walkBlobs(dst, func(leaf string, names []string) error {
		dirty := false
		for _, name := range names {
			id := strings.TrimSuffix(name, sidecarSuffix)
			for more && cur < id {
				var err error
				if cur, more, err = next(); err != nil {
					return err
				}
			}
			if more && cur == id {
				continue
			}
			if err := os.Remove(filepath.Join(leaf, name)); err != nil {
				return errs.Wrap(errs.Internal, err, "remove %s from the backup", name)
			}
			dirty = true
			if name == id {
				removed++
			}
		}
		if dirty {
			return syncDir(leaf)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for more { // let eachRef finish, to learn whether it failed
		if _, more, err = next(); err != nil {
			return 0, err
		}
	}
	return removed, nil
}

// walkBlobs calls fn for each leaf directory of the blob directory dir, in order, with the
// names of its files, sorted. Anything that does not belong in a blob directory is an error:
// the tree may come from elsewhere (a backup), and its names become paths.
func walkBlobs(dir string, fn func(leaf string, names []string) error) error {
	mids, err := os.ReadDir(dir)
	if err != nil {
		return errs.Wrap(errs.Internal, err, "read %s", dir)
	}
	for _, m := range mids {
		if m.Name() == "tmp" && m.IsDir() {
			continue // a blob store's temporary files: never part of a copy
		}
		if !m.IsDir() || !isFanout(m.Name()) {
			return errs.E(errs.Invalid, "unexpected %s in %s", m.Name(), dir)
		}
		mid := filepath.Join(dir, m.Name())
		leaves, err := os.ReadDir(mid)
		if err != nil {
			return errs.Wrap(errs.Internal, err, "read %s", mid)
		}
		for _, l := range leaves {
			if !l.IsDir() || !isFanout(l.Name()) {
				return errs.E(errs.Invalid, "unexpected %s in %s", l.Name(), mid)
			}
			leaf := filepath.Join(mid, l.Name())
			files, err := os.ReadDir(leaf)
			if err != nil {
				return errs.Wrap(errs.Internal, err, "read %s", leaf)
			}
			names := make([]string, 0, len(files))
			for _, f := range files {
				id := strings.TrimSuffix(f.Name(), sidecarSuffix)
				if !f.Type().IsRegular() || !validID(id) || id[:2] != m.Name() || id[2:4] != l.Name() {
					return errs.E(errs.Invalid, "unexpected %s in %s", f.Name(), leaf)
				}
				names = append(names, f.Name())
			}
			if err := fn(leaf, names); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncFanout syncs the fan-out directories of the blob directory dir that hold leaves, then
// dir itself and its parent: the names of the leaves and of everything above them. (Each
// leaf was synced once its files were.)
func syncFanout(dir string) error {
	mids, err := os.ReadDir(dir)
	if err != nil {
		return errs.Wrap(errs.Internal, err, "read %s", dir)
	}
	for _, m := range mids {
		if m.IsDir() {
			if err := syncDir(filepath.Join(dir, m.Name())); err != nil {
				return err
			}
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// hashFile returns the size and hex SHA-256 of the file at path.
func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", errs.Wrap(errs.Internal, err, "read %s", path)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", errs.Wrap(errs.Internal, err, "read %s", path)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// syncFile fsyncs the file at path.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return errs.Wrap(errs.Internal, err, "sync %s", path)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errs.Wrap(errs.Internal, err, "sync %s", path)
	}
	return nil
}

// syncDir fsyncs a directory, which makes the names created, renamed or removed in it
// durable (POSIX fsync() on a directory; Linux documents the need in fsync(2)).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return errs.Wrap(errs.Internal, err, "sync %s", dir)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && runtime.GOOS != "windows" { // Windows cannot flush a directory handle
		return errs.Wrap(errs.Internal, err, "sync %s", dir)
	}
	return nil
}

// readLimited reads a file of at most max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return b, nil
}

// validID reports whether id is a blob id (blob.newID: 32 lowercase hex digits). Checked
// before an id becomes a file name, so that none reaches another path ("../…").
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	return isHex(id)
}

// isFanout reports whether name is a fan-out directory's: two lowercase hex digits.
func isFanout(name string) bool { return len(name) == 2 && isHex(name) }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
