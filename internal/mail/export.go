package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/space"
)

// ExportedMail is a patient's mailbox taken away with their whole space (internal/archive):
// every message of its INBOX and Sent, oldest first, summarised as the portal lists them, and
// the way to each one's bytes. Only Portal.Export makes one, after its decision.
type ExportedMail struct {
	Messages []ExportedMessage
	p        *Portal
}

// ExportedMessage is one message of an exported mailbox.
type ExportedMessage struct {
	Summary
	Folder    string // INBOX or Sent
	Seen      bool
	MessageID string // the Message-ID field, without its angle brackets; "" when none
	message   StoredMessage
}

// Open returns a reader of the i-th message's bytes, as received (RFC 5322), checked against
// their hash as it goes.
func (x *ExportedMail) Open(ctx context.Context, i int) (io.ReadCloser, error) {
	if i < 0 || i >= len(x.Messages) {
		return nil, errs.E(errs.Internal, "mail export: no message %d", i)
	}
	return x.p.mail.OpenMessage(ctx, x.Messages[i].message)
}

// Export lists the patient's mailbox for an export of their whole space. The holder, or the
// representative of a minor, takes it as they read it (access.ActionReadMail: the
// correspondence of an adult is theirs alone); an operator on a legal request takes it with
// the rest of the space (access.ActionExport). The decision is traced before anything is
// read; a refusal is returned as such (Forbidden), for the caller to leave the mailbox out. A
// patient without a mailbox yet has an empty one.
func (p *Portal) Export(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64) (*ExportedMail, error) {
	action := access.ActionReadMail
	if actor.Kind == audit.ActorOperator {
		action = access.ActionExport
	}
	if _, err := p.access.Decide(ctx, actor, ch, patientID, action, access.Target{Ref: "mailbox"}, nil); err != nil {
		if access.RefusalOf(err) != "" && !errs.Is(err, errs.Forbidden) { // a concealed refusal
			return nil, errs.Wrap(errs.Forbidden, err, "%s", errs.MessageOf(err))
		}
		return nil, err
	}
	_, items, err := p.items(ctx, patientID, math.MaxInt32) // a mailbox's quota bounds how many it holds
	if err != nil {
		return nil, err
	}
	slices.Reverse(items) // oldest first
	x := &ExportedMail{Messages: make([]ExportedMessage, len(items)), p: p}
	names := map[string]string{}
	for i, it := range items {
		x.Messages[i] = ExportedMessage{Summary: p.summary(ctx, it, names), Folder: it.Folder, Seen: it.Seen,
			MessageID: strings.Trim(strings.TrimSpace(it.Message.MessageID), "<>"), message: it.Message}
	}
	return x, nil
}

// Imported is the channel of a message brought back from a former mailbox (an export archive).
const Imported Channel = "import"

// ImportedMessage is a message of a former mailbox of the patient, as an export archive keeps
// it.
type ImportedMessage struct {
	Folder string // INBOX or Sent
	Seen   bool
	At     time.Time // when it was delivered
	Data   []byte    // RFC 5322
}

// MailImport says what an import did.
type MailImport struct {
	Imported int
	// Present counts the messages already in their folder (the same bytes): an import run
	// twice files nothing twice.
	Present int
}

// Import files messages of the patient's former mailbox into their mailbox (made if need be),
// all or none, under one access.ActionImport decision taken in the transaction that files
// them: the holder, or an operator migrating a record. A sent message must be from the
// patient's address, and the whole must fit in the mailbox's quota. Each keeps its folder,
// its date and whether it was read; it is neither inspected again nor notified, and the
// portal names its sender as the message does, marked as imported, never after a directory
// entry. Each message filed is traced. The space must be open.
func (p *Portal) Import(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64, msgs []ImportedMessage) (MailImport, error) {
	now := p.mail.clock.Now()
	var addr Address
	if err := p.store.ViewPortal(ctx, func(tx PortalTx) error {
		pt, err := tx.Patient(ctx, patientID)
		addr = p.mail.PatientAddress(pt.INS.Matricule)
		return err
	}); err != nil {
		return MailImport{}, err
	}
	stored := make([]StoredMessage, len(msgs))
	for i, m := range msgs {
		st, err := p.importable(m, addr, now)
		if err != nil {
			return MailImport{}, errs.Wrap(errs.CodeOf(err), err, "message %d: %s", i+1, errs.MessageOf(err))
		}
		stored[i] = st
	}
	// The bytes first, durable before anything refers to them; those found present, and all
	// of them on a failure, are deleted after.
	drop := func(keep func(i int) bool) {
		for i := range stored {
			if id := stored[i].Blob.ID; id != "" && !keep(i) {
				if err := p.mail.blobs.Delete(context.WithoutCancel(ctx), id); err != nil {
					p.mail.log.Error("imported message's blob not deleted", "blob", id, "err", err)
				}
			}
		}
	}
	none := func(int) bool { return false }
	for i, m := range msgs {
		ref, err := p.mail.blobs.Put(ctx, bytes.NewReader(m.Data))
		if err != nil {
			drop(none)
			return MailImport{}, fmt.Errorf("store a message's bytes: %w", err)
		}
		stored[i].Blob = ref
	}
	var (
		rep     MailImport
		filed   []bool
		refusal error
		allowed access.Decision
	)
	err := p.store.UpdatePortal(ctx, func(tx PortalTx) error {
		rep, filed, refusal = MailImport{}, make([]bool, len(msgs)), nil
		d, err := p.access.DecideTx(ctx, tx, actor, ch, patientID, access.ActionImport, access.Target{Ref: "mailbox"}, nil)
		switch {
		case err != nil && d.Reason != "":
			refusal = err // traced in tx: committed
			return nil
		case err != nil:
			return err
		}
		allowed = d
		sp, err := tx.Space(ctx, patientID)
		if err != nil {
			return err
		}
		if sp.State != space.Open {
			return spaceNotOpen(addr)
		}
		box, err := p.mail.patientMailbox(ctx, tx, Recipient{Address: addr, PatientID: patientID}, now)
		if err != nil {
			return err
		}
		used := box.UsedBytes
		for i := range stored {
			m := &stored[i]
			present, err := tx.HoldsContent(ctx, box.ID, msgs[i].Folder, m.Blob.SHA256)
			if err != nil {
				return err
			}
			if present {
				rep.Present++
				continue
			}
			if used += m.Blob.Size; p.mail.cfg.QuotaBytes > 0 && used > p.mail.cfg.QuotaBytes {
				return errs.E(errs.Conflict, "the messages do not fit in the mailbox <%s>: its quota is %d bytes", addr, p.mail.cfg.QuotaBytes)
			}
			if err := tx.InsertMessage(ctx, m); err != nil {
				return err
			}
			uid, err := tx.Deliver(ctx, box.ID, msgs[i].Folder, m.ID, m.Blob.Size, m.ReceivedAt)
			if err != nil {
				return err
			}
			if msgs[i].Seen {
				if err := tx.FlagDelivery(ctx, box.ID, msgs[i].Folder, uid, []string{`\Seen`}); err != nil {
					return err
				}
			}
			if _, err := tx.AppendTrace(ctx, d.TraceEntry(actor.Audit(), ch, patientID, objectMessage(m.ID))); err != nil {
				return err
			}
			filed[i] = true
			rep.Imported++
		}
		return nil
	})
	switch {
	case err == nil && refusal != nil:
		drop(none)
		return MailImport{}, refusal
	case err != nil:
		drop(none)
		if allowed.Allowed { // the decision's trace went with the transaction: say why it failed
			e := allowed.TraceEntry(actor.Audit(), ch, patientID, "mailbox")
			e.Outcome, e.Reason = audit.Failure(err)
			if terr := p.store.UpdatePortal(context.WithoutCancel(ctx), func(tx PortalTx) error {
				_, err := tx.AppendTrace(ctx, e)
				return err
			}); terr != nil {
				err = errors.Join(err, terr)
			}
		}
		return MailImport{}, err
	}
	drop(func(i int) bool { return filed[i] })
	return rep, nil
}

// importable checks a message brought from a former mailbox: a folder the patient's mailbox
// has, a date, bytes within the message limit whose header can be read.
func (p *Portal) importable(m ImportedMessage, patient Address, now time.Time) (StoredMessage, error) {
	switch {
	case m.Folder != "INBOX" && m.Folder != "Sent":
		return StoredMessage{}, errs.E(errs.Invalid, "the folder %q is not one of a patient's mailbox (INBOX, Sent)", m.Folder)
	case len(m.Data) == 0:
		return StoredMessage{}, errs.E(errs.Invalid, "the message is empty")
	case int64(len(m.Data)) > p.mail.cfg.MaxMessageBytes:
		return StoredMessage{}, errs.E(errs.Invalid, "the message is larger than %d bytes", p.mail.cfg.MaxMessageBytes)
	case m.At.IsZero() || m.At.After(now.Add(time.Hour)):
		return StoredMessage{}, errs.E(errs.Invalid, "the message's delivery date is missing or in the future")
	}
	head := headerOf(m.Data)
	if len(head) > MaxHeaderBytes {
		return StoredMessage{}, errs.E(errs.Invalid, "the message's header is larger than %d bytes", MaxHeaderBytes)
	}
	h, err := ParseHeader(head, true)
	if err != nil {
		return StoredMessage{}, errs.E(errs.Invalid, "the message's header cannot be read: %s", errs.MessageOf(err))
	}
	st := StoredMessage{Channel: Imported, ReceivedAt: m.At.UTC(), MessageID: bounded(h.Get("Message-Id"), 250)}
	from, _, err := h.From()
	if err == nil {
		st.HeaderFrom = from.String()
	}
	// A received message need not name the patient (Bcc, undisclosed recipients): it is in
	// the former INBOX, and the portal says it is imported, never vouching for its sender. A
	// sent one was the patient's own submission, from their address.
	if m.Folder == "Sent" && (err != nil || from != patient) {
		return StoredMessage{}, errs.E(errs.Invalid, "a sent message is not from this patient's address <%s>", patient)
	}
	return st, nil
}
