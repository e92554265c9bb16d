package notify

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Outbox is the embedded default Sender: it writes each notice as an .eml file into a folder
// instead of mailing it, so that `carnet serve` works on a fresh machine without a relay and
// a newcomer can open the files to read exactly what patients would receive.
//
// Files are named "<date>-<ID>.eml" (date as 20060102T150405Z, UTC), so that listing the
// folder sorts them by date. Sending a message whose ID is already there (a retried job)
// leaves one file, not two: with the same Date the new file replaces the old under the same
// name; with another Date (a job that lets the clock stamp each attempt) the copies with the
// older dates are removed.
type Outbox struct {
	dir   string
	from  string
	clock clock.Clock
}

// NewOutbox returns the Outbox of cfg.OutboxDir, creating the folder (mode 0700: notices
// hold patients' addresses) if it is missing. cfg.From defaults to DefaultFrom; clk stamps
// messages without a Date, nil meaning the system clock.
func NewOutbox(cfg Config, clk clock.Clock) (*Outbox, error) {
	cfg.Mode = ModeOutbox
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.From == "" {
		cfg.From = DefaultFrom
	}
	if clk == nil {
		clk = clock.System{}
	}
	if err := os.MkdirAll(cfg.OutboxDir, 0o700); err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "cannot create the notification outbox folder")
	}
	return &Outbox{dir: cfg.OutboxDir, from: cfg.From, clock: clk}, nil
}

// Send writes m into the outbox. It returns only once the file and its directory entry are
// on disk, so that a notice reported as sent survives a crash (DESIGN invariant 1).
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return errs.Wrap(errs.Unavailable, err, "notification not written: cancelled")
	}
	m = stamp(m, o.clock)
	data, err := Compose(o.from, m)
	if err != nil {
		return err
	}
	name := m.Date.Format(outboxDateLayout) + "-" + m.ID + ".eml"
	if err := writeFileAtomic(o.dir, name, data); err != nil {
		return errs.Wrap(errs.Unavailable, err, "cannot write the notification to the outbox")
	}
	if err := keepNewestCopy(o.dir, m.ID); err != nil {
		// The notice is on disk; the retry this error causes only tidies up.
		return errs.Wrap(errs.Unavailable, err, "cannot remove an older copy of the notification from the outbox")
	}
	return nil
}

const outboxDateLayout = "20060102T150405Z"

// keepNewestCopy removes every file of notice id but the one with the newest date. Every
// sender of the same id, even concurrent ones, agrees on which file that is (the greatest
// name), so a notice is never left with no file at all.
//
// It reads the whole folder: the outbox serves a single machine, where this costs less than
// keeping an index of IDs, and a glob pattern would break on a folder path holding '[' or '*'.
func keepNewestCopy(dir, id string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	suffix := "-" + id + ".eml"
	var copies []string
	for _, e := range entries {
		n := e.Name()
		// The exact length tells "…-notice-42.eml" (id "notice-42") from "…-42.eml" (id "42").
		if !strings.HasSuffix(n, suffix) || len(n) != len(outboxDateLayout)+len(suffix) {
			continue
		}
		if _, err := time.Parse(outboxDateLayout, n[:len(outboxDateLayout)]); err != nil {
			continue
		}
		copies = append(copies, n)
	}
	if len(copies) < 2 {
		return nil
	}
	slices.Sort(copies)
	for _, n := range copies[:len(copies)-1] {
		// Another sender may have removed it already.
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return syncDir(dir)
}

// writeFileAtomic makes name hold data, or leaves it as it was: a reader never sees a half
// written notice. The temporary file is in the same folder so that the rename stays within
// one file system (and is atomic); its name starts with '.' so that a listing of *.eml skips
// it.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, ".notice-*.tmp") // created 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	// fsync before rename: otherwise a crash can leave the new name pointing to an empty
	// file on file systems that reorder metadata and data writes.
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	// The rename itself lives in the directory: fsync it too, or it may be lost on power
	// failure even though the file's bytes were synced.
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	return errors.Join(serr, d.Close())
}
