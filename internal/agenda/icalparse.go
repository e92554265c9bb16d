package agenda

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Reading the iCalendar objects professionals' software sends in messages (RFC 5545, and the
// methods of RFC 5546 iTIP): a convocation or an appointment as a text/calendar attachment.
//
// The reader is strict and bounded, because what it reads comes from outside: the object's
// size, its lines, its components and their depth are bounded; content lines are unfolded
// (§3.1), their parameters read with quoting (§3.2) and RFC 6868's caret escapes, TEXT values
// unescaped (§3.3.11) and anything else a backslash introduces refused; a property the agenda
// uses that appears twice in an event, a date that does not exist, an unknown time zone or a
// component left open is an error, and the whole object is refused: half an invitation is not
// filed. Only what the agenda keeps is interpreted; other properties and components (VALARM,
// VTIMEZONE, VTODO…) are checked for their syntax and skipped. Error messages name a line
// and what is wrong with it, never the content, so that they may be logged and sent back.

// Limits of an iCalendar object.
const (
	// MaxICalendarBytes bounds an object: an invitation is a few kilobytes.
	MaxICalendarBytes = 256 << 10
	maxICalLine       = 16 << 10 // an unfolded content line
	maxICalLines      = 5000
	maxICalDepth      = 4
	// MaxICalEvents bounds the events of one object.
	MaxICalEvents = 50
	maxICalParams = 20
)

// The iTIP methods the agenda acts on (RFC 5546 §1.4).
const (
	MethodPublish = "PUBLISH"
	MethodRequest = "REQUEST"
	MethodCancel  = "CANCEL"
)

// ICalendar is what the agenda reads of an iCalendar object.
type ICalendar struct {
	// Method is the iTIP method, upper case; "" when the object has none (a calendar file
	// rather than a scheduling message).
	Method string
	Events []ICalEvent
}

// ICalEvent is what the agenda reads of a VEVENT.
type ICalEvent struct {
	UID string
	// RecurrenceID names one instance of a recurring event ("" for the event itself), as
	// written: with UID, it names what an update or a cancellation is about.
	RecurrenceID string
	Sequence     int
	Stamp        time.Time // DTSTAMP
	// Start and End: times (UTC), or days at midnight UTC when AllDay, End then being the last
	// day (DTEND of a date is exclusive, RFC 5545 §3.6.1). End is zero when the event has none.
	Start, End  time.Time
	AllDay      bool
	Summary     string
	Location    string
	Description string
	Status      string // TENTATIVE, CONFIRMED, CANCELLED or ""
	// Organizer is the ORGANIZER's address (its mailto: taken off), OrganizerName its CN.
	Organizer, OrganizerName string
	// Recurring: the event has a recurrence rule (RRULE, RDATE); only its first instance is read.
	Recurring bool
}

// icalProp is one content line.
type icalProp struct {
	line   int
	name   string
	params map[string][]string
	value  string
}

func (p *icalProp) param(name string) string {
	if v := p.params[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func icalErr(line int, format string, args ...any) error {
	return errs.E(errs.Invalid, "iCalendar line %d: "+format, append([]any{line}, args...)...)
}

// ParseICalendar reads an iCalendar object.
func ParseICalendar(b []byte) (ICalendar, error) {
	if len(b) > MaxICalendarBytes {
		return ICalendar{}, errs.E(errs.Invalid, "the iCalendar object is larger than %d bytes", MaxICalendarBytes)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(b) {
		return ICalendar{}, errs.E(errs.Invalid, "the iCalendar object is not UTF-8")
	}
	props, err := icalLines(b)
	if err != nil {
		return ICalendar{}, err
	}
	if len(props) == 0 || props[0].name != "BEGIN" || !strings.EqualFold(props[0].value, "VCALENDAR") {
		return ICalendar{}, errs.E(errs.Invalid, "the iCalendar object does not begin with BEGIN:VCALENDAR")
	}
	var (
		cal     ICalendar
		stack   []string
		event   []icalProp // the properties of the VEVENT being read
		version bool
	)
	for i := range props {
		p := &props[i]
		switch p.name {
		case "BEGIN":
			name := strings.ToUpper(p.value)
			if !icalName(name) {
				return ICalendar{}, icalErr(p.line, "a component name is not a name")
			}
			if len(stack) == 0 && i != 0 {
				return ICalendar{}, icalErr(p.line, "content after END:VCALENDAR")
			}
			if len(stack) >= maxICalDepth {
				return ICalendar{}, icalErr(p.line, "components nested deeper than %d", maxICalDepth)
			}
			if name == "VCALENDAR" && len(stack) > 0 {
				return ICalendar{}, icalErr(p.line, "a VCALENDAR inside a component")
			}
			if name == "VEVENT" {
				if len(stack) != 1 {
					return ICalendar{}, icalErr(p.line, "a VEVENT must be directly in the VCALENDAR")
				}
				event = event[:0]
			}
			stack = append(stack, name)
		case "END":
			name := strings.ToUpper(p.value)
			if len(stack) == 0 || stack[len(stack)-1] != name {
				return ICalendar{}, icalErr(p.line, "END does not close the open component")
			}
			stack = stack[:len(stack)-1]
			if name == "VEVENT" {
				if len(cal.Events) == MaxICalEvents {
					return ICalendar{}, icalErr(p.line, "more than %d events", MaxICalEvents)
				}
				ev, err := icalEvent(event, p.line)
				if err != nil {
					return ICalendar{}, err
				}
				cal.Events = append(cal.Events, ev)
			}
		default:
			switch {
			case len(stack) == 0:
				return ICalendar{}, icalErr(p.line, "content after END:VCALENDAR")
			case len(stack) == 1 && p.name == "METHOD":
				if cal.Method != "" {
					return ICalendar{}, icalErr(p.line, "METHOD appears twice")
				}
				m := strings.ToUpper(p.value)
				if !icalName(m) {
					return ICalendar{}, icalErr(p.line, "METHOD is not a name")
				}
				cal.Method = m
			case len(stack) == 1 && p.name == "VERSION":
				if p.value != "2.0" || version {
					return ICalendar{}, icalErr(p.line, "VERSION must be 2.0, once")
				}
				version = true
			case len(stack) == 2 && stack[1] == "VEVENT":
				event = append(event, *p)
			}
		}
	}
	if len(stack) != 0 {
		return ICalendar{}, errs.E(errs.Invalid, "the iCalendar object ends with a component left open")
	}
	if !version {
		return ICalendar{}, errs.E(errs.Invalid, "the iCalendar object has no VERSION:2.0")
	}
	return cal, nil
}

// icalLines splits b into unfolded content lines and parses each.
func icalLines(b []byte) ([]icalProp, error) {
	var (
		out  []icalProp
		cur  []byte
		at   int // the line cur started on
		line int
	)
	flush := func() error {
		if cur == nil {
			return nil
		}
		if len(out) == maxICalLines {
			return icalErr(at, "more than %d content lines", maxICalLines)
		}
		p, err := icalParse(string(cur), at)
		if err != nil {
			return err
		}
		out = append(out, p)
		cur = nil
		return nil
	}
	for len(b) > 0 {
		line++
		raw := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			raw, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		// CRLF ends a line (§3.1); a bare LF is taken too, as many writers send it.
		raw = bytes.TrimSuffix(raw, []byte("\r"))
		if bytes.IndexByte(raw, '\r') >= 0 {
			return nil, icalErr(line, "a stray carriage return")
		}
		if len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
			if cur == nil {
				return nil, icalErr(line, "a continuation line with no line to continue")
			}
			if len(cur)+len(raw)-1 > maxICalLine {
				return nil, icalErr(at, "a content line longer than %d bytes", maxICalLine)
			}
			cur = append(cur, raw[1:]...)
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		if len(raw) == 0 {
			continue // blank lines, at the end of a file mostly
		}
		if len(raw) > maxICalLine {
			return nil, icalErr(line, "a content line longer than %d bytes", maxICalLine)
		}
		cur, at = append([]byte(nil), raw...), line
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// icalName reports whether s is an iana-token or x-name: letters, digits and "-".
func icalName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// icalParse reads one unfolded content line: name *(";" param) ":" value (§3.1).
func icalParse(s string, line int) (icalProp, error) {
	p := icalProp{line: line}
	i := strings.IndexAny(s, ";:")
	if i < 0 {
		return p, icalErr(line, "a content line without a colon")
	}
	p.name = strings.ToUpper(s[:i])
	if !icalName(p.name) {
		return p, icalErr(line, "a property name is not a name")
	}
	s = s[i:]
	for s[0] == ';' {
		s = s[1:]
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return p, icalErr(line, "a parameter without a value")
		}
		name := strings.ToUpper(s[:eq])
		if !icalName(name) {
			return p, icalErr(line, "a parameter name is not a name")
		}
		if len(p.params) == maxICalParams {
			return p, icalErr(line, "more than %d parameters", maxICalParams)
		}
		if p.params == nil {
			p.params = map[string][]string{}
		}
		if _, dup := p.params[name]; dup {
			return p, icalErr(line, "a parameter appears twice")
		}
		s = s[eq+1:]
		var values []string
		for {
			var v string
			if strings.HasPrefix(s, `"`) {
				end := strings.IndexByte(s[1:], '"')
				if end < 0 {
					return p, icalErr(line, "a quoted parameter value is not closed")
				}
				v, s = s[1:1+end], s[2+end:]
			} else {
				end := strings.IndexAny(s, `;:,"`)
				if end < 0 {
					return p, icalErr(line, "a content line without a colon")
				}
				if s[end] == '"' {
					return p, icalErr(line, "a double quote inside a parameter value")
				}
				v, s = s[:end], s[end:]
			}
			if strings.ContainsFunc(v, icalControl) {
				return p, icalErr(line, "a control character in a parameter value")
			}
			values = append(values, caretUnescape(v))
			if s == "" {
				return p, icalErr(line, "a content line without a colon")
			}
			if s[0] != ',' {
				break
			}
			s = s[1:]
		}
		p.params[name] = values
		if s[0] != ';' && s[0] != ':' {
			return p, icalErr(line, "a parameter value followed by something else than ; or :")
		}
	}
	p.value = s[1:] // s[0] is the colon
	if strings.ContainsFunc(p.value, icalControl) {
		return p, icalErr(line, "a control character in a value")
	}
	return p, nil
}

// icalControl: the controls a value may not hold (§3.1: any but horizontal tab).
func icalControl(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

// caretUnescape decodes RFC 6868's escapes in a parameter value: ^n, ^' and ^^; a caret
// before anything else stands for itself.
func caretUnescape(v string) string {
	if !strings.Contains(v, "^") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '^' && i+1 < len(v) {
			switch v[i+1] {
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			case '\'':
				b.WriteByte('"')
				i++
				continue
			case '^':
				b.WriteByte('^')
				i++
				continue
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// unescapeText decodes a TEXT value (§3.3.11); another escape than \\ \; \, \n \N is an error.
func unescapeText(v string, line int) (string, error) {
	if !strings.Contains(v, `\`) {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			b.WriteByte(v[i])
			continue
		}
		if i+1 == len(v) {
			return "", icalErr(line, "a backslash at the end of a text")
		}
		i++
		switch v[i] {
		case '\\', ';', ',':
			b.WriteByte(v[i])
		case 'n', 'N':
			b.WriteByte('\n')
		default:
			return "", icalErr(line, "an unknown escape in a text")
		}
	}
	return b.String(), nil
}

// icalEvent reads a VEVENT's properties.
func icalEvent(props []icalProp, end int) (ICalEvent, error) {
	var ev ICalEvent
	seen := map[string]bool{}
	var (
		start, stop *icalProp
		duration    *icalProp
	)
	for i := range props {
		p := &props[i]
		switch p.name {
		case "UID", "RECURRENCE-ID", "SEQUENCE", "DTSTAMP", "DTSTART", "DTEND", "DURATION", "SUMMARY", "LOCATION",
			"DESCRIPTION", "STATUS", "ORGANIZER":
			if seen[p.name] {
				return ev, icalErr(p.line, "%s appears twice in an event", p.name)
			}
			seen[p.name] = true
		}
		var err error
		switch p.name {
		case "UID":
			ev.UID = p.value
			if ev.UID == "" || len(ev.UID) > 1024 {
				return ev, icalErr(p.line, "the UID is empty or longer than 1024 bytes")
			}
		case "RECURRENCE-ID":
			// Normalised to UTC, so that one instance is named the same whatever zone the
			// sender's software writes it in (TZID=Europe/Paris:…T093000 or …T073000Z).
			var t time.Time
			var allDay bool
			if t, allDay, err = icalTime(p); err == nil {
				ev.RecurrenceID = t.UTC().Format("20060102T150405Z")
				if allDay {
					ev.RecurrenceID = t.UTC().Format("20060102")
				}
			}
		case "SEQUENCE":
			ev.Sequence, err = strconv.Atoi(p.value)
			if err != nil || ev.Sequence < 0 || ev.Sequence > 1<<30 {
				return ev, icalErr(p.line, "the SEQUENCE is not a count")
			}
		case "DTSTAMP":
			var allDay bool
			if ev.Stamp, allDay, err = icalTime(p); err == nil && allDay {
				err = icalErr(p.line, "DTSTAMP must be a date and time")
			}
		case "DTSTART":
			start = p
		case "DTEND":
			stop = p
		case "DURATION":
			duration = p
		case "SUMMARY":
			ev.Summary, err = unescapeText(p.value, p.line)
		case "LOCATION":
			ev.Location, err = unescapeText(p.value, p.line)
		case "DESCRIPTION":
			ev.Description, err = unescapeText(p.value, p.line)
		case "STATUS":
			ev.Status = strings.ToUpper(p.value)
			switch ev.Status {
			case "TENTATIVE", "CONFIRMED", "CANCELLED":
			default:
				err = icalErr(p.line, "an event's STATUS is TENTATIVE, CONFIRMED or CANCELLED")
			}
		case "ORGANIZER":
			ev.OrganizerName = p.param("CN")
			addr := p.value
			if len(addr) >= 7 && strings.EqualFold(addr[:7], "mailto:") {
				addr = addr[7:]
			}
			ev.Organizer = strings.ToLower(strings.TrimSpace(addr))
		case "RRULE", "RDATE":
			ev.Recurring = true
		}
		if err != nil {
			return ev, err
		}
	}
	if ev.UID == "" {
		return ev, icalErr(end, "an event without a UID")
	}
	if ev.Stamp.IsZero() {
		return ev, icalErr(end, "an event without a DTSTAMP")
	}
	if stop != nil && duration != nil {
		return ev, icalErr(stop.line, "an event with both DTEND and DURATION")
	}
	if start == nil {
		if stop != nil || duration != nil {
			return ev, icalErr(end, "an event with an end but no DTSTART")
		}
		return ev, nil // a cancellation may name the event alone
	}
	var err error
	if ev.Start, ev.AllDay, err = icalTime(start); err != nil {
		return ev, err
	}
	var last time.Time
	switch {
	case stop != nil:
		var allDay bool
		if last, allDay, err = icalTime(stop); err != nil {
			return ev, err
		}
		if allDay != ev.AllDay {
			return ev, icalErr(stop.line, "DTEND and DTSTART are not of the same type")
		}
	case duration != nil:
		d, err := icalDuration(duration)
		if err != nil {
			return ev, err
		}
		if ev.AllDay && d%(24*time.Hour) != 0 {
			return ev, icalErr(duration.line, "the DURATION of an all-day event is in days")
		}
		last = ev.Start.Add(d)
	}
	if !last.IsZero() {
		if last.Before(ev.Start) {
			return ev, icalErr(end, "the event ends before it starts")
		}
		if ev.AllDay {
			last = last.AddDate(0, 0, -1) // the exclusive DTEND's day before: the last day
		}
		if last.After(ev.Start) {
			ev.End = last
		}
	}
	return ev, nil
}

// windowsZones are the time zones Microsoft's software names by its own names (TZID
// "Romance Standard Time"), for France and its overseas territories.
var windowsZones = map[string]string{
	"Romance Standard Time":       "Europe/Paris",
	"W. Europe Standard Time":     "Europe/Paris", // same rules as Paris
	"SA Western Standard Time":    "America/Martinique",
	"SA Eastern Standard Time":    "America/Cayenne",
	"Arabian Standard Time":       "Indian/Reunion", // UTC+4 without DST, as La Réunion
	"E. Africa Standard Time":     "Indian/Mayotte",
	"Hawaiian Standard Time":      "Pacific/Tahiti",
	"New Caledonia Standard Time": "Pacific/Noumea",
}

// windowsDisplayZones are the zones Microsoft's software names by their display name, after
// the offset ("(UTC+01:00) Brussels, Copenhagen, Madrid, Paris"; older versions wrote "GMT",
// French ones the cities in French): the cities name the zone, the offset is the standard
// one and says nothing of summer time. France's, its neighbours' and its overseas
// territories'.
var windowsDisplayZones = map[string]string{
	"Brussels, Copenhagen, Madrid, Paris":               "Europe/Paris",
	"Bruxelles, Copenhague, Madrid, Paris":              "Europe/Paris",
	"Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna":  "Europe/Berlin",
	"Amsterdam, Berlin, Berne, Rome, Stockholm, Vienne": "Europe/Berlin",
	"Belgrade, Bratislava, Budapest, Ljubljana, Prague": "Europe/Budapest",
	"Sarajevo, Skopje, Warsaw, Zagreb":                  "Europe/Warsaw",
	"Dublin, Edinburgh, Lisbon, London":                 "Europe/London",
	"Dublin, Édimbourg, Lisbonne, Londres":              "Europe/London",
	"Coordinated Universal Time":                        "UTC",
	"Temps universel coordonné":                         "UTC",
	"Georgetown, La Paz, Manaus, San Juan":              "America/Martinique",
	"Cayenne, Fortaleza":                                "America/Cayenne",
	"Abu Dhabi, Muscat":                                 "Indian/Reunion",
	"Abou Dabi, Mascate":                                "Indian/Reunion",
	"Nairobi":                                           "Indian/Mayotte",
	"Hawaii":                                            "Pacific/Tahiti",
	"Solomon Is., New Caledonia":                        "Pacific/Noumea",
	"Îles Salomon, Nouvelle-Calédonie":                  "Pacific/Noumea",
}

// windowsDisplayZone resolves a Windows display name, "" when name is none it knows.
func windowsDisplayZone(name string) string {
	rest, ok := strings.CutPrefix(name, "(UTC")
	if !ok {
		if rest, ok = strings.CutPrefix(name, "(GMT"); !ok {
			return ""
		}
	}
	i := strings.IndexByte(rest, ')')
	if i < 0 || i > 7 {
		return ""
	}
	return windowsDisplayZones[strings.TrimSpace(rest[i+1:])]
}

// icalZone resolves a TZID: an IANA name (Europe/Paris, America/Martinique…, with or without
// the leading "/" of globally unique ids), a Windows name (standard or display) of a French
// or neighbouring zone, or UTC.
func icalZone(tzid string, line int) (*time.Location, error) {
	name := strings.TrimPrefix(strings.TrimSpace(tzid), "/")
	if w, ok := windowsZones[name]; ok {
		name = w
	} else if w := windowsDisplayZone(name); w != "" {
		name = w
	}
	switch name {
	case "Europe/Paris":
		return paris, nil
	case "UTC", "Etc/UTC", "GMT", "Z":
		return time.UTC, nil
	}
	if len(name) > 64 || !strings.Contains(name, "/") || strings.Contains(name, "..") || strings.ContainsAny(name, "\\ ") {
		return nil, icalErr(line, "an unknown time zone")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, icalErr(line, "an unknown time zone")
	}
	return loc, nil
}

// icalTime reads a DATE or DATE-TIME property (§3.3.4, §3.3.5): a date is at midnight UTC and
// all-day; a time is in UTC ("Z"), in its TZID, or floating (no zone: read in Paris, where
// the patient and the professional who wrote it are, our default).
func icalTime(p *icalProp) (time.Time, bool, error) {
	v := p.value
	typ := strings.ToUpper(p.param("VALUE"))
	switch {
	case typ == "DATE" || typ == "" && len(v) == 8:
		if len(v) != 8 || p.param("TZID") != "" {
			return time.Time{}, false, icalErr(p.line, "a date is YYYYMMDD, without a time zone")
		}
		t, err := icalClock(v, "000000", time.UTC, p.line)
		return t, true, err
	case typ != "" && typ != "DATE-TIME":
		return time.Time{}, false, icalErr(p.line, "a date's VALUE is DATE or DATE-TIME")
	}
	if len(v) != 15 && len(v) != 16 || v[8] != 'T' {
		return time.Time{}, false, icalErr(p.line, "a date and time is YYYYMMDDTHHMMSS, with Z for UTC")
	}
	loc := paris
	if len(v) == 16 {
		if v[15] != 'Z' || p.param("TZID") != "" {
			return time.Time{}, false, icalErr(p.line, "a UTC time ends with Z and has no TZID")
		}
		loc = time.UTC
	} else if tz := p.param("TZID"); tz != "" {
		var err error
		if loc, err = icalZone(tz, p.line); err != nil {
			return time.Time{}, false, err
		}
	}
	t, err := icalClock(v[:8], v[9:15], loc, p.line)
	return t.UTC(), false, err
}

// icalClock builds a time from YYYYMMDD and HHMMSS, refusing what does not exist.
func icalClock(date, clock string, loc *time.Location, line int) (time.Time, error) {
	var n [6]int
	parts := []string{date[0:4], date[4:6], date[6:8], clock[0:2], clock[2:4], clock[4:6]}
	for i, s := range parts {
		for j := 0; j < len(s); j++ {
			if s[j] < '0' || s[j] > '9' {
				return time.Time{}, icalErr(line, "a date or time that is not digits")
			}
		}
		n[i], _ = strconv.Atoi(s)
	}
	if n[5] == 60 {
		n[5] = 59 // a leap second, which Go's time does not count
	}
	t := time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], 0, time.UTC)
	if n[0] < 1900 || n[0] > 2200 || t.Year() != n[0] || int(t.Month()) != n[1] || t.Day() != n[2] || n[3] > 23 ||
		n[4] > 59 || n[5] > 59 {
		return time.Time{}, icalErr(line, "a date or time that does not exist (or outside 1900-2200)")
	}
	if loc == time.UTC {
		return t, nil
	}
	return icalLocal(t.Unix(), loc), nil
}

// icalLocal is the instant the wall clock wall (its seconds as if it were UTC) names in loc,
// as RFC 5545 §3.3.5 reads a local time: one the clocks show twice (the hour repeated when
// they go back) is its first occurrence; one they skip (going forward) is read with the offset
// before the gap. Go's time.Date does not say which of the two it picks.
func icalLocal(wall int64, loc *time.Location) time.Time {
	// The offsets around it: a day either side holds any transition (they are months apart).
	var offsets []int
	for _, at := range []int64{wall - 86400, wall, wall + 86400} {
		_, off := time.Unix(at, 0).In(loc).Zone()
		if !slices.Contains(offsets, off) {
			offsets = append(offsets, off)
		}
	}
	// The largest offset makes the earliest instant: the first occurrence.
	slices.Sort(offsets)
	slices.Reverse(offsets)
	for _, off := range offsets {
		t := time.Unix(wall-int64(off), 0).In(loc)
		if _, o := t.Zone(); o == off {
			return t
		}
	}
	_, before := time.Unix(wall-86400, 0).In(loc).Zone()
	return time.Unix(wall-int64(before), 0).In(loc)
}

// icalDuration reads a DURATION (§3.3.6): [+]P then weeks, or days and a time part.
func icalDuration(p *icalProp) (time.Duration, error) {
	bad := icalErr(p.line, "a DURATION is P with weeks, days, hours, minutes and seconds, not negative")
	v := strings.TrimPrefix(p.value, "+")
	if !strings.HasPrefix(v, "P") || len(v) < 3 || len(v) > 32 {
		return 0, bad
	}
	v = v[1:]
	var total time.Duration
	inTime, counted := false, false
	units := map[byte]time.Duration{'W': 7 * 24 * time.Hour, 'D': 24 * time.Hour}
	timeUnits := map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second}
	for len(v) > 0 {
		if v[0] == 'T' {
			if inTime || len(v) == 1 {
				return 0, bad
			}
			inTime, v = true, v[1:]
			continue
		}
		i := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 || i == len(v) {
			return 0, bad
		}
		n, _ := strconv.Atoi(v[:i])
		u, ok := units[v[i]]
		if inTime {
			u, ok = timeUnits[v[i]]
		}
		if !ok {
			return 0, bad
		}
		total += time.Duration(n) * u
		counted = true
		v = v[i+1:]
	}
	if !counted || total > 400*24*time.Hour {
		return 0, bad
	}
	return total, nil
}
