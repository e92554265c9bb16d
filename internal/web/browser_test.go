package web

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

var (
	depsOnce sync.Once
	depsErr  error
)

// browserDeps makes sure chromium and axe-core are there, running .ci/install-test-deps
// once when they are not (as the FHIR validator's helper does): the browser tests never skip.
func browserDeps(t *testing.T) (chromium, axe string) {
	t.Helper()
	axe = filepath.Join("testdata", "a11y", "node_modules", "axe-core", "axe.min.js")
	depsOnce.Do(func() {
		_, err1 := exec.LookPath("chromium")
		_, err2 := os.Stat(axe)
		if err1 == nil && err2 == nil {
			return
		}
		out, err := exec.Command("bash", filepath.Join("..", "..", ".ci", "install-test-deps")).CombinedOutput()
		if err != nil {
			depsErr = err
			t.Logf("install-test-deps: %s", out)
		}
	})
	if depsErr != nil {
		t.Fatalf("the browser tests need Debian's chromium and axe-core: run .ci/install-test-deps (%v)", depsErr)
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed: run .ci/install-test-deps: %v", err)
	}
	return path, axe
}

// artefacts is where the screenshots go: $CARNET_TEST_ARTIFACTS (CI keeps it), else a
// temporary directory.
func artefacts(t *testing.T) string {
	dir := os.Getenv("CARNET_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "web", t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tab is one headless chromium tab on the portal.
type tab struct {
	t     *testing.T
	ctx   context.Context
	base  string
	axe   string
	shots string
}

func newTab(t *testing.T, base string) *tab {
	t.Helper()
	chromium, axe := browserDeps(t)
	src, err := os.ReadFile(axe)
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 1000))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	// The first call starts the browser, on a context without a deadline (chromedp's rule).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &tab{t: t, ctx: ctx, base: base, axe: string(src), shots: artefacts(t)}
}

// do runs steps with a deadline.
func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

func value[T any](b *tab, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// expect waits for the page to show want (a page being replaced by a navigation answers
// nothing for a moment: that is retried too).
func (b *tab) expect(want string) {
	b.t.Helper()
	// Generous: on a loaded machine a form's round trip (a write, its fsync, the next page)
	// can take seconds. This waits; it asserts nothing about speed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		cancel()
		if err == nil && strings.Contains(strings.ToLower(got), strings.ToLower(want)) { // CSS may upper-case
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the page does not show %q:\n%.1500s", want, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// audit saves a screenshot of the page and runs axe-core on it: no serious or critical
// violation of WCAG 2.1 A/AA is allowed.
func (b *tab) audit(name string) {
	b.t.Helper()
	png := value(b, chromedp.FullScreenshot(100)) // 100: PNG
	if err := os.WriteFile(filepath.Join(b.shots, strings.ReplaceAll(name, " ", "-")+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	value(b, chromedp.Evaluate[any](b.axe))
	res := value(b, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
		.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))`, chromedp.EvalAwaitPromise))
	var violations []struct {
		ID, Impact, Help string
		Nodes            []string
	}
	if err := json.Unmarshal([]byte(res), &violations); err != nil {
		b.t.Fatalf("axe on %s: %v (%s)", name, err, res)
	}
	for _, v := range violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			b.t.Errorf("accessibility (%s) on %s: %s %s at %v", v.Impact, name, v.ID, v.Help, v.Nodes)
		} else {
			b.t.Logf("accessibility (%s) on %s: %s %s", v.Impact, name, v.ID, v.Help)
		}
	}
}

func (b *tab) open(path string) { b.t.Helper(); b.do(chromedp.Navigate(b.base + path)) }

func (b *tab) fill(id, v string) {
	b.t.Helper()
	b.do(chromedp.SetValue(chromedp.CSS("#"+id), v))
}

func (b *tab) submit(selector string) {
	b.t.Helper()
	// The element must be visible; then it is clicked through the DOM, as a keyboard user's
	// Enter does: a mouse click at computed coordinates missed now and then on a loaded
	// machine, when an embedded PDF viewer moved the page under the pointer.
	sel, _ := json.Marshal(selector)
	b.do(chromedp.Poll[chromedp.Void](`document.readyState === "complete"`),
		chromedp.WaitVisible(chromedp.CSS(selector)))
	if !value(b, chromedp.Evaluate[bool](`(() => { const e = document.querySelector(`+string(sel)+`); if (!e) return false; e.click(); return true })()`)) {
		b.t.Fatalf("nothing to click at %s", selector)
	}
	// the caller's expect waits for the next page
}

// In a real browser: a patient activates their space, signs in, reads a new document, masks
// it, and reads in the trail the professional's access. Every page passes the audit.
func TestBrowserPatientJourney(t *testing.T) {
	p := newPortal(t)
	ins := recordtest.TestINS(t, 501)
	c, err := p.spaces.Create(context.Background(), space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"},
		Channel: audit.ChannelCLI}, space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "DURAND", GivenNames: "Louise",
		BirthDate: time.Date(1975, 2, 3, 0, 0, 0, 0, time.UTC), Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	b := newTab(t, p.srv.URL)

	b.open("/langue/fr?retour=/") // the French pages, whatever the browser's own language
	b.expect("Qui a consulté votre dossier")
	b.audit("01 accueil")

	b.open("/activation")
	b.expect("Activer mon espace santé")
	b.audit("02 activation")
	const email, pass = "louise.durand@example.fr", "ma phrase de passe secrète"
	b.fill("ins", ins.Matricule)
	b.fill("code", c.ActivationCode)
	b.fill("email", email)
	b.fill("mot_de_passe", pass)
	b.fill("confirmation", pass)
	b.submit(`form[action="/activation"] button[type="submit"]`)
	b.expect("Votre espace est activé")
	b.audit("03 connexion")

	b.fill("identifiant", email)
	b.fill("mot_de_passe", pass)
	b.submit(`form[action="/connexion"] button[type="submit"]`)
	b.expect("Nous venons d'envoyer un code")
	b.audit("04 code")
	b.fill("code", p.mail.code(t, email))
	b.submit(`form[action="/connexion/code"] button[type="submit"]`)
	b.expect("Bonjour")

	doctor := recordtest.Doctor(recordtest.RPPS(t, 51))
	d, err := p.Records.Deposit(context.Background(), doctor, recordtest.Report(ins, "Bilan sanguin de contrôle"), recordtest.PDF(8000, 51))
	if err != nil {
		t.Fatal(err)
	}
	b.open("/moi")
	b.expect("Bilan sanguin de contrôle")
	b.audit("05 mon espace")

	b.submit(`a[href="/moi/documents/` + d.LogicalID + `"]`)
	b.expect("Masquer ce document aux professionnels")
	b.audit("06 document")
	b.submit(`form[action="/moi/documents/` + d.LogicalID + `/masquer"] button`)
	b.expect("Ce document est masqué")
	b.audit("07 document masqué")

	b.open("/moi/documents")
	b.expect("Masqué")
	b.audit("08 documents")

	b.open("/moi/historique")
	b.expect("Dr Martin")
	b.audit("09 historique")

	b.open("/moi/sessions")
	b.expect("Cette connexion")
	b.audit("10 connexions")

	b.open("/moi/professionnels")
	b.expect("Qui peut accéder à mon dossier")
	b.audit("11 mes professionnels")

	pid, err := p.Records.PatientID(context.Background(), identity.INS{Matricule: ins.Matricule})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Records.Get(context.Background(), recordtest.Holder(pid), d.LogicalID)
	if err != nil || !got.Labels.MasquePS {
		t.Fatalf("masked through the browser, the record says %+v (%v)", got.Labels, err)
	}
}
