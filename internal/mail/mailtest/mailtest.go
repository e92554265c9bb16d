// Package mailtest sets up the secure messaging for tests and benchmarks: a real store (SQLite
// or PostgreSQL, storetest), a blob store, a fake clock, professionals, patients with open
// spaces, an allowlist, the outbound queue, and the SMTP listeners on loopback ports with a
// self-signed certificate; and a sink SMTP server that plays another operator.
package mailtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	netsmtp "net/smtp"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/relay"
	"github.com/carnet-sante/carnet/internal/mail/smtpd"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// Domain is the test operator's mail domain; Hostname its SMTP server's name.
const (
	Domain   = "carnet.example"
	Hostname = "mail.carnet.example"
)

// CheapParams hash app passwords fast: tests check the logic, not argon2id's cost.
var CheapParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32, MinLength: 12, MaxBytes: 1024}

// T0 is when every test starts.
var T0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Options change the environment.
type Options struct {
	Config func(*mail.Config)         // adjust the mail service's configuration
	Relay  func(*relay.Config)        // adjust the outbound queue's
	SMTP   func(*smtpd.Options)       // adjust the listeners'
	NoSMTP bool                       // no listeners (service-level tests)
	Params *password.Params           // app passwords' argon2id (default CheapParams)
	Log    *slog.Logger               // default: discard
	Store  func(testing.TB) *store.DB // default storetest.New
	// Inspectors act on messages delivered to patients (mail.Inspector), worked by the queue.
	Inspectors []mail.Inspector
}

// Env is a running messaging.
type Env struct {
	DB         *store.DB
	Clock      *clock.Fake
	Blobs      *blob.FS
	Accounts   *account.Service
	Spaces     *space.Service
	Mail       *mail.Service
	Queue      *relay.Queue
	SMTP       *smtpd.Server
	Relay      string // relay listener address
	Submission string // submission listener address
	CertFile   string // the listeners' certificate (PEM), for clients not written in Go
	ClientTLS  *tls.Config
	OutboxDir  string // notices to patients land here as .eml files
	Jobs       *jobs.Queue
	Admin      mail.By
}

// New starts an environment; everything stops at the end of the test.
func New(tb testing.TB, o Options) *Env {
	tb.Helper()
	ctx := context.Background()
	var db *store.DB
	if o.Store != nil {
		db = o.Store(tb)
	} else {
		db = storetest.New(tb)
	}
	if _, err := jobs.Migrate(ctx, db); err != nil {
		tb.Fatal(err)
	}
	// An insert-only job client: spaces queue their notices through it (never worked here).
	jq, err := jobs.New(db, jobs.Config{}, jobs.Deps{})
	if err != nil {
		tb.Fatal(err)
	}
	e := &Env{DB: db, Clock: clock.NewFake(T0), Jobs: jq,
		Admin: mail.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op-1", Name: "Admin"}, Channel: audit.ChannelCLI}}
	master := []byte("0123456789abcdef0123456789abcdef")
	dir := tb.TempDir()
	if e.Blobs, err = blob.NewFS(filepath.Join(dir, "blobs"), master); err != nil {
		tb.Fatal(err)
	}
	cat, err := terminology.Default()
	if err != nil {
		tb.Fatal(err)
	}
	params := CheapParams
	if o.Params != nil {
		params = *o.Params
	}
	if e.Accounts, err = account.NewService(db.Accounts(), e.Clock, params, cat); err != nil {
		tb.Fatal(err)
	}
	e.OutboxDir = filepath.Join(dir, "outbox")
	sender, err := notify.NewOutbox(notify.Config{OutboxDir: e.OutboxDir}, e.Clock)
	if err != nil {
		tb.Fatal(err)
	}
	codeKey, _ := space.CodeKey(master)
	if e.Spaces, err = space.NewService(space.Deps{Store: db.Spaces(), Clock: e.Clock, Policy: space.DefaultPolicy(),
		PublicURL: "https://carnet.example", Sender: sender, CodeKey: codeKey}); err != nil {
		tb.Fatal(err)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rc := relay.Config{Hostname: Hostname, Lead: true, PollInterval: 20 * time.Millisecond, Backoff: []time.Duration{50 * time.Millisecond},
		Attempts: 3, Timeout: 10 * time.Second, Reconcile: time.Hour, Log: log}
	if o.Relay != nil {
		o.Relay(&rc)
	}
	if e.Queue, err = relay.New(db, rc); err != nil {
		tb.Fatal(err)
	}
	mc := mail.DefaultConfig(Domain)
	mc.Hostname = Hostname
	if o.Config != nil {
		o.Config(&mc)
	}
	key, _ := mail.DeriveKey(master)
	if e.Mail, err = mail.NewService(mail.Deps{Store: db.Mail(e.Queue), Blobs: e.Blobs, Clock: e.Clock, Key: key, Password: params,
		Config: mc, Log: log, Inspectors: o.Inspectors}); err != nil {
		tb.Fatal(err)
	}
	if err := e.Queue.Start(ctx, e.Mail); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Queue.Stop(sctx)
	})
	if o.NoSMTP {
		return e
	}
	certDir := filepath.Join(dir, "tls")
	so := smtpd.Options{RelayAddr: "127.0.0.1:0", SubmissionAddr: "127.0.0.1:0", CertDir: certDir,
		CertHosts: []string{"127.0.0.1", "localhost"}, Clock: e.Clock, Log: log}
	if o.SMTP != nil {
		o.SMTP(&so)
	}
	if e.SMTP, err = smtpd.New(e.Mail, so); err != nil {
		tb.Fatal(err)
	}
	ls, err := e.SMTP.Start(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.SMTP.Shutdown(sctx)
	})
	for _, l := range ls {
		if l.Channel == mail.Relay {
			e.Relay = l.Addr.String()
		} else {
			e.Submission = l.Addr.String()
		}
	}
	e.CertFile = filepath.Join(certDir, smtpd.CertFile)
	e.ClientTLS = ClientTLS(tb, e.CertFile, "127.0.0.1")
	return e
}

// ClientTLS trusts the certificate in certFile for serverName.
func ClientTLS(tb testing.TB, certFile, serverName string) *tls.Config {
	tb.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		tb.Fatal("mailtest: no certificate in", certFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// RPPS returns the i-th valid test RPPS number (11 digits, Luhn).
func RPPS(i int) string {
	base := fmt.Sprintf("1099%06d", i)
	return base + luhn(base)
}

func luhn(s string) string {
	sum := 0
	for i := 0; i < len(s); i++ {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return fmt.Sprint((10 - sum%10) % 10)
}

// INS returns the i-th valid test INS matricule.
func INS(i int) string {
	nir := fmt.Sprintf("1800175056%03d", i%1000)
	key, err := identity.INSKey(nir)
	if err != nil {
		panic(err)
	}
	return nir + key
}

// Pro is a professional with a PER mailbox and an app password.
type Pro struct {
	IdNat    string
	Address  string
	Password string
	Mailbox  mail.Mailbox
}

// Professional records a doctor (i-th RPPS) with a PER mailbox <local>@Domain and an app
// password.
func (e *Env) Professional(tb testing.TB, i int, local, family, given string) Pro {
	tb.Helper()
	ctx := context.Background()
	id, err := identity.ParseIdNatPS("8" + RPPS(i))
	if err != nil {
		tb.Fatal(err)
	}
	by := account.By{Actor: e.Admin.Actor, Channel: e.Admin.Channel}
	if _, err := e.Accounts.CreateProfessional(ctx, by, account.Professional{IdNat: id, FamilyName: family, GivenName: given, Profession: "G15_10"}); err != nil {
		tb.Fatal(err)
	}
	m, err := e.Mail.CreateMailbox(ctx, e.Admin, mail.NewMailbox{Kind: mail.PER, LocalPart: local, IdNat: id.String()})
	if err != nil {
		tb.Fatal(err)
	}
	pass, _, err := e.Mail.CreateAppPassword(ctx, e.Admin, m.Address.String(), id.String(), "test client")
	if err != nil {
		tb.Fatal(err)
	}
	return Pro{IdNat: id.String(), Address: m.Address.String(), Password: pass, Mailbox: m}
}

// Organisation records an organisation by FINESS and returns its IdNat_Struct.
func (e *Env) Organisation(tb testing.TB, finess, name, town string) string {
	tb.Helper()
	sid, err := identity.ParseStructureID("1" + finess)
	if err != nil {
		tb.Fatal(err)
	}
	by := account.By{Actor: e.Admin.Actor, Channel: e.Admin.Channel}
	if _, err := e.Accounts.CreateOrganisation(context.Background(), by, account.Organisation{StructureID: sid, Name: name, Town: town}); err != nil {
		tb.Fatal(err)
	}
	return sid.String()
}

// Patient creates the i-th test patient's space, with an e-mail address, and opens it (the
// opt-out period passes on the fake clock). It returns the patient's id and mailbox address.
func (e *Env) Patient(tb testing.TB, i int) (int64, string) {
	tb.Helper()
	ctx := context.Background()
	ins, err := identity.NewINS(INS(i), identity.OIDTestNIR)
	if err != nil {
		tb.Fatal(err)
	}
	by := space.By{Actor: e.Admin.Actor, Channel: e.Admin.Channel}
	c, err := e.Spaces.Create(ctx, by, space.NewSpace{Patient: space.Patient{INS: ins, BirthName: "DURAND", GivenNames: "Lucie",
		BirthDate: time.Date(1980, 1, 15, 0, 0, 0, 0, time.UTC), Sex: space.Female, Email: fmt.Sprintf("lucie%d@example.org", i)}})
	if err != nil {
		tb.Fatal(err)
	}
	e.Clock.Advance(space.DefaultPolicy().OptOutPeriod + time.Second)
	if _, err := e.Spaces.Sweep(ctx); err != nil {
		tb.Fatal(err)
	}
	if _, sp, err := e.Spaces.Get(ctx, c.Patient.ID); err != nil || sp.State != space.Open {
		tb.Fatalf("mailtest: space not open: %v %v", sp.State, err)
	}
	return c.Patient.ID, e.Mail.PatientAddress(ins.Matricule).String()
}

// Submit sends raw from a professional's mail client to one recipient: the submission port,
// STARTTLS, AUTH PLAIN with the professional's app password, as any mail client does.
func (e *Env) Submit(tb testing.TB, pro Pro, to, raw string) {
	tb.Helper()
	c, err := netsmtp.Dial(e.Submission)
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
	if err := c.Auth(netsmtp.PlainAuth("", pro.Address, pro.Password, "127.0.0.1")); err != nil {
		tb.Fatal(err)
	}
	if err := c.Mail(pro.Address); err != nil {
		tb.Fatal(err)
	}
	if err := c.Rcpt(to); err != nil {
		tb.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Write([]byte(raw)); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatalf("DATA: %v", err)
	}
	c.Quit()
}

// Allow imports an allowlist of these domains.
func (e *Env) Allow(tb testing.TB, domains ...string) mail.AllowlistReport {
	tb.Helper()
	rep, err := e.Mail.RefreshAllowlist(context.Background(), e.Admin, strings.NewReader(AllowlistXML(domains...)))
	if err != nil {
		tb.Fatal(err)
	}
	return rep
}

// AllowlistXML writes an allowlist in the published format.
func AllowlistXML(domains ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema">
<DateDeGeneration>2026-03-01T10:00:00Z</DateDeGeneration><ListeDomaines>`)
	for _, d := range domains {
		fmt.Fprintf(&b, `<Domaine><Nom>%s</Nom><Description>Test</Description><DNCertificatOperateur>CN=smtp.%s,O=Test,C=FR</DNCertificatOperateur>
<ResponsableContact>r@%s</ResponsableContact><SupportContact>s@%s</SupportContact><DateMAJ>2026-02-01T00:00:00Z</DateMAJ></Domaine>`, d, d, d, d)
	}
	b.WriteString(`</ListeDomaines></ListeBlancheMSSante>`)
	return b.String()
}

// Message writes a small message.
func Message(from, to, subject, body string) string {
	return fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%d.test@example>\r\nDate: %s\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		from, to, subject, time.Now().UnixNano(), T0.Format(time.RFC1123Z), body)
}

// Deliveries lists a mailbox's INBOX.
func (e *Env) Deliveries(tb testing.TB, address string) []store.MailDelivery {
	tb.Helper()
	var out []store.MailDelivery
	err := e.DB.View(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = tx.MailDeliveries(context.Background(), address, "INBOX")
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// ReadMessage returns a stored message's bytes.
func (e *Env) ReadMessage(tb testing.TB, id int64) string {
	tb.Helper()
	ctx := context.Background()
	var m mail.StoredMessage
	if err := e.DB.View(ctx, func(tx *store.Tx) error {
		var err error
		m, err = tx.StoredMailMessage(ctx, id)
		return err
	}); err != nil {
		tb.Fatal(err)
	}
	rc, err := e.Mail.OpenMessage(ctx, m)
	if err != nil {
		tb.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// Received is a message a Sink received.
type Received struct {
	From string
	To   []string
	Data string
}

// Sink is an SMTP server playing another operator: STARTTLS with its own self-signed
// certificate, and recipients it refuses by their local part: "unknown…" for good (550 5.1.1),
// "later…" for now (451 4.3.0).
type Sink struct {
	Addr string
	TLS  *tls.Config // what the outbound queue must trust
	mu   sync.Mutex
	got  []Received
	srv  *smtp.Server
}

// NewSink starts a sink on a loopback port.
func NewSink(tb testing.TB) *Sink {
	tb.Helper()
	dir := tb.TempDir()
	cert, err := smtpd.SelfSigned(dir, []string{"127.0.0.1", "mx.other.example"}, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	s := &Sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	srv.Domain = "mx.other.example"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.ErrorLog = discardLog{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(l)
	tb.Cleanup(func() { srv.Close() })
	s.srv, s.Addr = srv, l.Addr().String()
	s.TLS = ClientTLS(tb, filepath.Join(dir, smtpd.CertFile), "127.0.0.1")
	return s
}

// Received returns what the sink got.
func (s *Sink) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.got...)
}

type sinkSession struct {
	s    *Sink
	from string
	to   []string
}

func (x *sinkSession) Mail(from string, _ *smtp.MailOptions) error { x.from = from; return nil }
func (x *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch {
	case strings.HasPrefix(to, "unknown"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	case strings.HasPrefix(to, "later"):
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	x.to = append(x.to, to)
	return nil
}
func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.got = append(x.s.got, Received{From: x.from, To: x.to, Data: string(b)})
	x.s.mu.Unlock()
	return nil
}
func (x *sinkSession) Reset()        { x.from, x.to = "", nil }
func (x *sinkSession) Logout() error { return nil }

type discardLog struct{}

func (discardLog) Printf(string, ...any) {}
func (discardLog) Println(...any)        {}

// Throttle is a rate limit small enough for tests: 3 free attempts, then 1 minute, doubling.
var Throttle = auth.Policy{Free: 3, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour}
