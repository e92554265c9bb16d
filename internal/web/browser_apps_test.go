package web

import (
	"context"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"

	"golang.org/x/oauth2"

	"github.com/carnet-sante/carnet/internal/audit"
)

// In a real browser: the patient browses the catalogue, reads an app's page, consents on the
// consent page, reviews the connected app and disconnects it; the operator's list and forms.
// Every page passes the accessibility audit.
func TestBrowserAppCatalogue(t *testing.T) {
	p := newAppsPortal(t)
	app := p.healthApp(t, "mon-carnet-plus", p.srv.URL+"/app/callback")
	if err := p.apps.SetLogo(context.Background(), audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, audit.ChannelCLI,
		"mon-carnet-plus", logoPNG(t)); err != nil {
		t.Fatal(err)
	}
	_, _, _, _ = p.patientSignedIn(t, 406)
	const email, pass = "patient406@example.fr", "une phrase de passe solide"
	b := newTab(t, p.srv.URL)
	b.open("/langue/fr?retour=/connexion")
	b.fill("identifiant", email)
	b.fill("mot_de_passe", pass)
	b.submit(`form[action="/connexion"] button[type="submit"]`)
	b.expect("Nous venons d'envoyer un code")
	b.fill("code", p.mail.code(t, email))
	b.submit(`form[action="/connexion/code"] button[type="submit"]`)
	b.expect("Bonjour")

	b.open("/moi/applications/connectees")
	b.expect("Aucune application")
	b.open("/moi/applications")
	b.expect("Mon Carnet Plus")
	b.audit("apps-01 catalogue")
	b.open("/moi/applications/mon-carnet-plus")
	b.expect("Lire les comptes rendus de vos consultations")
	b.audit("apps-02 application")

	verifier := oauth2.GenerateVerifier()
	b.open(app.AuthCodeURL("etat", oauth2.S256ChallengeOption(verifier))[len(p.srv.URL):])
	b.expect("Mon Carnet Plus demande l'accès à votre espace santé")
	b.audit("apps-03 consentement")
	b.submit(`button[value="allow"]`)
	b.expect("app callback")
	// The app exchanges the code it was given.
	loc, err := url.Parse(value(b, chromedp.Location()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatal(err)
	}
	b.open("/moi/applications/connectees")
	b.expect("Certificat, déclaration")
	b.audit("apps-04 connectées")
	b.submit(`form[action^="/moi/applications/connectees/"] button`)
	b.expect("L'accès de l'application est retiré")
	b.audit("apps-05 accès retiré")

	p.operatorSignedIn(t) // the operator's account
	o := newTab(t, p.srv.URL)
	o.open("/langue/fr?retour=/connexion")
	o.fill("identifiant", "catalogue@example.fr")
	o.fill("mot_de_passe", "mot de passe de l'exploitant")
	o.submit(`form[action="/connexion"] button[type="submit"]`)
	o.expect("Nous venons d'envoyer un code")
	o.fill("code", p.mail.code(t, "catalogue@example.fr"))
	o.submit(`form[action="/connexion/code"] button[type="submit"]`)
	o.expect("Équipe catalogue")
	o.open("/admin/applications")
	o.expect("Mon Carnet Plus")
	o.audit("apps-06 admin liste")
	o.open("/admin/applications/nouvelle")
	o.expect("Catégories de données demandées")
	o.audit("apps-07 admin nouvelle")
	o.open("/admin/applications/mon-carnet-plus")
	o.expect("Changer le statut")
	o.audit("apps-08 admin application")
}
