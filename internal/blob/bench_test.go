package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"testing"
)

var benchSizes = []int{100 << 10, 4 << 20}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// BenchmarkPut measures a whole Put: encryption, both hashes, the file's fsync and the
// directory's (LIMITS.md: ~1.1k new 50 KB files/s with those fsyncs). In a fresh store nearly
// every Put also creates fan-out directories and syncs their parents ("new-dirs"), which
// lasts until the 65,536 leaves exist (about 700,000 blobs); "warm-dirs" is the steady state
// after, every blob landing in a directory already created and synced.
func BenchmarkPut(b *testing.B) {
	for _, size := range benchSizes {
		for _, warm := range []bool{false, true} {
			name := sizeName(size) + "/new-dirs"
			if warm {
				name = sizeName(size) + "/warm-dirs"
			}
			b.Run(name, func(b *testing.B) {
				s := mustFS(b, b.TempDir(), testMaster)
				if warm {
					s.newID = func() string { return "0000" + newID()[4:] }
					mustPut(b, s, nil)
				}
				data := randomBytes(size, 1)
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := s.Put(context.Background(), bytes.NewReader(data)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkOpen measures reading a blob back whole (from the page cache): decryption and the
// SHA-256 and SHA-1 checks ("no-sha1": a Ref without SHA-1, the SHA-256 alone).
func BenchmarkOpen(b *testing.B) {
	for _, size := range benchSizes {
		for _, sha1 := range []bool{true, false} {
			name := sizeName(size)
			if !sha1 {
				name += "/no-sha1"
			}
			b.Run(name, func(b *testing.B) {
				s := mustFS(b, b.TempDir(), testMaster)
				ref := mustPut(b, s, randomBytes(size, 2))
				if !sha1 {
					ref.SHA1 = ""
				}
				b.SetBytes(int64(size))
				for b.Loop() {
					rc, err := s.Open(context.Background(), ref)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, rc); err != nil {
						b.Fatal(err)
					}
					rc.Close()
				}
			})
		}
	}
}

// BenchmarkEncrypt measures the stream encryption alone, in memory, to tell the CPU's share
// of Put from the disk's.
func BenchmarkEncrypt(b *testing.B) {
	ring := testRing(b)
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			data := randomBytes(size, 3)
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := encryptStream(context.Background(), io.Discard, bytes.NewReader(data), sealParams{
					key: ring.current(), id: streamID, seg: segSize, max: DefaultMaxSize, rand: rand.Reader,
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRewrapAll measures a rotation of a store of small blobs, per blob: reading the
// header, unwrapping, writing and syncing a sidecar, renaming it, and syncing each directory
// once. "dense" has the blobs in 16 leaf directories, about 12 each (a directory sync shared by
// many blobs, as in a store of millions); "spread" has nearly every blob in a leaf of its own
// (a directory sync per blob, as in a store of under a few hundred thousand). Each round
// moves every blob from one key to the other, so every blob gets a new sidecar.
func BenchmarkRewrapAll(b *testing.B) {
	const n = 200
	keyB, keyC := bytes.Repeat([]byte{0x43}, 32), bytes.Repeat([]byte{0x44}, 32)
	for _, dense := range []bool{true, false} {
		name := "spread"
		if dense {
			name = "dense"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			s := mustFS(b, dir, testMaster)
			if dense {
				s.newID = func() string { id := newID(); return "000" + id[3:] }
			}
			for range n {
				mustPut(b, s, randomBytes(1000, 4))
			}
			rings := []*FS{
				mustFS(b, dir, keyB, WithPreviousKeys(keyC, testMaster)),
				mustFS(b, dir, keyC, WithPreviousKeys(keyB, testMaster)),
			}
			i := 0
			for b.Loop() {
				changed := 0
				if err := rings[i%2].RewrapAll(context.Background(), func(_, c int) { changed = c }); err != nil {
					b.Fatal(err)
				}
				if changed != n {
					b.Fatalf("%d blobs rewrapped, want %d", changed, n)
				}
				i++
			}
			perBlob := float64(b.Elapsed().Nanoseconds()) / float64(b.N*n)
			b.ReportMetric(perBlob, "ns/blob")
			b.ReportMetric(1e9/perBlob, "blobs/s")
		})
	}
}
