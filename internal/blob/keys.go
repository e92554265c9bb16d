package blob

// Master keys, and the wrapping of data keys under them.
//
// A store holds a keyring: one current master key, which wraps the data key of every new blob,
// and the keys that were current before, which only unwrap. Every wrapping on disk names the
// master key it was made under by its key ID, so that a reader goes straight to the right key
// and an operator can tell which blobs still need an old one.
//
// Key rotation never rewrites a blob: its header, wrapping included, is part of the
// additional data of every segment (stream.go), so it cannot change without the body being
// encrypted again. The data key is wrapped anew, under the current master key, into a small
// file beside the blob, its sidecar (<id>.key):
//
//	sidecar  magic "CNBK" (4) ‖ version 0x01 (1) ‖ key ID (8) ‖ wrapped data key (60)
//
// wrapped as in the header: wrapNonce (12) ‖ AES-256-GCM(K, wrapNonce, data key, magic ‖
// version ‖ key ID ‖ blob ID), K = HKDF-Expand(KEK, blob ID). The additional data names the
// record ("CNBK", not the header's "CNBL"), so that a wrapping is only valid where and for the
// blob it was made.
//
// Why a sidecar rather than a header with two slots rewritten in place: format 1 blobs, which
// are on disk already, bind their whole header into every segment, so they could only be
// rotated through a file of their own anyway; one mechanism for every version is one thing to
// get right. And a sidecar is never modified, only replaced whole: it is written under a
// temporary name and synced, then renamed over the old one, and the directory synced
// (rewrap.go). rename(2) is atomic, so after kill -9 or power loss the name holds either the
// old wrapping or the new one, complete, never a torn mix; an in-place slot would rest on the
// disk writing 60 bytes atomically, which no file system promises. Both the old and the new
// wrapping hold the same data key, so either opens the blob as long as the keyring has its
// master key: the previous key must stay configured until a rewrap of every blob has ended
// without error.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/carnet-sante/carnet/internal/errs"
)

const (
	keyIDSize = 8

	sideMagic      = "CNBK"
	sideVersion1   = 1
	offSideKeyID   = len(sideMagic) + 1
	offSideWrapped = offSideKeyID + keyIDSize
	sidecarSize    = offSideWrapped + wrappedSize // 73 bytes

	// sidecarSuffix ends the name of a sidecar, after the blob's ID. A blob's name is its ID
	// alone, so the two never clash.
	sidecarSuffix = ".key"
)

// keyIDLabel is the message of the key ID's HMAC: a purpose of its own, apart from the
// key-encryption key and the master key's other uses.
const keyIDLabel = "carnet key id"

// KeyID names a master key without revealing it: the first 8 bytes of HMAC-SHA256(master,
// "carnet key id"), in hex. HMAC-SHA256 is a pseudorandom function, so the ID says nothing of
// the key that would help find it; 64 bits tell the few keys of a keyring apart (a clash is
// refused, not guessed through).
func KeyID(master []byte) string {
	id := keyID(master)
	return hex.EncodeToString(id[:])
}

func keyID(master []byte) [keyIDSize]byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(keyIDLabel))
	var id [keyIDSize]byte
	copy(id[:], m.Sum(nil))
	return id
}

// masterKey is a master key as the store uses it: its ID and the key-encryption key derived
// from it. The master key itself is not kept.
type masterKey struct {
	id  [keyIDSize]byte
	kek []byte
}

func (k *masterKey) String() string { return hex.EncodeToString(k.id[:]) }

// keyring is the master keys a store knows, the current one first.
type keyring struct {
	keys []*masterKey
}

// newKeyring builds a keyring whose current key is current. A previous key equal to the
// current one, or listed twice, is taken once: an operator who lists the new key among the
// old ones has made no mistake that matters.
func newKeyring(current []byte, previous ...[]byte) (*keyring, error) {
	r := &keyring{}
	for i, master := range append([][]byte{current}, previous...) {
		kek, err := deriveKEK(master)
		if err != nil {
			if i == 0 {
				return nil, err
			}
			return nil, errs.Wrap(errs.Invalid, err, "previous master key #%d", i)
		}
		k := &masterKey{id: keyID(master), kek: kek}
		if other := r.byID(k.id[:]); other != nil {
			if subtle.ConstantTimeCompare(other.kek, kek) == 1 {
				continue
			}
			return nil, errs.E(errs.Invalid, "two different master keys have the same key ID %s; make a new key", k)
		}
		r.keys = append(r.keys, k)
	}
	return r, nil
}

func (r *keyring) current() *masterKey { return r.keys[0] }

// byID returns the key whose ID is id, or nil.
func (r *keyring) byID(id []byte) *masterKey {
	for _, k := range r.keys {
		if bytes.Equal(k.id[:], id) {
			return k
		}
	}
	return nil
}

// noKeyError says that no key of the keyring is the one a wrapping was made under: the key was
// removed from the configuration, or the wrapping is not genuine. It is a cause of "blob
// corrupted", told apart so that Open can look for a sidecar.
type noKeyError struct{ msg string }

func (e *noKeyError) Error() string { return e.msg }

func noKey(format string, args ...any) error { return &noKeyError{fmt.Sprintf(format, args...)} }

func isNoKey(err error) bool {
	var e *noKeyError
	return errors.As(err, &e)
}

// wrapAAD is the additional data of a wrapping: the bytes of its record before it (magic,
// version, and key ID from format 2 on) and the blob ID.
func wrapAAD(rec []byte, id string) []byte {
	aad := make([]byte, 0, len(rec)+len(id))
	return append(append(aad, rec...), id...)
}

// wrap seals dataKey for blob id under k with nonce, as stored after rec; it returns the
// ciphertext and tag, without the nonce.
func (k *masterKey) wrap(id string, rec, nonce, dataKey []byte) ([]byte, error) {
	aead, err := wrapCipher(k.kek, id)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, nonce, dataKey, wrapAAD(rec, id)), nil
}

// unwrap opens a wrapping (nonce ‖ ciphertext ‖ tag) stored after rec.
func (k *masterKey) unwrap(id string, rec, wrapped []byte) ([]byte, error) {
	aead, err := wrapCipher(k.kek, id)
	if err != nil {
		return nil, err
	}
	return aead.Open(nil, wrapped[:nonceSize], wrapped[nonceSize:], wrapAAD(rec, id))
}

// openHeader unwraps the data key of blob id from its header, and says under which key. Format
// 1 names no key: each key of the ring is tried (a failed GCM open costs about a microsecond).
// The error is a noKeyError when the ring lacks the key.
func (r *keyring) openHeader(id string, h *header) ([]byte, *masterKey, error) {
	if kid := h.keyID(); kid != nil {
		k := r.byID(kid)
		if k == nil {
			return nil, nil, noKey("blob %s: its data key is wrapped under master key %x, which is not configured", id, kid)
		}
		dataKey, err := k.unwrap(id, h.rec(), h.wrapped())
		if err != nil {
			return nil, nil, fmt.Errorf("blob %s: unwrap data key: %w", id, err)
		}
		return dataKey, k, nil
	}
	for _, k := range r.keys {
		if dataKey, err := k.unwrap(id, h.rec(), h.wrapped()); err == nil {
			return dataKey, k, nil
		}
	}
	// Also what a damaged format 1 header looks like: GCM cannot tell the two apart.
	return nil, nil, noKey("blob %s: no configured master key unwraps its data key (format 1)", id)
}

// sealSidecar returns a sidecar holding dataKey of blob id wrapped under k.
func sealSidecar(k *masterKey, id string, dataKey []byte, rand io.Reader) ([]byte, error) {
	b := make([]byte, offSideWrapped+nonceSize, sidecarSize)
	copy(b, sideMagic)
	b[len(sideMagic)] = sideVersion1
	copy(b[offSideKeyID:], k.id[:])
	nonce := b[offSideWrapped:]
	if err := readRandom(rand, nonce); err != nil {
		return nil, err
	}
	sealed, err := k.wrap(id, b[:offSideWrapped], nonce, dataKey)
	if err != nil {
		return nil, err
	}
	return append(b, sealed...), nil
}

// openSidecar unwraps the data key of blob id from the sidecar b, and says under which key.
// The error is a noKeyError when the ring lacks the key.
func (r *keyring) openSidecar(id string, b []byte) ([]byte, *masterKey, error) {
	if len(b) != sidecarSize || string(b[:len(sideMagic)]) != sideMagic {
		return nil, nil, fmt.Errorf("blob %s: its key file is not one", id)
	}
	if v := b[len(sideMagic)]; v != sideVersion1 {
		return nil, nil, fmt.Errorf("blob %s: its key file has unknown format version %d", id, v)
	}
	kid := b[offSideKeyID:offSideWrapped]
	k := r.byID(kid)
	if k == nil {
		return nil, nil, noKey("blob %s: its key file wraps the data key under master key %x, which is not configured", id, kid)
	}
	dataKey, err := k.unwrap(id, b[:offSideWrapped], b[offSideWrapped:])
	if err != nil {
		return nil, nil, fmt.Errorf("blob %s: unwrap the data key of its key file: %w", id, err)
	}
	return dataKey, k, nil
}
