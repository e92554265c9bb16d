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
)

//go:embed templates/*.html
var templateFS embed.FS

// Deps are what the pages are built from.
type Deps struct {
	// TLS says the public URL is https: the Strict-Transport-Security header is sent.
	TLS bool
	Log *slog.Logger
}

// Web serves the pages.
type Web struct {
	d       Deps
	version string // of the static files
	mux     *http.ServeMux
	pages   map[string]*template.Template
}

// New parses every template and returns the pages' handler.
func New(d Deps) (*Web, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	w := &Web{d: d, mux: http.NewServeMux()}
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
	return w, nil
}

// ServeHTTP serves a page with the security headers.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	secure(rw.Header(), w.d.TLS, strings.HasPrefix(r.URL.Path, "/static/"))
	w.mux.ServeHTTP(rw, r)
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
	Lang    Lang
	Title   string // the page's own title, translated
	Version string // of the static files
	// Path is the request's path, for the language switcher's return.
	Path string
}

// T translates key in the page's language.
func (p Page) T(key string, args ...any) string { return p.Lang.T(key, args...) }

// page returns the layout's part of a view model for r.
func (w *Web) page(r *http.Request, titleKey string) Page {
	l := language(r)
	return Page{Lang: l, Title: l.T(titleKey), Version: w.version, Path: r.URL.Path}
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
