package blob

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

// FS is the embedded Store: one file per blob under a directory, laid out as
// <dir>/<id[0:2]>/<id[2:4]>/<id> so that a directory holds about 150 entries per 10 million
// blobs (256 × 256 leaf directories), the sidecar of a rotated blob beside it as <id>.key,
// and temporary files under <dir>/tmp.
type FS struct {
	dir      string
	ring     *keyring
	previous [][]byte // from WithPreviousKeys, until NewFS builds ring
	maxSize  int64
	// durableMid[n] and durableLeaf[n] are set once fan-out directory n (the first two, or
	// four, hex digits of an ID) is known to exist with its name synced to disk, so that each
	// costs its parent's fsync once per process, not on every Put.
	durableMid  [1 << 8]atomic.Bool
	durableLeaf [1 << 16]atomic.Bool
	newID       func() string // makes blob IDs: newID, but benchmarks narrow it to a few directories
	// hook, when set, is called at the steps of a rewrap (rewrap.go), so that a test can stop
	// the process there as kill -9 would.
	hook          func(step string)
	rewrapWorkers int // rewrapWorkers, but 1 in tests that need an order
}

var _ Store = (*FS)(nil)

// Option configures an FS.
type Option func(*FS)

// WithMaxSize sets the largest blob Put accepts (DefaultMaxSize otherwise).
func WithMaxSize(n int64) Option { return func(s *FS) { s.maxSize = n } }

// WithPreviousKeys adds the master keys that were current before the one given to NewFS:
// blobs whose data key one of them wrapped still open, and Rewrap moves them to the current
// key. The caller may wipe the keys once NewFS returns.
func WithPreviousKeys(keys ...[]byte) Option {
	return func(s *FS) { s.previous = append(s.previous, keys...) }
}

const (
	tmpDir = "tmp" // never a fan-out name: those are two hex digits
	// staleTemp is the age past which a temporary file is a leftover of a crash: Put rewrites
	// its file continuously and a rewrap writes its own at once, so a file untouched this long
	// belongs to neither running.
	staleTemp = 24 * time.Hour
)

// NewFS returns a Store keeping blobs under dir, created 0700 if needed, encrypted under a
// key derived from master, the current master key. It removes temporary files that crashed
// Puts and rewraps left behind.
func NewFS(dir string, master []byte, opts ...Option) (*FS, error) {
	s := &FS{dir: dir, maxSize: DefaultMaxSize, newID: newID, rewrapWorkers: rewrapWorkers}
	for _, o := range opts {
		o(s)
	}
	ring, err := newKeyring(master, s.previous...)
	if err != nil {
		return nil, err
	}
	s.ring, s.previous = ring, nil
	if s.maxSize <= 0 || s.maxSize > maxStreamSize(segSize) {
		return nil, errs.E(errs.Invalid, "blob maximum size %d out of range", s.maxSize)
	}
	tmp := filepath.Join(dir, tmpDir)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, errs.Wrap(errs.Internal, err, "create blob directory %s", dir)
	}
	// The store's own directories must be linked durably before any blob below them is.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := syncDir(d); err != nil {
			return nil, errs.Wrap(errs.Internal, err, "sync blob directory %s", d)
		}
	}
	// File modification times come from the system clock, so they are compared with the
	// system clock, not an injected one.
	if err := removeStale(tmp, time.Now()); err != nil {
		return nil, errs.Wrap(errs.Internal, err, "clean blob temporary files")
	}
	return s, nil
}

// path is where the blob id lives.
func (s *FS) path(id string) string {
	return filepath.Join(s.dir, id[:2], id[2:4], id)
}

// Put encrypts r into a new blob. The bytes are written under a temporary name, synced, then
// renamed into place and the directory synced, so that the blob either survives a crash whole
// or does not exist (DESIGN invariant 1; POSIX rename() replaces the name atomically).
func (s *FS) Put(ctx context.Context, r io.Reader) (ref Ref, err error) {
	if err := ctx.Err(); err != nil {
		return Ref{}, errs.Wrap(errs.Unavailable, err, "blob upload interrupted")
	}
	id := s.newID()
	// The temporary file sits in tmp/, on the same file system as its final place so the
	// rename stays atomic, rather than beside it: start-up can then clean leftovers by
	// listing one directory instead of walking 65,536.
	f, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), id+".*") // created 0600
	if err != nil {
		return Ref{}, writeError(err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	ref, err = encryptStream(ctx, f, r, sealParams{key: s.ring.current(), id: id, seg: segSize, max: s.maxSize, rand: rand.Reader})
	if err != nil {
		return Ref{}, fmt.Errorf("put blob: %w", err)
	}
	// fsync before rename: otherwise, on file systems that reorder data and metadata, a crash
	// may leave the final name pointing to a file without its bytes.
	if err = f.Sync(); err != nil {
		return Ref{}, writeError(err)
	}
	if err = f.Close(); err != nil {
		return Ref{}, writeError(err)
	}
	final := s.path(id)
	if err = s.makeLeaf(id, final); err != nil {
		return Ref{}, errs.Wrap(errs.Internal, err, "create blob directory")
	}
	if err = os.Rename(tmp, final); err != nil {
		return Ref{}, errs.Wrap(errs.Internal, err, "put blob in place")
	}
	// The rename lives in the directory: without this fsync it may be lost on power failure
	// although the bytes were synced.
	if err = syncDir(filepath.Dir(final)); err != nil {
		os.Remove(final) // not acknowledged, so not kept
		return Ref{}, errs.Wrap(errs.Internal, err, "sync blob directory")
	}
	return ref, nil
}

// makeLeaf creates the fan-out directories of a blob path and makes their names durable: a
// synced file in a directory whose own entry was never synced may vanish with it. Each is
// synced even when it already existed, the first time this process meets it: another process
// (or this one, before a kill -9), or a concurrent Put, may have created it and not synced it
// yet.
func (s *FS) makeLeaf(id, path string) error {
	n, err := strconv.ParseUint(id[:4], 16, 16)
	if err != nil {
		return err // not reached: ids are checked or made here
	}
	if s.durableLeaf[n].Load() {
		return nil
	}
	leaf := filepath.Dir(path)
	mid := filepath.Dir(leaf)
	for _, d := range []struct {
		path, parent string
		done         *atomic.Bool
	}{{mid, s.dir, &s.durableMid[n>>8]}, {leaf, mid, &s.durableLeaf[n]}} {
		if d.done.Load() {
			continue
		}
		if err := os.Mkdir(d.path, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := syncDir(d.parent); err != nil {
			return err
		}
		d.done.Store(true)
	}
	return nil
}

// Open returns a reader of the blob's plaintext. It checks the file's length against
// ref.Size and unwraps the data key first, so that a truncated file, a wrong master key or a
// blob copied over another is refused before any byte is handed out; the remaining checks
// (each segment's tag, the SHA-256 and SHA-1) happen as the reader goes.
func (s *FS) Open(ctx context.Context, ref Ref) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "blob read interrupted")
	}
	want, err := checkRef(ref, segSize)
	if err != nil {
		return nil, err
	}
	r, _, err := s.openReader(ref.ID, want, false)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// openReader opens blob id as a reader checking want, and says under which master key the data key was found. needCurrent is
// unwrap's.
func (s *FS) openReader(id string, want expect, needCurrent bool) (*reader, *masterKey, error) {
	f, err := os.Open(s.path(id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, errs.Wrap(errs.NotFound, err, "blob not found")
		}
		return nil, nil, errs.Wrap(errs.Internal, err, "open blob")
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, errs.Wrap(errs.Internal, err, "open blob")
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, corrupted(fmt.Errorf("blob %s: not a regular file", id))
	}
	var under *masterKey
	r, err := decryptStream(f, id, segSize, want, func(h *header) ([]byte, error) {
		if !want.anySize {
			if n := streamSize(len(h.raw), want.size, segSize); fi.Size() != n {
				return nil, corrupted(fmt.Errorf("blob %s: file is %d bytes, want %d", id, fi.Size(), n))
			}
		}
		u, err := s.unwrap(id, h, needCurrent)
		under = u.under
		return u.key, err
	})
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	r.closer = f
	return r, under, nil
}

// Delete removes the blob id and its sidecar. It syncs the directory even when the files are
// already gone, since an earlier Delete may have removed them and crashed before its sync; the
// fan-out directories are kept, as a concurrent Put may be about to use them. The blob goes
// first: a crash between the two leaves a sidecar without a blob, which opens nothing and
// which a retried Delete or RewrapAll removes.
func (s *FS) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return errs.Wrap(errs.Unavailable, err, "blob deletion interrupted")
	}
	if !validID(id) {
		return errs.E(errs.Invalid, "invalid blob id")
	}
	p := s.path(id)
	for _, name := range []string{p, p + sidecarSuffix} {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return errs.Wrap(errs.Internal, err, "delete blob")
		}
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // never created: nothing to make durable
		}
		return errs.Wrap(errs.Internal, err, "sync blob directory")
	}
	return nil
}

// syncDir fsyncs a directory, which makes the names created, renamed or removed in it
// durable (POSIX fsync() on a directory; Linux documents the need in fsync(2)).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && runtime.GOOS == "windows" {
		return nil // Windows cannot flush a directory handle opened this way
	}
	return err
}

// removeStale deletes the temporary files of dir older than staleTemp.
func removeStale(dir string, now time.Time) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if now.Sub(info.ModTime()) > staleTemp {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// Ping checks that the store's directory is still there (readiness): a disk unmounted under
// a running server must take it out of the load balancer.
func (s *FS) Ping(ctx context.Context) error {
	fi, err := os.Stat(filepath.Join(s.dir, tmpDir))
	if err != nil || !fi.IsDir() {
		return errs.Wrap(errs.Unavailable, err, "blob directory unavailable")
	}
	return nil
}
