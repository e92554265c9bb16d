// Package apitoken issues, checks and revokes the bearer tokens that machine clients present
// on the API: a professional's software, an organisation's business software, the insurer's
// feed, a patient's app. A token names one subject (a professional, an operator account, a
// patient, an app a patient connected, within what they granted); presenting it makes the
// request that subject's, as the access decision and the trace log see them.
//
// Only a token's SHA-256 is stored: a copy of the database does not let anyone call the API.
// Tokens are 256 random bits, so a fast hash is enough (no password stretching is needed for
// a secret that cannot be guessed). Issuing and revoking are traced in the actor's chain.
//
// This is the bearer-token core of the authentication issue: its OAuth 2 flows (client
// credentials, authorisation code with PKCE, introspection) issue and check these same tokens.
package apitoken

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Prefix starts every token, so that a leaked one is recognisable (secret scanners, logs).
const Prefix = "carnet_"

// Subject is whom a token acts for: exactly one of the ids is set, by Kind.
type Subject struct {
	Kind           audit.ActorKind // professional, operator, patient or app
	ProfessionalID int64
	AccountID      int64 // an operator's account
	PatientID      int64 // the patient; for an app, the patient who connected it

	// App: an app the patient (or their representative) connected through OAuth. The app is
	// the token's ClientID; it acts within Scopes and Classes, never beyond what the patient
	// (or the representative, ByRepresentative) may do (access rules.go app).
	Scopes           []access.Action
	Classes          []string // document classes granted; "*" for all
	ByRepresentative bool
}

// Token is a stored token, without its secret.
type Token struct {
	ID        string // the first 16 hex digits of the secret's hash: what lists and revocation name
	Subject   Subject
	Label     string // what the operator wrote: "LGC cabinet Martin", "flux remboursements"
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
	// ClientID is the OAuth client the token was issued to (internal/oauth), "" for a token
	// the operator issued; Scope is the OAuth scope granted, as the client asked for it.
	ClientID string
	Scope    string
}

// Active reports whether the token may be used at now: known, not revoked, not expired, and
// its subject not disabled.
func (r Resolved) Active(now time.Time) bool {
	return !r.Disabled && r.Token.RevokedAt.IsZero() && now.Before(r.Token.ExpiresAt)
}

// Resolved is what a token presented resolves to.
type Resolved struct {
	Token Token
	Actor access.Actor
	// Disabled: the subject's account or record was disabled since.
	Disabled bool
}

// Tx is what the service needs of a store transaction.
type Tx interface {
	audit.Appender
	InsertAPIToken(ctx context.Context, hash string, t Token) error
	// APIToken resolves a token by the hash of its secret; NotFound when unknown.
	APIToken(ctx context.Context, hash string) (Resolved, error)
	// RevokeAPIToken marks the token whose ID is id revoked at at; NotFound when unknown.
	RevokeAPIToken(ctx context.Context, id string, at time.Time) error
}

// Store opens transactions.
type Store interface {
	UpdateTokens(ctx context.Context, fn func(Tx) error) error
	ViewTokens(ctx context.Context, fn func(Tx) error) error
}

// Service issues and checks tokens.
type Service struct {
	store Store
	clock clock.Clock
}

// NewService returns the service.
func NewService(st Store, clk clock.Clock) *Service { return &Service{store: st, clock: clk} }

// MaxLifetime bounds a token's life: a year, after which the client gets a new one.
const MaxLifetime = 366 * 24 * time.Hour

// Issue creates a token for subject, valid for ttl, and returns its secret, shown once.
func (s *Service) Issue(ctx context.Context, by audit.Actor, ch audit.Channel, subject Subject, label string, ttl time.Duration) (string, Token, error) {
	secret, hash, t, err := Mint(Token{Subject: subject, Label: label}, s.clock.Now(), ttl)
	if err != nil {
		return "", Token{}, err
	}
	e := audit.Entry{At: t.CreatedAt, Actor: by, Channel: ch, Action: "apitoken.issue", Object: "apitoken/" + t.ID,
		Detail: fmt.Sprintf("%s %d", subject.Kind, subject.ProfessionalID+subject.AccountID+subject.PatientID)}
	err = audit.Do(ctx, s.store.UpdateTokens, e, func(tx Tx, _ *audit.Entry) error {
		return tx.InsertAPIToken(ctx, hash, t)
	})
	if err != nil {
		return "", Token{}, err
	}
	return secret, t, nil
}

// Mint makes a new token for t's subject, valid for ttl from now, without storing it: it
// returns the secret (shown once), the hash to store with InsertAPIToken, and the token with
// its ID and dates set. Issue stores it in a transaction of its own; the OAuth server stores
// it in the transaction that consumes the code or refresh token it was exchanged for.
func Mint(t Token, now time.Time, ttl time.Duration) (secret, hash string, _ Token, _ error) {
	if ttl <= 0 || ttl > MaxLifetime {
		return "", "", Token{}, errs.E(errs.Invalid, "a token lives between a second and %d days", int(MaxLifetime.Hours()/24))
	}
	subject := t.Subject
	switch {
	case subject.Kind == audit.ActorProfessional && subject.ProfessionalID > 0:
	case subject.Kind == audit.ActorOperator && subject.AccountID > 0:
	case subject.Kind == audit.ActorPatient && subject.PatientID > 0:
	case subject.Kind == audit.ActorApp && subject.PatientID > 0:
		if t.ClientID == "" || len(subject.Scopes) == 0 {
			return "", "", Token{}, errs.E(errs.Invalid, "an app's token names its client and the actions granted")
		}
		for _, a := range subject.Scopes {
			if !a.Valid() {
				return "", "", Token{}, errs.E(errs.Invalid, "unknown action %q", a)
			}
		}
	default:
		return "", "", Token{}, errs.E(errs.Invalid, "a token is for one professional, operator, patient or app of a patient")
	}
	t.Label = strings.TrimSpace(t.Label)
	if len(t.Label) > 200 {
		return "", "", Token{}, errs.E(errs.Invalid, "the label is longer than 200 characters")
	}
	var raw [32]byte
	rand.Read(raw[:])
	secret = Prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	hash = Hash(secret)
	t.ID, t.CreatedAt, t.ExpiresAt, t.RevokedAt = hash[:16], now, now.Add(ttl), time.Time{}
	return secret, hash, t, nil
}

// Revoke ends a token at once.
func (s *Service) Revoke(ctx context.Context, by audit.Actor, ch audit.Channel, id string) error {
	now := s.clock.Now()
	e := audit.Entry{At: now, Actor: by, Channel: ch, Action: "apitoken.revoke", Object: "apitoken/" + id}
	return audit.Do(ctx, s.store.UpdateTokens, e, func(tx Tx, _ *audit.Entry) error {
		return tx.RevokeAPIToken(ctx, id, now)
	})
}

// Authenticate resolves a presented secret to the actor it acts for. Every failure is
// Unauthenticated with one message, whatever the cause, so that a caller cannot probe tokens.
func (s *Service) Authenticate(ctx context.Context, secret string) (Resolved, error) {
	fail := errs.E(errs.Unauthenticated, "the bearer token is unknown, expired or revoked")
	if !strings.HasPrefix(secret, Prefix) || len(secret) != len(Prefix)+43 {
		return Resolved{}, fail
	}
	var r Resolved
	err := s.store.ViewTokens(ctx, func(tx Tx) error {
		var err error
		r, err = tx.APIToken(ctx, Hash(secret))
		return err
	})
	switch {
	case errs.Is(err, errs.NotFound):
		return Resolved{}, fail
	case err != nil:
		return Resolved{}, err
	}
	if !r.Active(s.clock.Now()) {
		return Resolved{}, fail
	}
	return r, nil
}

// Hash is what the store keeps of a secret, and looks it up by.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
