package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/config"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/server"
)

func notifyConfig(cfg *config.Config) notify.Config {
	n := cfg.Notify
	return notify.Config{
		Mode: n.Mode, OutboxDir: n.OutboxDir, From: n.From.String(),
		SMTPAddr: n.SMTP.Addr, SMTPTLS: n.SMTP.TLS, Username: n.SMTP.Username, Password: n.SMTP.Password.Reveal(),
	}
}

// runServe starts everything and runs until ctx ends (SIGINT, SIGTERM), then lets in-flight
// requests and jobs finish within the shutdown timeout.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := loadConfig("serve", args, stderr, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	log.Info("carnet starting", "version", version, "config", cfg)
	clk := clock.System{}

	db, key, err := openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := prepareSchema(ctx, db, clk, log); err != nil {
		return err
	}

	// Document and attachment bytes, encrypted at rest; the record capability will use them.
	blobs, err := blob.NewFS(filepath.Join(cfg.DataDir, "blobs"), key.master)
	if err != nil {
		return err
	}
	sender, err := notify.New(notifyConfig(cfg), clk)
	if err != nil {
		return err
	}
	spaces, err := newSpaces(db, clk, cfg, key, sender)
	if err != nil {
		return err
	}
	queue, err := jobs.New(db, jobs.Config{Workers: cfg.JobsWorkers, Logger: log}, jobs.Deps{Spaces: spaces})
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(db.SQL(), "carnet"))
	srv := server.New(log, reg, map[string]server.Pinger{"database": db, "blobs": blobs})

	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	// The queue's own context outlives the signal: cancelling it would cancel running jobs,
	// whereas Stop below lets them finish within the grace period.
	if err := queue.Start(context.WithoutCancel(ctx)); err != nil {
		l.Close()
		return err
	}
	fmt.Fprintf(stdout, "carnet %s listening on http://%s (database %s, data in %s)\n", version, l.Addr(), cfg.DB.Redacted(), cfg.DataDir)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err = <-served:
	case <-ctx.Done():
	}
	log.Info("carnet stopping", "grace", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = errors.Join(err, srv.Shutdown(sctx), queue.Stop(sctx))
	log.Info("carnet stopped")
	return err
}
