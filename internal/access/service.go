package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// The service keeps the patient's access settings (médecins traitants, blocked professionals,
// oppositions, care team, authorisations) and takes every decision against them as stored: it
// loads what Decide needs, decides, and writes the decision's trace in the same transaction.
// The patient and their representatives manage the settings through it, each change being
// itself an access decision (ActionManageAccess), traced.

// CareBasis says why a professional is in the patient's care team (issue 5: "a professional
// who deposited or was designated is in the care team").
type CareBasis string

const (
	CareDeposit    CareBasis = "deposit"    // they deposited a document for the patient
	CareDesignated CareBasis = "designated" // the patient (or a representative) named them
)

// Valid reports whether b is one of the bases.
func (b CareBasis) Valid() bool { return b == CareDeposit || b == CareDesignated }

// Member is a professional on one of the patient's lists, and since when.
type Member struct {
	IdNat string // canonical IdNat_PS
	Since time.Time
}

// CareTeamMember is a professional of the patient's care team.
type CareTeamMember struct {
	IdNat string
	Since time.Time
	Basis CareBasis
}

// AuthorisationRecord is the patient's answer to one professional. The store holds AuthValid
// or AuthRefused; having no record is AuthNone, and AuthExpired is a valid record past Until,
// derived when read (Settings) and by Decide, never stored, so that no job has to flip it.
type AuthorisationRecord struct {
	IdNat     string
	State     AuthState
	GrantedAt time.Time // the last grant; zero for a refusal that followed none
	Until     time.Time // the end of a valid authorisation
	UpdatedAt time.Time
}

// Oppositions are the patient's objections, set beforehand, to emergency access (CSP L1111-17 I).
type Oppositions struct {
	BreakGlass bool      // to break-glass access when they cannot consent (al. 1)
	Regulation bool      // to access by the regulating doctor of a SAMU - centre 15 (al. 2)
	UpdatedAt  time.Time // zero: never set
}

// Settings are a patient's access settings, as the patient's page shows them.
type Settings struct {
	PatientID         int64
	Oppositions       Oppositions
	MedecinsTraitants []Member
	Blocked           []Member
	CareTeam          []CareTeamMember
	Authorisations    []AuthorisationRecord
}

// DecisionTx is what a decision needs of a store transaction. A capability that decides inside
// its own transaction (the records service) declares a Tx that embeds it, and calls DecideTx
// or Do.
type DecisionTx interface {
	audit.Appender
	SettingsReader
}

// SettingsReader reads what a decision looks at: a read-only transaction is enough.
type SettingsReader interface {
	// AccessPatient returns the patient's settings as Decide reads them; NotFound when there is
	// no such patient.
	AccessPatient(ctx context.Context, patientID int64) (Patient, error)
	// AccessRelation returns what binds the professional to the patient; the zero Relation
	// when nothing does.
	AccessRelation(ctx context.Context, patientID int64, idnat string) (Relation, error)
}

// CareTeamTx is what AddToCareTeamTx needs: a deposit adds its author inside its transaction.
type CareTeamTx interface {
	DecisionTx
	// AddCareTeamMember adds m, or keeps the member already there (their first date and basis);
	// added says which.
	AddCareTeamMember(ctx context.Context, patientID int64, m CareTeamMember) (added bool, err error)
}

// Tx is what the service needs of a store transaction. The Add methods keep a row already
// there (its first date); the Remove and Delete methods return NotFound when there is none.
type Tx interface {
	CareTeamTx
	AccessSettings(ctx context.Context, patientID int64) (Settings, error)
	AccessAuthorisation(ctx context.Context, patientID int64, idnat string) (AuthorisationRecord, error)
	// GrantAccessAuthorisation makes the authorisation valid from at until until, whatever it was.
	GrantAccessAuthorisation(ctx context.Context, patientID int64, idnat string, at, until time.Time) error
	// RenewAccessAuthorisation moves the end of a valid (or expired) authorisation; NotFound
	// when there is none, Conflict when it was refused.
	RenewAccessAuthorisation(ctx context.Context, patientID int64, idnat string, at, until time.Time) error
	// RefuseAccessAuthorisation records the patient's refusal, keeping the date of a former grant.
	RefuseAccessAuthorisation(ctx context.Context, patientID int64, idnat string, at time.Time) error
	DeleteAccessAuthorisation(ctx context.Context, patientID int64, idnat string) error
	AddBlocked(ctx context.Context, patientID int64, m Member) (added bool, err error)
	RemoveBlocked(ctx context.Context, patientID int64, idnat string) error
	AddMedecinTraitant(ctx context.Context, patientID int64, m Member) (added bool, err error)
	RemoveMedecinTraitant(ctx context.Context, patientID int64, idnat string) error
	RemoveCareTeamMember(ctx context.Context, patientID int64, idnat string) error
	PutOppositions(ctx context.Context, patientID int64, o Oppositions) error
	// TraceDetails returns the details of the patient's allowed traces of action on object,
	// oldest first.
	TraceDetails(ctx context.Context, patientID int64, action, object string) ([]string, error)
	// LockPatient holds the patient until the transaction ends: one read-then-write at a time.
	LockPatient(ctx context.Context, patientID int64) error
}

// Store opens transactions.
type Store interface {
	UpdateAccess(ctx context.Context, fn func(Tx) error) error
	ViewAccess(ctx context.Context, fn func(Tx) error) error
}

// ServicePolicy holds the configurable values of the service.
type ServicePolicy struct {
	Policy // of the decision
	// AuthorisationFor is how long an authorisation lasts when granted or renewed without a
	// length of its own. Zero means one calendar year: our default (DOMAIN.md), renewable.
	AuthorisationFor time.Duration
}

// authorisationUntil returns when an authorisation granted at from for d ends.
func (p ServicePolicy) authorisationUntil(from time.Time, d time.Duration) time.Time {
	switch {
	case d > 0:
		return from.Add(d)
	case p.AuthorisationFor > 0:
		return from.Add(p.AuthorisationFor)
	}
	return from.AddDate(1, 0, 0)
}

// The trace actions of the service's own operations. Each is decided as ActionManageAccess;
// the trace names the operation so that the patient's trail says what changed.
const (
	TraceSettingsRead          = "access.settings_read"
	TraceAuthorisationGrant    = "access.authorisation_grant"
	TraceAuthorisationRenew    = "access.authorisation_renew"
	TraceAuthorisationRefuse   = "access.authorisation_refuse"
	TraceAuthorisationRevoke   = "access.authorisation_revoke"
	TraceBlock                 = "access.block"
	TraceUnblock               = "access.unblock"
	TraceMedecinTraitantAdd    = "access.medecin_traitant_designate"
	TraceMedecinTraitantRemove = "access.medecin_traitant_remove"
	TraceOppositionsSet        = "access.oppositions_set"
	TraceCareTeamAdd           = "access.care_team_add"
	TraceCareTeamRemove        = "access.care_team_remove"
)

// The objects the traces name.
const (
	objectRecord       = "record"
	objectSettings     = "access_settings"
	objectOppositions  = "oppositions"
	objectProfessional = "professional/" // + the canonical IdNat_PS
	objectInvalidIdNat = "professional"  // an identifier that does not parse is not written
	objectPatient      = "patient/"      // + the id asked for, when there is no such patient
)

// Service keeps the access settings and takes the decisions.
type Service struct {
	store  Store
	clock  clock.Clock
	matrix *Matrix
	policy ServicePolicy
}

// NewService returns the service. A nil matrix refuses every decision (ReasonMatrixMissing):
// without the rules, nothing is allowed.
func NewService(store Store, clk clock.Clock, matrix *Matrix, policy ServicePolicy) *Service {
	return &Service{store: store, clock: clk, matrix: matrix, policy: policy}
}

// Matrix returns the habilitation matrix the service decides with (nil: none).
func (s *Service) Matrix() *Matrix { return s.matrix }

// Target is what a decision is about.
type Target struct {
	// Ref names the object in the trace, e.g. "document/<entryUUID>"; "record" when empty.
	Ref    string
	Object Object // the document, for the actions on one (the new one, for a deposit)
	Label  Label  // the label set or cleared, for ActionSetLabel and ActionClearLabel
	Card   Card   // the emergency card's state, for ActionReadEmergencyCard
}

// Decide decides whether actor may do action on target in the patient's record now, against
// the patient's settings and this professional's relation as stored, and commits the trace
// of the decision before returning, allowed or refused.
//
// A refusal returns the decision and d.Err() (Forbidden; NotFound for a concealed document),
// so that a caller that only looks at the error cannot go on. A failure (the store) returns
// the zero Decision and the error. A patient that does not exist is NotFound, traced in the
// actor's chain.
func (s *Service) Decide(ctx context.Context, actor Actor, ch audit.Channel, patientID int64,
	action Action, target Target, bg *BreakGlass) (Decision, error) {
	return Do(ctx, s, s.store.UpdateAccess, actor, ch, patientID, action, target, bg, nil)
}

// DecideTx is Decide inside the caller's transaction: it loads the settings in tx, decides,
// and appends the trace to tx, allowed or refused. It returns as Decide does: d.Err() for a
// refusal, the zero Decision and the error for a failure (nothing traced).
//
// The trace of a refusal is in tx like any other: the caller must commit tx on a refusal too
// (return nil from its transaction function and d.Err() after), or the refusal goes untraced.
// Do does exactly that; use it unless the transaction does more than one decision.
func (s *Service) DecideTx(ctx context.Context, tx DecisionTx, actor Actor, ch audit.Channel, patientID int64,
	action Action, target Target, bg *BreakGlass) (Decision, error) {
	d, e, err := s.decideIn(ctx, tx, actor, ch, patientID, action, target, bg, s.clock.Now())
	if err != nil {
		return Decision{}, err
	}
	if _, err := tx.AppendTrace(ctx, e); err != nil {
		return Decision{}, fmt.Errorf("trace %s: %w", action, err)
	}
	return d, d.Err()
}

// Do decides in a transaction opened by update and, when allowed, runs act (nil for none) in
// the same transaction: the decision's trace and what act writes commit together (DESIGN.md
// invariant 2). A refusal commits its trace alone, act does not run, and Do returns the
// decision and d.Err(). If act fails, the transaction rolls back, the allowed trace with it,
// and the failure is traced in a transaction of its own, as audit.Do does; Do returns the
// decision and act's error.
//
// update is the caller's store's (e.g. records' UpdateRecords), whose Tx embeds DecisionTx.
func Do[T DecisionTx](ctx context.Context, s *Service, update func(context.Context, func(T) error) error,
	actor Actor, ch audit.Channel, patientID int64, action Action, target Target, bg *BreakGlass,
	act func(T, Decision) error) (Decision, error) {
	var (
		d       Decision
		refusal error
		decided bool
		attempt = s.baseEntry(actor, ch, patientID, string(action), target.Ref, bg)
	)
	err := update(ctx, func(tx T) error {
		var err error
		d, err = s.DecideTx(ctx, tx, actor, ch, patientID, action, target, bg)
		switch {
		case d.Reason == "":
			return err // a failure: nothing was decided
		case !d.Allowed:
			refusal = err
			return nil // commit the refusal's trace
		}
		decided = true
		if act == nil {
			return nil
		}
		return act(tx, d)
	})
	if err == nil {
		return d, refusal
	}
	// Nothing committed: trace what was attempted, and why it ended, on its own.
	e := attempt
	if decided {
		e = s.entryOf(d, actor, ch, patientID, target.Ref, bg)
	} else if errs.Is(err, errs.NotFound) {
		// No such patient: no chain is opened for a patient who does not exist.
		e.PatientID, e.Object = 0, objectPatient+fmt.Sprint(patientID)
	}
	e.Outcome, e.Reason = audit.Failure(err)
	if terr := update(ctx, func(tx T) error { _, err := tx.AppendTrace(ctx, e); return err }); terr != nil {
		err = errors.Join(err, terr)
	}
	return d, err
}

// DecideRead decides a read in tx, which may be a read-only transaction, and returns the
// decision and the trace to write, without writing it: a read need not hold the write lock
// while it runs. The caller appends the trace (allowed or refused) in a write transaction and
// shows nothing of what it read unless that commits. A failure returns the error alone.
func (s *Service) DecideRead(ctx context.Context, tx SettingsReader, actor Actor, ch audit.Channel, patientID int64,
	action Action, target Target, bg *BreakGlass) (Decision, audit.Entry, error) {
	switch action {
	case ActionRead, ActionList, ActionSearch, ActionReadTraces:
	default:
		return Decision{}, audit.Entry{}, errs.E(errs.Internal, "DecideRead decides reads, not %q", action)
	}
	return s.decideIn(ctx, tx, actor, ch, patientID, action, target, bg, s.clock.Now())
}

// decideIn loads what Decide needs in tx and decides. It returns the decision and its trace.
func (s *Service) decideIn(ctx context.Context, tx SettingsReader, actor Actor, ch audit.Channel, patientID int64,
	action Action, target Target, bg *BreakGlass, now time.Time) (Decision, audit.Entry, error) {
	d, _, err := s.decideWith(ctx, tx, actor, patientID, action, target, bg, now)
	if err != nil {
		return Decision{}, audit.Entry{}, err
	}
	return d, s.entryOf(d, canonical(actor), ch, patientID, target.Ref, bg), nil
}

// decideWith loads the patient's settings (and, for a professional, their relation) and
// decides. It returns the settings too, for the operations that go on to change them.
func (s *Service) decideWith(ctx context.Context, tx SettingsReader, actor Actor, patientID int64, action Action,
	target Target, bg *BreakGlass, now time.Time) (Decision, Patient, error) {
	p, err := tx.AccessPatient(ctx, patientID)
	if err != nil {
		return Decision{}, Patient{}, fmt.Errorf("decide %s: %w", action, err)
	}
	in := Input{Actor: canonical(actor), Patient: p, Action: action, Object: target.Object, Label: target.Label,
		BreakGlass: bg, Matrix: s.matrix, Now: now, Policy: s.policy.Policy, Card: target.Card}
	if in.Actor.Kind == audit.ActorProfessional {
		if _, err := identity.ParseIdNatPS(in.Actor.ID); err != nil {
			// An identifier that is not a canonical IdNat_PS would slip past the blocked list
			// and the relations, which are keyed by the canonical form: refused as incomplete.
			in.Actor.ID = ""
		} else if in.Relation, err = tx.AccessRelation(ctx, patientID, in.Actor.ID); err != nil {
			return Decision{}, Patient{}, fmt.Errorf("decide %s: %w", action, err)
		}
	}
	return Decide(in), p, nil
}

// canonical returns the actor with a professional's IdNat_PS in its canonical form, as the
// settings store it; other actors, and identifiers that do not parse, as they are.
func canonical(a Actor) Actor {
	if a.Kind == audit.ActorProfessional {
		if id, err := identity.ParseIdNatPS(a.ID); err == nil {
			a.ID = id.String()
		}
	}
	return a
}

// baseEntry is the trace of an attempt before any decision.
func (s *Service) baseEntry(actor Actor, ch audit.Channel, patientID int64, action, ref string, bg *BreakGlass) audit.Entry {
	if ref == "" {
		ref = objectRecord
	}
	e := audit.Entry{At: s.clock.Now(), Actor: canonical(actor).Audit(), Channel: ch, Action: action,
		PatientID: patientID, Object: ref}
	if bg != nil {
		e.Detail = strings.TrimSpace(bg.Reason)
	}
	return e
}

// entryOf is the trace of d, with what the professional stated for a break-glass.
func (s *Service) entryOf(d Decision, actor Actor, ch audit.Channel, patientID int64, ref string, bg *BreakGlass) audit.Entry {
	if ref == "" {
		ref = objectRecord
	}
	e := d.TraceEntry(canonical(actor).Audit(), ch, patientID, ref)
	switch {
	case bg != nil:
		e.Detail = strings.TrimSpace(bg.Reason)
	case d.Allowed && d.Reason == ReasonLegalRequest:
		// What an operator takes on a legal request names it, whatever is taken.
		e.Detail = "legal_request=" + strings.TrimSpace(actor.LegalRequest)
	}
	return e
}

// op is one of the service's own operations on the settings.
type op struct {
	action Action    // what is decided; ActionManageAccess when zero
	trace  string    // the trace action, e.g. TraceBlock
	object string    // the trace object
	detail string    // what the actor set, for the trail
	now    time.Time // when it is asked
	// change applies the operation; p is the patient's settings as the transaction sees them.
	// It may add to the trace's detail what it found (e).
	change func(ctx context.Context, tx Tx, p Patient, e *audit.Entry) error
}

// manage runs an operation on the patient's settings. It is decided first (o.action, by
// default ActionManageAccess: the patient, a current representative, or whoever else Decide allows),
// then applied and traced in one transaction by audit.Do, where the decision is taken again
// against the settings that transaction sees. A refusal changes nothing and its trace, with
// the decision's reason code, is committed alone.
func (s *Service) manage(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, o op) error {
	action := o.action
	if action == "" {
		action = ActionManageAccess
	}
	decide := func(tx Tx) (Decision, Patient, error) {
		return s.decideWith(ctx, tx, actor, patientID, action, Target{}, nil, o.now)
	}
	var d Decision
	err := s.store.ViewAccess(ctx, func(tx Tx) error {
		var err error
		d, _, err = decide(tx)
		return err
	})
	var e audit.Entry
	switch {
	case err != nil:
		// Nothing decided (no such patient, the store down): traced as audit.Do would.
		e = s.baseEntry(actor, ch, patientID, o.trace, o.object, nil)
		if errs.Is(err, errs.NotFound) {
			e.PatientID, e.Object = 0, objectPatient+fmt.Sprint(patientID)
		}
		e.Outcome, e.Reason = audit.Failure(err)
	default:
		e = s.entryOf(d, actor, ch, patientID, o.object, nil)
		e.Action = o.trace
		if o.detail != "" {
			e.Detail = strings.TrimPrefix(e.Detail+"; "+o.detail, "; ") // after a legal request's reference
		}
		if d.Allowed {
			return audit.Do(ctx, s.store.UpdateAccess, e, func(tx Tx, e *audit.Entry) error {
				d, p, err := decide(tx)
				if err != nil {
					return err
				}
				if !d.Allowed {
					return d.Err() // the settings changed between the two reads
				}
				return o.change(ctx, tx, p, e)
			})
		}
		err = d.Err()
	}
	if terr := s.store.UpdateAccess(ctx, func(tx Tx) error { _, err := tx.AppendTrace(ctx, e); return err }); terr != nil {
		err = errors.Join(err, terr)
	}
	return err
}

// parseIdNat validates an IdNat_PS and returns its canonical form and the trace object that
// names it.
func parseIdNat(idnat string) (string, string, error) {
	id, err := identity.ParseIdNatPS(idnat)
	if err != nil {
		return "", objectInvalidIdNat, err
	}
	return id.String(), objectProfessional + id.String(), nil
}

// manageOne runs an operation about one professional. The identifier is checked inside the
// decided operation, so that a request is refused for who asks before it is for what.
func (s *Service) manageOne(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, o op, idnat string,
	change func(ctx context.Context, tx Tx, p Patient, id string) error) error {
	id, object, perr := parseIdNat(idnat)
	o.object = object
	o.change = func(ctx context.Context, tx Tx, p Patient, _ *audit.Entry) error {
		if perr != nil {
			return perr
		}
		return change(ctx, tx, p, id)
	}
	return s.manage(ctx, actor, ch, patientID, o)
}

// errBlocked refuses to give a ground to a professional the patient blocked: the block would
// win anyway (DOMAIN.md), and a ground that cannot work would mislead the patient.
func errBlocked(p Patient, id string) error {
	if slices.Contains(p.Blocked, id) {
		return errs.E(errs.Conflict, "this professional is blocked: unblock them first")
	}
	return nil
}

// Settings returns the patient's access settings. Reading them is reading patient data (who
// treats them, whom they blocked): decided as ActionManageAccess, since the settings page is
// where access is managed, and traced.
func (s *Service) Settings(ctx context.Context, actor Actor, ch audit.Channel, patientID int64) (Settings, error) {
	return s.settings(ctx, actor, ch, patientID, ActionManageAccess, TraceSettingsRead)
}

// settings reads the patient's access settings, decided as action and traced as trace.
func (s *Service) settings(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, action Action, trace string) (Settings, error) {
	var out Settings
	now := s.clock.Now()
	err := s.manage(ctx, actor, ch, patientID, op{action: action, trace: trace, object: objectSettings, now: now,
		change: func(ctx context.Context, tx Tx, _ Patient, _ *audit.Entry) error {
			var err error
			if out, err = tx.AccessSettings(ctx, patientID); err != nil {
				return err
			}
			for i, a := range out.Authorisations {
				if a.State == AuthValid && !a.Until.IsZero() && !now.Before(a.Until) {
					out.Authorisations[i].State = AuthExpired
				}
			}
			return nil
		}})
	if err != nil {
		return Settings{}, err
	}
	return out, nil
}

// GrantAuthorisation authorises a professional outside the care team (CSP L1110-4 III al. 2,
// L1111-17 III) from now for d, or for the policy's length when d is zero (our default: a
// year). A refused or expired authorisation becomes valid again.
func (s *Service) GrantAuthorisation(ctx context.Context, actor Actor, ch audit.Channel, patientID int64,
	idnat string, d time.Duration) (AuthorisationRecord, error) {
	return s.authorise(ctx, actor, ch, patientID, idnat, d, TraceAuthorisationGrant, Tx.GrantAccessAuthorisation)
}

// RenewAuthorisation extends a valid or expired authorisation: it runs from now for d (the
// policy's length when zero). A refused one is granted, not renewed (Conflict); none at all is
// NotFound.
func (s *Service) RenewAuthorisation(ctx context.Context, actor Actor, ch audit.Channel, patientID int64,
	idnat string, d time.Duration) (AuthorisationRecord, error) {
	return s.authorise(ctx, actor, ch, patientID, idnat, d, TraceAuthorisationRenew, Tx.RenewAccessAuthorisation)
}

// authorise grants or renews.
func (s *Service) authorise(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, idnat string, d time.Duration, trace string,
	write func(Tx, context.Context, int64, string, time.Time, time.Time) error) (AuthorisationRecord, error) {
	var out AuthorisationRecord
	now := s.clock.Now()
	until := s.policy.authorisationUntil(now, d)
	o := op{trace: trace, detail: "until=" + until.UTC().Format(time.RFC3339), now: now}
	err := s.manageOne(ctx, actor, ch, patientID, o, idnat, func(ctx context.Context, tx Tx, p Patient, id string) error {
		if d < 0 {
			return errs.E(errs.Invalid, "an authorisation cannot last a negative time")
		}
		if err := errBlocked(p, id); err != nil {
			return err
		}
		if err := write(tx, ctx, patientID, id, now, until); err != nil {
			return err
		}
		var err error
		out, err = tx.AccessAuthorisation(ctx, patientID, id)
		return err
	})
	if err != nil {
		return AuthorisationRecord{}, err
	}
	return out, nil
}

// RefuseAuthorisation records that the patient refused a professional's request. A refusal is
// no block: emergency access still applies, unless the patient opposed it.
func (s *Service) RefuseAuthorisation(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, idnat string) error {
	now := s.clock.Now()
	return s.manageOne(ctx, actor, ch, patientID, op{trace: TraceAuthorisationRefuse, now: now}, idnat,
		func(ctx context.Context, tx Tx, _ Patient, id string) error {
			return tx.RefuseAccessAuthorisation(ctx, patientID, id, now)
		})
}

// RevokeAuthorisation withdraws the patient's answer to a professional, valid or refused: the
// professional has none any more (AuthNone). NotFound when there was none.
func (s *Service) RevokeAuthorisation(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, idnat string) error {
	return s.manageOne(ctx, actor, ch, patientID, op{trace: TraceAuthorisationRevoke, now: s.clock.Now()}, idnat,
		func(ctx context.Context, tx Tx, _ Patient, id string) error {
			return tx.DeleteAccessAuthorisation(ctx, patientID, id)
		})
}

// Block denies a professional every access to the record, whatever their other grounds, which
// stay stored: Unblock restores them. Blocking a professional already blocked keeps the first
// date.
func (s *Service) Block(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, idnat string) error {
	now := s.clock.Now()
	return s.manageOne(ctx, actor, ch, patientID, op{trace: TraceBlock, now: now}, idnat,
		func(ctx context.Context, tx Tx, _ Patient, id string) error {
			_, err := tx.AddBlocked(ctx, patientID, Member{IdNat: id, Since: now})
			return err
		})
}

// Unblock lifts a block; NotFound when there was none.
func (s *Service) Unblock(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, idnat string) error {
	return s.manageOne(ctx, actor, ch, patientID, op{trace: TraceUnblock, now: s.clock.Now()}, idnat,
		func(ctx context.Context, tx Tx, _ Patient, id string) error {
			return tx.RemoveBlocked(ctx, patientID, id)
		})
}

// DesignateMedecinTraitant names a médecin traitant, or a professional with the same rights
// (CSP L1111-16: "un ou plusieurs"): they see masked documents and are told of emergency
// accesses. A blocked professional cannot be designated (Conflict).
func (s *Service) DesignateMedecinTraitant(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, idnat string) error {
	now := s.clock.Now()
	return s.manageOne(ctx, actor, ch, patientID, op{trace: TraceMedecinTraitantAdd, now: now}, idnat,
		func(ctx context.Context, tx Tx, p Patient, id string) error {
			if err := errBlocked(p, id); err != nil {
				return err
			}
			_, err := tx.AddMedecinTraitant(ctx, patientID, Member{IdNat: id, Since: now})
			return err
		})
}

// RemoveMedecinTraitant ends a designation; NotFound when there was none.
func (s *Service) RemoveMedecinTraitant(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, idnat string) error {
	return s.manageOne(ctx, actor, ch, patientID, op{trace: TraceMedecinTraitantRemove, now: s.clock.Now()}, idnat,
		func(ctx context.Context, tx Tx, _ Patient, id string) error {
			return tx.RemoveMedecinTraitant(ctx, patientID, id)
		})
}

// SetOppositions records the patient's objections to break-glass access and to access by
// emergency regulation (CSP L1111-17 I), both at once.
func (s *Service) SetOppositions(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, breakGlass, regulation bool) error {
	now := s.clock.Now()
	detail := "break_glass=" + opposed(breakGlass) + " regulation=" + opposed(regulation)
	return s.manage(ctx, actor, ch, patientID, op{trace: TraceOppositionsSet, object: objectOppositions, detail: detail, now: now,
		change: func(ctx context.Context, tx Tx, _ Patient, _ *audit.Entry) error {
			return tx.PutOppositions(ctx, patientID, Oppositions{BreakGlass: breakGlass, Regulation: regulation, UpdatedAt: now})
		}})
}

func opposed(b bool) string {
	if b {
		return "opposed"
	}
	return "allowed"
}

// AddToCareTeam puts a professional in the patient's care team at the patient's (or a
// representative's) request: basis CareDesignated, decided as ActionManageAccess. A blocked
// professional cannot be added (Conflict). A member already there keeps their first date and
// basis.
//
// CareDeposit is refused here (Invalid): a deposit adds its author with AddToCareTeamTx, in the
// deposit's transaction and under the deposit's decision, since the author may not manage the
// patient's settings.
func (s *Service) AddToCareTeam(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, idnat string, basis CareBasis) error {
	now := s.clock.Now()
	return s.manageOne(ctx, actor, ch, patientID, op{trace: TraceCareTeamAdd, detail: "basis=" + string(basis), now: now}, idnat,
		func(ctx context.Context, tx Tx, p Patient, id string) error {
			if basis != CareDesignated {
				return errs.E(errs.Invalid, "the patient designates care team members (basis %q); a deposit adds its author by itself", CareDesignated)
			}
			if err := errBlocked(p, id); err != nil {
				return err
			}
			_, err := tx.AddCareTeamMember(ctx, patientID, CareTeamMember{IdNat: id, Since: now, Basis: basis})
			return err
		})
}

// AddToCareTeamTx adds a professional to the care team inside the caller's transaction, under
// ground, the allowed decision the caller took in that transaction:
//
//   - CareDeposit: ground allows ActionDeposit or ActionReplace to actor, a professional, who is
//     the one added. A deposit under an emergency ground (break-glass) adds nobody and returns
//     false: membership would outlast the time-boxed access, and the patient consented to none.
//   - CareDesignated: ground allows ActionManageAccess to actor.
//
// It appends a trace only when the professional joins (added); a member already there stays
// as they were. A blocked professional is never added (Conflict).
func (s *Service) AddToCareTeamTx(ctx context.Context, tx CareTeamTx, actor Actor, ch audit.Channel, patientID int64,
	idnat string, basis CareBasis, ground Decision) (added bool, err error) {
	id, object, err := parseIdNat(idnat)
	if err != nil {
		return false, err
	}
	switch {
	case !ground.Allowed:
		return false, errs.E(errs.Forbidden, "adding to the care team needs an allowed decision")
	case basis == CareDeposit:
		if ground.Action != ActionDeposit && ground.Action != ActionReplace {
			return false, errs.E(errs.Internal, "a care team member by deposit needs the deposit's decision, not %q", ground.Action)
		}
		if a := canonical(actor); a.Kind != audit.ActorProfessional || a.ID != id {
			return false, errs.E(errs.Forbidden, "a deposit adds its own author to the care team, no one else")
		}
		if ground.Basis == ReasonBreakGlass || ground.Basis == ReasonRegulation {
			return false, nil
		}
	case basis == CareDesignated:
		if ground.Action != ActionManageAccess {
			return false, errs.E(errs.Internal, "a designation needs a decision on managing access, not %q", ground.Action)
		}
	default:
		return false, errs.E(errs.Invalid, "unknown care team basis %q (deposit or designated)", basis)
	}
	p, err := tx.AccessPatient(ctx, patientID)
	if err != nil {
		return false, err
	}
	if err := errBlocked(p, id); err != nil {
		return false, err
	}
	now := s.clock.Now()
	if added, err = tx.AddCareTeamMember(ctx, patientID, CareTeamMember{IdNat: id, Since: now, Basis: basis}); err != nil || !added {
		return false, err
	}
	e := s.entryOf(ground, actor, ch, patientID, object, nil)
	e.At, e.Action, e.Outcome, e.Detail = now, TraceCareTeamAdd, audit.Allowed, "basis="+string(basis)
	if _, err := tx.AppendTrace(ctx, e); err != nil {
		return false, err
	}
	return true, nil
}

// RemoveFromCareTeam takes a professional out of the patient's care team (CSP L1110-12: the
// patient may exclude a professional from it); NotFound when they were not in it. They keep
// their other grounds (an authorisation, a designation as médecin traitant).
func (s *Service) RemoveFromCareTeam(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, idnat string) error {
	return s.manageOne(ctx, actor, ch, patientID, op{trace: TraceCareTeamRemove, now: s.clock.Now()}, idnat,
		func(ctx context.Context, tx Tx, _ Patient, id string) error {
			return tx.RemoveCareTeamMember(ctx, patientID, id)
		})
}
