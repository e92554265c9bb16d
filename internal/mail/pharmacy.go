package mail

import (
	"context"
	"strings"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/space"
)

// A patient writes first to a pharmacy (DOMAIN.md: "A patient may write to a pharmacy's ORG
// mailbox (prescriptions)"): the one exception to "only a professional starts a conversation".
// The pharmacy is chosen in the directory among the ORG mailboxes the operator marked as
// accepting patients; the message goes through the acceptance of submitted mail like a reply,
// whose rule (patientRule) lets it through to such a mailbox only. The pharmacy's answer opens
// the conversation the patient then answers in as with any professional.

// ErrNotPharmacy: the address is not a mailbox patients may write to first.
var ErrNotPharmacy = errs.E(errs.Invalid, "this address is not a pharmacy's mailbox open to patients")

// Pharmacies searches the mailboxes a patient may write to first, by part of the
// organisation's name and of its town (at least one). The directory is public to every user
// of the messaging and says nothing of the patient: a search is neither decided nor traced
// (the sending is).
func (p *Portal) Pharmacies(ctx context.Context, name, town string) ([]DirectoryEntry, error) {
	name, town = strings.TrimSpace(name), strings.TrimSpace(town)
	if name == "" && town == "" {
		return nil, errs.E(errs.Invalid, "give part of the pharmacy's name or of its town")
	}
	return p.mail.Directory(ctx, DirectoryQuery{Organisation: name, Town: town, AcceptsPatients: true, Limit: 30})
}

// WritePharmacy sends the patient's message, with its files (a prescription's photo or PDF),
// from their mailbox (made at this first message if they never received one) to a pharmacy's.
// Decided as the use of the patient's mailbox (access.ActionSendMail) and traced; a message
// the messaging refuses is traced refused, and nothing is stored.
func (p *Portal) WritePharmacy(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64, to, subject, body string, files []File) (Receipt, error) {
	subject, err := p.checkNew(subject, body, files)
	if err != nil {
		return Receipt{}, err
	}
	addr, err := ParseAddress(strings.TrimSpace(to))
	if err != nil || addr.IsNull() {
		return Receipt{}, ErrNotPharmacy
	}
	found, err := p.mail.Directory(ctx, DirectoryQuery{Address: addr.String(), AcceptsPatients: true, Limit: 1})
	if err != nil {
		return Receipt{}, err
	}
	if len(found) == 0 {
		return Receipt{}, ErrNotPharmacy
	}
	// Decided (and traced) once the message is one that may leave: a form sent back for its
	// address leaves no "sent" on the patient's trail.
	if err := p.decide(ctx, actor, ch, patientID, access.ActionSendMail, "mailbox"); err != nil {
		return Receipt{}, err
	}
	var pt space.Patient
	if err := p.store.ViewPortal(ctx, func(tx PortalTx) error {
		var err error
		pt, err = tx.Patient(ctx, patientID)
		return err
	}); err != nil {
		return Receipt{}, err
	}
	box, err := p.mail.ownPatientMailbox(ctx, pt)
	if err != nil {
		return Receipt{}, p.traceRefused(ctx, actor, ch, access.ActionSendMail, patientID, "mailbox", err)
	}
	raw, err := Compose(Outgoing{From: box.Address, To: addr, FromName: strings.TrimSpace(pt.GivenNames + " " + pt.BirthName),
		ToName: found[0].DisplayName, Subject: subject, Body: body, Files: files, Date: p.mail.clock.Now(),
		MessageIDHostname: p.mail.cfg.Hostname})
	if err != nil {
		return Receipt{}, err
	}
	rec, err := p.submit(ctx, Sender{Mailbox: box}, addr, raw)
	return rec, p.traceRefused(ctx, actor, ch, access.ActionSendMail, patientID, "mailbox", err)
}

// ownPatientMailbox returns the patient's mailbox, made now when they never received a
// message; a space that is not open has none to write from.
func (s *Service) ownPatientMailbox(ctx context.Context, pt space.Patient) (Mailbox, error) {
	var m Mailbox
	addr := s.PatientAddress(pt.INS.Matricule)
	err := s.store.UpdateMail(ctx, func(tx Tx) error {
		sp, err := tx.Space(ctx, pt.ID)
		if err != nil {
			return err
		}
		if sp.State != space.Open {
			return spaceNotOpen(addr)
		}
		m, err = s.patientMailbox(ctx, tx, Recipient{Address: addr, PatientID: pt.ID}, s.clock.Now())
		return err
	})
	return m, err
}
