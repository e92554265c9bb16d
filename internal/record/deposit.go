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
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
)

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
		if err := access.Tell(ctx, tx, r.Actor, d.PatientID, ground, false, s.clock.Now()); err != nil {
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
