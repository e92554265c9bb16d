package record

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

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
func (s *Service) ReleaseAnnounced(ctx context.Context) (n int, err error) {
	r := Request{Actor: releaser(), Channel: audit.ChannelJob}
	defer func() {
		if n > 0 {
			err = errors.Join(err, s.traceRelease(ctx, r, n))
		}
	}()
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

// ReleaseRunAction is the trace of a release run that released documents, in the job's own
// chain (each document's release is in its patient's chain too).
const ReleaseRunAction = "record.release"

func (s *Service) traceRelease(ctx context.Context, r Request, n int) error {
	e := audit.Entry{At: s.clock.Now(), Actor: r.Actor.Audit(), Channel: r.Channel, Action: ReleaseRunAction,
		Object: "documents", Outcome: audit.Allowed, Detail: fmt.Sprintf("released=%d", n)}
	return s.store.UpdateRecords(context.WithoutCancel(ctx), func(tx Tx) error {
		_, err := tx.AppendTrace(ctx, e)
		return err
	})
}
