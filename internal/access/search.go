package access

import (
	"context"
	"fmt"
	"strings"

	"github.com/carnet-sante/carnet/internal/audit"
)

// Search is one search of a patient's record in progress: the record-wide decision taken, and
// the patient's settings and the actor's relation loaded once, so that each hit is decided
// (ActionList) without another round trip. It lives inside the caller's transaction.
type Search struct {
	s     *Service
	in    Input
	d     Decision
	entry audit.Entry
}

// BeginSearch decides ActionSearch on the patient's record in tx, which may be a read-only
// transaction. It writes nothing: the caller appends Entry (refused or allowed, with what was
// shown) in a write transaction, and shows nothing unless that commits. A refusal returns the
// search (for its Entry), the decision and d.Err(); a failure the error alone.
func (s *Service) BeginSearch(ctx context.Context, tx SettingsReader, actor Actor, ch audit.Channel, patientID int64,
	bg *BreakGlass) (*Search, Decision, error) {
	now := s.clock.Now()
	d, p, err := s.decideWith(ctx, tx, actor, patientID, ActionSearch, Target{}, bg, now)
	if err != nil {
		return nil, Decision{}, err
	}
	q := &Search{s: s, d: d, entry: s.entryOf(d, canonical(actor), ch, patientID, "", bg)}
	if !d.Allowed {
		return q, d, d.Err()
	}
	q.in = Input{Actor: canonical(actor), Patient: p, Action: ActionList, BreakGlass: bg, Matrix: s.matrix,
		Now: now, Policy: s.policy.Policy}
	if q.in.Actor.Kind == audit.ActorProfessional {
		if q.in.Relation, err = tx.AccessRelation(ctx, patientID, q.in.Actor.ID); err != nil {
			return nil, Decision{}, fmt.Errorf("decide %s: %w", ActionList, err)
		}
	}
	return q, d, nil
}

// Allow decides ActionList for one hit, with the settings loaded by BeginSearch.
func (q *Search) Allow(o Object) Decision {
	in := q.in
	in.Object = o
	return Decide(in)
}

// Entry is the search's trace, naming what was shown: the number of hits and their
// references (e.g. "document/<id>"), so that the patient's trail says what this actor saw.
func (q *Search) Entry(shown []string) audit.Entry {
	e := q.entry
	if q.d.Allowed {
		e.Detail = searchDetail(e.Detail, shown)
	}
	return e
}

// maxSearchDetail bounds the references listed in a search's trace; the count is always there.
const maxSearchDetail = 100

func searchDetail(stated string, shown []string) string {
	var b strings.Builder
	if stated != "" {
		b.WriteString(stated)
		b.WriteString("; ")
	}
	fmt.Fprintf(&b, "shown=%d", len(shown))
	for i, r := range shown {
		if i == maxSearchDetail {
			fmt.Fprintf(&b, " …+%d", len(shown)-i)
			break
		}
		b.WriteString(" ")
		b.WriteString(r)
	}
	return b.String()
}

// Export is one export of a patient's space in progress: ActionExport decided on the space,
// and what decides each document. It lives inside the caller's transaction, like Search.
type Export struct {
	in    Input
	d     Decision
	entry audit.Entry
}

// BeginExport decides ActionExport on the patient's space in tx, which may be read-only. It
// writes nothing: the caller appends Entry in a write transaction, and hands nothing out unless
// that commits. A refusal returns the export (for its Entry), the decision and d.Err(); a
// failure the error alone.
func (s *Service) BeginExport(ctx context.Context, tx SettingsReader, actor Actor, ch audit.Channel, patientID int64) (*Export, Decision, error) {
	now := s.clock.Now()
	d, p, err := s.decideWith(ctx, tx, actor, patientID, ActionExport, Target{}, nil, now)
	if err != nil {
		return nil, Decision{}, err
	}
	x := &Export{d: d, entry: s.entryOf(d, canonical(actor), ch, patientID, "", nil)}
	if a := canonical(actor); a.Kind == audit.ActorOperator {
		x.entry.Detail = "legal_request=" + strings.TrimSpace(a.LegalRequest)
	}
	if !d.Allowed {
		return x, d, d.Err()
	}
	x.in = Input{Actor: canonical(actor), Patient: p, Action: ActionList, Matrix: s.matrix, Now: now, Policy: s.policy.Policy}
	return x, d, nil
}

// Include says whether a document goes into the export. The holder takes what they may list
// (a document held back for its announcement, or one a minor keeps from their parents, stays
// out); an operator on a legal request takes everything, which the export's trace says.
func (x *Export) Include(o Object) bool {
	if !x.d.Allowed {
		return false
	}
	if x.d.Reason == ReasonLegalRequest {
		return true
	}
	in := x.in
	in.Object = o
	return Decide(in).Allowed
}

// Entry is the export's trace, with what was taken: the counts the caller states (documents,
// traces) after the legal request's reference, if any.
func (x *Export) Entry(taken string) audit.Entry {
	e := x.entry
	if x.d.Allowed && taken != "" {
		if e.Detail != "" {
			e.Detail += "; "
		}
		e.Detail += taken
	}
	return e
}
