package oidc_test

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/oidc"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// The provider side of these tests is a real OpenID provider: zitadel's OP implementation
// (github.com/zitadel/oidc/v3/pkg/op) with its example in-memory storage and login page,
// served over a real socket. The storage is wrapped only to give test users the claims and
// the assurance level (acr) of Pro Santé Connect and FranceConnect users.

var ctx = context.Background()

var operator = audit.Actor{Kind: audit.ActorOperator, ID: "op-1", Name: "Admin"}

var cheapParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32, MinLength: 12, MaxBytes: 1024}

var (
	authKey = []byte("auth-key-for-tests-32-bytes-long")
	codeKey = []byte("activation-code-key-32-bytes-abc")
	flowKey = []byte("oidc-flow-key-for-tests-32-bytes")
)

const userPassword = "verysecure"

// opUser is a person known to the test provider. Given and Family are the standard claims of
// the profile scope, which the example storage fills from its user.
type opUser struct {
	ID       string
	Username string // the login, and preferred_username; ID when empty
	Given    string // given_name and family_name (scope profile)
	Family   string
	ACR      string
	Claims   map[string]any // sent in the UserInfo answer, as Pro Santé Connect and FranceConnect do
	// UISubject, when set, is the UserInfo answer's subject instead of ID.
	UISubject string
}

// users is the provider's user store (storage.UserStore).
type users struct {
	mu sync.Mutex
	m  map[string]*opUser
}

func (u *users) get(id string) *opUser {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.m[id]
}

func (u *users) user(o *opUser) *storage.User {
	if o == nil {
		return nil
	}
	return &storage.User{ID: o.ID, Username: cmp.Or(o.Username, o.ID), Password: userPassword, FirstName: cmp.Or(o.Given, "Test"),
		LastName: cmp.Or(o.Family, "User"),
		Email:    o.ID + "@example.org", EmailVerified: true, PreferredLanguage: language.French}
}

func (u *users) GetUserByID(id string) *storage.User { return u.user(u.get(id)) }
func (u *users) GetUserByUsername(n string) *storage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, o := range u.m {
		if cmp.Or(o.Username, o.ID) == n {
			return u.user(o)
		}
	}
	return nil
}
func (u *users) ExampleClientID() string { return "service" }
func (u *users) set(o *opUser)           { u.mu.Lock(); u.m[o.ID] = o; u.mu.Unlock() }
func (u *users) claims(id string) (map[string]any, string) {
	o := u.get(id)
	return o.Claims, o.UISubject
}

// opStorage is the example storage with our users' acr and claims.
type opStorage struct {
	*storage.Storage
	users *users

	mu         sync.Mutex
	acrAsked   []string // the acr_values of each authorization request
	nonceAsked []string
}

// acrRequest is an authorization request whose acr is the user's.
type acrRequest struct {
	op.AuthRequest
	acr string
}

func (a acrRequest) GetACR() string { return a.acr }

func (s *opStorage) withACR(r op.AuthRequest, err error) (op.AuthRequest, error) {
	if err != nil {
		return r, err
	}
	if u := s.users.get(r.GetSubject()); u != nil {
		return acrRequest{AuthRequest: r, acr: u.ACR}, nil
	}
	return r, nil
}

func unwrap(r op.TokenRequest) op.TokenRequest {
	if a, ok := r.(acrRequest); ok {
		return a.AuthRequest
	}
	return r
}

func (s *opStorage) CreateAuthRequest(ctx context.Context, r *zoidc.AuthRequest, userID string) (op.AuthRequest, error) {
	s.mu.Lock()
	s.acrAsked = append(s.acrAsked, strings.Join(r.ACRValues, " "))
	s.nonceAsked = append(s.nonceAsked, r.Nonce)
	s.mu.Unlock()
	return s.Storage.CreateAuthRequest(ctx, r, userID)
}

func (s *opStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.withACR(s.Storage.AuthRequestByID(ctx, id))
}

func (s *opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	return s.withACR(s.Storage.AuthRequestByCode(ctx, code))
}

func (s *opStorage) CreateAccessToken(ctx context.Context, r op.TokenRequest) (string, time.Time, error) {
	return s.Storage.CreateAccessToken(ctx, unwrap(r))
}

func (s *opStorage) CreateAccessAndRefreshTokens(ctx context.Context, r op.TokenRequest, current string) (string, string, time.Time, error) {
	return s.Storage.CreateAccessAndRefreshTokens(ctx, unwrap(r), current)
}

func (s *opStorage) SetUserinfoFromToken(ctx context.Context, ui *zoidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	claims, sub := s.users.claims(ui.Subject)
	for k, v := range claims {
		ui.AppendClaims(k, v)
	}
	if sub != "" {
		ui.Subject = sub
	}
	return nil
}

func (s *opStorage) lastACRAsked() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.acrAsked) == 0 {
		return "<none>"
	}
	return s.acrAsked[len(s.acrAsked)-1]
}

// env is carnet (store, auth, oidc, a web server) and a provider, each on its own socket.
type env struct {
	db       *store.DB
	clock    *clock.Fake
	auth     *auth.Service
	http     *auth.HTTP
	oidc     *oidc.Service
	spaces   *space.Service
	accounts *account.Service
	users    *users
	op       *opStorage
	opURL    string
	rpURL    string
	log      *strings.Builder
	logMu    sync.Mutex
}

// options tune an env before it starts.
type options struct {
	psc, fc func(*oidc.Provider)
	cfg     func(*oidc.Config)
	authCfg func(*auth.Config)
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	e := &env{db: storetest.New(t), clock: clock.NewFake(time.Now().Truncate(time.Second)), users: &users{m: map[string]*opUser{}}}
	var err error
	if e.spaces, err = space.NewService(space.Deps{Store: e.db.Spaces(), Clock: e.clock, Policy: space.DefaultPolicy(),
		PublicURL: "https://carnet.example", CodeKey: codeKey}); err != nil {
		t.Fatal(err)
	}
	catalog, err := terminology.Default()
	if err != nil {
		t.Fatal(err)
	}
	if e.accounts, err = account.NewService(e.db.Accounts(), e.clock, cheapParams, catalog); err != nil {
		t.Fatal(err)
	}
	acfg := auth.DefaultConfig()
	acfg.ResetURL = "https://carnet.example/mot-de-passe/nouveau"
	if o.authCfg != nil {
		o.authCfg(&acfg)
	}
	if e.auth, err = auth.NewService(auth.Deps{Store: e.db.Auth(), Clock: e.clock, Key: authKey, CodeKey: codeKey,
		Password: cheapParams, Mail: discard{}, Config: acfg}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.auth.Close)
	if e.http, err = e.auth.HTTP(auth.HTTPOptions{Insecure: true}); err != nil {
		t.Fatal(err)
	}

	// Both servers listen before either is configured: each needs the other's address.
	opSrv := httptest.NewUnstartedServer(nil)
	rpSrv := httptest.NewUnstartedServer(nil)
	e.opURL, e.rpURL = "http://"+opSrv.Listener.Addr().String(), "http://"+rpSrv.Listener.Addr().String()
	clients := map[string]*storage.Client{
		"carnet-psc": storage.WebClient("carnet-psc", "psc-secret", e.rpURL+"/connexion/oidc/psc/retour"),
		"carnet-fc":  storage.WebClient("carnet-fc", "fc-secret", e.rpURL+"/connexion/oidc/fc/retour"),
	}
	e.op = &opStorage{Storage: storage.NewStorageWithClients(e.users, clients), users: e.users}
	opSrv.Config.Handler = exampleop.SetupServer(e.opURL, e.op, nil, false)
	opSrv.Start()
	t.Cleanup(opSrv.Close)

	psc := oidc.Provider{Name: "psc", Label: "Pro Santé Connect", Kind: oidc.KindProfessional, Issuer: e.opURL,
		ClientID: "carnet-psc", ClientSecret: "psc-secret", Scopes: []string{"openid", "profile"},
		RedirectURL: e.rpURL + "/connexion/oidc/psc/retour", ACR: "eidas1"}
	fc := oidc.Provider{Name: "fc", Label: "FranceConnect", Kind: oidc.KindPatient, Issuer: e.opURL,
		ClientID: "carnet-fc", ClientSecret: "fc-secret", Scopes: []string{"openid profile"},
		RedirectURL: e.rpURL + "/connexion/oidc/fc/retour"}
	if o.psc != nil {
		o.psc(&psc)
	}
	if o.fc != nil {
		o.fc(&fc)
	}
	cfg := oidc.Config{Providers: []oidc.Provider{psc, fc}, Insecure: true}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	e.log = &strings.Builder{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("carnet's log:\n%s", e.logs())
		}
	})
	if e.oidc, err = oidc.New(oidc.Deps{Store: e.db.OIDC(), Auth: e.auth, HTTP: e.http, Clock: e.clock, Key: flowKey,
		Professions: catalog, Log: slog.New(slog.NewTextHandler(lockedWriter{e}, nil)), Config: cfg}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /connexion/oidc/", e.oidc)
	who := func(w http.ResponseWriter, r *http.Request) {
		id, ok := auth.FromContext(r.Context())
		if !ok {
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "path=%s kind=%s account=%d idnat=%s patient=%d method=%s", r.URL.Path, id.Kind, id.AccountID, id.IdNat,
			id.PatientID, id.Session.Method)
	}
	mux.HandleFunc("GET /moi", who)
	mux.HandleFunc("GET /pro", who)
	mux.HandleFunc("GET /moi/documents", who)
	rpSrv.Config.Handler = e.http.Middleware(mux)
	rpSrv.Start()
	t.Cleanup(rpSrv.Close)
	return e
}

type lockedWriter struct{ e *env }

func (l lockedWriter) Write(p []byte) (int, error) {
	l.e.logMu.Lock()
	defer l.e.logMu.Unlock()
	return l.e.log.Write(p)
}

func (e *env) logs() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.log.String()
}

type discard struct{}

func (discard) Send(context.Context, notify.Message) error { return nil }

// rpps returns the n-th valid test RPPS (11 digits).
func rpps(t testing.TB, n int) string {
	t.Helper()
	base := fmt.Sprintf("1999%06d", n)
	for k := 0; k <= 9; k++ {
		if r, err := identity.ParseRPPS(base + strconv.Itoa(k)); err == nil {
			return string(r)
		}
	}
	t.Fatalf("no key for RPPS %s", base)
	return ""
}

// professional records a professional in carnet's directory, with an account when withAccount;
// it returns the IdNat_PS.
func (e *env) professional(t testing.TB, n int, profession string, withAccount bool) string {
	t.Helper()
	idnat, err := identity.ParseIdNatPS("8" + rpps(t, n))
	if err != nil {
		t.Fatal(err)
	}
	by := account.By{Actor: operator, Channel: audit.ChannelCLI}
	p, err := e.accounts.CreateProfessional(ctx, by, account.Professional{IdNat: idnat, FamilyName: "Martin", GivenName: "Claire",
		Profession: profession})
	if err != nil {
		t.Fatal(err)
	}
	if withAccount {
		if _, err := e.accounts.CreateAccount(ctx, by, account.NewAccount{Kind: account.KindProfessional,
			Login: fmt.Sprintf("pro%d@example.fr", n), DisplayName: "Claire Martin", Password: "correct horse battery", ProfessionalID: p.ID}); err != nil {
			t.Fatal(err)
		}
	}
	return idnat.String()
}

// testINS returns the seq-th valid test INS.
func testINS(t testing.TB, seq int) identity.INS {
	t.Helper()
	nir13 := fmt.Sprintf("2%02d%02d75%06d", 80, 5, seq)
	n, _ := strconv.ParseInt(nir13, 10, 64)
	ins, err := identity.NewINS(fmt.Sprintf("%s%02d", nir13, 97-n%97), identity.OIDTestNIR)
	if err != nil {
		t.Fatal(err)
	}
	return ins
}

// patient creates a space with the traits given (activated, with an account, when activate)
// and returns the patient's id.
func (e *env) patient(t testing.TB, seq int, birthName, givenNames, born string, sex space.Sex, activate bool) int64 {
	t.Helper()
	ins := testINS(t, seq)
	birth, err := time.Parse(space.DateLayout, born)
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.spaces.Create(ctx, space.By{Actor: operator, Channel: audit.ChannelCLI}, space.NewSpace{Patient: space.Patient{
		INS: ins, BirthName: birthName, GivenNames: givenNames, BirthDate: birth, Sex: sex}})
	if err != nil {
		t.Fatal(err)
	}
	if activate {
		if _, err := e.auth.Activate(ctx, auth.Activation{INS: ins.Matricule, Code: c.ActivationCode,
			Email: fmt.Sprintf("patient%d@example.fr", seq), Password: "correct horse battery", Client: auth.Client{Addr: "192.0.2.1"}}); err != nil {
			t.Fatal(err)
		}
	}
	return c.Space.PatientID
}

// browser is an HTTP client with a cookie jar that follows redirects itself, so that a test
// can look at (and tamper with) every address visited, as an attacker in the middle might.
type browser struct {
	t      *testing.T
	jar    *cookiejar.Jar
	c      *http.Client
	tamper func(u *url.URL) // called on every address before it is requested
	seen   []*url.URL
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, jar: jar, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var loginID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// page is where a browser ended up.
type page struct {
	status int
	url    *url.URL
	body   string
	header http.Header
}

// visit requests rawURL, follows redirects, fills the provider's login form as user when it
// shows, and returns the page it ends on.
func (b *browser) visit(rawURL, user string) page {
	b.t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		b.t.Fatal(err)
	}
	var req *http.Request
	for hops := 0; hops < 20; hops++ {
		if req == nil {
			if b.tamper != nil {
				b.tamper(u)
			}
			b.seen = append(b.seen, u)
			req, _ = http.NewRequest(http.MethodGet, u.String(), nil)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		req = nil
		if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
			if u, err = resp.Request.URL.Parse(loc); err != nil {
				b.t.Fatal(err)
			}
			continue
		}
		if m := loginID.FindStringSubmatch(string(body)); m != nil && strings.HasPrefix(resp.Request.URL.Path, "/login/") {
			// The provider's login page: a form post, as a person would send it.
			form := url.Values{"id": {m[1]}, "username": {user}, "password": {userPassword}}
			action, _ := resp.Request.URL.Parse("/login/username")
			req, _ = http.NewRequest(http.MethodPost, action.String(), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			continue
		}
		return page{status: resp.StatusCode, url: resp.Request.URL, body: string(body), header: resp.Header}
	}
	b.t.Fatal("too many redirects")
	return page{}
}

// callback returns the last visit of the callback of provider.
func (b *browser) callback(provider string) *url.URL {
	for i := len(b.seen) - 1; i >= 0; i-- {
		if b.seen[i].Path == "/connexion/oidc/"+provider+"/retour" {
			return b.seen[i]
		}
	}
	b.t.Fatalf("no callback of %s visited", provider)
	return nil
}

// signIn starts a sign-in with provider as user and returns the page it ends on.
func (e *env) signIn(b *browser, provider, user, retour string) page {
	start := e.rpURL + "/connexion/oidc/" + provider
	if retour != "" {
		start += "?retour=" + url.QueryEscape(retour)
	}
	return b.visit(start, user)
}

// traces returns the traces whose action starts with prefix, in order.
func (e *env) traces(t testing.TB, prefix string) []audit.Entry {
	t.Helper()
	rows, err := e.db.SQL().QueryContext(ctx, `SELECT actor_kind, actor_id, action, COALESCE(patient_id, 0), object, outcome,
		reason, detail FROM traces WHERE action LIKE $1 ORDER BY id`, prefix+"%")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var en audit.Entry
		if err := rows.Scan(&en.Actor.Kind, &en.Actor.ID, &en.Action, &en.PatientID, &en.Object, &en.Outcome, &en.Reason,
			&en.Detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, en)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lastExternal returns the last auth.external trace.
func (e *env) lastExternal(t testing.TB) audit.Entry {
	t.Helper()
	trs := e.traces(t, "auth.external")
	if len(trs) == 0 {
		t.Fatal("no auth.external trace")
	}
	return trs[len(trs)-1]
}

func (e *env) verifyLog(t testing.TB) {
	t.Helper()
	res, err := e.db.VerifyTraces(ctx, storetest.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("trace log does not verify: %+v", res)
	}
}

// refusedWith checks a page is the refusal page of code, and that the refusal was traced
// with reason.
func (e *env) refusedWith(t *testing.T, p page, status int, code, reason string) audit.Entry {
	t.Helper()
	if p.status != status || !strings.Contains(p.body, `data-code="`+code+`"`) {
		t.Fatalf("want a %d refusal %q, got %d at %s: %s", status, code, p.status, p.url, p.body)
	}
	tr := e.lastExternal(t)
	if tr.Outcome != audit.Denied || tr.Reason != reason {
		t.Fatalf("want a denied auth.external trace %q, got %+v", reason, tr)
	}
	return tr
}
