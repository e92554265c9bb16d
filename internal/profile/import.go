package profile

import (
	"context"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// MaxImport bounds the items of one Import call: one transaction.
const MaxImport = 1000

// ImportReport says what an import did.
type ImportReport struct {
	Imported int
	// Present counts the items already in the profile (same id, or same identifier), whatever
	// became of them since: an import run twice imports nothing twice, and brings back nothing
	// the patient deleted.
	Present int
	// Kept counts the items of a section that holds one item (blood group, trusted person)
	// that the profile already has: the space's own is kept.
	Kept int
	// Left counts the items a professional wrote, which an import by the holder leaves out:
	// nothing vouches for what a file says of its author. An operator's migration brings them.
	Left int
}

// Import brings the items of a former profile (the profile.json of a carnet export) into the
// patient's profile, all or none, after one access.ActionImport decision: the holder, or an
// operator migrating a record. What each item was is kept: its id, its version's number, who
// wrote it and when, when it was created, its date, whether it is hidden from professionals.
// Its category follows from its section and its author, as when it was added. Each item
// imported is traced. An item whose id or identifier is another space's is refused
// (Conflict), and so is the whole call. The device of a pushed measurement is this
// instance's own and is not kept. An import by anyone but an operator brings only what the
// patient's side wrote (ImportReport.Left).
func (s *Service) Import(ctx context.Context, r Request, patientID int64, items []Item) (ImportReport, error) {
	if len(items) > MaxImport {
		return ImportReport{}, errs.E(errs.Invalid, "an import batch holds %d profile items, more than %d", len(items), MaxImport)
	}
	now := s.clock.Now()
	in := make([]Item, 0, len(items))
	left := 0
	for i, it := range items {
		if err := s.importable(&it, patientID, now); err != nil {
			return ImportReport{}, numbered(err, i, len(items), "profile item")
		}
		if !access.ImportKeepsProvenance(r.Actor) && it.Author.Kind == audit.ActorProfessional {
			left++
			continue
		}
		in = append(in, it)
	}
	var rep ImportReport
	_, err := access.Do(ctx, s.access, s.store.UpdateProfile, r.Actor, r.Channel, patientID, access.ActionImport, access.Target{},
		nil, func(tx Tx, d access.Decision) error {
			rep = ImportReport{Left: left}
			if err := spaceOpen(ctx, tx, patientID); err != nil {
				return err
			}
			for i := range in {
				it := &in[i]
				present, err := placeImported(ctx, tx, it)
				switch {
				case err != nil:
					return numbered(err, i, len(in), "profile item")
				case present:
					rep.Present++
					continue
				}
				if singleton(it.Section) {
					cur, err := tx.ProfileItems(ctx, Query{PatientID: patientID, Sections: []Section{it.Section}, Limit: 1})
					if err != nil {
						return err
					}
					if len(cur) > 0 {
						rep.Kept++
						continue
					}
				}
				if err := tx.InsertProfileItem(ctx, it); err != nil {
					return numbered(err, i, len(in), "profile item")
				}
				if _, err := tx.AppendTrace(ctx, d.TraceEntry(r.Actor.Audit(), r.Channel, patientID, it.Ref())); err != nil {
					return err
				}
				rep.Imported++
			}
			return nil
		})
	if err != nil {
		return ImportReport{}, err
	}
	return rep, nil
}

// importable checks an item brought from elsewhere as an added one is checked, keeping what it
// was; the profile's own fields are set anew.
func (s *Service) importable(it *Item, patientID int64, now time.Time) error {
	var sent string
	if it.Measurement != nil {
		sent = it.Measurement.Sent // the value as first sent, which normalize cannot know again
	}
	if err := s.normalize(it, now); err != nil {
		return err
	}
	if it.Measurement != nil && it.Measurement.Sent == "" {
		it.Measurement.Sent = sent
	}
	switch {
	case it.ID == "":
		it.ID = newUUID()
	case !validUUID(it.ID):
		return errs.E(errs.Invalid, "the item's id %q is not a UUID", it.ID)
	}
	if it.Status != "" && it.Status != Active {
		return errs.E(errs.Invalid, "the item is %s: only active items are imported", it.Status)
	}
	if it.ChangedBy.Kind == "" {
		it.ChangedBy = it.Author
	}
	for _, a := range []*Author{&it.Author, &it.ChangedBy} {
		switch a.Kind {
		case audit.ActorPatient, audit.ActorRepresentative, audit.ActorApp:
		case audit.ActorProfessional:
			id, err := identity.ParseIdNatPS(a.ID)
			if err != nil {
				return errs.E(errs.Invalid, "the item names a professional by a bad identifier %q", a.ID)
			}
			a.ID = id.String()
		default:
			return errs.E(errs.Invalid, "the item's author is of an unknown kind %q", a.Kind)
		}
		if a.ID == "" {
			return errs.E(errs.Invalid, "the item's author has no identifier")
		}
	}
	if it.Author.Kind == audit.ActorProfessional && categories[it.Section].professional.Type == "" {
		// Add never makes one: the patient's own sections take no professional's items.
		return errs.E(errs.Invalid, "a professional does not write the patient's %s", it.Section.English())
	}
	for _, t := range []*time.Time{&it.Created, &it.Written, &it.Changed} {
		switch {
		case t.IsZero():
			return errs.E(errs.Invalid, "the item's creation, writing and change dates are required")
		case t.After(now.Add(MaxFuture)):
			return errs.E(errs.Invalid, "the item is dated in the future")
		}
		*t = t.UTC()
	}
	kind := ""
	if it.Wish != nil {
		kind = it.Wish.Kind
	}
	cat, dep := categoryOf(it.Section, kind, it.Author.Kind)
	it.VersionID, it.PatientID, it.Status = newUUID(), patientID, Active
	it.Version = max(it.Version, 1)
	it.Class, it.Type, it.DepositedBy = cat.Class, cat.Type, dep
	it.Device = ""
	it.At = it.Created
	if it.Measurement != nil {
		it.At = it.Measurement.Taken
	}
	return nil
}

// placeImported says whether the item is already in the profile: its id, or its identifier
// (a measurement its device pushed again). Either held by another space's item is a Conflict.
func placeImported(ctx context.Context, tx Tx, it *Item) (present bool, err error) {
	cur, err := tx.ProfileItem(ctx, it.ID)
	switch {
	case err == nil && cur.PatientID == it.PatientID:
		return true, nil
	case err == nil:
		return false, errs.E(errs.Conflict, "profile item %s is another space's", it.ID)
	case !errs.Is(err, errs.NotFound):
		return false, err
	}
	if it.Identifier == "" {
		return false, nil
	}
	cur, err = tx.ProfileItemByIdentifier(ctx, it.Identifier)
	switch {
	case err == nil && cur.PatientID == it.PatientID:
		return true, nil
	case err == nil:
		return false, errs.E(errs.Conflict, "the identifier of profile item %s is another space's item's", it.ID)
	case !errs.Is(err, errs.NotFound):
		return false, err
	}
	return false, nil
}
