package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/carnet-sante/carnet/internal/mail"
)

// MailboxRow is a professional mailbox as the operator lists it (`carnet mail mailbox list`):
// hidden ones included, with its owner's identifiers and what holds its passwords.
type MailboxRow struct {
	mail.Mailbox
	OwnerIdNat    string // PER: the professional's IdNat_PS
	StructureID   string // the organisation's IdNat_Struct (ORG, APP; PER: the owner's organisation)
	Members       int    // ORG: the members
	LivePasswords int    // app passwords not revoked
}

// MailboxListQuery selects mailboxes to list. Patient mailboxes are never listed: their
// addresses are INS matricules.
type MailboxListQuery struct {
	Kind    mail.Kind // "" for PER, ORG and APP
	Address string    // one mailbox, lower case
	Limit   int       // default 1,000
}

// ListMailboxes lists the professional mailboxes, hidden and disabled ones included, in
// address order.
func (db *DB) ListMailboxes(ctx context.Context, q MailboxListQuery) ([]MailboxRow, error) {
	where := []string{`m.kind <> 'PAT'`}
	var args []any
	if q.Kind != "" {
		args = append(args, string(q.Kind))
		where = append(where, fmt.Sprintf(`m.kind = $%d`, len(args)))
	}
	if q.Address != "" {
		args = append(args, q.Address)
		where = append(where, fmt.Sprintf(`m.address = $%d`, len(args)))
	}
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	args = append(args, q.Limit)
	var out []MailboxRow
	err := db.View(ctx, func(tx *Tx) error {
		out = out[:0]
		rows, err := tx.query(ctx, `SELECT `+mailboxColumns+`, COALESCE(p.idnat_ps, ''), COALESCE(o.structure_id, ''),
			(SELECT COUNT(*) FROM mailbox_members mm WHERE mm.mailbox_id = m.id),
			(SELECT COUNT(*) FROM mail_app_passwords ap WHERE ap.mailbox_id = m.id AND ap.revoked_at IS NULL)
			FROM mailboxes m LEFT JOIN professionals p ON p.id = m.professional_id
			LEFT JOIN organisations o ON o.id = m.organisation_id
			WHERE `+strings.Join(where, " AND ")+fmt.Sprintf(` ORDER BY m.address LIMIT $%d`, len(args)), args...)
		if err != nil {
			return fmt.Errorf("list mailboxes: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var r MailboxRow
			if err := scanMailbox(rows, &r.Mailbox, &r.OwnerIdNat, &r.StructureID, &r.Members, &r.LivePasswords); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}
