package web

import (
	"context"
	"strings"
	"testing"
	"time"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// virtualAuthenticator adds Chrome's virtual authenticator to the tab (DevTools protocol,
// WebAuthn domain): a platform authenticator (CTAP 2.1, internal transport) that keeps
// discoverable credentials and verifies its user, as a phone's or a laptop's does.
func (b *tab) virtualAuthenticator() cdpwebauthn.AuthenticatorID {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		b.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol:                    cdpwebauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                cdpwebauthn.Ctap2versionCtap21,
			Transport:                   cdpwebauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		}})
	if err != nil {
		b.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

func (b *tab) credentials(id cdpwebauthn.AuthenticatorID) []*cdpwebauthn.Credential {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, cdpwebauthn.GetCredentials, cdpwebauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		b.t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}

// In a real browser with a virtual authenticator: a patient signs in with a code, adds a
// passkey from the sessions page, signs out, signs in with the password and the passkey (no
// code sent), and deletes the passkey. Every page passes the audit; the trace says it all.
func TestBrowserPasskey(t *testing.T) {
	p := newPasskeyPortal(t)
	const email, pass = "anne.leroy@example.fr", "ma phrase de passe secrète"
	pid := p.activated(t, 701, email, pass)
	b := newTab(t, p.base)
	authenticator := b.virtualAuthenticator()

	b.open("/langue/fr?retour=/connexion")
	b.expect("Connexion à Mon espace santé")
	b.fill("identifiant", email)
	b.fill("mot_de_passe", pass)
	b.submit(`form[action="/connexion"] button[type="submit"]`)
	b.expect("Nous venons d'envoyer un code") // not "Code reçu": the sign-in page says "le code reçu" too
	b.fill("code", p.mail.code(t, email))
	b.submit(`form[action="/connexion/code"] button[type="submit"]`)
	b.expect("Bonjour")

	// Registration, from the sessions page.
	b.open("/moi/sessions")
	b.expect("Gérer mes clés d'accès")
	b.submit(`a[href="/moi/cles-acces"]`)
	b.expect("Vous n'avez pas encore de clé d'accès")
	b.do(chromedp.WaitVisible(chromedp.CSS("#passkey-add-button")))
	b.audit("passkey 01 mes cles")
	b.fill("passkey-name", "Ordinateur de test")
	b.submit("#passkey-add-button")
	b.expect("Votre clé d'accès est enregistrée")
	b.expect("Ordinateur de test")
	b.audit("passkey 02 cle ajoutee")
	creds := b.credentials(authenticator)
	if len(creds) != 1 || creds[0].RpID != "localhost" || !creds[0].IsResidentCredential || len(creds[0].UserHandle) != 32 {
		t.Fatalf("the authenticator holds %+v", creds)
	}

	// Sign out; sign in with the password, then the passkey.
	b.submit(`form[action="/deconnexion"] button`)
	b.expect("Qui a consulté votre dossier")
	b.open("/connexion")
	b.expect("Connexion à Mon espace santé")
	b.fill("identifiant", email)
	b.fill("mot_de_passe", pass)
	sent := p.mail.count()
	b.submit(`form[action="/connexion"] button[type="submit"]`)
	b.expect("Confirmer votre connexion")
	b.do(chromedp.WaitVisible(chromedp.CSS("#passkey-use")))
	b.expect("Recevoir plutôt un code par courriel")
	b.audit("passkey 03 deuxieme etape")
	b.submit("#passkey-use")
	b.expect("Bonjour")
	if p.mail.count() != sent {
		t.Fatalf("%d messages sent for a sign-in with a passkey", p.mail.count()-sent)
	}
	var count, used int64
	if err := p.DB.SQL().QueryRow(`SELECT sign_count, COALESCE(last_used_at, 0) FROM webauthn_credentials`).Scan(&count, &used); err != nil {
		t.Fatal(err)
	}
	if used == 0 {
		t.Fatalf("the passkey's use is not recorded (counter %d)", count)
	}

	// The list shows its use; deletion.
	b.open("/moi/cles-acces")
	b.expect("Ordinateur de test")
	b.submit(`form[action$="/supprimer"] button`)
	b.expect("La clé d'accès est supprimée")
	b.expect("Vous n'avez pas encore de clé d'accès")

	traces := strings.Join(p.Traces(t, pid), "\n")
	for _, want := range []string{"auth.passkey.register allowed", "auth.passkey.use allowed", "method=webauthn", "auth.passkey.delete allowed"} {
		if !strings.Contains(traces, want) {
			t.Errorf("no trace %q in:\n%s", want, traces)
		}
	}
	if strings.Contains(traces, "denied") {
		t.Errorf("a refusal in the trace:\n%s", traces)
	}
}
