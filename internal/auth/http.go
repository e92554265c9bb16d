package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Cookie names. The __Host- prefix makes browsers refuse the cookie unless it is Secure,
// has Path=/ and no Domain (RFC 6265bis §4.1.3.2): no sibling subdomain, and no plain-HTTP
// page, can set or overwrite it.
const (
	SessionCookie   = "__Host-carnet-session"
	ChallengeCookie = "__Host-carnet-signin"
)

// CSRFField is the form field, and CSRFHeader the header, that carry the CSRF token.
const (
	CSRFField  = "csrf_token"
	CSRFHeader = "X-CSRF-Token"
)

// HTTPOptions tune the HTTP helpers.
type HTTPOptions struct {
	// ClientOf says where a request comes from. Nil: the connection's address
	// (r.RemoteAddr). Behind a reverse proxy the wiring reads the proxy's header here, and
	// only from the proxy's own address.
	ClientOf func(r *http.Request) Client
	// Insecure drops the Secure flag and the __Host- prefix, so that a browser keeps the
	// cookies over plain HTTP. Only for a developer's machine; never in production.
	Insecure bool
	// TrustedOrigins may post forms across origins (another front-end of the same
	// deployment), for http.CrossOriginProtection.
	TrustedOrigins []string
}

// HTTP holds the net/http helpers: cookies, the identity middleware, CSRF protection.
type HTTP struct {
	svc      *Service
	clientOf func(r *http.Request) Client
	insecure bool
	cop      *http.CrossOriginProtection
}

// HTTP returns the helpers.
func (s *Service) HTTP(o HTTPOptions) (*HTTP, error) {
	h := &HTTP{svc: s, clientOf: o.ClientOf, insecure: o.Insecure, cop: http.NewCrossOriginProtection()}
	if h.clientOf == nil {
		h.clientOf = remoteClient
	}
	for _, origin := range o.TrustedOrigins {
		if err := h.cop.AddTrustedOrigin(origin); err != nil {
			return nil, errs.Wrap(errs.Invalid, err, "auth: trusted origin %q", origin)
		}
	}
	h.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	return h, nil
}

func remoteClient(r *http.Request) Client {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return Client{Addr: host, UserAgent: r.UserAgent(), Channel: audit.ChannelWeb}
}

// Client says where r comes from.
func (h *HTTP) Client(r *http.Request) Client { return h.clientOf(r) }

func (h *HTTP) name(n string) string {
	if h.insecure {
		return n[len("__Host-"):]
	}
	return n
}

func (h *HTTP) cookie(name, value string, maxAge int, sameSite http.SameSite) *http.Cookie {
	return &http.Cookie{Name: h.name(name), Value: value, Path: "/", MaxAge: maxAge, Secure: !h.insecure,
		HttpOnly: true, SameSite: sameSite}
}

// SetSession sets the session cookie. It is a browser-session cookie (no Max-Age: closing
// the browser drops it; the server's timeouts end it anyway), SameSite=Lax so that a link
// from the notification e-mail opens the space signed in, while cross-site posts carry no
// cookie (and need the CSRF token besides).
func (h *HTTP) SetSession(w http.ResponseWriter, si SignedIn) {
	http.SetCookie(w, h.cookie(SessionCookie, si.Token, 0, http.SameSiteLaxMode))
}

// ClearSession removes the session cookie.
func (h *HTTP) ClearSession(w http.ResponseWriter) {
	http.SetCookie(w, h.cookie(SessionCookie, "", -1, http.SameSiteLaxMode))
}

// SessionToken returns the session cookie's value, "" when none.
func (h *HTTP) SessionToken(r *http.Request) string {
	c, err := r.Cookie(h.name(SessionCookie))
	if err != nil {
		return ""
	}
	return c.Value
}

// SetChallenge keeps a pending sign-in's secret in a cookie that lives as long as the code,
// SameSite=Strict: only our own second-step form ever sends it.
func (h *HTTP) SetChallenge(w http.ResponseWriter, p Pending) {
	maxAge := int(p.ExpiresAt.Sub(h.svc.clock.Now()).Seconds())
	if maxAge <= 0 {
		maxAge = -1 // already over: remove it
	}
	http.SetCookie(w, h.cookie(ChallengeCookie, p.Token, maxAge, http.SameSiteStrictMode))
}

// ChallengeToken returns the pending sign-in's secret, "" when none.
func (h *HTTP) ChallengeToken(r *http.Request) string {
	c, err := r.Cookie(h.name(ChallengeCookie))
	if err != nil {
		return ""
	}
	return c.Value
}

// ClearChallenge removes the challenge cookie.
func (h *HTTP) ClearChallenge(w http.ResponseWriter) {
	http.SetCookie(w, h.cookie(ChallengeCookie, "", -1, http.SameSiteStrictMode))
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id (the middleware's doing; tests of handlers use it).
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity of the request, if signed in.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// Middleware authenticates the session cookie, if any, and puts the Identity in the
// request's context; a cookie of an ended session is removed. Requests without a valid
// session go on without an identity: Require refuses them where a page needs one.
func (h *HTTP) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := h.SessionToken(r); tok != "" {
			id, err := h.svc.Authenticate(r.Context(), tok)
			switch {
			case err == nil:
				r = r.WithContext(WithIdentity(r.Context(), id))
			case errs.Is(err, errs.Unauthenticated):
				h.ClearSession(w)
			default:
				h.svc.log.Error("session check failed", "err", err)
				http.Error(w, "service unavailable, try again in a moment", http.StatusServiceUnavailable)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Require answers 401 to a request without an identity.
func (h *HTTP) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := FromContext(r.Context()); !ok {
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CSRFToken returns the token that state-changing forms of this request's session must carry
// (in CSRFField or CSRFHeader), "" without a session.
//
// The design is a synchronizer token tied to the session, without storage: the token is an
// HMAC, under the server key, of the session's stored hash. It cannot be computed without
// the key, it changes when the session id rotates and dies with the session, it is the same
// on every node (nothing to share), and it never reveals the session secret (the page holds
// an HMAC of a hash). A double-submit cookie would have needed a second cookie, which a
// sibling subdomain or a network attacker on plain HTTP can plant unless it is itself tied to
// the session, which is what this is.
func CSRFToken(r *http.Request) string {
	id, ok := FromContext(r.Context())
	if !ok {
		return ""
	}
	return id.csrf
}

// CSRFToken returns the CSRF token of the identity's session (see the function CSRFToken).
func (i Identity) CSRFToken() string { return i.csrf }

// CSRF refuses state-changing requests (anything but GET, HEAD, OPTIONS) that are
// cross-origin by the browser's own account (http.CrossOriginProtection: Sec-Fetch-Site,
// else Origin), and, when the request has a session, those without its CSRF token. The two
// layers cover each other: an old browser sends no Sec-Fetch-Site, and a page with no
// session yet (sign-in, activation, reset forms) has no token to carry but is cross-origin
// protected, its challenge cookie is SameSite=Strict, and it only ever starts a sign-in.
// Put it after Middleware.
func (h *HTTP) CSRF(next http.Handler) http.Handler {
	check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		// Reading the token parses the form, which spools a multipart body's files past
		// 32 MB to temporary files. The server removes those of the request it was handed
		// only; this one is a copy (Middleware's context): they are removed here, whatever
		// the answer.
		defer func() {
			if r.MultipartForm != nil {
				_ = r.MultipartForm.RemoveAll()
			}
		}()
		if id, ok := FromContext(r.Context()); ok {
			got := r.Header.Get(CSRFHeader)
			if got == "" {
				got = r.PostFormValue(CSRFField)
			}
			if !hmac.Equal([]byte(got), []byte(id.csrf)) {
				http.Error(w, "this form has expired: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
	return h.cop.Handler(check)
}

// csrfFor derives the CSRF token of a session hash.
func (s *Service) csrfFor(hash string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("csrf\x00"))
	m.Write([]byte(hash))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// RetryAfter returns how long a throttled request should wait, for the one place that maps
// errors to HTTP (429 Too Many Requests with Retry-After, RFC 6585 §4), SMTP (454 4.7.0)
// or IMAP (NO [UNAVAILABLE]).
func RetryAfter(err error) (time.Duration, bool) {
	var t *Throttled
	if errors.As(err, &t) {
		return roundUp(t.RetryAfter), true
	}
	return 0, false
}

// RetryAfterHeader formats d for the Retry-After header (whole seconds).
func RetryAfterHeader(d time.Duration) string {
	return strconv.Itoa(int(roundUp(d) / time.Second))
}
