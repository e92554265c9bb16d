package space_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/space"
)

func TestNormalisePhone(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"06 12 34 56 78":     "+33612345678",
		"07.12.34.56.78":     "+33712345678",
		"0612345678":         "+33612345678",
		"+33 6 12 34 56 78":  "+33612345678",
		"+33 (0)7 12345678":  "+33712345678",
		"0033 6 12 34 56 78": "+33612345678",
		" +33712345678 ":     "+33712345678",
	} {
		if got, err := space.NormalisePhone(in); err != nil || got != want {
			t.Errorf("NormalisePhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"01 23 45 67 89", "06 12 34 56 7", "06 12 34 56 789", "+44 7911 123456", "+336123456789",
		"06-12-34-56-7a", "6 12 34 56 78", "06 12 34 56 78 ext", "٠٦١٢٣٤٥٦٧٨", "0+612345678"} {
		if got, err := space.NormalisePhone(in); !errors.Is(err, space.ErrPhone) {
			t.Errorf("NormalisePhone(%q) = %q, %v; want refused", in, got, err)
		}
	}
}

func TestNormaliseEmail(t *testing.T) {
	for in, want := range map[string]string{"": "", " alice@example.fr ": "alice@example.fr", "a.b+c@sub.example.org": "a.b+c@sub.example.org"} {
		if got, err := space.NormaliseEmail(in); err != nil || got != want {
			t.Errorf("NormaliseEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"alice", "alice@", "@example.fr", "alice@localhost", "Alice <alice@example.fr>",
		"alice@example.fr, bob@example.fr", "élise@example.fr", "alice@exämple.fr", "alice@example..fr", "alice@.example.fr",
		"a b@example.fr", "alice@[127.0.0.1]", "alice@example.fr\r\nBcc: x@y.fr", strings.Repeat("a", 250) + "@example.fr"} {
		if got, err := space.NormaliseEmail(in); !errors.Is(err, space.ErrEmail) {
			t.Errorf("NormaliseEmail(%q) = %q, %v; want refused", in, got, err)
		}
	}
}

func TestSetContact(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c, err := e.svc.Create(ctx, operator, space.NewSpace{Patient: person(t, "2900175123457", "Alice", "alice@example.fr", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	me := space.By{Actor: audit.Actor{Kind: audit.ActorPatient, ID: "self", Name: "Alice"}, Channel: audit.ChannelWeb}
	p, err := e.svc.SetContact(ctx, me, c.Patient.ID, " alice.new@example.org ", "07 11 22 33 44")
	if err != nil || p.Email != "alice.new@example.org" || p.Phone != "+33711223344" {
		t.Fatalf("set contact: %+v %v", p, err)
	}
	if got, _, _ := e.svc.Get(ctx, c.Patient.ID); got.Email != "alice.new@example.org" || got.Phone != "+33711223344" {
		t.Fatalf("not saved: %q %q", got.Email, got.Phone)
	}
	tr := e.hasTrace(t, c.Patient.ID, "space.contact", audit.Allowed)
	if tr.Entry.Actor.Kind != audit.ActorPatient || strings.Contains(tr.Entry.Reason+tr.Entry.Object, "example.org") {
		t.Fatalf("trace: %+v", tr.Entry)
	}

	// A bad phone refuses the whole change: the valid e-mail beside it is not saved either.
	if _, err := e.svc.SetContact(ctx, me, c.Patient.ID, "other@example.fr", "01 23 45 67 89"); !errors.Is(err, space.ErrPhone) {
		t.Fatalf("bad phone: %v", err)
	}
	if _, err := e.svc.SetContact(ctx, me, c.Patient.ID, "not an address", ""); !errors.Is(err, space.ErrEmail) || !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad e-mail: %v", err)
	}
	if got, _, _ := e.svc.Get(ctx, c.Patient.ID); got.Email != "alice.new@example.org" || got.Phone != "+33711223344" {
		t.Fatalf("a refused change changed something: %q %q", got.Email, got.Phone)
	}
	e.hasTrace(t, c.Patient.ID, "space.contact", audit.Denied)

	// Emptying both is allowed: notices then go by post.
	if p, err := e.svc.SetContact(ctx, me, c.Patient.ID, "", ""); err != nil || p.Email != "" || p.Phone != "" {
		t.Fatalf("clear: %+v %v", p, err)
	}
	if _, err := e.svc.SetContact(ctx, me, 987654, "x@example.fr", ""); !errs.Is(err, errs.NotFound) {
		t.Fatalf("unknown patient: %v", err)
	}
	e.verifyLog(t)
}

func FuzzNormaliseContact(f *testing.F) {
	for _, s := range []string{"06 12 34 56 78", "+33 (0)6 12 34 56 78", "0033612345678", "alice@example.fr", "A <a@b.fr>", "a@b..fr", "+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := space.NormalisePhone(s); err == nil && p != "" {
			if len(p) != 12 || !strings.HasPrefix(p, "+33") || (p[3] != '6' && p[3] != '7') {
				t.Fatalf("NormalisePhone(%q) = %q", s, p)
			}
			if again, err := space.NormalisePhone(p); err != nil || again != p {
				t.Fatalf("not stable: %q -> %q %v", p, again, err)
			}
		}
		if m, err := space.NormaliseEmail(s); err == nil && m != "" {
			if !utf8.ValidString(m) || strings.ContainsAny(m, " \r\n<>,") || strings.Count(m, "@") < 1 || len(m) > 254 {
				t.Fatalf("NormaliseEmail(%q) = %q", s, m)
			}
			if again, err := space.NormaliseEmail(m); err != nil || again != m {
				t.Fatalf("not stable: %q -> %q %v", m, again, err)
			}
		}
	})
}
