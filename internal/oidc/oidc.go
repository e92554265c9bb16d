// Package oidc is in charge of signing people in through an OpenID Connect provider: the
// national "Pro Santé Connect" for professionals (CPS card, e-CPS), "FranceConnect" for
// patients, or any provider the operator configures. carnet is the relying party; it serves
//
//	GET /connexion/oidc/{provider}?retour=/path  starts the flow (redirects to the provider)
//	GET /connexion/oidc/{provider}/retour        the provider's answer (the redirect URI)
//
// What it checks, and where the rule comes from:
//   - the authorization code flow only (OpenID Connect Core §3.1), with PKCE S256 (RFC 7636,
//     RFC 9700 §2.1.1), a state (RFC 6749 §10.12) and a nonce (Core §3.1.2.1), all three
//     kept in a short-lived cookie sealed (AES-256-GCM) under a key derived from the master
//     key, so that nothing is stored before the person comes back and any node can answer.
//     The cookie is SameSite=Lax: the provider sends the browser back by a cross-site
//     top-level GET, which a Strict cookie would not follow;
//   - the ID token's signature against the provider's published keys (JWKS), its issuer,
//     audience and expiry against the injected clock (Core §3.1.3.7, by
//     github.com/coreos/go-oidc), its nonce, its at_hash when present, and the assurance
//     level (acr) when the provider is configured to require one: Pro Santé Connect and
//     FranceConnect express it as eidas1 < eidas2 < eidas3, and a lower level than the one
//     required is refused;
//   - the UserInfo answer is only taken when its subject is the ID token's (Core §5.3.2).
//
// Who the person is in carnet:
//   - a professional by their IdNat_PS (8 + RPPS, 0 + ADELI), read from the claims Pro Santé
//     Connect sends (SubjectNameID, then preferred_username), among the professionals of
//     carnet's directory that have an account; the profession the provider states, when it
//     states one, must be the directory's. Nothing is created from claims unless the provider
//     is configured to (Provision);
//   - a patient by the provider's subject when it was linked to an account before; otherwise
//     by the identity traits the provider vouches for (FranceConnect's "identité pivot":
//     birth name, first given name, birth date, sex — the traits of a qualified INS identity),
//     which must match exactly one patient space, with an account; the match is then linked
//     (oidc_links), so that the next sign-in uses the subject alone.
//
// The session is internal/auth's (SignInExternal): the same cookie, rotation, timeouts,
// traces and rate limits as a sign-in with a password and a code. Every sign-in and every
// refusal is traced (auth.external, auth.signin); a refusal tells the person why in French.
package oidc

import (
	"cmp"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/space"
)

// Kind is the kind of account a provider signs in.
type Kind string

const (
	KindProfessional Kind = "professional"
	KindPatient      Kind = "patient"
)

// Provision says what a professional's first sign-in may create in carnet.
type Provision string

const (
	// ProvisionNone: the professional must be in carnet's directory with an account. The default.
	ProvisionNone Provision = "none"
	// ProvisionAccount: a professional of the directory without an account gets one at their
	// first sign-in (without a password: they sign in through the provider only).
	ProvisionAccount Provision = "account"
	// ProvisionDirectory: besides, a professional unknown to the directory is recorded from
	// the provider's claims (IdNat_PS, names, profession, specialty).
	ProvisionDirectory Provision = "directory"
)

// Claims names the claims read, in the ID token and the UserInfo answer merged (the ID
// token's win). A name with dots is a path through objects, and through arrays at any level
// ("SubjectRefPro.exercices.codeProfession"); a list is tried in order, the first claim
// present wins. Empty fields take DefaultClaims' values.
type Claims struct {
	IdNat      []string // professional: the IdNat_PS (or an 11-digit RPPS, read as 8 + RPPS)
	Profession []string // professional: the profession codes (TRE_G15, "10" or "G15_10"; "10^OID" as SubjectRole)
	Specialty  []string // professional: the specialty (savoir-faire) codes, for ProvisionDirectory
	FamilyName string   // a professional's family name; a patient's birth name
	GivenName  string   // a professional's given name; a patient's given names, the first one first
	BirthDate  string   // patient: YYYY-MM-DD
	Gender     string   // patient: "female" or "male" (OpenID Connect Core §5.1)
}

// DefaultClaims returns the claims of Pro Santé Connect (professionals) and FranceConnect
// (patients): both use the standard names where they exist.
func DefaultClaims() Claims {
	return Claims{
		IdNat:      []string{"SubjectNameID", "preferred_username"},
		Profession: []string{"SubjectRefPro.exercices.codeProfession", "SubjectRole"},
		Specialty:  []string{"SubjectRefPro.exercices.codeSavoirFaire"},
		FamilyName: "family_name",
		GivenName:  "given_name",
		BirthDate:  "birthdate",
		Gender:     "gender",
	}
}

func (c Claims) withDefaults() Claims {
	d := DefaultClaims()
	if len(c.IdNat) == 0 {
		c.IdNat = d.IdNat
	}
	if len(c.Profession) == 0 {
		c.Profession = d.Profession
	}
	if len(c.Specialty) == 0 {
		c.Specialty = d.Specialty
	}
	c.FamilyName = cmp.Or(c.FamilyName, d.FamilyName)
	c.GivenName = cmp.Or(c.GivenName, d.GivenName)
	c.BirthDate = cmp.Or(c.BirthDate, d.BirthDate)
	c.Gender = cmp.Or(c.Gender, d.Gender)
	return c
}

// DefaultACRLevels are the assurance levels of Pro Santé Connect and FranceConnect, lowest
// first (eIDAS low, substantial, high).
var DefaultACRLevels = []string{"eidas1", "eidas2", "eidas3"}

// Provider is one configured OpenID provider.
type Provider struct {
	// Name names the provider in URLs, traces and the session's method ("oidc:<name>"):
	// lower-case letters, digits and hyphens, at most 32.
	Name  string
	Label string // as the pages name it: "Pro Santé Connect"
	Kind  Kind
	// Issuer is the provider's issuer URL; its discovery document is read from
	// Issuer + "/.well-known/openid-configuration" on first use.
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes asked for; "openid" is added when missing. Pro Santé Connect: openid scope_all;
	// FranceConnect: openid given_name family_name birthdate gender birthplace birthcountry.
	Scopes []string
	// RedirectURL is this provider's callback as registered with it:
	// <public_url>/connexion/oidc/<name>/retour.
	RedirectURL string
	// ACR is the lowest assurance level accepted ("" accepts any and asks for none); it is
	// asked for as acr_values, and an ID token of a lower or unknown level is refused.
	ACR string
	// ACRLevels orders the levels, lowest first; DefaultACRLevels when empty.
	ACRLevels []string
	// SkipUserInfo: read the claims from the ID token alone, even when the provider has a
	// UserInfo endpoint (by default its answer is merged in: Pro Santé Connect sends the
	// professional's directory data there).
	SkipUserInfo bool
	Claims       Claims
	// Provision applies to professionals; ProvisionNone when empty.
	Provision Provision
}

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

func (p Provider) validate() error {
	bad := func(format string, args ...any) error {
		return errs.E(errs.Invalid, "oidc provider %q: "+format, append([]any{p.Name}, args...)...)
	}
	if !providerName.MatchString(p.Name) {
		return bad("the name must be 1 to 32 lower-case letters, digits or hyphens")
	}
	if p.Kind != KindProfessional && p.Kind != KindPatient {
		return bad("the kind must be %q or %q", KindProfessional, KindPatient)
	}
	if u, err := url.Parse(p.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return bad("the issuer must be an absolute http(s) URL")
	}
	if p.ClientID == "" || p.ClientSecret == "" {
		return bad("a client id and a client secret are required")
	}
	u, err := url.Parse(p.RedirectURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return bad("the redirect URL must be an absolute http(s) URL")
	}
	if want := "/connexion/oidc/" + p.Name + "/retour"; u.Path != want {
		return bad("the redirect URL must end in %s", want)
	}
	if p.ACR != "" && !slices.Contains(p.ACRLevels, p.ACR) {
		return bad("the required acr %q is not one of the levels %v", p.ACR, p.ACRLevels)
	}
	switch p.Provision {
	case ProvisionNone:
	case ProvisionAccount, ProvisionDirectory:
		if p.Kind != KindProfessional {
			return bad("only professionals' accounts can be provisioned")
		}
	default:
		return bad("provision must be %q, %q or %q", ProvisionNone, ProvisionAccount, ProvisionDirectory)
	}
	return nil
}

// Method is the auth.Method of the sessions a provider opens.
func Method(provider string) auth.Method { return auth.Method("oidc:" + provider) }

// Config holds the providers and the tunable values.
type Config struct {
	Providers []Provider
	// StateTTL bounds the time between leaving for the provider and coming back (the flow
	// cookie's life); 10 minutes by default.
	StateTTL time.Duration
	// HTTPTimeout bounds each call to a provider (discovery, keys, token, UserInfo); 10 s by default.
	HTTPTimeout time.Duration
	// Insecure drops the Secure flag and the __Host- prefix of the flow cookie, like
	// auth.HTTPOptions.Insecure: a developer's machine only.
	Insecure bool
}

// Deps are what the service needs.
type Deps struct {
	Store Store
	Auth  *auth.Service
	HTTP  *auth.HTTP // the session cookie, and where a request comes from
	Clock clock.Clock
	Key   []byte // DeriveKey of the master key: seals the flow cookie
	// Professions checks the codes of professionals recorded from claims (ProvisionDirectory).
	Professions account.Professions
	// Client calls the providers; nil: a client with Config.HTTPTimeout.
	Client *http.Client
	// OnError renders a refusal; nil: a small page of this package's (failure.html).
	OnError func(w http.ResponseWriter, r *http.Request, f Failure)
	Log     *slog.Logger // nil: slog.Default()
	Config  Config
}

// Store opens transactions.
type Store interface {
	UpdateOIDC(ctx context.Context, fn func(Tx) error) error
	ViewOIDC(ctx context.Context, fn func(Tx) error) error
}

// Tx is what the service needs of a store transaction.
type Tx interface {
	audit.Appender
	// ProfessionalForSignIn returns the directory's professional of an IdNat_PS with their
	// account, if any; NotFound when the directory has no such professional.
	ProfessionalForSignIn(ctx context.Context, idnat string) (Professional, error)
	// PatientCandidates lists the patients born on date (midnight UTC) of sex whose space is
	// not purged, with their account if any.
	PatientCandidates(ctx context.Context, birthDate time.Time, sex space.Sex) ([]Candidate, error)
	// LinkedAccount returns the account linked to a provider's subject; NotFound when none.
	LinkedAccount(ctx context.Context, provider, subject string) (int64, error)
	// InsertLink links a provider's subject to an account; Conflict when the subject, or
	// the account at this provider, is linked already.
	InsertLink(ctx context.Context, l Link) error
	TouchLink(ctx context.Context, provider, subject string, at time.Time) error
	InsertProfessional(ctx context.Context, p *account.Professional) error // Conflict on a known IdNat_PS
	InsertAccount(ctx context.Context, a *account.Account) error           // Conflict on a known login
}

// Professional is a directory professional as sign-in needs them.
type Professional struct {
	ID         int64
	IdNat      string
	Profession string
	Specialty  string
	FamilyName string
	GivenName  string
	AccountID  int64 // 0 when they have no account
}

// Candidate is a patient whose birth date and sex match, with the names to compare.
type Candidate struct {
	PatientID  int64
	BirthName  string
	GivenNames string
	AccountID  int64 // 0 when the space was never activated
}

// Link ties a provider's subject to an account.
type Link struct {
	Provider  string
	Subject   string
	AccountID int64
	CreatedAt time.Time
}

// DeriveKey derives the key that seals the flow cookie from the master key (RFC 5869).
func DeriveKey(master []byte) ([]byte, error) {
	if len(master) < 32 {
		return nil, errs.E(errs.Invalid, "master key too short: %d bytes, want 32", len(master))
	}
	return hkdf.Key(sha256.New, master, nil, "carnet oidc state v1", 32)
}

// Service is the relying party of the configured providers.
type Service struct {
	store       Store
	auth        *auth.Service
	http        *auth.HTTP
	clock       clock.Clock
	professions account.Professions
	client      *http.Client
	onError     func(w http.ResponseWriter, r *http.Request, f Failure)
	log         *slog.Logger
	cfg         Config
	sealer      sealer
	providers   map[string]*relyingParty
	order       []string
	mux         *http.ServeMux
}

// New returns the service. Providers are not contacted until someone signs in through them,
// so that carnet starts while a provider is down.
func New(d Deps) (*Service, error) {
	if d.Store == nil || d.Auth == nil || d.HTTP == nil || d.Clock == nil {
		return nil, errs.E(errs.Internal, "oidc: a store, the auth service and its HTTP helpers, and a clock are required")
	}
	sl, err := newSealer(d.Key)
	if err != nil {
		return nil, err
	}
	cfg := d.Config
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = 10 * time.Minute
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = 10 * time.Second
	}
	s := &Service{store: d.Store, auth: d.Auth, http: d.HTTP, clock: d.Clock, professions: d.Professions, client: d.Client,
		onError: d.OnError, log: d.Log, cfg: cfg, sealer: sl, providers: map[string]*relyingParty{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: cfg.HTTPTimeout}
	}
	if s.onError == nil {
		s.onError = renderFailure
	}
	for _, p := range cfg.Providers {
		p.Scopes = withOpenID(p.Scopes)
		if len(p.ACRLevels) == 0 {
			p.ACRLevels = DefaultACRLevels
		}
		if p.Provision == "" {
			p.Provision = ProvisionNone
		}
		p.Claims = p.Claims.withDefaults()
		if err := p.validate(); err != nil {
			return nil, err
		}
		if _, dup := s.providers[p.Name]; dup {
			return nil, errs.E(errs.Invalid, "oidc provider %q is configured twice", p.Name)
		}
		if p.Provision == ProvisionDirectory && s.professions == nil {
			return nil, errs.E(errs.Internal, "oidc provider %q: recording professionals needs the profession catalogue", p.Name)
		}
		s.providers[p.Name] = newRelyingParty(p, s)
		s.order = append(s.order, p.Name)
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /connexion/oidc/{provider}", s.start)
	s.mux.HandleFunc("GET /connexion/oidc/{provider}/retour", s.callback)
	return s, nil
}

func withOpenID(scopes []string) []string {
	var out []string
	for _, sc := range scopes {
		for f := range strings.FieldsSeq(sc) {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	if !slices.Contains(out, "openid") {
		out = append([]string{"openid"}, out...)
	}
	return out
}

// ProviderInfo is what a sign-in page needs to offer a provider.
type ProviderInfo struct {
	Name, Label string
	Kind        Kind
	// StartURL starts the flow; add "?retour=<path>" to come back somewhere else than home.
	StartURL string
}

// Providers lists the configured providers, in configuration order.
func (s *Service) Providers() []ProviderInfo {
	out := make([]ProviderInfo, 0, len(s.order))
	for _, n := range s.order {
		p := s.providers[n].cfg
		out = append(out, ProviderInfo{Name: p.Name, Label: p.Label, Kind: p.Kind, StartURL: "/connexion/oidc/" + p.Name})
	}
	return out
}

// ServeHTTP serves GET /connexion/oidc/{provider} and GET /connexion/oidc/{provider}/retour:
// mount it on "GET /connexion/oidc/".
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }
