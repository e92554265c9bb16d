package web

import (
	"context"
	"net/http"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
)

// The holder closes their space (its data kept 10 years, then deleted), asks for deletion
// (within 3 months), or reopens it while it is kept (DOMAIN.md "Life of a patient space"),
// after a page that says what each choice does.

// SpaceLife changes the state of a space (internal/space).
type SpaceLife interface {
	Get(ctx context.Context, patientID int64) (space.Patient, space.Space, error)
	Close(ctx context.Context, by space.By, patientID int64, deletion bool) (space.Space, error)
	RequestDeletion(ctx context.Context, by space.By, patientID int64) (space.Space, error)
	Reopen(ctx context.Context, by space.By, patientID int64) (space.Space, error)
}

type spaceView struct {
	patientPage
	State             string
	Open, Closed      bool
	DeletionRequested bool
	PurgeAt           string
	Done, Error       string
}

// spacePage: GET /moi/espace.
func (w *Web) spacePage(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	w.renderSpace(rw, r, id, req, http.StatusOK, "", "")
}

func (w *Web) renderSpace(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request, status int, done, problem string) {
	_, sp, err := w.d.SpaceLife.Get(r.Context(), req.Actor.PatientID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v := spaceView{patientPage: w.patientPage(r, id, "space.title", "space"), Open: sp.State == space.Open, Closed: sp.State == space.Closed,
		DeletionRequested: sp.DeletionRequested, PurgeAt: frDate(sp.PurgeAt), Done: done, Error: problem}
	v.State = v.T("state." + string(sp.State))
	w.render(rw, r, status, "space", v)
}

// spaceChange: POST /moi/espace/{action}: cloturer (mode archive or suppression), suppression,
// rouvrir. Closing asks for an explicit confirmation.
func (w *Web) spaceChange(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	by := space.By{Actor: req.Actor.Audit(), Channel: audit.ChannelWeb}
	pid := req.Actor.PatientID
	l := w.page(r, "").Lang
	var err error
	var done string
	action := r.PathValue("action")
	if action != "cloturer" && action != "suppression" && action != "rouvrir" {
		w.notFound(rw, r)
		return
	}
	if action == "cloturer" && r.PostFormValue("confirmation") != "1" {
		w.renderSpace(rw, r, id, req, http.StatusBadRequest, "", l.T("space.confirm.missing"))
		return
	}
	// The one decision says who may change the space's life (the holder, a legal
	// representative the rules allow), and leaves its trace.
	if _, err := w.d.Access.Decide(r.Context(), req.Actor, audit.ChannelWeb, pid, access.ActionAdminister,
		access.Target{Ref: "space"}, nil); err != nil {
		w.fail(rw, r, err)
		return
	}
	switch action {
	case "cloturer":
		deletion := r.PostFormValue("mode") == "suppression"
		_, err = w.d.SpaceLife.Close(r.Context(), by, pid, deletion)
		done = l.T("space.closed.done")
	case "suppression":
		_, err = w.d.SpaceLife.RequestDeletion(r.Context(), by, pid)
		done = l.T("space.deletion.done")
	case "rouvrir":
		_, err = w.d.SpaceLife.Reopen(r.Context(), by, pid)
		done = l.T("space.reopened.done")
	}
	switch {
	case err == nil:
		w.renderSpace(rw, r, id, req, http.StatusOK, done, "")
	case errs.Is(err, errs.Conflict) || errs.Is(err, errs.Invalid):
		w.renderSpace(rw, r, id, req, statusOf(err), "", errs.MessageOf(err))
	default:
		w.fail(rw, r, err)
	}
}
