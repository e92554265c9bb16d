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
	done, problem, status, err := w.changeSpace(r, req.Actor, req.Actor.PatientID, map[string]string{
		"cloturer": "space.closed.done", "suppression": "space.deletion.done", "rouvrir": "space.reopened.done"})
	switch {
	case status == http.StatusNotFound:
		w.notFound(rw, r)
	case err != nil:
		w.fail(rw, r, err)
	default:
		w.renderSpace(rw, r, id, req, status, done, problem)
	}
}

// changeSpace applies the form's change of a space's life ({action}: cloturer, with the
// confirmation box and a mode, suppression, rouvrir) for actor, after the one decision (who
// may: the holder, a legal representative the rules allow, an operator), which leaves its
// trace. It returns what to say: done (from the keys of doneKeys) or the problem with its
// status; err for a failure of ours or a refusal; status 404 for an unknown action.
func (w *Web) changeSpace(r *http.Request, actor access.Actor, pid int64, doneKeys map[string]string) (done, problem string, status int, err error) {
	l := w.page(r, "").Lang
	action := r.PathValue("action")
	if doneKeys[action] == "" {
		return "", "", http.StatusNotFound, nil
	}
	if action == "cloturer" && r.PostFormValue("confirmation") != "1" {
		return "", l.T("space.confirm.missing"), http.StatusBadRequest, nil
	}
	if _, err := w.d.Access.Decide(r.Context(), actor, audit.ChannelWeb, pid, access.ActionAdminister,
		access.Target{Ref: "space"}, nil); err != nil {
		return "", "", 0, err
	}
	by := space.By{Actor: actor.Audit(), Channel: audit.ChannelWeb}
	switch action {
	case "cloturer":
		_, err = w.d.SpaceLife.Close(r.Context(), by, pid, r.PostFormValue("mode") == "suppression")
	case "suppression":
		_, err = w.d.SpaceLife.RequestDeletion(r.Context(), by, pid)
	case "rouvrir":
		_, err = w.d.SpaceLife.Reopen(r.Context(), by, pid)
	}
	switch {
	case err == nil:
		return l.T(doneKeys[action]), "", http.StatusOK, nil
	case errs.Is(err, errs.Conflict) || errs.Is(err, errs.Invalid):
		return "", errs.MessageOf(err), statusOf(err), nil
	}
	return "", "", 0, err
}
