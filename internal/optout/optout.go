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
	"os"
	"strconv"
	"time"

	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
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
}

// Spaces is what the import needs of the space service.
type Spaces interface {
	CreateBatch(ctx context.Context, by space.By, rows []space.NewSpace, beforeCommit func([]space.Outcome) error) ([]space.Outcome, error)
	CheckBatch(ctx context.Context, rows []space.NewSpace, lookup func(space.Tx) space.Lookup) ([]space.Outcome, error)
}

// Options of one import.
type Options struct {
	Rejects   io.Writer // CSV: line,reason (required)
	Postal    io.Writer // CSV of the postal notices to print, with activation codes (required unless DryRun)
	DryRun    bool      // validate only: nothing is written to the database
	BatchSize int       // rows per transaction (default 500)
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

// Run imports the file at path. It returns the counts of this run (and, through the
// checkpoint, of all runs on this file).
func (im *Importer) Run(ctx context.Context, path string, opt Options) (Counts, error) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 500
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
	cp := Checkpoint{FileSHA256: sum, FileName: path, NextLine: 2, NextOffset: int64(len(headerLine)), StartedAt: start}
	if !opt.DryRun {
		switch prev, err := im.checkpoints.LoadCheckpoint(ctx, sum); {
		case err == nil && !prev.FinishedAt.IsZero():
			// Imported in full already: run again anyway (idempotent), from the top, so that
			// rows changed in the store since are reported as they are now.
		case err == nil:
			cp = prev // resume
			cp.FileName = path
			if _, err := f.Seek(cp.NextOffset, io.SeekStart); err != nil {
				return Counts{}, fmt.Errorf("resume %s: %w", path, err)
			}
			br.Reset(f)
		case !errs.Is(err, errs.NotFound):
			return Counts{}, err
		}
	}
	r := h.newReader(br)
	run := runState{im: im, opt: opt, runStart: start, seen: map[uint64]space.Patient{}}
	var batch []space.NewSpace
	var lines []int64
	line := cp.NextLine
	flush := func(nextOffset int64) error {
		if len(batch) == 0 {
			return nil
		}
		c, err := run.batch(ctx, batch, lines)
		if err != nil {
			return err
		}
		cp.Counts.add(c)
		run.counts.add(c)
		cp.NextLine, cp.NextOffset, cp.UpdatedAt = line, nextOffset, im.clock.Now()
		if !opt.DryRun {
			if err := im.checkpoints.SaveCheckpoint(ctx, cp); err != nil {
				return err
			}
		}
		if opt.Progress != nil {
			opt.Progress(Progress{BytesDone: nextOffset, BytesTotal: size, Counts: run.counts, Elapsed: im.clock.Now().Sub(start)})
		}
		batch, lines = batch[:0], lines[:0]
		return nil
	}
	base := cp.NextOffset
	for {
		if err := ctx.Err(); err != nil {
			return run.counts, err
		}
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		recLine := line
		line++
		// A row refused before it reaches the service (unreadable, malformed) is counted here.
		refuse := func(why error) error {
			one := Counts{Rows: 1, Rejected: 1}
			cp.Counts.add(one)
			run.counts.add(one)
			return run.reject(recLine, why)
		}
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			if err := refuse(errs.E(errs.Invalid, "unreadable CSV record: %s", pe.Err)); err != nil {
				return run.counts, err
			}
			continue
		case err != nil:
			return run.counts, fmt.Errorf("read %s: %w", path, err)
		}
		n, err := h.Row(rec)
		if err != nil {
			if err := refuse(err); err != nil {
				return run.counts, err
			}
			continue
		}
		batch = append(batch, n)
		lines = append(lines, recLine)
		if len(batch) >= opt.BatchSize {
			if err := flush(base + r.InputOffset()); err != nil {
				return run.counts, err
			}
		}
	}
	if err := flush(base + r.InputOffset()); err != nil {
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

func (c *Counts) add(o Counts) {
	c.Rows += o.Rows
	c.Created += o.Created
	c.Existed += o.Existed
	c.Duplicates += o.Duplicates
	c.Rejected += o.Rejected
}

type runState struct {
	im       *Importer
	opt      Options
	runStart time.Time
	counts   Counts
	// seen: in a dry run only, the people earlier rows would have created (by a 64-bit hash
	// of their INS), so that a duplicate or a parent met earlier in the file is recognised
	// without writing. 24 bytes a row: a dry run of a whole department fits in memory.
	seen map[uint64]space.Patient
}

// batch creates (or, in a dry run, checks) one batch and writes its rejects and postal notices.
func (rs *runState) batch(ctx context.Context, rows []space.NewSpace, lines []int64) (Counts, error) {
	c := Counts{Rows: int64(len(rows))}
	tally := func(out []space.Outcome) error {
		for i, o := range out {
			switch {
			case o.Err != nil:
				c.Rejected++
				if err := rs.reject(lines[i], o.Err); err != nil {
					return err
				}
			case o.Existed != nil && !o.Existed.CreatedAt.Before(rs.runStart):
				c.Duplicates++
				if err := rs.reject(lines[i], errs.E(errs.Conflict, "duplicate: an earlier row of this file has the same INS")); err != nil {
					return err
				}
			case o.Existed != nil:
				c.Existed++
			default:
				c.Created++
				if code := o.Created.ActivationCode; code != "" && rs.opt.Postal != nil {
					if err := writePostal(rs.opt.Postal, o.Created, code); err != nil {
						return err
					}
				}
			}
		}
		// Durable before the batch commits: an activation code lost after the commit would
		// leave a space nobody can activate.
		for _, w := range []io.Writer{rs.opt.Rejects, rs.opt.Postal} {
			if s, ok := w.(syncer); ok {
				if err := s.Sync(); err != nil {
					return fmt.Errorf("sync outputs: %w", err)
				}
			}
		}
		return nil
	}
	if rs.opt.DryRun {
		out, err := rs.im.spaces.CheckBatch(ctx, rows, rs.lookup)
		if err != nil {
			return c, err
		}
		for i, o := range out {
			if o.Err == nil && o.Existed == nil {
				p := rows[i].Patient
				p.CreatedAt = rs.runStart
				rs.seen[hashINS(p.INS.Matricule)] = p
			}
		}
		return c, tally(out)
	}
	_, err := rs.im.spaces.CreateBatch(ctx, rs.opt.By, rows, tally)
	return c, err
}

// lookup, for a dry run, finds people in the store or among the rows seen earlier.
func (rs *runState) lookup(tx space.Tx) space.Lookup {
	return func(ctx context.Context, matricule string) (space.Patient, error) {
		if p, ok := rs.seen[hashINS(matricule)]; ok {
			return p, nil
		}
		return tx.PatientByINS(ctx, matricule)
	}
}

func hashINS(m string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(m))
	return h.Sum64()
}

func (rs *runState) reject(line int64, err error) error {
	w := csv.NewWriter(rs.opt.Rejects)
	if err := w.Write([]string{strconv.FormatInt(line, 10), string(errs.CodeOf(err)), errs.MessageOf(err)}); err != nil {
		return err
	}
	w.Flush()
	return w.Error()
}

func writePostal(w io.Writer, c space.Created, code string) error {
	cw := csv.NewWriter(w)
	p := c.Patient
	if err := cw.Write([]string{p.INS.Matricule, p.BirthName, p.UsedName, p.GivenNames, p.PostalAddress, code,
		c.Space.OpensAt.Format(space.DateLayout)}); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
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
