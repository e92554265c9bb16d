package emergency_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/emergency"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

var ctx = context.Background()

type env struct {
	*recordtest.Env
	prof  *profile.Service
	cards *emergency.Service
	pid   int64
	me    access.Actor
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := recordtest.New(t)
	p, err := profile.NewService(profile.Deps{Store: e.DB.Profile(), Access: e.Access, Catalog: e.Catalog, Clock: e.Clock})
	if err != nil {
		t.Fatal(err)
	}
	c, err := emergency.NewService(e.DB.Emergency(), e.Access, p, e.Clock)
	if err != nil {
		t.Fatal(err)
	}
	pid := e.Patient(t, recordtest.TestINS(t, 81))
	return &env{Env: e, prof: p, cards: c, pid: pid, me: recordtest.Holder(pid).Actor}
}

func (e *env) req() profile.Request {
	r := recordtest.Holder(e.pid)
	return profile.Request{Actor: r.Actor, Channel: r.Channel}
}

func (e *env) add(t *testing.T, it profile.Item, hidden bool) profile.Item {
	t.Helper()
	got, err := e.prof.Add(ctx, e.req(), e.pid, it)
	if err != nil {
		t.Fatal(err)
	}
	if hidden {
		if got, err = e.prof.Hide(ctx, e.req(), got.ID); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

const scanner = "203.0.113.77:51234"

func (e *env) read(token string) (emergency.View, error) {
	return e.cards.Read(ctx, emergency.Reader(scanner), audit.ChannelWeb, token)
}

// shown lists the texts the card shows, section by section.
func shown(v emergency.View) []string {
	var out []string
	for _, s := range v.Sections {
		for _, it := range s.Items {
			switch {
			case it.Allergy != nil:
				out = append(out, it.Allergy.Text)
			case it.Treatment != nil:
				out = append(out, it.Treatment.Text)
			case it.Contact != nil:
				out = append(out, it.Contact.Name)
			case it.Wish != nil:
				out = append(out, it.Wish.Text)
			case it.BloodGroup != nil:
				out = append(out, it.BloodGroup.String())
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestWithheld: whatever the patient withheld — a section turned off, an item unticked, an item
// hidden from professionals and not ticked — the card does not show; and only then.
func TestWithheld(t *testing.T) {
	e := newEnv(t)
	peanut := e.add(t, profile.Item{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Arachide", Status: "active", Criticality: "high"}}, false)
	latex := e.add(t, profile.Item{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Latex", Status: "active"}}, true)
	insulin := e.add(t, profile.Item{Section: profile.SectionTreatments, Treatment: &profile.Treatment{Text: "Insuline", Status: "active"}}, false)
	hiv := e.add(t, profile.Item{Section: profile.SectionTreatments, Treatment: &profile.Treatment{Text: "Antirétroviral", Status: "active"}}, true)
	e.add(t, profile.Item{Section: profile.SectionBloodGroup, BloodGroup: &profile.BloodGroup{ABO: "O", Rh: "-"}}, false)
	sis := e.add(t, profile.Item{Section: profile.SectionEmergencyContacts, Contact: &profile.Contact{Name: "Sœur Anne", Phone: "+33 6 12 34 56 78"}}, false)
	e.add(t, profile.Item{Section: profile.SectionWishes, Wish: &profile.Wish{Kind: profile.WishAdvanceDirectives, Text: "Pas d'acharnement"}}, false)
	// Never on a card: a section it does not have.
	e.add(t, profile.Item{Section: profile.SectionHistory, Condition: &profile.Condition{Text: "Appendicectomie", Status: "resolved", Surgical: true}}, false)

	token, err := e.cards.TurnOn(ctx, e.me, audit.ChannelWeb, e.pid)
	if err != nil || token == "" {
		t.Fatalf("turn on: %q %v", token, err)
	}
	all := emergency.Sections()
	without := func(s profile.Section) []profile.Section {
		return slices.DeleteFunc(slices.Clone(all), func(x profile.Section) bool { return x == s })
	}
	for _, c := range []struct {
		name     string
		sections []profile.Section
		choices  map[string]emergency.Choice
		want     []string
	}{
		{"default: hidden items left out", all, nil,
			[]string{"Arachide", "Insuline", "O-", "Pas d'acharnement", "Sœur Anne"}},
		{"allergies section off", without(profile.SectionAllergies), nil,
			[]string{"Insuline", "O-", "Pas d'acharnement", "Sœur Anne"}},
		{"blood group off", without(profile.SectionBloodGroup), nil,
			[]string{"Arachide", "Insuline", "Pas d'acharnement", "Sœur Anne"}},
		{"wishes off", without(profile.SectionWishes), nil,
			[]string{"Arachide", "Insuline", "O-", "Sœur Anne"}},
		{"contacts off", without(profile.SectionEmergencyContacts), nil,
			[]string{"Arachide", "Insuline", "O-", "Pas d'acharnement"}},
		{"item unticked", all, map[string]emergency.Choice{insulin.ID: emergency.Hide, sis.ID: emergency.Hide},
			[]string{"Arachide", "O-", "Pas d'acharnement"}},
		{"hidden item ticked", all, map[string]emergency.Choice{latex.ID: emergency.Show},
			[]string{"Arachide", "Insuline", "Latex", "O-", "Pas d'acharnement", "Sœur Anne"}},
		{"hidden item ticked, its section off", without(profile.SectionTreatments), map[string]emergency.Choice{hiv.ID: emergency.Show},
			[]string{"Arachide", "O-", "Pas d'acharnement", "Sœur Anne"}},
		{"hidden item unticked stays out", all, map[string]emergency.Choice{latex.ID: emergency.Hide, peanut.ID: emergency.Hide},
			[]string{"Insuline", "O-", "Pas d'acharnement", "Sœur Anne"}},
		{"nothing", nil, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := e.cards.Save(ctx, e.me, audit.ChannelWeb, e.pid, c.sections, c.choices); err != nil {
				t.Fatal(err)
			}
			v, err := e.read(token)
			if err != nil {
				t.Fatal(err)
			}
			if got := shown(v); !slices.Equal(got, c.want) {
				t.Errorf("card shows %q, want %q", got, c.want)
			}
			if v.GivenName != "Marie" || v.FamilyName != "DUPONT" || v.BirthYear != 1980 {
				t.Errorf("identity %q %q %d", v.GivenName, v.FamilyName, v.BirthYear)
			}
		})
	}
	// An item the patient hides after ticking nothing is gone from the card at once.
	if err := e.cards.Save(ctx, e.me, audit.ChannelWeb, e.pid, all, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.prof.Hide(ctx, e.req(), peanut.ID); err != nil {
		t.Fatal(err)
	}
	v, err := e.read(token)
	if err != nil || slices.Contains(shown(v), "Arachide") {
		t.Errorf("a newly hidden item is on the card: %q %v", shown(v), err)
	}
}

func TestSaveRefusesNonsense(t *testing.T) {
	e := newEnv(t)
	if err := e.cards.Save(ctx, e.me, audit.ChannelWeb, e.pid, emergency.Sections(), nil); !errs.Is(err, errs.NotFound) {
		t.Errorf("save before the card exists: %v", err)
	}
	if _, err := e.cards.TurnOn(ctx, e.me, audit.ChannelWeb, e.pid); err != nil {
		t.Fatal(err)
	}
	if err := e.cards.Save(ctx, e.me, audit.ChannelWeb, e.pid, []profile.Section{profile.SectionHistory}, nil); !errs.Is(err, errs.Invalid) {
		t.Errorf("a section the card has not: %v", err)
	}
	if err := e.cards.Save(ctx, e.me, audit.ChannelWeb, e.pid, nil, map[string]emergency.Choice{"x": "maybe"}); !errs.Is(err, errs.Invalid) {
		t.Errorf("a choice that is none: %v", err)
	}
	c, ok, err := e.cards.Get(ctx, e.me, e.pid)
	if err != nil || !ok || !slices.Equal(c.Sections, emergency.Sections()) {
		t.Errorf("a refused save changed the card: %+v %v %v", c, ok, err)
	}
	other := recordtest.Holder(e.pid + 1).Actor
	if _, err := e.cards.TurnOn(ctx, other, audit.ChannelWeb, e.pid); !errs.Is(err, errs.Forbidden) {
		t.Errorf("someone else turns the card on: %v", err)
	}
	doctor := recordtest.Doctor(recordtest.RPPS(t, 81)).Actor
	if err := e.cards.TurnOff(ctx, doctor, audit.ChannelWeb, e.pid); !errs.Is(err, errs.Forbidden) {
		t.Errorf("a professional turns the card off: %v", err)
	}
}

// TestRenewOffOn: renewing kills the old link at once; a card turned off answers 404, and its
// link works again when it is turned back on; every scan of a known card is traced, without
// the token, with the scanner's network only.
func TestRenewOffOn(t *testing.T) {
	e := newEnv(t)
	e.add(t, profile.Item{Section: profile.SectionBloodGroup, BloodGroup: &profile.BloodGroup{ABO: "AB", Rh: "+"}}, false)
	old, err := e.cards.TurnOn(ctx, e.me, audit.ChannelWeb, e.pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != emergency.TokenLen {
		t.Fatalf("token %q", old)
	}
	if _, err := e.read(old); err != nil {
		t.Fatal(err)
	}
	if _, err := e.read(strings.ToUpper(old)); err != nil {
		t.Errorf("a QR reader's upper case: %v", err)
	}
	fresh, err := e.cards.Renew(ctx, e.me, audit.ChannelWeb, e.pid)
	if err != nil || fresh == old {
		t.Fatalf("renew: %q %v", fresh, err)
	}
	if _, err := e.read(old); !errs.Is(err, errs.NotFound) {
		t.Errorf("old link after renewal: %v", err)
	}
	if v, err := e.read(fresh); err != nil || len(v.Sections) == 0 {
		t.Errorf("new link: %+v %v", v, err)
	}
	if err := e.cards.TurnOff(ctx, e.me, audit.ChannelWeb, e.pid); err != nil {
		t.Fatal(err)
	}
	_, offErr := e.read(fresh)
	_, neverErr := e.read(strings.Repeat("b", emergency.TokenLen))
	_, badErr := e.read("../../etc")
	for name, err := range map[string]error{"off": offErr, "never issued": neverErr, "malformed": badErr} {
		if !errs.Is(err, errs.NotFound) || err.Error() != neverErr.Error() {
			t.Errorf("%s: %v, want the same NotFound as a never-issued token (%v)", name, err, neverErr)
		}
	}
	if again, err := e.cards.TurnOn(ctx, e.me, audit.ChannelWeb, e.pid); err != nil || again != "" {
		t.Fatalf("turn on again: %q %v", again, err)
	}
	if _, err := e.read(fresh); err != nil {
		t.Errorf("link after turning the card on again: %v", err)
	}

	var reads []string
	rows, err := e.DB.SQL().Query(`SELECT actor_kind, actor_id, actor_name, action, outcome, reason, object, detail FROM traces WHERE patient_id = $1 ORDER BY id`, e.pid)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var f [8]string
		if err := rows.Scan(&f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7]); err != nil {
			t.Fatal(err)
		}
		line := strings.Join(f[:], " ")
		for _, tok := range []string{old, fresh, strings.ToUpper(old)} {
			if strings.Contains(strings.ToLower(line), strings.ToLower(tok)) {
				t.Errorf("a trace holds a token: %s", line)
			}
		}
		if f[3] == string(access.ActionReadEmergencyCard) {
			reads = append(reads, f[0]+" "+f[1]+" "+f[4]+" "+string(access.ReasonOf(f[5])))
		}
	}
	want := []string{
		"public 203.0.113.0/24 allowed emergency_card",    // old
		"public 203.0.113.0/24 allowed emergency_card",    // old, upper case
		"public 203.0.113.0/24 allowed emergency_card",    // fresh
		"public 203.0.113.0/24 denied emergency_card_off", // fresh, card off
		"public 203.0.113.0/24 allowed emergency_card",    // fresh, on again
	}
	if !slices.Equal(reads, want) {
		t.Errorf("scan traces:\n%s\nwant\n%s", strings.Join(reads, "\n"), strings.Join(want, "\n"))
	}
	tr := strings.Join(e.Traces(t, e.pid), "\n")
	for _, a := range []string{"emergency_card.on allowed", "emergency_card.renew allowed", "emergency_card.off allowed"} {
		if !strings.Contains(tr, a) {
			t.Errorf("no %q trace in\n%s", a, tr)
		}
	}
}

// TestNoticeOnceADay: the patient is told their card was read once a day however many scans,
// and again the next day, even after the first notice left the outbox.
func TestNoticeOnceADay(t *testing.T) {
	e := newEnv(t)
	token, err := e.cards.TurnOn(ctx, e.me, audit.ChannelWeb, e.pid)
	if err != nil {
		t.Fatal(err)
	}
	notices := func() []string {
		rows, err := e.DB.SQL().Query(`SELECT notice_key FROM notice_outbox WHERE patient_id = $1 ORDER BY notice_key`, e.pid)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(k, emergency.NoticeKeyPrefix) {
				out = append(out, k)
			}
		}
		return out
	}
	day := e.Clock.Now().UTC().Format("20060102")
	for range 3 {
		if _, err := e.read(token); err != nil {
			t.Fatal(err)
		}
	}
	if got := notices(); !slices.Equal(got, []string{emergency.NoticeKeyPrefix + day}) {
		t.Fatalf("notices after 3 scans: %q", got)
	}
	n, err := jobs.FlushNotices(ctx, e.DB, e.Clock.Now())
	if err != nil || n != 1 {
		t.Fatalf("flush: %d %v", n, err)
	}
	if q := strings.ReplaceAll(strings.Join(e.QueuedJobs(t), "\n"), " ", ""); !strings.Contains(q, `"notice":"emergency_card"`) {
		t.Errorf("no emergency_card notice job in\n%s", q)
	}
	if _, err := e.read(token); err != nil {
		t.Fatal(err)
	}
	if got := notices(); len(got) != 0 {
		t.Errorf("a second notice the same day: %q", got)
	}
	e.Clock.Advance(24 * time.Hour)
	if _, err := e.read(token); err != nil {
		t.Fatal(err)
	}
	if got := notices(); !slices.Equal(got, []string{emergency.NoticeKeyPrefix + e.Clock.Now().UTC().Format("20060102")}) {
		t.Errorf("notices the next day: %q", got)
	}
	// A refused scan (card off) tells nothing.
	if err := e.cards.TurnOff(ctx, e.me, audit.ChannelWeb, e.pid); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(24 * time.Hour)
	_, _ = e.read(token)
	if got := notices(); len(got) != 1 {
		t.Errorf("a refused scan queued a notice: %q", got)
	}
}

func TestPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.77:51234":         "203.0.113.0/24",
		"203.0.113.77":               "203.0.113.0/24",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.9]:80":      "192.0.2.0/24",
		"[fe80::1%eth0]:80":          "fe80::/64",
		"not an address":             "unknown",
		"":                           "unknown",
	} {
		if got := emergency.Prefix(in); got != want {
			t.Errorf("Prefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseToken(t *testing.T) {
	good := "abcdefghijklmnopqrstuvwxyz234567"
	for in, ok := range map[string]bool{
		good:                  true,
		strings.ToUpper(good): true,
		good[:31]:             false,
		good + "a":            false,
		good[:31] + "1":       false,
		good[:31] + "=":       false,
		good[:31] + "/":       false,
		"":                    false,
	} {
		got, gotOK := emergency.ParseToken(in)
		if gotOK != ok || ok && got != good {
			t.Errorf("ParseToken(%q) = %q %v", in, got, gotOK)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	for _, s := range []string{"abcdefghijklmnopqrstuvwxyz234567", "", "é", strings.Repeat("A", 32), strings.Repeat("1", 32), "%2e%2e/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, ok := emergency.ParseToken(s)
		if !ok {
			if tok != "" {
				t.Fatalf("refused %q but returned %q", s, tok)
			}
			return
		}
		if len(tok) != emergency.TokenLen || !strings.EqualFold(tok, s) || strings.ToLower(tok) != tok {
			t.Fatalf("ParseToken(%q) = %q", s, tok)
		}
		for _, c := range tok {
			if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
				t.Fatalf("ParseToken(%q) = %q holds %q", s, tok, c)
			}
		}
		if again, ok := emergency.ParseToken(tok); !ok || again != tok {
			t.Fatalf("a parsed token does not parse back: %q", tok)
		}
	})
}
