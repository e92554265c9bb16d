package notify

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

const testFrom = "Mon espace santé <noreply@carnet.test>"

var testDate = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

func testMessage() Message {
	return Message{
		To:      "marie@example.fr",
		Subject: "Du nouveau dans votre espace santé",
		Text:    "Bonjour,\n\nUn nouveau document est disponible dans votre espace santé.\nConnectez-vous pour le consulter.\n",
		ID:      "notice-42",
		Date:    testDate,
	}
}

// testMessageBytes is testMessage as it must appear on the wire and in the outbox.
const testMessageBytes = "Date: Sat, 14 Mar 2026 09:30:00 +0000\r\n" +
	"From: =?utf-8?q?Mon_espace_sant=C3=A9?= <noreply@carnet.test>\r\n" +
	"To: marie@example.fr\r\n" +
	"Subject: =?utf-8?q?Du_nouveau_dans_votre_espace_sant=C3=A9?=\r\n" +
	"Message-ID: <notice-42@carnet.test>\r\n" +
	"Auto-Submitted: auto-generated\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Bonjour,\r\n" +
	"\r\n" +
	"Un nouveau document est disponible dans votre espace sant=C3=A9.\r\n" +
	"Connectez-vous pour le consulter.\r\n"

func MustCompose(tb testing.TB, from string, m Message) []byte {
	tb.Helper()
	b, err := Compose(from, m)
	if err != nil {
		tb.Fatalf("Compose: %v", err)
	}
	return b
}

func TestComposeExactBytes(t *testing.T) {
	got := MustCompose(t, testFrom, testMessage())
	if string(got) != testMessageBytes {
		t.Errorf("Compose gave\n%q\nwant\n%q", got, testMessageBytes)
	}
}

// parsed is a message read back the way a mail client would.
type parsed struct {
	header  mail.Header
	subject string
	body    string
}

func MustParse(tb testing.TB, raw []byte) parsed {
	tb.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		tb.Fatalf("net/mail cannot read the message: %v\n%s", err, raw)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		tb.Fatalf("cannot decode Subject %q: %v", msg.Header.Get("Subject"), err)
	}
	if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		tb.Fatalf("Content-Transfer-Encoding = %q", cte)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		tb.Fatalf("cannot decode the quoted-printable body: %v", err)
	}
	return parsed{header: msg.Header, subject: subject, body: string(body)}
}

func TestComposeRoundTrip(t *testing.T) {
	long := strings.Repeat("Votre espace santé sera bientôt ouvert, à très bientôt ", 4)[:190]
	type roundTrip struct {
		name, subject, text string
		wantSubject         string // when not the subject itself
		wantBody            string
		unfoldable          bool // no single space to fold at: one long line
	}
	tests := []roundTrip{
		{name: "ascii", subject: "New in your space", text: "Hello\n", wantBody: "Hello\r\n"},
		{name: "accents", subject: "Ouverture de votre espace santé : êtes-vous prêt·e ?", text: "Déjà là.", wantBody: "Déjà là.\r\n"},
		{name: "long accented subject is folded", subject: long, text: "x", wantBody: "x\r\n"},
		{name: "long ascii subject is folded", subject: strings.Repeat("word ", 39) + "end", text: "x", wantBody: "x\r\n"},
		{name: "double spaces survive folding", subject: strings.Repeat("ab  ", 30) + "é", text: "x", wantBody: "x\r\n"},
		{name: "double spaces survive in ascii", subject: strings.Repeat("ab  ", 30) + "end", text: "x", wantBody: "x\r\n", unfoldable: true},
		{name: "looks like an encoded-word", subject: "=?utf-8?q?pas_encod=C3=A9?=", text: "x", wantBody: "x\r\n"},
		{name: "surrounding spaces trimmed", subject: "  Bonjour  ", wantSubject: "Bonjour", text: "x", wantBody: "x\r\n"},
		{name: "CRLF and lone CR become CRLF", subject: "s", text: "a\r\nb\rc\n", wantBody: "a\r\nb\r\nc\r\n"},
		{name: "dot lines stay", subject: "s", text: ".\n..\n. fin", wantBody: ".\r\n..\r\n. fin\r\n"},
		{name: "long body line", subject: "s", text: strings.Repeat("é", 300), wantBody: strings.Repeat("é", 300) + "\r\n"},
		{name: "trailing spaces", subject: "s", text: "fin   \nsuite\t\n", wantBody: "fin   \r\nsuite\t\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMessage()
			m.Subject, m.Text = tt.subject, tt.text
			raw := MustCompose(t, testFrom, m)
			for i, line := range strings.Split(string(raw), "\r\n") {
				// Quoted-printable keeps body lines within 76 (RFC 2045 §6.7 rule 5), and
				// folding keeps header lines within 76 when there is a place to fold; 998 is
				// the hard limit (RFC 5322 §2.1.1).
				if len(line) > 998 || len(line) > foldAt && !tt.unfoldable {
					t.Errorf("line %d is %d characters long: %q", i, len(line), line)
				}
				if strings.ContainsAny(line, "\r\n") {
					t.Errorf("line %d holds a bare CR or LF: %q", i, line)
				}
			}
			p := MustParse(t, raw)
			want := tt.subject
			if tt.wantSubject != "" {
				want = tt.wantSubject
			}
			if p.subject != want {
				t.Errorf("subject read back as %q, want %q", p.subject, want)
			}
			if p.body != tt.wantBody {
				t.Errorf("body read back as %q, want %q", p.body, tt.wantBody)
			}
			if got := p.header.Get("Message-ID"); got != "<notice-42@carnet.test>" {
				t.Errorf("Message-ID = %q", got)
			}
			from, err := p.header.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Name != "Mon espace santé" || from[0].Address != "noreply@carnet.test" {
				t.Errorf("From read back as %v (%v)", from, err)
			}
			to, err := p.header.AddressList("To")
			if err != nil || len(to) != 1 || to[0].Address != "marie@example.fr" {
				t.Errorf("To read back as %v (%v)", to, err)
			}
			if d, err := p.header.Date(); err != nil || !d.Equal(testDate) {
				t.Errorf("Date read back as %v (%v)", d, err)
			}
		})
	}
}

func TestComposeRecipientWithDisplayName(t *testing.T) {
	m := testMessage()
	m.To = "Zoé Martin <zoe@example.fr>"
	p := MustParse(t, MustCompose(t, testFrom, m))
	to, err := p.header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Zoé Martin" || to[0].Address != "zoe@example.fr" {
		t.Errorf("To read back as %v (%v)", to, err)
	}
}

// TestComposeRefuses covers header injection and the shape of a notice. Each refusal must be
// errs.Invalid (retrying cannot help) and must not echo what it refused, which may reach logs.
func TestComposeRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Message)
	}{
		{"To with CRLF header injection", func(m *Message) { m.To = "marie@example.fr\r\nBcc: spy@evil.test" }},
		{"To with bare LF", func(m *Message) { m.To = "marie@example.fr\nBcc: spy@evil.test" }},
		{"To with bare CR", func(m *Message) { m.To = "marie@example.fr\rBcc: spy@evil.test" }},
		{"Subject with CRLF header injection", func(m *Message) { m.Subject = "Bonjour\r\nBcc: spy@evil.test" }},
		{"Subject with bare LF", func(m *Message) { m.Subject = "Bonjour\nContent-Type: text/html" }},
		{"Subject with bare CR", func(m *Message) { m.Subject = "Bonjour\rX: y" }},
		{"Subject with a NUL", func(m *Message) { m.Subject = "Bon\x00jour" }},
		{"empty To", func(m *Message) { m.To = "" }},
		{"two recipients", func(m *Message) { m.To = "marie@example.fr, spy@evil.test" }},
		{"not an address", func(m *Message) { m.To = "marie" }},
		{"non-ASCII address", func(m *Message) { m.To = "zoé@example.fr" }},
		{"quoted local part", func(m *Message) { m.To = `"marie dupont"@example.fr` }},
		{"domain literal", func(m *Message) { m.To = "marie@[127.0.0.1]" }},
		{"empty subject", func(m *Message) { m.Subject = "" }},
		{"blank subject", func(m *Message) { m.Subject = "   " }},
		{"subject too long", func(m *Message) { m.Subject = strings.Repeat("é", maxSubjectRunes+1) }},
		{"empty text", func(m *Message) { m.Text = " \n" }},
		{"text too long", func(m *Message) { m.Text = strings.Repeat("a", maxTextBytes+1) }},
		{"text not UTF-8", func(m *Message) { m.Text = "caf\xe9" }},
		{"text with control characters", func(m *Message) { m.Text = "a\x1bb" }},
		{"HTML document", func(m *Message) { m.Text = "<!DOCTYPE html><html><body>Bonjour</body></html>" }},
		{"HTML fragment", func(m *Message) { m.Text = "Bonjour<br>voir <a href=\"https://x.test\">ici</a>" }},
		{"empty ID", func(m *Message) { m.ID = "" }},
		{"ID with a slash", func(m *Message) { m.ID = "../../etc/passwd" }},
		{"ID with a space", func(m *Message) { m.ID = "a b" }},
		{"ID with @", func(m *Message) { m.ID = "a@b" }},
		{"ID with a leading dot", func(m *Message) { m.ID = ".hidden" }},
		{"ID with ..", func(m *Message) { m.ID = "a..b" }},
		{"ID too long", func(m *Message) { m.ID = strings.Repeat("a", maxIDLen+1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMessage()
			tt.change(&m)
			raw, err := Compose(testFrom, m)
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("Compose error = %v (code %q), want code %q", err, errs.CodeOf(err), errs.Invalid)
			}
			if raw != nil {
				t.Errorf("Compose returned bytes along with its error")
			}
			if msg := errs.MessageOf(err); strings.Contains(msg, "evil") || strings.Contains(msg, "marie") {
				t.Errorf("error message echoes the refused input: %q", msg)
			}
		})
	}
}

func TestComposeNeedsDateAndSender(t *testing.T) {
	m := testMessage()
	m.Date = time.Time{}
	if _, err := Compose(testFrom, m); !errs.Is(err, errs.Invalid) {
		t.Errorf("no date: error = %v, want invalid", err)
	}
	if _, err := Compose("noreply@carnet.test\r\nBcc: spy@evil.test", testMessage()); !errs.Is(err, errs.Invalid) {
		t.Errorf("sender with CRLF: error = %v, want invalid", err)
	}
}

// TestComposeHeaderBlockIsClean reads the header block line by line: exactly the fields
// Compose writes, each once, so nothing a caller passes can add one.
func TestComposeHeaderBlockIsClean(t *testing.T) {
	m := testMessage()
	m.Subject = "Bcc: spy@evil.test" // harmless as a value on one line
	raw := MustCompose(t, testFrom, m)
	r := bufio.NewReader(bytes.NewReader(raw))
	var names []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no end of header block: %v", err)
		}
		if line == "\r\n" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // folded continuation
		}
		names = append(names, line[:strings.IndexByte(line, ':')])
	}
	want := "Date From To Subject Message-ID Auto-Submitted MIME-Version Content-Type Content-Transfer-Encoding"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("header fields = %s, want %s", got, want)
	}
}
