package smtpd_test

import (
	"context"
	"errors"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// OtherDomain is another operator's, in the test allowlist.
const OtherDomain = "hopital.other.example"

// client opens an SMTP session with net/smtp: EHLO, STARTTLS when tls, AUTH PLAIN when user.
func client(t *testing.T, e *mailtest.Env, addr string, tls bool, user, pass string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if tls {
		if err := c.StartTLS(e.ClientTLS); err != nil {
			t.Fatal(err)
		}
	}
	if user != "" {
		if err := c.Auth(smtp.PlainAuth("", user, pass, "127.0.0.1")); err != nil {
			t.Fatalf("AUTH: %v", err)
		}
	}
	return c
}

// send runs one transaction and returns the first error, with the stage it came at.
func send(c *smtp.Client, from string, to []string, msg string) (string, error) {
	if err := c.Mail(from); err != nil {
		return "MAIL", err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			c.Reset()
			return "RCPT", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "DATA", err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return "DATA", err
	}
	if err := w.Close(); err != nil {
		return "DATA", err
	}
	return "", nil
}

// wantReply checks that err is the SMTP reply code and enhanced status code.
func wantReply(t *testing.T, err error, code int, enhanced string) {
	t.Helper()
	var te *textproto.Error
	if !errors.As(err, &te) {
		t.Fatalf("want %d %s, got %v", code, enhanced, err)
	}
	if te.Code != code || !strings.HasPrefix(te.Msg, enhanced+" ") {
		t.Fatalf("want %d %s, got %d %s", code, enhanced, te.Code, te.Msg)
	}
}

type traceRow struct{ action, outcome, reason, actor string }

func traces(t *testing.T, e *mailtest.Env, patientID int64, action string) []traceRow {
	t.Helper()
	rows, err := e.DB.SQL().Query(`SELECT action, outcome, reason, actor_id FROM traces WHERE patient_id = $1 AND action = $2 ORDER BY id`, patientID, action)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []traceRow
	for rows.Next() {
		var r traceRow
		if err := rows.Scan(&r.action, &r.outcome, &r.reason, &r.actor); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestProfessionalWritesToPatient(t *testing.T) {
	e := mailtest.New(t, mailtest.Options{})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	patientID, patient := e.Patient(t, 1)
	c := client(t, e, e.Submission, true, pro.Address, pro.Password)
	msg := mailtest.Message("Dr Claire Martin <"+pro.Address+">", patient, "Résultats de votre bilan", "Bonjour, vos résultats sont normaux.")
	if stage, err := send(c, pro.Address, []string{patient}, msg); err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
	got := e.Deliveries(t, patient)
	if len(got) != 1 || got[0].UID != 1 {
		t.Fatalf("patient's INBOX: %+v", got)
	}
	stored := e.ReadMessage(t, got[0].MessageID)
	if !strings.HasPrefix(stored, "Received: from client.example ([127.0.0.1])") || !strings.Contains(stored, "with ESMTPSA") ||
		!strings.Contains(stored, "vos résultats sont normaux") {
		t.Fatalf("stored message:\n%s", stored)
	}
	tr := traces(t, e, patientID, "mail.deliver")
	if len(tr) != 1 || tr[0].outcome != string(audit.Allowed) || tr[0].actor != pro.IdNat {
		t.Fatalf("delivery traces: %+v", tr)
	}
	// The notice: one e-mail to the patient, naming neither the sender nor the subject.
	n, err := jobs.FlushNotices(context.Background(), e.DB, e.Clock.Now())
	if err != nil || n != 1 {
		t.Fatalf("notices queued: %d %v", n, err)
	}
	if err := e.Spaces.SendNotice(context.Background(), space.NoticeJob{PatientID: patientID, Notice: space.NoticeNewContent,
		Key: "msg-" + itoa(got[0].MessageID)}); err != nil {
		t.Fatal(err)
	}
	notices, _ := filepath.Glob(filepath.Join(e.OutboxDir, "*new-content*.eml"))
	if len(notices) != 1 {
		t.Fatalf("notice files: %v", notices)
	}
	b, _ := os.ReadFile(notices[0])
	for _, leak := range []string{"Martin", "MARTIN", "bilan", "sultats", pro.Address, "claire"} {
		if strings.Contains(string(b), leak) {
			t.Fatalf("the notice leaks %q:\n%s", leak, b)
		}
	}
	if !strings.Contains(string(b), "lucie1@example.org") {
		t.Fatalf("the notice is not addressed to the patient:\n%s", b)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestRelayRules(t *testing.T) {
	e := mailtest.New(t, mailtest.Options{Config: func(c *mail.Config) { c.MaxMessageBytes = 64 << 10 }})
	e.Allow(t, OtherDomain, "patient.mssante.fr")
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	org := e.Organisation(t, "750100125", "Laboratoire Test", "Paris")
	if _, err := e.Mail.CreateMailbox(context.Background(), e.Admin, mail.NewMailbox{Kind: mail.APP, LocalPart: "noreply.labo", StructureID: org}); err != nil {
		t.Fatal(err)
	}
	closedID, closed := e.Patient(t, 2)
	_, open := e.Patient(t, 3)
	if _, err := e.Spaces.Close(context.Background(), space.By{Actor: e.Admin.Actor, Channel: e.Admin.Channel}, closedID, false); err != nil {
		t.Fatal(err)
	}
	sender := "dr.house@" + OtherDomain
	c := client(t, e, e.Relay, true, "", "")

	// Accepted: another operator's professional to ours and to a patient.
	if stage, err := send(c, sender, []string{pro.Address, open}, mailtest.Message(sender, pro.Address, "Avis", "texte")); err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
	if len(e.Deliveries(t, pro.Address)) != 1 || len(e.Deliveries(t, open)) != 1 {
		t.Fatal("relayed message not delivered")
	}

	big := strings.Repeat(strings.Repeat("x", 76)+"\r\n", 1000)
	for _, tc := range []struct {
		name, from, to, msg string
		stage               string
		code                int
		enhanced            string
	}{
		{"unknown mailbox", sender, "nobody@" + mailtest.Domain, "", "RCPT", 550, "5.1.1"},
		{"unknown patient", sender, mailtest.INS(999) + "@patient." + mailtest.Domain, "", "RCPT", 550, "5.1.1"},
		{"sender domain off the allowlist", "someone@gmail.com", pro.Address, "", "MAIL", 550, "5.7.1"},
		{"our own domain from outside", "claire.martin@" + mailtest.Domain, pro.Address, "", "MAIL", 550, "5.7.1"},
		{"relay to another domain", sender, "x@" + OtherDomain, "", "RCPT", 550, "5.7.1"},
		{"space not open", sender, closed, "", "RCPT", 550, "5.2.1"},
		{"patient writing first", mailtest.INS(5) + "@patient.mssante.fr", pro.Address, "", "RCPT", 550, "5.7.1"},
		{"no-reply mailbox", sender, "noreply.labo@" + mailtest.Domain, "", "RCPT", 550, "5.7.1"},
		{"bad address", sender, "a..b@" + mailtest.Domain, "", "RCPT", 553, "5.1.3"},
		{"oversize", sender, pro.Address, mailtest.Message(sender, pro.Address, "gros", big), "DATA", 552, "5.3.4"},
		{"no From", sender, pro.Address, "Subject: x\r\n\r\nbody\r\n", "DATA", 550, "5.6.0"},
		{"malformed header", sender, pro.Address, "From " + sender + "\r\nnot a header line\r\n\r\nbody\r\n", "DATA", 550, "5.6.0"},
		{"From off the allowlist", sender, pro.Address, mailtest.Message("x@evil.example", pro.Address, "s", "b"), "DATA", 550, "5.7.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.msg
			if msg == "" {
				msg = mailtest.Message(tc.from, tc.to, "s", "b")
			}
			stage, err := send(c, tc.from, []string{tc.to}, msg)
			if stage != tc.stage {
				t.Fatalf("refused at %q (want %s): %v", stage, tc.stage, err)
			}
			wantReply(t, err, tc.code, tc.enhanced)
		})
	}
	// The refused delivery to a closed space is traced on the patient's chain.
	if tr := traces(t, e, closedID, "mail.deliver"); len(tr) != 1 || tr[0].outcome != string(audit.Denied) {
		t.Fatalf("traces of the refused delivery: %+v", tr)
	}
	// After every refusal on this connection, mail still goes through, and nothing else was kept.
	if stage, err := send(c, sender, []string{pro.Address}, mailtest.Message(sender, pro.Address, "encore", "texte")); err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
	if n := len(e.Deliveries(t, pro.Address)); n != 2 {
		t.Fatalf("deliveries after refusals: %d, want 2", n)
	}

	// SIZE= above the limit is refused at MAIL.
	t.Run("declared oversize", func(t *testing.T) {
		raw := rawSession(t, e, e.Relay)
		code, msg := raw.cmd(t, "MAIL FROM:<%s> SIZE=%d", sender, 1<<20)
		if code != 552 || !strings.HasPrefix(msg, "5.3.4") {
			t.Fatalf("MAIL with SIZE over the limit: %d %s", code, msg)
		}
	})
	// Without STARTTLS, no mail at all.
	t.Run("no TLS", func(t *testing.T) {
		plain := client(t, e, e.Relay, false, "", "")
		stage, err := send(plain, sender, []string{pro.Address}, mailtest.Message(sender, pro.Address, "s", "b"))
		if stage != "MAIL" {
			t.Fatalf("stage %q: %v", stage, err)
		}
		wantReply(t, err, 530, "5.7.0")
	})
}

// rawSession speaks SMTP line by line, for what net/smtp cannot send.
type raw struct{ c *textproto.Conn }

func rawSession(t *testing.T, e *mailtest.Env, addr string) *raw {
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
	return &raw{c: c.Text}
}

// cmd sends a command and returns the reply.
func (r *raw) cmd(t *testing.T, format string, args ...any) (int, string) {
	t.Helper()
	id, err := r.c.Cmd(format, args...)
	if err != nil {
		t.Fatal(err)
	}
	r.c.StartResponse(id)
	defer r.c.EndResponse(id)
	code, msg, _ := r.c.ReadResponse(0)
	return code, msg
}
