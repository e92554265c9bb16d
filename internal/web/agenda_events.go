package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
)

// The patient's own events in their agenda (issue 8): a form to add one (/moi/agenda/ajouter),
// which also lists the personal events to come with links to change or delete them, and the
// edit and delete of one. Each change is the agenda service's: decided as the patient's own
// deposit in their Espace personnel, and traced. URLs name an event by its id only; what it
// says travels in the form's body.

// agendaMoreRoutes mounts the personal events' and the feed's pages, with the agenda.
func (w *Web) agendaMoreRoutes() {
	if w.d.Agenda == nil || w.d.Profile == nil {
		return
	}
	for _, b := range []struct {
		prefix string
		wrap   func(func(http.ResponseWriter, *http.Request, auth.Identity, record.Request)) http.HandlerFunc
	}{{"/moi", w.patient}, {"/proches/{patient}", w.represented}} {
		m, p, h := w.mux, b.prefix, b.wrap
		m.HandleFunc("GET "+p+"/agenda/ajouter", h(w.personalForm))
		m.HandleFunc("POST "+p+"/agenda/ajouter", h(w.personalAdd))
		m.HandleFunc("GET "+p+"/agenda/{id}/modifier", h(w.personalForm))
		m.HandleFunc("POST "+p+"/agenda/{id}/modifier", h(w.personalEdit))
		m.HandleFunc("POST "+p+"/agenda/{id}/supprimer", h(w.personalDelete))
	}
	w.agendaFeedRoutes()
}

func agendaReq(req record.Request) agenda.Request {
	return agenda.Request{Actor: req.Actor, Channel: req.Channel, BreakGlass: req.BreakGlass}
}

// personalView is the form's page.
type personalView struct {
	patientPage
	Action, Error, Done string
	Edit                bool
	F                   personalFields
	Errs                map[string]string
	Events              []personalRow
}

// personalFields are the form's fields as written.
type personalFields struct {
	Title, Day, Start, EndDay, End, Place, Note string
	AllDay                                      bool
}

// personalRow is one personal event to come, as the form's page lists it.
type personalRow struct {
	ID, When, Title string
}

// personalLimit bounds the list of personal events to come on the form's page.
const personalLimit = 50

// personalForm: GET /moi/agenda/ajouter, and GET /moi/agenda/{id}/modifier with the event.
func (w *Web) personalForm(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	v := personalView{patientPage: w.patientPage(r, id, "agmore.add.title", "agenda"), Action: baseOf(r) + "/agenda/ajouter"}
	if eid := r.PathValue("id"); eid != "" {
		n, err := strconv.ParseInt(eid, 10, 64)
		if err != nil {
			w.notFound(rw, r)
			return
		}
		e, err := w.d.Agenda.Personal(r.Context(), agendaReq(req), req.Actor.PatientID, n)
		if err != nil {
			w.fail(rw, r, eventNotFound(err))
			return
		}
		p, _ := agenda.PersonalOf(&e)
		v.F, v.Edit, v.Action = fieldsOfPersonal(p), true, baseOf(r)+"/agenda/"+eid+"/modifier"
		v.Title = v.T("agmore.edit.title")
	} else {
		if d := r.FormValue("fait"); d != "" && catalogueHas("agmore.done."+d) {
			v.Done = v.T("agmore.done." + d)
		}
		if err := w.personalRows(r, req, &v); err != nil {
			w.fail(rw, r, err)
			return
		}
	}
	w.render(rw, r, http.StatusOK, "agenda_add", v)
}

// personalRows lists the patient's personal events to come (the reading decided and traced).
func (w *Web) personalRows(r *http.Request, req record.Request, v *personalView) error {
	now := w.d.Clock.Now()
	evs, err := w.d.Agenda.List(r.Context(), agendaReq(req), req.Actor.PatientID, now.AddDate(0, 0, -1), now.AddDate(2, 0, 0))
	if err != nil {
		return err
	}
	for i := range evs {
		e := &evs[i]
		if e.Source != agenda.SourcePersonal || len(v.Events) == personalLimit {
			continue
		}
		when := frDateTime(e.Start)
		if e.AllDay() {
			when = e.Start.UTC().Format("02/01/2006")
		}
		v.Events = append(v.Events, personalRow{ID: strconv.FormatInt(e.ID, 10), When: when, Title: e.Title})
	}
	return nil
}

// eventNotFound answers a refusal about an event as its absence: a page must not tell that an
// id is another person's, nor one the patient may not change (the refusal is traced).
func eventNotFound(err error) error {
	if errs.Is(err, errs.Forbidden) {
		return errs.E(errs.NotFound, "no such event")
	}
	return err
}

// fieldsOfPersonal writes an event into the form's fields, in Paris time.
func fieldsOfPersonal(p agenda.Personal) personalFields {
	f := personalFields{Title: p.Title, Place: p.Place, Note: p.Note, AllDay: p.AllDay}
	if p.AllDay {
		f.Day = p.Start.UTC().Format(time.DateOnly)
		if !p.End.IsZero() && !p.End.Equal(p.Start) {
			f.EndDay = p.End.UTC().Format(time.DateOnly)
		}
		return f
	}
	s := p.Start.In(paris)
	f.Day, f.Start = s.Format(time.DateOnly), s.Format("15:04")
	if !p.End.IsZero() {
		e := p.End.In(paris)
		f.End = e.Format("15:04")
		if e.Format(time.DateOnly) != f.Day {
			f.EndDay = e.Format(time.DateOnly)
		}
	}
	return f
}

// agendaDay reads a day of the form (YYYY-MM-DD), within the years an agenda holds: a year 1
// or 9999 is a typing slip, not an event (and year 1 is Go's zero time, "no date").
func agendaDay(v string) (time.Time, bool) {
	d, err := time.ParseInLocation(time.DateOnly, v, time.UTC)
	return d, err == nil && d.Year() >= 1900 && d.Year() <= 2200
}

// personalOfForm reads the form. The problems are per field, in the page's language; none
// when the map is empty.
func personalOfForm(l Lang, form url.Values) (personalFields, agenda.Personal, map[string]string) {
	f := personalFields{Title: strings.TrimSpace(form.Get("titre")), Day: form.Get("jour"), Start: form.Get("debut"),
		EndDay: form.Get("fin_jour"), End: form.Get("fin"), Place: form.Get("lieu"), Note: form.Get("note"),
		AllDay: form.Get("journee") == "1"}
	problems := map[string]string{}
	p := agenda.Personal{Title: f.Title, Place: f.Place, Note: f.Note, AllDay: f.AllDay}
	if f.Title == "" {
		problems["titre"] = l.T("agmore.err.title")
	}
	day, ok := agendaDay(f.Day)
	if !ok {
		problems["jour"] = l.T("agmore.err.day")
	}
	endDay := day
	if f.EndDay != "" {
		if endDay, ok = agendaDay(f.EndDay); !ok {
			problems["fin_jour"] = l.T("agmore.err.day")
		}
	}
	clock := func(name, v string) (int, int, bool) {
		t, err := time.Parse("15:04", v)
		if err != nil {
			problems[name] = l.T("agmore.err.time")
			return 0, 0, false
		}
		return t.Hour(), t.Minute(), true
	}
	if f.AllDay {
		p.Start = day
		if f.EndDay != "" {
			p.End = endDay
		}
	} else {
		if h, m, ok := clock("debut", f.Start); ok {
			p.Start = time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, paris)
		}
		if f.End != "" {
			if h, m, ok := clock("fin", f.End); ok {
				p.End = time.Date(endDay.Year(), endDay.Month(), endDay.Day(), h, m, 0, 0, paris)
			}
		} else if f.EndDay != "" {
			problems["fin"] = l.T("agmore.err.time")
		}
	}
	if len(problems) == 0 && !p.End.IsZero() && p.End.Before(p.Start) {
		problems["fin"] = l.T("agmore.err.order")
	}
	return f, p, problems
}

// personalAdd: POST /moi/agenda/ajouter.
func (w *Web) personalAdd(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	v := personalView{patientPage: w.patientPage(r, id, "agmore.add.title", "agenda"), Action: baseOf(r) + "/agenda/ajouter"}
	var p agenda.Personal
	v.F, p, v.Errs = personalOfForm(v.Lang, r.PostForm)
	if len(v.Errs) > 0 {
		v.Error = v.T("agmore.err.form")
		w.render(rw, r, http.StatusBadRequest, "agenda_add", v)
		return
	}
	if _, err := w.d.Agenda.AddPersonal(r.Context(), agendaReq(req), req.Actor.PatientID, p); err != nil {
		w.personalFailed(rw, r, v, err)
		return
	}
	http.Redirect(rw, r, baseOf(r)+"/agenda/ajouter?fait=ajoute", http.StatusSeeOther)
}

// personalEdit: POST /moi/agenda/{id}/modifier.
func (w *Web) personalEdit(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	eid := r.PathValue("id")
	n, err := strconv.ParseInt(eid, 10, 64)
	if err != nil {
		w.notFound(rw, r)
		return
	}
	v := personalView{patientPage: w.patientPage(r, id, "agmore.edit.title", "agenda"), Edit: true,
		Action: baseOf(r) + "/agenda/" + eid + "/modifier"}
	var p agenda.Personal
	v.F, p, v.Errs = personalOfForm(v.Lang, r.PostForm)
	if len(v.Errs) > 0 {
		v.Error = v.T("agmore.err.form")
		w.render(rw, r, http.StatusBadRequest, "agenda_add", v)
		return
	}
	if _, err := w.d.Agenda.EditPersonal(r.Context(), agendaReq(req), req.Actor.PatientID, n, p); err != nil {
		w.personalFailed(rw, r, v, eventNotFound(err))
		return
	}
	http.Redirect(rw, r, baseOf(r)+"/agenda/ajouter?fait=modifie", http.StatusSeeOther)
}

// personalDelete: POST /moi/agenda/{id}/supprimer.
func (w *Web) personalDelete(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		w.notFound(rw, r)
		return
	}
	if err := w.d.Agenda.DeletePersonal(r.Context(), agendaReq(req), req.Actor.PatientID, n); err != nil {
		w.fail(rw, r, eventNotFound(err))
		return
	}
	http.Redirect(rw, r, baseOf(r)+"/agenda/ajouter?fait=supprime", http.StatusSeeOther)
}

// personalFailed shows the form again with what the service refused, or fails as a page.
func (w *Web) personalFailed(rw http.ResponseWriter, r *http.Request, v personalView, err error) {
	switch errs.CodeOf(err) {
	case errs.Invalid, errs.Conflict:
		v.Error = v.T("agmore.err.refused", errs.MessageOf(err))
		w.render(rw, r, statusOf(err), "agenda_add", v)
	default:
		w.fail(rw, r, err)
	}
}
