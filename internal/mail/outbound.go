package mail

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

// OutboundState is where a queued delivery stands.
type OutboundState string

const (
	OutboundQueued  OutboundState = "queued"  // recipients still pending
	OutboundSent    OutboundState = "sent"    // every recipient accepted by the destination
	OutboundBounced OutboundState = "bounced" // done, some failed: the sender got a DSN
)

// Failure is a recipient the destination refused, or that could not be reached in time.
type Failure struct {
	Recipient  string
	Status     string // enhanced status code (RFC 3463), e.g. 5.1.1
	Diagnostic string // the destination's reply, "smtp; 550 5.1.1 …", or what went wrong
	RemoteMTA  string // the host that answered, if any
}

// Outbound is the delivery of one submitted message to one other operator's domain.
type Outbound struct {
	ID         int64
	MessageRef int64
	Domain     string
	Sender     string // the local mailbox that gets the bounce
	Pending    []string
	Failed     []Failure
	State      OutboundState
	Attempts   int
	LastError  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Delivery is what an outbound worker needs for one attempt.
type Delivery struct {
	Outbound Outbound
	Message  StoredMessage
}

// LoadDelivery returns a queued delivery; Conflict when it is no longer queued (a retried job
// whose work was done).
func (s *Service) LoadDelivery(ctx context.Context, id int64) (Delivery, error) {
	var d Delivery
	err := s.store.ViewMail(ctx, func(tx Tx) error {
		o, err := tx.Outbound(ctx, id)
		if err != nil {
			return err
		}
		if o.State != OutboundQueued {
			return errs.E(errs.Conflict, "outbound delivery %d is already %s", id, o.State)
		}
		m, err := tx.StoredMessage(ctx, o.MessageRef)
		d = Delivery{Outbound: o, Message: m}
		return err
	})
	return d, err
}

// OpenMessage returns a reader of a stored message's bytes (decrypted, checked at the end).
func (s *Service) OpenMessage(ctx context.Context, m StoredMessage) (io.ReadCloser, error) {
	return s.blobs.Open(ctx, m.Blob)
}

// Attempt is the outcome of one delivery attempt.
type Attempt struct {
	Delivered []string  // accepted by the destination
	Failed    []Failure // refused for good
	// Temporary says why the recipients neither delivered nor failed are still pending.
	Temporary string
	RemoteMTA string
}

// RecordAttempt records an attempt on delivery id. When no recipient is left pending, or when
// final (the queue's last attempt: the pending ones fail with 5.4.7, delivery time expired),
// the delivery is over, and if any recipient failed the sender gets a delivery status
// notification (RFC 3464) in their mailbox, in the transaction that closes the delivery, so
// that it is sent once. It returns whether the delivery is over.
func (s *Service) RecordAttempt(ctx context.Context, id int64, a Attempt, final bool) (bool, error) {
	now := s.clock.Now()
	var (
		o   Outbound
		msg StoredMessage
	)
	if err := s.store.ViewMail(ctx, func(tx Tx) error {
		var err error
		if o, err = tx.Outbound(ctx, id); err != nil {
			return err
		}
		msg, err = tx.StoredMessage(ctx, o.MessageRef)
		return err
	}); err != nil {
		return false, err
	}
	if o.State != OutboundQueued {
		return true, nil
	}
	apply(&o, a, final, now)
	var dsn []byte
	if o.State == OutboundBounced {
		var err error
		if dsn, err = s.composeBounce(ctx, o, msg, now); err != nil {
			return false, err
		}
	}
	var bounce *StoredMessage
	if dsn != nil {
		ref, err := s.blobs.Put(ctx, bytes.NewReader(dsn))
		if err != nil {
			return false, err
		}
		bounce = &StoredMessage{Channel: System, HeaderFrom: s.mailerDaemon().String(), MessageID: dsnMessageID(o, s.cfg.Hostname),
			Blob: ref, ReceivedAt: now}
	}
	err := s.store.UpdateMail(ctx, func(tx Tx) error {
		cur, err := tx.Outbound(ctx, id) // locked: another worker may have closed it meanwhile
		if err != nil {
			return err
		}
		if cur.State != OutboundQueued {
			return errAlreadyClosed
		}
		if err := tx.SaveOutbound(ctx, o); err != nil {
			return err
		}
		if bounce == nil {
			return nil
		}
		m, err := tx.MailboxByAddress(ctx, o.Sender)
		if errs.Is(err, errs.NotFound) {
			s.log.Warn("bounce dropped: the sender's mailbox is gone", "outbound", o.ID)
			return nil
		}
		if err != nil {
			return err
		}
		if err := tx.InsertMessage(ctx, bounce); err != nil {
			return err
		}
		_, err = tx.Deliver(ctx, m.ID, "INBOX", bounce.ID, bounce.Blob.Size, now)
		return err
	})
	if err == errAlreadyClosed {
		err = nil
	}
	if err != nil && bounce != nil {
		_ = s.blobs.Delete(context.WithoutCancel(ctx), bounce.Blob.ID)
	}
	return o.State != OutboundQueued, err
}

var errAlreadyClosed = errs.E(errs.Conflict, "the delivery was closed meanwhile")

// apply folds an attempt into the delivery.
func apply(o *Outbound, a Attempt, final bool, now time.Time) {
	done := map[string]bool{}
	for _, r := range a.Delivered {
		done[r] = true
	}
	for _, f := range a.Failed {
		if slices.Contains(o.Pending, f.Recipient) && !done[f.Recipient] {
			done[f.Recipient] = true
			o.Failed = append(o.Failed, f)
		}
	}
	o.Pending = slices.DeleteFunc(o.Pending, func(r string) bool { return done[r] })
	o.Attempts++
	o.LastError, o.UpdatedAt = bounded(a.Temporary, 500), now
	if final {
		for _, r := range o.Pending {
			diag := a.Temporary
			if diag == "" {
				diag = "delivery time expired"
			}
			o.Failed = append(o.Failed, Failure{Recipient: r, Status: "5.4.7", Diagnostic: diag, RemoteMTA: a.RemoteMTA})
		}
		o.Pending = nil
	}
	if len(o.Pending) == 0 {
		o.State = OutboundSent
		if len(o.Failed) > 0 {
			o.State = OutboundBounced
		}
	}
}

// StaleDeliveries lists deliveries still queued and untouched for longer than age, so that
// the outbound queue can make sure each still has a job (after a job was lost, say).
func (s *Service) StaleDeliveries(ctx context.Context, age time.Duration, limit int) ([]int64, error) {
	var ids []int64
	err := s.store.ViewMail(ctx, func(tx Tx) error {
		var err error
		ids, err = tx.QueuedOutbound(ctx, s.clock.Now().Add(-age), limit)
		return err
	})
	return ids, err
}

func (s *Service) mailerDaemon() Address {
	return Address{Local: "mailer-daemon", Domain: s.cfg.Domain}
}

func dsnMessageID(o Outbound, host string) string {
	return "<dsn." + strconv.FormatInt(o.ID, 10) + "." + strconv.FormatInt(o.MessageRef, 10) + "@" + host + ">"
}
