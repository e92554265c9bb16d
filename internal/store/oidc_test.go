package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/oidc"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// TestOIDCStore checks the store's side of OpenID Connect sign-in: the directory look-up with
// the account, the candidates of a traits match (purged spaces left out), and links (one
// subject, one account per provider; a clash leaves the transaction usable).
func TestOIDCStore(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	born := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC) // insertPatient's
	withAccount, noAccount, purged := insertPatient(t, db, 1), insertPatient(t, db, 2), insertPatient(t, db, 3)
	other := insertPatient(t, db, 4)
	idnat, _ := identity.ParseIdNatPS("810100534436")
	var acc, acc2, proAcc account.Account
	var pro account.Professional
	err := db.Update(ctx, func(tx *store.Tx) error {
		for id, st := range map[int64]space.State{withAccount: space.Open, noAccount: space.Pending, purged: space.Purged, other: space.Open} {
			if err := tx.InsertSpace(ctx, space.Space{PatientID: id, State: st, CreatedAt: now, Version: 1}, ""); err != nil {
				return err
			}
		}
		acc = account.Account{Kind: account.KindPatient, Login: "p1@example.fr", DisplayName: "P1", PatientID: withAccount, CreatedAt: now}
		acc2 = account.Account{Kind: account.KindPatient, Login: "p4@example.fr", DisplayName: "P4", PatientID: other, CreatedAt: now}
		purgedAcc := account.Account{Kind: account.KindPatient, Login: "p3@example.fr", DisplayName: "P3", PatientID: purged, CreatedAt: now}
		pro = account.Professional{IdNat: idnat, FamilyName: "Martin", GivenName: "Claire", Profession: "G15_10", Specialty: "SM26", CreatedAt: now}
		if err := tx.InsertProfessional(ctx, &pro); err != nil {
			return err
		}
		proAcc = account.Account{Kind: account.KindProfessional, Login: "c@example.fr", DisplayName: "C", ProfessionalID: pro.ID, CreatedAt: now}
		for _, a := range []*account.Account{&acc, &acc2, &purgedAcc, &proAcc} {
			if err := tx.InsertAccount(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	err = db.Update(ctx, func(tx *store.Tx) error {
		p, err := tx.ProfessionalForSignIn(ctx, "810100534436")
		if err != nil || p.ID != pro.ID || p.AccountID != proAcc.ID || p.Profession != "G15_10" || p.Specialty != "SM26" ||
			p.FamilyName != "Martin" || p.GivenName != "Claire" {
			t.Fatalf("professional: %+v, %v", p, err)
		}
		if _, err := tx.ProfessionalForSignIn(ctx, "810100710366"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("unknown professional: %v", err)
		}

		cands, err := tx.PatientCandidates(ctx, born, space.Male)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]int64{}
		for _, c := range cands {
			if c.BirthName != "MARTIN" || c.GivenNames != "Jean" {
				t.Fatalf("candidate: %+v", c)
			}
			got[c.PatientID] = c.AccountID
		}
		if len(got) != 3 || got[withAccount] != acc.ID || got[noAccount] != 0 || got[other] != acc2.ID {
			t.Fatalf("candidates (purged left out): %v", got)
		}
		if cands, err := tx.PatientCandidates(ctx, born, space.Female); err != nil || len(cands) != 0 {
			t.Fatalf("other sex: %v, %v", cands, err)
		}
		if cands, err := tx.PatientCandidates(ctx, born.AddDate(0, 0, 1), space.Male); err != nil || len(cands) != 0 {
			t.Fatalf("other date: %v, %v", cands, err)
		}

		if _, err := tx.LinkedAccount(ctx, "fc", "sub-1"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("no link yet: %v", err)
		}
		if err := tx.InsertLink(ctx, oidc.Link{Provider: "fc", Subject: "sub-1", AccountID: acc.ID, CreatedAt: now}); err != nil {
			return err
		}
		for _, l := range []oidc.Link{
			{Provider: "fc", Subject: "sub-1", AccountID: acc2.ID, CreatedAt: now}, // the subject is linked
			{Provider: "fc", Subject: "sub-2", AccountID: acc.ID, CreatedAt: now},  // the account is linked at fc
		} {
			if err := tx.InsertLink(ctx, l); !errs.Is(err, errs.Conflict) {
				t.Fatalf("link %+v: %v", l, err)
			}
		}
		// The transaction is still usable after a clash (PostgreSQL aborts on an error).
		if id, err := tx.LinkedAccount(ctx, "fc", "sub-1"); err != nil || id != acc.ID {
			t.Fatalf("linked account: %d, %v", id, err)
		}
		// Another provider may link the same account.
		if err := tx.InsertLink(ctx, oidc.Link{Provider: "other", Subject: "sub-1", AccountID: acc.ID, CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.TouchLink(ctx, "fc", "sub-1", now.Add(time.Hour)); err != nil {
			return err
		}
		if err := tx.TouchLink(ctx, "fc", "sub-9", now); !errs.Is(err, errs.NotFound) {
			t.Fatalf("touch unknown link: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var used int64
	if err := db.SQL().QueryRowContext(ctx, `SELECT last_used_at FROM oidc_links WHERE provider = 'fc' AND subject = 'sub-1'`).Scan(&used); err != nil ||
		used != now.Add(time.Hour).UnixMicro() {
		t.Fatalf("last use: %d, %v", used, err)
	}
}
