package web

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
)

// The operator's directory page (/admin/annuaire): the MSSanté allowlist in force, refreshed
// from the file the ANS publishes (an unreadable file is refused with its reason and the list
// in force stays), and a search of the mailbox directory, "liste rouge" included, where a
// mailbox is hidden or shown. Each change is traced as the operator by the mail service. The
// directory holds no health data; patients' mailboxes are never listed.

// MailAdmin is what the page needs of the messaging (mail.Service).
type MailAdmin interface {
	Directory
	AllowlistStatus(ctx context.Context) (mail.AllowlistStatus, error)
	RefreshAllowlist(ctx context.Context, by mail.By, r io.Reader) (mail.AllowlistReport, error)
	SetHidden(ctx context.Context, by mail.By, mailbox string, hidden bool) error
}

// SetMailAdmin gives the operator's pages the messaging, which `carnet serve` starts after
// the pages. Until it is set, the directory page is not found.
func (w *Web) SetMailAdmin(m MailAdmin) { w.mailAdmin = m }

// allowlistMaxUpload bounds the allowlist file sent through the page (the published one is
// a few MB; mail.DecodeAllowlist refuses more than 64 MiB anyway).
const allowlistMaxUpload = 32 << 20

// adminDirLimit is the number of mailboxes a search shows: the operator refines, not pages.
const adminDirLimit = 50

func (w *Web) adminDirectoryRoutes() {
	w.mux.HandleFunc("GET /admin/annuaire", w.operator(w.adminDirectory))
	w.mux.HandleFunc("POST /admin/annuaire/liste-blanche", w.operator(w.adminAllowlist))
	w.mux.HandleFunc("POST /admin/annuaire/visibilite", w.operator(w.adminHide))
}

type adminDirRow struct {
	Address, Kind, Name, IdNat, Organisation, Town string
	Hidden                                         bool
}

type adminDirView struct {
	patientPage
	Imported                       bool
	ImportedAt, GeneratedAt        string
	Domains, Entries               string
	Report                         []string // what the refresh just did
	Done, Error                    string
	Name, Address, RPPS, Org, Town string
	Searched, More                 bool
	Rows                           []adminDirRow
}

// adminDirCriteria reads the search's criteria from a query or a form.
func adminDirCriteria(v url.Values) mail.DirectoryQuery {
	return mail.DirectoryQuery{Name: strings.TrimSpace(v.Get("nom")), Address: strings.TrimSpace(v.Get("adresse")),
		RPPS: strings.TrimSpace(v.Get("rpps")), Organisation: strings.TrimSpace(v.Get("organisation")), Town: strings.TrimSpace(v.Get("ville"))}
}

// adminDirectory: GET /admin/annuaire, the allowlist and the search's results, if criteria.
func (w *Web) adminDirectory(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	if w.mailAdmin == nil {
		w.notFound(rw, r)
		return
	}
	w.renderAdminDir(rw, r, http.StatusOK, adminDirCriteria(r.URL.Query()), nil, "", "")
}

// renderAdminDir shows the page: the allowlist in force, then the search of q.
func (w *Web) renderAdminDir(rw http.ResponseWriter, r *http.Request, status int, q mail.DirectoryQuery, report []string, done, problem string) {
	v := adminDirView{patientPage: patientPage{Page: w.page(r, "admin.dir.title"), Nav: "directory"}, Report: report, Done: done, Error: problem,
		Name: q.Name, Address: q.Address, RPPS: q.RPPS, Org: q.Organisation, Town: q.Town}
	st, err := w.mailAdmin.AllowlistStatus(r.Context())
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if !st.ImportedAt.IsZero() {
		v.Imported, v.ImportedAt, v.GeneratedAt = true, frDateTime(st.ImportedAt), frDateTime(st.GeneratedAt)
		v.Domains, v.Entries = frCount(int64(st.Domains)), frCount(int64(st.Entries))
	}
	if q.Name != "" || q.Address != "" || q.RPPS != "" || q.Organisation != "" || q.Town != "" {
		q.Operator, q.Limit = true, adminDirLimit+1
		entries, err := w.mailAdmin.Directory(r.Context(), q)
		switch {
		case errs.Is(err, errs.Invalid):
			if v.Error == "" {
				v.Error = v.T("admin.dir.search.invalid")
			}
			if status == http.StatusOK {
				status = http.StatusBadRequest
			}
		case err != nil:
			w.fail(rw, r, err)
			return
		default:
			v.Searched = true
			if len(entries) > adminDirLimit {
				entries, v.More = entries[:adminDirLimit], true
			}
			for _, e := range entries {
				row := adminDirRow{Address: e.Address, Kind: string(e.Kind), Name: e.DisplayName, IdNat: e.IdNat,
					Organisation: e.OrganisationName, Town: e.Town, Hidden: e.Hidden}
				if row.Name == "" {
					row.Name = strings.TrimSpace(e.GivenName + " " + e.FamilyName)
				}
				v.Rows = append(v.Rows, row)
			}
		}
	}
	w.render(rw, r, status, "admin_directory", v)
}

func operatorBy(id auth.Identity) mail.By {
	return mail.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: id.Actor().ID, Name: id.DisplayName}, Channel: audit.ChannelWeb}
}

// adminAllowlist: POST /admin/annuaire/liste-blanche, the published XML file.
func (w *Web) adminAllowlist(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	if w.mailAdmin == nil {
		w.notFound(rw, r)
		return
	}
	l := w.page(r, "").Lang
	r.Body = http.MaxBytesReader(rw, r.Body, allowlistMaxUpload+formSlack)
	f, _, err := r.FormFile("liste")
	if err != nil {
		w.renderAdminDir(rw, r, http.StatusBadRequest, mail.DirectoryQuery{}, nil, "", l.T("admin.dir.allow.nofile"))
		return
	}
	defer f.Close()
	rep, err := w.mailAdmin.RefreshAllowlist(r.Context(), operatorBy(id), f)
	if errs.Is(err, errs.Invalid) || errs.Is(err, errs.Conflict) {
		w.renderAdminDir(rw, r, statusOf(err), mail.DirectoryQuery{}, nil, "", l.T("admin.dir.allow.refused", errs.MessageOf(err)))
		return
	}
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	report := []string{l.T("admin.dir.allow.added", len(rep.Added)), l.T("admin.dir.allow.removed", len(rep.Removed))}
	if len(rep.Skipped) > 0 {
		report = append(report, l.T("admin.dir.allow.skipped", len(rep.Skipped)))
	}
	w.renderAdminDir(rw, r, http.StatusOK, mail.DirectoryQuery{}, report, l.T("admin.dir.allow.done", frCount(int64(rep.Domains))), "")
}

// adminHide: POST /admin/annuaire/visibilite with the mailbox's address and masquer=1 (put it
// on the liste rouge) or 0 (take it off); the search's criteria come along to show it again.
func (w *Web) adminHide(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	if w.mailAdmin == nil {
		w.notFound(rw, r)
		return
	}
	l := w.page(r, "").Lang
	q := adminDirCriteria(r.PostForm)
	address, hide := strings.TrimSpace(r.PostFormValue("boite")), r.PostFormValue("masquer")
	if address == "" || (hide != "1" && hide != "0") {
		w.renderAdminDir(rw, r, http.StatusBadRequest, q, nil, "", l.T("admin.dir.hide.invalid"))
		return
	}
	err := w.mailAdmin.SetHidden(r.Context(), operatorBy(id), address, hide == "1")
	switch {
	case err == nil:
		key := "admin.dir.shown"
		if hide == "1" {
			key = "admin.dir.hidden"
		}
		w.renderAdminDir(rw, r, http.StatusOK, q, nil, l.T(key, address), "")
	case errs.Is(err, errs.Invalid) || errs.Is(err, errs.NotFound):
		w.renderAdminDir(rw, r, statusOf(err), q, nil, "", errs.MessageOf(err))
	default:
		w.fail(rw, r, err)
	}
}
