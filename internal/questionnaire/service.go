package questionnaire

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/space"
)

// Received is a questionnaire kept for a patient, from one attachment of one delivery.
type Received struct {
	ID              int64
	PatientID       int64
	MailboxID       int64 // the patient's
	MessageID       int64 // the stored message (mail.StoredMessage.ID)
	DeliveryID      int64 // the delivery in the patient's INBOX: how the pages name the message
	Attachment      int
	Sender          string // the From address
	SenderName      string // the sender as the patient sees them (never the address)
	SenderMailboxID int64  // the sender's mailbox when it is one of ours, else 0
	// URLHash and CanonicalHash are the digests (Digest) of the questionnaire's url and of
	// url|version: what the FHIR search by questionnaire matches. The url itself, the title,
	// everything the questionnaire says is in its blob only.
	URLHash, CanonicalHash string
	Blob                   blob.Ref
	ReceivedAt             time.Time
	Response               *Stored // nil until answered
}

// Stored is a response kept.
type Stored struct {
	ID              int64
	QuestionnaireID int64
	PatientID       int64
	State           string // StateSending, StateSent
	SentMessageID   int64
	Blob            blob.Ref
	AuthoredAt      time.Time
}

// The states of a response: claimed before the reply leaves, sent once it did. A claim a
// stop left behind is settled to one or the other (settle.go).
const (
	StateSending = "sending"
	StateSent    = "sent"
)

// Query selects the responses a professional reads through the FHIR API. SenderMailboxes
// are the mailboxes the reader may read for (their PER mailboxes, the ORG ones they are a
// member of): only responses to questionnaires sent from one of them are found.
type Query struct {
	SenderMailboxes []int64
	ID              int64  // one response; 0 for any
	PatientID       int64  // 0 for any
	Questionnaire   string // Digest of a canonical url, with or without |version; "" for any
	// State is the responses' state: StateSent when "" (what the API serves); StateSending
	// finds the claims to settle (settle.go).
	State string
	Limit int
}

// Found is a response with its questionnaire, as a search finds it.
type Found struct {
	Questionnaire Received
	Response      Stored
}

// Tx is what the questionnaires need of a store transaction.
type Tx interface {
	AppendTrace(ctx context.Context, e audit.Entry) (audit.Trace, error)
	// QuestionnaireKept reports whether the attachment of the delivery was kept already.
	QuestionnaireKept(ctx context.Context, messageID, mailboxID int64, attachment int) (bool, error)
	// AddQuestionnaire keeps a questionnaire, setting r.ID; when the attachment was kept
	// already it returns false and queues r.Blob for the garbage job.
	AddQuestionnaire(ctx context.Context, r *Received) (bool, error)
	// InboxDelivery is the delivery of the message in the mailbox's INBOX; NotFound when gone.
	InboxDelivery(ctx context.Context, mailboxID, messageID int64) (int64, error)
	// MailboxOf is the id and display name of one of our mailboxes by address; NotFound
	// when none.
	MailboxOf(ctx context.Context, address string) (int64, string, error)
	// Questionnaire returns a kept questionnaire with its response; NotFound when none.
	Questionnaire(ctx context.Context, id int64) (Received, error)
	// QuestionnairesOf lists the questionnaires of deliveries of the patient's mailbox.
	QuestionnairesOf(ctx context.Context, patientID int64, deliveryIDs []int64) ([]Received, error)
	// ClaimResponse keeps a response in state sending, setting s.ID; Conflict when the
	// questionnaire has one.
	ClaimResponse(ctx context.Context, s *Stored) error
	// ResponseSent records the message that carried the response.
	ResponseSent(ctx context.Context, id, messageID int64) error
	// DropResponse removes a claim (state sending) whose reply was refused or never left, its
	// blob queued for the garbage job; false, and nothing changed, when it is no longer a claim.
	DropResponse(ctx context.Context, id int64, now time.Time) (bool, error)
	// ReaderMailboxes are the mailboxes a professional reads for: their PER mailboxes and
	// the ORG mailboxes they are a member of.
	ReaderMailboxes(ctx context.Context, idnat string) ([]int64, error)
	// Responses finds responses in q.State.
	Responses(ctx context.Context, q Query) ([]Found, error)
	// RepliesSince lists, oldest first and at most limit, the messages filed since in the
	// Sent folder of the patient's mailbox, and those the sender's mailbox (0: not ours)
	// received from the patient's address since, in any of its folders (settle.go).
	RepliesSince(ctx context.Context, patientMailboxID, senderMailboxID int64, since time.Time, limit int) ([]Reply, error)
	Patient(ctx context.Context, id int64) (space.Patient, error)
}

// Store opens the questionnaires' transactions.
type Store interface {
	UpdateQuestionnaires(ctx context.Context, fn func(Tx) error) error
	ViewQuestionnaires(ctx context.Context, fn func(Tx) error) error
}

// Decider takes the access decisions and commits their traces (access.Service).
type Decider interface {
	Decide(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64, action access.Action,
		target access.Target, bg *access.BreakGlass) (access.Decision, error)
}

// Replier sends a response back as the patient's reply (mail.Portal): the rules of the
// messaging apply (a professional who wrote first, not after [FIN]), decided and traced.
type Replier interface {
	ReplyWithResponse(ctx context.Context, actor access.Actor, ch audit.Channel, deliveryID int64, body string, response []byte) (mail.Receipt, error)
	// ReplyState decides the read of the message (traced) and says whether it can be answered.
	ReplyState(ctx context.Context, actor access.Actor, ch audit.Channel, deliveryID int64) (mail.ReplyState, error)
}

// Deps are what the service needs.
type Deps struct {
	Store  Store
	Blobs  blob.Store
	Access Decider
	Mail   Replier
	Clock  clock.Clock
	// MailBlobs holds the messages (the mail service's blob store), which the settling of an
	// interrupted answer reads (settle.go); Blobs when nil, as in `carnet serve`.
	MailBlobs blob.Store
	// SettleAfter is how old a response left sending is settled (DefaultSettleAfter when 0).
	SettleAfter time.Duration
	// Location of the dates and times patients type (Europe/Paris when nil).
	Location *time.Location
	Log      *slog.Logger
}

// Service serves the questionnaires in the portal and the responses to their senders.
type Service struct {
	d Deps
}

// NewService returns the service.
func NewService(d Deps) (*Service, error) {
	if d.Store == nil || d.Blobs == nil || d.Access == nil || d.Mail == nil || d.Clock == nil {
		return nil, errs.E(errs.Internal, "questionnaire: a store, blobs, the access decision, the mail portal and a clock are required")
	}
	if d.Location == nil {
		d.Location = paris()
	}
	if d.MailBlobs == nil {
		d.MailBlobs = d.Blobs
	}
	if d.SettleAfter <= 0 {
		d.SettleAfter = DefaultSettleAfter
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d}, nil
}

func paris() *time.Location {
	if l, err := time.LoadLocation("Europe/Paris"); err == nil {
		return l
	}
	return time.UTC
}

// Location is where the dates typed in the forms are.
func (s *Service) Location() *time.Location { return s.d.Location }

// The refusals of the portal's questionnaires, one value each, so that the pages say them in
// the reader's language.
var (
	ErrAnswered = errs.E(errs.Conflict, "this questionnaire was answered already")
	ErrNotReady = errs.E(errs.Unavailable, "this questionnaire cannot be read now")
)

// Digest is what the store keeps of a questionnaire's url or canonical: hex SHA-256, "" for "".
func Digest(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func objectMessage(id int64) string { return "message/" + strconv.FormatInt(id, 10) }

// ObjectResponse names a response in the traces and in the FHIR API.
func ObjectResponse(id int64) string { return "QuestionnaireResponse/" + strconv.FormatInt(id, 10) }

// decide asks the access decision, which traces; a refusal is answered as absent, as the
// messages are, so that a page reveals nothing of another's mailbox.
func (s *Service) decide(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64, action access.Action, ref string) error {
	_, err := s.d.Access.Decide(ctx, actor, ch, patientID, action, access.Target{Ref: ref}, nil)
	if err != nil && (errs.Is(err, errs.Forbidden) || access.RefusalOf(err) != "") {
		return errs.E(errs.NotFound, "no such questionnaire")
	}
	return err
}

// Offer is a questionnaire as a conversation shows it.
type Offer struct {
	ID         int64
	DeliveryID int64
	Title      string
	Answered   bool
}

// Offered lists the questionnaires carried by messages of the patient's mailbox (the
// deliveries of a conversation), decided and traced as a read of the mailbox.
func (s *Service) Offered(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64, deliveryIDs []int64) ([]Offer, error) {
	if len(deliveryIDs) == 0 {
		return nil, nil
	}
	if err := s.decide(ctx, actor, ch, patientID, access.ActionReadMail, "mailbox"); err != nil {
		return nil, err
	}
	var rs []Received
	err := s.d.Store.ViewQuestionnaires(ctx, func(tx Tx) error {
		var err error
		rs, err = tx.QuestionnairesOf(ctx, patientID, deliveryIDs)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Offer, 0, len(rs))
	for _, r := range rs {
		if r, err = s.settle(ctx, ch, r); err != nil {
			return nil, err
		}
		// The title is in the questionnaire's blob, not in the database (health content).
		o := Offer{ID: r.ID, DeliveryID: r.DeliveryID, Answered: r.Response != nil}
		b, err := s.read(ctx, r.Blob)
		if err != nil {
			return nil, err
		}
		if q, err := Parse(b); err == nil {
			o.Title = q.DisplayTitle()
		}
		out = append(out, o)
	}
	return out, nil
}

// Form is a questionnaire to fill, or answered.
type Form struct {
	Received      Received
	Questionnaire Questionnaire
	Response      *Response // the answer given, nil until answered
	// Reply says whether the message that carried it can still be answered ([FIN], no-reply).
	Reply mail.ReplyState
}

// Answerable reports whether the form can be sent: not answered, and a reply the messaging
// would accept.
func (f Form) Answerable() bool { return f.Response == nil && !f.Reply.Ended && !f.Reply.NoReply }

// Form returns the questionnaire id of the actor's patient's mailbox, with its answer when
// it was answered; the read is decided and traced as a read of the message that carried it
// (the message must still be in the mailbox).
func (s *Service) Form(ctx context.Context, actor access.Actor, ch audit.Channel, id int64) (Form, error) {
	r, err := s.received(ctx, id)
	if err != nil {
		return Form{}, err
	}
	st, err := s.d.Mail.ReplyState(ctx, actor, ch, r.DeliveryID)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			err = errs.E(errs.NotFound, "no such questionnaire")
		}
		return Form{}, err
	}
	// Shown after the decision: who may not read it settles nothing.
	if r, err = s.settle(ctx, ch, r); err != nil {
		return Form{}, err
	}
	f, err := s.form(ctx, r)
	f.Reply = st
	return f, err
}

func (s *Service) received(ctx context.Context, id int64) (Received, error) {
	var r Received
	err := s.d.Store.ViewQuestionnaires(ctx, func(tx Tx) error {
		var err error
		r, err = tx.Questionnaire(ctx, id)
		return err
	})
	return r, err
}

func (s *Service) form(ctx context.Context, r Received) (Form, error) {
	b, err := s.read(ctx, r.Blob)
	if err != nil {
		return Form{}, err
	}
	q, err := Parse(b)
	if err != nil {
		// It was checked when kept: what is stored no longer reads.
		return Form{}, errors.Join(ErrNotReady, err)
	}
	f := Form{Received: r, Questionnaire: q}
	if r.Response != nil {
		b, err := s.read(ctx, r.Response.Blob)
		if err != nil {
			return Form{}, err
		}
		resp, err := ParseResponse(b)
		if err != nil {
			return Form{}, errors.Join(ErrNotReady, err)
		}
		f.Response = &resp
	}
	return f, nil
}

// read reads a blob to its end (its digest is checked there), bounded.
func (s *Service) read(ctx context.Context, ref blob.Ref) ([]byte, error) {
	rc, err := s.d.Blobs.Open(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 4*MaxBytes+1))
}

// Answer checks the answers against the questionnaire, builds the QuestionnaireResponse and
// sends it back to the sender as the patient's reply in the conversation, the response
// attached (application/fhir+json). A questionnaire is answered once: a second answer is
// ErrAnswered. Wrong answers are FieldErrors, by linkId; a reply the messaging refuses ([FIN],
// a no-reply sender) is its *mail.Refusal, and nothing is kept.
func (s *Service) Answer(ctx context.Context, actor access.Actor, ch audit.Channel, id int64, a Answers) (Response, error) {
	r, err := s.received(ctx, id)
	if err != nil {
		return Response{}, err
	}
	// Answering is writing from the patient's mailbox: the decision of a reply.
	if err := s.decide(ctx, actor, ch, r.PatientID, access.ActionSendMail, objectMessage(r.MessageID)); err != nil {
		return Response{}, err
	}
	// An interrupted answer that never left can be given again; one that left is the answer.
	if r, err = s.settle(ctx, ch, r); err != nil {
		return Response{}, err
	}
	if r.Response != nil {
		return Response{}, ErrAnswered
	}
	f, err := s.form(ctx, r)
	if err != nil {
		return Response{}, err
	}
	items, err := Build(f.Questionnaire, a, s.d.Location)
	if err != nil {
		return Response{}, err
	}
	var pt space.Patient
	if err := s.d.Store.ViewQuestionnaires(ctx, func(tx Tx) error {
		var err error
		pt, err = tx.Patient(ctx, r.PatientID)
		return err
	}); err != nil {
		return Response{}, err
	}
	now := s.d.Clock.Now()
	resp := Response{ResourceType: "QuestionnaireResponse", Questionnaire: f.Questionnaire.Canonical(), Status: "completed",
		Subject: SubjectOf(r.PatientID, pt), Authored: now.UTC().Format(time.RFC3339), Item: items}
	if resp.Questionnaire == "" && f.Questionnaire.ID != "" {
		resp.Questionnaire = "Questionnaire/" + f.Questionnaire.ID
	}
	if actor.Kind == audit.ActorPatient {
		resp.Author = resp.Subject
	}
	raw, err := json.Marshal(resp)
	if err != nil {
		return Response{}, err
	}
	ref, err := s.d.Blobs.Put(ctx, bytes.NewReader(raw))
	if err != nil {
		return Response{}, err
	}
	st := Stored{QuestionnaireID: r.ID, PatientID: r.PatientID, State: StateSending, Blob: ref, AuthoredAt: now}
	// The claim before the reply: two submissions of the form send one answer.
	if err := s.d.Store.UpdateQuestionnaires(ctx, func(tx Tx) error { return tx.ClaimResponse(ctx, &st) }); err != nil {
		if errs.Is(err, errs.Conflict) {
			err = ErrAnswered
		}
		if derr := s.d.Blobs.Delete(ctx, ref.ID); derr != nil {
			s.d.Log.Warn("questionnaire response blob left", "err", derr)
		}
		return Response{}, err
	}
	rec, err := s.d.Mail.ReplyWithResponse(ctx, actor, ch, r.DeliveryID, replyText(f.Questionnaire), raw)
	if err != nil {
		if derr := s.d.Store.UpdateQuestionnaires(ctx, func(tx Tx) error {
			_, err := tx.DropResponse(ctx, st.ID, s.d.Clock.Now())
			return err
		}); derr != nil {
			err = errors.Join(err, derr)
		}
		return Response{}, err
	}
	if err := s.d.Store.UpdateQuestionnaires(ctx, func(tx Tx) error { return tx.ResponseSent(ctx, st.ID, rec.MessageID) }); err != nil {
		// The answer left: only its record as sent is missing; the claim keeps it answered.
		s.d.Log.Error("questionnaire response sent but not recorded", "response", st.ID, "err", err)
	}
	resp.ID = strconv.FormatInt(st.ID, 10)
	return resp, nil
}

// replyText is the text of the reply that carries a response: what it is, in French (the
// reply goes to a French professional's mail client), without any answer in it.
func replyText(q Questionnaire) string {
	t := q.DisplayTitle()
	if t == "" {
		return "Réponse au questionnaire, jointe (QuestionnaireResponse FHIR)."
	}
	return "Réponse au questionnaire « " + t + " », jointe (QuestionnaireResponse FHIR)."
}

// SubjectOf names the patient in a response: their carnet Patient, their INS, their name.
func SubjectOf(patientID int64, pt space.Patient) *Reference {
	system, value := pt.INS.FHIR()
	return &Reference{Reference: "Patient/" + strconv.FormatInt(patientID, 10), Type: "Patient",
		Identifier: &Identifier{System: system, Value: value},
		Display:    strings.TrimSpace(pt.GivenNames + " " + pt.BirthName)}
}
