// Package server is carnet's HTTP front: the mux every web and API handler is mounted on, the
// operational endpoints (/healthz, /readyz, /metrics), request logging and metrics, and a
// graceful shutdown that lets in-flight requests finish.
//
// Request logs name the route pattern ("GET /patients/{ins}/documents"), never the path
// itself: paths and queries can carry an INS or a search term, which are health data.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Pinger tells whether a dependency answers (the database).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Server is the HTTP server.
type Server struct {
	mux      *http.ServeMux
	log      *slog.Logger
	ready    atomic.Bool
	checks   map[string]Pinger
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	http     *http.Server
}

// New returns a server whose /metrics exposes reg, and whose /readyz pings every check.
func New(log *slog.Logger, reg *prometheus.Registry, checks map[string]Pinger) *Server {
	s := &Server{mux: http.NewServeMux(), log: log, checks: checks}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "carnet_http_requests_total", Help: "HTTP requests by route pattern and status code.",
	}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "carnet_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route"})
	reg.MustRegister(s.requests, s.latency)
	// Built here, not in Serve, so that a Shutdown arriving before Serve still stops it.
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return s
}

// Handle mounts a handler on a pattern of the standard ServeMux.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !s.ready.Load() {
		http.Error(w, "not ready: starting or shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	for name, c := range s.checks {
		if err := c.Ping(ctx); err != nil {
			s.log.Warn("readiness check failed", "check", name, "err", err)
			http.Error(w, "not ready: "+name+" unavailable", http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
}

// ServeHTTP logs and measures every request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, code: http.StatusOK}
	s.mux.ServeHTTP(rec, r)
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	d := time.Since(start)
	s.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
	s.latency.WithLabelValues(route).Observe(d.Seconds())
	if route != "GET /metrics" && route != "GET /healthz" {
		s.log.Info("http", "route", route, "status", rec.code, "duration_ms", float64(d.Microseconds())/1000)
	}
}

type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Serve serves on l until Shutdown. It marks the server ready once serving.
func (s *Server) Serve(l net.Listener) error {
	s.ready.Store(true)
	err := s.http.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, reports not ready, and waits for in-flight requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	return s.http.Shutdown(ctx)
}
