package share_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/profile/share"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

var ctx = context.Background()

func setup(t *testing.T) (*recordtest.Env, *share.Service, int64, access.Actor, access.Actor) {
	t.Helper()
	e := recordtest.New(t)
	s, err := share.NewService(e.DB.Shares(), e.Clock, 0)
	if err != nil {
		t.Fatal(err)
	}
	pid := e.Patient(t, recordtest.TestINS(t, 71))
	return e, s, pid, recordtest.Holder(pid).Actor, recordtest.Doctor(recordtest.RPPS(t, 71)).Actor
}

func TestCodeFormat(t *testing.T) {
	for _, c := range []struct {
		in   string
		ok   bool
		want string
	}{
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", true, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"abcd-efgh ijkl-mnop-qrst-uvwx-yz", true, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"ABCDEFGHIJKLMNOPQRSTUVWXY", false, ""},   // too short
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZA", false, ""}, // too long
		{"ABCDEFGHIJKLMNOPQRSTUVWXY1", false, ""},  // 1 is not base32
		{"ABCDEFGHIJKLMNOPQRSTUVWXY/", false, ""},
		{"", false, ""},
	} {
		got, ok := share.Normalize(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("Normalize(%q) = %q %v, want %q %v", c.in, got, ok, c.want, c.ok)
		}
	}
	if f := share.Format("ABCDEFGHIJKLMNOPQRSTUVWXYZ"); f != "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ" {
		t.Errorf("Format: %s", f)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ", "", "é", "abcd efgh", strings.Repeat("A", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := share.Normalize(s)
		if !ok {
			return
		}
		if len(n) != 26 || strings.ToUpper(n) != n {
			t.Fatalf("Normalize(%q) = %q", s, n)
		}
		if again, ok := share.Normalize(share.Format(n)); !ok || again != n {
			t.Fatalf("a formatted code does not read back: %q", n)
		}
	})
}

// A code is good once: two professionals using it at once get it once between them.
func TestUseOnce(t *testing.T) {
	e, s, pid, holder, doctor := setup(t)
	sh, code, err := s.Create(ctx, holder, audit.ChannelWeb, pid)
	if err != nil {
		t.Fatal(err)
	}
	if sh.ExpiresAt.Sub(sh.CreatedAt) != share.DefaultLifetime {
		t.Errorf("lifetime %v", sh.ExpiresAt.Sub(sh.CreatedAt))
	}
	var wg sync.WaitGroup
	results := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, results[i] = s.Use(ctx, doctor, audit.ChannelWeb, share.Format(code))
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case !errs.Is(err, errs.Forbidden):
			t.Errorf("a second use: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d uses of a one-time code", ok)
	}
	list, err := s.List(ctx, holder, pid)
	if err != nil || len(list) != 1 || list[0].StateAt(e.Clock.Now()) != share.Used || !strings.HasPrefix(list[0].UsedBy, doctor.ID) {
		t.Fatalf("the share after use: %+v %v", list, err)
	}
	traces := strings.Join(e.Traces(t, pid), "\n")
	if strings.Count(traces, "profile.share.use allowed") != 1 || strings.Count(traces, "profile.share.use denied share_used") != 3 {
		t.Errorf("the uses' traces:\n%s", traces)
	}
}

// Who may do what: only the holder creates, lists and revokes; only a professional uses; an
// unknown code names no one and is not traced; the lifetime is the service's.
func TestRules(t *testing.T) {
	e, s, pid, holder, doctor := setup(t)
	if _, _, err := s.Create(ctx, doctor, audit.ChannelWeb, pid); !errs.Is(err, errs.Forbidden) {
		t.Errorf("a professional creates a code: %v", err)
	}
	other := recordtest.Holder(pid + 1000).Actor
	if _, _, err := s.Create(ctx, other, audit.ChannelWeb, pid); !errs.Is(err, errs.Forbidden) {
		t.Errorf("someone else creates a code: %v", err)
	}
	rep := holder
	rep.Kind = audit.ActorRepresentative
	if _, _, err := s.Create(ctx, rep, audit.ChannelWeb, pid); !errs.Is(err, errs.Forbidden) {
		t.Errorf("a representative creates a code: %v", err)
	}
	_, code, err := s.Create(ctx, holder, audit.ChannelWeb, pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Use(ctx, holder, audit.ChannelWeb, code); !errs.Is(err, errs.Forbidden) {
		t.Errorf("the patient uses their code: %v", err)
	}
	before := len(e.Traces(t, pid))
	if _, err := s.Use(ctx, doctor, audit.ChannelWeb, "AAAAAAAAAAAAAAAAAAAAAAAAAA"); !errs.Is(err, errs.NotFound) {
		t.Errorf("an unknown code: %v", err)
	}
	if _, err := s.Use(ctx, doctor, audit.ChannelWeb, "not a code"); !errs.Is(err, errs.NotFound) {
		t.Errorf("a malformed code: %v", err)
	}
	if len(e.Traces(t, pid)) != before {
		t.Error("an unknown code is traced in a patient's trail")
	}
	e.Clock.Advance(share.DefaultLifetime - time.Second)
	if _, err := s.Use(ctx, doctor, audit.ChannelWeb, code); err != nil {
		t.Errorf("a code a second before its end: %v", err)
	}
	for i := 0; i < share.MaxActive; i++ {
		if _, _, err := s.Create(ctx, holder, audit.ChannelWeb, pid); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Create(ctx, holder, audit.ChannelWeb, pid); !errs.Is(err, errs.Conflict) {
		t.Errorf("code %d: %v", share.MaxActive+1, err)
	}
	list, _ := s.List(ctx, holder, pid)
	if err := s.Revoke(ctx, doctor, audit.ChannelWeb, pid, list[0].ID); !errs.Is(err, errs.Forbidden) {
		t.Errorf("a professional revokes: %v", err)
	}
	if err := s.Revoke(ctx, holder, audit.ChannelWeb, pid, list[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, holder, audit.ChannelWeb, pid, list[0].ID); !errs.Is(err, errs.NotFound) {
		t.Errorf("revoked twice: %v", err)
	}
	if _, _, err := s.Create(ctx, holder, audit.ChannelWeb, pid); err != nil {
		t.Errorf("a code after a revocation: %v", err)
	}
}
