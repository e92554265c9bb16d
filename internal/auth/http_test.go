package auth_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
)

// portal is the smallest web front the helpers serve: what the portal issue will build with
// pages instead of plain text.
func portal(t *testing.T, e *env) http.Handler {
	t.Helper()
	h, err := e.svc.HTTP(auth.HTTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fail := func(w http.ResponseWriter, err error) {
		if d, ok := auth.RetryAfter(err); ok {
			w.Header().Set("Retry-After", auth.RetryAfterHeader(d))
			http.Error(w, errs.MessageOf(err), http.StatusTooManyRequests)
			return
		}
		code := map[errs.Code]int{errs.Invalid: 400, errs.Unauthenticated: 401, errs.Forbidden: 403, errs.NotFound: 404}[errs.CodeOf(err)]
		if code == 0 {
			code = 500
		}
		http.Error(w, errs.MessageOf(err), code)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /signin", func(w http.ResponseWriter, r *http.Request) {
		p, err := e.svc.SignIn(r.Context(), auth.Credentials{Identifier: r.PostFormValue("identifier"),
			Password: r.PostFormValue("password"), Client: h.Client(r)})
		if err != nil {
			fail(w, err)
			return
		}
		h.SetChallenge(w, p)
		io.WriteString(w, "code sent to "+p.Prompt.Destination)
	})
	mux.HandleFunc("POST /signin/code", func(w http.ResponseWriter, r *http.Request) {
		si, err := e.svc.CompleteSignIn(r.Context(), auth.Proof{Challenge: h.ChallengeToken(r), Response: r.PostFormValue("code"),
			Previous: h.SessionToken(r), Client: h.Client(r)})
		if err != nil {
			fail(w, err)
			return
		}
		h.ClearChallenge(w)
		h.SetSession(w, si)
		io.WriteString(w, "welcome")
	})
	mux.Handle("GET /notes", h.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.FromContext(r.Context())
		io.WriteString(w, id.DisplayName+"\n"+auth.CSRFToken(r))
	})))
	mux.Handle("POST /notes", h.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "saved "+r.PostFormValue("note"))
	})))
	mux.Handle("POST /signout-everywhere", h.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.FromContext(r.Context())
		if _, err := e.svc.SignOutEverywhere(r.Context(), id, h.Client(r)); err != nil {
			fail(w, err)
			return
		}
		h.ClearSession(w)
		io.WriteString(w, "signed out everywhere")
	})))
	return h.Middleware(h.CSRF(mux))
}

type browser struct {
	t   *testing.T
	c   *http.Client
	url string
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *srv.Client() // a copy: each browser its own jar
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, c: &c, url: srv.URL}
}

func (b *browser) do(method, path string, form url.Values, header http.Header) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, strings.TrimSpace(string(body))
}

func (b *browser) signIn(e *env, identifier, mailTo string) *http.Response {
	b.t.Helper()
	resp, body := b.do("POST", "/signin", url.Values{"identifier": {identifier}, "password": {goodPassword}}, nil)
	if resp.StatusCode != 200 {
		b.t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	resp, body = b.do("POST", "/signin/code", url.Values{"code": {e.mail.lastCode(b.t, mailTo)}}, nil)
	if resp.StatusCode != 200 {
		b.t.Fatalf("code: %d %s", resp.StatusCode, body)
	}
	return resp
}

// TestHTTPFlow drives the helpers with a real client over TLS: sign-in, code, session cookie,
// a CSRF-protected form, and "sign out everywhere" ending a second device's session too.
func TestHTTPFlow(t *testing.T) {
	e := newEnv(t, cheapParams)
	e.patient(t, 1, "marie@example.fr", "")
	srv := httptest.NewTLSServer(portal(t, e))
	defer srv.Close()
	laptop, phone := newBrowser(t, srv), newBrowser(t, srv)

	if resp, _ := laptop.do("GET", "/notes", nil, nil); resp.StatusCode != 401 {
		t.Fatalf("anonymous: %d", resp.StatusCode)
	}
	resp, body := laptop.do("POST", "/signin", url.Values{"identifier": {"marie@example.fr"}, "password": {"wrong password"}}, nil)
	if resp.StatusCode != 401 || body != "unknown identifier or wrong password" {
		t.Fatalf("wrong password: %d %q", resp.StatusCode, body)
	}
	resp = laptop.signIn(e, "marie@example.fr", "marie@example.fr")
	var setCookie string
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, auth.SessionCookie+"=") {
			setCookie = c
		}
	}
	for _, attr := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(setCookie, attr) {
			t.Fatalf("session cookie %q lacks %s", setCookie, attr)
		}
	}
	if strings.Contains(setCookie, "Domain=") || strings.Contains(setCookie, "Max-Age") {
		t.Fatalf("session cookie %q: no Domain (__Host-), no Max-Age (ends with the browser)", setCookie)
	}
	phone.signIn(e, "marie@example.fr", "marie@example.fr")

	resp, body = laptop.do("GET", "/notes", nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "Marie DUPONT\n") {
		t.Fatalf("signed in: %d %q", resp.StatusCode, body)
	}
	token := strings.SplitN(body, "\n", 2)[1]

	// A token one character off (never the token itself, whatever its last character).
	last := byte('A')
	if token[len(token)-1] == 'A' {
		last = 'B'
	}
	wrong := token[:len(token)-1] + string(last)
	// The form needs the session's token; a cross-site post is refused before it.
	for name, c := range map[string]struct {
		form   url.Values
		header http.Header
		want   int
	}{
		"no token":        {url.Values{"note": {"x"}}, nil, 403},
		"wrong token":     {url.Values{"note": {"x"}, auth.CSRFField: {wrong}}, nil, 403},
		"cross-site":      {url.Values{"note": {"x"}, auth.CSRFField: {token}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
		"foreign origin":  {url.Values{"note": {"x"}, auth.CSRFField: {token}}, http.Header{"Origin": {"https://evil.example"}}, 403},
		"token in form":   {url.Values{"note": {"x"}, auth.CSRFField: {token}}, nil, 200},
		"token in header": {url.Values{"note": {"x"}}, http.Header{auth.CSRFHeader: {token}}, 200},
	} {
		if resp, body := laptop.do("POST", "/notes", c.form, c.header); resp.StatusCode != c.want {
			t.Errorf("%s: %d %q, want %d", name, resp.StatusCode, body, c.want)
		}
	}
	// Another session's token is worth nothing here.
	_, phoneBody := phone.do("GET", "/notes", nil, nil)
	phoneToken := strings.SplitN(phoneBody, "\n", 2)[1]
	if phoneToken == token {
		t.Fatal("two sessions share a CSRF token")
	}
	if resp, _ := laptop.do("POST", "/notes", url.Values{auth.CSRFField: {phoneToken}}, nil); resp.StatusCode != 403 {
		t.Fatalf("another session's token: %d", resp.StatusCode)
	}

	if resp, body := laptop.do("POST", "/signout-everywhere", url.Values{}, nil); resp.StatusCode != 403 {
		t.Fatalf("sign out everywhere without a token: %d %q", resp.StatusCode, body)
	}
	if resp, body := laptop.do("POST", "/signout-everywhere", url.Values{auth.CSRFField: {token}}, nil); resp.StatusCode != 200 {
		t.Fatalf("sign out everywhere: %d %q", resp.StatusCode, body)
	}
	for name, b := range map[string]*browser{"laptop": laptop, "phone": phone} {
		if resp, _ := b.do("GET", "/notes", nil, nil); resp.StatusCode != 401 {
			t.Fatalf("%s still signed in: %d", name, resp.StatusCode)
		}
	}
	u, _ := url.Parse(srv.URL)
	for _, c := range phone.c.Jar.Cookies(u) {
		if c.Name == auth.SessionCookie {
			t.Fatal("the ended session's cookie was not removed")
		}
	}
}

// TestHTTPThrottleAnswer: a throttled sign-in is 429 with Retry-After.
func TestHTTPThrottleAnswer(t *testing.T) {
	e := newEnv(t, cheapParams)
	srv := httptest.NewTLSServer(portal(t, e))
	defer srv.Close()
	b := newBrowser(t, srv)
	var resp *http.Response
	for i := 0; i <= e.cfg.Identifier.Free; i++ {
		resp, _ = b.do("POST", "/signin", url.Values{"identifier": {"someone@example.fr"}, "password": {"guess"}}, nil)
	}
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("throttled: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
