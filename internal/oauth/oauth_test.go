package oauth_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/oauth"
)

const class10 = oauth.ClassSystem + "|10"

// TestClientCredentialsThenFHIR: a professional's software gets a token with Go's OAuth 2
// client (both client authentication methods), reads the record over FHIR with it, and the
// token is introspected and revoked.
func TestClientCredentialsThenFHIR(t *testing.T) {
	e := newEnv(t)
	_, ins := e.patient(1)
	idnat, profID := e.professional(1)
	// The professional deposited, so they are in the care team and may search.
	if _, err := e.Records.Deposit(ctx, doctorReq(idnat), reportFor(ins), pdf(1)); err != nil {
		t.Fatal(err)
	}
	c, secret := e.register(oauth.Client{ID: "lgc-martin", Name: "LGC cabinet Martin", Type: oauth.Confidential,
		GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, Scope: "system/DocumentReference.cruds",
		Subject: apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: profID}})
	if c.Scope != "system/DocumentReference.cruds" || !strings.HasPrefix(secret, oauth.SecretPrefix) {
		t.Fatalf("registered %+v, secret %q", c, secret)
	}

	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: e.srv.URL + "/oauth/token", AuthStyle: style}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("auth style %d: %v", style, err)
		}
		if !strings.HasPrefix(tok.AccessToken, apitoken.Prefix) || tok.RefreshToken != "" || tok.Extra("scope") != c.Scope ||
			tok.Expiry.Sub(time.Now()) > time.Hour+time.Minute || tok.Expiry.Sub(time.Now()) < 59*time.Minute {
			t.Errorf("token %+v scope %v", tok, tok.Extra("scope"))
		}
		sys, val := ins.FHIR()
		status, body := e.fhirGet(tok.AccessToken, "/DocumentReference?patient.identifier="+url.QueryEscape(sys+"|"+val))
		if status != http.StatusOK || total(t, body) != 2 {
			t.Fatalf("FHIR search with the OAuth token: %d %s", status, body)
		}

		// Introspection by the client itself: active, its subject and scope.
		st, _, in := e.post("/oauth/introspect", c.ID, secret, url.Values{"token": {tok.AccessToken}})
		if st != 200 || in["active"] != true || in["sub"] != idnat || in["client_id"] != c.ID || in["scope"] != c.Scope ||
			in["carnet_actor_kind"] != "professional" || in["token_type"] != "Bearer" {
			t.Errorf("introspection: %d %v", st, in)
		}
		// Revocation, then the API refuses the token and introspection says inactive.
		if st, _, _ := e.post("/oauth/revoke", c.ID, secret, url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}); st != 200 {
			t.Errorf("revoke: %d", st)
		}
		if status, _ := e.fhirGet(tok.AccessToken, "/DocumentReference?patient.identifier="+url.QueryEscape(sys+"|"+val)); status != http.StatusUnauthorized {
			t.Errorf("revoked token: %d", status)
		}
		if _, _, in := e.post("/oauth/introspect", c.ID, secret, url.Values{"token": {tok.AccessToken}}); in["active"] != false || len(in) != 1 {
			t.Errorf("revoked token introspected: %v", in)
		}
	}

	// Wrong secret: invalid_client, 401 with the Basic challenge, as RFC 6749 §5.2 says.
	cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: secret + "x", TokenURL: e.srv.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader}
	_, err := cc.Token(ctx)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 ||
		re.Response.Header.Get("WWW-Authenticate") == "" || re.Response.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("wrong secret: %v", err)
	}
	// A scope beyond the registration: invalid_scope.
	cc = clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: e.srv.URL + "/oauth/token",
		Scopes: []string{"system/AuditEvent.rs"}, AuthStyle: oauth2.AuthStyleInHeader}
	if _, err := cc.Token(ctx); !errors.As(err, &re) || re.ErrorCode != "invalid_scope" {
		t.Errorf("scope beyond registration: %v", err)
	}
	// A client_credentials client cannot use another grant.
	st, _, body := e.post("/oauth/token", c.ID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}})
	if st != 400 || body["error"] != "unauthorized_client" {
		t.Errorf("refresh by a system client: %d %v", st, body)
	}
	st, _, body = e.post("/oauth/token", c.ID, secret, url.Values{"grant_type": {"password"}})
	if st != 400 || body["error"] != "unsupported_grant_type" {
		t.Errorf("password grant: %d %v", st, body)
	}

	// Every issue, refusal and revocation is in the client's chain.
	tr := e.traces("chain = $1", "a/app/"+c.ID)
	if countMatching(tr, "apitoken.issue allowed", "subject=professional") != 2 || countMatching(tr, "apitoken.revoke allowed") != 2 ||
		countMatching(tr, "oauth.client_auth denied invalid_client") != 1 || countMatching(tr, "apitoken.issue denied invalid_scope") != 1 ||
		countMatching(tr, "apitoken.issue denied unauthorized_client") != 1 {
		t.Errorf("client traces:\n%s", strings.Join(tr, "\n"))
	}

	// Disabling the client ends its tokens at once.
	tok, err := (&clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: e.srv.URL + "/oauth/token"}).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.registry.Disable(ctx, operator, audit.ChannelCLI, c.ID); err != nil {
		t.Fatal(err)
	}
	if status, _ := e.fhirGet(tok.AccessToken, "/metadata"); status != 200 {
		t.Errorf("metadata: %d", status)
	}
	sys, val := ins.FHIR()
	if status, _ := e.fhirGet(tok.AccessToken, "/DocumentReference?patient.identifier="+url.QueryEscape(sys+"|"+val)); status != 401 {
		t.Errorf("token of a disabled client: %d", status)
	}
	if _, err := (&clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: e.srv.URL + "/oauth/token"}).Token(ctx); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Errorf("disabled client: %v", err)
	}
}

// authorize runs the browser side of the code flow for conf as e.who and returns the code.
func (e *env) authorize(conf *oauth2.Config, verifier, state string) string {
	e.t.Helper()
	p := e.approve(e.browser(), conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), "allow", nil)
	q := p.loc.Query()
	if q.Get("state") != state || q.Get("iss") != e.srv.URL || q.Get("code") == "" {
		e.t.Fatalf("redirect to the app: %s", p.loc)
	}
	return q.Get("code")
}

func (e *env) appConfig(c oauth.Client, secret string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: c.ID, ClientSecret: secret, RedirectURL: e.srv.URL + "/app/callback", Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.srv.URL + "/oauth/authorize", TokenURL: e.srv.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader}}
}

// TestAuthorizationCodeThenFHIR: a patient connects a public app (PKCE only) with Go's
// OAuth 2 client and a browser with a cookie jar; the app reads what was granted, nothing
// of another patient, and refreshes with rotation; a replayed refresh token ends the grant.
func TestAuthorizationCodeThenFHIR(t *testing.T) {
	e := newEnv(t)
	pid, _ := e.patient(1)
	other, _ := e.patient(2)
	c, secret := e.app("suivi-tension", oauth.Public, "patient/DocumentReference.crs patient/AuditEvent.rs launch/patient")
	if secret != "" || c.Scope != "launch/patient patient/DocumentReference.crs patient/AuditEvent.rs offline_access" {
		t.Fatalf("public app: %q %q", c.Scope, secret)
	}
	e.who = holder(pid)
	conf := e.appConfig(c, "", "launch/patient", "patient/DocumentReference.rs?category="+class10, "patient/AuditEvent.rs", "offline_access", "openid")

	// The consent page: French, labelled, what the app asks in the patient's words.
	b := e.browser()
	verifier := oauth2.GenerateVerifier()
	p := e.get(b, conf.AuthCodeURL("xyz", oauth2.S256ChallengeOption(verifier)))
	for _, want := range []string{`<html lang="fr">`, "<h1>Suivi Tension demande l'accès à votre espace santé</h1>", `<label for="perm-read">Lire vos documents</label>`,
		"Consulter l&#39;historique des accès", `<label for="category-10">Compte rendu</label>`, `<legend>`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("consent page lacks %q:\n%s", want, p.body)
		}
	}
	if strings.Contains(p.body, "Déposer") || strings.Contains(p.body, "category-11") {
		t.Errorf("consent page shows what was not asked:\n%s", p.body)
	}
	if p.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("consent page headers: %v", p.header)
	}
	f := consentForm(t, p)
	f.Set("decision", "allow")
	res, err := b.PostForm(e.srv.URL+"/oauth/authorize", f)
	if err != nil {
		t.Fatal(err)
	}
	p = readPage(t, res)
	if p.status != http.StatusSeeOther || p.loc.Query().Get("state") != "xyz" {
		t.Fatalf("consent: %d %s", p.status, p.loc)
	}

	tok, err := conf.Exchange(ctx, p.loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	wantScope := "launch/patient patient/DocumentReference.rs?category=" + class10 + " patient/AuditEvent.rs offline_access"
	if tok.RefreshToken == "" || tok.Extra("patient") != strconv.FormatInt(pid, 10) || tok.Extra("scope") != wantScope {
		t.Fatalf("token: %+v scope %q patient %v", tok, tok.Extra("scope"), tok.Extra("patient"))
	}

	// The app reads its patient's class-10 document over FHIR, acting as an app.
	status, body := e.fhirGet(tok.AccessToken, fmt.Sprintf("/DocumentReference?patient=Patient/%d", pid))
	if status != 200 || total(t, body) != 1 {
		t.Fatalf("app search: %d %s", status, body)
	}
	if status, body := e.fhirGet(tok.AccessToken, fmt.Sprintf("/DocumentReference?patient=Patient/%d", other)); status != 403 {
		t.Errorf("another patient's record: %d %s", status, body)
	}
	if status, body := e.fhirGet(tok.AccessToken, fmt.Sprintf("/AuditEvent?patient=Patient/%d", pid)); status != 200 {
		t.Errorf("the trail: %d %s", status, body)
	}
	tr := e.traces("patient_id = $1", pid)
	if countMatching(tr, "oauth.consent allowed", "oauth-client/suivi-tension", "scope="+wantScope) != 1 ||
		countMatching(tr, "apitoken.issue allowed", "grant=authorization_code", "refresh") != 1 ||
		countMatching(tr, "record.search allowed") < 1 {
		t.Errorf("patient's traces:\n%s", strings.Join(tr, "\n"))
	}
	if n := len(e.traces("actor_kind = 'app' AND actor_id = $1 AND action = 'record.search'", c.ID)); n != 2 {
		t.Errorf("searches traced with the app as actor: %d", n)
	}

	// Refresh with rotation: a new access token and a new refresh token; the old one is spent.
	rt1 := tok.RefreshToken
	st, _, r1 := e.post("/oauth/token", "", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}, "client_id": {c.ID}})
	rt2, _ := r1["refresh_token"].(string)
	at2, _ := r1["access_token"].(string)
	if st != 200 || rt2 == "" || rt2 == rt1 || at2 == tok.AccessToken || r1["scope"] != wantScope {
		t.Fatalf("refresh: %d %v", st, r1)
	}
	// A narrower scope at refresh: that access token only.
	st, _, r2 := e.post("/oauth/token", "", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}, "client_id": {c.ID},
		"scope": {"patient/AuditEvent.rs"}})
	rt3, _ := r2["refresh_token"].(string)
	at3, _ := r2["access_token"].(string)
	if st != 200 || r2["scope"] != "patient/AuditEvent.rs" || rt3 == "" {
		t.Fatalf("narrowed refresh: %d %v", st, r2)
	}
	if status, _ := e.fhirGet(at3, fmt.Sprintf("/DocumentReference?patient=Patient/%d", pid)); status != 403 {
		t.Errorf("narrowed token searches documents: %d", status)
	}
	// Beyond the grant at refresh: invalid_scope, the refresh token is not spent.
	st, _, r3 := e.post("/oauth/token", "", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt3}, "client_id": {c.ID},
		"scope": {"patient/DocumentReference.c"}})
	if st != 400 || r3["error"] != "invalid_scope" {
		t.Errorf("refresh beyond the grant: %d %v", st, r3)
	}
	// rt1 again: reuse. The grant and everything issued under it is revoked.
	st, _, r4 := e.post("/oauth/token", "", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}, "client_id": {c.ID}})
	if st != 400 || r4["error"] != "invalid_grant" {
		t.Fatalf("refresh token reused: %d %v", st, r4)
	}
	for i, at := range []string{tok.AccessToken, at2, at3} {
		if status, _ := e.fhirGet(at, fmt.Sprintf("/AuditEvent?patient=Patient/%d", pid)); status != 401 {
			t.Errorf("access token %d after the reuse: %d", i, status)
		}
	}
	if st, _, r := e.post("/oauth/token", "", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt3}, "client_id": {c.ID}}); st != 400 || r["error"] != "invalid_grant" {
		t.Errorf("latest refresh token after the reuse: %d %v", st, r)
	}
	tr = e.traces("patient_id = $1", pid)
	if countMatching(tr, "apitoken.issue denied invalid_grant: refresh token used twice: grant revoked") != 1 {
		t.Errorf("reuse not traced:\n%s", strings.Join(tr, "\n"))
	}
	grants, err := e.registry.Grants(ctx, pid)
	if err != nil || len(grants) != 1 || grants[0].RevokedAt.IsZero() || grants[0].ClientName != "Suivi Tension" ||
		grants[0].RevokeReason != "refresh token used twice" {
		t.Errorf("grants: %+v %v", grants, err)
	}
}

// TestCodeRefusals: wrong verifier, reused code, wrong redirect_uri, expired code, denial,
// narrowing on the consent page, a forged consent form, and the requests refused before.
func TestCodeRefusals(t *testing.T) {
	e := newEnv(t)
	pid, _ := e.patient(1)
	c, secret := e.app("journal-sante", oauth.Confidential, "patient/DocumentReference.crs")
	e.who = holder(pid)
	conf := e.appConfig(c, secret)
	var re *oauth2.RetrieveError
	exchangeFails := func(name, code string, opts ...oauth2.AuthCodeOption) {
		t.Helper()
		if _, err := conf.Exchange(ctx, code, opts...); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Wrong verifier: refused, and the code is spent.
	v := oauth2.GenerateVerifier()
	code := e.authorize(conf, v, "s1")
	exchangeFails("wrong verifier", code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	exchangeFails("right verifier after a wrong one", code, oauth2.VerifierOption(v))

	// Reused code: the second exchange fails and revokes the first's tokens.
	v = oauth2.GenerateVerifier()
	code = e.authorize(conf, v, "s2")
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := e.fhirGet(tok.AccessToken, fmt.Sprintf("/DocumentReference?patient=Patient/%d", pid)); st != 200 {
		t.Fatalf("first exchange's token: %d", st)
	}
	exchangeFails("reused code", code, oauth2.VerifierOption(v))
	if st, _ := e.fhirGet(tok.AccessToken, fmt.Sprintf("/DocumentReference?patient=Patient/%d", pid)); st != 401 {
		t.Errorf("token of a reused code: %d", st)
	}
	if st, _, r := e.post("/oauth/token", c.ID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); st != 400 || r["error"] != "invalid_grant" {
		t.Errorf("refresh token of a reused code: %d %v", st, r)
	}

	// Wrong redirect_uri (registered, but not the one of the request).
	v = oauth2.GenerateVerifier()
	code = e.authorize(conf, v, "s3")
	other := *conf
	other.RedirectURL = e.srv.URL + "/app/other"
	if _, err := other.Exchange(ctx, code, oauth2.VerifierOption(v)); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("wrong redirect_uri: %v", err)
	}

	// Expired code: 60 s.
	v = oauth2.GenerateVerifier()
	code = e.authorize(conf, v, "s4")
	e.Clock.Advance(61 * time.Second)
	exchangeFails("expired code", code, oauth2.VerifierOption(v))

	// A code of this client presented by another client.
	c2, secret2 := e.app("autre-app", oauth.Confidential, "patient/DocumentReference.rs")
	v = oauth2.GenerateVerifier()
	code = e.authorize(conf, v, "s5")
	if _, err := e.appConfig(c2, secret2).Exchange(ctx, code, oauth2.VerifierOption(v)); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("another client's code: %v", err)
	}

	tr := e.traces("patient_id = $1", pid)
	for _, why := range []string{"code_verifier does not match", "code used twice", "redirect_uri differs", "code expired", "code of another client"} {
		if countMatching(tr, "apitoken.issue denied invalid_grant: "+why) == 0 {
			t.Errorf("no trace of %q:\n%s", why, strings.Join(tr, "\n"))
		}
	}

	// Denial: access_denied with the state, traced.
	p := e.approve(e.browser(), conf.AuthCodeURL("s6", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "deny", nil)
	if q := p.loc.Query(); q.Get("error") != "access_denied" || q.Get("state") != "s6" || q.Get("code") != "" {
		t.Errorf("denial: %s", p.loc)
	}
	if countMatching(e.traces("patient_id = $1", pid), "oauth.consent denied access_denied") != 1 {
		t.Error("denial not traced")
	}

	// The patient grants less than asked: no deposit, one category.
	v = oauth2.GenerateVerifier()
	p = e.approve(e.browser(), conf.AuthCodeURL("s7", oauth2.S256ChallengeOption(v)), "allow", func(f url.Values) {
		f["perm"] = []string{"read", "deposit-forged"}
		f["category"] = []string{"11", "99"}
	})
	tok, err = conf.Exchange(ctx, p.loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Extra("scope"); got != "patient/DocumentReference.rs?category="+oauth.ClassSystem+"|11" {
		t.Errorf("narrowed grant: %v", got)
	}
	status, body := e.fhirGet(tok.AccessToken, fmt.Sprintf("/DocumentReference?patient=Patient/%d", pid))
	if status != 200 || total(t, body) != 0 {
		t.Errorf("a class-11 grant sees the class-10 report: %d %s", status, body)
	}

	// A forged or stale consent form is refused, and gives no code.
	b := e.browser()
	f := consentForm(t, e.get(b, conf.AuthCodeURL("s8", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))))
	f.Set("decision", "allow")
	forged := url.Values{}
	for k, vs := range f {
		forged[k] = vs
	}
	forged.Set("scope", "patient/DocumentReference.crs")
	for name, form := range map[string]url.Values{"forged": forged} {
		res, err := b.PostForm(e.srv.URL+"/oauth/authorize", form)
		if err != nil {
			t.Fatal(err)
		}
		if p := readPage(t, res); p.status != http.StatusForbidden || p.loc != nil {
			t.Errorf("%s consent form: %d %s", name, p.status, p.loc)
		}
	}
	e.Clock.Advance(11 * time.Minute)
	res, err := b.PostForm(e.srv.URL+"/oauth/authorize", f)
	if err != nil {
		t.Fatal(err)
	}
	if p := readPage(t, res); p.status != http.StatusForbidden {
		t.Errorf("stale consent form: %d", p.status)
	}
	// Another person's browser cannot post this person's form.
	e.who = holder(pid + 1000)
	b2 := e.browser()
	e.get(b2, e.srv.URL+"/test/signin?return=/fhir/metadata")
	e.Clock.Advance(-11 * time.Minute)
	res, err = b2.PostForm(e.srv.URL+"/oauth/authorize", f)
	if err != nil {
		t.Fatal(err)
	}
	if p := readPage(t, res); p.status != http.StatusForbidden {
		t.Errorf("someone else's consent form: %d", p.status)
	}
	e.who = holder(pid)

	// Requests refused before any consent.
	challenge := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())
	for _, tc := range []struct {
		name      string
		u         string
		status    int
		errorCode string // "" for a page of ours, no redirect
	}{
		{"plain PKCE", conf.AuthCodeURL("p", oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)), oauth2.SetAuthURLParam("code_challenge_method", "plain")), 302, "invalid_request"},
		{"no PKCE", conf.AuthCodeURL("p"), 302, "invalid_request"},
		{"token response type", strings.Replace(conf.AuthCodeURL("p", challenge), "response_type=code", "response_type=token", 1), 302, "unsupported_response_type"},
		{"scope beyond registration", (&oauth2.Config{ClientID: c.ID, RedirectURL: conf.RedirectURL, Endpoint: conf.Endpoint, Scopes: []string{"patient/AuditEvent.rs"}}).AuthCodeURL("p", challenge), 302, "invalid_scope"},
		{"unregistered redirect", (&oauth2.Config{ClientID: c.ID, RedirectURL: "https://evil.example/cb", Endpoint: conf.Endpoint}).AuthCodeURL("p", challenge), 400, ""},
		{"redirect by prefix", (&oauth2.Config{ClientID: c.ID, RedirectURL: conf.RedirectURL + "/x", Endpoint: conf.Endpoint}).AuthCodeURL("p", challenge), 400, ""},
		{"unknown client", (&oauth2.Config{ClientID: "nobody", RedirectURL: conf.RedirectURL, Endpoint: conf.Endpoint}).AuthCodeURL("p", challenge), 400, ""},
	} {
		p := e.get(e.browser(), tc.u)
		if p.status != tc.status {
			t.Errorf("%s: %d %s", tc.name, p.status, p.body)
			continue
		}
		if tc.errorCode == "" {
			if p.loc != nil || !strings.Contains(p.body, `lang="fr"`) {
				t.Errorf("%s: redirected or no page: %s", tc.name, p.loc)
			}
			continue
		}
		if q := p.loc.Query(); q.Get("error") != tc.errorCode || q.Get("state") != "p" || !strings.HasPrefix(p.loc.String(), conf.RedirectURL) {
			t.Errorf("%s: %s", tc.name, p.loc)
		}
	}

	// A professional signed in cannot connect an app to a space.
	e.who = access.Actor{Kind: audit.ActorProfessional, ID: "810000000000", PatientID: pid}
	if p := e.get(e.browser(), conf.AuthCodeURL("p", challenge)); p.status != http.StatusForbidden {
		t.Errorf("professional at the consent: %d", p.status)
	}
	// A representative connects it for the person represented: the token acts within what
	// the representative may see.
	e.Clock.Advance(time.Second)
	e.who = access.Actor{Kind: audit.ActorRepresentative, ID: "account-77", PatientID: pid, Role: access.RoleParent,
		RepresentsMinor: true, RepresentationCurrent: true}
	v = oauth2.GenerateVerifier()
	p = e.approve(e.browser(), conf.AuthCodeURL("r", oauth2.S256ChallengeOption(v)), "allow", nil)
	if !strings.Contains(p.loc.RawQuery, "code=") {
		t.Fatalf("representative's consent: %s", p.loc)
	}
	if _, err := conf.Exchange(ctx, p.loc.Query().Get("code"), oauth2.VerifierOption(v)); err != nil {
		t.Fatal(err)
	}
	grants, err := e.registry.Grants(ctx, pid)
	if err != nil || !grants[0].ByRepresentative || grants[0].GrantedBy != "account-77" {
		t.Errorf("representative's grant: %+v %v", grants, err)
	}
}

// TestIntrospectionAndRevocationEdges: only one's own tokens, unknown tokens are inactive,
// revocation always answers 200, refresh tokens too.
func TestIntrospectionAndRevocationEdges(t *testing.T) {
	e := newEnv(t)
	pid, _ := e.patient(1)
	app, appSecret := e.app("app-a", oauth.Confidential, "patient/DocumentReference.rs")
	pub, _ := e.app("app-pub", oauth.Public, "patient/DocumentReference.rs")
	rs, rsSecret := e.register(oauth.Client{ID: "resource-server", Name: "Passerelle", Type: oauth.Confidential,
		GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode}, Scope: "patient/AuditEvent.rs",
		RedirectURIs: []string{"https://rs.example/cb"}, MayIntrospect: true})
	e.who = holder(pid)
	conf := e.appConfig(app, appSecret)
	v := oauth2.GenerateVerifier()
	tok, err := conf.Exchange(ctx, e.authorize(conf, v, "s"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}

	intro := func(id, secret, token string) map[string]any {
		t.Helper()
		st, _, m := e.post("/oauth/introspect", id, secret, url.Values{"token": {token}})
		if st != 200 {
			t.Fatalf("introspect: %d %v", st, m)
		}
		return m
	}
	if m := intro(app.ID, appSecret, tok.AccessToken); m["active"] != true || m["patient"] != strconv.FormatInt(pid, 10) || m["carnet_actor_kind"] != "app" {
		t.Errorf("own token: %v", m)
	}
	if m := intro(app.ID, appSecret, tok.RefreshToken); m["active"] != true || m["client_id"] != app.ID {
		t.Errorf("own refresh token: %v", m)
	}
	if m := intro(rs.ID, rsSecret, tok.AccessToken); m["active"] != true {
		t.Errorf("resource server: %v", m)
	}
	for _, tk := range []string{"", "nonsense", apitoken.Prefix + strings.Repeat("A", 43), oauth.RefreshPrefix + "x", strings.Repeat("x", 5000)} {
		st, _, m := e.post("/oauth/introspect", app.ID, appSecret, url.Values{"token": {tk}})
		if tk == "" {
			if st != 400 || m["error"] != "invalid_request" {
				t.Errorf("no token: %d %v", st, m)
			}
			continue
		}
		if st != 200 || m["active"] != false || len(m) != 1 {
			t.Errorf("unknown token %.20q: %d %v", tk, st, m)
		}
	}
	// A public client may not introspect; another app learns nothing of this one's token.
	if st, _, m := e.post("/oauth/introspect", "", "", url.Values{"token": {tok.AccessToken}, "client_id": {pub.ID}}); st != 401 || m["error"] != "invalid_client" {
		t.Errorf("public client introspects: %d %v", st, m)
	}
	app2, app2Secret := e.app("app-b", oauth.Confidential, "patient/DocumentReference.rs")
	if m := intro(app2.ID, app2Secret, tok.AccessToken); m["active"] != false || len(m) != 1 {
		t.Errorf("another client's token: %v", m)
	}
	// Revocation: unknown token 200; another client's token 200 and untouched.
	for _, tk := range []string{"nonsense", tok.AccessToken, tok.RefreshToken} {
		if st, _, _ := e.post("/oauth/revoke", app2.ID, app2Secret, url.Values{"token": {tk}}); st != 200 {
			t.Errorf("revoke %.12q by another client: %d", tk, st)
		}
	}
	if m := intro(app.ID, appSecret, tok.AccessToken); m["active"] != true {
		t.Errorf("revoked by another client: %v", m)
	}
	// Revoking the refresh token ends the grant and its access token (RFC 7009 §2.1).
	if st, _, _ := e.post("/oauth/revoke", app.ID, appSecret, url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}); st != 200 {
		t.Errorf("revoke refresh: %d", st)
	}
	if m := intro(app.ID, appSecret, tok.AccessToken); m["active"] != false {
		t.Errorf("access token after its grant's revocation: %v", m)
	}
	tr := e.traces("patient_id = $1", pid)
	if countMatching(tr, "apitoken.revoke allowed", "oauth-grant/") != 1 {
		t.Errorf("revocation not traced in the patient's chain:\n%s", strings.Join(tr, "\n"))
	}
	// The patient disconnects the app from the portal.
	e.Clock.Advance(time.Second)
	v = oauth2.GenerateVerifier()
	tok, err = conf.Exchange(ctx, e.authorize(conf, v, "s"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	grants, err := e.registry.Grants(ctx, pid)
	if err != nil || len(grants) != 2 {
		t.Fatalf("grants: %v %v", grants, err)
	}
	other, _ := e.patient(2)
	if err := e.registry.RevokeGrant(ctx, holder(other).Audit(), audit.ChannelWeb, other, grants[0].ID); err == nil {
		t.Error("revoked another patient's grant")
	}
	if err := e.registry.RevokeGrant(ctx, holder(pid).Audit(), audit.ChannelWeb, pid, grants[0].ID); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.fhirGet(tok.AccessToken, fmt.Sprintf("/DocumentReference?patient=Patient/%d", pid)); st != 401 {
		t.Errorf("token after the patient disconnected the app: %d", st)
	}
}

// TestFailedAuthenticationsSlowedAndAlike: after the free failures, further tries are
// refused with 429 for a doubling delay, even with the right secret; unknown and known
// clients get the same answers; the delay passes with the clock.
func TestFailedAuthenticationsSlowedAndAlike(t *testing.T) {
	e := newEnv(t)
	_, profID := e.professional(1)
	c, secret := e.register(oauth.Client{ID: "lgc", Name: "LGC", Type: oauth.Confidential,
		GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, Scope: "system/*.rs",
		Subject: apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: profID}})
	try := func(id, secret string) (int, http.Header, map[string]any) {
		return e.post("/oauth/token", id, secret, url.Values{"grant_type": {"client_credentials"}})
	}
	for i := 1; i <= 5; i++ {
		stK, hK, known := try(c.ID, "wrong")
		stU, hU, unknown := try("ghost", "wrong")
		if stK != 401 || stU != 401 || fmt.Sprint(known) != fmt.Sprint(unknown) || hK.Get("WWW-Authenticate") != hU.Get("WWW-Authenticate") {
			t.Fatalf("failure %d: known %d %v, unknown %d %v", i, stK, known, stU, unknown)
		}
	}
	// The sixth failure shuts the key; then even the right secret waits.
	if st, _, _ := try(c.ID, "wrong"); st != 401 {
		t.Fatalf("sixth failure: %d", st)
	}
	st, h, m := try(c.ID, secret)
	if st != http.StatusTooManyRequests || h.Get("Retry-After") != "1" || m["error"] != "invalid_client" {
		t.Fatalf("while shut: %d %v %v", st, h, m)
	}
	e.Clock.Advance(time.Second)
	if st, _, _ := try(c.ID, "wrong"); st != 401 {
		t.Fatalf("seventh failure: %d", st)
	}
	if st, h, _ := try(c.ID, secret); st != 429 || h.Get("Retry-After") != "2" {
		t.Fatalf("delay doubles: %d %v", st, h.Get("Retry-After"))
	}
	e.Clock.Advance(2 * time.Second)
	if st, _, m := try(c.ID, secret); st != 200 {
		t.Errorf("after the delay: %d %v", st, m)
	}
	// The address has failed 12 times; at its 21st failure it is shut too, whatever client
	// id it names.
	for i := 13; i <= 21; i++ {
		if st, _, _ := try(fmt.Sprint("spray-", i), "x"); st != 401 {
			t.Fatalf("address failure %d: %d", i, st)
		}
	}
	if st, _, _ := try(c.ID, secret); st != 429 {
		t.Errorf("address not limited: %d", st)
	}
	e.Clock.Advance(time.Second)
	if st, _, m := try(c.ID, secret); st != 200 {
		t.Errorf("after the address's delay: %d %v", st, m)
	}
	if n := countMatching(e.traces("chain = $1", "a/app/"+c.ID), "oauth.client_auth denied invalid_client"); n != 7 {
		t.Errorf("%d failed authentications traced, want 7", n)
	}
	if n := countMatching(e.traces("chain = $1", "a/system/oauth"), "oauth.client_auth denied", `client_id="ghost"`); n != 5 {
		t.Errorf("%d failures of an unknown client traced, want 5", n)
	}
}

func TestMetadata(t *testing.T) {
	e := newEnv(t)
	res, err := http.Get(e.srv.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	p := readPage(t, res)
	for _, want := range []string{`"issuer":"` + e.srv.URL + `"`, `"token_endpoint":"` + e.srv.URL + `/oauth/token"`,
		`"code_challenge_methods_supported":["S256"]`, `"introspection_endpoint"`, `"revocation_endpoint"`, `"client_secret_basic"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("metadata lacks %s: %s", want, p.body)
		}
	}
}
