package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
)

// SMTPRelay is the Sender that hands notices to a mail relay (the insurer's outgoing relay,
// a transactional mail service, a local Postfix). One connection per notice: notifications
// are few per patient and sent from background jobs, so a pool would add state for nothing.
//
// It uses go-smtp's client rather than net/smtp: net/smtp is frozen, while go-smtp parses
// enhanced status codes (RFC 3463) into a typed error, which is what tells a permanent refusal
// from a temporary one, and it is the library carnet's own SMTP servers are built on.
type SMTPRelay struct {
	addr      string
	mode      string
	username  string
	password  string
	from      string // header From, possibly with a display name
	envFrom   string // MAIL FROM: the bare address
	timeout   time.Duration
	tlsConfig *tls.Config
	clock     clock.Clock
}

// NewSMTPRelay returns the relay Sender described by cfg's SMTP fields (cfg.Mode is taken as
// ModeSMTP). Nothing is dialled until the first Send: a relay that is down at start-up must
// not stop carnet, its notices will wait in the job queue.
func NewSMTPRelay(cfg Config, clk clock.Clock) (*SMTPRelay, error) {
	cfg.Mode = ModeSMTP
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, _ := splitRelayAddr(cfg.SMTPAddr) // checked by Validate
	from, _ := parseAddress("sender", cfg.From)
	if cfg.SMTPTLS == "" {
		cfg.SMTPTLS = TLSStartTLS
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if clk == nil {
		clk = clock.System{}
	}
	var tc *tls.Config
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc.ServerName = host // the certificate is checked against the name we were given
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	return &SMTPRelay{
		addr:      cfg.SMTPAddr,
		mode:      cfg.SMTPTLS,
		username:  cfg.Username,
		password:  cfg.Password,
		from:      cfg.From,
		envFrom:   from.Address,
		timeout:   cfg.Timeout,
		tlsConfig: tc,
		clock:     clk,
	}, nil
}

// step names where a delivery failed: the same SMTP reply means different things before and
// within the mail transaction.
type step int

const (
	stepConnect     step = iota // TCP (and, in TLSImplicit mode, TLS) connection
	stepStartTLS                // greeting, EHLO, STARTTLS
	stepHello                   // EHLO (over TLS once upgraded)
	stepAuth                    // AUTH PLAIN
	stepTransaction             // MAIL, RCPT, DATA: about this message
)

// Send delivers m to the relay, within the configured timeout. A nil error means the relay
// answered 250 to the end of DATA: it has taken responsibility for the notice.
//
// Errors: errs.Invalid when the message is malformed or the relay refused this message with
// a 5xx reply (retrying the same message cannot succeed); errs.Unavailable for everything
// else: 4xx replies, network and TLS failures, timeouts, and 5xx replies before the
// transaction (greeting, STARTTLS, AUTH) or that ask for AUTH or TLS within it (530, 5.7.0,
// 5.7.8–5.7.11). Those last ones are about the relay settings, not about this notice: once
// the operator fixes them, retried jobs get through instead of every notice of the meantime
// being dropped.
func (r *SMTPRelay) Send(ctx context.Context, m Message) error {
	m = stamp(m, r.clock)
	data, err := Compose(r.from, m)
	if err != nil {
		return err
	}
	rcpt, _ := parseAddress("recipient", m.To) // checked by Compose

	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	conn, err := r.dial(ctx)
	if err != nil {
		return r.failure(ctx, stepConnect, err)
	}
	// go-smtp sets and clears per-command deadlines on the connection itself, so a deadline
	// set here would be overwritten; closing the connection when ctx ends is what bounds the
	// whole exchange, and also honours the caller's cancellation.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c, s, err := r.session(conn)
	if err != nil {
		conn.Close()
		return r.failure(ctx, s, err)
	}
	defer c.Close()

	if err := c.SendMail(r.envFrom, []string{rcpt.Address}, bytes.NewReader(data)); err != nil {
		// A network failure after the final dot may hide a delivered message; the retry
		// then sends it again with the same Message-ID, which lets the receiving side (and
		// the patient's mail client) recognise the duplicate.
		return r.failure(ctx, stepTransaction, err)
	}
	// The relay has accepted the notice: a failed QUIT changes nothing for the patient and
	// must not make the job send it twice.
	_ = c.Quit()
	return nil
}

func (r *SMTPRelay) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{}
	if r.mode == TLSImplicit {
		td := &tls.Dialer{NetDialer: d, Config: r.tlsConfig}
		return td.DialContext(ctx, "tcp", r.addr)
	}
	return d.DialContext(ctx, "tcp", r.addr)
}

// session brings conn to the point where a mail transaction can start: greeted, over TLS
// unless in TLSNone mode, authenticated when a username is configured. On error it returns
// the step that failed.
func (r *SMTPRelay) session(conn net.Conn) (*smtp.Client, step, error) {
	var c *smtp.Client
	if r.mode == TLSStartTLS {
		var err error
		// Fails, rather than carrying on in clear, when the relay does not offer STARTTLS:
		// a relay that stops offering it may be behind an attacker stripping it.
		c, err = smtp.NewClientStartTLS(conn, r.tlsConfig)
		if err != nil {
			return nil, stepStartTLS, err
		}
	} else {
		c = smtp.NewClient(conn)
	}
	// The defaults (5 and 12 minutes, RFC 5321 §4.5.3.2) suit a server relaying mail; a job
	// worker would rather give up and retry later.
	c.CommandTimeout = r.timeout
	c.SubmissionTimeout = r.timeout
	// An explicit EHLO, rather than the one the client would send lazily, so that a failed
	// TLS handshake (which happens on the first exchange after STARTTLS) is reported as such
	// and not as a missing AUTH mechanism.
	if err := c.Hello("localhost"); err != nil {
		c.Close()
		return nil, stepHello, err
	}
	if r.username != "" {
		if !c.SupportsAuth(sasl.Plain) {
			c.Close()
			return nil, stepAuth, errors.New("the relay does not offer AUTH PLAIN")
		}
		// Validate refused a username without TLS: the password below only travels
		// encrypted.
		if err := c.Auth(sasl.NewPlainClient("", r.username, r.password)); err != nil {
			c.Close()
			return nil, stepAuth, err
		}
	}
	return c, stepTransaction, nil
}

// failure turns err, met at step s, into an errs.Error whose code tells the job layer whether
// to retry, and whose message tells the operator what to look at. The relay's own reply text
// stays in the cause (it may quote the recipient's address).
func (r *SMTPRelay) failure(ctx context.Context, s step, err error) error {
	// The client's per-command deadline and ctx's end at about the same time: either may be
	// the one that stopped the exchange.
	var netErr net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout() {
		return errs.Wrap(errs.Unavailable, err, "mail relay %s did not complete the delivery within %s", r.addr, r.timeout)
	}
	if ctx.Err() != nil {
		return errs.Wrap(errs.Unavailable, err, "delivery to mail relay %s cancelled", r.addr)
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		reply := replyCode(se)
		switch {
		case se.Code/100 == 5 && s == stepTransaction && accessRefused(se):
			return errs.Wrap(errs.Unavailable, err, "mail relay %s requires authentication or TLS before accepting notifications (%s); check the relay settings", r.addr, reply)
		case se.Code/100 == 5 && s == stepTransaction:
			return errs.Wrap(errs.Invalid, err, "mail relay %s refused the notification for good (%s)", r.addr, reply)
		case se.Code/100 == 5 && s == stepAuth:
			return errs.Wrap(errs.Unavailable, err, "mail relay %s refused authentication (%s); check the relay username and password", r.addr, reply)
		case se.Code/100 == 5:
			return errs.Wrap(errs.Unavailable, err, "mail relay %s refused the session (%s); check the relay address and TLS mode", r.addr, reply)
		default:
			return errs.Wrap(errs.Unavailable, err, "mail relay %s deferred the notification (%s)", r.addr, reply)
		}
	}
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &hostErr) {
		return errs.Wrap(errs.Unavailable, err, "mail relay %s presented a certificate that is not trusted (unknown authority or wrong name)", r.addr)
	}
	switch s {
	case stepConnect:
		return errs.Wrap(errs.Unavailable, err, "cannot connect to mail relay %s", r.addr)
	case stepStartTLS:
		return errs.Wrap(errs.Unavailable, err, "cannot start TLS with mail relay %s (TLS mode %q requires STARTTLS)", r.addr, r.mode)
	case stepAuth:
		return errs.Wrap(errs.Unavailable, err, "cannot authenticate to mail relay %s", r.addr)
	}
	return errs.Wrap(errs.Unavailable, err, "connection to mail relay %s failed", r.addr)
}

// accessRefused reports a 5xx reply that, although it comes within the transaction, is about
// our access to the relay rather than about the message: a relay answers MAIL or RCPT this
// way when it wants AUTH or TLS first. Treating it as temporary costs a few retries if it was
// in fact about the message; treating it as permanent would drop every notice until the
// operator fixed the settings.
func accessRefused(se *smtp.SMTPError) bool {
	if se.Code == 530 { // RFC 4954 §6: authentication required
		return true
	}
	switch se.EnhancedCode {
	case smtp.EnhancedCode{5, 7, 0}, // RFC 4954 §6, with 530
		smtp.EnhancedCode{5, 7, 8},  // authentication credentials invalid
		smtp.EnhancedCode{5, 7, 9},  // authentication mechanism too weak
		smtp.EnhancedCode{5, 7, 10}, // encryption needed
		smtp.EnhancedCode{5, 7, 11}: // encryption required for requested authentication mechanism
		return true
	}
	return false
}

// replyCode formats an SMTP reply as "SMTP 550 5.1.1", the part of it that is safe to show.
func replyCode(se *smtp.SMTPError) string {
	if se.EnhancedCode == (smtp.EnhancedCode{}) || se.EnhancedCode == smtp.NoEnhancedCode {
		return fmt.Sprintf("SMTP %d", se.Code)
	}
	ec := se.EnhancedCode
	return fmt.Sprintf("SMTP %d %d.%d.%d", se.Code, ec[0], ec[1], ec[2])
}
