package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
)

// A legal representative (a parent of a minor, a guardian) signs in as themselves and acts in
// the space of the person they represent under /proches/{patient}/…: the same pages as their
// own, each request checking that the representation is in force now (space.ActsFor: a
// parent's ends at the child's majority) and acting as the representative, so that the access
// decision applies what a minor keeps from their parents and the trail names the
// representative.

// Representation tells who represents whom (internal/space).
type Representation interface {
	ActsFor(ctx context.Context, representativeID, patientID int64) (space.Role, error)
	Represented(ctx context.Context, representativeID int64) ([]space.Representative, error)
}

// represented runs h for a signed-in patient acting for the person of the path's {patient}.
func (w *Web) represented(h func(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		id, ok := auth.FromContext(r.Context())
		if !ok || id.Kind != account.KindPatient {
			q := url.Values{"retour": {r.URL.Path}}
			http.Redirect(rw, r, "/connexion?"+q.Encode(), http.StatusSeeOther)
			return
		}
		pid, err := strconv.ParseInt(r.PathValue("patient"), 10, 64)
		if err != nil || pid <= 0 || w.d.Representation == nil {
			w.fail(rw, r, errs.E(errs.NotFound, "no such space"))
			return
		}
		role, err := w.d.Representation.ActsFor(r.Context(), id.PatientID, pid)
		if err != nil {
			// Not (or no longer) their representative: the same answer as a space that does
			// not exist, so that the page reveals nothing.
			w.fail(rw, r, errs.E(errs.NotFound, "no such space"))
			return
		}
		holder, _, err := w.d.Spaces.Get(r.Context(), pid)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		self := id.Actor()
		actor := access.Actor{Kind: audit.ActorRepresentative, ID: self.ID, Name: self.Name, PatientID: pid, Role: access.Role(role),
			RepresentsMinor: holder.AgeAt(w.d.Clock.Now()) < 18, RepresentationCurrent: true}
		h(rw, r, id, record.Request{Actor: actor, Channel: audit.ChannelWeb})
	}
}

// representedRoutes mounts the pages of a represented person's space.
func (w *Web) representedRoutes() {
	m := w.mux
	m.HandleFunc("GET /proches/{patient}", w.represented(w.me))
	m.HandleFunc("GET /proches/{patient}/documents", w.represented(w.documents))
	m.HandleFunc("POST /proches/{patient}/documents", w.represented(w.upload))
	m.HandleFunc("GET /proches/{patient}/documents/{id}", w.represented(w.documentView))
	m.HandleFunc("GET /proches/{patient}/documents/{id}/contenu", w.represented(w.documentContent))
	m.HandleFunc("POST /proches/{patient}/documents/{id}/masquer", w.represented(w.mask(true)))
	m.HandleFunc("POST /proches/{patient}/documents/{id}/demasquer", w.represented(w.mask(false)))
	m.HandleFunc("GET /proches/{patient}/historique", w.represented(w.trailPage))
	m.HandleFunc("GET /proches/{patient}/professionnels", w.represented(w.accessPage))
	m.HandleFunc("POST /proches/{patient}/professionnels/{action}", w.represented(w.accessChange))
	m.HandleFunc("GET /proches/{patient}/export", w.represented(w.export))
	m.HandleFunc("GET /proches/{patient}/espace", w.represented(w.spacePage))
	m.HandleFunc("POST /proches/{patient}/espace/{action}", w.represented(w.spaceChange))
}
