package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// activePatient creates patient seq's space, activates it and signs them in on a new browser.
func (p *portal) activePatient(t *testing.T, seq int) (*browser, int64) {
	t.Helper()
	ins := recordtest.TestINS(t, seq)
	c, err := p.spaces.Create(context.Background(), opBy, space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "MARTIN",
		GivenNames: "Louise", BirthDate: time.Date(1975, 3, 2, 0, 0, 0, 0, time.UTC), Sex: space.Female}})
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
	pid, err := p.Records.PatientID(context.Background(), identity.INS{Matricule: ins.Matricule})
	if err != nil {
		t.Fatal(err)
	}
	return b, pid
}

// The holder changes where notices go: a good change is saved and traced; a bad field is
// refused with its reason next to it and nothing changes; nobody else changes it.
func TestNotificationSettings(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	b, pid := p.activePatient(t, 901)

	pg := b.get("/moi/espace")
	if pg.status != 200 || !strings.Contains(pg.body, `href="/moi/notifications"`) {
		t.Fatalf("the space page does not link the settings: %d", pg.status)
	}
	pg = b.get("/moi/notifications")
	if pg.status != 200 || !strings.Contains(pg.body, "Téléphone mobile") || !strings.Contains(pg.body, "jamais d'information de santé") ||
		!strings.Contains(pg.body, `id="email" name="email" autocomplete="email" value=""`) {
		t.Fatalf("settings page: %d %.1500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)

	// A form without its CSRF token is refused.
	if pg := b.post("/moi/notifications", url.Values{"email": {"x@example.fr"}}); pg.status != http.StatusForbidden {
		t.Fatalf("no CSRF token: %d", pg.status)
	}

	pg = b.post("/moi/notifications", url.Values{"csrf_token": {token}, "email": {"louise@example.org"}, "telephone": {"06 12 34 56 78"}})
	if pg.status != 200 || !strings.Contains(pg.body, "Vos coordonnées sont enregistrées") || !strings.Contains(pg.body, `value="+33612345678"`) {
		t.Fatalf("change: %d %.1500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	got, _, _ := p.spaces.Get(ctx, pid)
	if got.Email != "louise@example.org" || got.Phone != "+33612345678" {
		t.Fatalf("not saved: %q %q", got.Email, got.Phone)
	}
	traces := strings.Join(p.Traces(t, pid), "\n")
	// The access decision first, then the change.
	decided, changed := strings.Index(traces, "space.administer allowed"), strings.Index(traces, "space.contact allowed")
	if decided < 0 || changed < decided || strings.Contains(traces, "louise@example.org") {
		t.Fatalf("traces:\n%s", traces)
	}

	// A bad phone: the reason next to the field, the good e-mail beside it not saved either.
	pg = b.post("/moi/notifications", url.Values{"csrf_token": {token}, "email": {"autre@example.org"}, "telephone": {"01 23 45 67 89"}})
	if pg.status != http.StatusBadRequest || !strings.Contains(pg.body, `id="telephone-error"`) || !strings.Contains(pg.body, "mobile français") ||
		strings.Contains(pg.body, `id="email-error"`) || !strings.Contains(pg.body, `value="01 23 45 67 89"`) {
		t.Fatalf("bad phone: %d %.2000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	pg = b.post("/moi/notifications", url.Values{"csrf_token": {token}, "email": {"Louise <louise@example.org>"}, "telephone": {""}})
	if pg.status != http.StatusBadRequest || !strings.Contains(pg.body, `id="email-error"`) || strings.Contains(pg.body, `id="telephone-error"`) {
		t.Fatalf("bad e-mail: %d %.2000s", pg.status, pg.body)
	}
	if got, _, _ := p.spaces.Get(ctx, pid); got.Email != "louise@example.org" || got.Phone != "+33612345678" {
		t.Fatalf("a refused change changed something: %q %q", got.Email, got.Phone)
	}

	// Another patient changes only their own, and cannot reach this space's page.
	other, otherID := p.activePatient(t, 902)
	opg := other.get("/moi/notifications")
	otoken := csrfOf(t, opg.body)
	base := "/proches/" + strconv.FormatInt(pid, 10) + "/notifications"
	if pg := other.get(base); pg.status != http.StatusNotFound || strings.Contains(pg.body, "louise@example.org") {
		t.Fatalf("another person's page: %d", pg.status)
	}
	if pg := other.post(base, url.Values{"csrf_token": {otoken}, "email": {"pirate@example.org"}}); pg.status != http.StatusNotFound {
		t.Fatalf("another person's change: %d", pg.status)
	}
	if pg := other.post("/moi/notifications", url.Values{"csrf_token": {otoken}, "email": {"pierre@example.org"}, "telephone": {"+33 7 00 00 00 01"}}); pg.status != 200 {
		t.Fatalf("own change: %d", pg.status)
	}
	if got, _, _ := p.spaces.Get(ctx, pid); got.Email != "louise@example.org" {
		t.Fatalf("another person changed it: %q", got.Email)
	}
	if got, _, _ := p.spaces.Get(ctx, otherID); got.Email != "pierre@example.org" || got.Phone != "+33700000001" {
		t.Fatalf("own change not saved: %q %q", got.Email, got.Phone)
	}

	// In English.
	b.get("/langue/en")
	if pg := b.get("/moi/notifications"); !strings.Contains(pg.body, "Mobile phone") || !strings.Contains(pg.body, "never hold health information") {
		t.Fatalf("English: %.500s", pg.body)
	}
}
