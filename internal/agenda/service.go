package agenda

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
)

// Tx is what the service needs of a store transaction: the decision's (settings and traces)
// and the events'.
type Tx interface {
	access.DecisionTx
	EventTx
	Space(ctx context.Context, patientID int64) (space.Space, error)
	// ProfessionalByIdNat and Organisation: who sends an invitation (invite.go), from the
	// directory; NotFound when it holds none.
	ProfessionalByIdNat(ctx context.Context, idnat string) (account.Professional, error)
	Organisation(ctx context.Context, id int64) (account.Organisation, error)
	// InsertAgendaEvent stores e and sets its ID, unless the patient already has an event of
	// e.Source with e.SourceRef: then it changes nothing and returns false.
	InsertAgendaEvent(ctx context.Context, e *Event) (created bool, err error)
	// RelinkAgendaEvents moves the patient's events linked to document from to document to.
	RelinkAgendaEvents(ctx context.Context, patientID int64, from, to string) error
	// AgendaEvents returns the patient's events that overlap [from, to) (zero bounds are
	// open), by start then id, at most limit of them.
	AgendaEvents(ctx context.Context, patientID int64, from, to time.Time, limit int) ([]Event, error)
	// AgendaDocuments describes, for the access decision, the current version of each of the
	// patient's documents named (logicalId); a document the record does not hold is absent.
	AgendaDocuments(ctx context.Context, patientID int64, logicalIDs []string) (map[string]access.Object, error)
	// MarkSeen and QueueNotice: what the patient is told of a professional's access (as the
	// record does).
	MarkSeen(ctx context.Context, patientID int64, idnat string, at time.Time) (bool, error)
	QueueNotice(ctx context.Context, patientID int64, key string, notBefore, now time.Time) error
}

// Store opens transactions.
type Store interface {
	UpdateAgenda(ctx context.Context, fn func(Tx) error) error
	ViewAgenda(ctx context.Context, fn func(Tx) error) error
}

// Deps are what the service is built from.
type Deps struct {
	Store  Store
	Access *access.Service
	Clock  clock.Clock
	// Documents is the record, whose stays and consultations the timeline shows (derived.go);
	// nil for none.
	Documents Documents
}

// Service keeps the patients' agendas.
type Service struct {
	store  Store
	access *access.Service
	clock  clock.Clock
	docs   Documents
}

// NewService returns the agenda service.
func NewService(d Deps) (*Service, error) {
	if d.Store == nil || d.Access == nil || d.Clock == nil {
		return nil, errs.E(errs.Internal, "agenda service: store, access and clock are required")
	}
	return &Service{store: d.Store, access: d.Access, clock: d.Clock, docs: d.Documents}, nil
}

// Request says who acts and through what.
type Request struct {
	Actor      access.Actor
	Channel    audit.Channel
	BreakGlass *access.BreakGlass
}

// ObjectAgenda names the agenda in traces.
const ObjectAgenda = "agenda"

// MaxEvents bounds the events one List returns: a longer period is refused (Invalid), so that
// what a reader sees is never cut without a word. A year of care is a few hundred events.
const MaxEvents = 5000

// List returns the patient's events that overlap [from, to) (zero bounds are open) and that
// the actor may see, by start. The reading is decided in a read-only snapshot, as a search of
// the record (access.ActionSearch: a professional without a ground is refused with a reason
// they can act on), then each event as a document of the record (access.ActionList, on the
// document it is linked to when the record holds it, which carries the patient's masking, else
// on its own category); then the decision is traced, naming the events shown, and nothing is
// returned unless that trace committed. Events the actor may not see are left out without a
// word, as the record's searches do.
func (s *Service) List(ctx context.Context, r Request, patientID int64, from, to time.Time) ([]Event, error) {
	return s.list(ctx, r, patientID, from, to, nil)
}

// list is List keeping only the events keep accepts (all when nil), so that the trace names
// only the events returned.
func (s *Service) list(ctx context.Context, r Request, patientID int64, from, to time.Time, keep func(*Event) bool) ([]Event, error) {
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return nil, errs.E(errs.Invalid, "the period is empty: its start is not before its end")
	}
	var (
		search *access.Search
		d      access.Decision
		out    []Event
		shown  []string
		ferr   error
	)
	err := s.store.ViewAgenda(ctx, func(tx Tx) error {
		var err error
		search, d, err = s.access.BeginSearch(ctx, tx, r.Actor, r.Channel, patientID, r.BreakGlass)
		if err != nil {
			if search != nil {
				return nil // refused: traced below
			}
			return err
		}
		out, shown, ferr = s.visible(ctx, tx, search, patientID, from, to, keep)
		return nil
	})
	if err != nil {
		return nil, err
	}
	e := search.Entry(shown)
	e.Object = ObjectAgenda
	if ferr != nil && d.Allowed {
		e.Outcome, e.Reason = audit.Failure(ferr)
	}
	if err := s.store.UpdateAgenda(ctx, func(tx Tx) error {
		if _, err := tx.AppendTrace(ctx, e); err != nil {
			return err
		}
		if ferr != nil {
			return nil
		}
		return access.Tell(ctx, tx, r.Actor, patientID, d, true, s.clock.Now())
	}); err != nil {
		return nil, fmt.Errorf("trace the agenda's reading: %w", err)
	}
	if !d.Allowed {
		return nil, d.Err()
	}
	if ferr != nil {
		return nil, ferr
	}
	return out, nil
}

// visible reads the events of the period and keeps those the search allows.
func (s *Service) visible(ctx context.Context, tx Tx, search *access.Search, patientID int64, from, to time.Time, keep func(*Event) bool) ([]Event, []string, error) {
	evs, err := tx.AgendaEvents(ctx, patientID, from, to, MaxEvents+1)
	if err != nil {
		return nil, nil, err
	}
	if len(evs) > MaxEvents {
		return nil, nil, errTooMany()
	}
	var ids []string
	seen := map[string]bool{}
	// A cancellation's placeholder is kept for the invitation it waits for, never shown.
	evs = slices.DeleteFunc(evs, func(e Event) bool { return e.Kind == kindCancelledInvitation || keep != nil && !keep(&e) })
	for _, e := range evs {
		if e.Document != "" && !seen[e.Document] {
			seen[e.Document] = true
			ids = append(ids, e.Document)
		}
	}
	docs, err := tx.AgendaDocuments(ctx, patientID, ids)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Event, 0, len(evs))
	shown := make([]string, 0, len(evs))
	for i := range evs {
		e := &evs[i]
		o, linked := docs[e.Document]
		if !linked {
			o = e.Object()
		}
		if !search.Allow(o).Allowed {
			continue
		}
		out = append(out, *e)
		shown = append(shown, e.Ref())
	}
	return out, shown, nil
}

// Batch is what one source files in one patient's agenda at once.
type Batch struct {
	Source string
	// Class and Type are the record category of every event of the batch (e.g. 60 and REMB):
	// filing them is decided as depositing a document of that category.
	Class, Type string
	Events      []Event
	// Relinks move the links of the patient's events from a document to its new version.
	Relinks []Relink
}

// Relink moves the events linked to document From to document To.
type Relink struct{ From, To string }

// MaxBatch bounds the events of one batch.
const MaxBatch = 5000

// Added says what Add did.
type Added struct {
	Created int // events filed
	Existed int // events the source had filed already (same reference), left as they were
}

// Add files a batch of events in the patient's agenda, all or none, in one transaction with
// the decision (access.ActionDeposit of the batch's category: the insurer files
// reimbursements, a professional what their deposits may hold, the patient their personal
// events) and its trace. The patient's space must be open. An event whose reference its
// source filed already is left as it was: running the same batch twice files it once.
func (s *Service) Add(ctx context.Context, r Request, patientID int64, b Batch) (Added, error) {
	if b.Source == "" {
		return Added{}, errs.E(errs.Invalid, "the events' source is missing")
	}
	if len(b.Events) > MaxBatch {
		return Added{}, errs.E(errs.Invalid, "%d events in one batch, more than the %d accepted", len(b.Events), MaxBatch)
	}
	now := s.clock.Now()
	by := r.Actor.Audit()
	if by.Kind == audit.ActorProfessional {
		if id, err := identity.ParseIdNatPS(by.ID); err == nil {
			by.ID = id.String()
		}
	}
	evs := make([]Event, len(b.Events))
	for i, e := range b.Events {
		e.ID, e.PatientID, e.Source, e.Class, e.Type, e.CreatedBy, e.CreatedAt = 0, patientID, b.Source, b.Class, b.Type, by, now
		if p := e.check(); p != "" {
			return Added{}, errs.E(errs.Invalid, "event %d: %s", i+1, p)
		}
		evs[i] = e
	}
	category := Event{Class: b.Class, Type: b.Type, CreatedBy: by}
	var added Added
	_, err := access.Do(ctx, s.access, s.store.UpdateAgenda, r.Actor, r.Channel, patientID, access.ActionDeposit,
		access.Target{Ref: ObjectAgenda, Object: category.Object()}, r.BreakGlass,
		func(tx Tx, _ access.Decision) error {
			added = Added{}
			sp, err := tx.Space(ctx, patientID)
			if err != nil {
				return err
			}
			if sp.State != space.Open {
				return errs.E(errs.Conflict, "this patient's space is %s: its agenda takes no new events", sp.State)
			}
			for i := range evs {
				created, err := tx.InsertAgendaEvent(ctx, &evs[i])
				if err != nil {
					return err
				}
				if created {
					added.Created++
				} else {
					added.Existed++
				}
			}
			for _, l := range b.Relinks {
				if err := tx.RelinkAgendaEvents(ctx, patientID, l.From, l.To); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		return Added{}, err
	}
	return added, nil
}
