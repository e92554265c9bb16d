package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
)

// The holder's notification settings (/moi/notifications, and a representative's under
// /proches/{patient}/): the e-mail address and mobile number notices go to, and what those
// notices say. Changing them is an administration of the space: decided (ActionAdminister)
// and traced before anything changes, then traced again by the space service as "space.contact".

// SpaceContact changes where a space's notices go (internal/space).
type SpaceContact interface {
	SetContact(ctx context.Context, by space.By, patientID int64, email, phone string) (space.Patient, error)
}

// noticeKinds are the notices a space sends, in the order the page lists them.
var noticeKinds = []string{"created", "opened", "content", "access", "emergency", "card", "agenda", "closed"}

type notificationsView struct {
	patientPage
	Email, Phone           string
	EmailError, PhoneError string
	Done, Error            string
	Notices                []string
}

func (w *Web) notificationsRoutes() {
	if _, ok := w.d.SpaceLife.(SpaceContact); !ok {
		return
	}
	w.mux.HandleFunc("GET /moi/notifications", w.patient(w.notificationsPage))
	w.mux.HandleFunc("POST /moi/notifications", w.patient(w.notificationsChange))
	w.mux.HandleFunc("GET /proches/{patient}/notifications", w.represented(w.notificationsPage))
	w.mux.HandleFunc("POST /proches/{patient}/notifications", w.represented(w.notificationsChange))
}

// notificationsPage: GET /moi/notifications. The contact is administrative, not health data;
// the page is shown to whoever the access decision lets administer the space.
func (w *Web) notificationsPage(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	p, _, err := w.d.SpaceLife.Get(r.Context(), req.Actor.PatientID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v := w.notificationsView(r, id)
	v.Email, v.Phone = p.Email, p.Phone
	w.render(rw, r, http.StatusOK, "notifications", v)
}

func (w *Web) notificationsView(r *http.Request, id auth.Identity) notificationsView {
	v := notificationsView{patientPage: w.patientPage(r, id, "notif.title", "space")}
	for _, k := range noticeKinds {
		v.Notices = append(v.Notices, v.T("notif.kind."+k))
	}
	return v
}

// notificationsChange: POST /moi/notifications with email and telephone. Both fields are
// checked first, each problem said next to its field, and nothing changes unless both are good.
func (w *Web) notificationsChange(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	v := w.notificationsView(r, id)
	v.Email, v.Phone = r.PostFormValue("email"), r.PostFormValue("telephone")
	if _, err := space.NormaliseEmail(v.Email); err != nil {
		v.EmailError = v.T("notif.email.invalid")
	}
	if _, err := space.NormalisePhone(v.Phone); err != nil {
		v.PhoneError = v.T("notif.phone.invalid")
	}
	if v.EmailError != "" || v.PhoneError != "" {
		v.Error = v.T("notif.invalid")
		w.render(rw, r, http.StatusBadRequest, "notifications", v)
		return
	}
	pid := req.Actor.PatientID
	if _, err := w.d.Access.Decide(r.Context(), req.Actor, audit.ChannelWeb, pid, access.ActionAdminister,
		access.Target{Ref: "space"}, nil); err != nil {
		w.fail(rw, r, err)
		return
	}
	p, err := w.d.SpaceLife.(SpaceContact).SetContact(r.Context(), space.By{Actor: req.Actor.Audit(), Channel: audit.ChannelWeb}, pid, v.Email, v.Phone)
	switch {
	case errors.Is(err, space.ErrEmail):
		v.EmailError, v.Error = v.T("notif.email.invalid"), v.T("notif.invalid")
	case errors.Is(err, space.ErrPhone):
		v.PhoneError, v.Error = v.T("notif.phone.invalid"), v.T("notif.invalid")
	case errs.Is(err, errs.Conflict) || errs.Is(err, errs.Invalid):
		v.Error = errs.MessageOf(err)
	case err != nil:
		w.fail(rw, r, err)
		return
	default:
		v.Email, v.Phone, v.Done = p.Email, p.Phone, v.T("notif.done")
		w.render(rw, r, http.StatusOK, "notifications", v)
		return
	}
	w.render(rw, r, statusOf(err), "notifications", v)
}
