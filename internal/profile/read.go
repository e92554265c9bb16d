package profile

import (
	"context"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Get returns the current version of an item, after an ActionRead decision on it (traced). A
// deleted item, or one hidden from the actor, is NotFound.
func (s *Service) Get(ctx context.Context, r Request, id string) (Item, error) {
	cur, err := s.lookup(ctx, id)
	if err != nil {
		return Item{}, err
	}
	var got Item
	err = s.read(ctx, r, cur.PatientID, access.Target{Ref: cur.Ref(), Object: cur.Object()}, func(tx Tx) error {
		it, err := tx.ProfileItem(ctx, id)
		if err != nil {
			return err
		}
		if it.Status == Deleted {
			return errs.E(errs.NotFound, "this profile item was deleted")
		}
		got = it
		return nil
	})
	return got, err
}

// History returns every version of an item, oldest first: who wrote or changed what and
// when. Decided as reading the item (its current version).
func (s *Service) History(ctx context.Context, r Request, id string) ([]Item, error) {
	cur, err := s.lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []Item
	err = s.read(ctx, r, cur.PatientID, access.Target{Ref: cur.Ref(), Object: cur.Object()}, func(tx Tx) error {
		if cur, err := tx.ProfileItem(ctx, id); err != nil {
			return err
		} else if cur.Status == Deleted {
			return errs.E(errs.NotFound, "this profile item was deleted")
		}
		var err error
		out, err = tx.ProfileItemVersions(ctx, id)
		return err
	})
	return out, err
}

// read decides the reading of one item in a read-only snapshot and, when allowed, runs fn in
// it; then it writes the decision's trace (allowed, refused, or allowed but failed) in a write
// transaction, and returns nothing read unless that trace committed (the record's shape).
func (s *Service) read(ctx context.Context, r Request, patientID int64, target access.Target, fn func(Tx) error) error {
	var (
		d    access.Decision
		e    audit.Entry
		ferr error
	)
	err := s.store.ViewProfile(ctx, func(tx Tx) error {
		var err error
		if d, e, err = s.access.DecideRead(ctx, tx, r.Actor, r.Channel, patientID, access.ActionRead, target, r.BreakGlass); err != nil {
			return err
		}
		if d.Allowed {
			ferr = fn(tx)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ferr != nil {
		e.Outcome, e.Reason = audit.Failure(ferr)
	}
	if err := s.store.UpdateProfile(ctx, func(tx Tx) error {
		if _, err := tx.AppendTrace(ctx, e); err != nil {
			return err
		}
		return access.Tell(ctx, tx, r.Actor, patientID, d, true, s.clock.Now())
	}); err != nil {
		return fmt.Errorf("trace %s: %w", access.ActionRead, err)
	}
	if !d.Allowed {
		return d.Err()
	}
	return ferr
}

// Page is a page of items.
type Page struct {
	Items []Item
	More  bool // there are more items after this page
}

// MaxLimit bounds a page; DefaultLimit is a page's size when none is asked.
const (
	MaxLimit     = 1000
	DefaultLimit = 100
)

// List returns the patient's items that match q and that the actor may see: one ActionSearch
// decision on the record, then an ActionList decision on each item (settings loaded once), as
// the record's searches do; the search's trace names the items shown. Items the actor may not
// see (hidden from professionals, of a class their profession does not read) are left out
// without a word.
func (s *Service) List(ctx context.Context, r Request, q Query) (Page, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	q.Limit = min(q.Limit, MaxLimit)
	if err := checkQuery(q); err != nil {
		return Page{}, err
	}
	var page Page
	err := s.search(ctx, r, q.PatientID, func(ctx context.Context, tx Tx, allow func(*Item) bool) ([]Item, error) {
		var err error
		page.Items, page.More, err = visible(ctx, tx, q, allow)
		return page.Items, err
	})
	if err != nil {
		return Page{}, err
	}
	return page, nil
}

func checkQuery(q Query) error {
	for _, sec := range q.Sections {
		if !sec.Valid() {
			return errs.E(errs.Invalid, "unknown profile section %s", quoteUnit(string(sec)))
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return errs.E(errs.Invalid, "the period is empty: its start is not before its end")
	}
	return nil
}

// visible reads pages of q's items until q.Limit visible ones are found or there are no more:
// hidden items must not shorten a page. It reports whether there is a visible item after them.
func visible(ctx context.Context, tx Tx, q Query, allow func(*Item) bool) ([]Item, bool, error) {
	out := make([]Item, 0, min(q.Limit, 64))
	cq := q
	cq.Limit = max(q.Limit+1, 32)
	for {
		hits, err := tx.ProfileItems(ctx, cq)
		if err != nil {
			return nil, false, err
		}
		more := len(hits) == cq.Limit
		for i := range hits {
			if !allow(&hits[i]) {
				continue
			}
			if len(out) == q.Limit {
				return out, true, nil
			}
			out = append(out, hits[i])
		}
		if !more {
			return out, false, nil
		}
		last := hits[len(hits)-1]
		cq.AfterAt, cq.AfterID = last.At, last.ID
	}
}

// search decides ActionSearch on the patient's record in a read-only snapshot and, when
// allowed, runs fn with a filter that decides ActionList on each item; fn returns the items it
// shows. Then it traces the search, naming those items, and returns nothing unless that trace
// committed.
func (s *Service) search(ctx context.Context, r Request, patientID int64,
	fn func(ctx context.Context, tx Tx, allow func(*Item) bool) ([]Item, error)) error {
	var (
		srch  *access.Search
		d     access.Decision
		shown []string
		ferr  error
	)
	err := s.store.ViewProfile(ctx, func(tx Tx) error {
		var err error
		srch, d, err = s.access.BeginSearch(ctx, tx, r.Actor, r.Channel, patientID, r.BreakGlass)
		if err != nil {
			if srch != nil {
				return nil // refused: traced below
			}
			return err
		}
		var items []Item
		items, ferr = fn(ctx, tx, func(it *Item) bool {
			return it.PatientID == patientID && it.Status == Active && srch.Allow(it.Object()).Allowed
		})
		for i := range items {
			shown = append(shown, items[i].Ref())
		}
		return nil
	})
	if err != nil {
		return err
	}
	e := srch.Entry(shown)
	e.Object = ObjectProfile
	if ferr != nil && d.Allowed {
		e.Outcome, e.Reason = audit.Failure(ferr)
	}
	if err := s.store.UpdateProfile(ctx, func(tx Tx) error {
		if _, err := tx.AppendTrace(ctx, e); err != nil {
			return err
		}
		if ferr != nil {
			return nil
		}
		return access.Tell(ctx, tx, r.Actor, patientID, d, true, s.clock.Now())
	}); err != nil {
		return fmt.Errorf("trace the profile's reading: %w", err)
	}
	if !d.Allowed {
		return d.Err()
	}
	return ferr
}

// Point is one measurement of a series: when, its value (for a measure with components, one
// value per component, in the measure's order), and the item it comes from.
type Point struct {
	At     time.Time
	Values []float64
	Item   string
}

// Series is a measure's values over a period, oldest first, for a chart and its table.
type Series struct {
	Measure Measure
	Points  []Point
}

// MaxPoints bounds a series: a longer period is refused (Invalid), so that a chart never
// stops short without a word. Ten years of daily steps is under 4000 points.
const MaxPoints = 10000

// Series returns the measurements of code over [from, to) (zero bounds are open) that the actor
// may see, oldest first: decided and traced as a search of the profile.
func (s *Service) Series(ctx context.Context, r Request, patientID int64, code string, from, to time.Time) (Series, error) {
	ms, ok := s.measures.Get(code)
	if !ok {
		return Series{}, errs.E(errs.Invalid, "unknown measure %s", quoteUnit(code))
	}
	q := Query{PatientID: patientID, Sections: []Section{SectionMeasurements}, Codes: []string{code},
		From: from, To: to, Ascending: true, Limit: MaxPoints}
	if err := checkQuery(q); err != nil {
		return Series{}, err
	}
	out := Series{Measure: ms}
	err := s.search(ctx, r, patientID, func(ctx context.Context, tx Tx, allow func(*Item) bool) ([]Item, error) {
		items, more, err := visible(ctx, tx, q, allow)
		if err != nil {
			return nil, err
		}
		if more {
			return nil, errs.E(errs.Invalid, "the period holds more than %d measurements: ask for a shorter one", MaxPoints)
		}
		for i := range items {
			out.Points = append(out.Points, pointOf(&items[i], ms))
		}
		return items, nil
	})
	if err != nil {
		return Series{}, err
	}
	return out, nil
}

func pointOf(it *Item, ms Measure) Point {
	p := Point{At: it.Measurement.Taken, Item: it.ID}
	if len(ms.Components) == 0 {
		p.Values = []float64{it.Measurement.Value}
		return p
	}
	for _, c := range ms.Components {
		v, _ := it.Measurement.ValueOf(c.Code)
		p.Values = append(p.Values, v)
	}
	return p
}

// Latest returns the most recent measurement of each measure that the actor may see, in the
// order of the measures; a measure never taken is left out. Decided and traced as one search.
func (s *Service) Latest(ctx context.Context, r Request, patientID int64) ([]Item, error) {
	var out []Item
	err := s.search(ctx, r, patientID, func(ctx context.Context, tx Tx, allow func(*Item) bool) ([]Item, error) {
		for _, ms := range s.measures.All() {
			q := Query{PatientID: patientID, Sections: []Section{SectionMeasurements}, Codes: []string{ms.Code}, Limit: 1}
			items, _, err := visible(ctx, tx, q, allow)
			if err != nil {
				return nil, err
			}
			out = append(out, items...)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
