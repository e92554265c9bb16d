// Package blob is in charge of the bytes of documents and attachments: it stores them
// encrypted, gives them back decrypted and checked, and deletes them. Metadata (who deposited
// what, for which patient) lives elsewhere; a blob is only a Ref.
//
// DESIGN invariant 3: every blob is encrypted at rest with AES-256-GCM under a fresh random
// data key, which is itself wrapped by a key-encryption key derived from the master key; what
// is read back is checked against the hashes recorded when it was stored. Invariant 1: once Put
// returns, the blob survives kill -9 and power loss.
//
// The master key can be rotated without rewriting a blob (keys.go): the store holds a keyring
// of the current key and the previous ones, and Rewrap wraps a blob's data key again under
// the current key, beside the blob, atomically.
//
// Bytes are encrypted and decrypted as a stream, in segments (stream.go), so memory stays
// constant whatever the size of the blob. The embedded default keeps blobs on the local file
// system (FS); an S3 backend can implement the same Store over the same stream format.
package blob

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"io"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Ref identifies a stored blob and says what its content must be. The caller records it with
// the document's metadata and hands it back to Open.
type Ref struct {
	ID     string // random, 32 lowercase hex digits (128 bits)
	Size   int64  // bytes of plaintext
	SHA256 string // hex of the plaintext's SHA-256, checked by Open
	// SHA1 is the hex of the plaintext's SHA-1: IHE ITI TF-2b §3.41.4.1.3 has the repository
	// set XDSDocumentEntry.hash to it (MHD's attachment.hash is the same digest in base64).
	// It is computed here because Put is the one pass over the bytes. Open checks it too when
	// it is set, so that bytes never go out under an XDS hash they do not have; it adds no
	// security (SHA-1 collisions can be made; the SHA-256 and GCM are the guarantee). Empty
	// means not checked, for Refs recorded without it.
	SHA1 string
}

// Store keeps blobs. Implementations are safe for concurrent use.
type Store interface {
	// Put reads r to its end, stores its content and returns its Ref. The blob is durable
	// when Put returns; on error nothing is left behind.
	Put(ctx context.Context, r io.Reader) (Ref, error)
	// Open returns a reader of the blob's content. The reader decrypts as it is read and,
	// instead of io.EOF, returns an error when the content does not match ref or was tampered
	// with: bytes read are only known good once io.EOF is seen.
	Open(ctx context.Context, ref Ref) (io.ReadCloser, error)
	// Delete removes a blob durably. Deleting a blob that does not exist is not an error, so
	// that a deletion interrupted half-way can simply be retried.
	Delete(ctx context.Context, id string) error
}

// DefaultMaxSize is the largest blob Put accepts unless told otherwise. It is a guard against
// a runaway upload filling the disk, well above the documents the DMP holds (a few MB).
const DefaultMaxSize = 256 << 20

// idBytes is the size of a blob ID before hex encoding: 128 random bits make collisions
// negligible (birthday bound 2^64) without coordination between nodes.
const idBytes = 16

// newID returns a fresh random blob ID.
func newID() string {
	var b [idBytes]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it crashes the program instead)
	return hex.EncodeToString(b[:])
}

// validID reports whether id is a blob ID as newID makes them. It is checked before any use
// as a file name, so that an ID from outside can never reach another path ("../…").
func validID(id string) bool {
	if len(id) != 2*idBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isHex(id[i]) {
			return false
		}
	}
	return true
}

// checkRef validates a Ref given to Open and returns what its content must be.
func checkRef(ref Ref, seg int) (expect, error) {
	if !validID(ref.ID) {
		return expect{}, errs.E(errs.Invalid, "invalid blob id")
	}
	if ref.Size < 0 || ref.Size > maxStreamSize(seg) {
		return expect{}, errs.E(errs.Invalid, "invalid blob size %d", ref.Size)
	}
	want := expect{size: ref.Size}
	var err error
	want.sha256, err = hex.DecodeString(ref.SHA256)
	if err != nil || len(want.sha256) != sha256.Size {
		return expect{}, errs.E(errs.Invalid, "invalid blob SHA-256")
	}
	if ref.SHA1 != "" {
		want.sha1, err = hex.DecodeString(ref.SHA1)
		if err != nil || len(want.sha1) != sha1.Size {
			return expect{}, errs.E(errs.Invalid, "invalid blob SHA-1")
		}
	}
	return want, nil
}

// corrupted is the error of a blob that is not what was stored: altered, truncated, swapped,
// or encrypted under another master key. Its message is fixed so that callers and operators
// see one thing; the cause says what was found.
func corrupted(cause error) error {
	return errs.Wrap(errs.Internal, cause, "blob corrupted")
}

// isCorrupted reports whether err is the error of a corrupted blob.
func isCorrupted(err error) bool {
	return errs.Is(err, errs.Internal) && errs.MessageOf(err) == "blob corrupted"
}
