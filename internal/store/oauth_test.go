package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/oauth"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// TestOAuthStore checks the store's side of the OAuth server: clients round-trip, codes and
// refresh tokens are used once, revoking a grant or disabling a client ends the API tokens
// issued under them, and the sweep removes what expired.
func TestOAuthStore(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	pid := insertPatient(t, db, 1)
	update := func(fn func(tx *store.Tx) error) error { return db.Update(ctx, fn) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	app := oauth.Client{ID: "app", Name: "App", Type: oauth.Public, RedirectURIs: []string{"https://a.example/cb", "com.example.app:/cb"},
		GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, Scope: "patient/DocumentReference.rs",
		MayIntrospect: true, CreatedAt: t0}
	must(update(func(tx *store.Tx) error { return tx.InsertOAuthClient(ctx, app, "") }))
	if err := update(func(tx *store.Tx) error { return tx.InsertOAuthClient(ctx, app, "") }); !errs.Is(err, errs.Conflict) {
		t.Errorf("duplicate client: %v", err)
	}
	sys := oauth.Client{ID: "sys", Name: "LGC", Type: oauth.Confidential, GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials},
		Scope: "system/*.rs", Subject: apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: 999}, CreatedAt: t0}
	if err := update(func(tx *store.Tx) error { return tx.InsertOAuthClient(ctx, sys, "h") }); !errs.Is(err, errs.NotFound) {
		t.Errorf("client of an unknown professional: %v", err)
	}
	// An operator's client is bound to an operator's account, not to a patient's.
	patientAcc := account.Account{Kind: account.KindPatient, Login: "marie@example.fr", DisplayName: "Marie", PatientID: pid, CreatedAt: t0}
	opAcc := account.Account{Kind: account.KindOperator, Login: "ops@example.fr", DisplayName: "Ops", CreatedAt: t0}
	must(update(func(tx *store.Tx) error {
		if err := tx.InsertAccount(ctx, &patientAcc); err != nil {
			return err
		}
		return tx.InsertAccount(ctx, &opAcc)
	}))
	sys.Subject = apitoken.Subject{Kind: audit.ActorOperator, AccountID: patientAcc.ID}
	if err := update(func(tx *store.Tx) error { return tx.InsertOAuthClient(ctx, sys, "h") }); !errs.Is(err, errs.Invalid) {
		t.Errorf("operator client on a patient's account: %v", err)
	}
	sys.Subject.AccountID = opAcc.ID
	must(update(func(tx *store.Tx) error { return tx.InsertOAuthClient(ctx, sys, "h") }))

	must(db.View(ctx, func(tx *store.Tx) error {
		c, hash, err := tx.OAuthClient(ctx, "app")
		if err != nil {
			return err
		}
		if hash != "" || c.Name != "App" || !slices.Equal(c.RedirectURIs, app.RedirectURIs) || !slices.Equal(c.GrantTypes, app.GrantTypes) ||
			!c.MayIntrospect || !c.CreatedAt.Equal(t0) || !c.Enabled() || c.Subject.Kind != "" {
			t.Errorf("client read back: %+v", c)
		}
		if _, _, err := tx.OAuthClient(ctx, "nobody"); !errs.Is(err, errs.NotFound) {
			t.Errorf("unknown client: %v", err)
		}
		cs, err := tx.OAuthClients(ctx)
		if err != nil || len(cs) != 2 || cs[1].Subject.AccountID != opAcc.ID || cs[1].Subject.Kind != audit.ActorOperator {
			t.Errorf("clients: %v %v", cs, err)
		}
		return nil
	}))

	// A code is used once.
	code := oauth.Code{ClientID: "app", RedirectURI: "https://a.example/cb", Challenge: "c", PatientID: pid, GrantedBy: "account-1",
		Scope: "patient/DocumentReference.rs", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	must(update(func(tx *store.Tx) error { return tx.InsertOAuthCode(ctx, "codehash", code) }))
	must(update(func(tx *store.Tx) error {
		for i, want := range []bool{true, false} {
			ok, err := tx.UseOAuthCode(ctx, "codehash", t0.Add(time.Second), "g1")
			if err != nil || ok != want {
				t.Errorf("use %d: %v %v", i, ok, err)
			}
		}
		c, err := tx.OAuthCode(ctx, "codehash")
		if err != nil || c.GrantID != "g1" || !c.UsedAt.Equal(t0.Add(time.Second)) || c.PatientID != pid {
			t.Errorf("used code: %+v %v", c, err)
		}
		if _, err := tx.OAuthCode(ctx, "other"); !errs.Is(err, errs.NotFound) {
			t.Errorf("unknown code: %v", err)
		}
		return nil
	}))

	// A grant, its access token and its refresh token.
	tokenUnder := func(grant string) string {
		t.Helper()
		_, hash, tok, err := apitoken.Mint(apitoken.Token{Subject: apitoken.Subject{Kind: audit.ActorApp, PatientID: pid,
			Scopes: []access.Action{access.ActionRead}, Classes: []string{"*"}}, ClientID: "app", Label: "App"}, t0, time.Hour)
		must(err)
		must(update(func(tx *store.Tx) error {
			if err := tx.InsertAPIToken(ctx, hash, tok); err != nil {
				return err
			}
			if grant == "" {
				return nil
			}
			return tx.LinkOAuthToken(ctx, tok.ID, grant)
		}))
		return hash
	}
	revokedAt := func(hash string) time.Time {
		t.Helper()
		var at time.Time
		must(db.View(ctx, func(tx *store.Tx) error {
			r, err := tx.APIToken(ctx, hash)
			at = r.Token.RevokedAt
			return err
		}))
		return at
	}
	must(update(func(tx *store.Tx) error {
		return tx.InsertOAuthGrant(ctx, oauth.Grant{ID: "g1", ClientID: "app", PatientID: pid, GrantedBy: "account-1", Scope: "s", CreatedAt: t0})
	}))
	inGrant, alone := tokenUnder("g1"), tokenUnder("")
	must(update(func(tx *store.Tx) error {
		return tx.InsertOAuthRefresh(ctx, "rthash", oauth.Refresh{GrantID: "g1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	}))
	must(update(func(tx *store.Tx) error {
		for i, want := range []bool{true, false} {
			if ok, err := tx.UseOAuthRefresh(ctx, "rthash", t0.Add(time.Minute)); err != nil || ok != want {
				t.Errorf("refresh use %d: %v %v", i, ok, err)
			}
		}
		r, err := tx.OAuthRefresh(ctx, "rthash")
		if err != nil || r.GrantID != "g1" || !r.UsedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("refresh read back: %+v %v", r, err)
		}
		return nil
	}))
	must(update(func(tx *store.Tx) error { return tx.RevokeOAuthGrant(ctx, "g1", t0.Add(2*time.Minute), "first") }))
	must(update(func(tx *store.Tx) error { return tx.RevokeOAuthGrant(ctx, "g1", t0.Add(3*time.Minute), "second") }))
	if err := update(func(tx *store.Tx) error { return tx.RevokeOAuthGrant(ctx, "nope", t0, "") }); !errs.Is(err, errs.NotFound) {
		t.Errorf("revoke unknown grant: %v", err)
	}
	if at := revokedAt(inGrant); !at.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("token of the revoked grant: revoked at %v", at)
	}
	if at := revokedAt(alone); !at.IsZero() {
		t.Errorf("token of no grant revoked at %v", at)
	}
	must(db.View(ctx, func(tx *store.Tx) error {
		gs, err := tx.OAuthGrants(ctx, pid)
		if err != nil || len(gs) != 1 || gs[0].ClientName != "App" || gs[0].RevokeReason != "first" || !gs[0].RevokedAt.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("grants: %+v %v", gs, err)
		}
		return nil
	}))

	// Disabling the client revokes what it still holds.
	must(update(func(tx *store.Tx) error {
		return tx.InsertOAuthGrant(ctx, oauth.Grant{ID: "g2", ClientID: "app", PatientID: pid, GrantedBy: "account-1", Scope: "s", CreatedAt: t0})
	}))
	must(update(func(tx *store.Tx) error { return tx.DisableOAuthClient(ctx, "app", t0.Add(time.Hour)) }))
	if at := revokedAt(alone); !at.Equal(t0.Add(time.Hour)) {
		t.Errorf("token of a disabled client: revoked at %v", at)
	}
	must(db.View(ctx, func(tx *store.Tx) error {
		g, err := tx.OAuthGrant(ctx, "g2")
		if err != nil || g.RevokedAt.IsZero() || g.RevokeReason != "client disabled" {
			t.Errorf("grant of a disabled client: %+v %v", g, err)
		}
		c, _, err := tx.OAuthClient(ctx, "app")
		if err != nil || c.Enabled() {
			t.Errorf("disabled client: %+v %v", c, err)
		}
		return nil
	}))
	if err := update(func(tx *store.Tx) error { return tx.DisableOAuthClient(ctx, "nobody", t0) }); !errs.Is(err, errs.NotFound) {
		t.Errorf("disable unknown client: %v", err)
	}

	// The sweep removes the code and the refresh token once expired.
	var n int64
	must(update(func(tx *store.Tx) error {
		var err error
		n, err = tx.SweepOAuth(ctx, t0.Add(2*time.Hour))
		return err
	}))
	if n != 2 {
		t.Errorf("swept %d rows, want 2", n)
	}
}
