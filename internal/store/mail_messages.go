package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
)

// InsertMessage stores a received message's row and sets its id.
func (t mailTx) InsertMessage(ctx context.Context, m *mail.StoredMessage) error {
	err := t.queryRow(ctx, `INSERT INTO mail_messages (channel, envelope_from, header_from, message_id, blob_id, size, sha256,
		received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, string(m.Channel), m.EnvelopeFrom, m.HeaderFrom,
		m.MessageID, m.Blob.ID, m.Blob.Size, m.Blob.SHA256, micros(m.ReceivedAt)).Scan(&m.ID)
	if isUniqueViolation(err) {
		// Only our acknowledgements are unique (mail_messages_mdn): this one was sent already.
		return errs.E(errs.Conflict, "message %s is stored already", m.MessageID)
	}
	if err != nil {
		return fmt.Errorf("insert message: %w", err)
	}
	return nil
}

// StoredMessage returns a message's row.
func (t mailTx) StoredMessage(ctx context.Context, id int64) (mail.StoredMessage, error) {
	var m mail.StoredMessage
	var channel string
	var received int64
	err := t.queryRow(ctx, `SELECT id, channel, envelope_from, header_from, message_id, blob_id, size, sha256, received_at
		FROM mail_messages WHERE id = $1`, id).Scan(&m.ID, &channel, &m.EnvelopeFrom, &m.HeaderFrom, &m.MessageID,
		&m.Blob.ID, &m.Blob.Size, &m.Blob.SHA256, &received)
	if err != nil {
		return m, notFound(err, "message")
	}
	m.Channel, m.ReceivedAt = mail.Channel(channel), fromMicros(received)
	m.Blob = blob.Ref{ID: m.Blob.ID, Size: m.Blob.Size, SHA256: m.Blob.SHA256}
	return m, nil
}

// Deliver files a message in a mailbox's folder under the folder's next UID (taken under the
// folder row's lock, so UIDs only grow, in commit order too: RFC 9051 §2.3.1.1) and counts
// its size against the mailbox.
func (t mailTx) Deliver(ctx context.Context, mailboxID int64, folder string, messageID, size int64, at time.Time) (int64, error) {
	var uid int64
	err := t.queryRow(ctx, `UPDATE mail_folders SET uid_next = uid_next + 1, modseq = modseq + 1 WHERE mailbox_id = $1 AND name = $2
		RETURNING uid_next - 1`, mailboxID, folder).Scan(&uid)
	if err != nil {
		return 0, notFound(err, "mail folder")
	}
	if _, err := t.exec(ctx, `INSERT INTO mail_deliveries (mailbox_id, folder, uid, message_ref, delivered_at) VALUES ($1, $2, $3, $4, $5)`,
		mailboxID, folder, uid, messageID, micros(at)); err != nil {
		return 0, fmt.Errorf("deliver message: %w", err)
	}
	if _, err := t.exec(ctx, `UPDATE mailboxes SET used_bytes = used_bytes + $2 WHERE id = $1`, mailboxID, size); err != nil {
		return 0, fmt.Errorf("count mailbox size: %w", err)
	}
	if t.delivered != nil {
		*t.delivered = append(*t.delivered, mailboxID)
	}
	return uid, nil
}

// Holds reports whether the mailbox holds the stored message, in any folder.
func (t mailTx) Holds(ctx context.Context, mailboxID, messageRef int64) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM mail_deliveries WHERE mailbox_id = $1 AND message_ref = $2 LIMIT 1) x`,
		mailboxID, messageRef).Scan(&n)
	return n > 0, err
}

// HasMessage reports whether the mailbox holds a message of that Message-ID: the mailbox's own
// deliveries are read (by the (mailbox, folder, uid) key), not every message.
func (t mailTx) HasMessage(ctx context.Context, mailboxID int64, messageID string) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM mail_deliveries d JOIN mail_messages m ON m.id = d.message_ref
		WHERE d.mailbox_id = $1 AND m.message_id = $2`, mailboxID, messageID).Scan(&n)
	return n > 0, err
}

// HoldsContent reports whether the mailbox's folder holds a message of these bytes (their
// SHA-256): the messages of these bytes are found by their hash (migration 0029), then
// their deliveries.
func (t mailTx) HoldsContent(ctx context.Context, mailboxID int64, folder, sha256 string) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM mail_messages m JOIN mail_deliveries d ON d.message_ref = m.id
		WHERE m.sha256 = $3 AND d.mailbox_id = $1 AND d.folder = $2 LIMIT 1) x`, mailboxID, folder, sha256).Scan(&n)
	return n > 0, err
}

// FlagDelivery sets the flags of a message delivered in this transaction.
func (t mailTx) FlagDelivery(ctx context.Context, mailboxID int64, folder string, uid int64, flags []string) error {
	_, err := t.exec(ctx, `UPDATE mail_deliveries SET flags = $4 WHERE mailbox_id = $1 AND folder = $2 AND uid = $3`,
		mailboxID, folder, uid, joinFlags(flags))
	if err != nil {
		return fmt.Errorf("flag delivery: %w", err)
	}
	return nil
}

// MailDelivery is a message filed in a mailbox, for tests and the IMAP server to come.
type MailDelivery struct {
	UID       int64
	MessageID int64
	Folder    string
}

// MailDeliveries lists a mailbox's messages in a folder, by UID.
func (tx *Tx) MailDeliveries(ctx context.Context, address, folder string) ([]MailDelivery, error) {
	rows, err := tx.query(ctx, `SELECT d.uid, d.message_ref, d.folder FROM mail_deliveries d JOIN mailboxes m ON m.id = d.mailbox_id
		WHERE m.address = $1 AND d.folder = $2 ORDER BY d.uid`, address, folder)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []MailDelivery
	for rows.Next() {
		var d MailDelivery
		if err := rows.Scan(&d.UID, &d.MessageID, &d.Folder); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// StoredMailMessage returns a message's row (for tests and the IMAP server to come).
func (tx *Tx) StoredMailMessage(ctx context.Context, id int64) (mail.StoredMessage, error) {
	return mailTx{Tx: tx}.StoredMessage(ctx, id)
}

// Conversation returns the exchange of a patient address with a professional address.
func (t mailTx) Conversation(ctx context.Context, patientAddr, proAddr string) (mail.Conversation, error) {
	c := mail.Conversation{PatientAddress: patientAddr, ProfessionalAddress: proAddr}
	var started int64
	var ended sql.NullInt64
	err := t.queryRow(ctx, `SELECT started_at, ended_at FROM mail_conversations WHERE patient_address = $1 AND professional_address = $2`,
		patientAddr, proAddr).Scan(&started, &ended)
	if err != nil {
		return c, notFound(err, "conversation")
	}
	c.StartedAt, c.EndedAt = fromMicros(started), fromNullMicros(ended)
	return c, nil
}

// SaveConversation records a professional's message to a patient: it opens the exchange, or
// keeps it open, or (c.EndedAt set, a [FIN]) ends it; a message after an end starts anew.
func (t mailTx) SaveConversation(ctx context.Context, c mail.Conversation) error {
	_, err := t.exec(ctx, `INSERT INTO mail_conversations (patient_address, professional_address, started_at, ended_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (patient_address, professional_address) DO UPDATE SET
		started_at = CASE WHEN mail_conversations.ended_at IS NULL THEN mail_conversations.started_at ELSE excluded.started_at END,
		ended_at = excluded.ended_at`, c.PatientAddress, c.ProfessionalAddress, micros(c.StartedAt), nullMicros(c.EndedAt))
	if err != nil {
		return fmt.Errorf("save conversation: %w", err)
	}
	return nil
}

func joinFailures(fs []mail.Failure) string {
	var b strings.Builder
	for _, f := range fs {
		clean := func(s string) string { return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s) }
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", clean(f.Recipient), clean(f.Status), clean(f.RemoteMTA), clean(f.Diagnostic))
	}
	return b.String()
}

func splitFailures(s string) []mail.Failure {
	var out []mail.Failure
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if line == "" {
			continue
		}
		p := strings.SplitN(line, "\t", 4)
		for len(p) < 4 {
			p = append(p, "")
		}
		out = append(out, mail.Failure{Recipient: p[0], Status: p[1], RemoteMTA: p[2], Diagnostic: p[3]})
	}
	return out
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// InsertOutbound stores a queued outbound delivery.
func (t mailTx) InsertOutbound(ctx context.Context, o *mail.Outbound) error {
	err := t.queryRow(ctx, `INSERT INTO mail_outbound (message_ref, domain, sender, pending, failed, state, attempts, last_error,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`, o.MessageRef, o.Domain, o.Sender,
		strings.Join(o.Pending, "\n"), joinFailures(o.Failed), string(o.State), o.Attempts, o.LastError,
		micros(o.CreatedAt), micros(o.UpdatedAt)).Scan(&o.ID)
	if err != nil {
		return fmt.Errorf("insert outbound delivery: %w", err)
	}
	return nil
}

// Outbound returns an outbound delivery, locked in a write transaction (PostgreSQL; SQLite
// has one writer).
func (t mailTx) Outbound(ctx context.Context, id int64) (mail.Outbound, error) {
	q := `SELECT id, message_ref, domain, sender, pending, failed, state, attempts, last_error, created_at, updated_at
		FROM mail_outbound WHERE id = $1`
	if t.db.dialect == Postgres && !t.readOnly {
		q += ` FOR UPDATE`
	}
	var o mail.Outbound
	var pending, failed, state string
	var created, updated int64
	err := t.queryRow(ctx, q, id).Scan(&o.ID, &o.MessageRef, &o.Domain, &o.Sender, &pending, &failed, &state, &o.Attempts,
		&o.LastError, &created, &updated)
	if err != nil {
		return o, notFound(err, "outbound delivery")
	}
	o.Pending, o.Failed, o.State = splitLines(pending), splitFailures(failed), mail.OutboundState(state)
	o.CreatedAt, o.UpdatedAt = fromMicros(created), fromMicros(updated)
	return o, nil
}

// SaveOutbound writes an outbound delivery's progress.
func (t mailTx) SaveOutbound(ctx context.Context, o mail.Outbound) error {
	res, err := t.exec(ctx, `UPDATE mail_outbound SET pending = $2, failed = $3, state = $4, attempts = $5, last_error = $6,
		updated_at = $7 WHERE id = $1`, o.ID, strings.Join(o.Pending, "\n"), joinFailures(o.Failed), string(o.State), o.Attempts,
		o.LastError, micros(o.UpdatedAt))
	if err != nil {
		return fmt.Errorf("save outbound delivery: %w", err)
	}
	return oneRow(res, "outbound delivery")
}

// QueuedOutbound lists deliveries still queued and not updated since before, oldest first.
func (t mailTx) QueuedOutbound(ctx context.Context, before time.Time, limit int) ([]int64, error) {
	rows, err := t.query(ctx, `SELECT id FROM mail_outbound WHERE state = 'queued' AND updated_at < $1 ORDER BY updated_at LIMIT $2`,
		micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("list queued deliveries: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
