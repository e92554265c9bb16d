package apitoken_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/password"
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
