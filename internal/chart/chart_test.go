package chart

import (
	"encoding/xml"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestScaleMaps(t *testing.T) {
	s := Scale{D0: 50, D1: 100, R0: 200, R1: 0} // an inverted range, as a value axis is
	for _, c := range []struct{ in, want float64 }{{50, 200}, {100, 0}, {75, 100}, {125, -100}} {
		if got := s.Map(c.in); got != c.want {
			t.Errorf("Map(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if got := (Scale{D0: 3, D1: 3, R0: 0, R1: 10}).Map(3); got != 5 {
		t.Errorf("an empty domain maps to %v, want the middle", got)
	}
}

func TestNiceDomain(t *testing.T) {
	for _, c := range []struct {
		lo, hi       float64
		d0, d1, step float64
	}{
		{61.3, 78.9, 60, 80, 5},
		{0, 10, 0, 10, 2},
		{36.4, 38.2, 36, 38.5, 0.5},
		{0.13, 0.31, 0.1, 0.35, 0.05},
		{3200, 12800, 2000, 14000, 2000},
		{-3, 7, -4, 8, 2},
	} {
		d0, d1, ticks := NiceDomain(c.lo, c.hi, 5)
		if math.Abs(d0-c.d0) > 1e-9 || math.Abs(d1-c.d1) > 1e-9 {
			t.Errorf("NiceDomain(%v, %v) = [%v, %v], want [%v, %v]", c.lo, c.hi, d0, d1, c.d0, c.d1)
		}
		if d0 > c.lo || d1 < c.hi {
			t.Errorf("NiceDomain(%v, %v) = [%v, %v] does not hold the values", c.lo, c.hi, d0, d1)
		}
		if len(ticks) < 2 || math.Abs(ticks[1]-ticks[0]-c.step) > 1e-9 || ticks[0] != d0 || math.Abs(ticks[len(ticks)-1]-d1) > 1e-9 {
			t.Errorf("NiceDomain(%v, %v) ticks %v, want a step of %v from %v to %v", c.lo, c.hi, ticks, c.step, d0, d1)
		}
		for _, v := range ticks {
			if s := strconv.FormatFloat(v, 'f', -1, 64); len(s) > 8 {
				t.Errorf("tick %v carries float noise", v)
			}
		}
	}
	// One value: an axis around it, never an empty one.
	d0, d1, ticks := NiceDomain(72, 72, 5)
	if !(d0 < 72 && d1 > 72) || len(ticks) < 2 {
		t.Errorf("one value 72: [%v, %v] %v", d0, d1, ticks)
	}
	d0, d1, _ = NiceDomain(0, 0, 5)
	if !(d0 < 0 && d1 > 0) {
		t.Errorf("one value 0: [%v, %v]", d0, d1)
	}
}

func TestTimeTicks(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 8, 30, 0, 0, time.UTC) }
	cases := []struct {
		name     string
		from, to time.Time
		g        Granularity
		first    string
	}{
		{"a week", day(2026, 3, 1), day(2026, 3, 8), Days, "02/03"},
		{"a year", day(2025, 3, 15), day(2026, 3, 10), Months, "04/2025"},
		{"years", day(2012, 6, 1), day(2026, 3, 10), Years, "2013"},
	}
	for _, c := range cases {
		ticks, g := TimeTicks(c.from, c.to, 6, time.UTC)
		if g != c.g {
			t.Errorf("%s: granularity %v, want %v", c.name, g, c.g)
			continue
		}
		if len(ticks) < 2 || len(ticks) > 14 {
			t.Errorf("%s: %d ticks", c.name, len(ticks))
		}
		if got := g.Label(ticks[0]); got != c.first {
			t.Errorf("%s: first tick %s, want %s", c.name, got, c.first)
		}
		for i, tk := range ticks {
			if tk.Before(c.from) || tk.After(c.to) {
				t.Errorf("%s: tick %v outside [%v, %v]", c.name, tk, c.from, c.to)
			}
			if i > 0 && !tk.After(ticks[i-1]) {
				t.Errorf("%s: ticks not increasing", c.name)
			}
		}
	}
	// Fourteen years: a step of several years, about as many ticks as asked.
	ticks, _ := TimeTicks(day(2012, 6, 1), day(2026, 3, 10), 6, time.UTC)
	if len(ticks) > 8 {
		t.Errorf("fourteen years in %d ticks", len(ticks))
	}
}

// parse checks that the SVG is well-formed XML and returns its text content.
func parse(t *testing.T, svg string) string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if cd, ok := tok.(xml.CharData); ok {
			text.Write(cd)
			text.WriteString("|")
		}
	}
	return text.String()
}

func TestSVG(t *testing.T) {
	times := []time.Time{time.Date(2025, 1, 10, 8, 0, 0, 0, time.UTC), time.Date(2025, 6, 2, 8, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)}
	c := Trend{Title: "Poids <kg>", Desc: "3 mesures, de 70 à 74 kg", Unit: "kg", Times: times,
		Lines: []Line{{Values: []float64{70, 74, 71.5}}}, Band: &Band{Lo: 0.3, Hi: 400, Label: "Valeurs plausibles"}}
	svg := c.SVG()
	text := parse(t, svg)
	for _, want := range []string{`role="img"`, `<title id=`, `<desc id=`, `<polyline`, `fill="#b8fec9"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("no %s in %s", want, svg)
		}
	}
	for _, want := range []string{"Poids <kg>", "3 mesures", "|kg|", "10/01/2025 : 70 kg", "01/02/2026 : 71.5 kg", "Valeurs plausibles"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in the text %s", want, text)
		}
	}
	if strings.Contains(svg, "style=") || strings.Contains(svg, "<script") {
		t.Error("the CSP forbids inline styles and scripts")
	}
	if strings.Count(svg, "<circle") != 3 {
		t.Errorf("%d points drawn", strings.Count(svg, "<circle"))
	}
	// The band is clipped to the axis.
	g := c.Layout()
	if !g.Band || g.BandLo != g.Y.D0 || g.BandHi != g.Y.D1 {
		t.Errorf("band %v–%v on the axis %v–%v", g.BandLo, g.BandHi, g.Y.D0, g.Y.D1)
	}
	// Every point is within the frame.
	w, h := c.size()
	for i, v := range c.Lines[0].Values {
		x, y := g.X.Map(float64(times[i].Unix())), g.Y.Map(v)
		if x < marginLeft || x > float64(w-marginRight) || y < marginTop || y > float64(h-marginBottom) {
			t.Errorf("point %d at (%v, %v) outside the frame", i, x, y)
		}
	}
}

func TestSVGEmptyAndOnePoint(t *testing.T) {
	empty := Trend{Title: "Glycémie", Unit: "mg/dL", Empty: "Aucune mesure", Band: &Band{Lo: 10, Hi: 2000}}
	text := parse(t, empty.SVG())
	if !strings.Contains(text, "Aucune mesure") || strings.Contains(empty.SVG(), "<circle") {
		t.Errorf("empty chart: %s", text)
	}
	one := Trend{Title: "Taille", Unit: "cm", Times: []time.Time{time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}, Lines: []Line{{Values: []float64{172}}}}
	svg := one.SVG()
	parse(t, svg)
	if strings.Count(svg, "<circle") != 1 || strings.Contains(svg, "<polyline") {
		t.Errorf("one point: %s", svg)
	}
	g := one.Layout()
	if x := g.X.Map(float64(one.Times[0].Unix())); math.Abs(x-(g.X.R0+g.X.R1)/2) > 1 {
		t.Errorf("one point at x=%v, not in the middle", x)
	}
	if !(g.Y.D0 < 172 && g.Y.D1 > 172) {
		t.Errorf("one value on the axis %v–%v", g.Y.D0, g.Y.D1)
	}
}

func TestSVGTwoLinesHaveALegend(t *testing.T) {
	c := Trend{Title: "Pression artérielle", Unit: "mmHg",
		Times: []time.Time{time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		Lines: []Line{{Name: "Systolique", Values: []float64{130, 125}}, {Name: "Diastolique", Values: []float64{85, 80}}}}
	svg := c.SVG()
	text := parse(t, svg)
	if strings.Count(svg, "<polyline") != 2 || !strings.Contains(svg, "stroke-dasharray") ||
		!strings.Contains(text, "Systolique") || !strings.Contains(text, "Diastolique — 02/03/2026 : 80 mmHg") {
		t.Errorf("two lines: %s", text)
	}
}
