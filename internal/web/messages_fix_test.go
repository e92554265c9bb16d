package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// endless is a multipart body that never ends: a file part whose bytes keep coming, counting
// what the server reads of it.
type endless struct {
	head string
	read atomic.Int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		off := e.read.Load() + int64(n)
		if off < int64(len(e.head)) {
			n += copy(p[n:], e.head[off:])
			continue
		}
		p[n] = 'a'
		n++
	}
	e.read.Add(int64(n))
	if e.read.Load() > 200<<20 {
		return n, io.EOF
	}
	return n, nil
}

// A signed-in person's form is bounded before the CSRF check parses it: an upload route reads
// at most its allowance, any other route the default, and a declared length over the limit is
// answered 413 without reading anything.
func TestBodiesBoundedBeforeTheCSRFCheck(t *testing.T) {
	p := newMsgPortal(t)
	b := p.browser(t)
	p.patientIn(t, b, 631, "Julie", "julie.limite@example.fr")
	h := p.srv.Config.Handler
	send := func(path string, length int64) (*httptest.ResponseRecorder, int64) {
		body := &endless{head: "--x\r\nContent-Disposition: form-data; name=\"fichiers\"; filename=\"a.pdf\"\r\n" +
			"Content-Type: application/pdf\r\n\r\n%PDF-"}
		req := httptest.NewRequest("POST", p.srv.URL+path, body)
		req.ContentLength = length
		req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		for _, c := range b.c.Jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec, body.read.Load()
	}
	for path, limit := range map[string]int64{
		"/moi/messages/1/repondre": maxUpload + formSlack,
		"/moi/documents":           p.Records.Policy().MaxSize + formSlack,
		"/moi/espace/fermer":       defaultBodyLimit,
	} {
		rec, read := send(path, -1)
		if rec.Code == http.StatusOK || rec.Code == http.StatusSeeOther {
			t.Fatalf("%s: an endless body answered %d", path, rec.Code)
		}
		// The reader's buffer may run a little past the limit, never far.
		if read > limit+64<<10 {
			t.Fatalf("%s: %d bytes read of an endless body, the limit is %d", path, read, limit)
		}
		rec, read = send(path, limit+1)
		if rec.Code != http.StatusRequestEntityTooLarge || read != 0 {
			t.Fatalf("%s: a declared length over the limit: %d, %d bytes read", path, rec.Code, read)
		}
	}
	if !strings.Contains(b.get("/moi").body, "Julie") {
		t.Fatal("the session ended")
	}
}

// The review's findings on the messages pages, end to end: the home counts without reading or
// tracing, a conversation holds no file in memory, a file is what its bytes are, names are
// clean in headers, a refused reply and a saved attachment are traced.
func TestMessagesReviewFindings(t *testing.T) {
	p := newMsgPortal(t)
	ctx := context.Background()
	pro := p.mx.Professional(t, 65, "lea.faure", "FAURE", "Léa")
	b := p.browser(t)
	pid, _, addr := p.patientIn(t, b, 651, "Inès", "ines.moreau@example.fr")
	web := p.srv.Config.Handler.(*Web)

	pdf := recordtest.PDF(2000, 65)
	p.sendSMTP(t, pro, addr, withPDF(pro.Address, addr, "Compte rendu", "Voici le compte rendu.", "résumé.pdf", pdf))
	p.sendSMTP(t, pro, addr, withPDF(pro.Address, addr, "Faux PDF", "Un fichier.", "faux.pdf", []byte("<html><script>alert(1)</script></html>")))

	// The home counts the unread messages from the flags: no read of the mailbox traced.
	reads := func() int { return strings.Count(strings.Join(p.Traces(t, pid), "\n"), "mail.read") }
	before := reads()
	if pg := b.get("/moi"); pg.status != 200 || !strings.Contains(pg.body, "2 nouveau(x) message(s)") {
		t.Fatalf("home: %d %.1500s", pg.status, pg.body)
	}
	if n := reads(); n != before {
		t.Fatalf("the home page traced %d read(s) of the mailbox", n-before)
	}

	pg := b.get("/moi/messages")
	ids := messageLink.FindAllStringSubmatch(pg.body, -1)
	if len(ids) != 2 {
		t.Fatalf("inbox: %.2000s", pg.body)
	}
	fake, real := ids[0][1], ids[1][1] // newest first
	realID, _ := strconv.ParseInt(real, 10, 64)

	// A conversation keeps the sizes of its files, never their bytes.
	th, err := web.msgs.Thread(ctx, access.Actor{Kind: audit.ActorPatient, ID: "p", Name: "p", PatientID: pid}, audit.ChannelWeb, realID)
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, m := range th.Messages {
		for _, a := range m.Attachments {
			files++
			if a.Data() != nil || a.Size == 0 {
				t.Fatalf("the thread holds %d bytes of %s", len(a.Data()), a.Name)
			}
		}
	}
	if files != 2 {
		t.Fatalf("%d attachments in the thread", files)
	}

	// The spoofed PDF: not previewed, not savable, downloaded as bytes, in a sandbox.
	pg = b.get("/moi/messages/" + fake + "/pieces/0")
	if pg.status != 200 || strings.Contains(pg.body, "<iframe") || strings.Contains(pg.body, "/enregistrer") {
		t.Fatalf("the spoofed PDF's page: %d %.2000s", pg.status, pg.body)
	}
	pg = b.get("/moi/messages/" + fake + "/pieces/0/contenu")
	if ct, cd := pg.header.Get("Content-Type"), pg.header.Get("Content-Disposition"); ct != "application/octet-stream" ||
		!strings.HasPrefix(cd, "attachment") || !strings.Contains(pg.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("the spoofed PDF served as %s, %s, %s", ct, cd, pg.header.Get("Content-Security-Policy"))
	}
	token := csrfOf(t, b.get("/moi/messages/"+real+"/pieces/0").body)
	if pg := b.post("/moi/messages/"+fake+"/pieces/0/enregistrer", url.Values{"csrf_token": {token}, "type": {"DOC"}}); pg.status != http.StatusBadRequest ||
		!strings.Contains(pg.body, "Seuls les fichiers PDF") {
		t.Fatalf("saving the spoofed PDF: %d %.500s", pg.status, pg.body)
	}
	if strings.Contains(strings.Join(p.Traces(t, pid), "\n"), "document.deposit") {
		t.Fatal("the spoofed PDF was filed")
	}

	// The real PDF: previewed; its UTF-8 name is given as filename* (RFC 5987).
	pg = b.get("/moi/messages/" + real + "/pieces/0")
	if !strings.Contains(pg.body, "<iframe") {
		t.Fatalf("the PDF's page: %.2000s", pg.body)
	}
	pg = b.get("/moi/messages/" + real + "/pieces/0/contenu")
	if cd := pg.header.Get("Content-Disposition"); pg.header.Get("Content-Type") != "application/pdf" ||
		cd != "inline; filename*=utf-8''r%C3%A9sum%C3%A9.pdf" {
		t.Fatalf("the PDF served as %s, %q", pg.header.Get("Content-Type"), cd)
	}
	types := regexp.MustCompile(`<option value="([^"]+)"`).FindStringSubmatch(b.get("/moi/messages/" + real + "/pieces/0").body)
	if types == nil {
		t.Fatal("no document type to choose")
	}
	if pg := b.post("/moi/messages/"+real+"/pieces/0/enregistrer", url.Values{"csrf_token": {token}, "type": {types[1]}}); pg.status != http.StatusSeeOther {
		t.Fatalf("saving the PDF: %d %.500s", pg.status, pg.body)
	}
	if !strings.Contains(strings.Join(p.Traces(t, pid), "\n"), "mail.attachment_save allowed") {
		t.Fatalf("no trace of the saved attachment:\n%s", strings.Join(p.Traces(t, pid), "\n"))
	}

	// A reply after [FIN] is refused, in French, and traced refused with its reason.
	p.sendSMTP(t, pro, addr, mailtest.Message(pro.Address, addr, "[FIN]", "Fin du suivi."))
	pg = b.get("/moi/messages")
	last := messageLink.FindStringSubmatch(pg.body)[1]
	pg = b.get("/moi/messages/" + last)
	pg = b.filesForm("/moi/messages/"+last+"/repondre", map[string]string{"csrf_token": csrfOf(t, pg.body), "corps": "Merci"}, "", nil, "")
	if pg.status != http.StatusForbidden || !strings.Contains(pg.body, "a clos cet échange") {
		t.Fatalf("reply after [FIN]: %d %.1500s", pg.status, pg.body)
	}
	if traces := strings.Join(p.Traces(t, pid), "\n"); !strings.Contains(traces, "mail.send denied patient_first") {
		t.Fatalf("the refused reply is not traced refused:\n%s", traces)
	}
	// A file that is not a PDF or an image by its bytes is refused, in French.
	pg = b.get("/moi/messages/" + real)
	pg = b.filesForm("/moi/messages/"+real+"/repondre", map[string]string{"csrf_token": csrfOf(t, pg.body), "corps": "Voici"}, "x.pdf",
		[]byte("MZ\x90\x00 not a pdf"), "application/pdf")
	if pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "un PDF, une image JPEG ou PNG") || strings.Contains(pg.body, "must be") {
		t.Fatalf("a spoofed file in a reply: %d %.1500s", pg.status, pg.body)
	}
}

// A professional writes only after a traced decision: a blocked one is refused and learns
// nothing of the patient; a space that is not open is refused in French, without its address.
func TestProfessionalWriteDecided(t *testing.T) {
	p := newMsgPortal(t)
	ctx := context.Background()
	b := p.browser(t)
	pid, _, addr := p.patientIn(t, b, 661, "Chloé", "chloe.moreau@example.fr")
	const email, pass = "hugo.blanc@example.fr", "une phrase de passe du docteur"
	idnat := p.professional(t, 66, email, pass)
	pb := p.browser(t)
	p.signIn(t, pb, email, email, pass)

	path := fmt.Sprintf("/pro/patients/%d/message", pid)
	pg := pb.get(path)
	if pg.status != 200 || !strings.Contains(pg.body, "Chloé MOREAU") {
		t.Fatalf("write form: %d %.1000s", pg.status, pg.body)
	}
	token := csrfOf(t, pg.body)
	if traces := strings.Join(p.Traces(t, pid), "\n"); !strings.Contains(traces, "mail.write allowed messaging") {
		t.Fatalf("the form is not decided:\n%s", traces)
	}

	// Blocked: no name, no form, nothing sent.
	self := access.Actor{Kind: audit.ActorPatient, ID: "chloe", Name: "Chloé MOREAU", PatientID: pid}
	if err := p.Access.Block(ctx, self, audit.ChannelWeb, pid, idnat); err != nil {
		t.Fatal(err)
	}
	pg = pb.get(path)
	if pg.status != http.StatusForbidden || strings.Contains(pg.body, "Chloé") || strings.Contains(pg.body, `name="corps"`) {
		t.Fatalf("a blocked professional's form: %d %.1500s", pg.status, pg.body)
	}
	pg = pb.filesForm(path, map[string]string{"csrf_token": token, "objet": "Bonjour", "corps": "x"}, "", nil, "")
	if pg.status != http.StatusForbidden || strings.Contains(pg.body, "Chloé") {
		t.Fatalf("a blocked professional writes: %d %.1500s", pg.status, pg.body)
	}
	if got := p.deliveries(t, addr, "INBOX"); len(got) != 0 {
		t.Fatalf("a blocked professional's message was delivered: %+v", got)
	}
	if traces := strings.Join(p.Traces(t, pid), "\n"); !strings.Contains(traces, "mail.write denied blocked") {
		t.Fatalf("the refusal is not traced:\n%s", traces)
	}

	// A space that is not open: refused in French, without the patient's address.
	ins := recordtest.TestINS(t, 662)
	by := space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI}
	c, err := p.spaces.Create(ctx, by, space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "MOREAU", GivenNames: "Zoé",
		BirthDate: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := p.mx.Mail.PatientAddress(ins.Matricule).String()
	pg = pb.filesForm(fmt.Sprintf("/pro/patients/%d/message", c.Patient.ID), map[string]string{"csrf_token": token, "objet": "Bonjour", "corps": "x"}, "", nil, "")
	if pg.status != http.StatusForbidden || !strings.Contains(pg.body, "n'est pas ouvert") ||
		strings.Contains(strings.ToLower(pg.body), strings.ToLower(ins.Matricule)) || strings.Contains(pg.body, closedAddr) {
		t.Fatalf("a space not open: %d %.1500s", pg.status, pg.body)
	}
	if traces := strings.Join(p.Traces(t, c.Patient.ID), "\n"); !strings.Contains(traces, "mail.write denied space_not_open") {
		t.Fatalf("the refused message is not traced:\n%s", traces)
	}
}

// The representative of an adult is not offered the adult's messages: no menu link, no
// question asked of the mailbox, no refusal on the adult's trail.
func TestAdultsRepresentativeSeesNoMessages(t *testing.T) {
	p := newMsgPortal(t)
	ctx := context.Background()
	by := space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI}
	guardINS, adultINS := recordtest.TestINS(t, 670), recordtest.TestINS(t, 671)
	c, err := p.spaces.Create(ctx, by, space.NewSpace{Patient: space.Patient{INS: guardINS, BirthName: "ROCHE", GivenNames: "Anne",
		BirthDate: time.Date(1960, 4, 4, 0, 0, 0, 0, time.UTC), Sex: space.Female}})
	if err != nil {
		t.Fatal(err)
	}
	adult, err := p.spaces.Create(ctx, by, space.NewSpace{Patient: space.Patient{INS: adultINS, BirthName: "ROCHE", GivenNames: "Paul",
		BirthDate: time.Date(1990, 4, 4, 0, 0, 0, 0, time.UTC), Sex: space.Male},
		Representatives: []space.NewRepresentative{{INS: guardINS.Matricule, Role: space.Guardian}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.spaces.Activate(ctx, by, adultINS, adult.ActivationCode); err != nil {
		t.Fatal(err)
	}
	const email, pass = "anne.roche@example.fr", "la phrase de la tutrice"
	b := p.browser(t)
	if pg := b.post("/activation", url.Values{"ins": {guardINS.Matricule}, "code": {c.ActivationCode}, "email": {email},
		"mot_de_passe": {pass}, "confirmation": {pass}}); pg.status != http.StatusSeeOther {
		t.Fatalf("activation: %d %.300s", pg.status, pg.body)
	}
	p.signIn(t, b, email, email, pass)
	base := fmt.Sprintf("/proches/%d", adult.Patient.ID)
	pg := b.get(base)
	if pg.status != 200 || strings.Contains(pg.body, base+"/messages") {
		t.Fatalf("the adult's home: %d %.2000s", pg.status, pg.body)
	}
	if traces := strings.Join(p.Traces(t, adult.Patient.ID), "\n"); strings.Contains(traces, "mail.read") {
		t.Fatalf("the adult's trail:\n%s", traces)
	}
	// The guardian's own pages offer their own messages.
	if pg := b.get("/moi"); !strings.Contains(pg.body, `href="/moi/messages"`) {
		t.Fatalf("the guardian's own menu: %.2000s", pg.body)
	}
}

// A message from an applicative (no-reply) mailbox offers no reply, and a reply posted anyway
// is refused in French, traced refused, and nothing is stored.
func TestReplyToAnAppSender(t *testing.T) {
	p := newMsgPortal(t)
	ctx := context.Background()
	b := p.browser(t)
	pid, _, addr := p.patientIn(t, b, 681, "Lina", "lina.moreau@example.fr")
	sid := p.mx.Organisation(t, "750000689", "Hôpital Saint-Louis", "Paris")
	box, err := p.mx.Mail.CreateMailbox(ctx, p.mx.Admin, mail.NewMailbox{Kind: mail.APP, LocalPart: "rendez-vous", StructureID: sid})
	if err != nil {
		t.Fatal(err)
	}
	pw, _, err := p.mx.Mail.CreateAppPassword(ctx, p.mx.Admin, box.Address.String(), "", "agenda")
	if err != nil {
		t.Fatal(err)
	}
	app := mailtest.Pro{Address: box.Address.String(), Password: pw, Mailbox: box}
	p.sendSMTP(t, app, addr, mailtest.Message(app.Address, addr, "Votre rendez-vous", "Rendez-vous le 3 mars à 10 h."))

	pg := b.get("/moi/messages")
	id := messageLink.FindStringSubmatch(pg.body)
	if id == nil {
		t.Fatalf("inbox: %.1500s", pg.body)
	}
	pg = b.get("/moi/messages/" + id[1])
	if pg.status != 200 || !strings.Contains(pg.body, "ne reçoit pas de réponse") || strings.Contains(pg.body, `name="corps"`) {
		t.Fatalf("an APP sender's message: %d %.2000s", pg.status, pg.body)
	}
	messages := p.count(t, `SELECT COUNT(*) FROM mail_messages`)
	pg = b.filesForm("/moi/messages/"+id[1]+"/repondre", map[string]string{"csrf_token": csrfOf(t, pg.body), "corps": "Merci"}, "", nil, "")
	if pg.status != http.StatusForbidden || !strings.Contains(pg.body, "ce correspondant ne reçoit pas de réponse") {
		t.Fatalf("a reply to an APP sender: %d %.1500s", pg.status, pg.body)
	}
	if n := p.count(t, `SELECT COUNT(*) FROM mail_messages`); n != messages {
		t.Fatalf("a refused reply left %d message(s)", n-messages)
	}
	if traces := strings.Join(p.Traces(t, pid), "\n"); !strings.Contains(traces, "mail.send denied no_reply") {
		t.Fatalf("the refused reply is not traced refused:\n%s", traces)
	}
}
