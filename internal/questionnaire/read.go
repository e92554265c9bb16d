package questionnaire

import (
	"context"
	"slices"
	"strconv"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// The sender's reading of the responses (the FHIR API). A response is the patient's answer
// to the professional who asked: it was sent to their mailbox, and only who reads that
// mailbox reads it through the API — the owner of the PER mailbox the questionnaire came
// from, or a member of the ORG mailbox. Nobody else, whatever their ground on the record:
// a response is a correspondence, as the messages are (access.ActionReadMail is the patient's
// alone for the same reason). Every read, allowed or refused, is traced on the patient's
// chain in the transaction that reads it.
//
// Why this rule is here and not an action of internal/access: access decides on the patient's
// record and space, from the actor's ground on them (self, representative, care team,
// authorisation, habilitation matrix, médecin traitant, break-glass, blocking, oppositions).
// None of those grounds is the ground here, which is the ownership of a mailbox: the response
// is a message the patient chose to send to that mailbox, already in its INBOX and read there
// over IMAP by its owner or members, without any decision on the record (internal/mail/imapd:
// a professional's own correspondence). The FHIR read is another view of that same
// correspondence, and must give neither more nor less: an action of access would either
// answer from the record's grounds — letting a care-team colleague or a break-glass read what
// was not sent to them (weaker), or refusing to a blocked sender over FHIR what their mail
// client shows them (a refusal that protects nothing) — or merely echo the mailbox test made
// here, a second place for the same rule. The rule is therefore the mailbox's, decided once,
// here, in the transaction that reads and traces.

// ActionReadResponse is the trace's action of a response read by its sender.
const ActionReadResponse = "questionnaire_response.read"

// ReasonNotSender is the refusal of a reader who did not send the questionnaire.
const ReasonNotSender = "not_sender"

// maxFound bounds a search's results (our default).
const maxFound = 100

// ErrNotSender refuses a reader who is not the questionnaire's sender.
var ErrNotSender = errs.E(errs.Forbidden, "only the professional who sent the questionnaire (their mailbox, or an organisational mailbox they are a member of) reads its response")

// Response returns response id, with its id set, to the professional who sent its
// questionnaire.
func (s *Service) Response(ctx context.Context, actor access.Actor, ch audit.Channel, id int64) (Response, error) {
	if err := s.settleFor(ctx, actor, ch, Query{ID: id, Limit: 1}); err != nil {
		return Response{}, err
	}
	var found []Found
	var refused error
	err := s.d.Store.UpdateQuestionnaires(ctx, func(tx Tx) error {
		var err error
		found, err = tx.Responses(ctx, Query{ID: id, Limit: 1})
		if err != nil {
			return err
		}
		if len(found) == 0 {
			return errs.E(errs.NotFound, "no such QuestionnaireResponse")
		}
		f := found[0]
		e := audit.Entry{At: s.d.Clock.Now(), Actor: actor.Audit(), Channel: ch, Action: ActionReadResponse,
			PatientID: f.Response.PatientID, Object: ObjectResponse(f.Response.ID), Outcome: audit.Allowed}
		var mine []int64
		if actor.Kind == audit.ActorProfessional {
			if mine, err = tx.ReaderMailboxes(ctx, actor.ID); err != nil {
				return err
			}
		}
		if f.Questionnaire.SenderMailboxID == 0 || !slices.Contains(mine, f.Questionnaire.SenderMailboxID) {
			e.Outcome, e.Reason, refused = audit.Denied, ReasonNotSender, ErrNotSender
		}
		_, err = tx.AppendTrace(ctx, e)
		return err
	})
	if err != nil {
		return Response{}, err
	}
	if refused != nil {
		return Response{}, refused
	}
	rs, err := s.responses(ctx, found)
	if err != nil {
		return Response{}, err
	}
	return rs[0], nil
}

// Responses finds the responses to the questionnaires the professional sent (from their own
// mailboxes), of one patient (0: any) and one questionnaire (its canonical url, with or
// without |version; "": any), newest first, each read traced. Anyone but a professional is
// refused: they send no questionnaire.
func (s *Service) Responses(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64, questionnaire string, limit int) ([]Response, error) {
	if actor.Kind != audit.ActorProfessional {
		return nil, ErrNotSender
	}
	if limit <= 0 || limit > maxFound {
		limit = maxFound
	}
	if err := s.settleFor(ctx, actor, ch, Query{PatientID: patientID, Questionnaire: Digest(questionnaire), Limit: maxFound}); err != nil {
		return nil, err
	}
	var found []Found
	err := s.d.Store.UpdateQuestionnaires(ctx, func(tx Tx) error {
		mine, err := tx.ReaderMailboxes(ctx, actor.ID)
		if err != nil || len(mine) == 0 {
			return err
		}
		found, err = tx.Responses(ctx, Query{SenderMailboxes: mine, PatientID: patientID, Questionnaire: Digest(questionnaire), Limit: limit})
		if err != nil {
			return err
		}
		now := s.d.Clock.Now()
		for _, f := range found {
			if _, err := tx.AppendTrace(ctx, audit.Entry{At: now, Actor: actor.Audit(), Channel: ch, Action: ActionReadResponse,
				PatientID: f.Response.PatientID, Object: ObjectResponse(f.Response.ID), Outcome: audit.Allowed}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.responses(ctx, found)
}

// responses reads the responses found from their blobs, their ids set.
func (s *Service) responses(ctx context.Context, found []Found) ([]Response, error) {
	out := make([]Response, 0, len(found))
	for _, f := range found {
		b, err := s.read(ctx, f.Response.Blob)
		if err != nil {
			return nil, err
		}
		r, err := ParseResponse(b)
		if err != nil {
			return nil, errs.Wrap(errs.Internal, err, "stored QuestionnaireResponse %d", f.Response.ID)
		}
		r.ID = strconv.FormatInt(f.Response.ID, 10)
		out = append(out, r)
	}
	return out, nil
}

// settleFor settles the claims left sending (settle.go) among the responses q selects to the
// questionnaires the professional's mailboxes sent, so that a read after an interrupted
// answer finds the response that left. Nobody else's read settles anything.
func (s *Service) settleFor(ctx context.Context, actor access.Actor, ch audit.Channel, q Query) error {
	if actor.Kind != audit.ActorProfessional {
		return nil
	}
	var claims []Found
	if err := s.d.Store.ViewQuestionnaires(ctx, func(tx Tx) error {
		mine, err := tx.ReaderMailboxes(ctx, actor.ID)
		if err != nil || len(mine) == 0 {
			return err
		}
		q.SenderMailboxes, q.State = mine, StateSending
		claims, err = tx.Responses(ctx, q)
		return err
	}); err != nil {
		return err
	}
	for _, f := range claims {
		if _, err := s.settle(ctx, ch, f.Questionnaire); err != nil {
			return err
		}
	}
	return nil
}
