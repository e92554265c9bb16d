package web

import (
	"net/http"
	"slices"
	"time"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/record"
)

// The agenda page: the care events of internal/agenda, upcoming first then past, each with a
// link to the document it comes from when there is one. The reading is the agenda service's:
// decided as a search of the record and traced.

// agendaRow is an event as the page lists it: a stay read from several reports links to each.
type agendaRow struct {
	Date, End, Kind, Title, Detail string
	Documents                      []agendaLink
}

// agendaLink is a link to a document an event comes from.
type agendaLink struct{ URL, Label string }

// agendaWindow is the period the page shows: two years back, one ahead.
const (
	agendaPast   = 2 // years
	agendaFuture = 1 // year
)

// agendaPage: GET /moi/agenda.
func (w *Web) agendaPage(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	now := w.d.Clock.Now()
	// The timeline: the events filed, and for the patient the prevention reminders of their age.
	events, err := w.d.Agenda.Timeline(r.Context(), agenda.Request{Actor: req.Actor, Channel: req.Channel, BreakGlass: req.BreakGlass},
		req.Actor.PatientID, now.AddDate(-agendaPast, 0, 0), now.AddDate(agendaFuture, 0, 0))
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v := struct {
		patientPage
		Upcoming, Past []agendaRow
		Since          string
	}{patientPage: w.patientPage(r, id, "agenda.title", "agenda"), Since: frDate(now.AddDate(-agendaPast, 0, 0))}
	for i := range events {
		e := &events[i]
		row := agendaRow{Date: eventDate(e.Start), Title: e.Title, Detail: e.Detail, Kind: e.Kind.Label()}
		if k := "agenda.kind." + string(e.Kind); catalogueHas(k) {
			row.Kind = v.T(k)
		}
		if e.Source == agenda.SourceRecord {
			// The record's stays and consultations: the kind in the reader's language, the
			// report's title as written.
			row.Title = row.Kind
			if e.What != "" {
				row.Title = v.T("agenda.derived.title", row.Kind, e.What)
			}
		}
		if !e.End.IsZero() && !e.End.Equal(e.Start) {
			row.End = eventDate(e.End)
		}
		docs := e.Documents
		if len(docs) == 0 && e.Document != "" {
			docs = []string{e.Document}
		}
		for n, d := range docs {
			l := agendaLink{URL: v.Base + "/documents/" + d, Label: v.T("agenda.document")}
			if len(docs) > 1 {
				l.Label = v.T("agenda.document.n", n+1)
			}
			row.Documents = append(row.Documents, l)
		}
		if e.Start.Before(now) {
			v.Past = append(v.Past, row)
		} else {
			v.Upcoming = append(v.Upcoming, row)
		}
	}
	slices.Reverse(v.Past) // the most recent first
	w.render(rw, r, http.StatusOK, "agenda", v)
}

// eventDate writes an event's date: a day alone when it has no time of day (midnight UTC, as
// the sources file an act's date), else the day and the time in Paris.
func eventDate(t time.Time) string {
	if t.UTC().Hour() == 0 && t.UTC().Minute() == 0 && t.UTC().Second() == 0 {
		return t.UTC().Format("02/01/2006")
	}
	return frDateTime(t)
}
