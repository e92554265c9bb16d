package mailfile_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"mime"
	"net/smtp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/mail/relay"
	"github.com/carnet-sante/carnet/internal/mailfile"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
	"github.com/carnet-sante/carnet/internal/terminology"
	"github.com/carnet-sante/carnet/internal/xdm"
)

// OtherDomain is another operator's, in the test allowlist.
const OtherDomain = "hopital.other.example"

// lateClock is the messaging's fake clock, which exists only once mailtest.New returns: the
// record and the inspector are built before, on the same database.
type lateClock struct{ c atomic.Pointer[clock.Fake] }

func (l *lateClock) Now() time.Time { return l.c.Load().Now() }

// gate holds the inspection of each delivery until the test lets it go (to change the world
// between the delivery and its inspection); open when hold is nil.
type gate struct{ hold atomic.Pointer[chan struct{}] }

func (g *gate) Inspect(ctx context.Context, _ mail.Delivered) (mail.Finding, error) {
	if h := g.hold.Load(); h != nil {
		select {
		case <-*h:
		case <-ctx.Done():
			return mail.Finding{}, ctx.Err()
		}
	}
	return mail.Finding{}, nil
}

type env struct {
	*mailtest.Env
	Access  *access.Service
	Records *record.Service
	Sink    *mailtest.Sink
	gate    *gate
}

// newEnv starts the messaging with the XDM filing inspector (behind a gate), the record on
// the same database, and another operator's server (the sink) reached by the outbound queue.
func newEnv(t *testing.T) *env {
	t.Helper()
	db := storetest.New(t)
	clk := &lateClock{}
	matrix, err := access.DefaultMatrix()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := terminology.Default()
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.NewFS(t.TempDir(), bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	acc := access.NewService(db.Access(), clk, matrix, access.ServicePolicy{})
	records, err := record.NewService(record.Deps{Store: db.Records(), Access: acc, Blobs: blobs, Catalog: cat, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	filer, err := mailfile.New(mailfile.Deps{Store: db.MailFiling(), Records: records, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{}
	sink := mailtest.NewSink(t)
	e := mailtest.New(t, mailtest.Options{Store: func(testing.TB) *store.DB { return db },
		Inspectors: []mail.Inspector{g, filer},
		Relay: func(c *relay.Config) {
			c.Routes = map[string]string{"*": sink.Addr}
			c.TLS = sink.TLS
		}})
	clk.c.Store(e.Clock)
	e.Allow(t, OtherDomain)
	return &env{Env: e, Access: acc, Records: records, Sink: sink, gate: g}
}

// client opens an SMTP session: EHLO, STARTTLS, AUTH PLAIN when user is given.
func client(t *testing.T, e *env, addr, user, pass string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(e.ClientTLS); err != nil {
		t.Fatal(err)
	}
	if user != "" {
		if err := c.Auth(smtp.PlainAuth("", user, pass, "127.0.0.1")); err != nil {
			t.Fatalf("AUTH: %v", err)
		}
	}
	return c
}

func send(t *testing.T, c *smtp.Client, from string, to []string, msg string) {
	t.Helper()
	if err := c.Mail(from); err != nil {
		t.Fatalf("MAIL: %v", err)
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			t.Fatalf("RCPT: %v", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("DATA: %v", err)
	}
}

// author is a professional as the XDM metadata names them.
func author(idnat, family, given string) xdm.Author {
	return xdm.Author{
		Person:      xdm.Person{ID: idnat, Family: family, Given: given, Authority: string(identity.OIDIdNatPS), IDType: "IDNPS"},
		Specialties: []record.Code{{Code: "G15_10/SM54", Display: "Médecine générale", System: "1.2.250.1.213.1.1.4.5"}},
	}
}

// pkg writes an XDM package of n PDF reports for the patient of matricule, by a.
func pkg(t testing.TB, matricule string, a xdm.Author, n int, seed string) []byte {
	t.Helper()
	ins := identity.INS{Matricule: matricule, System: identity.OIDTestNIR}
	p := xdm.Package{Submission: xdm.Submission{INS: ins, Submitted: mailtest.T0, Title: "Envoi", Authors: []xdm.Author{a},
		SourceID: "1.2.250.1.999.1", UniqueID: "1.2.250.1.999.1.7." + seed}}
	for i := range n {
		p.Documents = append(p.Documents, xdm.Document{
			Content:  []byte(fmt.Sprintf("%%PDF-1.4\n%% compte rendu %s %d\n%%%%EOF", seed, i)),
			UniqueID: fmt.Sprintf("1.2.250.1.999.1.8.%s.%d", seed, i), INS: ins, Title: "Compte rendu de consultation",
			Language: "fr-FR", MimeType: "application/pdf",
			Class:           record.Code{Code: "10", System: "1.2.250.1.213.1.1.4.1"},
			Type:            record.Code{Code: "11488-4", System: "2.16.840.1.113883.6.1"},
			Format:          record.Code{Code: "urn:ihe:iti:xds-sd:pdf:2008", System: "1.3.6.1.4.1.19376.1.2.3"},
			Confidentiality: []record.Code{{Code: "N", System: record.ConfidentialitySystem}},
			Authors:         []xdm.Author{a}, Created: mailtest.T0.Add(-time.Hour), ServiceStart: mailtest.T0.Add(-2 * time.Hour),
		})
	}
	var b bytes.Buffer
	if err := xdm.Write(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// message writes a professional's message to a patient carrying zip as IHE_XDM.ZIP, asking
// for an acknowledgement at dnt when it is given.
func message(from, to, dnt, id string, zip []byte, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Dr Claire Martin <%s>\r\nTo: <%s>\r\nSubject: Votre compte rendu\r\nMessage-ID: <%s@test>\r\n", from, to, id)
	if dnt != "" {
		fmt.Fprintf(&b, "Disposition-Notification-To: <%s>\r\n", dnt)
	}
	b.WriteString(extra)
	b.WriteString("X-MSS-CODECDA: 11488-4\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n")
	b.WriteString("--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour, voici votre compte rendu.\r\n")
	b.WriteString("--b1\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"IHE_XDM.ZIP\"\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(zip)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--b1--\r\n")
	return b.String()
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// inspected waits until every inspection job ended, and returns how many ran.
func inspected(t *testing.T, e *env, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d inspections", n), func() bool {
		var done int
		if err := e.DB.SQL().QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'mail.inspect' AND state = 'completed'`).Scan(&done); err != nil {
			t.Fatal(err)
		}
		return done >= n
	})
}

// documents returns the patient's current documents of these uniqueIds.
func documents(t *testing.T, e *env, patientID int64, uniqueIDs ...string) []record.Document {
	t.Helper()
	var out []record.Document
	err := e.DB.View(context.Background(), func(tx *store.Tx) error {
		for _, u := range uniqueIDs {
			d, err := tx.DocumentByUniqueID(context.Background(), patientID, u)
			if err == nil {
				out = append(out, d)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// traces counts the patient's traces of action with outcome.
func traces(t *testing.T, e *env, patientID int64, action string, outcome audit.Outcome) int {
	t.Helper()
	var n int
	err := e.DB.SQL().QueryRow(`SELECT count(*) FROM traces WHERE patient_id = $1 AND action = $2 AND outcome = $3`,
		patientID, action, string(outcome)).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// mdns returns the acknowledgements in a local mailbox's INBOX.
func mdns(t *testing.T, e *env, address string) []string {
	t.Helper()
	var out []string
	for _, d := range e.Deliveries(t, address) {
		if m := e.ReadMessage(t, d.MessageID); strings.Contains(m, "report-type=disposition-notification") {
			out = append(out, m)
		}
	}
	return out
}

// subject returns a message's decoded subject.
func subject(t *testing.T, msg string) string {
	t.Helper()
	for _, line := range strings.Split(msg, "\r\n") {
		if v, ok := strings.CutPrefix(line, "Subject: "); ok {
			d, err := new(mime.WordDecoder).DecodeHeader(v)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	return ""
}

func wantAll(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// A professional of ours sends a patient an XDM package and asks for an acknowledgement: the
// documents are in the record, deposited by that professional and traced, and the
// acknowledgement "processed" comes back to their mailbox. The inspection run again (a retried
// job) files nothing twice and acknowledges nothing twice.
func TestXDMFiledAndAcknowledged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	pid, patient := e.Patient(t, 1)
	matricule, _ := mail.PatientINS(mustAddress(t, patient))
	zip := pkg(t, matricule, author("810002422979", "AUTRE", "Auteur"), 2, "1")
	c := client(t, e, e.Submission, pro.Address, pro.Password)
	send(t, c, pro.Address, []string{patient}, message(pro.Address, patient, pro.Address, "xdm1", zip, "X-MSS-INS: O\r\n"))

	waitFor(t, "the acknowledgement", func() bool { return len(mdns(t, e, pro.Address)) == 1 })
	docs := documents(t, e, pid, "1.2.250.1.999.1.8.1.0", "1.2.250.1.999.1.8.1.1")
	if len(docs) != 2 {
		t.Fatalf("%d documents filed, want 2", len(docs))
	}
	for _, d := range docs {
		// The sender is the depositor, whoever the metadata names as author.
		if d.Depositor != pro.IdNat || d.DepositedBy != access.DepositedByProfessional || d.Type != "11488-4" {
			t.Fatalf("document: depositor %q %q, type %q", d.Depositor, d.DepositedBy, d.Type)
		}
	}
	if n := traces(t, e, pid, string(access.ActionDeposit), audit.Allowed); n != 2 {
		t.Fatalf("%d deposit traces, want 2", n)
	}
	if n := traces(t, e, pid, "mail.xdm_file", audit.Allowed); n != 1 {
		t.Fatalf("%d filing traces, want 1", n)
	}
	ack := mdns(t, e, pro.Address)[0]
	wantAll(t, "the acknowledgement", ack,
		"Content-Type: multipart/report; report-type=disposition-notification",
		"Content-Type: message/disposition-notification",
		"Reporting-UA: "+mailtest.Hostname+"; carnet",
		"Original-Recipient: rfc822;"+patient, "Final-Recipient: rfc822;"+patient,
		"Original-Message-ID: <xdm1@test>",
		"Disposition: automatic-action/MDN-sent-automatically; processed\r\n",
		"From: <"+patient+">", "To: <"+pro.Address+">", "In-Reply-To: <xdm1@test>", "Auto-Submitted: auto-replied",
		"Content-Type: text/rfc822-headers", "Disposition-Notification-To: <"+pro.Address+">",
		"Message-ID: <mdn.")
	if strings.Contains(ack, "voici votre compte rendu") {
		t.Fatal("the acknowledgement carries the message's body")
	}

	// A retried job: the same delivery inspected again.
	findings, err := e.Mail.Inspect(ctx, inspectJob(t, e, pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 1 || !findings[0].Processed || findings[0].Failure != "" {
		t.Fatalf("findings of the retry: %+v", findings)
	}
	if docs := documents(t, e, pid, "1.2.250.1.999.1.8.1.0", "1.2.250.1.999.1.8.1.1"); len(docs) != 2 {
		t.Fatalf("%d documents after the retry", len(docs))
	}
	if n := traces(t, e, pid, string(access.ActionDeposit), audit.Allowed); n != 2 {
		t.Fatalf("%d deposit traces after the retry, want 2", n)
	}
	if n := len(mdns(t, e, pro.Address)); n != 1 {
		t.Fatalf("%d acknowledgements after the retry, want 1", n)
	}
	if n := traces(t, e, pid, "mail.acknowledge", audit.Allowed); n != 1 {
		t.Fatalf("%d acknowledgement traces, want 1", n)
	}

	// A colleague sending documents under the same uniqueIds is no retry: the record refuses
	// them, and the colleague learns why.
	colleague := e.Professional(t, 2, "paul.durand", "DURAND", "Paul")
	c2 := client(t, e, e.Submission, colleague.Address, colleague.Password)
	send(t, c2, colleague.Address, []string{patient}, message(colleague.Address, patient, colleague.Address, "xdm2", zip, ""))
	waitFor(t, "the colleague's acknowledgement", func() bool { return len(mdns(t, e, colleague.Address)) == 1 })
	wantAll(t, "the colleague's acknowledgement", mdns(t, e, colleague.Address)[0], "processed/Error: 205^")
	for _, d := range documents(t, e, pid, "1.2.250.1.999.1.8.1.0", "1.2.250.1.999.1.8.1.1") {
		if d.Depositor != pro.IdNat {
			t.Fatalf("a document is now the colleague's: %+v", d)
		}
	}
}

// inspectJob returns the inspection of the patient's one delivery.
func inspectJob(t *testing.T, e *env, patientID int64) mail.InspectJob {
	t.Helper()
	var job mail.InspectJob
	err := e.DB.SQL().QueryRow(`SELECT d.message_ref, d.mailbox_id FROM mail_deliveries d JOIN mailboxes m ON m.id = d.mailbox_id
		WHERE m.patient_id = $1 AND d.folder = 'INBOX'`, patientID).Scan(&job.MessageID, &job.MailboxID)
	if err != nil {
		t.Fatal(err)
	}
	job.PatientID = patientID
	return job
}

func mustAddress(t *testing.T, s string) mail.Address {
	t.Helper()
	a, err := mail.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// What cannot be filed is refused whole, traced, and said in the acknowledgement's error
// form: a package for another patient, a professional the patient blocked, a space closed
// between the delivery and its inspection, an X-MSS-INS saying there is no INS.
func TestXDMRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	c := client(t, e, e.Submission, pro.Address, pro.Password)
	a := author(pro.IdNat, "MARTIN", "Claire")
	cases := []struct {
		name   string
		setup  func(pid int64, matricule string) (zip []byte, extra string)
		during func(pid int64) // between the delivery and the inspection
		code   string
		denied string // the action of the trace of the refusal
	}{
		{name: "another patient's INS", code: "904",
			setup: func(int64, string) ([]byte, string) { return pkg(t, mailtest.INS(99), a, 1, "w"), "" }, denied: "mail.xdm_file"},
		{name: "blocked professional", code: "901", denied: string(access.ActionDeposit),
			setup: func(pid int64, m string) ([]byte, string) {
				holder := access.Actor{Kind: audit.ActorPatient, ID: "patient-1", Name: "Lucie Durand", PatientID: pid}
				if err := e.Access.Block(ctx, holder, audit.ChannelWeb, pid, pro.IdNat); err != nil {
					t.Fatal(err)
				}
				return pkg(t, m, a, 1, "b"), ""
			}},
		{name: "space closed", code: "206", denied: "mail.xdm_file",
			setup: func(_ int64, m string) ([]byte, string) {
				h := make(chan struct{})
				e.gate.hold.Store(&h)
				return pkg(t, m, a, 1, "c"), ""
			},
			during: func(pid int64) {
				if _, err := e.Spaces.Close(ctx, space.By{Actor: e.Admin.Actor, Channel: e.Admin.Channel}, pid, false); err != nil {
					t.Fatal(err)
				}
				close(*e.gate.hold.Load())
			}},
		{name: "X-MSS-INS N", code: "903", denied: "mail.xdm_file",
			setup: func(_ int64, m string) ([]byte, string) { return pkg(t, m, a, 1, "n"), "X-MSS-INS: N\r\n" }},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pid, patient := e.Patient(t, 10+i)
			matricule, _ := mail.PatientINS(mustAddress(t, patient))
			zip, extra := tc.setup(pid, matricule)
			before := len(mdns(t, e, pro.Address))
			send(t, c, pro.Address, []string{patient}, message(pro.Address, patient, pro.Address, "refused"+tc.code, zip, extra))
			if tc.during != nil {
				waitFor(t, "the delivery", func() bool { return len(e.Deliveries(t, patient)) == 1 })
				tc.during(pid)
			}
			waitFor(t, "the acknowledgement", func() bool { return len(mdns(t, e, pro.Address)) == before+1 })
			e.gate.hold.Store(nil)
			ack := mdns(t, e, pro.Address)[before]
			wantAll(t, "the acknowledgement", ack,
				"Disposition: automatic-action/MDN-sent-automatically; processed/Error: "+tc.code+"^",
				"Error: "+tc.code+"^", "Final-Recipient: rfc822;"+patient)
			if s := subject(t, ack); !strings.HasPrefix(s, "[KO Intégration système !]["+tc.code+"] ") {
				t.Fatalf("subject %q", s)
			}
			var n int
			if err := e.DB.SQL().QueryRow(`SELECT count(*) FROM documents WHERE patient_id = $1`, pid).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("%d documents filed", n)
			}
			if traces(t, e, pid, tc.denied, audit.Denied) == 0 {
				t.Fatalf("no refusal traced as %s", tc.denied)
			}
		})
	}
}

// Another operator's professional sends an XDM package over the relay: the author of the
// metadata files it, and the acknowledgement goes back through the outbound queue with the
// null reverse-path. A message that is itself an acknowledgement, or whose
// Disposition-Notification-To is not its sender, is not acknowledged.
func TestXDMFromAnotherOperator(t *testing.T) {
	e := newEnv(t)
	pid, patient := e.Patient(t, 1)
	matricule, _ := mail.PatientINS(mustAddress(t, patient))
	from := "dr.who@" + OtherDomain
	c := client(t, e, e.Relay, "", "")
	// Conversation first: the relay refuses nothing here; the package's author is the actor.
	send(t, c, from, []string{patient}, message(from, patient, from, "remote1", pkg(t, matricule, author("810002422979", "WHO", "John"), 1, "r"), ""))
	waitFor(t, "the acknowledgement at the other operator", func() bool { return len(e.Sink.Received()) == 1 })
	got := e.Sink.Received()[0]
	if got.From != "" || len(got.To) != 1 || got.To[0] != from {
		t.Fatalf("acknowledgement envelope: from %q to %v", got.From, got.To)
	}
	wantAll(t, "the acknowledgement", got.Data, "Disposition: automatic-action/MDN-sent-automatically; processed\r\n",
		"Original-Message-ID: <remote1@test>")
	docs := documents(t, e, pid, "1.2.250.1.999.1.8.r.0")
	if len(docs) != 1 || docs[0].Depositor != "810002422979" {
		t.Fatalf("documents: %+v", docs)
	}

	// An MDN asking for an MDN, and a request to acknowledge to someone else: nothing.
	mdn := "From: <" + from + ">\r\nTo: <" + patient + ">\r\nSubject: Accuse\r\nMessage-ID: <mdn-in@test>\r\n" +
		"Disposition-Notification-To: <" + from + ">\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=disposition-notification; boundary=r1\r\n\r\n" +
		"--r1\r\nContent-Type: text/plain\r\n\r\nlu\r\n--r1\r\nContent-Type: message/disposition-notification\r\n\r\n" +
		"Final-Recipient: rfc822;" + from + "\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n--r1--\r\n"
	send(t, c, from, []string{patient}, mdn)
	send(t, c, from, []string{patient}, message(from, patient, "someone.else@"+OtherDomain, "elsewhere", pkg(t, matricule, author("810002422979", "WHO", "John"), 1, "s"), ""))
	inspected(t, e, 3)
	// The outbound queue would have taken an acknowledgement in the inspection's transaction.
	var queued int
	if err := e.DB.SQL().QueryRow(`SELECT count(*) FROM mail_outbound`).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if queued != 1 {
		t.Fatalf("%d outbound deliveries, want the one acknowledgement", queued)
	}
	if docs := documents(t, e, pid, "1.2.250.1.999.1.8.s.0"); len(docs) != 1 {
		t.Fatal("the package asking an acknowledgement elsewhere was not filed")
	}
}

// An organisation's software sends from its APP mailbox: the professional the metadata names
// as author files the documents (their profession from the metadata when we do not know
// them), under the organisation, and the acknowledgement is filed in the APP mailbox, which
// its software reads (a no-reply mailbox takes no one's mail, but it asked for this one).
func TestXDMFromSoftware(t *testing.T) {
	e := newEnv(t)
	org := e.Organisation(t, "750100125", "Laboratoire Test", "Paris")
	box, err := e.Mail.CreateMailbox(context.Background(), e.Admin, mail.NewMailbox{Kind: mail.APP, LocalPart: "noreply.labo", StructureID: org})
	if err != nil {
		t.Fatal(err)
	}
	pass, _, err := e.Mail.CreateAppPassword(context.Background(), e.Admin, box.Address.String(), "", "logiciel du laboratoire")
	if err != nil {
		t.Fatal(err)
	}
	pid, patient := e.Patient(t, 1)
	matricule, _ := mail.PatientINS(mustAddress(t, patient))
	from := box.Address.String()
	c := client(t, e, e.Submission, from, pass)
	send(t, c, from, []string{patient}, message(from, patient, from, "labo1", pkg(t, matricule, author("810002422979", "BIOLOGISTE", "Bea"), 1, "l"), ""))
	waitFor(t, "the acknowledgement", func() bool { return len(mdns(t, e, from)) == 1 })
	wantAll(t, "the acknowledgement", mdns(t, e, from)[0], "Disposition: automatic-action/MDN-sent-automatically; processed\r\n")
	docs := documents(t, e, pid, "1.2.250.1.999.1.8.l.0")
	if len(docs) != 1 || docs[0].Depositor != "810002422979" {
		t.Fatalf("documents: %+v", docs)
	}
	var actorOrg string
	if err := e.DB.SQL().QueryRow(`SELECT actor_org FROM traces WHERE patient_id = $1 AND action = $2 AND outcome = 'allowed'`,
		pid, string(access.ActionDeposit)).Scan(&actorOrg); err != nil {
		t.Fatal(err)
	}
	if actorOrg != org {
		t.Fatalf("the deposit is traced under %q, want the organisation %s", actorOrg, org)
	}
}

// A professional the patient blocked, member of an organisation's mailbox, sends a package
// from it with their own app password, naming a colleague as the author: they are the actor,
// and the decision refuses them.
func TestXDMFromABlockedMemberOfAnOrganisationMailbox(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	org := e.Organisation(t, "750100125", "Centre de cardiologie", "Paris")
	box, err := e.Mail.CreateMailbox(ctx, e.Admin, mail.NewMailbox{Kind: mail.ORG, LocalPart: "secretariat.cardio", StructureID: org})
	if err != nil {
		t.Fatal(err)
	}
	blocked := e.Professional(t, 1, "paul.roux", "ROUX", "Paul")
	colleague := e.Professional(t, 2, "claire.martin", "MARTIN", "Claire")
	if err := e.Mail.AddMember(ctx, e.Admin, box.Address.String(), blocked.IdNat); err != nil {
		t.Fatal(err)
	}
	pass, _, err := e.Mail.CreateAppPassword(ctx, e.Admin, box.Address.String(), blocked.IdNat, "poste du secrétariat")
	if err != nil {
		t.Fatal(err)
	}
	pid, patient := e.Patient(t, 1)
	holder := access.Actor{Kind: audit.ActorPatient, ID: "patient-1", Name: "Lucie Durand", PatientID: pid}
	if err := e.Access.Block(ctx, holder, audit.ChannelWeb, pid, blocked.IdNat); err != nil {
		t.Fatal(err)
	}
	matricule, _ := mail.PatientINS(mustAddress(t, patient))
	from := box.Address.String()
	c := client(t, e, e.Submission, from, pass)
	send(t, c, from, []string{patient}, message(from, patient, from, "org1", pkg(t, matricule, author(colleague.IdNat, "MARTIN", "Claire"), 1, "o"), ""))
	waitFor(t, "the acknowledgement", func() bool { return len(mdns(t, e, from)) == 1 })
	wantAll(t, "the acknowledgement", mdns(t, e, from)[0], "processed/Error: 901^")
	if docs := documents(t, e, pid, "1.2.250.1.999.1.8.o.0"); len(docs) != 0 {
		t.Fatalf("filed: %+v", docs)
	}
	var actor string
	if err := e.DB.SQL().QueryRow(`SELECT actor_id FROM traces WHERE patient_id = $1 AND action = $2 AND outcome = 'denied'`,
		pid, string(access.ActionDeposit)).Scan(&actor); err != nil {
		t.Fatal(err)
	}
	if actor != blocked.IdNat {
		t.Fatalf("the refusal names %q, want the member who sent it %s", actor, blocked.IdNat)
	}
}
