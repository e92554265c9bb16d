package mail

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/errs"
)

// SystemMessage is a message carnet itself writes into a professional's mailbox: an alert of
// an emergency access to a patient's record for their médecin traitant, say. It goes over
// the secure messaging because it names the patient, which an ordinary e-mail must not.
type SystemMessage struct {
	To      Address // a local PER or ORG mailbox
	Subject string  // one line
	Text    string  // plain text
	// ID makes the Message-ID (<ID@hostname>) and the delivery idempotent: a job retried
	// after a crash delivers nothing twice.
	ID string
}

// NoReply is the address carnet's own messages come from.
func (s *Service) NoReply() Address { return Address{Local: "ne-pas-repondre", Domain: s.cfg.Domain} }

// DeliverSystem files m in the INBOX of its local mailbox, once per ID, and returns whether
// it delivered (false: it was there already). The bytes are stored encrypted and synced
// before the transaction that files them, as received mail is.
func (s *Service) DeliverSystem(ctx context.Context, m SystemMessage) (bool, error) {
	if m.ID == "" || strings.ContainsAny(m.ID, "<>@ \r\n") || strings.ContainsAny(m.Subject, "\r\n") ||
		!utf8.ValidString(m.Subject) || !utf8.ValidString(m.Text) {
		return false, errs.E(errs.Invalid, "a system message needs an id, a one-line subject and UTF-8 text")
	}
	if !s.IsLocal(m.To.Domain) || IsPatient(m.To) {
		return false, errs.E(errs.Invalid, "system messages go to a local professional mailbox")
	}
	now := s.clock.Now()
	messageID := "<" + m.ID + "@" + s.cfg.Hostname + ">"
	var box Mailbox
	if err := s.store.ViewMail(ctx, func(tx Tx) error {
		var err error
		if box, err = tx.MailboxByAddress(ctx, m.To.String()); err != nil {
			return err
		}
		if !box.DisabledAt.IsZero() {
			return refuse(ReasonDisabled, "the mailbox <%s> no longer receives", m.To)
		}
		if box.Kind != PER && box.Kind != ORG {
			return errs.E(errs.Invalid, "system messages go to a PER or ORG mailbox")
		}
		return nil
	}); err != nil {
		return false, err
	}
	raw, err := s.composeSystem(m, messageID, now)
	if err != nil {
		return false, err
	}
	ref, err := s.blobs.Put(ctx, bytes.NewReader(raw))
	if err != nil {
		return false, fmt.Errorf("store system message: %w", err)
	}
	delivered := false
	err = s.store.UpdateMail(ctx, func(tx Tx) error {
		delivered = false
		there, err := tx.HasMessage(ctx, box.ID, messageID)
		if err != nil || there {
			return err
		}
		msg := StoredMessage{Channel: System, HeaderFrom: s.NoReply().String(), MessageID: messageID, Blob: ref, ReceivedAt: now}
		if err := tx.InsertMessage(ctx, &msg); err != nil {
			return err
		}
		if _, err := tx.Deliver(ctx, box.ID, "INBOX", msg.ID, ref.Size, now); err != nil {
			return err
		}
		delivered = true
		return nil
	})
	if err != nil || !delivered {
		if derr := s.blobs.Delete(context.WithoutCancel(ctx), ref.ID); derr != nil {
			s.log.Error("system message's blob not deleted", "blob", ref.ID, "err", derr)
		}
	}
	return delivered, err
}

// composeSystem writes m as an RFC 5322 message: UTF-8 text, quoted-printable, the subject
// as an RFC 2047 encoded-word.
func (s *Service) composeSystem(m SystemMessage, messageID string, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s <%s>\r\n", mime.QEncoding.Encode("utf-8", "carnet"), s.NoReply())
	fmt.Fprintf(&b, "To: <%s>\r\n", m.To)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: %s\r\n", messageID)
	b.WriteString("Auto-Submitted: auto-generated\r\n") // RFC 3834: no automatic answer to it
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}
