package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// In a real browser: a patient opens the questionnaire a professional sent, sends it with a
// required answer missing and reads the error next to the field, fills it in and sends it,
// and sees their answers; the professional receives the response. Every page passes the
// accessibility audit.
func TestBrowserPatientFillsAQuestionnaire(t *testing.T) {
	p := newQPortal(t)
	pro := p.mx.Professional(t, 74, "claire.martin", "MARTIN", "Claire")
	ins := recordtest.TestINS(t, 741)
	c, err := p.spaces.Create(context.Background(), space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"},
		Channel: audit.ChannelCLI}, space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "PETIT", GivenNames: "Chloé",
		BirthDate: time.Date(1988, 9, 21, 0, 0, 0, 0, time.UTC), Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	b := newTab(t, p.srv.URL)
	b.open("/langue/fr?retour=/activation")
	b.expect("Activer mon espace santé")
	const email, pass = "chloe.petit@example.fr", "ma phrase de passe secrète"
	b.fill("ins", ins.Matricule)
	b.fill("code", c.ActivationCode)
	b.fill("email", email)
	b.fill("mot_de_passe", pass)
	b.fill("confirmation", pass)
	b.submit(`form[action="/activation"] button[type="submit"]`)
	b.expect("Votre espace est activé")
	b.fill("identifiant", email)
	b.fill("mot_de_passe", pass)
	b.submit(`form[action="/connexion"] button[type="submit"]`)
	b.expect("Nous venons d'envoyer un code")
	b.fill("code", p.mail.code(t, email))
	b.submit(`form[action="/connexion/code"] button[type="submit"]`)
	b.expect("Bonjour")

	addr := p.mx.Mail.PatientAddress(ins.Matricule).String()
	p.sendSMTP(t, pro, addr, withQuestionnaire(pro.Address, addr, "Votre hospitalisation du 10 mars", "", preadmission))
	p.waitFor(t, 1, `SELECT count(*) FROM questionnaires`)

	b.open("/moi/messages")
	b.expect("Votre hospitalisation du 10 mars")
	b.submit(`td a[href^="/moi/messages/"]`)
	b.expect("Questionnaire à remplir : Questionnaire de pré-admission")
	b.audit("01 conversation")
	b.submit(`a[href^="/moi/questionnaires/"]`)
	b.expect("Envoyer mes réponses")
	b.audit("02 formulaire")

	// The weight left out: the error under its field.
	b.submit(`label[for="q3-0"]`) // allergies: oui
	b.submit(`label[for="q6-1"]`) // régime: sans sel
	b.submit(`form[action^="/moi/questionnaires/"] button[type="submit"]`)
	b.expect("Cette question est obligatoire : répondez-y.")
	b.audit("03 erreur")

	b.fill("q0", "72,5")
	b.fill("q2", "2024-02-29")
	b.fill("q4", "Pénicilline")
	b.submit(`label[for="q8-0"]`) // fièvre
	b.submit(`label[for="q8-2"]`) // douleur
	b.submit(`form[action^="/moi/questionnaires/"] button[type="submit"]`)
	b.expect("Vos réponses ont été envoyées au professionnel.")
	b.expect("Sans sel")
	b.audit("04 reponses")

	got := p.deliveries(t, pro.Address, "INBOX")
	if len(got) != 1 {
		t.Fatalf("the professional's INBOX: %+v", got)
	}
	v, err := mail.ParseView(strings.NewReader(p.mx.ReadMessage(t, got[0].MessageID)))
	if err != nil || len(v.Attachments) != 1 {
		t.Fatalf("reply: %v %+v", err, v)
	}
	sent := string(v.Attachments[0].Data())
	for _, want := range []string{`"valueDecimal":72.5`, `"valueDate":"2024-02-29"`, `"code":"SS"`, `"valueString":"Fièvre"},{"valueString":"Douleur"}`} {
		if !strings.Contains(sent, want) {
			t.Fatalf("response without %s: %s", want, sent)
		}
	}
}
