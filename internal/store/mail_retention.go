package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/mail"
)

// mailboxUseEvery: a mailbox's use is recorded at most once a day (a mail client polls every few minutes).
const mailboxUseEvery = 24 * time.Hour

// TouchMailbox records that the mailbox was used at at.
func (t mailTx) TouchMailbox(ctx context.Context, id int64, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE mailboxes SET last_active_at = $2
		WHERE id = $1 AND (last_active_at IS NULL OR last_active_at < $3)`, id, micros(at), micros(at.Add(-mailboxUseEvery)))
	if err != nil {
		return fmt.Errorf("record mailbox use: %w", err)
	}
	return nil
}

// lastActive is when a mailbox was last used, or made.
const lastActive = `COALESCE(m.last_active_at, m.created_at)`

// InactiveMailboxes lists the mailboxes unused since activeBefore, to warn (warnedBefore zero:
// not warned since their last use) or to delete (warned since their last use, before
// warnedBefore), with their holders' addresses.
func (t mailTx) InactiveMailboxes(ctx context.Context, activeBefore, warnedBefore time.Time, limit int) ([]mail.Inactive, error) {
	q := `SELECT ` + mailboxColumns + `, ` + lastActive + `, m.inactivity_warned_at FROM mailboxes m
		WHERE m.disabled_at IS NULL AND ` + lastActive + ` < $1 AND `
	args := []any{micros(activeBefore)}
	if warnedBefore.IsZero() {
		q += `(m.inactivity_warned_at IS NULL OR m.inactivity_warned_at < ` + lastActive + `)`
	} else {
		q += `m.inactivity_warned_at >= ` + lastActive + ` AND m.inactivity_warned_at < $2`
		args = append(args, micros(warnedBefore))
	}
	q += ` ORDER BY m.id LIMIT ` + fmt.Sprint(limit)
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("find inactive mailboxes: %w", err)
	}
	var out []mail.Inactive
	for rows.Next() {
		var in mail.Inactive
		var last int64
		var warned sql.NullInt64
		if err := scanMailbox(rows, &in.Mailbox, &last, &warned); err != nil {
			rows.Close()
			return nil, err
		}
		in.LastActive, in.WarnedAt = fromMicros(last), fromNullMicros(warned)
		out = append(out, in)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Contacts, err = t.mailboxContacts(ctx, out[i].Mailbox); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// mailboxContacts are the e-mail addresses of a mailbox's holders: its professional (PER),
// its members (ORG, APP), its patient (PAT).
func (t mailTx) mailboxContacts(ctx context.Context, m mail.Mailbox) ([]string, error) {
	var q string
	var arg int64
	switch m.Kind {
	case mail.PER:
		q, arg = `SELECT email FROM professionals WHERE id = $1`, m.ProfessionalID
	case mail.PAT:
		q, arg = `SELECT email FROM patients WHERE id = $1`, m.PatientID
	default:
		q, arg = `SELECT p.email FROM mailbox_members b JOIN professionals p ON p.id = b.professional_id
			WHERE b.mailbox_id = $1 ORDER BY p.id`, m.ID
	}
	rows, err := t.query(ctx, q, arg)
	if err != nil {
		return nil, fmt.Errorf("mailbox contacts: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, err
		}
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out, rows.Err()
}

// MarkInactivityWarned records the warning.
func (t mailTx) MarkInactivityWarned(ctx context.Context, id int64, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE mailboxes SET inactivity_warned_at = $2 WHERE id = $1`, id, micros(at))
	return err
}

// DeleteInactiveMailbox empties the mailbox: the messages it alone holds go (their bytes to the
// blob garbage job), its deliveries and app passwords too; a professional mailbox stays,
// disabled, unlisted and nameless; a patient's goes with its folders and conversations.
func (t mailTx) DeleteInactiveMailbox(ctx context.Context, m mail.Mailbox, last, now time.Time) (bool, error) {
	var cur int64
	err := t.queryRow(ctx, `SELECT `+lastActive+` FROM mailboxes m WHERE m.id = $1 AND m.disabled_at IS NULL`, m.ID).Scan(&cur)
	if err == sql.ErrNoRows {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inactive mailbox: %w", err)
	}
	if fromMicros(cur).After(last) {
		return false, nil // used since it was found unused
	}
	stmts := []string{
		`INSERT INTO blob_garbage (blob_id, since) SELECT DISTINCT g.blob_id, CAST($2 AS BIGINT)
			FROM mail_messages g JOIN mail_deliveries d ON d.message_ref = g.id
			WHERE d.mailbox_id = $1
			AND NOT EXISTS (SELECT 1 FROM mail_deliveries o WHERE o.message_ref = g.id AND o.mailbox_id <> $1)
			AND NOT EXISTS (SELECT 1 FROM mail_outbound q WHERE q.message_ref = g.id)
			ON CONFLICT DO NOTHING`,
		`DELETE FROM mail_deliveries WHERE mailbox_id = $1`,
		`DELETE FROM mail_messages WHERE blob_id IN (SELECT blob_id FROM blob_garbage)
			AND NOT EXISTS (SELECT 1 FROM mail_deliveries d WHERE d.message_ref = mail_messages.id)
			AND NOT EXISTS (SELECT 1 FROM mail_outbound q WHERE q.message_ref = mail_messages.id)`,
		`UPDATE mail_app_passwords SET revoked_at = $2 WHERE mailbox_id = $1 AND revoked_at IS NULL`,
	}
	if m.Kind == mail.PAT {
		stmts = append(stmts,
			// The questionnaires received in it and their responses (questionnaire.go).
			`INSERT INTO blob_garbage (blob_id, since) SELECT blob_id, CAST($2 AS BIGINT) FROM questionnaire_responses
				WHERE questionnaire_id IN (SELECT id FROM questionnaires WHERE mailbox_id = $1)
				UNION SELECT blob_id, CAST($2 AS BIGINT) FROM questionnaires WHERE mailbox_id = $1 ON CONFLICT DO NOTHING`,
			`DELETE FROM questionnaire_responses WHERE questionnaire_id IN (SELECT id FROM questionnaires WHERE mailbox_id = $1)`,
			`DELETE FROM questionnaires WHERE mailbox_id = $1`,
			`DELETE FROM mail_conversations WHERE patient_address = (SELECT address FROM mailboxes WHERE id = $1)`,
			`DELETE FROM mail_folders WHERE mailbox_id = $1`,
			`DELETE FROM mailboxes WHERE id = $1`)
	} else {
		stmts = append(stmts, `UPDATE mailboxes SET disabled_at = $2, used_bytes = 0, dir_name = '', dir_org = '', dir_town = '' WHERE id = $1`)
	}
	for _, q := range stmts {
		var args []any
		switch {
		case strings.Contains(q, "$2"):
			args = []any{m.ID, micros(now)}
		case strings.Contains(q, "$1"):
			args = []any{m.ID}
		}
		if _, err := t.exec(ctx, q, args...); err != nil {
			return false, fmt.Errorf("delete inactive mailbox: %w", err)
		}
	}
	return true, nil
}
