package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	w, err := New(Deps{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *http.Client, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

var ids = regexp.MustCompile(`\sid="([^"]+)"`)

// checkHTML checks what every page must be: a document in the language asked, with the
// landmarks, no duplicate id, no missing translation.
func checkHTML(t *testing.T, body, lang string) {
	t.Helper()
	if !strings.HasPrefix(body, "<!DOCTYPE html>") || !strings.Contains(body, `<html lang="`+lang+`"`) {
		t.Errorf("not an HTML document in %s: %.200s", lang, body)
	}
	for _, landmark := range []string{`role="banner"`, `role="main"`, `role="contentinfo"`, "<h1>"} {
		if !strings.Contains(body, landmark) {
			t.Errorf("page lacks %s", landmark)
		}
	}
	seen := map[string]bool{}
	for _, m := range ids.FindAllStringSubmatch(body, -1) {
		if seen[m[1]] {
			t.Errorf("duplicate id %q", m[1])
		}
		seen[m[1]] = true
	}
	if strings.Contains(body, `?home.`) || regexp.MustCompile(`\?[a-z]+\.[a-z.]+\?`).MatchString(body) {
		t.Errorf("a string is missing from the catalogue: %s", regexp.MustCompile(`\?[a-z]+\.[a-z.]+\?`).FindString(body))
	}
}

func TestHomeInFrenchAndEnglish(t *testing.T) {
	srv := newServer(t)
	res, body := get(t, srv.Client(), srv.URL+"/")
	if res.StatusCode != 200 || !strings.Contains(body, "Mon espace santé") || !strings.Contains(body, "Qui a consulté votre dossier") {
		t.Fatalf("home: %d %.300s", res.StatusCode, body)
	}
	checkHTML(t, body, "fr")
	h := res.Header
	for name, want := range map[string]string{
		"Content-Security-Policy": "script-src 'self'", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
		"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
	} {
		if !strings.Contains(h.Get(name), want) {
			t.Errorf("%s: %q, want %q", name, h.Get(name), want)
		}
	}
	if strings.Contains(h.Get("Content-Security-Policy"), "unsafe-inline") || h.Get("Strict-Transport-Security") != "" {
		t.Errorf("CSP %q / HSTS %q", h.Get("Content-Security-Policy"), h.Get("Strict-Transport-Security"))
	}
	if strings.Contains(body, "<script>") || regexp.MustCompile(`\son[a-z]+="`).MatchString(body) {
		t.Error("inline script in the page")
	}

	_, body = get(t, srv.Client(), srv.URL+"/", "Accept-Language", "en-GB,en;q=0.9,fr;q=0.5")
	if !strings.Contains(body, "Who read your record") {
		t.Fatalf("home in English: %.300s", body)
	}
	checkHTML(t, body, "en")
}

func TestLanguageSwitchStaysOnThisSite(t *testing.T) {
	srv := newServer(t)
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for retour, want := range map[string]string{"/documents": "/documents", "//evil.example/x": "/", "https://evil.example": "/", "/\\evil": "/"} {
		res, _ := get(t, c, srv.URL+"/langue/en?retour="+retour)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
			t.Errorf("retour %q: %d → %q, want %q", retour, res.StatusCode, res.Header.Get("Location"), want)
		}
		if ck := res.Cookies(); len(ck) != 1 || ck[0].Value != "en" || !ck[0].HttpOnly {
			t.Errorf("language cookie: %+v", ck)
		}
	}
	// The cookie wins over the browser's preference.
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("Accept-Language", "fr")
	req.AddCookie(&http.Cookie{Name: langCookie, Value: "en"})
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `<html lang="en"`) {
		t.Fatal("the language chosen is not kept")
	}
	if res, _ := get(t, c, srv.URL+"/langue/de"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown language: %d", res.StatusCode)
	}
}

func TestStaticFilesAndNotFound(t *testing.T) {
	srv := newServer(t)
	res, body := get(t, srv.Client(), srv.URL+"/static/test/dsfr/dsfr.min.css")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") ||
		!strings.Contains(res.Header.Get("Cache-Control"), "immutable") || len(body) < 100_000 {
		t.Fatalf("DSFR CSS: %d %s %s (%d bytes)", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"), len(body))
	}
	for _, p := range []string{"/static/test/", "/static/test/dsfr/../web.go", "/static/nothing", "/nulle-part"} {
		res, body := get(t, srv.Client(), srv.URL+p)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
		if p == "/nulle-part" {
			checkHTML(t, body, "fr")
		}
	}
}

// Every file a page links to is shipped (scripts/refresh-dsfr keeps them).
func TestLinkedStaticFilesExist(t *testing.T) {
	srv := newServer(t)
	_, body := get(t, srv.Client(), srv.URL+"/")
	for _, m := range regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(body, -1) {
		if res, _ := get(t, srv.Client(), srv.URL+m[1]); res.StatusCode != 200 {
			t.Errorf("%s: %d", m[1], res.StatusCode)
		}
	}
}

var tKeys = regexp.MustCompile(`\.T "([^"]+)"`)

// TestCatalogue: every string in both languages, every key a template uses in the catalogue.
func TestCatalogue(t *testing.T) {
	for k, v := range catalogue {
		if strings.TrimSpace(v[0]) == "" || strings.TrimSpace(v[1]) == "" {
			t.Errorf("%s lacks a language: %q", k, v)
		}
	}
	names, _ := fs.Glob(templateFS, "templates/*.html")
	for _, n := range names {
		b, _ := fs.ReadFile(templateFS, n)
		for _, m := range tKeys.FindAllStringSubmatch(string(b), -1) {
			if _, ok := catalogue[m[1]]; !ok {
				t.Errorf("%s uses %q, not in the catalogue", n, m[1])
			}
		}
	}
}
