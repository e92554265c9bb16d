package access

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

// ImportKeepsProvenance says whether an import by actor may file what a former record says
// someone else deposited or wrote (a professional, the insurer): only an operator's migration,
// whose source the operator answers for. Nothing in a file vouches for who deposited it, and a
// patient does not deposit in a professional's name: their own import brings back what their
// side deposited, and leaves the rest (record.Import, profile.Import).
func ImportKeepsProvenance(actor Actor) bool { return actor.Kind == audit.ActorOperator }

// SettingsImport says what an import of settings did.
type SettingsImport struct {
	Added int
	// Kept counts what was not added because the space decides otherwise: a professional
	// already blocked, in the care team or answered; oppositions already set; a grant to a
	// professional the space blocked; an authorisation that has ended.
	Kept int
	// Left counts the grants (médecins traitants, care team, authorisations) left for the
	// patient to bring back: only they, or their representative, give access to their record.
	Left int
	// Done is set when the space's settings were imported before (a second run of the same
	// import, or another archive): nothing is imported again, so that nothing the patient
	// changed since comes back.
	Done bool
}

// Import markers, in the detail of the import's trace: whether its grants were imported.
const (
	grantsImported = "grants=imported"
	grantsLeft     = "grants=left"
)

// ImportSettings brings the access settings of the patient's former space (an export
// archive's) into their space, in one transaction, once. It is decided as ActionImport (the
// holder, or an operator migrating a record), and splits what it brings by what it does:
//
//   - what restricts access (the blocked professionals, the refused authorisations, the
//     oppositions to emergency access) is restored by whoever may import;
//   - what gives access (médecins traitants, the care team, valid authorisations) only when the
//     importer may also manage the patient's access (ActionManageAccess: the patient, their
//     representative), never by an operator, whose import leaves them for the patient.
//
// What the space has wins: an import adds, it never removes or changes. A grant to a
// professional the space blocked is not added; an authorisation lasts at most as long as one
// granted today would. Each entry added keeps its date and is traced as its own operation
// ("import" in the detail), and the import's trace names its counts and whether the grants
// came. The restrictions are imported once, the grants once: a second run finds them done.
func (s *Service) ImportSettings(ctx context.Context, actor Actor, ch audit.Channel, patientID int64, in Settings) (SettingsImport, error) {
	now := s.clock.Now()
	// The identifiers first: a bad one refuses the import before anything is decided.
	ids := func(n int, idnat func(int) string) ([]string, error) {
		out := make([]string, n)
		for i := range n {
			id, _, err := parseIdNat(idnat(i))
			if err != nil {
				return nil, errs.E(errs.Invalid, "the settings name a professional by a bad identifier %q", idnat(i))
			}
			out[i] = id
		}
		return out, nil
	}
	blocked, err := ids(len(in.Blocked), func(i int) string { return in.Blocked[i].IdNat })
	if err != nil {
		return SettingsImport{}, err
	}
	traitants, err := ids(len(in.MedecinsTraitants), func(i int) string { return in.MedecinsTraitants[i].IdNat })
	if err != nil {
		return SettingsImport{}, err
	}
	team, err := ids(len(in.CareTeam), func(i int) string { return in.CareTeam[i].IdNat })
	if err != nil {
		return SettingsImport{}, err
	}
	auths, err := ids(len(in.Authorisations), func(i int) string { return in.Authorisations[i].IdNat })
	if err != nil {
		return SettingsImport{}, err
	}
	for _, m := range in.CareTeam {
		if m.Basis != CareDeposit && m.Basis != CareDesignated {
			return SettingsImport{}, errs.E(errs.Invalid, "the care team names an unknown basis %q", m.Basis)
		}
	}
	for _, a := range in.Authorisations {
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
	longest := s.policy.authorisationUntil(now, 0)
	var rep SettingsImport
	err = s.manage(ctx, actor, ch, patientID, op{action: ActionImport, trace: string(ActionImport), object: objectSettings, now: now,
		change: func(ctx context.Context, tx Tx, p Patient, e *audit.Entry) error {
			rep = SettingsImport{}
			// Two imports at once must not both find no marker (PostgreSQL runs them
			// concurrently at READ COMMITTED).
			if err := tx.LockPatient(ctx, patientID); err != nil {
				return err
			}
			before, err := tx.TraceDetails(ctx, patientID, string(ActionImport), objectSettings)
			if err != nil {
				return err
			}
			restrictionsDone := len(before) > 0
			grantsDone := slices.ContainsFunc(before, func(d string) bool { return strings.Contains(d, grantsImported) })
			g, _, err := s.decideWith(ctx, tx, actor, patientID, ActionManageAccess, Target{}, nil, now)
			if err != nil {
				return err
			}
			mayGrant := g.Allowed
			if restrictionsDone && (grantsDone || !mayGrant) {
				// Nothing to do, said as such: an allowed no-op, not a refusal.
				rep.Done, e.Detail = true, "done: imported before"
				return nil
			}
			// Each entry added is its own operation in the trail, as if the patient had made it.
			traced := func(action, idnat, detail string) error {
				t := *e
				t.Action, t.Object, t.Detail = action, objectProfessional+idnat, "import"+detail
				if idnat == "" {
					t.Object = objectOppositions
				}
				_, err := tx.AppendTrace(ctx, t)
				return err
			}
			add := func(added bool, err error, action, idnat, detail string) error {
				switch {
				case err != nil:
					return err
				case !added:
					rep.Kept++
					return nil
				}
				rep.Added++
				return traced(action, idnat, detail)
			}
			isBlocked := map[string]bool{}
			for _, id := range p.Blocked {
				isBlocked[id] = true
			}
			if !restrictionsDone {
				for i, id := range blocked {
					isBlocked[id] = true
					added, err := tx.AddBlocked(ctx, patientID, Member{IdNat: id, Since: since(in.Blocked[i].Since)})
					if err := add(added, err, TraceBlock, id, ""); err != nil {
						return err
					}
				}
				for i, id := range auths {
					if a := in.Authorisations[i]; a.State == AuthRefused {
						if err := s.importAuthorisation(ctx, tx, patientID, id, func() error {
							return tx.RefuseAccessAuthorisation(ctx, patientID, id, since(a.UpdatedAt))
						}, add, TraceAuthorisationRefuse); err != nil {
							return err
						}
					}
				}
				if o := in.Oppositions; !o.UpdatedAt.IsZero() {
					cur, err := tx.AccessSettings(ctx, patientID)
					if err != nil {
						return err
					}
					set := cur.Oppositions.UpdatedAt.IsZero()
					if set {
						o.UpdatedAt = since(o.UpdatedAt)
						err = tx.PutOppositions(ctx, patientID, o)
					}
					if err := add(set, err, TraceOppositionsSet, "", " break_glass="+opposed(o.BreakGlass)+" regulation="+opposed(o.Regulation)); err != nil {
						return err
					}
				}
			}
			// An authorisation without an end lasts as long as one granted today; one past its
			// end, or to a professional the space blocked, is not brought back.
			untilOf := func(i int) (time.Time, bool) {
				a := in.Authorisations[i]
				until := a.Until.UTC()
				if until.IsZero() || until.After(longest) {
					until = longest
				}
				return until, a.State == AuthValid && until.After(now) && !isBlocked[auths[i]]
			}
			switch {
			case grantsDone:
			case !mayGrant:
				for _, id := range slices.Concat(traitants, team) {
					if !isBlocked[id] {
						rep.Left++
					}
				}
				for i := range in.Authorisations {
					if _, ok := untilOf(i); ok {
						rep.Left++
					}
				}
			default:
				for i, id := range traitants {
					var added bool
					var err error
					if !isBlocked[id] {
						added, err = tx.AddMedecinTraitant(ctx, patientID, Member{IdNat: id, Since: since(in.MedecinsTraitants[i].Since)})
					}
					if err := add(added, err, TraceMedecinTraitantAdd, id, ""); err != nil {
						return err
					}
				}
				for i, id := range team {
					m := in.CareTeam[i]
					var added bool
					var err error
					if !isBlocked[id] {
						added, err = tx.AddCareTeamMember(ctx, patientID, CareTeamMember{IdNat: id, Since: since(m.Since), Basis: m.Basis})
					}
					if err := add(added, err, TraceCareTeamAdd, id, " basis="+string(m.Basis)); err != nil {
						return err
					}
				}
				for i, id := range auths {
					a := in.Authorisations[i]
					if a.State == AuthRefused {
						continue
					}
					until, ok := untilOf(i)
					if !ok {
						rep.Kept++ // ended, or ruled out by a block
						continue
					}
					if err := s.importAuthorisation(ctx, tx, patientID, id, func() error {
						return tx.GrantAccessAuthorisation(ctx, patientID, id, since(a.GrantedAt), until)
					}, add, TraceAuthorisationGrant); err != nil {
						return err
					}
				}
			}
			mark := grantsImported
			if !mayGrant && !grantsDone {
				mark = grantsLeft
			}
			e.Detail = fmt.Sprintf("added=%d kept=%d left=%d %s", rep.Added, rep.Kept, rep.Left, mark)
			return nil
		}})
	if err != nil {
		return SettingsImport{}, err
	}
	return rep, nil
}

// importAuthorisation writes an authorisation of the former space unless the patient already
// answered this professional here.
func (s *Service) importAuthorisation(ctx context.Context, tx Tx, patientID int64, id string, write func() error,
	add func(added bool, err error, action, idnat, detail string) error, action string) error {
	_, err := tx.AccessAuthorisation(ctx, patientID, id)
	switch {
	case err == nil:
		return add(false, nil, action, id, "")
	case !errs.Is(err, errs.NotFound):
		return err
	}
	return add(true, write(), action, id, "")
}
