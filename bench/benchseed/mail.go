package benchseed

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet/bench/smtpclient"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/store"
)

// Mailbox is a professional's PER mailbox and the app password of their mail client.
type Mailbox struct {
	Address  string
	Password string
}

// MailSpec says which mailboxes Mailboxes makes.
type MailSpec struct {
	Domain string // the server's mail domain (config domain)
	Seal   []byte // the key the mail service's keys derive from (the seal key, as carnet serve)
	Blobs  blob.Store
	// First is the number of the first synthetic professional (Professional); Count of them get
	// a mailbox each.
	First, Count int
	// Inbox messages of Size bytes are delivered into each mailbox's INBOX, from the next
	// professional's mailbox, for the IMAP reads.
	Inbox, Size int
	// Password is the mail service's argon2id parameters (those of app passwords made before
	// the keyed hash; new ones are an HMAC, apppass.go).
	Password password.Params
}

// Mailboxes gives synthetic professionals First … First+Count-1 (recorded if needed) a PER
// mailbox bench.<n>@Domain and an app password each, through the mail service as `carnet mail
// mailbox add` and `carnet mail app-password add` do (traced), then delivers Inbox messages
// into each INBOX through the acceptance of submitted mail (CheckSender, CheckRecipient,
// Accept: bytes encrypted in the blob store, rows committed, traced), as if a colleague had
// sent them. Mailboxes already there are refused (a seed makes a new store).
func Mailboxes(ctx context.Context, db *store.DB, spec MailSpec, now time.Time) ([]Mailbox, error) {
	key, err := mail.DeriveKey(spec.Seal)
	if err != nil {
		return nil, err
	}
	svc, err := mail.NewService(mail.Deps{Store: db.Mail(nil), Blobs: spec.Blobs, Clock: clock.System{}, Key: key,
		Password: spec.Password, Config: mail.DefaultConfig(spec.Domain)})
	if err != nil {
		return nil, err
	}
	by := mail.By{Actor: operator, Channel: audit.ChannelCLI}
	type made struct {
		box    mail.Mailbox
		pro    account.Professional
		secret string
	}
	var boxes []made
	for i := range spec.Count {
		n := spec.First + i
		p, err := Professional(ctx, db, n, now)
		if err != nil {
			return nil, err
		}
		m, err := svc.CreateMailbox(ctx, by, mail.NewMailbox{Kind: mail.PER, LocalPart: fmt.Sprintf("bench.%d", n), IdNat: p.IdNat.String()})
		if err != nil {
			return nil, fmt.Errorf("mailbox of professional %d: %w", n, err)
		}
		secret, _, err := svc.CreateAppPassword(ctx, by, m.Address.String(), p.IdNat.String(), "mixload")
		if err != nil {
			return nil, err
		}
		boxes = append(boxes, made{box: m, pro: p, secret: secret})
	}
	out := make([]Mailbox, len(boxes))
	for i, b := range boxes {
		out[i] = Mailbox{Address: b.box.Address.String(), Password: b.secret}
		from := boxes[(i+1)%len(boxes)]
		gen := smtpclient.NewGenerator(from.box.Address.String(), "benchseed."+spec.Domain, max(spec.Size, 1024))
		for range spec.Inbox {
			env := mail.Envelope{Channel: mail.Submission, Sender: &mail.Sender{Mailbox: from.box, Professional: from.pro},
				ClientAddr: "127.0.0.1", Helo: "benchseed", TLS: true}
			if err := svc.CheckSender(ctx, &env, from.box.Address.String()); err != nil {
				return nil, err
			}
			r, err := svc.CheckRecipient(ctx, &env, b.box.Address.String())
			if err != nil {
				return nil, err
			}
			env.Recipients = append(env.Recipients, r)
			if _, err := svc.Accept(ctx, env, bytes.NewReader(gen.Message([]string{b.box.Address.String()}))); err != nil {
				return nil, fmt.Errorf("message into %s: %w", b.box.Address, err)
			}
		}
	}
	return out, nil
}
