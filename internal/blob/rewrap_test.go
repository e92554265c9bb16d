package blob

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

var (
	keyA = testMaster
	keyB = bytes.Repeat([]byte{0x43}, 32)
	keyC = bytes.Repeat([]byte{0x44}, 32)
)

// stored is a blob put in a test, with its content.
type stored struct {
	ref  Ref
	data []byte
}

func putMany(t *testing.T, s *FS, n int, seed uint64) []stored {
	t.Helper()
	var out []stored
	for i := range n {
		data := randomBytes(i*segSize/3+i, seed+uint64(i))
		out = append(out, stored{mustPut(t, s, data), data})
	}
	return out
}

// mustReadAll reads every blob through s and checks its content.
func mustReadAll(t *testing.T, s *FS, blobs []stored) {
	t.Helper()
	for _, b := range blobs {
		got, err := readBlob(s, b.ref)
		if err != nil {
			t.Fatalf("blob %s: %v", b.ref.ID, err)
		}
		if !bytes.Equal(got, b.data) {
			t.Fatalf("blob %s: %d bytes differing from the %d put", b.ref.ID, len(got), len(b.data))
		}
	}
}

// mustNotRead checks that no byte of any of blobs comes out of s: Open itself refuses.
func mustNotRead(t *testing.T, s *FS, blobs []stored) {
	t.Helper()
	for _, b := range blobs {
		rc, err := s.Open(context.Background(), b.ref)
		if err == nil {
			rc.Close()
			t.Fatalf("blob %s opened under a keyring without its key", b.ref.ID)
		}
		mustBeCorrupted(t, err)
	}
}

// loadV1 copies into dir the format 1 blobs that the code before key rotation wrote under
// testMaster (testdata/v1, made by FS.Put at the time), and returns them.
func loadV1(t *testing.T, s *FS) []stored {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "v1", "refs"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []stored
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text()) // id size sha256 sha1 seed
		size, _ := strconv.ParseInt(fields[1], 10, 64)
		seed, _ := strconv.ParseUint(fields[4], 10, 64)
		ref := Ref{ID: fields[0], Size: size, SHA256: fields[2], SHA1: fields[3]}
		file, err := os.ReadFile(filepath.Join("testdata", "v1", ref.ID))
		if err != nil {
			t.Fatal(err)
		}
		if file[len(magic)] != version1 || int64(len(file)) != streamSize(headerSizeV1, size, segSize) {
			t.Fatalf("testdata blob %s is not format 1", ref.ID)
		}
		if err := s.makeLeaf(ref.ID, s.path(ref.ID)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(s.path(ref.ID), file, 0o600); err != nil {
			t.Fatal(err)
		}
		out = append(out, stored{ref, randomBytes(int(size), seed)})
	}
	if len(out) != 3 {
		t.Fatalf("%d format 1 blobs in testdata, want 3", len(out))
	}
	return out
}

// fileContents maps each blob's file to its bytes.
func fileContents(t *testing.T, s *FS, blobs []stored) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, b := range blobs {
		data, err := os.ReadFile(s.path(b.ref.ID))
		if err != nil {
			t.Fatal(err)
		}
		m[b.ref.ID] = data
	}
	return m
}

func TestKeyID(t *testing.T) {
	m := hmac.New(sha256.New, keyA)
	m.Write([]byte("carnet key id"))
	if want := hex.EncodeToString(m.Sum(nil)[:8]); KeyID(keyA) != want {
		t.Fatalf("KeyID = %s, want %s", KeyID(keyA), want)
	}
	if KeyID(keyA) == KeyID(keyB) || len(KeyID(keyB)) != 16 {
		t.Fatalf("KeyID(A) %s, KeyID(B) %s", KeyID(keyA), KeyID(keyB))
	}
	if strings.Contains(KeyID(keyA), hex.EncodeToString(keyA[:4])) {
		t.Fatal("the key ID shows the key")
	}
}

func TestKeyringRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewFS(dir, keyB, WithPreviousKeys(keyA, make([]byte, 16))); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "previous master key #2") {
		t.Fatalf("a 16-byte previous key: %v, want invalid naming it", err)
	}
	// The current key listed among the previous ones, or a key twice, is no mistake.
	s := mustFS(t, dir, keyB, WithPreviousKeys(keyA, keyB, keyA))
	if len(s.ring.keys) != 2 || s.ring.current().String() != KeyID(keyB) {
		t.Fatalf("keyring %v", s.ring.keys)
	}
}

// Blobs written by the code before key rotation (format 1, no key ID) read as they are, are
// checked against both hashes, and rotate like the others.
func TestFormat1StillReads(t *testing.T) {
	dir := t.TempDir()
	old := loadV1(t, mustFS(t, dir, keyA))
	mustReadAll(t, mustFS(t, dir, keyA), old)
	mustNotRead(t, mustFS(t, dir, keyB), old)

	for _, b := range old {
		bad := b.ref
		bad.SHA1 = strings.Repeat("0", 40)
		_, err := readBlob(mustFS(t, dir, keyA), bad)
		mustBeCorrupted(t, err)
	}

	s := mustFS(t, dir, keyB, WithPreviousKeys(keyA))
	mustReadAll(t, s, old)
	before := fileContents(t, s, old)
	if err := s.RewrapAll(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	mustReadAll(t, mustFS(t, dir, keyB), old)
	if after := fileContents(t, s, old); !mapsEqual(before, after) {
		t.Fatal("rewrap rewrote a blob")
	}
}

func mapsEqual(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(b[k], v) {
			return false
		}
	}
	return true
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	underA := putMany(t, mustFS(t, dir, keyA), 5, 10)
	underA = append(underA, loadV1(t, mustFS(t, dir, keyA))...)
	before := fileContents(t, mustFS(t, dir, keyA), underA)

	// B becomes current, A stays as previous: everything reads, new blobs go under B.
	s := mustFS(t, dir, keyB, WithPreviousKeys(keyA))
	mustReadAll(t, s, underA)
	underB := putMany(t, s, 3, 20)
	mustReadAll(t, s, underB)
	mustNotRead(t, mustFS(t, dir, keyA), underB)
	for _, b := range underA {
		if _, cur, err := s.Verify(ctx, b.ref.ID); err != nil || cur {
			t.Fatalf("Verify %s before rewrap: current %v, %v", b.ref.ID, cur, err)
		}
	}

	for _, b := range underA {
		changed, err := s.Rewrap(ctx, b.ref.ID)
		if err != nil || !changed {
			t.Fatalf("Rewrap %s under A: %v, %v; want changed", b.ref.ID, changed, err)
		}
	}
	for _, b := range append(underA, underB...) {
		changed, err := s.Rewrap(ctx, b.ref.ID)
		if err != nil || changed {
			t.Fatalf("Rewrap %s again: %v, %v; want a no-op", b.ref.ID, changed, err)
		}
		if _, cur, err := s.Verify(ctx, b.ref.ID); err != nil || !cur {
			t.Fatalf("Verify %s after rewrap: current %v, %v", b.ref.ID, cur, err)
		}
	}
	if after := fileContents(t, s, underA); !mapsEqual(before, after) {
		t.Fatal("rewrap rewrote a blob")
	}
	if n := len(regularFiles(t, filepath.Join(dir, tmpDir))); n != 0 {
		t.Fatalf("%d temporary files left", n)
	}

	// A is retired: everything still reads under B alone.
	mustReadAll(t, mustFS(t, dir, keyB), append(underA, underB...))

	// A second rotation replaces the sidecars (rename over the old one) and adds some.
	s = mustFS(t, dir, keyC, WithPreviousKeys(keyB))
	if err := s.RewrapAll(ctx, nil); err != nil {
		t.Fatal(err)
	}
	mustReadAll(t, mustFS(t, dir, keyC), append(underA, underB...))
	mustNotRead(t, mustFS(t, dir, keyB), append(underA, underB...)[:2])

	// Rotating back to a key whose header wrapping is still there is a no-op for those blobs.
	s = mustFS(t, dir, keyB, WithPreviousKeys(keyC))
	for _, b := range underB {
		if changed, err := s.Rewrap(ctx, b.ref.ID); err != nil || changed {
			t.Fatalf("Rewrap %s back to its header's key: %v, %v", b.ref.ID, changed, err)
		}
	}
}

func TestRewrapAllProgressAndResume(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	blobs := putMany(t, mustFS(t, dir, keyA), 12, 30)
	s := mustFS(t, dir, keyB, WithPreviousKeys(keyA))
	s.rewrapWorkers = 1

	// Interrupted after the first directory: what was done stays done.
	cctx, cancel := context.WithCancel(ctx)
	calls := 0
	err := s.RewrapAll(cctx, func(done, changed int) {
		calls++
		cancel()
	})
	if !errs.Is(err, errs.Unavailable) || calls != 1 {
		t.Fatalf("cancelled RewrapAll: %v after %d progress calls", err, calls)
	}

	var lastDone, lastChanged int
	if err := s.RewrapAll(ctx, func(done, changed int) {
		if done < lastDone || changed < lastChanged || changed > done {
			t.Errorf("progress went from %d/%d to %d/%d", lastDone, lastChanged, done, changed)
		}
		lastDone, lastChanged = done, changed
	}); err != nil {
		t.Fatal(err)
	}
	if lastDone != len(blobs) || lastChanged >= len(blobs) || lastChanged == 0 {
		t.Fatalf("resumed run: %d done, %d changed; want %d done and fewer changed", lastDone, lastChanged, len(blobs))
	}
	lastDone, lastChanged = 0, 0
	s.rewrapWorkers = rewrapWorkers
	if err := s.RewrapAll(ctx, func(done, changed int) { lastDone, lastChanged = done, changed }); err != nil {
		t.Fatal(err)
	}
	if lastDone != len(blobs) || lastChanged != 0 {
		t.Fatalf("third run: %d done, %d changed; want %d and 0", lastDone, lastChanged, len(blobs))
	}
	mustReadAll(t, mustFS(t, dir, keyB), blobs)
}

// A blob that cannot be unwrapped is reported, and does not stop the others.
func TestRewrapAllReportsAndGoesOn(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	blobs := putMany(t, mustFS(t, dir, keyA), 6, 40)
	lost := mustPut(t, mustFS(t, dir, keyC), []byte("under a key nobody kept"))
	tamper(t, s0(t, dir).path(blobs[2].ref.ID), func(b []byte) []byte { b[offWrapped+nonceSize] ^= 1; return b })

	s := mustFS(t, dir, keyB, WithPreviousKeys(keyA))
	err := s.RewrapAll(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "2 blobs could not be rewrapped") {
		t.Fatalf("RewrapAll: %v, want 2 blobs reported", err)
	}
	for _, id := range []string{lost.ID, blobs[2].ref.ID} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error does not name blob %s: %v", id, err)
		}
	}
	others := append(append([]stored{}, blobs[:2]...), blobs[3:]...)
	mustReadAll(t, mustFS(t, dir, keyB), others)
}

// s0 is a store over dir for path computations.
func s0(t *testing.T, dir string) *FS { return mustFS(t, dir, keyA) }

// crash makes the hook of s stop a rewrap at step, as kill -9 would: no deferred cleanup of
// the rewrap runs (it has none), the goroutine just stops.
func crash(t *testing.T, s *FS, step string, f func()) {
	t.Helper()
	type killed struct{}
	s.hook = func(at string) {
		if at == step {
			panic(killed{})
		}
	}
	defer func() {
		s.hook = nil
		if r := recover(); r != (killed{}) {
			t.Fatalf("not stopped at %q: %v", step, r)
		}
	}()
	f()
}

// A rewrap killed at any step leaves a blob that reads with the old key and the new one, and
// a later rewrap finishes the work.
func TestRewrapCrash(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		step        string
		sidecarDone bool // the new wrapping is in place: the old key is no longer needed
	}{
		{"sidecar written", false},
		{"sidecar renamed", true},
	} {
		t.Run(c.step, func(t *testing.T) {
			dir := t.TempDir()
			blobs := putMany(t, mustFS(t, dir, keyA), 3, 50)
			s := mustFS(t, dir, keyB, WithPreviousKeys(keyA))
			id := blobs[1].ref.ID
			crash(t, s, c.step, func() { s.Rewrap(ctx, id) })

			tmp := regularFiles(t, filepath.Join(dir, tmpDir))
			if c.sidecarDone != (len(tmp) == 0) {
				t.Fatalf("temporary files after a crash at %q: %v", c.step, tmp)
			}
			_, err := os.Stat(s.path(id) + sidecarSuffix)
			if c.sidecarDone != (err == nil) {
				t.Fatalf("sidecar after a crash at %q: %v", c.step, err)
			}
			// Both keys configured: the blob reads, whichever state the crash left.
			mustReadAll(t, mustFS(t, dir, keyB, WithPreviousKeys(keyA)), blobs)
			mustReadAll(t, mustFS(t, dir, keyA, WithPreviousKeys(keyB)), blobs)
			if c.sidecarDone {
				mustReadAll(t, mustFS(t, dir, keyB), blobs[1:2])
			} else {
				mustNotRead(t, mustFS(t, dir, keyB), blobs[1:2])
			}

			// Resumed: RewrapAll does what is left, the crashed blob included.
			changed := 0
			if err := s.RewrapAll(ctx, func(_, n int) { changed = n }); err != nil {
				t.Fatal(err)
			}
			if want := 3 - btoi(c.sidecarDone); changed != want {
				t.Fatalf("resumed RewrapAll changed %d blobs, want %d", changed, want)
			}
			mustReadAll(t, mustFS(t, dir, keyB), blobs)

			// The temporary file is cleaned once stale.
			for _, p := range tmp {
				past := time.Now().Add(-2 * staleTemp)
				if err := os.Chtimes(p, past, past); err != nil {
					t.Fatal(err)
				}
			}
			mustFS(t, dir, keyB)
			if left := regularFiles(t, filepath.Join(dir, tmpDir)); len(left) != 0 {
				t.Fatalf("temporary files kept: %v", left)
			}
		})
	}

	// A second rotation killed before its rename leaves the first rotation's sidecar whole.
	dir := t.TempDir()
	blobs := putMany(t, mustFS(t, dir, keyA), 1, 60)
	if err := mustFS(t, dir, keyB, WithPreviousKeys(keyA)).RewrapAll(ctx, nil); err != nil {
		t.Fatal(err)
	}
	s := mustFS(t, dir, keyC, WithPreviousKeys(keyB))
	crash(t, s, "sidecar written", func() { s.Rewrap(ctx, blobs[0].ref.ID) })
	mustReadAll(t, mustFS(t, dir, keyB), blobs)
	mustReadAll(t, mustFS(t, dir, keyC, WithPreviousKeys(keyB)), blobs)
	mustNotRead(t, mustFS(t, dir, keyC), blobs)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A blob whose data key no configured master key wraps is "blob corrupted", refused at Open,
// whatever the format and wherever the wrapping is.
func TestWrongKeyNeverServed(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	v2 := putMany(t, mustFS(t, dir, keyA), 2, 70)
	v1 := loadV1(t, mustFS(t, dir, keyA))
	all := append(v2, v1...)
	mustNotRead(t, mustFS(t, dir, keyB), all)
	mustNotRead(t, mustFS(t, dir, keyB, WithPreviousKeys(keyC)), all)

	// Rotated to B, then B lost: neither header (A) nor sidecar (B) opens under C.
	if err := mustFS(t, dir, keyB, WithPreviousKeys(keyA)).RewrapAll(ctx, nil); err != nil {
		t.Fatal(err)
	}
	mustNotRead(t, mustFS(t, dir, keyC), all)
	s := mustFS(t, dir, keyC)
	for _, b := range all {
		if _, err := s.Rewrap(ctx, b.ref.ID); !isCorrupted(err) {
			t.Fatalf("Rewrap without any of the blob's keys: %v", err)
		}
		if _, _, err := s.Verify(ctx, b.ref.ID); !isCorrupted(err) {
			t.Fatalf("Verify without any of the blob's keys: %v", err)
		}
	}

	// A sidecar moved to another blob, or altered, does not open under B.
	onlyB := mustFS(t, dir, keyB)
	a, b := v2[0], v2[1]
	side := func(x stored) string { return onlyB.path(x.ref.ID) + sidecarSuffix }
	restore := tamper(t, side(b), func([]byte) []byte {
		other, err := os.ReadFile(side(a))
		if err != nil {
			t.Fatal(err)
		}
		return other
	})
	mustNotRead(t, onlyB, []stored{b})
	restore()
	for _, pos := range []int{0, len(sideMagic), offSideKeyID, offSideWrapped, offSideWrapped + nonceSize, sidecarSize - 1} {
		restore := tamper(t, side(b), func(x []byte) []byte { x[pos] ^= 0x10; return x })
		mustNotRead(t, onlyB, []stored{b})
		// The header still opens with A: a damaged sidecar costs nothing while A is kept, and a
		// rewrap replaces it.
		withA := mustFS(t, dir, keyB, WithPreviousKeys(keyA))
		mustReadAll(t, withA, []stored{b})
		restore()
	}
	for _, cut := range []func([]byte) []byte{
		func(x []byte) []byte { return x[:sidecarSize-1] },
		func(x []byte) []byte { return append(x, 0) },
		func([]byte) []byte { return nil },
	} {
		restore := tamper(t, side(b), cut)
		mustNotRead(t, onlyB, []stored{b})
		withA := mustFS(t, dir, keyB, WithPreviousKeys(keyA))
		if changed, err := withA.Rewrap(ctx, b.ref.ID); err != nil || !changed {
			t.Fatalf("Rewrap over a damaged sidecar: %v, %v", changed, err)
		}
		mustReadAll(t, onlyB, []stored{b})
		restore()
	}
	// The key ID of a format 2 header is bound: changed, it names no key, or the wrong one.
	idB := keyID(keyB)
	restore = tamper(t, onlyB.path(a.ref.ID), func(x []byte) []byte { copy(x[offKeyID:], idB[:]); return x })
	mustNotRead(t, mustFS(t, dir, keyB, WithPreviousKeys(keyA)), []stored{a})
	restore()
}

func TestSHA1Checked(t *testing.T) {
	s := mustFS(t, t.TempDir(), testMaster)
	data := randomBytes(segSize+3, 80)
	ref := mustPut(t, s, data)

	wrong := ref
	wrong.SHA1 = strings.Repeat("ab", 20)
	got, err := readBlob(s, wrong)
	mustBeCorrupted(t, err)
	if !strings.Contains(err.Error(), "SHA-1 mismatch") {
		t.Fatalf("error %v does not say SHA-1", err)
	}
	if len(got) > len(data) {
		t.Fatal("more bytes than stored")
	}

	old := ref
	old.SHA1 = "" // a Ref recorded without it: not checked
	if got, err := readBlob(s, old); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Ref without SHA-1: %v", err)
	}
	for _, bad := range []string{"xyz", ref.SHA1[:38], ref.SHA1 + "00", strings.ToUpper(ref.SHA1[:2]) + "z" + ref.SHA1[3:]} {
		r := ref
		r.SHA1 = bad
		if _, err := s.Open(context.Background(), r); !errs.Is(err, errs.Invalid) {
			t.Errorf("SHA-1 %q: %v, want invalid", bad, err)
		}
	}
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := mustFS(t, dir, keyA)
	blobs := putMany(t, s, 4, 90)
	var seen []string
	if err := s.Walk(ctx, func(id string) error { seen = append(seen, id); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(blobs) {
		t.Fatalf("Walk saw %d blobs, want %d", len(seen), len(blobs))
	}
	for _, b := range blobs {
		ref, cur, err := s.Verify(ctx, b.ref.ID)
		if err != nil || ref != b.ref || !cur {
			t.Fatalf("Verify: %+v %v %v, want %+v", ref, cur, err, b.ref)
		}
	}
	last := blobs[len(blobs)-1].ref
	n := encryptedSize(last.Size, segSize)
	for _, f := range []func([]byte) []byte{
		func(b []byte) []byte { b[n/2] ^= 1; return b },
		func(b []byte) []byte { return b[:n-1] },
		func(b []byte) []byte { return b[:headerSize+segSize+tagSize] }, // cut at a segment boundary
		func(b []byte) []byte { return append(b, 0) },
	} {
		restore := tamper(t, s.path(last.ID), f)
		if _, _, err := s.Verify(ctx, last.ID); !isCorrupted(err) {
			t.Fatalf("Verify of a damaged blob: %v", err)
		}
		restore()
	}
	if _, _, err := s.Verify(ctx, "ffffffffffffffffffffffffffffffff"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Verify of a missing blob: %v", err)
	}
}

func TestDeleteRemovesSidecar(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	blobs := putMany(t, mustFS(t, dir, keyA), 3, 100)
	s := mustFS(t, dir, keyB, WithPreviousKeys(keyA))
	if err := s.RewrapAll(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, blobs[0].ref.ID); err != nil {
		t.Fatal(err)
	}
	// A Delete killed between its two removals leaves a sidecar that RewrapAll removes.
	if err := os.Remove(s.path(blobs[1].ref.ID)); err != nil {
		t.Fatal(err)
	}
	if err := s.RewrapAll(ctx, nil); err != nil {
		t.Fatal(err)
	}
	files := regularFiles(t, dir)
	if want := []string{s.path(blobs[2].ref.ID), s.path(blobs[2].ref.ID) + sidecarSuffix}; !slices.Equal(files, want) {
		t.Fatalf("files left: %v, want %v", files, want)
	}
	for _, p := range files {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v", p, err, fi.Mode())
		}
	}
	if err := s.Delete(ctx, blobs[1].ref.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.path(blobs[2].ref.ID) + sidecarSuffix); err != nil {
		t.Fatalf("another blob's sidecar: %v", err)
	}
	if _, err := os.Stat(s.path(blobs[0].ref.ID) + sidecarSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("deleted blob's sidecar: %v", err)
	}
}

// FuzzSidecar feeds arbitrary bytes to the sidecar parser. It must never panic, and must
// unwrap only a genuine sidecar of the blob, giving its data key.
func FuzzSidecar(f *testing.F) {
	ring := mustRing(f, keyB, keyA)
	dataKey := randomBytes(keySize, 7)
	var genuine [][]byte
	for i, k := range ring.keys {
		b, err := sealSidecar(k, streamID, dataKey, rand.NewChaCha8([32]byte{byte(i)}))
		if err != nil {
			f.Fatal(err)
		}
		genuine = append(genuine, b)
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(bytes.Clone(b), 0))
	}
	f.Add([]byte{})
	f.Add([]byte(sideMagic + "\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := ring.openSidecar(streamID, b)
		if err != nil {
			return
		}
		for _, g := range genuine {
			if bytes.Equal(b, g) && bytes.Equal(got, dataKey) {
				return
			}
		}
		t.Fatalf("a sidecar that is not genuine unwrapped to %x", got)
	})
}

// FuzzHeader feeds arbitrary bytes to the header parser: it must never panic, must read
// exactly the header's length of a known version, and must refuse anything else as corrupted.
func FuzzHeader(f *testing.F) {
	ring := testRing(f)
	for _, l := range []*layout{layoutV1, layoutV2} {
		file, _ := sealFormat(f, ring, l, smallSeg, []byte("x"), 1)
		f.Add(file)
		f.Add(file[:l.size-1])
	}
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		h, err := readHeader(r, streamID)
		if err != nil {
			if !isCorrupted(err) {
				t.Fatalf("error %v, want blob corrupted", err)
			}
			return
		}
		if h.l != layoutOf(b[len(magic)]) || len(h.raw) != h.l.size || !bytes.Equal(h.raw, b[:h.l.size]) || r.Len() != len(b)-h.l.size {
			t.Fatalf("header of %d bytes read from %d", len(h.raw), len(b))
		}
		if (h.keyID() != nil) != (h.l.version >= version2) || len(h.wrapped()) != wrappedSize || len(h.prefix()) != prefixSize {
			t.Fatalf("fields of a format %d header misplaced", h.l.version)
		}
	})
}
