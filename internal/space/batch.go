package space

import (
	"context"
	"errors"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// Batches of creations, for the opt-out import. A batch is checked against one lookup of
// every INS it names (the people and their representatives), then written table by table,
// each in a few multi-row statements, with its traces chained in memory: a handful of
// statements per batch instead of about ten per person, which is what bounded the import on
// PostgreSQL (round trips) and on SQLite (the driver's cost per statement).

// Outcome of one row of a batch: created, already there, or refused.
type Outcome struct {
	Created Created  // when neither Existed nor Err is set
	Existed *Patient // the INS has a space already
	Err     error    // a refusal (errs code Invalid, NotFound, Conflict) of this row only
}

// CreateBatch creates spaces for many people in one transaction, as the opt-out import does:
// one commit (one fsync) for the whole batch instead of one per person. A row that is refused
// does not stop the others; each creation and each refusal is traced in the batch's
// transaction. The rows are checked and created as if one after the other: a row may name as
// representative a person an earlier row of the batch creates, and a row repeating an
// earlier row's INS finds that space (Existed). An error returned (not in an Outcome) means
// nothing of the batch was written.
//
// beforeCommit, if not nil, sees the outcomes before the commit: what it must keep (the
// activation codes of postal notices) it keeps durably there, or fails and nothing is written;
// what the caller records of the batch in the store (the import's checkpoint) it writes in tx,
// so that it commits with the batch or not at all.
func (s *Service) CreateBatch(ctx context.Context, by By, rows []NewSpace, beforeCommit func(tx Tx, out []Outcome) error) ([]Outcome, error) {
	now := s.clock.Now()
	var out []Outcome
	update := s.store.UpdateSpaces
	if b, ok := s.store.(BulkStore); ok {
		update = b.BulkUpdateSpaces
	}
	err := update(ctx, func(tx Tx) error {
		found, err := tx.PatientsByINS(ctx, batchINS(rows))
		if err != nil {
			return err
		}
		plans, err := s.planBatch(ctx, rows, found, nil, now)
		if err != nil {
			return err
		}
		if out, err = s.writeBatch(ctx, tx, by, plans, now); err != nil {
			return err
		}
		if beforeCommit != nil {
			return beforeCommit(tx, out)
		}
		return nil
	})
	return out, err
}

// CheckBatch runs the checks of CreateBatch and writes nothing (a dry run). earlier, if not
// nil, finds the people a dry run's earlier batches would have created.
func (s *Service) CheckBatch(ctx context.Context, rows []NewSpace, earlier func(matricule string) (Patient, bool)) ([]Outcome, error) {
	now := s.clock.Now()
	var out []Outcome
	err := s.store.ViewSpaces(ctx, func(tx Tx) error {
		found, err := tx.PatientsByINS(ctx, batchINS(rows))
		if err != nil {
			return err
		}
		plans, err := s.planBatch(ctx, rows, found, earlier, now)
		if err != nil {
			return err
		}
		out = make([]Outcome, len(plans))
		for i, pl := range plans {
			switch {
			case pl.err != nil:
				out[i].Err = pl.err
			case pl.existed != nil:
				out[i].Existed = pl.existed
			default:
				out[i].Created = Created{Patient: pl.patient}
			}
		}
		return nil
	})
	return out, err
}

// rowPlan is a row of a batch checked: to create (plan), there already, or refused.
type rowPlan struct {
	plan
	existed *Patient
	err     error
	// dupOf: the earlier row of the batch creating the same INS, or -1.
	dupOf int
	// repRow[k]: the row of the batch creating reps[k], or -1 for someone in the store.
	repRow []int
}

// batchINS lists the matricules a batch names, its people's and their representatives'.
func batchINS(rows []NewSpace) []string {
	seen := make(map[string]bool, len(rows))
	out := make([]string, 0, len(rows))
	add := func(m string) {
		if m != "" && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	for _, n := range rows {
		add(n.Patient.INS.Matricule)
		for _, r := range n.Representatives {
			if ins, err := identity.ParseINS(r.INS); err == nil {
				add(ins.Matricule)
			}
		}
	}
	return out
}

// planBatch checks each row as check does for one creation, finding people among the rows
// before it in the batch, then among earlier (if not nil), then in found (the store).
func (s *Service) planBatch(ctx context.Context, rows []NewSpace, found map[string]Patient, earlier func(string) (Patient, bool), now time.Time) ([]rowPlan, error) {
	plans := make([]rowPlan, len(rows))
	creates := make(map[string]int, len(rows)) // matricule → the row creating it
	lookup := func(_ context.Context, m string) (Patient, error) {
		if i, ok := creates[m]; ok {
			return plans[i].patient, nil
		}
		if earlier != nil {
			if p, ok := earlier(m); ok {
				return p, nil
			}
		}
		if p, ok := found[m]; ok {
			return p, nil
		}
		return Patient{}, errs.E(errs.NotFound, "patient not found")
	}
	for i, n := range rows {
		pl, err := s.check(ctx, lookup, n, now)
		plans[i].dupOf = -1
		var exists *ExistsError
		switch {
		case err == nil:
			plans[i].plan = pl
			plans[i].repRow = make([]int, len(pl.reps))
			for k, rep := range pl.reps {
				plans[i].repRow[k] = -1
				if j, ok := creates[rep.INS.Matricule]; ok {
					plans[i].repRow[k] = j
				}
			}
			creates[pl.patient.INS.Matricule] = i
		case errors.As(err, &exists):
			p := exists.Patient
			plans[i].existed = &p
			if j, ok := creates[n.Patient.INS.Matricule]; ok {
				plans[i].dupOf = j
			}
		case audit.IsRefusal(err):
			plans[i].err = err
		default:
			return nil, err
		}
	}
	return plans, nil
}

// writeBatch writes the creations of a checked batch and the traces of its creations and
// refusals.
func (s *Service) writeBatch(ctx context.Context, tx Tx, by By, plans []rowPlan, now time.Time) ([]Outcome, error) {
	// Slices sized for the batch up front: grown by append, they were a third of the bytes
	// the import allocates, and the collector's work with them.
	news := make([]Patient, 0, len(plans))
	rowOf := make([]int, 0, len(plans))
	for i := range plans {
		if plans[i].err == nil && plans[i].existed == nil {
			news = append(news, plans[i].patient)
			rowOf = append(rowOf, i)
		}
	}
	ids, err := tx.InsertPatients(ctx, news)
	if err != nil {
		return nil, err
	}
	var late []string // created by someone else since the lookup (another import at once)
	for k, id := range ids {
		plans[rowOf[k]].patient.ID = id
		if id == 0 {
			late = append(late, news[k].INS.Matricule)
		}
	}
	if len(late) > 0 {
		got, err := tx.PatientsByINS(ctx, late)
		if err != nil {
			return nil, err
		}
		for _, i := range rowOf {
			if pl := &plans[i]; pl.patient.ID == 0 {
				p, ok := got[pl.patient.INS.Matricule]
				if !ok {
					return nil, errs.E(errs.Unavailable, "a patient of the batch could be neither created nor found; try again")
				}
				pl.existed = &p
			}
		}
	}
	// who is the person a row names, now that the batch's people have ids
	person := func(i int) Patient {
		if plans[i].existed != nil {
			return *plans[i].existed
		}
		return plans[i].patient
	}
	out := make([]Outcome, len(plans))
	spaces := make([]Space, 0, len(news))
	hashes := make([]string, 0, len(news))
	var links []Representative
	entries := make([]audit.Entry, 0, len(plans))
	notify := make([]int64, 0, len(news)) // the notices go through the outbox: a row each, not a job each
	for i := range plans {
		pl := &plans[i]
		switch {
		case pl.err != nil:
			out[i].Err = pl.err
			e := s.entry(by, "space.create", 0)
			e.Outcome, e.Reason = audit.Failure(pl.err)
			entries = append(entries, e)
			continue
		case pl.existed != nil && pl.dupOf >= 0:
			p := person(pl.dupOf)
			out[i].Existed = &p
			continue
		case pl.existed != nil:
			out[i].Existed = pl.existed
			continue // what is asked is there already: nothing was done
		}
		p := pl.patient
		sp := New(p.ID, now, s.policy)
		reachable := !pl.minor && p.Email != ""
		for k, rep := range pl.reps {
			if j := pl.repRow[k]; j >= 0 {
				rep = person(j)
			}
			links = append(links, Representative{PatientID: p.ID, RepresentativeID: rep.ID, Role: pl.roles[k], Since: now})
			// As recipients() will decide: a minor's representatives, an adult's guardians.
			reachable = reachable || (rep.Email != "" && (pl.minor || pl.roles[k] == Guardian))
		}
		out[i].Created = Created{Patient: p, Space: sp}
		hash := ""
		if reachable {
			notify = append(notify, p.ID)
		} else {
			out[i].Created.ActivationCode, hash = s.activationCode(p.ID, sp.Version)
		}
		spaces, hashes = append(spaces, sp), append(hashes, hash)
		e := s.entry(by, "space.create", p.ID)
		e.Outcome = audit.Allowed
		entries = append(entries, e)
	}
	if err := tx.InsertSpaces(ctx, spaces, hashes); err != nil {
		return nil, err
	}
	if err := tx.AddRepresentatives(ctx, links); err != nil {
		return nil, err
	}
	// Every new space starts at the same version, so their notices share a key.
	if err := tx.QueueNotices(ctx, notify, CreatedNoticeKey(New(0, now, s.policy).Version), now, now); err != nil {
		return nil, err
	}
	if err := tx.AppendTraces(ctx, entries); err != nil {
		return nil, err
	}
	return out, nil
}
