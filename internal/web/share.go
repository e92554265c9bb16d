package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/profile/share"
	"github.com/carnet-sante/carnet/internal/record"
)

// The summary shared by a one-time code (internal/profile/share): the patient makes a code on
// /moi/profil/partages, sees it once with its link, and may revoke it; a signed-in
// professional types the code (or follows the link, then confirms: a GET never spends a code)
// and receives the summary as a PDF. The code travels in a form's body, and in the link's
// path only as the patient hands it over: it is a secret, not health data, and the pages send
// no Referer.

// shareRoutes mounts the sharing pages.
func (w *Web) shareRoutes() {
	m := w.mux
	m.HandleFunc("GET /moi/profil/partages", w.patient(w.sharesPage))
	m.HandleFunc("POST /moi/profil/partages", w.patient(w.shareCreate))
	m.HandleFunc("POST /moi/profil/partages/{id}/revoquer", w.patient(w.shareRevoke))
	m.HandleFunc("GET /pro/partage", w.pro(w.shareForm))
	m.HandleFunc("GET /pro/partage/{code}", w.pro(w.shareForm))
	m.HandleFunc("POST /pro/partage", w.pro(w.shareUse))
}

type shareRow struct {
	ID, Created, Expires, State, Used string
	Active                            bool
}

type sharesView struct {
	patientPage
	Rows        []shareRow
	Code, Link  string
	Lifetime    string
	Done, Error string
}

// sharesPage: GET /moi/profil/partages.
func (w *Web) sharesPage(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	v, err := w.sharesView(r, id, req)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if r.FormValue("fait") == "revoque" {
		v.Done = v.T("share.revoked")
	}
	w.render(rw, r, http.StatusOK, "profile_shares", v)
}

func (w *Web) sharesView(r *http.Request, id auth.Identity, req record.Request) (sharesView, error) {
	v := sharesView{patientPage: w.patientPage(r, id, "share.title", "profile")}
	v.Lifetime = v.T("share.hours", int(w.d.Shares.Lifetime().Hours()))
	list, err := w.d.Shares.List(r.Context(), req.Actor, req.Actor.PatientID)
	if err != nil {
		return v, err
	}
	now := w.d.Clock.Now()
	for _, s := range list {
		st := s.StateAt(now)
		row := shareRow{ID: s.ID, Created: frDateTime(s.CreatedAt), Expires: frDateTime(s.ExpiresAt), State: v.T("share.state." + string(st)),
			Active: st == share.Active}
		if st == share.Used {
			row.Used = v.T("share.usedby", s.UsedBy, frDateTime(s.UsedAt))
		}
		v.Rows = append(v.Rows, row)
	}
	return v, nil
}

// shareCreate: POST /moi/profil/partages, a new code shown once, in this answer only.
func (w *Web) shareCreate(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	_, code, err := w.d.Shares.Create(r.Context(), req.Actor, req.Channel, req.Actor.PatientID)
	if err != nil && errs.CodeOf(err) != errs.Conflict {
		w.fail(rw, r, err)
		return
	}
	v, verr := w.sharesView(r, id, req)
	if verr != nil {
		w.fail(rw, r, verr)
		return
	}
	if err != nil {
		v.Error = v.T("share.toomany")
		w.render(rw, r, http.StatusConflict, "profile_shares", v)
		return
	}
	v.Code = share.Format(code)
	v.Link = w.publicBase(r) + "/pro/partage/" + url.PathEscape(v.Code)
	w.render(rw, r, http.StatusOK, "profile_shares", v)
}

// publicBase is the server's public address, for the link given to a professional: the
// configured one, else the scheme and host the request came to.
func (w *Web) publicBase(r *http.Request) string {
	if w.d.PublicURL != "" {
		return strings.TrimSuffix(w.d.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// shareRevoke: POST /moi/profil/partages/{id}/revoquer.
func (w *Web) shareRevoke(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if err := w.d.Shares.Revoke(r.Context(), req.Actor, req.Channel, req.Actor.PatientID, r.PathValue("id")); err != nil {
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, "/moi/profil/partages?fait=revoque", http.StatusSeeOther)
}

type shareFormView struct {
	patientPage
	Code, Error string
}

// shareForm: GET /pro/partage and /pro/partage/{code}: the form that spends a code, filled
// from the link.
func (w *Web) shareForm(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	v := shareFormView{patientPage: patientPage{Page: w.page(r, "share.pro.title"), Nav: "share"}}
	if c, ok := share.Normalize(r.PathValue("code")); ok {
		v.Code = share.Format(c)
	}
	w.render(rw, r, http.StatusOK, "pro_share", v)
}

// shareUse: POST /pro/partage, the code spent and the summary sent, read as the patient who
// gave the code (their consent) and traced as such; the use is traced naming the professional.
func (w *Web) shareUse(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	code := strings.TrimSpace(r.PostFormValue("code"))
	sh, err := w.d.Shares.Use(r.Context(), req.Actor, req.Channel, code)
	if err != nil {
		v := shareFormView{patientPage: patientPage{Page: w.page(r, "share.pro.title"), Nav: "share"}, Code: code}
		switch errs.CodeOf(err) {
		case errs.NotFound:
			v.Error = v.T("share.pro.unknown")
		case errs.Forbidden:
			v.Error = v.T("share.pro.spent")
		default:
			w.fail(rw, r, err)
			return
		}
		w.render(rw, r, statusOf(err), "pro_share", v)
		return
	}
	patient := record.Request{Actor: access.Actor{Kind: audit.ActorPatient, ID: sh.CreatedBy.ID, Name: sh.CreatedBy.Name, PatientID: sh.PatientID},
		Channel: req.Channel}
	b, err := w.summaryOf(r, patient, true)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	writePDF(rw, b, "synthese-profil-medical.pdf")
}
