package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/backup"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/config"
	"github.com/carnet-sante/carnet/internal/errs"
)

const backupUsage = `usage: carnet backup --to DIR [flags]

Copies the database and the blobs its documents refer to into DIR, a new or empty
directory, while carnet serve keeps running: the database as one consistent snapshot
(SQLite's VACUUM INTO, which does not hold the server's writes), then its blobs, then
DIR/manifest.json, written last, once everything is on disk. A directory without a
manifest is not a backup. The master key is not copied: keep it apart from the backups;
the backup says which key it needs. Restore with carnet restore.

For the embedded default (SQLite) only. On PostgreSQL, back the database up with pg_dump
or pg_basebackup first, then copy <data_dir>/blobs.

The settings are those of ` + "`carnet serve --help`" + `.`

const restoreUsage = `usage: carnet restore --from DIR --data-dir NEW [--migrate] [flags]

Restores the backup in DIR into NEW, a new data directory (it may hold only master.key,
the backup's master key, unless master_key_file names it), then checks it: the database
against the manifest's hash and counts, its schema against this carnet's (--migrate brings
an older one up to date), the trace log with carnet audit verify, and every blob a document
refers to, read back and checked against the document's SHA-256 and SHA-1. The database
gets its name only once all of that passed; otherwise it stays as carnet.db.unverified and
the command exits 1 listing the problems.

The settings are those of ` + "`carnet serve --help`" + `; master_key (and
previous_master_keys if the backup needs them) must be the backup's.`

// pgBackup is the answer of backup and restore on PostgreSQL. The order matters for the same
// reason as in a carnet backup: a blob is written before the row that refers to it, so blobs
// copied after the dump include every blob the dump refers to.
const pgBackup = "on PostgreSQL, back the database up with pg_dump (or pg_basebackup, for point-in-time recovery) and restore it with pg_restore; copy the blob directory %s after the dump (rsync: blob files never change), and keep the master key apart"

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var to string
	cfg, _, err := loadConfig("backup", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "directory to write the backup into, new or empty")
	})
	if err != nil {
		return err
	}
	if to == "" {
		fmt.Fprintln(stderr, backupUsage)
		return errUsage
	}
	blobDir := filepath.Join(cfg.DataDir, "blobs") // where serve keeps them
	if cfg.DB.Driver == config.DriverPostgres {
		return errs.E(errs.Invalid, "carnet backup copies the embedded SQLite database; "+pgBackup, blobDir)
	}
	ids, err := keyIDs(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup of %s and %s into %s\n", cfg.DB.Redacted(), blobDir, to)
	m, err := backup.Backup(ctx, backup.Source{Database: cfg.DB.DSN, Blobs: blobDir}, to,
		backup.Options{Version: version, Keys: ids, Clock: clock.System{}, Progress: backupProgress(stderr)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "snapshot of %s: schema version %d, %d patients, %d documents, %d traces\n",
		m.TakenAt.Format(time.RFC3339), m.SchemaVersion, m.Counts.Patients, m.Counts.Documents, m.Counts.Traces)
	fmt.Fprintf(stdout, "%d blobs (%d key files, %d bytes) copied; %d snapshot(s) taken; %s in all\n",
		m.Blobs.Count, m.Blobs.Sidecars, m.Blobs.Bytes, m.Attempts, m.Took)
	fmt.Fprintf(stdout, "database %s: %d bytes, SHA-256 %s\n", m.Database.Name, m.Database.Size, m.Database.SHA256)
	fmt.Fprintf(stdout, "the master key is not in the backup: keep master key %s apart from it, for as long as the backup", m.MasterKeys.Current)
	if len(m.MasterKeys.Previous) > 0 {
		fmt.Fprintf(stdout, ", and the previous keys %s too unless `carnet blobs rewrap` had ended before the backup", strings.Join(m.MasterKeys.Previous, ", "))
	}
	fmt.Fprintf(stdout, "\nbackup complete: %s\n", filepath.Join(to, backup.ManifestName))
	return nil
}

func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var from string
	var migrate bool
	cfg, fs, err := loadConfig("restore", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "directory of the backup to restore")
		fs.BoolVar(&migrate, "migrate", false, "bring a backup whose schema is behind this carnet up to date")
	})
	if err != nil {
		return err
	}
	if from == "" {
		fmt.Fprintln(stderr, restoreUsage)
		return errUsage
	}
	if cfg.DB.Driver == config.DriverPostgres {
		return errs.E(errs.Invalid, "carnet restore writes the embedded SQLite database; "+pgBackup, filepath.Join(cfg.DataDir, "blobs"))
	}
	ids, err := keyIDs(cfg)
	if err != nil {
		return err
	}
	m, err := backup.ReadManifest(from)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restoring the backup of %s (carnet %s, schema version %d, %d documents, %d blobs) into %s\n",
		m.TakenAt.Format(time.RFC3339), m.CarnetVersion, m.SchemaVersion, m.Counts.Documents, m.Blobs.Count, cfg.DataDir)

	// The trace log is checked by `carnet audit verify` itself, on the restored database under
	// its provisional name, with this command's settings.
	var auditArgs []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "from" && f.Name != "migrate" && !strings.HasPrefix(f.Name, "database-url") {
			auditArgs = append(auditArgs, "--"+f.Name+"="+f.Value.String())
		}
	})
	opt := backup.RestoreOptions{
		Keys: ids,
		OpenBlobs: func(dir string) (blob.Store, error) {
			master, err := cfg.ExistingMasterKey()
			if err != nil {
				return nil, err
			}
			defer clear(master)
			return blob.NewFS(dir, master, blob.WithPreviousKeys(cfg.PreviousMasterKeys()...))
		},
		Audit: func(ctx context.Context, database string) error {
			return runAudit(ctx, append(append([]string{"verify"}, auditArgs...), "--database-url=sqlite:"+database), stdout, stderr)
		},
		Progress: backupProgress(stderr),
	}
	if migrate {
		opt.Migrate = func(ctx context.Context, database string) error {
			c := *cfg
			c.DB = config.DB{Driver: config.DriverSQLite, DSN: database}
			db, _, err := openStore(ctx, &c, true)
			if err != nil {
				return err
			}
			defer db.Close()
			return migrateAll(ctx, db, clock.System{}, newLogger(cfg, stderr))
		}
	}
	res, err := backup.Restore(ctx, from, backup.Target{DataDir: cfg.DataDir, Database: cfg.DB.DSN}, opt)
	if res != nil {
		for _, p := range res.Problems {
			fmt.Fprintln(stdout, p)
		}
	}
	if err != nil {
		return err
	}
	if res.Migrated {
		fmt.Fprintf(stdout, "schema migrated from version %d\n", m.SchemaVersion)
	}
	fmt.Fprintf(stdout, "%d documents; %d blobs (%d bytes) read back and checked against their hashes\n", res.Documents, res.Blobs, res.Bytes)
	fmt.Fprintf(stdout, "restore complete: %s and %s; start carnet serve on this data directory\n",
		res.Database, filepath.Join(cfg.DataDir, backup.BlobsDir))
	return nil
}

// keyIDs reads the configured master keys, which must exist (a key made up on the spot would
// match nothing), and returns their IDs only.
func keyIDs(cfg *config.Config) (backup.KeyIDs, error) {
	master, err := cfg.ExistingMasterKey()
	if err != nil {
		return backup.KeyIDs{}, err
	}
	ids := backup.KeyIDs{Current: blob.KeyID(master)}
	clear(master)
	for _, k := range cfg.PreviousMasterKeys() {
		ids.Previous = append(ids.Previous, blob.KeyID(k))
		clear(k)
	}
	return ids, nil
}

// backupProgress says how far a backup or a restore is, on w, every progressEvery and at
// each new phase.
func backupProgress(w io.Writer) func(backup.Progress) {
	var last time.Time
	phase := ""
	return func(p backup.Progress) {
		now := time.Now()
		if p.Phase == phase && now.Sub(last) < progressEvery {
			return
		}
		last, phase = now, p.Phase
		if p.Done == 0 {
			fmt.Fprintf(w, "%s…\n", p.Phase)
			return
		}
		fmt.Fprintf(w, "%s: %d blobs, %d bytes\n", p.Phase, p.Done, p.Bytes)
	}
}
