package record

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
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

// Deposit is a new document: its metadata as the depositor states it. The record fills in the
// rest (class and space from the type, identifiers, dates, hashes).
type Deposit struct {
	INS             identity.INS // whose record; its System must be stated
	SourcePatientID string
	UniqueID        string // given by the sender; generated (2.25 OID of a UUID) when empty
	// EntryUUID is the sender's id for the entry, when it gives one (a urn:uuid); generated
	// when empty.
	EntryUUID string
	Title     string
	Comments  string
	Language  string

	Type            string // typeCode, required
	TypeSystem      string // checked when given
	Class           string // checked against the type's class when given
	Format          Code
	MimeType        string
	Confidentiality []Code
	FacilityType    Code
	PracticeSetting Code
	EventCodes      []Code
	ReferenceIDs    []string

	Authors            []Author
	LegalAuthenticator string

	Created      time.Time
	ServiceStart time.Time
	ServiceEnd   time.Time

	// Labels the depositor sets at once: INVISIBLE_PATIENT and INVISIBLE_REPRESENTANTS_LEGAUX
	// by a professional, MASQUE_PS by the patient or at their request.
	MasquePS               bool
	InvisiblePatient       bool
	InvisibleRepresentants bool

	// Declared size and hashes (hex), checked against the bytes when given.
	Size   int64
	SHA1   string
	SHA256 string
}

// ConfidentialitySystem is the code system of the N/R/V confidentiality codes (HL7 v3
// Confidentiality, JDV_J08).
const ConfidentialitySystem = "2.16.840.1.113883.5.25"

// Deposit adds a document to a patient's record. The bytes are stored (durably, encrypted)
// before the metadata commits with the decision's trace; a refusal or a failure stores nothing
// (the blob written is deleted).
func (s *Service) Deposit(ctx context.Context, r Request, dep Deposit, content []byte) (Document, error) {
	docs, err := s.DepositAll(ctx, r, []Item{{Deposit: dep, Content: content}})
	if err != nil {
		return Document{}, err
	}
	return docs[0], nil
}

// Replace deposits a new version of the document logicalID: same uniqueId, new logicalId;
// the old one becomes deprecated in the same transaction.
func (s *Service) Replace(ctx context.Context, r Request, logicalID string, dep Deposit, content []byte) (Document, error) {
	if logicalID == "" {
		return Document{}, errs.E(errs.Invalid, "replace: which document is replaced is missing")
	}
	docs, err := s.DepositAll(ctx, r, []Item{{Deposit: dep, Content: content, Replaces: logicalID}})
	if err != nil {
		return Document{}, err
	}
	return docs[0], nil
}

// Item is one document of a submission: a new document, or a replacement of Replaces.
type Item struct {
	Deposit  Deposit
	Content  []byte
	Replaces string // logicalId of the document replaced; empty for a new one
}

// MaxItems bounds the documents of one submission.
const MaxItems = 100

// errRefused rolls back a submission one of whose documents was refused.
var errRefused = errors.New("a document of the submission was refused")

// DepositAll deposits the documents of one submission (an MHD SubmissionSet) for one patient,
// all or none: every document is decided and traced, and they commit together. If one is
// refused, none is stored and the refusal is traced; if one fails, none is stored and the
// failure is traced.
func (s *Service) DepositAll(ctx context.Context, r Request, items []Item) ([]Document, error) {
	if len(items) == 0 {
		return nil, errs.E(errs.Invalid, "the submission holds no document")
	}
	if len(items) > MaxItems {
		return nil, errs.E(errs.Invalid, "the submission holds %d documents, more than the %d accepted", len(items), MaxItems)
	}
	now := s.clock.Now()
	docs := make([]Document, len(items))
	ins := items[0].Deposit.INS
	for i, it := range items {
		d, err := s.prepare(r, it.Deposit, it.Content, now)
		if err == nil {
			d.CDALevel, err = checkCDA(d.MimeType, it.Content, it.Deposit.INS, d.Type, s.policy.MaxSize)
		}
		if err == nil && it.Deposit.INS.Matricule != ins.Matricule {
			err = errs.E(errs.Invalid, "the documents of one submission are for one patient")
		}
		if err != nil {
			return nil, numbered(err, i, len(items))
		}
		docs[i] = d
	}
	// The patient, and the documents replaced: read outside the write transaction (ids are
	// stable), checked again inside it.
	var patient space.Patient
	olds := make([]Document, len(items))
	if err := s.store.ViewRecords(ctx, func(tx Tx) error {
		var err error
		if patient, err = tx.PatientByINS(ctx, ins.Matricule); err != nil {
			if errs.Is(err, errs.NotFound) {
				return errs.E(errs.NotFound, "no patient space for this INS")
			}
			return err
		}
		for i, it := range items {
			if it.Replaces == "" {
				continue
			}
			if olds[i], err = tx.Document(ctx, it.Replaces); err != nil {
				return numbered(err, i, len(items))
			}
			if olds[i].PatientID != patient.ID {
				return numbered(errs.E(errs.Invalid, "the document replaced belongs to another patient"), i, len(items))
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if ins.System != "" && patient.INS.System != "" && ins.System != patient.INS.System {
		return nil, errs.E(errs.Invalid, "the INS system %s is not the one of this patient's identity", ins.System)
	}
	pid := patient.ID
	targets := make([]access.Target, len(items))
	actions := make([]access.Action, len(items))
	for i := range docs {
		docs[i].PatientID, docs[i].INS = pid, patient.INS
		// The decision on a replacement is taken on the document replaced: its author may.
		actions[i], targets[i] = access.ActionDeposit, access.Target{Ref: docs[i].Ref(), Object: docs[i].Object()}
		if items[i].Replaces != "" {
			actions[i], targets[i] = access.ActionReplace, access.Target{Ref: olds[i].Ref(), Object: olds[i].Object()}
		}
	}

	// The bytes first: durable before anything refers to them.
	stored := make([]string, 0, len(items))
	drop := func() {
		for _, id := range stored {
			s.dropBlob(id)
		}
	}
	for i, it := range items {
		ref, err := s.blobs.Put(ctx, bytes.NewReader(it.Content))
		if err != nil {
			drop()
			return nil, fmt.Errorf("store the document's bytes: %w", err)
		}
		stored = append(stored, ref.ID)
		docs[i].BlobID, docs[i].Size, docs[i].SHA256, docs[i].SHA1 = ref.ID, ref.Size, ref.SHA256, ref.SHA1
	}

	refused := -1
	err := s.store.UpdateRecords(ctx, func(tx Tx) error {
		sp, err := tx.Space(ctx, pid)
		if err != nil {
			return err
		}
		if err := spaceAccepts(sp); err != nil {
			return err
		}
		for i := range docs {
			ground, err := s.access.DecideTx(ctx, tx, r.Actor, r.Channel, pid, actions[i], targets[i], r.BreakGlass)
			switch {
			case ground.Reason == "":
				return err
			case !ground.Allowed:
				refused = i
				return errRefused
			}
			if err := s.insert(ctx, tx, r, &docs[i], items[i], ground, now); err != nil {
				return numbered(err, i, len(items))
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return docs, nil
	case errors.Is(err, errRefused):
		drop()
		// Nothing committed: decide the refused document again on its own, which traces the
		// refusal (the settings have not changed in between, or the new decision stands).
		_, rerr := s.access.Decide(ctx, r.Actor, r.Channel, pid, actions[refused], targets[refused], r.BreakGlass)
		if rerr == nil {
			rerr = errs.E(errs.Conflict, "the access settings changed during the deposit: try again")
		}
		return nil, numbered(rerr, refused, len(items))
	default:
		drop()
		s.traceFailure(ctx, r, pid, actions[0], targets[0].Ref, err)
		return nil, err
	}
}

// insert stores one allowed document of a submission in tx.
func (s *Service) insert(ctx context.Context, tx Tx, r Request, d *Document, it Item, ground access.Decision, now time.Time) error {
	if it.Replaces != "" {
		cur, err := tx.Document(ctx, it.Replaces)
		if err != nil {
			return err
		}
		if cur.Status != Approved {
			return errs.E(errs.Conflict, "document %s is %s: only an approved document can be replaced", it.Replaces, cur.Status)
		}
		if it.Deposit.UniqueID == "" {
			d.UniqueID = cur.UniqueID // a replacement keeps the uniqueId unless the sender gives one
		}
		if err := tx.SetDocumentStatus(ctx, cur.EntryUUID, Deprecated, now); err != nil {
			return err
		}
		d.Replaces = cur.LogicalID
	}
	if prior, err := tx.DocumentByUniqueID(ctx, d.PatientID, d.UniqueID); err == nil && prior.LogicalID != d.Replaces {
		return errs.E(errs.Conflict, "a document with uniqueId %s is already in this record: replace it instead", d.UniqueID)
	} else if err != nil && !errs.Is(err, errs.NotFound) {
		return err
	}
	if err := tx.InsertDocument(ctx, d); err != nil {
		return err
	}
	if r.Actor.Kind == audit.ActorProfessional {
		if _, err := s.access.AddToCareTeamTx(ctx, tx, r.Actor, r.Channel, d.PatientID, r.Actor.ID, access.CareDeposit, ground); err != nil {
			return err
		}
		// A deposit tells the patient "something new" (below), not "a new professional": that
		// notice is for who reads the record. An emergency deposit is told like any emergency.
		if err := s.tellPatient(ctx, tx, r, d.PatientID, ground, false); err != nil {
			return err
		}
	}
	return s.enqueueNotices(ctx, tx, d, now)
}

// numbered prefixes an error's message with the document's position in a submission of more
// than one, keeping its code.
func numbered(err error, i, n int) error {
	if n <= 1 || err == nil {
		return err
	}
	return errs.Wrap(errs.CodeOf(err), err, "document %d: %s", i+1, errs.MessageOf(err))
}

// traceFailure traces an operation that failed after it was allowed (its transaction, and the
// allowed trace with it, rolled back).
func (s *Service) traceFailure(ctx context.Context, r Request, patientID int64, action access.Action, ref string, cause error) {
	e := audit.Entry{At: s.clock.Now(), Actor: r.Actor.Audit(), Channel: r.Channel, Action: string(action),
		PatientID: patientID, Object: ref}
	e.Outcome, e.Reason = audit.Failure(cause)
	// The trace of a failure must be written even when the caller has gone (a client that
	// disconnected is the usual failure): neither the transaction nor its statements may
	// follow the request's cancellation.
	ctx = context.WithoutCancel(ctx)
	if err := s.store.UpdateRecords(ctx, func(tx Tx) error {
		_, err := tx.AppendTrace(ctx, e)
		return err
	}); err != nil {
		s.log.Error("trace of a failed deposit not written", "err", err)
	}
}

// enqueueNotices queues what the patient is told of a new document: "something new" now when
// they may see it, or at the end of the announcement delay when it is held back.
func (s *Service) enqueueNotices(ctx context.Context, tx Tx, d *Document, now time.Time) error {
	if d.DepositedBy == access.DepositedByPatient {
		return nil // the patient knows what they deposited
	}
	if d.Labels.InvisiblePatient {
		// Told that there is something new at the end of the notice delay, whatever happens
		// until then; the document itself shows at VisibleToPatientAt (access.Decide).
		return tx.QueueNotice(ctx, d.PatientID, "doc-"+d.LogicalID, now.Add(s.policy.AnnounceNotice), now)
	}
	return tx.QueueNotice(ctx, d.PatientID, "doc-"+d.LogicalID, now, now)
}

// dropBlob deletes the bytes of a deposit that did not commit. A failure leaves an orphan blob
// (encrypted, referenced by nothing), which is logged by id only.
func (s *Service) dropBlob(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.blobs.Delete(ctx, id); err != nil {
		s.log.Warn("orphan blob left after a failed deposit", "blob", id, "err", err)
	}
}

// spaceAccepts says whether a space takes new documents: only an open one.
func spaceAccepts(sp space.Space) error {
	switch sp.State {
	case space.Open:
		return nil
	case space.Pending:
		return errs.E(errs.Conflict, "this patient's space is not open yet (opt-out period running)")
	default:
		return errs.E(errs.Conflict, "this patient's space is %s: it takes no new documents", sp.State)
	}
}

// prepare checks the deposit's metadata and content and returns the document to store.
func (s *Service) prepare(r Request, dep Deposit, content []byte, now time.Time) (Document, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if dep.INS.Matricule == "" {
		bad("the patient's INS is missing")
	} else if _, err := identity.NewINS(dep.INS.Matricule, dep.INS.System); err != nil && dep.INS.System != "" {
		bad("the patient's INS is invalid: %v", err)
	}
	if int64(len(content)) > s.policy.MaxSize {
		return Document{}, errs.E(errs.Invalid, "the document is %d bytes, more than the %d accepted", len(content), s.policy.MaxSize)
	}
	if len(content) == 0 {
		bad("the document is empty")
	}
	d := Document{
		SourcePatientID:    strings.TrimSpace(dep.SourcePatientID),
		UniqueID:           strings.TrimSpace(dep.UniqueID),
		EntryUUID:          strings.TrimSpace(dep.EntryUUID),
		LogicalID:          newUUID(),
		Version:            1,
		Status:             Approved,
		Title:              strings.TrimSpace(dep.Title),
		Comments:           strings.TrimSpace(dep.Comments),
		Language:           strings.TrimSpace(dep.Language),
		Format:             dep.Format,
		Confidentiality:    dep.Confidentiality,
		FacilityType:       dep.FacilityType,
		PracticeSetting:    dep.PracticeSetting,
		EventCodes:         dep.EventCodes,
		ReferenceIDs:       dep.ReferenceIDs,
		Authors:            dep.Authors,
		LegalAuthenticator: strings.TrimSpace(dep.LegalAuthenticator),
		Created:            dep.Created.UTC(),
		ServiceStart:       dep.ServiceStart.UTC(),
		ServiceEnd:         dep.ServiceEnd.UTC(),
		Submitted:          now,
		Updated:            now,
		Depositor:          r.Actor.ID,
	}
	if d.UniqueID == "" {
		d.UniqueID = uuidOID(d.LogicalID)
	} else if len(d.UniqueID) > 128 {
		bad("the uniqueId is longer than 128 characters")
	}
	if d.EntryUUID == "" {
		d.EntryUUID = newUUID()
	} else if !validUUID(d.EntryUUID) {
		bad("the entryUUID %q is not a UUID", d.EntryUUID)
	}
	if d.Title == "" {
		bad("the title is missing")
	} else if len(d.Title) > 256 {
		bad("the title is longer than 256 characters")
	}
	if d.Language == "" {
		d.Language = "fr-FR"
	}
	switch r.Actor.Kind {
	case audit.ActorProfessional:
		d.DepositedBy = access.DepositedByProfessional
	case audit.ActorPatient, audit.ActorRepresentative:
		d.DepositedBy = access.DepositedByPatient
	case audit.ActorOperator, audit.ActorSystem:
		d.DepositedBy = access.DepositedByInsurer
	case audit.ActorApp:
		d.DepositedBy = access.DepositedByPatient // an app deposits on the patient's behalf
	default:
		bad("unknown depositor kind %q", r.Actor.Kind)
	}

	t, err := s.catalog.Type(strings.TrimSpace(dep.Type))
	switch {
	case strings.TrimSpace(dep.Type) == "":
		bad("the typeCode is missing")
	case err != nil:
		bad("unknown typeCode %q: not in the national list (JDV_J07)", dep.Type)
	default:
		d.Type, d.TypeSystem, d.Class, d.Space = t.Code, t.System, t.Class, t.Space
		if sys := strings.TrimPrefix(dep.TypeSystem, "urn:oid:"); sys != "" && sys != t.System && !(sys == "http://loinc.org" && t.System == loincOID) {
			bad("typeCode %s is in code system %s, not %s", t.Code, t.System, dep.TypeSystem)
		}
		if c := strings.TrimSpace(dep.Class); c != "" && c != t.Class {
			bad("classCode %s does not match typeCode %s, whose class is %s", c, t.Code, t.Class)
		}
	}
	if d.MimeType, err = checkMime(dep.MimeType); err != nil {
		bad("%s", errs.MessageOf(err))
	}
	if len(d.Confidentiality) == 0 {
		d.Confidentiality = []Code{{Code: "N", System: ConfidentialitySystem, Display: "Normal"}}
	} else if len(d.Confidentiality) > 4 {
		bad("%d confidentiality codes: at most 4", len(d.Confidentiality))
	}
	if d.Created.IsZero() {
		d.Created = now
	}
	if d.ServiceStart.IsZero() {
		if d.DepositedBy == access.DepositedByProfessional {
			bad("the serviceStartTime (date of the act) is missing")
		} else {
			d.ServiceStart = d.Created
		}
	}
	if !d.ServiceEnd.IsZero() && d.ServiceEnd.Before(d.ServiceStart) {
		bad("the serviceStopTime is before the serviceStartTime")
	}
	if d.Created.After(now.Add(24 * time.Hour)) {
		bad("the creationTime is in the future")
	}
	for i, a := range d.Authors {
		if a.Kind == "" {
			d.Authors[i].Kind = AuthorProfessional
			a.Kind = AuthorProfessional
		}
		if a.Kind == AuthorProfessional && a.ID != "" {
			id, err := identity.ParseIdNatPS(a.ID)
			if err != nil {
				bad("author %d: %v", i+1, err)
				continue
			}
			d.Authors[i].ID = id.String()
		}
	}
	if d.DepositedBy == access.DepositedByProfessional {
		if id, err := identity.ParseIdNatPS(r.Actor.ID); err == nil {
			d.Depositor = id.String()
		}
		if len(d.Authors) == 0 {
			d.Authors = []Author{{Kind: AuthorProfessional, ID: d.Depositor, Name: r.Actor.Name,
				Profession: r.Actor.Profession, Specialty: r.Actor.Specialty, OrgID: r.Actor.Org}}
		}
	}
	d.Labels = Labels{MasquePS: dep.MasquePS, InvisiblePatient: dep.InvisiblePatient, InvisibleRepresentants: dep.InvisibleRepresentants}
	if d.Labels.InvisiblePatient {
		d.Labels.VisibleToPatientAt = now.Add(s.policy.AnnounceVisible)
	}

	if len(content) > 0 {
		s256 := sha256.Sum256(content)
		s1 := sha1.Sum(content)
		if dep.SHA256 != "" && !strings.EqualFold(dep.SHA256, hex.EncodeToString(s256[:])) {
			bad("the SHA-256 stated does not match the document's bytes")
		}
		if dep.SHA1 != "" && !strings.EqualFold(dep.SHA1, hex.EncodeToString(s1[:])) {
			bad("the hash (SHA-1) stated does not match the document's bytes")
		}
		if dep.Size != 0 && dep.Size != int64(len(content)) {
			bad("the size stated (%d) is not the document's (%d bytes)", dep.Size, len(content))
		}
	}
	if len(problems) > 0 {
		return Document{}, errs.E(errs.Invalid, "%s", strings.Join(problems, "; "))
	}
	return d, nil
}

const loincOID = "2.16.840.1.113883.6.1"

// newUUID returns a random (version 4) UUID in its canonical text form.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// validUUID reports whether s is a UUID in canonical text form (lowercase or uppercase hex).
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// uuidOID returns the OID of a UUID under the 2.25 arc (ITU-T X.667): what a record that
// must invent a uniqueId uses, as XDS requires an OID.
func uuidOID(u string) string {
	b, _ := hex.DecodeString(strings.ReplaceAll(u, "-", ""))
	var n [16]byte
	copy(n[:], b)
	return "2.25." + bigDecimal(n)
}

// bigDecimal writes a 128-bit big-endian number in decimal.
func bigDecimal(n [16]byte) string {
	var digits []byte
	for {
		zero := true
		var rem uint32
		for i := range n {
			cur := rem<<8 | uint32(n[i])
			n[i] = byte(cur / 10)
			rem = cur % 10
			if n[i] != 0 {
				zero = false
			}
		}
		digits = append(digits, byte('0'+rem))
		if zero {
			break
		}
	}
	for i, j := 0, len(digits)-1; i < j; i, j = i+1, j-1 {
		digits[i], digits[j] = digits[j], digits[i]
	}
	return string(digits)
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

// Get returns the current metadata of a document, after an ActionList decision on it (traced).
// A deleted document is NotFound.
func (s *Service) Get(ctx context.Context, r Request, logicalID string) (Document, error) {
	d, err := s.lookup(ctx, logicalID)
	if err != nil {
		return Document{}, err
	}
	var got Document
	err = s.read(ctx, r, d.PatientID, access.ActionList, access.Target{Ref: d.Ref(), Object: d.Object()},
		func(tx Tx) error {
			cur, err := tx.Document(ctx, logicalID)
			if err != nil {
				return err
			}
			if cur.Status == Deleted {
				return errs.E(errs.NotFound, "this document was deleted")
			}
			got = cur
			return nil
		})
	return got, err
}

// Open returns a document's metadata and a reader of its bytes, after an ActionRead decision
// (traced). The reader checks the bytes against their hashes as it goes: an error instead of
// io.EOF means the blob is corrupted, and the caller must not have served what it read as good
// (buffer, or send it with a trailer that fails).
func (s *Service) Open(ctx context.Context, r Request, logicalID string) (Document, io.ReadCloser, error) {
	d, err := s.lookup(ctx, logicalID)
	if err != nil {
		return Document{}, nil, err
	}
	var got Document
	err = s.read(ctx, r, d.PatientID, access.ActionRead, access.Target{Ref: d.Ref(), Object: d.Object()},
		func(tx Tx) error {
			cur, err := tx.Document(ctx, logicalID)
			if err != nil {
				return err
			}
			if cur.Status == Deleted || cur.BlobID == "" {
				return errs.E(errs.NotFound, "this document was deleted")
			}
			got = cur
			return nil
		})
	if err != nil {
		return Document{}, nil, err
	}
	rc, err := s.blobs.Open(ctx, blob.Ref{ID: got.BlobID, Size: got.Size, SHA256: got.SHA256, SHA1: got.SHA1})
	if err != nil {
		return Document{}, nil, err
	}
	return got, rc, nil
}

// read decides a read of the patient's record in a read-only snapshot and, when allowed, runs
// fn in it; then it writes the decision's trace (allowed, refused, or allowed but failed) in a
// write transaction. Reads so hold no write lock while they run (on SQLite, the one writer
// serves deposits), and nothing read is returned unless its trace committed.
func (s *Service) read(ctx context.Context, r Request, patientID int64, action access.Action, target access.Target,
	fn func(Tx) error) error {
	var (
		d    access.Decision
		e    audit.Entry
		ferr error
	)
	err := s.store.ViewRecords(ctx, func(tx Tx) error {
		var err error
		if d, e, err = s.access.DecideRead(ctx, tx, r.Actor, r.Channel, patientID, action, target, r.BreakGlass); err != nil {
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
	if err := s.store.UpdateRecords(ctx, func(tx Tx) error {
		if _, err := tx.AppendTrace(ctx, e); err != nil {
			return err
		}
		return s.tellPatient(ctx, tx, r, patientID, d, true)
	}); err != nil {
		return fmt.Errorf("trace %s: %w", action, err)
	}
	if !d.Allowed {
		return d.Err()
	}
	return ferr
}

// tellPatient queues what the patient is told of an allowed access (issue 5; CSP R1111-48):
// the first access by a professional new to their record, and any emergency access. The
// notices name no one; the trail does.
func (s *Service) tellPatient(ctx context.Context, tx Tx, r Request, patientID int64, d access.Decision, reading bool) error {
	if !d.Allowed || r.Actor.Kind != audit.ActorProfessional {
		return nil
	}
	id, err := identity.ParseIdNatPS(r.Actor.ID)
	if err != nil {
		return nil // the decision refused such an actor; nothing to tell
	}
	idnat, now := id.String(), s.clock.Now()
	// The author of a deposit is seen too, so that their later reads are no news.
	first, err := tx.MarkSeen(ctx, patientID, idnat, now)
	if err != nil {
		return err
	}
	if first && reading {
		if err := tx.QueueNotice(ctx, patientID, "first-"+idnat, now, now); err != nil {
			return err
		}
	}
	for _, to := range d.Notify {
		if to == access.NotifyPatient {
			// One notice a day per professional: a break-glass session reads many documents.
			return tx.QueueNotice(ctx, patientID, "emergency-"+idnat+"-"+now.Format("20060102"), now, now)
		}
	}
	return nil
}

// ReadAll is Open, reading the whole document and checking it before returning anything: a
// corrupted blob is an error, never bytes.
func (s *Service) ReadAll(ctx context.Context, r Request, logicalID string) (Document, []byte, error) {
	d, rc, err := s.Open(ctx, r, logicalID)
	if err != nil {
		return Document{}, nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, d.Size+1))
	if err != nil {
		return Document{}, nil, err
	}
	if int64(len(b)) != d.Size {
		return Document{}, nil, errs.E(errs.Internal, "blob corrupted")
	}
	return d, b, nil
}

// change applies a metadata change to the current version of a document after the decision
// on action: mutate edits a copy, which is stored as a new metadata version (new entryUUID),
// unless inPlace, for status changes.
func (s *Service) change(ctx context.Context, r Request, logicalID string, action access.Action, label access.Label,
	mutate func(d *Document, now time.Time) error) (Document, error) {
	d, err := s.lookup(ctx, logicalID)
	if err != nil {
		return Document{}, err
	}
	var out Document
	_, err = access.Do(ctx, s.access, s.store.UpdateRecords, r.Actor, r.Channel, d.PatientID, action,
		access.Target{Ref: d.Ref(), Object: d.Object(), Label: label}, r.BreakGlass,
		func(tx Tx, _ access.Decision) error {
			cur, err := tx.Document(ctx, logicalID)
			if err != nil {
				return err
			}
			if cur.Status == Deleted {
				return errs.E(errs.NotFound, "this document was deleted")
			}
			now := s.clock.Now()
			next := cur
			if err := mutate(&next, now); err != nil {
				return err
			}
			if err := tx.SupersedeDocument(ctx, cur.EntryUUID); err != nil {
				return err
			}
			next.EntryUUID, next.Version, next.Updated = newUUID(), cur.Version+1, now
			if err := tx.InsertDocument(ctx, &next); err != nil {
				return err
			}
			out = next
			if action == access.ActionClearLabel && label == access.LabelInvisiblePatient && cur.DepositedBy != access.DepositedByPatient {
				// The announcement was made: the patient may now be told.
				return tx.QueueNotice(ctx, cur.PatientID, "announced-"+cur.LogicalID, now, now)
			}
			return nil
		})
	return out, err
}

// Mask sets MASQUE_PS: the document is hidden from professionals but its author and the
// médecin traitant. A new metadata version.
func (s *Service) Mask(ctx context.Context, r Request, logicalID string) (Document, error) {
	return s.change(ctx, r, logicalID, access.ActionMask, "", func(d *Document, _ time.Time) error {
		if d.Labels.MasquePS {
			return errs.E(errs.Conflict, "the document is already masked")
		}
		d.Labels.MasquePS = true
		return nil
	})
}

// Unmask clears MASQUE_PS. A new metadata version.
func (s *Service) Unmask(ctx context.Context, r Request, logicalID string) (Document, error) {
	return s.change(ctx, r, logicalID, access.ActionUnmask, "", func(d *Document, _ time.Time) error {
		if !d.Labels.MasquePS {
			return errs.E(errs.Conflict, "the document is not masked")
		}
		d.Labels.MasquePS = false
		return nil
	})
}

// SetLabel sets a visibility label (INVISIBLE_PATIENT or INVISIBLE_REPRESENTANTS_LEGAUX;
// MASQUE_PS through Mask). A new metadata version.
func (s *Service) SetLabel(ctx context.Context, r Request, logicalID string, l access.Label) (Document, error) {
	return s.label(ctx, r, logicalID, l, true)
}

// ClearLabel clears a visibility label. A new metadata version.
func (s *Service) ClearLabel(ctx context.Context, r Request, logicalID string, l access.Label) (Document, error) {
	return s.label(ctx, r, logicalID, l, false)
}

func (s *Service) label(ctx context.Context, r Request, logicalID string, l access.Label, set bool) (Document, error) {
	action := access.ActionClearLabel
	if set {
		action = access.ActionSetLabel
	}
	switch l {
	case access.LabelMasquePS:
		if set {
			return s.Mask(ctx, r, logicalID)
		}
		return s.Unmask(ctx, r, logicalID)
	case access.LabelInvisiblePatient, access.LabelInvisibleRepresentants:
	default:
		return Document{}, errs.E(errs.Invalid, "unknown visibility label %q", l)
	}
	return s.change(ctx, r, logicalID, action, l, func(d *Document, now time.Time) error {
		switch l {
		case access.LabelInvisiblePatient:
			if d.Labels.InvisiblePatient == set {
				return errs.E(errs.Conflict, "the label %s is already %s", l, onOff(set))
			}
			if set && d.DepositedBy == access.DepositedByPatient {
				return errs.E(errs.Invalid, "a document the patient deposited cannot be hidden from them")
			}
			d.Labels.InvisiblePatient = set
			d.Labels.VisibleToPatientAt = time.Time{}
			if set {
				d.Labels.VisibleToPatientAt = d.Submitted.Add(s.policy.AnnounceVisible)
				if !d.Labels.VisibleToPatientAt.After(now) {
					return errs.E(errs.Conflict, "the announcement delay of this document is over: it can no longer be hidden from the patient")
				}
			}
		case access.LabelInvisibleRepresentants:
			if d.Labels.InvisibleRepresentants == set {
				return errs.E(errs.Conflict, "the label %s is already %s", l, onOff(set))
			}
			d.Labels.InvisibleRepresentants = set
		}
		return nil
	})
}

func onOff(set bool) string {
	if set {
		return "set"
	}
	return "cleared"
}

// Archive marks a document archived: kept, out of the default listings. A new metadata version.
func (s *Service) Archive(ctx context.Context, r Request, logicalID string) (Document, error) {
	return s.change(ctx, r, logicalID, access.ActionArchive, "", func(d *Document, _ time.Time) error {
		if d.Archived {
			return errs.E(errs.Conflict, "the document is already archived")
		}
		d.Archived = true
		return nil
	})
}

// Delete removes a document: its row says deleted, its bytes are erased after the commit.
func (s *Service) Delete(ctx context.Context, r Request, logicalID string) error {
	d, err := s.change(ctx, r, logicalID, access.ActionDelete, "", func(d *Document, _ time.Time) error {
		d.Status = Deleted
		return nil
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.blobs.Delete(ctx, d.BlobID); err != nil {
		// The metadata no longer reaches the blob; an orphan is encrypted and harmless, and
		// blobs verify lists it.
		s.log.Warn("blob of a deleted document not erased", "blob", d.BlobID, "err", err)
	}
	return nil
}

// Query selects documents of one patient's record.
type Query struct {
	PatientID int64
	Types     []string // typeCodes
	Classes   []string
	Spaces    []terminology.Space
	Statuses  []Status // default: approved
	// Created bounds the creationTime (inclusive From, exclusive To); zero bounds are open.
	CreatedFrom, CreatedTo time.Time
	// Service bounds the act's dates: documents whose service period overlaps [From, To).
	ServiceFrom, ServiceTo time.Time
	Author                 string // IdNat_PS of an author
	// Labels: only the documents bearing every one of these labels.
	Labels []access.Label
	// Archived: nil for the documents not archived (the default listing), true for the archived
	// ones only, false for both... see ArchivedMode.
	Archived ArchivedMode
	// All lifts the default limit of the first listing to the last two years.
	All   bool
	Limit int // default 100, at most 1000
	// After is the cursor of the next page: the (creationTime, logicalId) of the last document
	// of the previous one.
	AfterCreated time.Time
	AfterID      string
}

// ArchivedMode says how archived documents are searched.
type ArchivedMode int

const (
	ExcludeArchived ArchivedMode = iota // the default listing
	OnlyArchived
	AnyArchived
)

// Page is a page of search results.
type Page struct {
	Documents []Document
	// More says there are more documents after this page.
	More bool
	// Since is the lower creation bound applied by default (the first listing), zero when none.
	Since time.Time
}

// MaxLimit bounds the page size.
const MaxLimit = 1000

// Search lists the patient's documents matching q that the actor may see: one ActionSearch
// decision on the record, then an ActionList decision on each hit (settings loaded once); the
// search's trace names the documents shown. Hits the actor may not see are left out without a
// word, as the national record does.
func (s *Service) Search(ctx context.Context, r Request, q Query) (Page, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	if q.Limit > MaxLimit {
		q.Limit = MaxLimit
	}
	if len(q.Statuses) == 0 {
		q.Statuses = []Status{Approved}
	}
	for _, st := range q.Statuses {
		if !st.Valid() || st == Deleted {
			return Page{}, errs.E(errs.Invalid, "unknown status %q (approved or deprecated)", st)
		}
	}
	var page Page
	if !q.All && q.CreatedFrom.IsZero() && q.CreatedTo.IsZero() && q.ServiceFrom.IsZero() && q.ServiceTo.IsZero() {
		page.Since = s.clock.Now().Add(-s.policy.FirstListing)
		q.CreatedFrom = page.Since
	}
	var (
		search *access.Search
		d      access.Decision
		shown  []string
	)
	err := s.store.ViewRecords(ctx, func(tx Tx) error {
		var err error
		search, d, err = s.access.BeginSearch(ctx, tx, r.Actor, r.Channel, q.PatientID, r.BreakGlass)
		if err != nil {
			if search != nil {
				return nil // refused: traced below
			}
			return err
		}
		docs := make([]Document, 0, 16)
		shown = make([]string, 0, 16)
		// Fetch pages of candidates until the page is full of visible ones or the record is
		// exhausted: hidden documents must not shorten a page.
		cq := q
		for {
			hits, err := tx.SearchDocuments(ctx, cq)
			if err != nil {
				return err
			}
			more := len(hits) > cq.Limit
			if more {
				hits = hits[:cq.Limit]
			}
			for i := range hits {
				h := &hits[i]
				if !search.Allow(h.Object()).Allowed {
					continue
				}
				if len(docs) == q.Limit {
					page.More = true
					break
				}
				docs = append(docs, *h)
				shown = append(shown, h.Ref())
			}
			if page.More || !more {
				break
			}
			last := hits[len(hits)-1]
			cq.AfterCreated, cq.AfterID = last.Created, last.LogicalID
		}
		page.Documents = docs
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	if err := s.store.UpdateRecords(ctx, func(tx Tx) error {
		if _, err := tx.AppendTrace(ctx, search.Entry(shown)); err != nil {
			return err
		}
		return s.tellPatient(ctx, tx, r, q.PatientID, d, true)
	}); err != nil {
		return Page{}, fmt.Errorf("trace %s: %w", access.ActionSearch, err)
	}
	if !d.Allowed {
		return Page{}, d.Err()
	}
	return page, nil
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
func (s *Service) LookupSpace(ctx context.Context, r Request, ins identity.INS) (SpaceStatus, error) {
	if ins.Matricule == "" {
		return SpaceStatus{}, errs.E(errs.Invalid, "the INS is missing")
	}
	var st SpaceStatus
	err := s.store.UpdateRecords(ctx, func(tx Tx) error {
		p, err := tx.PatientByINS(ctx, ins.Matricule)
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
	if errs.Is(err, errs.NotFound) {
		return SpaceStatus{}, errs.E(errs.NotFound, "no patient space for this INS")
	}
	return st, err
}

// releaser is the system actor of the announcement job: it clears INVISIBLE_PATIENT, which is
// all it declares it does.
func releaser() access.Actor {
	return access.Actor{Kind: audit.ActorSystem, ID: "announcement", Name: "carnet",
		JobActions: []access.Action{access.ActionClearLabel}}
}

// ReleaseAnnounced clears INVISIBLE_PATIENT on the documents whose announcement delay (one
// month, CSP R1111-53) has ended, each a new metadata version traced as the job's, so that the
// record says what the patient already sees (the decision shows them from that date on). It
// returns how many it released; an interrupted run resumes with the next.
func (s *Service) ReleaseAnnounced(ctx context.Context) (int, error) {
	r := Request{Actor: releaser(), Channel: audit.ChannelJob}
	n := 0
	for {
		var ids []string
		if err := s.store.ViewRecords(ctx, func(tx Tx) error {
			var err error
			ids, err = tx.DueReleases(ctx, s.clock.Now(), 200)
			return err
		}); err != nil || len(ids) == 0 {
			return n, err
		}
		for _, id := range ids {
			_, err := s.ClearLabel(ctx, r, id, access.LabelInvisiblePatient)
			switch {
			case err == nil:
				n++
			case errs.Is(err, errs.Conflict) || errs.Is(err, errs.NotFound):
				// Released or deleted meanwhile.
			default:
				return n, err
			}
		}
	}
}
