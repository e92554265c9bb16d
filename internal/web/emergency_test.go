package web

import (
	"context"
	"image"
	"image/color"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	qr "github.com/piglig/go-qr"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/archive/archivetest"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/emergency"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// newCardPortal is the portal with the medical profile and the emergency card, over the same
// real stack as newHealthPortal's.
func newCardPortal(t *testing.T) *healthPortal {
	t.Helper()
	e := recordtest.New(t)
	p := &portal{Env: e, mail: &outbox{}}
	codeKey := make([]byte, 32)
	for i := range codeKey {
		codeKey[i] = 9
	}
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
	hp := &healthPortal{portal: p}
	if hp.prof, err = profile.NewService(profile.Deps{Store: e.DB.Profile(), Access: e.Access, Catalog: e.Catalog, Clock: e.Clock}); err != nil {
		t.Fatal(err)
	}
	cards, err := emergency.NewService(e.DB.Emergency(), e.Access, hp.prof, e.Clock)
	if err != nil {
		t.Fatal(err)
	}
	arch, tr := archivetest.New(t, e)
	w, err := New(Deps{Auth: svc, HTTP: h, Records: e.Records, Trail: tr, Archive: arch, Spaces: p.spaces, SpaceLife: p.spaces, Representation: p.spaces,
		Access: e.Access, Matrices: access.NewMatrices(e.DB.Matrices(), e.Clock), Directory: p.accounts, Catalog: e.Catalog, Clock: e.Clock,
		Profile: hp.prof, Emergency: cards})
	if err != nil {
		t.Fatal(err)
	}
	p.srv = httptest.NewServer(w)
	t.Cleanup(p.srv.Close)
	return hp
}

var cardLink = regexp.MustCompile(`id="lien-carte" href="([^"]+)"`)

// cardChange posts one of the card's buttons from the card page.
func cardChange(t *testing.T, b *browser, action string) page {
	t.Helper()
	pg := b.get("/moi/urgence")
	return b.post("/moi/urgence/"+action, url.Values{"csrf_token": {csrfOf(t, pg.body)}})
}

// tokenOf returns the token of the link a page shows once.
func tokenOf(t *testing.T, pg page) string {
	t.Helper()
	m := cardLink.FindStringSubmatch(pg.body)
	if m == nil {
		t.Fatalf("no card link in the page (%d):\n%.2000s", pg.status, pg.body)
	}
	u, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(u.Path, "/urgence/")
	if !ok || len(tok) != emergency.TokenLen {
		t.Fatalf("card link %q", m[1])
	}
	return tok
}

// The card through the pages: turned on, the QR code and the link shown once; read without
// signing in, with the headers that keep it out of caches, referrers and search engines, and
// only what the patient chose; renewed, turned off, its old link a plain 404 like any other;
// every reading in the patient's trail.
func TestEmergencyCardPages(t *testing.T) {
	p := newCardPortal(t)
	b, pid, ins := p.patientIn(t, 901, "Louise")
	ctx := context.Background()
	me := profile.Request{Actor: recordtest.Holder(pid).Actor, Channel: audit.ChannelWeb}
	allergy, err := p.prof.Add(ctx, me, pid, profile.Item{Section: profile.SectionAllergies,
		Allergy: &profile.Allergy{Text: "Pénicilline", Criticality: "high", Reaction: "choc"}})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := p.prof.Add(ctx, me, pid, profile.Item{Section: profile.SectionTreatments,
		Treatment: &profile.Treatment{Text: "Ténofovir", Status: "active"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.prof.Hide(ctx, me, secret.ID); err != nil {
		t.Fatal(err)
	}

	if pg := b.get("/moi"); !strings.Contains(pg.body, `href="/moi/urgence"`) {
		t.Errorf("the patient's home does not lead to the card")
	}
	pg := b.get("/moi/urgence")
	if pg.status != http.StatusOK || !strings.Contains(pg.body, "Activer ma carte d'urgence") {
		t.Fatalf("card page: %d %.500s", pg.status, pg.body)
	}
	on := cardChange(t, b, "activer")
	if on.status != http.StatusOK || !strings.Contains(on.body, `<svg xmlns="http://www.w3.org/2000/svg" class="carnet-qr"`) ||
		!strings.Contains(on.body, `id="carte-imprimable"`) {
		t.Fatalf("turned on: %d %.1500s", on.status, on.body)
	}
	token := tokenOf(t, on)
	if again := b.get("/moi/urgence"); strings.Contains(again.body, token) {
		t.Errorf("the token is shown again on the card page")
	}
	if !strings.Contains(on.body, "masqué aux professionnels") {
		t.Errorf("the page does not say hidden items are left out")
	}

	anon := p.browser(t)
	card := anon.get("/urgence/" + token)
	if card.status != http.StatusOK {
		t.Fatalf("public card: %d %.500s", card.status, card.body)
	}
	for k, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"} {
		if got := card.header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	for _, want := range []string{`<meta name="robots" content="noindex, nofollow">`, "Louise MARTIN", "1979", "Pénicilline",
		"Allergies et intolérances", "Allergies and intolerances", "Emergency card", "sévère"} {
		if !strings.Contains(card.body, want) {
			t.Errorf("public card lacks %q", want)
		}
	}
	for _, not := range []string{"Ténofovir", ins.Matricule, "21/09/1979", "1979-09-21"} {
		if strings.Contains(card.body, not) {
			t.Errorf("public card shows %q", not)
		}
	}
	if strings.Contains(card.body, "/langue/en?retour=/urgence") {
		t.Errorf("the language switcher carries the token")
	}

	// Section allergies off, the hidden treatment ticked.
	form := url.Values{"csrf_token": {csrfOf(t, b.get("/moi/urgence").body)}, "section": {"blood_group", "treatments"}, "item": {secret.ID, allergy.ID}}
	if pg := b.post("/moi/urgence", form); pg.status != http.StatusSeeOther {
		t.Fatalf("save: %d %.500s", pg.status, pg.body)
	}
	card = anon.get("/urgence/" + token)
	if !strings.Contains(card.body, "Ténofovir") || strings.Contains(card.body, "Pénicilline") {
		t.Errorf("the card does not follow the choices:\n%.3000s", card.body)
	}
	// A bad section changes nothing.
	form.Set("section", "history")
	if pg := b.post("/moi/urgence", form); pg.status != http.StatusBadRequest {
		t.Errorf("a section the card has not: %d", pg.status)
	}
	if card = anon.get("/urgence/" + token); !strings.Contains(card.body, "Ténofovir") {
		t.Errorf("a refused save changed the card")
	}

	never := anon.get("/urgence/" + strings.Repeat("b", emergency.TokenLen))
	if never.status != http.StatusNotFound {
		t.Fatalf("never-issued token: %d", never.status)
	}
	renewed := cardChange(t, b, "renouveler")
	fresh := tokenOf(t, renewed)
	if fresh == token {
		t.Fatal("renewal kept the token")
	}
	old := anon.get("/urgence/" + token)
	if old.status != http.StatusNotFound || old.body != never.body {
		t.Errorf("old link after renewal: %d, same page as a never-issued one: %v", old.status, old.body == never.body)
	}
	if pg := anon.get("/urgence/" + fresh); pg.status != http.StatusOK {
		t.Errorf("new link: %d", pg.status)
	}
	if pg := cardChange(t, b, "desactiver"); pg.status != http.StatusSeeOther {
		t.Fatalf("turn off: %d", pg.status)
	}
	if off := anon.get("/urgence/" + fresh); off.status != http.StatusNotFound || off.body != never.body {
		t.Errorf("card off: %d, same page as a never-issued one: %v", off.status, off.body == never.body)
	}
	if pg := anon.get("/urgence/..%2f..%2fetc"); pg.status != http.StatusNotFound {
		t.Errorf("malformed token: %d", pg.status)
	}

	trail := b.get("/moi/historique")
	if n := strings.Count(trail.body, "Consultation de votre carte d'urgence"); n < 4 {
		t.Errorf("%d card readings in the trail, want at least 4", n)
	}
	if strings.Contains(trail.body, token) || strings.Contains(trail.body, fresh) {
		t.Errorf("the trail shows a token")
	}
	if !strings.Contains(trail.body, "127.0.0.0/24") || strings.Contains(trail.body, "127.0.0.1") {
		t.Errorf("the trail does not name the reader's network alone")
	}
	// The patient's own pages never put the token in a URL but the card's link.
	noHealthDataInURLs(t, b.get("/moi/urgence"), token, fresh)
}

// The QR code drawn as SVG reads back as the link: the path rasterised module by module and
// decoded.
func TestQRCodeReadsBack(t *testing.T) {
	link := "https://carnet.test/urgence/" + strings.Repeat("a2", emergency.TokenLen/2)
	svg, err := qrSVG(link, "QR")
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	vb := regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`).FindStringSubmatch(s)
	if vb == nil {
		t.Fatalf("no viewBox: %.200s", s)
	}
	n, _ := strconv.Atoi(vb[1])
	const scale = 8
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for _, m := range regexp.MustCompile(`M(\d+) (\d+)h1v1h-1z`).FindAllStringSubmatch(s, -1) {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		for dy := range scale {
			for dx := range scale {
				img.SetGray(x*scale+dx, y*scale+dy, color.Gray{})
			}
		}
	}
	got, err := qr.Decode(img)
	if err != nil || got != link {
		t.Fatalf("decoded %q, %v; want %q", got, err, link)
	}
}
