package auth

// Passkeys (W3C Web Authentication Level 3) as a second factor, stronger than a code: the
// authenticator signs a challenge together with the origin the browser saw, so a look-alike
// site cannot relay the answer (phishing resistance), and nothing the server keeps lets
// anyone sign in. The rules, and where they come from:
//   - the relying party is the public URL: its host is the RP ID and its origin the only
//     origin accepted (§5.1.3, §13.4.9); an IP address cannot be one (§5.1.3: a domain);
//   - user verification is required, at registration and at every use (§6.2.3): the
//     authenticator checks a PIN or a biometric, so a stolen authenticator alone is not enough;
//   - the signature counter (§6.1.1): a value that does not go above the stored one (unless
//     both are 0, authenticators that keep none) means the credential may have been cloned:
//     the sign-in is refused and traced, the person still has the code by e-mail;
//   - attestation "none" (§5.4.7): any authenticator model is accepted; its AAGUID is kept to
//     help the person recognise their passkeys;
//   - a credential id is registered once, whoever's it would be (§7.1 step 26);
//   - registering, using and deleting a passkey are traced like every other sign-in event.
//
// go-webauthn does the protocol (client data, authenticator data, COSE keys, signatures);
// this file keeps the ceremonies' state in the pending challenges (auth_challenges) and the
// credentials in the store (PasskeyTx).

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// WebAuthnConfig names the relying party passkeys are bound to. The zero value offers no
// passkeys.
type WebAuthnConfig struct {
	RPID    string   // the public URL's host: "carnet.example.fr"
	Origins []string // where the pages are served: "https://carnet.example.fr"
	Name    string   // the service's name, which some authenticators show; "carnet" when empty
}

// WebAuthnFromURL derives the relying party from the public URL of the pages. Browsers offer
// WebAuthn to secure contexts only (§5.1.3): https, or http on localhost for a developer.
func WebAuthnFromURL(public string) (WebAuthnConfig, error) {
	u, err := url.Parse(public)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return WebAuthnConfig{}, errs.E(errs.Invalid, "passkeys: the public URL %q is not an absolute http(s) URL", public)
	}
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) != nil {
		return WebAuthnConfig{}, errs.E(errs.Invalid, "passkeys need a domain name in the public URL, not the address %s", host)
	}
	local := host == "localhost" || strings.HasSuffix(host, ".localhost")
	if u.Scheme == "http" && !local {
		return WebAuthnConfig{}, errs.E(errs.Invalid, "passkeys need an https public URL (browsers refuse them on plain http)")
	}
	origin := u.Scheme + "://" + host
	if p := u.Port(); p != "" && !(u.Scheme == "https" && p == "443") && !(u.Scheme == "http" && p == "80") {
		origin += ":" + p
	}
	return WebAuthnConfig{RPID: host, Origins: []string{origin}, Name: "carnet"}, nil
}

// MaxPasskeys bounds the passkeys of one account: enough for every device a person owns,
// few enough that the list of allowed credentials stays short.
const MaxPasskeys = 10

// Passkey is a registered WebAuthn credential, as stored: public material only.
type Passkey struct {
	ID                string // the credential id, base64url (unpadded): what lists and deletion name
	AccountID         int64
	Name              string // the person's label
	UserHandle        []byte // the random user.id the authenticator keeps with the credential
	PublicKey         []byte // COSE_Key
	SignCount         uint32
	Transports        []string
	AAGUID            []byte // the authenticator model, 16 bytes
	Flags             byte   // authenticator data flags of the last ceremony
	AttestationFormat string
	CreatedAt         time.Time
	LastUsedAt        time.Time // zero until used
}

// Ref is the passkey's short public name in traces: 16 hex digits of the SHA-256 of its id
// (ids run to hundreds of characters).
func (k Passkey) Ref() string { return passkeyRef(k.ID) }

func passkeyRef(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}

// BackedUp reports whether the credential is synced between devices (a "synced passkey"),
// rather than bound to one authenticator (§6.1 flag BS).
func (k Passkey) BackedUp() bool {
	return protocol.AuthenticatorFlags(k.Flags).HasBackupState()
}

// PasskeyTx is what passkeys need of a store transaction.
type PasskeyTx interface {
	// InsertPasskey stores a credential; Conflict when its id is already registered (to anyone).
	InsertPasskey(ctx context.Context, k Passkey) error
	// Passkeys lists an account's credentials, oldest first, locked for update in a write
	// transaction (two sign-ins with one credential update its counter one after the other).
	Passkeys(ctx context.Context, accountID int64) ([]Passkey, error)
	// UsePasskey records a sign-in with the credential: its new counter and flags; NotFound
	// when the account has no such credential.
	UsePasskey(ctx context.Context, accountID int64, id string, signCount uint32, flags byte, at time.Time) error
	// DeletePasskey removes one of the account's credentials; NotFound when it has no such one.
	DeletePasskey(ctx context.Context, accountID int64, id string) error
}

// TxFactor is a Factor whose check reads and writes the store in the transaction that
// consumes the challenge (WebAuthn: the credential's public key, and its signature counter,
// which must move with the challenge's use or not at all). CompleteSignIn calls VerifyTx
// instead of Verify.
type TxFactor interface {
	Factor
	VerifyTx(ctx context.Context, tx Tx, p Principal, c Client, challengeHash, state, response string) (bool, error)
}

// verify checks a response with the factor, in tx when the factor needs the store.
func verify(ctx context.Context, tx Tx, f Factor, p Principal, c Client, challengeHash, state, response string) (bool, error) {
	if tf, ok := f.(TxFactor); ok {
		return tf.VerifyTx(ctx, tx, p, c, challengeHash, state, response)
	}
	return f.Verify(ctx, p, challengeHash, state, response)
}

// methodPasskeyRegistration marks the pending challenge of a registration ceremony. No
// factor has this method, so such a challenge can never complete a sign-in.
const methodPasskeyRegistration Method = "webauthn-registration"

// passkeyState is a sign-in challenge's State: what go-webauthn checks the assertion
// against, and the options, which the second-step page fetches again after its redirect.
type passkeyState struct {
	Session webauthn.SessionData `json:"session"`
	Options json.RawMessage      `json:"options"`
}

// registrationState is a registration challenge's State, bound to the session that began it.
type registrationState struct {
	Session   webauthn.SessionData `json:"session"`
	SessionID string               `json:"session_id"`
}

// passkeyFactor is the second factor of method MethodWebAuthn.
type passkeyFactor struct {
	s  *Service
	wa *webauthn.WebAuthn
}

func newPasskeyFactor(s *Service, cfg WebAuthnConfig) (*passkeyFactor, error) {
	name := cfg.Name
	if name == "" {
		name = "carnet"
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         name,
		RPOrigins:             cfg.Origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationRequired,
		},
		// The browser's prompt lives as long as the pending challenge; expiry itself is
		// checked on the challenge, with the injected clock.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: s.cfg.CodeValidity, TimeoutUVD: s.cfg.CodeValidity},
			Registration: webauthn.TimeoutConfig{Timeout: s.cfg.CodeValidity, TimeoutUVD: s.cfg.CodeValidity},
		},
	})
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "auth: passkeys' relying party %q", cfg.RPID)
	}
	return &passkeyFactor{s: s, wa: wa}, nil
}

func (f *passkeyFactor) Method() Method { return MethodWebAuthn }

// Available reports whether p has a passkey. The interface gives no context: the look-up
// has a deadline of its own, and a failure offers the code instead (logged).
func (f *passkeyFactor) Available(p Principal) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys, err := f.s.passkeysOf(ctx, p.AccountID)
	if err != nil {
		f.s.log.Error("passkeys not read: the code is offered instead", "account", p.AccountID, "err", err)
		return false
	}
	return len(keys) > 0
}

// Begin draws the assertion's challenge (32 random bytes) and lists the account's
// credentials as the allowed ones.
func (f *passkeyFactor) Begin(ctx context.Context, p Principal, _ string) (Started, error) {
	keys, err := f.s.passkeysOf(ctx, p.AccountID)
	if err != nil {
		return Started{}, err
	}
	if len(keys) == 0 {
		return Started{}, errs.E(errs.Internal, "auth: passkey sign-in begun for an account without passkeys")
	}
	assertion, session, err := f.wa.BeginLogin(passkeyUserOf(p, keys), webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return Started{}, errs.Wrap(errs.Internal, err, "auth: passkey challenge")
	}
	opts, err := json.Marshal(assertion)
	if err != nil {
		return Started{}, errs.Wrap(errs.Internal, err, "auth: passkey options")
	}
	state, err := json.Marshal(passkeyState{Session: *session, Options: opts})
	if err != nil {
		return Started{}, errs.Wrap(errs.Internal, err, "auth: passkey challenge state")
	}
	return Started{State: string(state), Prompt: Prompt{Method: MethodWebAuthn, Options: opts}}, nil
}

// Verify is not used: the check needs the sign-in's transaction (VerifyTx).
func (f *passkeyFactor) Verify(context.Context, Principal, string, string, string) (bool, error) {
	return false, errs.E(errs.Internal, "auth: a passkey is checked in the sign-in's transaction (VerifyTx)")
}

// VerifyTx checks an assertion (the PublicKeyCredential as JSON, binary members base64url):
// the client data (type, challenge, origin), the authenticator data (RP ID hash, user present
// and verified, flags), the signature with the stored public key, and the counter; then
// records the use. A wrong answer is false, traced by the caller; a suspected clone is traced
// here too.
func (f *passkeyFactor) VerifyTx(ctx context.Context, tx Tx, p Principal, c Client, _ string, state, response string) (bool, error) {
	var st passkeyState
	if err := json.Unmarshal([]byte(state), &st); err != nil {
		return false, errs.Wrap(errs.Internal, err, "auth: unreadable passkey challenge")
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(response))
	if err != nil {
		f.s.log.Info("passkey answer unreadable", "account", p.AccountID, "err", err)
		return false, nil
	}
	keys, err := tx.Passkeys(ctx, p.AccountID)
	if err != nil {
		return false, err
	}
	cred, err := f.wa.ValidateLogin(passkeyUserOf(p, keys), st.Session, parsed)
	if err != nil {
		f.s.log.Info("passkey answer refused", "account", p.AccountID, "err", err)
		return false, nil
	}
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() { // checked by go-webauthn too: the rule is ours
		return false, nil
	}
	id := base64.RawURLEncoding.EncodeToString(cred.ID)
	var stored Passkey
	for _, k := range keys {
		if k.ID == id {
			stored = k
		}
	}
	e := f.s.entry(&p, c, "auth.passkey.use")
	e.Object = "passkey/" + passkeyRef(id)
	got := parsed.Response.AuthenticatorData.Counter
	if cred.Authenticator.CloneWarning {
		f.s.log.Warn("passkey counter did not increase: a cloned authenticator?", "account", p.AccountID,
			"passkey", passkeyRef(id), "stored", stored.SignCount, "received", got)
		_, err := tx.AppendTrace(ctx, denied(e, "clone_warning", fmt.Sprintf("sign_count=%d stored=%d addr=%s", got, stored.SignCount, c.Addr)))
		return false, err
	}
	now := f.s.clock.Now()
	if err := tx.UsePasskey(ctx, p.AccountID, id, cred.Authenticator.SignCount, byte(cred.Flags.ProtocolValue()), now); err != nil {
		return false, err
	}
	_, err = tx.AppendTrace(ctx, allowed(e, fmt.Sprintf("sign_count=%d addr=%s", got, c.Addr)))
	return err == nil, err
}

// passkeyUser is an account as go-webauthn sees it.
type passkeyUser struct {
	handle        []byte
	name, display string
	creds         []webauthn.Credential
}

func (u passkeyUser) WebAuthnID() []byte                         { return u.handle }
func (u passkeyUser) WebAuthnName() string                       { return u.name }
func (u passkeyUser) WebAuthnDisplayName() string                { return u.display }
func (u passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// passkeyUserOf is p with its credentials. Every credential of an account carries the same
// user handle, the first one's (BeginPasskey reuses it), so that an authenticator keeps one
// account per person.
func passkeyUserOf(p Principal, keys []Passkey) passkeyUser {
	u := passkeyUser{name: p.Login, display: p.DisplayName}
	if u.display == "" {
		u.display = p.Login
	}
	for _, k := range keys {
		if u.handle == nil {
			u.handle = k.UserHandle
		}
		raw, err := base64.RawURLEncoding.DecodeString(k.ID)
		if err != nil {
			continue
		}
		transports := make([]protocol.AuthenticatorTransport, len(k.Transports))
		for i, t := range k.Transports {
			transports[i] = protocol.AuthenticatorTransport(t)
		}
		u.creds = append(u.creds, webauthn.Credential{ID: raw, PublicKey: k.PublicKey, AttestationFormat: k.AttestationFormat,
			Transport: transports, Flags: webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(k.Flags)),
			Authenticator: webauthn.Authenticator{AAGUID: k.AAGUID, SignCount: k.SignCount}})
	}
	return u
}

func (s *Service) passkeysOf(ctx context.Context, accountID int64) ([]Passkey, error) {
	var keys []Passkey
	err := s.store.ViewAuth(ctx, func(tx Tx) error {
		var err error
		keys, err = tx.Passkeys(ctx, accountID)
		return err
	})
	return keys, err
}

func passkeysOff() error {
	return errs.E(errs.NotFound, "passkeys are not offered by this service")
}

// PasskeysEnabled reports whether the service offers passkeys (Config.WebAuthn is set).
func (s *Service) PasskeysEnabled() bool { return s.passkeys != nil }

// PendingPrompt returns the prompt of a pending sign-in again, for the page of the second step,
// which a redirect reaches without the WebAuthn options. A challenge that is over gets the
// answer of a wrong code.
func (s *Service) PendingPrompt(ctx context.Context, token string) (Prompt, error) {
	hash, err := ParseSecret(token)
	if err != nil {
		return Prompt{}, badCode()
	}
	var ch Challenge
	err = s.store.ViewAuth(ctx, func(tx Tx) error {
		var err error
		ch, err = tx.Challenge(ctx, hash)
		return err
	})
	if errs.Is(err, errs.NotFound) {
		return Prompt{}, badCode()
	}
	if err != nil {
		return Prompt{}, err
	}
	if !ch.UsedAt.IsZero() || !s.clock.Now().Before(ch.ExpiresAt) || ch.Attempts >= s.cfg.CodeAttempts || s.factors[ch.Method] == nil {
		return Prompt{}, badCode()
	}
	pr := Prompt{Method: ch.Method}
	if ch.Method == MethodWebAuthn {
		var st passkeyState
		if err := json.Unmarshal([]byte(ch.State), &st); err != nil {
			return Prompt{}, errs.Wrap(errs.Internal, err, "auth: unreadable passkey challenge")
		}
		pr.Options = st.Options
	}
	return pr, nil
}

// Passkeys lists the identity's passkeys, oldest first.
func (s *Service) Passkeys(ctx context.Context, id Identity) ([]Passkey, error) {
	return s.passkeysOf(ctx, id.AccountID)
}

// PasskeyRegistration is a registration ceremony begun: the browser passes Options to
// navigator.credentials.create and posts the answer back with Token.
type PasskeyRegistration struct {
	Token     string // the ceremony's secret
	Options   []byte // {"publicKey": PublicKeyCredentialCreationOptions}, JSON
	ExpiresAt time.Time
}

// BeginPasskey starts adding a passkey to the identity's account: a challenge, kept as a
// pending challenge bound to the identity's session, and the creation options, which exclude
// the account's credentials (an authenticator registers once).
func (s *Service) BeginPasskey(ctx context.Context, id Identity) (PasskeyRegistration, error) {
	if s.passkeys == nil {
		return PasskeyRegistration{}, passkeysOff()
	}
	keys, err := s.passkeysOf(ctx, id.AccountID)
	if err != nil {
		return PasskeyRegistration{}, err
	}
	if len(keys) >= MaxPasskeys {
		return PasskeyRegistration{}, errs.E(errs.Conflict, "you already have %d passkeys: delete one before adding another", len(keys))
	}
	u := passkeyUserOf(id.Principal, keys)
	if u.handle == nil {
		u.handle = make([]byte, 32) // §5.4.3: random, no personal data
		if _, err := rand.Read(u.handle); err != nil {
			return PasskeyRegistration{}, errs.Wrap(errs.Unavailable, err, "no randomness for a passkey")
		}
	}
	exclude := make([]protocol.CredentialDescriptor, len(u.creds))
	for i, c := range u.creds {
		exclude[i] = c.Descriptor()
	}
	creation, session, err := s.passkeys.wa.BeginRegistration(u, webauthn.WithExclusions(exclude))
	if err != nil {
		return PasskeyRegistration{}, errs.Wrap(errs.Internal, err, "auth: passkey registration")
	}
	opts, err := json.Marshal(creation)
	if err != nil {
		return PasskeyRegistration{}, errs.Wrap(errs.Internal, err, "auth: passkey registration options")
	}
	state, err := json.Marshal(registrationState{Session: *session, SessionID: id.Session.ID})
	if err != nil {
		return PasskeyRegistration{}, errs.Wrap(errs.Internal, err, "auth: passkey registration state")
	}
	secret, hash := newSecret()
	now := s.clock.Now()
	ch := Challenge{AccountID: id.AccountID, Method: methodPasskeyRegistration, State: string(state), CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.CodeValidity)}
	if err := s.store.UpdateAuth(ctx, func(tx Tx) error { return tx.InsertChallenge(ctx, hash, ch) }); err != nil {
		return PasskeyRegistration{}, err
	}
	return PasskeyRegistration{Token: secret, Options: opts, ExpiresAt: ch.ExpiresAt}, nil
}

func registrationOver() error {
	return errs.E(errs.Invalid, "this request to add a passkey has expired: start again")
}

// FinishPasskey checks the authenticator's answer to a registration (the PublicKeyCredential
// as JSON, binary members base64url) and stores the credential under name. The attestation
// statement is checked as its format says ("none" carries none), the client data and the
// authenticator data as §7.1 says, the user must have been verified. The ceremony serves once.
func (s *Service) FinishPasskey(ctx context.Context, id Identity, c Client, token, name string, response []byte) (Passkey, error) {
	if s.passkeys == nil {
		return Passkey{}, passkeysOff()
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Clé d'accès"
	}
	if utf8.RuneCountInString(name) > 60 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return Passkey{}, errs.E(errs.Invalid, "a passkey's name is at most 60 characters, on one line")
	}
	hash, err := ParseSecret(token)
	if err != nil {
		return Passkey{}, registrationOver()
	}
	var out Passkey
	e := s.entry(&id.Principal, c, "auth.passkey.register")
	e.Object = "passkey"
	err = audit.Do(ctx, s.store.UpdateAuth, e, func(tx Tx, e *audit.Entry) error {
		ch, err := tx.Challenge(ctx, hash)
		if errs.Is(err, errs.NotFound) {
			return registrationOver()
		}
		if err != nil {
			return err
		}
		now := s.clock.Now()
		var st registrationState
		if ch.AccountID != id.AccountID || ch.Method != methodPasskeyRegistration || !ch.UsedAt.IsZero() || !now.Before(ch.ExpiresAt) ||
			json.Unmarshal([]byte(ch.State), &st) != nil || st.SessionID != id.Session.ID {
			return registrationOver()
		}
		if err := tx.UpdateChallenge(ctx, hash, ch.Attempts+1, now); err != nil {
			return err
		}
		parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
		if err != nil {
			s.log.Info("passkey registration unreadable", "account", id.AccountID, "err", err)
			return errs.E(errs.Invalid, "the answer of the authenticator could not be read: try again")
		}
		keys, err := tx.Passkeys(ctx, id.AccountID)
		if err != nil {
			return err
		}
		if len(keys) >= MaxPasskeys {
			return errs.E(errs.Conflict, "you already have %d passkeys: delete one before adding another", len(keys))
		}
		u := passkeyUserOf(id.Principal, keys)
		u.handle = st.Session.UserID
		cred, err := s.passkeys.wa.CreateCredential(u, st.Session, parsed)
		if err != nil {
			s.log.Info("passkey registration refused", "account", id.AccountID, "err", err)
			return errs.E(errs.Invalid, "the passkey could not be checked: try again")
		}
		if !cred.Flags.UserVerified { // checked by go-webauthn too (§7.1 step 17): the rule is ours
			return errs.E(errs.Invalid, "the authenticator did not verify you (PIN, fingerprint, face): this passkey cannot be used")
		}
		k := Passkey{ID: base64.RawURLEncoding.EncodeToString(cred.ID), AccountID: id.AccountID, Name: name,
			UserHandle: st.Session.UserID, PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount,
			AAGUID: cred.Authenticator.AAGUID, Flags: byte(cred.Flags.ProtocolValue()), AttestationFormat: cred.AttestationFormat,
			CreatedAt: now}
		for _, t := range cred.Transport {
			k.Transports = append(k.Transports, string(t))
		}
		e.Object = "passkey/" + k.Ref()
		e.Detail = fmt.Sprintf("aaguid=%s synced=%t transports=%s by session %s", AAGUIDString(k.AAGUID), k.BackedUp(),
			strings.Join(k.Transports, ","), id.Session.ID)
		if err := tx.InsertPasskey(ctx, k); err != nil {
			return err
		}
		out = k
		return nil
	})
	return out, err
}

// DeletePasskey removes one of the identity's passkeys, named by its id (from Passkeys).
// Allowed even when the service no longer offers passkeys: a person can always clean up.
func (s *Service) DeletePasskey(ctx context.Context, id Identity, c Client, passkeyID string) error {
	e := s.entry(&id.Principal, c, "auth.passkey.delete")
	e.Object = "passkey/" + passkeyRef(passkeyID)
	e.Detail = "by session " + id.Session.ID
	return audit.Do(ctx, s.store.UpdateAuth, e, func(tx Tx, _ *audit.Entry) error {
		return tx.DeletePasskey(ctx, id.AccountID, passkeyID)
	})
}

// AAGUIDString writes an AAGUID as a UUID (RFC 9562 §4), "" when it is not 16 bytes.
func AAGUIDString(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
