package mail

import (
	"bytes"
	"mime"
	"net/mail"
	"strings"
)

// Header is the header section of a message, as far as the rules need it. It is parsed from
// the first bytes of the message (at most MaxHeaderBytes), never from the whole: a message
// is streamed to the blob store, not held in memory.
type Header struct {
	fields [][2]string // canonical name, unfolded value
}

// Limits of a header section: generous for real mail (a few KB, a few dozen fields), small
// enough that a hostile one costs little.
const (
	MaxHeaderBytes  = 64 << 10
	maxHeaderFields = 1000
)

// Get returns the first value of the field name (case-insensitive), "" when absent.
func (h Header) Get(name string) string {
	for _, f := range h.fields {
		if strings.EqualFold(f[0], name) {
			return f[1]
		}
	}
	return ""
}

// Count returns how many fields named name there are.
func (h Header) Count(name string) int {
	n := 0
	for _, f := range h.fields {
		if strings.EqualFold(f[0], name) {
			n++
		}
	}
	return n
}

// ParseHeader reads the header section at the start of b (RFC 5322 §2.2: fields up to the
// first empty line; folded lines start with a space or a tab). complete says b holds the
// whole message: a message may be a header alone. It is the one parser of message headers
// from outside; it refuses rather than guesses (a line that is not a field, a field name
// with characters outside RFC 5322 ftext, a section longer than MaxHeaderBytes).
func ParseHeader(b []byte, complete bool) (Header, error) {
	var h Header
	rest := b
	ended := false
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if !complete {
				return Header{}, refuse(ReasonMalformed, "the message header is longer than %d bytes or has no end", MaxHeaderBytes)
			}
			i = len(rest)
		}
		line := rest[:i]
		if i < len(rest) {
			rest = rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			ended = true
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h.fields) == 0 {
				return Header{}, refuse(ReasonMalformed, "the message header starts with a continuation line")
			}
			h.fields[len(h.fields)-1][1] += " " + strings.TrimSpace(string(line))
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return Header{}, refuse(ReasonMalformed, "the message header has a line that is not a field")
		}
		name := line[:colon]
		for _, c := range name {
			if c < 33 || c > 126 {
				return Header{}, refuse(ReasonMalformed, "the message header has a field name with a character outside RFC 5322 ftext")
			}
		}
		if len(h.fields) >= maxHeaderFields {
			return Header{}, refuse(ReasonMalformed, "the message header has more than %d fields", maxHeaderFields)
		}
		h.fields = append(h.fields, [2]string{string(name), strings.TrimSpace(string(line[colon+1:]))})
	}
	if !ended && !complete {
		return Header{}, refuse(ReasonMalformed, "the message header is longer than %d bytes or has no end", MaxHeaderBytes)
	}
	return h, nil
}

// From returns the author's address and display name: exactly one mailbox in one From field
// (RFC 5322 §3.6.2 allows several, with a Sender; MSSanté messages have one).
func (h Header) From() (Address, string, error) {
	if h.Count("From") != 1 {
		return Address{}, "", refuse(ReasonMalformed, "the message must have exactly one From field")
	}
	list, err := mail.ParseAddressList(h.Get("From"))
	if err != nil || len(list) != 1 {
		return Address{}, "", refuse(ReasonMalformed, "the From field must hold exactly one readable address")
	}
	a, err := ParseAddress(list[0].Address)
	if err != nil || a.IsNull() {
		return Address{}, "", refuse(ReasonMalformed, "the From address is not a valid address")
	}
	return a, cleanName(list[0].Name), nil
}

// Subject returns the subject, its encoded words decoded (RFC 2047) when they can be.
func (h Header) Subject() string {
	s := h.Get("Subject")
	if d, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
		s = d
	}
	return s
}

// EndsConversation reports a professional's message that ends the exchange with a patient:
// its subject is exactly [FIN], or it carries X-MSS-MES: FIN (DOMAIN.md).
func (h Header) EndsConversation() bool {
	return strings.TrimSpace(h.Subject()) == "[FIN]" || strings.EqualFold(strings.TrimSpace(h.Get("X-MSS-MES")), "FIN")
}

// cleanName keeps a display name fit for a trace: one line, bounded.
func cleanName(s string) string {
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)), " ")
	if r := []rune(s); len(r) > 100 {
		s = string(r[:100])
	}
	return s
}

// sniffer keeps the first bytes of a stream, up to the end of its header section or max.
type sniffer struct {
	buf  []byte
	max  int
	done bool
	eof  bool // the whole message fitted
}

func (s *sniffer) Write(p []byte) (int, error) {
	if s.done {
		return len(p), nil
	}
	room := s.max - len(s.buf)
	take := p
	if len(take) > room {
		take = take[:room]
	}
	start := max(0, len(s.buf)-3)
	s.buf = append(s.buf, take...)
	if bytes.Contains(s.buf[start:], []byte("\n\n")) || bytes.Contains(s.buf[start:], []byte("\n\r\n")) || len(s.buf) >= s.max {
		s.done = true
	}
	if bytes.HasPrefix(s.buf, []byte("\r\n")) || bytes.HasPrefix(s.buf, []byte("\n")) {
		s.done = true // no header at all
	}
	return len(p), nil
}
