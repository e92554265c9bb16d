package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/archive/archivetest"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	appcat "github.com/carnet-sante/carnet/internal/catalogue"
	"github.com/carnet-sante/carnet/internal/fhir"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/oauth"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/trail"
)

// appsPortal is the whole stack on one real HTTP server, over a real store: the pages with the
// real sign-in, the OAuth server behind the session middleware (as carnet serve mounts it,
// with the catalogue as its gate), and the FHIR API with the medical profile.
type appsPortal struct {
	*portal
	apps *appcat.Service
}

func newAppsPortal(t *testing.T) *appsPortal {
	t.Helper()
	e := recordtest.New(t)
	p := &portal{Env: e, mail: &outbox{}}
	codeKey := bytes.Repeat([]byte{9}, 32)
	var err error
	p.spaces, err = space.NewService(space.Deps{Store: e.DB.Spaces(), Clock: e.Clock, Policy: space.DefaultPolicy(),
		PublicURL: "https://carnet.test", CodeKey: codeKey})
	if err != nil {
		t.Fatal(err)
	}
	if p.accounts, err = account.NewService(e.DB.Accounts(), e.Clock, cheapParams, e.Catalog); err != nil {
		t.Fatal(err)
	}
	cfg := auth.DefaultConfig()
	cfg.ResetURL = "https://carnet.test/mot-de-passe/nouveau"
	svc, err := auth.NewService(auth.Deps{Store: e.DB.Auth(), Clock: e.Clock, Key: testKey, CodeKey: codeKey, Password: cheapParams,
		Mail: p.mail, Config: cfg, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	h, err := svc.HTTP(auth.HTTPOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	arch, tr := archivetest.New(t, e)
	medical, err := profile.NewService(profile.Deps{Store: e.DB.Profile(), Access: e.Access, Catalog: e.Catalog, Clock: e.Clock})
	if err != nil {
		t.Fatal(err)
	}
	apps := appcat.NewService(e.DB.Catalogue(), e.Clock, e.Catalog, oauth.NewRegistry(e.DB.OAuth(), e.Clock, e.Catalog))
	w, err := New(Deps{Auth: svc, HTTP: h, Records: e.Records, Trail: tr, Archive: arch, Spaces: p.spaces, SpaceLife: p.spaces,
		Representation: p.spaces, Access: e.Access, Matrices: access.NewMatrices(e.DB.Matrices(), e.Clock), Directory: p.accounts,
		Catalog: e.Catalog, Clock: e.Clock, Apps: apps})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	m, err := access.DefaultMatrix()
	if err != nil {
		t.Fatal(err)
	}
	fhirTrail, err := trail.NewService(e.DB.Trail(), e.Access, m)
	if err != nil {
		t.Fatal(err)
	}
	api := fhir.New(fhir.Deps{Records: e.Records, Tokens: apitoken.NewService(e.DB.Tokens(), e.Clock), Catalog: e.Catalog,
		Trail: fhirTrail, Profile: medical, Exporter: arch, BaseURL: p.srv.URL + "/fhir", Version: "test"})
	key := make([]byte, 32)
	rand.Read(key)
	as, err := oauth.New(oauth.Config{Issuer: p.srv.URL, ConsentKey: key}, oauth.Deps{Store: e.DB.OAuth(), Clock: e.Clock,
		Catalog: e.Catalog, Describe: apps.Description,
		SignedIn: func(r *http.Request) (access.Actor, bool) {
			id, ok := auth.FromContext(r.Context())
			if !ok || id.Kind != account.KindPatient {
				return access.Actor{}, false
			}
			return id.Actor(), true
		},
		SignIn: func(w http.ResponseWriter, r *http.Request, returnTo string) {
			http.Redirect(w, r, "/connexion?"+url.Values{"retour": {returnTo}}.Encode(), http.StatusSeeOther)
		}})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", w)
	mux.Handle("/fhir/", api)
	for _, path := range oauth.Paths() {
		mux.Handle(path, h.Middleware(as))
	}
	mux.Handle("GET /fhir/.well-known/smart-configuration", as.SmartConfiguration())
	// The app's own page, where the browser lands after the consent (the browser test).
	mux.HandleFunc("GET /app/callback", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "app callback")
	})
	return &appsPortal{portal: p, apps: apps}
}

// patientSignedIn opens patient seq's space, activates it and signs them in on a new
// browser; a doctor deposits a consultation report (class 10) in it.
func (p *appsPortal) patientSignedIn(t *testing.T, seq int) (*browser, int64, identity.INS, string) {
	t.Helper()
	ctx := context.Background()
	ins := recordtest.TestINS(t, seq)
	c, err := p.spaces.Create(ctx, space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI},
		space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "DUPONT", GivenNames: "Marie", BirthDate: time.Date(1980, 5, 12, 0, 0, 0, 0, time.UTC),
			Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	b := p.browser(t)
	email, pass := fmt.Sprintf("patient%d@example.fr", seq), "une phrase de passe solide"
	if pg := b.post("/activation", url.Values{"ins": {ins.Matricule}, "code": {c.ActivationCode}, "email": {email},
		"mot_de_passe": {pass}, "confirmation": {pass}}); pg.status != http.StatusSeeOther {
		t.Fatalf("activation: %d %.300s", pg.status, pg.body)
	}
	p.signIn(t, b, email, email, pass)
	pid, err := p.Records.PatientID(ctx, identity.INS{Matricule: ins.Matricule})
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Records.Deposit(ctx, recordtest.Doctor(recordtest.RPPS(t, 700+seq)), recordtest.Report(ins, "Compte rendu de cardiologie"),
		recordtest.PDF(3000, seq))
	if err != nil {
		t.Fatal(err)
	}
	return b, pid, ins, d.LogicalID
}

// operatorSignedIn signs an operator in on a new browser.
func (p *appsPortal) operatorSignedIn(t *testing.T) *browser {
	t.Helper()
	by := account.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI}
	const email, pass = "catalogue@example.fr", "mot de passe de l'exploitant"
	if _, err := p.accounts.CreateAccount(context.Background(), by, account.NewAccount{Kind: account.KindOperator, Login: email,
		DisplayName: "Équipe catalogue", Password: pass}); err != nil {
		t.Fatal(err)
	}
	b := p.browser(t)
	if home := p.signIn(t, b, email, email, pass); home != "/admin" {
		t.Fatalf("an operator lands on %s", home)
	}
	return b
}

// logoPNG is a small PNG image.
func logoPNG(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.RGBA{0, 0, 145, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (b *browser) upload(path, field, filename string, fields map[string]string, file []byte) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="`+field+`"; filename="`+filename+`"`)
	h.Set("Content-Type", "application/octet-stream")
	fw, _ := mw.CreatePart(h)
	fw.Write(file)
	mw.Close()
	req, _ := http.NewRequest("POST", b.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

const appRedirect = "http://127.0.0.1:9/callback" // never called: the browser stops at the redirect

var secretRE = regexp.MustCompile(`<code>(carnetcs_[A-Za-z0-9_-]+)</code>`)

// referenceThroughThePages records an app on the operator's pages and references it; it
// returns its client id and secret.
func referenceThroughThePages(t *testing.T, op *browser, id, name string, data map[string]string, scopes string) (string, string) {
	t.Helper()
	pg := op.get("/admin/applications/nouvelle")
	if pg.status != 200 {
		t.Fatalf("new app form: %d %.300s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	f := url.Values{"csrf_token": {csrfOf(t, pg.body)}, "id": {id}, "nom": {name}, "editeur": {"Santé Connectée SAS"},
		"categorie": {"mesures"}, "description": {"Suivez votre tension artérielle et partagez vos mesures."},
		"site": {"https://tension.example"}, "confidentialite": {"https://tension.example/confidentialite"},
		"redirections": {appRedirect}, "scopes": {scopes}, "hors_ligne": {"1"}}
	for class, why := range data {
		f.Add("classe", class)
		f.Set("justification_"+class, why)
	}
	pg = op.post("/admin/applications", f)
	if pg.status != 200 || !strings.Contains(pg.body, "enregistrée comme candidate") {
		t.Fatalf("create app: %d %.1500s", pg.status, pg.body)
	}
	m := secretRE.FindStringSubmatch(pg.body)
	if m == nil {
		t.Fatalf("no secret shown: %.1000s", pg.body)
	}
	pg = op.post("/admin/applications/"+id+"/statut", url.Values{"csrf_token": {csrfOf(t, pg.body)}, "statut": {"referenced"},
		"motif": {"dossier complet"}})
	if pg.status != 200 || !strings.Contains(pg.body, "Référencée") {
		t.Fatalf("reference app: %d %.500s", pg.status, pg.body)
	}
	return id, m[1]
}

// discovery reads SMART's configuration as a client library would, from the FHIR base.
func discovery(t *testing.T, base string) (oauth2.Endpoint, map[string]any) {
	t.Helper()
	res, err := http.Get(base + "/fhir/.well-known/smart-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var conf map[string]any
	if err := json.NewDecoder(res.Body).Decode(&conf); err != nil || res.StatusCode != 200 {
		t.Fatalf("smart-configuration: %d %v", res.StatusCode, err)
	}
	auth, _ := conf["authorization_endpoint"].(string)
	tok, _ := conf["token_endpoint"].(string)
	if auth == "" || tok == "" {
		t.Fatalf("smart-configuration without endpoints: %v", conf)
	}
	return oauth2.Endpoint{AuthURL: auth, TokenURL: tok, AuthStyle: oauth2.AuthStyleInHeader}, conf
}

var (
	consentHidden   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	consentCheckbox = regexp.MustCompile(`<input type="checkbox" id="[^"]+" name="(perm|category)" value="([^"]+)" checked>`)
)

// consent opens authURL in b (signed in), checks the consent page, lets edit change the form
// and allows; it returns the code and the consent page's text.
func consent(t *testing.T, b *browser, authURL string, edit func(url.Values)) (string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", authURL, nil)
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("consent page: %d %.500s", res.StatusCode, body)
	}
	f := url.Values{}
	for _, m := range consentHidden.FindAllStringSubmatch(string(body), -1) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	for _, m := range consentCheckbox.FindAllStringSubmatch(string(body), -1) {
		f.Add(m[1], html.UnescapeString(m[2]))
	}
	if f.Get("csrf") == "" {
		t.Fatalf("no CSRF token on the consent page: %.500s", body)
	}
	if edit != nil {
		edit(f)
	}
	f.Set("decision", "allow")
	pg := b.post("/oauth/authorize", f)
	if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, appRedirect) {
		t.Fatalf("consent answered %d %s: %.500s", pg.status, pg.location, pg.body)
	}
	loc, _ := url.Parse(pg.location)
	if loc.Query().Get("code") == "" {
		t.Fatalf("no code: %s", pg.location)
	}
	return loc.Query().Get("code"), html.UnescapeString(string(body))
}

// fhirCall calls the FHIR API with a bearer token.
func fhirCall(t *testing.T, base, token, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+"/fhir"+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func searchTotal(t *testing.T, body string) int {
	t.Helper()
	var b struct {
		Total *int `json:"total"`
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil || b.Total == nil {
		t.Fatalf("not a searchset: %.300s", body)
	}
	return *b.Total
}

const bloodPressure = `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%d"},"effectiveDateTime":"2026-03-10T08:30:00+01:00","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":128,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":82,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`

// The whole journey with an OAuth library that is not ours (golang.org/x/oauth2 and its PKCE
// helpers), its endpoints read from SMART discovery: the operator references the app on the
// admin pages, the patient signs in and consents over HTTP (session cookie, the consent
// form's CSRF token), the app pushes a measurement and reads a document, the trail names the
// app, the patient disconnects it and its next call is refused; connected again, the operator
// suspends it and its token and refresh token are refused at once.
func TestAppEndToEnd(t *testing.T) {
	p := newAppsPortal(t)
	ctx := context.Background()
	op := p.operatorSignedIn(t)
	id, secret := referenceThroughThePages(t, op, "suivi-tension", "Suivi Tension", map[string]string{
		"10": "Afficher les comptes rendus de votre cardiologue à côté de vos mesures.",
		"11": "Enregistrer vos mesures de tension dans votre profil médical.",
	}, "launch/patient patient/DocumentReference.rs patient/Observation.c offline_access")
	// A logo, checked and served with its own type.
	pg := op.get("/admin/applications/" + id)
	if pg = op.upload("/admin/applications/"+id+"/logo", "logo", "logo.png", map[string]string{"csrf_token": csrfOf(t, pg.body)}, logoPNG(t)); pg.status != 200 ||
		!strings.Contains(pg.body, "Le logo est enregistré") {
		t.Fatalf("logo: %d %.500s", pg.status, pg.body)
	}

	endpoint, conf := discovery(t, p.srv.URL)
	if fmt.Sprint(conf["code_challenge_methods_supported"]) != "[S256]" || !strings.Contains(fmt.Sprint(conf["scopes_supported"]), "patient/Observation.crs") ||
		!strings.Contains(fmt.Sprint(conf["capabilities"]), "permission-v2") || conf["revocation_endpoint"] != p.srv.URL+"/oauth/revoke" {
		t.Fatalf("smart-configuration: %v", conf)
	}
	app := &oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: appRedirect, Endpoint: endpoint,
		Scopes: []string{"launch/patient", "patient/DocumentReference.rs", "patient/Observation.c", "offline_access"}}

	b, pid, ins, docID := p.patientSignedIn(t, 401)
	connect := func() *oauth2.Token {
		t.Helper()
		verifier := oauth2.GenerateVerifier()
		code, page := consent(t, b, app.AuthCodeURL("etat-123", oauth2.S256ChallengeOption(verifier)), nil)
		// The consent page lists exactly the categories the app asks, with the catalogue's words.
		for _, want := range []string{"Suivi Tension", "Santé Connectée SAS", "Afficher les comptes rendus de votre cardiologue",
			"Enregistrer vos mesures de tension", "Dans votre profil médical :"} {
			if !strings.Contains(page, want) {
				t.Fatalf("consent page without %q: %.3000s", want, page)
			}
		}
		if n := len(regexp.MustCompile(`name="category"`).FindAllString(page, -1)); n != 2 {
			t.Fatalf("the consent page offers %d categories, not the app's 2", n)
		}
		tok, err := app.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if tok.Extra("patient") != strconv.FormatInt(pid, 10) || tok.RefreshToken == "" {
			t.Fatalf("token answer: patient %v, refresh %q", tok.Extra("patient"), tok.RefreshToken)
		}
		return tok
	}
	tok := connect()

	// The app pushes a measurement and reads the report, its content included.
	if st, body := fhirCall(t, p.srv.URL, tok.AccessToken, "POST", "/Observation", fmt.Sprintf(bloodPressure, pid)); st != http.StatusCreated {
		t.Fatalf("push a measurement: %d %.500s", st, body)
	}
	st, body := fhirCall(t, p.srv.URL, tok.AccessToken, "GET", fmt.Sprintf("/DocumentReference?patient=Patient/%d", pid), "")
	if st != 200 || searchTotal(t, body) != 1 {
		t.Fatalf("search documents: %d %.500s", st, body)
	}
	if st, body := fhirCall(t, p.srv.URL, tok.AccessToken, "GET", "/DocumentReference/"+docID, ""); st != 200 {
		t.Fatalf("read the document: %d %.300s", st, body)
	}
	if st, _ := fhirCall(t, p.srv.URL, tok.AccessToken, "GET", "/Binary/"+docID, ""); st != 200 {
		t.Fatalf("read the document's content: %d", st)
	}
	// And finds its own patient by INS (the existence test, its own patient only).
	sys, val := ins.FHIR()
	if st, body := fhirCall(t, p.srv.URL, tok.AccessToken, "GET", "/Patient?"+url.Values{"identifier": {sys + "|" + val}}.Encode(), ""); st != 200 ||
		searchTotal(t, body) != 1 {
		t.Fatalf("its patient by INS: %d %.300s", st, body)
	}

	// The patient's trail names the app for each of its accesses.
	pg = b.get("/moi/historique")
	if pg.status != 200 || strings.Count(pg.body, "Suivi Tension") < 3 {
		t.Fatalf("the trail does not name the app: %d %.3000s", pg.status, pg.body)
	}
	var appTraces int
	if err := p.DB.SQL().QueryRow(`SELECT COUNT(*) FROM traces WHERE patient_id = $1 AND actor_kind = 'app' AND actor_name = 'Suivi Tension' AND outcome = 'allowed'`,
		pid).Scan(&appTraces); err != nil || appTraces < 4 {
		t.Fatalf("app's traces: %d %v", appTraces, err)
	}

	// The connected apps' page: what was granted and since when; disconnecting stops the app.
	pg = b.get("/moi/applications/connectees")
	checkHTML(t, pg.body, "fr")
	for _, want := range []string{"Suivi Tension", "<li>Compte rendu</li><li>Synthèse</li>", "déposer dans votre espace", "lire vos documents", frDateTime(p.Clock.Now())} {
		if !strings.Contains(pg.body, want) {
			t.Fatalf("connected apps without %q: %s", want, pg.body[strings.Index(pg.body, "<h1>"):])
		}
	}
	grant := regexp.MustCompile(`/moi/applications/connectees/([^/]+)/retirer`).FindStringSubmatch(pg.body)
	if grant == nil {
		t.Fatalf("no revoke form: %.2000s", pg.body)
	}
	if pg = b.post("/moi/applications/connectees/"+grant[1]+"/retirer", url.Values{"csrf_token": {csrfOf(t, pg.body)}}); pg.status != 200 ||
		!strings.Contains(pg.body, "L'accès de l'application est retiré") || !strings.Contains(pg.body, "Accès retirés") {
		t.Fatalf("revoke: %d %.1000s", pg.status, pg.body)
	}
	if st, _ := fhirCall(t, p.srv.URL, tok.AccessToken, "GET", fmt.Sprintf("/DocumentReference?patient=Patient/%d", pid), ""); st != http.StatusUnauthorized {
		t.Fatalf("a disconnected app's token: %d", st)
	}
	if _, err := app.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Fatal("a disconnected app's refresh token still works")
	}

	// Connected again, then suspended by the operator: refused at once, and no longer offered.
	tok = connect()
	if st, _ := fhirCall(t, p.srv.URL, tok.AccessToken, "GET", "/DocumentReference/"+docID, ""); st != 200 {
		t.Fatalf("reconnected app: %d", st)
	}
	pg = op.get("/admin/applications/" + id)
	if pg = op.post("/admin/applications/"+id+"/statut", url.Values{"csrf_token": {csrfOf(t, pg.body)}, "statut": {"suspended"},
		"motif": {"fuite de données signalée"}}); pg.status != 200 || !strings.Contains(pg.body, "Suspendue") {
		t.Fatalf("suspend: %d %.500s", pg.status, pg.body)
	}
	if st, _ := fhirCall(t, p.srv.URL, tok.AccessToken, "GET", "/DocumentReference/"+docID, ""); st != http.StatusUnauthorized {
		t.Fatalf("a suspended app's token: %d", st)
	}
	if st, _ := fhirCall(t, p.srv.URL, tok.AccessToken, "POST", "/Observation", fmt.Sprintf(bloodPressure, pid)); st != http.StatusUnauthorized {
		t.Fatalf("a suspended app's push: %d", st)
	}
	if _, err := app.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Fatal("a suspended app's refresh token still works")
	}
	if pg = b.get("/moi/applications"); strings.Contains(pg.body, "Suivi Tension") {
		t.Fatal("a suspended app is still in the catalogue")
	}
	req, _ := http.NewRequest("GET", app.AuthCodeURL("x", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if pg = b.do(req); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "Application inconnue") {
		t.Fatalf("a suspended app can still be connected: %d %.300s", pg.status, pg.body)
	}
	// Every change of the operator's is traced with the operator as actor.
	var opTraces int
	if err := p.DB.SQL().QueryRow(`SELECT COUNT(*) FROM traces WHERE object = $1 AND actor_kind = 'operator' AND action LIKE 'catalogue.%'`,
		"app/"+id).Scan(&opTraces); err != nil || opTraces != 4 {
		t.Fatalf("operator's traces of the app: %d %v", opTraces, err)
	}
}

// pchBundle is a PCH-01 transaction of a weight for the patient of INS ins, from a scale.
// The connected apps' page says what each grant allows, and no more: a grant of the trail
// alone names no category, and a grant whose scope no longer reads is said to be unreadable,
// never "every category".
func TestConnectedAppsShowTheTruth(t *testing.T) {
	p := newAppsPortal(t)
	app := p.healthApp(t, "mon-carnet-plus")
	b, pid, _, _ := p.patientSignedIn(t, 405)
	ctx := context.Background()
	now := p.Clock.Now()
	for i, scope := range []string{"patient/AuditEvent.rs", "patient/Encounter.rs"} {
		g := oauth.Grant{ID: fmt.Sprintf("g-test%d", i), ClientID: app.ClientID, PatientID: pid, GrantedBy: "patient", Scope: scope,
			CreatedAt: now.Add(time.Duration(i) * time.Minute)}
		if err := p.DB.Update(ctx, func(tx *store.Tx) error { return tx.InsertOAuthGrant(ctx, g) }); err != nil {
			t.Fatal(err)
		}
	}
	pg := b.get("/moi/applications/connectees")
	if pg.status != http.StatusOK {
		t.Fatalf("connected apps: %d", pg.status)
	}
	page := html.UnescapeString(pg.body)
	for _, want := range []string{"Aucune : l'historique des accès seulement", "Accès illisible : retirez-le et reconnectez l'application"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "Toutes les catégories") {
		t.Errorf("the page says every category for grants that have none:\n%s", page)
	}
	// A grant of every category still says so.
	grant(t, b, app, nil, nil)
	if page := html.UnescapeString(b.get("/moi/applications/connectees").body); strings.Contains(page, "Toutes les catégories") {
		t.Errorf("a grant of the app's three categories says every category")
	}
}

// The patient's catalogue: referenced apps only, by category and by search (accents and case
// ignored), an app's page with its categories and justifications in plain French, its logo
// served with its checked type; the operator's transitions are ruled.
func TestCataloguePages(t *testing.T) {
	p := newAppsPortal(t)
	ctx := context.Background()
	by := audit.Actor{Kind: audit.ActorOperator, ID: "op-3", Name: "Équipe catalogue"}
	add := func(id, name, category, desc string) {
		t.Helper()
		if _, _, err := p.apps.Add(ctx, by, audit.ChannelCLI, appcat.Input{ID: id, Name: name, Publisher: "Éditeur " + name,
			Category: category, Description: desc, Website: "https://" + id + ".example", PrivacyPolicy: "https://" + id + ".example/vie-privee",
			Data:         []appcat.DataCategory{{Class: "11", Justification: "Enregistrer vos mesures dans votre profil."}},
			RedirectURIs: []string{appRedirect}, Scopes: "patient/Observation.c", Public: true}); err != nil {
			t.Fatal(err)
		}
	}
	add("tension", "Tension Facile", "mesures", "Mesurez votre tension artérielle.")
	add("glycemie", "Glycémie Suivi", "maladie-chronique", "Suivi du diabète et de la glycémie.")
	add("candidate", "Pas Encore", "mesures", "En cours d'examen.")
	for _, id := range []string{"tension", "glycemie"} {
		if _, err := p.apps.SetStatus(ctx, by, audit.ChannelCLI, id, appcat.Referenced, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.apps.SetLogo(ctx, by, audit.ChannelCLI, "tension", logoPNG(t)); err != nil {
		t.Fatal(err)
	}
	b, _, _, _ := p.patientSignedIn(t, 405)
	pg := b.get("/moi/applications")
	checkHTML(t, pg.body, "fr")
	if !strings.Contains(pg.body, "Tension Facile") || !strings.Contains(pg.body, "Glycémie Suivi") || strings.Contains(pg.body, "Pas Encore") {
		t.Fatalf("catalogue: %.3000s", pg.body)
	}
	if pg = b.get("/moi/applications?categorie=maladie-chronique"); strings.Contains(pg.body, "Tension Facile") || !strings.Contains(pg.body, "Glycémie Suivi") {
		t.Fatalf("by category: %.3000s", pg.body)
	}
	if pg = b.get("/moi/applications?q=" + url.QueryEscape("ARTERIELLE")); !strings.Contains(pg.body, "Tension Facile") || strings.Contains(pg.body, "Glycémie Suivi") {
		t.Fatalf("search: %.3000s", pg.body)
	}
	pg = b.get("/moi/applications/tension")
	checkHTML(t, pg.body, "fr")
	for _, want := range []string{"Tension Facile", "Éditeur Tension Facile", "Synthèse", "Enregistrer vos mesures dans votre profil.",
		"Dans votre profil médical :", "mesures de santé", "https://tension.example/vie-privee"} {
		if !strings.Contains(pg.body, want) {
			t.Fatalf("app page without %q: %.3000s", want, pg.body)
		}
	}
	if pg = b.get("/moi/applications/candidate"); pg.status != http.StatusNotFound {
		t.Fatalf("a candidate's page: %d", pg.status)
	}
	pg = b.get("/moi/applications/tension/logo")
	if pg.status != 200 || pg.header.Get("Content-Type") != "image/png" || pg.header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(pg.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("logo: %d %v", pg.status, pg.header)
	}
	if pg = b.get("/moi/applications/candidate/logo"); pg.status != http.StatusNotFound {
		t.Fatalf("a candidate's logo: %d", pg.status)
	}
	// English too.
	req, _ := http.NewRequest("GET", p.srv.URL+"/moi/applications", nil)
	req.Header.Set("Accept-Language", "en")
	if pg = b.do(req); !strings.Contains(pg.body, "Referenced health apps") {
		t.Fatalf("English catalogue: %.500s", pg.body)
	}

	// The operator's list, a refused transition and a bad form, each answered on the page.
	op := p.operatorSignedIn(t)
	pg = op.get("/admin/applications")
	checkHTML(t, pg.body, "fr")
	if !strings.Contains(pg.body, "Pas Encore") || !strings.Contains(pg.body, "Candidate") || !strings.Contains(pg.body, "Référencée") {
		t.Fatalf("admin list: %.3000s", pg.body)
	}
	pg = op.get("/admin/applications/tension")
	if pg = op.post("/admin/applications/tension/statut", url.Values{"csrf_token": {csrfOf(t, pg.body)}, "statut": {"candidate"}}); pg.status != http.StatusConflict ||
		!strings.Contains(pg.body, "cannot become candidate") {
		t.Fatalf("referenced -> candidate: %d %.500s", pg.status, pg.body)
	}
	pg = op.get("/admin/applications/tension")
	f := url.Values{"csrf_token": {csrfOf(t, pg.body)}, "nom": {"Tension Facile"}, "editeur": {"X"}, "categorie": {"mesures"},
		"description": {"d"}, "site": {"http://not-https.example"}, "confidentialite": {"https://x.example"}, "redirections": {appRedirect},
		"scopes": {"patient/Observation.c"}, "classe": {"11"}, "justification_11": {"Enregistrer vos mesures."}}
	if pg = op.post("/admin/applications/tension", f); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "https address") {
		t.Fatalf("bad update: %d %.500s", pg.status, pg.body)
	}
	if pg = op.upload("/admin/applications/tension/logo", "logo", "logo.svg", map[string]string{"csrf_token": csrfOf(t, pg.body)},
		[]byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)); pg.status != http.StatusBadRequest ||
		!strings.Contains(pg.body, "PNG or JPEG") {
		t.Fatalf("an SVG logo: %d %.500s", pg.status, pg.body)
	}
	// The logo's limit holds before anything parses the form (the CSRF check would otherwise
	// read a body of any size): past it, 413 and nothing read; within the route's allowance
	// but over the logo's own size, the catalogue's refusal. Neither changes the logo.
	countLogos := func() int {
		var n int
		if err := p.DB.SQL().QueryRow(`SELECT COUNT(*) FROM traces WHERE action = 'catalogue.logo' AND object = 'app/tension'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	logos := countLogos()
	pg = op.get("/admin/applications/tension")
	csrf := csrfOf(t, pg.body)
	if pg = op.upload("/admin/applications/tension/logo", "logo", "logo.png", map[string]string{"csrf_token": csrf},
		bytes.Repeat([]byte{0x89}, appcat.MaxLogoBytes+128<<10)); pg.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a logo past the route's limit: %d %.300s", pg.status, pg.body)
	}
	if pg = op.upload("/admin/applications/tension/logo", "logo", "logo.png", map[string]string{"csrf_token": csrf},
		append(logoPNG(t), bytes.Repeat([]byte{0}, appcat.MaxLogoBytes)...)); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "at most 256 KiB") {
		t.Fatalf("a logo over its size: %d %.300s", pg.status, pg.body)
	}
	if n := countLogos(); n != logos {
		t.Fatalf("the refused logos were traced as changes: %d, %d before", n, logos)
	}
	// A patient is no operator.
	if pg = b.get("/admin/applications"); pg.status != http.StatusSeeOther {
		t.Fatalf("a patient on the admin pages: %d", pg.status)
	}
}
