// Package web serves carnet's HTML pages: the patient portal, the professional's pages and the
// operator's, in French first (English too), with the French State design system (DSFR).
//
// Pages are rendered on the server from templates embedded in the binary and parsed at start
// (a template that does not parse stops the server from starting), each from one typed view
// model, into a buffer before anything is written: a failure is an error page, never half a
// page. Every string goes through the translation catalogue (i18n.go). Pages work without
// JavaScript; the DSFR's script only enhances (menus, modals).
//
// Every answer carries strict security headers (headers.go): a Content-Security-Policy without
// inline scripts, no framing, no referrer (URLs name documents), no caching of pages.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/archive"
	"github.com/carnet-sante/carnet/internal/auth"
	appcat "github.com/carnet-sante/carnet/internal/catalogue"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/emergency"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/profile/share"
	"github.com/carnet-sante/carnet/internal/questionnaire"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/terminology"
	"github.com/carnet-sante/carnet/internal/trail"
)

//go:embed templates/*.html
var templateFS embed.FS

// Deps are what the pages are built from.
type Deps struct {
	// The services the pages call; without Auth, only the public pages are served.
	Auth    *auth.Service
	HTTP    *auth.HTTP
	Records *record.Service
	Trail   *trail.Service
	Archive *archive.Service
	Spaces  archive.Spaces // the identity of a space's holder (no health data)
	Access  *access.Service
	// Matrices administers the habilitation matrix (the operator's page).
	Matrices *access.Matrices
	// SpaceLife closes, deletes and reopens a space (the holder's choice).
	SpaceLife SpaceLife
	// Representation tells who represents whom (the space switcher, /proches/…).
	Representation Representation
	// Apps is the catalogue of referenced health apps; nil leaves its pages out.
	Apps *appcat.Service
	// Operations are the operator's dashboard figures; SpaceFinder finds a space by INS for
	// the operator's spaces page. Without them, those pages are not served.
	Operations  Operations
	SpaceFinder SpaceFinder
	// Directory names professionals (no health data).
	Directory *account.Service
	Catalog   *terminology.Catalog
	Clock     clock.Clock
	// Profile serves the medical profile's pages (/moi/profil…) and Agenda the agenda's
	// (/moi/agenda); Shares the summary shared by a one-time code. Each is optional: without
	// it, its pages are not served.
	Profile *profile.Service
	Agenda  *agenda.Service
	Shares  *share.Service
	// Emergency serves the emergency card (/moi/urgence, /urgence/{token}); it needs Profile.
	Emergency *emergency.Service
	// PublicURL is the server's public address (no trailing slash), for the links the pages
	// give to be used elsewhere (a sharing code's); "" takes the request's host.
	PublicURL string
	// SignInWith are the OpenID Connect providers the sign-in page offers.
	SignInWith []SignInProvider
	// TLS says the public URL is https: the Strict-Transport-Security header is sent.
	TLS bool
	Log *slog.Logger
}

// SignInProvider is an OpenID Connect provider on the sign-in page.
type SignInProvider struct {
	Label, URL   string
	Professional bool // Pro Santé Connect and the like; else a patients' provider (FranceConnect)
}

// Web serves the pages.
type Web struct {
	d       Deps
	handler http.Handler
	version string // of the static files
	mux     *http.ServeMux
	pages   map[string]*template.Template
	msgs    *mail.Portal // the patient's messages (messages.go); nil until SetMessages
	dir     Directory    // the MSSanté directory (directory.go); nil until SetDirectory
	// mailAdmin: the allowlist and directory of the operator (admin_directory.go); nil until SetMailAdmin
	mailAdmin MailAdmin
	// questionnaires: the forms sent to patients (questionnaire.go); nil until SetQuestionnaires
	questionnaires *questionnaire.Service
	// imports holds a place per archive import running (patient.go importArchive): an import
	// reads and writes a lifetime's record, so few run at once.
	imports chan struct{}
}

// New parses every template and returns the pages' handler.
func New(d Deps) (*Web, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	w := &Web{d: d, mux: http.NewServeMux(), imports: make(chan struct{}, maxImports)}
	if err := w.parse(); err != nil {
		return nil, err
	}
	var err error
	if w.version, err = staticVersion(); err != nil {
		return nil, err
	}
	static, err := staticHandler()
	if err != nil {
		return nil, err
	}
	w.mux.Handle("GET /static/", static)
	w.mux.HandleFunc("GET /{$}", w.home)
	w.mux.HandleFunc("GET /langue/{lang}", w.setLanguage)
	w.mux.HandleFunc("/", w.notFound)
	w.handler = w.mux
	if d.Auth != nil {
		if d.HTTP == nil || d.Records == nil || d.Trail == nil || d.Archive == nil || d.Spaces == nil || d.SpaceLife == nil || d.Access == nil || d.Matrices == nil || d.Directory == nil || d.Catalog == nil || d.Clock == nil {
			return nil, errs.E(errs.Internal, "web: the signed-in pages need auth, records, trail, archive, spaces, catalog and clock")
		}
		w.routes()
		// Every request: who is signed in, then the CSRF check of every form.
		// Bodies are bounded first: the CSRF check parses the form (bodylimit.go).
		w.handler = w.limitBodies(d.HTTP.Middleware(d.HTTP.CSRF(w.mux)))
	}
	return w, nil
}

// routes mounts the pages of signed-in people.
func (w *Web) routes() {
	m := w.mux
	m.HandleFunc("GET /connexion", w.signinForm)
	m.HandleFunc("POST /connexion", w.signin)
	m.HandleFunc("GET /connexion/code", w.codeForm)
	m.HandleFunc("POST /connexion/code", w.code)
	m.HandleFunc("POST /deconnexion", w.signout)
	m.HandleFunc("GET /activation", w.activationForm)
	m.HandleFunc("POST /activation", w.activate)
	m.HandleFunc("GET /mot-de-passe/oubli", w.forgotForm)
	m.HandleFunc("POST /mot-de-passe/oubli", w.forgot)
	m.HandleFunc("GET /mot-de-passe/nouveau", w.resetForm)
	m.HandleFunc("POST /mot-de-passe/nouveau", w.reset)

	m.HandleFunc("GET /moi", w.patient(w.me))
	m.HandleFunc("GET /moi/documents", w.patient(w.documents))
	m.HandleFunc("POST /moi/documents", w.patient(w.upload))
	m.HandleFunc("GET /moi/documents/{id}", w.patient(w.documentView))
	m.HandleFunc("GET /moi/documents/{id}/contenu", w.patient(w.documentContent))
	m.HandleFunc("POST /moi/documents/{id}/masquer", w.patient(w.mask(true)))
	m.HandleFunc("POST /moi/documents/{id}/demasquer", w.patient(w.mask(false)))
	m.HandleFunc("GET /moi/historique", w.patient(w.trailPage))
	m.HandleFunc("GET /moi/sessions", w.patient(w.sessions))
	m.HandleFunc("POST /moi/sessions/{id}/fermer", w.patient(w.revokeSession))
	m.HandleFunc("POST /moi/sessions/toutes", w.patient(w.signoutEverywhere))
	m.HandleFunc("GET /moi/export", w.patient(w.export))
	m.HandleFunc("POST /moi/import", w.patient(w.importArchive))
	w.representedRoutes()
	w.passkeyRoutes()
	w.profileRoutes()
	w.agendaMoreRoutes()
	if w.d.Emergency != nil && w.d.Profile != nil {
		w.emergencyRoutes()
	}
	w.messagesRoutes()
	w.questionnaireRoutes()
	w.notificationsRoutes()
	m.HandleFunc("GET /moi/espace", w.patient(w.spacePage))
	m.HandleFunc("POST /moi/espace/{action}", w.patient(w.spaceChange))
	m.HandleFunc("GET /moi/professionnels", w.patient(w.accessPage))
	m.HandleFunc("POST /moi/professionnels/{action}", w.patient(w.accessChange))

	m.HandleFunc("GET /admin", w.operator(w.dashboard))
	if w.d.SpaceFinder != nil {
		m.HandleFunc("GET /admin/espaces", w.operator(w.spacesPage))
		m.HandleFunc("POST /admin/espaces", w.operator(w.spacesFind))
		m.HandleFunc("POST /admin/espaces/{action}", w.operator(w.spacesChange))
	}
	w.adminDirectoryRoutes()
	w.adminProsRoutes()
	m.HandleFunc("GET /admin/matrice", w.operator(w.matrixPage))
	m.HandleFunc("POST /admin/matrice", w.operator(w.matrixLoad))
	m.HandleFunc("GET /admin/matrice.tsv", w.operator(w.matrixTSV))
	if w.d.Apps != nil {
		w.appsRoutes()
	}

	m.HandleFunc("GET /pro", w.pro(w.proHome))
	m.HandleFunc("POST /pro/recherche", w.pro(w.proFind))
	m.HandleFunc("GET /pro/patients/{patient}", w.pro(w.proPatient))
	m.HandleFunc("POST /pro/patients/{patient}", w.pro(w.proPatient))
	m.HandleFunc("GET /pro/patients/{patient}/depot", w.pro(w.proDepositForm))
	m.HandleFunc("POST /pro/patients/{patient}/depot", w.pro(w.proDeposit))
	m.HandleFunc("GET /pro/documents/{doc}/contenu", w.pro(w.proDocument))
	m.HandleFunc("POST /pro/documents/{doc}/contenu", w.pro(w.proDocument))
	w.directoryRoutes()
}

// ServeHTTP serves a page with the security headers.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	secure(rw.Header(), w.d.TLS, strings.HasPrefix(r.URL.Path, "/static/"))
	w.handler.ServeHTTP(rw, r)
}

// parse reads every page template with the layout.
func (w *Web) parse() error {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	w.pages = map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", name, err)
		}
		w.pages[name] = t
	}
	return nil
}

// Page is what every page's view model carries for the layout.
type Page struct {
	// User is the name of the person signed in, "" for none; CSRF their forms' token.
	User    string
	CSRF    string
	Lang    Lang
	Title   string // the page's own title, translated
	Version string // of the static files
	// Path is the request's path, for the language switcher's return.
	Path string
	// HasProfile, HasAgenda and HasShares say whether those pages are served (the menus).
	HasProfile, HasAgenda, HasShares bool
	// HasEmergency says whether the emergency card's pages are served.
	HasEmergency bool
}

// T translates key in the page's language.
func (p Page) T(key string, args ...any) string { return p.Lang.T(key, args...) }

// page returns the layout's part of a view model for r.
func (w *Web) page(r *http.Request, titleKey string) Page {
	l := language(r)
	p := Page{Lang: l, Title: l.T(titleKey), Version: w.version, Path: r.URL.Path,
		HasProfile: w.d.Profile != nil, HasAgenda: w.d.Profile != nil && w.d.Agenda != nil, HasShares: w.d.Profile != nil && w.d.Shares != nil,
		HasEmergency: w.d.Profile != nil && w.d.Emergency != nil}
	if id, ok := auth.FromContext(r.Context()); ok {
		p.User, p.CSRF = id.DisplayName, id.CSRFToken()
		if p.User == "" {
			p.User = l.T("site.you")
		}
	}
	return p
}

// render writes the page name with the view model v, rendered into a buffer first.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, name string, v any) {
	t, ok := w.pages[name]
	if !ok {
		w.d.Log.Error("no such page template", "page", name)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		w.d.Log.Error("page not rendered", "page", name, "err", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.WriteHeader(status)
	_, _ = rw.Write(buf.Bytes())
}

func (w *Web) home(rw http.ResponseWriter, r *http.Request) {
	w.render(rw, r, http.StatusOK, "home", struct{ Page }{w.page(r, "home.title")})
}

func (w *Web) notFound(rw http.ResponseWriter, r *http.Request) {
	v := struct {
		Page
		Message string
	}{Page: w.page(r, "error.notfound.title")}
	v.Message = v.T("error.notfound.text")
	w.render(rw, r, http.StatusNotFound, "error", v)
}

// setLanguage records the visitor's language in a cookie and goes back to the page they were
// on (a path of this site only).
func (w *Web) setLanguage(rw http.ResponseWriter, r *http.Request) {
	l, ok := parseLang(r.PathValue("lang"))
	if !ok {
		w.notFound(rw, r)
		return
	}
	http.SetCookie(rw, &http.Cookie{Name: langCookie, Value: string(l), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: w.d.TLS, SameSite: http.SameSiteLaxMode})
	back := r.URL.Query().Get("retour")
	if !localPath(back) {
		back = "/"
	}
	http.Redirect(rw, r, back, http.StatusSeeOther)
}

// localPath reports whether p is a path of this site (no scheme, no host, no "//"), safe to
// redirect to.
func localPath(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "/\\") &&
		!strings.ContainsAny(p, "\r\n")
}
