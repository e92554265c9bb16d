package record

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// Exported is what an export of a patient's record takes: the current metadata version of each
// document the actor may take (approved or deprecated, archived or not; a deleted document is
// gone), newest first, and the way to each one's bytes. Only Export makes one, after its
// decision's trace committed.
type Exported struct {
	Documents []Document
	s         *Service
}

// Open returns a reader of the bytes of the i-th document, checked against their hashes as it
// goes (an error instead of io.EOF means the blob is corrupted).
func (x *Exported) Open(ctx context.Context, i int) (io.ReadCloser, error) {
	if i < 0 || i >= len(x.Documents) {
		return nil, errs.E(errs.Internal, "export: no document %d", i)
	}
	d := &x.Documents[i]
	return x.s.blobs.Open(ctx, blob.Ref{ID: d.BlobID, Size: d.Size, SHA256: d.SHA256, SHA1: d.SHA1})
}

// Export lists the documents of the patient's record that the actor takes away with the whole
// space (access.ActionExport: the holder, without what is hidden from them; an operator on a
// legal request, everything). One decision, one trace naming how many documents were taken,
// committed before anything is returned.
func (s *Service) Export(ctx context.Context, r Request, patientID int64) (*Exported, error) {
	var (
		x    *access.Export
		d    access.Decision
		docs []Document
	)
	err := s.store.ViewRecords(ctx, func(tx Tx) error {
		var err error
		x, d, err = s.access.BeginExport(ctx, tx, r.Actor, r.Channel, patientID)
		if err != nil {
			if x != nil {
				return nil // refused: traced below
			}
			return err
		}
		q := Query{PatientID: patientID, All: true, Statuses: []Status{Approved, Deprecated}, Archived: AnyArchived, Limit: MaxLimit}
		for {
			hits, err := tx.SearchDocuments(ctx, q)
			if err != nil {
				return err
			}
			more := len(hits) > q.Limit
			if more {
				hits = hits[:q.Limit]
			}
			for _, h := range hits {
				if x.Include(h.Object()) {
					docs = append(docs, h)
				}
			}
			if !more {
				return nil
			}
			last := hits[len(hits)-1]
			q.AfterCreated, q.AfterID = last.Created, last.LogicalID
		}
	})
	if err != nil {
		return nil, err
	}
	e := x.Entry(fmt.Sprintf("documents=%d", len(docs)))
	if err := s.store.UpdateRecords(ctx, func(tx Tx) error {
		_, err := tx.AppendTrace(ctx, e)
		return err
	}); err != nil {
		return nil, fmt.Errorf("trace %s: %w", access.ActionExport, err)
	}
	if !d.Allowed {
		return nil, d.Err()
	}
	return &Exported{Documents: docs, s: s}, nil
}

// ImportItem is a document brought from a former record: its metadata as that record kept it
// (an export archive of carnet), or as an IHE XDM package states it, and its bytes.
type ImportItem struct {
	Document Document
	Content  []byte
}

// ImportReport says what an import did.
type ImportReport struct {
	Imported int
	// Present counts the documents already in the record (same logicalId, or same uniqueId
	// and bytes): an import run twice imports nothing twice.
	Present int
	// Left counts the documents a professional or the insurer deposited, which an import by
	// the holder leaves out: nothing vouches for what a file says of who deposited it, and a
	// patient does not deposit in a professional's name. An operator's migration brings them.
	Left int
	// Imported documents, by logicalId, in the order given.
	LogicalIDs []string
}

// Import brings documents of a former record into the patient's space, all or none, after
// one access.ActionImport decision: the holder, or an operator migrating a record. What each
// document was is kept (uniqueId, authors, dates, labels, status, archived, who deposited it;
// its logicalId when no other document has it), so that the person finds their record as it
// was. Each document imported is traced; a document already present is left as it is. A
// different document under a uniqueId already in the record is refused (Conflict): it is a
// replacement, which belongs to its author. An import by anyone but an operator brings only
// what the patient's side deposited (ImportReport.Left).
func (s *Service) Import(ctx context.Context, r Request, patientID int64, items []ImportItem) (ImportReport, error) {
	if len(items) > MaxItems {
		return ImportReport{}, errs.E(errs.Invalid, "an import batch holds %d documents, more than %d", len(items), MaxItems)
	}
	now := s.clock.Now()
	var ins identity.INS
	if err := s.store.ViewRecords(ctx, func(tx Tx) error {
		p, err := tx.Patient(ctx, patientID)
		ins = p.INS
		return err
	}); err != nil {
		return ImportReport{}, err
	}
	docs := make([]Document, 0, len(items))
	var rep ImportReport
	kept := items[:0:0]
	for i, it := range items {
		d, err := s.importable(it, ins, now)
		if err != nil {
			return ImportReport{}, numbered(err, i, len(items))
		}
		if !access.ImportKeepsProvenance(r.Actor) && d.DepositedBy != access.DepositedByPatient {
			rep.Left++
			continue
		}
		docs, kept = append(docs, d), append(kept, it)
	}
	items = kept
	// The bytes first, durable before anything refers to them; those of documents found
	// present are dropped after.
	stored := make([]string, len(items))
	drop := func(all bool) {
		for i, id := range stored {
			if id != "" && (all || docs[i].BlobID != id) {
				s.dropBlob(id)
			}
		}
	}
	for i, it := range items {
		ref, err := s.blobs.Put(ctx, bytes.NewReader(it.Content))
		if err != nil {
			drop(true)
			return ImportReport{}, fmt.Errorf("store the document's bytes: %w", err)
		}
		stored[i] = ref.ID
		docs[i].BlobID = ref.ID
	}
	_, err := access.Do(ctx, s.access, s.store.UpdateRecords, r.Actor, r.Channel, patientID, access.ActionImport, access.Target{},
		nil, func(tx Tx, d access.Decision) error {
			rep = ImportReport{Left: rep.Left}
			sp, err := tx.Space(ctx, patientID)
			if err != nil {
				return err
			}
			if err := spaceAccepts(sp); err != nil {
				return err
			}
			for i := range docs {
				doc := &docs[i]
				doc.PatientID, doc.INS = patientID, ins
				present, err := s.placeImported(ctx, tx, doc)
				if err != nil {
					return numbered(err, i, len(docs))
				}
				if present {
					doc.BlobID = "" // its bytes are dropped below
					rep.Present++
					continue
				}
				if err := tx.InsertDocument(ctx, doc); err != nil {
					return numbered(err, i, len(docs))
				}
				e := d.TraceEntry(r.Actor.Audit(), r.Channel, patientID, doc.Ref())
				if _, err := tx.AppendTrace(ctx, e); err != nil {
					return err
				}
				rep.Imported++
				rep.LogicalIDs = append(rep.LogicalIDs, doc.LogicalID)
			}
			return nil
		})
	if err != nil {
		drop(true)
		return ImportReport{}, err
	}
	drop(false)
	return rep, nil
}

// placeImported finds whether the document is already in the record and, if not, settles its
// identifiers: the former logicalId when free, a new one otherwise.
func (s *Service) placeImported(ctx context.Context, tx Tx, d *Document) (present bool, err error) {
	if d.LogicalID != "" {
		cur, err := tx.Document(ctx, d.LogicalID)
		switch {
		case err == nil && cur.PatientID == d.PatientID && cur.SHA256 == d.SHA256 && cur.UniqueID == d.UniqueID:
			return true, nil
		case err == nil:
			d.LogicalID, d.Version = newUUID(), 1 // taken by another document: a new one
		case !errs.Is(err, errs.NotFound):
			return false, err
		}
	} else {
		d.LogicalID, d.Version = newUUID(), 1
	}
	if d.Status == Approved {
		prior, err := tx.DocumentByUniqueID(ctx, d.PatientID, d.UniqueID)
		switch {
		case err == nil && prior.SHA256 == d.SHA256:
			return true, nil
		case err == nil:
			return false, errs.E(errs.Conflict, "a different document with uniqueId %s is already in this record", d.UniqueID)
		case !errs.Is(err, errs.NotFound):
			return false, err
		}
	}
	return false, nil
}

// importable checks a document brought from elsewhere as a deposit is checked (type, hashes,
// size, format), keeping what it was; the record's own fields are set anew.
func (s *Service) importable(it ImportItem, ins identity.INS, now time.Time) (Document, error) {
	d := it.Document
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(it.Content) == 0 {
		bad("the document is empty")
	}
	if int64(len(it.Content)) > s.policy.MaxSize {
		return Document{}, errs.E(errs.Invalid, "the document is %d bytes, more than the %d accepted", len(it.Content), s.policy.MaxSize)
	}
	if d.Title = strings.TrimSpace(d.Title); d.Title == "" {
		bad("the title is missing")
	}
	t, err := s.catalog.Type(strings.TrimSpace(d.Type))
	if err != nil {
		bad("unknown typeCode %q: not in the national list (JDV_J07)", d.Type)
	} else {
		d.Type, d.TypeSystem, d.Class, d.Space = t.Code, t.System, t.Class, t.Space
	}
	if d.MimeType, err = checkMime(d.MimeType); err != nil {
		bad("%s", errs.MessageOf(err))
	}
	if d.UniqueID = strings.TrimSpace(d.UniqueID); d.UniqueID == "" || len(d.UniqueID) > 128 {
		bad("the uniqueId is missing or longer than 128 characters")
	}
	if d.LogicalID != "" && !validUUID(d.LogicalID) {
		bad("the logicalId %q is not a UUID", d.LogicalID)
	}
	switch d.Status {
	case Approved, Deprecated:
	case "":
		d.Status = Approved
	default:
		bad("a %s document is not imported", d.Status)
	}
	switch d.DepositedBy {
	case access.DepositedByProfessional, access.DepositedByPatient, access.DepositedByInsurer:
	default:
		bad("who deposited the document (%q) is unknown", d.DepositedBy)
	}
	if d.Created.IsZero() || d.ServiceStart.IsZero() {
		bad("the creation and service dates are required")
	}
	if len(d.Confidentiality) == 0 {
		d.Confidentiality = []Code{{Code: "N", System: ConfidentialitySystem, Display: "Normal"}}
	}
	if d.Language == "" {
		d.Language = "fr-FR"
	}
	s256, s1 := sha256.Sum256(it.Content), sha1.Sum(it.Content)
	if d.SHA256 != "" && !strings.EqualFold(d.SHA256, hex.EncodeToString(s256[:])) {
		bad("the SHA-256 stated does not match the document's bytes")
	}
	if d.SHA1 != "" && !strings.EqualFold(d.SHA1, hex.EncodeToString(s1[:])) {
		bad("the hash (SHA-1) stated does not match the document's bytes")
	}
	if d.Size != 0 && d.Size != int64(len(it.Content)) {
		bad("the size stated (%d) is not the document's (%d bytes)", d.Size, len(it.Content))
	}
	if len(problems) > 0 {
		return Document{}, errs.E(errs.Invalid, "%s", strings.Join(problems, "; "))
	}
	d.SHA256, d.SHA1, d.Size = hex.EncodeToString(s256[:]), hex.EncodeToString(s1[:]), int64(len(it.Content))
	if d.Version < 1 {
		d.Version = 1
	}
	d.EntryUUID, d.Updated = newUUID(), now
	if d.Labels.InvisiblePatient && d.Labels.VisibleToPatientAt.IsZero() {
		// Held back by its author in the former record, with no deadline said: the
		// announcement delay runs from now (CSP R1111-53).
		d.Labels.VisibleToPatientAt = now.Add(s.policy.AnnounceVisible)
	}
	d.Replaces = "" // the former record's chain of versions is not carried over
	// A CDA document must be this patient's (its recordTarget) and of its stated type.
	if d.CDALevel, err = checkCDA(d.MimeType, it.Content, ins, d.Type, s.policy.MaxSize); err != nil {
		return Document{}, err
	}
	return d, nil
}

// Imported turns the metadata of a document from another record (an IHE XDM package) into
// the document Import keeps: who deposited it follows from its authors (a professional; the
// patient; the insurer's feed otherwise), its submission time is the package's.
func Imported(dep Deposit, submitted time.Time) Document {
	d := Document{
		SourcePatientID: dep.SourcePatientID, UniqueID: dep.UniqueID, Status: Approved, Title: dep.Title, Comments: dep.Comments,
		Language: dep.Language, Type: dep.Type, TypeSystem: dep.TypeSystem, Class: dep.Class, Format: dep.Format, MimeType: dep.MimeType,
		Confidentiality: dep.Confidentiality, FacilityType: dep.FacilityType, PracticeSetting: dep.PracticeSetting,
		EventCodes: dep.EventCodes, ReferenceIDs: dep.ReferenceIDs, Authors: dep.Authors, LegalAuthenticator: dep.LegalAuthenticator,
		Created: dep.Created, ServiceStart: dep.ServiceStart, ServiceEnd: dep.ServiceEnd, Submitted: submitted,
		Labels: Labels{MasquePS: dep.MasquePS, InvisiblePatient: dep.InvisiblePatient, InvisibleRepresentants: dep.InvisibleRepresentants},
		Size:   dep.Size, SHA1: dep.SHA1, SHA256: dep.SHA256, DepositedBy: access.DepositedByInsurer,
	}
	if d.ServiceStart.IsZero() {
		d.ServiceStart = d.Created
	}
	if d.Submitted.IsZero() {
		d.Submitted = d.Created
	}
	for i, a := range dep.Authors {
		if a.Kind == "" {
			d.Authors[i].Kind = AuthorProfessional
			a.Kind = AuthorProfessional
		}
		switch {
		case a.Kind == AuthorProfessional && d.DepositedBy != access.DepositedByProfessional:
			d.DepositedBy, d.Depositor = access.DepositedByProfessional, a.ID
			if id, err := identity.ParseIdNatPS(a.ID); err == nil {
				d.Depositor = id.String()
				d.Authors[i].ID = d.Depositor
			}
		case a.Kind == AuthorPatient && d.DepositedBy == access.DepositedByInsurer:
			d.DepositedBy = access.DepositedByPatient
		}
	}
	return d
}
