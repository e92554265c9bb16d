package questionnaire

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
)

// Inspector finds the questionnaires attached to the messages delivered to patients
// (mail.Inspector): each attachment that is a FHIR Questionnaire in JSON is checked and kept
// for the patient and the message, its JSON in a blob (encrypted at rest). A questionnaire
// refused is the Finding's Failure, said to the sender; a retried inspection keeps nothing
// twice.
type Inspector struct {
	store Store
	blobs blob.Store
	clock clock.Clock
	log   *slog.Logger
}

// NewInspector returns the inspector.
func NewInspector(st Store, blobs blob.Store, clk clock.Clock, log *slog.Logger) (*Inspector, error) {
	if st == nil || blobs == nil || clk == nil {
		return nil, errs.E(errs.Internal, "questionnaire inspector: a store, blobs and a clock are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Inspector{store: st, blobs: blobs, clock: clk, log: log}, nil
}

var _ mail.Inspector = (*Inspector)(nil)

// InspectorName names the inspector in findings.
const InspectorName = "questionnaire"

// resourceTypeRE finds a Questionnaire's resourceType in JSON that is too deep to decode.
var resourceTypeRE = regexp.MustCompile(`"resourceType"\s*:\s*"Questionnaire"`)

// candidate reports whether an attachment may be a FHIR Questionnaire: declared FHIR JSON or
// JSON, or named .json, and saying resourceType Questionnaire.
func candidate(a mail.Attachment) bool {
	if a.Broken {
		return false
	}
	declared := strings.TrimSpace(strings.SplitN(a.Declared, ";", 2)[0])
	if declared != "application/fhir+json" && declared != "application/json" && declared != "application/json+fhir" &&
		!strings.HasSuffix(strings.ToLower(a.Name), ".json") {
		return false
	}
	b := a.Data()
	if IsQuestionnaire(b) {
		return true
	}
	// Too deep or too large to decode here: Parse says why it is refused.
	head := b[:min(len(b), 4096)]
	return bytes.HasPrefix(bytes.TrimSpace(head), []byte("{")) && resourceTypeRE.Match(head)
}

// Inspect keeps the questionnaires a delivery carries.
func (in *Inspector) Inspect(ctx context.Context, d mail.Delivered) (mail.Finding, error) {
	f := mail.Finding{Inspector: InspectorName}
	var failures []string
	for _, a := range d.View.Attachments {
		if !candidate(a) {
			continue
		}
		q, err := Parse(a.Data())
		var p *Problem
		if errors.As(err, &p) {
			failures = append(failures, p.Failure())
			continue
		}
		if err != nil {
			return mail.Finding{}, err
		}
		kept, err := in.keep(ctx, d, a, q)
		if err != nil {
			return mail.Finding{}, err
		}
		f.Processed = f.Processed || kept
	}
	if len(failures) > 0 {
		f.Failure = strings.Join(failures, " ; ")
	}
	return f, nil
}

// keep stores one questionnaire once; false when the message is no longer in the mailbox.
func (in *Inspector) keep(ctx context.Context, d mail.Delivered, a mail.Attachment, q Questionnaire) (bool, error) {
	var kept bool
	if err := in.store.ViewQuestionnaires(ctx, func(tx Tx) error {
		var err error
		kept, err = tx.QuestionnaireKept(ctx, d.Job.MessageID, d.Job.MailboxID, a.Index)
		return err
	}); err != nil {
		return false, err
	}
	if kept {
		return true, nil // a retried job: kept the first time
	}
	ref, err := in.blobs.Put(ctx, bytes.NewReader(a.Data()))
	if err != nil {
		return false, err
	}
	r := Received{PatientID: d.Job.PatientID, MailboxID: d.Job.MailboxID, MessageID: d.Job.MessageID, Attachment: a.Index,
		Sender: d.From.String(), URLHash: Digest(q.URL), Blob: ref, ReceivedAt: in.clock.Now()}
	if q.URL != "" && q.Version != "" {
		r.CanonicalHash = Digest(q.Canonical())
	}
	gone := false
	err = in.store.UpdateQuestionnaires(ctx, func(tx Tx) error {
		var err error
		r.DeliveryID, err = tx.InboxDelivery(ctx, r.MailboxID, r.MessageID)
		if errs.Is(err, errs.NotFound) {
			gone = true
			return nil
		}
		if err != nil {
			return err
		}
		// Named as the conversation names them (mail.Portal): our mailbox's name, else the
		// name the message gave, else the domain, never the address.
		switch id, name, err := tx.MailboxOf(ctx, r.Sender); {
		case errs.Is(err, errs.NotFound):
		case err != nil:
			return err
		default:
			r.SenderMailboxID, r.SenderName = id, name
		}
		if r.SenderName == "" {
			r.SenderName = d.Name
		}
		if r.SenderName == "" {
			r.SenderName = "MSSanté " + d.From.Domain
		}
		created, err := tx.AddQuestionnaire(ctx, &r)
		if err != nil || !created {
			return err
		}
		// What the job read of the patient's mailbox, and kept: traced on their chain.
		_, err = tx.AppendTrace(ctx, audit.Entry{At: r.ReceivedAt, Actor: audit.Actor{Kind: audit.ActorSystem, ID: "mail.inspect", Name: "questionnaires"},
			Channel: audit.ChannelJob, Action: "questionnaire.receive", PatientID: r.PatientID, Object: objectMessage(r.MessageID), Outcome: audit.Allowed})
		return err
	})
	if err != nil || gone {
		if derr := in.blobs.Delete(ctx, ref.ID); derr != nil {
			in.log.Warn("questionnaire blob left", "err", derr)
		}
		return false, err
	}
	return true, nil
}
