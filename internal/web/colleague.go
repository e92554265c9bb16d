package web

import (
	"net/http"
	"strings"

	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/record"
)

// A professional writes to a colleague from the web (issue 7: "write to the patient or a
// colleague"), from their MSSanté PER mailbox as their mail client would: to a mailbox of
// ours or of another operator of the trust space. The address comes from the directory page's
// link (/pro/annuaire) or is typed; a patient's address is refused here (a patient is written
// to from their record's page, after the access decision).

type colleagueView struct {
	patientPage
	To, Subject, Body string
	Error             string
	Done              bool
}

// MaxSubject is the form's bound of a subject (mail.CleanSubject's).
func (colleagueView) MaxSubject() int { return mail.MaxSubject }

// colleagueForm: GET /pro/messages/nouveau[?a=address].
func (w *Web) colleagueForm(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if !w.portalOrNotFound(rw, r) {
		return
	}
	v := colleagueView{patientPage: patientPage{Page: w.page(r, "colleague.title"), Nav: "colleague"},
		To: strings.TrimSpace(r.URL.Query().Get("a")), Done: r.URL.Query().Get("fait") == "message"}
	w.render(rw, r, http.StatusOK, "messages_colleague", v)
}

// colleagueWrite: POST /pro/messages/nouveau, a multipart form with files.
func (w *Web) colleagueWrite(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if !w.portalOrNotFound(rw, r) {
		return
	}
	v := colleagueView{patientPage: patientPage{Page: w.page(r, "colleague.title"), Nav: "colleague"}}
	files, err := formFiles(r, "fichiers")
	v.To, v.Subject, v.Body = strings.TrimSpace(r.PostFormValue("a")), r.PostFormValue("objet"), r.PostFormValue("corps")
	if err == nil {
		_, err = w.msgs.WriteColleague(r.Context(), req.Actor, v.To, v.Subject, v.Body, files)
	}
	if err == nil {
		http.Redirect(rw, r, "/pro/messages/nouveau?fait=message", http.StatusSeeOther)
		return
	}
	status, text, ok := writeRefusal(v.Lang, err, "pro.write.refused", pageError{mail.ErrPatientAddress, "colleague.patient"})
	if !ok {
		w.fail(rw, r, err)
		return
	}
	v.Error = text
	w.render(rw, r, status, "messages_colleague", v)
}
