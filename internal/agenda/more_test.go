package agenda_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
)

func TestPersonalEvents(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	me := holder(e.pid)
	at := time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC)
	ev, err := e.agenda.AddPersonal(ctx, me, e.pid, agenda.Personal{Title: " Kiné ", Start: at, End: at.Add(time.Hour),
		Place: "Cabinet, Lyon", Note: "apporter l'ordonnance"})
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID == 0 || ev.Title != "Kiné" || ev.Kind != agenda.KindPersonal || ev.Detail != "Cabinet, Lyon · apporter l'ordonnance" {
		t.Fatalf("added: %+v", ev)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.deposit allowed self") {
		t.Fatalf("the addition's trace: %s", tr)
	}
	got, err := e.agenda.Personal(ctx, me, e.pid, ev.ID)
	p, ok := agenda.PersonalOf(&got)
	if err != nil || !ok || p.Place != "Cabinet, Lyon" || p.Note != "apporter l'ordonnance" || p.AllDay || !p.Start.Equal(at) {
		t.Fatalf("read back: %+v %v", p, err)
	}

	// Edited into an all-day event of two days.
	if _, err := e.agenda.EditPersonal(ctx, me, e.pid, ev.ID, agenda.Personal{Title: "Cure", Start: day(10).Add(15 * time.Hour),
		End: day(11), AllDay: true}); err != nil {
		t.Fatal(err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.replace allowed self") {
		t.Fatalf("the edit's trace: %s", tr)
	}
	list, err := e.agenda.List(ctx, me, e.pid, time.Time{}, time.Time{})
	if err != nil || len(list) != 1 || list[0].Title != "Cure" || !list[0].Start.Equal(day(10)) || !list[0].AllDay() {
		t.Fatalf("after the edit: %+v %v", list, err)
	}

	// Bad input changes nothing.
	for name, bad := range map[string]agenda.Personal{
		"no title":       {Start: at},
		"no start":       {Title: "x"},
		"end before":     {Title: "x", Start: at, End: at.Add(-time.Minute)},
		"too long":       {Title: strings.Repeat("é", 200), Start: at},
		"a year long":    {Title: "x", Start: at, End: at.AddDate(1, 1, 0)},
		"invalid UTF-8":  {Title: "x\xff", Start: at},
		"a note too big": {Title: "x", Start: at, Note: strings.Repeat("a", 2001)},
	} {
		if _, err := e.agenda.EditPersonal(ctx, me, e.pid, ev.ID, bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := e.agenda.AddPersonal(ctx, me, e.pid, bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s (add): %v", name, err)
		}
	}
	if list, _ := e.agenda.List(ctx, me, e.pid, time.Time{}, time.Time{}); len(list) != 1 || list[0].Title != "Cure" {
		t.Fatalf("bad input changed the agenda: %+v", list)
	}

	// Nobody else writes the patient's personal events; the insurer's events are not theirs.
	doctor := pro(recordtest.RPPS(t, 1), "G15_10")
	if _, err := e.agenda.AddPersonal(ctx, doctor, e.pid, agenda.Personal{Title: "x", Start: at}); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a doctor writes a personal event: %v", err)
	}
	other := holder(e.pid + 1000)
	if err := e.agenda.DeletePersonal(ctx, other, e.pid, ev.ID); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("another patient deletes: %v", err)
	}
	if _, err := e.agenda.Add(ctx, insurer, e.pid, batch(reimbursement("R", day(2), time.Time{}, ""))); err != nil {
		t.Fatal(err)
	}
	list, _ = e.agenda.List(ctx, me, e.pid, time.Time{}, time.Time{})
	if err := e.agenda.DeletePersonal(ctx, me, e.pid, list[0].ID); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("the patient deletes a reimbursement: %v", err)
	}
	if err := e.agenda.DeletePersonal(ctx, me, e.pid, ev.ID+999); !errs.Is(err, errs.NotFound) {
		t.Fatalf("deleting an unknown event: %v", err)
	}
	if err := e.agenda.DeletePersonal(ctx, me, e.pid, ev.ID); err != nil {
		t.Fatal(err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.delete allowed self") {
		t.Fatalf("the deletion's trace: %s", tr)
	}
	if list, _ := e.agenda.List(ctx, me, e.pid, time.Time{}, time.Time{}); len(list) != 1 || list[0].Kind != agenda.KindReimbursement {
		t.Fatalf("after the deletion: %+v", list)
	}
}

func TestAppointments(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	idnat := recordtest.RPPS(t, 1)
	doctor := pro(idnat, "G15_10")
	start := time.Date(2026, 4, 2, 8, 0, 0, 0, time.UTC)
	a := agenda.Appointment{Status: agenda.StatusBooked, Start: start, End: start.Add(30 * time.Minute),
		ServiceDisplay: "Consultation de cardiologie", PractitionerName: "Dr MARTIN", RPPS: "10001234567", Location: "Hôpital Nord"}

	// An operator deposits no appointment: the refusal is traced.
	if _, _, err := e.agenda.FileAppointment(ctx, insurer, e.pid, a); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("the operator: %v", err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.deposit denied") {
		t.Fatalf("the refusal's trace: %s", tr)
	}
	h := recordtest.Holder(e.pid)
	if _, err := e.Access.GrantAuthorisation(ctx, h.Actor, h.Channel, e.pid, idnat, 0); err != nil {
		t.Fatal(err)
	}
	got, created, err := e.agenda.FileAppointment(ctx, doctor, e.pid, a)
	if err != nil || !created || got.ID == "" || got.Version != 1 || got.PatientID != e.pid {
		t.Fatalf("create: %+v %v %v", got, created, err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.deposit allowed authorisation") || !strings.Contains(tr, "appointment/"+got.ID) {
		t.Fatalf("the creation's trace: %s", tr)
	}
	// Cancelled by its software: the same event, a new version.
	a.ID, a.Status = got.ID, agenda.StatusCancelled
	upd, created, err := e.agenda.FileAppointment(ctx, doctor, e.pid, a)
	if err != nil || created || upd.Version != 2 || upd.Status != agenda.StatusCancelled {
		t.Fatalf("update: %+v %v %v", upd, created, err)
	}
	evs, err := e.agenda.List(ctx, holder(e.pid), e.pid, time.Time{}, time.Time{})
	if err != nil || len(evs) != 1 || evs[0].Title != "Rendez-vous annulé : Consultation de cardiologie — Dr MARTIN" ||
		evs[0].Detail != "Hôpital Nord" || !evs[0].Start.Equal(start) {
		t.Fatalf("the patient's agenda: %+v %v", evs, err)
	}
	// An update for another patient, or of an unknown id, finds nothing.
	other := recordtest.TestINS(t, 3)
	opid := e.Patient(t, other)
	if _, _, err := e.agenda.FileAppointment(ctx, doctor, opid, a); !errs.Is(err, errs.NotFound) && !errs.Is(err, errs.Forbidden) {
		t.Fatalf("an update naming another patient: %v", err)
	}
	a.ID = "nope"
	if _, _, err := e.agenda.FileAppointment(ctx, doctor, e.pid, a); !errs.Is(err, errs.NotFound) {
		t.Fatalf("an unknown id: %v", err)
	}
	// Read, decided and traced.
	read, err := e.agenda.Appointment(ctx, doctor, got.ID)
	if err != nil || read.Status != agenda.StatusCancelled || read.RPPS != "10001234567" {
		t.Fatalf("read: %+v %v", read, err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.read allowed author ") {
		t.Fatalf("the read's trace: %s", tr)
	}
	if _, err := e.agenda.Appointment(ctx, pro(recordtest.RPPS(t, 2), "G15_10"), got.ID); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a stranger reads: %v", err)
	}
	// A reimbursement the same day is no appointment: neither returned nor traced as shown.
	if _, err := e.agenda.Add(ctx, insurer, e.pid, batch(reimbursement("same-day", start, time.Time{}, ""))); err != nil {
		t.Fatal(err)
	}
	list, err := e.agenda.Appointments(ctx, doctor, e.pid, start.Add(-time.Hour), start.Add(time.Hour))
	if err != nil || len(list) != 1 || list[0].ID != got.ID {
		t.Fatalf("search: %+v %v", list, err)
	}
	if tr := e.lastTrace(t); !strings.HasSuffix(tr, fmt.Sprintf(" agenda shown=1 event/%d", evs[0].ID)) {
		t.Fatalf("the search's trace: %s", tr)
	}
	// An appointment that started before the period is not in it.
	if list, err := e.agenda.Appointments(ctx, doctor, e.pid, start.Add(time.Minute), start.Add(time.Hour)); err != nil || len(list) != 0 {
		t.Fatalf("after its start: %+v %v", list, err)
	}
	// Bad input.
	for name, bad := range map[string]agenda.Appointment{
		"status":   {Status: "arrived", Start: start, Description: "x"},
		"no start": {Status: "booked", Description: "x"},
		"no what":  {Status: "booked", Start: start},
		"end":      {Status: "booked", Start: start, End: start.Add(-time.Hour), Description: "x"},
	} {
		if _, _, err := e.agenda.FileAppointment(ctx, doctor, e.pid, bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCalendar(t *testing.T) {
	if len(agenda.Calendar) < 20 {
		t.Fatalf("the calendar has %d rules", len(agenda.Calendar))
	}
	birth := time.Date(1976, 5, 20, 0, 0, 0, 0, time.UTC) // 50 on 2026-05-20
	ids := func(evs []agenda.Event) string {
		var s []string
		for _, e := range evs {
			s = append(s, e.SourceRef)
		}
		return strings.Join(s, ",")
	}
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := ids(agenda.Reminders(agenda.Calendar, birth, space.Female, from, to)); got !=
		"col-hpv/2026-05-20,sein/2026-05-20,colorectal/2026-05-20,sein/2028-05-20,colorectal/2028-05-20" {
		t.Fatalf("a woman of 50: %s", got)
	}
	if got := ids(agenda.Reminders(agenda.Calendar, birth, space.Male, from, to)); got != "colorectal/2026-05-20,colorectal/2028-05-20" {
		t.Fatalf("a man of 50: %s", got)
	}
	// 65: the boosters, the shingles and pneumococcus vaccines, and the autumn campaigns.
	old := time.Date(1961, 11, 2, 0, 0, 0, 0, time.UTC)
	got := ids(agenda.Reminders(agenda.Calendar, old, space.Male, from, time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)))
	if !strings.Contains(got, "dtp-65/2026-11-02") || !strings.Contains(got, "zona-65/2026-11-02") ||
		!strings.Contains(got, "pneumo-65/2026-11-02") || !strings.Contains(got, "covid-65/2027-10-15") || !strings.Contains(got, "grippe-65/2027-10-15") ||
		strings.Contains(got, "grippe-65/2026") || !strings.Contains(got, "colorectal/2027-11-02") {
		t.Fatalf("a man of 65: %s", got)
	}
	// Every ten years after 65.
	if got := ids(agenda.Reminders(agenda.Calendar[13:14], old, space.Male, time.Time{}, time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC))); got !=
		"dtp-65/2026-11-02,dtp-65/2036-11-02,dtp-65/2046-11-02" {
		t.Fatalf("the boosters after 65: %s", got)
	}
	for _, bad := range []string{"x\tvaccination\t*\t1\t2\t0\t0\tA\tB", "x\tother\t*\t1\t1\t0\t0\tA\tB", "x\tscreening\tZ\t1\t1\t0\t0\tA\tB",
		"x\tscreening\t*\t1\t1\t0\t13\tA\tB", "x\tscreening\t*\t1\t1\t0\t0\t\tB", "x\tscreening\t*\t-1\t1\t0\t0\tA\tB", "x\tscreening"} {
		if _, err := agenda.ParseCalendar([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestTimelineAddsRemindersForThePatientOnly(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// The test patient's birth date and sex decide the reminders; look them up.
	var p space.Patient
	if err := e.DB.View(ctx, func(tx *store.Tx) error { var err error; p, err = tx.Patient(ctx, e.pid); return err }); err != nil {
		t.Fatal(err)
	}
	now := e.Clock.Now()
	from, to := now.AddDate(-60, 0, 0), now.AddDate(60, 0, 0)
	want := agenda.Reminders(agenda.Calendar, p.BirthDate, p.Sex, from, to)
	if len(want) == 0 {
		t.Fatal("no reminder over 120 years")
	}
	got, err := e.agenda.Timeline(ctx, holder(e.pid), e.pid, from, to)
	if err != nil || len(got) != len(want) {
		t.Fatalf("the patient's timeline: %d events, want %d (%v)", len(got), len(want), err)
	}
	idnat := recordtest.RPPS(t, 1)
	h := recordtest.Holder(e.pid)
	if _, err := e.Access.GrantAuthorisation(ctx, h.Actor, h.Channel, e.pid, idnat, 0); err != nil {
		t.Fatal(err)
	}
	if got, err := e.agenda.Timeline(ctx, pro(idnat, "G15_10"), e.pid, from, to); err != nil || len(got) != 0 {
		t.Fatalf("a doctor's timeline: %d %v", len(got), err)
	}
}

func TestFeed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	me := holder(e.pid)
	st, err := e.agenda.Settings(ctx, me, e.pid)
	if err != nil || st.Feed || !st.RemindEmail {
		t.Fatalf("defaults: %+v %v", st, err)
	}
	token, err := e.agenda.NewFeed(ctx, me, e.pid, agenda.FeedOptions{})
	if err != nil || !agenda.ValidFeedToken(token) || len(token) < 22 {
		t.Fatalf("new feed: %q %v", token, err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "access.manage allowed self") && !strings.Contains(tr, "allowed") {
		t.Fatalf("the feed's creation trace: %s", tr)
	}
	// The store keeps only the hash.
	var n int
	if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM agenda_settings WHERE feed_hash = $1`, agenda.HashFeedToken(token)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("hash stored: %d %v", n, err)
	}
	if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM agenda_settings WHERE feed_hash = $1`, token).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the secret is stored: %d %v", n, err)
	}
	now := e.Clock.Now()
	if _, err := e.agenda.AddPersonal(ctx, me, e.pid, agenda.Personal{Title: "Dentiste; contrôle, annuel", Start: now.Add(48 * time.Hour),
		Place: "Rue de la Paix"}); err != nil {
		t.Fatal(err)
	}
	f, err := e.agenda.FeedEvents(ctx, token)
	if err != nil || f.PatientID != e.pid || f.Details {
		t.Fatalf("fetch: %+v %v", f, err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "record.search allowed self") {
		t.Fatalf("the fetch's trace: %s", tr)
	}
	ics := agenda.ICS(f, now)
	cal := checkICS(t, ics)
	if strings.Contains(string(ics), "Dentiste") || !strings.Contains(string(ics), "SUMMARY:Événement personnel") {
		t.Fatalf("a minimal feed shows the title:\n%s", ics)
	}
	if cal.events < 1 {
		t.Fatalf("no event in the feed")
	}
	// Renewed with details: the old secret is dead, the new one shows titles, escaped.
	token2, err := e.agenda.NewFeed(ctx, me, e.pid, agenda.FeedOptions{Details: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.agenda.FeedEvents(ctx, token); !errs.Is(err, errs.NotFound) {
		t.Fatalf("the old secret: %v", err)
	}
	f, err = e.agenda.FeedEvents(ctx, token2)
	if err != nil || !f.Details {
		t.Fatal(err)
	}
	ics = agenda.ICS(f, now)
	checkICS(t, ics)
	if !strings.Contains(string(ics), `SUMMARY:Dentiste\; contrôle\, annuel`) || !strings.Contains(string(ics), "LOCATION:Rue de la Paix") {
		t.Fatalf("a detailed feed:\n%s", ics)
	}
	if err := e.agenda.RevokeFeed(ctx, me, e.pid); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{token2, "", "short", strings.Repeat("A", 43), token2 + "x"} {
		if _, err := e.agenda.FeedEvents(ctx, tok); !errs.Is(err, errs.NotFound) {
			t.Fatalf("fetch of %q: %v", tok, err)
		}
	}
	if _, err := e.agenda.NewFeed(ctx, pro(recordtest.RPPS(t, 1), "G15_10"), e.pid, agenda.FeedOptions{}); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a doctor makes a feed: %v", err)
	}
	if err := e.agenda.SetReminders(ctx, me, e.pid, false); err != nil {
		t.Fatal(err)
	}
	if st, err := e.agenda.Settings(ctx, me, e.pid); err != nil || st.Feed || st.RemindEmail {
		t.Fatalf("after revoking and opting out: %+v %v", st, err)
	}
}

func TestICSFoldsAndEscapes(t *testing.T) {
	long := strings.Repeat("é", 100) + ", ; \\ \n fin"
	f := agenda.Feed{PatientID: 1, Details: true, Events: []agenda.Event{
		{Kind: agenda.KindReimbursement, Source: "s", SourceRef: "1", Start: day(3), End: day(5), Title: long, Detail: "détail"},
		{Kind: agenda.KindPersonal, Source: "s", SourceRef: "2", Start: day(3).Add(9 * time.Hour), End: day(3).Add(10 * time.Hour), Title: "x"},
	}}
	ics := agenda.ICS(f, day(1))
	cal := checkICS(t, ics)
	if cal.events != 2 {
		t.Fatalf("%d events", cal.events)
	}
	if got := cal.props[0]["SUMMARY"]; got != agenda.EscapeText(long) {
		t.Fatalf("summary unfolded: %q", got)
	}
	if cal.props[0]["DTSTART;VALUE=DATE"] != "20260203" || cal.props[0]["DTEND;VALUE=DATE"] != "20260206" {
		t.Fatalf("all-day dates: %v", cal.props[0])
	}
	if cal.props[1]["DTSTART"] != "20260203T090000Z" || cal.props[1]["DTEND"] != "20260203T100000Z" {
		t.Fatalf("times: %v", cal.props[1])
	}
}

// icsCalendar is what checkICS read.
type icsCalendar struct {
	events int
	props  []map[string]string
}

// checkICS is an independent RFC 5545 reader for the tests: every line ends in CRLF, no line
// is longer than 75 octets, folds are undone, components nest, each VEVENT has UID, DTSTAMP,
// DTSTART and SUMMARY once, dates and date-times have their forms, and TEXT escapes are legal.
func checkICS(t *testing.T, b []byte) icsCalendar {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Fatal("ics: does not end in CRLF")
	}
	raw := strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n")
	var lines []string
	for i, l := range raw {
		if strings.ContainsAny(l, "\r\n") {
			t.Fatalf("ics line %d: a bare CR or LF", i+1)
		}
		if len(l) > 75 {
			t.Fatalf("ics line %d: %d octets", i+1, len(l))
		}
		if !utf8.ValidString(l) {
			t.Fatalf("ics line %d: a fold splits a UTF-8 sequence", i+1)
		}
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			if len(lines) == 0 {
				t.Fatal("ics: starts with a continuation")
			}
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	var (
		cal   icsCalendar
		stack []string
		cur   map[string]string
	)
	for _, l := range lines {
		name, value, ok := strings.Cut(l, ":")
		if !ok || name == "" {
			t.Fatalf("ics: %q is not a content line", l)
		}
		switch name {
		case "BEGIN":
			stack = append(stack, value)
			if value == "VEVENT" {
				cur = map[string]string{}
			}
			continue
		case "END":
			if len(stack) == 0 || stack[len(stack)-1] != value {
				t.Fatalf("ics: END:%s does not close %v", value, stack)
			}
			stack = stack[:len(stack)-1]
			if value == "VEVENT" {
				for _, req := range []string{"UID", "DTSTAMP", "SUMMARY"} {
					if cur[req] == "" {
						t.Fatalf("ics: a VEVENT without %s: %v", req, cur)
					}
				}
				if cur["DTSTART"] == "" && cur["DTSTART;VALUE=DATE"] == "" {
					t.Fatalf("ics: a VEVENT without DTSTART: %v", cur)
				}
				cal.events++
				cal.props = append(cal.props, cur)
				cur = nil
			}
			continue
		}
		if len(stack) == 0 {
			t.Fatalf("ics: %q outside VCALENDAR", l)
		}
		if cur != nil {
			if _, dup := cur[name]; dup {
				t.Fatalf("ics: %s twice in a VEVENT", name)
			}
			cur[name] = value
			switch name {
			case "DTSTAMP", "DTSTART", "DTEND":
				if _, err := time.Parse("20060102T150405Z", value); err != nil {
					t.Fatalf("ics: %s:%s", name, value)
				}
			case "DTSTART;VALUE=DATE", "DTEND;VALUE=DATE":
				if _, err := time.Parse("20060102", value); err != nil {
					t.Fatalf("ics: %s:%s", name, value)
				}
			case "SUMMARY", "DESCRIPTION", "LOCATION":
				for i := 0; i < len(value); i++ {
					switch value[i] {
					case '\\':
						if i+1 >= len(value) || !strings.ContainsRune(`\;,nN`, rune(value[i+1])) {
							t.Fatalf("ics: bad escape in %q", value)
						}
						i++
					case ';', ',':
						t.Fatalf("ics: unescaped %c in %q", value[i], value)
					}
				}
			}
		}
	}
	if len(stack) != 0 || lines[0] != "BEGIN:VCALENDAR" {
		t.Fatalf("ics: unclosed %v", stack)
	}
	return cal
}

// Whatever an event says, its feed is valid iCalendar: folded, escaped, CRLF.
func FuzzICS(f *testing.F) {
	f.Add("Dentiste; contrôle, annuel", "Rue \\ de la Paix\nBât. B", int64(0), int64(3600), true)
	f.Add(strings.Repeat("é", 80), "", int64(86400), int64(0), false)
	f.Fuzz(func(t *testing.T, title, place string, start, length int64, details bool) {
		if !utf8.ValidString(title) || !utf8.ValidString(place) || strings.TrimSpace(title) == "" {
			return
		}
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(start%(1<<40)) * time.Second)
		e := agenda.Event{Kind: agenda.KindPersonal, Source: "s", SourceRef: "1", Start: at, Title: title, Detail: place,
			Payload: []byte(`{}`)}
		if length > 0 {
			e.End = at.Add(time.Duration(length%(1<<30)) * time.Second)
		}
		cal := checkICS(t, agenda.ICS(agenda.Feed{PatientID: 1, Details: details, Events: []agenda.Event{e}}, at))
		if cal.events != 1 {
			t.Fatalf("%d events", cal.events)
		}
		if want := agenda.EscapeText(title); details && strings.TrimSpace(want) != "" && cal.props[0]["SUMMARY"] != want {
			t.Fatalf("summary %q, want %q", cal.props[0]["SUMMARY"], agenda.EscapeText(title))
		}
	})
}

// BenchmarkReminders measures what computing a person's reminders for a year costs, the
// figure behind computing them when read rather than storing them for 66 million people.
func BenchmarkReminders(b *testing.B) {
	birth := time.Date(1961, 11, 2, 0, 0, 0, 0, time.UTC)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		agenda.Reminders(agenda.Calendar, birth, space.Female, from, from.AddDate(1, 0, 0))
	}
}
