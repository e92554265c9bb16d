// Package smtpclient is the SMTP client side of the benchmarks: a session over STARTTLS with
// AUTH PLAIN that sends transaction after transaction on one connection, and the messages
// health professionals send (a French text part and a PDF attachment, to a given size). It
// is shared by bench/smtpload (acceptance load) and bench/mixload (messages in the mixed
// load).
package smtpclient

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync/atomic"
	"time"
)

// Options say how to open a session.
type Options struct {
	Addr     string // host:port
	Helo     string // the name given in EHLO
	StartTLS bool   // STARTTLS before anything else
	Insecure bool   // accept any server certificate (a self-signed test certificate)
	User     string // AUTH PLAIN with this username; none when empty
	Password string
}

// Session is one SMTP connection, ready for transactions.
type Session struct {
	c    *smtp.Client
	conn net.Conn
}

// Dial opens a session: EHLO, STARTTLS, AUTH as o says. A login refused for the time being
// (4xx: a server's throttle) is retried, as a mail client would.
func Dial(o Options) (*Session, error) {
	if o.User != "" && !o.StartTLS {
		return nil, errors.New("AUTH needs STARTTLS: the password never goes in clear")
	}
	conn, err := net.DialTimeout("tcp", o.Addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(o.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if err := c.Hello(o.Helo); err != nil {
		c.Close()
		return nil, err
	}
	if o.StartTLS {
		if err := c.StartTLS(&tls.Config{ServerName: host, InsecureSkipVerify: o.Insecure, MinVersion: tls.VersionTLS12}); err != nil {
			c.Close()
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if o.User != "" {
		if err := authenticate(c, o.User, o.Password); err != nil {
			c.Close()
			return nil, fmt.Errorf("AUTH: %w", err)
		}
	}
	return &Session{c: c, conn: conn}, nil
}

// SetDeadline bounds the session's next exchanges (net.Conn.SetDeadline); the zero time
// lifts the bound.
func (s *Session) SetDeadline(t time.Time) error { return s.conn.SetDeadline(t) }

func authenticate(c *smtp.Client, user, password string) error {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if err = c.Auth(plainAuth{user, password}); err == nil {
			return nil
		}
		if !IsReply(err) || err.(*textproto.Error).Code/100 != 4 {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
	}
	return err
}

// plainAuth is AUTH PLAIN (RFC 4616) without net/smtp's host check: the connection is over
// TLS (checked by Dial), and the host may be any local name of the server under test.
type plainAuth struct{ user, password string }

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.password), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge")
	}
	return nil, nil
}

// IsReply reports whether err is an SMTP reply that is not a success (the session is still
// usable after RSET), rather than a broken connection.
func IsReply(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te)
}

// Send runs one transaction (MAIL, RCPT for each of to, DATA, then RSET for a clean state)
// and returns the DATA-to-250 time: the message sent and acknowledged, where a durable server
// pays its fsyncs.
func (s *Session) Send(from string, to []string, msg []byte) (time.Duration, error) {
	if err := s.c.Mail(from); err != nil {
		return 0, fmt.Errorf("MAIL: %w", err)
	}
	for _, r := range to {
		if err := s.c.Rcpt(r); err != nil {
			return 0, fmt.Errorf("RCPT %s: %w", r, err)
		}
	}
	t0 := time.Now()
	w, err := s.c.Data()
	if err != nil {
		return 0, fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return 0, fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("end of DATA: %w", err)
	}
	d := time.Since(t0)
	if err := s.c.Reset(); err != nil {
		return d, fmt.Errorf("RSET: %w", err)
	}
	return d, nil
}

// Reset abandons a failed transaction (RSET).
func (s *Session) Reset() error { return s.c.Reset() }

// Quit ends the session politely.
func (s *Session) Quit() error { return s.c.Quit() }

// Close drops the connection.
func (s *Session) Close() error { return s.c.Close() }

// Generator makes the messages: a fixed text part, and attachments drawn from a pool of
// distinct random PDFs (making one per message would measure the load tool). Each message
// has its own Message-ID.
type Generator struct {
	from, helo string
	pdfs       [][]byte // base64 lines, CRLF-terminated
	n          atomic.Int64
	size       int
	run        string
}

const textPart = "Cher confrère,\r\n\r\nVeuillez trouver ci-joint le compte rendu de consultation de notre patiente\r\n" +
	"commune, vue ce jour pour le suivi de son diabète de type 2. HbA1c à 7,2 %, tension\r\n" +
	"artérielle 135/82 mmHg. Je propose de poursuivre le traitement actuel et de la revoir\r\n" +
	"dans trois mois avec un bilan lipidique.\r\n\r\nBien confraternellement,\r\n\r\n-- \r\n" +
	"Message de charge : données synthétiques, aucun patient réel.\r\n"

// NewGenerator returns a generator of messages from from (the From field) of about size
// bytes (at least 1 KB), their Message-IDs in helo's domain.
func NewGenerator(from, helo string, size int) *Generator {
	g := &Generator{from: from, helo: helo}
	var id [6]byte
	rand.Read(id[:])
	g.run = base64.RawURLEncoding.EncodeToString(id[:])
	probe := []string{"recipient@example.test"}
	// Base64 lines of 76 characters and CRLF per 57 bytes; the first guess at the MIME
	// overhead is corrected once with a message of that size.
	raw := max((size-len(g.header(0, "", probe))-len(textPart)-600)*57/78, 256)
	g.fill(raw)
	first := g.Message(probe)
	raw = max(raw+(size-len(first))*57/78, 256)
	g.pdfs = nil
	g.fill(raw)
	g.size = len(g.Message(probe))
	g.n.Store(0)
	return g
}

// Size is the size of a message to one recipient (one more adds its address).
func (g *Generator) Size() int { return g.size }

func (g *Generator) fill(raw int) {
	for range 32 {
		pdf := make([]byte, raw)
		copy(pdf, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
		rand.Read(pdf[64:])
		copy(pdf[len(pdf)-6:], "%%EOF\n")
		enc := base64.StdEncoding.EncodeToString(pdf)
		var b strings.Builder
		for len(enc) > 76 {
			b.WriteString(enc[:76])
			b.WriteString("\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc)
		b.WriteString("\r\n")
		g.pdfs = append(g.pdfs, []byte(b.String()))
	}
}

func (g *Generator) header(n int64, subject string, to []string) string {
	if subject == "" {
		subject = fmt.Sprintf("Compte rendu de consultation %d", n)
	}
	return fmt.Sprintf("From: <%s>\r\nTo: %s\r\nSubject: %s\r\n"+
		"Date: %s\r\nMessage-ID: <smtpload.%s.%d@%s>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"=_smtpload_%s\"\r\n\r\n",
		g.from, strings.Join(to, ", "), subject, time.Now().Format(time.RFC1123Z), g.run, n, g.helo, g.run)
}

// Message returns the next message, to the recipients to.
func (g *Generator) Message(to []string) []byte { return g.MessageWithSubject("", to) }

// MessageWithSubject returns the next message with this subject ("" for a numbered one).
func (g *Generator) MessageWithSubject(subject string, to []string) []byte {
	n := g.n.Add(1)
	var b strings.Builder
	b.Grow(g.size + 1024)
	b.WriteString(g.header(n, subject, to))
	fmt.Fprintf(&b, "This is a multi-part message in MIME format.\r\n\r\n--=_smtpload_%s\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n", g.run)
	b.WriteString(textPart)
	fmt.Fprintf(&b, "\r\n--=_smtpload_%s\r\nContent-Type: application/pdf; name=\"CR-consultation-%d.pdf\"\r\n"+
		"Content-Disposition: attachment; filename=\"CR-consultation-%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", g.run, n, n)
	b.Write(g.pdfs[n%int64(len(g.pdfs))])
	fmt.Fprintf(&b, "\r\n--=_smtpload_%s--\r\n", g.run)
	return []byte(b.String())
}
