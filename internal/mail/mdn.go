package mail

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Acknowledgements: a sender who asks for one (Disposition-Notification-To) gets a message
// disposition notification (MDN, RFC 8098) once the message delivered to a patient has been
// inspected: "processed" when what it carried was acted on or when it carried nothing to act
// on, "processed/Error: code^label" with the first refusal of an inspector otherwise (the
// MSSanté form, ANS "Transmission de documents CDA par messagerie sécurisée": an MSSanté
// receiver reads the code and label there; an Error field says it again in the RFC 8098 §3.2.7
// form). The MDN is a message of ours, sent on the patient's mailbox behalf from its address,
// through the same paths as the rest of our mail: filed in a local mailbox, or queued for
// another operator with the null reverse-path (RFC 8098 §3: no notification of an MDN).
// Its Message-ID names the delivery, and a unique index (mail_messages_mdn) makes a second
// one fail: the inspection may be retried, the acknowledgement is sent once (§2.1).

// mdnMessageID names the acknowledgement of one delivery: the message, into that mailbox.
func mdnMessageID(job InspectJob, host string) string {
	return "<mdn." + strconv.FormatInt(job.MessageID, 10) + "." + strconv.FormatInt(job.MailboxID, 10) + "@" + host + ">"
}

// mdnRequest returns where the acknowledgement of a message goes, and false when none is to
// be sent automatically (RFC 8098):
//   - no MDN for an MDN (§2.1, "an MDN MUST NOT be generated in response to an MDN");
//   - one Disposition-Notification-To field naming one mailbox; several distinct addresses
//     need the user's confirmation, which an automatic acknowledgement cannot ask (§2.1);
//   - that address must be the envelope sender, the Return-Path (§2.1: "MDNs SHOULD NOT be
//     sent automatically if the address in the Disposition-Notification-To header field
//     differs from the address in the Return-Path header field"): otherwise anyone could have
//     our acknowledgements, which name a patient's mailbox, sent to a third party;
//   - no Disposition-Notification-Options parameter of importance "required", as we
//     understand none (§2.2); "optional" ones are ignored.
//
// envelopeFrom is the message's reverse-path as received ("" for the null one).
func mdnRequest(h Header, envelopeFrom string) (Address, bool) {
	if h.Count("Disposition-Notification-To") != 1 || isMDN(h) {
		return Address{}, false
	}
	list, err := mail.ParseAddressList(h.Get("Disposition-Notification-To"))
	if err != nil || len(list) == 0 {
		return Address{}, false
	}
	to, err := ParseAddress(list[0].Address)
	if err != nil || to.IsNull() {
		return Address{}, false
	}
	for _, a := range list[1:] {
		if o, err := ParseAddress(a.Address); err != nil || o != to {
			return Address{}, false
		}
	}
	from, err := ParseAddress(envelopeFrom)
	if err != nil || from.IsNull() || from != to {
		return Address{}, false
	}
	if h.Count("Disposition-Notification-Options") > 0 && requiresOption(h.Get("Disposition-Notification-Options")) {
		return Address{}, false
	}
	return to, true
}

// requiresOption reports whether a Disposition-Notification-Options value has a parameter of
// importance "required" (RFC 8098 §2.2: attribute "=" importance "," value *("," value), the
// parameters separated by ";"). Anything unreadable counts as required: unsure, say nothing.
func requiresOption(v string) bool {
	for _, p := range strings.Split(v, ";") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		_, rest, ok := strings.Cut(p, "=")
		if !ok {
			return true
		}
		importance, _, _ := strings.Cut(rest, ",")
		if !strings.EqualFold(strings.TrimSpace(importance), "optional") {
			return true
		}
	}
	return false
}

// isMDN reports whether a message is itself a disposition notification (RFC 8098 §3: a
// multipart/report of report-type disposition-notification, RFC 6522).
func isMDN(h Header) bool {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "multipart/report" && strings.EqualFold(params["report-type"], "disposition-notification")
}

// disposition is what an acknowledgement says of the findings: the first refusal, if any.
func disposition(findings []Finding) (failure string) {
	for _, f := range findings {
		if f.Failure != "" {
			return f.Failure
		}
	}
	return ""
}

// acknowledge sends the MDN the delivered message asks for, once. A request RFC 8098 says
// not to answer automatically, or an address that cannot receive it (an unknown or disabled
// mailbox of ours, a patient's, a domain outside the trust space), gets nothing: an
// acknowledgement is a courtesy the sender asked for, never a reason to retry.
func (s *Service) acknowledge(ctx context.Context, d Delivered, findings []Finding) error {
	to, ok := mdnRequest(d.Header, d.Message.EnvelopeFrom)
	if !ok {
		return nil
	}
	var (
		box       Mailbox
		recipient Address
	)
	err := s.store.ViewMail(ctx, func(tx Tx) error {
		p, err := tx.Patient(ctx, d.Job.PatientID)
		if err != nil {
			return err
		}
		recipient = s.PatientAddress(p.INS.Matricule)
		if !s.IsLocal(to.Domain) {
			return nil
		}
		box, err = tx.MailboxByAddress(ctx, to.String())
		return err
	})
	switch {
	case errs.Is(err, errs.NotFound):
		return nil
	case err != nil:
		return err
	}
	if s.IsLocal(to.Domain) && (!box.DisabledAt.IsZero() || box.Kind == PAT) {
		return nil
	}
	if !s.IsLocal(to.Domain) {
		if ok, err := s.Allowed(ctx, to.Domain); err != nil || !ok {
			return err
		}
	}
	now := s.clock.Now()
	messageID := mdnMessageID(d.Job, s.cfg.Hostname)
	raw, err := s.composeMDN(ctx, d, recipient, to, messageID, disposition(findings), now)
	if err != nil {
		return err
	}
	ref, err := s.blobs.Put(ctx, bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("store acknowledgement: %w", err)
	}
	sent := false
	err = s.store.UpdateMail(ctx, func(tx Tx) error {
		sent = false
		msg := StoredMessage{Channel: System, HeaderFrom: recipient.String(), MessageID: messageID, Blob: ref, ReceivedAt: now}
		if err := tx.InsertMessage(ctx, &msg); err != nil {
			return err
		}
		if box.ID != 0 {
			if _, err := tx.Deliver(ctx, box.ID, "INBOX", msg.ID, ref.Size, now); err != nil {
				return err
			}
		} else {
			// The null reverse-path: nothing answers an MDN, not even a bounce (RFC 8098 §3).
			o := Outbound{MessageRef: msg.ID, Domain: to.Domain, Pending: []string{to.String()}, State: OutboundQueued,
				CreatedAt: now, UpdatedAt: now}
			if err := tx.InsertOutbound(ctx, &o); err != nil {
				return err
			}
			if err := tx.Enqueue(ctx, DeliveryJob{OutboundID: o.ID}); err != nil {
				return err
			}
		}
		// The patient sees in their trail that their mailbox acknowledged the message.
		e := audit.Entry{At: now, Actor: audit.System("mail.acknowledge"), Channel: audit.ChannelJob, Action: "mail.acknowledge",
			PatientID: d.Job.PatientID, Object: "message/" + strconv.FormatInt(d.Job.MessageID, 10), Outcome: audit.Allowed}
		if _, err := tx.AppendTrace(ctx, e); err != nil {
			return err
		}
		sent = true
		return nil
	})
	if errs.Is(err, errs.Conflict) {
		err = nil // acknowledged by an earlier run of this inspection
	}
	if !sent {
		if derr := s.blobs.Delete(context.WithoutCancel(ctx), ref.ID); derr != nil {
			s.log.Error("acknowledgement's blob not deleted", "blob", ref.ID, "err", derr)
		}
	}
	return err
}

// composeMDN writes the acknowledgement (RFC 8098 §3, a multipart/report of RFC 6522): an
// explanation in French, the machine-readable message/disposition-notification, and the
// original message's header (text/rfc822-headers; the body, which holds health content, stays
// with the sender, who has it: RFC 8098 §3 allows the header alone).
func (s *Service) composeMDN(ctx context.Context, d Delivered, recipient, to Address, messageID, failure string, now time.Time) ([]byte, error) {
	orig, err := s.originalHeader(ctx, d.Message)
	if err != nil {
		return nil, err
	}
	code, label, _ := strings.Cut(failure, "^")
	human := &strings.Builder{}
	received := d.Message.ReceivedAt.In(parisTime()).Format("02/01/2006 à 15:04")
	if failure == "" {
		fmt.Fprintf(human, "Votre message du %s a été remis dans la messagerie de santé <%s> et traité automatiquement.\r\n", received, recipient)
	} else {
		fmt.Fprintf(human, "Votre message du %s a été remis dans la messagerie de santé <%s>, mais ce qu'il porte n'a pas pu être intégré automatiquement pour la raison suivante :\r\n\r\n", received, recipient)
		fmt.Fprintf(human, "  %s (code %s)\r\n\r\nCorrigez l'envoi avant de le soumettre à nouveau.\r\n", oneLine(label), oneLine(code))
	}
	fmt.Fprintf(human, "\r\nCet accusé est envoyé automatiquement : n'y répondez pas.\r\n-- \r\n%s\r\n", s.cfg.Hostname)
	// RFC 8098 §3.2: US-ASCII fields, one per line.
	notification := &strings.Builder{}
	fmt.Fprintf(notification, "Reporting-UA: %s; carnet\r\n", s.cfg.Hostname)
	// Original-Recipient: the address the sender gave, which is the mailbox's (a patient's
	// mailbox has no alias and forwards nothing), as the ANS volet asks.
	fmt.Fprintf(notification, "Original-Recipient: rfc822;%s\r\n", recipient)
	fmt.Fprintf(notification, "Final-Recipient: rfc822;%s\r\n", recipient)
	if id := asciiLine(d.Message.MessageID); id != "" {
		fmt.Fprintf(notification, "Original-Message-ID: %s\r\n", id)
	}
	if failure == "" {
		notification.WriteString("Disposition: automatic-action/MDN-sent-automatically; processed\r\n")
	} else {
		f := asciiLine(code) + "^" + asciiLine(label)
		fmt.Fprintf(notification, "Disposition: automatic-action/MDN-sent-automatically; processed/Error: %s\r\n", f)
		fmt.Fprintf(notification, "Error: %s\r\n", f)
	}
	subject := "Accusé de traitement : " + d.View.Subject
	if failure != "" {
		// The ANS volet's subject of an acknowledgement of failure, which receivers sort on.
		subject = "[KO Intégration système !][" + asciiLine(code) + "] " + d.View.Subject
	}
	return report{reportType: "disposition-notification", boundary: "carnet-mdn-",
		human: textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"}}, humanQP: true, humanText: human.String(),
		machine:    textproto.MIMEHeader{"Content-Type": {"message/disposition-notification"}},
		machineTxt: notification.String(),
		original:   textproto.MIMEHeader{"Content-Type": {"text/rfc822-headers"}},
		orig:       orig,
		fields: [][2]string{
			{"From", "<" + recipient.String() + ">"},
			{"To", "<" + to.String() + ">"},
			{"Subject", mime.QEncoding.Encode("utf-8", CleanSubject(subject))},
			{"Date", now.Format(time.RFC1123Z)},
			{"Message-ID", messageID},
			{"Auto-Submitted", "auto-replied"}, // RFC 3834: nothing answers it automatically
		},
		inReplyTo: asciiLine(d.Message.MessageID),
	}.bytes()
}

// asciiLine makes a value fit for a field of message/disposition-notification, which is
// US-ASCII (RFC 8098 §3.1): one line, French letters without their accents, anything else
// outside printable ASCII dropped.
func asciiLine(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		switch {
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
		default:
			if f, ok := accents[r]; ok {
				b.WriteString(f)
			}
		}
	}
	return b.String()
}

var accents = map[rune]string{
	'à': "a", 'â': "a", 'ä': "a", 'á': "a", 'ç': "c", 'é': "e", 'è': "e", 'ê': "e", 'ë': "e", 'î': "i", 'ï': "i",
	'í': "i", 'ô': "o", 'ö': "o", 'ó': "o", 'ù': "u", 'û': "u", 'ü': "u", 'ú': "u", 'ÿ': "y", 'œ': "oe", 'æ': "ae",
	'À': "A", 'Â': "A", 'Ä': "A", 'Ç': "C", 'É': "E", 'È': "E", 'Ê': "E", 'Ë': "E", 'Î': "I", 'Ï': "I", 'Ô': "O",
	'Ö': "O", 'Ù': "U", 'Û': "U", 'Ü': "U", 'Œ': "OE", 'Æ': "AE", '’': "'", '\u00a0': " ",
}

// parisTime is the zone the French text gives times in; UTC when the zone database is absent.
func parisTime() *time.Location {
	if l, err := time.LoadLocation("Europe/Paris"); err == nil {
		return l
	}
	return time.UTC
}
