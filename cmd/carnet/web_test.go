package main

import (
	"io"
	"net/http"
	"net/smtp"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// carnet serve serves the pages at /, with the sign-in wired: the portal's own tests drive
// the pages; this one checks the wiring.
func TestServeServesThePages(t *testing.T) {
	s := startServe(t, dbArgs(t, t.TempDir()))
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := c.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	if res, body := get("/"); res.StatusCode != 200 || !strings.Contains(body, "Mon espace santé") ||
		!strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("home: %d %.200s", res.StatusCode, body)
	}
	if res, body := get("/connexion"); res.StatusCode != 200 || !strings.Contains(body, `name="mot_de_passe"`) {
		t.Fatalf("sign-in: %d %.200s", res.StatusCode, body)
	}
	if res, _ := get("/moi"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/connexion") {
		t.Fatalf("/moi without a session: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := get("/healthz"); res.StatusCode != 200 {
		t.Fatalf("healthz: %d", res.StatusCode)
	}
	if res, _ := get("/fhir/metadata"); res.StatusCode != 200 {
		t.Fatalf("FHIR metadata: %d", res.StatusCode)
	}
}

// With oidc_providers_file, the sign-in page offers each provider and its flow is mounted.
func TestServeOffersOIDCProviders(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "oidc.conf")
	if err := os.WriteFile(file, []byte("psc.kind = professional\npsc.label = Pro Santé Connect\npsc.issuer = http://127.0.0.1:1/realm\n"+
		"psc.client_id = carnet\npsc.client_secret = s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, append([]string{"--oidc-providers-file", file}, dbArgs(t, dir)...))
	res, err := http.Get(s.base + "/connexion")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), "Se connecter avec Pro Santé Connect") || !strings.Contains(string(b), `href="/connexion/oidc/psc?retour=`) {
		t.Fatalf("sign-in page: %.2000s", b)
	}
	// The flow is the OIDC service's, not a page of the portal: the provider being unreachable,
	// it answers with its own refusal, not the portal's 404.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err = c.Get(s.base + "/connexion/oidc/psc")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		t.Fatalf("the OIDC flow is not mounted: %d", res.StatusCode)
	}
}

// carnet serve starts the SMTP relay and submission listeners and says where they listen.
func TestServeStartsTheMailListeners(t *testing.T) {
	s := startServe(t, dbArgs(t, t.TempDir()))
	for _, ch := range []string{"relay", "submission"} {
		m := regexp.MustCompile(`carnet SMTP ` + ch + ` listening on (\S+)`).FindStringSubmatch(s.stdout.String())
		if m == nil {
			t.Fatalf("no %s listener printed:\n%s", ch, s.stdout.String())
		}
		c, err := smtp.Dial(m[1])
		if err != nil {
			t.Fatalf("%s: %v", ch, err)
		}
		if ok, _ := c.Extension("STARTTLS"); !ok {
			t.Errorf("%s offers no STARTTLS", ch)
		}
		c.Quit()
	}
}
