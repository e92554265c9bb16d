package server_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carnet-sante/carnet/internal/server"
)

// The emergency card's link holds its token in the path (/urgence/{token}): a request log
// that wrote the path would keep the key to a patient's card. The log names the route pattern
// only, whether the pages are mounted directly or behind a mux of their own, as in production.
func TestEmergencyTokenNotLogged(t *testing.T) {
	const token = "abcdefghijklmnopqrstuvwxyz234567"
	var buf bytes.Buffer
	s := server.New(slog.New(slog.NewJSONHandler(&buf, nil)), prometheus.NewRegistry(), nil)
	pages := http.NewServeMux()
	pages.HandleFunc("GET /urgence/{token}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("token") != token {
			http.NotFound(w, r)
		}
	})
	s.Handle("/", pages)
	s.Handle("GET /direct/urgence/{token}", pages)
	for _, path := range []string{"/urgence/" + token, "/urgence/" + strings.ToUpper(token), "/direct/urgence/" + token,
		"/urgence/" + token + "?x=" + token} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	}
	out := buf.String()
	if !strings.Contains(out, `"msg":"http"`) {
		t.Fatalf("no request logged: %s", out)
	}
	if strings.Contains(strings.ToLower(out), token) {
		t.Errorf("a token reached the log:\n%s", out)
	}
}
