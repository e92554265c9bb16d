// Package auth is in charge of how a person proves who they are to carnet and of what they
// hold once they have: sign-in with an identifier and a password followed by a second factor
// (a one-time code by e-mail or SMS, or a passkey: webauthn.go), the activation of a space
// created by opt-out (the notice's code proves possession, the person sets their
// credentials), the password reset by e-mail link, server-side sessions with idle and
// absolute timeouts, and the rate limits and progressive delays that slow every guess at a
// credential.
//
// The rules it keeps, and where they come from:
//   - no secret is stored: sessions, pending challenges and reset links are kept by the
//     SHA-256 of a 256-bit random secret (unguessable, so no stretching is needed, as for
//     apitoken); a six-digit code by an HMAC keyed by a server key, since a plain hash of a
//     million possibilities falls in a second to whoever copies the database;
//   - nobody can tell from an answer or its timing whether an identifier has an account: an
//     unknown identifier costs the same argon2id work as a wrong password and gets the same
//     answer, rate limits are keyed by the identifier as typed (known or not), and the reset
//     request does all of its account-dependent work after the answer has left;
//   - every sign-in, failure, challenge, session creation, rotation and revocation writes a
//     trace (DESIGN invariant 2), with the identity and the channel; a patient's go to their
//     own chain, so their access trail shows them;
//   - time comes from the injected clock, so expiries are tested by moving it.
//
// The package holds the rules and the net/http helpers (cookies, the middleware that puts
// the Identity in the request context, CSRF protection); pages and their texts belong to
// the portal, and the store implements Tx (internal/store/auth.go).
package auth

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/space"
)

// Principal is an account as sign-in sees it: the account, the person behind it and what
// the second factor needs to reach them. Only the store fills PasswordHash; nothing outside
// this package sees it.
type Principal struct {
	AccountID    int64
	Kind         account.Kind
	Login        string // the account's e-mail address
	DisplayName  string
	PasswordHash string
	Disabled     bool

	PatientID int64
	INS       string // the patient's matricule, for the identifier form only
	Phone     string // the patient's mobile number, for SMS codes

	ProfessionalID int64
	IdNat          string // IdNat_PS
	Profession     string // G15_10…
	Specialty      string // SM26…, the profession's own code
	Org            string // the organisation's IdNat_Struct
}

// Actor is the principal as the access decision sees it, built as apitoken builds it for the
// same subject, so that a request reaches the decision and the trace log the same whether it
// came with a session or a bearer token.
func (p Principal) Actor() access.Actor {
	switch p.Kind {
	case account.KindProfessional:
		a := access.Actor{Kind: audit.ActorProfessional, ID: p.IdNat, Name: p.DisplayName, Org: p.Org, Profession: p.Profession}
		if p.Specialty != "" {
			a.Specialty = p.Profession + "/" + p.Specialty
		}
		return a
	case account.KindPatient:
		return access.Actor{Kind: audit.ActorPatient, ID: "patient-" + strconv.FormatInt(p.PatientID, 10), Name: p.DisplayName, PatientID: p.PatientID}
	default:
		return access.Actor{Kind: audit.ActorOperator, ID: strconv.FormatInt(p.AccountID, 10), Name: p.DisplayName}
	}
}

// identifiers are every identifier that names the principal: their rate-limit keys are reset
// when its owner proves the account is theirs (a full sign-in, a password reset).
func (p Principal) identifiers() []Identifier {
	out := []Identifier{{Kind: IdentEmail, Value: p.Login}}
	if p.INS != "" {
		out = append(out, Identifier{Kind: IdentINS, Value: p.INS})
	}
	if p.IdNat != "" {
		out = append(out, Identifier{Kind: IdentIdNat, Value: p.IdNat})
	}
	return out
}

// Tx is what the service needs of a store transaction.
type Tx interface {
	audit.Appender
	PasskeyTx

	// PrincipalBy resolves an identifier to its account; NotFound when none.
	PrincipalBy(ctx context.Context, id Identifier) (Principal, error)
	// PrincipalByAccount returns the principal of an account; NotFound when none.
	PrincipalByAccount(ctx context.Context, accountID int64) (Principal, error)
	SetPasswordHash(ctx context.Context, accountID int64, hash string) error
	// SetLogin changes an account's login; Conflict when another account has it.
	SetLogin(ctx context.Context, accountID int64, login string) error
	InsertAccount(ctx context.Context, a *account.Account) error // Conflict on a known login or person
	Patient(ctx context.Context, id int64) (space.Patient, error)
	// SpacesInTx is the space service's store bound to this transaction: its updates run in
	// savepoints of this transaction, so that an activation and the account it creates
	// commit or roll back together.
	SpacesInTx() space.Store

	// LockThrottle returns the state of a rate-limit key, locking it until the end of the
	// transaction (a zero state for a new key).
	LockThrottle(ctx context.Context, key string) (ThrottleState, error)
	SaveThrottle(ctx context.Context, key string, st ThrottleState) error
	DeleteThrottle(ctx context.Context, key string) error

	InsertChallenge(ctx context.Context, hash string, c Challenge) error
	// Challenge returns a pending challenge by the hash of its secret, locking it for update
	// in a write transaction; NotFound when unknown.
	Challenge(ctx context.Context, hash string) (Challenge, error)
	UpdateChallenge(ctx context.Context, hash string, attempts int, usedAt time.Time) error

	InsertSession(ctx context.Context, hash string, s Session) error
	// SessionBy returns a session and its principal by the hash of its secret; NotFound when unknown.
	SessionBy(ctx context.Context, hash string) (Session, Principal, error)
	TouchSession(ctx context.Context, hash string, at time.Time) error
	// RevokeSession revokes the account's session whose public id is id; NotFound when the
	// account has no such live session.
	RevokeSession(ctx context.Context, accountID int64, id string, at time.Time, reason string) error
	// RevokeSessions revokes every live session of the account and says how many.
	RevokeSessions(ctx context.Context, accountID int64, at time.Time, reason string) (int, error)
	// Sessions lists the account's sessions neither revoked nor past their absolute end.
	Sessions(ctx context.Context, accountID int64, now time.Time) ([]Session, error)

	InsertResetToken(ctx context.Context, hash string, accountID int64, created, expires time.Time) error
	// UseResetToken marks the token used and returns its account, if it is unused and
	// unexpired at now; NotFound otherwise. Every other unused token of the account is spent too.
	UseResetToken(ctx context.Context, hash string, now time.Time) (int64, error)

	// SweepAuth deletes what is no longer of use: sessions and challenges ended before
	// before, reset tokens expired before before, rate-limit keys idle since before.
	SweepAuth(ctx context.Context, before time.Time) (int64, error)
}

// Store opens transactions.
type Store interface {
	UpdateAuth(ctx context.Context, fn func(Tx) error) error
	ViewAuth(ctx context.Context, fn func(Tx) error) error
}

// Config holds the tunable values. Start from DefaultConfig.
type Config struct {
	// IdleTimeout ends a session unused for this long; AbsoluteTimeout ends it this long after
	// sign-in whatever its use (OWASP Session Management: idle 15–30 min for sensitive data,
	// absolute a working day).
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// TouchEvery: a session's last use is written at most this often, so that a page of
	// twenty requests costs one write; the idle timeout is thus exact to within it.
	TouchEvery time.Duration

	// CodeValidity and CodeAttempts bound a one-time code: it dies after this long, after
	// this many wrong tries, or once used.
	CodeValidity time.Duration
	CodeAttempts int

	// ResetValidity is the life of a password reset link; ResetURL the page it opens, to
	// which "?token=…" is added (the page should send Referrer-Policy: no-referrer).
	ResetValidity time.Duration
	ResetURL      string

	// Rate limits, each on its own key (see Policy).
	Identifier Policy // password and activation code guesses per identifier typed
	Address    Policy // failed credential checks per client address (IPv4, IPv6 /64)
	Code       Policy // wrong one-time codes per account, across challenges
	Reset      Policy // reset requests per identifier (limits mail bombing)

	// WebAuthn is the relying party of passkeys (WebAuthnFromURL derives it from the public
	// URL); the zero value offers none.
	WebAuthn WebAuthnConfig
}

// DefaultConfig returns our defaults.
//
// Identifier: 5 free tries, then 1 s, 2 s, 4 s … up to 15 min between tries: a person who
// mistypes is never held, and a guesser gets about a hundred tries a day, the ceiling of
// NIST SP 800-63B §5.2.2 (100 consecutive failures) with no lock-out that an attacker could
// turn against the account's owner. Address: 30 free failures an hour (a hospital's NAT
// carries many people). Code: a challenge's 3 tries are free, then the delays grow, so that
// starting new challenges with a stolen password does not reset the count.
func DefaultConfig() Config {
	return Config{
		IdleTimeout:     30 * time.Minute,
		AbsoluteTimeout: 12 * time.Hour,
		TouchEvery:      time.Minute,
		CodeValidity:    5 * time.Minute,
		CodeAttempts:    3,
		ResetValidity:   30 * time.Minute,
		Identifier:      Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute, Window: 24 * time.Hour},
		Address:         Policy{Free: 30, Base: time.Second, Max: 15 * time.Minute, Window: time.Hour},
		Code:            Policy{Free: 3, Base: 30 * time.Second, Max: time.Hour, Window: 24 * time.Hour},
		Reset:           Policy{Free: 3, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour},
	}
}

func (c Config) validate() error {
	switch {
	case c.IdleTimeout <= 0 || c.AbsoluteTimeout < c.IdleTimeout:
		return errs.E(errs.Invalid, "auth: the idle timeout must be positive and not above the absolute one")
	case c.TouchEvery < 0 || c.TouchEvery >= c.IdleTimeout:
		return errs.E(errs.Invalid, "auth: a session's use must be recorded more often than the idle timeout")
	case c.CodeValidity <= 0 || c.CodeAttempts < 1:
		return errs.E(errs.Invalid, "auth: one-time codes need a validity and at least one attempt")
	case c.ResetValidity <= 0:
		return errs.E(errs.Invalid, "auth: reset links need a validity")
	case !strings.HasPrefix(c.ResetURL, "https://") && !strings.HasPrefix(c.ResetURL, "http://"):
		return errs.E(errs.Invalid, "auth: the reset page's address (ResetURL) must be an absolute http(s) URL")
	}
	for _, p := range []Policy{c.Identifier, c.Address, c.Code, c.Reset} {
		if err := p.validate(); err != nil {
			return err
		}
	}
	return nil
}

// Deps are what the service needs.
type Deps struct {
	Store    Store
	Clock    clock.Clock
	Key      []byte          // DeriveKey of the master key
	CodeKey  []byte          // space.CodeKey of the master key: checks activation codes
	Password password.Params // the argon2id parameters (see BenchmarkCheckPassword)
	Mail     notify.Sender   // one-time codes and reset links by e-mail
	SMS      SMSSender       // nil: codes go by e-mail only
	// Factors are second factors beyond the built-in codes (WebAuthn): see Factor.
	Factors []Factor
	Config  Config
	Log     *slog.Logger // nil: slog.Default()
	Metrics *Metrics     // nil: none
}

// Service signs people in and keeps their sessions.
type Service struct {
	store   Store
	clock   clock.Clock
	key     []byte
	codeKey []byte
	params  password.Params
	mail    notify.Sender
	cfg     Config
	log     *slog.Logger
	metrics *Metrics
	factors map[Method]Factor
	order   []Method // the factors in order of preference when the person names none
	dummy   string   // a hash to verify against when the identifier is unknown

	passkeys *passkeyFactor // nil: Config.WebAuthn is not set

	bg   sync.WaitGroup // background work (reset e-mails), waited for by Close
	slot chan struct{}  // bounds it
}

// DeriveKey derives the key of this package (one-time code HMACs, CSRF tokens, rate-limit
// keys) from the master key (RFC 5869), so that it reveals nothing of the other uses.
func DeriveKey(master []byte) ([]byte, error) {
	if len(master) < 32 {
		return nil, errs.E(errs.Invalid, "master key too short: %d bytes, want 32", len(master))
	}
	return hkdf.Key(sha256.New, master, nil, "carnet auth v1", 32)
}

// NewService returns the service.
func NewService(d Deps) (*Service, error) {
	if len(d.Key) < 32 || len(d.CodeKey) < 32 {
		return nil, errs.E(errs.Internal, "auth: a key and an activation code key of 32 bytes are required")
	}
	if d.Store == nil || d.Clock == nil || d.Mail == nil {
		return nil, errs.E(errs.Internal, "auth: a store, a clock and a mail sender are required")
	}
	if err := d.Password.Validate(); err != nil {
		return nil, err
	}
	if err := d.Config.validate(); err != nil {
		return nil, err
	}
	dummy, err := password.Hash("carnet-unknown-identifier-placeholder", d.Password)
	if err != nil {
		return nil, err
	}
	s := &Service{store: d.Store, clock: d.Clock, key: d.Key, codeKey: d.CodeKey, params: d.Password, mail: d.Mail,
		cfg: d.Config, log: d.Log, metrics: d.Metrics, dummy: dummy, factors: map[Method]Factor{}, slot: make(chan struct{}, 64)}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, f := range d.Factors {
		s.addFactor(f)
	}
	if d.Config.WebAuthn.RPID != "" {
		if s.passkeys, err = newPasskeyFactor(s, d.Config.WebAuthn); err != nil {
			return nil, err
		}
		s.addFactor(s.passkeys) // before the codes: the stronger factor is preferred
	}
	s.addFactor(codeFactor{method: MethodEmailCode, s: s})
	if d.SMS != nil {
		s.addFactor(codeFactor{method: MethodSMSCode, s: s, sms: d.SMS})
	}
	return s, nil
}

func (s *Service) addFactor(f Factor) {
	if _, ok := s.factors[f.Method()]; !ok {
		s.factors[f.Method()] = f
		s.order = append(s.order, f.Method())
	}
}

// Close waits for background work (reset e-mails) to finish.
func (s *Service) Close() { s.bg.Wait() }

// background runs fn after the caller has answered, with a deadline of its own; when too much
// is already running, fn is dropped and logged (the person asks again).
func (s *Service) background(what string, fn func(ctx context.Context)) {
	select {
	case s.slot <- struct{}{}:
	default:
		s.log.Warn("auth background work dropped: too much in flight", "work", what)
		return
	}
	s.bg.Add(1)
	go func() {
		defer func() { <-s.slot; s.bg.Done() }()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		fn(ctx)
	}()
}

// mac is the HMAC of the parts under the package key, hex.
func (s *Service) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(strconv.Itoa(len(p))))
		m.Write([]byte{':'})
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// Client is where a request comes from, as the HTTP layer (or a mail listener) saw it.
type Client struct {
	Addr      string // IP address, no port
	UserAgent string
	Channel   audit.Channel // web by default
}

func (c Client) channel() audit.Channel {
	if c.Channel == "" {
		return audit.ChannelWeb
	}
	return c.Channel
}

// unknownActor signs the traces of attempts on identifiers that name no account. Those
// attempts belong to nobody's chain; their detail names the identifier by its rate-limit key
// (an HMAC), never in clear: people type passwords into the identifier field.
var unknownActor = audit.Actor{Kind: audit.ActorSystem, ID: "auth", Name: "carnet sign-in"}

// entry returns a trace entry about p (or about an unknown identifier when p is nil).
func (s *Service) entry(p *Principal, c Client, action string) audit.Entry {
	e := audit.Entry{At: s.clock.Now(), Actor: unknownActor, Channel: c.channel(), Action: action, Object: "account"}
	if p != nil {
		e.Actor = p.Actor().Audit()
		e.PatientID = p.PatientID
		e.Object = "account/" + strconv.FormatInt(p.AccountID, 10)
	}
	return e
}

// trace appends entries in their own transaction (a refusal that changes nothing else).
func (s *Service) trace(ctx context.Context, es ...audit.Entry) error {
	return s.store.UpdateAuth(ctx, func(tx Tx) error {
		for _, e := range es {
			if _, err := tx.AppendTrace(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

func denied(e audit.Entry, reason, detail string) audit.Entry {
	e.Outcome, e.Reason, e.Detail = audit.Denied, reason, detail
	return e
}

func allowed(e audit.Entry, detail string) audit.Entry {
	e.Outcome, e.Detail = audit.Allowed, detail
	return e
}
