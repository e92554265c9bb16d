package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/shareddata"
	"github.com/carnet-sante/carnet/internal/store"
)

// upload posts a form with one file in field.
func (b *browser) uploadFile(path, token, field, name string, file []byte) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf_token", token)
	fw, _ := mw.CreateFormFile(field, name)
	fw.Write(file)
	mw.Close()
	req, _ := http.NewRequest("POST", b.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

// operatorTraces returns the traces of an action as "outcome actor_kind actor_id detail".
func (p *portal) operatorTraces(t *testing.T, action string) []string {
	t.Helper()
	rows, err := p.DB.SQL().Query(`SELECT outcome, actor_kind, actor_id, channel, detail FROM traces WHERE action = $1 ORDER BY id`, action)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o, k, id, ch, d string
		if err := rows.Scan(&o, &k, &id, &ch, &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join([]string{o, k, id, ch, d}, " "))
	}
	return out
}

// The operator refreshes the allowlist from the published file (a broken file is refused
// with its reason, the list in force unchanged), finds mailboxes, the liste rouge included,
// and hides and shows them; each change is traced as the operator. Nobody else gets in.
func TestAdminDirectoryPage(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	mx := mailtest.New(t, mailtest.Options{NoSMTP: true, Store: func(testing.TB) *store.DB { return p.DB }})
	email, pass := p.newOperator(t)
	b := p.browser(t)
	p.signIn(t, b, email, email, pass)
	if pg := b.get("/admin/annuaire"); pg.status != http.StatusNotFound {
		t.Fatalf("before the messaging runs: %d", pg.status)
	}
	p.srv.Config.Handler.(*Web).SetMailAdmin(mx.Mail)

	pg := b.get("/admin/annuaire")
	if pg.status != 200 || !strings.Contains(pg.body, "jamais été importée") || !strings.Contains(pg.body, `href="/admin/annuaire" aria-current="page"`) {
		t.Fatalf("page: %d %.1500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)

	// The file the ANS published.
	published, err := os.ReadFile(shareddata.Dir(t, "mssante", "listeblanchemssante-2025-03-14.xml"))
	if err != nil {
		t.Fatal(err)
	}
	pg = b.uploadFile("/admin/annuaire/liste-blanche", token, "liste", "listeblanchemssante-2025-03-14.xml", published)
	if pg.status != 200 || !strings.Contains(pg.body, "Liste blanche importée") || !strings.Contains(pg.body, "13/03/2025") {
		t.Fatalf("import: %d %.3000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	before, err := mx.Mail.AllowlistStatus(ctx)
	if err != nil || before.Domains < 100 {
		t.Fatalf("status: %+v %v", before, err)
	}
	if tr := p.operatorTraces(t, "mail.allowlist_refresh"); len(tr) != 1 || !strings.HasPrefix(tr[0], "allowed operator ") || !strings.Contains(tr[0], " web ") {
		t.Fatalf("refresh traces: %q", tr)
	}

	// A broken file: refused with its reason, the list in force the same.
	pg = b.uploadFile("/admin/annuaire/liste-blanche", token, "liste", "liste.xml", []byte("<ListeBlancheMSSante"))
	if pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "Fichier refusé, la liste en vigueur n'a pas changé") ||
		!strings.Contains(pg.body, "allowlist") {
		t.Fatalf("broken file: %d %.3000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	if after, _ := mx.Mail.AllowlistStatus(ctx); after != before {
		t.Fatalf("a broken file changed the list: %+v -> %+v", before, after)
	}
	if tr := p.operatorTraces(t, "mail.allowlist_refresh"); len(tr) != 2 || !strings.HasPrefix(tr[1], "denied operator ") {
		t.Fatalf("refused refresh traces: %q", tr)
	}
	if pg := b.post("/admin/annuaire/liste-blanche", url.Values{"csrf_token": {token}}); pg.status != http.StatusBadRequest ||
		!strings.Contains(pg.body, "Choisissez le fichier") {
		t.Fatalf("no file: %d", pg.status)
	}

	// The directory, liste rouge included.
	listed := mx.Professional(t, 1, "helene.lefevre", "LEFÈVRE", "Hélène")
	hidden := mx.Professional(t, 2, "jean.lefevre", "LEFEVRE", "Jean")
	if err := mx.Mail.SetHidden(ctx, mx.Admin, hidden.Address, true); err != nil {
		t.Fatal(err)
	}
	mx.Patient(t, 5)
	pg = b.get("/admin/annuaire?nom=lefevre")
	if pg.status != 200 || !strings.Contains(pg.body, listed.Address) || !strings.Contains(pg.body, hidden.Address) ||
		strings.Count(pg.body, "Retirer de la liste rouge") != 1 || strings.Count(pg.body, "Mettre en liste rouge") != 1 {
		t.Fatalf("search: %d %.4000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	if pg := b.get("/admin/annuaire?rpps=123"); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "Recherche refusée") {
		t.Fatalf("bad RPPS: %d", pg.status)
	}

	// Hide the listed one, show the hidden one; the professionals' search sees the change.
	pg = b.post("/admin/annuaire/visibilite", url.Values{"csrf_token": {token}, "boite": {listed.Address}, "masquer": {"1"}, "nom": {"lefevre"}})
	if pg.status != 200 || !strings.Contains(pg.body, "est en liste rouge") || strings.Count(pg.body, "Retirer de la liste rouge") != 2 {
		t.Fatalf("hide: %d %.4000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	if pg := b.post("/admin/annuaire/visibilite", url.Values{"csrf_token": {token}, "boite": {hidden.Address}, "masquer": {"0"}}); pg.status != 200 ||
		!strings.Contains(pg.body, "apparaît de nouveau") {
		t.Fatalf("show: %d", pg.status)
	}
	public, err := mx.Mail.Directory(ctx, mail.DirectoryQuery{Name: "lefevre"})
	if err != nil || len(public) != 1 || public[0].Address != hidden.Address {
		t.Fatalf("the professionals' directory after the changes: %+v %v", public, err)
	}
	if pg := b.post("/admin/annuaire/visibilite", url.Values{"csrf_token": {token}, "boite": {"personne@" + strings.SplitN(listed.Address, "@", 2)[1]}, "masquer": {"1"}}); pg.status != http.StatusNotFound {
		t.Fatalf("unknown mailbox: %d", pg.status)
	}
	if pg := b.post("/admin/annuaire/visibilite", url.Values{"csrf_token": {token}, "boite": {listed.Address}, "masquer": {"peut-être"}}); pg.status != http.StatusBadRequest {
		t.Fatalf("bad choice: %d", pg.status)
	}
	// The set-up's hiding (command line), then the page's two changes and its refusal.
	if tr := p.operatorTraces(t, "mailbox.hide"); len(tr) != 4 || !strings.HasPrefix(tr[1], "allowed operator ") || !strings.HasSuffix(tr[1], " web hidden=true") ||
		!strings.HasPrefix(tr[2], "allowed operator ") || !strings.HasSuffix(tr[2], " web hidden=false") || !strings.HasPrefix(tr[3], "denied operator ") {
		t.Fatalf("hide traces: %q", tr)
	}

	// Without a token, and for anyone else, nothing.
	if pg := b.post("/admin/annuaire/visibilite", url.Values{"boite": {listed.Address}, "masquer": {"0"}}); pg.status != http.StatusForbidden {
		t.Fatalf("no CSRF token: %d", pg.status)
	}
	other, _ := p.activePatient(t, 903)
	if pg := other.get("/admin/annuaire?nom=lefevre"); pg.status == 200 || strings.Contains(pg.body, hidden.Address) {
		t.Fatalf("a patient on the operator's page: %d", pg.status)
	}

	b.get("/langue/en")
	if pg := b.get("/admin/annuaire"); !strings.Contains(pg.body, "Directory and allowlist") || !strings.Contains(pg.body, "Refresh the allowlist") {
		t.Fatalf("English: %.500s", pg.body)
	}
}
