package store

import (
	"context"

	"github.com/carnet-sante/carnet/internal/alert"
	"github.com/carnet-sante/carnet/internal/mail"
)

// Alerts adapts the store to the alerts of médecins traitants.
func (db *DB) Alerts() alert.Store { return alertStore{db} }

type alertStore struct{ db *DB }

func (s alertStore) UpdateAlerts(ctx context.Context, fn func(alert.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

// ProfessionalMailbox returns the professional's PER mailbox that still receives, the oldest
// when they have several.
func (tx *Tx) ProfessionalMailbox(ctx context.Context, professionalID int64) (mail.Mailbox, error) {
	var m mail.Mailbox
	err := scanMailbox(tx.queryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes m
		WHERE m.professional_id = $1 AND m.kind = 'PER' AND m.disabled_at IS NULL ORDER BY m.id LIMIT 1`, professionalID), &m)
	if err != nil {
		return m, notFound(err, "mailbox")
	}
	return m, nil
}
