package space

import (
	"context"
	"strconv"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// AddRepresentative links a representative (by INS) to a patient's space.
func (s *Service) AddRepresentative(ctx context.Context, by By, patientID int64, r NewRepresentative) error {
	e := s.entry(by, "representative.add", patientID)
	return s.do(ctx, e, func(tx Tx, e *audit.Entry) error {
		p, err := tx.Patient(ctx, patientID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		rep, err := s.checkRepresentative(ctx, tx.PatientByINS, p, r, p.AgeAt(now) < s.policy.MajorityAge, now)
		if err != nil {
			return err
		}
		if err := tx.AddRepresentative(ctx, Representative{PatientID: p.ID, RepresentativeID: rep.ID, Role: r.Role, Since: now}); err != nil {
			return err
		}
		e.Object = "representative/" + strconv.FormatInt(rep.ID, 10)
		return nil
	})
}

// RemoveRepresentative ends a representation.
func (s *Service) RemoveRepresentative(ctx context.Context, by By, patientID, representativeID int64) error {
	e := s.entry(by, "representative.remove", patientID)
	e.Object = "representative/" + strconv.FormatInt(representativeID, 10)
	return s.do(ctx, e, func(tx Tx, _ *audit.Entry) error {
		return tx.RemoveRepresentative(ctx, patientID, representativeID)
	})
}

// ActsFor reports whether representativeID may act for patientID now, and in which role. A
// parent's representation ends at the child's majority, without anyone having to remove it.
func (s *Service) ActsFor(ctx context.Context, representativeID, patientID int64) (Role, error) {
	var role Role
	err := s.store.ViewSpaces(ctx, func(tx Tx) error {
		reps, err := tx.Representatives(ctx, patientID)
		if err != nil {
			return err
		}
		for _, r := range reps {
			if r.RepresentativeID != representativeID {
				continue
			}
			if r.Role == Parent {
				p, err := tx.Patient(ctx, patientID)
				if err != nil {
					return err
				}
				if p.AgeAt(s.clock.Now()) >= s.policy.MajorityAge {
					break
				}
			}
			role = r.Role
			return nil
		}
		return errs.E(errs.Forbidden, "not a legal representative of this person")
	})
	return role, err
}

// Represented lists the spaces a person represents now (for the space switcher).
func (s *Service) Represented(ctx context.Context, representativeID int64) ([]Representative, error) {
	var out []Representative
	err := s.store.ViewSpaces(ctx, func(tx Tx) error {
		reps, err := tx.Represented(ctx, representativeID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		for _, r := range reps {
			if r.Role == Parent {
				p, err := tx.Patient(ctx, r.PatientID)
				if err != nil {
					return err
				}
				if p.AgeAt(now) >= s.policy.MajorityAge {
					continue
				}
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}
