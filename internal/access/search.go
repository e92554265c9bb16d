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

// BeginSearch decides ActionSearch on the patient's record in tx. A refusal is traced in tx at
// once (the caller must commit it, as with DecideTx) and returned as d.Err(); a failure returns
// the error alone. When allowed, the caller decides each hit with Allow and ends with Finish,
// which writes the search's one trace.
func (s *Service) BeginSearch(ctx context.Context, tx DecisionTx, actor Actor, ch audit.Channel, patientID int64,
	bg *BreakGlass) (*Search, Decision, error) {
	now := s.clock.Now()
	d, p, err := s.decideWith(ctx, tx, actor, patientID, ActionSearch, Target{}, bg, now)
	if err != nil {
		return nil, Decision{}, err
	}
	e := s.entryOf(d, canonical(actor), ch, patientID, "", bg)
	if !d.Allowed {
		if _, err := tx.AppendTrace(ctx, e); err != nil {
			return nil, Decision{}, fmt.Errorf("trace %s: %w", ActionSearch, err)
		}
		return nil, d, d.Err()
	}
	in := Input{Actor: canonical(actor), Patient: p, Action: ActionList, BreakGlass: bg, Matrix: s.matrix,
		Now: now, Policy: s.policy.Policy}
	if in.Actor.Kind == audit.ActorProfessional {
		if in.Relation, err = tx.AccessRelation(ctx, patientID, in.Actor.ID); err != nil {
			return nil, Decision{}, fmt.Errorf("decide %s: %w", ActionList, err)
		}
	}
	return &Search{s: s, in: in, d: d, entry: e}, d, nil
}

// Allow decides ActionList for one hit, with the settings loaded by BeginSearch.
func (q *Search) Allow(o Object) Decision {
	in := q.in
	in.Object = o
	return Decide(in)
}

// Finish appends the search's trace to tx, naming what was shown: the number of hits and their
// references (e.g. "document/<id>"), so that the patient's trail says what this actor saw.
func (q *Search) Finish(ctx context.Context, tx DecisionTx, shown []string) error {
	e := q.entry
	e.Detail = searchDetail(e.Detail, shown)
	if _, err := tx.AppendTrace(ctx, e); err != nil {
		return fmt.Errorf("trace %s: %w", ActionSearch, err)
	}
	return nil
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
