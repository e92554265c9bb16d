package agenda_test

import (
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/errs"
)

// ics joins content lines with CRLF into an iCalendar object.
func ics(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

// invitation is a hospital's convocation as Outlook-like software writes it: folded lines,
// escapes, a quoted CN with a comma, a TZID, a VALARM and a VTIMEZONE to skip.
var invitation = ics(
	"BEGIN:VCALENDAR",
	"PRODID:-//Hopital//Convocations//FR",
	"VERSION:2.0",
	"METHOD:REQUEST",
	"BEGIN:VTIMEZONE",
	"TZID:Europe/Paris",
	"BEGIN:STANDARD",
	"DTSTART:19701025T030000",
	"TZOFFSETFROM:+0200",
	"TZOFFSETTO:+0100",
	"END:STANDARD",
	"END:VTIMEZONE",
	"BEGIN:VEVENT",
	"UID:conv-2026-0042@chu.example",
	"SEQUENCE:0",
	"DTSTAMP:20260301T101500Z",
	"DTSTART;TZID=Europe/Paris:20260410T093000",
	"DTEND;TZID=\"Europe/Paris\":20260410T101500",
	"SUMMARY:Consultation de cardiologie\\, bilan",
	"LOCATION:CHU\\, bâtiment B\\; 2e étage",
	"DESCRIPTION:Venir à jeun.\\nApporter l'ordonnance et les ré",
	" sultats.",
	"ORGANIZER;CN=\"Dr Martin, cardiologie\":mailto:Secretariat.Cardio@chu.example",
	"BEGIN:VALARM",
	"TRIGGER:-PT1H",
	"ACTION:DISPLAY",
	"DESCRIPTION:Rappel",
	"END:VALARM",
	"END:VEVENT",
	"END:VCALENDAR")

func TestParseICalendarInvitation(t *testing.T) {
	cal, err := agenda.ParseICalendar([]byte(invitation))
	if err != nil {
		t.Fatal(err)
	}
	if cal.Method != "REQUEST" || len(cal.Events) != 1 {
		t.Fatalf("calendar: %+v", cal)
	}
	ev := cal.Events[0]
	paris, _ := time.LoadLocation("Europe/Paris")
	want := agenda.ICalEvent{UID: "conv-2026-0042@chu.example", Stamp: time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC),
		Start: time.Date(2026, 4, 10, 9, 30, 0, 0, paris).UTC(), End: time.Date(2026, 4, 10, 10, 15, 0, 0, paris).UTC(),
		Summary: "Consultation de cardiologie, bilan", Location: "CHU, bâtiment B; 2e étage",
		Description: "Venir à jeun.\nApporter l'ordonnance et les résultats.",
		Organizer:   "secretariat.cardio@chu.example", OrganizerName: "Dr Martin, cardiologie"}
	if ev != want {
		t.Fatalf("event:\n%+v\nwant\n%+v", ev, want)
	}
	if ev.Start.Hour() != 7 { // 09:30 in Paris in April is 07:30 UTC (summer time)
		t.Fatalf("start in UTC: %v", ev.Start)
	}
}

func TestParseICalendarForms(t *testing.T) {
	head := []string{"BEGIN:VCALENDAR", "VERSION:2.0"}
	event := func(props ...string) string {
		lines := append(append([]string{}, head...), "BEGIN:VEVENT", "UID:u1", "DTSTAMP:20260301T100000Z")
		return ics(append(append(lines, props...), "END:VEVENT", "END:VCALENDAR")...)
	}
	day := func(d int) time.Time { return time.Date(2026, 4, d, 0, 0, 0, 0, time.UTC) }
	for _, tt := range []struct {
		name       string
		in         string
		start, end time.Time
		allDay     bool
	}{
		{"UTC", event("DTSTART:20260410T073000Z", "DURATION:PT45M"), time.Date(2026, 4, 10, 7, 30, 0, 0, time.UTC),
			time.Date(2026, 4, 10, 8, 15, 0, 0, time.UTC), false},
		{"floating, read in Paris", event("DTSTART:20260110T093000"), time.Date(2026, 1, 10, 8, 30, 0, 0, time.UTC), time.Time{}, false},
		{"Windows zone name", event("DTSTART;TZID=Romance Standard Time:20260110T093000"), time.Date(2026, 1, 10, 8, 30, 0, 0, time.UTC),
			time.Time{}, false},
		{"overseas zone", event("DTSTART;TZID=America/Martinique:20260110T093000"), time.Date(2026, 1, 10, 13, 30, 0, 0, time.UTC),
			time.Time{}, false},
		{"one day", event("DTSTART;VALUE=DATE:20260410", "DTEND;VALUE=DATE:20260411"), day(10), time.Time{}, true},
		{"three days", event("DTSTART;VALUE=DATE:20260410", "DTEND;VALUE=DATE:20260413"), day(10), day(12), true},
		{"days by duration", event("DTSTART;VALUE=DATE:20260410", "DURATION:P2D"), day(10), day(11), true},
		{"no start: a cancellation's", event(), time.Time{}, time.Time{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cal, err := agenda.ParseICalendar([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			ev := cal.Events[0]
			if !ev.Start.Equal(tt.start) || !ev.End.Equal(tt.end) || ev.AllDay != tt.allDay || cal.Method != "" {
				t.Fatalf("start %v end %v all-day %v method %q", ev.Start, ev.End, ev.AllDay, cal.Method)
			}
		})
	}

	// LF line ends, lower-case names, a BOM, and a recurrence: read; the recurrence marked.
	lf := "\xef\xbb\xbfbegin:vcalendar\nversion:2.0\nmethod:publish\nbegin:vevent\nuid:x\ndtstamp:20260301T100000Z\n" +
		"dtstart:20260301T100000Z\nrrule:FREQ=WEEKLY;COUNT=3\nsummary:Séance\nend:vevent\nend:vcalendar"
	cal, err := agenda.ParseICalendar([]byte(lf))
	if err != nil || cal.Method != "PUBLISH" || !cal.Events[0].Recurring || cal.Events[0].Summary != "Séance" {
		t.Fatalf("LF object: %+v %v", cal, err)
	}
}

// Every way an object may be wrong is refused whole, with a message that names a line and
// carries none of the content.
func TestParseICalendarRefuses(t *testing.T) {
	ok := []string{"BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "UID:u1", "DTSTAMP:20260301T100000Z",
		"DTSTART:20260410T093000Z", "SUMMARY:secret", "END:VEVENT", "END:VCALENDAR"}
	with := func(i int, repl ...string) string {
		lines := append(append(append([]string{}, ok[:i]...), repl...), ok[i+1:]...)
		return ics(lines...)
	}
	for _, tt := range []struct{ name, in string }{
		{"empty", ""},
		{"not a calendar", "Bonjour\r\n"},
		{"no end", ics(ok[:len(ok)-1]...)},
		{"content after the end", ics(append(append([]string{}, ok...), "BEGIN:VEVENT")...)},
		{"no version", with(1)},
		{"another version", with(1, "VERSION:1.0")},
		{"no UID", with(3)},
		{"no DTSTAMP", with(4)},
		{"UID twice", with(3, "UID:a", "UID:b")},
		{"start twice", with(5, "DTSTART:20260410T093000Z", "DTSTART:20260411T093000Z")},
		{"February 30", with(5, "DTSTART:20260230T093000Z")},
		{"25 o'clock", with(5, "DTSTART:20260410T253000Z")},
		{"a date in year 9999", with(5, "DTSTART:99990410T093000Z")},
		{"Z and TZID", with(5, "DTSTART;TZID=Europe/Paris:20260410T093000Z")},
		{"unknown zone", with(5, "DTSTART;TZID=Mars/Olympus:20260410T093000")},
		{"zone path", with(5, "DTSTART;TZID=../../etc/passwd:20260410T093000")},
		{"ends before it starts", with(5, "DTSTART:20260410T093000Z", "DTEND:20260410T083000Z")},
		{"DTEND and DURATION", with(5, "DTSTART:20260410T093000Z", "DTEND:20260410T103000Z", "DURATION:PT1H")},
		{"date and time mixed", with(5, "DTSTART;VALUE=DATE:20260410", "DTEND:20260411T100000Z")},
		{"negative duration", with(5, "DTSTART:20260410T093000Z", "DURATION:-PT1H")},
		{"bad escape", with(6, `SUMMARY:a\qb`)},
		{"backslash at the end", with(6, `SUMMARY:ab\`)},
		{"control character", with(6, "SUMMARY:a\x01b")},
		{"continuation first", " BEGIN:VCALENDAR\r\n"},
		{"no colon", with(6, "SUMMARY")},
		{"unclosed quote", with(6, `SUMMARY;LANGUAGE="fr:x`)},
		{"quote inside a value", with(6, `SUMMARY;LANGUAGE=f"r:x`)},
		{"parameter twice", with(6, `SUMMARY;LANGUAGE=fr;LANGUAGE=en:x`)},
		{"bad status", with(6, "STATUS:MAYBE")},
		{"bad sequence", with(6, "SEQUENCE:-1")},
		{"END of another component", with(7, "END:VTODO")},
		{"VEVENT in a VEVENT", with(6, "BEGIN:VEVENT")},
		{"stray CR", with(6, "SUMMARY:a\rb")},
		{"not UTF-8", with(6, "SUMMARY:\xff")},
		{"bad name", with(6, "SUM MARY:x")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := agenda.ParseICalendar([]byte(tt.in))
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("want Invalid, got %v", err)
			}
			if strings.Contains(errs.MessageOf(err), "secret") {
				t.Fatalf("the message carries content: %v", err)
			}
		})
	}

	// Bounds: size, nesting, events.
	big := ics("BEGIN:VCALENDAR", "VERSION:2.0", "X-PAD:"+strings.Repeat("a", agenda.MaxICalendarBytes), "END:VCALENDAR")
	deep := ics("BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:A", "BEGIN:B", "BEGIN:C", "BEGIN:D", "END:D", "END:C", "END:B", "END:A", "END:VCALENDAR")
	lines := []string{"BEGIN:VCALENDAR", "VERSION:2.0"}
	for range agenda.MaxICalEvents + 1 {
		lines = append(lines, "BEGIN:VEVENT", "UID:u", "DTSTAMP:20260301T100000Z", "END:VEVENT")
	}
	many := ics(append(lines, "END:VCALENDAR")...)
	for name, in := range map[string]string{"too large": big, "too deep": deep, "too many events": many} {
		if _, err := agenda.ParseICalendar([]byte(in)); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: want Invalid, got %v", name, err)
		}
	}
}

// FuzzParseICalendar: whatever the bytes, the reader returns an object or an Invalid error,
// never panics, and what it returns holds its invariants.
// Local times as RFC 5545 §3.3.5 reads them: the hour repeated when the clocks go back is its
// first occurrence, the hour skipped when they go forward is read with the offset before the
// gap; Windows display names of zones are understood; a RECURRENCE-ID names one instance
// whatever zone it is written in.
func TestParseICalendarZones(t *testing.T) {
	one := func(t *testing.T, props ...string) agenda.ICalEvent {
		t.Helper()
		lines := append([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "UID:u1", "DTSTAMP:20260301T100000Z"}, props...)
		cal, err := agenda.ParseICalendar([]byte(ics(append(lines, "END:VEVENT", "END:VCALENDAR")...)))
		if err != nil {
			t.Fatal(err)
		}
		return cal.Events[0]
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct{ name, prop, want string }{
		{"the repeated hour: its first occurrence", "DTSTART;TZID=Europe/Paris:20261025T023000", "2026-10-25T00:30:00Z"},
		{"the hour before the change", "DTSTART;TZID=Europe/Paris:20261025T013000", "2026-10-24T23:30:00Z"},
		{"the hour after the repeated one", "DTSTART;TZID=Europe/Paris:20261025T033000", "2026-10-25T02:30:00Z"},
		{"a floating time, read in Paris", "DTSTART:20261025T023000", "2026-10-25T00:30:00Z"},
		{"the skipped hour: the offset before the gap", "DTSTART;TZID=Europe/Paris:20260329T023000", "2026-03-29T01:30:00Z"},
		{"Windows' display name", "DTSTART;TZID=\"(UTC+01:00) Brussels, Copenhagen, Madrid, Paris\":20260610T093000", "2026-06-10T07:30:00Z"},
		{"Windows' display name, in French", "DTSTART;TZID=\"(UTC+01:00) Bruxelles, Copenhague, Madrid, Paris\":20260110T093000", "2026-01-10T08:30:00Z"},
		{"Windows' display name, an overseas one", "DTSTART;TZID=\"(UTC-03:00) Cayenne, Fortaleza\":20260610T093000", "2026-06-10T12:30:00Z"},
		{"Windows' standard name", "DTSTART;TZID=Romance Standard Time:20261025T023000", "2026-10-25T00:30:00Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := one(t, tt.prop).Start; !got.Equal(utc(tt.want)) {
				t.Fatalf("%s: %v, want %s", tt.prop, got, tt.want)
			}
		})
	}
	a := one(t, "RECURRENCE-ID;TZID=Europe/Paris:20260417T093000", "DTSTART:20260418T073000Z")
	b := one(t, "RECURRENCE-ID:20260417T073000Z", "DTSTART:20260418T073000Z")
	if a.RecurrenceID != b.RecurrenceID || a.RecurrenceID != "20260417T073000Z" {
		t.Fatalf("one instance, two names: %q %q", a.RecurrenceID, b.RecurrenceID)
	}
	if agenda.InvitationRef(1, "x", &a) != agenda.InvitationRef(1, "x", &b) {
		t.Fatal("one instance, two references")
	}
	if _, err := agenda.ParseICalendar([]byte(ics("BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "UID:u1", "DTSTAMP:20260301T100000Z",
		"DTSTART;TZID=\"(UTC+05:00) Nowhere\":20260610T093000", "END:VEVENT", "END:VCALENDAR"))); !errs.Is(err, errs.Invalid) {
		t.Fatalf("an unknown display name: %v", err)
	}
}

func FuzzParseICalendar(f *testing.F) {
	f.Add([]byte(invitation))
	f.Add([]byte(ics("BEGIN:VCALENDAR", "VERSION:2.0", "METHOD:CANCEL", "BEGIN:VEVENT", "UID:u", "SEQUENCE:2",
		"DTSTAMP:20260301T100000Z", "END:VEVENT", "END:VCALENDAR")))
	f.Add([]byte("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\nDTSTAMP:20260301T100000Z\nDTSTART;VALUE=DATE:20260410\n" +
		"DURATION:P1W\nSUMMARY;LANGUAGE=fr;X-A=\"a^'b^n\",c:t\\,\\;\\n\nEND:VEVENT\nEND:VCALENDAR\n"))
	f.Add([]byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\n DTSTAMP\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	f.Add([]byte(ics("BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "UID:u", "DTSTAMP:20260301T100000Z",
		"RECURRENCE-ID;TZID=Europe/Paris:20261025T023000", "DTSTART;TZID=\"(UTC+01:00) Brussels, Copenhagen, Madrid, Paris\":20260329T023000",
		"RRULE:FREQ=WEEKLY;COUNT=3", "END:VEVENT", "END:VCALENDAR")))
	f.Fuzz(func(t *testing.T, b []byte) {
		cal, err := agenda.ParseICalendar(b)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("not Invalid: %v", err)
			}
			return
		}
		if len(cal.Events) > agenda.MaxICalEvents {
			t.Fatalf("%d events", len(cal.Events))
		}
		for _, ev := range cal.Events {
			if ev.UID == "" || ev.Stamp.IsZero() {
				t.Fatalf("an event without UID or DTSTAMP: %+v", ev)
			}
			if !ev.End.IsZero() && !ev.End.After(ev.Start) {
				t.Fatalf("end %v not after start %v", ev.End, ev.Start)
			}
			if ev.Start.Location() != time.UTC && !ev.Start.IsZero() {
				t.Fatalf("start not in UTC: %v", ev.Start)
			}
		}
	})
}

// BenchmarkParseICalendar reads a hospital's invitation (about 1 kB).
func BenchmarkParseICalendar(b *testing.B) {
	in := []byte(invitation)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := agenda.ParseICalendar(in); err != nil {
			b.Fatal(err)
		}
	}
}
