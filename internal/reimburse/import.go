package reimburse

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
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
)

// Tx is what the import reads of a store transaction: what it filed before, so as to file
// only what is new. These reads show nothing to anyone; what they find is put back into the
// person's own record and agenda through the access decision.
type Tx interface {
	PatientByINS(ctx context.Context, matricule string) (space.Patient, error) // NotFound when none
	Space(ctx context.Context, patientID int64) (space.Space, error)
	// DocumentByUniqueID returns the patient's current approved document with this uniqueId;
	// NotFound when there is none.
	DocumentByUniqueID(ctx context.Context, patientID int64, uniqueID string) (record.Document, error)
	// AgendaEventsByRef returns the events of source whose reference is one of refs, whoever's.
	AgendaEventsByRef(ctx context.Context, source string, refs []string) ([]agenda.Event, error)
	// AgendaSourceEvents returns the patient's events of source that start in [from, to).
	AgendaSourceEvents(ctx context.Context, patientID int64, source string, from, to time.Time) ([]agenda.Event, error)
}

// Store opens read-only transactions.
type Store interface {
	ViewReimbursements(ctx context.Context, fn func(Tx) error) error
}

// Deps are what the importer is built from.
type Deps struct {
	Store   Store
	Records *record.Service
	Agenda  *agenda.Service
	Clock   clock.Clock
}

// Importer files the insurer's feed.
type Importer struct {
	store   Store
	records *record.Service
	agenda  *agenda.Service
	clock   clock.Clock
}

// New returns an importer.
func New(d Deps) (*Importer, error) {
	if d.Store == nil || d.Records == nil || d.Agenda == nil || d.Clock == nil {
		return nil, errs.E(errs.Internal, "reimbursement import: store, records, agenda and clock are required")
	}
	return &Importer{store: d.Store, records: d.Records, agenda: d.Agenda, clock: d.Clock}, nil
}

// Options of one import.
type Options struct {
	// Request is who files: the insurer, an operator or system actor (access: the insurer
	// deposits in the Remboursements space and replaces its own deposits).
	Request record.Request
	// Rejects receives one CSV line per bad row: RejectsHeader (required).
	Rejects io.Writer
	// DryRun checks everything, the database included, and writes nothing to it.
	DryRun bool
	// MaxGroup bounds the acts of one person held at once (default 1000).
	MaxGroup int
	// Workers is how many people are filed at once (default DefaultWorkers).
	Workers int
	// Insurer names the depositor in the statements (default "Assurance Maladie").
	Insurer string
	// Size is the file's size, for the progress; Progress is called after each person.
	Size     int64
	Progress func(Progress)
	// FileID names the file's content (FileIDOf: hex of its SHA-256, 32 to 64 lowercase hex
	// digits). Each event records it with its act's line, so that running the same file
	// again judges each row against the rows of the file filed before, whichever run filed
	// them: a rerun, after an interruption or not, rejects and counts as an uninterrupted
	// run would have (sortOut). "" judges by this run's start only (see sortOut).
	FileID string
}

// FileIDOf reads r to its end and returns its identity for Options.FileID: the hex of the
// first 128 bits of its SHA-256. It holds one buffer whatever the size.
func FileIDOf(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// validFileID reports whether id is a file identity: a prefix of at least 128 bits of a
// SHA-256, in lowercase hex.
func validFileID(id string) bool {
	if len(id) < 32 || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// RejectsHeader is the header of the rejects file.
var RejectsHeader = []string{"line", "reference", "code", "reason"}

// Summary counts what an import did. In a dry run, what it would have done.
type Summary struct {
	Acts      int64 // rows read, the rejected ones included
	Events    int64 // agenda events filed
	Existed   int64 // acts filed before this run (by an earlier run of this row, or another file), left as they were
	Deposited int64 // month statements deposited
	Replaced  int64 // month statements replaced by a new version
	Rejected  int64
}

func (s *Summary) add(o Summary) {
	s.Acts += o.Acts
	s.Events += o.Events
	s.Existed += o.Existed
	s.Deposited += o.Deposited
	s.Replaced += o.Replaced
	s.Rejected += o.Rejected
}

// Progress is reported as the import goes.
type Progress struct {
	BytesDone, BytesTotal int64
	Summary               Summary
	Elapsed               time.Duration
}

// Run files the acts of the file read from in. It stops at the first failure that is not a
// bad row (the database unavailable, the context cancelled): running it again finishes the
// work, from the top (there is no checkpoint): with Options.FileID, that rerun rejects the
// same rows, for the same reasons, as an uninterrupted run. The summary is that of this run.
//
// One goroutine reads and checks the rows; Options.Workers file people at once, each person
// always by the same worker, in the order of the file, so that what a person's later rows
// find is what their earlier rows filed. The workers overlap their waits for the disk (a
// statement's bytes are made durable before its metadata commits, and every commit is);
// memory holds at most two groups a worker.
func (im *Importer) Run(ctx context.Context, in io.Reader, opt Options) (Summary, error) {
	if opt.Rejects == nil {
		return Summary{}, errs.E(errs.Invalid, "the rejects output is required")
	}
	if opt.FileID != "" && !validFileID(opt.FileID) {
		return Summary{}, errs.E(errs.Invalid, "the file identity is not 32 to 64 lowercase hex digits")
	}
	if opt.MaxGroup <= 0 {
		opt.MaxGroup = 1000
	}
	opt.MaxGroup = min(opt.MaxGroup, agenda.MaxBatch) // a person's new acts are filed in one batch
	if opt.Workers <= 0 {
		opt.Workers = DefaultWorkers
	}
	if opt.Insurer == "" {
		opt.Insurer = "Assurance Maladie"
	}
	br := bufio.NewReaderSize(in, 1<<16)
	headerLine, err := br.ReadString('\n')
	if err != nil && headerLine == "" {
		return Summary{}, errs.E(errs.Invalid, "the file is empty: a header line is expected")
	}
	h, err := ParseHeader(headerLine)
	if err != nil {
		return Summary{}, err
	}
	start := im.clock.Now()
	rs := &run{im: im, opt: opt, start: start, rejects: csv.NewWriter(opt.Rejects),
		today: time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	queues := make([]chan group, opt.Workers)
	var wg sync.WaitGroup
	for w := range queues {
		queues[w] = make(chan group, 1)
		wg.Go(func() {
			for g := range queues[w] {
				if ctx.Err() != nil {
					continue // drain: the run is over
				}
				if err := rs.file(ctx, g); err != nil {
					cancel(err)
				}
			}
		})
	}
	readErr := rs.read(ctx, h, br, int64(len(headerLine)), queues)
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil {
		return rs.done(cause) // a worker's failure, or the caller's cancellation
	}
	return rs.done(readErr)
}

// DefaultWorkers is how many people are filed at once by default.
const DefaultWorkers = 8

// read reads the rows after the header, rejects the bad ones and hands each person's acts to
// their worker.
func (rs *run) read(ctx context.Context, h Header, br io.Reader, base int64, queues []chan group) error {
	cr := h.newReader(br)
	var g group
	send := func() error {
		if len(g.acts) == 0 {
			return nil
		}
		hash := fnv.New32a()
		hash.Write([]byte(g.matricule))
		select {
		case queues[hash.Sum32()%uint32(len(queues))] <- g:
		case <-ctx.Done():
			return ctx.Err()
		}
		g = group{}
		if rs.opt.Progress != nil {
			rs.opt.Progress(Progress{BytesDone: base + cr.InputOffset(), BytesTotal: rs.opt.Size, Summary: rs.summary(),
				Elapsed: rs.im.clock.Now().Sub(rs.start)})
		}
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			rs.count(Summary{Acts: 1})
			rs.reject(int64(pe.StartLine)+1, "", errs.E(errs.Invalid, "unreadable CSV record: %s", pe.Err))
			continue
		case err != nil:
			return fmt.Errorf("read the file: %w", err)
		}
		rs.count(Summary{Acts: 1})
		l, _ := cr.FieldPos(0)
		line := int64(l) + 1 // the header is line 1
		a, err := h.Row(rec)
		if err == nil && a.Date.After(rs.today) {
			err = errs.E(errs.Invalid, "bad date: act_date is in the future")
		}
		if err != nil {
			rs.reject(line, h.Reference(rec), err)
			continue
		}
		a.Line = line
		if g.matricule != a.Matricule || len(g.acts) >= rs.opt.MaxGroup {
			if err := send(); err != nil {
				return err
			}
			g.matricule = a.Matricule
		}
		g.acts = append(g.acts, a)
	}
	return send()
}

// group is the acts of one person, in the order of the file.
type group struct {
	matricule string
	acts      []Act
}

// run is the state of one import.
type run struct {
	im    *Importer
	opt   Options
	start time.Time
	today time.Time

	mu      sync.Mutex // the workers', over what follows
	sum     Summary
	rejects *csv.Writer
}

// done ends a run: the rejects are flushed whatever happened.
func (rs *run) done(err error) (Summary, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.rejects.Flush()
	if werr := rs.rejects.Error(); werr != nil && err == nil {
		err = fmt.Errorf("write the rejects: %w", werr)
	}
	return rs.sum, err
}

func (rs *run) count(s Summary) {
	rs.mu.Lock()
	rs.sum.add(s)
	rs.mu.Unlock()
}

func (rs *run) summary() Summary {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.sum
}

func (rs *run) reject(line int64, ref string, err error) {
	rs.mu.Lock()
	rs.sum.Rejected++
	rs.rejects.Write([]string{strconv.FormatInt(line, 10), ref, string(errs.CodeOf(err)), errs.MessageOf(err)})
	rs.mu.Unlock()
}

// rowError reports whether err is about the rows (written to the rejects, the run goes on)
// rather than a failure that stops the run.
func rowError(err error) bool {
	switch errs.CodeOf(err) {
	case errs.Invalid, errs.NotFound, errs.Forbidden, errs.Conflict:
		return true
	}
	return false
}

// file files one person's acts: it sorts out the acts filed before, reads what the months of
// the new ones hold already, then deposits (or replaces) the statement of each of these
// months, then files the new acts' events.
func (rs *run) file(ctx context.Context, g group) error {
	refs := make([]string, len(g.acts))
	for i, a := range g.acts {
		refs[i] = a.Reference
	}
	var (
		p      space.Patient
		months []*month
		whole  error // why every act of the group is rejected
		broken error // why every new act of the group is rejected
	)
	err := rs.im.store.ViewReimbursements(ctx, func(tx Tx) error {
		var err error
		p, err = tx.PatientByINS(ctx, g.matricule)
		if errs.Is(err, errs.NotFound) {
			whole = errs.E(errs.NotFound, "unknown patient: no patient space for this INS")
			return nil
		} else if err != nil {
			return err
		}
		sp, err := tx.Space(ctx, p.ID)
		switch {
		case err != nil:
			return err
		case sp.State == space.Pending:
			whole = errs.E(errs.Conflict, "space not open: this person's space is not open yet (opt-out period running)")
			return nil
		case sp.State != space.Open:
			whole = errs.E(errs.Conflict, "space not open: this person's space is %s", sp.State)
			return nil
		}
		known, err := tx.AgendaEventsByRef(ctx, agenda.SourceReimbursement, refs)
		if err != nil {
			return err
		}
		months = byMonth(rs.sortOut(g.acts, p, known))
		broken, err = rs.readMonths(ctx, tx, p, months)
		return err
	})
	switch {
	case err != nil:
		return err
	case whole != nil:
		return rs.rejectAll(g.acts, whole)
	case broken != nil:
		for _, m := range months {
			rs.rejectAll(m.fresh, broken)
		}
		return nil
	}
	for len(months) > 0 {
		n := min(len(months), record.MaxItems)
		if err := rs.fileMonths(ctx, p, months[:n]); err != nil {
			return err
		}
		months = months[n:]
	}
	return nil
}

// sortOut counts the acts filed before and rejects the duplicates; it returns the new acts.
//
// A reference met again in the same group (dup) is a duplicate. A reference the person's
// agenda holds already is judged by the row its event was filed from, when the event names
// one (payloadRow) of this run's file (Options.FileID): filed from this very row (by an
// earlier run of the file), the act is left as it was (Existed); filed from an earlier line,
// this row is a duplicate, whichever run filed the earlier one. Any other event (from another
// file, from a run without a file identity or from before events named their row, from a
// later line) is judged by this run's start: filed during it (by an earlier group of the
// person), the row is a duplicate; filed before, the act is left as it was. That rule alone
// would make a rerun of a file, after an interruption or not, count as filed before the later
// repeats of a reference whose first row an earlier run filed, where one uninterrupted run
// rejects them.
func (rs *run) sortOut(acts []Act, p space.Patient, known []agenda.Event) []Act {
	filed := make(map[string]*agenda.Event, len(known)) // this person's, by reference
	elsewhere := map[string]bool{}                      // references filed for someone else
	for i := range known {
		if known[i].PatientID == p.ID {
			filed[known[i].SourceRef] = &known[i]
		} else {
			elsewhere[known[i].SourceRef] = true
		}
	}
	seen := make(map[string]bool, len(acts))
	fresh := make([]Act, 0, len(acts))
	for _, a := range acts {
		dup := seen[a.Reference]
		seen[a.Reference] = true
		e := filed[a.Reference]
		var thisRow, earlierRow bool // e was filed from this row, from an earlier row, of this file
		if e != nil && rs.opt.FileID != "" {
			if file, line, ok := payloadRow(e.Payload); ok && file == rs.opt.FileID {
				thisRow, earlierRow = line == a.Line, line < a.Line
			}
		}
		switch {
		case a.System != "" && string(p.INS.System) != "" && a.System != string(p.INS.System):
			rs.reject(a.Line, a.Reference, errs.E(errs.NotFound, "unknown patient: no patient space for this INS in identifier system %s", a.System))
		case dup || earlierRow || e != nil && !thisRow && !e.CreatedAt.Before(rs.start):
			rs.reject(a.Line, a.Reference, errs.E(errs.Conflict, "duplicate reference: an earlier row of this file has the same reference"))
		case e != nil:
			rs.count(Summary{Existed: 1})
		case elsewhere[a.Reference]:
			rs.reject(a.Line, a.Reference, errs.E(errs.Conflict, "duplicate reference: this reference names an act of another person"))
		default:
			fresh = append(fresh, a)
		}
	}
	return fresh
}

// rejectAll rejects every act of a group for the same reason.
func (rs *run) rejectAll(acts []Act, err error) error {
	for _, a := range acts {
		rs.reject(a.Line, a.Reference, err)
	}
	return nil
}

// month is one month of one person with new acts.
type month struct {
	first time.Time
	fresh []Act            // the acts new in this run
	prior []Act            // the acts filed before, from their events
	old   *record.Document // the statement in force, nil when none
	// linked: the statements the events of prior link to (the one in force, or, after a run
	// cut before its events moved, the version it replaced).
	linked []string
}

// byMonth gathers acts by month, in the order of the months.
func byMonth(acts []Act) []*month {
	index := map[time.Time]*month{}
	var months []*month
	for _, a := range acts {
		m := index[a.Month()]
		if m == nil {
			m = &month{first: a.Month()}
			index[m.first] = m
			months = append(months, m)
		}
		m.fresh = append(m.fresh, a)
	}
	slices.SortFunc(months, func(a, b *month) int { return a.first.Compare(b.first) })
	return months
}

// readMonths reads, for each month, its statement in force and the acts filed before (from
// their events). An act it cannot read back rejects the person's new acts (broken): the
// statement rebuilt without it would drop it.
func (rs *run) readMonths(ctx context.Context, tx Tx, p space.Patient, months []*month) (broken, err error) {
	for _, m := range months {
		d, err := tx.DocumentByUniqueID(ctx, p.ID, StatementUniqueID(p.INS.Matricule, m.first))
		switch {
		case err == nil:
			m.old = &d
		case !errs.Is(err, errs.NotFound):
			return nil, err
		}
		evs, err := tx.AgendaSourceEvents(ctx, p.ID, agenda.SourceReimbursement, m.first, m.first.AddDate(0, 1, 0))
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if e.Document != "" && !slices.Contains(m.linked, e.Document) {
				m.linked = append(m.linked, e.Document)
			}
			a, err := decodePayload(e.SourceRef, e.Payload)
			if err != nil {
				return errs.Wrap(errs.Conflict, err, "the statement of %s cannot be rebuilt: an act filed before is unreadable",
					monthName(m.first)), nil
			}
			m.prior = append(m.prior, a)
		}
	}
	return nil, nil
}

// fileMonths deposits the statements of some months of one person (one submission, all or
// none), then files their new acts' events. A month whose statement in force already says
// exactly what the new one would (its acts, rendered the day that version was deposited) is
// not deposited again: a run cut after its deposit and before the events' transaction left
// it so, and the run after only files the events, as an uninterrupted run would have.
func (rs *run) fileMonths(ctx context.Context, p space.Patient, months []*month) error {
	var sum Summary
	var items []record.Item
	b := agenda.Batch{Source: agenda.SourceReimbursement, Class: "60", Type: "REMB"}
	doc := make([]string, len(months)) // the statement each month's events link to ('' until deposited)
	deposited := make([]int, 0, len(months))
	now := rs.im.clock.Now()
	for i, m := range months {
		acts := append(slices.Clone(m.prior), m.fresh...)
		st := statement{Insurer: rs.opt.Insurer, Patient: p, Month: m.first, Acts: acts, Issued: now}
		if m.old != nil && m.old.SHA256 != "" {
			again := st
			again.Issued = m.old.Submitted
			if h := sha256.Sum256(again.render()); hex.EncodeToString(h[:]) == m.old.SHA256 {
				doc[i] = m.old.LogicalID
				// The cut run's relink did not happen either: the earlier acts' events still
				// link to the version the statement in force replaced.
				for _, d := range m.linked {
					if d != m.old.LogicalID {
						b.Relinks = append(b.Relinks, agenda.Relink{From: d, To: m.old.LogicalID})
					}
				}
				continue
			}
		}
		items = append(items, record.Item{Deposit: rs.deposit(p, m, acts), Content: st.render()})
		deposited = append(deposited, i)
		if m.old != nil {
			items[len(items)-1].Replaces = m.old.LogicalID
			sum.Replaced++
		} else {
			sum.Deposited++
		}
	}
	for _, m := range months {
		sum.Events += int64(len(m.fresh))
	}
	if rs.opt.DryRun {
		rs.count(sum)
		return nil
	}
	if len(items) > 0 {
		docs, err := rs.im.records.DepositAll(ctx, rs.opt.Request, items)
		if err != nil {
			if !rowError(err) {
				return err
			}
			for _, m := range months {
				rs.rejectAll(m.fresh, err)
			}
			return nil
		}
		for k, i := range deposited {
			doc[i] = docs[k].LogicalID
			if m := months[i]; m.old != nil {
				b.Relinks = append(b.Relinks, agenda.Relink{From: m.old.LogicalID, To: doc[i]})
			}
		}
	}
	for i, m := range months {
		for _, a := range m.fresh {
			b.Events = append(b.Events, event(a, doc[i], rs.opt.FileID))
		}
	}
	added, err := rs.im.agenda.Add(ctx, agenda.Request{Actor: rs.opt.Request.Actor, Channel: rs.opt.Request.Channel}, p.ID, b)
	if err != nil {
		if !rowError(err) {
			rs.count(Summary{Deposited: sum.Deposited, Replaced: sum.Replaced}) // they are in, whatever happens next
			return err
		}
		// The statements are in: a later run files these events (the acts are still new then,
		// and their statements found already saying so are not deposited again).
		sum.Events = 0
		rs.count(sum)
		for _, m := range months {
			rs.rejectAll(m.fresh, err)
		}
		return nil
	}
	sum.Events, sum.Existed = int64(added.Created), int64(added.Existed)
	rs.count(sum)
	return nil
}

// deposit is the metadata of a month's statement holding acts.
func (rs *run) deposit(p space.Patient, m *month, acts []Act) record.Deposit {
	d := record.Deposit{
		INS:          p.INS,
		UniqueID:     StatementUniqueID(p.INS.Matricule, m.first),
		Title:        StatementTitle(m.first),
		Type:         "REMB",
		Class:        "60",
		MimeType:     "text/plain",
		Language:     "fr-FR",
		Authors:      []record.Author{{Kind: record.AuthorSystem, Name: rs.opt.Insurer}},
		ServiceStart: acts[0].Date,
	}
	n := "acte remboursé"
	if len(acts) > 1 {
		n = "actes remboursés"
	}
	d.Comments = fmt.Sprintf("%d %s", len(acts), n)
	for _, a := range acts {
		if a.Date.Before(d.ServiceStart) {
			d.ServiceStart = a.Date
		}
		end := a.End
		if end.IsZero() {
			end = a.Date
		}
		if end.After(d.ServiceEnd) {
			d.ServiceEnd = end
		}
	}
	if m.old != nil {
		// What the person chose for the statement stays with its new version.
		d.MasquePS, d.InvisibleRepresentants = m.old.Labels.MasquePS, m.old.Labels.InvisibleRepresentants
	}
	return d
}

// event is the agenda event of an act read from file (Options.FileID), linked to its month's
// statement.
func event(a Act, document, file string) agenda.Event {
	e := agenda.Event{Kind: agenda.KindReimbursement, Start: a.Date, End: a.End, SourceRef: a.Reference,
		Document: document, Payload: encodePayload(a, file)}
	e.Title = "Remboursement : " + lowerFirst(actLabel(a))
	parts := []string{"Payé " + a.Paid.String(), "remboursé " + a.Reimbursed.String()}
	if a.Code != "" {
		parts = append(parts, string(a.CodeSystem)+" "+a.Code)
	}
	e.Detail = parts[0]
	for _, s := range parts[1:] {
		e.Detail += " · " + s
	}
	return e
}

// lowerFirst lowers the first letter of a label that follows a colon (French typography).
func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}
