package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// A parent signs in as themselves, switches to their child's space, reads what the child's
// record shows them (not what the minor keeps from their parents), and acts there as the
// representative; someone else's child is not found.
func TestParentActsForTheirChild(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	by := space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI}
	parentINS, childINS := recordtest.TestINS(t, 350), recordtest.TestINS(t, 351)
	c, err := p.spaces.Create(ctx, by, space.NewSpace{Patient: space.Patient{INS: parentINS, BirthName: "LEGRAND", GivenNames: "Sophie",
		BirthDate: time.Date(1985, 4, 4, 0, 0, 0, 0, time.UTC), Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	child, err := p.spaces.Create(ctx, by, space.NewSpace{Patient: space.Patient{INS: childINS, BirthName: "LEGRAND", GivenNames: "Léo",
		BirthDate: p.Clock.Now().AddDate(-8, 0, 0).Truncate(24 * time.Hour), Sex: space.Male},
		Representatives: []space.NewRepresentative{{INS: parentINS.Matricule, Role: space.Parent}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.spaces.Activate(ctx, by, childINS, child.ActivationCode); err != nil {
		t.Fatal(err)
	}
	const email, pass = "sophie.legrand@example.fr", "la phrase de la maman"
	b := p.browser(t)
	if pg := b.post("/activation", url.Values{"ins": {parentINS.Matricule}, "code": {c.ActivationCode}, "email": {email},
		"mot_de_passe": {pass}, "confirmation": {pass}}); pg.status != http.StatusSeeOther {
		t.Fatalf("activation: %d %.300s", pg.status, pg.body)
	}
	p.signIn(t, b, email, email, pass)
	doctor := recordtest.Doctor(recordtest.RPPS(t, 352))
	if _, err := p.Records.Deposit(ctx, doctor, recordtest.Report(childINS, "Vaccination ROR"), recordtest.PDF(2000, 352)); err != nil {
		t.Fatal(err)
	}
	secret := recordtest.Report(childINS, "Consultation confidentielle du mineur")
	secret.InvisibleRepresentants = true
	if _, err := p.Records.Deposit(ctx, doctor, secret, recordtest.PDF(2100, 353)); err != nil {
		t.Fatal(err)
	}
	childPID, _ := p.Records.PatientID(ctx, childINS)
	base := "/proches/" + strconv.FormatInt(childPID, 10)

	pg := b.get("/moi")
	if !strings.Contains(pg.body, "Léo LEGRAND") || !strings.Contains(pg.body, `href="`+base+`"`) {
		t.Fatalf("no switch to the child's space: %.1500s", pg.body)
	}
	pg = b.get(base + "/documents")
	if pg.status != 200 || !strings.Contains(pg.body, "Vaccination ROR") || strings.Contains(pg.body, "confidentielle") ||
		!strings.Contains(pg.body, "Vous agissez pour Léo LEGRAND") {
		t.Fatalf("the child's documents: %d %.1500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	if pg = b.get(base + "/historique"); pg.status != 200 {
		t.Fatalf("the child's trail: %d", pg.status)
	}
	// Someone else's child: not found, as if it did not exist.
	stranger := p.Patient(t, recordtest.TestINS(t, 354))
	if pg = b.get("/proches/" + strconv.FormatInt(stranger, 10) + "/documents"); pg.status != http.StatusNotFound {
		t.Fatalf("another person's space: %d", pg.status)
	}
	traces := strings.Join(p.Traces(t, childPID), "\n")
	if !strings.Contains(traces, "record.search allowed representative") {
		t.Fatalf("the parent's reading is not traced as a representative's:\n%s", traces)
	}
}

// The holder closes their space with deletion after confirming, then reopens it.
func TestCloseAndReopenThroughThePage(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	by := space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI}
	ins := recordtest.TestINS(t, 360)
	c, err := p.spaces.Create(ctx, by, space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "FAURE", GivenNames: "Alice",
		BirthDate: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	const email, pass = "alice.faure@example.fr", "la phrase d'alice faure"
	b := p.browser(t)
	if pg := b.post("/activation", url.Values{"ins": {ins.Matricule}, "code": {c.ActivationCode}, "email": {email},
		"mot_de_passe": {pass}, "confirmation": {pass}}); pg.status != http.StatusSeeOther {
		t.Fatalf("activation: %d", pg.status)
	}
	p.signIn(t, b, email, email, pass)
	pg := b.get("/moi/espace")
	if pg.status != 200 || !strings.Contains(pg.body, "Fermer mon espace") {
		t.Fatalf("space page: %d %.500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)
	if pg = b.post("/moi/espace/cloturer", url.Values{"csrf_token": {token}, "mode": {"suppression"}}); pg.status != http.StatusBadRequest {
		t.Fatalf("closing without confirming: %d", pg.status)
	}
	pg = b.post("/moi/espace/cloturer", url.Values{"csrf_token": {token}, "mode": {"suppression"}, "confirmation": {"1"}})
	if pg.status != 200 || !strings.Contains(pg.body, "Votre espace est fermé") || !strings.Contains(pg.body, "Rouvrir") {
		t.Fatalf("close: %d %.800s", pg.status, pg.body)
	}
	_, sp, _ := p.spaces.ByINS(ctx, ins.Matricule)
	if sp.State != space.Closed || !sp.DeletionRequested || !sp.PurgeAt.Equal(p.Clock.Now().AddDate(0, 3, 0)) {
		t.Fatalf("after closing with deletion: %+v", sp)
	}
	if pg = b.post("/moi/espace/rouvrir", url.Values{"csrf_token": {token}}); pg.status != 200 || !strings.Contains(pg.body, "rouvert") {
		t.Fatalf("reopen: %d %.500s", pg.status, pg.body)
	}
	if _, sp, _ = p.spaces.ByINS(ctx, ins.Matricule); sp.State != space.Open {
		t.Fatalf("after reopening: %+v", sp)
	}
	// Each change went through the access decision, which left its trace beside the change's.
	decided := 0
	for _, tr := range p.Traces(t, c.Patient.ID) {
		if strings.HasPrefix(tr, "space.administer allowed self") {
			decided++
		}
	}
	if decided != 2 {
		t.Errorf("%d decisions traced for a close and a reopening, want 2: %q", decided, p.Traces(t, c.Patient.ID))
	}
}
