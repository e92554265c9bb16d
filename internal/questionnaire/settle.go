package questionnaire

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/mail"
)

// An answer is kept in three steps, each its own transaction: the claim (state sending), the
// reply through the messaging (which commits the message, then files the patient's Sent copy),
// and the record of the reply (state sent). A process that stops between the reply and its
// record leaves a claim that would stay "sending" for ever: the portal shows the questionnaire
// answered, the FHIR API never returns the response. Such a claim is settled when it is next
// looked at (the conversation, the form, an answer, a FHIR read or search), once it is older
// than any answer in progress could be (Deps.SettleAfter): the reply is looked for among the
// messages sent from the patient's mailbox since, by its attachment — the response's exact
// bytes, whose SHA-256 the claim holds. Found, the response is recorded as sent with that
// message; not found, the reply never left, and the claim is dropped so that the patient can
// answer again. Either way the patient's trail says so (ActionSettleResponse).
//
// The Message-ID of the reply is not what is matched: the messaging composes it at random, and
// a hash of the bytes sent says more (that this very response left, not only a reply).

// ActionSettleResponse is the trace of a response left in state sending, settled.
const ActionSettleResponse = "questionnaire_response.settle"

// The reasons of a settling: the reply had left (the response is now sent), or it had not
// (the claim is dropped, the questionnaire can be answered again).
const (
	ReasonReplyFound   = "reply_found"
	ReasonReplyMissing = "reply_missing"
)

// DefaultSettleAfter is how old a claim must be to be settled (our default): far longer than
// an answer takes to be sent (a request of the portal), so that one in progress is never taken
// for one interrupted.
const DefaultSettleAfter = 15 * time.Minute

// maxReplies bounds the messages looked at to find a reply (our default): the reply is one of
// the first the patient's mailbox sent after the claim.
const maxReplies = 50

// Reply is a message sent from a patient's mailbox, as the settling looks for the one that
// carried a response.
type Reply struct {
	MessageID int64 // mail.StoredMessage.ID
	Blob      blob.Ref
}

// stale reports whether r holds a claim to settle.
func (s *Service) stale(r Received) bool {
	st := r.Response
	return st != nil && st.State == StateSending && s.d.Clock.Now().Sub(st.AuthoredAt) >= s.d.SettleAfter
}

// settle settles r's response when it is a stale claim, and returns r as it is then. ch is the
// channel of the request that looked at it; the actor of the trace is carnet itself.
func (s *Service) settle(ctx context.Context, ch audit.Channel, r Received) (Received, error) {
	if !s.stale(r) {
		return r, nil
	}
	st := *r.Response
	found, err := s.findReply(ctx, r)
	if err != nil {
		// Nothing is decided on what could not be read: the claim stays, for the next look.
		s.d.Log.Warn("questionnaire response not settled", "response", st.ID, "err", err)
		return r, nil
	}
	err = s.d.Store.UpdateQuestionnaires(ctx, func(tx Tx) error {
		cur, err := tx.Questionnaire(ctx, r.ID)
		if err != nil {
			return err
		}
		r = cur
		if cur.Response == nil || cur.Response.ID != st.ID || cur.Response.State != StateSending {
			return nil // settled meanwhile, or recorded by the answer itself
		}
		now := s.d.Clock.Now()
		e := audit.Entry{At: now, Actor: audit.System("questionnaire.settle"), Channel: ch, Action: ActionSettleResponse,
			PatientID: r.PatientID, Object: ObjectResponse(st.ID), Outcome: audit.Allowed}
		if found != 0 {
			if err := tx.ResponseSent(ctx, st.ID, found); err != nil {
				return err
			}
			e.Reason = ReasonReplyFound
			r.Response.State, r.Response.SentMessageID = StateSent, found
		} else {
			dropped, err := tx.DropResponse(ctx, st.ID, now)
			if err != nil || !dropped {
				return err // !dropped: recorded sent meanwhile, by the answer itself
			}
			e.Reason = ReasonReplyMissing
			r.Response = nil
		}
		_, err = tx.AppendTrace(ctx, e)
		return err
	})
	return r, err
}

// findReply returns the message that carried r's response, 0 when none did. It looks at the
// messages of the patient's Sent folder since a little before the claim (a window as long as
// the grace, for the clocks of the nodes), and, when the professional's mailbox is ours, at
// those it received from the patient: the acceptance of the reply files it there in the
// transaction that commits it, before the Sent copy, which a stop can miss (in any of its
// folders: its owner may have moved it since).
func (s *Service) findReply(ctx context.Context, r Received) (int64, error) {
	var replies []Reply
	since := r.Response.AuthoredAt.Add(-s.d.SettleAfter)
	if err := s.d.Store.ViewQuestionnaires(ctx, func(tx Tx) error {
		var err error
		replies, err = tx.RepliesSince(ctx, r.MailboxID, r.SenderMailboxID, since, maxReplies)
		return err
	}); err != nil {
		return 0, err
	}
	for _, rep := range replies {
		ok, err := s.carries(ctx, rep, r.Response.Blob.SHA256)
		if err != nil {
			return 0, err
		}
		if ok {
			return rep.MessageID, nil
		}
	}
	return 0, nil
}

// carries reports whether the message attaches a QuestionnaireResponse whose bytes hash to
// sum (hex SHA-256).
func (s *Service) carries(ctx context.Context, rep Reply, sum string) (bool, error) {
	rc, err := s.d.MailBlobs.Open(ctx, rep.Blob)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	v, err := mail.ParseView(rc)
	if err != nil {
		return false, nil // not a message the portal wrote
	}
	for _, a := range v.Attachments {
		if a.Broken || a.Name != mail.ResponseFileName || !strings.HasPrefix(a.Declared, mail.ResponseMimeType) {
			continue
		}
		h := sha256.Sum256(a.Data())
		if hex.EncodeToString(h[:]) == sum {
			return true, nil
		}
	}
	return false, nil
}
