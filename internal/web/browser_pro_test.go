package web

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// In a real browser: a professional signs in, finds a patient by INS, is refused without a
// ground and offered the emergency access, breaks the glass with a reason, reads a document,
// deposits a report of their own, and is refused the document the patient masked. Every page
// passes the accessibility audit.
func TestBrowserProfessionalJourney(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	ins := recordtest.TestINS(t, 810)
	pid := p.Patient(t, ins)
	author := recordtest.Doctor(recordtest.RPPS(t, 811))
	if _, err := p.Records.Deposit(ctx, author, recordtest.Report(ins, "Compte rendu d'hospitalisation"), recordtest.PDF(4000, 811)); err != nil {
		t.Fatal(err)
	}
	secret, err := p.Records.Deposit(ctx, author, recordtest.Report(ins, "Consultation confidentielle"), recordtest.PDF(4100, 812))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Records.Mask(ctx, recordtest.Holder(pid), secret.LogicalID); err != nil {
		t.Fatal(err)
	}
	const email, pass = "anne.bernard@example.fr", "mot de passe du docteur"
	idnat := p.professional(t, 813, email, pass)

	b := newTab(t, p.srv.URL)
	b.open("/langue/fr?retour=/connexion")
	b.expect("Se connecter")
	b.fill("identifiant", strings.TrimPrefix(idnat, "8"))
	b.fill("mot_de_passe", pass)
	b.submit(`form[action="/connexion"] button[type="submit"]`)
	b.expect("Nous venons d'envoyer un code")
	b.fill("code", p.mail.code(t, email))
	b.submit(`form[action="/connexion/code"] button[type="submit"]`)
	b.expect("Matricule INS du patient")
	b.audit("pro 01 accueil")

	b.fill("ins", ins.Matricule)
	b.submit(`form[action="/pro/recherche"] button[type="submit"]`)
	b.expect("bris de glace")
	b.audit("pro 02 refus et bris de glace")

	b.fill("motif", "patient inconscient aux urgences")
	b.submit(`form[action="/pro/patients/` + strconv.FormatInt(pid, 10) + `"] button[type="submit"]`)
	b.expect("Accès en urgence en cours")
	b.expect("Compte rendu d'hospitalisation")
	b.audit("pro 03 accès en urgence")
	if strings.Contains(value(b, chromedp.Text(chromedp.CSS("main"))), "Consultation confidentielle") {
		t.Error("the masked document is listed under the emergency access")
	}

	b.open("/pro/patients/" + strconv.FormatInt(pid, 10) + "/depot")
	b.expect("Date de l'acte")
	b.audit("pro 04 dépôt")
	file := filepath.Join(t.TempDir(), "lettre.pdf")
	if err := os.WriteFile(file, recordtest.PDF(3000, 814), 0o644); err != nil {
		t.Fatal(err)
	}
	b.fill("titre", "Lettre de liaison")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#fichier"), []string{file}))
	b.submit(`form[action="/pro/patients/` + strconv.FormatInt(pid, 10) + `/depot"] button[type="submit"]`)
	b.expect("Le document est déposé")
	b.expect("Lettre de liaison")
	b.audit("pro 05 après le dépôt")

	// The masked document, asked for by its address in the browser: not found, even now that
	// the professional is in the care team.
	status := value(b, chromedp.Evaluate[float64](`fetch('/pro/documents/`+secret.LogicalID+`/contenu').then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if status != 404 {
		t.Errorf("masked document: HTTP %v, want 404", status)
	}
	traces := strings.Join(p.Traces(t, pid), "\n")
	for _, want := range []string{"record.search allowed break_glass", "patient inconscient aux urgences", "document.deposit allowed"} {
		if !strings.Contains(traces, want) {
			t.Errorf("no trace %q in:\n%s", want, traces)
		}
	}
}
