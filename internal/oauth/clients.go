package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// ClientType is RFC 6749 §2.1's: a confidential client keeps a secret (a server); a public
// one cannot (a mobile or browser app) and relies on PKCE alone.
type ClientType string

const (
	Confidential ClientType = "confidential"
	Public       ClientType = "public"
)

// GrantType is a grant a client may use at the token endpoint.
type GrantType string

const (
	GrantClientCredentials GrantType = "client_credentials"
	GrantAuthorizationCode GrantType = "authorization_code"
	GrantRefreshToken      GrantType = "refresh_token"
)

// Client is a registered OAuth client. A client is one of two kinds, by its grant types:
//   - a system client (client_credentials): a professional's software or an organisation's
//     business software, bound to Subject, whose rights it uses; its scopes are system/ ones;
//   - an app a patient connects (authorization_code, with refresh_token if it may stay
//     connected): its scopes are patient/ ones and its tokens act for that patient.
type Client struct {
	ID           string
	Name         string // shown on the consent page and in the patient's trail
	Type         ClientType
	RedirectURIs []string // compared exactly (RFC 9700 §4.1.3)
	GrantTypes   []GrantType
	// Scope is the most the client may ask, in the syntax of ParseScope; a request without
	// scope gets it all.
	Scope string
	// Subject is whom a system client acts for: a professional or an operator account.
	Subject apitoken.Subject
	// MayIntrospect: a resource server that may introspect every token, not only its own.
	MayIntrospect bool
	CreatedAt     time.Time
	DisabledAt    time.Time
}

// Allows reports whether c may use grant type g.
func (c Client) Allows(g GrantType) bool { return slices.Contains(c.GrantTypes, g) }

// Enabled reports whether the client may still authenticate.
func (c Client) Enabled() bool { return c.DisabledAt.IsZero() }

// actor is the client as traces show it.
func (c Client) actor() audit.Actor {
	return audit.Actor{Kind: audit.ActorApp, ID: c.ID, Name: c.Name}
}

// Grant is what a patient (or their representative) allowed an app, from one consent: a
// "connected app" of the patient's. Revoking it ends its refresh and access tokens.
type Grant struct {
	ID               string
	ClientID         string
	ClientName       string // filled when listed
	PatientID        int64
	ByRepresentative bool
	GrantedBy        string // the signed-in actor's id
	Scope            string // canonical
	CreatedAt        time.Time
	RevokedAt        time.Time
	RevokeReason     string
}

// Code is an authorisation code as stored (by its hash).
type Code struct {
	ClientID         string
	RedirectURI      string
	Challenge        string // RFC 7636 S256 code_challenge
	PatientID        int64
	ByRepresentative bool
	GrantedBy        string
	Scope            string // canonical, as the patient granted it
	CreatedAt        time.Time
	ExpiresAt        time.Time
	UsedAt           time.Time
	GrantID          string // the grant it was exchanged for
}

// Refresh is a refresh token as stored (by its hash).
type Refresh struct {
	GrantID   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// Tx is what the server needs of a store transaction.
type Tx interface {
	audit.Appender
	InsertAPIToken(ctx context.Context, hash string, t apitoken.Token) error
	APIToken(ctx context.Context, hash string) (apitoken.Resolved, error)
	RevokeAPIToken(ctx context.Context, id string, at time.Time) error

	InsertOAuthClient(ctx context.Context, c Client, secretHash string) error
	// OAuthClient returns a client and its secret's hash; NotFound when unknown. In an update
	// transaction it holds the client until the commit (PostgreSQL: FOR UPDATE), so that a
	// token issued in it cannot follow a suspension committed before.
	OAuthClient(ctx context.Context, id string) (Client, string, error)
	OAuthClients(ctx context.Context) ([]Client, error)
	SetOAuthClientSecret(ctx context.Context, id, secretHash string) error
	// DisableOAuthClient disables a client, revokes its grants and every token issued to it,
	// and drops its codes not yet exchanged.
	DisableOAuthClient(ctx context.Context, id string, at time.Time) error
	// EnableOAuthClient lets a disabled client authenticate again (a suspended app referenced
	// anew); what Disable revoked stays revoked.
	EnableOAuthClient(ctx context.Context, id string) error
	// UpdateOAuthClient replaces a client's name, redirect URIs, grant types and scope (its id,
	// type, secret and subject stay); NotFound when unknown.
	UpdateOAuthClient(ctx context.Context, c Client) error

	InsertOAuthCode(ctx context.Context, hash string, c Code) error
	OAuthCode(ctx context.Context, hash string) (Code, error)
	// UseOAuthCode marks an unused code used, exchanged for grantID; false if it was used.
	UseOAuthCode(ctx context.Context, hash string, at time.Time, grantID string) (bool, error)

	InsertOAuthGrant(ctx context.Context, g Grant) error
	OAuthGrant(ctx context.Context, id string) (Grant, error)
	// OAuthGrants lists a patient's grants, newest first, with their client's name.
	OAuthGrants(ctx context.Context, patientID int64) ([]Grant, error)
	// RevokeOAuthGrant revokes a grant and the access tokens issued under it (its refresh
	// tokens die with it); a grant revoked already keeps its first revocation.
	RevokeOAuthGrant(ctx context.Context, id string, at time.Time, reason string) error
	// LinkOAuthToken records that access token tokenID was issued under grantID.
	LinkOAuthToken(ctx context.Context, tokenID, grantID string) error

	InsertOAuthRefresh(ctx context.Context, hash string, r Refresh) error
	OAuthRefresh(ctx context.Context, hash string) (Refresh, error)
	// UseOAuthRefresh marks an unused refresh token used; false if it was used.
	UseOAuthRefresh(ctx context.Context, hash string, at time.Time) (bool, error)

	// SweepOAuth deletes codes and refresh tokens that expired before before.
	SweepOAuth(ctx context.Context, before time.Time) (int64, error)
}

// Store opens transactions.
type Store interface {
	UpdateOAuth(ctx context.Context, fn func(Tx) error) error
	ViewOAuth(ctx context.Context, fn func(Tx) error) error
}

// Registry is the operator's side: registering clients, rotating secrets, disabling clients,
// and the patient's list of connected apps. The operator's command and admin pages call it.
type Registry struct {
	store Store
	clock clock.Clock
	cat   *terminology.Catalog
}

// NewRegistry returns the registry.
func NewRegistry(st Store, clk clock.Clock, cat *terminology.Catalog) *Registry {
	return &Registry{store: st, clock: clk, cat: cat}
}

// SecretPrefix starts every client secret, so that a leaked one is recognisable.
const SecretPrefix = "carnetcs_"

// Register records a new client and returns it with its secret (confidential clients only),
// shown once: only its hash is stored. An empty c.ID gets a random one.
func (r *Registry) Register(ctx context.Context, by audit.Actor, ch audit.Channel, c Client) (Client, string, error) {
	c, secret, hash, err := r.Prepare(c)
	if err != nil {
		return Client{}, "", err
	}
	e := audit.Entry{At: c.CreatedAt, Actor: by, Channel: ch, Action: "oauth.client_register", Object: "oauth-client/" + c.ID,
		Detail: fmt.Sprintf("%s %s grants=%s scope=%s subject=%s %d", c.Name, c.Type, joinGrants(c.GrantTypes), c.Scope,
			c.Subject.Kind, c.Subject.ProfessionalID+c.Subject.AccountID)}
	err = audit.Do(ctx, r.store.UpdateOAuth, e, func(tx Tx, _ *audit.Entry) error {
		return tx.InsertOAuthClient(ctx, c, hash)
	})
	if err != nil {
		return Client{}, "", err
	}
	return c, secret, nil
}

// Prepare checks a client's registration and returns it as it is to be stored, with its
// canonical scope and its creation date, and a confidential client's new secret and the hash
// to store: what Register does before InsertOAuthClient, for a caller that registers the client
// in a transaction of its own with more (the app catalogue, internal/catalogue). An empty c.ID
// gets a random one.
func (r *Registry) Prepare(c Client) (_ Client, secret, hash string, _ error) {
	if c.ID == "" {
		c.ID = "c-" + randomHex(10)
	}
	scope, err := r.validate(&c)
	if err != nil {
		return Client{}, "", "", err
	}
	c.Scope = scope.String()
	c.CreatedAt, c.DisabledAt = r.clock.Now(), time.Time{}
	if c.Type == Confidential {
		secret = newSecret(SecretPrefix)
		hash = apitoken.Hash(secret)
	}
	return c, secret, hash, nil
}

// validate checks a client's registration and returns its allowed scope, parsed.
func (r *Registry) validate(c *Client) (Scope, error) {
	if !validClientID(c.ID) {
		return Scope{}, errs.E(errs.Invalid, "a client id is 3 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" || len(c.Name) > 100 || strings.IndexFunc(c.Name, unicode.IsControl) >= 0 {
		return Scope{}, errs.E(errs.Invalid, "a client's name is 1 to 100 printable characters")
	}
	if c.Type != Confidential && c.Type != Public {
		return Scope{}, errs.E(errs.Invalid, "a client is confidential or public")
	}
	if len(c.GrantTypes) == 0 {
		return Scope{}, errs.E(errs.Invalid, "a client needs at least one grant type")
	}
	for _, g := range c.GrantTypes {
		switch g {
		case GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken:
		default:
			return Scope{}, errs.E(errs.Invalid, "unknown grant type %q", g)
		}
	}
	c.GrantTypes = slices.Compact(slices.Sorted(slices.Values(c.GrantTypes)))
	scope, err := ParseScope(c.Scope, r.cat)
	if err != nil {
		return Scope{}, err
	}
	if c.Allows(GrantClientCredentials) {
		// A system client acts for its subject; it is never a patient's app as well, so that
		// one client id never carries two meanings in the traces.
		if len(c.GrantTypes) != 1 {
			return Scope{}, errs.E(errs.Invalid, "a client_credentials client has no other grant type")
		}
		if c.Type != Confidential {
			return Scope{}, errs.E(errs.Invalid, "client_credentials needs a confidential client (RFC 6749 section 4.4)")
		}
		switch {
		case c.Subject.Kind == audit.ActorProfessional && c.Subject.ProfessionalID > 0 && c.Subject.AccountID == 0:
		case c.Subject.Kind == audit.ActorOperator && c.Subject.AccountID > 0 && c.Subject.ProfessionalID == 0:
		default:
			return Scope{}, errs.E(errs.Invalid, "a client_credentials client acts for one professional or one operator account")
		}
		c.Subject.PatientID, c.Subject.Scopes, c.Subject.Classes, c.Subject.ByRepresentative = 0, nil, nil, false
		if len(c.RedirectURIs) > 0 {
			return Scope{}, errs.E(errs.Invalid, "a client_credentials client has no redirect URI")
		}
		if scope.Context == "" {
			scope.Context = ContextSystem
		}
		if scope.Context != ContextSystem || scope.Offline || scope.LaunchPatient {
			return Scope{}, errs.E(errs.Invalid, "a client_credentials client has system/ scopes")
		}
		return scope, nil
	}
	if !c.Allows(GrantAuthorizationCode) {
		return Scope{}, errs.E(errs.Invalid, "refresh_token comes with authorization_code")
	}
	if c.Subject.Kind != "" || c.Subject.ProfessionalID != 0 || c.Subject.AccountID != 0 || c.Subject.PatientID != 0 {
		return Scope{}, errs.E(errs.Invalid, "a patient's app acts for the patient who connects it, not for a subject of its own")
	}
	c.Subject = apitoken.Subject{}
	if scope.Context != ContextPatient || scope.Empty() {
		return Scope{}, errs.E(errs.Invalid, "an app has patient/ scopes")
	}
	if (scope.Documents|scope.profilePerms())&(PermUpdate|PermDelete) != 0 || scope.Trail&^(PermRead|PermSearch) != 0 {
		return Scope{}, errs.E(errs.Invalid, "an app may read, search and create (deposit), nothing more")
	}
	// offline_access is how a SMART app asks for a refresh token: allowed with refresh_token.
	scope.Offline = c.Allows(GrantRefreshToken)
	if len(c.RedirectURIs) == 0 || len(c.RedirectURIs) > 10 {
		return Scope{}, errs.E(errs.Invalid, "an app registers 1 to 10 redirect URIs")
	}
	for _, u := range c.RedirectURIs {
		if err := validRedirectURI(u); err != nil {
			return Scope{}, err
		}
	}
	c.RedirectURIs = slices.Compact(slices.Sorted(slices.Values(c.RedirectURIs)))
	return scope, nil
}

// validRedirectURI accepts what RFC 8252 and RFC 9700 allow: https; http on a loopback
// address (a native app's local server); a private-use scheme in reverse domain order
// (com.example.app:/callback). No fragment (RFC 6749 §3.1.2), no user information.
func validRedirectURI(s string) error {
	bad := func(why string) error { return errs.E(errs.Invalid, "redirect URI %s: %s", clip(s), why) }
	if len(s) > 512 || strings.ContainsAny(s, " \t\r\n") {
		return bad("at most 512 characters, no space")
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return bad("not an absolute URI")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return bad("a redirect URI has no fragment")
	}
	if u.User != nil {
		return bad("no user information")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return bad("no host")
		}
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
			return bad("http only on a loopback address (RFC 8252 section 7.3)")
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			return bad("a private-use scheme is a reversed domain name (RFC 8252 section 7.1)")
		}
	}
	return nil
}

func validClientID(id string) bool {
	if len(id) < 3 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Client returns a registered client.
func (r *Registry) Client(ctx context.Context, id string) (Client, error) {
	var c Client
	err := r.store.ViewOAuth(ctx, func(tx Tx) error {
		var err error
		c, _, err = tx.OAuthClient(ctx, id)
		return err
	})
	return c, err
}

// Clients lists the registered clients.
func (r *Registry) Clients(ctx context.Context) ([]Client, error) {
	var cs []Client
	err := r.store.ViewOAuth(ctx, func(tx Tx) error {
		var err error
		cs, err = tx.OAuthClients(ctx)
		return err
	})
	return cs, err
}

// RotateSecret gives a confidential client a new secret, shown once; the old one stops working.
func (r *Registry) RotateSecret(ctx context.Context, by audit.Actor, ch audit.Channel, id string) (string, error) {
	secret := newSecret(SecretPrefix)
	e := audit.Entry{At: r.clock.Now(), Actor: by, Channel: ch, Action: "oauth.client_secret", Object: "oauth-client/" + id}
	err := audit.Do(ctx, r.store.UpdateOAuth, e, func(tx Tx, _ *audit.Entry) error {
		c, _, err := tx.OAuthClient(ctx, id)
		if err != nil {
			return err
		}
		if c.Type != Confidential {
			return errs.E(errs.Invalid, "a public client has no secret")
		}
		return tx.SetOAuthClientSecret(ctx, id, apitoken.Hash(secret))
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// Disable stops a client at once: it can no longer authenticate, and every grant and token
// it holds is revoked (issue 9: a suspended or withdrawn app loses its access at once).
func (r *Registry) Disable(ctx context.Context, by audit.Actor, ch audit.Channel, id string) error {
	now := r.clock.Now()
	e := audit.Entry{At: now, Actor: by, Channel: ch, Action: "oauth.client_disable", Object: "oauth-client/" + id}
	return audit.Do(ctx, r.store.UpdateOAuth, e, func(tx Tx, _ *audit.Entry) error {
		return tx.DisableOAuthClient(ctx, id, now)
	})
}

// Grants lists the apps a patient connected (revoked ones included, newest first).
func (r *Registry) Grants(ctx context.Context, patientID int64) ([]Grant, error) {
	var gs []Grant
	err := r.store.ViewOAuth(ctx, func(tx Tx) error {
		var err error
		gs, err = tx.OAuthGrants(ctx, patientID)
		return err
	})
	return gs, err
}

// RevokeGrant disconnects an app from a patient's space: its refresh and access tokens stop
// at once. by is the patient or representative acting (the portal checks who may).
func (r *Registry) RevokeGrant(ctx context.Context, by audit.Actor, ch audit.Channel, patientID int64, grantID string) error {
	now := r.clock.Now()
	e := audit.Entry{At: now, Actor: by, Channel: ch, Action: "apitoken.revoke", PatientID: patientID, Object: "oauth-grant/" + grantID}
	return audit.Do(ctx, r.store.UpdateOAuth, e, func(tx Tx, _ *audit.Entry) error {
		g, err := tx.OAuthGrant(ctx, grantID)
		if err != nil {
			return err
		}
		if g.PatientID != patientID {
			return errs.E(errs.NotFound, "no such connected app")
		}
		return tx.RevokeOAuthGrant(ctx, grantID, now, "revoked by "+by.ID)
	})
}

// Sweep deletes the codes and refresh tokens that expired more than a day ago (kept that long
// so that a late replay is still recognised and traced). A periodic job runs it.
func (r *Registry) Sweep(ctx context.Context) (int64, error) {
	var n int64
	err := r.store.UpdateOAuth(ctx, func(tx Tx) error {
		var err error
		n, err = tx.SweepOAuth(ctx, r.clock.Now().Add(-24*time.Hour))
		return err
	})
	return n, err
}

func joinGrants(gs []GrantType) string {
	s := make([]string, len(gs))
	for i, g := range gs {
		s[i] = string(g)
	}
	return strings.Join(s, ",")
}

// newSecret returns prefix and 256 random bits, base64url (43 characters).
func newSecret(prefix string) string {
	var b [32]byte
	rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
