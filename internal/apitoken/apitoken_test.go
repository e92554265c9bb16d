package apitoken_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
	"github.com/carnet-sante/carnet/internal/terminology"
)

func TestIssueAuthenticateRevoke(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	clk := clock.NewFake(time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC))
	cat, err := terminology.Default()
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := account.NewService(db.Accounts(), clk, password.DefaultParams(), cat)
	if err != nil {
		t.Fatal(err)
	}
	op := audit.Actor{Kind: audit.ActorOperator, ID: "1", Name: "ops"}
	by := account.By{Actor: op, Channel: audit.ChannelCLI}
	id, err := identity.ParseIdNatPS("810001234565")
	if err != nil {
		t.Fatal(err)
	}
	p, err := accounts.CreateProfessional(ctx, by, account.Professional{IdNat: id, FamilyName: "MARTIN", GivenName: "Paul", Profession: "G15_10"})
	if err != nil {
		t.Fatal(err)
	}
	svc := apitoken.NewService(db.Tokens(), clk)
	secret, tok, err := svc.Issue(ctx, op, audit.ChannelCLI, apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: p.ID}, "LGC", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, apitoken.Prefix) || strings.Contains(secret, tok.ID) {
		t.Errorf("secret %q / id %q", secret, tok.ID)
	}
	r, err := svc.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if r.Actor.Kind != audit.ActorProfessional || r.Actor.ID != "810001234565" || r.Actor.Profession != "G15_10" || r.Actor.Name != "Paul MARTIN" {
		t.Errorf("actor %+v", r.Actor)
	}
	for _, bad := range []string{"", "Bearer x", secret + "x", apitoken.Prefix + strings.Repeat("A", 43)} {
		if _, err := svc.Authenticate(ctx, bad); !errs.Is(err, errs.Unauthenticated) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, _, err := svc.Issue(ctx, op, audit.ChannelCLI, apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: 999}, "", time.Hour); !errs.Is(err, errs.NotFound) {
		t.Errorf("unknown subject: %v", err)
	}
	clk.Advance(24 * time.Hour)
	if _, err := svc.Authenticate(ctx, secret); !errs.Is(err, errs.Unauthenticated) {
		t.Errorf("expired: %v", err)
	}
	secret2, tok2, err := svc.Issue(ctx, op, audit.ChannelCLI, apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: p.ID}, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Revoke(ctx, op, audit.ChannelCLI, tok2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, secret2); !errs.Is(err, errs.Unauthenticated) {
		t.Errorf("revoked: %v", err)
	}
}

// TestAppToken: a token for an app a patient connected resolves to an app actor within the
// actions and classes granted; Mint refuses an app token without its client or actions.
func TestAppToken(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	clk := clock.NewFake(time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC))
	ins, err := identity.NewINS("279035121518989", identity.OIDNIR)
	if err != nil {
		t.Fatal(err)
	}
	p := space.Patient{INS: ins, BirthName: "DUPONT", GivenNames: "Marie", BirthDate: time.Date(1979, 3, 5, 0, 0, 0, 0, time.UTC),
		Sex: space.Female, CreatedAt: clk.Now()}
	if err := db.Update(ctx, func(tx *store.Tx) error { return tx.InsertPatient(ctx, &p) }); err != nil {
		t.Fatal(err)
	}
	subject := apitoken.Subject{Kind: audit.ActorApp, PatientID: p.ID, Scopes: []access.Action{access.ActionRead, access.ActionList},
		Classes: []string{"10", "11"}, ByRepresentative: true}
	secret, hash, tok, err := apitoken.Mint(apitoken.Token{Subject: subject, Label: "Suivi Tension", ClientID: "suivi", Scope: "patient/DocumentReference.r"}, clk.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if hash != apitoken.Hash(secret) || tok.ID != hash[:16] || !tok.ExpiresAt.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("minted %+v", tok)
	}
	if err := db.Update(ctx, func(tx *store.Tx) error { return tx.InsertAPIToken(ctx, hash, tok) }); err != nil {
		t.Fatal(err)
	}
	r, err := apitoken.NewService(db.Tokens(), clk).Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	a := r.Actor
	if a.Kind != audit.ActorApp || a.ID != "suivi" || a.Name != "Suivi Tension" || a.PatientID != p.ID || !a.GrantedByRepresentative ||
		!slices.Equal(a.Scopes, subject.Scopes) || !slices.Equal(a.Classes, subject.Classes) ||
		r.Token.ClientID != "suivi" || r.Token.Scope != "patient/DocumentReference.r" {
		t.Errorf("resolved %+v / %+v", a, r.Token)
	}
	for _, bad := range []apitoken.Token{
		{Subject: apitoken.Subject{Kind: audit.ActorApp, PatientID: p.ID, Scopes: subject.Scopes}},
		{Subject: apitoken.Subject{Kind: audit.ActorApp, PatientID: p.ID}, ClientID: "suivi"},
		{Subject: apitoken.Subject{Kind: audit.ActorApp, PatientID: p.ID, Scopes: []access.Action{"document.eat"}}, ClientID: "suivi"},
		{Subject: apitoken.Subject{Kind: audit.ActorApp, Scopes: subject.Scopes}, ClientID: "suivi"},
	} {
		if _, _, _, err := apitoken.Mint(bad, clk.Now(), time.Hour); !errs.Is(err, errs.Invalid) {
			t.Errorf("minted %+v: %v", bad, err)
		}
	}
}
