package cda

import (
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

// ParseTS reads an HL7 v3 point in time (TS, HL7 V3 Data Types R1 §2.23, ISO 8601 basic
// form without separators):
//
//	YYYY[MM[DD[HH[MM[SS[.S{1,9}]]]]]][+|-ZZZZ]
//
// CI-SIS documents write YYYYMMDD for dates and YYYYMMDDHHMMSS+ZZZZ for times
// ("20210409153500+0100"). A value without an offset is read in UTC: HL7 leaves it in the
// sender's local time, which we cannot know, and UTC keeps its calendar fields as written.
// Missing month and day read as 1, missing time fields as 0.
//
// The error never quotes the value: a timestamp can be a birth date.
func ParseTS(s string) (time.Time, error) {
	p := tsScanner{s: s}
	year := p.digits(4)
	if year < 0 {
		return time.Time{}, tsError("it must start with a 4-digit year")
	}
	month, day, hour, minute, sec, nsec := 1, 1, 0, 0, 0, 0
	fields := []*int{&month, &day, &hour, &minute, &sec}
	for _, f := range fields {
		if p.done() || p.sign() {
			break
		}
		v := p.digits(2)
		if v < 0 {
			return time.Time{}, tsError("date and time fields have two digits each")
		}
		*f = v
	}
	if !p.done() && p.s[p.i] == '.' {
		if p.i != len("YYYYMMDDHHMMSS") {
			return time.Time{}, tsError("a fraction of a second must follow the seconds")
		}
		p.i++
		start := p.i
		scale := 100_000_000
		for !p.done() && isDigit(p.s[p.i]) {
			if p.i-start >= 9 {
				return time.Time{}, tsError("a fraction of a second has at most 9 digits")
			}
			nsec += int(p.s[p.i]-'0') * scale
			scale /= 10
			p.i++
		}
		if p.i == start {
			return time.Time{}, tsError("a fraction of a second needs digits after the dot")
		}
	}
	loc := time.UTC
	if !p.done() {
		if !p.sign() {
			return time.Time{}, tsError("unexpected character")
		}
		neg := p.s[p.i] == '-'
		p.i++
		hh, mm := p.digits(2), p.digits(2)
		if hh < 0 || mm < 0 || !p.done() {
			return time.Time{}, tsError("the time zone offset must be written +HHMM or -HHMM")
		}
		if hh > 23 || mm > 59 {
			return time.Time{}, tsError("time zone offset out of range")
		}
		off := (hh*60 + mm) * 60
		if neg {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, tsError("a date or time field is out of range")
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
	if t.Day() != day {
		// time.Date normalises 31 April to 1 May: the day does not exist.
		return time.Time{}, tsError("the day does not exist in that month")
	}
	return t, nil
}

func tsError(why string) error {
	return errs.E(errs.Invalid, "not an HL7 timestamp (YYYYMMDD[HHMM[SS]][+-ZZZZ]): %s", why)
}

type tsScanner struct {
	s string
	i int
}

func (p *tsScanner) done() bool { return p.i >= len(p.s) }

func (p *tsScanner) sign() bool { return !p.done() && (p.s[p.i] == '+' || p.s[p.i] == '-') }

// digits reads n decimal digits as a number, or returns -1 without moving.
func (p *tsScanner) digits(n int) int {
	if p.i+n > len(p.s) {
		return -1
	}
	v := 0
	for k := 0; k < n; k++ {
		c := p.s[p.i+k]
		if !isDigit(c) {
			return -1
		}
		v = v*10 + int(c-'0')
	}
	p.i += n
	return v
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
