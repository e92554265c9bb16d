package main

import (
	"io"
	"net/http"
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
