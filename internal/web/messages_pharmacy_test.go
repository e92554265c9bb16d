package web

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// A patient finds a pharmacy open to patients by its town, writes to it first with a
// prescription attached (delivered into the pharmacy's INBOX, a copy in the patient's Sent,
// traced); an ORG mailbox that does not take patients' messages is neither listed nor
// reachable by posting its address; the pharmacy's answer is one the patient can answer.
func TestPatientWritesToPharmacy(t *testing.T) {
	p := newMsgPortal(t)
	ctx := context.Background()
	org := p.mx.Organisation(t, "750100125", "Pharmacie de la Gare", "Lyon")
	pharma, err := p.mx.Mail.CreateMailbox(ctx, p.mx.Admin, mail.NewMailbox{Kind: mail.ORG, LocalPart: "pharmacie.gare",
		DisplayName: "Pharmacie de la Gare", StructureID: org, AcceptsPatients: true})
	if err != nil {
		t.Fatal(err)
	}
	lab := p.mx.Organisation(t, "750000689", "Laboratoire de Lyon", "Lyon")
	secretariat, err := p.mx.Mail.CreateMailbox(ctx, p.mx.Admin, mail.NewMailbox{Kind: mail.ORG, LocalPart: "labo.lyon", StructureID: lab})
	if err != nil {
		t.Fatal(err)
	}
	b := p.browser(t)
	pid, _, addr := p.patientIn(t, b, 631, "Julie", "julie.moreau@example.fr")

	if pg := b.get("/moi/messages"); !strings.Contains(pg.body, `href="/moi/messages/pharmacie"`) {
		t.Fatalf("no link to write to a pharmacy: %.1500s", pg.body)
	}
	pg := b.get("/moi/messages/pharmacie?commune=lyon")
	if pg.status != 200 || !strings.Contains(pg.body, "Pharmacie de la Gare") || strings.Contains(pg.body, "Laboratoire de Lyon") {
		t.Fatalf("search: %d %.3000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)
	if pg := b.get("/moi/messages/pharmacie?nom=introuvable"); !strings.Contains(pg.body, "Aucune pharmacie") {
		t.Fatalf("search without result: %.2000s", pg.body)
	}

	// Posting the address of a mailbox that takes no patient's message: refused, nothing sent.
	pg = b.filesForm("/moi/messages/pharmacie", map[string]string{"csrf_token": token, "a": secretariat.Address.String(),
		"objet": "Ordonnance", "corps": "Bonjour"}, "", nil, "")
	if pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "Votre message n'a pas été envoyé : choisissez une pharmacie") {
		t.Fatalf("to a mailbox closed to patients: %d %s", pg.status, pg.body[max(0, strings.Index(pg.body, "choisissez")-200):])
	}
	if n := len(p.deliveries(t, secretariat.Address.String(), "INBOX")); n != 0 {
		t.Fatalf("%d messages delivered to a mailbox closed to patients", n)
	}

	pdf := recordtest.PDF(2000, 63)
	pg = b.filesForm("/moi/messages/pharmacie", map[string]string{"csrf_token": token, "a": pharma.Address.String(),
		"objet": "Mon ordonnance", "corps": "Bonjour, voici mon ordonnance. Julie Moreau"}, "ordonnance.pdf", pdf, "application/pdf")
	if pg.status != http.StatusSeeOther || pg.header.Get("Location") != "/moi/messages/pharmacie?fait=message" {
		t.Fatalf("send: %d %.2000s", pg.status, pg.body)
	}
	if pg := b.get("/moi/messages/pharmacie?fait=message"); !strings.Contains(pg.body, "Votre message a été envoyé à la pharmacie") {
		t.Fatalf("after sending: %.1500s", pg.body)
	}
	in := p.deliveries(t, pharma.Address.String(), "INBOX")
	if len(in) != 1 {
		t.Fatalf("%d messages in the pharmacy's INBOX", len(in))
	}
	raw := p.mx.ReadMessage(t, in[0].MessageID)
	if !strings.Contains(raw, `From: "Julie MOREAU" <`+addr+">") || !strings.Contains(raw, "ordonnance.pdf") {
		t.Fatalf("the pharmacy's message:\n%.1500s", raw)
	}
	if n := len(p.deliveries(t, addr, "Sent")); n != 1 {
		t.Fatalf("%d messages in the patient's Sent", n)
	}
	// One "sent" on the patient's trail: the message's; neither the searches nor the form
	// sent back for its address left one.
	var sends int
	for _, tr := range p.Traces(t, pid) {
		if strings.Contains(tr, "mail.send") {
			sends++
			if !strings.Contains(tr, "mail.send allowed") {
				t.Fatalf("trace %q", tr)
			}
		}
	}
	if sends != 1 {
		t.Fatalf("%d mail.send traces, want 1:\n%s", sends, strings.Join(p.Traces(t, pid), "\n"))
	}

	// The pharmacy answers (its members' mail client, through the acceptance of mail): the
	// patient can answer that message in turn.
	rec, err := p.mx.Mail.Accept(ctx, mail.Envelope{Channel: mail.Submission, From: pharma.Address,
		Sender: &mail.Sender{Mailbox: pharma}, Recipients: []mail.Recipient{recipient(t, p, addr)}, TLS: true},
		strings.NewReader("From: Pharmacie de la Gare <"+pharma.Address.String()+">\r\nTo: "+addr+
			"\r\nSubject: Votre ordonnance\r\nMessage-ID: <rep.1@carnet.example>\r\n\r\nVotre traitement est prêt.\r\n"))
	if err != nil || rec.Local != 1 {
		t.Fatalf("the pharmacy's answer: %+v %v", rec, err)
	}
	pg = b.get("/moi/messages")
	m := messageLink.FindStringSubmatch(pg.body) // the newest: the pharmacy's answer
	if m == nil {
		t.Fatalf("no message: %.2000s", pg.body)
	}
	th := b.get("/moi/messages/" + m[1])
	action := replyAction.FindStringSubmatch(th.body)
	if !strings.Contains(th.body, "Votre traitement est prêt.") || action == nil {
		t.Fatalf("the pharmacy's answer cannot be answered: %.3000s", th.body)
	}
	reply := b.filesForm(action[1], map[string]string{"csrf_token": csrfOf(t, th.body), "corps": "Merci, je passe ce soir."}, "", nil, "")
	if reply.status != http.StatusSeeOther {
		t.Fatalf("answer to the pharmacy: %d %.2000s", reply.status, reply.body)
	}
	if n := len(p.deliveries(t, pharma.Address.String(), "INBOX")); n != 2 {
		t.Fatalf("%d messages in the pharmacy's INBOX, want 2", n)
	}
}

var replyAction = regexp.MustCompile(`action="(/moi/messages/\d+/repondre)"`)

// recipient resolves an address as RCPT would.
func recipient(t *testing.T, p *msgPortal, addr string) mail.Recipient {
	t.Helper()
	env := mail.Envelope{Channel: mail.Submission}
	r, err := p.mx.Mail.CheckRecipient(context.Background(), &env, addr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
