package fhir

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/profile"
)

// Observation ↔ measurements and the blood group. A measurement is an Observation of its LOINC
// code with a valueQuantity in UCUM (a blood pressure, two components); the blood group is
// LOINC 882-1 with a SNOMED CT value.

// bloodGroups are the SNOMED CT findings of the ABO and RhD groups (the IPS value set
// "Results Blood Group").
var bloodGroups = map[string]string{
	"A+": "278149003", "A-": "278152006", "B+": "278150003", "B-": "278153001",
	"AB+": "278151004", "AB-": "278154007", "O+": "278147001", "O-": "278148006",
}

// observationKept are the elements of an Observation the profile keeps.
var observationKept = []string{"status", "category", "code", "subject", "effectiveDateTime", "effectiveInstant",
	"effectivePeriod", "issued", "performer", "valueQuantity", "valueCodeableConcept", "component",
	"device", "note"}

func decodeObservation(raw []byte) (profile.Item, *r4.Reference, error) {
	var r r4.Observation
	if err := decodeAs(raw, &r, observationKept...); err != nil {
		return profile.Item{}, nil, err
	}
	it, err := observationItem(&r)
	return it, r.Subject, err
}

// observationItem reads an Observation (decoded strictly) into an item: a measurement or the
// blood group. Whether the measurement is plausible is the profile's to say.
func observationItem(r *r4.Observation) (profile.Item, error) {
	var p readProblems
	switch r.Status {
	case "final", "amended", "corrected", "preliminary":
	default:
		p.add("the status %q is not kept: final (or amended, corrected, preliminary)", r.Status)
	}
	code := loincCode(&r.Code)
	if code == "" {
		p.add("code needs a LOINC coding (%s)", r4.SystemLOINC)
	}
	it := profile.Item{Identifier: identifierOf(r.Identifier, &p)}
	if code == profile.BloodGroupCode {
		it.Section = profile.SectionBloodGroup
		it.BloodGroup = bloodGroupOf(r.ValueCodeableConcept, &p)
		if r.ValueQuantity != nil || len(r.Component) > 0 {
			p.add("a blood group is a valueCodeableConcept")
		}
		return it, p.err("Observation")
	}
	m := &profile.Measurement{Code: code, Note: noteText(r.Note)}
	it.Section, it.Measurement = profile.SectionMeasurements, m
	var err error
	switch {
	case r.EffectiveDateTime != "":
		m.Taken, err = r.EffectiveDateTime.Time(time.UTC)
	case r.EffectiveInstant != "":
		m.Taken, err = r.EffectiveInstant.Time()
	case r.EffectivePeriod != nil && r.EffectivePeriod.Start != "":
		// A measure over a period (the steps of a day) is dated by its start.
		m.Taken, err = r.EffectivePeriod.Start.Time(time.UTC)
	default:
		p.add("effective[x] is required: when the measurement was taken")
	}
	if err != nil {
		p.add("effective[x] is not a date")
	}
	if r.ValueCodeableConcept != nil {
		p.add("a measurement is a valueQuantity")
	}
	if r.ValueQuantity != nil {
		m.Value, m.Unit = quantityOf(r.ValueQuantity, "valueQuantity", &p)
	}
	for i, c := range r.Component {
		cc := loincCode(&c.Code)
		if cc == "" {
			p.add("component[%d].code needs a LOINC coding", i)
		}
		if c.ValueQuantity == nil {
			p.add("component[%d] needs a valueQuantity", i)
			continue
		}
		v, u := quantityOf(c.ValueQuantity, "component["+strconv.Itoa(i)+"].valueQuantity", &p)
		m.Components = append(m.Components, profile.Component{Code: cc, Value: v, Unit: u})
	}
	return it, p.err("Observation")
}

// loincCode returns the LOINC code of a concept, "" when it has none.
func loincCode(cc *r4.CodeableConcept) string {
	for _, c := range cc.Coding {
		if c.System == r4.SystemLOINC && c.Code != "" {
			return c.Code
		}
	}
	return ""
}

// quantityOf reads a quantity's value and its UCUM unit (its code; its unit when it has no
// code).
func quantityOf(q *r4.Quantity, where string, p *readProblems) (float64, string) {
	if q.Value == "" {
		p.add("%s has no value", where)
		return 0, ""
	}
	v, err := strconv.ParseFloat(string(q.Value), 64)
	if err != nil {
		p.add("%s.value is not a number", where)
	}
	if q.Comparator != "" {
		p.add("%s: a measurement is a value, not a bound (%s)", where, q.Comparator)
	}
	if q.System != "" && q.System != r4.SystemUCUM {
		p.add("%s: the unit is a UCUM code (%s)", where, r4.SystemUCUM)
	}
	unit := q.Code
	if unit == "" {
		unit = q.Unit
	}
	return v, unit
}

// bloodGroupOf reads the blood group: a SNOMED CT finding, or its text ("A+", "O Rh-").
func bloodGroupOf(cc *r4.CodeableConcept, p *readProblems) *profile.BloodGroup {
	if cc == nil {
		p.add("a blood group needs a valueCodeableConcept")
		return &profile.BloodGroup{}
	}
	for _, c := range cc.Coding {
		if c.System != r4.SystemSNOMED {
			continue
		}
		for g, code := range bloodGroups {
			if code == c.Code {
				return &profile.BloodGroup{ABO: strings.TrimRight(g, "+-"), Rh: g[len(g)-1:]}
			}
		}
	}
	t := strings.ToUpper(strings.NewReplacer(" ", "", "RH", "", "(D)", "").Replace(strings.ToUpper(cc.Text)))
	if _, ok := bloodGroups[t]; ok {
		return &profile.BloodGroup{ABO: t[:len(t)-1], Rh: t[len(t)-1:]}
	}
	p.add("the blood group is not one of the ABO and RhD groups (SNOMED CT, or text such as A+)")
	return &profile.BloodGroup{}
}

// observationCodes are the codes of the categories asked (vital-signs, laboratory…).
func observationCodes(ms *profile.Measures, categories []string) []string {
	var out []string
	for _, c := range categories {
		c = tokenCode(c)
		for _, m := range ms.All() {
			if m.Category == c {
				out = append(out, m.Code)
			}
		}
		if c == "laboratory" {
			out = append(out, profile.BloodGroupCode)
		}
	}
	return out
}

func encodeObservation(ms *profile.Measures, it *profile.Item) r4.Resource {
	r := r4.Observation{ID: it.ID, Meta: itemMeta(it), Extension: entered(it), Identifier: identifiers(it),
		Status: r4.ObservationStatusFinal, Subject: r4.Ptr(patientRef(it)), Issued: r4.InstantOf(it.Written),
		Performer: []r4.Reference{*authorRef(it.Author, it.PatientID)}}
	if it.Version > 1 && !it.Written.Equal(it.Created) {
		r.Status = r4.ObservationStatusAmended
	}
	if it.Device != "" {
		r.Device = &r4.Reference{Reference: "Device/" + it.Device}
	}
	category := func(code string) []r4.CodeableConcept {
		return []r4.CodeableConcept{{Coding: []r4.Coding{{System: r4.SystemObservationCategory, Code: code}}}}
	}
	if b := it.BloodGroup; b != nil {
		r.Category = category("laboratory")
		r.Code = r4.CodeableConcept{Coding: []r4.Coding{{System: r4.SystemLOINC, Code: profile.BloodGroupCode,
			Display: "ABO and Rh group [Type] in Blood"}}, Text: "Groupe sanguin"}
		r.EffectiveDateTime = r4.DateTimeOf(it.At)
		r.ValueCodeableConcept = &r4.CodeableConcept{Coding: []r4.Coding{{System: r4.SystemSNOMED, Code: bloodGroups[b.String()]}},
			Text: b.String()}
		return r
	}
	m := it.Measurement
	measure, _ := ms.Get(m.Code)
	r.Category = category(measure.Category)
	r.Code = r4.CodeableConcept{Coding: []r4.Coding{{System: r4.SystemLOINC, Code: m.Code}}, Text: measure.Label}
	r.EffectiveDateTime = r4.DateTimeOf(m.Taken)
	r.Note = notes(m.Note)
	if len(m.Components) == 0 {
		r.ValueQuantity = quantity(m.Value, m.Unit, measure.Display)
		return r
	}
	for _, c := range m.Components {
		label, display := c.Code, c.Unit
		for _, cm := range measure.Components {
			if cm.Code == c.Code {
				label, display = cm.Label, cm.Display
			}
		}
		r.Component = append(r.Component, r4.ObservationComponent{
			Code:          r4.CodeableConcept{Coding: []r4.Coding{{System: r4.SystemLOINC, Code: c.Code}}, Text: label},
			ValueQuantity: quantity(c.Value, c.Unit, display)})
	}
	return r
}

// quantity writes a value in its UCUM unit (code), with the unit as people read it.
func quantity(v float64, unit, display string) *r4.Quantity {
	if display == "" {
		display = unit
	}
	return &r4.Quantity{Value: jsonNumber(v), Unit: display, System: r4.SystemUCUM, Code: unit}
}

// jsonNumber writes a value as a FHIR decimal, as short as it reads.
func jsonNumber(v float64) json.Number {
	return json.Number(strconv.FormatFloat(v, 'f', -1, 64))
}

// checkCategories checks the categories of an Observation search.
func checkCategories(cats []string) error {
	known := []string{"vital-signs", "laboratory", "activity", "survey"}
	for _, c := range cats {
		if !slices.Contains(known, tokenCode(c)) {
			return errs.E(errs.Invalid, "category %q: one of %s", tokenCode(c), strings.Join(known, ", "))
		}
	}
	return nil
}
