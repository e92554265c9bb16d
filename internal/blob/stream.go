package blob

// The stream format. A blob is a header followed by one or more segments:
//
//	header v1  magic "CNBL" (4) ‖ version 0x01 (1) ‖ wrapped data key (60) ‖ nonce prefix (7)
//	header v2  magic "CNBL" (4) ‖ version 0x02 (1) ‖ key ID (8) ‖ wrapped data key (60) ‖ nonce prefix (7)
//	segment    AES-256-GCM(data key, nonce, plaintext, additional data) = ciphertext ‖ tag (16)
//
// Format 2, which Put writes, differs from format 1 only by the key ID: the ID of the master
// key that wrapped the data key (keys.go), so that a reader knows which key of its keyring to
// use and a rotation knows which blobs to move. Format 1 blobs, written before key rotation
// existed, are read as they are; their key is found by trying the keyring's.
//
// The wrapped data key is wrapNonce (12) ‖ AES-256-GCM(K, wrapNonce, data key, the header's
// bytes before it ‖ ID) — magic ‖ version (‖ key ID) ‖ ID — where K = HKDF-Expand(KEK, ID)
// (RFC 5869 §2.3) and KEK is derived from the master key: it opens only under the right master
// key and only for the blob it was made for. Each K wraps one data key, the blob's, a handful
// of times at most (the header, then one sidecar per rotation, each with a fresh random
// nonce), so the limit NIST SP 800-38D §8.3 puts on random nonces (2^32 encryptions under one
// key) never binds, however many blobs the store holds. Every segment holds segSize bytes of
// plaintext except the last, which holds 1 to segSize bytes, or 0 when the blob is empty (so
// that there is always a final segment).
//
// Segments follow STREAM, the nonce-based online authenticated encryption of Hoang,
// Reyhanitabar, Rogaway and Vizár ("Online Authenticated-Encryption and its Nonce-Reuse
// Misuse-Resistance", CRYPTO 2015): the nonce of segment i is prefix ‖ i (32 bits, big
// endian) ‖ last (1 byte, 1 on the final segment, 0 otherwise). A reader that checks each
// segment under the nonce it expects detects reordering (wrong i), truncation at a segment
// boundary and appended data (wrong last flag). The additional data of every segment is the
// whole header followed by the blob ID. Segments moved between blobs already fail, each blob
// having its own data key; binding the ID also makes a whole file copied over another blob's
// fail, header and all. Binding the header means it can never change: a rotation wraps the
// data key again in a sidecar instead (keys.go).
//
// The per-blob data key is fresh, so the nonces of its segments never repeat: 2^32 segments of
// 64 KiB (256 TiB) is the most one key ever encrypts. The random prefix costs nothing and
// keeps nonces unique should a data key ever be reused by a faulty random source.

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"syscall"

	"github.com/carnet-sante/carnet/internal/errs"
)

const (
	magic    = "CNBL"
	version1 = 1
	version2 = 2

	// segSize is the plaintext of a segment in formats 1 and 2: large enough that the 16
	// bytes of tag per segment are 0.02 % overhead and the per-call cost of GCM vanishes,
	// small enough that a reader holds little memory and releases bytes early.
	segSize = 64 << 10

	keySize     = 32 // AES-256
	nonceSize   = 12 // the GCM nonce length NIST SP 800-38D §8.2 recommends
	tagSize     = 16
	prefixSize  = nonceSize - 4 - 1 // room left by the 32-bit counter and the last flag
	wrappedSize = nonceSize + keySize + tagSize

	// The header of the format Put writes, version 2.
	offKeyID   = len(magic) + 1
	offWrapped = offKeyID + keyIDSize
	offPrefix  = offWrapped + wrappedSize
	headerSize = offPrefix + prefixSize // 80 bytes

	// The header of format 1.
	offWrappedV1 = len(magic) + 1
	headerSizeV1 = offWrappedV1 + wrappedSize + prefixSize // 72 bytes

	maxHeaderSize = headerSize
)

// layout is where the fields of a header of one format version lie.
type layout struct {
	version    byte
	size       int
	offKeyID   int // 0: the version records no key ID
	offWrapped int
}

var (
	layoutV1 = &layout{version: version1, size: headerSizeV1, offWrapped: offWrappedV1}
	layoutV2 = &layout{version: version2, size: headerSize, offKeyID: offKeyID, offWrapped: offWrapped}
	// current is the format Put writes.
	current = layoutV2
)

func layoutOf(version byte) *layout {
	switch version {
	case version1:
		return layoutV1
	case version2:
		return layoutV2
	}
	return nil
}

// header is the header of a stream, as read.
type header struct {
	raw []byte // the bytes on disk, which begin the segments' additional data
	l   *layout
}

// keyID returns the ID of the master key named by the header, nil in format 1.
func (h *header) keyID() []byte {
	if h.l.offKeyID == 0 {
		return nil
	}
	return h.raw[h.l.offKeyID : h.l.offKeyID+keyIDSize]
}

// rec is the part of the header before the wrapped key, bound into the wrapping.
func (h *header) rec() []byte     { return h.raw[:h.l.offWrapped] }
func (h *header) wrapped() []byte { return h.raw[h.l.offWrapped : h.l.offWrapped+wrappedSize] }
func (h *header) prefix() []byte  { return h.raw[h.l.offWrapped+wrappedSize:] }

// readHeader reads the header of blob id from src: its first five bytes say how long it is.
func readHeader(src io.Reader, id string) (*header, error) {
	raw := make([]byte, len(magic)+1, maxHeaderSize+len(id))
	if err := readFull(src, raw, id); err != nil {
		return nil, err
	}
	if string(raw[:len(magic)]) != magic {
		return nil, corrupted(fmt.Errorf("blob %s: not a carnet blob", id))
	}
	l := layoutOf(raw[len(magic)])
	if l == nil {
		return nil, corrupted(fmt.Errorf("blob %s: unknown format version %d", id, raw[len(magic)]))
	}
	raw = raw[:l.size]
	if err := readFull(src, raw[len(magic)+1:], id); err != nil {
		return nil, err
	}
	return &header{raw: raw, l: l}, nil
}

func readFull(src io.Reader, b []byte, id string) error {
	if _, err := io.ReadFull(src, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return corrupted(fmt.Errorf("blob %s: header truncated", id))
		}
		return errs.Wrap(errs.Internal, err, "read blob")
	}
	return nil
}

// kekInfo is the HKDF info of the key-encryption key (RFC 5869 §3.2): a purpose string of
// its own, so the master key's other uses (the trace chain) never share this key. It has kept
// its "v1" through format 2: the KEK of a master key is the same whatever the format.
const kekInfo = "carnet blob key wrap v1"

// deriveKEK derives the key-encryption key from the master key (HKDF-SHA256, RFC 5869).
func deriveKEK(master []byte) ([]byte, error) {
	if len(master) < keySize {
		return nil, errs.E(errs.Invalid, "master key too short: %d bytes, want %d", len(master), keySize)
	}
	k, err := hkdf.Key(sha256.New, master, nil, kekInfo, keySize)
	if err != nil {
		return nil, fmt.Errorf("derive blob key-encryption key: %w", err)
	}
	return k, nil
}

// maxStreamSize is the most plaintext a stream of segment size seg can carry: the segment
// counter is 32 bits.
func maxStreamSize(seg int) int64 { return int64(seg) << 32 }

// encryptedSize is the length of the stream carrying size bytes of plaintext in the format Put
// writes.
func encryptedSize(size int64, seg int) int64 { return streamSize(headerSize, size, seg) }

// streamSize is the length of a stream whose header is hdr bytes and which carries size bytes
// of plaintext.
func streamSize(hdr int, size int64, seg int) int64 {
	n := size / int64(seg)
	if size%int64(seg) != 0 || size == 0 {
		n++ // the short (or empty) final segment
	}
	return int64(hdr) + size + n*tagSize
}

// wrapCipher returns the AEAD that wraps the data key of blob id: AES-256-GCM under a key of
// its own, derived from the KEK. The KEK is uniformly random and serves only this, so it is
// a valid HKDF pseudorandom key and the ID alone tells the derived keys apart.
func wrapCipher(kek []byte, id string) (cipher.AEAD, error) {
	k, err := hkdf.Expand(sha256.New, kek, id, keySize)
	if err != nil {
		return nil, fmt.Errorf("derive blob wrapping key: %w", err)
	}
	defer clear(k)
	return newGCM(k)
}

// newGCM returns AES-256-GCM under key.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// segmentNonce writes the STREAM nonce of segment i into n.
func segmentNonce(n *[nonceSize]byte, prefix []byte, i uint32, last bool) {
	copy(n[:prefixSize], prefix)
	binary.BigEndian.PutUint32(n[prefixSize:], i)
	n[nonceSize-1] = 0
	if last {
		n[nonceSize-1] = 1
	}
}

// sealParams are what encryptStream needs besides the bytes.
type sealParams struct {
	key    *masterKey // the master key wrapping the data key
	id     string     // the blob's ID, bound into every segment
	seg    int        // plaintext bytes per segment (segSize on disk; smaller in fuzz tests)
	max    int64      // refuse more plaintext than this
	rand   io.Reader  // source of the data key, wrap nonce and prefix: crypto/rand outside tests
	format *layout    // nil: the current format; tests write format 1 with layoutV1
}

// encryptStream reads src to its end and writes its encrypted form to dst, computing the size
// and hashes of the plaintext on the way. It holds one segment in memory. It stops with an
// errs.Invalid error as soon as src exceeds p.max; dst then holds a partial stream that the
// caller must discard.
func encryptStream(ctx context.Context, dst io.Writer, src io.Reader, p sealParams) (Ref, error) {
	ref := Ref{ID: p.id}
	l := p.format
	if l == nil {
		l = current
	}
	dataKey := make([]byte, keySize)
	defer clear(dataKey)
	hdr := make([]byte, l.size, l.size+len(p.id))
	copy(hdr, magic)
	hdr[len(magic)] = l.version
	if l.offKeyID != 0 {
		copy(hdr[l.offKeyID:], p.key.id[:])
	}
	h := &header{raw: hdr, l: l}
	wrapNonce := h.wrapped()[:nonceSize]
	if err := readRandom(p.rand, dataKey, wrapNonce, h.prefix()); err != nil {
		return ref, err
	}
	wrapped, err := p.key.wrap(p.id, h.rec(), wrapNonce, dataKey)
	if err != nil {
		return ref, err
	}
	copy(h.wrapped()[nonceSize:], wrapped)
	aead, err := newGCM(dataKey)
	if err != nil {
		return ref, fmt.Errorf("blob data cipher: %w", err)
	}
	if _, err := dst.Write(hdr); err != nil {
		return ref, writeError(err)
	}
	aad := append(hdr, p.id...)
	prefix := h.prefix()

	h256, h1 := sha256.New(), sha1.New()
	// One buffer holds a segment's plaintext, then its ciphertext and tag in place. Reading
	// seg+1 bytes tells whether the segment is the last one before sealing it: STREAM needs
	// to know, and a Reader only tells at the next Read. The extra byte is carried over.
	buf := make([]byte, p.seg+tagSize)
	defer clear(buf)
	carried := 0
	var nonce [nonceSize]byte
	for i := uint32(0); ; i++ {
		if err := ctx.Err(); err != nil {
			return ref, errs.Wrap(errs.Unavailable, err, "blob upload interrupted")
		}
		n, err := io.ReadFull(src, buf[carried:p.seg+1])
		n += carried
		last := false
		switch {
		case err == nil:
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			last = true
		default:
			return ref, fmt.Errorf("read blob content: %w", err)
		}
		plain := buf[:n]
		var next byte
		if !last {
			plain, next = buf[:p.seg], buf[p.seg]
		}
		ref.Size += int64(len(plain))
		if ref.Size > p.max {
			return ref, errs.E(errs.Invalid, "content too large: the limit is %d bytes", p.max)
		}
		if !last && i == math.MaxUint32 {
			return ref, errs.E(errs.Invalid, "content too large for one blob")
		}
		h256.Write(plain)
		h1.Write(plain)
		segmentNonce(&nonce, prefix, i, last)
		if _, err := dst.Write(aead.Seal(plain[:0], nonce[:], plain, aad)); err != nil {
			return ref, writeError(err)
		}
		if last {
			break
		}
		buf[0], carried = next, 1
	}
	ref.SHA256 = hex.EncodeToString(h256.Sum(nil))
	ref.SHA1 = hex.EncodeToString(h1.Sum(nil))
	return ref, nil
}

// readRandom fills each of bufs from r.
func readRandom(r io.Reader, bufs ...[]byte) error {
	for _, b := range bufs {
		if _, err := io.ReadFull(r, b); err != nil {
			return errs.Wrap(errs.Internal, err, "random source")
		}
	}
	return nil
}

// writeError classifies a failure to write a blob: a full disk is worth retrying later, once
// the operator has made room; anything else is our fault.
func writeError(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return errs.Wrap(errs.Unavailable, err, "blob storage full")
	}
	return errs.Wrap(errs.Internal, err, "write blob")
}

// expect is what a reader checks the plaintext against once it has read it all.
type expect struct {
	size    int64  // bytes
	anySize bool   // size is not checked: whatever the stream authenticates (Verify)
	sha256  []byte // nil: not checked
	sha1    []byte // nil: not checked
	sums    bool   // compute both hashes even when not checked, for the caller to read
}

// reader decrypts a stream as it is read. It implements io.WriterTo too, so that io.Copy
// writes straight from its segment buffer.
type reader struct {
	src     io.Reader
	closer  io.Closer // the file under src, if any
	id      string
	aead    cipher.AEAD
	aad     []byte
	prefix  []byte
	seg     int
	buf     []byte // one encrypted segment plus the byte read ahead; plaintext in place
	plain   []byte // plaintext not yet handed out, within buf
	carried bool   // buf[0] must be refilled with ahead before the next segment
	ahead   byte
	i       uint32 // index of the next segment
	done    bool   // the final segment was decrypted
	err     error  // sticky: once set, every Read returns it

	h256 hash.Hash
	h1   hash.Hash // nil when SHA-1 is neither checked nor asked for
	n    int64
	want expect
}

// decryptStream reads the header of a stream from src, has unwrap find its data key, and
// returns a reader of its plaintext, which must match want. The header is read and the data
// key unwrapped here, so that a wrong master key or a blob copied over another is refused
// before any byte is handed out. Errors from unwrap are returned as they are.
func decryptStream(src io.Reader, id string, seg int, want expect, unwrap func(*header) ([]byte, error)) (*reader, error) {
	h, err := readHeader(src, id)
	if err != nil {
		return nil, err
	}
	dataKey, err := unwrap(h)
	if err != nil {
		return nil, err
	}
	defer clear(dataKey)
	aead, err := newGCM(dataKey)
	if err != nil {
		return nil, corrupted(fmt.Errorf("blob %s: data key: %w", id, err))
	}
	r := &reader{
		src:    src,
		id:     id,
		aead:   aead,
		aad:    append(h.raw, id...),
		prefix: h.prefix(),
		seg:    seg,
		buf:    make([]byte, seg+tagSize+1),
		h256:   sha256.New(),
		want:   want,
	}
	if want.sha1 != nil || want.sums {
		r.h1 = sha1.New()
	}
	return r, nil
}

// ringUnwrap unwraps from the header alone, with the keys of r: what a stream without a
// sidecar needs.
func ringUnwrap(r *keyring, id string) func(*header) ([]byte, error) {
	return func(h *header) ([]byte, error) {
		dataKey, _, err := r.openHeader(id, h)
		if err != nil {
			return nil, corrupted(err)
		}
		return dataKey, nil
	}
}

// Read hands out decrypted bytes. At the end of the stream it returns io.EOF only if the size
// and hashes match what the reader was opened with.
func (r *reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, r.err
	}
	for len(r.plain) == 0 {
		if err := r.advance(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// WriteTo writes the rest of the plaintext to w; it returns a nil error only when the whole
// stream was good.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.plain) > 0 {
			n, err := w.Write(r.plain)
			total += int64(n)
			r.plain = r.plain[n:]
			if err != nil {
				return total, err
			}
			continue
		}
		if err := r.advance(); err != nil {
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
	}
}

// Close releases the file and wipes the plaintext still held.
func (r *reader) Close() error {
	clear(r.buf)
	r.plain = nil
	if r.err == nil || r.err == io.EOF {
		r.err = errs.Wrap(errs.Internal, fs.ErrClosed, "read blob")
	}
	if r.closer != nil {
		c := r.closer
		r.closer = nil
		return c.Close()
	}
	return nil
}

// advance decrypts the next segment into r.plain, or ends the stream. It returns the sticky
// error once there is one.
func (r *reader) advance() error {
	if r.err != nil {
		return r.err
	}
	if r.done {
		r.err = r.finish()
	} else {
		r.err = r.next()
	}
	return r.err
}

// next reads and authenticates one segment. Whether it is the final one is told by reading
// one byte beyond a full segment: STREAM authenticates that decision, so an attacker who cuts
// or extends the file changes it and the segment fails to open.
func (r *reader) next() error {
	off := 0
	if r.carried {
		r.buf[0], off = r.ahead, 1
	}
	full := r.seg + tagSize
	n, err := io.ReadFull(r.src, r.buf[off:full+1])
	n += off
	last := false
	switch {
	case err == nil:
		r.ahead, r.carried = r.buf[full], true
		n = full
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		last = true
	default:
		return errs.Wrap(errs.Internal, err, "read blob")
	}
	if n < tagSize {
		return corrupted(fmt.Errorf("blob %s: truncated at segment %d", r.id, r.i))
	}
	if !last && r.i == math.MaxUint32 {
		return corrupted(fmt.Errorf("blob %s: too many segments", r.id))
	}
	var nonce [nonceSize]byte
	segmentNonce(&nonce, r.prefix, r.i, last)
	plain, err := r.aead.Open(r.buf[:0], nonce[:], r.buf[:n], r.aad)
	if err != nil {
		return corrupted(fmt.Errorf("blob %s: segment %d: %w", r.id, r.i, err))
	}
	r.h256.Write(plain)
	if r.h1 != nil {
		r.h1.Write(plain)
	}
	r.n += int64(len(plain))
	if !r.want.anySize && r.n > r.want.size {
		return corrupted(fmt.Errorf("blob %s: longer than %d bytes", r.id, r.want.size))
	}
	r.plain = plain
	r.i++
	r.done = last
	return nil
}

// finish checks the whole plaintext against what the blob's Ref says (DESIGN invariant 3).
// Authentication already proves the bytes are those that were sealed for this ID; the hashes
// also prove they are those the metadata describes.
func (r *reader) finish() error {
	if !r.want.anySize && r.n != r.want.size {
		return corrupted(fmt.Errorf("blob %s: %d bytes, want %d", r.id, r.n, r.want.size))
	}
	if r.want.sha256 != nil && !bytes.Equal(r.h256.Sum(nil), r.want.sha256) {
		return corrupted(fmt.Errorf("blob %s: SHA-256 mismatch", r.id))
	}
	if r.want.sha1 != nil && !bytes.Equal(r.h1.Sum(nil), r.want.sha1) {
		return corrupted(fmt.Errorf("blob %s: SHA-1 mismatch", r.id))
	}
	return io.EOF
}

// sums returns the Ref of what was read, once the reader has reached its end. SHA1 is set
// only if the reader computed it.
func (r *reader) sums() Ref {
	ref := Ref{ID: r.id, Size: r.n, SHA256: hex.EncodeToString(r.h256.Sum(nil))}
	if r.h1 != nil {
		ref.SHA1 = hex.EncodeToString(r.h1.Sum(nil))
	}
	return ref
}
