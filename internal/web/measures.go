package web

import (
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/chart"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/profile/summary"
	"github.com/carnet-sante/carnet/internal/record"
)

// The measurements page: a trend chart per measure taken (internal/chart, an SVG drawn on the
// server, with the plausible range shaded) and the table of the same values under it, the form
// to add one, which refuses an implausible value with the reason next to the field.

// measureRow is one measurement in a measure's table.
type measureRow struct {
	ID, Date, Value, Author string
	Hidden                  bool
}

// measureView is one measure taken, with its chart and table.
type measureView struct {
	Code, Label, Unit, Range string
	Chart                    template.HTML
	Rows                     []measureRow // newest first
}

// measuresForm is the form to add a measurement, with what was typed and the errors.
type measuresForm struct {
	Code, Value, Diastolic, Date, Time, Note string
	CodeError, ValueError, DiastolicError    string
	DateError                                string
}

type measureOption struct {
	Code, Label string
	Selected    bool
}

type measuresView struct {
	patientPage
	Measures []measureView
	Options  []measureOption
	Form     measuresForm
	Error    string
	Done     string
	More     bool
}

// frNumber writes a value the page's way: a decimal comma in French.
func frNumber(l Lang, v float64) string {
	if l == English {
		return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
	}
	return summary.Number(v)
}

// parseNumber reads a number as people type it: 72,5 or 72.5.
func parseNumber(s string) (float64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", ".")
	if s == "" || len(s) > 32 {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

func (w *Web) measuresView(r *http.Request, id auth.Identity, req record.Request, form measuresForm) (measuresView, error) {
	v := measuresView{patientPage: w.patientPage(r, id, "measures.title", "profile"), Form: form}
	if form.Date == "" {
		v.Form.Date = w.d.Clock.Now().In(paris).Format("2006-01-02")
		v.Form.Time = w.d.Clock.Now().In(paris).Format("15:04")
	}
	for _, ms := range w.d.Profile.Measures().All() {
		v.Options = append(v.Options, measureOption{Code: ms.Code, Label: measureLabel(v.Lang, ms) + " (" + ms.Display + ")", Selected: ms.Code == form.Code})
	}
	page, err := w.d.Profile.List(r.Context(), profileReq(req), profile.Query{PatientID: req.Actor.PatientID,
		Sections: []profile.Section{profile.SectionMeasurements}, Limit: profile.MaxLimit})
	if err != nil {
		return v, err
	}
	v.More = page.More
	by := map[string][]*profile.Item{}
	for i := range page.Items {
		it := &page.Items[i]
		by[it.Measurement.Code] = append(by[it.Measurement.Code], it)
	}
	for _, ms := range w.d.Profile.Measures().All() {
		items := by[ms.Code]
		if len(items) == 0 {
			continue
		}
		v.Measures = append(v.Measures, w.measureView(v.Lang, ms, items, req))
	}
	return v, nil
}

// measureView draws a measure's chart (oldest first) and its table (newest first).
func (w *Web) measureView(l Lang, ms profile.Measure, items []*profile.Item, req record.Request) measureView {
	mv := measureView{Code: ms.Code, Label: measureLabel(l, ms), Unit: ms.Display}
	comps := ms.Components
	if len(comps) == 0 {
		comps = []profile.Measure{ms}
	}
	lo, hi := comps[0].Min, comps[0].Max
	lines := make([]chart.Line, len(comps))
	for i, c := range comps {
		lines[i].Name = measureLabel(l, c)
		if len(comps) == 1 {
			lines[i].Name = ""
		}
		lo, hi = math.Min(lo, c.Min), math.Max(hi, c.Max)
	}
	mv.Range = l.T("measures.range", frNumber(l, lo), frNumber(l, hi), ms.Display)
	var times []time.Time
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		times = append(times, it.Measurement.Taken)
		for j, c := range comps {
			val, _ := it.Measurement.ValueOf(c.Code)
			lines[j].Values = append(lines[j].Values, val)
		}
	}
	for _, it := range items {
		var vals []string
		for _, c := range comps {
			val, _ := it.Measurement.ValueOf(c.Code)
			vals = append(vals, frNumber(l, val))
		}
		mv.Rows = append(mv.Rows, measureRow{ID: it.ID, Date: frDateTime(it.Measurement.Taken), Value: strings.Join(vals, "/") + " " + ms.Display,
			Author: authorName(l, it.Author, req.Actor), Hidden: it.Hidden})
	}
	first, last := mv.Rows[len(mv.Rows)-1], mv.Rows[0]
	tr := chart.Trend{
		Title:  l.T("measures.chart.title", mv.Label),
		Desc:   l.T("measures.chart.desc", len(items), first.Date, first.Value, last.Date, last.Value, mv.Range),
		Unit:   ms.Display,
		Times:  times,
		Lines:  lines,
		Band:   &chart.Band{Lo: lo, Hi: hi, Label: mv.Range},
		Empty:  l.T("measures.none"),
		Number: func(v float64) string { return frNumber(l, v) },
		Date:   frDateTime,
		Loc:    paris,
	}
	mv.Chart = svg(tr.SVG())
	return mv
}

// measuresPage: GET /moi/profil/mesures.
func (w *Web) measuresPage(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	v, err := w.measuresView(r, id, req, measuresForm{})
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if d := r.FormValue("fait"); d != "" && catalogueHas("measures.done."+d) {
		v.Done = v.T("measures.done." + d)
	}
	w.render(rw, r, http.StatusOK, "profile_measures", v)
}

// measureAdd: POST /moi/profil/mesures. What the form says is checked here first, each problem
// next to its field in the page's language (an implausible value with the plausible range);
// then the service checks again and decides.
func (w *Web) measureAdd(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	l := language(r)
	f := measuresForm{Code: r.PostFormValue("mesure"), Value: r.PostFormValue("valeur"), Diastolic: r.PostFormValue("diastolique"),
		Date: r.PostFormValue("date"), Time: r.PostFormValue("heure"), Note: strings.TrimSpace(r.PostFormValue("note"))}
	ms, ok := w.d.Profile.Measures().Get(f.Code)
	if !ok {
		f.CodeError = l.T("measures.err.measure")
	}
	check := func(m profile.Measure, text string) (float64, string) {
		v, ok := parseNumber(text)
		switch {
		case strings.TrimSpace(text) == "":
			return 0, l.T("profile.err.required")
		case !ok:
			return 0, l.T("measures.err.number")
		case v < m.Min || v > m.Max:
			return 0, l.T("measures.err.range", frNumber(l, v), m.Display, frNumber(l, m.Min), frNumber(l, m.Max), m.Display)
		case m.Integer && v != math.Trunc(v):
			return 0, l.T("measures.err.integer")
		}
		return v, ""
	}
	m := profile.Measurement{Code: ms.Code, Note: f.Note}
	if ok {
		if len(ms.Components) == 2 {
			var sys, dia float64
			sys, f.ValueError = check(ms.Components[0], f.Value)
			dia, f.DiastolicError = check(ms.Components[1], f.Diastolic)
			if f.ValueError == "" && f.DiastolicError == "" && sys <= dia {
				f.DiastolicError = l.T("measures.err.pressure")
			}
			m.Components = []profile.Component{{Code: ms.Components[0].Code, Value: sys, Unit: ms.Components[0].Unit},
				{Code: ms.Components[1].Code, Value: dia, Unit: ms.Components[1].Unit}}
		} else {
			m.Value, f.ValueError = check(ms, f.Value)
			m.Unit = ms.Unit
			if f.Diastolic != "" {
				f.DiastolicError = l.T("measures.err.onlypressure")
			}
		}
	}
	if f.Time == "" {
		f.Time = "12:00"
	}
	taken, err := time.ParseInLocation("2006-01-02 15:04", f.Date+" "+f.Time, paris)
	switch {
	case f.Date == "":
		f.DateError = l.T("profile.err.required")
	case err != nil:
		f.DateError = l.T("measures.err.date")
	case taken.After(w.d.Clock.Now().Add(profile.MaxFuture)):
		f.DateError = l.T("measures.err.future")
	}
	m.Taken = taken
	if len(f.Note) > 4096 {
		f.CodeError = l.T("profile.err.long")
	}
	invalid := f.CodeError != "" || f.ValueError != "" || f.DiastolicError != "" || f.DateError != ""
	if !invalid {
		_, err := w.d.Profile.Add(r.Context(), profileReq(req), req.Actor.PatientID, profile.Item{Section: profile.SectionMeasurements, Measurement: &m})
		if err == nil {
			http.Redirect(rw, r, baseOf(r)+"/profil/mesures?fait=ajoute", http.StatusSeeOther)
			return
		}
		if errs.CodeOf(err) != errs.Invalid && errs.CodeOf(err) != errs.Conflict {
			w.fail(rw, r, err)
			return
		}
		f.ValueError = l.T("profile.err.refused", errs.MessageOf(err))
	}
	v, err := w.measuresView(r, id, req, f)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v.Error = v.T("profile.err.form")
	w.render(rw, r, http.StatusBadRequest, "profile_measures", v)
}
