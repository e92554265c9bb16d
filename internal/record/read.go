package record

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/terminology"
)

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
		return access.Tell(ctx, tx, r.Actor, patientID, d, true, s.clock.Now())
	}); err != nil {
		return fmt.Errorf("trace %s: %w", action, err)
	}
	if !d.Allowed {
		return d.Err()
	}
	return ferr
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
		return access.Tell(ctx, tx, r.Actor, q.PatientID, d, true, s.clock.Now())
	}); err != nil {
		return Page{}, fmt.Errorf("trace %s: %w", access.ActionSearch, err)
	}
	if !d.Allowed {
		return Page{}, d.Err()
	}
	return page, nil
}
