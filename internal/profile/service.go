package profile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// Tx is what the service needs of a store transaction: the decision's (settings, care team,
// traces) and the profile's.
type Tx interface {
	access.CareTeamTx
	Space(ctx context.Context, patientID int64) (space.Space, error)
	// InsertProfileItem stores it as the current version of its item. An identifier already
	// held by another item's current version is Conflict.
	InsertProfileItem(ctx context.Context, it *Item) error
	// SupersedeProfileItem marks the version versionID of the patient's item as no longer
	// current.
	SupersedeProfileItem(ctx context.Context, patientID int64, versionID string) error
	// ProfileItem returns the current version of the item id, whatever its status; NotFound
	// when there is none.
	ProfileItem(ctx context.Context, id string) (Item, error)
	// ProfileItemVersions returns every version of the item id, oldest first.
	ProfileItemVersions(ctx context.Context, id string) ([]Item, error)
	// ProfileItems returns the current, active versions of the patient's items that match q,
	// newest first by At (oldest first when q.Ascending), at most q.Limit of them.
	ProfileItems(ctx context.Context, q Query) ([]Item, error)
	// ProfileItemByIdentifier returns the current version of the item, anyone's, that holds
	// identifier; NotFound when none does.
	ProfileItemByIdentifier(ctx context.Context, identifier string) (Item, error)
	// ProfileDevice returns the device with identifier, anyone's; NotFound when there is none.
	ProfileDevice(ctx context.Context, identifier string) (Device, error)
	// InsertProfileDevice stores d; an identifier already stored is Conflict.
	InsertProfileDevice(ctx context.Context, d *Device) error
	// MarkSeen and QueueNotice: what the patient is told of a professional's access (as the
	// record does).
	MarkSeen(ctx context.Context, patientID int64, idnat string, at time.Time) (bool, error)
	QueueNotice(ctx context.Context, patientID int64, key string, notBefore, now time.Time) error
}

// Store opens transactions.
type Store interface {
	UpdateProfile(ctx context.Context, fn func(Tx) error) error
	ViewProfile(ctx context.Context, fn func(Tx) error) error
}

// Query selects items of one patient's profile.
type Query struct {
	PatientID int64
	Sections  []Section // none: every section
	Codes     []string  // what the items are about (Item.Code); none: any
	// From and To bound At: [From, To); zero bounds are open.
	From, To  time.Time
	Ascending bool // oldest first (a chart's series); newest first otherwise
	Limit     int
	// AfterAt and AfterID are the cursor of the next page: the last item of the previous one.
	AfterAt time.Time
	AfterID string
}

// Policy holds the configurable values of the profile.
type Policy struct {
	// Measures are the measures the profile takes, with their plausible ranges; nil means
	// DefaultMeasures.
	Measures []Measure
}

// Deps are what the service is built from.
type Deps struct {
	Store   Store
	Access  *access.Service
	Catalog *terminology.Catalog
	Clock   clock.Clock
	Policy  Policy
}

// Service keeps the patients' profiles.
type Service struct {
	store    Store
	access   *access.Service
	clock    clock.Clock
	measures *Measures
}

// NewService returns the profile service. It checks the sections' categories against the
// terminology and the table of measures.
func NewService(d Deps) (*Service, error) {
	if d.Store == nil || d.Access == nil || d.Catalog == nil || d.Clock == nil {
		return nil, errs.E(errs.Internal, "profile service: store, access, catalog and clock are required")
	}
	if err := CheckCategories(d.Catalog); err != nil {
		return nil, err
	}
	list := d.Policy.Measures
	if list == nil {
		list = DefaultMeasures
	}
	m, err := NewMeasures(list)
	if err != nil {
		return nil, err
	}
	return &Service{store: d.Store, access: d.Access, clock: d.Clock, measures: m}, nil
}

// Measures returns the measures the service takes.
func (s *Service) Measures() *Measures { return s.measures }

// Request says who acts and through what.
type Request struct {
	Actor      access.Actor
	Channel    audit.Channel
	BreakGlass *access.BreakGlass
}

// ObjectProfile names the profile as a whole in traces (its searches).
const ObjectProfile = "profile"

// authorOf is the actor as an item records its author.
func authorOf(a access.Actor) Author {
	id := a.ID
	if a.Kind == audit.ActorProfessional {
		if n, err := identity.ParseIdNatPS(a.ID); err == nil {
			id = n.String()
		}
	}
	au := Author{Kind: a.Kind, ID: id, Name: a.Name, Org: a.Org}
	if a.Kind == audit.ActorProfessional {
		au.Profession = a.Profession
	}
	return au
}

// singleton reports whether a profile holds at most one active item of section: one blood
// group, one trusted person (CSP L1111-6: "une personne de confiance").
func singleton(s Section) bool { return s == SectionBloodGroup || s == SectionTrustedPerson }

// prepare fills in what the service gives a new item: its identifiers, its category for the
// actor who writes it, who wrote it and when.
func prepare(it *Item, r Request, patientID int64, now time.Time) {
	by := authorOf(r.Actor)
	kind := ""
	if it.Wish != nil {
		kind = it.Wish.Kind
	}
	cat, dep := categoryOf(it.Section, kind, r.Actor.Kind)
	it.ID, it.VersionID, it.Version, it.PatientID, it.Status = newUUID(), newUUID(), 1, patientID, Active
	it.Class, it.Type, it.DepositedBy = cat.Class, cat.Type, dep
	it.Author, it.Written, it.ChangedBy, it.Changed, it.Created = by, now, by, now, now
	it.At = now
	if it.Measurement != nil {
		it.At = it.Measurement.Taken
	}
}

// Add adds an item to the patient's profile: decided as the deposit of a document of its
// category (categories.go) and traced in the same transaction; the patient's space must be
// open. A professional who adds an item joins the care team, as by a deposit. The item's
// content is checked first, and a refused content is neither decided nor traced.
func (s *Service) Add(ctx context.Context, r Request, patientID int64, it Item) (Item, error) {
	now := s.clock.Now()
	if err := s.normalize(&it, now); err != nil {
		return Item{}, err
	}
	prepare(&it, r, patientID, now)
	_, err := access.Do(ctx, s.access, s.store.UpdateProfile, r.Actor, r.Channel, patientID, access.ActionDeposit,
		access.Target{Ref: it.Ref(), Object: it.Object()}, r.BreakGlass,
		func(tx Tx, d access.Decision) error {
			if err := spaceOpen(ctx, tx, patientID); err != nil {
				return err
			}
			if singleton(it.Section) {
				cur, err := tx.ProfileItems(ctx, Query{PatientID: patientID, Sections: []Section{it.Section}, Limit: 1})
				if err != nil {
					return err
				}
				if len(cur) > 0 {
					return errs.E(errs.Conflict, "the profile already has its %s: edit it instead", it.Section.English())
				}
			}
			if it.Identifier != "" {
				if _, err := tx.ProfileItemByIdentifier(ctx, it.Identifier); err == nil {
					return errs.E(errs.Conflict, "an item with this identifier is already stored")
				} else if !errs.Is(err, errs.NotFound) {
					return err
				}
			}
			if err := tx.InsertProfileItem(ctx, &it); err != nil {
				return err
			}
			return s.written(ctx, tx, r, &it, d, now)
		})
	if err != nil {
		return Item{}, err
	}
	return it, nil
}

// written does what follows an allowed write by a professional, in its transaction: they join
// the care team (as the author of a deposit does, access.AddToCareTeamTx), they are seen, and
// the patient is told there is something new in their profile.
func (s *Service) written(ctx context.Context, tx Tx, r Request, it *Item, d access.Decision, now time.Time) error {
	if r.Actor.Kind != audit.ActorProfessional {
		return nil
	}
	if _, err := s.access.AddToCareTeamTx(ctx, tx, r.Actor, r.Channel, it.PatientID, r.Actor.ID, access.CareDeposit, d); err != nil {
		return err
	}
	if err := access.Tell(ctx, tx, r.Actor, it.PatientID, d, false, s.clock.Now()); err != nil {
		return err
	}
	return tx.QueueNotice(ctx, it.PatientID, "profile-"+it.ID, now, now)
}

// spaceOpen says whether the patient's space takes new data: only an open one.
func spaceOpen(ctx context.Context, tx Tx, patientID int64) error {
	sp, err := tx.Space(ctx, patientID)
	if err != nil {
		return err
	}
	if sp.State != space.Open {
		return errs.E(errs.Conflict, "this patient's space is %s: its profile takes no new entries", sp.State)
	}
	return nil
}

// lookup finds the current version of an item, outside any decision: the caller decides
// before showing anything of it.
func (s *Service) lookup(ctx context.Context, id string) (Item, error) {
	if !validUUID(id) {
		return Item{}, errs.E(errs.NotFound, "no such profile item")
	}
	var it Item
	err := s.store.ViewProfile(ctx, func(tx Tx) error {
		var err error
		it, err = tx.ProfileItem(ctx, id)
		return err
	})
	if errs.Is(err, errs.NotFound) {
		return Item{}, errs.E(errs.NotFound, "no such profile item")
	}
	return it, err
}

// change makes a new version of an item after the decision on action, taken on its current
// version: mutate edits a copy, stored as the new current version, the former superseded.
func (s *Service) change(ctx context.Context, r Request, id string, action access.Action,
	mutate func(next *Item, cur Item, now time.Time) error) (Item, error) {
	cur, err := s.lookup(ctx, id)
	if err != nil {
		return Item{}, err
	}
	var out Item
	_, err = access.Do(ctx, s.access, s.store.UpdateProfile, r.Actor, r.Channel, cur.PatientID, action,
		access.Target{Ref: cur.Ref(), Object: cur.Object()}, r.BreakGlass,
		func(tx Tx, d access.Decision) error {
			cur, err := tx.ProfileItem(ctx, id)
			if err != nil {
				return err
			}
			if cur.Status == Deleted {
				return errs.E(errs.NotFound, "this profile item was deleted")
			}
			now := s.clock.Now()
			next := cur
			if err := mutate(&next, cur, now); err != nil {
				return err
			}
			if err := tx.SupersedeProfileItem(ctx, cur.PatientID, cur.VersionID); err != nil {
				return err
			}
			by := authorOf(r.Actor)
			next.VersionID, next.Version, next.ChangedBy, next.Changed = newUUID(), cur.Version+1, by, now
			if err := tx.InsertProfileItem(ctx, &next); err != nil {
				return err
			}
			out = next
			if action == access.ActionReplace {
				return s.written(ctx, tx, r, &next, d, now)
			}
			return nil
		})
	if err != nil {
		return Item{}, err
	}
	return out, nil
}

// Update writes a new version of an item's content: decided as the replacement of a document
// (its author's: the professional who wrote it, or, for what the patient's side wrote, the
// patient and their representatives). ifVersion, when not zero, is the version the writer
// edited: a later one makes the update a Conflict. The section cannot change, nor the patient
// (it.PatientID, when the writer states it).
func (s *Service) Update(ctx context.Context, r Request, id string, it Item, ifVersion int) (Item, error) {
	now := s.clock.Now()
	if err := s.normalize(&it, now); err != nil {
		return Item{}, err
	}
	return s.change(ctx, r, id, access.ActionReplace, func(next *Item, cur Item, now time.Time) error {
		if ifVersion != 0 && ifVersion != cur.Version {
			return errs.E(errs.Conflict, "the item is at version %d, not %d: read it again", cur.Version, ifVersion)
		}
		if it.Section != cur.Section {
			return errs.E(errs.Invalid, "the item is of %s: its section cannot change", cur.Section)
		}
		if it.PatientID != 0 && it.PatientID != cur.PatientID {
			return errs.E(errs.Invalid, "the item is another patient's: its patient cannot change")
		}
		next.Condition, next.Treatment, next.Allergy, next.Family = it.Condition, it.Treatment, it.Allergy, it.Family
		next.Vaccination, next.Measurement, next.Wish, next.Contact, next.BloodGroup = it.Vaccination, it.Measurement, it.Wish, it.Contact, it.BloodGroup
		next.Identifier = it.Identifier
		next.Author, next.Written = authorOf(r.Actor), now
		if next.Measurement != nil {
			next.At = next.Measurement.Taken
		}
		return nil
	})
}

// Hide hides an item from professionals (MASQUE_PS): its author and the médecin traitant
// still see it. Decided as masking a document: the patient, or the item's author at their
// request. A new version.
func (s *Service) Hide(ctx context.Context, r Request, id string) (Item, error) {
	return s.change(ctx, r, id, access.ActionMask, func(next *Item, cur Item, _ time.Time) error {
		if cur.Hidden {
			return errs.E(errs.Conflict, "the item is already hidden from professionals")
		}
		next.Hidden = true
		return nil
	})
}

// Unhide shows a hidden item to professionals again: the patient's choice to lift
// (access.ActionUnmask). A new version.
func (s *Service) Unhide(ctx context.Context, r Request, id string) (Item, error) {
	return s.change(ctx, r, id, access.ActionUnmask, func(next *Item, cur Item, _ time.Time) error {
		if !cur.Hidden {
			return errs.E(errs.Conflict, "the item is not hidden")
		}
		next.Hidden = false
		return nil
	})
}

// Delete deletes an item: its author or the patient (access.ActionDelete). Its versions are
// kept, as a deleted document's metadata is, and it is read by no one any more. When sections
// are given, an item of another section is NotFound (a channel that names items by type).
func (s *Service) Delete(ctx context.Context, r Request, id string, sections ...Section) error {
	_, err := s.change(ctx, r, id, access.ActionDelete, func(next *Item, cur Item, _ time.Time) error {
		if len(sections) > 0 && !slices.Contains(sections, cur.Section) {
			return errs.E(errs.NotFound, "no such profile item")
		}
		next.Status = Deleted
		return nil
	})
	return err
}

// English says the section in English, for messages.
func (s Section) English() string {
	switch s {
	case SectionBloodGroup:
		return "blood group"
	case SectionTrustedPerson:
		return "trusted person"
	case SectionFamilyHistory:
		return "family history"
	case SectionEmergencyContacts:
		return "emergency contacts"
	}
	return string(s)
}

// newUUID returns a random (version 4) UUID in its canonical text form.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// validUUID reports whether s is a UUID in canonical text form.
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
