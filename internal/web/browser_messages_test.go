package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// In a real browser: a patient opens a message a professional sent over SMTP, reads it and
// its attachment, answers with a file of their own, and sees the exchange. Every page passes
// the accessibility audit.
func TestBrowserPatientAnswersAMessage(t *testing.T) {
	p := newMsgPortal(t)
	pro := p.mx.Professional(t, 71, "claire.martin", "MARTIN", "Claire")
	ins := recordtest.TestINS(t, 701)
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
	p.sendSMTP(t, pro, addr, withPDF(pro.Address, addr, "Votre échographie", "Bonjour,\nle compte rendu est joint.\nDr Martin",
		"echographie.pdf", recordtest.PDF(4000, 71)))

	b.open("/moi")
	b.expect("1 nouveau(x) message(s)")
	b.open("/moi/messages")
	b.expect("Votre échographie")
	b.audit("01 messagerie")
	b.submit(`td a[href^="/moi/messages/"]`)
	b.expect("le compte rendu est joint.")
	b.audit("02 message")

	b.submit(`a[href$="/pieces/0"]`)
	b.expect("Enregistrer dans mon dossier")
	b.audit("03 piece jointe")
	b.open("/moi/messages")
	b.expect("Votre échographie")
	b.submit(`td a[href^="/moi/messages/"]`)
	b.expect("le compte rendu est joint.")

	file := filepath.Join(t.TempDir(), "questionnaire.pdf")
	if err := os.WriteFile(file, recordtest.PDF(1200, 72), 0o644); err != nil {
		t.Fatal(err)
	}
	b.fill("corps", "Merci, voici le questionnaire rempli.")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#fichiers"), []string{file}))
	b.submit(`form[action$="/repondre"] button[type="submit"]`)
	b.expect("Votre réponse est envoyée")
	b.expect("voici le questionnaire rempli.")
	b.audit("04 echange")

	got := p.deliveries(t, pro.Address, "INBOX")
	if len(got) != 1 {
		t.Fatalf("the professional's INBOX: %+v", got)
	}
	v, err := mail.ParseView(strings.NewReader(p.mx.ReadMessage(t, got[0].MessageID)))
	if err != nil || len(v.Attachments) != 1 || v.Attachments[0].Name != "questionnaire.pdf" || !strings.Contains(v.Text, "questionnaire rempli") {
		t.Fatalf("the reply as the professional got it: %v %+v", err, v)
	}
}
