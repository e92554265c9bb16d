package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
)

// The DSFR (scripts/refresh-dsfr) and carnet's own few static files.
//
//go:embed static
var staticFS embed.FS

// staticVersion is a digest of every static file: it names them in the pages' links, so that
// they can be cached for a year and a change of any of them is fetched at once.
func staticVersion() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(staticFS, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:12], err
}

// staticHandler serves /static/<version>/<file>, whatever the version: a page rendered before
// a restart still finds its files.
func staticHandler() (http.Handler, error) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/static/")
		_, file, ok := strings.Cut(rest, "/")
		if !ok || file == "" || strings.HasSuffix(file, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + file
		files.ServeHTTP(w, r2)
	}), nil
}
