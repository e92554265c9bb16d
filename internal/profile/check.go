package profile

import (
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

// MaxFuture is how far in the future a measurement may be dated: clocks of devices and phones
// drift, time zones get mixed up. Our default.
const MaxFuture = time.Hour

// normalize checks the content of an item about to be written, for its section, and puts it
// in its stored form (trimmed text, a measurement in its measure's unit). Every problem is
// reported at once, Invalid, before anything is decided or stored.
func (s *Service) normalize(it *Item, now time.Time) error {
	var p problems
	if !it.Section.Valid() {
		return errs.E(errs.Invalid, "unknown profile section %s", quoteUnit(string(it.Section)))
	}
	sec, n := it.content()
	if n != 1 || sec != it.Section {
		return errs.E(errs.Invalid, "an item of %s holds that section's content, and only it", it.Section)
	}
	if len(it.Identifier) > maxIdentifier {
		p.add("the identifier is longer than %d bytes", maxIdentifier)
	}
	switch it.Section {
	case SectionHistory:
		c := it.Condition
		c.Text, c.Note = strings.TrimSpace(c.Text), strings.TrimSpace(c.Note)
		p.code("condition", c.Code)
		p.text("condition's name", c.Text, maxText, c.Code.IsZero())
		if c.Status == "" {
			c.Status = "active"
		}
		p.oneOf("status", c.Status, "active", "resolved")
		p.date("onset", c.Onset)
		p.date("end", c.End)
		if c.End != "" && c.Status == "active" {
			p.add("a condition that ended is resolved, not active")
		}
		p.text("note", c.Note, maxNote, false)
	case SectionTreatments:
		t := it.Treatment
		t.Text, t.Dosage, t.Reason, t.Note = strings.TrimSpace(t.Text), strings.TrimSpace(t.Dosage), strings.TrimSpace(t.Reason), strings.TrimSpace(t.Note)
		p.code("medication", t.Medication)
		p.text("medication's name", t.Text, maxText, t.Medication.IsZero())
		if t.Status == "" {
			t.Status = "active"
		}
		p.oneOf("status", t.Status, "active", "completed", "stopped")
		p.text("dosage", t.Dosage, maxText, false)
		p.text("reason", t.Reason, maxText, false)
		p.date("start", t.Start)
		p.date("end", t.End)
		p.text("note", t.Note, maxNote, false)
	case SectionAllergies:
		a := it.Allergy
		a.Text, a.Reaction, a.Note = strings.TrimSpace(a.Text), strings.TrimSpace(a.Reaction), strings.TrimSpace(a.Note)
		p.code("substance", a.Substance)
		p.text("substance's name", a.Text, maxText, a.Substance.IsZero())
		if a.Type != "" {
			p.oneOf("type", a.Type, "allergy", "intolerance")
		}
		if a.Category != "" {
			p.oneOf("category", a.Category, "food", "medication", "environment", "biologic")
		}
		if a.Criticality != "" {
			p.oneOf("criticality", a.Criticality, "low", "high", "unable-to-assess")
		}
		if a.Status == "" {
			a.Status = "active"
		}
		p.oneOf("status", a.Status, "active", "inactive", "resolved")
		p.text("reaction", a.Reaction, maxText, false)
		p.date("onset", a.Onset)
		p.text("note", a.Note, maxNote, false)
	case SectionFamilyHistory:
		f := it.Family
		f.Text, f.Note = strings.TrimSpace(f.Text), strings.TrimSpace(f.Note)
		if f.Relationship.IsZero() {
			p.add("the relative (relationship) is missing")
		}
		p.code("relationship", f.Relationship)
		p.code("condition", f.Condition)
		p.text("condition's name", f.Text, maxText, f.Condition.IsZero())
		if f.OnsetAge < 0 || f.OnsetAge > 130 {
			p.add("the age at onset is not an age in years")
		}
		p.text("note", f.Note, maxNote, false)
	case SectionVaccinations:
		v := it.Vaccination
		v.Text, v.Lot, v.Note = strings.TrimSpace(v.Text), strings.TrimSpace(v.Lot), strings.TrimSpace(v.Note)
		p.code("vaccine", v.Vaccine)
		p.text("vaccine's name", v.Text, maxText, v.Vaccine.IsZero())
		switch {
		case v.Date == "":
			p.add("the date of the vaccination is missing")
		case !v.Date.Valid():
			p.date("date of the vaccination", v.Date)
		case v.Date.Time().After(now):
			p.add("the date of the vaccination is in the future")
		}
		p.text("lot number", v.Lot, maxText, false)
		if v.Dose < 0 || v.Dose > 20 {
			p.add("the dose number is not a dose of a schedule")
		}
		p.text("note", v.Note, maxNote, false)
	case SectionMeasurements:
		if err := s.checkMeasurement(it.Measurement, now); err != nil {
			return err
		}
		it.Measurement.Note = strings.TrimSpace(it.Measurement.Note)
		p.text("note", it.Measurement.Note, maxNote, false)
	case SectionWishes:
		w := it.Wish
		w.Text = strings.TrimSpace(w.Text)
		p.oneOf("kind of wish", w.Kind, WishAdvanceDirectives, WishOrganDonation, WishOther)
		if w.Kind == WishOrganDonation {
			p.oneOf("position on organ donation", w.Consent, "yes", "no")
		} else if w.Consent != "" {
			p.add("only a wish about organ donation states a position")
		}
		// A position on organ donation may go without words; another wish is its words.
		p.text("wish", w.Text, maxNote, w.Kind != WishOrganDonation)
		p.date("date", w.Date)
	case SectionEmergencyContacts, SectionTrustedPerson:
		c := it.Contact
		c.Name, c.Phone, c.Email, c.Note = strings.TrimSpace(c.Name), strings.TrimSpace(c.Phone), strings.TrimSpace(c.Email), strings.TrimSpace(c.Note)
		p.text("name", c.Name, maxText, true)
		p.code("relationship", c.Relationship)
		p.text("phone number", c.Phone, 64, false)
		p.text("e-mail address", c.Email, maxText, false)
		if c.Email != "" && !strings.Contains(c.Email, "@") {
			p.add("the e-mail address has no @")
		}
		if it.Section == SectionEmergencyContacts && c.Phone == "" && c.Email == "" {
			p.add("an emergency contact needs a phone number or an e-mail address")
		}
		p.text("note", c.Note, maxNote, false)
	case SectionBloodGroup:
		b := it.BloodGroup
		p.oneOf("ABO group", b.ABO, "A", "B", "AB", "O")
		p.oneOf("RhD factor", b.Rh, "+", "-")
	}
	if len(p) > 0 {
		return errs.E(errs.Invalid, "%s", strings.Join(p, "; "))
	}
	return nil
}

// checkMeasurement checks a measurement against its measure, converting what was sent in
// another unit. A value outside the plausible range is refused naming the value and the range.
func (s *Service) checkMeasurement(m *Measurement, now time.Time) error {
	ms, ok := s.measures.Get(m.Code)
	if !ok {
		return errs.E(errs.Invalid, "unknown measure %s: the profile takes %s", quoteUnit(m.Code), strings.Join(s.measureCodes(), ", "))
	}
	switch {
	case m.Taken.IsZero():
		return errs.E(errs.Invalid, "when %s was taken is missing", ms.Name)
	case m.Taken.After(now.Add(MaxFuture)):
		return errs.E(errs.Invalid, "%s is dated in the future", ms.Name)
	}
	m.Taken = m.Taken.UTC()
	if len(ms.Components) > 0 {
		if m.Value != 0 || m.Unit != "" && m.Unit != ms.Unit {
			return errs.E(errs.Invalid, "%s is given by its components, not by one value", ms.Name)
		}
		m.Value, m.Unit = 0, ""
		byCode := map[string]Component{}
		for _, c := range m.Components {
			if _, dup := byCode[c.Code]; dup {
				return errs.E(errs.Invalid, "%s: component %s is given twice", ms.Name, quoteUnit(c.Code))
			}
			byCode[c.Code] = c
		}
		var out []Component
		var sent []string
		for _, cm := range ms.Components {
			c, ok := byCode[cm.Code]
			if !ok {
				return errs.E(errs.Invalid, "%s needs %s (%s)", ms.Name, cm.Name, cm.Code)
			}
			delete(byCode, cm.Code)
			v, converted, err := cm.Normalize(c.Value, c.Unit)
			if err != nil {
				return err
			}
			if converted {
				sent = append(sent, number(c.Value)+" "+c.Unit)
				v = round(v)
			}
			if err := cm.Check(v); err != nil {
				return err
			}
			out = append(out, Component{Code: cm.Code, Value: v, Unit: cm.Unit})
		}
		if len(byCode) > 0 {
			for code := range byCode {
				return errs.E(errs.Invalid, "%s has no component %s", ms.Name, quoteUnit(code))
			}
		}
		if ms.Code == "85354-9" && out[0].Value <= out[1].Value {
			return errs.E(errs.Invalid, "a systolic pressure of %s mm[Hg] is not above the diastolic pressure of %s mm[Hg]",
				number(out[0].Value), number(out[1].Value))
		}
		m.Components = out
		m.Sent = strings.Join(sent, " / ")
		return nil
	}
	if len(m.Components) > 0 {
		return errs.E(errs.Invalid, "%s has one value, no components", ms.Name)
	}
	v, converted, err := ms.Normalize(m.Value, m.Unit)
	if err != nil {
		return err
	}
	if converted {
		m.Sent = number(m.Value) + " " + m.Unit
		v = round(v)
	}
	if err := ms.Check(v); err != nil {
		return err
	}
	m.Value, m.Unit = v, ms.Unit
	return nil
}

func (s *Service) measureCodes() []string {
	var out []string
	for _, m := range s.measures.All() {
		out = append(out, m.Code)
	}
	return out
}
