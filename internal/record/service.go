package record

import (
	"context"
	"log/slog"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// Tx is what the service needs of a store transaction.
type Tx interface {
	access.CareTeamTx
	// PatientByINS finds a patient by matricule; NotFound when there is none.
	PatientByINS(ctx context.Context, matricule string) (space.Patient, error)
	Patient(ctx context.Context, id int64) (space.Patient, error)
	Space(ctx context.Context, patientID int64) (space.Space, error)
	// InsertDocument stores d as the current metadata version of its logicalId.
	InsertDocument(ctx context.Context, d *Document) error
	// SupersedeDocument marks the row entryUUID as no longer the current metadata version.
	SupersedeDocument(ctx context.Context, entryUUID string) error
	// SetDocumentStatus changes the status of the row entryUUID in place (deprecation of a
	// replaced document is a status change, not a new metadata version).
	SetDocumentStatus(ctx context.Context, entryUUID string, st Status, at time.Time) error
	// Document returns the current metadata version of logicalID; NotFound when there is none.
	Document(ctx context.Context, logicalID string) (Document, error)
	// DocumentByUniqueID returns the current, approved document of the patient with this
	// uniqueId; NotFound when there is none.
	DocumentByUniqueID(ctx context.Context, patientID int64, uniqueID string) (Document, error)
	// SearchDocuments returns the current metadata versions of the patient's documents that
	// match q, newest first, at most q.Limit+1 of them (so the caller knows there are more).
	SearchDocuments(ctx context.Context, q Query) ([]Document, error)
	// QueueNotice records, in the transaction, that the patient is to be told of something
	// new (no health content) at notBefore; the same key queued twice makes one notice.
	QueueNotice(ctx context.Context, patientID int64, key string, notBefore, now time.Time) error
	// DueReleases returns documents held back from the patient whose announcement delay ended.
	DueReleases(ctx context.Context, now time.Time, limit int) ([]string, error)
	// MarkSeen records that a professional accessed the record, and reports whether it was
	// the first time.
	MarkSeen(ctx context.Context, patientID int64, idnat string, at time.Time) (bool, error)
}

// Store opens transactions.
type Store interface {
	UpdateRecords(ctx context.Context, fn func(Tx) error) error
	ViewRecords(ctx context.Context, fn func(Tx) error) error
}

// Policy holds the configurable values of the record.
type Policy struct {
	// MaxSize is the largest document accepted, in bytes (default 20 MB: the national record
	// accepts a few MB per document).
	MaxSize int64
	// FirstListing is how far back a search without dates looks (default 2 years, like the
	// national record's first listing).
	FirstListing time.Duration
	// AnnounceNotice and AnnounceVisible are the INVISIBLE_PATIENT deadlines: the patient is
	// told there is something new after AnnounceNotice (2 weeks) and the document becomes
	// visible after AnnounceVisible (1 month) (DOMAIN.md; CSP R1111-53).
	AnnounceNotice  time.Duration
	AnnounceVisible time.Duration
}

// DefaultMaxSize is our default largest document: 20 MB.
const DefaultMaxSize = 20 << 20

func (p Policy) withDefaults() Policy {
	if p.MaxSize <= 0 {
		p.MaxSize = DefaultMaxSize
	}
	if p.FirstListing <= 0 {
		p.FirstListing = 2 * 365 * 24 * time.Hour
	}
	if p.AnnounceNotice <= 0 {
		p.AnnounceNotice = 14 * 24 * time.Hour
	}
	if p.AnnounceVisible <= 0 {
		p.AnnounceVisible = 30 * 24 * time.Hour
	}
	return p
}

// Deps are what the service is built from.
type Deps struct {
	Store   Store
	Access  *access.Service
	Blobs   blob.Store
	Catalog *terminology.Catalog
	Clock   clock.Clock
	Policy  Policy
	Log     *slog.Logger // for blob clean-up failures; never health data
}

// Service runs the operations on patients' records.
type Service struct {
	store   Store
	access  *access.Service
	blobs   blob.Store
	catalog *terminology.Catalog
	clock   clock.Clock
	policy  Policy
	log     *slog.Logger
}

// NewService returns the record service.
func NewService(d Deps) (*Service, error) {
	if d.Store == nil || d.Access == nil || d.Blobs == nil || d.Catalog == nil || d.Clock == nil {
		return nil, errs.E(errs.Internal, "record service: store, access, blobs, catalog and clock are required")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: d.Store, access: d.Access, blobs: d.Blobs, catalog: d.Catalog, clock: d.Clock,
		policy: d.Policy.withDefaults(), log: log}, nil
}

// Policy returns the service's policy with its defaults.
func (s *Service) Policy() Policy { return s.policy }

// Request says who acts and through what.
type Request struct {
	Actor      access.Actor
	Channel    audit.Channel
	BreakGlass *access.BreakGlass
}

// lookup finds the current version of a document and its patient, outside any decision: the
// caller decides before showing anything of it.
func (s *Service) lookup(ctx context.Context, logicalID string) (Document, error) {
	if !validUUID(logicalID) {
		return Document{}, errs.E(errs.NotFound, "no such document")
	}
	var d Document
	err := s.store.ViewRecords(ctx, func(tx Tx) error {
		var err error
		d, err = tx.Document(ctx, logicalID)
		return err
	})
	if errs.Is(err, errs.NotFound) {
		return Document{}, errs.E(errs.NotFound, "no such document")
	}
	return d, err
}

// PatientID resolves an INS to the patient's id, untraced: for the step before a traced
// operation on that patient (an ITI-67 search by INS, whose decision's trace names the patient),
// never to answer a caller by itself (LookupSpace is traced). NotFound when there is none.
func (s *Service) PatientID(ctx context.Context, ins identity.INS) (int64, error) {
	var id int64
	err := s.store.ViewRecords(ctx, func(tx Tx) error {
		p, err := tx.PatientByINS(ctx, ins.Matricule)
		if err != nil {
			return err
		}
		if ins.System != "" && p.INS.System != "" && ins.System != p.INS.System {
			return errs.E(errs.NotFound, "no patient space for this INS")
		}
		id = p.ID
		return nil
	})
	if errs.Is(err, errs.NotFound) {
		return 0, errs.E(errs.NotFound, "no patient space for this INS")
	}
	return id, err
}

// SpaceStatus is what a lookup of a patient by INS tells: that the space exists and its state,
// nothing of its content.
type SpaceStatus struct {
	PatientID int64
	INS       identity.INS
	State     space.State
}

// LookupSpace tells a professional's software whether a patient has a space and in what state
// (the existence test that precedes a first deposit). It reveals no health data, so it needs
// no ground, but it is traced in the patient's chain like every access to their space.
//
// A patient, a representative and an app act for one patient (Actor.PatientID): they look up
// that patient only. Any other INS, known or not, answers NotFound, so that a token cannot
// probe who has a space, and the refusal is traced in the actor's own chain, never in the
// other patient's (whose history must not name an app they never connected).
func (s *Service) LookupSpace(ctx context.Context, r Request, ins identity.INS) (SpaceStatus, error) {
	if ins.Matricule == "" {
		return SpaceStatus{}, errs.E(errs.Invalid, "the INS is missing")
	}
	var (
		st      SpaceStatus
		refused bool
	)
	err := s.store.UpdateRecords(ctx, func(tx Tx) error {
		st, refused = SpaceStatus{}, false
		p, err := tx.PatientByINS(ctx, ins.Matricule)
		if actsForOne(r.Actor) && (errs.Is(err, errs.NotFound) || (err == nil && p.ID != r.Actor.PatientID)) {
			refused = true
			_, err = tx.AppendTrace(ctx, audit.Entry{At: s.clock.Now(), Actor: r.Actor.Audit(), Channel: r.Channel,
				Action: "space.lookup", Object: "space", Outcome: audit.Denied, Reason: "not_own_patient"})
			return err
		}
		if err != nil {
			return err
		}
		if ins.System != "" && p.INS.System != "" && ins.System != p.INS.System {
			return errs.E(errs.NotFound, "no patient space for this INS")
		}
		sp, err := tx.Space(ctx, p.ID)
		if err != nil {
			return err
		}
		st = SpaceStatus{PatientID: p.ID, INS: p.INS, State: sp.State}
		_, err = tx.AppendTrace(ctx, audit.Entry{At: s.clock.Now(), Actor: r.Actor.Audit(), Channel: r.Channel,
			Action: "space.lookup", PatientID: p.ID, Object: "space", Outcome: audit.Allowed, Reason: "existence_test"})
		return err
	})
	if refused || errs.Is(err, errs.NotFound) {
		if err != nil && !errs.Is(err, errs.NotFound) {
			return SpaceStatus{}, err
		}
		return SpaceStatus{}, errs.E(errs.NotFound, "no patient space for this INS")
	}
	return st, err
}

// RefuseOutOfGrant traces the refusal of a request that r's actor (an app) made beyond the
// resource types its token was granted (internal/fhir checks them before any decision), in
// the chain of the patient who connected it: they see what their app tried. action and
// object say what was asked, in the words of the API.
func (s *Service) RefuseOutOfGrant(ctx context.Context, r Request, action, object string) error {
	return s.store.UpdateRecords(context.WithoutCancel(ctx), func(tx Tx) error {
		_, err := tx.AppendTrace(ctx, audit.Entry{At: s.clock.Now(), Actor: r.Actor.Audit(), Channel: r.Channel,
			Action: action, PatientID: r.Actor.PatientID, Object: object, Outcome: audit.Denied, Reason: string(access.ReasonScope)})
		return err
	})
}

// actsForOne reports whether a acts for one patient only, Actor.PatientID: the patient
// themselves, their representative, an app they connected.
func actsForOne(a access.Actor) bool {
	switch a.Kind {
	case audit.ActorPatient, audit.ActorRepresentative, audit.ActorApp:
		return true
	}
	return false
}
