package blob

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

var testMaster = bytes.Repeat([]byte{0x42}, 32)

func mustFS(tb testing.TB, dir string, master []byte, opts ...Option) *FS {
	tb.Helper()
	s, err := NewFS(dir, master, opts...)
	if err != nil {
		tb.Fatalf("NewFS: %v", err)
	}
	return s
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	rand.NewChaCha8(s).Read(b)
	return b
}

func mustPut(tb testing.TB, s *FS, data []byte) Ref {
	tb.Helper()
	ref, err := s.Put(context.Background(), bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("Put %d bytes: %v", len(data), err)
	}
	return ref
}

// readBlob opens ref and reads it to the end; the error is Open's or the reader's.
func readBlob(s *FS, ref Ref) ([]byte, error) {
	rc, err := s.Open(context.Background(), ref)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func mustBeCorrupted(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("read succeeded, want blob corrupted")
	}
	if errs.CodeOf(err) != errs.Internal || errs.MessageOf(err) != "blob corrupted" {
		t.Fatalf("error %v: code %s message %q, want internal \"blob corrupted\"",
			err, errs.CodeOf(err), errs.MessageOf(err))
	}
}

// regularFiles lists the regular files under dir.
func regularFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	s := mustFS(t, t.TempDir(), testMaster)
	wrap := map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"data+EOF": iotest.DataErrReader,
		"half":     iotest.HalfReader,
	}
	sizes := []int{0, 1, segSize - 1, segSize, segSize + 1, 3 * segSize, 5<<20 + 3}
	for i, size := range sizes {
		for name, w := range wrap {
			if name == "one byte" && size > 3*segSize {
				continue // a byte per Read is only slow past here, not more telling
			}
			t.Run(fmt.Sprintf("%d/%s", size, name), func(t *testing.T) {
				data := randomBytes(size, uint64(i))
				ref, err := s.Put(context.Background(), w(bytes.NewReader(data)))
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				s256, s1 := sha256.Sum256(data), sha1.Sum(data)
				if ref.Size != int64(size) || ref.SHA256 != hex.EncodeToString(s256[:]) || ref.SHA1 != hex.EncodeToString(s1[:]) {
					t.Fatalf("ref %+v does not describe the %d bytes put", ref, size)
				}
				if !validID(ref.ID) {
					t.Fatalf("id %q is not 32 lowercase hex digits", ref.ID)
				}
				file, err := os.ReadFile(s.path(ref.ID))
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(file)) != encryptedSize(ref.Size, segSize) {
					t.Fatalf("file is %d bytes, want %d", len(file), encryptedSize(ref.Size, segSize))
				}
				if size >= 32 && bytes.Contains(file, data[:32]) {
					t.Fatal("the file holds the plaintext")
				}
				got, err := readBlob(s, ref)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("read %d bytes differing from the %d put", len(got), size)
				}
				rc, err := s.Open(context.Background(), ref)
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				if err := iotest.TestReader(rc, data); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestFilesArePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no POSIX mode bits; the directory's ACL protects the files there")
	}
	dir := filepath.Join(t.TempDir(), "blobs")
	s := mustFS(t, dir, testMaster)
	ref := mustPut(t, s, []byte("x"))
	for _, c := range []struct {
		path string
		want fs.FileMode
	}{{dir, 0o700}, {filepath.Dir(s.path(ref.ID)), 0o700}, {s.path(ref.ID), 0o600}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != c.want {
			t.Errorf("%s has mode %04o, want %04o", c.path, fi.Mode().Perm(), c.want)
		}
	}
}

func TestNewFSRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewFS(dir, make([]byte, 16)); !errs.Is(err, errs.Invalid) {
		t.Errorf("16-byte master key: %v, want invalid", err)
	}
	for _, max := range []int64{0, -1, maxStreamSize(segSize) + 1} {
		if _, err := NewFS(dir, testMaster, WithMaxSize(max)); !errs.Is(err, errs.Invalid) {
			t.Errorf("max size %d: %v, want invalid", max, err)
		}
	}
}

func TestWrongMasterKeyCannotRead(t *testing.T) {
	dir := t.TempDir()
	s := mustFS(t, dir, testMaster)
	ref := mustPut(t, s, randomBytes(1000, 1))

	other := mustFS(t, dir, bytes.Repeat([]byte{0x43}, 32))
	_, err := other.Open(context.Background(), ref)
	mustBeCorrupted(t, err) // refused at Open: no byte handed out

	// The same key reopened (a restart) reads it.
	if _, err := readBlob(mustFS(t, dir, testMaster), ref); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

// tamper rewrites the blob file with f applied, and returns a function that restores it.
func tamper(t *testing.T, path string, f func([]byte) []byte) (restore func()) {
	t.Helper()
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(bytes.Clone(orig)), 0o600); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.WriteFile(path, orig, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAnyFlippedByteIsDetected(t *testing.T) {
	s := mustFS(t, t.TempDir(), testMaster)
	small := mustPut(t, s, randomBytes(200, 2))
	big := mustPut(t, s, randomBytes(3*segSize+100, 3))

	check := func(ref Ref, positions []int64) {
		path := s.path(ref.ID)
		for _, pos := range positions {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				restore := tamper(t, path, func(b []byte) []byte { b[pos] ^= mask; return b })
				_, err := readBlob(s, ref)
				if err == nil {
					t.Fatalf("blob of %d bytes read fine with byte %d xored with %#x", ref.Size, pos, mask)
				}
				mustBeCorrupted(t, err)
				restore()
			}
		}
		if _, err := readBlob(s, ref); err != nil {
			t.Fatalf("restored blob: %v", err)
		}
	}

	all := make([]int64, encryptedSize(small.Size, segSize))
	for i := range all {
		all[i] = int64(i)
	}
	check(small, all)

	n := encryptedSize(big.Size, segSize)
	enc := int64(segSize + tagSize)
	check(big, []int64{
		0, 3, 4, // magic, version
		int64(offWrapped), int64(offWrapped + nonceSize), int64(offPrefix - 1), // wrap nonce, wrapped key, its tag
		int64(offPrefix), int64(headerSize - 1), // nonce prefix
		int64(headerSize), int64(headerSize + segSize/2), int64(headerSize) + enc - 1, // segment 0: start, middle, tag
		int64(headerSize) + enc, int64(headerSize) + 2*enc + 7, // segments 1 and 2
		n / 2, n - tagSize - 1, n - 1, // the middle, the final segment's last data byte and tag
	})
}

func TestTruncationAtSegmentBoundaryIsDetected(t *testing.T) {
	s := mustFS(t, t.TempDir(), testMaster)
	data := randomBytes(3*segSize+100, 4)
	ref := mustPut(t, s, data)
	enc := int64(segSize + tagSize)

	for k := int64(1); k <= 3; k++ {
		restore := tamper(t, s.path(ref.ID), func(b []byte) []byte { return b[:int64(headerSize)+k*enc] })
		_, err := readBlob(s, ref)
		mustBeCorrupted(t, err)

		// A Ref forged to match the shortened file gets past the length and hash checks:
		// only the "last segment" flag of STREAM can tell that segment k-1 was not the end.
		// The segments before it are genuine and handed out; the error comes instead of EOF.
		sum := sha256.Sum256(data[:k*segSize])
		forged := Ref{ID: ref.ID, Size: k * segSize, SHA256: hex.EncodeToString(sum[:])}
		got, err := readBlob(s, forged)
		mustBeCorrupted(t, err)
		if int64(len(got)) != (k-1)*segSize || !bytes.Equal(got, data[:len(got)]) {
			t.Fatalf("cut after %d segments: %d bytes handed out, want the %d genuine ones", k, len(got), (k-1)*segSize)
		}
		restore()
	}

	restore := tamper(t, s.path(ref.ID), func(b []byte) []byte { return append(b, 0) })
	_, err := readBlob(s, ref)
	mustBeCorrupted(t, err)
	restore()
}

func TestSwappedSegmentsAreDetected(t *testing.T) {
	s := mustFS(t, t.TempDir(), testMaster)
	data := randomBytes(4*segSize, 5)
	ref := mustPut(t, s, data)
	enc := segSize + tagSize
	seg := func(b []byte, i int) []byte { return b[headerSize+i*enc : headerSize+(i+1)*enc] }

	for _, pair := range [][2]int{{0, 1}, {1, 2}, {2, 3}, {0, 3}} {
		restore := tamper(t, s.path(ref.ID), func(b []byte) []byte {
			x := bytes.Clone(seg(b, pair[0]))
			copy(seg(b, pair[0]), seg(b, pair[1]))
			copy(seg(b, pair[1]), x)
			return b
		})
		got, err := readBlob(s, ref)
		mustBeCorrupted(t, err)
		// The segment counter in the nonce stops the reader at the first misplaced segment.
		if len(got) != pair[0]*segSize {
			t.Fatalf("segments %v swapped: %d bytes handed out, want %d", pair, len(got), pair[0]*segSize)
		}
		restore()
	}
}

func TestBlobCopiedOverAnotherIDFails(t *testing.T) {
	s := mustFS(t, t.TempDir(), testMaster)
	a := mustPut(t, s, randomBytes(segSize+10, 6))
	b := mustPut(t, s, randomBytes(segSize+10, 7))
	file, err := os.ReadFile(s.path(a.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.path(b.ID), file, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = readBlob(s, b)
	mustBeCorrupted(t, err)
	// Even with A's size and hash under B's ID, which pass every other check.
	_, err = readBlob(s, Ref{ID: b.ID, Size: a.Size, SHA256: a.SHA256})
	mustBeCorrupted(t, err)
}

func TestRefMismatchFailsAtEnd(t *testing.T) {
	s := mustFS(t, t.TempDir(), testMaster)
	data := randomBytes(2*segSize+1, 8)
	ref := mustPut(t, s, data)

	wrongSum := ref
	wrongSum.SHA256 = hex.EncodeToString(make([]byte, 32))
	got, err := readBlob(s, wrongSum)
	mustBeCorrupted(t, err)
	if !bytes.Equal(got, data) {
		t.Fatal("the authenticated bytes were not all handed out before the hash check")
	}

	for _, size := range []int64{ref.Size - 1, ref.Size + 1, 0} {
		wrongSize := ref
		wrongSize.Size = size
		_, err := readBlob(s, wrongSize)
		mustBeCorrupted(t, err)
	}

	rc, err := s.Open(context.Background(), wrongSum)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err == nil { // through WriteTo
		t.Fatal("io.Copy succeeded with a wrong SHA-256")
	}
}

func TestOpenRefusesBadRefs(t *testing.T) {
	s := mustFS(t, t.TempDir(), testMaster)
	good := mustPut(t, s, []byte("hello"))
	cases := []struct {
		name string
		ref  Ref
		code errs.Code
	}{
		{"path in id", Ref{ID: "../../../../etc/passwd", SHA256: good.SHA256}, errs.Invalid},
		{"upper-case id", Ref{ID: "ABCDEF0123456789ABCDEF0123456789", SHA256: good.SHA256}, errs.Invalid},
		{"short id", Ref{ID: good.ID[:30], Size: 5, SHA256: good.SHA256}, errs.Invalid},
		{"negative size", Ref{ID: good.ID, Size: -1, SHA256: good.SHA256}, errs.Invalid},
		{"bad hash", Ref{ID: good.ID, Size: 5, SHA256: "xyz"}, errs.Invalid},
		{"short hash", Ref{ID: good.ID, Size: 5, SHA256: good.SHA256[:62]}, errs.Invalid},
		{"missing", Ref{ID: "00000000000000000000000000000000", Size: 5, SHA256: good.SHA256}, errs.NotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, err := s.Open(context.Background(), c.ref)
			if err == nil {
				rc.Close()
			}
			if errs.CodeOf(err) != c.code {
				t.Fatalf("Open: %v, want %s", err, c.code)
			}
		})
	}
}

// endless yields n zero bytes, counting what was read from it, without allocating.
type endless struct{ n, read int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.read >= e.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), e.n-e.read)]
	clear(p)
	e.read += int64(len(p))
	return len(p), nil
}

func TestOversizeRefused(t *testing.T) {
	dir := t.TempDir()
	const max = 2*segSize + 5
	s := mustFS(t, dir, testMaster, WithMaxSize(max))
	if _, err := s.Put(context.Background(), &endless{n: max}); err != nil {
		t.Fatalf("exactly the limit: %v", err)
	}
	src := &endless{n: 1 << 40}
	_, err := s.Put(context.Background(), src)
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("1 TiB: %v, want invalid", err)
	}
	if src.read > max+segSize+1 {
		t.Errorf("read %d bytes of the source before refusing, want at most a segment past %d", src.read, max)
	}
	if _, err := s.Put(context.Background(), &endless{n: max + 1}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("one byte over: %v, want invalid", err)
	}
	if files := regularFiles(t, dir); len(files) != 1 {
		t.Fatalf("files left: %v, want only the blob within the limit", files)
	}
}

func TestFailedPutLeavesNothing(t *testing.T) {
	boom := errors.New("connection reset")
	cancelledBefore, cancel := context.WithCancel(context.Background())
	cancel()
	cancelledDuring, cancelDuring := context.WithCancel(context.Background())
	defer cancelDuring()
	cases := []struct {
		name string
		ctx  context.Context
		src  io.Reader
		test func(error) bool
	}{
		{"source fails", context.Background(),
			io.MultiReader(bytes.NewReader(randomBytes(segSize+3, 9)), iotest.ErrReader(boom)),
			func(err error) bool { return errors.Is(err, boom) }},
		{"cancelled before", cancelledBefore, bytes.NewReader([]byte("x")),
			func(err error) bool { return errs.Is(err, errs.Unavailable) }},
		{"cancelled during", cancelledDuring,
			readHook{bytes.NewReader(randomBytes(3*segSize, 10)), cancelDuring},
			func(err error) bool { return errs.Is(err, errs.Unavailable) && errors.Is(err, context.Canceled) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustFS(t, dir, testMaster)
			_, err := s.Put(c.ctx, c.src)
			if !c.test(err) {
				t.Fatalf("Put: %v", err)
			}
			if files := regularFiles(t, dir); len(files) != 0 {
				t.Fatalf("files left: %v", files)
			}
		})
	}
}

// readHook calls f after the first Read.
type readHook struct {
	r io.Reader
	f func()
}

func (h readHook) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.f()
	return n, err
}

func TestConcurrentPuts(t *testing.T) {
	s := mustFS(t, t.TempDir(), testMaster)
	const writers, each = 8, 6
	type put struct {
		data []byte
		ref  Ref
	}
	var (
		mu   sync.Mutex
		puts []put
		wg   sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				data := randomBytes(w*each*7919+i*segSize/3, uint64(100+w*each+i))
				ref, err := s.Put(context.Background(), bytes.NewReader(data))
				if err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				mu.Lock()
				puts = append(puts, put{data, ref})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, p := range puts {
		if ids[p.ref.ID] {
			t.Fatalf("id %s given twice", p.ref.ID)
		}
		ids[p.ref.ID] = true
		got, err := readBlob(s, p.ref)
		if err != nil || !bytes.Equal(got, p.data) {
			t.Fatalf("blob %s: %v, %d bytes of %d", p.ref.ID, err, len(got), len(p.data))
		}
	}
	if len(puts) != writers*each {
		t.Fatalf("%d blobs stored, want %d", len(puts), writers*each)
	}
}

func TestDeleteIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	s := mustFS(t, dir, testMaster)
	ref := mustPut(t, s, []byte("to be forgotten"))
	ctx := context.Background()
	for i := range 2 {
		if err := s.Delete(ctx, ref.ID); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if _, err := s.Open(ctx, ref); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Open after Delete: %v, want not found", err)
	}
	// Never stored, not even its fan-out directories.
	if err := s.Delete(ctx, "ffffffffffffffffffffffffffffffff"); err != nil {
		t.Fatalf("Delete of an unknown id: %v", err)
	}
	if err := s.Delete(ctx, "../tmp"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("Delete ../tmp: %v, want invalid", err)
	}
	if files := regularFiles(t, dir); len(files) != 0 {
		t.Fatalf("files left: %v", files)
	}
}

func TestStaleTemporaryFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	mustFS(t, dir, testMaster)
	tmp := filepath.Join(dir, tmpDir)
	old, fresh := filepath.Join(tmp, "old.1"), filepath.Join(tmp, "fresh.2")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * staleTemp)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	mustFS(t, dir, testMaster)
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("recent temporary file (a Put of another process?) removed: %v", err)
	}
}

// TestConstantMemory puts and reads back 32 MiB and checks that the heap allocated along the
// way is a small constant, not a function of the size.
func TestConstantMemory(t *testing.T) {
	s := mustFS(t, t.TempDir(), testMaster)
	const size = 32 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ref, err := s.Put(context.Background(), &endless{n: size})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("Put of %d bytes allocated %d bytes", size, got)
	}

	runtime.ReadMemStats(&before)
	rc, err := s.Open(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != size {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("reading %d bytes allocated %d bytes", size, got)
	}
}
