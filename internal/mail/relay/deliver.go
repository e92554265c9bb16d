package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/carnet-sante/carnet/internal/mail"
)

// MXResolver looks up a domain's mail exchangers.
type MXResolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

type netResolver struct{}

func (netResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return net.DefaultResolver.LookupMX(ctx, name)
}

// hosts returns where a domain's mail goes, in order of preference: its static route, or its
// MX hosts on port 25 (RFC 5321 §5.1: by preference; the domain itself when it has none).
func (q *Queue) hosts(ctx context.Context, domain string) ([]string, error) {
	if r, ok := q.cfg.Routes[domain]; ok {
		return []string{r}, nil
	}
	if r, ok := q.cfg.Routes["*"]; ok {
		return []string{r}, nil
	}
	mxs, err := q.cfg.Resolver.LookupMX(ctx, domain)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return []string{net.JoinHostPort(domain, "25")}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("MX lookup for %s: %w", domain, err)
	}
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	var out []string
	for _, mx := range mxs {
		h := strings.TrimSuffix(mx.Host, ".")
		if h == "" { // RFC 7505 null MX: the domain takes no mail
			return nil, errNullMX
		}
		out = append(out, net.JoinHostPort(h, "25"))
	}
	return out, nil
}

var errNullMX = errors.New("the domain accepts no mail (null MX)")

// attempt tries each host in turn until one answers the transaction, and reports what became
// of each pending recipient.
func (q *Queue) attempt(ctx context.Context, d mail.Delivery) mail.Attempt {
	hosts, err := q.hosts(ctx, d.Outbound.Domain)
	if errors.Is(err, errNullMX) {
		var a mail.Attempt
		for _, r := range d.Outbound.Pending {
			a.Failed = append(a.Failed, mail.Failure{Recipient: r, Status: "5.1.10", Diagnostic: err.Error()})
		}
		return a
	}
	if err != nil {
		return mail.Attempt{Temporary: err.Error()}
	}
	var last mail.Attempt
	for _, h := range hosts {
		a, answered := q.deliverTo(ctx, h, d)
		if answered {
			return a
		}
		last = a
	}
	return last
}

// deliverTo runs one SMTP transaction with host. answered is false when the host could not be
// reached or would not speak TLS: the next host is tried.
func (q *Queue) deliverTo(ctx context.Context, host string, d mail.Delivery) (a mail.Attempt, answered bool) {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.Timeout)
	defer cancel()
	a.RemoteMTA = host
	temp := func(format string, args ...any) (mail.Attempt, bool) {
		a.Temporary = fmt.Sprintf("%s: "+format, append([]any{host}, args...)...)
		return a, false
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return temp("connection failed: %v", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	tc := q.cfg.TLS.Clone()
	if tc.ServerName == "" {
		tc.ServerName, _, _ = net.SplitHostPort(host)
	}
	secured, err := startTLS(conn, q.cfg.Hostname, tc)
	if err != nil {
		conn.Close()
		return temp("%v", err)
	}
	c := smtp.NewClient(secured)
	defer c.Close()
	if err := c.Hello(q.cfg.Hostname); err != nil {
		return temp("EHLO refused after STARTTLS: %v", err)
	}
	body, err := q.svc.OpenMessage(ctx, d.Message)
	if err != nil {
		a.Temporary = "message unreadable: " + err.Error()
		return a, true
	}
	defer body.Close()
	if err := c.Mail(d.Outbound.Sender, &smtp.MailOptions{Size: d.Message.Blob.Size}); err != nil {
		return q.refused(a, d.Outbound.Pending, err), true
	}
	var accepted []string
	for _, r := range d.Outbound.Pending {
		if err := c.Rcpt(r, nil); err != nil {
			a = q.refused(a, []string{r}, err)
			continue
		}
		accepted = append(accepted, r)
	}
	if len(accepted) == 0 {
		c.Reset()
		c.Quit()
		return a, true
	}
	w, err := c.Data()
	if err != nil {
		return q.refused(a, accepted, err), true
	}
	if _, err := io.Copy(w, body); err != nil {
		w.Close()
		a.Temporary = host + ": sending the message failed: " + err.Error()
		return a, true
	}
	if err := w.Close(); err != nil {
		return q.refused(a, accepted, err), true
	}
	a.Delivered = accepted
	c.Quit()
	return a, true
}

// refused folds a refusal of recipients into a: a 5xx reply fails them for good, anything else
// leaves them pending.
func (q *Queue) refused(a mail.Attempt, rcpts []string, err error) mail.Attempt {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code/100 == 5 {
		status := "5.0.0"
		if se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode != smtp.EnhancedCodeNotSet && se.EnhancedCode[0] == 5 {
			status = fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		diag := "smtp; " + strconv.Itoa(se.Code) + " " + status + " " + se.Message
		for _, r := range rcpts {
			a.Failed = append(a.Failed, mail.Failure{Recipient: r, Status: status, Diagnostic: diag, RemoteMTA: a.RemoteMTA})
		}
		return a
	}
	if a.Temporary == "" {
		a.Temporary = a.RemoteMTA + ": " + err.Error()
	}
	return a
}

// startTLS opens the session and upgrades it to TLS (RFC 3207) before handing it to go-smtp's
// client, whose own STARTTLS would say EHLO as "localhost". MSSanté: TLS between operators,
// always: no STARTTLS, no delivery (and no plain fallback an attacker could force by
// stripping the capability). The returned connection replays a greeting, so that the client
// starts over TLS as on a new session (and says EHLO again, as RFC 3207 §4.2 requires).
func startTLS(conn net.Conn, hostname string, cfg *tls.Config) (net.Conn, error) {
	tp := textproto.NewConn(conn)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if err := tp.PrintfLine("EHLO %s", hostname); err != nil {
		return nil, err
	}
	_, msg, err := tp.ReadResponse(250)
	if err != nil {
		return nil, fmt.Errorf("EHLO refused: %w", err)
	}
	offered := false
	for _, line := range strings.Split(msg, "\n") {
		if strings.EqualFold(strings.TrimSpace(line), "STARTTLS") {
			offered = true
		}
	}
	if !offered {
		return nil, errors.New("does not offer STARTTLS, which the trust space requires")
	}
	if err := tp.PrintfLine("STARTTLS"); err != nil {
		return nil, err
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, fmt.Errorf("STARTTLS refused: %w", err)
	}
	if tp.R.Buffered() > 0 {
		return nil, errors.New("data sent before the TLS handshake") // STARTTLS response injection
	}
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS failed: %w", err)
	}
	return &greeted{Conn: tc, pending: []byte("220 " + cfg.ServerName + " ready over TLS\r\n")}, nil
}

// greeted replays a greeting before what the connection reads.
type greeted struct {
	net.Conn
	pending []byte
}

func (g *greeted) Read(p []byte) (int, error) {
	if len(g.pending) > 0 {
		n := copy(p, g.pending)
		g.pending = g.pending[n:]
		return n, nil
	}
	return g.Conn.Read(p)
}
