package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
)

// The stream tests use tiny segments, so that every arrangement of a many-segment blob can be
// tried in little time; the format is the same whatever the segment size.

const (
	smallSeg = 16
	streamID = "0123456789abcdef0123456789abcdef"
)

func mustRing(tb testing.TB, current []byte, previous ...[]byte) *keyring {
	tb.Helper()
	r, err := newKeyring(current, previous...)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func testRing(tb testing.TB) *keyring { return mustRing(tb, testMaster) }

// seal encrypts plain in the current format with segments of seg bytes and randomness from
// seed.
func seal(tb testing.TB, ring *keyring, seg int, plain []byte, seed byte) ([]byte, Ref) {
	return sealFormat(tb, ring, current, seg, plain, seed)
}

// sealFormat is seal in the format l.
func sealFormat(tb testing.TB, ring *keyring, l *layout, seg int, plain []byte, seed byte) ([]byte, Ref) {
	tb.Helper()
	var buf bytes.Buffer
	ref, err := encryptStream(context.Background(), &buf, bytes.NewReader(plain), sealParams{
		key: ring.current(), id: streamID, seg: seg, max: DefaultMaxSize,
		rand: rand.NewChaCha8([32]byte{seed}), format: l,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), ref
}

// open decrypts a stream, returning what was handed out and the final error (nil on io.EOF).
// The SHA-256 is always checked: a nil sum is taken as an empty one, which matches nothing.
func open(file []byte, ring *keyring, seg int, size int64, sum []byte, writeTo bool) ([]byte, error) {
	if sum == nil {
		sum = []byte{}
	}
	r, err := decryptStream(bytes.NewReader(file), streamID, seg, expect{size: size, sha256: sum}, ringUnwrap(ring, streamID))
	if err != nil {
		return nil, err
	}
	if writeTo {
		var out bytes.Buffer
		_, err := r.WriteTo(&out)
		return out.Bytes(), err
	}
	return io.ReadAll(r)
}

func mustSum(t *testing.T, ref Ref) []byte {
	t.Helper()
	b, err := hex.DecodeString(ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStreamEverySize(t *testing.T) {
	ring := testRing(t)
	for _, l := range []*layout{layoutV1, layoutV2} {
		for size := range 6 * smallSeg {
			plain := randomBytes(size, uint64(size))
			file, ref := sealFormat(t, ring, l, smallSeg, plain, byte(size))
			if want := streamSize(l.size, int64(size), smallSeg); int64(len(file)) != want {
				t.Fatalf("format %d, size %d: stream of %d bytes, want %d", l.version, size, len(file), want)
			}
			for _, writeTo := range []bool{false, true} {
				got, err := open(file, ring, smallSeg, ref.Size, mustSum(t, ref), writeTo)
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("format %d, size %d (WriteTo %v): %v, got %d bytes", l.version, size, writeTo, err, len(got))
				}
			}
		}
	}
}

// TestStreamRearranged tries every permutation, every truncation and every splice of the
// segments of a five-segment stream, each with a size and hash forged to match the bytes it
// would yield, so that only STREAM's nonces can catch it. None may read to the end, and what
// is handed out before the error must be a prefix of the genuine plaintext.
func TestStreamRearranged(t *testing.T) {
	ring := testRing(t)
	plain := randomBytes(4*smallSeg+5, 1)
	file, _ := seal(t, ring, smallSeg, plain, 1)
	other, _ := seal(t, ring, smallSeg, plain, 2) // the same plaintext under another data key
	enc := smallSeg + tagSize
	const nseg = 5
	segOf := func(f []byte, i int) []byte { return f[headerSize+i*enc : min(headerSize+(i+1)*enc, len(f))] }
	plainOf := func(i int) []byte { return plain[i*smallSeg : min((i+1)*smallSeg, len(plain))] }

	tried := 0
	try := func(desc string, order []int, spliced map[int]bool) {
		t.Helper()
		tried++
		f := bytes.Clone(file[:headerSize])
		var want []byte
		for pos, i := range order {
			src := file
			if spliced[pos] {
				src = other
			}
			f = append(f, segOf(src, i)...)
			want = append(want, plainOf(i)...)
		}
		sum := sha256.Sum256(want)
		got, err := open(f, ring, smallSeg, int64(len(want)), sum[:], false)
		if err == nil {
			t.Fatalf("%s %v: read to the end", desc, order)
		}
		if !bytes.HasPrefix(plain, got) {
			t.Fatalf("%s %v: handed out bytes that are not a prefix of the blob", desc, order)
		}
	}

	// Every permutation but the identity.
	var permute func(prefix []int, rest []int)
	permute = func(prefix, rest []int) {
		if len(rest) == 0 {
			for i, v := range prefix {
				if v != i {
					try("permutation", prefix, nil)
					return
				}
			}
			return
		}
		for k := range rest {
			permute(slices.Concat(prefix, rest[k:k+1]), slices.Delete(slices.Clone(rest), k, k+1))
		}
	}
	permute(nil, []int{0, 1, 2, 3, 4})

	// Every truncation at a segment boundary, and every single segment dropped.
	for k := range nseg {
		try("truncated", []int{0, 1, 2, 3, 4}[:k], nil)
		var drop []int
		for i := range nseg {
			if i != k {
				drop = append(drop, i)
			}
		}
		try("dropped", drop, nil)
	}
	// Every segment replaced by the one at the same place in another blob of the same ID.
	for k := range nseg {
		try("spliced", []int{0, 1, 2, 3, 4}, map[int]bool{k: true})
	}
	if want := 5*4*3*2*1 - 1 + 3*nseg; tried != want {
		t.Fatalf("tried %d arrangements, want %d", tried, want)
	}
}

func TestStreamDecryptNeedsTheRightID(t *testing.T) {
	ring := testRing(t)
	const other = "fedcba9876543210fedcba9876543210"
	for _, l := range []*layout{layoutV1, layoutV2} {
		file, ref := sealFormat(t, ring, l, smallSeg, []byte("bound to its id"), 3)
		_, err := decryptStream(bytes.NewReader(file), other, smallSeg, expect{size: ref.Size, sha256: mustSum(t, ref)}, ringUnwrap(ring, other))
		mustBeCorrupted(t, err)
	}
}
