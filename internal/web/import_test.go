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
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// patientPass is the password patientIn gives.
const patientPass = "une phrase de passe solide"

// patientIn creates and activates the space of seq through the pages, signs b in, and returns
// the patient's id and INS.
func (p *portal) patientIn(t *testing.T, b *browser, seq int, birthName, given, email string) (int64, identity.INS) {
	t.Helper()
	ins := recordtest.TestINS(t, seq)
	c, err := p.spaces.Create(context.Background(), space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"},
		Channel: audit.ChannelCLI}, space.NewSpace{Patient: space.Patient{INS: ins, BirthName: birthName, GivenNames: given,
		BirthDate: time.Date(1979, 4, 2, 0, 0, 0, 0, time.UTC), Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"ins": {ins.Matricule}, "code": {c.ActivationCode}, "email": {email}, "mot_de_passe": {patientPass}, "confirmation": {patientPass}}
	if pg := b.post("/activation", form); pg.status != http.StatusSeeOther {
		t.Fatalf("activation: %d %.300s", pg.status, pg.body)
	}
	p.signIn(t, b, email, email, patientPass)
	return c.Patient.ID, ins
}

// upload posts an archive to the import form of the page body, as a browser does.
func (b *browser) uploadArchive(body, name string, archive []byte) page {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf_token", csrfOf(b.t, body))
	fw, _ := mw.CreateFormFile("archive", name)
	fw.Write(archive)
	mw.Close()
	req, _ := http.NewRequest("POST", b.base+"/moi/import", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

// A patient who had a space brings it back from the portal: they upload the archive they
// downloaded, and find their documents and their access settings; nothing twice.
func TestPatientImportsTheirFormerRecord(t *testing.T) {
	ctx := context.Background()
	spool := t.TempDir() // where the form's parsing spools large uploads
	t.Setenv("TMPDIR", spool)
	a := newPortal(t)
	ba := a.browser(t)
	pidA, ins := a.patientIn(t, ba, 401, "MOREAU", "Louise", "louise@example.fr")
	doctor := recordtest.Doctor(recordtest.RPPS(t, 41))
	for i, title := range []string{"Compte rendu de consultation", "Bilan sanguin"} {
		if _, err := a.Records.Deposit(ctx, doctor, recordtest.Report(ins, title), recordtest.PDF(3000, 40+i)); err != nil {
			t.Fatal(err)
		}
	}
	holder := recordtest.Holder(pidA)
	mine := record.Deposit{INS: ins, Title: "Mon carnet de vaccination", Type: "DOCPAT01", MimeType: "application/pdf"}
	if _, err := a.Records.Deposit(ctx, holder, mine, recordtest.PDF(3000, 49)); err != nil {
		t.Fatal(err)
	}
	if err := a.Access.Block(ctx, holder.Actor, holder.Channel, pidA, recordtest.RPPS(t, 42)); err != nil {
		t.Fatal(err)
	}
	pg := ba.get("/moi/export")
	if pg.status != 200 {
		t.Fatalf("export: %d", pg.status)
	}
	archived := []byte(pg.body)

	b := newPortal(t)
	b.Clock.Advance(a.Clock.Now().Sub(b.Clock.Now()))
	bb := b.browser(t)
	pidB, _ := b.patientIn(t, bb, 401, "MOREAU", "Louise", "louise.b@example.fr")
	home := bb.get("/moi")
	if !strings.Contains(home.body, "Retrouver mon ancien dossier") || !strings.Contains(home.body, `action="/moi/import"`) {
		t.Fatalf("no import form on the home page: %.2000s", home.body)
	}
	before := len(b.Traces(t, pidB))
	pg = bb.uploadArchive(home.body, "mon-espace-sante.zip", archived)
	if pg.status != 200 || !strings.Contains(pg.body, "Documents : 1 importé(s), 0 déjà présent(s).") ||
		!strings.Contains(pg.body, "2 document(s) de vos professionnels") ||
		!strings.Contains(pg.body, "Réglages d'accès : 2 repris") {
		t.Fatalf("import: %d %.3000s", pg.status, pg.body[strings.Index(pg.body, "<h1"):])
	}
	checkHTML(t, pg.body, "fr")
	imported := 0
	for _, s := range b.Traces(t, pidB)[before:] {
		if strings.HasPrefix(s, "space.import allowed self") {
			imported++
		}
	}
	if imported < 2 { // the decision, and the document it filed
		t.Fatalf("the import left %d trace(s)", imported)
	}
	st, err := b.Access.Settings(ctx, recordtest.Holder(pidB).Actor, audit.ChannelWeb, pidB)
	if err != nil || len(st.Blocked) != 1 || len(st.CareTeam) != 1 || st.CareTeam[0].IdNat != doctor.Actor.ID {
		t.Fatalf("settings after the patient's import: %+v %v", st, err)
	}
	// Again: nothing twice, and the settings as the patient has them now.
	pg = bb.uploadArchive(bb.get("/moi").body, "mon-espace-sante.zip", archived)
	if pg.status != 200 || !strings.Contains(pg.body, "Documents : 0 importé(s), 1 déjà présent(s).") ||
		!strings.Contains(pg.body, "déjà repris d'un import précédent") {
		t.Fatalf("second import: %d %.3000s", pg.status, pg.body)
	}
	// Not an archive: said, and nothing changes.
	pg = bb.uploadArchive(bb.get("/moi").body, "photo.zip", []byte("not a zip"))
	if pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "zip") {
		t.Fatalf("a file that is no archive: %d %.1000s", pg.status, pg.body)
	}
	// Without the form's token: refused.
	if pg = bb.uploadArchive(`<input name="csrf_token" value="wrong">`, "a.zip", archived); pg.status != http.StatusForbidden {
		t.Fatalf("import without the form's token: %d", pg.status)
	}
	// An upload past what the form's parsing holds in memory is spooled to a file, which goes
	// when the request ends, whatever the answer.
	large := bytes.Repeat([]byte("x"), 40<<20)
	if pg = bb.uploadArchive(bb.get("/moi").body, "large.zip", large); pg.status != http.StatusBadRequest {
		t.Fatalf("a large file that is no archive: %d", pg.status)
	}
	if pg = bb.uploadArchive(`<input name="csrf_token" value="wrong">`, "large.zip", large); pg.status != http.StatusForbidden {
		t.Fatalf("a large upload without the form's token: %d", pg.status)
	}
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Fatalf("the uploads left %d file(s) behind", len(left))
	}
}
