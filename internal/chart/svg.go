package chart

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Line is one series of values, one per time of the chart (a blood pressure has two: the
// systolic and the diastolic pressures).
type Line struct {
	Name   string
	Values []float64
}

// Band is a range of values shaded behind the lines: the plausible range of the measure.
type Band struct {
	Lo, Hi float64
	Label  string
}

// Trend is a chart of values over time.
type Trend struct {
	// Title names the chart (its <title>); Desc says in words what it shows (its <desc>).
	Title, Desc string
	Unit        string // as people write it, shown on the value axis
	Times       []time.Time
	Lines       []Line // each with one value per time
	Band        *Band
	// Empty is written in the frame when there is no value.
	Empty string
	// Number writes a value of the axis or of a point; strconv's shortest form when nil.
	Number func(float64) string
	// Date writes a point's date in its tooltip; 02/01/2006 when nil.
	Date          func(time.Time) string
	Width, Height int // 880×320 when zero
	Loc           *time.Location
}

// The frame: room for the value labels on the left and the dates below.
const (
	marginLeft, marginRight, marginTop, marginBottom = 64, 16, 24, 40
)

// The lines' colours (the DSFR's blue France and red Marianne) and dashes, so that two lines
// differ by more than colour.
var (
	lineColours = []string{"#000091", "#c9191e", "#18753c"}
	lineDashes  = []string{"", "6 3", "2 3"}
)

// Geometry is where a Trend draws: its scales and ticks, computed from its values.
type Geometry struct {
	X, Y        Scale
	ValueTicks  []float64
	TimeTicks   []time.Time
	Granularity Granularity
	// BandLo and BandHi are the band's part within the value axis (in values); Band is false
	// when nothing of it is.
	BandLo, BandHi float64
	Band           bool
}

// Layout computes the chart's geometry. A single point, or points all at one time, are put in
// the middle of a two-day axis; values all equal, on an axis widened around them.
func (c *Trend) Layout() Geometry {
	w, h := c.size()
	var g Geometry
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range c.Lines {
		for _, v := range l.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if math.IsInf(lo, 1) { // no value: an axis around the band, or 0–1
		lo, hi = 0, 1
		if c.Band != nil {
			lo, hi = c.Band.Lo, c.Band.Hi
		}
	} else {
		pad := (hi - lo) * 0.1
		lo, hi = lo-pad, hi+pad
	}
	d0, d1, ticks := NiceDomain(lo, hi, 5)
	g.Y = Scale{D0: d0, D1: d1, R0: float64(h - marginBottom), R1: marginTop}
	g.ValueTicks = ticks
	if c.Band != nil {
		g.BandLo, g.BandHi = math.Max(c.Band.Lo, d0), math.Min(c.Band.Hi, d1)
		g.Band = g.BandLo < g.BandHi
	}
	from, to := c.span()
	g.X = Scale{D0: float64(from.Unix()), D1: float64(to.Unix()), R0: marginLeft, R1: float64(w - marginRight)}
	g.TimeTicks, g.Granularity = TimeTicks(from, to, max(2, (w-marginLeft-marginRight)/90), c.loc())
	return g
}

func (c *Trend) size() (int, int) {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 880
	}
	if h <= 0 {
		h = 320
	}
	return w, h
}

func (c *Trend) loc() *time.Location {
	if c.Loc == nil {
		return time.UTC
	}
	return c.Loc
}

// span is the time axis: the first to the last time, or two days around a single one (or
// around now when there is none).
func (c *Trend) span() (time.Time, time.Time) {
	if len(c.Times) == 0 {
		now := time.Now()
		return now.AddDate(0, 0, -1), now.AddDate(0, 0, 1)
	}
	from, to := c.Times[0], c.Times[0]
	for _, t := range c.Times {
		if t.Before(from) {
			from = t
		}
		if t.After(to) {
			to = t
		}
	}
	if !to.After(from) {
		return from.AddDate(0, 0, -1), to.AddDate(0, 0, 1)
	}
	return from, to
}

func (c *Trend) number(v float64) string {
	if c.Number != nil {
		return c.Number(v)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func (c *Trend) date(t time.Time) string {
	if c.Date != nil {
		return c.Date(t)
	}
	return t.In(c.loc()).Format("02/01/2006")
}

// SVG draws the chart: an <svg> element to put in a page as is.
func (c *Trend) SVG() string {
	w, h := c.size()
	g := c.Layout()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMidYMid meet" aria-labelledby="%s-t %s-d">`,
		w, h, c.id(), c.id())
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, c.id(), esc(c.Title), c.id(), esc(c.Desc))
	x0, x1 := g.X.R0, g.X.R1
	y0, y1 := g.Y.R0, g.Y.R1
	if g.Band {
		top, bottom := g.Y.Map(g.BandHi), g.Y.Map(g.BandLo)
		fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="#b8fec9" fill-opacity="0.45"><title>%s</title></rect>`,
			f(x0), f(top), f(x1-x0), f(bottom-top), esc(c.Band.Label))
	}
	// The value axis: a grid line and a label per tick, the unit above.
	for _, v := range g.ValueTicks {
		y := g.Y.Map(v)
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#dddddd" stroke-width="1"/>`, f(x0), f(y), f(x1), f(y))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" font-size="12" fill="#3a3a3a">%s</text>`, f(x0-6), f(y+4), esc(c.number(v)))
	}
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="start" font-size="12" font-weight="bold" fill="#3a3a3a">%s</text>`, f(4), f(14), esc(c.Unit))
	// The time axis.
	fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#3a3a3a" stroke-width="1"/>`, f(x0), f(y0), f(x1), f(y0))
	fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#3a3a3a" stroke-width="1"/>`, f(x0), f(y0), f(x0), f(y1))
	for _, t := range g.TimeTicks {
		x := g.X.Map(float64(t.Unix()))
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#3a3a3a" stroke-width="1"/>`, f(x), f(y0), f(x), f(y0+5))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-size="12" fill="#3a3a3a">%s</text>`, f(x), f(y0+20), esc(g.Granularity.Label(t)))
	}
	if len(c.Times) == 0 {
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-size="14" fill="#3a3a3a">%s</text>`, f((x0+x1)/2), f((y0+y1)/2), esc(c.Empty))
	}
	for i, l := range c.Lines {
		colour, dash := lineColours[i%len(lineColours)], lineDashes[i%len(lineDashes)]
		var pts []string
		for j, v := range l.Values {
			if j >= len(c.Times) || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			pts = append(pts, f(g.X.Map(float64(c.Times[j].Unix())))+","+f(g.Y.Map(v)))
		}
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"`, strings.Join(pts, " "), colour)
			if dash != "" {
				fmt.Fprintf(&b, ` stroke-dasharray="%s"`, dash)
			}
			b.WriteString(`/>`)
		}
		for j, v := range l.Values {
			if j >= len(c.Times) || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			label := c.date(c.Times[j]) + " : " + c.number(v) + " " + c.Unit
			if l.Name != "" {
				label = l.Name + " — " + label
			}
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="4" fill="%s"><title>%s</title></circle>`,
				f(g.X.Map(float64(c.Times[j].Unix()))), f(g.Y.Map(v)), colour, esc(label))
		}
	}
	// A legend when there are several lines.
	if len(c.Lines) > 1 {
		x := float64(marginLeft + 8)
		for i, l := range c.Lines {
			colour, dash := lineColours[i%len(lineColours)], lineDashes[i%len(lineDashes)]
			fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"`, f(x), f(10), f(x+24), f(10), colour)
			if dash != "" {
				fmt.Fprintf(&b, ` stroke-dasharray="%s"`, dash)
			}
			b.WriteString(`/>`)
			fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="12" fill="#3a3a3a">%s</text>`, f(x+30), f(14), esc(l.Name))
			x += 30 + float64(8*len([]rune(l.Name))) + 24
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// id is the prefix of the ids of the chart's title and description: unique in a page that
// shows several charts, as long as their titles differ.
func (c *Trend) id() string {
	var h uint32 = 2166136261
	for i := 0; i < len(c.Title); i++ {
		h = (h ^ uint32(c.Title[i])) * 16777619
	}
	return "chart-" + strconv.FormatUint(uint64(h), 36)
}

func f(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

func esc(s string) string { return escaper.Replace(s) }
