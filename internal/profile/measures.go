package profile

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Measure is one kind of health measurement (DOMAIN.md "Medical profile"): its LOINC code, its
// unit (UCUM), the range of values we accept as plausible, and the other units it may be sent
// in.
type Measure struct {
	Code  string // LOINC
	Label string // in French, for the pages
	// Name is how an error message names it in English, with its article: "a weight".
	Name string
	Unit string // UCUM, the unit values are stored in
	// Display is the unit as people write it ("mmHg", "°C", "bpm"), for the pages.
	Display string
	// Min and Max bound the plausible values, in Unit, inclusive.
	Min, Max float64
	// Integer: only whole values (a pain score, a count of steps).
	Integer bool
	// Category is the FHIR observation category (vital-signs, activity, laboratory, survey).
	Category string
	// Components are the values measured together, instead of one value (a blood pressure's
	// systolic and diastolic pressures); each has its own code, unit and range.
	Components []Measure
	// Units are the other UCUM units a value may be sent in, converted to Unit.
	Units []Conversion
}

// Conversion turns a value in Unit into the measure's unit: value × Factor + Offset.
type Conversion struct {
	Unit           string
	Factor, Offset float64
}

// DefaultMeasures are the measures of the profile and their plausible ranges: OUR DEFAULTS.
// The LOINC codes and UCUM units are those of DOMAIN.md; no public text sets plausible ranges,
// so each is ours, chosen to refuse a typing or unit error (a weight in grams sent as
// kilograms, a temperature in Fahrenheit sent as Celsius) without refusing any value a living
// person has been measured at: a premature newborn's weight and head circumference, a
// marathon's steps, a hyperglycaemic coma's glucose. An operator may pass other ranges
// (Policy.Measures).
var DefaultMeasures = []Measure{
	{Code: "29463-7", Label: "Poids", Name: "a weight", Unit: "kg", Display: "kg", Min: 0.3, Max: 400, Category: "vital-signs",
		Units: []Conversion{{Unit: "g", Factor: 0.001}, {Unit: "[lb_av]", Factor: 0.45359237}}},
	{Code: "8302-2", Label: "Taille", Name: "a height", Unit: "cm", Display: "cm", Min: 20, Max: 260, Category: "vital-signs",
		Units: []Conversion{{Unit: "m", Factor: 100}, {Unit: "mm", Factor: 0.1}, {Unit: "[in_i]", Factor: 2.54}}},
	{Code: "8867-4", Label: "Fréquence cardiaque", Name: "a heart rate", Unit: "/min", Display: "bpm", Min: 20, Max: 300, Category: "vital-signs",
		Units: []Conversion{{Unit: "{beats}/min", Factor: 1}}},
	{Code: "85354-9", Label: "Pression artérielle", Name: "a blood pressure", Unit: "mm[Hg]", Display: "mmHg", Category: "vital-signs",
		Components: []Measure{
			{Code: "8480-6", Label: "Pression systolique", Name: "a systolic pressure", Unit: "mm[Hg]", Display: "mmHg", Min: 40, Max: 300,
				Units: []Conversion{{Unit: "kPa", Factor: 7.500617}}},
			{Code: "8462-4", Label: "Pression diastolique", Name: "a diastolic pressure", Unit: "mm[Hg]", Display: "mmHg", Min: 20, Max: 200,
				Units: []Conversion{{Unit: "kPa", Factor: 7.500617}}},
		}},
	{Code: "8310-5", Label: "Température", Name: "a temperature", Unit: "Cel", Display: "°C", Min: 25, Max: 45, Category: "vital-signs",
		Units: []Conversion{{Unit: "[degF]", Factor: 5.0 / 9, Offset: -160.0 / 9}}},
	{Code: "39156-5", Label: "Indice de masse corporelle", Name: "a body mass index", Unit: "kg/m2", Display: "kg/m²", Min: 5, Max: 150, Category: "vital-signs"},
	{Code: "8280-0", Label: "Tour de taille", Name: "a waist circumference", Unit: "cm", Display: "cm", Min: 20, Max: 300, Category: "vital-signs",
		Units: []Conversion{{Unit: "m", Factor: 100}, {Unit: "[in_i]", Factor: 2.54}}},
	// 1 mmol/L of glucose (180.156 g/mol) is 18.0156 mg/dL.
	{Code: "2339-0", Label: "Glycémie", Name: "a blood glucose", Unit: "mg/dL", Display: "mg/dL", Min: 10, Max: 2000, Category: "laboratory",
		Units: []Conversion{{Unit: "mmol/L", Factor: 18.0156}, {Unit: "g/L", Factor: 100}}},
	{Code: "41950-7", Label: "Nombre de pas par jour", Name: "a number of steps", Unit: "/d", Display: "pas/jour", Min: 0, Max: 100000, Integer: true, Category: "activity",
		Units: []Conversion{{Unit: "{steps}/d", Factor: 1}}},
	{Code: "72514-3", Label: "Douleur (0 à 10)", Name: "a pain score", Unit: "{score}", Display: "/10", Min: 0, Max: 10, Integer: true, Category: "survey",
		Units: []Conversion{{Unit: "1", Factor: 1}}},
	{Code: "8287-5", Label: "Périmètre crânien", Name: "a head circumference", Unit: "cm", Display: "cm", Min: 15, Max: 80, Category: "vital-signs",
		Units: []Conversion{{Unit: "mm", Factor: 0.1}, {Unit: "[in_i]", Factor: 2.54}}},
}

// Measures is a table of measures, by code.
type Measures struct {
	list   []Measure
	byCode map[string]*Measure
}

// NewMeasures checks a table of measures and indexes it. An error names the faulty measure.
func NewMeasures(list []Measure) (*Measures, error) {
	list = slices.Clone(list)
	m := &Measures{list: list, byCode: map[string]*Measure{}}
	for i := range list {
		ms := &list[i]
		if ms.Code == "" || ms.Unit == "" || ms.Name == "" {
			return nil, errs.E(errs.Invalid, "measure %d: code, unit and name are required", i+1)
		}
		if m.byCode[ms.Code] != nil {
			return nil, errs.E(errs.Invalid, "measure %s is listed twice", ms.Code)
		}
		if len(ms.Components) == 0 && !(ms.Min <= ms.Max) {
			return nil, errs.E(errs.Invalid, "measure %s: its range is empty", ms.Code)
		}
		for _, c := range ms.Components {
			if c.Code == "" || c.Unit == "" || !(c.Min <= c.Max) {
				return nil, errs.E(errs.Invalid, "measure %s: component %q needs a code, a unit and a range", ms.Code, c.Code)
			}
		}
		for _, u := range ms.Units {
			if u.Unit == "" || u.Factor == 0 || u.Unit == ms.Unit {
				return nil, errs.E(errs.Invalid, "measure %s: conversion from %q is not usable", ms.Code, u.Unit)
			}
		}
		m.byCode[ms.Code] = ms
	}
	return m, nil
}

// All returns the measures in their order.
func (m *Measures) All() []Measure { return m.list }

// Get returns the measure of code.
func (m *Measures) Get(code string) (Measure, bool) {
	ms, ok := m.byCode[code]
	if !ok {
		return Measure{}, false
	}
	return *ms, true
}

// Normalize returns value, sent in unit, in the measure's own unit, and whether it was
// converted. An unknown unit is refused (Invalid) with the units accepted.
func (ms *Measure) Normalize(value float64, unit string) (float64, bool, error) {
	if unit == ms.Unit {
		return value, false, nil
	}
	accepted := []string{ms.Unit}
	for _, u := range ms.Units {
		if u.Unit == unit {
			return value*u.Factor + u.Offset, true, nil
		}
		accepted = append(accepted, u.Unit)
	}
	return 0, false, errs.E(errs.Invalid, "%s is measured in %s, not %s", trimArticle(ms.Name), strings.Join(accepted, " or "), quoteUnit(unit))
}

// Check refuses a value, in the measure's unit, outside the plausible range, naming it: "a
// weight of 900 kg is outside the plausible range 0.3–400 kg". The message repeats what the
// sender sent (never logged: the FHIR channel logs only its own failures, and a refused value
// is checked before any decision, so it reaches no trace either).
func (ms *Measure) Check(value float64) error {
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return errs.E(errs.Invalid, "%s must be a number", ms.Name)
	}
	if value < ms.Min || value > ms.Max {
		return errs.E(errs.Invalid, "%s of %s %s is outside the plausible range %s–%s %s", ms.Name, number(value), ms.Unit,
			number(ms.Min), number(ms.Max), ms.Unit)
	}
	if ms.Integer && value != math.Trunc(value) {
		return errs.E(errs.Invalid, "%s is a whole number, not %s", ms.Name, number(value))
	}
	return nil
}

// number writes a value as short as it reads: 900, 0.3, 72.45.
func number(v float64) string {
	if math.Abs(v) >= 1e15 {
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// round keeps what a conversion computes to a sensible precision: a measurement device shows
// a few significant digits, a float64 product many more.
func round(v float64) float64 {
	return math.Round(v*1e6) / 1e6
}

func trimArticle(name string) string {
	for _, a := range []string{"a ", "an "} {
		if strings.HasPrefix(name, a) {
			return name[len(a):]
		}
	}
	return name
}

func quoteUnit(u string) string {
	if u == "" {
		return "no unit"
	}
	return strconv.Quote(short(u))
}
