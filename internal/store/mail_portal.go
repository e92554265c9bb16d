package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/space"
)

// MailPortal adapts the store to the portal's side of the messaging (mail.Portal): the mail
// transactions, with the queries of a patient's mailbox on top. Its writes go through the mail
// store's, so that deliveries are signalled to the IMAP sessions like any other.
func (db *DB) MailPortal(jobs JobInserter) mail.PortalStore {
	return portalStore{mail: mailStore{db: db, jobs: jobs}}
}

type portalStore struct{ mail mailStore }

func (s portalStore) UpdatePortal(ctx context.Context, fn func(mail.PortalTx) error) error {
	return s.mail.UpdateMail(ctx, func(tx mail.Tx) error { return fn(portalTx{tx.(mailTx)}) })
}

func (s portalStore) ViewPortal(ctx context.Context, fn func(mail.PortalTx) error) error {
	return s.mail.ViewMail(ctx, func(tx mail.Tx) error { return fn(portalTx{tx.(mailTx)}) })
}

type portalTx struct{ mailTx }

var _ mail.PortalTx = portalTx{}

// seenFlag is IMAP's \Seen (RFC 9051 §2.3.2), kept in mail_deliveries.flags among the
// delivery's flags, separated by spaces.
const seenFlag = `\Seen`

func hasFlag(flags, flag string) bool {
	for _, f := range strings.Fields(flags) {
		if strings.EqualFold(f, flag) {
			return true
		}
	}
	return false
}

// PatientMailbox returns the patient's mailbox.
func (t portalTx) PatientMailbox(ctx context.Context, patientID int64) (mail.Mailbox, error) {
	var m mail.Mailbox
	err := scanMailbox(t.queryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes m WHERE m.patient_id = $1 AND m.kind = 'PAT'`, patientID), &m)
	if err != nil {
		return m, notFound(err, "mailbox")
	}
	return m, nil
}

// ProfessionalMailbox returns the professional's PER mailbox (the first made, if several).
func (t portalTx) ProfessionalMailbox(ctx context.Context, professionalID int64) (mail.Mailbox, error) {
	var m mail.Mailbox
	err := scanMailbox(t.queryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes m WHERE m.professional_id = $1 AND m.kind = 'PER'
		AND m.disabled_at IS NULL ORDER BY m.id LIMIT 1`, professionalID), &m)
	if err != nil {
		return m, notFound(err, "mailbox")
	}
	return m, nil
}

const itemColumns = `d.id, d.mailbox_id, COALESCE(b.patient_id, 0), d.folder, d.flags, d.delivered_at,
	m.id, m.channel, m.envelope_from, m.header_from, m.message_id, m.blob_id, m.size, m.sha256, m.received_at`

func scanItem(sc interface{ Scan(...any) error }) (mail.Item, error) {
	var it mail.Item
	var flags, channel string
	var delivered, received int64
	err := sc.Scan(&it.ID, &it.MailboxID, &it.PatientID, &it.Folder, &flags, &delivered, &it.Message.ID, &channel,
		&it.Message.EnvelopeFrom, &it.Message.HeaderFrom, &it.Message.MessageID, &it.Message.Blob.ID, &it.Message.Blob.Size,
		&it.Message.Blob.SHA256, &received)
	if err != nil {
		return it, err
	}
	it.Seen, it.DeliveredAt = hasFlag(flags, seenFlag), fromMicros(delivered)
	it.Message.Channel, it.Message.ReceivedAt = mail.Channel(channel), fromMicros(received)
	return it, nil
}

// MailboxItems lists a mailbox's INBOX and Sent, newest first.
func (t portalTx) MailboxItems(ctx context.Context, mailboxID int64, limit int) ([]mail.Item, error) {
	rows, err := t.query(ctx, `SELECT `+itemColumns+` FROM mail_deliveries d JOIN mailboxes b ON b.id = d.mailbox_id
		JOIN mail_messages m ON m.id = d.message_ref
		WHERE d.mailbox_id = $1 AND d.folder IN ('INBOX', 'Sent') ORDER BY d.delivered_at DESC, d.id DESC LIMIT $2`, mailboxID, limit)
	if err != nil {
		return nil, fmt.Errorf("list mailbox: %w", err)
	}
	defer rows.Close()
	var out []mail.Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// MailboxItem returns one delivery.
func (t portalTx) MailboxItem(ctx context.Context, id int64) (mail.Item, error) {
	it, err := scanItem(t.queryRow(ctx, `SELECT `+itemColumns+` FROM mail_deliveries d JOIN mailboxes b ON b.id = d.mailbox_id
		JOIN mail_messages m ON m.id = d.message_ref WHERE d.id = $1`, id))
	if err != nil {
		return it, notFound(err, "message")
	}
	return it, nil
}

// MarkSeen adds \Seen to the flags of deliveries of the mailbox that lack it, counting the
// change in the folder (migration 0018) and signalling it, so that an IMAP session sees it.
func (t portalTx) MarkSeen(ctx context.Context, mailboxID int64, ids []int64) error {
	for _, id := range ids {
		var flags, folder string
		if err := t.queryRow(ctx, `SELECT flags, folder FROM mail_deliveries WHERE id = $1 AND mailbox_id = $2`, id, mailboxID).
			Scan(&flags, &folder); err != nil {
			return notFound(err, "message")
		}
		if hasFlag(flags, seenFlag) {
			continue
		}
		if _, err := t.exec(ctx, `UPDATE mail_deliveries SET flags = $3 WHERE id = $1 AND mailbox_id = $2`, id, mailboxID,
			joinFlags(append(splitFlags(flags), seenFlag))); err != nil {
			return fmt.Errorf("mark message read: %w", err)
		}
		if err := changed(ctx, t.mailTx, mailboxID, folder); err != nil {
			return err
		}
		if t.delivered != nil {
			*t.delivered = append(*t.delivered, mailboxID)
		}
	}
	return nil
}

// Patient returns a patient's identity.
func (t portalTx) Patient(ctx context.Context, id int64) (space.Patient, error) {
	return t.Tx.Patient(ctx, id)
}

// UnreadCount counts the messages of the patient's INBOX without \Seen, from the flags alone:
// the home page's count decrypts nothing. 0 when the patient has no mailbox yet.
func (t portalTx) UnreadCount(ctx context.Context, patientID int64) (int, error) {
	var n int
	// The flags are separated by spaces; '!' escapes the pattern, since PostgreSQL takes the
	// backslash of \Seen for LIKE's default escape.
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM mail_deliveries d JOIN mailboxes b ON b.id = d.mailbox_id
		WHERE b.patient_id = $1 AND b.kind = 'PAT' AND d.folder = 'INBOX'
		AND LOWER(' ' || d.flags || ' ') NOT LIKE $2 ESCAPE '!'`, patientID, `% `+strings.ToLower(seenFlag)+` %`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count unread messages: %w", err)
	}
	return n, nil
}
