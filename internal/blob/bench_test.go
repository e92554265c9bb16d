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
// SHA-256 check.
func BenchmarkOpen(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			s := mustFS(b, b.TempDir(), testMaster)
			ref := mustPut(b, s, randomBytes(size, 2))
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

// BenchmarkEncrypt measures the stream encryption alone, in memory, to tell the CPU's share
// of Put from the disk's.
func BenchmarkEncrypt(b *testing.B) {
	kek := testKEK(b)
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			data := randomBytes(size, 3)
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := encryptStream(context.Background(), io.Discard, bytes.NewReader(data), sealParams{
					kek: kek, id: streamID, seg: segSize, max: DefaultMaxSize, rand: rand.Reader,
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
