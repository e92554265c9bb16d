package oidc_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/oidc"
	"github.com/carnet-sante/carnet/internal/space"
)

// pscUser is a Pro Santé Connect user: the IdNat_PS in SubjectNameID and preferred_username,
// the professions in SubjectRefPro and SubjectRole, as Pro Santé Connect's UserInfo sends
// them. Its subject is opaque, like Pro Santé Connect's ("f:<uuid>:<IdNat_PS>"; without the
// colons here, which the example provider's access tokens cannot hold).
func pscUser(idnat, profession, acr string) *opUser {
	return &opUser{ID: "f-550dc1c8-d97b-" + idnat, Username: idnat, Given: "Claire", Family: "Martin", ACR: acr,
		Claims: map[string]any{
			"SubjectNameID": idnat,
			"SubjectRefPro": map[string]any{"exercices": []any{map[string]any{"codeProfession": profession,
				"codeCategorieProfessionnelle": "C", "codeSavoirFaire": "SM26", "nomDexercice": "Martin", "prenomDexercice": "Claire"}}},
			"SubjectRole": []any{profession + "^1.2.250.1.213.1.1.5.5"},
		}}
}

// fcUser is a FranceConnect user with its "identité pivot".
func fcUser(id, given, family, born, gender string) *opUser {
	return &opUser{ID: id, ACR: "eidas1", Given: given, Family: family, Claims: map[string]any{
		"birthdate": born, "gender": gender, "birthplace": "75056", "birthcountry": "99100"}}
}

func otherSubject(u *opUser) *opUser {
	u.UISubject = "someone-else"
	return u
}

// signedInAs checks that a sign-in ended on path with a session of the kind and method.
func signedInAs(t *testing.T, p page, path, kind, method string) {
	t.Helper()
	if p.status != http.StatusOK || p.url.Path != path || !strings.Contains(p.body, "kind="+kind) ||
		!strings.Contains(p.body, "method="+method) {
		t.Fatalf("want signed in as %s by %s on %s, got %d at %s: %s", kind, method, path, p.status, p.url, p.body)
	}
}

func TestProfessionalSignIn(t *testing.T) {
	e := newEnv(t, options{})
	idnat := e.professional(t, 1, "G15_10", true)
	e.users.set(pscUser(idnat, "10", "eidas1"))
	b := newBrowser(t)

	p := e.signIn(b, "psc", idnat, "")
	signedInAs(t, p, "/pro", "professional", "oidc:psc")
	if !strings.Contains(p.body, "idnat="+idnat) {
		t.Fatalf("mapped to the wrong professional: %s", p.body)
	}
	if got := e.op.lastACRAsked(); got != "eidas1" {
		t.Fatalf("acr_values sent: %q", got)
	}
	ext := e.lastExternal(t)
	if ext.Outcome != audit.Allowed || ext.Actor.Kind != audit.ActorProfessional || ext.Actor.ID != idnat ||
		!strings.Contains(ext.Detail, "idnat="+idnat) || !strings.Contains(ext.Detail, "acr=eidas1") ||
		!strings.Contains(ext.Detail, "subject=") || strings.Contains(ext.Detail, "550dc1c8") {
		t.Fatalf("sign-in trace: %+v", ext)
	}
	signins := e.traces(t, "auth.signin")
	if len(signins) != 1 || !strings.Contains(signins[0].Detail, "method=oidc:psc") {
		t.Fatalf("session traces: %+v", signins)
	}

	// Signing in again from the same browser replaces the session, and goes back where asked.
	p = e.signIn(b, "psc", idnat, "/moi/documents?page=2")
	signedInAs(t, p, "/moi/documents", "professional", "oidc:psc")
	// A return address off this site is dropped: the person lands at home.
	signedInAs(t, e.signIn(b, "psc", idnat, "https://evil.example/"), "/pro", "professional", "oidc:psc")
	signedInAs(t, e.signIn(b, "psc", idnat, "//evil.example/x"), "/pro", "professional", "oidc:psc")
	revoked := e.traces(t, "auth.session.revoke")
	if len(revoked) != 3 || revoked[0].Detail != "replaced by a new sign-in" {
		t.Fatalf("previous session not revoked: %+v", revoked)
	}

	// A provider that puts the IdNat_PS only in preferred_username (the default's second choice).
	idnat2 := e.professional(t, 2, "G15_10", true)
	u := pscUser(idnat2, "10", "eidas1")
	delete(u.Claims, "SubjectNameID")
	e.users.set(u)
	p = e.signIn(newBrowser(t), "psc", idnat2, "")
	signedInAs(t, p, "/pro", "professional", "oidc:psc")
	if !strings.Contains(p.body, "idnat="+idnat2) {
		t.Fatalf("preferred_username not read: %s", p.body)
	}
	e.verifyLog(t)
}

func TestProfessionalRefused(t *testing.T) {
	e := newEnv(t, options{})
	known := e.professional(t, 1, "G15_10", true)
	nurse := e.professional(t, 2, "G15_60", true)
	noAccount := e.professional(t, 3, "G15_10", false)
	unknown := "8" + rpps(t, 4)

	for _, c := range []struct {
		name         string
		user         *opUser
		code, reason string
		onAccount    string // the IdNat_PS whose chain holds the refusal, "" for none
	}{
		{"unknown to the directory", pscUser(unknown, "10", "eidas1"), "professionnel-inconnu", "unknown_professional", ""},
		{"not an IdNat_PS", pscUser("ANS20231122132732", "10", "eidas1"), "professionnel-inconnu", "idnat_invalid", ""},
		{"no account", pscUser(noAccount, "10", "eidas1"), "sans-compte", "no_account", ""},
		{"another profession", pscUser(nurse, "10", "eidas1"), "profession", "profession_mismatch", nurse},
		{"no assurance level", pscUser(known, "10", ""), "niveau", "acr", ""},
		{"unknown assurance level", pscUser(known, "10", "loa1"), "niveau", "acr", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.users.set(c.user)
			p := e.signIn(newBrowser(t), "psc", c.user.Username, "")
			tr := e.refusedWith(t, p, http.StatusForbidden, c.code, c.reason)
			if c.onAccount != "" && (tr.Actor.Kind != audit.ActorProfessional || tr.Actor.ID != c.onAccount) {
				t.Fatalf("refusal not on the professional's chain: %+v", tr)
			}
			if c.onAccount == "" && tr.Actor.Kind != audit.ActorSystem {
				t.Fatalf("refusal on someone's chain: %+v", tr)
			}
			if !strings.Contains(p.body, "Pro Santé Connect") && c.code != "sans-compte" {
				t.Fatalf("the page does not name the provider: %s", p.body)
			}
		})
	}
	if n := len(e.traces(t, "auth.signin")); n != 0 {
		t.Fatalf("%d sessions opened by refused sign-ins", n)
	}
	e.verifyLog(t)
}

func TestInsufficientACR(t *testing.T) {
	e := newEnv(t, options{psc: func(p *oidc.Provider) { p.ACR = "eidas2" }})
	idnat := e.professional(t, 1, "G15_10", true)
	e.users.set(pscUser(idnat, "10", "eidas1"))
	p := e.signIn(newBrowser(t), "psc", idnat, "")
	e.refusedWith(t, p, http.StatusForbidden, "niveau", "acr")
	if got := e.op.lastACRAsked(); got != "eidas2" {
		t.Fatalf("acr_values sent: %q", got)
	}
	// A higher level than required is enough.
	e.users.set(pscUser(idnat, "10", "eidas3"))
	signedInAs(t, e.signIn(newBrowser(t), "psc", idnat, ""), "/pro", "professional", "oidc:psc")
}

func TestNoIdNatClaim(t *testing.T) {
	e := newEnv(t, options{psc: func(p *oidc.Provider) { p.Claims.IdNat = []string{"SubjectNameID"} }})
	u := pscUser("8"+rpps(t, 1), "10", "eidas1")
	delete(u.Claims, "SubjectNameID")
	e.users.set(u)
	e.refusedWith(t, e.signIn(newBrowser(t), "psc", u.Username, ""), http.StatusForbidden, "donnees", "no_idnat")
}

func TestProvisioning(t *testing.T) {
	t.Run("account", func(t *testing.T) {
		e := newEnv(t, options{psc: func(p *oidc.Provider) { p.Provision = oidc.ProvisionAccount }})
		idnat := e.professional(t, 1, "G15_10", false)
		e.users.set(pscUser(idnat, "10", "eidas1"))
		signedInAs(t, e.signIn(newBrowser(t), "psc", idnat, ""), "/pro", "professional", "oidc:psc")
		signedInAs(t, e.signIn(newBrowser(t), "psc", idnat, ""), "/pro", "professional", "oidc:psc")
		created := e.traces(t, "account.create")
		if len(created) != 1 || created[0].Actor.Kind != audit.ActorSystem || created[0].Actor.ID != "oidc:psc" {
			t.Fatalf("account creations: %+v", created)
		}
		// The account has no password: the provider is its only way in.
		login := strings.ToLower(idnat) + "@psc.oidc.invalid"
		if _, err := e.auth.SignIn(ctx, auth.Credentials{Identifier: login, Password: "", Client: auth.Client{Addr: "192.0.2.9"}}); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("password sign-in of a provisioned account: %v", err)
		}
		// Still nobody unknown to the directory.
		unknown := pscUser("8"+rpps(t, 9), "10", "eidas1")
		e.users.set(unknown)
		e.refusedWith(t, e.signIn(newBrowser(t), "psc", unknown.Username, ""), http.StatusForbidden, "professionnel-inconnu", "unknown_professional")
		e.verifyLog(t)
	})
	t.Run("directory", func(t *testing.T) {
		e := newEnv(t, options{psc: func(p *oidc.Provider) { p.Provision = oidc.ProvisionDirectory }})
		idnat := "8" + rpps(t, 5)
		e.users.set(pscUser(idnat, "10", "eidas1"))
		signedInAs(t, e.signIn(newBrowser(t), "psc", idnat, ""), "/pro", "professional", "oidc:psc")
		pros, err := e.accounts.Professionals(ctx, []string{idnat})
		if err != nil {
			t.Fatal(err)
		}
		pr := pros[idnat]
		if pr.Profession != "G15_10" || pr.Specialty != "SM26" || pr.FamilyName != "Martin" || pr.GivenName != "Claire" {
			t.Fatalf("recorded professional: %+v", pr)
		}
		if n := len(e.traces(t, "professional.create")); n != 1 {
			t.Fatalf("%d professional.create traces", n)
		}
		// A profession carnet does not know is not recorded.
		odd := pscUser("8"+rpps(t, 6), "99", "eidas1")
		e.users.set(odd)
		e.refusedWith(t, e.signIn(newBrowser(t), "psc", odd.Username, ""), http.StatusForbidden, "donnees", "no_profession")
		e.verifyLog(t)
	})
}

func TestPatientSignInAndLink(t *testing.T) {
	e := newEnv(t, options{})
	pid := e.patient(t, 1, "LEFEVRE", "Hélène Marie", "1980-05-12", space.Female, true)
	e.patient(t, 2, "LEFEVRE", "Anne", "1980-05-12", space.Female, true) // a sister born the same day
	e.users.set(fcUser("fc-sub-1", "Hélène Marie", "Lefèvre", "1980-05-12", "female"))
	b := newBrowser(t)

	p := e.signIn(b, "fc", "fc-sub-1", "")
	signedInAs(t, p, "/moi", "patient", "oidc:fc")
	if !strings.Contains(p.body, fmt.Sprintf("patient=%d", pid)) {
		t.Fatalf("matched the wrong patient: %s", p.body)
	}
	ext := e.lastExternal(t)
	if ext.Outcome != audit.Allowed || ext.PatientID != pid || !strings.Contains(ext.Detail, "by=traits matches=1") ||
		strings.Contains(ext.Detail, "LEF") || strings.Contains(ext.Detail, "1980") {
		t.Fatalf("sign-in trace: %+v", ext)
	}
	var links int
	if err := e.db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM oidc_links WHERE provider = 'fc' AND subject = 'fc-sub-1'`).Scan(&links); err != nil || links != 1 {
		t.Fatalf("link: %d, %v", links, err)
	}

	// The second sign-in goes by the link: traits the provider now writes differently (a
	// corrected civil status, say) do not matter any more.
	e.users.set(fcUser("fc-sub-1", "Hélène", "Lefèvre-Durand", "1980-05-12", "female"))
	p = e.signIn(b, "fc", "fc-sub-1", "/moi/documents")
	signedInAs(t, p, "/moi/documents", "patient", "oidc:fc")
	if ext := e.lastExternal(t); ext.PatientID != pid || !strings.Contains(ext.Detail, "by=link") {
		t.Fatalf("second sign-in trace: %+v", ext)
	}
	e.verifyLog(t)
}

func TestPatientRefused(t *testing.T) {
	e := newEnv(t, options{})
	marie := e.patient(t, 1, "DUPONT", "Marie Louise", "1979-03-05", space.Female, true)
	e.patient(t, 2, "MARTIN", "Jean", "1990-01-01", space.Male, true) // twins with the same first name,
	e.patient(t, 3, "MARTIN", "Jean Paul", "1990-01-01", space.Male, true)
	e.patient(t, 4, "BERNARD", "Luc", "2001-07-14", space.Male, false) // never activated
	e.users.set(fcUser("marie", "Marie Louise", "Dupont", "1979-03-05", "female"))
	signedInAs(t, e.signIn(newBrowser(t), "fc", "marie", ""), "/moi", "patient", "oidc:fc")

	for _, c := range []struct {
		name         string
		user         *opUser
		code, reason string
		onPatient    int64
	}{
		{"no space", fcUser("nobody", "Marie", "Dupont", "1979-03-06", "female"), "aucun-espace", "no_match", 0},
		{"another sex", fcUser("nobody2", "Marie", "Dupont", "1979-03-05", "male"), "aucun-espace", "no_match", 0},
		{"two spaces", fcUser("jean", "Jean", "Martin", "1990-01-01", "male"), "plusieurs-espaces", "ambiguous", 0},
		{"not activated", fcUser("luc", "Luc", "Bernard", "2001-07-14", "male"), "espace-non-active", "not_activated", 0},
		{"linked to another subject", fcUser("marie-bis", "Marie", "DUPONT", "1979-03-05", "female"), "deja-lie", "linked_elsewhere", marie},
		{"traits missing", &opUser{ID: "partial", Given: "Marie", Family: "Dupont"}, "donnees", "traits_missing", 0},
		{"UserInfo of another subject", otherSubject(fcUser("marie-ui", "Marie", "Dupont", "1979-03-05", "female")),
			"jeton", "userinfo_subject", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.users.set(c.user)
			status := http.StatusForbidden
			if c.code == "jeton" {
				status = http.StatusUnauthorized
			}
			tr := e.refusedWith(t, e.signIn(newBrowser(t), "fc", c.user.ID, ""), status, c.code, c.reason)
			if tr.PatientID != c.onPatient {
				t.Fatalf("refusal on patient %d, want %d: %+v", tr.PatientID, c.onPatient, tr)
			}
		})
	}
	e.verifyLog(t)
}

func TestClaimsComeFromUserInfo(t *testing.T) {
	// Without the UserInfo answer, the ID token alone does not carry the identity pivot (as
	// with FranceConnect), and the sign-in is refused rather than guessed.
	e := newEnv(t, options{fc: func(p *oidc.Provider) { p.SkipUserInfo = true }})
	e.patient(t, 1, "DUPONT", "Marie", "1979-03-05", space.Female, true)
	e.users.set(fcUser("marie", "Marie", "Dupont", "1979-03-05", "female"))
	e.refusedWith(t, e.signIn(newBrowser(t), "fc", "marie", ""), http.StatusForbidden, "donnees", "traits_missing")
}

func TestProtocolRefused(t *testing.T) {
	e := newEnv(t, options{cfg: func(c *oidc.Config) { c.StateTTL = 3 * time.Hour }})
	idnat := e.professional(t, 1, "G15_10", true)
	e.users.set(pscUser(idnat, "10", "eidas1"))
	onPath := func(path string, f func(u *url.URL)) func(u *url.URL) {
		return func(u *url.URL) {
			if strings.HasSuffix(u.Path, path) {
				f(u)
			}
		}
	}
	setParam := func(k, v string) func(u *url.URL) {
		return func(u *url.URL) { q := u.Query(); q.Set(k, v); u.RawQuery = q.Encode() }
	}

	t.Run("wrong state", func(t *testing.T) {
		b := newBrowser(t)
		b.tamper = onPath("/retour", setParam("state", "forged"))
		e.refusedWith(t, e.signIn(b, "psc", idnat, ""), http.StatusBadRequest, "etat", "state_mismatch")
	})
	t.Run("no flow cookie", func(t *testing.T) {
		b := newBrowser(t)
		b.tamper = onPath("/retour", func(*url.URL) {
			b.jar.SetCookies(mustURL(t, e.rpURL), []*http.Cookie{{Name: "carnet-oidc", Value: "", MaxAge: -1}})
		})
		e.refusedWith(t, e.signIn(b, "psc", idnat, ""), http.StatusBadRequest, "etat", "state_missing")
	})
	t.Run("forged flow cookie", func(t *testing.T) {
		b := newBrowser(t)
		b.tamper = onPath("/retour", func(*url.URL) {
			b.jar.SetCookies(mustURL(t, e.rpURL), []*http.Cookie{{Name: "carnet-oidc", Value: strings.Repeat("A", 120), Path: "/"}})
		})
		e.refusedWith(t, e.signIn(b, "psc", idnat, ""), http.StatusBadRequest, "etat", "state_invalid")
	})
	t.Run("callback of another provider", func(t *testing.T) {
		b := newBrowser(t)
		b.tamper = onPath("/psc/retour", func(u *url.URL) { u.Path = "/connexion/oidc/fc/retour" })
		e.refusedWith(t, e.signIn(b, "psc", idnat, ""), http.StatusBadRequest, "etat", "state_mismatch")
	})
	t.Run("replayed callback", func(t *testing.T) {
		b := newBrowser(t)
		var flowCookie []*http.Cookie
		b.tamper = onPath("/retour", func(*url.URL) { flowCookie = b.jar.Cookies(mustURL(t, e.rpURL)) })
		signedInAs(t, e.signIn(b, "psc", idnat, ""), "/pro", "professional", "oidc:psc")
		cb := b.callback("psc").String()
		b.tamper = nil
		// The flow cookie served once.
		e.refusedWith(t, b.visit(cb, idnat), http.StatusBadRequest, "etat", "state_missing")
		// Even with the cookie put back, the provider's code served once (RFC 6749 §4.1.2).
		var keep []*http.Cookie
		for _, c := range flowCookie {
			if c.Name == "carnet-oidc" {
				keep = append(keep, &http.Cookie{Name: c.Name, Value: c.Value, Path: "/"})
			}
		}
		if len(keep) != 1 {
			t.Fatalf("flow cookie not seen: %v", flowCookie)
		}
		b.jar.SetCookies(mustURL(t, e.rpURL), keep)
		e.refusedWith(t, b.visit(cb, idnat), http.StatusUnauthorized, "jeton", "code_refused")
	})
	t.Run("wrong nonce", func(t *testing.T) {
		// The authorization request is altered on its way to the provider: the ID token then
		// carries another nonce than the one this browser's flow holds.
		b := newBrowser(t)
		b.tamper = onPath("/auth", setParam("nonce", "attacker-nonce"))
		e.refusedWith(t, e.signIn(b, "psc", idnat, ""), http.StatusUnauthorized, "jeton", "nonce")
	})
	t.Run("wrong PKCE challenge", func(t *testing.T) {
		b := newBrowser(t)
		b.tamper = onPath("/auth", setParam("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"))
		e.refusedWith(t, e.signIn(b, "psc", idnat, ""), http.StatusUnauthorized, "jeton", "code_refused")
	})
	t.Run("provider error", func(t *testing.T) {
		// prompt=none with nobody signed in at the provider: it answers login_required.
		b := newBrowser(t)
		b.tamper = onPath("/auth", setParam("prompt", "none"))
		tr := e.refusedWith(t, e.signIn(b, "psc", idnat, ""), http.StatusUnauthorized, "refus-fournisseur", "provider_error")
		if !strings.Contains(tr.Detail, "error=login_required") {
			t.Fatalf("provider's error not traced: %+v", tr)
		}
	})
	t.Run("unknown provider", func(t *testing.T) {
		p := newBrowser(t).visit(e.rpURL+"/connexion/oidc/nope", "")
		if p.status != http.StatusNotFound || !strings.Contains(p.body, `data-code="fournisseur-inconnu"`) {
			t.Fatalf("unknown provider: %d %s", p.status, p.body)
		}
	})
	// Last: these move carnet's clock on for good (the provider's is the real one).
	t.Run("expired ID token", func(t *testing.T) {
		// The provider's ID tokens live an hour: carnet's clock is two hours on when the
		// browser comes back (the flow itself lives three here).
		b := newBrowser(t)
		b.tamper = onPath("/retour", func(*url.URL) { e.clock.Advance(2 * time.Hour) })
		e.refusedWith(t, e.signIn(b, "psc", idnat, ""), http.StatusUnauthorized, "jeton", "id_token_expired")
	})
	t.Run("expired flow", func(t *testing.T) {
		b := newBrowser(t)
		b.tamper = onPath("/retour", func(*url.URL) { e.clock.Advance(4 * time.Hour) })
		e.refusedWith(t, e.signIn(b, "psc", idnat, ""), http.StatusBadRequest, "etat", "state_expired")
	})
	if n := len(e.traces(t, "auth.signin")); n != 1 {
		t.Fatalf("%d sessions opened, want the replay test's one", n)
	}
	e.verifyLog(t)
}

func TestCallbackRateLimited(t *testing.T) {
	e := newEnv(t, options{authCfg: func(c *auth.Config) { c.Address.Free = 2 }})
	b := newBrowser(t)
	bad := e.rpURL + "/connexion/oidc/psc/retour?code=x&state=y"
	for i := 0; i < 2; i++ {
		e.refusedWith(t, b.visit(bad, ""), http.StatusBadRequest, "etat", "state_missing")
	}
	p := b.visit(bad, "")
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") != "1" || !strings.Contains(p.body, `data-code="trop-de-tentatives"`) {
		t.Fatalf("third failure from one address: %d %v %s", p.status, p.header, p.body)
	}
	if n := len(e.traces(t, "auth.external")); n != 2 {
		t.Fatalf("%d traces: a throttled attempt is refused before any work", n)
	}
}

// TestStart: the authorization request is a code flow with PKCE S256, a state, a nonce, the
// required acr; the flow cookie is HttpOnly, SameSite=Lax, bounded, __Host- and Secure
// outside development.
func TestStart(t *testing.T) {
	e := newEnv(t, options{})
	secure, err := oidc.New(oidc.Deps{Store: e.db.OIDC(), Auth: e.auth, HTTP: e.http, Clock: e.clock, Key: flowKey,
		Config: oidc.Config{Providers: []oidc.Provider{{Name: "psc", Label: "Pro Santé Connect", Kind: oidc.KindProfessional,
			Issuer: e.opURL, ClientID: "carnet-psc", ClientSecret: "psc-secret", Scopes: []string{"openid scope_all"},
			RedirectURL: "https://carnet.example/connexion/oidc/psc/retour", ACR: "eidas1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		svc            http.Handler
		cookie         string
		secure         bool
		redirectPrefix string
	}{
		{secure, oidc.FlowCookie, true, "https://carnet.example/"},
		{e.oidc, "carnet-oidc", false, e.rpURL},
	} {
		req := httptest.NewRequest(http.MethodGet, "/connexion/oidc/psc?retour=%2Fpro", nil)
		rec := httptest.NewRecorder()
		c.svc.ServeHTTP(rec, req)
		if rec.Code != http.StatusFound {
			t.Fatalf("start: %d %s", rec.Code, rec.Body)
		}
		loc, err := url.Parse(rec.Header().Get("Location"))
		if err != nil || !strings.HasPrefix(loc.String(), e.opURL+"/auth?") {
			t.Fatalf("location %v", loc)
		}
		q := loc.Query()
		if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 ||
			len(q.Get("state")) < 43 || len(q.Get("nonce")) < 43 || q.Get("acr_values") != "eidas1" ||
			!strings.HasPrefix(q.Get("scope"), "openid") || !strings.HasPrefix(q.Get("redirect_uri"), c.redirectPrefix) {
			t.Fatalf("authorization request: %v", q)
		}
		cookies := rec.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies: %v", cookies)
		}
		ck := cookies[0]
		if ck.Name != c.cookie || ck.Secure != c.secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" ||
			ck.MaxAge != 600 || strings.Contains(ck.Value, q.Get("state")) {
			t.Fatalf("flow cookie: %+v", ck)
		}
	}
}

// TestOnError: the portal may render refusals itself, here by sending the person back to its
// sign-in page with the message code.
func TestOnError(t *testing.T) {
	e := newEnv(t, options{})
	svc, err := oidc.New(oidc.Deps{Store: e.db.OIDC(), Auth: e.auth, HTTP: e.http, Clock: e.clock, Key: flowKey,
		Config: oidc.Config{Insecure: true}, OnError: func(w http.ResponseWriter, r *http.Request, f oidc.Failure) {
			http.Redirect(w, r, "/connexion?erreur=oidc-"+f.Code, http.StatusSeeOther)
		}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	svc.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/connexion/oidc/psc/retour?code=x&state=y", nil))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/connexion?erreur=oidc-fournisseur-inconnu" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	if len(svc.Providers()) != 0 || len(e.oidc.Providers()) != 2 || e.oidc.Providers()[0].StartURL != "/connexion/oidc/psc" {
		t.Fatalf("providers: %+v", e.oidc.Providers())
	}
}

// TestIssuerMismatch: a discovery document naming another issuer than the configured one is
// refused (OpenID Connect Discovery §4.3), and the person told the provider is unavailable.
func TestIssuerMismatch(t *testing.T) {
	e := newEnv(t, options{psc: func(p *oidc.Provider) { p.Issuer += "/" }})
	p := newBrowser(t).visit(e.rpURL+"/connexion/oidc/psc", "")
	if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, `data-code="indisponible"`) {
		t.Fatalf("%d %s", p.status, p.body)
	}
	if !strings.Contains(e.logs(), "oidc provider unreachable") {
		t.Fatalf("not logged: %s", e.logs())
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
