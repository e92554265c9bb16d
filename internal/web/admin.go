package web

import (
	"bytes"
	"io"
	"net/http"
	"net/url"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
)

// The operator's pages. The habilitation matrix: the versions loaded, the one in force, and
// loading a new one (as `carnet access matrix load` does; the server decides with it from
// its next start, which the page says).

// operator runs h for a signed-in operator; anyone else is sent to sign in.
func (w *Web) operator(h func(rw http.ResponseWriter, r *http.Request, id auth.Identity)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		id, ok := auth.FromContext(r.Context())
		if !ok || id.Kind != account.KindOperator {
			q := url.Values{"retour": {r.URL.Path}}
			http.Redirect(rw, r, "/connexion?"+q.Encode(), http.StatusSeeOther)
			return
		}
		h(rw, r, id)
	}
}

type matrixRow struct {
	Version, LoadedAt, LoadedBy, Digest string
	Active                              bool
}

type matrixView struct {
	patientPage
	InForce  string // the version the server decides with now
	Versions []matrixRow
	TSV      string
	Done     string
	Error    string
}

// matrixPage: GET /admin/matrice.
func (w *Web) matrixPage(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	w.renderMatrix(rw, r, http.StatusOK, "", "")
}

func (w *Web) renderMatrix(rw http.ResponseWriter, r *http.Request, status int, done, problem string) {
	v := matrixView{patientPage: patientPage{Page: w.page(r, "admin.matrix.title"), Nav: "admin"}, Done: done, Error: problem,
		InForce: "—"}
	if m := w.d.Access.Matrix(); m != nil {
		v.InForce = m.Version()
	}
	active, err := w.d.Matrices.Active(r.Context())
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	var buf bytes.Buffer
	if err := active.WriteTSV(&buf); err != nil {
		w.fail(rw, r, err)
		return
	}
	v.TSV = buf.String()
	list, err := w.d.Matrices.List(r.Context())
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	for _, m := range list {
		v.Versions = append(v.Versions, matrixRow{Version: m.Version, LoadedAt: frDateTime(m.LoadedAt), LoadedBy: m.LoadedBy,
			Digest: m.Digest[:min(16, len(m.Digest))], Active: m.Active})
	}
	w.render(rw, r, status, "admin_matrix", v)
}

// matrixLoad: POST /admin/matrice, a TSV file.
func (w *Web) matrixLoad(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	r.Body = http.MaxBytesReader(rw, r.Body, 2<<20)
	f, _, err := r.FormFile("matrice")
	if err != nil {
		w.renderMatrix(rw, r, http.StatusBadRequest, "", w.page(r, "").T("admin.matrix.nofile"))
		return
	}
	defer f.Close()
	body, err := io.ReadAll(f)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	by := audit.Actor{Kind: audit.ActorOperator, ID: id.Actor().ID, Name: id.DisplayName}
	m, err := w.d.Matrices.Load(r.Context(), by, audit.ChannelWeb, body)
	if err != nil {
		if errs.Is(err, errs.Invalid) || errs.Is(err, errs.Conflict) {
			w.renderMatrix(rw, r, statusOf(err), "", errs.MessageOf(err))
			return
		}
		w.fail(rw, r, err)
		return
	}
	w.renderMatrix(rw, r, http.StatusOK, w.page(r, "").T("admin.matrix.loaded", m.Version(), len(m.Cells())), "")
}

// matrixTSV: GET /admin/matrice.tsv, the matrix in force, to edit and load again.
func (w *Web) matrixTSV(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	m, err := w.d.Matrices.Active(r.Context())
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	rw.Header().Set("Content-Type", "text/tab-separated-values; charset=utf-8")
	rw.Header().Set("Content-Disposition", `attachment; filename="matrice-`+m.Version()+`.tsv"`)
	_ = m.WriteTSV(rw)
}
