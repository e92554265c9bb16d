package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// The operator's dashboard counts what is there and says whether the queues move; the spaces
// page finds a space by INS (in the form, never the URL), shows its state, closes and reopens
// it, each look and change decided and traced on the holder's chain; nobody else gets in.
func TestOperatorDashboardAndSpaces(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	email, pass := p.newOperator(t)
	sby := opBy
	ins := recordtest.TestINS(t, 777)
	c, err := p.spaces.Create(ctx, sby, space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "LEGRAND", GivenNames: "Hélène Marie",
		BirthDate: time.Date(1961, 7, 14, 0, 0, 0, 0, time.UTC), Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	p.Clock.Advance(space.DefaultPolicy().OptOutPeriod + time.Hour)
	if _, err := p.spaces.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	pid := c.Patient.ID

	b := p.browser(t)
	if home := p.signIn(t, b, email, email, pass); home != "/admin" {
		t.Fatalf("an operator lands on %s", home)
	}
	pg := b.get("/admin")
	if pg.status != 200 || !strings.Contains(pg.body, "Tableau de bord") || !strings.Contains(pg.body, "Les files avancent") {
		t.Fatalf("dashboard: %d %.800s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	if !strings.Contains(pg.body, "Ouverts</td><td>1</td>") {
		t.Errorf("dashboard does not count the open space:\n%s", pg.body)
	}
	if strings.Contains(pg.body, "LEGRAND") || strings.Contains(pg.body, ins.Matricule) {
		t.Error("the dashboard names a patient")
	}

	pg = b.get("/admin/espaces")
	if pg.status != 200 {
		t.Fatalf("spaces page: %d", pg.status)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)
	if pg = b.post("/admin/espaces", url.Values{"csrf_token": {token}, "ins": {"12345"}}); pg.status != http.StatusBadRequest ||
		!strings.Contains(pg.body, "pas un INS valide") {
		t.Fatalf("bad INS: %d %.300s", pg.status, pg.body)
	}
	if pg = b.post("/admin/espaces", url.Values{"csrf_token": {token}, "ins": {recordtest.TestINS(t, 778).Matricule}}); pg.status != http.StatusNotFound {
		t.Fatalf("unknown INS: %d", pg.status)
	}
	spaced := ins.Matricule[:1] + " " + ins.Matricule[1:3] + " " + ins.Matricule[3:]
	pg = b.post("/admin/espaces", url.Values{"csrf_token": {token}, "ins": {spaced}})
	if pg.status != 200 || !strings.Contains(pg.body, "Hélène Marie LEGRAND") || !strings.Contains(pg.body, "14/07/1961") ||
		!strings.Contains(pg.body, "Fermer l'espace") {
		t.Fatalf("space found: %d %.1500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	id := url.Values{"csrf_token": {token}, "patient": {strconv.FormatInt(pid, 10)}}
	if pg = b.post("/admin/espaces/cloturer", id); pg.status != http.StatusBadRequest {
		t.Fatalf("closing without confirming: %d", pg.status)
	}
	id.Set("confirmation", "1")
	if pg = b.post("/admin/espaces/cloturer", id); pg.status != 200 || !strings.Contains(pg.body, "L'espace est fermé") {
		t.Fatalf("close: %d %.500s", pg.status, pg.body)
	}
	if _, sp, _ := p.spaces.Get(ctx, pid); sp.State != space.Closed || sp.DeletionRequested {
		t.Fatalf("after closing: %+v", sp)
	}
	if pg = b.post("/admin/espaces/rouvrir", id); pg.status != 200 || !strings.Contains(pg.body, "L'espace est rouvert") {
		t.Fatalf("reopen: %d %.500s", pg.status, pg.body)
	}
	if pg = b.post("/admin/espaces/detruire", id); pg.status != http.StatusNotFound {
		t.Fatalf("unknown action: %d", pg.status)
	}
	var looks, changes int
	for _, tr := range p.Traces(t, pid) {
		if strings.HasPrefix(tr, "space.administer allowed operator") {
			looks++
		}
		if strings.HasPrefix(tr, "space.close allowed") || strings.HasPrefix(tr, "space.reopen allowed") {
			changes++
		}
	}
	if looks < 3 || changes != 2 {
		t.Errorf("traces: %d decisions, %d changes:\n%s", looks, changes, strings.Join(p.Traces(t, pid), "\n"))
	}

	// A patient is sent to sign in.
	patient := p.browser(t)
	if pg := patient.get("/admin/espaces"); pg.status != http.StatusSeeOther {
		t.Errorf("anonymous: %d", pg.status)
	}
}

// newOperator records an operator's account and returns its sign-in.
func (p *portal) newOperator(t *testing.T) (email, pass string) {
	t.Helper()
	by := account.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI}
	email, pass = "exploitation@example.fr", "mot de passe de l'exploitant"
	if _, err := p.accounts.CreateAccount(context.Background(), by, account.NewAccount{Kind: account.KindOperator, Login: email,
		DisplayName: "Exploitation", Password: pass}); err != nil {
		t.Fatal(err)
	}
	return email, pass
}

// opBy is the operator acting from the command line.
var opBy = space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI}
