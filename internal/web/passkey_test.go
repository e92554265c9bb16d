package web

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// passkeyPortal is newPortal's portal served a second time, by a sign-in service that offers
// passkeys: its relying party is http://localhost:<port> (browsers refuse an IP address as a
// relying party, and accept http on localhost as a secure context). p.srv is that server.
type passkeyPortal struct {
	*portal
	auth *auth.Service
	base string // http://localhost:<port>, for the browser
}

func newPasskeyPortal(t *testing.T) *passkeyPortal {
	t.Helper()
	p := newPortal(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	cfg := auth.DefaultConfig()
	cfg.ResetURL = base + "/mot-de-passe/nouveau"
	if cfg.WebAuthn, err = auth.WebAuthnFromURL(base); err != nil {
		t.Fatal(err)
	}
	svc, err := auth.NewService(auth.Deps{Store: p.DB.Auth(), Clock: p.Clock, Key: testKey, CodeKey: bytes.Repeat([]byte{9}, 32),
		Password: cheapParams, Mail: p.mail, Config: cfg, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	h, err := svc.HTTP(auth.HTTPOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	// The pages as newPortal wired them, with this sign-in service instead.
	d := p.srv.Config.Handler.(*Web).d
	d.Auth, d.HTTP = svc, h
	w, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(w)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	p.srv = srv
	return &passkeyPortal{portal: p, auth: svc, base: base}
}

// count says how many messages were sent.
func (o *outbox) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.msgs)
}

// activated creates a space for seq, activated with email and pass, and returns its patient id.
func (p *passkeyPortal) activated(t *testing.T, seq int, email, pass string) int64 {
	t.Helper()
	ins := recordtest.TestINS(t, seq)
	c, err := p.spaces.Create(context.Background(), space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"},
		Channel: audit.ChannelCLI}, space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "LEROY", GivenNames: "Anne",
		BirthDate: time.Date(1982, 7, 14, 0, 0, 0, 0, time.UTC), Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.auth.Activate(context.Background(), auth.Activation{INS: ins.Matricule, Code: c.ActivationCode, Email: email,
		Password: pass, Client: auth.Client{Addr: "192.0.2.1"}}); err != nil {
		t.Fatal(err)
	}
	pid, err := p.Records.PatientID(context.Background(), identity.INS{Matricule: ins.Matricule})
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// Without JavaScript: the passkey pages answer, their JSON endpoint wants the CSRF token, the
// second step of a sign-in with a passkey offers the code by e-mail, which signs in.
func TestPasskeyPagesWithoutJavaScript(t *testing.T) {
	p := newPasskeyPortal(t)
	const email, pass = "anne.leroy@example.fr", "une phrase de passe solide"
	p.activated(t, 601, email, pass)
	b := p.browser(t)
	pg := b.post("/connexion", url.Values{"identifiant": {email}, "mot_de_passe": {pass}})
	pg = b.get(pg.location)
	if pg.status != 200 || !strings.Contains(pg.body, "Code reçu") {
		t.Fatalf("code page: %d %.500s", pg.status, pg.body)
	}
	if pg = b.post("/connexion/code", url.Values{"code": {p.mail.code(t, email)}}); pg.status != http.StatusSeeOther {
		t.Fatalf("code: %d", pg.status)
	}

	pg = b.get("/moi/sessions")
	if !strings.Contains(pg.body, "Mes clés d'accès") || !strings.Contains(pg.body, `href="/moi/cles-acces"`) {
		t.Fatalf("no passkey section on the sessions page: %.2000s", pg.body)
	}
	checkHTML(t, pg.body, "fr")
	pg = b.get("/moi/cles-acces")
	if pg.status != 200 || !strings.Contains(pg.body, "pas encore de clé d'accès") || !strings.Contains(pg.body, "/carnet/passkey.js") ||
		!strings.Contains(pg.body, "L'ajout d'une clé d'accès a besoin de JavaScript") {
		t.Fatalf("passkeys page: %d %.2000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)

	// The registration's options: refused without the token, given with it.
	req, _ := http.NewRequest("POST", b.base+"/moi/cles-acces/options", nil)
	if pg = b.do(req); pg.status != http.StatusForbidden {
		t.Fatalf("options without the CSRF token: %d", pg.status)
	}
	req, _ = http.NewRequest("POST", b.base+"/moi/cles-acces/options", nil)
	req.Header.Set("X-CSRF-Token", token)
	if pg = b.do(req); pg.status != 200 || !strings.Contains(pg.body, `"token":"`) || !strings.Contains(pg.body, `"id":"localhost"`) ||
		pg.header.Get("Content-Type") != "application/json" {
		t.Fatalf("options: %d %s", pg.status, pg.body)
	}
	// An answer that is no answer: the page again, with its error; refused without the token.
	if pg = b.post("/moi/cles-acces", url.Values{"jeton": {"x"}, "reponse": {"{}"}}); pg.status != http.StatusForbidden {
		t.Fatalf("registration without the CSRF token: %d", pg.status)
	}
	if pg = b.post("/moi/cles-acces", url.Values{"csrf_token": {token}, "jeton": {"x"}, "reponse": {"{}"}}); pg.status != http.StatusBadRequest ||
		!strings.Contains(pg.body, "n'a pas pu être enregistrée") {
		t.Fatalf("bad registration: %d %.1500s", pg.status, pg.body)
	}
	if pg = b.post("/moi/cles-acces/AAAA/supprimer", url.Values{"csrf_token": {token}}); pg.status != http.StatusNotFound {
		t.Fatalf("deleting an unknown passkey: %d", pg.status)
	}

	// The sign-in's options: none without a pending passkey sign-in.
	if pg = b.get("/connexion/cle/options"); pg.status != http.StatusNotFound {
		t.Fatalf("sign-in options without a challenge: %d %s", pg.status, pg.body)
	}
	// The fallback page signs in with a code by e-mail (in another browser: a signed-in
	// person is sent home).
	if pg = b.get("/connexion/code-courriel"); pg.status != http.StatusSeeOther || pg.location != "/moi" {
		t.Fatalf("fallback page when signed in: %d %s", pg.status, pg.location)
	}
	b = p.browser(t)
	pg = b.get("/connexion/code-courriel?retour=/moi/historique")
	if pg.status != 200 || !strings.Contains(pg.body, "Recevoir un code par courriel") {
		t.Fatalf("fallback page: %d", pg.status)
	}
	checkHTML(t, pg.body, "fr")
	if pg = b.post("/connexion/code-courriel", url.Values{"identifiant": {email}, "mot_de_passe": {"pas le bon"}}); pg.status != http.StatusUnauthorized {
		t.Fatalf("fallback with a wrong password: %d", pg.status)
	}
	sent := p.mail.count()
	pg = b.post("/connexion/code-courriel", url.Values{"identifiant": {email}, "mot_de_passe": {pass}, "retour": {"/moi/historique"}})
	if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, "/connexion/code?") || p.mail.count() != sent+1 {
		t.Fatalf("fallback: %d %s", pg.status, pg.location)
	}
	if pg = b.post("/connexion/code", url.Values{"code": {p.mail.code(t, email)}, "retour": {"/moi/historique"}}); pg.status != http.StatusSeeOther ||
		pg.location != "/moi/historique" {
		t.Fatalf("code after the fallback: %d %s", pg.status, pg.location)
	}
}

// A sign-in whose prompt is a passkey: the second step offers the key and the code instead,
// and its options are served as JSON while the challenge lasts.
func TestPasskeySecondStepPage(t *testing.T) {
	p := newPasskeyPortal(t)
	const email, pass = "anne.leroy@example.fr", "une phrase de passe solide"
	p.activated(t, 602, email, pass)
	// A passkey registered straight in the store: the page only needs one to exist.
	var accountID int64
	if err := p.DB.SQL().QueryRow(`SELECT id FROM accounts WHERE login = $1`, email).Scan(&accountID); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DB.SQL().Exec(`INSERT INTO webauthn_credentials (credential_id, account_id, user_handle, name, public_key, sign_count,
		flags, created_at) VALUES ('AQID', $1, 'AQID', 'test', 'pQECAyYgASFYIA', 0, 5, 0)`, accountID); err != nil {
		t.Fatal(err)
	}
	b := p.browser(t)
	sent := p.mail.count()
	pg := b.post("/connexion", url.Values{"identifiant": {email}, "mot_de_passe": {pass}, "retour": {"/moi/documents"}})
	if pg.status != http.StatusSeeOther || p.mail.count() != sent {
		t.Fatalf("sign-in: %d, %d messages", pg.status, p.mail.count()-sent)
	}
	pg = b.get(pg.location)
	for _, want := range []string{"Confirmer votre connexion", "Utiliser ma clé d'accès", `href="/connexion/code-courriel?retour=%2fmoi%2fdocuments"`,
		"Recevoir plutôt un code par courriel", `id="code-form" hidden`, "/carnet/passkey.js"} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("second step lacks %q:\n%.3000s", want, pg.body)
		}
	}
	checkHTML(t, pg.body, "fr")
	pg = b.get("/connexion/cle/options")
	if pg.status != 200 || !strings.Contains(pg.body, `"allowCredentials":[{"type":"public-key","id":"AQID"}]`) ||
		!strings.Contains(pg.body, `"userVerification":"required"`) || !strings.Contains(pg.body, `"rpId":"localhost"`) {
		t.Fatalf("sign-in options: %d %s", pg.status, pg.body)
	}
	// A wrong answer: the step again, with its error.
	pg = b.post("/connexion/cle", url.Values{"reponse": {`{"id":"AQID"}`}, "retour": {"/moi/documents"}})
	if pg.status != http.StatusUnauthorized || !strings.Contains(pg.body, "La clé d'accès n'a pas été acceptée") || !strings.Contains(pg.body, "Utiliser ma clé d'accès") {
		t.Fatalf("wrong answer: %d %.2000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	p.Clock.Advance(10 * time.Minute)
	if pg = b.get("/connexion/cle/options"); pg.status != http.StatusNotFound {
		t.Fatalf("options of an expired challenge: %d", pg.status)
	}
}
