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

// The agenda's calendar feed holds its secret in the path (/agenda/{secret}.ics), fetched by
// calendar apps many times a day: the request log names the route pattern, never the secret,
// whether the feed answers or not.
func TestAgendaFeedSecretNotLogged(t *testing.T) {
	const secret = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWpr"
	var buf bytes.Buffer
	s := server.New(slog.New(slog.NewJSONHandler(&buf, nil)), prometheus.NewRegistry(), nil)
	pages := http.NewServeMux()
	pages.HandleFunc("GET /agenda/{file}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("file") != secret+".ics" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("BEGIN:VCALENDAR\r\n"))
	})
	s.Handle("/", pages)
	for _, path := range []string{"/agenda/" + secret + ".ics", "/agenda/" + secret, "/agenda/" + secret + ".ics?x=" + secret} {
		s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	out := buf.String()
	if strings.Count(out, `"msg":"http"`) != 3 {
		t.Fatalf("the requests are not logged: %s", out)
	}
	if strings.Contains(out, secret) || strings.Contains(out, secret[:20]) {
		t.Errorf("the feed's secret reached the log:\n%s", out)
	}
}
