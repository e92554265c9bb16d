package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/questionnaire"
)

// The questionnaires received by patients and their responses (migration 0025,
// questionnaire.Tx).

// Questionnaires adapts the store to the questionnaires.
func (db *DB) Questionnaires() questionnaire.Store { return questionnaireStore{db} }

type questionnaireStore struct{ db *DB }

func (s questionnaireStore) UpdateQuestionnaires(ctx context.Context, fn func(questionnaire.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s questionnaireStore) ViewQuestionnaires(ctx context.Context, fn func(questionnaire.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ questionnaire.Tx = (*Tx)(nil)

// QuestionnaireKept reports whether the attachment of the delivery was kept already.
func (tx *Tx) QuestionnaireKept(ctx context.Context, messageID, mailboxID int64, attachment int) (bool, error) {
	var n int
	err := tx.queryRow(ctx, `SELECT count(*) FROM questionnaires WHERE message_ref = $1 AND mailbox_id = $2 AND attachment = $3`,
		messageID, mailboxID, attachment).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("questionnaire kept: %w", err)
	}
	return n > 0, nil
}

// AddQuestionnaire keeps a questionnaire; an attachment kept already leaves the row as it
// is, queues r.Blob for the garbage job and returns false.
func (tx *Tx) AddQuestionnaire(ctx context.Context, r *questionnaire.Received) (bool, error) {
	var sender sql.NullInt64
	if r.SenderMailboxID != 0 {
		sender = sql.NullInt64{Int64: r.SenderMailboxID, Valid: true}
	}
	err := tx.queryRow(ctx, `INSERT INTO questionnaires (patient_id, mailbox_id, message_ref, delivery_id, attachment, sender,
		sender_mailbox_id, url_hash, canonical_hash, blob_id, size, sha256, received_at, sender_name)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (message_ref, mailbox_id, attachment) DO NOTHING RETURNING id`,
		r.PatientID, r.MailboxID, r.MessageID, r.DeliveryID, r.Attachment, strings.ToLower(r.Sender), sender, r.URLHash, r.CanonicalHash,
		r.Blob.ID, r.Blob.Size, r.Blob.SHA256, micros(r.ReceivedAt), r.SenderName).Scan(&r.ID)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := tx.exec(ctx, `INSERT INTO blob_garbage (blob_id, since) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			r.Blob.ID, micros(r.ReceivedAt)); err != nil {
			return false, fmt.Errorf("questionnaire blob garbage: %w", err)
		}
		return false, nil
	}
	if isForeignKeyViolation(err) {
		return false, errs.Wrap(errs.NotFound, err, "no such patient or mailbox")
	}
	if err != nil {
		return false, fmt.Errorf("add questionnaire: %w", err)
	}
	return true, nil
}

// InboxDelivery is the delivery of the message in the mailbox's INBOX.
func (tx *Tx) InboxDelivery(ctx context.Context, mailboxID, messageID int64) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, `SELECT id FROM mail_deliveries WHERE mailbox_id = $1 AND message_ref = $2 AND folder = 'INBOX'
		ORDER BY id LIMIT 1`, mailboxID, messageID).Scan(&id)
	return id, notFound(err, "delivery")
}

// MailboxOf is the id and display name of one of our mailboxes by its address.
func (tx *Tx) MailboxOf(ctx context.Context, address string) (int64, string, error) {
	var id int64
	var name string
	err := tx.queryRow(ctx, `SELECT id, display_name FROM mailboxes WHERE address = $1`, strings.ToLower(address)).Scan(&id, &name)
	return id, name, notFound(err, "mailbox")
}

const questionnaireColumns = `q.id, q.patient_id, q.mailbox_id, q.message_ref, q.delivery_id, q.attachment, q.sender,
	COALESCE(q.sender_mailbox_id, 0), q.url_hash, q.canonical_hash, q.blob_id, q.size, q.sha256, q.received_at,
	COALESCE(r.id, 0), COALESCE(r.state, ''), COALESCE(r.sent_message_ref, 0), COALESCE(r.blob_id, ''), COALESCE(r.size, 0),
	COALESCE(r.sha256, ''), COALESCE(r.authored_at, 0), q.sender_name`

const questionnaireFrom = ` FROM questionnaires q LEFT JOIN questionnaire_responses r ON r.questionnaire_id = q.id`

type rowScanner interface{ Scan(...any) error }

func scanQuestionnaire(s rowScanner) (questionnaire.Received, error) {
	var (
		q                  questionnaire.Received
		r                  questionnaire.Stored
		received, authored int64
	)
	err := s.Scan(&q.ID, &q.PatientID, &q.MailboxID, &q.MessageID, &q.DeliveryID, &q.Attachment, &q.Sender, &q.SenderMailboxID,
		&q.URLHash, &q.CanonicalHash, &q.Blob.ID, &q.Blob.Size, &q.Blob.SHA256, &received,
		&r.ID, &r.State, &r.SentMessageID, &r.Blob.ID, &r.Blob.Size, &r.Blob.SHA256, &authored, &q.SenderName)
	if err != nil {
		return questionnaire.Received{}, err
	}
	q.ReceivedAt = fromMicros(received)
	if r.ID != 0 {
		r.QuestionnaireID, r.PatientID, r.AuthoredAt = q.ID, q.PatientID, fromMicros(authored)
		q.Response = &r
	}
	return q, nil
}

// Questionnaire returns a kept questionnaire with its response.
func (tx *Tx) Questionnaire(ctx context.Context, id int64) (questionnaire.Received, error) {
	q, err := scanQuestionnaire(tx.queryRow(ctx, `SELECT `+questionnaireColumns+questionnaireFrom+` WHERE q.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return questionnaire.Received{}, errs.E(errs.NotFound, "no such questionnaire")
	}
	if err != nil {
		return questionnaire.Received{}, fmt.Errorf("questionnaire: %w", err)
	}
	return q, nil
}

// placeholders writes $from, $from+1… for n values.
func placeholders(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(ps, ", ")
}

func (tx *Tx) questionnaires(ctx context.Context, q string, args ...any) ([]questionnaire.Received, error) {
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("questionnaires: %w", err)
	}
	defer rows.Close()
	var out []questionnaire.Received
	for rows.Next() {
		r, err := scanQuestionnaire(rows)
		if err != nil {
			return nil, fmt.Errorf("questionnaires: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// maxQueried bounds the ids of one query (a conversation page lists at most 200 messages).
const maxQueried = 500

// QuestionnairesOf lists the questionnaires of deliveries of the patient's mailbox.
func (tx *Tx) QuestionnairesOf(ctx context.Context, patientID int64, deliveryIDs []int64) ([]questionnaire.Received, error) {
	if len(deliveryIDs) == 0 {
		return nil, nil
	}
	if len(deliveryIDs) > maxQueried {
		deliveryIDs = deliveryIDs[:maxQueried]
	}
	args := []any{patientID}
	for _, id := range deliveryIDs {
		args = append(args, id)
	}
	return tx.questionnaires(ctx, `SELECT `+questionnaireColumns+questionnaireFrom+` WHERE q.patient_id = $1 AND q.delivery_id IN (`+
		placeholders(2, len(deliveryIDs))+`) ORDER BY q.id`, args...)
}

// ClaimResponse keeps a response in state sending; Conflict when the questionnaire has one.
func (tx *Tx) ClaimResponse(ctx context.Context, s *questionnaire.Stored) error {
	err := tx.queryRow(ctx, `INSERT INTO questionnaire_responses (questionnaire_id, patient_id, state, blob_id, size, sha256, authored_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, s.QuestionnaireID, s.PatientID, s.State, s.Blob.ID, s.Blob.Size,
		s.Blob.SHA256, micros(s.AuthoredAt)).Scan(&s.ID)
	switch {
	case isUniqueViolation(err):
		return errs.Wrap(errs.Conflict, err, "this questionnaire was answered already")
	case isForeignKeyViolation(err):
		return errs.Wrap(errs.NotFound, err, "no such questionnaire")
	case err != nil:
		return fmt.Errorf("claim questionnaire response: %w", err)
	}
	return nil
}

// RepliesSince lists, oldest first, the messages filed since in the Sent folder of the
// patient's mailbox and those the sender's mailbox (0: not ours) received from the patient's
// address since, in whichever folder its owner filed them: both by the deliveries'
// (mailbox_id, delivered_at) index.
func (tx *Tx) RepliesSince(ctx context.Context, patientMailboxID, senderMailboxID int64, since time.Time, limit int) ([]questionnaire.Reply, error) {
	rows, err := tx.query(ctx, `SELECT m.id, m.blob_id, m.size, m.sha256, d.delivered_at FROM mail_deliveries d
		JOIN mail_messages m ON m.id = d.message_ref
		WHERE d.mailbox_id = $1 AND d.folder = 'Sent' AND d.delivered_at >= $3
		UNION
		SELECT m.id, m.blob_id, m.size, m.sha256, d.delivered_at FROM mail_deliveries d
		JOIN mail_messages m ON m.id = d.message_ref
		WHERE d.mailbox_id = $2 AND d.delivered_at >= $3
		AND m.header_from = (SELECT address FROM mailboxes WHERE id = $1)
		ORDER BY 5, 1 LIMIT $4`, patientMailboxID, senderMailboxID, micros(since), limit)
	if err != nil {
		return nil, fmt.Errorf("questionnaire replies: %w", err)
	}
	defer rows.Close()
	var out []questionnaire.Reply
	seen := map[int64]bool{}
	for rows.Next() {
		var (
			r  questionnaire.Reply
			at int64
		)
		if err := rows.Scan(&r.MessageID, &r.Blob.ID, &r.Blob.Size, &r.Blob.SHA256, &at); err != nil {
			return nil, fmt.Errorf("questionnaire replies: %w", err)
		}
		if !seen[r.MessageID] { // the Sent copy and the delivery of one message
			seen[r.MessageID] = true
			out = append(out, r)
		}
	}
	return out, rows.Err()
}

// ResponseSent records the message that carried the response.
func (tx *Tx) ResponseSent(ctx context.Context, id, messageID int64) error {
	res, err := tx.exec(ctx, `UPDATE questionnaire_responses SET state = 'sent', sent_message_ref = $2 WHERE id = $1`, id, messageID)
	if err != nil {
		return fmt.Errorf("questionnaire response sent: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errs.E(errs.NotFound, "no such questionnaire response")
	}
	return nil
}

// DropResponse removes a claim (state sending) whose reply was refused or never left; its
// blob goes to the garbage job. A response sent meanwhile is left whole, blob included: false.
// The claim is deleted first, and its blob queued only if it was, so that no concurrent
// record of the reply can see its response's blob collected.
func (tx *Tx) DropResponse(ctx context.Context, id int64, now time.Time) (bool, error) {
	var blobID string
	err := tx.queryRow(ctx, `DELETE FROM questionnaire_responses WHERE id = $1 AND state = 'sending' RETURNING blob_id`, id).Scan(&blobID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("drop questionnaire response: %w", err)
	}
	if _, err := tx.exec(ctx, `INSERT INTO blob_garbage (blob_id, since) VALUES ($1, $2) ON CONFLICT DO NOTHING`, blobID, micros(now)); err != nil {
		return false, fmt.Errorf("drop questionnaire response: %w", err)
	}
	return true, nil
}

// ReaderMailboxes are a professional's PER mailboxes and the ORG mailboxes they are a
// member of.
func (tx *Tx) ReaderMailboxes(ctx context.Context, idnat string) ([]int64, error) {
	rows, err := tx.query(ctx, `SELECT m.id FROM mailboxes m JOIN professionals p ON p.id = m.professional_id
		WHERE p.idnat_ps = $1 AND m.kind = 'PER'
		UNION SELECT mm.mailbox_id FROM mailbox_members mm JOIN professionals p ON p.id = mm.professional_id WHERE p.idnat_ps = $1`, idnat)
	if err != nil {
		return nil, fmt.Errorf("reader mailboxes: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Responses finds responses in q.State (sent when ""), newest first.
func (tx *Tx) Responses(ctx context.Context, q questionnaire.Query) ([]questionnaire.Found, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	state := q.State
	if state == "" {
		state = questionnaire.StateSent
	}
	where := []string{`r.state = ` + arg(state)}
	if q.ID != 0 {
		where = append(where, `r.id = `+arg(q.ID))
	}
	if q.PatientID != 0 {
		where = append(where, `q.patient_id = `+arg(q.PatientID))
	}
	if q.Questionnaire != "" {
		// The digest of a url matches every version; of url|version, that version.
		d := arg(q.Questionnaire)
		where = append(where, `(q.url_hash = `+d+` OR q.canonical_hash = `+d+`)`)
	}
	if q.SenderMailboxes != nil {
		if len(q.SenderMailboxes) == 0 {
			return nil, nil
		}
		var ps []string
		for _, m := range q.SenderMailboxes {
			ps = append(ps, arg(m))
		}
		where = append(where, `q.sender_mailbox_id IN (`+strings.Join(ps, ", ")+`)`)
	}
	limit := q.Limit
	if limit <= 0 || limit > maxQueried {
		limit = maxQueried
	}
	rs, err := tx.questionnaires(ctx, `SELECT `+questionnaireColumns+` FROM questionnaires q JOIN questionnaire_responses r
		ON r.questionnaire_id = q.id WHERE `+strings.Join(where, " AND ")+` ORDER BY r.authored_at DESC, r.id DESC LIMIT `+arg(limit), args...)
	if err != nil {
		return nil, err
	}
	out := make([]questionnaire.Found, len(rs))
	for i, r := range rs {
		out[i] = questionnaire.Found{Questionnaire: r, Response: *r.Response}
	}
	return out, nil
}
