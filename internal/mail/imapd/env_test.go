package imapd_test

import (
	"context"
	"log/slog"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/mail/imapd"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/mail/relay"
)

// PatientDomain is another operator's patient domain, in the test allowlist: its patients
// answer our professionals through the relay.
const PatientDomain = "patient.mssante.fr"

// env is the messaging with an IMAP listener on the SMTP listeners' certificate, bearer
// tokens, and another operator (a sink) that mail to its patients goes to.
type env struct {
	*mailtest.Env
	IMAP   *imapd.Server
	Addr   string
	Tokens *apitoken.Service
	Sink   *mailtest.Sink
}

func newEnv(tb testing.TB, o mailtest.Options) *env {
	tb.Helper()
	sink := mailtest.NewSink(tb)
	o.Relay = func(c *relay.Config) { c.Routes, c.TLS = map[string]string{"*": sink.Addr}, sink.TLS }
	e := &env{Env: mailtest.New(tb, o), Sink: sink}
	e.Allow(tb, PatientDomain, "hopital.other.example")
	e.Tokens = apitoken.NewService(e.DB.Tokens(), e.Clock)
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var err error
	e.IMAP, err = imapd.New(e.Mail, e.DB.MailFolders(), imapd.Options{Addr: "127.0.0.1:0", TLS: e.SMTP.TLSConfig(),
		Tokens: e.Tokens, Clock: e.Clock, Log: log, PollInterval: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	addr, err := e.IMAP.Start(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	e.Addr = addr.String()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.IMAP.Shutdown(ctx)
	})
	return e
}

// dial opens an IMAP session with STARTTLS, verifying the server's certificate.
func (e *env) dial(tb testing.TB, o *imapclient.Options) *imapclient.Client {
	tb.Helper()
	if o == nil {
		o = &imapclient.Options{}
	}
	o.TLSConfig = e.ClientTLS
	c, err := imapclient.DialStartTLS(e.Addr, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// login opens a session signed in with the professional's app password.
func (e *env) login(tb testing.TB, p mailtest.Pro, o *imapclient.Options) *imapclient.Client {
	tb.Helper()
	c := e.dial(tb, o)
	if err := c.Login(p.Address, p.Password).Wait(); err != nil {
		tb.Fatalf("LOGIN %s: %v", p.Address, err)
	}
	return c
}

// token issues a bearer token for the professional.
func (e *env) token(tb testing.TB, p mailtest.Pro) string {
	tb.Helper()
	secret, _, err := e.Tokens.Issue(context.Background(), e.Admin.Actor, audit.ChannelCLI,
		apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: p.Mailbox.ProfessionalID}, "client de messagerie", time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return secret
}

// smtpSend runs one SMTP transaction over STARTTLS on addr, with AUTH PLAIN when user is set.
func (e *env) smtpSend(tb testing.TB, addr, user, pass, from string, to []string, msg string) {
	tb.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		tb.Fatal(err)
	}
	if err := c.StartTLS(e.ClientTLS); err != nil {
		tb.Fatal(err)
	}
	if user != "" {
		if err := c.Auth(smtp.PlainAuth("", user, pass, "127.0.0.1")); err != nil {
			tb.Fatal(err)
		}
	}
	if err := c.Mail(from); err != nil {
		tb.Fatal(err)
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			tb.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		tb.Fatal(err)
	}
}

// conversation has the professional write to another operator's patient (submission), and
// the patient answer through the relay: the answer lands in the professional's INBOX.
func (e *env) conversation(tb testing.TB, p mailtest.Pro, patient, subject, answer string) {
	tb.Helper()
	e.smtpSend(tb, e.Submission, p.Address, p.Password, p.Address, []string{patient},
		mailtest.Message("Dr Claire Martin <"+p.Address+">", patient, subject, "Bonjour, pouvez-vous me dire comment vous allez ?"))
	e.smtpSend(tb, e.Relay, "", "", patient, []string{p.Address},
		mailtest.Message("Lucie Durand <"+patient+">", p.Address, "Re: "+subject, answer))
}

func patientAddr(i int) string { return mailtest.INS(i) + "@" + PatientDomain }

// wantNo checks that err is an IMAP NO whose text contains text.
func wantNo(tb testing.TB, err error, text string) {
	tb.Helper()
	if err == nil || !strings.Contains(err.Error(), text) {
		tb.Fatalf("want a refusal saying %q, got %v", text, err)
	}
}
