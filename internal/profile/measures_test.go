package profile_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// The table of measures: the 11 LOINC codes of DOMAIN.md with their UCUM units, each range's
// bounds accepted and just past them refused.
func TestMeasureRanges(t *testing.T) {
	m, err := profile.NewMeasures(profile.DefaultMeasures)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"29463-7": "kg", "8302-2": "cm", "8867-4": "/min", "85354-9": "mm[Hg]", "8310-5": "Cel",
		"39156-5": "kg/m2", "8280-0": "cm", "2339-0": "mg/dL", "41950-7": "/d", "72514-3": "{score}", "8287-5": "cm"}
	if len(m.All()) != len(want) {
		t.Errorf("%d measures, want %d", len(m.All()), len(want))
	}
	var cases []profile.Measure
	for code, unit := range want {
		ms, ok := m.Get(code)
		if !ok || ms.Unit != unit {
			t.Errorf("%s: %+v", code, ms)
			continue
		}
		if len(ms.Components) == 0 {
			cases = append(cases, ms)
		}
		cases = append(cases, ms.Components...)
	}
	for _, ms := range cases {
		t.Run(ms.Code, func(t *testing.T) {
			step := 0.01
			if ms.Integer {
				step = 1
			}
			for _, c := range []struct {
				v  float64
				ok bool
			}{{ms.Min, true}, {ms.Max, true}, {(ms.Min + ms.Max) / 2, !ms.Integer || (ms.Min+ms.Max)/2 == math.Trunc((ms.Min+ms.Max)/2)},
				{ms.Min - step, false}, {ms.Max + step, false}, {math.NaN(), false}, {math.Inf(1), false}} {
				err := ms.Check(c.v)
				if (err == nil) != c.ok {
					t.Errorf("%v: %v", c.v, err)
				}
				if err != nil && !errs.Is(err, errs.Invalid) {
					t.Errorf("%v: %v is not Invalid", c.v, err)
				}
				if !c.ok && !math.IsNaN(c.v) && !math.IsInf(c.v, 0) && !strings.Contains(errs.MessageOf(err), ms.Name) {
					t.Errorf("%v: the message does not name the measure: %v", c.v, err)
				}
			}
		})
	}
	w, _ := m.Get("29463-7")
	if err := w.Check(900); errs.MessageOf(err) != "a weight of 900 kg is outside the plausible range 0.3–400 kg" {
		t.Errorf("message: %v", err)
	}
	pain, _ := m.Get("72514-3")
	if err := pain.Check(3.5); err == nil || !strings.Contains(err.Error(), "whole number") {
		t.Errorf("pain 3.5: %v", err)
	}
}

// Values sent in another unit are converted to the measure's; an unknown unit is refused with
// the units accepted.
func TestMeasureUnits(t *testing.T) {
	m, err := profile.NewMeasures(profile.DefaultMeasures)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		code, unit string
		in, out    float64
		converted  bool
	}{
		{"2339-0", "mmol/L", 5.5, 99.0858, true},
		{"2339-0", "mg/dL", 99, 99, false},
		{"8310-5", "[degF]", 98.6, 37, true},
		{"29463-7", "g", 3250, 3.25, true},
		{"8302-2", "m", 1.72, 172, true},
	} {
		ms, _ := m.Get(c.code)
		got, conv, err := ms.Normalize(c.in, c.unit)
		if err != nil || math.Abs(got-c.out) > 1e-9 || conv != c.converted {
			t.Errorf("%s %v %s: %v %v %v", c.code, c.in, c.unit, got, conv, err)
		}
	}
	w, _ := m.Get("29463-7")
	if _, _, err := w.Normalize(70, "lb"); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `weight is measured in kg or g or [lb_av], not "lb"`) {
		t.Errorf("unknown unit: %v", err)
	}
	for _, bad := range [][]profile.Measure{
		{{Code: "1", Name: "a", Unit: "kg", Min: 2, Max: 1}},
		{{Code: "1", Name: "a", Unit: "kg", Max: 1}, {Code: "1", Name: "b", Unit: "kg", Max: 1}},
		{{Code: "1", Name: "a", Unit: "kg", Max: 1, Units: []profile.Conversion{{Unit: "g"}}}},
		{{Code: "1", Unit: "kg"}},
	} {
		if _, err := profile.NewMeasures(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("table %+v accepted: %v", bad, err)
		}
	}
}

// A measurement goes through the same checks on its way into the profile: converted, refused
// with the reason, never traced when refused.
func TestMeasurementChecks(t *testing.T) {
	e := newEnv(t)
	me := holder(e.pid)
	m := func(code string, v float64, unit string, at time.Time, comps ...profile.Component) profile.Item {
		return profile.Item{Section: profile.SectionMeasurements, Measurement: &profile.Measurement{Code: code, Value: v, Unit: unit, Taken: at, Components: comps}}
	}
	now := recordtest.T0
	glucose := e.add(t, me, m("2339-0", 5.5, "mmol/L", now))
	if g := glucose.Measurement; g.Value != 99.0858 || g.Unit != "mg/dL" || g.Sent != "5.5 mmol/L" {
		t.Errorf("glucose: %+v", g)
	}
	n := len(e.Traces(t, e.pid))
	for _, c := range []struct {
		name string
		it   profile.Item
		want string
	}{
		{"implausible", m("29463-7", 900, "kg", now), "a weight of 900 kg is outside the plausible range 0.3–400 kg"},
		{"grams as kilograms", m("29463-7", 900000, "g", now), "a weight of 900 kg is outside"},
		{"unknown code", m("12345-6", 1, "kg", now), "unknown measure"},
		{"unit mismatch", m("8867-4", 70, "kg", now), "heart rate is measured in /min"},
		{"future", m("8867-4", 70, "/min", now.Add(2*time.Hour)), "in the future"},
		{"undated", m("8867-4", 70, "/min", time.Time{}), "is missing"},
		{"pressure without diastolic", m("85354-9", 0, "", now, profile.Component{Code: "8480-6", Value: 120, Unit: "mm[Hg]"}), "needs a diastolic pressure"},
		{"pressure upside down", m("85354-9", 0, "", now, profile.Component{Code: "8480-6", Value: 80, Unit: "mm[Hg]"},
			profile.Component{Code: "8462-4", Value: 120, Unit: "mm[Hg]"}), "is not above the diastolic"},
		{"pressure with one value", m("85354-9", 120, "mm[Hg]", now), "by its components"},
		{"steps with a fraction", m("41950-7", 1000.5, "/d", now), "whole number"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.prof.Add(ctx, me, e.pid, c.it)
			if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.MessageOf(err), c.want) {
				t.Errorf("%v, want %q", err, c.want)
			}
		})
	}
	if len(e.Traces(t, e.pid)) != n {
		t.Error("refused values were traced")
	}
}
