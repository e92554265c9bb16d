package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carnet-sante/carnet/internal/server"
)

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

func start(t *testing.T, s *server.Server) (string, chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	return "http://" + l.Addr().String(), done
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// An in-flight request finishes during shutdown; new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	s := server.New(slog.New(slog.DiscardHandler), prometheus.NewRegistry(), nil)
	entered := make(chan struct{})
	s.Handle("GET /slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		time.Sleep(300 * time.Millisecond)
		w.Write([]byte("done"))
	}))
	base, done := start(t, s)
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if body := <-got; body != "done" {
		t.Fatalf("in-flight request: %q", body)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("a new request was served after shutdown")
	}
}

func TestReadiness(t *testing.T) {
	db := &pinger{}
	s := server.New(slog.New(slog.DiscardHandler), prometheus.NewRegistry(), map[string]server.Pinger{"database": db})
	base, _ := start(t, s)
	defer s.Shutdown(context.Background())
	if c := status(t, base+"/readyz"); c != 200 {
		t.Fatalf("ready: %d", c)
	}
	db.err = errors.New("connection refused")
	if c := status(t, base+"/readyz"); c != 503 {
		t.Fatalf("database down: %d", c)
	}
	if c := status(t, base+"/healthz"); c != 200 {
		t.Fatalf("liveness must not depend on the database: %d", c)
	}
}
