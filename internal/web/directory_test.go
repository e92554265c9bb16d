package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/store"
)

// A professional finds colleagues in the directory from their home page: by name without
// accents, by profession, town and organisation, page after page; mailboxes on the liste rouge
// are left out but for their own, and patients' mailboxes never appear. The page works without
// JavaScript (a GET form, links), in French and English.
func TestProDirectoryPage(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	mx := mailtest.New(t, mailtest.Options{NoSMTP: true, Store: func(testing.TB) *store.DB { return p.DB }})
	const email, pass = "anne.bernard@example.fr", "mot de passe du docteur"
	idnat := p.professional(t, 320, email, pass)
	b := p.browser(t)
	if home := p.signIn(t, b, strings.TrimPrefix(idnat, "8"), email, pass); home != "/pro" {
		t.Fatalf("a professional lands on %s", home)
	}
	// Before the messaging runs, there is no directory.
	if pg := b.get("/pro/annuaire?nom=x"); pg.status != http.StatusNotFound {
		t.Fatalf("no directory: %d", pg.status)
	}
	p.srv.Config.Handler.(*Web).SetDirectory(mx.Mail)

	// The professional's own mailbox, on the liste rouge.
	own, err := mx.Mail.CreateMailbox(ctx, mx.Admin, mail.NewMailbox{Kind: mail.PER, LocalPart: "anne.bernard", IdNat: idnat, Hidden: true})
	if err != nil {
		t.Fatal(err)
	}
	org := mx.Organisation(t, "750100125", "Hôpital de la Pitié-Salpêtrière", "Paris")
	secretariat, err := mx.Mail.CreateMailbox(ctx, mx.Admin, mail.NewMailbox{Kind: mail.ORG, LocalPart: "secretariat.cardio", StructureID: org, DisplayName: "Secrétariat de cardiologie"})
	if err != nil {
		t.Fatal(err)
	}
	lefevre := mx.Professional(t, 1, "helene.lefevre", "LEFÈVRE", "Hélène")
	hidden := mx.Professional(t, 2, "jean.bernard", "BERNARD", "Jean")
	if err := mx.Mail.SetHidden(ctx, mx.Admin, hidden.Address, true); err != nil {
		t.Fatal(err)
	}
	// Nurses of the hospital, for the pages.
	var nurses []string
	var orgID int64
	if err := p.DB.Update(ctx, func(tx *store.Tx) error {
		o, err := tx.OrganisationByStructureID(ctx, org)
		orgID = o.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	by := account.By{Actor: mx.Admin.Actor, Channel: mx.Admin.Channel}
	for i := range 23 {
		id, _ := identity.ParseIdNatPS("8" + mailtest.RPPS(10+i))
		if _, err := mx.Accounts.CreateProfessional(ctx, by, account.Professional{IdNat: id, FamilyName: "SOIGNANT", GivenName: "Infirmier" + strconv.Itoa(100+i),
			Profession: "G15_60", OrganisationID: orgID}); err != nil {
			t.Fatal(err)
		}
		m, err := mx.Mail.CreateMailbox(ctx, mx.Admin, mail.NewMailbox{Kind: mail.PER, LocalPart: "infirmier" + strconv.Itoa(100+i), IdNat: id.String()})
		if err != nil {
			t.Fatal(err)
		}
		nurses = append(nurses, m.Address.String())
	}
	// A patient with a mailbox.
	pid, patientAddr := mx.Patient(t, 1)
	pa, _ := mail.ParseAddress(patientAddr)
	if err := p.DB.Mail(mx.Queue).UpdateMail(ctx, func(tx mail.Tx) error {
		return tx.InsertMailbox(ctx, &mail.Mailbox{Address: pa, Kind: mail.PAT, DisplayName: "Lucie DURAND", PatientID: pid, CreatedAt: mx.Clock.Now()},
			mail.DirectoryKeys{Name: "durand lucie bernard", Town: "paris"})
	}); err != nil {
		t.Fatal(err)
	}

	// From the home page.
	pg := b.get("/pro")
	if !strings.Contains(pg.body, `href="/pro/annuaire"`) {
		t.Fatal("the professional's home page does not link to the directory")
	}
	pg = b.get("/pro/annuaire")
	checkHTML(t, pg.body, "fr")
	if pg.status != 200 || !strings.Contains(pg.body, "Annuaire de la messagerie sécurisée") || !strings.Contains(pg.body, `<option value="G15_60">Infirmier</option>`) ||
		strings.Contains(pg.body, "<table>") {
		t.Fatalf("the empty form: %d %.500s", pg.status, pg.body)
	}

	search := func(q url.Values) page {
		t.Helper()
		pg := b.get("/pro/annuaire?" + q.Encode())
		if pg.status != http.StatusOK {
			t.Fatalf("%v: %d %.300s", q, pg.status, pg.body)
		}
		checkHTML(t, pg.body, "fr")
		return pg
	}
	// By name, without accents: the name, profession, address as a mailto link.
	pg = search(url.Values{"nom": {"lefevre"}})
	if !strings.Contains(pg.body, `<a class="fr-link" href="mailto:`+lefevre.Address+`"`) || !strings.Contains(pg.body, "Hélène LEFÈVRE") ||
		!strings.Contains(pg.body, "<td>Médecin</td>") {
		t.Errorf("by name: %.2000s", pg.body)
	}
	// "bernard": their own mailbox on the liste rouge, marked; not Jean BERNARD's, nor the patient's.
	pg = search(url.Values{"nom": {"BERNARD"}})
	if !strings.Contains(pg.body, own.Address.String()) || !strings.Contains(pg.body, "Liste rouge (vous seul la voyez)") ||
		strings.Contains(pg.body, hidden.Address) || strings.Contains(pg.body, patientAddr) || strings.Contains(pg.body, "DURAND") {
		t.Errorf("liste rouge: %.3000s", pg.body)
	}
	// By town: the patient's mailbox, with keys in Paris, is not listed.
	if pg = search(url.Values{"ville": {"paris"}, "nom": {"durand"}}); !strings.Contains(pg.body, "Aucune boîte aux lettres") {
		t.Errorf("the patient's mailbox: %.2000s", pg.body)
	}
	// By organisation: the ORG mailbox with its kind.
	pg = search(url.Values{"organisation": {"pitie"}, "nom": {"secretariat"}})
	if !strings.Contains(pg.body, secretariat.Address.String()) || !strings.Contains(pg.body, "Boîte de structure") {
		t.Errorf("by organisation: %.2000s", pg.body)
	}
	// By profession and town, page after page: 23 nurses in pages of 20.
	pg = search(url.Values{"profession": {"G15_60"}, "ville": {"Paris"}})
	if strings.Count(pg.body, "mailto:infirmier") != 20 || !strings.Contains(pg.body, `<option value="G15_60" selected>`) {
		t.Fatalf("first page: %d nurses", strings.Count(pg.body, "mailto:infirmier"))
	}
	next := regexpFind(pg.body, `href="(/pro/annuaire\?[^"]*page=2[^"]*)"`)
	if next == "" {
		t.Fatalf("no next page link: %.3000s", pg.body)
	}
	pg2 := b.get(next)
	if pg2.status != 200 || strings.Count(pg2.body, "mailto:infirmier") != 3 || !strings.Contains(pg2.body, "Page précédente") {
		t.Fatalf("second page: %d, %d nurses", pg2.status, strings.Count(pg2.body, "mailto:infirmier"))
	}
	for _, n := range nurses {
		if !strings.Contains(pg.body, n) && !strings.Contains(pg2.body, n) {
			t.Errorf("%s is on no page", n)
		}
	}
	// Bad input: a clear error, nothing searched.
	for _, q := range []url.Values{{"profession": {"XX"}}, {"nom": {strings.Repeat("a", 201)}}, {"nom": {"a"}, "page": {"0"}},
		{"nom": {"a", "b"}}, {"profession": {"G15_10/SM04"}}} {
		pg := b.get("/pro/annuaire?" + q.Encode())
		if pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "La recherche n'est pas valide") {
			t.Errorf("%v: %d", q, pg.status)
		}
	}
	// In English.
	b.get("/langue/en?retour=/pro")
	pg = b.get("/pro/annuaire?nom=lefevre")
	checkHTML(t, pg.body, "en")
	if !strings.Contains(pg.body, "Secure messaging directory") || !strings.Contains(pg.body, "MSSanté address") {
		t.Errorf("in English: %.500s", pg.body)
	}
	// Patients do not reach it.
	pb := p.browser(t)
	if pg := pb.get("/pro/annuaire?nom=lefevre"); pg.status != http.StatusSeeOther {
		t.Errorf("signed out: %d", pg.status)
	}
}

func regexpFind(body, expr string) string {
	m := regexp.MustCompile(expr).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// FuzzDirForm feeds arbitrary query strings to the directory page's form reader: it never
// panics, fails only with Invalid (a 400 page), and what it accepts is a bounded page.
func FuzzDirForm(f *testing.F) {
	for _, s := range []string{"nom=lef%C3%A8vre", "profession=G15_60&ville=Paris&page=2", "organisation=750100125&page=501",
		"page=-1", "page=99999999999999999999", "nom=a&nom=b", "nom=%ff%fe", "ville=%25_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		dq, page, err := dirForm(q)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("%q: %v is not Invalid", raw, err)
			}
			return
		}
		if page < 1 || dq.Offset != (page-1)*dirPageSize || dq.Offset > mail.MaxDirectoryOffset || dq.Limit != dirPageSize+1 {
			t.Fatalf("%q: unbounded page %d %+v", raw, page, dq)
		}
		for _, v := range []string{dq.Name, dq.Profession, dq.Town, dq.Organisation} {
			if len(v) > 200 || v != strings.TrimSpace(v) {
				t.Fatalf("%q: criterion %q", raw, v)
			}
		}
	})
}
