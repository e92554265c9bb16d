// Package chart draws the trend of a health measure as an SVG image computed on the server:
// no script runs in the page and nothing needs a style sheet (the pages' Content-Security-Policy
// forbids inline styles, so the drawing uses SVG presentation attributes only). The image is
// accessible on its own (role="img", a <title> and a <desc> that says what it shows in words);
// the pages put a table of the same values under it for those who prefer reading numbers.
//
// The geometry — scales, "nice" ticks, time ticks from days to years — is kept apart from the
// drawing so that it can be tested on its own.
package chart

import (
	"math"
	"time"
)

// Scale maps a domain [D0, D1] onto a range [R0, R1] linearly.
type Scale struct {
	D0, D1, R0, R1 float64
}

// Map returns the position of v. A domain of zero width maps everything to the middle of the
// range.
func (s Scale) Map(v float64) float64 {
	if s.D1 == s.D0 {
		return (s.R0 + s.R1) / 2
	}
	return s.R0 + (v-s.D0)*(s.R1-s.R0)/(s.D1-s.D0)
}

// niceStep returns a step of 1, 2, 2.5 or 5 times a power of ten near span/n: the ticks a
// person reads without effort.
func niceStep(span float64, n int) float64 {
	if n < 1 {
		n = 1
	}
	raw := span / float64(n)
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// NiceDomain widens [lo, hi] to multiples of a nice step, so that the axis starts and ends on a
// tick, and returns the domain and the ticks (about n of them). An empty domain (lo == hi, one
// value) is widened around it.
func NiceDomain(lo, hi float64, n int) (float64, float64, []float64) {
	if lo > hi {
		lo, hi = hi, lo
	}
	if lo == hi {
		pad := math.Abs(lo) * 0.1
		if pad == 0 {
			pad = 1
		}
		lo, hi = lo-pad, hi+pad
	}
	step := niceStep(hi-lo, n)
	d0 := math.Floor(lo/step) * step
	d1 := math.Ceil(hi/step) * step
	// Ticks are rounded to the step's decimals (two more than its power of ten covers 2.5).
	scale := math.Pow(10, math.Max(0, 2-math.Floor(math.Log10(step))))
	var ticks []float64
	for i := 0; ; i++ {
		v := d0 + float64(i)*step
		if v > d1+step/1e6 {
			break
		}
		// Remove the float noise of the multiplication (0.30000000000000004).
		ticks = append(ticks, math.Round(v*scale)/scale)
		if len(ticks) > 100 {
			break
		}
	}
	return d0, d1, ticks
}

// Granularity is the unit of the time axis's ticks.
type Granularity int

const (
	Days Granularity = iota
	Months
	Years
)

// TimeTicks returns about n ticks between from and to, on midnights, first days of months or
// first days of years (in loc) as the span asks, and their granularity. The ticks are within
// [from, to].
func TimeTicks(from, to time.Time, n int, loc *time.Location) ([]time.Time, Granularity) {
	if n < 2 {
		n = 2
	}
	if to.Before(from) {
		from, to = to, from
	}
	span := to.Sub(from)
	from, to = from.In(loc), to.In(loc)
	day := 24 * time.Hour
	var ticks []time.Time
	switch {
	case span <= time.Duration(n)*31*day:
		step := int(math.Ceil(span.Hours() / 24 / float64(n)))
		step = max(step, 1)
		t := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
		if t.Before(from) {
			t = t.AddDate(0, 0, 1)
		}
		for ; !t.After(to); t = t.AddDate(0, 0, step) {
			ticks = append(ticks, t)
		}
		return ticks, Days
	case span <= time.Duration(n)*366*day:
		months := int(math.Ceil(span.Hours() / 24 / 30.44 / float64(n)))
		step := 1
		for _, s := range []int{1, 2, 3, 6, 12} {
			step = s
			if s >= months {
				break
			}
		}
		t := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, loc)
		if t.Before(from) {
			t = t.AddDate(0, 1, 0)
		}
		for ; !t.After(to); t = t.AddDate(0, step, 0) {
			ticks = append(ticks, t)
		}
		return ticks, Months
	}
	years := int(math.Ceil(span.Hours() / 24 / 365.25 / float64(n)))
	step := int(niceStep(float64(years), 1))
	step = max(step, 1)
	t := time.Date(from.Year(), 1, 1, 0, 0, 0, 0, loc)
	if t.Before(from) {
		t = t.AddDate(1, 0, 0)
	}
	for ; !t.After(to); t = t.AddDate(step, 0, 0) {
		ticks = append(ticks, t)
	}
	return ticks, Years
}

// Label writes a time tick as the granularity asks: 14/06, 06/2025, 2025.
func (g Granularity) Label(t time.Time) string {
	switch g {
	case Days:
		return t.Format("02/01")
	case Months:
		return t.Format("01/2006")
	}
	return t.Format("2006")
}
