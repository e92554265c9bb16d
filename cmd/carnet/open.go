package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/config"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// loadConfig parses a command's flags and the environment.
func loadConfig(name string, args []string, stderr io.Writer, extra func(fs *flag.FlagSet)) (*config.Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet("carnet "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if extra != nil {
		extra(fs)
	}
	cfg, err := config.Load(fs, args, os.Getenv)
	return cfg, fs, err
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func dialect(cfg *config.Config) store.Dialect {
	if cfg.DB.Driver == config.DriverPostgres {
		return store.Postgres
	}
	return store.SQLite
}

// keys are what the master key opens.
type keys struct {
	master []byte    // wraps the blobs' data keys; rotates
	seal   []byte    // the trace log and the activation codes derive from it; never rotates
	trace  audit.Key // derived from seal
}

// openStore opens the database with the trace key derived from the master key, which is
// generated on first use unless mustExist (a command that only checks must not invent a key).
func openStore(ctx context.Context, cfg *config.Config, mustExist bool) (*store.DB, keys, error) {
	read := cfg.MasterKey
	if mustExist {
		read = cfg.ExistingMasterKey
	}
	master, err := read()
	if err != nil {
		return nil, keys{}, err
	}
	// The trace log's seals do not follow a master key rotation: seal_key keeps them.
	trace, err := audit.DeriveKey(cfg.SealKey(master))
	if err != nil {
		return nil, keys{}, err
	}
	db, err := store.Open(ctx, dialect(cfg), cfg.DB.DSN, store.Options{TraceKey: trace})
	return db, keys{master: master, seal: cfg.SealKey(master), trace: trace}, err
}

// newSpaces builds the space service; sender is nil in a process that only queues notices.
func newSpaces(db *store.DB, clk clock.Clock, cfg *config.Config, k keys, sender notify.Sender) (*space.Service, error) {
	codeKey, err := space.CodeKey(k.seal)
	if err != nil {
		return nil, err
	}
	return space.NewService(space.Deps{Store: db.Spaces(), Clock: clk, Policy: space.DefaultPolicy(),
		PublicURL: cfg.PublicURL.String(), Sender: sender, CodeKey: codeKey})
}

// migrateAll applies carnet's migrations then the job queue's, and says what it did.
func migrateAll(ctx context.Context, db *store.DB, clk clock.Clock, log *slog.Logger) error {
	applied, err := db.Migrate(ctx, clk.Now())
	if err != nil {
		return err
	}
	for _, m := range applied {
		log.Info("migration applied", "version", m.Version, "name", m.Name)
	}
	n, err := jobs.Migrate(ctx, db)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("job queue migrations applied", "count", n)
	}
	return nil
}

// prepareSchema migrates a brand-new database and refuses one that is behind.
func prepareSchema(ctx context.Context, db *store.DB, clk clock.Clock, log *slog.Logger) error {
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if v.Current == 0 {
		log.Info("new database: creating the schema")
		if err := migrateAll(ctx, db, clk, log); err != nil {
			return err
		}
	}
	if err := db.CheckSchema(ctx); err != nil {
		return err
	}
	if err := jobs.CheckSchema(ctx, db); err != nil {
		return err
	}
	// The document types table follows the embedded one of this version.
	catalog, err := terminology.Default()
	if err != nil {
		return err
	}
	return db.Update(ctx, func(tx *store.Tx) error { return tx.SyncDocumentTypes(ctx, catalog.Types()) })
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := loadConfig("migrate", args, stderr, nil)
	if err != nil {
		return err
	}
	db, _, err := openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer db.Close()
	log := newLogger(cfg, stderr)
	before, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if err := migrateAll(ctx, db, clock.System{}, log); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s: schema version %d → %d\n", cfg.DB.Redacted(), before.Current, before.Latest)
	return nil
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: carnet audit verify [--checkpoint FILE] [--save-checkpoint FILE] [flags]")
		return errUsage
	}
	var against, save string
	cfg, _, err := loadConfig("audit verify", args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&against, "checkpoint", "", "also check that every chain still holds what this checkpoint recorded")
		fs.StringVar(&save, "save-checkpoint", "", "when the log is intact, record every chain head in this file (keep it outside the database's reach)")
	})
	if err != nil {
		return err
	}
	db, key, err := openStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CheckSchema(ctx); err != nil {
		return err
	}
	began := time.Now()
	res, err := db.VerifyTraces(ctx, key.trace)
	if err != nil {
		return err
	}
	if against != "" {
		f, err := os.Open(against)
		if err != nil {
			return errs.Wrap(errs.Invalid, err, "open checkpoint")
		}
		v := audit.NewVerifier(key.trace)
		err = audit.ReadCheckpoint(f, key.trace, func(h audit.Head) error { return db.CheckCheckpoint(ctx, v, h) })
		f.Close()
		if err != nil {
			return err
		}
		res.Problems = append(res.Problems, v.Result().Problems...)
	}
	for _, p := range res.Problems {
		fmt.Fprintln(stdout, p.String())
	}
	fmt.Fprintf(stdout, "%d traces in %d chains checked in %s: ", res.Traces, res.Chains, time.Since(began).Round(time.Millisecond))
	if !res.OK() {
		fmt.Fprintf(stdout, "%d problems\n", len(res.Problems))
		return fmt.Errorf("the trace log has been tampered with (%d problems)", len(res.Problems))
	}
	fmt.Fprintln(stdout, "the trace log is intact")
	if save != "" {
		if err := saveCheckpoint(ctx, db, key.trace, save); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "checkpoint saved to %s\n", save)
	}
	return nil
}

// saveCheckpoint writes the heads to path atomically, owner-only.
func saveCheckpoint(ctx context.Context, db *store.DB, key audit.Key, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".checkpoint-*")
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "write checkpoint")
	}
	defer os.Remove(tmp.Name())
	w := audit.NewCheckpointWriter(tmp, key)
	if err := db.Heads(ctx, w.Add); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Close(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
