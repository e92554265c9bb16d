package web

import (
	"strings"

	"github.com/carnet-sante/carnet/internal/profile"
)

// describe says an item in the page's language: a title (what it is) and its details. The PDF
// summary says the same in French (summary.Describe).
func describe(l Lang, it *profile.Item, measures *profile.Measures) (string, string) {
	opt := func(prefix, v string) string {
		if v == "" || !catalogueHas(prefix+v) {
			return ""
		}
		return l.T(prefix + v)
	}
	date := func(key string, d profile.Date) string {
		if d == "" {
			return ""
		}
		return l.T(key, frPartialDate(d))
	}
	name := func(text string, c profile.Code) string {
		switch {
		case text != "":
			return text
		case c.Display != "":
			return c.Display
		}
		return c.Code
	}
	relative := func(c profile.Code) string {
		if s := opt("profile.rel.", c.Code); s != "" {
			return s
		}
		return name("", c)
	}
	switch {
	case it.Allergy != nil:
		a := it.Allergy
		kind := l.T("profile.desc.allergy")
		if a.Type == "intolerance" {
			kind = l.T("profile.desc.intolerance")
		}
		crit := ""
		if a.Criticality == "high" || a.Criticality == "low" {
			crit = l.T("profile.desc.criticality." + a.Criticality)
		}
		status := ""
		if a.Status != "active" {
			status = opt("profile.opt.", a.Status)
		}
		return kind + l.T("profile.desc.sep") + name(a.Text, a.Substance), joinDetails(crit, status, prefixed(l.T("profile.desc.reaction"), a.Reaction),
			date("profile.desc.since", a.Onset), a.Note)
	case it.Treatment != nil:
		t := it.Treatment
		status := ""
		if t.Status != "active" {
			status = opt("profile.opt.", t.Status)
		}
		return name(t.Text, t.Medication), joinDetails(t.Dosage, prefixed(l.T("profile.desc.for"), t.Reason), date("profile.desc.since", t.Start),
			date("profile.desc.until", t.End), status, t.Note)
	case it.Condition != nil:
		c := it.Condition
		kind := l.T("profile.desc.medical")
		if c.Surgical {
			kind = l.T("profile.desc.surgical")
		}
		status := ""
		if c.Status == "resolved" {
			status = l.T("profile.opt.resolved")
		}
		return name(c.Text, c.Code), joinDetails(kind, date("profile.desc.since", c.Onset), date("profile.desc.until", c.End), status, c.Note)
	case it.Family != nil:
		f := it.Family
		age := ""
		if f.OnsetAge > 0 {
			age = l.T("profile.desc.age", f.OnsetAge)
		}
		return relative(f.Relationship) + l.T("profile.desc.sep") + name(f.Text, f.Condition), joinDetails(age, f.Note)
	case it.Vaccination != nil:
		v := it.Vaccination
		dose := ""
		if v.Dose > 0 {
			dose = l.T("profile.desc.dose", v.Dose)
		}
		return name(v.Text, v.Vaccine) + " — " + frPartialDate(v.Date), joinDetails(dose, prefixed(l.T("profile.desc.lot"), v.Lot), v.Note)
	case it.Measurement != nil:
		m := it.Measurement
		label, unit, value := m.Code, m.Unit, frNumber(l, m.Value)
		if ms, ok := measures.Get(m.Code); ok {
			label, unit = measureLabel(l, ms), ms.Display
			if len(ms.Components) > 0 {
				var vs []string
				for _, c := range ms.Components {
					v, _ := m.ValueOf(c.Code)
					vs = append(vs, frNumber(l, v))
				}
				value = strings.Join(vs, "/")
			}
		}
		return label + l.T("profile.desc.sep") + value + " " + unit, m.Note
	case it.BloodGroup != nil:
		return l.T("profile.desc.group", it.BloodGroup.String()), ""
	case it.Wish != nil:
		w := it.Wish
		switch w.Kind {
		case profile.WishOrganDonation:
			return l.T("profile.opt.consent." + w.Consent), joinDetails(w.Text, date("profile.desc.on", w.Date))
		}
		return opt("profile.opt.", w.Kind), joinDetails(w.Text, date("profile.desc.on", w.Date))
	case it.Contact != nil:
		c := it.Contact
		rel := ""
		if !c.Relationship.IsZero() {
			rel = relative(c.Relationship)
		}
		return c.Name, joinDetails(rel, c.Phone, c.Email, c.Note)
	}
	return string(it.Section), ""
}

// measureLabel names a measure in the page's language (the table of measures says it in
// French).
func measureLabel(l Lang, ms profile.Measure) string {
	if k := "measure." + ms.Code; catalogueHas(k) {
		return l.T(k)
	}
	return ms.Label
}

// frPartialDate writes a possibly partial date day first: 14/06/1995, 06/1995, 1995.
func frPartialDate(d profile.Date) string {
	switch len(d) {
	case 10:
		return string(d[8:10]) + "/" + string(d[5:7]) + "/" + string(d[0:4])
	case 7:
		return string(d[5:7]) + "/" + string(d[0:4])
	}
	return string(d)
}

func prefixed(p, v string) string {
	if strings.TrimSpace(v) == "" {
		return ""
	}
	return p + " " + v
}

func joinDetails(parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " · ")
}
