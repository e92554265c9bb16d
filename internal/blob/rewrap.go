package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Key rotation on the file system. The operator makes a new master key current and keeps the
// old one as a previous key; every node restarts with that keyring, so that new blobs go under
// the new key while old ones still open; RewrapAll then gives every old blob a sidecar under
// the new key (keys.go says why a sidecar and why it is crash-safe). Once RewrapAll has ended
// without error, every blob has a durable wrapping under the current key, and the old key can
// be removed from the configuration. RewrapAll only adds what is missing, so after an
// interruption it is simply run again.

// unwrapped is a data key and where it was found.
type unwrapped struct {
	key     []byte
	under   *masterKey // the master key of the wrapping it came from
	sidecar bool       // that wrapping is the sidecar's, not the header's
}

// unwrap returns the data key of blob id, whose header is h: from the header when the keyring
// holds its key, else from the sidecar. With needCurrent, a header under a previous key does
// not end the search: a sidecar under the current key is preferred, so that the caller learns
// whether the blob still needs a rewrap. Every failure is "blob corrupted", but for an I/O
// error reading the sidecar.
func (s *FS) unwrap(id string, h *header, needCurrent bool) (unwrapped, error) {
	cur := s.ring.current()
	dk, hk, herr := s.ring.openHeader(id, h)
	if herr != nil && !isNoKey(herr) {
		// The header names a configured key but its wrapping does not open: it was altered,
		// and with it the additional data of every segment, so no sidecar can save the blob.
		return unwrapped{}, corrupted(herr)
	}
	if herr == nil && (hk == cur || !needCurrent) {
		return unwrapped{dk, hk, false}, nil
	}
	b, err := s.readSidecar(id)
	if err != nil {
		clear(dk)
		return unwrapped{}, err
	}
	if b == nil {
		if herr != nil {
			return unwrapped{}, corrupted(herr)
		}
		return unwrapped{dk, hk, false}, nil
	}
	sdk, sk, serr := s.ring.openSidecar(id, b)
	switch {
	case serr != nil && herr != nil:
		return unwrapped{}, corrupted(fmt.Errorf("%w; %s", herr, strings.TrimPrefix(serr.Error(), "blob "+id+": ")))
	case serr != nil:
		// A sidecar under a key no longer configured, or damaged: the header still opens,
		// and a rewrap replaces the sidecar.
		return unwrapped{dk, hk, false}, nil
	case herr != nil:
		return unwrapped{sdk, sk, true}, nil
	}
	defer clear(dk)
	// Both open. They hold the same key unless someone holding a KEK forged one; retiring the
	// header's key would then lose the blob, so say so now.
	if !bytes.Equal(dk, sdk) {
		clear(sdk)
		return unwrapped{}, corrupted(fmt.Errorf("blob %s: header and sidecar hold different data keys", id))
	}
	return unwrapped{sdk, sk, true}, nil
}

// readSidecar returns the content of blob id's sidecar, or nil when it has none.
func (s *FS) readSidecar(id string) ([]byte, error) {
	f, err := os.Open(s.path(id) + sidecarSuffix)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, errs.Wrap(errs.Internal, err, "open blob key file")
	}
	defer f.Close()
	// One byte more than a sidecar holds, so that a longer file is seen as not one.
	b, err := io.ReadAll(io.LimitReader(f, int64(sidecarSize)+1))
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "read blob key file")
	}
	return b, nil
}

// writeSidecar replaces blob id's sidecar with b: written and synced under a temporary name in
// tmp/, then renamed into place, so that the name holds the old content or the new, whole,
// whatever happens (POSIX rename(); fsync first, or the new name may point to an empty file
// after a power loss). The caller syncs the blob's directory to make the rename durable. On
// error nothing but a temporary file is changed, and that file is removed; there are no
// deferred calls, so that a test hook stopping here leaves what kill -9 would.
func (s *FS) writeSidecar(id string, b []byte) error {
	f, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), id+sidecarSuffix+".*") // created 0600
	if err != nil {
		return writeError(err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return writeError(err)
	}
	s.step("sidecar written")
	if err := os.Rename(tmp, s.path(id)+sidecarSuffix); err != nil {
		os.Remove(tmp)
		return errs.Wrap(errs.Internal, err, "put blob key file in place")
	}
	s.step("sidecar renamed")
	return nil
}

func (s *FS) step(name string) {
	if s.hook != nil {
		s.hook(name)
	}
}

// Rewrap makes sure a wrapping under the current master key holds the data key of blob id,
// writing a sidecar if none does, without touching the blob itself. It reports whether it
// wrote one: a blob already under the current key is left as it is. The new wrapping is
// durable when Rewrap returns.
func (s *FS) Rewrap(ctx context.Context, id string) (changed bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, errs.Wrap(errs.Unavailable, err, "rewrap interrupted")
	}
	if !validID(id) {
		return false, errs.E(errs.Invalid, "invalid blob id")
	}
	changed, sidecar, err := s.rewrap(id)
	if err != nil {
		return false, err
	}
	// Synced even when nothing changed: an earlier Rewrap may have renamed the sidecar and been
	// killed before its sync, and the old key must not be retired on a rename that a power
	// loss could still undo.
	if sidecar {
		if err := syncDir(filepath.Dir(s.path(id))); err != nil {
			return false, errs.Wrap(errs.Internal, err, "sync blob directory")
		}
	}
	return changed, nil
}

// rewrap is Rewrap without the directory's sync; sidecar says that the wrapping under the
// current key is the sidecar, whose name the caller must make durable.
func (s *FS) rewrap(id string) (changed, sidecar bool, err error) {
	f, err := os.Open(s.path(id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, false, errs.Wrap(errs.NotFound, err, "blob not found")
		}
		return false, false, errs.Wrap(errs.Internal, err, "open blob")
	}
	h, err := readHeader(f, id)
	f.Close()
	if err != nil {
		return false, false, err
	}
	u, err := s.unwrap(id, h, true)
	if err != nil {
		return false, false, err
	}
	defer clear(u.key)
	cur := s.ring.current()
	if u.under == cur {
		return false, u.sidecar, nil
	}
	b, err := sealSidecar(cur, id, u.key, rand.Reader)
	if err != nil {
		return false, false, err
	}
	if err := s.writeSidecar(id, b); err != nil {
		return false, false, err
	}
	return true, true, nil
}

// maxListed is how many failures an error of RewrapAll spells out.
const maxListed = 20

// rewrapWorkers is how many leaf directories RewrapAll works on at once. Each sidecar costs
// a file fsync, a few milliseconds on a virtual disk; fsyncs issued together share the file
// system's journal commits (ext4, XFS), so a rotation goes several times faster than one
// fsync at a time while the CPU stays idle.
const rewrapWorkers = 16

// RewrapAll rewraps every blob of the store, a leaf directory at a time (several at once):
// the sidecars of a directory are written, then the directory is synced once, then progress
// is called with the number of blobs done so far and of those that needed a new wrapping. A
// blob that cannot be unwrapped (corrupted, or under a key no longer configured) is counted
// apart, and RewrapAll goes on with the others and reports them in its error at the end; any
// other failure stops it. It also removes the sidecars of deleted blobs. Run again, it finds
// nothing left to do, so an interrupted run is resumed by starting it over. progress is
// called by one goroutine at a time.
func (s *FS) RewrapAll(ctx context.Context, progress func(done, changed int)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type leafWork struct {
		leaf          string
		ids, sidecars []string
	}
	var (
		mu                    sync.Mutex
		done, changed, failed int
		listed                []string
		firstErr              error
		wg                    sync.WaitGroup
	)
	work := make(chan leafWork)
	for range max(s.rewrapWorkers, 1) {
		wg.Go(func() {
			for w := range work {
				d, c, bad, err := s.rewrapLeaf(ctx, w.leaf, w.ids, w.sidecars)
				mu.Lock()
				done, changed, failed = done+d, changed+c, failed+len(bad)
				listed = append(listed, bad[:min(len(bad), maxListed-len(listed))]...)
				switch {
				case err != nil && firstErr == nil:
					firstErr = err
					cancel()
				case err == nil && progress != nil:
					progress(done, changed)
				}
				mu.Unlock()
			}
		})
	}
	walkErr := s.walkLeaves(ctx, func(leaf string, ids, sidecars []string) error {
		select {
		case work <- leafWork{leaf, ids, sidecars}:
			return nil
		case <-ctx.Done():
			return errs.Wrap(errs.Unavailable, ctx.Err(), "rewrap interrupted")
		}
	})
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if walkErr != nil {
		return walkErr
	}
	if failed > 0 {
		more := ""
		if failed > len(listed) {
			more = fmt.Sprintf("; and %d more", failed-len(listed))
		}
		return errs.Wrap(errs.Internal, errors.New(strings.Join(listed, "; ")+more),
			"%d blobs could not be rewrapped and stay under their old key", failed)
	}
	return nil
}

// rewrapLeaf rewraps the blobs ids of the directory leaf, removes its orphaned sidecars and
// syncs it. It returns how many blobs it did and changed, and the errors of those it could
// not unwrap.
func (s *FS) rewrapLeaf(ctx context.Context, leaf string, ids, sidecars []string) (done, changed int, bad []string, err error) {
	sync := false
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return done, changed, bad, errs.Wrap(errs.Unavailable, err, "rewrap interrupted")
		}
		c, sc, err := s.rewrap(id)
		switch {
		case errs.Is(err, errs.NotFound):
			continue // deleted since the directory was listed
		case isCorrupted(err):
			bad = append(bad, err.Error())
			continue
		case err != nil:
			return done, changed, bad, fmt.Errorf("rewrap blob %s: %w", id, err)
		}
		done++
		if c {
			changed++
		}
		sync = sync || sc
	}
	removed, err := s.removeOrphans(ids, sidecars)
	if err != nil {
		return done, changed, bad, err
	}
	// The counts are returned only once the directory is synced: a blob is done when its
	// new wrapping is durable.
	if sync || removed {
		if err := syncDir(leaf); err != nil {
			return 0, 0, bad, errs.Wrap(errs.Internal, err, "sync blob directory")
		}
	}
	return done, changed, bad, nil
}

// removeOrphans removes the sidecars among sidecars whose blob is not among ids and no longer
// exists: what a Delete killed between its two removals leaves. A blob never comes back once
// deleted (IDs are never reused), so the check cannot race with a Put.
func (s *FS) removeOrphans(ids, sidecars []string) (bool, error) {
	removed := false
	for _, id := range sidecars {
		if _, found := slices.BinarySearch(ids, id); found {
			continue
		}
		if _, err := os.Lstat(s.path(id)); !errors.Is(err, fs.ErrNotExist) {
			continue // put since the listing, or unreadable: left alone
		}
		if err := os.Remove(s.path(id) + sidecarSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, errs.Wrap(errs.Internal, err, "remove blob key file")
		}
		removed = true
	}
	return removed, nil
}

// Verify reads blob id to its end and checks it without a Ref: the data key unwraps, every
// segment authenticates, and the stream ends where its final segment says. It returns the Ref
// the content matches, which the caller can compare with its metadata, and whether a wrapping
// under the current master key holds the data key (false: Rewrap has yet to move it). The
// plaintext is not kept.
func (s *FS) Verify(ctx context.Context, id string) (ref Ref, current bool, err error) {
	if err := ctx.Err(); err != nil {
		return Ref{}, false, errs.Wrap(errs.Unavailable, err, "blob verification interrupted")
	}
	if !validID(id) {
		return Ref{}, false, errs.E(errs.Invalid, "invalid blob id")
	}
	r, under, err := s.openReader(id, expect{anySize: true, sums: true}, true)
	if err != nil {
		return Ref{}, false, err
	}
	defer r.Close()
	if _, err := r.WriteTo(io.Discard); err != nil {
		return Ref{}, false, err
	}
	return r.sums(), under == s.ring.current(), nil
}

// Walk calls fn with the ID of every blob of the store, in the order of IDs, and stops at the
// first error fn returns. Blobs put or deleted during the walk may or may not be seen.
func (s *FS) Walk(ctx context.Context, fn func(id string) error) error {
	return s.walkLeaves(ctx, func(_ string, ids, _ []string) error {
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				return errs.Wrap(errs.Unavailable, err, "blob walk interrupted")
			}
			if err := fn(id); err != nil {
				return err
			}
		}
		return nil
	})
}

// walkLeaves calls fn for each leaf directory of the fan-out that holds anything, in order,
// with the blobs and the sidecars it holds, each list sorted. Names that are neither are
// ignored.
func (s *FS) walkLeaves(ctx context.Context, fn func(leaf string, ids, sidecars []string) error) error {
	mids, err := fanout(s.dir)
	if err != nil {
		return errs.Wrap(errs.Internal, err, "list blob directory")
	}
	for _, m := range mids {
		leaves, err := fanout(filepath.Join(s.dir, m))
		if err != nil {
			return errs.Wrap(errs.Internal, err, "list blob directory")
		}
		for _, l := range leaves {
			if err := ctx.Err(); err != nil {
				return errs.Wrap(errs.Unavailable, err, "blob walk interrupted")
			}
			leaf := filepath.Join(s.dir, m, l)
			entries, err := os.ReadDir(leaf) // sorted by name
			if err != nil {
				return errs.Wrap(errs.Internal, err, "list blob directory")
			}
			var ids, sidecars []string
			for _, e := range entries {
				if !e.Type().IsRegular() {
					continue
				}
				name := e.Name()
				id, isSidecar := strings.CutSuffix(name, sidecarSuffix)
				if !validID(id) || id[:2] != m || id[2:4] != l {
					continue
				}
				if isSidecar {
					sidecars = append(sidecars, id)
				} else {
					ids = append(ids, id)
				}
			}
			if len(ids)+len(sidecars) == 0 {
				continue
			}
			if err := fn(leaf, ids, sidecars); err != nil {
				return err
			}
		}
	}
	return nil
}

// fanout lists the fan-out directories in dir: two lowercase hex digits.
func fanout(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() && len(n) == 2 && isHex(n[0]) && isHex(n[1]) {
			out = append(out, n)
		}
	}
	return out, nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
