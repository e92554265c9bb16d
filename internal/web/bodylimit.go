package web

import (
	"net/http"
	"strconv"
	"time"

	appcat "github.com/carnet-sante/carnet/internal/catalogue"
)

// Request bodies are bounded before anything reads them. The CSRF check (auth.HTTP.CSRF)
// reads the form's token with PostFormValue, which parses a whole multipart body (32 MB in
// memory, the rest to temporary files) before any handler runs: a limit set in the handler
// comes too late. So every request gets defaultBodyLimit, and the few forms that carry files
// declare a larger allowance here, by the same patterns as their routes.

// defaultBodyLimit bounds a form without files: a message's text is at most 100 KB, the
// other forms far less.
const defaultBodyLimit = 1 << 20

// formSlack is room for a form's fields and multipart framing on top of its files.
const formSlack = 1 << 20

// uploadLimits maps the routes that take files to their allowance, computed per request
// (the record's policy can be configured).
func (w *Web) uploadLimits() map[string]func() int64 {
	records := func() int64 { return w.d.Records.Policy().MaxSize + formSlack }
	messages := func() int64 { return maxUpload + formSlack }
	return map[string]func() int64{
		"POST /moi/documents":                            records,
		"POST /moi/import":                               func() int64 { return maxArchiveUpload + formSlack },
		"POST /proches/{patient}/documents":              records,
		"POST /pro/patients/{patient}/depot":             records,
		"POST /moi/messages/{id}/repondre":               messages,
		"POST /proches/{patient}/messages/{id}/repondre": messages,
		"POST /pro/patients/{patient}/message":           messages,
		"POST /pro/messages/nouveau":                     messages,
		"POST /admin/applications/{app}/logo":            func() int64 { return appcat.MaxLogoBytes + 64<<10 },
		"POST /admin/matrice":                            func() int64 { return 2 << 20 },
		"POST /admin/annuaire/liste-blanche":             func() int64 { return allowlistMaxUpload + formSlack },
	}
}

// limitBodies returns next with every request body bounded: a declared Content-Length over
// the route's limit is answered 413 without reading anything, and a body that grows past it
// fails to parse (http.MaxBytesReader), so that the CSRF check refuses it.
func (w *Web) limitBodies(next http.Handler) http.Handler {
	routes := http.NewServeMux()
	limits := map[string]func() int64{}
	for pattern, limit := range w.uploadLimits() {
		routes.Handle(pattern, http.NotFoundHandler())
		limits[pattern] = limit
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		limit := int64(defaultBodyLimit)
		if _, pattern := routes.Handler(r); pattern != "" {
			if f, ok := limits[pattern]; ok {
				limit = f()
			}
		}
		if r.ContentLength > limit {
			rw.Header().Set("Connection", "close")
			http.Error(rw, "request too large: "+strconv.FormatInt(limit>>10, 10)+" KiB at most", http.StatusRequestEntityTooLarge)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(rw, r.Body, limit)
		}
		if limit > maxUpload+formSlack {
			// A large upload outlasts the server's read and write deadlines: this request
			// gets time for its size (archiveUploadTime), before the form's parsing reads it.
			rc := http.NewResponseController(rw)
			deadline := time.Now().Add(archiveUploadTime)
			_ = rc.SetReadDeadline(deadline)
			_ = rc.SetWriteDeadline(deadline)
		}
		next.ServeHTTP(rw, r)
	})
}
