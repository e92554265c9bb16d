package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

func TestAuthStore(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	pid := insertPatient(t, db, 1)
	var patientAcc, opAcc account.Account
	err := db.Update(ctx, func(tx *store.Tx) error {
		patientAcc = account.Account{Kind: account.KindPatient, Login: "p@example.fr", DisplayName: "P", PatientID: pid, CreatedAt: now, PasswordHash: "h1"}
		opAcc = account.Account{Kind: account.KindOperator, Login: "o@example.fr", DisplayName: "O", CreatedAt: now, PasswordHash: "h2"}
		if err := tx.InsertAccount(ctx, &patientAcc); err != nil {
			return err
		}
		return tx.InsertAccount(ctx, &opAcc)
	})
	if err != nil {
		t.Fatal(err)
	}

	err = db.Update(ctx, func(tx *store.Tx) error {
		var ins string
		p, err := tx.PrincipalBy(ctx, auth.Identifier{Kind: auth.IdentEmail, Value: "p@example.fr"})
		if err != nil || p.AccountID != patientAcc.ID || p.PatientID != pid || p.PasswordHash != "h1" || p.INS == "" {
			t.Fatalf("by e-mail: %+v, %v", p, err)
		}
		ins = p.INS
		if q, err := tx.PrincipalBy(ctx, auth.Identifier{Kind: auth.IdentINS, Value: ins}); err != nil || q.AccountID != p.AccountID {
			t.Fatalf("by INS: %+v, %v", q, err)
		}
		if _, err := tx.PrincipalBy(ctx, auth.Identifier{Kind: auth.IdentIdNat, Value: "810100534436"}); !errs.Is(err, errs.NotFound) {
			t.Fatalf("unknown IdNat: %v", err)
		}

		// A new rate-limit key reads as zero; its state round-trips.
		st, err := tx.LockThrottle(ctx, "id:k")
		if err != nil || st != (auth.ThrottleState{}) {
			t.Fatalf("new key: %+v, %v", st, err)
		}
		want := auth.ThrottleState{Failures: 3, LastAt: now, NextAt: now.Add(time.Second)}
		if err := tx.SaveThrottle(ctx, "id:k", want); err != nil {
			return err
		}
		if st, err := tx.LockThrottle(ctx, "id:k"); err != nil || st != want {
			t.Fatalf("saved key: %+v, %v", st, err)
		}

		// Reset links: using one spends the account's others.
		for _, h := range []string{"r1", "r2"} {
			if err := tx.InsertResetToken(ctx, h, patientAcc.ID, now, now.Add(time.Hour)); err != nil {
				return err
			}
		}
		if id, err := tx.UseResetToken(ctx, "r1", now); err != nil || id != patientAcc.ID {
			t.Fatalf("use link: %d, %v", id, err)
		}
		if _, err := tx.UseResetToken(ctx, "r2", now); !errs.Is(err, errs.NotFound) {
			t.Fatalf("sibling link still usable: %v", err)
		}

		// Sessions: listing, revocation only by their account.
		for i, h := range []string{"s1", "s2"} {
			if err := tx.InsertSession(ctx, h, auth.Session{ID: h + "-public", AccountID: patientAcc.ID, Method: auth.MethodEmailCode,
				CreatedAt: now, LastSeenAt: now.Add(time.Duration(i) * time.Minute), ExpiresAt: now.Add(time.Hour)}); err != nil {
				return err
			}
		}
		if list, err := tx.Sessions(ctx, patientAcc.ID, now); err != nil || len(list) != 2 || list[0].ID != "s2-public" {
			t.Fatalf("sessions: %+v, %v", list, err)
		}
		if err := tx.RevokeSession(ctx, opAcc.ID, "s1-public", now, "x"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("revoked by another account: %v", err)
		}
		if n, err := tx.RevokeSessions(ctx, patientAcc.ID, now, "all"); err != nil || n != 2 {
			t.Fatalf("revoke all: %d, %v", n, err)
		}
		s, p2, err := tx.SessionBy(ctx, "s1")
		if err != nil || s.RevokedAt.IsZero() || s.RevokeReason != "all" || p2.AccountID != patientAcc.ID {
			t.Fatalf("revoked session: %+v %+v %v", s, p2, err)
		}
		if n, err := tx.SweepAuth(ctx, now.Add(2*time.Hour)); err != nil || n != 5 {
			t.Fatalf("sweep: %d, %v", n, err) // 2 sessions, 2 links, 1 rate-limit key
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// (In a transaction of its own: on PostgreSQL a refused statement ends the transaction.)
	err = db.Update(ctx, func(tx *store.Tx) error { return tx.SetLogin(ctx, opAcc.ID, "p@example.fr") })
	if !errs.Is(err, errs.Conflict) {
		t.Fatalf("taken login: %v", err)
	}
}

// TestSpacesInTx: the space store bound to a transaction runs each update in a savepoint: a
// failed one leaves nothing, a good one stays, and both commit or roll back with the
// enclosing transaction.
func TestSpacesInTx(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	pid := insertPatient(t, db, 1)
	if err := db.Update(ctx, func(tx *store.Tx) error {
		return tx.InsertSpace(ctx, space.New(pid, time.Now(), space.DefaultPolicy()), "initial")
	}); err != nil {
		t.Fatal(err)
	}
	hash := func() string {
		var h string
		if err := db.View(ctx, func(tx *store.Tx) error {
			var err error
			h, err = tx.ActivationHash(ctx, pid)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return h
	}
	failed := errs.E(errs.Conflict, "refused")
	err := db.Update(ctx, func(tx *store.Tx) error {
		spaces := tx.SpacesInTx()
		if err := spaces.UpdateSpaces(ctx, func(stx space.Tx) error {
			if err := stx.SetActivationHash(ctx, pid, "rolled-back"); err != nil {
				return err
			}
			return failed
		}); err != failed {
			t.Fatalf("failed update: %v", err)
		}
		return spaces.UpdateSpaces(ctx, func(stx space.Tx) error { return stx.SetActivationHash(ctx, pid, "kept") })
	})
	if err != nil {
		t.Fatal(err)
	}
	if h := hash(); h != "kept" {
		t.Fatalf("activation hash = %q", h)
	}
	err = db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.SpacesInTx().UpdateSpaces(ctx, func(stx space.Tx) error { return stx.SetActivationHash(ctx, pid, "gone") }); err != nil {
			return err
		}
		return failed
	})
	if err != failed || hash() != "kept" {
		t.Fatalf("enclosing rollback: %v, hash %q", err, hash())
	}
}
