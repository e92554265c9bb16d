package space

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/notify"
)

// Tx is what the service needs of a store transaction.
type Tx interface {
	audit.Appender
	Enqueue(ctx context.Context, job interface{ Kind() string }) error

	InsertPatient(ctx context.Context, p *Patient) error // Conflict if the INS exists
	Patient(ctx context.Context, id int64) (Patient, error)
	PatientByINS(ctx context.Context, matricule string) (Patient, error)
	InsertSpace(ctx context.Context, s Space, activationHash string) error
	Space(ctx context.Context, patientID int64) (Space, error)
	// SaveSpace writes s if the stored version is s.Version, and bumps it; Conflict otherwise.
	SaveSpace(ctx context.Context, s Space) error
	ActivationHash(ctx context.Context, patientID int64) (string, error)
	SetActivationHash(ctx context.Context, patientID int64, hash string) error
	// DueSpaces lists spaces with a deadline (opening, purge) at or before now.
	DueSpaces(ctx context.Context, now time.Time, limit int) ([]int64, error)
	// PurgePatientData deletes everything held for the patient but the INS and the space row.
	PurgePatientData(ctx context.Context, patientID int64, now time.Time) error

	ContactTx

	AddRepresentative(ctx context.Context, r Representative) error // Conflict if linked already
	RemoveRepresentative(ctx context.Context, patientID, representativeID int64) error
	Representatives(ctx context.Context, patientID int64) ([]Representative, error)
	Represented(ctx context.Context, representativeID int64) ([]Representative, error)

	// What a batch of creations needs, each a few statements for the whole batch.

	// PatientsByINS returns the patients of these matricules that exist, by matricule.
	PatientsByINS(ctx context.Context, matricules []string) (map[string]Patient, error)
	// InsertPatients stores new patients and returns their ids, in order; 0 for a patient
	// whose INS someone else stored since the caller looked (it is not inserted).
	InsertPatients(ctx context.Context, ps []Patient) ([]int64, error)
	// InsertSpaces stores new spaces with their activation hashes ("" when none).
	InsertSpaces(ctx context.Context, ss []Space, activationHashes []string) error
	AddRepresentatives(ctx context.Context, rs []Representative) error
	// QueueNotices puts a notice of the same key for each patient in the notice outbox; none
	// of them has one of that key queued yet (new patients).
	QueueNotices(ctx context.Context, patientIDs []int64, key string, notBefore, now time.Time) error
	// AppendTraces appends entries as AppendTrace would one by one, in order.
	AppendTraces(ctx context.Context, es []audit.Entry) error
}

// Store opens transactions.
type Store interface {
	UpdateSpaces(ctx context.Context, fn func(Tx) error) error
	ViewSpaces(ctx context.Context, fn func(Tx) error) error
}

// BulkStore is a Store that gives a batch of thousands of writes a transaction of its own,
// where UpdateSpaces may share one with other writers (SQLite's group commit). CreateBatch
// uses it when the store has it.
type BulkStore interface {
	BulkUpdateSpaces(ctx context.Context, fn func(Tx) error) error
}

// Service runs the life of patient spaces.
type Service struct {
	store     Store
	clock     clock.Clock
	policy    Policy
	publicURL string
	sender    notify.Sender
	codeKey   []byte
}

// Deps are what the service needs.
type Deps struct {
	Store     Store
	Clock     clock.Clock
	Policy    Policy
	PublicURL string        // where notices send people
	Sender    notify.Sender // nil for a process that only queues notices (an operator command)
	CodeKey   []byte        // derives activation codes (CodeKey of the master key)
}

// NewService returns the service.
func NewService(d Deps) (*Service, error) {
	if len(d.CodeKey) < 32 {
		return nil, errs.E(errs.Internal, "space: an activation code key of 32 bytes is required")
	}
	return &Service{store: d.Store, clock: d.Clock, policy: d.Policy, publicURL: d.PublicURL, sender: d.Sender, codeKey: d.CodeKey}, nil
}

// CodeKey derives the key of activation codes from the master key (RFC 5869).
func CodeKey(master []byte) ([]byte, error) {
	if len(master) < 32 {
		return nil, errs.E(errs.Invalid, "master key too short: %d bytes, want 32", len(master))
	}
	return hkdf.Key(sha256.New, master, nil, "carnet activation code v1", 32)
}

// By says who asks and through what channel.
type By struct {
	Actor   audit.Actor
	Channel audit.Channel
}

func (s *Service) entry(by By, action string, patientID int64) audit.Entry {
	return audit.Entry{At: s.clock.Now(), Actor: by.Actor, Channel: by.Channel, Action: action, PatientID: patientID, Object: "space"}
}

func (s *Service) do(ctx context.Context, e audit.Entry, act func(Tx, *audit.Entry) error) error {
	return audit.Do(ctx, s.store.UpdateSpaces, e, act)
}

// NewSpace is what the operator gives to create a space.
type NewSpace struct {
	Patient Patient
	// Representatives: for a minor, the parents (their own spaces must exist).
	Representatives []NewRepresentative
}

// NewRepresentative names a representative by INS.
type NewRepresentative struct {
	INS  string
	Role Role
}

// Created is the result of Create. ActivationCode is set only when nobody can be reached by
// e-mail: the operator prints it on the postal notice. Otherwise the notice job draws the
// code when it sends the e-mail, so that the code is never stored in clear, not even in the
// job queue.
type Created struct {
	Patient        Patient
	Space          Space
	ActivationCode string
}

// Create creates a person's space: pending until the end of the opt-out period, with a notice
// queued to the person (or, for a minor, to the representatives).
func (s *Service) Create(ctx context.Context, by By, n NewSpace) (Created, error) {
	now := s.clock.Now()
	var out Created
	// Validation runs inside the traced action, so that a refused creation leaves a trace too.
	err := s.do(ctx, s.entry(by, "space.create", 0), func(tx Tx, e *audit.Entry) error {
		var err error
		if out, err = s.createOne(ctx, tx, n, now); err != nil {
			return err
		}
		// The patient's chain is named only once the patient surely exists: a refusal after
		// the insert rolls it back, and its trace must not land in a chain of nobody's.
		e.PatientID = out.Patient.ID
		return nil
	})
	return out, err
}

// ExistsError refuses to create a space for an INS that has one (or had one: a purged space
// keeps its INS). It carries the existing patient, so that a bulk import tells a row already
// imported by an earlier run from a duplicate within the file.
type ExistsError struct{ Patient Patient }

func (e *ExistsError) Error() string { return "a space already exists for this INS" }

// Unwrap gives the error its code: Conflict.
func (e *ExistsError) Unwrap() error {
	return errs.E(errs.Conflict, "a space already exists for this INS")
}

// plan is a creation checked and ready to write.
type plan struct {
	patient Patient
	minor   bool
	reps    []Patient
	roles   []Role
}

// Lookup finds a person by INS matricule, for the checks of a creation. The store's does; a
// dry run adds the people met earlier in its file.
type Lookup func(ctx context.Context, matricule string) (Patient, error)

// check checks a creation without writing anything, so that a refused row leaves the
// transaction usable (PostgreSQL aborts a transaction on a failed statement): a bulk import
// refuses one row and goes on with the next in the same transaction.
func (s *Service) check(ctx context.Context, lookup Lookup, n NewSpace, now time.Time) (plan, error) {
	p := n.Patient
	p.CreatedAt = now
	if err := p.Validate(now); err != nil {
		return plan{}, err
	}
	pl := plan{patient: p, minor: p.AgeAt(now) < s.policy.MajorityAge}
	if pl.minor && len(n.Representatives) == 0 {
		return plan{}, errs.E(errs.Invalid, "a minor's space needs a legal representative (a parent or a guardian)")
	}
	if existing, err := lookup(ctx, p.INS.Matricule); err == nil {
		return plan{}, &ExistsError{Patient: existing}
	} else if !errs.Is(err, errs.NotFound) {
		return plan{}, err
	}
	for _, r := range n.Representatives {
		rep, err := s.checkRepresentative(ctx, lookup, p, r, pl.minor, now)
		if err != nil {
			return plan{}, err
		}
		for _, other := range pl.reps {
			if other.INS.Matricule == rep.INS.Matricule {
				// What the store's unique link would refuse, found before anything is written.
				return plan{}, errs.E(errs.Conflict, "this person already represents this patient")
			}
		}
		pl.reps, pl.roles = append(pl.reps, rep), append(pl.roles, r.Role)
	}
	return pl, nil
}

// createOne checks a creation, then writes it.
func (s *Service) createOne(ctx context.Context, tx Tx, n NewSpace, now time.Time) (Created, error) {
	pl, err := s.check(ctx, tx.PatientByINS, n, now)
	if err != nil {
		return Created{}, err
	}
	p := pl.patient
	if err := tx.InsertPatient(ctx, &p); err != nil {
		return Created{}, err
	}
	sp := New(p.ID, now, s.policy)
	if err := tx.InsertSpace(ctx, sp, ""); err != nil {
		return Created{}, err
	}
	reachable := !pl.minor && p.Email != ""
	for i, rep := range pl.reps {
		if err := tx.AddRepresentative(ctx, Representative{PatientID: p.ID, RepresentativeID: rep.ID, Role: pl.roles[i], Since: now}); err != nil {
			return Created{}, err
		}
		// As recipients() will decide: a minor's representatives, an adult's guardians.
		reachable = reachable || (rep.Email != "" && (pl.minor || pl.roles[i] == Guardian))
	}
	out := Created{Patient: p, Space: sp}
	if reachable {
		if err := tx.Enqueue(ctx, NoticeJob{PatientID: p.ID, Notice: NoticeCreated, Version: sp.Version}); err != nil {
			return Created{}, err
		}
		return out, nil
	}
	code, hash := s.activationCode(p.ID, sp.Version)
	if err := tx.SetActivationHash(ctx, p.ID, hash); err != nil {
		return Created{}, err
	}
	out.ActivationCode = code
	return out, nil
}

// checkRepresentative finds a representative and checks the link is allowed, writing nothing.
func (s *Service) checkRepresentative(ctx context.Context, lookup Lookup, p Patient, r NewRepresentative, minor bool, now time.Time) (Patient, error) {
	switch {
	case !ValidRole(r.Role):
		return Patient{}, errs.E(errs.Invalid, "unknown representative role %q (parent, guardian or curator)", r.Role)
	case r.Role == Parent && !minor:
		return Patient{}, errs.E(errs.Invalid, "a parent represents a minor; an adult is represented by a guardian or curator")
	case r.Role == Curator && minor:
		// Code civil art. 440: curatorship protects adults; a minor has parents or a guardian.
		return Patient{}, errs.E(errs.Invalid, "a curator assists an adult; a minor is represented by a parent or a guardian")
	}
	ins, err := identity.ParseINS(r.INS)
	if err != nil {
		return Patient{}, err
	}
	rep, err := lookup(ctx, ins.Matricule)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return Patient{}, errs.E(errs.NotFound, "the representative has no space in carnet")
		}
		return Patient{}, err
	}
	if rep.INS.Matricule == p.INS.Matricule {
		return Patient{}, errs.E(errs.Invalid, "a person cannot be their own representative")
	}
	if rep.AgeAt(now) < s.policy.MajorityAge {
		return Patient{}, errs.E(errs.Invalid, "a representative must be of age")
	}
	return rep, nil
}

// activationCode returns the code of a space at a version, in groups of four (easy to type from
// a letter), and its hash. The code is derived, not drawn: a notice sent again (a retried job)
// carries the same code, so an earlier copy of it still works. 60 bits from an HMAC keyed by a
// secret: unguessable, and a copy of the database (which holds only the hash) does not reveal it.
func (s *Service) activationCode(patientID, version int64) (code, hash string) {
	m := hmac.New(sha256.New, s.codeKey)
	fmt.Fprintf(m, "activation\x00%d\x00%d", patientID, version)
	raw := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)[:8])[:12]
	code = raw[0:4] + "-" + raw[4:8] + "-" + raw[8:12]
	return code, hashCode(code)
}

var codeSeparators = strings.NewReplacer("-", "", " ", "")

func hashCode(code string) string {
	norm := strings.ToUpper(codeSeparators.Replace(strings.TrimSpace(code)))
	h := sha256.Sum256([]byte("carnet-activation:" + norm))
	return hex.EncodeToString(h[:])
}

// Activate opens (or marks activated) the space of the person holding the notice's code.
func (s *Service) Activate(ctx context.Context, by By, ins identity.INS, code string) (Space, error) {
	var out Space
	err := s.do(ctx, s.entry(by, "space.activate", 0), func(tx Tx, e *audit.Entry) error {
		p, err := tx.PatientByINS(ctx, ins.Matricule)
		if err != nil {
			// Same work as a wrong code, so that timing does not tell which INS exist.
			subtle.ConstantTimeCompare([]byte(hashCode(code)), []byte(hashCode("")))
			return errs.E(errs.Forbidden, "this INS and activation code do not match")
		}
		e.PatientID = p.ID
		want, err := tx.ActivationHash(ctx, p.ID)
		if err != nil {
			return err
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(hashCode(code))) != 1 {
			return errs.E(errs.Forbidden, "this INS and activation code do not match")
		}
		sp, err := tx.Space(ctx, p.ID)
		if err != nil {
			return err
		}
		if out, err = sp.Activate(s.clock.Now()); err != nil {
			return err
		}
		if err := tx.SaveSpace(ctx, out); err != nil {
			return err
		}
		out.Version++
		return tx.SetActivationHash(ctx, p.ID, "") // a code serves once
	})
	return out, err
}

// transition loads a space, applies change, saves it, and traces the action.
func (s *Service) transition(ctx context.Context, by By, action string, patientID int64, change func(Space, time.Time) (Space, error), after func(Tx, Space) error) (Space, error) {
	var out Space
	err := s.do(ctx, s.entry(by, action, patientID), func(tx Tx, _ *audit.Entry) error {
		sp, err := tx.Space(ctx, patientID)
		if err != nil {
			return err
		}
		if out, err = change(sp, s.clock.Now()); err != nil {
			return err
		}
		if err := tx.SaveSpace(ctx, out); err != nil {
			return err
		}
		out.Version++
		if after == nil {
			return nil
		}
		return after(tx, out)
	})
	return out, err
}

// Oppose records the person's objection during the opt-out period.
func (s *Service) Oppose(ctx context.Context, by By, patientID int64) (Space, error) {
	return s.transition(ctx, by, "space.oppose", patientID, Space.Oppose, nil)
}

// Close closes the space; with deletion, its data go within the deletion delay instead of
// after the archive period.
func (s *Service) Close(ctx context.Context, by By, patientID int64, deletion bool) (Space, error) {
	action := "space.close"
	if deletion {
		action = "space.close_and_delete"
	}
	return s.transition(ctx, by, action, patientID,
		func(sp Space, now time.Time) (Space, error) { return sp.Close(now, deletion, s.policy) },
		func(tx Tx, sp Space) error {
			return tx.Enqueue(ctx, NoticeJob{PatientID: patientID, Notice: NoticeClosed, Version: sp.Version})
		})
}

// RequestDeletion asks for a closed space's data to go within the deletion delay.
func (s *Service) RequestDeletion(ctx context.Context, by By, patientID int64) (Space, error) {
	return s.transition(ctx, by, "space.request_deletion", patientID,
		func(sp Space, now time.Time) (Space, error) { return sp.RequestDeletion(now, s.policy) }, nil)
}

// Reopen restores a closed space within its archive period.
func (s *Service) Reopen(ctx context.Context, by By, patientID int64) (Space, error) {
	return s.transition(ctx, by, "space.reopen", patientID, Space.Reopen, nil)
}

// Get returns the state of a space. Lifecycle state is administrative, not health data.
func (s *Service) Get(ctx context.Context, patientID int64) (Patient, Space, error) {
	var p Patient
	var sp Space
	err := s.store.ViewSpaces(ctx, func(tx Tx) error {
		var err error
		if p, err = tx.Patient(ctx, patientID); err != nil {
			return err
		}
		sp, err = tx.Space(ctx, patientID)
		return err
	})
	return p, sp, err
}

// ByINS returns the patient and space of a matricule.
func (s *Service) ByINS(ctx context.Context, matricule string) (Patient, Space, error) {
	var p Patient
	var sp Space
	err := s.store.ViewSpaces(ctx, func(tx Tx) error {
		var err error
		if p, err = tx.PatientByINS(ctx, matricule); err != nil {
			return err
		}
		sp, err = tx.Space(ctx, p.ID)
		return err
	})
	return p, sp, err
}

// NotifyNewContent queues the "something new in your space" e-mail; it goes only if the
// space is open when the job runs. key makes the notice idempotent (e.g. the document's id).
func (s *Service) NotifyNewContent(ctx context.Context, patientID int64, key string) error {
	if key == "" {
		return errs.E(errs.Invalid, "a new-content notice needs a key (what is new)")
	}
	return s.store.UpdateSpaces(ctx, func(tx Tx) error {
		return tx.Enqueue(ctx, NoticeJob{PatientID: patientID, Notice: NoticeNewContent, Key: sanitizeKey(key)})
	})
}

func sanitizeKey(k string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, k)
}
