package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// professional creates professional n with an account and returns their IdNat_PS.
func (p *portal) professional(t *testing.T, n int, email, pass string) string {
	t.Helper()
	idnat, err := identity.ParseIdNatPS(recordtest.RPPS(t, n))
	if err != nil {
		t.Fatal(err)
	}
	by := account.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI}
	pro, err := p.accounts.CreateProfessional(context.Background(), by, account.Professional{IdNat: idnat, FamilyName: "Bernard",
		GivenName: "Anne", Profession: "G15_10", Specialty: "SM54"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.accounts.CreateAccount(context.Background(), by, account.NewAccount{Kind: account.KindProfessional, Login: email,
		DisplayName: "Dr Anne Bernard", Password: pass, ProfessionalID: pro.ID}); err != nil {
		t.Fatal(err)
	}
	return idnat.String()
}

// signIn signs b in with an identifier and a password, and the code sent to email.
func (p *portal) signIn(t *testing.T, b *browser, identifier, email, pass string) string {
	t.Helper()
	pg := b.post("/connexion", url.Values{"identifiant": {identifier}, "mot_de_passe": {pass}})
	if pg.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %.300s", pg.status, pg.body)
	}
	pg = b.post("/connexion/code", url.Values{"code": {p.mail.code(t, email)}})
	if pg.status != http.StatusSeeOther {
		t.Fatalf("code: %d %.300s", pg.status, pg.body)
	}
	return pg.location
}

func (b *browser) multipart(path string, fields map[string]string, file []byte) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="fichier"; filename="cr.pdf"`)
	h.Set("Content-Type", "application/pdf")
	fw, _ := mw.CreatePart(h)
	fw.Write(file)
	mw.Close()
	req, _ := http.NewRequest("POST", b.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

// A professional finds a patient, is refused without a ground and told why, breaks the glass
// with a reason, deposits a report, and is refused what the patient masked.
func TestProfessionalJourney(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	ins := recordtest.TestINS(t, 310)
	pid := p.Patient(t, ins)
	author := recordtest.Doctor(recordtest.RPPS(t, 311))
	first, err := p.Records.Deposit(ctx, author, recordtest.Report(ins, "Compte rendu d'hospitalisation"), recordtest.PDF(4000, 311))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := p.Records.Deposit(ctx, author, recordtest.Report(ins, "Consultation confidentielle"), recordtest.PDF(4100, 312))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Records.Mask(ctx, recordtest.Holder(pid), secret.LogicalID); err != nil {
		t.Fatal(err)
	}

	const email, pass = "anne.bernard@example.fr", "mot de passe du docteur"
	idnat := p.professional(t, 312, email, pass)
	b := p.browser(t)
	if home := p.signIn(t, b, strings.TrimPrefix(idnat, "8"), email, pass); home != "/pro" {
		t.Fatalf("a professional lands on %s", home)
	}
	pg := b.get("/pro")
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)
	if pg = b.post("/pro/recherche", url.Values{"csrf_token": {token}, "ins": {"123"}}); pg.status != http.StatusBadRequest {
		t.Fatalf("bad INS: %d", pg.status)
	}
	if pg = b.post("/pro/recherche", url.Values{"csrf_token": {token}, "ins": {ins.Matricule}}); pg.status != http.StatusSeeOther ||
		pg.location != "/pro/patients/"+strconv.FormatInt(pid, 10) {
		t.Fatalf("find: %d %s", pg.status, pg.location)
	}
	patientPath := pg.location

	// No ground: refused, told why in French, offered the emergency access.
	pg = b.get(patientPath)
	if pg.status != http.StatusForbidden || !strings.Contains(pg.body, "pas dans l'équipe de soins") || !strings.Contains(pg.body, "bris de glace") ||
		strings.Contains(pg.body, "Compte rendu d'hospitalisation") {
		t.Fatalf("patient without a ground: %d %.1500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	if pg = b.post(patientPath, url.Values{"csrf_token": {token}, "motif": {"  "}}); pg.status != http.StatusBadRequest {
		t.Fatalf("break-glass without a reason: %d", pg.status)
	}
	pg = b.post(patientPath, url.Values{"csrf_token": {token}, "motif": {"patient inconscient aux urgences"}})
	if pg.status != 200 || !strings.Contains(pg.body, "Compte rendu d'hospitalisation") || !strings.Contains(pg.body, "Accès en urgence en cours") ||
		strings.Contains(pg.body, "Consultation confidentielle") {
		t.Fatalf("break-glass: %d %.1500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	// The document, read under the emergency access (the reason travels in the form).
	content := b.post("/pro/documents/"+first.LogicalID+"/contenu", url.Values{"csrf_token": {token}, "motif": {"patient inconscient aux urgences"}})
	if content.status != 200 || !strings.HasPrefix(content.body, "%PDF") {
		t.Fatalf("document under break-glass: %d", content.status)
	}
	// The masked one is not found, even in an emergency.
	if pg = b.post("/pro/documents/"+secret.LogicalID+"/contenu", url.Values{"csrf_token": {token}, "motif": {"urgence"}}); pg.status != http.StatusNotFound {
		t.Fatalf("masked document under break-glass: %d", pg.status)
	}

	// A deposit: the report of their act, which makes them a member of the care team.
	if pg = b.get(patientPath + "/depot"); pg.status != 200 || !strings.Contains(pg.body, "Date de l'acte") {
		t.Fatalf("deposit form: %d", pg.status)
	}
	checkHTML(t, pg.body, "fr")
	pg = b.multipart(patientPath+"/depot", map[string]string{"csrf_token": token, "titre": "Lettre de liaison", "type": "11490-0",
		"date_acte": "2026-03-09"}, recordtest.PDF(3000, 313))
	if pg.status != http.StatusSeeOther {
		t.Fatalf("deposit: %d %.800s", pg.status, pg.body)
	}
	pg = b.get(pg.location)
	if pg.status != 200 || !strings.Contains(pg.body, "Lettre de liaison") || !strings.Contains(pg.body, "Le document est déposé") ||
		strings.Contains(pg.body, "Consultation confidentielle") {
		t.Fatalf("after the deposit: %d %.1500s", pg.status, pg.body)
	}
	if pg = b.get("/pro/documents/" + secret.LogicalID + "/contenu"); pg.status != http.StatusNotFound {
		t.Fatalf("masked document for the care team: %d", pg.status)
	}
	// Everything above is in the patient's trail, with the emergency's reason.
	traces := strings.Join(p.Traces(t, pid), "\n")
	for _, want := range []string{"space.lookup allowed", "record.search denied no_authorisation", "record.search allowed break_glass",
		"patient inconscient aux urgences", "document.deposit allowed"} {
		if !strings.Contains(traces, want) {
			t.Errorf("no trace %q in:\n%s", want, traces)
		}
	}
	// The patient's pages are not theirs.
	if pg = b.get("/moi"); pg.status != http.StatusSeeOther {
		t.Fatalf("/moi for a professional: %d", pg.status)
	}
}

// The patient says who may access their record: a médecin traitant named by RPPS, a
// professional blocked (who then reads nothing, even in an emergency), oppositions.
func TestAccessSettingsPage(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	const email, pass = "claire.moreau@example.fr", "une autre phrase de passe"
	ins := recordtest.TestINS(t, 320)
	c, err := p.spaces.Create(ctx, space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI},
		space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "MOREAU", GivenNames: "Claire", BirthDate: time.Date(1990, 7, 14, 0, 0, 0, 0, time.UTC),
			Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	b := p.browser(t)
	if pg := b.post("/activation", url.Values{"ins": {ins.Matricule}, "code": {c.ActivationCode}, "email": {email}, "mot_de_passe": {pass},
		"confirmation": {pass}}); pg.status != http.StatusSeeOther {
		t.Fatalf("activation: %d", pg.status)
	}
	p.signIn(t, b, email, email, pass)
	mt := p.professional(t, 321, "mt@example.fr", "mot de passe du medecin")
	other := recordtest.RPPS(t, 322)

	pg := b.get("/moi/professionnels")
	if pg.status != 200 || !strings.Contains(pg.body, "Mon médecin traitant") {
		t.Fatalf("settings: %d %.500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)
	if pg = b.post("/moi/professionnels/medecin-traitant", url.Values{"csrf_token": {token}, "professionnel": {"123"}}); pg.status != http.StatusBadRequest ||
		!strings.Contains(pg.body, "numéro RPPS n'est pas valide") {
		t.Fatalf("bad RPPS: %d", pg.status)
	}
	if pg = b.post("/moi/professionnels/medecin-traitant", url.Values{"csrf_token": {token}, "professionnel": {strings.TrimPrefix(mt, "8")}}); pg.status != http.StatusSeeOther {
		t.Fatalf("designate: %d %.500s", pg.status, pg.body)
	}
	if pg = b.post("/moi/professionnels/bloquer", url.Values{"csrf_token": {token}, "professionnel": {other}}); pg.status != http.StatusSeeOther {
		t.Fatalf("block: %d %.500s", pg.status, pg.body)
	}
	if pg = b.post("/moi/professionnels/oppositions", url.Values{"csrf_token": {token}, "regulation": {"1"}}); pg.status != http.StatusSeeOther {
		t.Fatalf("oppositions: %d", pg.status)
	}
	pg = b.get("/moi/professionnels?fait=1")
	if !strings.Contains(pg.body, "Anne Bernard") || !strings.Contains(pg.body, "Médecin") || !strings.Contains(pg.body, other) ||
		!strings.Contains(pg.body, `id="regulation" name="regulation" value="1" checked`) || strings.Contains(pg.body, `id="bris_de_glace" name="bris_de_glace" value="1" checked`) {
		t.Fatalf("settings after the changes: %.3000s", pg.body)
	}
	// The blocked professional reads nothing, even in an emergency.
	pid, err := p.Records.PatientID(ctx, ins)
	if err != nil {
		t.Fatal(err)
	}
	blocked := recordtest.Doctor(other)
	blocked.BreakGlass = &access.BreakGlass{Reason: "urgence"}
	if _, err := p.Records.Search(ctx, blocked, record.Query{PatientID: pid}); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a blocked professional's emergency search: %v", err)
	}
	traces := strings.Join(p.Traces(t, pid), "\n")
	for _, want := range []string{"access.medecin_traitant_designate", "access.block", "access.oppositions_set", "record.search denied blocked"} {
		if !strings.Contains(traces, want) {
			t.Errorf("no trace %s in:\n%s", want, traces)
		}
	}
}

// Issue 5 through the pages: a professional outside the care team is refused (and traced);
// after the patient's authorisation on their page, they read; after the patient blocks them,
// they are refused again.
func TestAuthorisationThenBlockThroughThePages(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	const pemail, ppass = "paul.roux@example.fr", "la phrase du patient"
	ins := recordtest.TestINS(t, 330)
	c, err := p.spaces.Create(ctx, space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI},
		space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "ROUX", GivenNames: "Paul", BirthDate: time.Date(1950, 3, 1, 0, 0, 0, 0, time.UTC),
			Sex: space.Male}})
	if err != nil {
		t.Fatal(err)
	}
	patient := p.browser(t)
	if pg := patient.post("/activation", url.Values{"ins": {ins.Matricule}, "code": {c.ActivationCode}, "email": {pemail},
		"mot_de_passe": {ppass}, "confirmation": {ppass}}); pg.status != http.StatusSeeOther {
		t.Fatalf("activation: %d", pg.status)
	}
	p.signIn(t, patient, pemail, pemail, ppass)
	if _, err := p.Records.Deposit(ctx, recordtest.Doctor(recordtest.RPPS(t, 331)), recordtest.Report(ins, "Échographie"), recordtest.PDF(3000, 331)); err != nil {
		t.Fatal(err)
	}
	const demail, dpass = "dr.leroy@example.fr", "la phrase du docteur"
	idnat := p.professional(t, 332, demail, dpass)
	doctor := p.browser(t)
	p.signIn(t, doctor, demail, demail, dpass)
	pid, err := p.Records.PatientID(ctx, ins)
	if err != nil {
		t.Fatal(err)
	}
	record := "/pro/patients/" + strconv.FormatInt(pid, 10)
	if pg := doctor.get(record); pg.status != http.StatusForbidden || strings.Contains(pg.body, "Échographie") {
		t.Fatalf("outside the care team: %d", pg.status)
	}
	settings := patient.get("/moi/professionnels")
	token := csrfOf(t, settings.body)
	if pg := patient.post("/moi/professionnels/autoriser", url.Values{"csrf_token": {token}, "professionnel": {idnat}}); pg.status != http.StatusSeeOther {
		t.Fatalf("authorise: %d %.300s", pg.status, pg.body)
	}
	if pg := doctor.get(record); pg.status != 200 || !strings.Contains(pg.body, "Échographie") {
		t.Fatalf("authorised: %d %.800s", pg.status, pg.body)
	}
	if pg := patient.post("/moi/professionnels/bloquer", url.Values{"csrf_token": {token}, "professionnel": {idnat}}); pg.status != http.StatusSeeOther {
		t.Fatalf("block: %d", pg.status)
	}
	if pg := doctor.get(record); pg.status != http.StatusForbidden || !strings.Contains(pg.body, "a bloqué votre accès") {
		t.Fatalf("blocked: %d %.800s", pg.status, pg.body)
	}
	traces := strings.Join(p.Traces(t, pid), "\n")
	for _, want := range []string{"record.search denied no_authorisation", "access.authorisation_grant", "record.search allowed authorisation",
		"access.block", "record.search denied blocked"} {
		if !strings.Contains(traces, want) {
			t.Errorf("no trace %q in:\n%s", want, traces)
		}
	}
}

// The operator loads a new habilitation matrix from the admin page; a wrong file is refused
// with its reason; nobody else reaches the page.
func TestMatrixAdminPage(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	email, pass := p.newOperator(t)
	b := p.browser(t)
	if home := p.signIn(t, b, email, email, pass); home != "/admin" {
		t.Fatalf("an operator lands on %s", home)
	}
	pg := b.get("/admin/matrice")
	if pg.status != 200 || !strings.Contains(pg.body, "Version appliquée par le serveur : default-v1") {
		t.Fatalf("matrix page: %d %.500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)
	tsv := b.get("/admin/matrice.tsv")
	if tsv.status != 200 || !strings.Contains(tsv.body, "default-v1") {
		t.Fatalf("TSV: %d %.200s", tsv.status, tsv.body)
	}
	upload := func(body string) page {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("csrf_token", token)
		fw, _ := mw.CreateFormFile("matrice", "matrice.tsv")
		fw.Write([]byte(body))
		mw.Close()
		req, _ := http.NewRequest("POST", b.base+"/admin/matrice", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return b.do(req)
	}
	if pg = upload("pas une matrice"); pg.status != http.StatusBadRequest {
		t.Fatalf("a wrong file: %d %.300s", pg.status, pg.body)
	}
	next := strings.Replace(tsv.body, "default-v1", "ars-2026-11", 1)
	if pg = upload(next); pg.status != 200 || !strings.Contains(pg.body, "La matrice ars-2026-11") || !strings.Contains(pg.body, "en vigueur") {
		t.Fatalf("load: %d %.800s", pg.status, pg.body)
	}
	if m, err := access.NewMatrices(p.DB.Matrices(), p.Clock).Active(ctx); err != nil || m.Version() != "ars-2026-11" {
		t.Fatalf("matrix in force after the load: %v %v", m, err)
	}
	// A patient or a professional does not reach the page.
	doctorEmail := "dr.admin@example.fr"
	p.professional(t, 340, doctorEmail, "phrase du docteur admin")
	d := p.browser(t)
	p.signIn(t, d, doctorEmail, doctorEmail, "phrase du docteur admin")
	if pg = d.get("/admin/matrice"); pg.status != http.StatusSeeOther {
		t.Fatalf("a professional on the admin page: %d", pg.status)
	}
}
