package auth_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/space"
)

func TestSignInWithEveryIdentifier(t *testing.T) {
	e := newEnv(t, cheapParams)
	ins := e.patient(t, 1, "marie@example.fr", "")
	r := e.professional(t, 1, "claire.martin@example.fr")
	e.operatorAccount(t, "ops@carnet.example")

	cases := []struct {
		name, identifier, mailTo string
		kind                     audit.ActorKind
		actorID                  string
	}{
		{"patient by INS", ins.Matricule, "marie@example.fr", audit.ActorPatient, ""},
		{"patient by INS with spaces", ins.Matricule[:1] + " " + ins.Matricule[1:5] + " " + ins.Matricule[5:], "marie@example.fr", audit.ActorPatient, ""},
		{"patient by e-mail, any case", "  Marie@Example.FR ", "marie@example.fr", audit.ActorPatient, ""},
		{"professional by RPPS", r, "claire.martin@example.fr", audit.ActorProfessional, "8" + r},
		{"professional by IdNat_PS", "8" + r, "claire.martin@example.fr", audit.ActorProfessional, "8" + r},
		{"professional by e-mail", "claire.martin@example.fr", "claire.martin@example.fr", audit.ActorProfessional, "8" + r},
		{"operator by e-mail", "ops@carnet.example", "ops@carnet.example", audit.ActorOperator, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			si := e.signIn(t, c.identifier, c.mailTo)
			id, err := e.svc.Authenticate(ctx, si.Token)
			if err != nil {
				t.Fatal(err)
			}
			a := id.Actor()
			if a.Kind != c.kind || c.actorID != "" && a.ID != c.actorID {
				t.Fatalf("actor = %+v, want kind %s id %s", a, c.kind, c.actorID)
			}
			if c.kind == audit.ActorProfessional && (a.Profession != "G15_10" || a.Specialty != "G15_10/SM26") {
				t.Fatalf("professional actor without profession and specialty: %+v", a)
			}
			if c.kind == audit.ActorPatient && (a.PatientID == 0 || a.ID != "patient-"+itoa(a.PatientID)) {
				t.Fatalf("patient actor = %+v", a)
			}
			if id.PasswordHash != "" {
				t.Fatal("the identity carries the password hash")
			}
		})
	}
	ts := e.traces(t, "auth.")
	if n := countTraces(ts, "auth.signin", audit.Allowed); n != len(cases) {
		t.Fatalf("%d sign-in traces, want %d", n, len(cases))
	}
	for _, tr := range ts {
		if tr.Entry.Action == "auth.signin" && tr.Entry.Actor.Kind == audit.ActorPatient && tr.Entry.PatientID == 0 {
			t.Fatalf("a patient's sign-in is not in their chain: %+v", tr)
		}
		if tr.Entry.Channel != audit.ChannelWeb {
			t.Fatalf("trace without the web channel: %+v", tr)
		}
	}
	e.verifyLog(t)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestCodeBySMS(t *testing.T) {
	e := newEnv(t, cheapParams)
	ins := e.patient(t, 1, "marie@example.fr", "+33 6 12 34 56 78")
	p, err := e.svc.SignIn(ctx, auth.Credentials{Identifier: ins.Matricule, Password: goodPassword, Method: auth.MethodSMSCode, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	if p.Prompt.Method != auth.MethodSMSCode || p.Prompt.Destination != "•• •• •• •• 78" {
		t.Fatalf("prompt = %+v", p.Prompt)
	}
	files := smsFiles(t, e.smsDir)
	if len(files) != 1 || !strings.HasPrefix(files[0], "To: +33 6 12 34 56 78\n") {
		t.Fatalf("SMS sink = %q", files)
	}
	code := codeRE.FindString(files[0])
	si, err := e.svc.CompleteSignIn(ctx, auth.Proof{Challenge: p.Token, Response: code[:3] + " " + code[3:], Client: client})
	if err != nil {
		t.Fatal(err)
	}
	if si.Identity.Session.Method != auth.MethodSMSCode {
		t.Fatalf("session method = %s", si.Identity.Session.Method)
	}
	// A professional has no mobile on file: asking for SMS falls back to e-mail.
	e.professional(t, 2, "pro@example.fr")
	p, err = e.svc.SignIn(ctx, auth.Credentials{Identifier: "pro@example.fr", Password: goodPassword, Method: auth.MethodSMSCode, Client: client})
	if err != nil || p.Prompt.Method != auth.MethodEmailCode || p.Prompt.Destination != "p•••@example.fr" {
		t.Fatalf("fallback prompt = %+v, %v", p.Prompt, err)
	}
}

func TestCodeIsSingleUseShortLivedAndBounded(t *testing.T) {
	e := newEnv(t, cheapParams)
	e.operatorAccount(t, "ops@carnet.example")
	begin := func(t *testing.T) (auth.Pending, string) {
		t.Helper()
		p, err := e.svc.SignIn(ctx, auth.Credentials{Identifier: "ops@carnet.example", Password: goodPassword, Client: client})
		if err != nil {
			t.Fatal(err)
		}
		return p, e.mail.lastCode(t, "ops@carnet.example")
	}
	wrong := func(code string) string { return string("0123456789"[(code[0]-'0'+1)%10]) + code[1:] }
	complete := func(p auth.Pending, code string) error {
		_, err := e.svc.CompleteSignIn(ctx, auth.Proof{Challenge: p.Token, Response: code, Client: client})
		return err
	}

	t.Run("single use", func(t *testing.T) {
		p, code := begin(t)
		if err := complete(p, code); err != nil {
			t.Fatal(err)
		}
		if err := complete(p, code); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("second use: %v", err)
		}
	})
	t.Run("expires", func(t *testing.T) {
		p, code := begin(t)
		e.clock.Advance(e.cfg.CodeValidity)
		if err := complete(p, code); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("expired code: %v", err)
		}
	})
	t.Run("three wrong tries end the challenge", func(t *testing.T) {
		e.clock.Advance(25 * time.Hour) // past the window of the code failures above
		p, code := begin(t)
		for i := 0; i < e.cfg.CodeAttempts; i++ {
			if err := complete(p, wrong(code)); !errs.Is(err, errs.Unauthenticated) || errs.MessageOf(err) != "the code is wrong or has expired" {
				t.Fatalf("wrong code %d: %v", i, err)
			}
		}
		e.clock.Advance(e.cfg.Code.Max)
		if err := complete(p, code); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("right code after the tries ran out: %v", err)
		}
	})
	t.Run("new challenges do not give fresh tries", func(t *testing.T) {
		e.clock.Advance(25 * time.Hour)
		for i := 0; i < e.cfg.Code.Free; i++ {
			p, code := begin(t)
			if err := complete(p, wrong(code)); !errs.Is(err, errs.Unauthenticated) {
				t.Fatal(err)
			}
		}
		p, code := begin(t)
		err := complete(p, code)
		if d, ok := auth.RetryAfter(err); !ok || d != e.cfg.Code.Base {
			t.Fatalf("after %d wrong codes across challenges: %v (retry after %v)", e.cfg.Code.Free, err, d)
		}
		e.clock.Advance(e.cfg.Code.Base)
		if err := complete(p, code); err != nil {
			t.Fatalf("after the delay: %v", err)
		}
	})
	ts := e.traces(t, "auth.code")
	if countTraces(ts, "auth.code", audit.Denied) < 6 {
		t.Fatalf("refused codes are not all traced: %d", countTraces(ts, "auth.code", audit.Denied))
	}
}

func TestSessionTimeouts(t *testing.T) {
	e := newEnv(t, cheapParams)
	e.operatorAccount(t, "ops@carnet.example")

	si := e.signIn(t, "ops@carnet.example", "ops@carnet.example")
	e.clock.Advance(e.cfg.IdleTimeout - time.Second)
	if _, err := e.svc.Authenticate(ctx, si.Token); err != nil {
		t.Fatalf("used within the idle timeout: %v", err)
	}
	e.clock.Advance(e.cfg.IdleTimeout - time.Second)
	if _, err := e.svc.Authenticate(ctx, si.Token); err != nil {
		t.Fatalf("the last use did not count: %v", err)
	}
	e.clock.Advance(e.cfg.IdleTimeout)
	if _, err := e.svc.Authenticate(ctx, si.Token); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("idle session still valid: %v", err)
	}

	si = e.signIn(t, "ops@carnet.example", "ops@carnet.example")
	for used := time.Duration(0); used+e.cfg.IdleTimeout/2 < e.cfg.AbsoluteTimeout; used += e.cfg.IdleTimeout / 2 {
		e.clock.Advance(e.cfg.IdleTimeout / 2)
		if _, err := e.svc.Authenticate(ctx, si.Token); err != nil {
			t.Fatalf("busy session ended after %v: %v", used, err)
		}
	}
	e.clock.Advance(e.cfg.IdleTimeout / 2)
	if _, err := e.svc.Authenticate(ctx, si.Token); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("session past its absolute timeout: %v", err)
	}
}

func TestSessionsListRevokeAndSignOutEverywhere(t *testing.T) {
	e := newEnv(t, cheapParams)
	e.patient(t, 1, "marie@example.fr", "")
	e.patient(t, 2, "other@example.fr", "")
	laptop := e.signIn(t, "marie@example.fr", "marie@example.fr")
	e.clock.Advance(time.Minute)
	phone := e.signIn(t, "marie@example.fr", "marie@example.fr")
	other := e.signIn(t, "other@example.fr", "other@example.fr")

	id, err := e.svc.Authenticate(ctx, laptop.Token)
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.Sessions(ctx, id)
	if err != nil || len(list) != 2 {
		t.Fatalf("sessions = %+v, %v", list, err)
	}
	current := 0
	for _, s := range list {
		if s.Current {
			current++
			if s.ID != laptop.Identity.Session.ID {
				t.Fatal("the wrong session is marked current")
			}
		}
		if s.ClientAddr != client.Addr || s.UserAgent != "test/1.0" {
			t.Fatalf("session without its client: %+v", s)
		}
	}
	if current != 1 {
		t.Fatalf("%d current sessions", current)
	}
	// Nobody revokes another account's session, even knowing its id.
	if err := e.svc.Revoke(ctx, id, client, other.Identity.Session.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("revoking another's session: %v", err)
	}
	if err := e.svc.Revoke(ctx, id, client, phone.Identity.Session.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, phone.Token); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("revoked session still valid: %v", err)
	}
	phone = e.signIn(t, "marie@example.fr", "marie@example.fr")
	n, err := e.svc.SignOutEverywhere(ctx, id, client)
	if err != nil || n != 2 {
		t.Fatalf("sign out everywhere: %d, %v", n, err)
	}
	for _, tok := range []string{laptop.Token, phone.Token} {
		if _, err := e.svc.Authenticate(ctx, tok); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("session alive after signing out everywhere: %v", err)
		}
	}
	if _, err := e.svc.Authenticate(ctx, other.Token); err != nil {
		t.Fatalf("another account's session ended: %v", err)
	}
	ts := e.traces(t, "auth.s")
	if countTraces(ts, "auth.session.revoke", audit.Allowed) != 1 || countTraces(ts, "auth.session.revoke", audit.Denied) != 1 ||
		countTraces(ts, "auth.signout_everywhere", audit.Allowed) != 1 {
		t.Fatalf("revocations not traced: %+v", ts)
	}
	e.verifyLog(t)
}

func TestRotation(t *testing.T) {
	e := newEnv(t, cheapParams)
	e.operatorAccount(t, "ops@carnet.example")
	first := e.signIn(t, "ops@carnet.example", "ops@carnet.example")

	// Signing in again from the same browser replaces its session: no fixation.
	p, err := e.svc.SignIn(ctx, auth.Credentials{Identifier: "ops@carnet.example", Password: goodPassword, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.svc.CompleteSignIn(ctx, auth.Proof{Challenge: p.Token, Response: e.mail.lastCode(t, "ops@carnet.example"),
		Previous: first.Token, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	if second.Token == first.Token || second.Identity.Session.ID == first.Identity.Session.ID {
		t.Fatal("sign-in kept the session id")
	}
	if _, err := e.svc.Authenticate(ctx, first.Token); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("the previous session survived the sign-in: %v", err)
	}

	// A change of privilege rotates the id and keeps the absolute end.
	e.clock.Advance(10 * time.Minute)
	id, err := e.svc.Authenticate(ctx, second.Token)
	if err != nil {
		t.Fatal(err)
	}
	third, err := e.svc.Rotate(ctx, id, client, "step-up")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, second.Token); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("old id valid after rotation: %v", err)
	}
	id3, err := e.svc.Authenticate(ctx, third.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !id3.Session.ExpiresAt.Equal(id.Session.ExpiresAt) {
		t.Fatalf("rotation moved the absolute end: %v → %v", id.Session.ExpiresAt, id3.Session.ExpiresAt)
	}
	if id3.CSRFToken() == id.CSRFToken() {
		t.Fatal("the CSRF token survived the rotation")
	}
	if _, err := e.svc.Rotate(ctx, id, client, "again"); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("rotating a rotated session: %v", err)
	}
}

func TestActivation(t *testing.T) {
	e := newEnv(t, cheapParams)
	ins, code := e.pendingSpace(t, 1, "")
	act := auth.Activation{INS: ins.Matricule, Code: code, Email: "marie@example.fr", Password: goodPassword, Client: client}

	bad := act
	bad.Code = "AAAA-BBBB-CCCC"
	if _, err := e.svc.Activate(ctx, bad); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("wrong code: %v", err)
	}
	short := act
	short.Password = "short"
	if _, err := e.svc.Activate(ctx, short); !errs.Is(err, errs.Invalid) {
		t.Fatalf("short password: %v", err)
	}

	// A login already taken rolls everything back: the space stays pending, the code works again.
	e.operatorAccount(t, "marie@example.fr")
	if _, err := e.svc.Activate(ctx, act); !errs.Is(err, errs.Conflict) {
		t.Fatalf("taken login: %v", err)
	}
	_, sp, err := e.spaces.ByINS(ctx, ins.Matricule)
	if err != nil {
		t.Fatal(err)
	}
	if sp.State != space.Pending || sp.Activated {
		t.Fatalf("space after a refused activation: %+v", sp)
	}

	act.Email = "Marie.Dupont@Example.fr"
	out, err := e.svc.Activate(ctx, act)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Created || out.Space.State != space.Open || !out.Space.Activated || out.Login != "marie.dupont@example.fr" {
		t.Fatalf("activated = %+v", out)
	}
	if _, err := e.svc.Activate(ctx, act); err == nil {
		t.Fatal("a code served twice")
	}
	si := e.signIn(t, ins.Matricule, "marie.dupont@example.fr")
	if si.Identity.DisplayName != "Marie DUPONT" {
		t.Fatalf("display name = %q", si.Identity.DisplayName)
	}
	ts := e.traces(t, "")
	if countTraces(ts, "space.activate", audit.Allowed) != 1 || countTraces(ts, "auth.activate", audit.Allowed) != 1 ||
		countTraces(ts, "auth.activate", audit.Denied) != 1 || countTraces(ts, "space.activate", audit.Denied) < 1 {
		t.Fatalf("activation traces: %+v", ts)
	}
	e.verifyLog(t)
}

func TestPasswordReset(t *testing.T) {
	e := newEnv(t, cheapParams)
	ins := e.patient(t, 1, "marie@example.fr", "")
	session := e.signIn(t, "marie@example.fr", "marie@example.fr")

	if err := e.svc.RequestReset(ctx, ins.Matricule, client); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RequestReset(ctx, "nobody@example.fr", client); err != nil {
		t.Fatalf("unknown identifier: %v", err)
	}
	e.svc.Close() // the e-mails go after the answer
	msgs := e.mail.to("marie@example.fr")
	last := msgs[len(msgs)-1]
	if !strings.Contains(last.Subject, "mot de passe") {
		t.Fatalf("no reset e-mail: %+v", last)
	}
	if len(e.mail.to("nobody@example.fr")) != 0 {
		t.Fatal("a message went to an address no account has")
	}
	link := last.Text[strings.Index(last.Text, "https://"):]
	link = link[:strings.IndexAny(link, "\n ")]
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, e.cfg.ResetURL+"?token=") {
		t.Fatalf("link %q: %v", link, err)
	}
	token := u.Query().Get("token")

	if err := e.svc.ResetPassword(ctx, token, "short", client); !errs.Is(err, errs.Invalid) {
		t.Fatalf("short password: %v", err)
	}
	const newPassword = "a whole new passphrase"
	if err := e.svc.ResetPassword(ctx, token, newPassword, client); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ResetPassword(ctx, token, newPassword, client); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("link used twice: %v", err)
	}
	if _, err := e.svc.Authenticate(ctx, session.Token); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("a session survived the reset: %v", err)
	}
	if _, err := e.svc.SignIn(ctx, auth.Credentials{Identifier: "marie@example.fr", Password: goodPassword, Client: client}); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("old password still accepted: %v", err)
	}
	if _, err := e.svc.SignIn(ctx, auth.Credentials{Identifier: "marie@example.fr", Password: newPassword, Client: client}); err != nil {
		t.Fatalf("new password refused: %v", err)
	}

	// A link dies after its validity.
	if err := e.svc.RequestReset(ctx, "marie@example.fr", client); err != nil {
		t.Fatal(err)
	}
	e.svc.Close()
	msgs = e.mail.to("marie@example.fr")
	text := msgs[len(msgs)-1].Text
	token = text[strings.Index(text, "?token=")+len("?token="):]
	token = token[:strings.IndexAny(token, "\n ")]
	e.clock.Advance(e.cfg.ResetValidity)
	if err := e.svc.ResetPassword(ctx, token, newPassword+"!", client); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("expired link: %v", err)
	}
	ts := e.traces(t, "auth.reset")
	if countTraces(ts, "auth.reset.request", audit.Allowed) != 2 || countTraces(ts, "auth.reset.request", audit.Denied) != 1 ||
		countTraces(ts, "auth.reset", audit.Allowed) != 1 || countTraces(ts, "auth.reset", audit.Denied) != 2 {
		t.Fatalf("reset traces: %+v", ts)
	}
	e.verifyLog(t)
}

func TestSweep(t *testing.T) {
	e := newEnv(t, cheapParams)
	e.operatorAccount(t, "ops@carnet.example")
	e.signIn(t, "ops@carnet.example", "ops@carnet.example")
	if _, err := e.svc.SignIn(ctx, auth.Credentials{Identifier: "ops@carnet.example", Password: "wrong password!", Client: client}); err == nil {
		t.Fatal("wrong password accepted")
	}
	if n, err := e.svc.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep of live data: %d, %v", n, err)
	}
	e.clock.Advance(e.cfg.AbsoluteTimeout + 25*time.Hour)
	n, err := e.svc.Sweep(ctx)
	// The session, its challenge, and the rate-limit keys of the identifier and the address.
	if err != nil || n < 4 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
}
