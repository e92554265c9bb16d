package web

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// In a real browser: a patient reads their profile, adds a measurement (an implausible one
// first, refused with its reason), sees it on the chart and in the table, downloads the PDF
// summary holding their allergy, reads their agenda and makes a sharing code. Every page
// passes the accessibility audit.
func TestBrowserProfile(t *testing.T) {
	p := newHealthPortal(t)
	hb, pid, ins := p.patientIn(t, 801, "Jeanne")
	_ = hb
	ctx := context.Background()
	me := profile.Request{Actor: recordtest.Holder(pid).Actor, Channel: audit.ChannelWeb}
	if _, err := p.prof.Add(ctx, me, pid, profile.Item{Section: profile.SectionAllergies,
		Allergy: &profile.Allergy{Text: "Amoxicilline", Criticality: "high", Reaction: "œdème"}}); err != nil {
		t.Fatal(err)
	}
	doctor := recordtest.Doctor(recordtest.RPPS(t, 81))
	d, err := p.Records.Deposit(ctx, doctor, recordtest.Report(ins, "Compte rendu d'hospitalisation"), recordtest.PDF(1500, 81))
	if err != nil {
		t.Fatal(err)
	}
	now := p.Clock.Now()
	insurer := agenda.Request{Channel: audit.ChannelCLI, Actor: access.Actor{Kind: audit.ActorOperator, ID: "cli:ops", Name: "ops"}}
	if _, err := p.agenda.Add(ctx, insurer, pid, agenda.Batch{Source: agenda.SourceReimbursement, Class: "60", Type: "REMB", Events: []agenda.Event{
		{Kind: agenda.KindReimbursement, Start: now.AddDate(0, 0, -10).Truncate(24 * time.Hour), Title: "Remboursement : hospitalisation — CHU de Nantes",
			SourceRef: "b1", Document: d.LogicalID},
	}}); err != nil {
		t.Fatal(err)
	}
	// A hospital stay report: the agenda shows the stay it reports (agenda/derived.go).
	depositReport(t, p, ins, recordtest.RPPS(t, 81), "34112-3", "Séjour en cardiologie", now.AddDate(0, 0, -30), now.AddDate(0, 0, -27), nil)

	b := newTab(t, p.srv.URL)
	const email, pass = "jeanne801@example.fr", patientPass
	b.open("/langue/fr?retour=/connexion")
	b.expect("Se connecter")
	b.fill("identifiant", email)
	b.fill("mot_de_passe", pass)
	b.submit(`form[action="/connexion"] button[type="submit"]`)
	b.expect("Nous venons d'envoyer un code")
	b.fill("code", p.mail.code(t, email))
	b.submit(`form[action="/connexion/code"] button[type="submit"]`)
	b.expect("Bonjour")

	b.submit(`nav a[href="/moi/profil"]`)
	b.expect("Allergie : Amoxicilline")
	b.audit("21 profil")

	b.open("/moi/profil/ajouter?rubrique=treatments")
	b.expect("Posologie")
	b.audit("22 formulaire traitement")

	b.open("/moi/profil/mesures")
	b.expect("Ajouter une mesure")
	b.audit("23 mesures vides")
	b.do(chromedp.SetValue(chromedp.CSS("#mesure"), "29463-7"))
	b.fill("valeur", "900")
	b.fill("date", "2026-03-09")
	b.fill("heure", "08:15")
	b.submit(`form[action="/moi/profil/mesures"] button[type="submit"]`)
	b.expect("n'est pas une valeur plausible")
	b.audit("24 mesure refusée")
	b.fill("valeur", "72,5")
	b.submit(`form[action="/moi/profil/mesures"] button[type="submit"]`)
	b.expect("La mesure est ajoutée")
	b.audit("25 mesure ajoutée")
	points := value(b, chromedp.Evaluate[float64](`document.querySelectorAll('svg[role="img"] circle').length`))
	cell := value(b, chromedp.Evaluate[string](`document.querySelector('.fr-table tbody td:nth-child(2)').textContent`))
	title := value(b, chromedp.Evaluate[string](`document.querySelector('svg[role="img"] title').textContent`))
	if points != 1 || !strings.Contains(cell, "72,5 kg") || title != "Évolution : Poids" {
		t.Errorf("chart of %v points titled %q, table %q", points, title, cell)
	}
	// The chart is laid out by the page, its size from its viewBox alone.
	width := value(b, chromedp.Evaluate[float64](`document.querySelector('svg[role="img"]').getBoundingClientRect().width`))
	if width < 300 {
		t.Errorf("the chart is %v px wide", width)
	}

	// The summary, downloaded in the browser's session.
	pdf := value(b, chromedp.Evaluate[string](`fetch('/moi/profil/resume.pdf').then(r => r.arrayBuffer()).then(b => {
		let s = ''; new Uint8Array(b).forEach(c => s += String.fromCharCode(c)); return btoa(s) })`,
		chromedp.EvalAwaitPromise))
	raw, err := base64.StdEncoding.DecodeString(pdf)
	if err != nil || !strings.HasPrefix(string(raw), "%PDF-") {
		t.Fatalf("the summary is not a PDF: %v %.20q", err, raw)
	}
	if text := pdfText(t, string(raw)); !strings.Contains(text, "Allergie : Amoxicilline") || !strings.Contains(text, "Poids : 72,5 kg") {
		t.Errorf("the summary's text:\n%s", text)
	}

	b.submit(`nav a[href="/moi/agenda"]`)
	b.expect("CHU de Nantes")
	b.expect("Séjour hospitalier : Séjour en cardiologie")
	b.audit("26 agenda")
	b.submit(`a[href="/moi/documents/` + d.LogicalID + `"]`)
	b.expect("Compte rendu d'hospitalisation")

	b.open("/moi/profil/partages")
	b.expect("Partager ma synthèse")
	b.submit(`form[action="/moi/profil/partages"] button[type="submit"]`)
	b.expect("Votre code de partage")
	b.audit("27 partage")
	code := value(b, chromedp.Evaluate[string](`document.querySelector('#code-partage').textContent`))

	// A professional follows the link: the form is filled, and audited too.
	p.professional(t, 82, "dr.petit@example.fr", "la phrase du docteur Petit")
	b.submit(`form[action="/deconnexion"] button`)
	b.expect("Se connecter")
	b.open("/pro/partage/" + code)
	b.expect("Se connecter")
	b.fill("identifiant", "dr.petit@example.fr")
	b.fill("mot_de_passe", "la phrase du docteur Petit")
	b.submit(`form[action="/connexion"] button[type="submit"]`)
	b.expect("Nous venons d'envoyer un code")
	b.fill("code", p.mail.code(t, "dr.petit@example.fr"))
	b.submit(`form[action="/connexion/code"] button[type="submit"]`)
	b.expect("Synthèse partagée par un patient")
	if got := value(b, chromedp.Evaluate[string](`document.querySelector('#code').value`)); got != code {
		t.Errorf("the link's code %q in the form, want %q", got, code)
	}
	b.audit("28 code de partage")
}
