// Package smtpd is carnet's SMTP adapter (go-smtp): the relay listener, where other MSSanté
// operators deliver into carnet's mailboxes (port 25 in production), and the submission
// listener, where mailbox owners' mail clients send (port 587). Both speak STARTTLS (TLS 1.2
// at least); the relay takes mail only from allowlisted domains and for carnet's own
// mailboxes, submission only after AUTH with an app password. Every rule is the mail
// service's: this package collects the envelope, hands the data over as a stream, and maps
// the service's refusals to reply codes in one table (replies.go).
package smtpd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
)

// Options configure the listeners.
type Options struct {
	// RelayAddr and SubmissionAddr are host:port to listen on; "" leaves that listener off.
	RelayAddr      string
	SubmissionAddr string
	// Hostname greets clients and names the generated certificate (default: the mail
	// service's hostname).
	Hostname string
	// TLS, when set, is the listeners' TLS configuration (certificates of the health PKI in
	// production); its MinVersion is raised to TLS 1.2. Otherwise a self-signed certificate is
	// generated into CertDir (see SelfSigned), for CertHosts and Hostname.
	TLS       *tls.Config
	CertDir   string
	CertHosts []string
	// MaxMessageBytes bounds a message (default: the mail service's); MaxRecipients the
	// recipients of one (default 100).
	MaxMessageBytes int64
	MaxRecipients   int
	// ReadTimeout and WriteTimeout bound each command's read and each reply's write (default
	// 5 minutes and 1 minute: RFC 5321 §4.5.3.2 asks clients to wait 5 minutes, and servers to
	// wait as long); DataTimeout bounds the storing of one message (default 10 minutes).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	DataTimeout  time.Duration
	// PlainRelay lets the relay take mail without STARTTLS. Never in production (MSSanté
	// requires TLS between operators); a test switch.
	PlainRelay bool
	// OperatorCAs, when set, are the health PKI's roots: the relay asks the sending operator
	// for its client certificate and verifies it against them (a certificate that does not
	// verify fails the TLS handshake); the verified subject goes into the envelope
	// (mail.Envelope.PeerDN) for the mail service to check against the allowlist.
	OperatorCAs *x509.CertPool
	Clock       clock.Clock // certificate dates (default: system clock)
	Log         *slog.Logger
}

// Server runs the relay and submission listeners over one mail service.
type Server struct {
	svc  *mail.Service
	opts Options
	log  *slog.Logger
	tls  *tls.Config
	// relayTLS is tls asking for the sending operator's certificate (Options.OperatorCAs).
	relayTLS *tls.Config

	servers   []*smtp.Server
	listeners []net.Listener
	served    sync.WaitGroup
	base      context.Context
	cancel    context.CancelFunc

	mu       sync.Mutex
	draining bool
	inflight int
	idle     chan struct{} // closed when draining and nothing in flight
}

// New checks the options and prepares the listeners (TLS included: a certificate is
// generated if needed); Start opens them.
func New(svc *mail.Service, o Options) (*Server, error) {
	if o.Hostname == "" {
		o.Hostname = svc.Config().Hostname
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = svc.Config().MaxMessageBytes
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = 100
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 5 * time.Minute
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = time.Minute
	}
	if o.DataTimeout <= 0 {
		o.DataTimeout = 10 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	cfg := o.TLS
	if cfg == nil {
		if o.CertDir == "" {
			return nil, errs.E(errs.Invalid, "smtp: a TLS configuration or a directory for a generated certificate is required")
		}
		cert, err := SelfSigned(o.CertDir, append([]string{o.Hostname}, o.CertHosts...), o.Clock.Now())
		if err != nil {
			return nil, fmt.Errorf("smtp certificate: %w", err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12 // MSSanté: TLS 1.2 at least
	}
	s := &Server{svc: svc, opts: o, log: o.Log.With("component", "smtp"), tls: cfg, relayTLS: cfg, idle: make(chan struct{})}
	if o.OperatorCAs != nil {
		s.relayTLS = cfg.Clone()
		s.relayTLS.ClientCAs, s.relayTLS.ClientAuth = o.OperatorCAs, tls.VerifyClientCertIfGiven
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// TLSConfig returns the listeners' TLS configuration (tests trust its certificate).
func (s *Server) TLSConfig() *tls.Config { return s.tls }

// Listener names a listener that Start opened.
type Listener struct {
	Channel mail.Channel
	Addr    net.Addr
}

// Start opens the configured listeners and serves them in the background.
func (s *Server) Start(ctx context.Context) ([]Listener, error) {
	var out []Listener
	for _, l := range []struct {
		addr    string
		channel mail.Channel
	}{{s.opts.RelayAddr, mail.Relay}, {s.opts.SubmissionAddr, mail.Submission}} {
		if l.addr == "" {
			continue
		}
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", l.addr)
		if err != nil {
			s.closeAll()
			return nil, fmt.Errorf("smtp %s: listen on %s: %w", l.channel, l.addr, err)
		}
		srv := s.newSMTP(l.channel)
		s.servers, s.listeners = append(s.servers, srv), append(s.listeners, ln)
		out = append(out, Listener{Channel: l.channel, Addr: ln.Addr()})
		s.served.Add(1)
		go func() {
			defer s.served.Done()
			if err := srv.Serve(ln); err != nil && !s.isDraining() {
				s.log.Error("smtp listener stopped", "channel", l.channel, "err", err)
			}
		}()
	}
	return out, nil
}

func (s *Server) newSMTP(ch mail.Channel) *smtp.Server {
	srv := smtp.NewServer(backend{s: s, channel: ch})
	srv.Domain = s.opts.Hostname
	srv.TLSConfig = s.tls
	if ch == mail.Relay {
		srv.TLSConfig = s.relayTLS
	}
	srv.MaxMessageBytes = s.opts.MaxMessageBytes
	srv.MaxRecipients = s.opts.MaxRecipients
	srv.ReadTimeout, srv.WriteTimeout = s.opts.ReadTimeout, s.opts.WriteTimeout
	srv.AllowInsecureAuth = false // RFC 4954 §4 / RFC 8314: no password in clear
	srv.ErrorLog = errorLog{s.log.With("channel", ch)}
	return srv
}

// Shutdown stops taking connections and new messages, lets the messages being stored finish
// (until ctx ends), then closes every connection.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.draining {
		s.draining = true
		if s.inflight == 0 {
			close(s.idle)
		}
	}
	s.mu.Unlock()
	for _, l := range s.listeners {
		l.Close()
	}
	var err error
	select {
	case <-s.idle:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.closeAll()
	s.cancel()
	s.served.Wait()
	return err
}

func (s *Server) closeAll() {
	for _, srv := range s.servers {
		srv.Close()
	}
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// enter counts a message being stored; false once draining.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.inflight++
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	if s.draining && s.inflight == 0 {
		close(s.idle)
	}
}

// errorLog routes go-smtp's own errors (a connection that failed) to slog.
type errorLog struct{ log *slog.Logger }

func (e errorLog) Printf(format string, v ...any) { e.log.Warn(fmt.Sprintf(format, v...)) }
func (e errorLog) Println(v ...any)               { e.log.Warn(fmt.Sprint(v...)) }

type backend struct {
	s       *Server
	channel mail.Channel
}

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if b.s.isDraining() {
		return nil, errShuttingDown
	}
	host, _, _ := net.SplitHostPort(c.Conn().RemoteAddr().String())
	state, isTLS := c.TLSConnectionState()
	env := mail.Envelope{Channel: b.channel, ClientAddr: host, Helo: c.Hostname(), TLS: isTLS}
	if isTLS && len(state.VerifiedChains) > 0 {
		subject := state.VerifiedChains[0][0].Subject
		if dn, err := mail.CertificateDN(subject); err == nil {
			env.PeerDN = dn
		} else {
			env.PeerDN = subject.String() // read by the check, which refuses what it cannot match
		}
	}
	se := &session{s: b.s, conn: c, env: env}
	if b.channel == mail.Submission {
		return &authSession{se}, nil
	}
	return se, nil
}

var errNoTLS = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
