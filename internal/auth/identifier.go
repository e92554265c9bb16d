package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// IdentKind says what an identifier is.
type IdentKind string

const (
	IdentEmail IdentKind = "email" // an account's login, any kind of account
	IdentINS   IdentKind = "ins"   // a patient's INS matricule
	IdentIdNat IdentKind = "idnat" // a professional's IdNat_PS (an RPPS is read as 8 + RPPS)
)

// Identifier is what a person typed to say who they are, in its canonical form.
type Identifier struct {
	Kind  IdentKind
	Value string
}

// ParseIdentifier reads what a person typed in the identifier field: an e-mail address
// (any account's login), an INS matricule (15 characters, a patient), an RPPS (11 digits)
// or an IdNat_PS (a professional). Outside input: bounded, and never echoed in the error.
func ParseIdentifier(s string) (Identifier, error) {
	bad := errs.E(errs.Invalid, "enter your e-mail address, your INS (15 characters) or your RPPS number (11 digits)")
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 {
		return Identifier{}, bad
	}
	if strings.ContainsRune(s, '@') {
		login, err := account.NormaliseLogin(s)
		if err != nil {
			return Identifier{}, bad
		}
		return Identifier{Kind: IdentEmail, Value: login}, nil
	}
	// Spaces are common when copying an INS from a card ("2 79 03 51 215 189 89").
	compact := strings.Map(func(r rune) rune {
		if r == ' ' || r == '.' || r == '-' {
			return -1
		}
		return r
	}, s)
	switch len(compact) {
	case 15:
		if ins, err := identity.ParseINS(strings.ToUpper(compact)); err == nil {
			return Identifier{Kind: IdentINS, Value: ins.Matricule}, nil
		}
	case 11:
		if r, err := identity.ParseRPPS(compact); err == nil {
			return Identifier{Kind: IdentIdNat, Value: string(identity.PSRPPS) + string(r)}, nil
		}
	}
	if id, err := identity.ParseIdNatPS(compact); err == nil {
		return Identifier{Kind: IdentIdNat, Value: id.String()}, nil
	}
	return Identifier{}, bad
}

// secretLen is the length of every secret this package hands out: 32 random bytes,
// base64url without padding.
const secretLen = 43

// newSecret returns a 256-bit random secret and the hash it is stored under.
func newSecret() (secret, hash string) {
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails (Go 1.24+)
	secret = base64.RawURLEncoding.EncodeToString(raw[:])
	return secret, hashSecret(raw[:])
}

func hashSecret(raw []byte) string {
	h := sha256.Sum256(raw)
	return hex.EncodeToString(h[:])
}

// ParseSecret reads a secret handed out by this package (a session cookie, a challenge, a
// reset link) and returns the hash it is stored under. Outside input: anything but exactly
// 43 characters of canonical base64url is refused before any look-up.
func ParseSecret(s string) (hash string, err error) {
	if len(s) != secretLen {
		return "", errs.E(errs.Unauthenticated, "malformed secret")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) != 32 {
		return "", errs.E(errs.Unauthenticated, "malformed secret")
	}
	return hashSecret(raw), nil
}

// publicID is what lists and revocation name a session by: the first 16 hex digits of its
// hash, from which neither the secret nor the full hash can be found.
func publicID(hash string) string { return hash[:16] }
