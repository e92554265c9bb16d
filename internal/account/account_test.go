package account_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
	"github.com/carnet-sante/carnet/internal/terminology"
)

var admin = account.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op-1", Name: "Admin"}, Channel: audit.ChannelCLI}

func newService(t *testing.T) (*account.Service, *store.DB) {
	t.Helper()
	db := storetest.New(t)
	catalog, err := terminology.Default()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := account.NewService(db.Accounts(), clock.NewFake(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)), password.DefaultParams(), catalog)
	if err != nil {
		t.Fatal(err)
	}
	return svc, db
}

func mustIdNat(t *testing.T, s string) identity.IdNatPS {
	t.Helper()
	id, err := identity.ParseIdNatPS(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestProfessionalsAndOrganisations(t *testing.T) {
	svc, db := newService(t)
	ctx := context.Background()
	sid, err := identity.ParseStructureID("1750100125")
	if err != nil {
		t.Fatal(err)
	}
	org, err := svc.CreateOrganisation(ctx, admin, account.Organisation{StructureID: sid, Name: "Hôpital Saint-Louis", Town: "Paris"})
	if err != nil || org.ID == 0 || org.FINESS() != "750100125" {
		t.Fatalf("organisation: %+v %v", org, err)
	}
	if _, err := svc.CreateOrganisation(ctx, admin, account.Organisation{StructureID: sid, Name: "Twice"}); !errs.Is(err, errs.Conflict) {
		t.Fatalf("same FINESS twice: %v", err)
	}
	pro, err := svc.CreateProfessional(ctx, admin, account.Professional{IdNat: mustIdNat(t, "810100534436"),
		FamilyName: "Martin", GivenName: "Claire", Profession: "G15_10", Specialty: "SM26", OrganisationID: org.ID, Email: "Claire.Martin@example.fr"})
	if err != nil || pro.ID == 0 || pro.Email != "claire.martin@example.fr" {
		t.Fatalf("professional: %+v %v", pro, err)
	}
	var got account.Professional
	if err := db.View(ctx, func(tx *store.Tx) error {
		got, err = tx.ProfessionalByIdNat(ctx, "810100534436")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got.IdNat.Kind != identity.PSRPPS || got.IdNat.ID != "10100534436" || got.OrganisationID != org.ID || got.DisplayName() != "Claire Martin" {
		t.Fatalf("read back %+v", got)
	}
	bad := []account.Professional{
		{FamilyName: "X", GivenName: "Y", Profession: "G15_10"},                                                           // no IdNat
		{IdNat: mustIdNat(t, "810100710366"), GivenName: "Y", Profession: "G15_10"},                                       // no family name
		{IdNat: mustIdNat(t, "810100710366"), FamilyName: "X", GivenName: "Y", Profession: "doctor"},                      // bad code
		{IdNat: mustIdNat(t, "810100710366"), FamilyName: "X", GivenName: "Y", Profession: "G15_10", OrganisationID: 999}, // unknown org
	}
	for i, p := range bad {
		if _, err := svc.CreateProfessional(ctx, admin, p); err == nil {
			t.Errorf("bad professional %d accepted", i)
		}
	}
	res, err := db.VerifyTraces(ctx, storetest.Key)
	if err != nil || !res.OK() || res.Traces < 3 {
		t.Fatalf("traces: %+v %v", res, err)
	}
}

func TestPasswordsAreHashedAndChecked(t *testing.T) {
	svc, db := newService(t)
	ctx := context.Background()
	const secret = "correct horse battery staple"
	a, err := svc.CreateAccount(ctx, admin, account.NewAccount{Kind: account.KindOperator, Login: " Ops@Example.FR ", DisplayName: "Opératrice", Password: secret})
	if err != nil || a.Login != "ops@example.fr" || a.PasswordHash != "" {
		t.Fatalf("create: %+v %v", a, err)
	}
	var stored string
	if err := db.SQL().QueryRow(`SELECT password_hash FROM accounts WHERE id = $1`, a.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "$argon2id$v=19$") || strings.Contains(stored, secret) {
		t.Fatalf("stored password: %q", stored)
	}
	if got, err := svc.CheckPassword(ctx, "OPS@example.fr", secret); err != nil || got.ID != a.ID {
		t.Fatalf("good password: %+v %v", got, err)
	}
	wrong, err1 := svc.CheckPassword(ctx, "ops@example.fr", secret+"!")
	_, err2 := svc.CheckPassword(ctx, "nobody@example.fr", secret)
	if wrong.ID != 0 || !errs.Is(err1, errs.Forbidden) || !errs.Is(err2, errs.Forbidden) || err1.Error() != err2.Error() {
		t.Fatalf("wrong password %v / unknown login %v: want the same refusal", err1, err2)
	}
	if _, err := svc.CreateAccount(ctx, admin, account.NewAccount{Kind: account.KindOperator, Login: "ops@example.fr", DisplayName: "Again", Password: secret}); !errs.Is(err, errs.Conflict) {
		t.Fatalf("same login twice: %v", err)
	}
	if _, err := svc.CreateAccount(ctx, admin, account.NewAccount{Kind: account.KindOperator, Login: "short@example.fr", DisplayName: "S", Password: "short"}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("short password: %v", err)
	}
	if _, err := svc.CreateAccount(ctx, admin, account.NewAccount{Kind: account.KindPatient, Login: "p@example.fr", DisplayName: "P", Password: secret}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("patient account without a patient: %v", err)
	}
	// A disabled account is refused like a wrong password.
	if _, err := db.SQL().Exec(`UPDATE accounts SET disabled_at = 1 WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CheckPassword(ctx, "ops@example.fr", secret); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("disabled account: %v", err)
	}
}
