package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/operations"
	"github.com/carnet-sante/carnet/internal/space"
)

// The operator's dashboard (key figures, queue health) and spaces page (find a space by INS,
// see its state, close it, ask for its deletion or reopen it, as `carnet space` does). The
// dashboard names no one; a space's page shows its holder's identity, an administrative
// reading decided (ActionAdminister) and traced on the holder's chain.

// Operations reads the figures (internal/operations).
type Operations interface {
	Figures(ctx context.Context) (operations.Figures, error)
	Queues(ctx context.Context) (operations.Queues, error)
}

// SpaceFinder finds a space by its holder's INS (internal/space).
type SpaceFinder interface {
	ByINS(ctx context.Context, matricule string) (space.Patient, space.Space, error)
}

// queueLate: a job ready to run that waited longer than this makes the dashboard say so.
const queueLate = 5 * time.Minute

type figureRow struct {
	Label string
	Value string
}

type jobRow struct {
	Kind, State string
	Count       string
	Alert       bool
}

type dashboardView struct {
	patientPage
	At        string
	Estimated bool
	Figures   []figureRow
	Spaces    []figureRow
	Healthy   bool
	Waiting   string
	Jobs      []jobRow
	Queues    []figureRow
}

// dashboard: GET /admin.
func (w *Web) dashboard(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	if w.d.Operations == nil {
		w.matrixPage(rw, r, id)
		return
	}
	pg := w.page(r, "admin.dash.title")
	f, err := w.d.Operations.Figures(r.Context())
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	q, err := w.d.Operations.Queues(r.Context())
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	n := func(v int64) string { return frCount(v) }
	v := dashboardView{patientPage: patientPage{Page: pg, Nav: "dashboard"}, At: frDateTime(f.At), Estimated: f.Estimated,
		Healthy: q.Healthy(queueLate), Waiting: frDuration(q.Waiting())}
	allowlist := pg.T("admin.dash.allowlist.none")
	if !f.AllowlistImported.IsZero() {
		allowlist = pg.T("admin.dash.allowlist.value", n(f.AllowlistDomains), frDateTime(f.AllowlistImported))
	}
	v.Figures = []figureRow{
		{pg.T("admin.dash.documents"), n(f.Documents)},
		{pg.T("admin.dash.messages"), n(f.Messages)},
		{pg.T("admin.dash.traces"), n(f.Traces)},
		{pg.T("admin.dash.accounts"), n(f.PatientAccounts)},
		{pg.T("admin.dash.professionals"), n(f.Professionals)},
		{pg.T("admin.dash.organisations"), n(f.Organisations)},
		{pg.T("admin.dash.mailboxes"), n(f.Mailboxes)},
		{pg.T("admin.dash.allowlist"), allowlist},
	}
	for _, st := range []space.State{space.Pending, space.Open, space.Opposed, space.Closed, space.Purged} {
		v.Spaces = append(v.Spaces, figureRow{pg.T("admin.dash.state." + string(st)), n(f.Spaces[string(st)])})
	}
	for _, j := range q.Jobs {
		v.Jobs = append(v.Jobs, jobRow{Kind: j.Kind, State: j.State, Count: n(j.Count), Alert: j.State == "discarded" || j.State == "retryable"})
	}
	v.Queues = []figureRow{
		{pg.T("admin.dash.q.outbound"), n(q.OutboundQueued)},
		{pg.T("admin.dash.q.bounced"), n(q.OutboundBounced)},
		{pg.T("admin.dash.q.notices"), n(q.NoticesDue)},
		{pg.T("admin.dash.q.garbage"), n(q.BlobGarbage)},
	}
	w.render(rw, r, http.StatusOK, "admin_dashboard", v)
}

// frCount writes n with the French thousands separator (a narrow no-break space).
func frCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// frDuration writes a waiting time to the minute ("0 min" when nothing waits).
func frDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return strconv.Itoa(int(d/(24*time.Hour))) + " j"
	case d >= time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h " + strconv.Itoa(int(d%time.Hour/time.Minute)) + " min"
	}
	return strconv.Itoa(int(d/time.Minute)) + " min"
}

type spaceAdminView struct {
	patientPage
	INS     string // as typed, to show it back
	Done    string
	Error   string
	Found   bool
	Patient struct {
		ID                        int64
		Name, BirthDate, Sex, INS string
	}
	State                          string
	StateCode                      string
	Created, Opens, Opened, Closed string
	PurgeAt                        string
	DeletionRequested              bool
	CanClose, CanDelete, CanReopen bool
}

// spacesPage: GET /admin/espaces, the search form.
func (w *Web) spacesPage(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	w.render(rw, r, http.StatusOK, "admin_spaces", spaceAdminView{patientPage: patientPage{Page: w.page(r, "admin.spaces.title"), Nav: "spaces"}})
}

// spacesFind: POST /admin/espaces, an INS in the form (never in the URL).
func (w *Web) spacesFind(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	typed := strings.TrimSpace(r.PostFormValue("ins"))
	ins, err := identity.ParseINS(strings.ReplaceAll(typed, " ", ""))
	if err != nil {
		w.renderSpaceAdmin(rw, r, id, http.StatusBadRequest, typed, 0, "", w.page(r, "").T("admin.spaces.badins"))
		return
	}
	p, _, err := w.d.SpaceFinder.ByINS(r.Context(), ins.Matricule)
	if errs.Is(err, errs.NotFound) {
		w.renderSpaceAdmin(rw, r, id, http.StatusNotFound, typed, 0, "", w.page(r, "").T("admin.spaces.notfound"))
		return
	}
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.renderSpaceAdmin(rw, r, id, http.StatusOK, typed, p.ID, "", "")
}

// spacesChange: POST /admin/espaces/{action}: cloturer, suppression, rouvrir.
func (w *Web) spacesChange(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	pid, err := strconv.ParseInt(r.PostFormValue("patient"), 10, 64)
	if err != nil || pid <= 0 {
		w.notFound(rw, r)
		return
	}
	done, problem, status, err := w.changeSpace(r, id.Actor(), pid, map[string]string{
		"cloturer": "admin.spaces.closed", "suppression": "admin.spaces.deletion", "rouvrir": "admin.spaces.reopened"})
	switch {
	case status == http.StatusNotFound:
		w.notFound(rw, r)
	case err != nil:
		w.fail(rw, r, err)
	default:
		w.renderSpaceAdmin(rw, r, id, status, "", pid, done, problem)
	}
}

// renderSpaceAdmin shows the search form and, for pid, the space: its holder's identity is
// shown only once the decision allowed the operator to administer it (and traced it).
func (w *Web) renderSpaceAdmin(rw http.ResponseWriter, r *http.Request, id auth.Identity, status int, typed string, pid int64, done, problem string) {
	pg := w.page(r, "admin.spaces.title")
	v := spaceAdminView{patientPage: patientPage{Page: pg, Nav: "spaces"}, INS: typed, Done: done, Error: problem}
	if pid != 0 {
		if _, err := w.d.Access.Decide(r.Context(), id.Actor(), audit.ChannelWeb, pid, access.ActionAdminister,
			access.Target{Ref: "space"}, nil); err != nil {
			w.fail(rw, r, err)
			return
		}
		p, sp, err := w.d.SpaceLife.Get(r.Context(), pid)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		v.Found = true
		v.Patient.ID, v.Patient.INS = p.ID, p.INS.Matricule
		v.Patient.Name = strings.TrimSpace(p.GivenNames + " " + p.BirthName)
		if p.UsedName != "" && p.UsedName != p.BirthName {
			v.Patient.Name += " (" + p.UsedName + ")"
		}
		if !p.BirthDate.IsZero() {
			v.Patient.BirthDate = p.BirthDate.Format("02/01/2006")
		}
		v.StateCode, v.State = string(sp.State), pg.T("admin.dash.state."+string(sp.State))
		v.Created = dateOrDash(p.CreatedAt)
		v.Opens, v.Opened, v.Closed, v.PurgeAt = dateOrDash(sp.OpensAt), dateOrDash(sp.OpenedAt), dateOrDash(sp.ClosedAt), dateOrDash(sp.PurgeAt)
		v.DeletionRequested = sp.DeletionRequested
		v.CanClose = sp.State == space.Open
		v.CanDelete = sp.State == space.Closed && !sp.DeletionRequested
		v.CanReopen = sp.State == space.Closed
	}
	w.render(rw, r, status, "admin_spaces", v)
}

func dateOrDash(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return frDate(t)
}
