package web

import (
	"archive/zip"
	"bytes"
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/archive/archivetest"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/operations"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// outbox is a notify.Sender keeping what it sends.
type outbox struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (o *outbox) Send(_ context.Context, m notify.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
	return nil
}

var sixDigits = regexp.MustCompile(`\b(\d{6})\b`)

func (o *outbox) code(t *testing.T, to string) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.msgs) - 1; i >= 0; i-- {
		if o.msgs[i].To == to {
			if m := sixDigits.FindStringSubmatch(o.msgs[i].Text); m != nil {
				return m[1]
			}
		}
	}
	t.Fatalf("no code sent to %s", to)
	return ""
}

// portal is the pages over a real store, the real sign-in, record, trail and archive.
type portal struct {
	*recordtest.Env
	srv      *httptest.Server
	mail     *outbox
	spaces   *space.Service
	accounts *account.Service
}

var testKey = bytes.Repeat([]byte{5}, 32)

// cheapParams keep the tests fast; internal/auth measures the real ones.
var cheapParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32, MinLength: 12, MaxBytes: 1024}

func newPortal(t *testing.T) *portal {
	t.Helper()
	e := recordtest.New(t)
	p := &portal{Env: e, mail: &outbox{}}
	codeKey := bytes.Repeat([]byte{9}, 32) // archivetest's spaces use the same
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
	cfg.ResetURL = "https://carnet.test/mot-de-passe/nouveau" // the page of internal/web
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
	w, err := New(Deps{Auth: svc, HTTP: h, Records: e.Records, Trail: tr, Archive: arch, Spaces: p.spaces, SpaceLife: p.spaces, Representation: p.spaces,
		Access: e.Access, Matrices: access.NewMatrices(e.DB.Matrices(), e.Clock), Directory: p.accounts, Catalog: e.Catalog, Clock: e.Clock,
		Operations: operations.NewService(e.DB.Operations(), e.Clock), SpaceFinder: p.spaces})
	if err != nil {
		t.Fatal(err)
	}
	p.srv = httptest.NewServer(w)
	t.Cleanup(p.srv.Close)
	return p
}

// browser is a client with its cookies that does not follow redirects by itself.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func (p *portal) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, c: c, base: p.srv.URL}
}

type page struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	text := string(body)
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		text = html.UnescapeString(text) // the checks read the text as a person does
	}
	return page{status: res.StatusCode, location: res.Header.Get("Location"), body: text, header: res.Header}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page: %.500s", body)
	}
	return m[1]
}

// A patient activates their space, signs in with a code, finds a new document, masks it,
// reads who accessed it, downloads everything and signs out everywhere.
func TestPatientJourney(t *testing.T) {
	p := newPortal(t)
	ins := recordtest.TestINS(t, 301)
	birth := time.Date(1980, 5, 12, 0, 0, 0, 0, time.UTC)
	c, err := p.spaces.Create(context.Background(), space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"},
		Channel: audit.ChannelCLI}, space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "DUPONT", GivenNames: "Marie",
		BirthDate: birth, Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	b := p.browser(t)

	// Activation.
	pg := b.get("/activation")
	if pg.status != 200 || !strings.Contains(pg.body, "Code d'activation") {
		t.Fatalf("activation form: %d", pg.status)
	}
	checkHTML(t, pg.body, "fr")
	const email, pass = "marie.dupont@example.fr", "une phrase de passe solide"
	form := url.Values{"ins": {ins.Matricule}, "code": {"WRONG-CODE"}, "email": {email}, "mot_de_passe": {pass}, "confirmation": {pass}}
	if pg = b.post("/activation", form); pg.status != http.StatusForbidden || !strings.Contains(pg.body, "ne correspondent pas") {
		t.Fatalf("wrong activation code: %d %.300s", pg.status, pg.body)
	}
	form.Set("code", c.ActivationCode)
	if pg = b.post("/activation", form); pg.status != http.StatusSeeOther || pg.location != "/connexion?active=1" {
		t.Fatalf("activation: %d %s %.500s", pg.status, pg.location, pg.body)
	}

	// Sign-in, two steps; a wrong password first.
	if pg = b.post("/connexion", url.Values{"identifiant": {email}, "mot_de_passe": {"pas le bon mot de passe"}}); pg.status != http.StatusUnauthorized ||
		!strings.Contains(pg.body, "Identifiant inconnu ou mot de passe incorrect") || strings.Contains(pg.body, "pas le bon") {
		t.Fatalf("wrong password: %d %.300s", pg.status, pg.body)
	}
	if pg = b.get("/moi"); pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, "/connexion") {
		t.Fatalf("/moi before sign-in: %d %s", pg.status, pg.location)
	}
	if pg = b.post("/connexion", url.Values{"identifiant": {email}, "mot_de_passe": {pass}, "retour": {"/moi"}}); pg.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %.300s", pg.status, pg.body)
	}
	if pg = b.get(pg.location); pg.status != 200 || !strings.Contains(pg.body, "Code reçu") {
		t.Fatalf("code form: %d", pg.status)
	}
	checkHTML(t, pg.body, "fr")
	if pg = b.post("/connexion/code", url.Values{"code": {p.mail.code(t, email)}, "retour": {"/moi"}}); pg.status != http.StatusSeeOther || pg.location != "/moi" {
		t.Fatalf("code: %d %s %.300s", pg.status, pg.location, pg.body)
	}

	// A professional deposits a report; the patient sees it as new.
	pid, err := p.Records.PatientID(context.Background(), identity.INS{Matricule: ins.Matricule})
	if err != nil {
		t.Fatal(err)
	}
	doctor := recordtest.Doctor(recordtest.RPPS(t, 31))
	d, err := p.Records.Deposit(context.Background(), doctor, recordtest.Report(ins, "Compte rendu de consultation cardiologique"), recordtest.PDF(5000, 31))
	if err != nil {
		t.Fatal(err)
	}
	p.Clock.Advance(10 * time.Minute) // within the session's idle timeout
	pg = b.get("/moi")
	if pg.status != 200 || !strings.Contains(pg.body, "Compte rendu de consultation cardiologique") || !strings.Contains(pg.body, "Nouveau") {
		t.Fatalf("home: %d %.800s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	pg = b.get("/moi/documents")
	if !strings.Contains(pg.body, "/moi/documents/"+d.LogicalID) {
		t.Fatalf("documents: %.800s", pg.body)
	}
	checkHTML(t, pg.body, "fr")
	pg = b.get("/moi/documents/" + d.LogicalID)
	if pg.status != 200 || !strings.Contains(pg.body, "Masquer ce document") || !strings.Contains(pg.body, "médecin traitant") {
		t.Fatalf("document: %d %.800s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)
	content := b.get("/moi/documents/" + d.LogicalID + "/contenu")
	if content.status != 200 || content.header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(content.body, "%PDF") ||
		!strings.Contains(content.header.Get("Content-Security-Policy"), "frame-ancestors 'self'") {
		t.Fatalf("content: %d %s", content.status, content.header.Get("Content-Type"))
	}

	// Masking: refused without the form's token, done with it.
	if pg = b.post("/moi/documents/"+d.LogicalID+"/masquer", nil); pg.status != http.StatusForbidden {
		t.Fatalf("mask without CSRF token: %d", pg.status)
	}
	if pg = b.post("/moi/documents/"+d.LogicalID+"/masquer", url.Values{"csrf_token": {token}}); pg.status != http.StatusSeeOther {
		t.Fatalf("mask: %d %.300s", pg.status, pg.body)
	}
	if pg = b.get(pg.location); !strings.Contains(pg.body, "Ce document est masqué") || !strings.Contains(pg.body, "Ne plus masquer") {
		t.Fatalf("after masking: %.800s", pg.body)
	}
	got, err := p.Records.Get(context.Background(), recordtest.Holder(pid), d.LogicalID)
	if err != nil || !got.Labels.MasquePS {
		t.Fatalf("the record does not say masked: %+v %v", got.Labels, err)
	}

	// The trail shows the professional's deposit and the patient's own reading.
	pg = b.get("/moi/historique?qui=pro")
	if pg.status != 200 || !strings.Contains(pg.body, "Dr Martin") || !strings.Contains(pg.body, "Dépôt d'un document") {
		t.Fatalf("trail: %d %.1500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")

	// The whole space, as one archive.
	pg = b.get("/moi/export")
	if pg.status != 200 || pg.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export: %d %.300s", pg.status, pg.body)
	}
	zr, err := zip.NewReader(strings.NewReader(pg.body), int64(len(pg.body)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) < 6 {
		t.Fatalf("archive of %d files", len(zr.File))
	}

	// English too.
	b.get("/langue/en?retour=/moi")
	if pg = b.get("/moi/documents"); !strings.Contains(pg.body, "My documents") {
		t.Fatalf("documents in English: %.300s", pg.body)
	}
	checkHTML(t, pg.body, "en")
	b.get("/langue/fr?retour=/moi")

	// Sessions: listed; signing out everywhere ends this one too.
	pg = b.get("/moi/sessions")
	if pg.status != 200 || !strings.Contains(pg.body, "Cette connexion") {
		t.Fatalf("sessions: %d %.500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	if pg = b.post("/moi/sessions/toutes", url.Values{"csrf_token": {csrfOf(t, pg.body)}}); pg.status != http.StatusSeeOther {
		t.Fatalf("sign out everywhere: %d", pg.status)
	}
	if pg = b.get("/moi"); pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, "/connexion") {
		t.Fatalf("/moi after signing out everywhere: %d", pg.status)
	}
	// Every page read above is in the patient's trail as theirs, and the professional's deposit too.
	traces := strings.Join(p.Traces(t, pid), "\n")
	for _, want := range []string{"document.deposit allowed act_of_care", "document.read allowed self", "document.mask allowed self", "space.export allowed self"} {
		if !strings.Contains(traces, want) {
			t.Errorf("no trace %q in:\n%s", want, traces)
		}
	}
}

// The patient's pages are not a professional's, and someone else's document is not found.
func TestPatientPagesRefuseOthers(t *testing.T) {
	p := newPortal(t)
	b := p.browser(t)
	for _, path := range []string{"/moi", "/moi/documents", "/moi/historique", "/moi/export", "/moi/sessions"} {
		if pg := b.get(path); pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, "/connexion?retour=") {
			t.Errorf("%s without a session: %d %s", path, pg.status, pg.location)
		}
	}
	if pg := b.post("/moi/documents/x/masquer", nil); pg.status != http.StatusSeeOther {
		t.Errorf("mask without a session: %d", pg.status)
	}
	// A cross-site form post is refused before anything else.
	req, _ := http.NewRequest("POST", b.base+"/connexion", strings.NewReader("identifiant=a%40b.fr&mot_de_passe=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if pg := b.do(req); pg.status != http.StatusForbidden {
		t.Errorf("cross-site sign-in post: %d", pg.status)
	}
}

var tokenInLink = regexp.MustCompile(`/mot-de-passe/nouveau\?token=([A-Za-z0-9_%.-]+)`)

// A forgotten password: the same answer for a known and an unknown identifier, a link by
// e-mail, a new password that signs in.
func TestPasswordResetPages(t *testing.T) {
	p := newPortal(t)
	ins := recordtest.TestINS(t, 302)
	c, err := p.spaces.Create(context.Background(), space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"},
		Channel: audit.ChannelCLI}, space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "PETIT", GivenNames: "Jean",
		BirthDate: time.Date(1960, 1, 2, 0, 0, 0, 0, time.UTC), Sex: space.Male}})
	if err != nil {
		t.Fatal(err)
	}
	b := p.browser(t)
	const email, pass, newPass = "jean.petit@example.fr", "premier mot de passe", "second mot de passe bien long"
	if pg := b.post("/activation", url.Values{"ins": {ins.Matricule}, "code": {c.ActivationCode}, "email": {email},
		"mot_de_passe": {pass}, "confirmation": {pass}}); pg.status != http.StatusSeeOther {
		t.Fatalf("activation: %d %.300s", pg.status, pg.body)
	}
	known := b.post("/mot-de-passe/oubli", url.Values{"identifiant": {email}})
	unknown := b.post("/mot-de-passe/oubli", url.Values{"identifiant": {"personne@example.fr"}})
	if known.status != 200 || known.body != unknown.body || !strings.Contains(known.body, "Si un compte correspond") {
		t.Fatalf("answers differ for a known and an unknown identifier: %d/%d", known.status, unknown.status)
	}
	checkHTML(t, known.body, "fr")
	var link string
	for deadline := time.Now().Add(5 * time.Second); link == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		p.mail.mu.Lock()
		for _, m := range p.mail.msgs {
			if m.To == email {
				if s := tokenInLink.FindStringSubmatch(m.Text); s != nil {
					link = s[1]
				}
			}
		}
		p.mail.mu.Unlock()
	}
	if link == "" {
		t.Fatal("no reset link sent")
	}
	token, _ := url.QueryUnescape(link)
	if pg := b.get("/mot-de-passe/nouveau?token=" + link); pg.status != 200 || !strings.Contains(pg.body, "Choisir un nouveau mot de passe") {
		t.Fatalf("reset form: %d", pg.status)
	}
	if pg := b.post("/mot-de-passe/nouveau", url.Values{"token": {token}, "mot_de_passe": {newPass}, "confirmation": {newPass}}); pg.status != http.StatusSeeOther ||
		pg.location != "/connexion?reinit=1" {
		t.Fatalf("reset: %d %s %.300s", pg.status, pg.location, pg.body)
	}
	if pg := b.post("/mot-de-passe/nouveau", url.Values{"token": {token}, "mot_de_passe": {newPass}, "confirmation": {newPass}}); pg.status == http.StatusSeeOther {
		t.Fatal("a reset link served twice")
	}
	if pg := b.post("/connexion", url.Values{"identifiant": {email}, "mot_de_passe": {pass}}); pg.status != http.StatusUnauthorized {
		t.Fatalf("the old password still works: %d", pg.status)
	}
	if pg := b.post("/connexion", url.Values{"identifiant": {email}, "mot_de_passe": {newPass}}); pg.status != http.StatusSeeOther {
		t.Fatalf("the new password: %d %.300s", pg.status, pg.body)
	}
}
