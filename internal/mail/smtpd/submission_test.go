package smtpd_test

import (
	"context"
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/mail/relay"
)

func TestSubmissionAuth(t *testing.T) {
	e := mailtest.New(t, mailtest.Options{Config: func(c *mail.Config) { c.User = mailtest.Throttle }})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	other := e.Professional(t, 2, "paul.durand", "DURAND", "Paul")

	t.Run("no AUTH before TLS", func(t *testing.T) {
		c, err := smtp.Dial(e.Submission)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("client.example"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := c.Extension("AUTH"); ok {
			t.Fatal("AUTH advertised before STARTTLS")
		}
		id, _ := c.Text.Cmd("AUTH PLAIN %s", "AGNsYWlyZQBzZWNyZXQ=")
		c.Text.StartResponse(id)
		code, msg, _ := c.Text.ReadResponse(0)
		c.Text.EndResponse(id)
		if code != 523 || !strings.HasPrefix(msg, "5.7.10") {
			t.Fatalf("AUTH in clear: %d %s", code, msg)
		}
	})
	t.Run("MAIL without AUTH", func(t *testing.T) {
		c := client(t, e, e.Submission, true, "", "")
		stage, err := send(c, pro.Address, []string{other.Address}, mailtest.Message(pro.Address, other.Address, "s", "b"))
		if stage != "MAIL" {
			t.Fatalf("stage %q: %v", stage, err)
		}
		wantReply(t, err, 530, "5.7.0")
	})
	t.Run("unknown and known accounts answered alike", func(t *testing.T) {
		var replies []string
		for _, cred := range [][2]string{{"nobody@" + mailtest.Domain, pro.Password}, {other.Address, pro.Password}} {
			c, err := smtp.Dial(e.Submission)
			if err != nil {
				t.Fatal(err)
			}
			c.Hello("client.example")
			c.StartTLS(e.ClientTLS)
			err = c.Auth(smtp.PlainAuth("", cred[0], cred[1], "127.0.0.1"))
			wantReply(t, err, 535, "5.7.8")
			replies = append(replies, err.Error())
			c.Close()
		}
		if replies[0] != replies[1] {
			t.Fatalf("the answers differ: %q / %q", replies[0], replies[1])
		}
	})
	t.Run("only from one's own mailbox", func(t *testing.T) {
		c := client(t, e, e.Submission, true, pro.Address, pro.Password)
		stage, err := send(c, other.Address, []string{pro.Address}, mailtest.Message(other.Address, pro.Address, "s", "b"))
		if stage != "MAIL" {
			t.Fatalf("stage %q: %v", stage, err)
		}
		wantReply(t, err, 550, "5.7.1")
		stage, err = send(c, pro.Address, []string{other.Address}, mailtest.Message(other.Address, other.Address, "s", "b"))
		if stage != "DATA" {
			t.Fatalf("a forged From field: stage %q: %v", stage, err)
		}
		wantReply(t, err, 550, "5.7.1")
		if stage, err := send(c, pro.Address, []string{other.Address}, mailtest.Message(pro.Address, other.Address, "s", "b")); err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
	})
	t.Run("brute force slowed", func(t *testing.T) {
		victim := other.Address
		try := func(pass string) error {
			c, err := smtp.Dial(e.Submission)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Hello("client.example")
			if err := c.StartTLS(e.ClientTLS); err != nil {
				t.Fatal(err)
			}
			return c.Auth(smtp.PlainAuth("", victim, pass, "127.0.0.1"))
		}
		// Earlier subtests already failed once on this account: the free attempts go first.
		var err error
		for i := 0; i < 5; i++ {
			if err = try("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA"); strings.Contains(err.Error(), "454") {
				break
			}
			wantReply(t, err, 535, "5.7.8")
		}
		wantReply(t, err, 454, "4.7.0")
		if !strings.Contains(err.Error(), "try again in") {
			t.Fatalf("the delay is not said: %v", err)
		}
		// Even the right password waits out the delay …
		wantReply(t, try(other.Password), 454, "4.7.0")
		// … and goes through once it is over.
		e.Clock.Advance(2 * time.Minute)
		if err := try(other.Password); err != nil {
			t.Fatalf("after the delay: %v", err)
		}
		// AUTH LOGIN works too (with the grouping of the password dropped).
		c, _ := smtp.Dial(e.Submission)
		defer c.Close()
		c.Hello("client.example")
		c.StartTLS(e.ClientTLS)
		if err := c.Auth(loginAuth{victim, strings.ReplaceAll(strings.ToLower(other.Password), "-", "")}); err != nil {
			t.Fatalf("AUTH LOGIN: %v", err)
		}
	})
}

// loginAuth is the LOGIN mechanism, which net/smtp lacks.
type loginAuth struct{ user, pass string }

func (a loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }
func (a loginAuth) Next(from []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	if strings.HasPrefix(string(from), "User") {
		return []byte(a.user), nil
	}
	return []byte(a.pass), nil
}

func outboundEnv(t *testing.T) (*mailtest.Env, *mailtest.Sink) {
	t.Helper()
	sink := mailtest.NewSink(t)
	e := mailtest.New(t, mailtest.Options{Relay: func(c *relay.Config) {
		c.Routes = map[string]string{"*": sink.Addr}
		c.TLS = sink.TLS
	}})
	e.Allow(t, OtherDomain, "patient.mssante.fr")
	return e, sink
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestOutboundDeliveryAndBounce(t *testing.T) {
	e, sink := outboundEnv(t)
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	c := client(t, e, e.Submission, true, pro.Address, pro.Password)
	ok, refused, later := "dr.who@"+OtherDomain, "unknown.person@"+OtherDomain, "later.person@"+OtherDomain
	msg := mailtest.Message(pro.Address, ok, "Compte rendu", "texte du compte rendu")
	if stage, err := send(c, pro.Address, []string{ok, refused, later}, msg); err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
	waitFor(t, "delivery to the other operator", func() bool { return len(sink.Received()) == 1 })
	got := sink.Received()[0]
	if got.From != pro.Address || len(got.To) != 1 || got.To[0] != ok || !strings.Contains(got.Data, "texte du compte rendu") ||
		!strings.Contains(got.Data, "by "+mailtest.Hostname) {
		t.Fatalf("received by the other operator: %+v", got)
	}
	// The refused recipient and the one that never accepted (3 attempts) come back in one
	// delivery status notification, in the sender's mailbox.
	waitFor(t, "the bounce", func() bool { return len(e.Deliveries(t, pro.Address)) == 1 })
	dsn := e.ReadMessage(t, e.Deliveries(t, pro.Address)[0].MessageID)
	for _, want := range []string{"multipart/report; report-type=delivery-status", "Content-Type: message/delivery-status",
		"Final-Recipient: rfc822; " + refused, "Status: 5.1.1", "Diagnostic-Code: smtp; 550 5.1.1 no such user",
		"Final-Recipient: rfc822; " + later, "Status: 5.4.7", "Action: failed", "Auto-Submitted: auto-replied",
		"From: \"Mail Delivery System\" <mailer-daemon@" + mailtest.Domain + ">", "text/rfc822-headers", "Subject: Compte rendu"} {
		if !strings.Contains(dsn, want) {
			t.Fatalf("the bounce lacks %q:\n%s", want, dsn)
		}
	}
	if strings.Contains(dsn, "texte du compte rendu") {
		t.Fatalf("the bounce carries the message's body:\n%s", dsn)
	}
	var state string
	var attempts int
	if err := e.DB.SQL().QueryRow(`SELECT state, attempts FROM mail_outbound`).Scan(&state, &attempts); err != nil {
		t.Fatal(err)
	}
	if state != "bounced" || attempts != 3 {
		t.Fatalf("outbound row: %s after %d attempts", state, attempts)
	}
}

func TestConversationWithAnotherOperatorsPatient(t *testing.T) {
	e, sink := outboundEnv(t)
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	patient := mailtest.INS(7) + "@patient.mssante.fr"
	relayed := client(t, e, e.Relay, true, "", "")
	reply := func() error {
		_, err := send(relayed, patient, []string{pro.Address}, mailtest.Message(patient, pro.Address, "Re: rendez-vous", "merci"))
		return err
	}
	// The patient may not write first.
	wantReply(t, reply(), 550, "5.7.1")

	sub := client(t, e, e.Submission, true, pro.Address, pro.Password)
	if _, err := send(sub, pro.Address, []string{patient}, mailtest.Message(pro.Address, patient, "Rendez-vous", "le 3 à 10 h")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery to the patient's operator", func() bool { return len(sink.Received()) == 1 })
	if err := reply(); err != nil {
		t.Fatalf("the patient's answer: %v", err)
	}
	// The professional ends the exchange; the patient can no longer answer.
	if _, err := send(sub, pro.Address, []string{patient}, mailtest.Message(pro.Address, patient, "[FIN]", "bonne journée")); err != nil {
		t.Fatal(err)
	}
	err := reply()
	wantReply(t, err, 550, "5.7.1")
	if !strings.Contains(err.Error(), "[FIN]") {
		t.Fatalf("the refusal does not say why: %v", err)
	}
	// A new message from the professional opens a new exchange.
	if _, err := send(sub, pro.Address, []string{patient}, mailtest.Message(pro.Address, patient, "Nouveau rendez-vous", "le 10")); err != nil {
		t.Fatal(err)
	}
	if err := reply(); err != nil {
		t.Fatalf("the answer to the new exchange: %v", err)
	}
	if n := len(e.Deliveries(t, pro.Address)); n != 2 {
		t.Fatalf("answers delivered: %d, want 2", n)
	}
}

func TestShutdownLetsMessagesFinish(t *testing.T) {
	e := mailtest.New(t, mailtest.Options{})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	e.Allow(t, OtherDomain)
	c := client(t, e, e.Relay, true, "", "")
	sender := "x@" + OtherDomain
	if err := c.Mail(sender); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(pro.Address); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(mailtest.Message(sender, pro.Address, "s", "début")))
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { done <- e.SMTP.Shutdown(ctx) }()
	// Wait until the shutdown has begun (the listener is closed), not for a guessed time.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", e.Relay, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the shutdown never closed the listener")
		}
	}
	if err := w.Close(); err != nil { // the message in flight is stored and acknowledged
		t.Fatalf("the message in flight: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(e.Deliveries(t, pro.Address)) != 1 {
		t.Fatal("the message in flight was lost")
	}
	if _, err := smtp.Dial(e.Relay); err == nil {
		t.Fatal("the listener still takes connections")
	}
}
