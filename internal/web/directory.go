package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// The MSSanté directory for professionals (issue 6): search the professional mailboxes by
// name, profession, town and organisation, and write to them. A GET form: searching changes
// nothing, so the page can be bookmarked and paged by links. The directory holds no health
// data and the search is not traced; mailboxes on the "liste rouge" are left out, but for
// their owner's own (marked as such), and patients' mailboxes are never listed.

// Directory is the directory the pages search (mail.Service).
type Directory interface {
	Directory(ctx context.Context, q mail.DirectoryQuery) ([]mail.DirectoryEntry, error)
}

// SetDirectory gives the pages the directory, which `carnet serve` starts with the messaging
// after the pages. Until it is set, the directory page is not found.
func (w *Web) SetDirectory(d Directory) { w.dir = d }

// dirPageSize is the number of mailboxes a page lists.
const dirPageSize = 20

func (w *Web) directoryRoutes() {
	w.mux.HandleFunc("GET /pro/annuaire", w.pro(w.proDirectory))
}

// dirRow is a mailbox as the page lists it.
type dirRow struct {
	Name, Profession, Organisation, Town, Address string
	Kind                                          string // PER, ORG, APP
	Hidden                                        bool   // the viewer's own, on the liste rouge
}

// dirView is the page's view model.
type dirView struct {
	patientPage
	Name, Profession, Town, Organisation string
	Professions                          []terminology.Profession
	Searched                             bool
	Error                                string
	Rows                                 []dirRow
	Page                                 int
	Prev, Next                           string
}

// dirForm reads the page's query: the criteria and the page number. Every error is Invalid.
func dirForm(q url.Values) (mail.DirectoryQuery, int, error) {
	var dq mail.DirectoryQuery
	for _, k := range []string{"nom", "profession", "ville", "organisation", "page"} {
		if len(q[k]) > 1 {
			return dq, 0, errs.E(errs.Invalid, "the field %s is given more than once", k)
		}
		if v := q.Get(k); len(v) > 200 || !utf8.ValidString(v) {
			return dq, 0, errs.E(errs.Invalid, "the field %s is too long", k)
		}
	}
	dq.Name = strings.TrimSpace(q.Get("nom"))
	dq.Profession = strings.TrimSpace(q.Get("profession"))
	dq.Town = strings.TrimSpace(q.Get("ville"))
	dq.Organisation = strings.TrimSpace(q.Get("organisation"))
	page := 1
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || (n-1)*dirPageSize > mail.MaxDirectoryOffset {
			return dq, 0, errs.E(errs.Invalid, "no such page")
		}
		page = n
	}
	dq.Limit, dq.Offset = dirPageSize+1, (page-1)*dirPageSize
	return dq, page, nil
}

// proDirectory: GET /pro/annuaire, the form, and the results when criteria are given.
func (w *Web) proDirectory(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if w.dir == nil {
		w.notFound(rw, r)
		return
	}
	v := dirView{patientPage: patientPage{Page: w.page(r, "dir.title"), Nav: "dir"}}
	for _, p := range w.d.Catalog.ProfessionsOf(terminology.KindHealth) {
		if p.Code == p.Profession {
			v.Professions = append(v.Professions, p)
		}
	}
	q := r.URL.Query()
	v.Name, v.Profession, v.Town, v.Organisation = q.Get("nom"), q.Get("profession"), q.Get("ville"), q.Get("organisation")
	dq, page, err := dirForm(q)
	if err == nil && dq.Profession != "" {
		if p, perr := w.d.Catalog.Profession(dq.Profession); perr != nil || p.Code != p.Profession || p.Kind != terminology.KindHealth {
			err = errs.E(errs.Invalid, "unknown profession")
		}
	}
	if err != nil {
		v.Error = v.T("dir.invalid")
		w.render(rw, r, http.StatusBadRequest, "pro_directory", v)
		return
	}
	if dq.Name == "" && dq.Profession == "" && dq.Town == "" && dq.Organisation == "" {
		w.render(rw, r, http.StatusOK, "pro_directory", v)
		return
	}
	v.Searched, v.Page = true, page
	dq.Viewer = req.Actor.ID
	entries, err := w.dir.Directory(r.Context(), dq)
	if errs.Is(err, errs.Invalid) {
		v.Error = v.T("dir.invalid")
		w.render(rw, r, http.StatusBadRequest, "pro_directory", v)
		return
	}
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	link := func(p int) string {
		l := url.Values{}
		for k, val := range map[string]string{"nom": dq.Name, "profession": dq.Profession, "ville": dq.Town, "organisation": dq.Organisation} {
			if val != "" {
				l.Set(k, val)
			}
		}
		if p > 1 {
			l.Set("page", strconv.Itoa(p))
		}
		return "/pro/annuaire?" + l.Encode()
	}
	if len(entries) > dirPageSize {
		entries = entries[:dirPageSize]
		v.Next = link(page + 1)
	}
	if page > 1 {
		v.Prev = link(page - 1)
	}
	for _, e := range entries {
		row := dirRow{Name: e.DisplayName, Organisation: e.OrganisationName, Town: e.Town, Address: e.Address, Kind: string(e.Kind), Hidden: e.Hidden}
		if e.Profession != "" {
			row.Profession = e.Profession
			if p, err := w.d.Catalog.Profession(e.Profession); err == nil {
				row.Profession = p.Label
			}
		} else {
			row.Profession = v.T("dir.kind." + strings.ToLower(string(e.Kind)))
		}
		v.Rows = append(v.Rows, row)
	}
	w.render(rw, r, http.StatusOK, "pro_directory", v)
}
