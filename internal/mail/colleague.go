package mail

import (
	"context"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// ErrPatientAddress: a patient is written to from their record's page, where the access
// decision is taken, never by typing their address.
var ErrPatientAddress = errs.E(errs.Invalid, "a patient's address: write from the patient's page")

// WriteColleague sends a professional's message to another professional's mailbox, ours or
// another operator's in the trust space, from the sender's PER mailbox (made at their first
// message, as Write does), through the acceptance of submitted mail: an address outside the
// trust space or unknown here is refused (a Refusal), nothing stored. No patient is named by
// the envelope, so no access decision applies; what the message says is the professionals'
// correspondence, as by their mail client.
func (p *Portal) WriteColleague(ctx context.Context, actor access.Actor, to, subject, body string, files []File) (Receipt, error) {
	if actor.Kind != audit.ActorProfessional {
		return Receipt{}, errs.E(errs.Forbidden, "only a professional writes to a colleague")
	}
	addr, err := ParseAddress(to)
	if err != nil {
		return Receipt{}, err
	}
	if IsPatient(addr) {
		return Receipt{}, ErrPatientAddress
	}
	subject, err = p.checkNew(subject, body, files)
	if err != nil {
		return Receipt{}, err
	}
	var sender Sender
	err = p.store.ViewPortal(ctx, func(tx PortalTx) error {
		var err error
		if sender.Professional, err = tx.ProfessionalByIdNat(ctx, actor.ID); err != nil {
			return err
		}
		sender.Mailbox, err = tx.ProfessionalMailbox(ctx, sender.Professional.ID)
		return err
	})
	if errs.Is(err, errs.NotFound) && sender.Professional.ID != 0 {
		sender.Mailbox, err = p.ownMailbox(ctx, sender)
	}
	if err != nil {
		return Receipt{}, err
	}
	if err := p.mail.TouchMailbox(ctx, sender.Mailbox.ID); err != nil {
		return Receipt{}, err
	}
	raw, err := Compose(Outgoing{From: sender.Mailbox.Address, To: addr, FromName: sender.Mailbox.DisplayName,
		Subject: subject, Body: body, Files: files, Date: p.mail.clock.Now(), MessageIDHostname: p.mail.cfg.Hostname})
	if err != nil {
		return Receipt{}, err
	}
	return p.submit(ctx, sender, addr, raw)
}
