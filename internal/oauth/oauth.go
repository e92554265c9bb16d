// Package oauth is carnet's OAuth 2.0 authorisation server (issue 3, "machine clients"; the
// ground of issue 9's connected apps). It registers clients (Registry), and serves:
//
//	POST /oauth/token                            RFC 6749: client_credentials, authorization_code
//	                                             with PKCE S256 only (RFC 7636), refresh_token
//	                                             with rotation and reuse detection (RFC 9700 §4.14)
//	GET|POST /oauth/authorize                    the authorisation endpoint and its consent page
//	POST /oauth/introspect                       RFC 7662
//	POST /oauth/revoke                           RFC 7009
//	GET /.well-known/oauth-authorization-server  RFC 8414
//
// The access tokens it issues are internal/apitoken tokens, so the FHIR API accepts them
// unchanged and the access decision sees their subject: the client's professional or operator
// account for client_credentials, an app actor (access.Actor Kind app, within the scopes and
// document classes the patient granted) for an app a patient connected. Scopes follow SMART
// App Launch (scope.go). Codes, refresh tokens and client secrets are stored as hashes.
//
// Sign-in is not this package's: the authorisation endpoint asks SignedIn who is signed in on
// the browser and hands over to SignIn when no one is; the consent form carries a CSRF token
// of its own, an HMAC over the signed-in actor and the request, valid 10 minutes.
//
// Every issued, refused and revoked token is traced (apitoken.issue, apitoken.revoke, in the
// patient's chain for an app, in the client's otherwise), and so is every consent
// (oauth.consent) and failed client authentication (oauth.client_auth).
package oauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// SignedIn returns who is signed in on the browser that sent r, as the access decision sees
// them: a patient (Kind patient, PatientID their own) or a legal representative acting for
// the person they represent (Kind representative, PatientID that person's,
// RepresentationCurrent checked). false when no one is signed in.
type SignedIn func(r *http.Request) (access.Actor, bool)

// SignIn sends the browser to sign in, and back to returnTo (a path and query on this server)
// once signed in.
type SignIn func(w http.ResponseWriter, r *http.Request, returnTo string)

// Config holds the server's settings.
type Config struct {
	// Issuer is the server's public base URL ("https://carnet.example"): the issuer of RFC 8414
	// and RFC 9207, and the base of every endpoint's URL.
	Issuer string
	// AccessTokenTTL is an access token's life; 0 is DefaultAccessTokenTTL.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is a refresh token's life, renewed at each rotation; 0 is
	// DefaultRefreshTokenTTL.
	RefreshTokenTTL time.Duration
	// ConsentKey keys the consent form's CSRF tokens: at least 32 secret bytes (derive it from
	// the master key).
	ConsentKey []byte
	Limits     Limits
}

// Our defaults: an access token lives an hour (a stolen one is short-lived; the client
// refreshes or asks again), a refresh token 30 days of inactivity.
const (
	DefaultAccessTokenTTL  = time.Hour
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour
	// CodeTTL is an authorisation code's life (RFC 6749 §4.1.2: short, 10 minutes at most).
	CodeTTL = 60 * time.Second
	// consentTTL is how long a consent page may stay open before its form is refused.
	consentTTL = 10 * time.Minute
)

// Deps are what the server is built on.
type Deps struct {
	Store    Store
	Clock    clock.Clock
	Catalog  *terminology.Catalog
	SignedIn SignedIn
	SignIn   SignIn
	// ClientAddr names the address a request comes from, for rate limiting; nil is
	// r.RemoteAddr (set it behind a reverse proxy you trust).
	ClientAddr func(r *http.Request) string
	// Describe, when set, is the app catalogue: only the apps it describes (the referenced
	// ones) can be connected, and the consent page shows its words for each category.
	Describe Describe
	Log      *slog.Logger
}

// Server is the authorisation server.
type Server struct {
	cfg      Config
	d        Deps
	registry *Registry
	clients  *limiter // failed authentications per client id
	addrs    *limiter // and per address
	pages    *template.Template
	mux      *http.ServeMux
	// dummyHash is compared against when a client is unknown, so that an unknown client costs
	// the same work as a wrong secret.
	dummyHash string
}

//go:embed templates/*.html
var templateFS embed.FS

// New returns the server. It fails on a configuration it cannot run with.
func New(cfg Config, d Deps) (*Server, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errs.E(errs.Invalid, "oauth: the issuer is an http(s) URL without query or fragment")
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	if len(cfg.ConsentKey) < 32 {
		return nil, errs.E(errs.Invalid, "oauth: the consent key is at least 32 bytes")
	}
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if cfg.RefreshTokenTTL == 0 {
		cfg.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if cfg.AccessTokenTTL < 0 || cfg.AccessTokenTTL > apitoken.MaxLifetime || cfg.RefreshTokenTTL < 0 {
		return nil, errs.E(errs.Invalid, "oauth: token lifetimes are positive, an access token's at most %s", apitoken.MaxLifetime)
	}
	if d.Store == nil || d.Clock == nil || d.Catalog == nil || d.SignedIn == nil || d.SignIn == nil {
		return nil, errs.E(errs.Invalid, "oauth: store, clock, catalogue, SignedIn and SignIn are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	pages, err := template.ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("oauth: parse templates: %w", err)
	}
	s := &Server{cfg: cfg, d: d, registry: NewRegistry(d.Store, d.Clock, d.Catalog), pages: pages, mux: http.NewServeMux(),
		dummyHash: apitoken.Hash(newSecret(SecretPrefix))}
	s.clients, s.addrs = newLimiters(d.Clock, cfg.Limits)
	s.mux.HandleFunc("POST /oauth/token", s.token)
	s.mux.HandleFunc("GET /oauth/authorize", s.authorize)
	s.mux.HandleFunc("POST /oauth/authorize", s.authorize)
	s.mux.HandleFunc("POST /oauth/introspect", s.introspect)
	s.mux.HandleFunc("POST /oauth/revoke", s.revoke)
	s.mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.metadata)
	s.mux.HandleFunc("GET /.well-known/smart-configuration", s.smartConfiguration)
	return s, nil
}

// ServeHTTP serves the endpoints (mount it at / or at each of Paths).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Paths are the patterns the server answers, for the caller's mux.
func Paths() []string {
	return []string{"/oauth/token", "/oauth/authorize", "/oauth/introspect", "/oauth/revoke", "/.well-known/oauth-authorization-server",
		"/.well-known/smart-configuration"}
}

// Registry returns the client registry the server uses.
func (s *Server) Registry() *Registry { return s.registry }

// metadata is RFC 8414 §2.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	authMethods := []string{"client_secret_basic", "client_secret_post"}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                        s.cfg.Issuer,
		"authorization_endpoint":                        s.cfg.Issuer + "/oauth/authorize",
		"token_endpoint":                                s.cfg.Issuer + "/oauth/token",
		"introspection_endpoint":                        s.cfg.Issuer + "/oauth/introspect",
		"revocation_endpoint":                           s.cfg.Issuer + "/oauth/revoke",
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         []string{string(GrantAuthorizationCode), string(GrantClientCredentials), string(GrantRefreshToken)},
		"token_endpoint_auth_methods_supported":         append(authMethods, "none"),
		"introspection_endpoint_auth_methods_supported": authMethods,
		"revocation_endpoint_auth_methods_supported":    append(authMethods, "none"),
		"code_challenge_methods_supported":              []string{"S256"},
		"scopes_supported": []string{"patient/DocumentReference.crs", "patient/DocumentReference.rs", "patient/DocumentReference.c",
			"patient/AuditEvent.rs", "patient/*.rs", "system/DocumentReference.cruds", "system/*.cruds", "offline_access", "launch/patient"},
		"authorization_response_iss_parameter_supported": true,
		"ui_locales_supported":                           []string{"fr-FR"},
	})
}

// authenticateClient checks the client's credentials (RFC 6749 §2.3), rate-limited per client
// id and per address. A public client authenticates with its id alone when allowPublic. Every
// failure gives the same answer, whatever failed, and takes the same work.
func (s *Server) authenticateClient(ctx context.Context, r *http.Request, cr credentials, allowPublic bool) (Client, *Error) {
	addrKey := remoteKey(r)
	if s.d.ClientAddr != nil {
		addrKey = "a:" + s.d.ClientAddr(r)
	}
	clientKey := "c:" + cr.ID
	if wait := max(s.clients.wait(clientKey), s.addrs.wait(addrKey)); wait > 0 {
		e := oerr(http.StatusTooManyRequests, ErrInvalidClient, "too many failed authentications, retry later")
		e.RetryAfter = wait
		return Client{}, e
	}
	var (
		c    Client
		hash string
	)
	err := s.d.Store.ViewOAuth(ctx, func(tx Tx) error {
		var err error
		c, hash, err = tx.OAuthClient(ctx, cr.ID)
		return err
	})
	if err != nil && !errs.Is(err, errs.NotFound) {
		return Client{}, s.internal(ctx, r, err)
	}
	known := err == nil
	check := s.dummyHash
	if known && c.Type == Confidential {
		check = hash
	}
	match := secretMatches(cr.Secret, check) // always one comparison, known client or not
	var ok bool
	switch {
	case !known:
	case c.Type == Public:
		// A public client has no secret; Basic with an empty password is how some client
		// libraries send its id alone (Go's golang.org/x/oauth2 does).
		ok = allowPublic && cr.Secret == ""
	default:
		ok = cr.Method != "none" && match
	}
	ok = ok && known && c.Enabled()
	if ok {
		s.clients.reset(clientKey)
		return c, nil
	}
	delay := max(s.clients.fail(clientKey), s.addrs.fail(addrKey))
	e := audit.Entry{At: s.d.Clock.Now(), Channel: audit.ChannelFHIR, Action: "oauth.client_auth", Outcome: audit.Denied,
		Reason: "invalid_client", Detail: "method=" + cr.Method}
	if delay > 0 {
		e.Detail += fmt.Sprintf(" throttled=%s", delay)
	}
	if known {
		e.Actor, e.Object = c.actor(), "oauth-client/"+c.ID
	} else {
		// An unknown id gets no chain of its own (anyone could make up ids by the million).
		e.Actor, e.Object = audit.System("oauth"), "oauth-client/unknown"
		e.Detail += " client_id=" + strconv.QuoteToASCII(clip(cr.ID))
	}
	s.trace(ctx, e)
	return Client{}, clientAuthFailed()
}

// secretMatches compares a presented secret with a stored hash in constant time.
func secretMatches(secret, hash string) bool {
	h := sha256.Sum256([]byte(secret))
	want, err := hex.DecodeString(hash)
	if err != nil || len(want) != len(h) {
		return false
	}
	return subtle.ConstantTimeCompare(h[:], want) == 1
}

// trace appends a trace in a transaction of its own (a refusal, which changes nothing else).
// A failure to trace is logged: the refusal stands.
func (s *Server) trace(ctx context.Context, e audit.Entry) {
	err := s.d.Store.UpdateOAuth(ctx, func(tx Tx) error {
		_, err := tx.AppendTrace(ctx, e)
		return err
	})
	if err != nil {
		s.d.Log.Error("oauth: trace refusal", "action", e.Action, "err", err)
	}
}

// internal logs err and returns the answer to a fault of ours.
func (s *Server) internal(ctx context.Context, r *http.Request, err error) *Error {
	if errs.Is(err, errs.Unavailable) {
		return oerr(http.StatusServiceUnavailable, ErrTemporarilyUnavailable, "try again later")
	}
	if !errors.Is(err, context.Canceled) {
		s.d.Log.Error("oauth request failed", "route", r.Pattern, "err", err)
	}
	return oerr(http.StatusInternalServerError, ErrServerError, "internal error")
}

// readForm reads a back-channel POST, bounded.
func readForm(r *http.Request) (formRequest, *Error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForm+1))
	if err != nil {
		return formRequest{}, invalidRequest("the request body could not be read")
	}
	return parseForm(r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body)
}

// render writes a page, rendered into a buffer first so that a template error shows no half page.
func (s *Server) render(w http.ResponseWriter, status int, name string, v any) {
	var b bytes.Buffer
	if err := s.pages.ExecuteTemplate(&b, name, v); err != nil {
		s.d.Log.Error("oauth: render page", "page", name, "err", err)
		http.Error(w, "Erreur interne", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The consent page must not be framed (clickjacking a consent), loads nothing, runs nothing.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
