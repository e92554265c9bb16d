package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// The operator records a professional with their account: bad fields are refused each with
// its reason and nothing recorded; a good form records both, traced as the operator, and the
// professional gets a link to choose their password, then signs in with it. The list finds
// them by name and RPPS. Nobody else gets in.
func TestAdminProfessionalsPage(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	email, pass := p.newOperator(t)
	b := p.browser(t)
	p.signIn(t, b, email, email, pass)
	by := account.By{Actor: opBy.Actor, Channel: opBy.Channel}
	org, err := p.accounts.CreateOrganisation(ctx, by, account.Organisation{StructureID: mustStructure(t, "1750100125"), Name: "Hôpital Saint-Louis", Town: "Paris"})
	if err != nil {
		t.Fatal(err)
	}

	pg := b.get("/admin/professionnels")
	if pg.status != 200 || !strings.Contains(pg.body, `<option value="G15_10">`) || !strings.Contains(pg.body, `href="/admin/professionnels" aria-current="page"`) {
		t.Fatalf("page: %d %.2000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)
	rpps := recordtest.RPPS(t, 451)[1:] // the 11 digits, as on the card
	form := url.Values{"csrf_token": {token}, "idnat": {"12345"}, "nom": {"DURAND"}, "prenom": {""}, "profession": {"G15_10"},
		"specialite": {"SM26"}, "organisation": {"1999999999"}, "email": {"Claire <claire@example.fr>"}, "compte": {"1"}}
	pg = b.post("/admin/professionnels", form)
	for _, id := range []string{"idnat-error", "prenom-error", "organisation-error", "email-error"} {
		if !strings.Contains(pg.body, `id="`+id+`"`) {
			t.Errorf("no %s", id)
		}
	}
	if pg.status != http.StatusBadRequest || strings.Contains(pg.body, `id="nom-error"`) || strings.Contains(pg.body, `id="profession-error"`) ||
		!strings.Contains(pg.body, `value="DURAND"`) {
		t.Fatalf("bad form: %d %.3000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	form = url.Values{"csrf_token": {token}, "idnat": {rpps}, "nom": {"DURAND"}, "prenom": {"Claire"}, "profession": {"G15_10"},
		"specialite": {"SM99"}, "organisation": {org.StructureID.String()}, "email": {"claire.durand@example.fr"}, "compte": {"1"}}
	if pg = b.post("/admin/professionnels", form); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, `id="specialite-error"`) {
		t.Fatalf("bad specialty: %d", pg.status)
	}
	idnat, err := identity.ParseIdNatPS("8" + rpps)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := p.accounts.Professionals(ctx, []string{idnat.String()}); len(got) != 0 {
		t.Fatalf("a refused form recorded something: %+v", got)
	}

	form.Set("specialite", "sm26")
	pg = b.post("/admin/professionnels", form)
	for _, want := range []string{"Claire DURAND (" + idnat.String() + ") est enregistré", "un lien pour choisir son mot de passe", "<td>claire.durand@example.fr</td>", "Hôpital Saint-Louis"} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("missing %q", want)
		}
	}
	if pg.status != 200 || !strings.Contains(pg.body, "Claire DURAND ("+idnat.String()+") est enregistré") || !strings.Contains(pg.body, "un lien pour choisir son mot de passe") ||
		!strings.Contains(pg.body, "<td>claire.durand@example.fr</td>") || !strings.Contains(pg.body, "Hôpital Saint-Louis") {
		t.Fatalf("create: %d %.4000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	got, _ := p.accounts.Professionals(ctx, []string{idnat.String()})
	if pr := got[idnat.String()]; pr.Specialty != "SM26" || pr.OrganisationID != org.ID || pr.Email != "claire.durand@example.fr" {
		t.Fatalf("recorded: %+v", pr)
	}
	for _, action := range []string{"professional.create", "account.create"} {
		if tr := p.operatorTraces(t, action); len(tr) == 0 || !strings.HasPrefix(tr[len(tr)-1], "allowed operator ") || !strings.Contains(tr[len(tr)-1], " web") {
			t.Errorf("%s traces: %q", action, tr)
		}
	}
	// Twice: refused, said next to the identifier.
	if pg = b.post("/admin/professionnels", form); pg.status != http.StatusConflict || !strings.Contains(pg.body, "déjà enregistré") {
		t.Fatalf("twice: %d", pg.status)
	}

	// The professional chooses a password with the link, and signs in.
	link := p.mail.link(t, "claire.durand@example.fr")
	pro := p.browser(t)
	const pw = "le mot de passe de Claire"
	if pg := pro.post("/mot-de-passe/nouveau", url.Values{"token": {link}, "mot_de_passe": {pw}, "confirmation": {pw}}); pg.status >= 400 {
		t.Fatalf("reset: %d %.300s", pg.status, pg.body)
	}
	if home := p.signIn(t, pro, "claire.durand@example.fr", "claire.durand@example.fr", pw); home != "/pro" {
		t.Fatalf("the professional lands on %s", home)
	}

	// The list, by name (any case) and by RPPS.
	for _, q := range []string{"?nom=durand", "?idnat=" + rpps, "?idnat=" + idnat.String(), ""} {
		if pg := b.get("/admin/professionnels" + q); pg.status != 200 || !strings.Contains(pg.body, "<td>"+idnat.String()+"</td>") {
			t.Fatalf("list %s: %d", q, pg.status)
		}
	}
	if pg := b.get("/admin/professionnels?nom=martin"); !strings.Contains(pg.body, "Aucun professionnel ne correspond") {
		t.Fatal("a search for someone else lists Claire")
	}
	if pg := b.get("/admin/professionnels?idnat=42"); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "un numéro RPPS de 11 chiffres") {
		t.Fatalf("bad RPPS: %d", pg.status)
	}

	// Without a token, and for a professional, nothing.
	form.Del("csrf_token")
	if pg := b.post("/admin/professionnels", form); pg.status != http.StatusForbidden {
		t.Fatalf("no CSRF token: %d", pg.status)
	}
	if pg := pro.get("/admin/professionnels"); pg.status == 200 {
		t.Fatalf("a professional on the operator's page: %d", pg.status)
	}
	b.get("/langue/en")
	if pg := b.get("/admin/professionnels"); !strings.Contains(pg.body, "Record a professional") {
		t.Fatalf("English: %.300s", pg.body)
	}
}

func mustStructure(t *testing.T, s string) identity.StructureID {
	t.Helper()
	id, err := identity.ParseStructureID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// link returns the token of the last password reset link sent to to.
func (o *outbox) link(t *testing.T, to string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		o.mu.Lock()
		for i := len(o.msgs) - 1; i >= 0; i-- {
			if o.msgs[i].To == to {
				if _, rest, ok := strings.Cut(o.msgs[i].Text, "?token="); ok {
					o.mu.Unlock()
					tok, _ := url.QueryUnescape(strings.Fields(rest)[0])
					return tok
				}
			}
		}
		o.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no reset link sent to %s", to)
	return ""
}

func FuzzParseIdNat(f *testing.F) {
	for _, s := range []string{"10003456789", "810003456789", " 8 1000 345 6789 ", "0751234567", "12345", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseIdNat(s)
		if err != nil {
			return
		}
		again, err := identity.ParseIdNatPS(id.String())
		if err != nil || again != id {
			t.Fatalf("parseIdNat(%q) = %q, which does not parse back: %v", s, id.String(), err)
		}
	})
}
