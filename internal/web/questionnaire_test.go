package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/fhir"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/questionnaire"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
)

// qPortal is the pages with the messaging, the questionnaires' inspector on its queue, the
// questionnaires' service, and the FHIR API that serves the responses.
type qPortal struct {
	*msgPortal
	insp   *questionnaire.Inspector
	api    *httptest.Server
	tokens *apitoken.Service
}

func newQPortal(t *testing.T) *qPortal {
	t.Helper()
	p := newPortal(t)
	insp, err := questionnaire.NewInspector(p.DB.Questionnaires(), p.Blobs, p.Clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := mailtest.New(t, mailtest.Options{Store: func(testing.TB) *store.DB { return p.DB }, Inspectors: []mail.Inspector{insp}})
	msgs, err := mail.NewPortal(e.Mail, p.DB.MailPortal(e.Queue), p.Access, p.Records)
	if err != nil {
		t.Fatal(err)
	}
	// The messages are in the mail environment's blobs (one store in carnet serve).
	svc, err := questionnaire.NewService(questionnaire.Deps{Store: p.DB.Questionnaires(), Blobs: p.Blobs, MailBlobs: e.Blobs, Access: p.Access,
		Mail: msgs, Clock: p.Clock})
	if err != nil {
		t.Fatal(err)
	}
	w := p.srv.Config.Handler.(*Web) // before any request
	w.SetMessages(msgs)
	w.SetQuestionnaires(svc)
	tokens := apitoken.NewService(p.DB.Tokens(), p.Clock)
	api := fhir.New(fhir.Deps{Records: p.Records, Tokens: tokens, Catalog: p.Catalog, BaseURL: "https://carnet.test/fhir", Version: "test"})
	api.SetQuestionnaires(svc)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &qPortal{msgPortal: &msgPortal{portal: p, mx: e}, insp: insp, api: srv, tokens: tokens}
}

// token issues a FHIR bearer token to a professional of the messaging.
func (p *qPortal) token(t *testing.T, pro mailtest.Pro) string {
	t.Helper()
	id := p.count(t, `SELECT id FROM professionals WHERE idnat_ps = $1`, pro.IdNat)
	secret, _, err := p.tokens.Issue(context.Background(), audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, audit.ChannelCLI,
		apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: int64(id)}, "LGC", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func (p *qPortal) fhirGet(t *testing.T, token, path string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", p.api.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// waitFor waits for the queue's worker to have done what query counts (want rows). The worker
// runs on its own: the bound is a deadline for a hung worker, not a timing under test.
func (p *qPortal) waitFor(t *testing.T, want int, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.count(t, query, args...) < want {
		if time.Now().After(deadline) {
			t.Fatalf("still fewer than %d rows of %s", want, query)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// withQuestionnaire writes a professional's message with a questionnaire attached.
func withQuestionnaire(from, to, subject, header, q string) string {
	return fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%d.q@carnet.example>\r\nDate: %s\r\n%sMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n--sep\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Content-Transfer-Encoding: 8bit\r\n\r\nBonjour, merci de remplir le questionnaire joint.\r\n--sep\r\n"+
		"Content-Type: application/fhir+json; charset=utf-8\r\nContent-Disposition: attachment; filename=\"questionnaire.json\"\r\n"+
		"Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n--sep--\r\n", from, to, subject, time.Now().UnixNano(), mailtest.T0.Format(time.RFC1123Z), header, q)
}

const preadmission = `{"resourceType":"Questionnaire","id":"preadmission","url":"https://hopital.example/fhir/Questionnaire/preadmission",
"version":"2","status":"active","title":"Questionnaire de pré-admission","item":[
 {"linkId":"intro","type":"display","text":"Merci de remplir ce questionnaire avant votre hospitalisation."},
 {"linkId":"vous","type":"group","text":"Vous","item":[
   {"linkId":"poids","type":"decimal","text":"Votre poids (kg)","required":true},
   {"linkId":"taille","type":"integer","text":"Votre taille (cm)"},
   {"linkId":"derniere","type":"date","text":"Date de votre dernière hospitalisation"}]},
 {"linkId":"allergie","type":"boolean","text":"Avez-vous des allergies ?","required":true},
 {"linkId":"allergies","type":"text","text":"Lesquelles ?","maxLength":500},
 {"linkId":"arrivee","type":"dateTime","text":"Heure d'arrivée souhaitée"},
 {"linkId":"regime","type":"choice","text":"Régime alimentaire","required":true,"answerOption":[
   {"valueCoding":{"system":"http://hopital.example/regimes","code":"N","display":"Normal"}},
   {"valueCoding":{"system":"http://hopital.example/regimes","code":"SS","display":"Sans sel"}}]},
 {"linkId":"contact","type":"open-choice","text":"Personne à prévenir","answerOption":[{"valueString":"Conjoint"},{"valueString":"Enfant"}]},
 {"linkId":"symptomes","type":"choice","repeats":true,"text":"Symptômes actuels","answerOption":[
   {"valueString":"Fièvre"},{"valueString":"Toux"},{"valueString":"Douleur"}]},
 {"linkId":"medecin","type":"string","text":"Votre médecin traitant","maxLength":80}
]}`

var questionnaireLink = regexp.MustCompile(`/moi/questionnaires/(\d+)"`)

// A professional sends a questionnaire over SMTP; the inspector keeps it; the conversation
// offers it; a form missing a required answer shows the error next to the field and sends
// nothing; the complete form sends the QuestionnaireResponse (valid FHIR R4) as a reply to
// the professional's INBOX and is shown read-only after; the sender reads it over FHIR,
// another professional is refused; a questionnaire in an ended conversation cannot be
// answered; an invalid questionnaire is refused and kept nowhere.
func TestQuestionnaireThroughThePortal(t *testing.T) {
	p := newQPortal(t)
	pro := p.mx.Professional(t, 71, "claire.martin", "MARTIN", "Claire")
	colleague := p.mx.Professional(t, 72, "paul.roux", "ROUX", "Paul")
	b := p.browser(t)
	pid, _, addr := p.patientIn(t, b, 711, "Julie", "julie.moreau@example.fr")
	fhirtest.Validate(t, []byte(preadmission)) // what the test sends is valid FHIR to begin with

	p.sendSMTP(t, pro, addr, withQuestionnaire(pro.Address, addr, "Votre hospitalisation du 10 mars", "", preadmission))
	p.waitFor(t, 1, `SELECT count(*) FROM questionnaires`)

	pg := b.get("/moi/messages")
	m := messageLink.FindStringSubmatch(pg.body)
	if m == nil {
		t.Fatalf("no message: %.1500s", pg.body)
	}
	pg = b.get("/moi/messages/" + m[1])
	if pg.status != 200 || !strings.Contains(pg.body, "Questionnaire à remplir : Questionnaire de pré-admission") {
		t.Fatalf("thread: %d %.3000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	q := questionnaireLink.FindStringSubmatch(pg.body)
	if q == nil {
		t.Fatalf("no questionnaire link: %.3000s", pg.body)
	}
	form := "/moi/questionnaires/" + q[1]

	// Another patient: not found, the refusal traced on the owner's chain.
	other := p.browser(t)
	p.patientIn(t, other, 712, "Alice", "alice.moreau@example.fr")
	if pg := other.get(form); pg.status != http.StatusNotFound {
		t.Fatalf("another patient's questionnaire: %d", pg.status)
	}

	pg = b.get(form)
	if pg.status != 200 {
		t.Fatalf("form: %d %.2000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	for _, want := range []string{"Votre poids (kg)", "Régime alimentaire", "Sans sel", "Personne à prévenir", "Autre réponse", `type="date"`,
		`type="datetime-local"`, `type="checkbox"`, "Oui", "Merci de remplir ce questionnaire", "Envoyer mes réponses",
		"Les champs marqués d'un astérisque (*) sont obligatoires", "Envoyé par Claire MARTIN"} {
		if !strings.Contains(pg.body, want) {
			t.Fatalf("form without %q: %.4000s", want, pg.body)
		}
	}
	if strings.Contains(pg.body, pro.Address) {
		t.Fatal("the form shows the professional's address")
	}
	token := csrfOf(t, pg.body)

	// A required answer missing and a wrong number: the errors next to their fields, nothing sent.
	pg = b.post(form, url.Values{"csrf_token": {token}, "q1": {"un mètre"}, "q3": {"true"}, "q6": {"1"}})
	if pg.status != http.StatusBadRequest {
		t.Fatalf("incomplete form: %d %.2000s", pg.status, pg.body)
	}
	for _, want := range []string{`id="q0-err" class="fr-error-text">Cette question est obligatoire : répondez-y.`,
		`id="q1-err" class="fr-error-text">Saisissez un nombre entier, sans virgule.`, `value="un mètre"`, "Certaines réponses sont à corriger"} {
		if !strings.Contains(pg.body, want) {
			t.Fatalf("incomplete form without %q: %.5000s", want, pg.body)
		}
	}
	checkHTML(t, pg.body, "fr")
	if got := p.deliveries(t, pro.Address, "INBOX"); len(got) != 0 {
		t.Fatalf("an incomplete form was sent: %+v", got)
	}

	// The complete form: sent, then shown read-only.
	pg = b.post(form, url.Values{"csrf_token": {token}, "q0": {"72,5"}, "q1": {"172"}, "q2": {"2024-02-29"}, "q3": {"true"},
		"q4": {"Pénicilline"}, "q5": {"2026-03-10T08:30"}, "q6": {"1"}, "q7-autre": {"Ma sœur"}, "q8": {"0", "2"}})
	if pg.status != http.StatusSeeOther {
		t.Fatalf("complete form: %d %.3000s", pg.status, pg.body)
	}
	pg = b.get(pg.location)
	for _, want := range []string{"Vos réponses ont été envoyées au professionnel.", "72,5", "Sans sel", "Ma sœur", "Fièvre", "Douleur", "10/03/2026 08:30"} {
		if !strings.Contains(pg.body, want) {
			t.Fatalf("answered form without %q: %.4000s", want, pg.body)
		}
	}
	if strings.Contains(pg.body, "Envoyer mes réponses") {
		t.Fatal("an answered questionnaire still offers its form")
	}
	checkHTML(t, pg.body, "fr")
	if pg := b.get("/moi/messages/" + m[1]); !strings.Contains(pg.body, "Questionnaire rempli : Questionnaire de pré-admission") {
		t.Fatalf("thread after answering: %.3000s", pg.body)
	}

	// The professional's INBOX: the reply, the response attached as FHIR JSON.
	got := p.deliveries(t, pro.Address, "INBOX")
	if len(got) != 1 {
		t.Fatalf("the professional's INBOX: %+v", got)
	}
	v, err := mail.ParseView(strings.NewReader(p.mx.ReadMessage(t, got[0].MessageID)))
	if err != nil || v.From != addr || !strings.HasPrefix(v.Subject, "Re: Votre hospitalisation") || len(v.Attachments) != 1 ||
		v.Attachments[0].Declared != "application/fhir+json" || v.Attachments[0].Name != "QuestionnaireResponse.json" {
		t.Fatalf("reply as received: %v %+v", err, v)
	}
	sent := v.Attachments[0].Data()
	fhirtest.Validate(t, sent)
	var resp questionnaire.Response
	if err := json.Unmarshal(sent, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Status != "completed" || resp.Questionnaire != "https://hopital.example/fhir/Questionnaire/preadmission|2" ||
		resp.Subject == nil || resp.Subject.Reference != "Patient/"+strconv.FormatInt(pid, 10) || resp.Authored == "" {
		t.Fatalf("response: %s", sent)
	}
	for _, want := range []string{`"valueDecimal":72.5`, `"valueInteger":172`, `"valueDate":"2024-02-29"`, `"valueBoolean":true`,
		`"valueDateTime":"2026-03-10T08:30:00+01:00"`, `"code":"SS"`, `"valueString":"Ma sœur"`, `"linkId":"poids"`} {
		if !strings.Contains(string(sent), want) {
			t.Fatalf("response without %s: %s", want, sent)
		}
	}

	// Answered once.
	if pg := b.post(form, url.Values{"csrf_token": {token}, "q0": {"80"}, "q3": {"false"}, "q6": {"0"}}); pg.status != http.StatusConflict ||
		!strings.Contains(pg.body, "déjà reçu votre réponse") {
		t.Fatalf("second answer: %d %.2000s", pg.status, pg.body)
	}
	if got := p.deliveries(t, pro.Address, "INBOX"); len(got) != 1 {
		t.Fatalf("a second answer was sent: %+v", got)
	}

	// FHIR: the sender reads it, by id and by search; another professional is refused.
	rid := strconv.Itoa(p.count(t, `SELECT id FROM questionnaire_responses`))
	mine, theirs := p.token(t, pro), p.token(t, colleague)
	status, body := p.fhirGet(t, mine, "/fhir/QuestionnaireResponse/"+rid)
	if status != 200 || !strings.Contains(string(body), `"id":"`+rid+`"`) || !strings.Contains(string(body), `"valueDecimal":72.5`) {
		t.Fatalf("read by the sender: %d %s", status, body)
	}
	fhirtest.Validate(t, body)
	for _, q := range []string{"patient=" + strconv.FormatInt(pid, 10), "patient=Patient/" + strconv.FormatInt(pid, 10),
		"questionnaire=" + url.QueryEscape("https://hopital.example/fhir/Questionnaire/preadmission")} {
		status, body = p.fhirGet(t, mine, "/fhir/QuestionnaireResponse?"+q)
		if status != 200 || !strings.Contains(string(body), `"total":1`) || !strings.Contains(string(body), `"resourceType":"QuestionnaireResponse"`) {
			t.Fatalf("search %s by the sender: %d %s", q, status, body)
		}
		fhirtest.Validate(t, body)
	}
	if status, body := p.fhirGet(t, mine, "/fhir/QuestionnaireResponse?questionnaire="+url.QueryEscape("https://hopital.example/fhir/Questionnaire/preadmission|1")); status != 200 ||
		!strings.Contains(string(body), `"total":0`) {
		t.Fatalf("search of another version: %d %s", status, body)
	}
	if status, body := p.fhirGet(t, theirs, "/fhir/QuestionnaireResponse/"+rid); status != http.StatusForbidden ||
		strings.Contains(string(body), "72.5") || !strings.Contains(string(body), "OperationOutcome") {
		t.Fatalf("read by another professional: %d %s", status, body)
	}
	if status, body := p.fhirGet(t, theirs, "/fhir/QuestionnaireResponse?patient="+strconv.FormatInt(pid, 10)); status != 200 ||
		!strings.Contains(string(body), `"total":0`) {
		t.Fatalf("search by another professional: %d %s", status, body)
	}
	traces := strings.Join(p.Traces(t, pid), "\n")
	for _, want := range []string{"questionnaire.receive allowed", "questionnaire_response.read allowed  QuestionnaireResponse/" + rid,
		"questionnaire_response.read denied not_sender QuestionnaireResponse/" + rid, "mail.send allowed"} {
		if !strings.Contains(traces, want) {
			t.Fatalf("traces without %q:\n%s", want, traces)
		}
	}

	// An ended conversation ([FIN]): the questionnaire cannot be answered, nothing is sent.
	p.sendSMTP(t, colleague, addr, withQuestionnaire(colleague.Address, addr, "Satisfaction", "X-MSS-MES: FIN\r\n",
		strings.Replace(preadmission, `"version":"2"`, `"version":"3"`, 1)))
	p.waitFor(t, 2, `SELECT count(*) FROM questionnaires`)
	ended := p.count(t, `SELECT max(id) FROM questionnaires`)
	pg = b.post("/moi/questionnaires/"+strconv.Itoa(ended), url.Values{"csrf_token": {token}, "q0": {"70"}, "q3": {"false"}, "q6": {"0"}})
	if pg.status != http.StatusForbidden || !strings.Contains(pg.body, "a clos cet échange : ce questionnaire ne peut plus recevoir de réponse") {
		t.Fatalf("answer in an ended conversation: %d %.2000s", pg.status, pg.body)
	}
	if n := p.count(t, `SELECT count(*) FROM questionnaire_responses`); n != 1 {
		t.Fatalf("%d responses kept, want 1", n)
	}
	if got := p.deliveries(t, colleague.Address, "INBOX"); len(got) != 0 {
		t.Fatalf("an answer in an ended conversation was sent: %+v", got)
	}
	if pg := b.get("/moi/questionnaires/" + strconv.Itoa(ended)); pg.status != 200 || strings.Contains(pg.body, "Envoyer mes réponses") ||
		!strings.Contains(pg.body, "Le professionnel a clos cet échange : ce questionnaire ne peut plus recevoir de réponse.") ||
		strings.Contains(pg.body, "Vous avez répondu") {
		t.Fatalf("the questionnaire of an ended conversation: %d %.3000s", pg.status, pg.body)
	}

	// An invalid questionnaire: refused with the reason, kept nowhere.
	invalid := `{"resourceType":"Questionnaire","status":"active","item":[{"linkId":"a","type":"boolean","text":"Fumez-vous ?"},` +
		`{"linkId":"b","type":"integer","text":"Combien par jour ?","enableWhen":[{"question":"a","operator":"=","answerBoolean":true}]}]}`
	done := p.count(t, `SELECT count(*) FROM river_job WHERE kind = 'mail.inspect' AND state = 'completed'`)
	p.sendSMTP(t, pro, addr, withQuestionnaire(pro.Address, addr, "Tabac", "", invalid))
	p.waitFor(t, done+1, `SELECT count(*) FROM river_job WHERE kind = 'mail.inspect' AND state = 'completed'`)
	if n := p.count(t, `SELECT count(*) FROM questionnaires`); n != 2 {
		t.Fatalf("%d questionnaires kept, want 2", n)
	}
	view, err := mail.ParseView(strings.NewReader(withQuestionnaire(pro.Address, addr, "Tabac", "", invalid)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.insp.Inspect(context.Background(), mail.Delivered{Job: mail.InspectJob{MessageID: 1 << 40, MailboxID: 1, PatientID: pid}, View: view})
	if err != nil || f.Processed || !strings.HasPrefix(f.Failure, "QUESTIONNAIRE_NON_SUPPORTE^") || !strings.Contains(f.Failure, "enableWhen") {
		t.Fatalf("finding of an invalid questionnaire: %+v %v", f, err)
	}

	// The space purged: the questionnaires and the response go, their JSON to the garbage job.
	rows, err := p.DB.SQL().Query(`SELECT blob_id FROM questionnaires UNION SELECT blob_id FROM questionnaire_responses`)
	if err != nil {
		t.Fatal(err)
	}
	var kept []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, id)
	}
	rows.Close()
	if len(kept) != 3 {
		t.Fatalf("%d blobs of questionnaires and responses, want 3", len(kept))
	}
	if err := p.DB.Update(context.Background(), func(tx *store.Tx) error {
		return tx.PurgePatientData(context.Background(), pid, p.Clock.Now())
	}); err != nil {
		t.Fatal(err)
	}
	if n := p.count(t, `SELECT count(*) FROM questionnaires`) + p.count(t, `SELECT count(*) FROM questionnaire_responses`); n != 0 {
		t.Fatalf("after the purge: %d rows left", n)
	}
	if n := p.count(t, `SELECT count(*) FROM blob_garbage WHERE blob_id IN ($1, $2, $3)`, kept...); n != 3 {
		t.Fatalf("%d of the 3 blobs in the garbage after the purge", n)
	}
}

// A parent answers the questionnaire sent to their child, as the child would: the form under
// the child's pages, the answer sent from the child's mailbox, about the child.
func TestParentAnswersTheirChildsQuestionnaire(t *testing.T) {
	p := newQPortal(t)
	ctx := context.Background()
	pro := p.mx.Professional(t, 73, "marc.pediatre", "LENOIR", "Marc")
	by := space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI}
	parentINS, childINS := recordtest.TestINS(t, 730), recordtest.TestINS(t, 731)
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
	survey := `{"resourceType":"Questionnaire","status":"active","title":"Avant la consultation","item":[
		{"linkId":"fievre","type":"boolean","text":"Votre enfant a-t-il de la fièvre ?","required":true}]}`
	p.sendSMTP(t, pro, childAddr, withQuestionnaire(pro.Address, childAddr, "Consultation de mardi", "", survey))
	p.waitFor(t, 1, `SELECT count(*) FROM questionnaires`)

	base := fmt.Sprintf("/proches/%d", child.Patient.ID)
	pg := b.get(base + "/messages")
	m := regexp.MustCompile(base + `/messages/(\d+)"`).FindStringSubmatch(pg.body)
	if m == nil {
		t.Fatalf("no message link: %.1500s", pg.body)
	}
	pg = b.get(base + "/messages/" + m[1])
	q := regexp.MustCompile(base + `/questionnaires/(\d+)"`).FindStringSubmatch(pg.body)
	if pg.status != 200 || q == nil || !strings.Contains(pg.body, "Questionnaire à remplir : Avant la consultation") {
		t.Fatalf("the child's conversation: %d %.2000s", pg.status, pg.body)
	}
	form := base + "/questionnaires/" + q[1]
	if pg := b.get("/moi/questionnaires/" + q[1]); pg.status != http.StatusNotFound {
		t.Fatalf("the child's questionnaire under /moi: %d", pg.status)
	}
	pg = b.get(form)
	if pg.status != 200 || !strings.Contains(pg.body, "Votre enfant a-t-il de la fièvre ?") || !strings.Contains(pg.body, "Vous agissez pour Léo LEGRAND") {
		t.Fatalf("the child's form: %d %.2000s", pg.status, pg.body)
	}
	pg = b.post(form, url.Values{"csrf_token": {csrfOf(t, pg.body)}, "q0": {"false"}})
	if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, form) {
		t.Fatalf("the parent's answer: %d %s %.1500s", pg.status, pg.location, pg.body)
	}
	got := p.deliveries(t, pro.Address, "INBOX")
	if len(got) != 1 {
		t.Fatalf("the professional's INBOX: %+v", got)
	}
	v, err := mail.ParseView(strings.NewReader(p.mx.ReadMessage(t, got[0].MessageID)))
	if err != nil || v.From != childAddr || len(v.Attachments) != 1 {
		t.Fatalf("reply: %v %+v", err, v)
	}
	sent := string(v.Attachments[0].Data())
	if !strings.Contains(sent, `"reference":"Patient/`+strconv.FormatInt(child.Patient.ID, 10)+`"`) || !strings.Contains(sent, `"valueBoolean":false`) ||
		strings.Contains(sent, `"author"`) {
		t.Fatalf("response: %s", sent)
	}
	fhirtest.Validate(t, []byte(sent))
}

// A patient's mailbox deleted for a year without use takes its questionnaires with it, their
// JSON to the garbage job (without them, the mailbox could not be deleted at all).
func TestQuestionnairesGoWithAnInactiveMailbox(t *testing.T) {
	ctx := context.Background()
	p := newQPortal(t)
	pro := p.mx.Professional(t, 75, "claire.martin", "MARTIN", "Claire")
	_, addr := p.mx.Patient(t, 751)
	p.sendSMTP(t, pro, addr, withQuestionnaire(pro.Address, addr, "Questionnaire", "", preadmission))
	p.waitFor(t, 1, `SELECT count(*) FROM questionnaires`)
	var blob string
	if err := p.DB.SQL().QueryRow(`SELECT blob_id FROM questionnaires`).Scan(&blob); err != nil {
		t.Fatal(err)
	}
	sender, err := notify.NewOutbox(notify.Config{OutboxDir: t.TempDir()}, p.mx.Clock)
	if err != nil {
		t.Fatal(err)
	}
	rule, err := mail.NewRetention(p.mx.Mail, sender, mail.DefaultRetention())
	if err != nil {
		t.Fatal(err)
	}
	p.mx.Clock.Advance(336 * 24 * time.Hour)
	if _, err := rule.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	p.mx.Clock.Advance(31 * 24 * time.Hour)
	rep, err := rule.Sweep(ctx)
	if err != nil || rep.Failed != 0 || rep.Deleted == 0 {
		t.Fatalf("retention: %+v %v", rep, err)
	}
	if n := p.count(t, `SELECT count(*) FROM mailboxes WHERE address = $1`, addr); n != 0 {
		t.Fatalf("the patient's mailbox is still there")
	}
	if n := p.count(t, `SELECT count(*) FROM questionnaires`); n != 0 {
		t.Fatalf("%d questionnaires left", n)
	}
	if n := p.count(t, `SELECT count(*) FROM blob_garbage WHERE blob_id = $1`, blob); n != 1 {
		t.Fatal("the questionnaire's blob is not in the garbage")
	}
}
