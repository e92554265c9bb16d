package web

import (
	"context"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// In a real browser: the operator signs in, reads the dashboard, finds a space by INS and
// sees its state. Every page passes the audit.
func TestBrowserOperatorPages(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	email, pass := p.newOperator(t)
	ins := recordtest.TestINS(t, 601)
	if _, err := p.spaces.Create(ctx, opBy, space.NewSpace{Patient: space.Patient{INS: ins,
		BirthName: "MOREAU", GivenNames: "Jules", BirthDate: time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC), Sex: space.Male}}); err != nil {
		t.Fatal(err)
	}
	b := newTab(t, p.srv.URL)
	b.open("/langue/fr?retour=/connexion")
	b.expect("Se connecter")
	b.fill("identifiant", email)
	b.fill("mot_de_passe", pass)
	b.submit(`form[action="/connexion"] button[type="submit"]`)
	b.expect("Nous venons d'envoyer un code")
	b.fill("code", p.mail.code(t, email))
	b.submit(`form[action="/connexion/code"] button[type="submit"]`)
	b.expect("Tableau de bord")
	b.audit("admin 01 tableau de bord")

	b.open("/admin/espaces")
	b.expect("Retrouver un espace")
	b.audit("admin 02 espaces")
	b.fill("ins", ins.Matricule)
	b.submit(`form[action="/admin/espaces"] button[type="submit"]`)
	b.expect("Jules MOREAU")
	b.expect("En attente d'ouverture")
	b.audit("admin 03 espace trouvé")
}
