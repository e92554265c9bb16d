package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
)

// report is a multipart/report (RFC 6522), the shape of the messages carnet writes about
// another message — bounces (dsn.go) and acknowledgements (mdn.go): a text for people, the
// machine-readable part of its report type, and the original message's header only (its body,
// which holds health content, stays with its sender).
type report struct {
	reportType string // delivery-status, disposition-notification
	boundary   string // the boundary's prefix, a random suffix added
	human      textproto.MIMEHeader
	humanQP    bool // the text is written quoted-printable (else as it is, 8bit)
	humanText  string
	machine    textproto.MIMEHeader
	machineTxt string
	original   textproto.MIMEHeader
	orig       []byte
	// fields come first in the header, then MIME-Version and Content-Type; inReplyTo, when
	// set, threads the report with the original (In-Reply-To, References).
	fields    [][2]string
	inReplyTo string
}

// bytes writes the report, header and body.
func (r report) bytes() ([]byte, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	var rnd [12]byte
	rand.Read(rnd[:])
	if err := w.SetBoundary(r.boundary + hex.EncodeToString(rnd[:])); err != nil {
		return nil, err
	}
	part, err := w.CreatePart(r.human)
	if err != nil {
		return nil, err
	}
	if r.humanQP {
		qp := quotedprintable.NewWriter(part)
		io.WriteString(qp, r.humanText)
		if err := qp.Close(); err != nil {
			return nil, err
		}
	} else {
		io.WriteString(part, r.humanText)
	}
	if part, err = w.CreatePart(r.machine); err != nil {
		return nil, err
	}
	io.WriteString(part, r.machineTxt)
	if part, err = w.CreatePart(r.original); err != nil {
		return nil, err
	}
	part.Write(r.orig)
	if err := w.Close(); err != nil {
		return nil, err
	}

	var out bytes.Buffer
	hdr := append(r.fields, [2]string{"MIME-Version", "1.0"},
		[2]string{"Content-Type", "multipart/report; report-type=" + r.reportType + "; boundary=\"" + w.Boundary() + "\""})
	if r.inReplyTo != "" {
		hdr = append(hdr, [2]string{"In-Reply-To", r.inReplyTo}, [2]string{"References", r.inReplyTo})
	}
	for _, f := range hdr {
		fmt.Fprintf(&out, "%s: %s\r\n", f[0], f[1])
	}
	out.WriteString("\r\n")
	out.Write(body.Bytes())
	return out.Bytes(), nil
}
