package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
)

// softAuthenticator is a software authenticator written from the specification, not from
// go-webauthn: a P-256 key, authenticator data as §6.1 lays it out, attestation "none"
// (§8.7), assertions signed over authenticatorData ‖ SHA-256(clientDataJSON) (§6.3.3). It
// plays the browser's part too (client data, §5.8.1).
type softAuthenticator struct {
	origin string // the origin the browser puts in the client data
	credID []byte
	key    *ecdsa.PrivateKey
	count  uint32
	flags  byte // of every ceremony; AT is added at registration
	aaguid []byte
	handle []byte // the user.id it was given at registration
}

const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

func newSoftAuthenticator(t testing.TB, origin string) *softAuthenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softAuthenticator{origin: origin, credID: id, key: key, count: 1, flags: flagUP | flagUV,
		aaguid: []byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4}}
}

// A minimal CBOR encoder (RFC 8949 §3), enough for an attestation object and a COSE key, in
// the canonical order CTAP2 uses.
func cborHead(major byte, n uint64) []byte {
	switch {
	case n < 24:
		return []byte{major<<5 | byte(n)}
	case n < 1<<8:
		return []byte{major<<5 | 24, byte(n)}
	case n < 1<<16:
		return binary.BigEndian.AppendUint16([]byte{major<<5 | 25}, uint16(n))
	default:
		return binary.BigEndian.AppendUint32([]byte{major<<5 | 26}, uint32(n))
	}
}

func cborInt(i int64) []byte {
	if i < 0 {
		return cborHead(1, uint64(-1-i))
	}
	return cborHead(0, uint64(i))
}

func cborBytes(b []byte) []byte { return append(cborHead(2, uint64(len(b))), b...) }
func cborText(s string) []byte  { return append(cborHead(3, uint64(len(s))), s...) }

func cborMap(kv ...[]byte) []byte {
	out := cborHead(5, uint64(len(kv)/2))
	for _, b := range kv {
		out = append(out, b...)
	}
	return out
}

// coseKey is the public key as a COSE_Key (RFC 9053 §7.1.1): kty EC2, alg ES256, crv P-256.
func (a *softAuthenticator) coseKey() []byte {
	pub, err := a.key.PublicKey.Bytes() // 0x04 ‖ X ‖ Y
	if err != nil {
		panic(err)
	}
	return cborMap(cborInt(1), cborInt(2), cborInt(3), cborInt(-7), cborInt(-1), cborInt(1),
		cborInt(-2), cborBytes(pub[1:33]), cborInt(-3), cborBytes(pub[33:]))
}

func (a *softAuthenticator) authData(rpID string, flags byte, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, a.count)
	return append(out, attested...)
}

func (a *softAuthenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	return b
}

var b64 = base64.RawURLEncoding

// create answers navigator.credentials.create with the options the server sent.
func (a *softAuthenticator) create(t testing.TB, options []byte) []byte {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RP        struct{ ID string }
			User      struct{ ID string }
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatalf("creation options: %v: %s", err, options)
	}
	handle, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		t.Fatalf("user id: %v", err)
	}
	a.handle = handle
	attested := append(append([]byte{}, a.aaguid...), byte(len(a.credID)>>8), byte(len(a.credID)))
	attested = append(append(attested, a.credID...), a.coseKey()...)
	authData := a.authData(o.PublicKey.RP.ID, a.flags|flagAT, attested)
	attObj := cborMap(cborText("fmt"), cborText("none"), cborText("attStmt"), cborMap(), cborText("authData"), cborBytes(authData))
	resp, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(a.clientData("webauthn.create", o.PublicKey.Challenge)),
			"attestationObject": b64.EncodeToString(attObj),
			"transports":        []string{"internal", "hybrid"},
		},
	})
	return resp
}

// get answers navigator.credentials.get: one more on the counter, a signature.
func (a *softAuthenticator) get(t testing.TB, options []byte) string {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge        string `json:"challenge"`
			RPID             string `json:"rpId"`
			UserVerification string `json:"userVerification"`
			AllowCredentials []struct {
				ID string `json:"id"`
			} `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatalf("request options: %v: %s", err, options)
	}
	if !slices.ContainsFunc(o.PublicKey.AllowCredentials, func(c struct {
		ID string `json:"id"`
	}) bool {
		return c.ID == b64.EncodeToString(a.credID)
	}) {
		t.Fatalf("the credential is not among the allowed ones: %s", options)
	}
	a.count++
	authData := a.authData(o.PublicKey.RPID, a.flags, nil)
	cd := a.clientData("webauthn.get", o.PublicKey.Challenge)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, authData...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(authData),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(a.handle),
		},
	})
	return string(resp)
}

const testOrigin = "https://carnet.example"

func withPasskeys(c *auth.Config) {
	var err error
	if c.WebAuthn, err = auth.WebAuthnFromURL(testOrigin + "/"); err != nil {
		panic(err)
	}
}

// register signs the patient in with a code and adds the authenticator as a passkey.
func (e *env) register(t *testing.T, a *softAuthenticator, email, name string) (auth.Identity, auth.Passkey) {
	t.Helper()
	si := e.signIn(t, email, email)
	id, err := e.svc.Authenticate(ctx, si.Token)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := e.svc.BeginPasskey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	k, err := e.svc.FinishPasskey(ctx, id, client, reg.Token, name, a.create(t, reg.Options))
	if err != nil {
		t.Fatalf("finish registration: %v", err)
	}
	return id, k
}

func TestPasskeyRegistrationAndSignIn(t *testing.T) {
	e := newEnv(t, cheapParams, withPasskeys)
	const email = "marie@example.fr"
	e.patient(t, 1, email, "")
	a := newSoftAuthenticator(t, testOrigin)
	a.flags |= flagBE | flagBS // a synced passkey

	// Registration: the options say what the rules are.
	si := e.signIn(t, email, email)
	id, err := e.svc.Authenticate(ctx, si.Token)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := e.svc.BeginPasskey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var opts struct {
		PublicKey struct {
			RP                     struct{ ID, Name string }
			User                   struct{ ID, Name, DisplayName string }
			Challenge              string
			Attestation            string
			AuthenticatorSelection struct{ UserVerification, ResidentKey string }
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(reg.Options, &opts); err != nil {
		t.Fatal(err)
	}
	o := opts.PublicKey
	if o.RP.ID != "carnet.example" || o.AuthenticatorSelection.UserVerification != "required" || o.Attestation != "none" ||
		o.User.Name != email || len(o.User.ID) != 43 { // 32 random bytes, base64url
		t.Fatalf("creation options: %s", reg.Options)
	}
	if raw, _ := b64.DecodeString(o.Challenge); len(raw) < 32 {
		t.Fatalf("a challenge of %d bytes", len(raw))
	}
	k, err := e.svc.FinishPasskey(ctx, id, client, reg.Token, "  Mon téléphone ", a.create(t, reg.Options))
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "Mon téléphone" || k.ID != b64.EncodeToString(a.credID) || k.SignCount != 1 || !k.BackedUp() ||
		auth.AAGUIDString(k.AAGUID) != "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4" || !slices.Equal(k.Transports, []string{"internal", "hybrid"}) {
		t.Fatalf("stored passkey: %+v", k)
	}
	// The ceremony serves once.
	if _, err := e.svc.FinishPasskey(ctx, id, client, reg.Token, "encore", a.create(t, reg.Options)); !errs.Is(err, errs.Invalid) {
		t.Fatalf("second finish of one ceremony: %v", err)
	}

	// Sign-in: the passkey is preferred, nothing is sent by e-mail.
	sent := len(e.mail.to(email))
	p, err := e.svc.SignIn(ctx, auth.Credentials{Identifier: email, Password: goodPassword, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	if p.Prompt.Method != auth.MethodWebAuthn || len(p.Prompt.Options) == 0 || len(e.mail.to(email)) != sent {
		t.Fatalf("prompt %+v, %d messages", p.Prompt, len(e.mail.to(email))-sent)
	}
	var ro struct {
		PublicKey struct {
			RPID             string `json:"rpId"`
			UserVerification string `json:"userVerification"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(p.Prompt.Options, &ro); err != nil || ro.PublicKey.RPID != "carnet.example" || ro.PublicKey.UserVerification != "required" {
		t.Fatalf("request options: %s (%v)", p.Prompt.Options, err)
	}
	// The second step's page reads the options again after its redirect.
	again, err := e.svc.PendingPrompt(ctx, p.Token)
	if err != nil || again.Method != auth.MethodWebAuthn || string(again.Options) != string(p.Prompt.Options) {
		t.Fatalf("pending prompt: %+v, %v", again, err)
	}
	e.clock.Advance(time.Minute)
	si2, err := e.svc.CompleteSignIn(ctx, auth.Proof{Challenge: p.Token, Response: a.get(t, p.Prompt.Options), Client: client})
	if err != nil {
		t.Fatalf("passkey sign-in: %v", err)
	}
	if si2.Identity.Session.Method != auth.MethodWebAuthn || si2.Identity.AccountID != id.AccountID {
		t.Fatalf("session %+v", si2.Identity.Session)
	}
	if _, err := e.svc.PendingPrompt(ctx, p.Token); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("prompt of a used challenge: %v", err)
	}
	keys, err := e.svc.Passkeys(ctx, id)
	if err != nil || len(keys) != 1 || keys[0].SignCount != 2 || !keys[0].LastUsedAt.Equal(start.Add(time.Minute)) {
		t.Fatalf("after use: %+v, %v", keys, err)
	}

	// The person may still choose the code.
	p, err = e.svc.SignIn(ctx, auth.Credentials{Identifier: email, Password: goodPassword, Method: auth.MethodEmailCode, Client: client})
	if err != nil || p.Prompt.Method != auth.MethodEmailCode || len(e.mail.to(email)) != sent+1 {
		t.Fatalf("code asked for: %+v, %v", p.Prompt, err)
	}

	ts := e.traces(t, "auth.")
	for _, want := range []struct {
		action  string
		outcome audit.Outcome
		n       int
	}{
		{"auth.passkey.register", audit.Allowed, 1},
		{"auth.passkey.register", audit.Denied, 1},
		{"auth.passkey.use", audit.Allowed, 1},
	} {
		if n := countTraces(ts, want.action, want.outcome); n != want.n {
			t.Errorf("%d traces %s %s, want %d", n, want.action, want.outcome, want.n)
		}
	}
	byPasskey := 0
	for _, tr := range ts {
		en := tr.Entry
		if en.Action == "auth.passkey.register" && en.Outcome == audit.Allowed &&
			(en.Object != "passkey/"+k.Ref() || en.PatientID == 0 || !strings.Contains(en.Detail, "synced=true")) {
			t.Errorf("registration trace: %+v", en)
		}
		if en.Action == "auth.signin" && strings.Contains(en.Detail, "method=webauthn") {
			byPasskey++
		}
	}
	if byPasskey != 1 {
		t.Errorf("%d sign-ins by passkey traced, want 1", byPasskey)
	}
	e.verifyLog(t)
}

func TestPasskeySignInRefusals(t *testing.T) {
	e := newEnv(t, cheapParams, withPasskeys)
	const email = "marie@example.fr"
	e.patient(t, 1, email, "")
	a := newSoftAuthenticator(t, testOrigin)
	e.register(t, a, email, "clé")

	// begin starts a passkey sign-in and returns its token and options.
	begin := func(t *testing.T) auth.Pending {
		t.Helper()
		p, err := e.svc.SignIn(ctx, auth.Credentials{Identifier: email, Password: goodPassword, Client: client})
		if err != nil || p.Prompt.Method != auth.MethodWebAuthn {
			t.Fatalf("sign-in: %+v, %v", p.Prompt, err)
		}
		return p
	}
	other := begin(t) // a challenge whose answer is replayed on another
	stolen := a.get(t, other.Prompt.Options)
	cases := []struct {
		name, why string // why: go-webauthn's reason, logged
		answer    func(t *testing.T, p auth.Pending) string
	}{
		{"phishing site's origin", "Error validating origin", func(t *testing.T, p auth.Pending) string {
			evil := *a
			evil.origin = "https://carnet-example.fr"
			return evil.get(t, p.Prompt.Options)
		}},
		{"user not verified", "Error validating the authenticator response", func(t *testing.T, p auth.Pending) string {
			lazy := *a
			lazy.flags = flagUP
			return lazy.get(t, p.Prompt.Options)
		}},
		{"another key", "Error validating the assertion signature", func(t *testing.T, p auth.Pending) string {
			forged := *newSoftAuthenticator(t, testOrigin)
			forged.credID, forged.handle, forged.count = a.credID, a.handle, a.count+10
			return forged.get(t, p.Prompt.Options)
		}},
		{"answer to another challenge", "Error validating challenge", func(t *testing.T, p auth.Pending) string { return stolen }},
		{"not JSON", "Parse error for Assertion", func(t *testing.T, p auth.Pending) string { return "123456" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := begin(t)
			_, err := e.svc.CompleteSignIn(ctx, auth.Proof{Challenge: p.Token, Response: c.answer(t, p), Client: client})
			if !strings.Contains(e.log.String(), c.why) {
				t.Fatalf("not refused for %q:\n%s", c.why, e.log.String())
			}
			if !errs.Is(err, errs.Unauthenticated) {
				t.Fatalf("refused answer: %v", err)
			}
			// The right answer still works on the same challenge (attempts remain).
			if _, err := e.svc.CompleteSignIn(ctx, auth.Proof{Challenge: p.Token, Response: a.get(t, p.Prompt.Options), Client: client}); err != nil {
				t.Fatalf("right answer after a wrong one: %v", err)
			}
		})
	}

	t.Run("replay of a used answer", func(t *testing.T) {
		p := begin(t)
		answer := a.get(t, p.Prompt.Options)
		if _, err := e.svc.CompleteSignIn(ctx, auth.Proof{Challenge: p.Token, Response: answer, Client: client}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CompleteSignIn(ctx, auth.Proof{Challenge: p.Token, Response: answer, Client: client}); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("replayed: %v", err)
		}
	})

	t.Run("cloned authenticator", func(t *testing.T) {
		clone := *a // copied when its counter was lower
		for range 3 {
			p := begin(t)
			if _, err := e.svc.CompleteSignIn(ctx, auth.Proof{Challenge: p.Token, Response: a.get(t, p.Prompt.Options), Client: client}); err != nil {
				t.Fatal(err)
			}
		}
		p := begin(t)
		if _, err := e.svc.CompleteSignIn(ctx, auth.Proof{Challenge: p.Token, Response: clone.get(t, p.Prompt.Options), Client: client}); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("clone accepted: %v", err)
		}
		var found bool
		for _, tr := range e.traces(t, "auth.passkey.use") {
			if tr.Entry.Outcome == audit.Denied && tr.Entry.Reason == "clone_warning" && tr.Entry.PatientID != 0 {
				found = true
			}
		}
		if !found || !strings.Contains(e.log.String(), "cloned authenticator") {
			t.Fatalf("no clone warning traced and logged:\n%s", e.log.String())
		}
	})

	t.Run("expired", func(t *testing.T) {
		p := begin(t)
		e.clock.Advance(e.cfg.CodeValidity)
		if _, err := e.svc.CompleteSignIn(ctx, auth.Proof{Challenge: p.Token, Response: a.get(t, p.Prompt.Options), Client: client}); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("expired challenge: %v", err)
		}
	})
	e.verifyLog(t)
}

func TestPasskeyRegistrationRefusals(t *testing.T) {
	e := newEnv(t, cheapParams, withPasskeys)
	e.patient(t, 1, "marie@example.fr", "")
	e.patient(t, 2, "paul@example.fr", "")
	si := e.signIn(t, "marie@example.fr", "marie@example.fr")
	marie, _ := e.svc.Authenticate(ctx, si.Token)
	si = e.signIn(t, "paul@example.fr", "paul@example.fr")
	paul, _ := e.svc.Authenticate(ctx, si.Token)
	si = e.signIn(t, "marie@example.fr", "marie@example.fr")
	marieElsewhere, _ := e.svc.Authenticate(ctx, si.Token)

	cases := []struct {
		name string
		run  func(t *testing.T) error
		code errs.Code
	}{
		{"another person's ceremony", func(t *testing.T) error {
			reg, _ := e.svc.BeginPasskey(ctx, marie)
			_, err := e.svc.FinishPasskey(ctx, paul, client, reg.Token, "x", newSoftAuthenticator(t, testOrigin).create(t, reg.Options))
			return err
		}, errs.Invalid},
		{"another session's ceremony", func(t *testing.T) error {
			reg, _ := e.svc.BeginPasskey(ctx, marie)
			_, err := e.svc.FinishPasskey(ctx, marieElsewhere, client, reg.Token, "x", newSoftAuthenticator(t, testOrigin).create(t, reg.Options))
			return err
		}, errs.Invalid},
		{"user not verified", func(t *testing.T) error {
			reg, _ := e.svc.BeginPasskey(ctx, marie)
			a := newSoftAuthenticator(t, testOrigin)
			a.flags = flagUP
			_, err := e.svc.FinishPasskey(ctx, marie, client, reg.Token, "x", a.create(t, reg.Options))
			return err
		}, errs.Invalid},
		{"phishing site's origin", func(t *testing.T) error {
			reg, _ := e.svc.BeginPasskey(ctx, marie)
			_, err := e.svc.FinishPasskey(ctx, marie, client, reg.Token, "x", newSoftAuthenticator(t, "https://evil.example").create(t, reg.Options))
			return err
		}, errs.Invalid},
		{"expired", func(t *testing.T) error {
			reg, _ := e.svc.BeginPasskey(ctx, marie)
			e.clock.Advance(e.cfg.CodeValidity)
			_, err := e.svc.FinishPasskey(ctx, marie, client, reg.Token, "x", newSoftAuthenticator(t, testOrigin).create(t, reg.Options))
			return err
		}, errs.Invalid},
		{"a name on two lines", func(t *testing.T) error {
			reg, _ := e.svc.BeginPasskey(ctx, marie)
			_, err := e.svc.FinishPasskey(ctx, marie, client, reg.Token, "a\nb", newSoftAuthenticator(t, testOrigin).create(t, reg.Options))
			return err
		}, errs.Invalid},
		{"a credential registered by someone else", func(t *testing.T) error {
			a := newSoftAuthenticator(t, testOrigin)
			reg, _ := e.svc.BeginPasskey(ctx, paul)
			if _, err := e.svc.FinishPasskey(ctx, paul, client, reg.Token, "x", a.create(t, reg.Options)); err != nil {
				t.Fatal(err)
			}
			reg, _ = e.svc.BeginPasskey(ctx, marie)
			_, err := e.svc.FinishPasskey(ctx, marie, client, reg.Token, "x", a.create(t, reg.Options))
			return err
		}, errs.Conflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(t); errs.CodeOf(err) != c.code {
				t.Fatalf("got %v, want %s", err, c.code)
			}
		})
	}
	keys, err := e.svc.Passkeys(ctx, marie)
	if err != nil || len(keys) != 0 {
		t.Fatalf("Marie has passkeys: %+v, %v", keys, err)
	}
	// Every refused ceremony is traced; a malformed name is refused before the ceremony.
	if n := countTraces(e.traces(t, "auth.passkey.register"), "auth.passkey.register", audit.Denied); n != len(cases)-1 {
		t.Fatalf("%d refused registrations traced, want %d", n, len(cases)-1)
	}
	e.verifyLog(t)
}

func TestPasskeyDeletion(t *testing.T) {
	e := newEnv(t, cheapParams, withPasskeys)
	e.patient(t, 1, "marie@example.fr", "")
	e.patient(t, 2, "paul@example.fr", "")
	marie, k1 := e.register(t, newSoftAuthenticator(t, testOrigin), "marie@example.fr", "téléphone")
	reg, err := e.svc.BeginPasskey(ctx, marie)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := e.svc.FinishPasskey(ctx, marie, client, reg.Token, "clé USB", newSoftAuthenticator(t, testOrigin).create(t, reg.Options))
	if err != nil {
		t.Fatal(err)
	}
	if string(k2.UserHandle) != string(k1.UserHandle) {
		t.Fatal("a second passkey of one person has another user handle")
	}
	paul, _ := e.register(t, newSoftAuthenticator(t, testOrigin), "paul@example.fr", "x")

	if err := e.svc.DeletePasskey(ctx, paul, client, k1.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("someone else's passkey deleted: %v", err)
	}
	if err := e.svc.DeletePasskey(ctx, marie, client, k1.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeletePasskey(ctx, marie, client, k1.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("deleted twice: %v", err)
	}
	keys, _ := e.svc.Passkeys(ctx, marie)
	if len(keys) != 1 || keys[0].ID != k2.ID || keys[0].Name != "clé USB" {
		t.Fatalf("left: %+v", keys)
	}
	if err := e.svc.DeletePasskey(ctx, marie, client, k2.ID); err != nil {
		t.Fatal(err)
	}
	// Without a passkey, the code again.
	p, err := e.svc.SignIn(ctx, auth.Credentials{Identifier: "marie@example.fr", Password: goodPassword, Client: client})
	if err != nil || p.Prompt.Method != auth.MethodEmailCode {
		t.Fatalf("sign-in without passkeys: %+v, %v", p.Prompt, err)
	}
	ts := e.traces(t, "auth.passkey.delete")
	if countTraces(ts, "auth.passkey.delete", audit.Allowed) != 2 || countTraces(ts, "auth.passkey.delete", audit.Denied) != 2 {
		t.Fatalf("deletion traces: %+v", ts)
	}
	e.verifyLog(t)
}

func TestPasskeysOff(t *testing.T) {
	e := newEnv(t, cheapParams)
	e.patient(t, 1, "marie@example.fr", "")
	si := e.signIn(t, "marie@example.fr", "marie@example.fr")
	id, _ := e.svc.Authenticate(ctx, si.Token)
	if e.svc.PasskeysEnabled() {
		t.Fatal("passkeys offered without a relying party")
	}
	if _, err := e.svc.BeginPasskey(ctx, id); !errs.Is(err, errs.NotFound) {
		t.Fatalf("registration without a relying party: %v", err)
	}
	p, err := e.svc.SignIn(ctx, auth.Credentials{Identifier: "marie@example.fr", Password: goodPassword, Method: auth.MethodWebAuthn, Client: client})
	if err != nil || p.Prompt.Method != auth.MethodEmailCode {
		t.Fatalf("passkey asked for: %+v, %v", p.Prompt, err)
	}
}

func TestWebAuthnFromURL(t *testing.T) {
	for _, c := range []struct {
		url, rpID, origin string
	}{
		{"https://Carnet.Example.fr/", "carnet.example.fr", "https://carnet.example.fr"},
		{"https://carnet.example.fr:443", "carnet.example.fr", "https://carnet.example.fr"},
		{"https://carnet.example.fr:8443/base", "carnet.example.fr", "https://carnet.example.fr:8443"},
		{"http://localhost:8080", "localhost", "http://localhost:8080"},
		{"http://127.0.0.1:8080", "", ""},       // an address is not a relying party
		{"http://carnet.example.fr", "", ""},    // not a secure context
		{"carnet.example.fr", "", ""},           // not a URL
		{"https://[2001:db8::1]:8443/", "", ""}, // an address
		{"ftp://carnet.example.fr/", "", ""},    // not http
		{"https://carnet.localhost:8443", "carnet.localhost", "https://carnet.localhost:8443"},
	} {
		cfg, err := auth.WebAuthnFromURL(c.url)
		if c.rpID == "" {
			if err == nil {
				t.Errorf("%s: accepted as %+v", c.url, cfg)
			}
			continue
		}
		if err != nil || cfg.RPID != c.rpID || len(cfg.Origins) != 1 || cfg.Origins[0] != c.origin {
			t.Errorf("%s: %+v, %v", c.url, cfg, err)
		}
	}
}
