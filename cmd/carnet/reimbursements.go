package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/reimburse"
	"github.com/carnet-sante/carnet/internal/terminology"
)

const reimbursementsUsage = `usage: carnet reimbursements import FILE [--dry-run] [--rejects FILE] [--workers N]

Files the health insurer's reimbursement feed: every care act becomes an event of the person's
agenda and a line of their monthly statement ("Relevé de remboursements", a REMB document of
the Remboursements space, deposited by the insurer; a month that gets new acts gets a new
version of its statement). Running a file again files nothing twice; an interrupted run is
finished by running it again, from the top. A run knows the rows an earlier run of the same
file (the same bytes) filed: the rerun rejects the same rows as one run that went through
would have (a reference repeated in the file, even for rows filed before the interruption),
and counts the rows filed by the earlier run as "filed before". FILE is read once before the
run for this; a FILE that is not a regular file (a pipe) cannot be read twice: its run knows
only the rows it filed itself.

FILE is CSV (';' or ',' separated, UTF-8), a header line then one row per reimbursed act:
  ins                the person's INS matricule (or urn:oid:OID|matricule)        required
  act_date           date of the care, YYYY-MM-DD or DD/MM/YYYY                   required
  end_date           last day of a hospital stay
  nature             consultation, visite, pharmacie, biologie, imagerie,         required
                     hospitalisation, soins_infirmiers, kinesitherapie, dentaire,
                     optique, transport, autre
  code_system, code  CCAM (ZBQK002), NGAP (GS, AMI 1.5), NABM, CIP or LPP; CCAM and
                     NGAP codes need no system
  provider_id        IdNat_PS or RPPS of the professional, or FINESS of the         one of
  provider_name      establishment; its name                                       the two
  amount_paid        cost of the act in euros (30,00 or 30.00)                    required
  amount_reimbursed  what the insurer paid back, not more than amount_paid        required
  reference          the insurer's unique reference of the act (1-64 of           required
                     A-Z a-z 0-9 . _ - /)
Rows of one person are expected together (any order works, with more statement versions).
Bad rows go to the rejects file (line, reference, code, reason; default FILE.rejects.csv,
rewritten by each run) and the batch goes on. --dry-run checks everything, the database
included, and writes nothing to it.`

func runReimbursements(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 1 || args[0] != "import" {
		fmt.Fprintln(stderr, reimbursementsUsage)
		return errUsage
	}
	var (
		dryRun      bool
		rejectsPath string
		workers     int
	)
	flags := func(fs *flag.FlagSet) {
		fs.BoolVar(&dryRun, "dry-run", false, "check everything, write nothing to the database")
		fs.StringVar(&rejectsPath, "rejects", "", "rejects file (default FILE.rejects.csv)")
		fs.IntVar(&workers, "workers", reimburse.DefaultWorkers, "people filed at once")
	}
	// FILE may stand among the flags: parse up to it, then again without it.
	rest := args[1:]
	cfg, fs, err := loadConfig("reimbursements import", rest, stderr, flags)
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, reimbursementsUsage)
		return errUsage
	}
	at := len(rest) - fs.NArg()
	path := rest[at]
	if cfg, fs, err = loadConfig("reimbursements import", slices.Concat(rest[:at], rest[at+1:]), stderr, flags); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, reimbursementsUsage)
		return errUsage
	}
	in, err := os.Open(path)
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "open %s", path)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	// The file's identity: what a rerun of the same file knows its rows by.
	var fileID string
	if fi.Mode().IsRegular() {
		if fileID, err = reimburse.FileIDOf(in); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if _, err := in.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	if rejectsPath == "" {
		rejectsPath = strings.TrimSuffix(path, ".csv") + ".rejects.csv"
	}

	clk := clock.System{}
	db, key, err := openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := prepareSchema(ctx, db, clk, newLogger(cfg, stderr)); err != nil {
		return err
	}
	if _, err := jobs.New(db, jobs.Config{}, jobs.Deps{}); err != nil { // insert-only: the server works the jobs
		return err
	}
	blobs, err := blob.NewFS(filepath.Join(cfg.DataDir, "blobs"), key.master, blob.WithPreviousKeys(cfg.PreviousMasterKeys()...))
	if err != nil {
		return err
	}
	catalog, err := terminology.Default()
	if err != nil {
		return err
	}
	matrix, err := activeMatrix(ctx, db)
	if err != nil {
		return err
	}
	acc := access.NewService(db.Access(), clk, matrix, access.ServicePolicy{})
	records, err := record.NewService(record.Deps{Store: db.Records(), Access: acc, Blobs: blobs, Catalog: catalog, Clock: clk,
		Log: newLogger(cfg, stderr)})
	if err != nil {
		return err
	}
	ag, err := agenda.NewService(agenda.Deps{Store: db.Agenda(), Access: acc, Clock: clk})
	if err != nil {
		return err
	}
	im, err := reimburse.New(reimburse.Deps{Store: db.Reimbursements(), Records: records, Agenda: ag, Clock: clk})
	if err != nil {
		return err
	}

	rejects, err := createRejects(rejectsPath)
	if err != nil {
		return err
	}
	defer rejects.Close()
	by := operatorActor()
	opt := reimburse.Options{
		Request:  record.Request{Channel: audit.ChannelCLI, Actor: access.Actor{Kind: by.Kind, ID: by.ID, Name: by.Name}},
		Rejects:  rejects,
		DryRun:   dryRun,
		Workers:  workers,
		Size:     fi.Size(),
		Progress: reimbursementProgress(stderr),
		FileID:   fileID,
	}
	began := time.Now()
	sum, err := im.Run(ctx, in, opt)
	took := time.Since(began)
	if cerr := rejects.Close(); cerr != nil && err == nil {
		err = cerr
	}
	fmt.Fprintln(stderr)
	verb := "filed"
	if dryRun {
		verb = "would be filed"
	}
	fmt.Fprintf(stdout, "%d acts in %s (%.0f acts/s): %d events %s, %d acts filed before, %d statements deposited, %d replaced, %d rejected (see %s)\n",
		sum.Acts, took.Round(time.Millisecond), float64(sum.Acts)/max(took.Seconds(), 1e-3), sum.Events, verb, sum.Existed,
		sum.Deposited, sum.Replaced, sum.Rejected, rejectsPath)
	if err != nil {
		return fmt.Errorf("interrupted: %w (run the same command again to finish)", err)
	}
	return nil
}

// createRejects creates (or empties) the rejects file, owner-only, with its header: each run
// writes the rejects of the whole file again.
func createRejects(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "open %s", path)
	}
	w := csv.NewWriter(f)
	w.Write(reimburse.RejectsHeader)
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// reimbursementProgress draws a bar with rate and time left on a terminal, and a plain line
// every 10 seconds otherwise (a log file, CI).
func reimbursementProgress(w io.Writer) func(reimburse.Progress) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	var last time.Time
	return func(p reimburse.Progress) {
		frac := 0.0
		if p.BytesTotal > 0 {
			frac = min(1, float64(p.BytesDone)/float64(p.BytesTotal))
		}
		rate := float64(p.Summary.Acts) / max(p.Elapsed.Seconds(), 1e-3)
		left := "?"
		if frac > 0 {
			left = time.Duration(float64(p.Elapsed) * (1 - frac) / frac).Round(time.Second).String()
		}
		switch {
		case tty && time.Since(last) >= 200*time.Millisecond:
			last = time.Now()
			const width = 30
			done := int(frac * width)
			fmt.Fprintf(w, "\r[%s%s] %5.1f%%  %d acts  %.0f acts/s  %s left  ", strings.Repeat("#", done),
				strings.Repeat(" ", width-done), 100*frac, p.Summary.Acts, rate, left)
		case !tty && time.Since(last) >= 10*time.Second:
			last = time.Now()
			fmt.Fprintf(w, "reimbursements: %.1f%% %d acts (%d events, %d rejected), %.0f acts/s, %s left\n",
				100*frac, p.Summary.Acts, p.Summary.Events, p.Summary.Rejected, rate, left)
		}
	}
}
