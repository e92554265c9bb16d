package web

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	appcat "github.com/carnet-sante/carnet/internal/catalogue"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
)

// The app catalogue's pages (issue 9, internal/catalogue). The patient's: the referenced apps
// by category with a search, an app's page with the data it asks for and why, in plain words,
// and the apps connected to their space with what each was granted and since when, to
// disconnect. The operator's: every app with its status, the form to record or change one,
// its logo, and its status changes (suspending or withdrawing disconnects it everywhere at
// once). A connection itself starts in the app, which sends the patient to the consent page
// (internal/oauth).

// appsRoutes mounts the catalogue's pages.
func (w *Web) appsRoutes() {
	m := w.mux
	m.HandleFunc("GET /moi/applications", w.patient(w.appsPage))
	m.HandleFunc("GET /moi/applications/connectees", w.patient(w.connectedPage))
	m.HandleFunc("POST /moi/applications/connectees/{grant}/retirer", w.patient(w.disconnect))
	m.HandleFunc("GET /moi/applications/{app}", w.patient(w.appPage))
	m.HandleFunc("GET /moi/applications/{app}/logo", w.patient(func(rw http.ResponseWriter, r *http.Request, _ auth.Identity, _ record.Request) {
		w.appLogo(rw, r, true)
	}))

	m.HandleFunc("GET /admin/applications", w.operator(w.adminAppsPage))
	m.HandleFunc("GET /admin/applications/nouvelle", w.operator(w.adminAppNew))
	m.HandleFunc("POST /admin/applications", w.operator(w.adminAppCreate))
	m.HandleFunc("GET /admin/applications/{app}", w.operator(w.adminAppEdit))
	m.HandleFunc("POST /admin/applications/{app}", w.operator(w.adminAppUpdate))
	m.HandleFunc("POST /admin/applications/{app}/statut", w.operator(w.adminAppStatus))
	m.HandleFunc("POST /admin/applications/{app}/logo", w.operator(w.adminAppLogo))
	m.HandleFunc("GET /admin/applications/{app}/logo", w.operator(func(rw http.ResponseWriter, r *http.Request, _ auth.Identity) {
		w.appLogo(rw, r, false)
	}))
}

// appCard is an app as the pages show it.
type appCard struct {
	ID, Name, Publisher, Category, Description, Website, Privacy string
	Status, StatusCode                                           string
	HasLogo                                                      bool
	Data                                                         []dataRow
}

// dataRow is a data category an app asks for, in plain words.
type dataRow struct {
	Class, Label, Why, Includes string
}

func (w *Web) card(l Lang, a appcat.App) appCard {
	c := appCard{ID: a.ID, Name: a.Name, Publisher: a.Publisher, Description: a.Description, Website: a.Website,
		Privacy: a.PrivacyPolicy, HasLogo: a.LogoType != "", StatusCode: string(a.Status), Status: a.Status.Label()}
	if l == English {
		c.Status = a.Status.English()
	}
	if cat, ok := appcat.CategoryOf(a.Category); ok {
		c.Category = cat.Label
		if l == English {
			c.Category = cat.English
		}
	}
	for _, d := range a.Data {
		c.Data = append(c.Data, dataRow{Class: d.Class, Label: w.d.Apps.ClassLabel(d.Class), Why: d.Justification, Includes: w.d.Apps.Includes(d.Class)})
	}
	return c
}

type shelf struct {
	Code, Label, URL string
	Current          bool
}

type appsView struct {
	patientPage
	Shelves  []shelf
	Category string
	Query    string
	Apps     []appCard
}

// appsPage: GET /moi/applications?categorie=…&q=…, the referenced apps.
func (w *Web) appsPage(rw http.ResponseWriter, r *http.Request, id auth.Identity, _ record.Request) {
	v := appsView{patientPage: w.patientPage(r, id, "apps.title", "apps")}
	v.Category, v.Query = r.URL.Query().Get("categorie"), strings.TrimSpace(r.URL.Query().Get("q"))
	if _, ok := appcat.CategoryOf(v.Category); !ok {
		v.Category = ""
	}
	v.Shelves = append(v.Shelves, shelf{Code: "", Label: v.T("apps.all"), URL: appsQuery("", v.Query), Current: v.Category == ""})
	for _, c := range appcat.Categories() {
		label := c.Label
		if v.Lang == English {
			label = c.English
		}
		v.Shelves = append(v.Shelves, shelf{Code: c.Code, Label: label, URL: appsQuery(c.Code, v.Query), Current: c.Code == v.Category})
	}
	apps, err := w.d.Apps.Catalogue(r.Context(), v.Category, v.Query)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	for _, a := range apps {
		v.Apps = append(v.Apps, w.card(v.Lang, a))
	}
	w.render(rw, r, http.StatusOK, "apps", v)
}

type appView struct {
	patientPage
	App       appCard
	Connected bool
}

// appPage: GET /moi/applications/{app}, a referenced app's page.
func (w *Web) appPage(rw http.ResponseWriter, r *http.Request, id auth.Identity, _ record.Request) {
	a, err := w.d.Apps.Referenced(r.Context(), r.PathValue("app"))
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v := appView{patientPage: w.patientPage(r, id, "apps.title", "apps")}
	v.App = w.card(v.Lang, a)
	v.Title = a.Name
	conns, err := w.d.Apps.Connected(r.Context(), id.PatientID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	for _, c := range conns {
		v.Connected = v.Connected || (c.Active && c.Grant.ClientID == a.ID)
	}
	w.render(rw, r, http.StatusOK, "app", v)
}

// appLogo serves a logo: its checked type, never sniffed, in a sandbox.
func (w *Web) appLogo(rw http.ResponseWriter, r *http.Request, publicOnly bool) {
	typ, data, err := w.d.Apps.Logo(r.Context(), r.PathValue("app"), publicOnly)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", typ)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, max-age=300")
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(data)
}

type connectionRow struct {
	GrantID, AppID, Name, Since, Revoked string
	Categories, Rights                   []string
	Active, Listed                       bool
}

type connectedView struct {
	patientPage
	Active, Former []connectionRow
	Done           string
}

// rightKeys name an action granted, for the connected apps' page.
var rightKeys = map[access.Action]string{
	access.ActionRead:       "apps.right.read",
	access.ActionSearch:     "apps.right.search",
	access.ActionDeposit:    "apps.right.deposit",
	access.ActionReadTraces: "apps.right.trail",
}

// connectedPage: GET /moi/applications/connectees, what each app was granted and since when.
func (w *Web) connectedPage(rw http.ResponseWriter, r *http.Request, id auth.Identity, _ record.Request) {
	w.renderConnected(rw, r, id, http.StatusOK, "")
}

func (w *Web) renderConnected(rw http.ResponseWriter, r *http.Request, id auth.Identity, status int, done string) {
	v := connectedView{patientPage: w.patientPage(r, id, "apps.connected.title", "apps"), Done: done}
	conns, err := w.d.Apps.Connected(r.Context(), id.PatientID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	for _, c := range conns {
		row := connectionRow{GrantID: c.Grant.ID, AppID: c.Grant.ClientID, Name: c.Grant.ClientName, Since: frDateTime(c.Grant.CreatedAt),
			Active: c.Active, Listed: !c.AppMissing && c.App.Status == appcat.Referenced}
		if !c.Active {
			row.Revoked = frDateTime(c.Grant.RevokedAt)
		}
		switch {
		case c.Unreadable:
			row.Categories = []string{v.T("apps.scope.unreadable")}
		case c.AllClasses:
			row.Categories = []string{v.T("apps.every.category")}
		case !c.Data && c.Identity:
			row.Categories = []string{v.T("apps.identity.only")}
		case !c.Data:
			row.Categories = []string{v.T("apps.no.category")}
		}
		for _, cl := range c.Classes {
			row.Categories = append(row.Categories, w.d.Apps.ClassLabel(cl))
		}
		for _, a := range []access.Action{access.ActionRead, access.ActionSearch, access.ActionDeposit, access.ActionReadTraces} {
			if slices.Contains(c.Actions, a) {
				row.Rights = append(row.Rights, v.T(rightKeys[a]))
			}
		}
		if c.Offline {
			row.Rights = append(row.Rights, v.T("apps.right.offline"))
		}
		if c.Active {
			v.Active = append(v.Active, row)
		} else {
			v.Former = append(v.Former, row)
		}
	}
	w.render(rw, r, status, "apps_connected", v)
}

// disconnect: POST /moi/applications/connectees/{grant}/retirer. The app's tokens stop at once.
func (w *Web) disconnect(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	err := w.d.Apps.Disconnect(r.Context(), req.Actor.Audit(), audit.ChannelWeb, id.PatientID, r.PathValue("grant"))
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.renderConnected(rw, r, id, http.StatusOK, w.page(r, "").T("apps.disconnected"))
}

// The operator's pages.

type adminAppsView struct {
	patientPage
	Apps []appCard
	Done string
}

// adminAppsPage: GET /admin/applications, every app with its status.
func (w *Web) adminAppsPage(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	v := adminAppsView{patientPage: patientPage{Page: w.page(r, "admin.apps.title"), Nav: "apps"}}
	apps, err := w.d.Apps.List(r.Context(), appcat.Filter{})
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	for _, a := range apps {
		v.Apps = append(v.Apps, w.card(v.Lang, a))
	}
	w.render(rw, r, http.StatusOK, "admin_apps", v)
}

// classBox is a data category of the form.
type classBox struct {
	Code, Label, Why string
	Checked          bool
}

type statusChoice struct{ Code, Label string }

type adminAppView struct {
	patientPage
	New                                                                  bool
	ID, Name, Publisher, Category, Description, Website, Privacy, Scopes string
	RedirectURIs                                                         string
	Public, Offline                                                      bool
	Shelves                                                              []shelf
	Classes                                                              []classBox
	Status                                                               string
	Next                                                                 []statusChoice
	HasLogo                                                              bool
	Secret                                                               string
	Done, Error                                                          string
}

func (w *Web) appForm(r *http.Request, title string, in appcat.Input) adminAppView {
	v := adminAppView{patientPage: patientPage{Page: w.page(r, title), Nav: "apps"}, ID: in.ID, Name: in.Name, Publisher: in.Publisher,
		Category: in.Category, Description: in.Description, Website: in.Website, Privacy: in.PrivacyPolicy, Scopes: in.Scopes,
		RedirectURIs: strings.Join(in.RedirectURIs, "\n"), Public: in.Public, Offline: in.Offline}
	for _, c := range appcat.Categories() {
		label := c.Label
		if v.Lang == English {
			label = c.English
		}
		v.Shelves = append(v.Shelves, shelf{Code: c.Code, Label: label, Current: c.Code == in.Category})
	}
	for _, c := range w.d.Catalog.Classes() {
		box := classBox{Code: c.Code, Label: c.Label}
		for _, d := range in.Data {
			if d.Class == c.Code {
				box.Checked, box.Why = true, d.Justification
			}
		}
		v.Classes = append(v.Classes, box)
	}
	return v
}

func inputOf(a appcat.App) appcat.Input {
	return appcat.Input{ID: a.ID, Name: a.Name, Publisher: a.Publisher, Category: a.Category, Description: a.Description,
		Website: a.Website, PrivacyPolicy: a.PrivacyPolicy, Data: a.Data, RedirectURIs: a.RedirectURIs, Scopes: a.Scopes,
		Public: a.Public, Offline: a.Offline}
}

// formInput reads the app form. A data category is kept when ticked; its justification is
// checked by the catalogue.
func (w *Web) formInput(r *http.Request) appcat.Input {
	f := r.PostForm
	in := appcat.Input{ID: strings.TrimSpace(f.Get("id")), Name: f.Get("nom"), Publisher: f.Get("editeur"), Category: f.Get("categorie"),
		Description: f.Get("description"), Website: f.Get("site"), PrivacyPolicy: f.Get("confidentialite"), Scopes: f.Get("scopes"),
		Public: f.Get("publique") == "1", Offline: f.Get("hors_ligne") == "1"}
	for _, line := range strings.Split(f.Get("redirections"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			in.RedirectURIs = append(in.RedirectURIs, line)
		}
	}
	for _, code := range f["classe"] {
		in.Data = append(in.Data, appcat.DataCategory{Class: code, Justification: f.Get("justification_" + code)})
	}
	return in
}

func operatorActor(id auth.Identity) audit.Actor {
	return audit.Actor{Kind: audit.ActorOperator, ID: id.Actor().ID, Name: id.DisplayName}
}

// adminAppNew: GET /admin/applications/nouvelle.
func (w *Web) adminAppNew(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	v := w.appForm(r, "admin.apps.new", appcat.Input{})
	v.New = true
	w.render(rw, r, http.StatusOK, "admin_app", v)
}

// adminAppCreate: POST /admin/applications. A confidential app's secret is shown once.
func (w *Web) adminAppCreate(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	r.Body = http.MaxBytesReader(rw, r.Body, 256<<10)
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, errs.E(errs.Invalid, "the form could not be read"))
		return
	}
	in := w.formInput(r)
	a, secret, err := w.d.Apps.Add(r.Context(), operatorActor(id), audit.ChannelWeb, in)
	if err != nil {
		if errs.Is(err, errs.Invalid) || errs.Is(err, errs.Conflict) {
			v := w.appForm(r, "admin.apps.new", in)
			v.New, v.Error = true, errs.MessageOf(err)
			w.render(rw, r, statusOf(err), "admin_app", v)
			return
		}
		w.fail(rw, r, err)
		return
	}
	w.renderApp(rw, r, a, http.StatusOK, w.page(r, "").T("admin.apps.created"), "", secret)
}

func (w *Web) renderApp(rw http.ResponseWriter, r *http.Request, a appcat.App, status int, done, problem, secret string) {
	v := w.appForm(r, "admin.apps.edit", inputOf(a))
	v.Title = a.Name
	v.Status, v.HasLogo, v.Done, v.Error, v.Secret = a.Status.Label(), a.LogoType != "", done, problem, secret
	if v.Lang == English {
		v.Status = a.Status.English()
	}
	for _, s := range a.Status.Next() {
		label := s.Label()
		if v.Lang == English {
			label = s.English()
		}
		v.Next = append(v.Next, statusChoice{Code: string(s), Label: label})
	}
	w.render(rw, r, status, "admin_app", v)
}

// adminAppEdit: GET /admin/applications/{app}.
func (w *Web) adminAppEdit(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	a, err := w.d.Apps.Get(r.Context(), r.PathValue("app"))
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.renderApp(rw, r, a, http.StatusOK, "", "", "")
}

// adminAppUpdate: POST /admin/applications/{app}.
func (w *Web) adminAppUpdate(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	r.Body = http.MaxBytesReader(rw, r.Body, 256<<10)
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, errs.E(errs.Invalid, "the form could not be read"))
		return
	}
	appID := r.PathValue("app")
	cur, err := w.d.Apps.Get(r.Context(), appID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	in := w.formInput(r)
	in.Public = cur.Public // the client type is fixed at creation
	a, err := w.d.Apps.Update(r.Context(), operatorActor(id), audit.ChannelWeb, appID, in)
	if err != nil {
		if errs.Is(err, errs.Invalid) || errs.Is(err, errs.Conflict) {
			in.ID = appID
			v := w.appForm(r, "admin.apps.edit", in)
			v.Error = errs.MessageOf(err)
			w.render(rw, r, statusOf(err), "admin_app", v)
			return
		}
		w.fail(rw, r, err)
		return
	}
	w.renderApp(rw, r, a, http.StatusOK, w.page(r, "").T("admin.apps.updated"), "", "")
}

// adminAppStatus: POST /admin/applications/{app}/statut.
func (w *Web) adminAppStatus(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	appID := r.PathValue("app")
	a, err := w.d.Apps.SetStatus(r.Context(), operatorActor(id), audit.ChannelWeb, appID, appcat.Status(r.PostFormValue("statut")),
		r.PostFormValue("motif"))
	if err != nil {
		if errs.Is(err, errs.Invalid) || errs.Is(err, errs.Conflict) {
			if cur, gerr := w.d.Apps.Get(r.Context(), appID); gerr == nil {
				w.renderApp(rw, r, cur, statusOf(err), "", errs.MessageOf(err), "")
				return
			}
		}
		w.fail(rw, r, err)
		return
	}
	w.renderApp(rw, r, a, http.StatusOK, w.page(r, "").T("admin.apps.status.done"), "", "")
}

// adminAppLogo: POST /admin/applications/{app}/logo, a PNG or JPEG file.
func (w *Web) adminAppLogo(rw http.ResponseWriter, r *http.Request, id auth.Identity) {
	// The body's limit is set before the CSRF check parses the form (bodylimit.go,
	// uploadLimits): here it would come after the whole body was read.
	appID := r.PathValue("app")
	show := func(status int, problem string) {
		a, err := w.d.Apps.Get(r.Context(), appID)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		done := ""
		if problem == "" {
			done = w.page(r, "").T("admin.apps.logo.done")
		}
		w.renderApp(rw, r, a, status, done, problem, "")
	}
	f, _, err := r.FormFile("logo")
	if err != nil {
		show(http.StatusBadRequest, w.page(r, "").T("admin.apps.logo.nofile"))
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, appcat.MaxLogoBytes+1))
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if err := w.d.Apps.SetLogo(r.Context(), operatorActor(id), audit.ChannelWeb, appID, data); err != nil {
		if errs.Is(err, errs.Invalid) {
			show(http.StatusBadRequest, errs.MessageOf(err))
			return
		}
		w.fail(rw, r, err)
		return
	}
	show(http.StatusOK, "")
}

// appsQuery is the catalogue page's URL for a category.
func appsQuery(category, q string) string {
	v := url.Values{}
	if category != "" {
		v.Set("categorie", category)
	}
	if q != "" {
		v.Set("q", q)
	}
	if len(v) == 0 {
		return "/moi/applications"
	}
	return "/moi/applications?" + v.Encode()
}
