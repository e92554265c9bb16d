package access

import (
	"context"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// ExportSettings returns the patient's access settings for an export of their whole space:
// decided as ActionExport (the holder; an operator on a legal request, who otherwise manages
// no one's settings) and traced as the export of the settings.
func (s *Service) ExportSettings(ctx context.Context, actor Actor, ch audit.Channel, patientID int64) (Settings, error) {
	return s.settings(ctx, actor, ch, patientID, ActionExport, string(ActionExport))
}

// SettingsImport says what an import of settings did.
type SettingsImport struct {
	Added int
	// Present counts what the space already had (a professional already blocked, in the care
	// team, an authorisation already answered, oppositions already set), which is kept as it
	// is; and what a block in the space forbids (a blocked professional is neither médecin
	// traitant nor in the care team).
	Present int
}

// ImportSettings brings the access settings of the patient's former space (an export
// archive's) into their space, after an ActionImport decision (the holder, or an operator
// migrating a record), in one transaction traced with what was added. Each entry keeps its
// date; what the space already has wins: an import adds, it never removes or changes.
func (s *Service) ImportSettings(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, in Settings) (SettingsImport, error) {
	now := s.clock.Now()
	// The identifiers first: a bad one refuses the import before anything is decided.
	canonical := func(list *[]string, idnat string) error {
		id, _, err := parseIdNat(idnat)
		if err != nil {
			return errs.E(errs.Invalid, "the settings name a professional by a bad identifier %q", idnat)
		}
		*list = append(*list, id)
		return nil
	}
	var blocked, traitants, team, auths []string
	for _, m := range in.Blocked {
		if err := canonical(&blocked, m.IdNat); err != nil {
			return SettingsImport{}, err
		}
	}
	for _, m := range in.MedecinsTraitants {
		if err := canonical(&traitants, m.IdNat); err != nil {
			return SettingsImport{}, err
		}
	}
	for _, m := range in.CareTeam {
		if err := canonical(&team, m.IdNat); err != nil {
			return SettingsImport{}, err
		}
		if m.Basis != CareDeposit && m.Basis != CareDesignated {
			return SettingsImport{}, errs.E(errs.Invalid, "the care team names an unknown basis %q", m.Basis)
		}
	}
	for _, a := range in.Authorisations {
		if err := canonical(&auths, a.IdNat); err != nil {
			return SettingsImport{}, err
		}
		if a.State != AuthValid && a.State != AuthExpired && a.State != AuthRefused {
			return SettingsImport{}, errs.E(errs.Invalid, "an authorisation is in an unknown state %q", a.State)
		}
	}
	since := func(t time.Time) time.Time {
		if t.IsZero() || t.After(now) {
			return now
		}
		return t.UTC()
	}
	var rep SettingsImport
	count := func(added bool, err error) error {
		if added {
			rep.Added++
		} else {
			rep.Present++
		}
		return err
	}
	err := s.manage(ctx, actor, ch, patientID, op{action: ActionImport, trace: string(ActionImport), object: objectSettings, now: now,
		change: func(ctx context.Context, tx Tx, p Patient, e *audit.Entry) error {
			rep = SettingsImport{}
			isBlocked := map[string]bool{}
			for _, id := range p.Blocked {
				isBlocked[id] = true
			}
			for i, id := range blocked {
				isBlocked[id] = true
				if err := count(tx.AddBlocked(ctx, patientID, Member{IdNat: id, Since: since(in.Blocked[i].Since)})); err != nil {
					return err
				}
			}
			for i, id := range traitants {
				if isBlocked[id] {
					rep.Present++
					continue
				}
				if err := count(tx.AddMedecinTraitant(ctx, patientID, Member{IdNat: id, Since: since(in.MedecinsTraitants[i].Since)})); err != nil {
					return err
				}
			}
			for i, id := range team {
				if isBlocked[id] {
					rep.Present++
					continue
				}
				m := in.CareTeam[i]
				if err := count(tx.AddCareTeamMember(ctx, patientID, CareTeamMember{IdNat: id, Since: since(m.Since), Basis: m.Basis})); err != nil {
					return err
				}
			}
			for i, id := range auths {
				a := in.Authorisations[i]
				_, err := tx.AccessAuthorisation(ctx, patientID, id)
				switch {
				case err == nil:
					rep.Present++
					continue
				case !errs.Is(err, errs.NotFound):
					return err
				}
				if a.State == AuthRefused {
					err = tx.RefuseAccessAuthorisation(ctx, patientID, id, since(a.UpdatedAt))
				} else {
					err = tx.GrantAccessAuthorisation(ctx, patientID, id, since(a.GrantedAt), a.Until.UTC())
				}
				if err := count(true, err); err != nil {
					return err
				}
			}
			if o := in.Oppositions; !o.UpdatedAt.IsZero() {
				cur, err := tx.AccessSettings(ctx, patientID)
				if err != nil {
					return err
				}
				if cur.Oppositions.UpdatedAt.IsZero() {
					o.UpdatedAt = since(o.UpdatedAt)
					if err := count(true, tx.PutOppositions(ctx, patientID, o)); err != nil {
						return err
					}
				} else {
					rep.Present++
				}
			}
			e.Detail = fmt.Sprintf("added=%d present=%d", rep.Added, rep.Present)
			return nil
		}})
	if err != nil {
		return SettingsImport{}, err
	}
	return rep, nil
}
