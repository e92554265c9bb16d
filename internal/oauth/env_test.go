package oauth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/fhir"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/oauth"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/trail"
)

var ctx = context.Background()

var operator = audit.Actor{Kind: audit.ActorOperator, ID: "1", Name: "ops"}

// env is the OAuth server and the FHIR API on one real HTTP server, over a real store, with a
// stand-in for the session layer: /test/signin signs the browser in as env.who.
type env struct {
	*recordtest.Env
	t        testing.TB
	srv      *httptest.Server
	oauth    *oauth.Server
	registry *oauth.Registry

	mu       sync.Mutex
	who      access.Actor            // whom the next /test/signin signs in
	sessions map[string]access.Actor // session cookie → actor
	callback url.Values              // last query the app's redirect URI received
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	e := &env{Env: recordtest.New(tb), t: tb, sessions: map[string]access.Actor{}}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	tb.Cleanup(e.srv.Close)
	tokens := apitoken.NewService(e.DB.Tokens(), e.Clock)
	m, err := access.DefaultMatrix()
	if err != nil {
		tb.Fatal(err)
	}
	tr, err := trail.NewService(e.DB.Trail(), e.Access, m)
	if err != nil {
		tb.Fatal(err)
	}
	api := fhir.New(fhir.Deps{Records: e.Records, Tokens: tokens, Catalog: e.Catalog, Trail: tr, BaseURL: e.srv.URL + "/fhir", Version: "test"})
	key := make([]byte, 32)
	rand.Read(key)
	e.oauth, err = oauth.New(oauth.Config{Issuer: e.srv.URL, ConsentKey: key}, oauth.Deps{
		Store: e.DB.OAuth(), Clock: e.Clock, Catalog: e.Catalog, SignedIn: e.signedIn,
		SignIn: func(w http.ResponseWriter, r *http.Request, returnTo string) {
			http.Redirect(w, r, "/test/signin?return="+url.QueryEscape(returnTo), http.StatusFound)
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	e.registry = e.oauth.Registry()
	mux.Handle("/fhir/", api)
	for _, p := range oauth.Paths() {
		mux.Handle(p, e.oauth)
	}
	mux.HandleFunc("/test/signin", e.signIn)
	mux.HandleFunc("/app/", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.callback = r.URL.Query()
		e.mu.Unlock()
		io.WriteString(w, "app callback")
	})
	return e
}

func (e *env) signedIn(r *http.Request) (access.Actor, bool) {
	c, err := r.Cookie("sid")
	if err != nil {
		return access.Actor{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.sessions[c.Value]
	return a, ok
}

func (e *env) signIn(w http.ResponseWriter, r *http.Request) {
	ret := r.URL.Query().Get("return")
	if !strings.HasPrefix(ret, "/") || strings.HasPrefix(ret, "//") {
		http.Error(w, "bad return", http.StatusBadRequest)
		return
	}
	sid := rand.Text()
	e.mu.Lock()
	e.sessions[sid] = e.who
	e.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, ret, http.StatusFound)
}

// patient stores patient seq with an open space and a consultation report (class 10) by a
// doctor; it returns the patient's id and INS.
func (e *env) patient(seq int) (int64, identity.INS) {
	e.t.Helper()
	ins := recordtest.TestINS(e.t, seq)
	pid := e.Patient(e.t, ins)
	if _, err := e.Records.Deposit(ctx, recordtest.Doctor(recordtest.RPPS(e.t, 900+seq)), recordtest.Report(ins, "CR"),
		recordtest.PDF(2<<10, seq)); err != nil {
		e.t.Fatal(err)
	}
	return pid, ins
}

// holder is the patient signed in on the portal.
func holder(pid int64) access.Actor {
	return access.Actor{Kind: audit.ActorPatient, ID: fmt.Sprintf("account-%d", pid), Name: "Marie Dupont", PatientID: pid}
}

// professional records professional n and returns their IdNat_PS and id.
func (e *env) professional(n int) (string, int64) {
	e.t.Helper()
	idnat := recordtest.RPPS(e.t, n)
	id, err := identity.ParseIdNatPS(idnat)
	if err != nil {
		e.t.Fatal(err)
	}
	p := account.Professional{IdNat: id, FamilyName: "MARTIN", GivenName: "Paul", Profession: "G15_10", Specialty: "SM54", CreatedAt: e.Clock.Now()}
	if err := e.DB.Update(ctx, func(tx *store.Tx) error { return tx.InsertProfessional(ctx, &p) }); err != nil {
		e.t.Fatal(err)
	}
	return idnat, p.ID
}

// register registers c and returns it with its secret.
func (e *env) register(c oauth.Client) (oauth.Client, string) {
	e.t.Helper()
	c, secret, err := e.registry.Register(ctx, operator, audit.ChannelCLI, c)
	if err != nil {
		e.t.Fatalf("register %s: %v", c.ID, err)
	}
	return c, secret
}

// app registers a patient app with refresh tokens.
func (e *env) app(id string, typ oauth.ClientType, scope string) (oauth.Client, string) {
	return e.register(oauth.Client{ID: id, Name: "Suivi Tension", Type: typ, Scope: scope,
		GrantTypes:   []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		RedirectURIs: []string{e.srv.URL + "/app/callback", e.srv.URL + "/app/other"}})
}

// browser is a user agent with a cookie jar that does not follow redirects to the app, so
// that the test sees them.
func (e *env) browser() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.Path, "/app/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

type page struct {
	status int
	header http.Header
	body   string
	loc    *url.URL // a redirect's Location
}

func (e *env) get(c *http.Client, u string) page {
	e.t.Helper()
	res, err := c.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	return readPage(e.t, res)
}

func readPage(tb testing.TB, res *http.Response) page {
	tb.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	p := page{status: res.StatusCode, header: res.Header, body: string(b)}
	if loc := res.Header.Get("Location"); loc != "" {
		p.loc, err = url.Parse(loc)
		if err != nil {
			tb.Fatal(err)
		}
	}
	return p
}

var (
	hiddenRE   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	checkboxRE = regexp.MustCompile(`<input type="checkbox" id="[^"]+" name="(perm|category)" value="([^"]+)" checked>`)
)

// consentForm reads the consent page's form: hidden fields and ticked boxes.
func consentForm(tb testing.TB, p page) url.Values {
	tb.Helper()
	if p.status != http.StatusOK || !strings.Contains(p.body, `<html lang="fr">`) {
		tb.Fatalf("not the consent page (%d): %s", p.status, p.body)
	}
	f := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	for _, m := range checkboxRE.FindAllStringSubmatch(p.body, -1) {
		f.Add(m[1], html.UnescapeString(m[2]))
	}
	return f
}

// approve opens authURL in browser b as e.who, ticks what f changes (when given) and submits
// decision; it returns the redirect to the app.
func (e *env) approve(b *http.Client, authURL, decision string, edit func(url.Values)) page {
	e.t.Helper()
	f := consentForm(e.t, e.get(b, authURL))
	if edit != nil {
		edit(f)
	}
	f.Set("decision", decision)
	res, err := b.PostForm(e.srv.URL+"/oauth/authorize", f)
	if err != nil {
		e.t.Fatal(err)
	}
	p := readPage(e.t, res)
	if p.status != http.StatusSeeOther || p.loc == nil {
		e.t.Fatalf("consent answered %d: %s", p.status, p.body)
	}
	return p
}

// post sends a form to an endpoint, with Basic credentials when id is set.
func (e *env) post(path, id, secret string, form url.Values) (int, http.Header, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			e.t.Fatalf("%s answered %d, not JSON: %s", path, res.StatusCode, b)
		}
	}
	return res.StatusCode, res.Header, m
}

// fhirGet calls the FHIR API with a bearer token and returns the status and body.
func (e *env) fhirGet(token, path string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+"/fhir"+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	p := readPage(e.t, res)
	return p.status, p.body
}

// total reads a searchset's total.
func total(tb testing.TB, body string) int {
	tb.Helper()
	var b struct {
		Total *int `json:"total"`
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil || b.Total == nil {
		tb.Fatalf("not a searchset with a total: %s", body)
	}
	return *b.Total
}

// traces returns the traces of a chain's actor or patient as "action outcome reason object
// detail" lines.
func (e *env) traces(where string, arg any) []string {
	e.t.Helper()
	rows, err := e.DB.SQL().Query(`SELECT action, outcome, reason, object, detail FROM traces WHERE `+where+` ORDER BY id`, arg)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, o, r, obj, d string
		if err := rows.Scan(&a, &o, &r, &obj, &d); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, strings.Join([]string{a, o, r, obj, d}, " "))
	}
	return out
}

func countMatching(lines []string, parts ...string) int {
	n := 0
	for _, l := range lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			n++
		}
	}
	return n
}

func doctorReq(idnat string) record.Request { return recordtest.Doctor(idnat) }

func reportFor(ins identity.INS) record.Deposit { return recordtest.Report(ins, "CR du Dr Martin") }

func pdf(seed int) []byte { return recordtest.PDF(2<<10, 100+seed) }
