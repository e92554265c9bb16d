// Package optout is in charge of creating patient spaces in bulk from the insurer's file (the
// opt-out campaign, DOMAIN.md "Life of a patient space"): streaming in constant memory,
// idempotent (a second run creates nothing twice), resumable after an interruption, every bad
// row written to a rejects file with its line number and reason without stopping the batch,
// the notices queued, and a dry run that only validates.
package optout

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
)

// Checkpoint is how far an import of one file went.
type Checkpoint struct {
	FileSHA256 string
	FileName   string
	NextLine   int64 // line number of the next record to read
	NextOffset int64 // its byte offset
	Counts     Counts
	StartedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
	// The sizes of the rejects and postal files once the batch's lines were written (-1: not
	// known, an output that is not a file): what a resumed run cuts them back to.
	RejectsSize, PostalSize int64
}

// Counts of an import.
type Counts struct {
	Rows       int64 // records read
	Created    int64
	Existed    int64 // spaces that existed before this run (an earlier run, a resumed one)
	Duplicates int64 // rows whose INS an earlier row of this run created
	Rejected   int64
}

// Checkpoints keeps import progress; the store implements it.
type Checkpoints interface {
	LoadCheckpoint(ctx context.Context, fileSHA256 string) (Checkpoint, error) // NotFound when none
	SaveCheckpoint(ctx context.Context, c Checkpoint) error
	// SaveCheckpointIn saves c in tx, the transaction of the batch it records: the checkpoint
	// moves with its batch or not at all. A checkpoint saved after the commit would, after a
	// crash in between, send the resumed run through the batch again, to find every row of
	// it a duplicate of itself.
	SaveCheckpointIn(ctx context.Context, tx space.Tx, c Checkpoint) error
}

// Spaces is what the import needs of the space service.
type Spaces interface {
	CreateBatch(ctx context.Context, by space.By, rows []space.NewSpace, beforeCommit func(space.Tx, []space.Outcome) error) ([]space.Outcome, error)
	CheckBatch(ctx context.Context, rows []space.NewSpace, earlier func(matricule string) (space.Patient, bool)) ([]space.Outcome, error)
}

// DefaultBatch is the rows of a transaction unless told otherwise. Every batch's commit
// writes to the WAL each page its rows changed, and the people of the insurer's file come in
// no INS order: a batch of 5,000 changes some 3,500 pages of the INS index and as many of the
// birth dates' among a million people, one or two rows each, and those random pages were
// most of what a commit wrote (a quarter of the import's time on a million people). A batch
// of 20,000 writes each such page for several rows: 1,000,000 people in 57 s instead of 69 s
// on SQLite (bench/README.md), for a peak memory of 450 MB instead of 320 MB, which the
// batch size bounds, not the file's (`--batch 5000` on a small machine).
const DefaultBatch = 20000

// Options of one import.
type Options struct {
	Rejects   io.Writer // CSV: line,reason (required)
	Postal    io.Writer // CSV of the postal notices to print, with activation codes (required unless DryRun)
	DryRun    bool      // validate only: nothing is written to the database
	BatchSize int       // rows per transaction (default DefaultBatch)
	Progress  func(Progress)
	By        space.By
}

// Progress is reported after each batch.
type Progress struct {
	BytesDone, BytesTotal int64
	Counts                Counts
	Elapsed               time.Duration
}

// Importer runs imports.
type Importer struct {
	spaces      Spaces
	checkpoints Checkpoints
	clock       clock.Clock
}

// New returns an importer.
func New(spaces Spaces, checkpoints Checkpoints, clk clock.Clock) *Importer {
	return &Importer{spaces: spaces, checkpoints: checkpoints, clock: clk}
}

// syncer is a writer that can be made durable (an *os.File).
type syncer interface{ Sync() error }

// file is an output that is a file (an *os.File): its size goes in the checkpoint, and a
// resumed run cuts off what a batch that did not commit had written to it.
type file interface {
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
}

// outputSize returns the size of the output w, -1 if it is not a file.
func outputSize(w io.Writer) (int64, error) {
	f, ok := w.(file)
	if !ok {
		return -1, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("size of an output: %w", err)
	}
	return fi.Size(), nil
}

// cutBack truncates the output w (named name) to the size a checkpoint recorded: the lines
// past it belong to a batch that did not commit. They are kept aside first, in the file's
// name with ".cut" added, when the output is a file with a name: nothing an operator may
// still need (lines another import appended to the same file, say) is ever thrown away. A
// file shorter than recorded lost lines of committed batches (postal notices with the only
// copy of their activation codes): the run stops rather than go on with a partial file.
func cutBack(w io.Writer, name string, recorded int64) error {
	f, ok := w.(file)
	if !ok || recorded < 0 {
		return nil
	}
	now, err := outputSize(w)
	if err != nil {
		return err
	}
	switch {
	case now < recorded:
		return errs.E(errs.Conflict, "the %s file has %d bytes, fewer than the %d the interrupted import had written to it when it last "+
			"committed: it was moved, emptied or cut since; put it back as the import left it (its first %d bytes are the committed "+
			"batches' lines) and run the same command again", name, now, recorded, recorded)
	case now > recorded:
		if n, ok := w.(interface{ Name() string }); ok {
			if err := keepAside(n.Name(), recorded); err != nil {
				return fmt.Errorf("keep aside what the %s file holds past its last committed batch: %w", name, err)
			}
		}
		if err := f.Truncate(recorded); err != nil {
			return fmt.Errorf("cut the %s file back to its last committed batch: %w", name, err)
		}
	}
	return nil
}

// keepAside appends what the file at path holds past offset to path+".cut", durably.
func keepAside(path string, offset int64) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(path+".cut", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, io.NewSectionReader(src, offset, 1<<62)); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// Run imports the file at path. It returns the counts of this run (and, through the
// checkpoint, of all runs on this file).
func (im *Importer) Run(ctx context.Context, path string, opt Options) (Counts, error) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultBatch
	}
	if opt.Rejects == nil || (opt.Postal == nil && !opt.DryRun) {
		return Counts{}, errs.E(errs.Invalid, "the rejects and postal outputs are required")
	}
	sum, size, err := fileSHA256(path)
	if err != nil {
		return Counts{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Counts{}, errs.Wrap(errs.Invalid, err, "open %s", path)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	headerLine, err := br.ReadString('\n')
	if err != nil && headerLine == "" {
		return Counts{}, errs.E(errs.Invalid, "%s is empty: a header line is expected", path)
	}
	h, err := ParseHeader(headerLine)
	if err != nil {
		return Counts{}, err
	}
	start := im.clock.Now()
	cp := Checkpoint{FileSHA256: sum, FileName: path, NextLine: 2, NextOffset: int64(len(headerLine)), StartedAt: start,
		RejectsSize: -1, PostalSize: -1}
	if !opt.DryRun {
		switch prev, err := im.checkpoints.LoadCheckpoint(ctx, sum); {
		case err == nil && !prev.FinishedAt.IsZero():
			// Imported in full already: run again anyway (idempotent), from the top, so that
			// rows changed in the store since are reported as they are now.
		case err == nil:
			cp = prev // resume
			cp.FileName = path
			if err := cutBack(opt.Rejects, "rejects", cp.RejectsSize); err != nil {
				return Counts{}, err
			}
			if err := cutBack(opt.Postal, "postal notices", cp.PostalSize); err != nil {
				return Counts{}, err
			}
			if _, err := f.Seek(cp.NextOffset, io.SeekStart); err != nil {
				return Counts{}, fmt.Errorf("resume %s: %w", path, err)
			}
			br.Reset(f)
		case !errs.Is(err, errs.NotFound):
			return Counts{}, err
		}
		if cp.UpdatedAt.IsZero() {
			// A new import (or a new run of one done in full): its checkpoint is saved before
			// the first batch, with the outputs' sizes, so that a run cut in its very first
			// batch is resumed, and its lines cut, like any other.
			cp.UpdatedAt = start
			if cp.RejectsSize, err = outputSize(opt.Rejects); err != nil {
				return Counts{}, err
			}
			if cp.PostalSize, err = outputSize(opt.Postal); err != nil {
				return Counts{}, err
			}
			if err := im.checkpoints.SaveCheckpoint(ctx, cp); err != nil {
				return Counts{}, err
			}
		}
	}
	// A person whose space was created since the import of this file began (by this run, or
	// by the run it resumes) is a duplicate of an earlier row; one created before is a space
	// that existed. Judged from this run's start, a duplicate of a row committed before an
	// interruption was counted as existing and missing from the rejects: the resumed import
	// did not end as an uninterrupted one.
	run := runState{im: im, opt: opt, importStart: cp.StartedAt.Truncate(time.Microsecond), rejects: csv.NewWriter(opt.Rejects), cp: &cp}
	if opt.DryRun {
		run.seen = map[uint64]int32{}
	} else {
		run.postal = csv.NewWriter(opt.Postal)
	}
	// The file is read and its rows parsed on a goroutine of their own while the batch before
	// is written: two batches in memory at most, whatever the size of the file.
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	batches := make(chan readBatch, 1)
	go readBatches(rctx, h, h.newReader(br), cp.NextLine, cp.NextOffset, opt.BatchSize, batches)
	for b := range batches {
		if err := ctx.Err(); err != nil {
			return run.counts, err
		}
		if b.err != nil {
			return run.counts, fmt.Errorf("read %s: %w", path, b.err)
		}
		// The batch moves cp on (in its transaction, when it writes one).
		c, err := run.batch(ctx, b)
		if err != nil {
			return run.counts, err
		}
		run.counts.add(c)
		if opt.Progress != nil {
			opt.Progress(Progress{BytesDone: b.nextOffset, BytesTotal: size, Counts: run.counts, Elapsed: im.clock.Now().Sub(start)})
		}
	}
	if err := ctx.Err(); err != nil {
		return run.counts, err
	}
	if !opt.DryRun {
		cp.FinishedAt = im.clock.Now()
		if err := im.checkpoints.SaveCheckpoint(ctx, cp); err != nil {
			return run.counts, err
		}
	}
	return run.counts, nil
}

// readBatch is a batch of the file's records: the rows to create and the records refused
// before they reach the space service (unreadable, malformed), in the order of their lines.
type readBatch struct {
	rows    []space.NewSpace
	lines   []int64 // of rows
	refused []refusal
	// Where the record after this batch starts: the checkpoint once the batch is committed.
	nextLine, nextOffset int64
	err                  error // reading failed: the run stops, this batch holds nothing else
}

type refusal struct {
	line int64
	err  error
}

// readBatches reads the records from line (at byte offset base), parses them with h and
// sends them by batches of size records, until the end of the file, a read error or ctx's
// end. It closes out.
func readBatches(ctx context.Context, h Header, r *csv.Reader, line, base int64, size int, out chan<- readBatch) {
	defer close(out)
	send := func(b readBatch) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	// A batch's slices are sized for a full batch: grown by append, the rows (large structs)
	// were copied over and over, a third of this goroutine's time.
	fresh := func() readBatch {
		return readBatch{rows: make([]space.NewSpace, 0, size), lines: make([]int64, 0, size)}
	}
	b := fresh()
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		recLine := line
		line++
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			b.refused = append(b.refused, refusal{recLine, errs.E(errs.Invalid, "unreadable CSV record: %s", pe.Err)})
		case err != nil:
			send(readBatch{err: err})
			return
		default:
			if n, err := h.Row(rec); err != nil {
				b.refused = append(b.refused, refusal{recLine, err})
			} else {
				b.rows, b.lines = append(b.rows, n), append(b.lines, recLine)
			}
		}
		if len(b.rows)+len(b.refused) >= size {
			b.nextLine, b.nextOffset = line, base+r.InputOffset()
			if !send(b) {
				return
			}
			b = fresh()
		}
	}
	if len(b.rows)+len(b.refused) > 0 {
		b.nextLine, b.nextOffset = line, base+r.InputOffset()
		send(b)
	}
}

func (c *Counts) add(o Counts) {
	c.Rows += o.Rows
	c.Created += o.Created
	c.Existed += o.Existed
	c.Duplicates += o.Duplicates
	c.Rejected += o.Rejected
}

type runState struct {
	im  *Importer
	opt Options
	// importStart: when the import of this file began, the run it resumes included (as
	// stored: to the microsecond, as the spaces' creation times).
	importStart time.Time
	cp          *Checkpoint // the import's checkpoint, moved on by each batch (not saved in a dry run)
	counts      Counts
	rejects     *csv.Writer
	postal      *csv.Writer // nil in a dry run
	// seen: in a dry run only, the people earlier batches would have created: a 64-bit hash
	// of their INS and their birth date (days since 1970), all a later row's checks read of
	// them (a duplicate, a parent and their age). About 20 bytes a row: a dry run of a
	// region's 10 million people takes some 200 MB, the only memory that grows with the file.
	seen map[uint64]int32
}

// batch creates (or, in a dry run, checks) one batch and writes its rejects and postal
// notices.
func (rs *runState) batch(ctx context.Context, b readBatch) (Counts, error) {
	c := Counts{Rows: int64(len(b.rows) + len(b.refused)), Rejected: int64(len(b.refused))}
	tally := func(out []space.Outcome) error {
		refused := b.refused
		// Rejects in the order of the lines: those refused on reading merged with the service's.
		flushRefused := func(before int64) error {
			for len(refused) > 0 && refused[0].line < before {
				if err := rs.reject(refused[0].line, refused[0].err); err != nil {
					return err
				}
				refused = refused[1:]
			}
			return nil
		}
		for i, o := range out {
			if err := flushRefused(b.lines[i]); err != nil {
				return err
			}
			switch {
			case o.Err != nil:
				c.Rejected++
				if err := rs.reject(b.lines[i], o.Err); err != nil {
					return err
				}
			case o.Existed != nil && !o.Existed.CreatedAt.Before(rs.importStart):
				c.Duplicates++
				if err := rs.reject(b.lines[i], errs.E(errs.Conflict, "duplicate: an earlier row of this file has the same INS")); err != nil {
					return err
				}
			case o.Existed != nil:
				c.Existed++
			default:
				c.Created++
				if code := o.Created.ActivationCode; code != "" && rs.postal != nil {
					if err := writePostal(rs.postal, o.Created, code); err != nil {
						return err
					}
				}
			}
		}
		if err := flushRefused(math.MaxInt64); err != nil {
			return err
		}
		// Durable before the batch commits: an activation code lost after the commit would
		// leave a space nobody can activate.
		for _, w := range []struct {
			csv *csv.Writer
			out io.Writer
		}{{rs.rejects, rs.opt.Rejects}, {rs.postal, rs.opt.Postal}} {
			if w.csv == nil {
				continue
			}
			w.csv.Flush()
			if err := w.csv.Error(); err != nil {
				return fmt.Errorf("write outputs: %w", err)
			}
			if s, ok := w.out.(syncer); ok {
				if err := s.Sync(); err != nil {
					return fmt.Errorf("sync outputs: %w", err)
				}
			}
		}
		return nil
	}
	// next is the checkpoint once this batch is in: after it in the file, its counts added,
	// the outputs' sizes with its lines written.
	next := func() (Checkpoint, error) {
		cp := *rs.cp
		cp.Counts.add(c)
		cp.NextLine, cp.NextOffset, cp.UpdatedAt = b.nextLine, b.nextOffset, rs.im.clock.Now()
		var err error
		if cp.RejectsSize, err = outputSize(rs.opt.Rejects); err != nil {
			return cp, err
		}
		if rs.postal != nil {
			if cp.PostalSize, err = outputSize(rs.opt.Postal); err != nil {
				return cp, err
			}
		}
		return cp, nil
	}
	switch {
	case rs.opt.DryRun:
		var out []space.Outcome
		if len(b.rows) > 0 {
			var err error
			if out, err = rs.im.spaces.CheckBatch(ctx, b.rows, rs.earlier); err != nil {
				return c, err
			}
		}
		for i, o := range out {
			if o.Err == nil && o.Existed == nil {
				p := b.rows[i].Patient
				rs.seen[hashINS(p.INS.Matricule)] = int32(p.BirthDate.Unix() / 86400)
			}
		}
		if err := tally(out); err != nil {
			return c, err
		}
		cp, err := next()
		*rs.cp = cp // not saved: a dry run writes nothing
		return c, err
	case len(b.rows) == 0: // every record refused on reading: nothing for the spaces to do
		if err := tally(nil); err != nil {
			return c, err
		}
		cp, err := next()
		if err == nil {
			err = rs.im.checkpoints.SaveCheckpoint(ctx, cp)
		}
		if err != nil {
			return c, err
		}
		*rs.cp = cp
		return c, nil
	}
	var saved Checkpoint
	_, err := rs.im.spaces.CreateBatch(ctx, rs.opt.By, b.rows, func(tx space.Tx, out []space.Outcome) error {
		if err := tally(out); err != nil {
			return err
		}
		cp, err := next()
		if err != nil {
			return err
		}
		saved = cp
		return rs.im.checkpoints.SaveCheckpointIn(ctx, tx, cp)
	})
	if err != nil {
		return c, err
	}
	*rs.cp = saved
	return c, nil
}

// earlier, for a dry run, finds the people earlier batches would have created.
func (rs *runState) earlier(matricule string) (space.Patient, bool) {
	days, ok := rs.seen[hashINS(matricule)]
	if !ok {
		return space.Patient{}, false
	}
	return space.Patient{INS: identity.INS{Matricule: matricule}, BirthDate: time.Unix(int64(days)*86400, 0).UTC(),
		CreatedAt: rs.importStart}, true
}

func hashINS(m string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(m))
	return h.Sum64()
}

func (rs *runState) reject(line int64, err error) error {
	return rs.rejects.Write([]string{strconv.FormatInt(line, 10), string(errs.CodeOf(err)), errs.MessageOf(err)})
}

func writePostal(cw *csv.Writer, c space.Created, code string) error {
	p := c.Patient
	return cw.Write([]string{p.INS.Matricule, p.BirthName, p.UsedName, p.GivenNames, p.PostalAddress, code,
		c.Space.OpensAt.Format(space.DateLayout)})
}

// PostalHeader is the header of the postal output.
var PostalHeader = []string{"ins", "birth_name", "used_name", "given_names", "postal_address", "activation_code", "opens_on"}

// RejectsHeader is the header of the rejects output.
var RejectsHeader = []string{"line", "code", "reason"}

func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, errs.Wrap(errs.Invalid, err, "open %s", path)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
