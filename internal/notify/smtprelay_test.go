package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
)

const (
	relayUser = "notices@carnet.test"
	relayPass = "correct horse battery staple"
)

// Recipients the test relay answers specially.
const (
	rcptRefused  = "refused@example.fr" // 550 5.1.1: permanent
	rcptDeferred = "later@example.fr"   // 451 4.3.0: temporary
)

// testCert is a self-signed certificate for 127.0.0.1, ::1 and localhost, made once for
// all the tests of this file.
var testCert = sync.OnceValues(func() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "carnet test relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
})

func MustCert(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	cert, err := testCert()
	if err != nil {
		tb.Fatalf("self-signed certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return cert, pool
}

// delivery is one message as the test relay received it.
type delivery struct {
	tls  bool   // the transaction ran over TLS
	user string // authenticated user, "" if none
	from string
	to   []string
	data []byte
}

// testRelay is a real SMTP server (go-smtp) on 127.0.0.1, with the behaviours the relay
// client must cope with.
type testRelay struct {
	addr string
	pool *x509.CertPool

	mu         sync.Mutex
	deliveries []delivery
}

func (r *testRelay) received() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slicesClone(r.deliveries)
}

func slicesClone(d []delivery) []delivery { return append([]delivery(nil), d...) }

// startRelay starts a relay in tlsMode (TLSStartTLS: STARTTLS offered; TLSImplicit: TLS
// from the first byte; TLSNone: no TLS at all). With requireAuth it wants AUTH PLAIN with
// relayUser and relayPass before MAIL.
func startRelay(t *testing.T, tlsMode string, requireAuth bool) *testRelay {
	t.Helper()
	cert, pool := MustCert(t)
	r := &testRelay{pool: pool}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &relaySession{relay: r, conn: c, requireAuth: requireAuth}, nil
	})
	srv := smtp.NewServer(be)
	srv.Domain = "relay.test"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	// go-smtp offers AUTH only over TLS unless told otherwise: the relay client must never
	// need AllowInsecureAuth.
	srv.AllowInsecureAuth = false

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch tlsMode {
	case TLSStartTLS:
		srv.TLSConfig = serverTLS
	case TLSImplicit:
		l = tls.NewListener(l, serverTLS)
	}
	r.addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		// Server.Close only closes the listeners Serve has registered; when a test ends
		// before Serve got that far (nothing dialled), the listener must be closed here.
		l.Close()
		<-done
	})
	return r
}

type relaySession struct {
	relay       *testRelay
	conn        *smtp.Conn
	requireAuth bool
	user        string
	cur         delivery
}

func (s *relaySession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *relaySession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		if username != relayUser || password != relayPass {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	if s.requireAuth && s.user == "" {
		return smtp.ErrAuthRequired
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.cur = delivery{tls: isTLS, user: s.user, from: from}
	return nil
}

func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch to {
	case rcptRefused:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox"}
	case rcptDeferred:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.relay.mu.Lock()
	s.relay.deliveries = append(s.relay.deliveries, s.cur)
	s.relay.mu.Unlock()
	return nil
}

func (s *relaySession) Reset()        { s.cur = delivery{} }
func (s *relaySession) Logout() error { return nil }

// relayConfig is a valid ModeSMTP configuration for r.
func relayConfig(r *testRelay, tlsMode string) Config {
	return Config{
		Mode:      ModeSMTP,
		SMTPAddr:  r.addr,
		SMTPTLS:   tlsMode,
		Username:  relayUser,
		Password:  relayPass,
		From:      testFrom,
		Timeout:   10 * time.Second,
		TLSConfig: &tls.Config{RootCAs: r.pool},
	}
}

func MustRelay(tb testing.TB, cfg Config) *SMTPRelay {
	tb.Helper()
	s, err := NewSMTPRelay(cfg, clock.NewFake(testDate))
	if err != nil {
		tb.Fatalf("NewSMTPRelay: %v", err)
	}
	return s
}

func TestSMTPRelayDelivers(t *testing.T) {
	tests := []struct {
		name     string
		tlsMode  string
		auth     bool
		wantTLS  bool
		wantUser string
	}{
		{"STARTTLS with AUTH PLAIN", TLSStartTLS, true, true, relayUser},
		{"implicit TLS with AUTH PLAIN", TLSImplicit, true, true, relayUser},
		{"no TLS to a loopback relay", TLSNone, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startRelay(t, tt.tlsMode, tt.auth)
			cfg := relayConfig(r, tt.tlsMode)
			if !tt.auth {
				cfg.Username, cfg.Password = "", ""
			}
			m := testMessage()
			m.Text += ".\n. fin\n" // lines that SMTP dot-stuffing must carry through intact
			if err := MustRelay(t, cfg).Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := r.received()
			if len(got) != 1 {
				t.Fatalf("relay received %d messages, want 1", len(got))
			}
			d := got[0]
			if d.tls != tt.wantTLS || d.user != tt.wantUser {
				t.Errorf("transaction tls=%v user=%q, want tls=%v user=%q", d.tls, d.user, tt.wantTLS, tt.wantUser)
			}
			if d.from != "noreply@carnet.test" || len(d.to) != 1 || d.to[0] != "marie@example.fr" {
				t.Errorf("envelope MAIL FROM %q RCPT TO %q", d.from, d.to)
			}
			want := testMessageBytes + ".\r\n. fin\r\n"
			if string(d.data) != want {
				t.Errorf("relay received\n%q\nwant\n%q", d.data, want)
			}
			if !strings.HasPrefix(string(d.data), "Date: Sat, 14 Mar 2026 09:30:00 +0000\r\nFrom: =?utf-8?q?Mon_espace_sant=C3=A9?= <noreply@carnet.test>\r\nTo: marie@example.fr\r\nSubject: =?utf-8?q?Du_nouveau_dans_votre_espace_sant=C3=A9?=\r\nMessage-ID: <notice-42@carnet.test>\r\n") {
				t.Errorf("header block does not start as expected:\n%s", d.data)
			}
		})
	}
}

// TestSMTPRelayFailures checks the code each failure carries: errs.Invalid tells the job
// layer not to retry, errs.Unavailable to retry later.
func TestSMTPRelayFailures(t *testing.T) {
	tests := []struct {
		name     string
		relayTLS string // mode of the test relay
		setup    func(*Config, *Message)
		want     errs.Code
		wantMsg  string // part of the safe message
	}{
		{"550 on RCPT is permanent", TLSStartTLS, func(_ *Config, m *Message) { m.To = rcptRefused }, errs.Invalid, "SMTP 550 5.1.1"},
		{"451 on RCPT is temporary", TLSStartTLS, func(_ *Config, m *Message) { m.To = rcptDeferred }, errs.Unavailable, "SMTP 451 4.3.0"},
		{"wrong password is a settings problem", TLSStartTLS, func(c *Config, _ *Message) { c.Password = "not-the-password" }, errs.Unavailable, "SMTP 535 5.7.8"},
		{"AUTH required but not configured", TLSStartTLS, func(c *Config, _ *Message) { c.Username, c.Password = "", "" }, errs.Unavailable, "requires authentication"},
		{"STARTTLS required but not offered", TLSNone, func(c *Config, _ *Message) { c.SMTPTLS = TLSStartTLS }, errs.Unavailable, "STARTTLS"},
		{"untrusted certificate", TLSStartTLS, func(c *Config, _ *Message) { c.TLSConfig = nil }, errs.Unavailable, "not trusted"},
		{"certificate for another name", TLSImplicit, func(c *Config, _ *Message) { c.TLSConfig.ServerName = "relay.example.org" }, errs.Unavailable, "not trusted"},
		{"invalid message is refused before dialling", TLSStartTLS, func(_ *Config, m *Message) { m.To = "a@b.fr\r\nBcc: c@d.fr" }, errs.Invalid, "no CR or LF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startRelay(t, tt.relayTLS, true)
			cfg := relayConfig(r, tt.relayTLS)
			m := testMessage()
			tt.setup(&cfg, &m)
			err := MustRelay(t, cfg).Send(context.Background(), m)
			if got := errs.CodeOf(err); got != tt.want {
				t.Fatalf("Send error = %v (code %q), want code %q", err, got, tt.want)
			}
			if msg := errs.MessageOf(err); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message %q does not mention %q", msg, tt.wantMsg)
			}
			if strings.Contains(err.Error(), relayPass) || strings.Contains(err.Error(), "not-the-password") {
				t.Errorf("error reveals the password: %v", err)
			}
			if got := r.received(); len(got) != 0 {
				t.Errorf("relay received %d messages, want none", len(got))
			}
		})
	}
}

func TestSMTPRelayClosedPortIsTemporary(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	for _, mode := range []string{TLSStartTLS, TLSImplicit, TLSNone} {
		t.Run(mode, func(t *testing.T) {
			cfg := Config{Mode: ModeSMTP, SMTPAddr: addr, SMTPTLS: mode, From: testFrom, Timeout: 5 * time.Second}
			err := MustRelay(t, cfg).Send(context.Background(), testMessage())
			if !errs.Is(err, errs.Unavailable) {
				t.Fatalf("Send error = %v, want code unavailable", err)
			}
			if !strings.Contains(errs.MessageOf(err), "cannot connect") {
				t.Errorf("message = %q", errs.MessageOf(err))
			}
		})
	}
}

// TestSMTPRelayTimeout: a relay that accepts the connection and never greets must not hold
// the job worker past the configured timeout.
func TestSMTPRelayTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, silent
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})

	for _, mode := range []string{TLSStartTLS, TLSNone} {
		t.Run(mode, func(t *testing.T) {
			cfg := Config{Mode: ModeSMTP, SMTPAddr: l.Addr().String(), SMTPTLS: mode, From: testFrom, Timeout: 200 * time.Millisecond}
			start := time.Now()
			err := MustRelay(t, cfg).Send(context.Background(), testMessage())
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Send took %s with a timeout of %s", elapsed, cfg.Timeout)
			}
			if !errs.Is(err, errs.Unavailable) {
				t.Fatalf("Send error = %v, want code unavailable", err)
			}
			if !strings.Contains(errs.MessageOf(err), "within 200ms") {
				t.Errorf("message = %q", errs.MessageOf(err))
			}
		})
	}

	t.Run("caller cancels", func(t *testing.T) {
		cfg := Config{Mode: ModeSMTP, SMTPAddr: l.Addr().String(), SMTPTLS: TLSNone, From: testFrom, Timeout: time.Minute}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		err := MustRelay(t, cfg).Send(ctx, testMessage())
		if !errs.Is(err, errs.Unavailable) || !strings.Contains(errs.MessageOf(err), "cancelled") {
			t.Fatalf("Send error = %v, want a cancelled, unavailable error", err)
		}
	})
}

func TestNewSelectsSMTPRelay(t *testing.T) {
	r := startRelay(t, TLSStartTLS, true)
	s, err := New(relayConfig(r, TLSStartTLS), clock.NewFake(testDate))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, ok := s.(*SMTPRelay); !ok {
		t.Fatalf("New gave %T, want *SMTPRelay", s)
	}
	if err := s.Send(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	if got := r.received(); len(got) != 1 {
		t.Fatalf("relay received %d messages, want 1", len(got))
	}
}
