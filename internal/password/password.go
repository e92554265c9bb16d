// Package password is in charge of account passwords: hashing them with argon2id
// (RFC 9106), storing the result as a PHC string, checking a login against it, telling
// when a stored hash should be redone with the current parameters, and the length policy
// for a new password.
//
// A stored hash is outside input as far as this package is concerned: a tampered or
// corrupted row must not make us allocate gigabytes or spin for minutes, so the parser
// refuses parameters beyond fixed ceilings before any hashing starts.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Params are the argon2id cost parameters and the length policy. Build them with
// DefaultParams and change what the operator configured; check them with Validate.
type Params struct {
	Memory  uint32 // memory cost in KiB (argon2 m)
	Time    uint32 // number of passes (argon2 t)
	Threads uint8  // lanes (argon2 p)
	SaltLen uint32 // bytes of random salt
	KeyLen  uint32 // bytes of derived key (the tag)

	MinLength int // characters (Unicode code points) a new password must have at least
	MaxBytes  int // bytes a password may have at most, new or presented at login
}

// DefaultParams returns our defaults:
//   - m=19456 KiB (19 MiB), t=2, p=1: the argon2id minimum of the OWASP Password Storage
//     Cheat Sheet, for servers that hash on a shared CPU;
//   - 16-byte salt and 32-byte tag: RFC 9106 §3.1 and §4 (128-bit salt, 256-bit tag);
//   - at least 12 characters for a new password: our default, a field so the operator can
//     raise it (NIST SP 800-63B-4 asks 15 where the password is the only factor);
//   - at most 1024 bytes: argon2 pre-hashes the password, so this only bounds the work a
//     request can ask for while leaving room for any passphrase (NIST asks at least 64).
func DefaultParams() Params {
	return Params{
		Memory:    19 * 1024,
		Time:      2,
		Threads:   1,
		SaltLen:   16,
		KeyLen:    32,
		MinLength: 12,
		MaxBytes:  1024,
	}
}

// Ceilings and floors, for parameters we write and for those we read back. The floors
// are RFC 9106 §3.1 (salt of at least 8 bytes, tag of at least 4: we ask 16, below which
// a tag is too easy to collide; memory of at least 8 KiB per lane, t ≥ 1, p ≥ 1); the
// ceilings are ours, far above any sane setting and low enough that a single Verify of a
// tampered hash stays affordable.
const (
	maxMemory   = 1 << 20 // KiB: 1 GiB
	maxTime     = 16
	maxThreads  = 64
	minSaltLen  = 8
	maxSaltLen  = 64
	minKeyLen   = 16
	maxKeyLen   = 64
	maxMaxBytes = 4096 // a MaxBytes above this is a configuration mistake
)

// Validate checks the parameters against the floors and ceilings this package accepts,
// so that Hash never writes a hash that Verify would refuse to read.
func (p Params) Validate() error {
	if err := checkCost(p.Memory, p.Time, uint32(p.Threads)); err != nil {
		return err
	}
	switch {
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return errs.E(errs.Invalid, "password params: salt length must be %d to %d bytes", minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return errs.E(errs.Invalid, "password params: key length must be %d to %d bytes", minKeyLen, maxKeyLen)
	case p.MinLength < 1:
		return errs.E(errs.Invalid, "password params: minimum length must be at least 1")
	case p.MaxBytes < p.MinLength || p.MaxBytes > maxMaxBytes:
		return errs.E(errs.Invalid, "password params: maximum length must be between the minimum and %d bytes", maxMaxBytes)
	}
	return nil
}

// checkCost applies the cost floors and ceilings, for Validate and for the parser.
func checkCost(memory, time, threads uint32) error {
	switch {
	case threads < 1 || threads > maxThreads:
		return errs.E(errs.Invalid, "password params: parallelism must be 1 to %d", maxThreads)
	case time < 1 || time > maxTime:
		return errs.E(errs.Invalid, "password params: time cost must be 1 to %d", maxTime)
	case memory < 8*threads || memory > maxMemory:
		// RFC 9106 §3.1: m ≥ 8p KiB.
		return errs.E(errs.Invalid, "password params: memory must be 8 KiB per lane to %d KiB", maxMemory)
	}
	return nil
}

// CheckNew applies the length policy to a password chosen by a user. The message says
// what to change and never echoes the password.
func (p Params) CheckNew(plain string) error {
	if len(plain) > p.MaxBytes {
		return errs.E(errs.Invalid, "password must be at most %d bytes long", p.MaxBytes)
	}
	if utf8.RuneCountInString(plain) < p.MinLength {
		return errs.E(errs.Invalid, "password must have at least %d characters", p.MinLength)
	}
	return nil
}

// Hash applies the policy to a new password and returns its argon2id hash as a PHC
// string: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<tag>.
func Hash(plain string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		// The parameters come from our configuration, not from the user.
		return "", errs.Wrap(errs.Internal, err, "password hashing is misconfigured")
	}
	if err := p.CheckNew(plain); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", errs.Wrap(errs.Unavailable, err, "no randomness for a password salt")
	}
	h := phc{
		memory:  p.Memory,
		time:    p.Time,
		threads: p.Threads,
		salt:    salt,
		key:     argon2.IDKey([]byte(plain), salt, p.Time, p.Memory, p.Threads, p.KeyLen),
	}
	return h.String(), nil
}

// Verify checks plain against a stored hash with the default parameters as the target;
// see Params.Verify.
func Verify(plain, encoded string) (ok, needsRehash bool, err error) {
	return DefaultParams().Verify(plain, encoded)
}

// Verify checks plain against a stored PHC hash. ok is true when it matches (compared in
// constant time); needsRehash is then true when the hash was made with other parameters
// than p, so that the caller stores Hash(plain, p) while it holds the plain text. err
// reports a malformed or out-of-bounds hash, or a password longer than p.MaxBytes; the
// minimum length is not applied, so that passwords chosen under an older policy still
// open their account.
func (p Params) Verify(plain, encoded string) (ok, needsRehash bool, err error) {
	if len(plain) > p.MaxBytes {
		return false, false, errs.E(errs.Invalid, "password must be at most %d bytes long", p.MaxBytes)
	}
	h, err := parse(encoded)
	if err != nil {
		return false, false, err
	}
	key := argon2.IDKey([]byte(plain), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	if subtle.ConstantTimeCompare(key, h.key) != 1 {
		return false, false, nil
	}
	stale := h.memory != p.Memory || h.time != p.Time || h.threads != p.Threads ||
		uint32(len(h.salt)) != p.SaltLen || uint32(len(h.key)) != p.KeyLen
	return true, stale, nil
}
