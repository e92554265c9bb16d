package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/optout"
)

const optoutUsage = `usage: carnet optout import FILE [--dry-run] [--rejects FILE] [--postal FILE] [--batch N] [--cache-mib N]

Creates a space for every person of the insurer's CSV file (header: ins, birth_name,
given_names, birth_date, sex, and optionally ins_oid, used_name, email, phone, postal_address,
parent_ins with parents separated by '|'; ',' or ';' separated). Parents come before their
children, or already have a space. Running it again creates nothing twice; an interrupted run
resumes after its last committed batch, and cuts the rejects and postal files back to what
that batch had written (keep them as they are between the two runs; what is cut is kept in
the same name with .cut added). Bad rows go to the rejects file (line, code, reason);
people without e-mail go to the postal file with their activation code, for printing: keep it
safe, it opens their space.`

func runOptout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 1 || args[0] != "import" {
		fmt.Fprintln(stderr, optoutUsage)
		return errUsage
	}
	var dryRun bool
	var rejectsPath, postalPath string
	var batch, cacheMiB int
	a, fs, err := openAdmin(ctx, "optout import", args[1:], stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&dryRun, "dry-run", false, "validate only: write nothing to the database")
		fs.StringVar(&rejectsPath, "rejects", "", "rejects file (default FILE.rejects.csv)")
		fs.StringVar(&postalPath, "postal", "", "postal notices file (default FILE.postal.csv)")
		fs.IntVar(&batch, "batch", optout.DefaultBatch, "rows per transaction (memory grows with it)")
		fs.IntVar(&cacheMiB, "cache-mib", 64, "SQLite: page cache of the import's writer, in MiB")
	})
	if err != nil {
		return err
	}
	defer a.db.Close()
	if err := a.db.TuneForBulkImport(ctx, cacheMiB); err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// Each batch allocates its rows, traces and statement arguments anew, and at the
		// default GOGC the collector ran over the two batches in flight several times a
		// batch: at 200 the import takes 12 % less CPU for some 26 MB more (measured on
		// 200,000 people). Memory stays bounded by the batch size, not the file.
		debug.SetGCPercent(200)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, optoutUsage)
		return errUsage
	}
	path := fs.Arg(0)
	if rejectsPath == "" {
		rejectsPath = strings.TrimSuffix(path, ".csv") + ".rejects.csv"
	}
	if postalPath == "" {
		postalPath = strings.TrimSuffix(path, ".csv") + ".postal.csv"
	}
	rejects, err := openOutput(rejectsPath, optout.RejectsHeader)
	if err != nil {
		return err
	}
	defer rejects.Close()
	opt := optout.Options{Rejects: rejects, DryRun: dryRun, BatchSize: batch, By: a.spaceBy(), Progress: progressPrinter(stderr)}
	if !dryRun {
		postal, err := openOutput(postalPath, optout.PostalHeader)
		if err != nil {
			return err
		}
		defer postal.Close()
		opt.Postal = postal
	}
	im := optout.New(a.spaces, a.db, clock.System{})
	began := time.Now()
	c, err := im.Run(ctx, path, opt)
	fmt.Fprintln(stderr)
	verb := "created"
	if dryRun {
		verb = "would be created"
	}
	fmt.Fprintf(stdout, "%d rows in %s: %d %s, %d existed already, %d duplicates, %d rejected (see %s)\n",
		c.Rows, time.Since(began).Round(time.Millisecond), c.Created, verb, c.Existed, c.Duplicates, c.Rejected, rejectsPath)
	if !dryRun {
		fmt.Fprintf(stdout, "postal notices to print: %s\n", postalPath)
	}
	if err != nil {
		return fmt.Errorf("interrupted: %w (run the same command again to resume)", err)
	}
	return nil
}

// openOutput opens an output for appending (a resumed run adds to it), owner-only: the postal
// file holds activation codes. A new file gets its header.
func openOutput(path string, header []string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "open %s", path)
	}
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
		w := csv.NewWriter(f)
		w.Write(header)
		w.Flush()
		if err := w.Error(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// progressPrinter draws a bar with rate and time left on a terminal, and a plain line every
// 10 seconds otherwise (a log file, CI).
func progressPrinter(w io.Writer) func(optout.Progress) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	var last time.Time
	return func(p optout.Progress) {
		frac := 0.0
		if p.BytesTotal > 0 {
			frac = float64(p.BytesDone) / float64(p.BytesTotal)
		}
		rate := float64(p.Counts.Rows) / max(p.Elapsed.Seconds(), 1e-3)
		left := "?"
		if frac > 0 {
			left = (time.Duration(float64(p.Elapsed) * (1 - frac) / frac)).Round(time.Second).String()
		}
		if tty {
			const width = 30
			done := int(frac * width)
			fmt.Fprintf(w, "\r[%s%s] %5.1f%%  %d rows  %.0f rows/s  %s left  ", strings.Repeat("#", done), strings.Repeat(" ", width-done),
				100*frac, p.Counts.Rows, rate, left)
			return
		}
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			fmt.Fprintf(w, "optout: %.1f%% %d rows (%d created, %d rejected), %.0f rows/s, %s left\n",
				100*frac, p.Counts.Rows, p.Counts.Created, p.Counts.Rejected, rate, left)
		}
	}
}
