package r4

import (
	"errors"
	"regexp"
	"strings"
	"time"
)

// Date is a FHIR date: a year, a year and month, or a full date, with no time zone
// (FHIR R4 §2.24.0.1 "date"). It is kept as written so that its precision is not lost.
type Date string

// DateTime is a FHIR dateTime: a partial or full date, or a date and time with an offset
// (FHIR R4 §2.24.0.1 "dateTime"). It is kept as written so that its precision is not lost.
type DateTime string

// Instant is a FHIR instant: a date and time to the second at least, with an offset
// (FHIR R4 §2.24.0.1 "instant").
type Instant string

// The lexical forms given by FHIR R4 for the date primitives.
var (
	dateRE     = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`)
	dateTimeRE = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
	instantRE  = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
	idRE       = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
)

var errBadDate = errors.New("not a valid date")

// lexicalChecker is implemented by the primitives whose lexical form the decoder checks.
type lexicalChecker interface {
	checkLexical(s string) error
}

func (Date) checkLexical(s string) error {
	if !dateRE.MatchString(s) || !realDay(s) {
		return errors.New("not a valid FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)")
	}
	return nil
}

func (DateTime) checkLexical(s string) error {
	if !dateTimeRE.MatchString(s) || !realDay(s) {
		return errors.New("not a valid FHIR dateTime (a partial date, or a date and time with an offset)")
	}
	return nil
}

func (Instant) checkLexical(s string) error {
	if !instantRE.MatchString(s) || !realDay(s) {
		return errors.New("not a valid FHIR instant (a date and time to the second, with an offset)")
	}
	return nil
}

// realDay rejects days that the regular expressions let through, such as 2023-02-30
// ("Dates SHALL be valid dates", FHIR R4 §2.24.0.1).
func realDay(s string) bool {
	if len(s) < 10 {
		return true
	}
	_, err := time.Parse("2006-01-02", s[:10])
	return err == nil
}

// Valid reports whether d has the lexical form of a FHIR date.
func (d Date) Valid() bool { return d.checkLexical(string(d)) == nil }

// Valid reports whether d has the lexical form of a FHIR dateTime.
func (d DateTime) Valid() bool { return d.checkLexical(string(d)) == nil }

// Valid reports whether i has the lexical form of a FHIR instant.
func (i Instant) Valid() bool { return i.checkLexical(string(i)) == nil }

// InstantOf writes t as an instant, to the nanosecond that t carries (trailing zeros dropped).
func InstantOf(t time.Time) Instant { return Instant(t.Format(time.RFC3339Nano)) }

// DateTimeOf writes t as a full dateTime, to the nanosecond that t carries.
func DateTimeOf(t time.Time) DateTime { return DateTime(t.Format(time.RFC3339Nano)) }

// DateOf writes the calendar day of t, in t's location.
func DateOf(t time.Time) Date { return Date(t.Format("2006-01-02")) }

// Time parses the instant.
func (i Instant) Time() (time.Time, error) {
	if !i.Valid() {
		return time.Time{}, errBadDate
	}
	return time.Parse(time.RFC3339Nano, string(i))
}

// Time returns the earliest moment that d designates. A dateTime without a time (2024,
// 2024-03, 2024-03-15) has no offset: it is read in loc, which must not be nil.
func (d DateTime) Time(loc *time.Location) (time.Time, error) {
	if !d.Valid() {
		return time.Time{}, errBadDate
	}
	s := string(d)
	if strings.Contains(s, "T") {
		return time.Parse(time.RFC3339Nano, s)
	}
	return Date(s).Time(loc)
}

// Time returns the first moment of the year, month or day that d designates, in loc.
func (d Date) Time(loc *time.Location) (time.Time, error) {
	if !d.Valid() {
		return time.Time{}, errBadDate
	}
	layout := map[int]string{4: "2006", 7: "2006-01", 10: "2006-01-02"}[len(d)]
	return time.ParseInLocation(layout, string(d), loc)
}

// Ptr returns a pointer to v, for the optional booleans and integers of the model
// (Patient.active, Bundle.total, Attachment.size, ...).
func Ptr[T any](v T) *T { return &v }
