// Package trail is in charge of the access trail as people read it: every trace of a patient's
// space (who, when, what, through what, allowed or refused, on what ground), filtered and
// paged, newest first, with French labels of the actions and reasons. The patient and their
// representatives read it all (DOMAIN.md "Traces": "the holder sees them all at any time"); a
// professional reads the traces of their own actions only (access.Decide returns
// OwnTracesOnly); the patient's apps read it through the FHIR API as AuditEvent.
//
// Reading the trail is itself an access to the patient's data: it is decided
// (access.ActionReadTraces) and traced in the same transaction as the read, so the trail shows
// its own readings.
//
// The trail must not reveal what a label hides: a trace that names a document the reader may
// not see (INVISIBLE_PATIENT before the announcement, CSP R1111-53; INVISIBLE_REPRESENTANTS_LEGAUX
// for the parents, CSP L1111-5; a class not granted to an app) is left out, exactly as the
// document is left out of the reader's searches (access.Decide on document.list).
package trail

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// Query is what the store is asked: the traces of one patient's chain matching every field
// set, newest first (by trace id, the order of insertion).
type Query struct {
	PatientID int64
	ActorKind audit.ActorKind
	ActorID   string
	// Actions: a trace matches when its action equals one of them or, for an entry ending with
	// ".", starts with it ("document."). Empty: every action.
	Actions  []string
	Outcome  audit.Outcome
	From, To time.Time // on the trace's time: [From, To); zero bounds are open
	Object   string
	// FirstAccess: only the first access of each professional (see Tx.TrailFirstAccesses).
	FirstAccess bool
	Before      int64 // only traces whose id is below; 0 for none
	Limit       int   // the store returns at most Limit+1 traces, so the caller knows there are more
}

// Tx is what the service needs of a store transaction. The decision on reading the trail and
// its trace are written in it (access.DecisionTx), with the read.
type Tx interface {
	access.DecisionTx
	// TrailTraces returns the traces matching q, newest first, at most q.Limit+1.
	TrailTraces(ctx context.Context, q Query) ([]audit.Trace, error)
	// TrailFirstAccesses returns, for each of the professionals named (IdNat_PS), the id of
	// their first access to the patient's data: their first allowed trace of a document.* or
	// record.* action in the patient's chain. A professional with none is absent.
	TrailFirstAccesses(ctx context.Context, patientID int64, idnats []string) (map[string]int64, error)
	// TrailDocuments describes, for the access decision, the current version of each of the
	// patient's documents named (logicalId). A document unknown to the record is absent.
	TrailDocuments(ctx context.Context, patientID int64, logicalIDs []string) (map[string]access.Object, error)
}

// Store opens transactions.
type Store interface {
	UpdateTrail(ctx context.Context, fn func(Tx) error) error
}

// Service reads the trail.
type Service struct {
	store  Store
	access *access.Service
	matrix *access.Matrix
}

// NewService returns the service. matrix is the habilitation matrix the access service
// decides with: the trail decides, with it, which traced documents the reader may see.
func NewService(st Store, acc *access.Service, matrix *access.Matrix) (*Service, error) {
	if st == nil || acc == nil || matrix == nil {
		return nil, errs.E(errs.Internal, "trail service: store, access and matrix are required")
	}
	return &Service{store: st, access: acc, matrix: matrix}, nil
}

// Filter selects traces. Every field set must match.
type Filter struct {
	ActorKind audit.ActorKind
	// ActorID is who acted: the IdNat_PS of a professional (any form ParseIdNatPS reads), or
	// the identifier a trace shows for the others.
	ActorID string
	// Actions: action names ("document.read") or families ending with "." ("document.",
	// "record.", "access.", "space."); a trace matches any one of them.
	Actions []string
	Outcome audit.Outcome
	// From and To bound the time of the action: [From, To). Zero bounds are open.
	From, To time.Time
	// Object is what was acted on, e.g. "document/<logicalId>".
	Object string
	// FirstAccess keeps only the first access of each professional to the patient's data.
	FirstAccess bool
	// Limit is the page size: DefaultLimit when zero, at most MaxLimit.
	Limit int
	// Before is the cursor of the next page (Page.Next): only older traces. 0 for the first page.
	Before int64
}

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ObjectTraces names the trail in the trace of its reading.
const ObjectTraces = "traces"

// Page is one page of the trail, newest first.
type Page struct {
	Items []Item
	// Next is the cursor of the next page (Filter.Before), 0 when this page is the last.
	Next int64
	// OwnOnly says the trail holds only the reader's own actions (a professional).
	OwnOnly bool
}

// Item is one trace as the reader sees it.
type Item struct {
	ID      int64
	At      time.Time
	Actor   audit.Actor // kind, id (IdNat_PS for a professional), name and organisation at the time
	Who     string      // the actor's name, or what they are when the trace has none
	Channel audit.Channel
	Action  string
	Object  string
	// Document is the logicalId of the document acted on, when the object is one.
	Document string
	Outcome  audit.Outcome
	// Reason is the code of the decision (access.Reason: self, care_team, blocked…), or of the
	// failure (errs.Code: not_found, conflict…), or what the action recorded (existence_test).
	Reason string
	// Basis is the ground the actor had, when one was established: equal to Reason when
	// allowed, kept when a later check refused (care_team, then masked).
	Basis access.Reason
	// Matrix is the version of the habilitation matrix the decision was taken under.
	Matrix string
	// Emergency: the action was an emergency access, or asked to be one (break-glass,
	// regulation), allowed or not.
	Emergency bool
	// Statement is what the professional stated for an emergency access.
	Statement string
	// FirstAccess marks the first access of this professional to the patient's data.
	FirstAccess bool
	// ActionLabel and ReasonLabel say the action and the reason in French.
	ActionLabel, ReasonLabel string
}

// List returns a page of the patient's trail as actor may read it. The reading is decided
// (access.ActionReadTraces) and traced with the read, allowed or refused; a refusal returns
// the decision's error (Forbidden), as access.Do does.
func (s *Service) List(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64, f Filter) (Page, error) {
	f, err := f.normalise()
	if err != nil {
		return Page{}, err
	}
	var page Page
	_, err = access.Do(ctx, s.access, s.store.UpdateTrail, actor, ch, patientID, access.ActionReadTraces,
		access.Target{Ref: ObjectTraces}, nil, func(tx Tx, d access.Decision) error {
			var err error
			page, err = s.read(ctx, tx, actor, patientID, f, d)
			return err
		})
	if err != nil {
		return Page{}, err
	}
	return page, nil
}

// read fills a page in tx, under the allowed decision d.
func (s *Service) read(ctx context.Context, tx Tx, actor access.Actor, patientID int64, f Filter, d access.Decision) (Page, error) {
	q := Query{PatientID: patientID, ActorKind: f.ActorKind, ActorID: f.ActorID, Actions: f.Actions, Outcome: f.Outcome,
		From: f.From, To: f.To, Object: f.Object, FirstAccess: f.FirstAccess, Before: f.Before, Limit: f.Limit}
	page := Page{Items: make([]Item, 0, min(f.Limit, 64))}
	if d.OwnTracesOnly {
		// Only what the reader did, whatever the filter asks: a filter on someone else finds
		// nothing.
		page.OwnOnly = true
		own := actor.ID
		if id, err := identity.ParseIdNatPS(own); err == nil {
			own = id.String()
		}
		if (q.ActorKind != "" && q.ActorKind != actor.Kind) || (q.ActorID != "" && q.ActorID != own) {
			return page, nil
		}
		q.ActorKind, q.ActorID = actor.Kind, own
	}
	v := visibility{s: s, tx: tx, actor: actor, patientID: patientID, now: d.At, docs: map[string]bool{}}
	// The reader's own actions are theirs to see, and a legal request takes the whole trail;
	// for everyone else, the traces of documents pass the labels.
	filter := !d.OwnTracesOnly && d.Reason != access.ReasonLegalRequest
	// A page of the holder's trail may skip traces of hidden documents: fetch until the page
	// is full or the trail exhausted, so that hidden traces do not shorten it.
	full := false
	for !full {
		batch, err := tx.TrailTraces(ctx, q)
		if err != nil {
			return Page{}, err
		}
		more := len(batch) > q.Limit
		if more {
			batch = batch[:q.Limit]
		}
		if filter {
			if err := v.load(ctx, batch); err != nil {
				return Page{}, err
			}
		}
		for _, t := range batch {
			if filter && !v.visible(t) {
				continue
			}
			if len(page.Items) == f.Limit {
				page.Next = page.Items[len(page.Items)-1].ID
				full = true
				break
			}
			page.Items = append(page.Items, itemOf(t))
		}
		if !more {
			break
		}
		q.Before = batch[len(batch)-1].ID
	}
	return page, markFirstAccesses(ctx, tx, patientID, page.Items)
}

// markFirstAccesses sets FirstAccess on the items that are the first access of their
// professional.
func markFirstAccesses(ctx context.Context, tx Tx, patientID int64, items []Item) error {
	var pros []string
	for _, it := range items {
		if it.Actor.Kind == audit.ActorProfessional && it.Outcome == audit.Allowed && accessAction(it.Action) &&
			!slices.Contains(pros, it.Actor.ID) {
			pros = append(pros, it.Actor.ID)
		}
	}
	if len(pros) == 0 {
		return nil
	}
	first, err := tx.TrailFirstAccesses(ctx, patientID, pros)
	if err != nil {
		return err
	}
	for i, it := range items {
		if it.Actor.Kind == audit.ActorProfessional {
			if id, ok := first[it.Actor.ID]; ok && id == it.ID {
				items[i].FirstAccess = true
			}
		}
	}
	return nil
}

// accessAction reports whether action reaches the patient's data, for the first access of a
// professional: the store's TrailFirstAccesses applies the same rule.
func accessAction(action string) bool {
	return strings.HasPrefix(action, "document.") || strings.HasPrefix(action, "record.")
}

// visibility decides which traced documents the reader may see, with the patient's settings
// loaded once per read and each document decided once.
type visibility struct {
	s         *Service
	tx        Tx
	actor     access.Actor
	patientID int64
	now       time.Time
	patient   *access.Patient
	docs      map[string]bool // logicalId → the reader may list it
}

// load decides the documents the batch names that are not decided yet.
func (v *visibility) load(ctx context.Context, batch []audit.Trace) error {
	var ids []string
	for _, t := range batch {
		if id := documentOf(t.Entry.Object); id != "" {
			if _, done := v.docs[id]; !done && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	objs, err := v.tx.TrailDocuments(ctx, v.patientID, ids)
	if err != nil {
		return err
	}
	if v.patient == nil && len(objs) > 0 {
		p, err := v.tx.AccessPatient(ctx, v.patientID)
		if err != nil {
			return err
		}
		v.patient = &p
	}
	for _, id := range ids {
		o, ok := objs[id]
		if !ok {
			// Never stored (a refused deposit names the document it would have been): nothing
			// to hide.
			v.docs[id] = true
			continue
		}
		d := access.Decide(access.Input{Actor: v.actor, Patient: *v.patient, Action: access.ActionList, Object: o,
			Matrix: v.s.matrix, Now: v.now})
		v.docs[id] = d.Allowed
	}
	return nil
}

// visible reports whether the reader may see trace t.
func (v *visibility) visible(t audit.Trace) bool {
	id := documentOf(t.Entry.Object)
	return id == "" || v.docs[id]
}

// documentOf returns the logicalId of a trace object "document/<logicalId>", or "".
func documentOf(object string) string {
	id, ok := strings.CutPrefix(object, "document/")
	if !ok {
		return ""
	}
	return id
}

// normalise checks f and fills in its defaults.
func (f Filter) normalise() (Filter, error) {
	switch f.ActorKind {
	case "", audit.ActorPatient, audit.ActorRepresentative, audit.ActorProfessional, audit.ActorApp,
		audit.ActorOperator, audit.ActorSystem:
	default:
		return f, errs.E(errs.Invalid, "unknown actor kind %q (patient, representative, professional, app, operator or system)", f.ActorKind)
	}
	f.ActorID = strings.TrimSpace(f.ActorID)
	if id, err := identity.ParseIdNatPS(f.ActorID); err == nil {
		f.ActorID = id.String() // traces name professionals by the canonical IdNat_PS
	}
	f.Actions = slices.Clone(f.Actions)
	for i, a := range f.Actions {
		a = strings.TrimSpace(a)
		if !validAction(a) {
			return f, errs.E(errs.Invalid, "action %q: an action name (document.read) or a family ending with a dot (document.)", a)
		}
		f.Actions[i] = a
	}
	switch f.Outcome {
	case "", audit.Allowed, audit.Denied, audit.Failed:
	default:
		return f, errs.E(errs.Invalid, "unknown outcome %q (allowed, denied or failed)", f.Outcome)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, errs.E(errs.Invalid, "the date range is empty: its start is not before its end")
	}
	if f.Before < 0 {
		return f, errs.E(errs.Invalid, "the cursor is not one this server gave")
	}
	switch {
	case f.Limit < 0:
		return f, errs.E(errs.Invalid, "the page size must be positive")
	case f.Limit == 0:
		f.Limit = DefaultLimit
	case f.Limit > MaxLimit:
		f.Limit = MaxLimit
	}
	return f, nil
}

// validAction reports whether a names an action or a family: lowercase words joined by dots.
func validAction(a string) bool {
	if a == "" || a[0] == '.' || len(a) > 64 {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') || c == '.' && i > 0 && a[i-1] == '.' {
			return false
		}
	}
	return true
}

// itemOf reads a trace for the reader.
func itemOf(t audit.Trace) Item {
	e := t.Entry
	it := Item{ID: t.ID, At: e.At, Actor: e.Actor, Who: e.Actor.Name, Channel: e.Channel, Action: e.Action,
		Object: e.Object, Document: documentOf(e.Object), Outcome: e.Outcome}
	if it.Who == "" {
		it.Who = kindLabels[e.Actor.Kind]
	}
	r := parseReason(e.Reason, e.Outcome)
	it.Reason, it.Basis, it.Matrix = r.code, r.basis, r.matrix
	it.Emergency = emergency(access.Reason(r.code)) || emergency(r.basis)
	if it.Emergency && e.Detail != "" {
		// A search's detail lists what it showed after the statement (access.Search.Finish);
		// the list stays out of the trail: it may name documents hidden from this reader.
		st := e.Detail
		if i := strings.Index(st, "shown="); i >= 0 && e.Action == string(access.ActionSearch) {
			st = strings.TrimSuffix(strings.TrimSpace(st[:i]), ";")
		}
		it.Statement = strings.TrimSpace(st)
	}
	it.ActionLabel = ActionLabel(e.Action)
	it.ReasonLabel = ReasonLabel(it.Reason, e.Outcome)
	return it
}

// emergency reports whether r is an emergency ground, or a refusal of one.
func emergency(r access.Reason) bool {
	switch r {
	case access.ReasonBreakGlass, access.ReasonBreakGlassReasonRequired, access.ReasonBreakGlassOpposed,
		access.ReasonBreakGlassExpired, access.ReasonRegulation, access.ReasonRegulationOpposed,
		access.ReasonRegulationReadOnly:
		return true
	}
	return false
}

// reason is a trace's reason read back.
type reason struct {
	code   string
	basis  access.Reason
	matrix string
}

// parseReason reads what access.Decision.TraceEntry ("masked basis=care_team
// matrix=default-v1") or audit.Failure ("not_found: no such document") wrote.
func parseReason(s string, outcome audit.Outcome) reason {
	var r reason
	first, rest, _ := strings.Cut(strings.TrimSpace(s), " ")
	if code, ok := strings.CutSuffix(first, ":"); ok {
		r.code = code // a failure: the code, then a message in English
		return r
	}
	r.code = first
	for _, f := range strings.Fields(rest) {
		switch k, v, _ := strings.Cut(f, "="); k {
		case "basis":
			r.basis = access.Reason(v)
		case "matrix":
			r.matrix = v
		}
	}
	if r.basis == "" && outcome == audit.Allowed && r.matrix != "" {
		r.basis = access.Reason(r.code) // a decision allowed on this ground
	}
	return r
}
