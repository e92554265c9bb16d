package space

import (
	"testing"
	"time"
)

func TestAddCalendarNeverLate(t *testing.T) {
	cases := []struct {
		from          string
		years, months int
		want          string
	}{
		{"2026-11-30", 0, 3, "2027-02-28"},
		{"2027-11-30", 0, 3, "2028-02-29"},
		{"2026-01-31", 0, 1, "2026-02-28"},
		{"2026-03-15", 0, 3, "2026-06-15"},
		{"2028-02-29", 10, 0, "2038-02-28"},
		{"2026-10-31", 0, 3, "2027-01-31"},
	}
	for _, c := range cases {
		from, _ := time.Parse(DateLayout, c.from)
		if got := addCalendar(from.Add(9*time.Hour), c.years, c.months).Format(DateLayout); got != c.want {
			t.Errorf("%s + %dy%dm = %s, want %s", c.from, c.years, c.months, got, c.want)
		}
	}
}

// Transitions that the rules forbid are refused and change nothing.
func TestTransitionsTable(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := DefaultPolicy()
	pending := New(1, now, p)
	open, _ := pending.Activate(now)
	closed, _ := open.Close(now, false, p)
	opposed, _ := pending.Oppose(now)
	purged, _ := closed.PurgeIfDue(now.AddDate(10, 0, 0))
	type step func(Space) (Space, error)
	steps := map[string]step{
		"activate": func(s Space) (Space, error) { return s.Activate(now) },
		"oppose":   func(s Space) (Space, error) { return s.Oppose(now) },
		"close":    func(s Space) (Space, error) { return s.Close(now, false, p) },
		"delete":   func(s Space) (Space, error) { return s.RequestDeletion(now, p) },
		"reopen":   func(s Space) (Space, error) { return s.Reopen(now) },
	}
	allowed := map[State][]string{
		Pending: {"activate", "oppose"},
		Open:    {"close"}, // activate too, once, when opened automatically (open here is activated)
		Opposed: {"activate"},
		Closed:  {"delete", "reopen"},
		Purged:  {},
	}
	for _, s := range []Space{pending, open, opposed, closed, purged} {
		for name, do := range steps {
			want := false
			for _, a := range allowed[s.State] {
				want = want || a == name
			}
			next, err := do(s)
			if (err == nil) != want {
				t.Errorf("%s on a %s space: err = %v, want allowed = %v", name, s.State, err, want)
			}
			if err != nil && next != s {
				t.Errorf("refused %s on a %s space changed it", name, s.State)
			}
		}
	}
}
