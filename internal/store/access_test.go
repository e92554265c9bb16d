package store_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

func insertPatient(t *testing.T, db *store.DB, seq int) int64 {
	t.Helper()
	nir13 := fmt.Sprintf("1800175%06d", seq)
	n, _ := strconv.ParseInt(nir13, 10, 64)
	ins, err := identity.NewINS(fmt.Sprintf("%s%02d", nir13, 97-n%97), identity.OIDTestNIR)
	if err != nil {
		t.Fatal(err)
	}
	p := space.Patient{INS: ins, BirthName: "MARTIN", GivenNames: "Jean", BirthDate: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC),
		Sex: space.Male, CreatedAt: t0}
	if err := db.Update(context.Background(), func(tx *store.Tx) error { return tx.InsertPatient(context.Background(), &p) }); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// TestAccessSettingsStore checks the store's side of the access settings: rows keyed by
// patient, first dates kept, NotFound and Conflict where the service relies on them.
func TestAccessSettingsStore(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	a, b := insertPatient(t, db, 1), insertPatient(t, db, 2)
	const ps1, ps2 = "810100534436", "810100710366"
	update := func(fn func(tx *store.Tx) error) {
		t.Helper()
		if err := db.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	code := func(fn func(tx *store.Tx) error) errs.Code {
		t.Helper()
		return errs.CodeOf(db.Update(ctx, fn))
	}

	if c := code(func(tx *store.Tx) error { _, err := tx.AccessPatient(ctx, 999); return err }); c != errs.NotFound {
		t.Fatalf("unknown patient: %q", c)
	}
	if c := code(func(tx *store.Tx) error {
		_, err := tx.AddBlocked(ctx, 999, access.Member{IdNat: ps1, Since: t0})
		return err
	}); c == "" {
		t.Fatal("a setting of no patient was stored")
	}

	update(func(tx *store.Tx) error {
		for i, m := range []access.Member{{IdNat: ps2, Since: t0}, {IdNat: ps1, Since: t0}, {IdNat: ps1, Since: t0.Add(time.Hour)}} {
			added, err := tx.AddBlocked(ctx, a, m)
			if err != nil || added != (i < 2) {
				return fmt.Errorf("block %d: added %v, %v", i, added, err)
			}
		}
		if _, err := tx.AddMedecinTraitant(ctx, a, access.Member{IdNat: ps2, Since: t0}); err != nil {
			return err
		}
		if _, err := tx.AddCareTeamMember(ctx, a, access.CareTeamMember{IdNat: ps1, Since: t0, Basis: access.CareDeposit}); err != nil {
			return err
		}
		if err := tx.GrantAccessAuthorisation(ctx, a, ps1, t0, t0.AddDate(1, 0, 0)); err != nil {
			return err
		}
		return tx.PutOppositions(ctx, a, access.Oppositions{BreakGlass: true, UpdatedAt: t0})
	})
	update(func(tx *store.Tx) error {
		p, err := tx.AccessPatient(ctx, a)
		if err != nil {
			return err
		}
		if p.ID != a || !p.OpposesBreakGlass || p.OpposesRegulation || !slices.Equal(p.Blocked, []string{ps1, ps2}) ||
			!slices.Equal(p.MedecinsTraitants, []string{ps2}) {
			return fmt.Errorf("patient a: %+v", p)
		}
		if p, err = tx.AccessPatient(ctx, b); err != nil || p.ID != b || len(p.Blocked)+len(p.MedecinsTraitants) != 0 || p.OpposesBreakGlass {
			return fmt.Errorf("patient b sees a's settings: %+v, %v", p, err)
		}
		r, err := tx.AccessRelation(ctx, a, ps1)
		if err != nil {
			return err
		}
		if !r.CareTeam || !r.CareTeamSince.Equal(t0) || r.Authorisation.State != access.AuthValid || !r.Authorisation.Until.Equal(t0.AddDate(1, 0, 0)) {
			return fmt.Errorf("relation %+v", r)
		}
		if r, err = tx.AccessRelation(ctx, b, ps1); err != nil || r != (access.Relation{}) {
			return fmt.Errorf("relation with b %+v, %v", r, err)
		}
		s, err := tx.AccessSettings(ctx, a)
		if err != nil {
			return err
		}
		if len(s.Blocked) != 2 || s.Blocked[0].IdNat != ps1 || !s.Blocked[0].Since.Equal(t0) || len(s.CareTeam) != 1 ||
			s.CareTeam[0].Basis != access.CareDeposit || len(s.Authorisations) != 1 || !s.Oppositions.BreakGlass {
			return fmt.Errorf("settings %+v", s)
		}
		return nil
	})

	// Renewal: none is NotFound, a refusal is a Conflict; a refusal keeps the grant's date.
	if c := code(func(tx *store.Tx) error { return tx.RenewAccessAuthorisation(ctx, a, ps2, t0, t0) }); c != errs.NotFound {
		t.Fatalf("renew none: %q", c)
	}
	update(func(tx *store.Tx) error { return tx.RefuseAccessAuthorisation(ctx, a, ps1, t0.Add(time.Hour)) })
	if c := code(func(tx *store.Tx) error { return tx.RenewAccessAuthorisation(ctx, a, ps1, t0, t0) }); c != errs.Conflict {
		t.Fatalf("renew refused: %q", c)
	}
	update(func(tx *store.Tx) error {
		got, err := tx.AccessAuthorisation(ctx, a, ps1)
		if err != nil || got.State != access.AuthRefused || !got.GrantedAt.Equal(t0) || !got.Until.IsZero() || !got.UpdatedAt.Equal(t0.Add(time.Hour)) {
			return fmt.Errorf("refused %+v, %v", got, err)
		}
		return nil
	})

	// Removal: NotFound the second time.
	for _, del := range []func(tx *store.Tx) error{
		func(tx *store.Tx) error { return tx.DeleteAccessAuthorisation(ctx, a, ps1) },
		func(tx *store.Tx) error { return tx.RemoveBlocked(ctx, a, ps1) },
		func(tx *store.Tx) error { return tx.RemoveMedecinTraitant(ctx, a, ps2) },
		func(tx *store.Tx) error { return tx.RemoveCareTeamMember(ctx, a, ps1) },
	} {
		update(del)
		if c := code(del); c != errs.NotFound {
			t.Fatalf("second removal: %q", c)
		}
	}
}
