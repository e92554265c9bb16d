package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Inspection: what a message delivered into a patient's mailbox carries besides its text is
// acted on after the delivery commits, by the capabilities it concerns — an IHE XDM package
// filed into the record, an appointment taken into the agenda, a questionnaire offered in the
// portal. Accept only queues an InspectJob in the delivery's transaction (the SMTP answer does
// not wait for them); the mail queue's worker runs Service.Inspect, which reads the message
// once and hands it to each Inspector. A failure to reach a capability is retried with the
// job; what the sender got wrong is the inspector's Finding, never a retry. Once every
// inspector has had its say, a sender who asked for it gets one acknowledgement (mdn.go).

// InspectJob asks for the inspection of one delivery. It names rows only: no address, no
// content (a job's arguments are stored in clear in the queue's table).
type InspectJob struct {
	MessageID int64 `json:"message_id"`
	MailboxID int64 `json:"mailbox_id"`
	PatientID int64 `json:"patient_id"`
	// Sender is the IdNat_PS of the professional who signed in to send the message from a
	// mailbox of ours (their PER mailbox, or an ORG mailbox with their own app password): who
	// acts, whatever mailbox the message left from. "" for mail relayed by another operator
	// and for an APP mailbox's software, whose author only the message itself names.
	Sender string `json:"sender,omitempty"`
}

// Kind names the job.
func (InspectJob) Kind() string { return "mail.inspect" }

// Delivered is a message as its inspectors see it: read, decrypted and taken apart once.
type Delivered struct {
	Job     InspectJob
	Message StoredMessage
	Header  Header // the header section as received (X-MSS-*, Disposition-Notification-To…)
	View    View   // text and attachments, every attachment's bytes kept (Attachment.Data)
	From    Address
	Name    string // the From field's display name
}

// Finding is what an inspector made of a message.
type Finding struct {
	// Inspector names who looked ("xdm", "agenda"…), for logs and acknowledgements.
	Inspector string
	// Processed: the inspector acted on the message (a document filed, an event added).
	Processed bool
	// Failure, when the message carried something for this inspector that it had to refuse:
	// "code^label" (the error form of an MSSanté acknowledgement, DOMAIN.md), in French.
	Failure string
}

// Inspector acts on what a delivered message carries. Inspect is called again for the same
// delivery when the job is retried (a failure of any inspector retries all): it must be
// idempotent. It returns an error only for a failure worth retrying (a store unavailable);
// a refusal of what the message carries is a Finding. Nothing the message says may reach a log.
type Inspector interface {
	Inspect(ctx context.Context, d Delivered) (Finding, error)
}

// needsInspection says whether a message may carry something for an inspector: attachments
// (a multipart body or a non-text one) or a request for an acknowledgement. A plain text
// message, the most common kind, queues no job.
func needsInspection(h Header) bool {
	if h.Get("Disposition-Notification-To") != "" {
		return true
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true // let the parser's leniency and the inspectors decide
	}
	return mt != "text/plain" && mt != "text/html"
}

// Inspect runs the inspectors on one delivery and returns their findings. A delivery whose
// message is gone (the patient deleted it, the space was purged) has nothing to inspect.
func (s *Service) Inspect(ctx context.Context, job InspectJob) ([]Finding, error) {
	if len(s.inspectors) == 0 {
		return nil, nil
	}
	d, err := s.delivered(ctx, job)
	if errs.Is(err, errs.NotFound) {
		return nil, nil
	}
	if errs.Is(err, errs.Invalid) {
		// A message its parsers refuse (too many parts, nested too deep) will not read better
		// on a retry: nothing is inspected, and the worker says so.
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	var findings []Finding
	var failed []error
	for _, in := range s.inspectors {
		f, err := in.Inspect(ctx, d)
		if err != nil {
			failed = append(failed, fmt.Errorf("inspector %T: %w", in, err))
			continue
		}
		if f.Processed || f.Failure != "" {
			findings = append(findings, f)
		}
	}
	if len(failed) == 0 {
		// Acknowledged once everything the message carried was acted on or refused (mdn.go);
		// a failure retries the job, and the acknowledgement waits for its outcome.
		if err := s.acknowledge(ctx, d, findings); err != nil {
			failed = append(failed, fmt.Errorf("acknowledge: %w", err))
		}
	}
	return findings, errors.Join(failed...)
}

// delivered reads the message of a delivery and takes it apart, bounded by the message limit.
func (s *Service) delivered(ctx context.Context, job InspectJob) (Delivered, error) {
	var m StoredMessage
	err := s.store.ViewMail(ctx, func(tx Tx) error {
		// The patient may have deleted it since (another recipient may still hold it).
		held, err := tx.Holds(ctx, job.MailboxID, job.MessageID)
		if err != nil {
			return err
		}
		if !held {
			return errs.E(errs.NotFound, "the mailbox no longer holds the message")
		}
		m, err = tx.StoredMessage(ctx, job.MessageID)
		return err
	})
	if err != nil {
		return Delivered{}, err
	}
	rc, err := s.OpenMessage(ctx, m)
	if err != nil {
		return Delivered{}, err
	}
	defer rc.Close()
	// Read to its end, so that the blob's digest is checked before anything is used; a blob
	// longer than its row says is not this message.
	raw, err := io.ReadAll(io.LimitReader(rc, m.Blob.Size+1))
	if err != nil {
		return Delivered{}, err
	}
	if int64(len(raw)) != m.Blob.Size {
		return Delivered{}, errs.E(errs.Internal, "message %d: %d bytes stored, %d recorded", m.ID, len(raw), m.Blob.Size)
	}
	end := min(len(raw), MaxHeaderBytes)
	h, err := ParseHeader(raw[:end], end == len(raw))
	if err != nil {
		return Delivered{}, err
	}
	from, name, err := h.From()
	if err != nil {
		return Delivered{}, err
	}
	v, err := ParseViewMode(bytes.NewReader(raw), KeepAll)
	if err != nil {
		return Delivered{}, err
	}
	return Delivered{Job: job, Message: m, Header: h, View: v, From: from, Name: name}, nil
}
