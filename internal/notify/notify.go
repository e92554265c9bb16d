// Package notify sends carnet's e-mail notifications to patients: the notice that their space
// will open, "something new in your space", a reminder to answer a message. It is in charge of
// turning a short plain-text notice into an RFC 5322 message and handing it to a Sender: the
// Outbox (files in a folder, the embedded default) or an SMTPRelay.
//
// E-mail leaves the health trust space, so a notification never carries health content: it says
// that something happened and invites the patient to sign in, nothing more. The package cannot
// read the text's meaning, but its Message type keeps the shape of a notice (one recipient,
// plain text, no attachment, no HTML, a bounded size) and refuses anything else.
package notify

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Message is one notification to one patient.
//
// Subject and Text are written by carnet's own templates and must never carry health content:
// no document title, no professional's or establishment's name, no diagnosis, no appointment
// reason. Anything a patient should read about their health stays in their space (or in the
// MSSanté mailbox), behind authentication; the e-mail only points there. For the same reason
// the type has no attachment and no HTML part, and Validate refuses text that looks like HTML.
//
// A Message is composed when it is sent, not stored in the job queue: the queue holds only
// what to send (see space.NoticeJob), so that no address or code sits in it.
type Message struct {
	// To is the patient's address: one addr-spec, optionally with a display name
	// ("Marie Dupont <marie@example.fr>"). ASCII only.
	To string `json:"to"`
	// Subject is one line of text; accents are fine (RFC 2047 encoded on the wire).
	Subject string `json:"subject"`
	// Text is the plain-text body, UTF-8, line breaks as "\n" or "\r\n".
	Text string `json:"text"`
	// ID is the idempotency key chosen by the caller (the job's key, a UUID…). It becomes the
	// Message-ID and names the outbox file, so that a retried job overwrites rather than
	// duplicates. Letters, digits, '.', '_' and '-' only.
	ID string `json:"id"`
	// Date is when the notice was decided (the Date header). Leave it zero to use the
	// sender's clock at each attempt; set it (to the job's creation time, say) to make every
	// attempt produce the same bytes. The Outbox keeps one file per ID either way.
	Date time.Time `json:"date,omitzero"`
}

// Sender delivers one notification. A returned error carries an errs code telling the job
// layer what to do: errs.Invalid means retrying cannot help (the message is malformed or the
// relay refused it for good), errs.Unavailable means try again later.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Modes of Config.Mode.
const (
	ModeOutbox = "outbox"
	ModeSMTP   = "smtp"
)

// TLS modes of Config.SMTPTLS.
const (
	TLSStartTLS = "starttls" // RFC 3207: plain connection upgraded before anything else; required
	TLSImplicit = "tls"      // RFC 8314: TLS from the first byte (port 465)
	TLSNone     = "none"     // no TLS: only to a relay on this machine (loopback)
)

// DefaultFrom is the sender used by the Outbox when none is configured. The .invalid
// top-level domain (RFC 2606) makes it plain that such a message never left the machine.
const DefaultFrom = "carnet <noreply@carnet.invalid>"

// DefaultTimeout bounds one SMTP delivery (connect, TLS, AUTH, transaction) when
// Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Config selects and configures the Sender. It is built by main from flags, environment or
// file, like the rest of carnet's configuration.
type Config struct {
	Mode      string // ModeOutbox (default when empty) or ModeSMTP
	OutboxDir string // folder of the .eml files, for ModeOutbox
	SMTPAddr  string // relay as host:port, for ModeSMTP
	SMTPTLS   string // TLSStartTLS (default when empty), TLSImplicit or TLSNone
	Username  string // AUTH PLAIN user; empty for no AUTH
	Password  string // AUTH PLAIN password; a secret, never shown in errors
	From      string // sender address, "Name <addr>" or addr; required for ModeSMTP
	Timeout   time.Duration
	// TLSConfig, when set, is used for the relay's TLS (tests give RootCAs with their
	// self-signed certificate). ServerName defaults to the relay's host.
	TLSConfig *tls.Config
}

// Validate checks c and reports every problem at once, so that an operator fixes the
// configuration in one go. The error has code errs.Invalid.
func (c Config) Validate() error {
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	switch c.Mode {
	case "", ModeOutbox:
		if c.OutboxDir == "" {
			add("the outbox folder is required in %q mode", ModeOutbox)
		}
		if c.From != "" {
			if _, err := parseAddress("sender", c.From); err != nil {
				add("%s", errs.MessageOf(err))
			}
		}
	case ModeSMTP:
		c.validateSMTP(add)
	default:
		add("mode %q is unknown; use %q or %q", c.Mode, ModeOutbox, ModeSMTP)
	}
	if c.Timeout < 0 {
		add("the timeout must not be negative")
	}
	if len(problems) > 0 {
		return errs.E(errs.Invalid, "notification settings: %s", strings.Join(problems, "; "))
	}
	return nil
}

func (c Config) validateSMTP(add func(string, ...any)) {
	host, err := splitRelayAddr(c.SMTPAddr)
	if err != nil {
		add("%s", errs.MessageOf(err))
	}
	switch c.SMTPTLS {
	case "", TLSStartTLS, TLSImplicit:
	case TLSNone:
		// Without TLS the notice (and the recipient's address) cross the network in clear,
		// and an active attacker can rewrite it; only a relay on this machine is safe.
		if err == nil && !isLoopback(host) {
			add("TLS mode %q is only allowed for a relay on this machine (localhost, 127.0.0.0/8, ::1), not %q; use %q or %q",
				TLSNone, host, TLSStartTLS, TLSImplicit)
		}
	default:
		add("TLS mode %q is unknown; use %q, %q or %q", c.SMTPTLS, TLSStartTLS, TLSImplicit, TLSNone)
	}
	if c.Username != "" && c.Password == "" {
		add("a password is required with the relay username")
	}
	if c.Username == "" && c.Password != "" {
		add("a relay password is set without a username")
	}
	if c.Username != "" && c.SMTPTLS == TLSNone {
		// AUTH PLAIN sends the password as base64: readable by anyone on the path.
		add("relay authentication needs TLS; TLS mode %q would send the password in clear", TLSNone)
	}
	if c.From == "" {
		add("the sender address is required in %q mode", ModeSMTP)
	} else if _, err := parseAddress("sender", c.From); err != nil {
		add("%s", errs.MessageOf(err))
	}
}

// splitRelayAddr checks that addr is host:port with a numeric port and returns the host.
func splitRelayAddr(addr string) (string, error) {
	if addr == "" {
		return "", errs.E(errs.Invalid, "the relay address (host:port) is required in %q mode", ModeSMTP)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "", errs.E(errs.Invalid, "the relay address %q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", errs.E(errs.Invalid, "the relay port %q is not a number between 1 and 65535", port)
	}
	return host, nil
}

// isLoopback reports whether host names this machine without a DNS look-up: the name
// "localhost" (RFC 6761 §6.3 reserves it for loopback) or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// New validates cfg and returns the Sender it selects. clk stamps messages without a Date;
// nil means the system clock.
func New(cfg Config, clk clock.Clock) (Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Mode == ModeSMTP {
		return NewSMTPRelay(cfg, clk)
	}
	return NewOutbox(cfg, clk)
}

// stamp gives m its date, at the second: the Date header has no finer resolution, and the
// outbox file name must be the same on every attempt that uses the same Date.
func stamp(m Message, clk clock.Clock) Message {
	if m.Date.IsZero() {
		if clk == nil {
			clk = clock.System{}
		}
		m.Date = clk.Now()
	}
	m.Date = m.Date.UTC().Truncate(time.Second)
	return m
}
