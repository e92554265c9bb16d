package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/questionnaire"
)

// A process that stops between the reply carrying a response and its record leaves the
// response "sending". The test makes that state directly in the store (the crash), on both
// databases, and checks that it is settled honestly once older than an answer in progress:
// a reply that left is found (in the patient's Sent folder, or in the professional's INBOX
// when the Sent copy was not filed) and the response is recorded as sent — the sender reads it
// over FHIR; a reply that never left drops the claim and the patient can answer again. Until
// then, an answer that may still be in progress is left alone. Each settling is on the
// patient's trail.
func TestAnInterruptedAnswerIsSettled(t *testing.T) {
	ctx := context.Background()
	p := newQPortal(t)
	// One time for the pages and the messaging, as in carnet serve.
	p.mx.Clock.Set(p.Clock.Now())
	advance := func(d time.Duration) {
		p.Clock.Advance(d)
		p.mx.Clock.Advance(d)
	}
	pro := p.mx.Professional(t, 76, "claire.martin", "MARTIN", "Claire")
	b := p.browser(t)
	pid, _, addr := p.patientIn(t, b, 761, "Julie", "julie.moreau@example.fr")
	token := p.token(t, pro)
	survey := func(title string) string {
		return `{"resourceType":"Questionnaire","url":"https://hopital.example/fhir/Questionnaire/` + strconv.Itoa(len(title)) +
			`","status":"active","title":"` + title + `","item":[{"linkId":"fievre","type":"boolean","text":"Avez-vous de la fièvre ?","required":true}]}`
	}
	// send has the professional send a questionnaire and returns the path of its form.
	sent := 0
	send := func(title string) string {
		t.Helper()
		p.sendSMTP(t, pro, addr, withQuestionnaire(pro.Address, addr, title, "", survey(title)))
		sent++
		p.waitFor(t, sent, `SELECT count(*) FROM questionnaires`)
		return "/moi/questionnaires/" + strconv.Itoa(p.count(t, `SELECT max(id) FROM questionnaires`))
	}
	answer := func(form string) int {
		t.Helper()
		pg := b.get(form)
		if pg.status != 200 || !strings.Contains(pg.body, "Envoyer mes réponses") {
			t.Fatalf("form %s: %d %.2000s", form, pg.status, pg.body)
		}
		if pg = b.post(form, url.Values{"csrf_token": {csrfOf(t, pg.body)}, "q0": {"true"}}); pg.status != http.StatusSeeOther {
			t.Fatalf("answer %s: %d %.2000s", form, pg.status, pg.body)
		}
		return p.count(t, `SELECT max(id) FROM questionnaire_responses`)
	}
	// crash puts a response back in the state a stop before its record leaves.
	crash := func(rid int) {
		t.Helper()
		if _, err := p.DB.SQL().Exec(`UPDATE questionnaire_responses SET state = 'sending', sent_message_ref = NULL WHERE id = $1`, rid); err != nil {
			t.Fatal(err)
		}
	}
	read := func(rid int) (int, string) {
		t.Helper()
		status, body := p.fhirGet(t, token, "/fhir/QuestionnaireResponse/"+strconv.Itoa(rid))
		return status, string(body)
	}
	state := func(rid int) string {
		t.Helper()
		var s string
		if err := p.DB.SQL().QueryRow(`SELECT state FROM questionnaire_responses WHERE id = $1`, rid).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	settled := func(reason string) int {
		return strings.Count(strings.Join(p.Traces(t, pid), "\n"), "questionnaire_response.settle allowed "+reason)
	}

	// 1. The reply left and was filed in the patient's Sent folder; the professional has since
	// deleted it from their INBOX.
	form := send("Avant la consultation")
	first := answer(form)
	var replyRef int
	if err := p.DB.SQL().QueryRow(`SELECT sent_message_ref FROM questionnaire_responses WHERE id = $1`, first).Scan(&replyRef); err != nil {
		t.Fatal(err)
	}
	crash(first)
	if _, err := p.DB.SQL().Exec(`DELETE FROM mail_deliveries WHERE message_ref = $1 AND folder = 'INBOX'`, replyRef); err != nil {
		t.Fatal(err)
	}
	// Within the time an answer may take, nothing is settled: FHIR does not find it, the
	// portal shows it answered.
	if status, body := read(first); status != http.StatusNotFound {
		t.Fatalf("a response being sent, read: %d %s", status, body)
	}
	if pg := b.get(form); pg.status != 200 ||
		strings.Contains(pg.body, "Envoyer mes réponses") {
		t.Fatalf("a response being sent, shown: %d %.2000s", pg.status, pg.body)
	}
	if state(first) != questionnaire.StateSending || settled("") != 0 {
		t.Fatalf("settled within the grace: %s", state(first))
	}
	advance(questionnaire.DefaultSettleAfter + time.Minute)
	status, body := read(first)
	if status != 200 || !strings.Contains(body, `"id":"`+strconv.Itoa(first)+`"`) || !strings.Contains(body, `"valueBoolean":true`) {
		t.Fatalf("a response that left, read after the grace: %d %s", status, body)
	}
	if state(first) != questionnaire.StateSent || p.count(t, `SELECT sent_message_ref FROM questionnaire_responses WHERE id = $1`, first) != replyRef ||
		settled(questionnaire.ReasonReplyFound) != 1 {
		t.Fatalf("a response that left: %s, traces:\n%s", state(first), strings.Join(p.Traces(t, pid), "\n"))
	}
	// A response sent is no claim to drop: its row and its blob stay.
	var dropped bool
	if err := p.DB.Questionnaires().UpdateQuestionnaires(ctx, func(tx questionnaire.Tx) error {
		var err error
		dropped, err = tx.DropResponse(ctx, int64(first), p.Clock.Now())
		return err
	}); err != nil || dropped || state(first) != questionnaire.StateSent ||
		p.count(t, `SELECT count(*) FROM blob_garbage WHERE blob_id = (SELECT blob_id FROM questionnaire_responses WHERE id = $1)`, first) != 0 {
		t.Fatalf("a sent response dropped: %v %v", dropped, err)
	}
	// Settled once: a second read changes nothing.
	if status, _ := read(first); status != 200 || settled("") != 1 {
		t.Fatalf("second read: %d, %d settlings", status, settled(""))
	}

	// 2. The reply left, but the stop came before the Sent copy was filed: it is in the
	// professional's mailbox only, which has since filed it in another folder. The search
	// finds it.
	form = send("Après l'opération")
	second := answer(form)
	var secondRef int
	if err := p.DB.SQL().QueryRow(`SELECT sent_message_ref FROM questionnaire_responses WHERE id = $1`, second).Scan(&secondRef); err != nil {
		t.Fatal(err)
	}
	crash(second)
	if _, err := p.DB.SQL().Exec(`DELETE FROM mail_deliveries WHERE message_ref = $1 AND folder = 'Sent'`, secondRef); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DB.SQL().Exec(`UPDATE mail_deliveries SET folder = 'Archives' WHERE message_ref = $1 AND folder = 'INBOX'`, secondRef); err != nil {
		t.Fatal(err)
	}
	advance(questionnaire.DefaultSettleAfter + time.Minute)
	status, found := p.fhirGet(t, token, "/fhir/QuestionnaireResponse?patient="+strconv.FormatInt(pid, 10))
	if status != 200 || !strings.Contains(string(found), `"total":2`) {
		t.Fatalf("search after the grace: %d %s", status, found)
	}
	if state(second) != questionnaire.StateSent || p.count(t, `SELECT sent_message_ref FROM questionnaire_responses WHERE id = $1`, second) != secondRef ||
		settled(questionnaire.ReasonReplyFound) != 2 {
		t.Fatalf("a reply found in the professional's INBOX: %s", state(second))
	}

	// 3. The stop came after the claim, before the reply: nothing left. The form comes back
	// once the grace is over, and the patient answers again.
	form = send("Suivi à un mois")
	qid, _ := strconv.ParseInt(strings.TrimPrefix(form, "/moi/questionnaires/"), 10, 64)
	raw, err := json.Marshal(questionnaire.Response{ResourceType: "QuestionnaireResponse", Status: "completed",
		Authored: p.Clock.Now().UTC().Format(time.RFC3339),
		Item:     []questionnaire.ResponseItem{{LinkID: "fievre", Answer: []questionnaire.AnswerValue{{ValueBoolean: new(bool)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := p.Blobs.Put(ctx, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	claim := questionnaire.Stored{QuestionnaireID: qid, PatientID: pid, State: questionnaire.StateSending, Blob: ref, AuthoredAt: p.Clock.Now()}
	if err := p.DB.Questionnaires().UpdateQuestionnaires(ctx, func(tx questionnaire.Tx) error { return tx.ClaimResponse(ctx, &claim) }); err != nil {
		t.Fatal(err)
	}
	if pg := b.get(form); pg.status != 200 || strings.Contains(pg.body, "Envoyer mes réponses") {
		t.Fatalf("a claim within the grace, shown: %d %.2000s", pg.status, pg.body)
	}
	advance(questionnaire.DefaultSettleAfter + time.Minute)
	third := answer(form) // the form is offered again, and the answer goes
	if p.count(t, `SELECT count(*) FROM questionnaire_responses WHERE id = $1`, claim.ID) != 0 ||
		p.count(t, `SELECT count(*) FROM blob_garbage WHERE blob_id = $1`, ref.ID) != 1 || settled(questionnaire.ReasonReplyMissing) != 1 {
		t.Fatalf("a claim whose reply never left: traces\n%s", strings.Join(p.Traces(t, pid), "\n"))
	}
	if status, body := read(third); state(third) != questionnaire.StateSent || status != 200 {
		t.Fatalf("the answer given again: %s, read %d %s", state(third), status, body)
	}
	// One reply for each answer: the first deleted, the second filed away, the third.
	if got := p.deliveries(t, pro.Address, "INBOX"); len(got) != 1 || p.count(t, `SELECT count(*) FROM mail_deliveries WHERE message_ref = $1`, secondRef) != 1 {
		t.Fatalf("the professional's INBOX: %d messages, want 1", len(got))
	}
	// The patient's trail says it in words.
	if pg := b.get("/moi/historique"); !strings.Contains(pg.body, "Vérification de l'envoi interrompu d'une réponse à un questionnaire") ||
		!strings.Contains(pg.body, "vous pouvez répondre à nouveau") {
		t.Fatalf("trail: %.6000s", pg.body[max(strings.Index(pg.body, "<table"), 0):])
	}
}
