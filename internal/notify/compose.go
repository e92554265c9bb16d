package notify

import (
	"bytes"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Limits of a notice. They are far above what a notice needs ("Un nouveau document est
// disponible dans votre espace santé"), and low enough that a document pasted into a notice by
// mistake is refused rather than mailed.
const (
	maxSubjectRunes = 200
	maxTextBytes    = 16 << 10
	maxIDLen        = 128
	maxAddrLen      = 254 // RFC 5321 §4.5.3.1.3, path minus its angle brackets
	// RFC 5322 §2.1.1 asks for header lines of at most 78 characters, RFC 2047 §2 for 76
	// when they hold encoded-words: 76 serves both.
	foldAt = 76
)

// htmlMarkers are the tags that betray an HTML body. A notice is plain text: HTML would bring
// remote images (read receipts for a third party), links whose text lies about their target,
// and a second rendering to keep free of health content.
var htmlMarkers = []string{"<!doctype", "<html", "<head", "<body", "<script", "<style", "<img", "<a href", "<div", "<p>", "<br"}

// Validate checks that m has the shape of a notice: one ASCII recipient, a one-line subject,
// a plain-text UTF-8 body of bounded size, and an ID usable as a Message-ID and a file name.
// Every refusal has code errs.Invalid: resending the same message cannot succeed. The
// messages never quote the subject or text, which may reach logs.
func (m Message) Validate() error {
	if _, err := parseAddress("recipient", m.To); err != nil {
		return err
	}
	if err := validateSubject(m.Subject); err != nil {
		return err
	}
	if err := validateText(m.Text); err != nil {
		return err
	}
	return validateID(m.ID)
}

func validateSubject(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errs.E(errs.Invalid, "the notice subject is empty")
	case strings.ContainsAny(s, "\r\n"):
		// A line break would end the Subject field and let the rest be read as new header
		// fields (Bcc:, Content-Type:…): header injection.
		return errs.E(errs.Invalid, "the notice subject must be one line (no CR or LF)")
	case !utf8.ValidString(s):
		return errs.E(errs.Invalid, "the notice subject is not valid UTF-8")
	case hasControl(s, false):
		return errs.E(errs.Invalid, "the notice subject contains control characters")
	case utf8.RuneCountInString(s) > maxSubjectRunes:
		return errs.E(errs.Invalid, "the notice subject is longer than %d characters", maxSubjectRunes)
	}
	return nil
}

func validateText(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errs.E(errs.Invalid, "the notice text is empty")
	case len(s) > maxTextBytes:
		return errs.E(errs.Invalid, "the notice text is longer than %d bytes; a notice points to the space, it does not carry content", maxTextBytes)
	case !utf8.ValidString(s):
		return errs.E(errs.Invalid, "the notice text is not valid UTF-8")
	case hasControl(s, true):
		return errs.E(errs.Invalid, "the notice text contains control characters")
	}
	lower := strings.ToLower(s)
	for _, tag := range htmlMarkers {
		if strings.Contains(lower, tag) {
			return errs.E(errs.Invalid, "the notice text looks like HTML; notices are plain text only")
		}
	}
	return nil
}

// validateID keeps the ID within RFC 5322 dot-atom-text (so "<ID@domain>" is a valid msg-id)
// and within what is safe in a file name on any system: no '/', no "..", no leading dot.
func validateID(id string) error {
	if id == "" {
		return errs.E(errs.Invalid, "the notice ID is empty; it is the idempotency key and is required")
	}
	if len(id) > maxIDLen {
		return errs.E(errs.Invalid, "the notice ID is longer than %d characters", maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errs.E(errs.Invalid, "the notice ID may only contain letters, digits, '.', '_' and '-'")
		}
	}
	if id[0] == '.' || id[len(id)-1] == '.' || strings.Contains(id, "..") {
		return errs.E(errs.Invalid, "the notice ID must not start or end with '.' nor contain \"..\"")
	}
	return nil
}

// hasControl reports C0 controls and DEL; allowLines lets tab, CR and LF through (body text).
func hasControl(s string, allowLines bool) bool {
	for _, r := range s {
		if allowLines && (r == '\t' || r == '\r' || r == '\n') {
			continue
		}
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// parseAddress reads one address (what says which in errors). The line-break check comes
// first and explicitly, rather than trusting the parser, because it is what stops header
// injection. Only ASCII addr-specs are accepted: an internationalised address (RFC 6531)
// would need SMTPUTF8 all the way, which relays cannot be assumed to offer.
func parseAddress(what, s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errs.E(errs.Invalid, "the %s address must be one line (no CR or LF)", what)
	}
	if s == "" {
		return nil, errs.E(errs.Invalid, "the %s address is empty", what)
	}
	if hasControl(s, false) {
		return nil, errs.E(errs.Invalid, "the %s address contains control characters", what)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		// The address is not quoted back: it is personal data and errors may reach logs.
		return nil, errs.Wrap(errs.Invalid, err, "the %s address is not one valid e-mail address", what)
	}
	addr := a.Address
	at := strings.LastIndexByte(addr, '@')
	switch {
	case len(addr) > maxAddrLen:
		return nil, errs.E(errs.Invalid, "the %s address is longer than %d characters", what, maxAddrLen)
	case !isPrintableASCII(addr):
		return nil, errs.E(errs.Invalid, "the %s address must be ASCII", what)
	case at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, " \"<>()[],;:\\"):
		// net/mail accepts quoted local parts and domain literals, and returns them
		// unquoted: they would not survive being written back into RCPT TO or a header.
		return nil, errs.E(errs.Invalid, "the %s address must be a plain name@domain", what)
	}
	return a, nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// formatAddress writes a bare addr-spec when there is no display name, which is what a
// reader expects to see; mail.Address.String would add angle brackets, and encodes a
// non-ASCII display name per RFC 2047 ("Mon espace santé").
func formatAddress(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.String()
}

// Compose renders m, sent by from, as a complete RFC 5322 message with CRLF line endings:
// what the Outbox writes to a file and what the SMTPRelay hands to DATA, byte for byte.
// m.Date must be set (the senders set it from their clock). Errors have code errs.Invalid.
//
// The body is a single text/plain part in quoted-printable: 7-bit safe on any relay (no need
// for 8BITMIME), yet still readable when a newcomer opens the .eml in a text editor.
func Compose(from string, m Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.Date.IsZero() {
		return nil, errs.E(errs.Invalid, "the notice has no date")
	}
	sender, err := parseAddress("sender", from)
	if err != nil {
		return nil, err
	}
	rcpt, _ := parseAddress("recipient", m.To) // checked by Validate
	domain := sender.Address[strings.LastIndexByte(sender.Address, '@')+1:]

	var b bytes.Buffer
	b.Grow(512 + len(m.Text)*3)
	writeField(&b, "Date", m.Date.Format("Mon, 02 Jan 2006 15:04:05 -0700")) // RFC 5322 §3.3
	writeField(&b, "From", formatAddress(sender))
	writeField(&b, "To", formatAddress(rcpt))
	// Leading and trailing white space would not survive a parser (net/textproto trims it):
	// dropping it here keeps the file and what a mail client shows the same.
	writeField(&b, "Subject", encodeSubject(strings.TrimSpace(m.Subject)))
	writeField(&b, "Message-ID", "<"+m.ID+"@"+domain+">")
	// RFC 3834 §5: marks the notice as automatic, so that vacation responders and other
	// robots do not answer a noreply address.
	writeField(&b, "Auto-Submitted", "auto-generated")
	writeField(&b, "MIME-Version", "1.0")
	writeField(&b, "Content-Type", "text/plain; charset=utf-8")
	writeField(&b, "Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")

	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(normaliseLines(m.Text))); err != nil {
		return nil, errs.Wrap(errs.Internal, err, "cannot encode the notice text")
	}
	if err := qp.Close(); err != nil {
		return nil, errs.Wrap(errs.Internal, err, "cannot encode the notice text")
	}
	return b.Bytes(), nil
}

// normaliseLines turns CRLF and lone CR into LF (the quoted-printable writer then emits each
// LF as CRLF, RFC 2045 §6.7 rule 4) and ends the text with a line break, so the message ends
// with CRLF whatever the caller wrote.
func normaliseLines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

// encodeSubject leaves a printable ASCII subject as it is and writes any other as RFC 2047
// "Q" encoded-words, which keep most of a French subject readable in the raw file. It does
// not use mime.QEncoding because that one cannot bound the first word to what is left of the
// "Subject: " line (RFC 2047 §2: 76 characters per line holding encoded-words), nor be told
// to encode an ASCII subject that merely looks like an encoded-word.
//
// Words are separated by a space, where writeField may fold; the space between two
// encoded-words is not part of the text (RFC 2047 §6.2), spaces of the text being "_".
func encodeSubject(s string) string {
	if !needsEncoding(s) {
		return s
	}
	const open, closing = "=?utf-8?q?", "?="
	// The first word shares its line with "Subject: "; later ones follow a folding space.
	room := foldAt - len("Subject: ") - len(open) - len(closing)
	var words []string
	var w strings.Builder
	for _, r := range s {
		enc := qEncodeRune(r)
		// A character is never split across words (RFC 2047 §5): each word must decode on
		// its own.
		if w.Len()+len(enc) > room {
			words = append(words, open+w.String()+closing)
			w.Reset()
			room = foldAt - 1 - len(open) - len(closing)
		}
		w.WriteString(enc)
	}
	words = append(words, open+w.String()+closing)
	return strings.Join(words, " ")
}

// needsEncoding reports whether s cannot go as it is into an unstructured header field:
// non-ASCII, or ASCII that a reader would take for an encoded-word and decode.
func needsEncoding(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return true
		}
	}
	return strings.Contains(s, "=?")
}

// qEncodeRune writes r in the "Q" encoding, keeping as literal only the characters RFC 2047
// §5 (3) allows everywhere an encoded-word may appear.
func qEncodeRune(r rune) string {
	switch {
	case r == ' ':
		return "_"
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', strings.ContainsRune("!*+-/", r):
		return string(r)
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	var b strings.Builder
	for _, c := range buf[:n] {
		b.WriteByte('=')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
	}
	return b.String()
}

// writeField writes "Name: value" folded at spaces to keep lines within foldAt characters
// (RFC 5322 §2.2.3). Folding only inserts CRLF before an existing space, so unfolding gives
// back the value exactly; a word longer than a line is left whole (lines stay far below the
// hard limit of 998 given the limits above).
func writeField(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	b.WriteByte(':')
	col := len(name) + 1
	prev := ""
	for i, word := range strings.Split(value, " ") {
		// Fold only at a single space between two words: never before the first word (it
		// would leave "Name:" alone on its line), and never next to another space, because
		// parsers such as net/textproto trim the white space around a fold down to one
		// space, which would change a run of spaces.
		if i > 0 && word != "" && prev != "" && col+1+len(word) > foldAt {
			b.WriteString("\r\n")
			col = 0
		}
		b.WriteByte(' ')
		b.WriteString(word)
		col += 1 + len(word)
		prev = word
	}
	b.WriteString("\r\n")
}
