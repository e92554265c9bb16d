package space_test

import (
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// decodeBody returns the headers and the decoded text of a raw message.
func decodeBody(raw string) string {
	m, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return raw
	}
	b, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		return raw
	}
	return raw[:strings.Index(raw, "\r\n\r\n")+1] + string(b)
}

// decodeSubject returns the decoded Subject header of a raw message.
func decodeSubject(raw string) string {
	for _, line := range strings.Split(raw, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "Subject: "); ok {
			if d, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
				return d
			}
			return s
		}
	}
	return ""
}
