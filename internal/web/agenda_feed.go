package web

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
)

// The agenda's subscription (issue 8): the patient makes a secret feed URL for their calendar
// app on /moi/agenda/abonnement, renews or revokes it, chooses what it shows, and sets the
// day-before e-mail reminders. GET /agenda/{secret}.ics is the feed, fetched without a session:
// the agenda service resolves the secret (only its hash is stored), decides the reading as the
// patient's and traces it. Request logs name the route pattern, never the path (see
// internal/server), so the secret never reaches a log.

// What the feed shows is the patient's choice (agenda.FeedOptions): the details, and the
// stays and consultations read from the record, each off unless ticked; the choice may be
// changed without renewing the address.
//
// agendaFeedRoutes mounts the subscription page (the holder's own: a feed and its e-mails
// are the person's, not their representative's) and the feed.
func (w *Web) agendaFeedRoutes() {
	w.mux.HandleFunc("GET /moi/agenda/abonnement", w.patient(w.feedPage))
	// One POST route, the action in the form: /moi/agenda/{id}/… are the events'.
	w.mux.HandleFunc("POST /moi/agenda/abonnement", w.patient(w.feedChange))
	w.mux.HandleFunc("GET /agenda/{file}", w.feedICS)
}

// feedView is the subscription page.
type feedView struct {
	patientPage
	Settings agenda.Settings
	Created  string // the date the current feed was made
	// URL and WebCal are the feed's address, shown once, right after it is made. WebCal is
	// our own URL with the webcal scheme, which html/template would otherwise neutralise.
	URL    string
	WebCal template.URL
	Done   string
}

// feedPage: GET /moi/agenda/abonnement.
func (w *Web) feedPage(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	w.renderFeed(rw, r, id, req, "", "")
}

func (w *Web) renderFeed(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request, token, done string) {
	v := feedView{patientPage: w.patientPage(r, id, "agfeed.title", "agenda")}
	st, err := w.d.Agenda.Settings(r.Context(), agendaReq(req), req.Actor.PatientID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v.Settings = st
	if st.Feed {
		v.Created = frDate(st.FeedCreatedAt)
	}
	if token != "" {
		v.URL = strings.TrimSuffix(w.d.PublicURL, "/") + "/agenda/" + token + ".ics"
		if rest, ok := strings.CutPrefix(v.URL, "https://"); ok {
			v.WebCal = template.URL("webcal://" + rest)
		}
	}
	if done == "" {
		if d := r.FormValue("fait"); d != "" && catalogueHas("agfeed.done."+d) {
			done = d
		}
	}
	if done != "" {
		v.Done = v.T("agfeed.done." + done)
	}
	// The page may show a secret: no cache keeps it.
	rw.Header().Set("Cache-Control", "no-store")
	w.render(rw, r, http.StatusOK, "agenda_feed", v)
}

// feedChange: POST /moi/agenda/abonnement, action creer, revoquer or rappels.
func (w *Web) feedChange(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	ar, pid := agendaReq(req), req.Actor.PatientID
	switch r.PostFormValue("action") {
	case "creer":
		token, err := w.d.Agenda.NewFeed(r.Context(), ar, pid, feedOptionsOf(r))
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		// Shown here, once: the page is the answer to the POST, so the secret is in no URL.
		w.renderFeed(rw, r, id, req, token, "cree")
		return
	case "contenu":
		// What the feed shows, its address kept.
		if err := w.d.Agenda.SetFeedOptions(r.Context(), ar, pid, feedOptionsOf(r)); err != nil {
			w.fail(rw, r, err)
			return
		}
		http.Redirect(rw, r, "/moi/agenda/abonnement?fait=contenu", http.StatusSeeOther)
	case "revoquer":
		if err := w.d.Agenda.RevokeFeed(r.Context(), ar, pid); err != nil {
			w.fail(rw, r, err)
			return
		}
		http.Redirect(rw, r, "/moi/agenda/abonnement?fait=revoque", http.StatusSeeOther)
	case "rappels":
		on := r.PostFormValue("courriel") == "1"
		if err := w.d.Agenda.SetReminders(r.Context(), ar, pid, on); err != nil {
			w.fail(rw, r, err)
			return
		}
		done := "rappels-off"
		if on {
			done = "rappels-on"
		}
		http.Redirect(rw, r, "/moi/agenda/abonnement?fait="+done, http.StatusSeeOther)
	default:
		w.notFound(rw, r)
	}
}

// feedOptionsOf reads what the feed is to show from the form: nothing the patient did not
// tick (the stays and consultations of the record are off unless chosen).
func feedOptionsOf(r *http.Request) agenda.FeedOptions {
	return agenda.FeedOptions{Details: r.PostFormValue("details") == "1", Care: r.PostFormValue("sejours") == "1"}
}

// feedICS: GET /agenda/{secret}.ics, the feed.
func (w *Web) feedICS(rw http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutSuffix(r.PathValue("file"), ".ics")
	if !ok {
		w.notFound(rw, r)
		return
	}
	f, err := w.d.Agenda.FeedEvents(r.Context(), token)
	if err != nil {
		if errs.Is(err, errs.NotFound) || errs.Is(err, errs.Forbidden) {
			// No such feed, or its space no longer lets it be read (closed: the refusal is
			// traced). A plain answer: an error page would carry the path, the secret tried,
			// in its links.
			http.Error(rw, "no such calendar feed", http.StatusNotFound)
			return
		}
		w.d.Log.Error("agenda feed failed", "route", r.Pattern, "err", err)
		http.Error(rw, "the calendar feed failed", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	rw.Header().Set("Content-Disposition", `inline; filename="agenda.ics"`)
	rw.Header().Set("Cache-Control", "private, no-store")
	rw.Write(agenda.ICS(f, w.d.Clock.Now()))
}
