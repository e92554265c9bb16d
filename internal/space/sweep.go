package space

import (
	"context"
	"errors"
	"fmt"

	"github.com/carnet-sante/carnet/internal/audit"
)

// SweepReport says what a sweep did.
type SweepReport struct {
	Opened int
	Purged int
	Failed int // transitions that conflicted or failed; retried at the next sweep
}

// Sweep applies every deadline that has passed by the clock: pending spaces whose opt-out
// period is over open, closed spaces whose archive or deletion delay is over are purged. Each
// space changes in its own transaction with its trace, so a crash mid-sweep loses nothing and
// the next sweep resumes. The periodic job calls it; tests call it after moving the clock.
func (s *Service) Sweep(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	by := By{Actor: audit.System("lifecycle"), Channel: audit.ChannelJob}
	const batch = 500
	for {
		now := s.clock.Now()
		var due []int64
		if err := s.store.ViewSpaces(ctx, func(tx Tx) error {
			var err error
			due, err = tx.DueSpaces(ctx, now, batch)
			return err
		}); err != nil {
			return rep, err
		}
		progress := 0
		for _, id := range due {
			opened, purged, err := s.applyDeadline(ctx, by, id)
			switch {
			case err != nil && ctx.Err() != nil:
				return rep, ctx.Err()
			case err != nil:
				rep.Failed++
			case opened:
				rep.Opened++
				progress++
			case purged:
				rep.Purged++
				progress++
			}
		}
		if len(due) < batch || progress == 0 {
			return rep, s.traceRun(ctx, by, rep)
		}
	}
}

// SweepRunAction is the trace of a sweep that changed something: what it did, in the job's own
// chain (each space's change is in the space's chain too).
const SweepRunAction = "space.sweep"

// traceRun records what a sweep did, when it did anything: the operator reads in the trace
// log, not only in the server's log, that the deadlines ran.
func (s *Service) traceRun(ctx context.Context, by By, rep SweepReport) error {
	if rep.Opened+rep.Purged+rep.Failed == 0 {
		return nil
	}
	e := audit.Entry{At: s.clock.Now(), Actor: by.Actor, Channel: by.Channel, Action: SweepRunAction, Object: "spaces",
		Outcome: audit.Allowed, Detail: fmt.Sprintf("opened=%d purged=%d failed=%d", rep.Opened, rep.Purged, rep.Failed)}
	return s.store.UpdateSpaces(ctx, func(tx Tx) error {
		_, err := tx.AppendTrace(ctx, e)
		return err
	})
}

var errNotDue = errors.New("not due")

func (s *Service) applyDeadline(ctx context.Context, by By, patientID int64) (opened, purged bool, err error) {
	var action string
	err = s.store.UpdateSpaces(ctx, func(tx Tx) error {
		sp, err := tx.Space(ctx, patientID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		var next Space
		if next, opened = sp.OpenIfDue(now); opened {
			action = "space.open"
		} else if next, purged = sp.PurgeIfDue(now); purged {
			action = "space.purge"
		} else {
			return errNotDue
		}
		if err := tx.SaveSpace(ctx, next); err != nil {
			return err
		}
		if purged {
			if err := tx.PurgePatientData(ctx, patientID, now); err != nil {
				return err
			}
		} else if err := tx.Enqueue(ctx, NoticeJob{PatientID: patientID, Notice: NoticeOpened, Version: next.Version + 1}); err != nil {
			return err
		}
		e := s.entry(by, action, patientID)
		e.Outcome = audit.Allowed
		_, err = tx.AppendTrace(ctx, e)
		return err
	})
	if errors.Is(err, errNotDue) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	return opened, purged, nil
}
