package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// A professional writes to a colleague from the web: delivered into the colleague's INBOX with
// the file, a copy in the sender's Sent; an address outside the trust space, an unknown one and
// a patient's are refused in French, nothing delivered.
func TestProfessionalWritesToAColleague(t *testing.T) {
	p := newMsgPortal(t)
	colleague := p.mx.Professional(t, 91, "paul.roux", "ROUX", "Paul")
	const email, pass = "anne.bernard@example.fr", "une autre phrase solide"
	p.professional(t, 92, email, pass)
	b := p.browser(t)
	p.signIn(t, b, email, email, pass)

	pg := b.get("/pro/messages/nouveau?a=" + colleague.Address)
	if pg.status != 200 || !strings.Contains(pg.body, `value="`+colleague.Address+`"`) {
		t.Fatalf("form: %d %.800s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)
	const path = "/pro/messages/nouveau"
	for _, c := range []struct{ to, want string }{
		{"quelqu.un@gmail.com", "espace de confiance"},
		{"inconnu@" + strings.SplitN(colleague.Address, "@", 2)[1], "n'existe pas"},
		{p.mx.Mail.PatientAddress(recordtest.TestINS(t, 93).Matricule).String(), "adresse d'un patient"},
		{"pas une adresse", "n'a pas été envoyé"},
	} {
		pg := b.filesForm(path, map[string]string{"csrf_token": token, "a": c.to, "objet": "Avis", "corps": "Bonjour confrère."}, "", nil, "")
		if pg.status != http.StatusForbidden && pg.status != http.StatusBadRequest || !strings.Contains(pg.body, c.want) {
			t.Errorf("to %q: %d, want a refusal saying %q: %.1500s", c.to, pg.status, c.want, pg.body[strings.Index(pg.body, "<main"):])
		}
	}
	if got := p.deliveries(t, colleague.Address, "INBOX"); len(got) != 0 {
		t.Fatalf("refused messages delivered: %+v", got)
	}
	pg = b.filesForm(path, map[string]string{"csrf_token": token, "a": colleague.Address, "objet": "Avis sur un ECG", "corps": "Bonjour, votre avis ?"},
		"ecg.pdf", recordtest.PDF(1200, 92), "application/pdf")
	if pg.status != http.StatusSeeOther {
		t.Fatalf("write: %d %.1500s", pg.status, pg.body)
	}
	if pg := b.get(pg.location); !strings.Contains(pg.body, "Votre message est envoyé") {
		t.Fatalf("after writing: %.1000s", pg.body)
	}
	got := p.deliveries(t, colleague.Address, "INBOX")
	if len(got) != 1 {
		t.Fatalf("the colleague's INBOX: %+v", got)
	}
	raw := p.mx.ReadMessage(t, got[0].MessageID)
	for _, want := range []string{"Avis sur un ECG", "ecg.pdf", "From: "} {
		if !strings.Contains(raw, want) {
			t.Errorf("the message lacks %q:\n%.1500s", want, raw)
		}
	}
}
