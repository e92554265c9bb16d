package mail

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/textproto"
	"strings"
	"time"
)

// composeBounce writes the delivery status notification of a delivery that failed for some
// recipients (RFC 3464): a multipart/report (RFC 6522) of an explanation for people, the
// machine-readable message/delivery-status, and the original message's header
// (text/rfc822-headers). It goes from mailer-daemon to the sender's mailbox, with the null
// reverse-path and Auto-Submitted (RFC 3834), so that nothing ever answers it.
func (s *Service) composeBounce(ctx context.Context, o Outbound, msg StoredMessage, now time.Time) ([]byte, error) {
	orig, err := s.originalHeader(ctx, msg)
	if err != nil {
		return nil, err
	}
	human := &strings.Builder{}
	fmt.Fprintf(human, "Votre message n'a pas pu être remis à %s.\r\n", plural(len(o.Failed), "ce destinataire", "ces destinataires"))
	fmt.Fprintf(human, "Your message could not be delivered to %s.\r\n\r\n", plural(len(o.Failed), "this recipient", "these recipients"))
	for _, f := range o.Failed {
		fmt.Fprintf(human, "  <%s>: %s\r\n", f.Recipient, oneLine(f.Diagnostic))
	}
	fmt.Fprintf(human, "\r\n-- \r\n%s\r\n", s.cfg.Hostname)
	status := &strings.Builder{}
	// Per-message fields (RFC 3464 §2.2).
	fmt.Fprintf(status, "Reporting-MTA: dns; %s\r\n", s.cfg.Hostname)
	fmt.Fprintf(status, "Arrival-Date: %s\r\n\r\n", msg.ReceivedAt.Format(time.RFC1123Z))
	// Per-recipient fields (§2.3), a group each.
	for i, f := range o.Failed {
		if i > 0 {
			status.WriteString("\r\n")
		}
		fmt.Fprintf(status, "Final-Recipient: rfc822; %s\r\n", f.Recipient)
		fmt.Fprintf(status, "Action: failed\r\n")
		fmt.Fprintf(status, "Status: %s\r\n", f.Status)
		if f.RemoteMTA != "" {
			fmt.Fprintf(status, "Remote-MTA: dns; %s\r\n", oneLine(f.RemoteMTA))
		}
		diag := oneLine(f.Diagnostic)
		if !strings.HasPrefix(diag, "smtp;") {
			diag = "X-carnet; " + diag
		}
		fmt.Fprintf(status, "Diagnostic-Code: %s\r\n", diag)
		fmt.Fprintf(status, "Last-Attempt-Date: %s\r\n", now.Format(time.RFC1123Z))
	}
	return report{reportType: "delivery-status", boundary: "carnet-dsn-",
		human: textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"},
			"Content-Transfer-Encoding": {"8bit"}, "Content-Description": {"Notification"}}, humanText: human.String(),
		machine:    textproto.MIMEHeader{"Content-Type": {"message/delivery-status"}, "Content-Description": {"Delivery report"}},
		machineTxt: status.String(),
		original:   textproto.MIMEHeader{"Content-Type": {"text/rfc822-headers"}, "Content-Description": {"Undelivered message header"}},
		orig:       orig,
		fields: [][2]string{
			{"From", "\"Mail Delivery System\" <" + s.mailerDaemon().String() + ">"},
			{"To", "<" + o.Sender + ">"},
			{"Subject", mime.QEncoding.Encode("utf-8", "Message non remis / Undelivered mail")},
			{"Date", now.Format(time.RFC1123Z)},
			{"Message-ID", dsnMessageID(o, s.cfg.Hostname)},
			{"Auto-Submitted", "auto-replied"},
		},
		inReplyTo: oneLine(msg.MessageID),
	}.bytes()
}

// originalHeader reads the header section of a stored message (without its body, which holds
// health content the bounce has no need of), with CRLF line ends.
func (s *Service) originalHeader(ctx context.Context, msg StoredMessage) ([]byte, error) {
	rc, err := s.blobs.Open(ctx, msg.Blob)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	sn := &sniffer{max: MaxHeaderBytes}
	buf := make([]byte, 4096)
	for !sn.done {
		n, err := rc.Read(buf)
		sn.Write(buf[:n])
		if err != nil {
			break
		}
	}
	h := sn.buf
	if i := bytes.Index(h, []byte("\n\r\n")); i >= 0 {
		h = h[:i+1]
	} else if i := bytes.Index(h, []byte("\n\n")); i >= 0 {
		h = h[:i+1]
	}
	h = bytes.ReplaceAll(bytes.ReplaceAll(h, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	return h, nil
}

func oneLine(s string) string {
	return bounded(strings.Join(strings.Fields(s), " "), 500)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
