package web

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/shareddata"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
)

// signInTab signs a person in on the tab with their password and the code sent to them.
func (p *portal) signInTab(t *testing.T, b *tab, login, pass string) {
	t.Helper()
	b.open("/langue/fr?retour=/connexion")
	b.expect("Se connecter")
	b.fill("identifiant", login)
	b.fill("mot_de_passe", pass)
	b.submit(`form[action="/connexion"] button[type="submit"]`)
	b.expect("Nous venons d'envoyer un code")
	b.fill("code", p.mail.code(t, login))
	b.submit(`form[action="/connexion/code"] button[type="submit"]`)
}

// In a real browser: the operator imports the published allowlist, finds a mailbox on the
// liste rouge and shows it, records a professional; a patient sets where their notices go,
// with a refused number first. Every page passes the audit.
func TestBrowserOperatorDirectoryProsAndNotifications(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	mx := mailtest.New(t, mailtest.Options{NoSMTP: true, Store: func(testing.TB) *store.DB { return p.DB }})
	p.srv.Config.Handler.(*Web).SetMailAdmin(mx.Mail)
	hidden := mx.Professional(t, 3, "paul.girard", "GIRARD", "Paul")
	if err := mx.Mail.SetHidden(ctx, mx.Admin, hidden.Address, true); err != nil {
		t.Fatal(err)
	}
	email, pass := p.newOperator(t)
	b := newTab(t, p.srv.URL)
	p.signInTab(t, b, email, pass)
	b.expect("Tableau de bord")

	b.open("/admin/annuaire")
	b.expect("jamais été importée")
	b.audit("ops7 01 annuaire")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#liste"), []string{shareddata.Dir(t, "mssante", "listeblanchemssante-2025-03-14.xml")}))
	b.submit(`form[action="/admin/annuaire/liste-blanche"] button[type="submit"]`)
	b.expect("Liste blanche importée")
	b.audit("ops7 02 liste blanche importée")
	b.fill("nom", "girard")
	b.submit(`form[action="/admin/annuaire"] button[type="submit"]`)
	b.expect(hidden.Address)
	b.expect("Liste rouge")
	b.audit("ops7 03 annuaire recherche")
	b.submit(`form[action="/admin/annuaire/visibilite"] button[type="submit"]`)
	b.expect("apparaît de nouveau dans l'annuaire")
	b.audit("ops7 04 boîte montrée")

	b.open("/admin/professionnels")
	b.expect("Enregistrer un professionnel")
	b.audit("ops7 05 professionnels")
	b.fill("idnat", recordtest.RPPS(t, 461))
	b.fill("nom", "ROUX")
	b.fill("prenom", "Camille")
	b.do(chromedp.SetValue(chromedp.CSS("#profession"), "G15_60"))
	b.fill("email", "camille.roux@example.fr")
	b.submit(`form[action="/admin/professionnels"][method="post"] button[type="submit"]`)
	b.expect("Camille ROUX")
	b.expect("est enregistré")
	b.audit("ops7 06 professionnel enregistré")

	// A patient, signed in on a tab of their own.
	ins := recordtest.TestINS(t, 611)
	c, err := p.spaces.Create(ctx, opBy, space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "FAURE", GivenNames: "Inès",
		BirthDate: time.Date(1988, 9, 9, 0, 0, 0, 0, time.UTC), Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	pt := newTab(t, p.srv.URL)
	pt.open("/langue/fr?retour=/activation")
	const pEmail, pPass = "ines.faure@example.fr", "la phrase de passe d'Inès"
	pt.expect("Activer mon espace santé")
	pt.fill("ins", ins.Matricule)
	pt.fill("code", c.ActivationCode)
	pt.fill("email", pEmail)
	pt.fill("mot_de_passe", pPass)
	pt.fill("confirmation", pPass)
	pt.submit(`form[action="/activation"] button[type="submit"]`)
	pt.expect("Votre espace est activé")
	p.signInTab(t, pt, pEmail, pPass)
	pt.expect("Bonjour")
	pt.open("/moi/espace")
	pt.submit(`a[href="/moi/notifications"]`)
	pt.expect("Ce que disent les notifications")
	pt.audit("ops7 07 notifications")
	pt.fill("email", pEmail)
	pt.fill("telephone", "01 02 03 04 05")
	pt.submit(`form[action="/moi/notifications"] button[type="submit"]`)
	pt.expect("Numéro non valide")
	pt.audit("ops7 08 notifications refusées")
	pt.fill("telephone", "07 11 22 33 44")
	pt.submit(`form[action="/moi/notifications"] button[type="submit"]`)
	pt.expect("Vos coordonnées sont enregistrées")
	pt.audit("ops7 09 notifications enregistrées")
	if got, _, _ := p.spaces.Get(ctx, c.Patient.ID); got.Phone != "+33711223344" || got.Email != pEmail {
		t.Fatalf("saved: %q %q", got.Email, got.Phone)
	}
}
