package agenda

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The feed as an iCalendar object (RFC 5545): one VEVENT per event, lines ended by CRLF and
// folded at 75 octets, text escaped.
//
// What it shows: a calendar app copies the feed to its maker's cloud, out of the health data
// hosting this service is certified for. So by default each event says only what kind of
// event it is ("Rendez-vous médical") and when; the patient may choose the details (titles,
// places, notes) on the subscription page, which says so. UIDs are hashes, never a reference
// that would name an act or a screening.

// minimalTitle is what a minimal feed says of an event.
func minimalTitle(e *Event) string {
	switch e.Kind {
	case KindAppointment:
		return "Rendez-vous médical"
	case KindPersonal:
		return "Événement personnel"
	case KindReimbursement:
		return "Soin remboursé"
	case KindReminder:
		return "Rappel de prévention"
	case KindStay:
		return "Séjour hospitalier"
	case KindConsultation:
		return "Consultation"
	}
	return "Événement"
}

// ICS writes the feed's events as an iCalendar object. now is the DTSTAMP.
func ICS(f Feed, now time.Time) []byte {
	var b bytes.Buffer
	line := func(name, value string) { writeFolded(&b, name+":"+value) }
	line("BEGIN", "VCALENDAR")
	line("VERSION", "2.0")
	line("PRODID", "-//Carnet de sante//Agenda//FR")
	line("CALSCALE", "GREGORIAN")
	line("METHOD", "PUBLISH")
	line("X-WR-CALNAME", EscapeText("Mon agenda santé"))
	stamp := now.UTC().Format("20060102T150405Z")
	for i := range f.Events {
		e := &f.Events[i]
		line("BEGIN", "VEVENT")
		line("UID", uid(f.PatientID, e))
		line("DTSTAMP", stamp)
		if e.AllDay() {
			end := e.Start
			if !e.End.IsZero() && e.End.After(end) {
				end = e.End
			}
			// DTEND of a date is exclusive (RFC 5545 §3.6.1): the day after the last one.
			line("DTSTART;VALUE=DATE", e.Start.UTC().Format("20060102"))
			line("DTEND;VALUE=DATE", end.UTC().AddDate(0, 0, 1).Format("20060102"))
		} else {
			line("DTSTART", e.Start.UTC().Format("20060102T150405Z"))
			if !e.End.IsZero() && e.End.After(e.Start) {
				line("DTEND", e.End.UTC().Format("20060102T150405Z"))
			}
		}
		cancelled := false
		if e.Kind == KindAppointment {
			if a, err := AppointmentOf(e); err == nil && a.Status == StatusCancelled {
				cancelled = true
			}
		}
		if f.Details {
			summary := EscapeText(e.Title)
			if strings.TrimSpace(summary) == "" {
				// A title of control characters only escapes to nothing: the minimal one
				// stands in, so that no calendar shows a blank event.
				summary = EscapeText(minimalTitle(e))
			}
			line("SUMMARY", summary)
			if e.Detail != "" && e.Kind != KindReminder {
				line("DESCRIPTION", EscapeText(e.Detail))
			}
			if loc := location(e); loc != "" {
				line("LOCATION", EscapeText(loc))
			}
		} else {
			line("SUMMARY", EscapeText(minimalTitle(e)))
		}
		if cancelled {
			line("STATUS", "CANCELLED")
		}
		line("TRANSP", "OPAQUE")
		line("END", "VEVENT")
	}
	line("END", "VCALENDAR")
	return b.Bytes()
}

// location is the place of an event, when it has one.
func location(e *Event) string {
	if p, ok := PersonalOf(e); ok {
		return p.Place
	}
	if e.Kind == KindAppointment {
		if a, err := AppointmentOf(e); err == nil {
			parts := []string{}
			for _, s := range []string{a.Location, a.Organization} {
				if s != "" {
					parts = append(parts, s)
				}
			}
			return strings.Join(parts, ", ")
		}
	}
	return ""
}

// uid names an event for calendar apps, stable across fetches and telling nothing.
func uid(patientID int64, e *Event) string {
	h := sha256.Sum256([]byte(strconv.FormatInt(patientID, 10) + "\x00" + e.Source + "\x00" + e.SourceRef))
	return hex.EncodeToString(h[:16]) + "@carnet-sante"
}

// EscapeText escapes an iCalendar TEXT value (RFC 5545 §3.3.11).
func EscapeText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case ';':
			b.WriteString(`\;`)
		case ',':
			b.WriteString(`\,`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
		default:
			if r < 0x20 && r != '\t' || r == 0x7f {
				continue // control characters are not allowed in TEXT
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// writeFolded writes a content line, folded so that no line exceeds 75 octets without its
// CRLF (RFC 5545 §3.1), never inside a UTF-8 sequence.
func writeFolded(b *bytes.Buffer, s string) {
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = 74 // the continuation's leading space counts
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}
