package oidc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

// FlowCookie holds a flow between leaving for the provider and coming back. The __Host-
// prefix binds it to this host over HTTPS (RFC 6265bis §4.1.3.2), like auth's cookies.
const FlowCookie = "__Host-carnet-oidc"

// flow is what the cookie carries: everything the callback must check the provider's answer
// against, and where to send the person afterwards.
type flow struct {
	Provider string `json:"p"`
	State    string `json:"s"` // RFC 6749 §10.12: binds the answer to this browser
	Nonce    string `json:"n"` // Core §3.1.2.1: binds the ID token to this flow
	Verifier string `json:"v"` // RFC 7636: the PKCE code verifier
	Return   string `json:"r"` // a local path, or "" for the person's home
	Expires  int64  `json:"e"` // Unix seconds
}

// sealer seals flows with AES-256-GCM: the browser can neither read the verifier nor forge
// or alter a flow.
type sealer struct{ aead cipher.AEAD }

// aad binds a sealed value to its use, so that no other value sealed under a key derived
// the same way could pass for a flow.
var aad = []byte("carnet-oidc-flow-v1")

// maxSealed bounds the cookie's value before anything is decoded (outside input).
const maxSealed = 2048

func newSealer(key []byte) (sealer, error) {
	if len(key) != 32 {
		return sealer{}, errs.E(errs.Internal, "oidc: a 32-byte key is required (DeriveKey)")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealer{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, err
	}
	return sealer{aead: aead}, nil
}

func (s sealer) seal(f flow) (string, error) {
	plain, err := json.Marshal(f)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	out := s.aead.Seal(nonce, nonce, plain, aad)
	return base64.RawURLEncoding.EncodeToString(out), nil
}

var errFlowExpired = errs.E(errs.Unauthenticated, "the sign-in flow has expired")

// open returns the flow of a sealed value if it is authentic and not expired at now.
func (s sealer) open(v string, now time.Time) (flow, error) {
	bad := errs.E(errs.Unauthenticated, "no valid sign-in flow")
	if v == "" || len(v) > maxSealed {
		return flow{}, bad
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(v)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return flow{}, bad
	}
	ns := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:ns], raw[ns:], aad)
	if err != nil {
		return flow{}, bad
	}
	f, err := parseFlow(plain)
	if err != nil {
		return flow{}, bad
	}
	if !now.Before(time.Unix(f.Expires, 0)) {
		return flow{}, errFlowExpired
	}
	return f, nil
}

// parseFlow reads a decrypted flow strictly: every field present, nothing else.
func parseFlow(b []byte) (flow, error) {
	var f flow
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return flow{}, err
	}
	if dec.More() {
		return flow{}, errs.E(errs.Invalid, "trailing data")
	}
	if f.Provider == "" || f.State == "" || f.Nonce == "" || f.Verifier == "" || f.Expires <= 0 {
		return flow{}, errs.E(errs.Invalid, "incomplete flow")
	}
	if f.Return != "" && !localPath(f.Return) {
		return flow{}, errs.E(errs.Invalid, "return path not local")
	}
	return f, nil
}

// randomToken returns 32 random bytes, base64url: a state or a nonce.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// localPath reports whether p is a path of this site (and only that), safe to redirect to:
// no scheme, no host, not "//host" nor "/\host" (which browsers read as another host), no
// control characters.
func localPath(p string) bool {
	if len(p) == 0 || len(p) > 1024 || p[0] != '/' || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return false
		}
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && strings.HasPrefix(u.Path, "/")
}

func (s *Service) cookieName() string {
	if s.cfg.Insecure {
		return strings.TrimPrefix(FlowCookie, "__Host-")
	}
	return FlowCookie
}

// setFlow keeps the flow in its cookie for StateTTL. SameSite=Lax: the provider sends the
// browser back with a cross-site top-level GET, which carries Lax cookies and not Strict ones.
func (s *Service) setFlow(w http.ResponseWriter, value string) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: value, Path: "/", MaxAge: int(s.cfg.StateTTL / time.Second),
		Secure: !s.cfg.Insecure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// clearFlow removes the cookie: a flow serves once.
func (s *Service) clearFlow(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1,
		Secure: !s.cfg.Insecure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func (s *Service) flowValue(r *http.Request) string {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return ""
	}
	return c.Value
}
