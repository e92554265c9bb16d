package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// In a real browser: a patient turns their emergency card on and sees its QR code and
// printable card, unticks an item and saves; then the card is read by its link, as a rescuer
// would after scanning it. Every page passes the accessibility audit.
func TestBrowserEmergencyCard(t *testing.T) {
	p := newCardPortal(t)
	_, pid, _ := p.patientIn(t, 902, "Camille")
	ctx := context.Background()
	me := profile.Request{Actor: recordtest.Holder(pid).Actor, Channel: audit.ChannelWeb}
	for _, it := range []profile.Item{
		{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Arachide", Criticality: "high"}},
		{Section: profile.SectionBloodGroup, BloodGroup: &profile.BloodGroup{ABO: "B", Rh: "-"}},
		{Section: profile.SectionEmergencyContacts, Contact: &profile.Contact{Name: "Paul Martin", Phone: "+33 6 01 02 03 04"}},
	} {
		if _, err := p.prof.Add(ctx, me, pid, it); err != nil {
			t.Fatal(err)
		}
	}
	secret, err := p.prof.Add(ctx, me, pid, profile.Item{Section: profile.SectionTreatments, Treatment: &profile.Treatment{Text: "Lithium", Status: "active"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.prof.Hide(ctx, me, secret.ID); err != nil {
		t.Fatal(err)
	}

	b := newTab(t, p.srv.URL)
	const email, pass = "camille902@example.fr", patientPass
	b.open("/langue/fr?retour=/connexion")
	b.expect("Se connecter")
	b.fill("identifiant", email)
	b.fill("mot_de_passe", pass)
	b.submit(`form[action="/connexion"] button[type="submit"]`)
	b.expect("Nous venons d'envoyer un code")
	b.fill("code", p.mail.code(t, email))
	b.submit(`form[action="/connexion/code"] button[type="submit"]`)
	b.expect("Bonjour")

	b.submit(`a[href="/moi/urgence"]`)
	b.expect("Vous n'avez pas encore de carte d'urgence")
	b.audit("41 carte urgence vide")
	b.submit(`form[action="/moi/urgence/activer"] button[type="submit"]`)
	b.expect("Le QR code de votre carte")
	if n := value(b, chromedp.Evaluate[float64](`document.querySelectorAll("svg.carnet-qr path").length`)); n < 2 {
		t.Errorf("%v QR codes drawn, want the page's and the printed card's", n)
	}
	b.expect("Arachide")
	b.audit("42 carte urgence QR code")
	link := value(b, chromedp.Evaluate[string](`document.getElementById("lien-carte").getAttribute("href")`))
	if !strings.Contains(link, "/urgence/") {
		t.Fatalf("card link %q", link)
	}
	path := link[strings.Index(link, "/urgence/"):]

	// Untick the blood group, keep the hidden treatment off, save.
	b.do(chromedp.Click(chromedp.CSS(`label[for="rubrique-blood_group"]`)))
	b.submit(`form[action="/moi/urgence"] button[type="submit"]`)
	b.expect("Vos choix sont enregistrés")
	b.audit("43 carte urgence choix")

	b.open(path)
	b.expect("Camille MARTIN")
	b.expect("Allergies and intolerances")
	b.expect("Paul Martin")
	body := value(b, chromedp.Text(chromedp.CSS("body")))
	for _, not := range []string{"Lithium", "B-"} {
		if strings.Contains(body, not) {
			t.Errorf("the public card shows %q", not)
		}
	}
	b.audit("44 carte urgence publique")
}
