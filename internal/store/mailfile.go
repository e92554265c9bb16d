package store

import (
	"context"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mailfile"
)

// MailFiling adapts the store to the filing of XDM packages received by mail
// (internal/mailfile): it reads mailboxes, accounts, the patient and their documents'
// uniqueIds, and traces.
func (db *DB) MailFiling() mailfile.Store { return filingStore{db} }

type filingStore struct{ db *DB }

func (s filingStore) ViewFiling(ctx context.Context, fn func(mailfile.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(filingTx{tx}) })
}

func (s filingStore) UpdateFiling(ctx context.Context, fn func(mailfile.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(filingTx{tx}) })
}

// filingTx borrows the mail vocabulary's queries; the rest are *Tx's own.
type filingTx struct{ *Tx }

var _ mailfile.Tx = filingTx{}

func (t filingTx) MailboxByAddress(ctx context.Context, address string) (mail.Mailbox, error) {
	return mailTx{Tx: t.Tx}.MailboxByAddress(ctx, address)
}

func (t filingTx) ProfessionalByID(ctx context.Context, id int64) (account.Professional, error) {
	return mailTx{Tx: t.Tx}.ProfessionalByID(ctx, id)
}
