package web

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// msgPortal is the pages with the messaging running on the same store: the SMTP listeners,
// the mail service, and the portal's side of it.
type msgPortal struct {
	*portal
	mx *mailtest.Env
}

func newMsgPortal(t *testing.T) *msgPortal {
	t.Helper()
	p := newPortal(t)
	e := mailtest.New(t, mailtest.Options{Store: func(testing.TB) *store.DB { return p.DB }})
	msgs, err := mail.NewPortal(e.Mail, p.DB.MailPortal(e.Queue), p.Access, p.Records)
	if err != nil {
		t.Fatal(err)
	}
	p.srv.Config.Handler.(*Web).SetMessages(msgs) // before any request
	return &msgPortal{portal: p, mx: e}
}

// patientIn creates and activates the space of seq through the pages, signs b in, and returns
// the patient's id and mailbox address.
func (p *msgPortal) patientIn(t *testing.T, b *browser, seq int, given, email string) (int64, identity.INS, string) {
	t.Helper()
	pid, ins := p.portal.patientIn(t, b, seq, "MOREAU", given, email)
	return pid, ins, p.mx.Mail.PatientAddress(ins.Matricule).String()
}

// sendSMTP submits raw from a professional's mail client: submission port, STARTTLS, AUTH.
func (p *msgPortal) sendSMTP(t *testing.T, pro mailtest.Pro, to, raw string) {
	t.Helper()
	p.mx.Submit(t, pro, to, raw)
}

// withPDF writes a message from a professional with a text body and a PDF attached.
func withPDF(from, to, subject, body, file string, pdf []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%d.pdf@carnet.example>\r\nDate: %s\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n--sep\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n--sep\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"%s\"\r\n"+
		"Content-Transfer-Encoding: base64\r\n\r\n", from, to, subject, time.Now().UnixNano(), mailtest.T0.Format(time.RFC1123Z), body, file)
	enc := make([]byte, 0)
	const chunk = 57
	for i := 0; i < len(pdf); i += chunk {
		line := pdf[i:min(i+chunk, len(pdf))]
		enc = fmt.Appendf(enc, "%s\r\n", base64.StdEncoding.EncodeToString(line))
	}
	b.Write(enc)
	b.WriteString("--sep--\r\n")
	return b.String()
}

func (b *browser) filesForm(path string, fields map[string]string, name string, file []byte, mimeType string) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="fichiers"; filename="`+name+`"`)
		h.Set("Content-Type", mimeType)
		fw, _ := mw.CreatePart(h)
		fw.Write(file)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", b.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

var messageLink = regexp.MustCompile(`/moi/messages/(\d+)"`)

func (p *msgPortal) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := p.DB.SQL().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (p *msgPortal) deliveries(t *testing.T, address, folder string) []store.MailDelivery {
	t.Helper()
	var out []store.MailDelivery
	if err := p.DB.View(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = tx.MailDeliveries(context.Background(), address, folder)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Mail comes over real SMTP; the patient reads it in the portal, downloads and files its
// attachment, answers with a file (found in the professional's INBOX), is refused an answer
// after [FIN] with nothing stored; another patient cannot read it; a malformed message is
// listed as unreadable without breaking the pages.
func TestMessagesThroughThePortal(t *testing.T) {
	p := newMsgPortal(t)
	pro := p.mx.Professional(t, 61, "claire.martin", "MARTIN", "Claire")
	finPro := p.mx.Professional(t, 62, "paul.roux", "ROUX", "Paul")
	b := p.browser(t)
	pid, _, addr := p.patientIn(t, b, 611, "Julie", "julie.moreau@example.fr")
	other := p.browser(t)
	otherID, _, _ := p.patientIn(t, other, 612, "Alice", "alice.moreau@example.fr")

	// Before any mail: an empty inbox, and the home says nothing is new.
	if pg := b.get("/moi/messages"); pg.status != 200 || !strings.Contains(pg.body, "aucun message") {
		t.Fatalf("empty inbox: %d %.500s", pg.status, pg.body)
	}

	pdf := recordtest.PDF(3000, 61)
	p.sendSMTP(t, pro, addr, withPDF(pro.Address, addr, "=?utf-8?q?R=C3=A9sultats_de_votre_prise_de_sang?=",
		"Bonjour,\nvos résultats sont normaux.\nDr Martin", "resultats.pdf", pdf))

	pg := b.get("/moi")
	if pg.status != 200 || !strings.Contains(pg.body, "1 nouveau(x) message(s)") {
		t.Fatalf("home: %d %.1500s", pg.status, pg.body)
	}
	pg = b.get("/moi/messages")
	checkHTML(t, pg.body, "fr")
	for _, want := range []string{"Claire MARTIN", "Résultats de votre prise de sang", "Non lu", "Pièce jointe"} {
		if !strings.Contains(pg.body, want) {
			t.Fatalf("inbox without %q: %.2000s", want, pg.body)
		}
	}
	if strings.Contains(pg.body, pro.Address) {
		t.Fatal("the inbox shows the professional's address")
	}
	m := messageLink.FindStringSubmatch(pg.body)
	if m == nil {
		t.Fatalf("no message link: %.1500s", pg.body)
	}
	id := m[1]

	// Another patient: not found, and the refusal is on the owner's chain.
	if pg := other.get("/moi/messages/" + id); pg.status != http.StatusNotFound {
		t.Fatalf("another patient's message: %d", pg.status)
	}
	if pg := other.get("/moi/messages/" + id + "/pieces/0/contenu"); pg.status != http.StatusNotFound {
		t.Fatalf("another patient's attachment: %d", pg.status)
	}
	traces := strings.Join(p.Traces(t, pid), "\n")
	if !strings.Contains(traces, "mail.read denied not_holder matrix=default-v1 message/") || !strings.Contains(traces, "mail.deliver allowed") {
		t.Fatalf("traces of the patient:\n%s", traces)
	}
	_ = otherID

	pg = b.get("/moi/messages/" + id)
	if pg.status != 200 || !strings.Contains(pg.body, "vos résultats sont normaux.") || !strings.Contains(pg.body, "resultats.pdf") ||
		!strings.Contains(pg.body, "Répondre") || strings.Contains(pg.body, pro.Address) {
		t.Fatalf("thread: %d %.3000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)
	if pg := b.get("/moi/messages"); strings.Contains(pg.body, "Non lu") {
		t.Fatal("still unread after reading")
	}
	if pg := b.get("/moi"); !strings.Contains(pg.body, "Aucun nouveau message") {
		t.Fatalf("home after reading: %.1500s", pg.body)
	}

	// The attachment: its page, its bytes, and filed into the record.
	if pg := b.get("/moi/messages/" + id + "/pieces/0"); pg.status != 200 || !strings.Contains(pg.body, "Enregistrer dans mon dossier") {
		t.Fatalf("attachment page: %d %.1500s", pg.status, pg.body)
	} else {
		checkHTML(t, pg.body, "fr")
	}
	content := b.get("/moi/messages/" + id + "/pieces/0/contenu")
	if content.status != 200 || content.header.Get("Content-Type") != "application/pdf" || content.body != string(pdf) {
		t.Fatalf("attachment: %d %s", content.status, content.header.Get("Content-Type"))
	}
	var personal string
	for _, ty := range p.Catalog.Types() {
		if ty.Space == terminology.SpacePersonal {
			personal = ty.Code
			break
		}
	}
	if pg := b.post("/moi/messages/"+id+"/pieces/0/enregistrer", url.Values{"csrf_token": {token}, "type": {personal},
		"titre": {"Prise de sang de mars"}}); pg.status != http.StatusSeeOther {
		t.Fatalf("save attachment: %d %.500s", pg.status, pg.body)
	}
	if pg := b.get("/moi/documents?espace=" + string(terminology.SpacePersonal)); !strings.Contains(pg.body, "Prise de sang de mars") {
		t.Fatalf("documents after saving: %.2000s", pg.body)
	}

	// The reply, with a file: delivered into the professional's INBOX.
	reply := recordtest.PDF(2000, 62)
	pg = b.filesForm("/moi/messages/"+id+"/repondre", map[string]string{"csrf_token": token, "corps": "Merci docteur, voici mon ordonnance."},
		"ordonnance.pdf", reply, "application/pdf")
	if pg.status != http.StatusSeeOther {
		t.Fatalf("reply: %d %.1500s", pg.status, pg.body)
	}
	got := p.deliveries(t, pro.Address, "INBOX")
	if len(got) != 1 {
		t.Fatalf("the professional's INBOX: %+v", got)
	}
	raw := p.mx.ReadMessage(t, got[0].MessageID)
	v, err := mail.ParseView(strings.NewReader(raw))
	if err != nil || v.From != addr || !strings.HasPrefix(v.Subject, "Re: Résultats") || !strings.Contains(v.Text, "voici mon ordonnance") ||
		len(v.Attachments) != 1 || !bytes.Equal(v.Attachments[0].Data(), reply) {
		t.Fatalf("reply as received: %v %+v", err, v)
	}
	pg = b.get(pg.location)
	if !strings.Contains(pg.body, "Votre réponse est envoyée") || !strings.Contains(pg.body, "voici mon ordonnance") {
		t.Fatalf("thread after the reply: %.3000s", pg.body)
	}

	// [FIN]: the professional ends the exchange; the patient's answer is refused and nothing kept.
	p.sendSMTP(t, finPro, addr, "X-MSS-MES: FIN\r\n"+mailtest.Message(finPro.Address, addr, "Fin de suivi", "Le suivi est terminé."))
	pg = b.get("/moi/messages")
	ms := messageLink.FindAllStringSubmatch(pg.body, -1)
	var finID string
	for _, m := range ms {
		if pg := b.get("/moi/messages/" + m[1]); strings.Contains(pg.body, "Le suivi est terminé.") {
			finID = m[1]
			if !strings.Contains(pg.body, "a clos cet échange") || strings.Contains(pg.body, `name="corps"`) {
				t.Fatalf("ended thread: %.2000s", pg.body)
			}
		}
	}
	if finID == "" {
		t.Fatalf("no [FIN] message in %.2000s", pg.body)
	}
	messages := p.count(t, `SELECT COUNT(*) FROM mail_messages`)
	pg = b.filesForm("/moi/messages/"+finID+"/repondre", map[string]string{"csrf_token": token, "corps": "Une dernière question"}, "", nil, "")
	if pg.status != http.StatusForbidden || !strings.Contains(pg.body, "a clos cet échange") {
		t.Fatalf("reply after [FIN]: %d %.2000s", pg.status, pg.body)
	}
	if n := p.count(t, `SELECT COUNT(*) FROM mail_messages`); n != messages {
		t.Fatalf("a refused reply left %d message(s)", n-messages)
	}
	if got := p.deliveries(t, finPro.Address, "INBOX"); len(got) != 0 {
		t.Fatalf("the refused reply was delivered: %+v", got)
	}

	// A message whose MIME cannot be taken apart: listed as unreadable, the rest still there.
	deep := "Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
	for i := 0; i < 12; i++ {
		deep += fmt.Sprintf("--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
	}
	p.sendSMTP(t, pro, addr, fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: Illisible\r\nMIME-Version: 1.0\r\n%s", pro.Address, addr, deep))
	pg = b.get("/moi/messages")
	if pg.status != 200 || !strings.Contains(pg.body, "Fin de suivi") || !strings.Contains(pg.body, "Résultats de votre prise de sang") {
		t.Fatalf("inbox with a malformed message: %d %.2000s", pg.status, pg.body)
	}
	pg = b.get("/moi/messages/" + id)
	if pg.status != 200 || !strings.Contains(pg.body, "Message illisible") || !strings.Contains(pg.body, "vos résultats sont normaux.") {
		t.Fatalf("thread with a malformed message: %d %.3000s", pg.status, pg.body)
	}
}

// A professional writes to a patient from the web pages: their PER mailbox is made at the
// first message, the patient finds it, and a [FIN] checked leaves the patient no reply.
func TestProfessionalWritesToThePatient(t *testing.T) {
	p := newMsgPortal(t)
	b := p.browser(t)
	pid, _, addr := p.patientIn(t, b, 621, "Emma", "emma.moreau@example.fr")
	const email, pass = "anne.bernard@example.fr", "une autre phrase solide"
	p.professional(t, 63, email, pass)
	pb := p.browser(t)
	p.signIn(t, pb, email, email, pass)

	path := fmt.Sprintf("/pro/patients/%d/message", pid)
	pg := pb.get(path)
	if pg.status != 200 || !strings.Contains(pg.body, "Emma MOREAU") {
		t.Fatalf("write form: %d %.1000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)
	if pg := pb.filesForm(path, map[string]string{"csrf_token": token, "objet": "", "corps": "x"}, "", nil, ""); pg.status != http.StatusBadRequest {
		t.Fatalf("no subject: %d", pg.status)
	}
	if pg := pb.filesForm(path, map[string]string{"csrf_token": token, "objet": "Note", "corps": "x"}, "note.html",
		[]byte("<script>alert(1)</script>"), "text/html"); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "un PDF, une image JPEG ou PNG") {
		t.Fatalf("an HTML attachment: %d %.800s", pg.status, pg.body)
	}
	if pg := pb.filesForm(path, map[string]string{"csrf_token": token, "objet": "Gros fichier", "corps": "x"}, "gros.pdf",
		append([]byte("%PDF-1.4\n"), make([]byte, 11<<20)...), "application/pdf"); pg.status != http.StatusBadRequest {
		t.Fatalf("attachments over the limit: %d %.800s", pg.status, pg.body)
	}
	if got := p.deliveries(t, addr, "INBOX"); len(got) != 0 {
		t.Fatalf("refused messages delivered: %+v", got)
	}
	pg = pb.filesForm(path, map[string]string{"csrf_token": token, "objet": "Votre ordonnance", "corps": "Ci-joint votre ordonnance.", "fin": "1"},
		"ordonnance.pdf", recordtest.PDF(1500, 63), "application/pdf")
	if pg.status != http.StatusSeeOther {
		t.Fatalf("write: %d %.1500s", pg.status, pg.body)
	}
	if pg := pb.get(pg.location); !strings.Contains(pg.body, "Votre message est envoyé") {
		t.Fatalf("after writing: %.1000s", pg.body)
	}
	if got := p.deliveries(t, addr, "INBOX"); len(got) != 1 {
		t.Fatalf("the patient's INBOX: %+v", got)
	}
	pg = b.get("/moi/messages")
	if !strings.Contains(pg.body, "Anne Bernard") || !strings.Contains(pg.body, "Votre ordonnance") {
		t.Fatalf("inbox: %.2000s", pg.body)
	}
	id := messageLink.FindStringSubmatch(pg.body)[1]
	if pg := b.get("/moi/messages/" + id); !strings.Contains(pg.body, "a clos cet échange") || !strings.Contains(pg.body, "ordonnance.pdf") {
		t.Fatalf("thread: %.2000s", pg.body)
	}
	// The professional never reads the patient's mailbox.
	if pg := pb.get("/moi/messages/" + id); pg.status != http.StatusSeeOther {
		t.Fatalf("a professional on the patient's messages: %d", pg.status)
	}
}

// A parent reads and answers the messages of their minor child under /proches/{id}; the
// trail of the child names the parent as a representative.
func TestParentReadsTheirChildsMessages(t *testing.T) {
	p := newMsgPortal(t)
	ctx := context.Background()
	pro := p.mx.Professional(t, 64, "marc.pediatre", "LENOIR", "Marc")
	by := space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI}
	parentINS, childINS := recordtest.TestINS(t, 640), recordtest.TestINS(t, 641)
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
	childAddr := p.mx.Mail.PatientAddress(childINS.Matricule).String()
	p.sendSMTP(t, pro, childAddr, mailtest.Message(pro.Address, childAddr, "Rappel de vaccination", "Le rappel est à faire en mai."))

	base := fmt.Sprintf("/proches/%d", child.Patient.ID)
	pg := b.get(base + "/messages")
	if pg.status != 200 || !strings.Contains(pg.body, "Rappel de vaccination") || !strings.Contains(pg.body, "Vous agissez pour Léo LEGRAND") {
		t.Fatalf("the child's inbox: %d %.1500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	// The parent opening the child's messages is a use of the child's mailbox (retention).
	var used sql.NullInt64
	if err := p.DB.SQL().QueryRow(`SELECT last_active_at FROM mailboxes WHERE patient_id = $1`, child.Patient.ID).Scan(&used); err != nil || !used.Valid {
		t.Errorf("the child's mailbox use not recorded: %v %v", used, err)
	}
	m := regexp.MustCompile(base + `/messages/(\d+)"`).FindStringSubmatch(pg.body)
	if m == nil {
		t.Fatalf("no message link: %.1500s", pg.body)
	}
	pg = b.get(base + "/messages/" + m[1])
	if pg.status != 200 || !strings.Contains(pg.body, "Le rappel est à faire en mai.") {
		t.Fatalf("the child's message: %d %.1500s", pg.status, pg.body)
	}
	// The parent's own inbox does not show the child's messages, nor open them.
	if pg := b.get("/moi/messages"); strings.Contains(pg.body, "Rappel de vaccination") {
		t.Fatal("the child's message in the parent's own inbox")
	}
	if pg := b.get("/moi/messages/" + m[1]); pg.status != http.StatusNotFound {
		t.Fatalf("the child's message under /moi: %d", pg.status)
	}
	pg = b.filesForm(base+"/messages/"+m[1]+"/repondre", map[string]string{"csrf_token": csrfOf(t, pg.body), "corps": "Bien noté, merci."}, "", nil, "")
	if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, base+"/messages/") {
		t.Fatalf("the parent's reply: %d %s %.1000s", pg.status, pg.location, pg.body)
	}
	if got := p.deliveries(t, pro.Address, "INBOX"); len(got) != 1 {
		t.Fatalf("the professional's INBOX: %+v", got)
	}
	traces := strings.Join(p.Traces(t, child.Patient.ID), "\n")
	if !strings.Contains(traces, "mail.read allowed representative") || !strings.Contains(traces, "mail.send allowed representative") {
		t.Fatalf("the child's trail:\n%s", traces)
	}
}
