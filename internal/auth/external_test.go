package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
)

func (e *env) accountID(t testing.TB, login string) int64 {
	t.Helper()
	var id int64
	if err := e.db.SQL().QueryRowContext(ctx, `SELECT id FROM accounts WHERE login = $1`, login).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSignInExternal: a provider's sign-in opens a session like a local one (rotation,
// method, traces, metrics), and gives back the address's attempt.
func TestSignInExternal(t *testing.T) {
	e := newEnv(t, cheapParams)
	idnat := "8" + e.professional(t, 1, "claire@example.fr")
	acc := e.accountID(t, "claire@example.fr")
	local := e.signIn(t, "claire@example.fr", "claire@example.fr")

	if err := e.svc.AdmitExternal(ctx, client); err != nil {
		t.Fatal(err)
	}
	si, err := e.svc.SignInExternal(ctx, auth.External{AccountID: acc, Method: "oidc:psc", Detail: "subject=abc acr=eidas1",
		Previous: local.Token, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.svc.Authenticate(ctx, si.Token)
	if err != nil {
		t.Fatal(err)
	}
	if id.Kind != account.KindProfessional || id.IdNat != idnat || id.Session.Method != "oidc:psc" || id.AccountID != acc {
		t.Fatalf("identity: %+v", id)
	}
	if _, err := e.svc.Authenticate(ctx, local.Token); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("the previous session survived: %v", err)
	}
	trs := e.traces(t, "auth.external")
	if len(trs) != 1 || trs[0].Entry.Outcome != audit.Allowed || trs[0].Entry.Actor.ID != idnat ||
		!strings.Contains(trs[0].Entry.Detail, "method=oidc:psc") || !strings.Contains(trs[0].Entry.Detail, "acr=eidas1") {
		t.Fatalf("external traces: %+v", trs)
	}
	signins := e.traces(t, "auth.signin")
	if last := signins[len(signins)-1].Entry; !strings.Contains(last.Detail, "method=oidc:psc session="+si.Identity.Session.ID) {
		t.Fatalf("session trace: %+v", last)
	}
	if got := counter(t, e, "carnet_auth_checks_total"); got < 3 { // password, code, external
		t.Fatalf("checks counted: %v", got)
	}
	e.verifyLog(t)
}

// TestSignInExternalRefusals: a local factor's method, an unknown account and a disabled
// one are refused; a refusal is traced on the account's chain when it names one.
func TestSignInExternalRefusals(t *testing.T) {
	e := newEnv(t, cheapParams)
	e.patient(t, 1, "marie@example.fr", "")
	acc := e.accountID(t, "marie@example.fr")

	for _, m := range []auth.Method{"", auth.MethodEmailCode, auth.MethodSMSCode, auth.MethodWebAuthn} {
		if _, err := e.svc.SignInExternal(ctx, auth.External{AccountID: acc, Method: m, Client: client}); !errs.Is(err, errs.Internal) {
			t.Errorf("method %q: %v", m, err)
		}
	}
	if _, err := e.svc.SignInExternal(ctx, auth.External{AccountID: 999999, Method: "oidc:fc", Client: client}); !errs.Is(err, errs.NotFound) {
		t.Errorf("unknown account: %v", err)
	}
	if _, err := e.db.SQL().ExecContext(ctx, `UPDATE accounts SET disabled_at = 1 WHERE id = $1`, acc); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SignInExternal(ctx, auth.External{AccountID: acc, Method: "oidc:fc", Client: client}); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("disabled account: %v", err)
	}
	if err := e.svc.RefuseExternal(ctx, auth.External{AccountID: acc, Method: "oidc:fc", Detail: "by=link", Client: client}, "linked_elsewhere"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RefuseExternal(ctx, auth.External{Method: "oidc:fc", Client: client}, "no_match"); err != nil {
		t.Fatal(err)
	}
	trs := e.traces(t, "auth.external")
	if len(trs) != 3 {
		t.Fatalf("traces: %+v", trs)
	}
	for i, want := range []string{"disabled", "linked_elsewhere", "no_match"} {
		if trs[i].Entry.Outcome != audit.Denied || trs[i].Entry.Reason != want {
			t.Errorf("trace %d: %+v", i, trs[i].Entry)
		}
	}
	if trs[1].Entry.PatientID == 0 || trs[1].Entry.Actor.Kind != audit.ActorPatient {
		t.Errorf("a refusal naming the account is not in the patient's chain: %+v", trs[1].Entry)
	}
	if trs[2].Entry.PatientID != 0 || trs[2].Entry.Actor.Kind != audit.ActorSystem {
		t.Errorf("a refusal naming no account: %+v", trs[2].Entry)
	}
	e.verifyLog(t)
}

// TestAdmitExternal: outside checks count on the address like password failures, and a
// sign-in gives its attempt back.
func TestAdmitExternal(t *testing.T) {
	e := newEnv(t, cheapParams, func(c *auth.Config) { c.Address.Free = 3 })
	e.operatorAccount(t, "ops@carnet.example")
	acc := e.accountID(t, "ops@carnet.example")
	for i := 0; i < 3; i++ {
		if err := e.svc.AdmitExternal(ctx, client); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	err := e.svc.AdmitExternal(ctx, client)
	if d, ok := auth.RetryAfter(err); !ok || d != time.Second {
		t.Fatalf("fourth attempt: %v", err)
	}
	if err := e.svc.AdmitExternal(ctx, auth.Client{Addr: "203.0.113.9"}); err != nil {
		t.Fatalf("another address: %v", err)
	}

	// A success gives its attempt back: with Free attempts, a person signing in again and
	// again is never held.
	e2 := newEnv(t, cheapParams, func(c *auth.Config) { c.Address.Free = 3 })
	e2.operatorAccount(t, "ops@carnet.example")
	acc = e2.accountID(t, "ops@carnet.example")
	for i := 0; i < 10; i++ {
		if err := e2.svc.AdmitExternal(ctx, client); err != nil {
			t.Fatalf("sign-in %d held: %v", i, err)
		}
		if _, err := e2.svc.SignInExternal(ctx, auth.External{AccountID: acc, Method: "oidc:x", Client: client}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e2.traces(t, "auth.external")); n != 10 {
		t.Fatalf("%d traces for 10 sign-ins", n)
	}
}
