package web

import (
	"net/http"
	"strings"

	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/record"
)

// A patient (or their representative) writes first to a pharmacy, the one correspondent they
// may write to first (mail.Portal.WritePharmacy): found by name or town among the pharmacies'
// mailboxes open to patients, with a prescription attached.

type pharmacyRow struct {
	Address, Name, Organisation, Town string
	Checked                           bool
}

type pharmacyView struct {
	patientPage
	Name, Town        string // the search
	Searched          bool
	Results           []pharmacyRow
	To, Subject, Body string
	Error             string
	Done              bool
}

// MaxSubject is the form's bound of a subject (mail.CleanSubject's).
func (pharmacyView) MaxSubject() int { return mail.MaxSubject }

func (w *Web) pharmacyView(r *http.Request, id auth.Identity) pharmacyView {
	v := pharmacyView{patientPage: w.patientPage(r, id, "pharmacy.title", "messages")}
	v.Title = v.T("pharmacy.title")
	return v
}

// search fills the view's results from its search fields; a refused search is the view's error.
func (w *Web) searchPharmacies(r *http.Request, req record.Request, v *pharmacyView) error {
	if v.Name == "" && v.Town == "" {
		return nil
	}
	v.Searched = true
	found, err := w.msgs.Pharmacies(r.Context(), v.Name, v.Town)
	if errs.Is(err, errs.Invalid) {
		v.Error = v.T("pharmacy.search.invalid")
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range found {
		name := e.DisplayName
		if name == "" {
			name = e.OrganisationName
		}
		v.Results = append(v.Results, pharmacyRow{Address: e.Address, Name: name, Organisation: e.OrganisationName,
			Town: e.Town, Checked: e.Address == v.To || len(found) == 1})
	}
	return nil
}

// pharmacyForm: GET /moi/messages/pharmacie[?nom=…&commune=…].
func (w *Web) pharmacyForm(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if !w.portalOrNotFound(rw, r) {
		return
	}
	v := w.pharmacyView(r, id)
	q := r.URL.Query()
	v.Name, v.Town, v.Done = strings.TrimSpace(q.Get("nom")), strings.TrimSpace(q.Get("commune")), q.Get("fait") == "message"
	if err := w.searchPharmacies(r, req, &v); err != nil {
		w.fail(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, "messages_pharmacy", v)
}

// pharmacyWrite: POST /moi/messages/pharmacie, a multipart form with files.
func (w *Web) pharmacyWrite(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if !w.portalOrNotFound(rw, r) {
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, maxUpload+1<<20)
	files, err := formFiles(r, "fichiers")
	v := w.pharmacyView(r, id)
	v.To, v.Subject, v.Body = strings.TrimSpace(r.PostFormValue("a")), r.PostFormValue("objet"), r.PostFormValue("corps")
	v.Name, v.Town = strings.TrimSpace(r.PostFormValue("nom")), strings.TrimSpace(r.PostFormValue("commune"))
	if err == nil {
		_, err = w.msgs.WritePharmacy(r.Context(), req.Actor, req.Channel, req.Actor.PatientID, v.To, v.Subject, v.Body, files)
	}
	if err == nil {
		http.Redirect(rw, r, baseOf(r)+"/messages/pharmacie?fait=message", http.StatusSeeOther)
		return
	}
	status, text, ok := writeRefusal(v.Lang, err, "pharmacy.refused", pageError{mail.ErrNotPharmacy, "pharmacy.notpharmacy"})
	if !ok {
		w.fail(rw, r, err)
		return
	}
	v.Error = text
	if serr := w.searchPharmacies(r, req, &v); serr != nil {
		w.fail(rw, r, serr)
		return
	}
	w.render(rw, r, status, "messages_pharmacy", v)
}
