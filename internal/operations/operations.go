// Package operations is what the operator watches: the key figures of the service (spaces by
// state, documents, messages, traces, accounts) and the health of its queues (durable jobs by
// kind and state, the oldest job waiting, outbound mail, notices, blob garbage). None of it is
// health data: counts only, no patient named.
//
// At national scale an exact count of a billion traces takes minutes; the PostgreSQL store
// answers the large tables from the planner's statistics (Figures.Estimated says so), and the
// queues, which are small when healthy, exactly.
package operations

import (
	"context"
	"slices"
	"time"

	"github.com/carnet-sante/carnet/internal/clock"
)

// Figures are the service's key figures at one time.
type Figures struct {
	At time.Time
	// Estimated: the counts of the large tables come from statistics, not a count.
	Estimated bool
	// Spaces by lifecycle state (pending, open, closed, purged, opposed…).
	Spaces                       map[string]int64
	Documents, Traces, Messages  int64
	Professionals, Organisations int64
	PatientAccounts              int64 // activated spaces' sign-ins
	Mailboxes                    int64
	// AllowlistDomains is the size of the MSSanté allowlist in force; AllowlistImported when
	// it was last imported (zero: never).
	AllowlistDomains  int64
	AllowlistImported time.Time
}

// Queues is the health of the background work.
type Queues struct {
	At time.Time
	// Jobs counts the durable jobs by kind and state (available, scheduled, running,
	// retryable, discarded, cancelled, completed; completed ones are pruned after a day).
	Jobs []JobCount
	// OldestAvailable is when the oldest job ready to run became so (zero: none waits).
	OldestAvailable time.Time
	// OutboundQueued are outbound mail deliveries still to make; OutboundBounced those
	// bounced in the last day.
	OutboundQueued, OutboundBounced int64
	// NoticesDue are notices whose time has come, not yet turned into jobs.
	NoticesDue int64
	// BlobGarbage are blobs waiting to be erased.
	BlobGarbage int64
}

// JobCount is the number of jobs of one kind in one state.
type JobCount struct {
	Kind, State string
	Count       int64
}

// Waiting is how long the oldest available job has waited at q.At.
func (q Queues) Waiting() time.Duration {
	if q.OldestAvailable.IsZero() || q.At.Before(q.OldestAvailable) {
		return 0
	}
	return q.At.Sub(q.OldestAvailable)
}

// Failing counts the jobs that failed at least once and wait for a retry, and those given up.
func (q Queues) Failing() (retryable, discarded int64) {
	for _, j := range q.Jobs {
		switch j.State {
		case "retryable":
			retryable += j.Count
		case "discarded":
			discarded += j.Count
		}
	}
	return retryable, discarded
}

// Healthy says whether the queues look as they should: nothing given up, nothing waiting for
// longer than late.
func (q Queues) Healthy(late time.Duration) bool {
	_, discarded := q.Failing()
	return discarded == 0 && q.Waiting() <= late
}

// Store reads the figures.
type Store interface {
	Figures(ctx context.Context, now time.Time) (Figures, error)
	Queues(ctx context.Context, now time.Time) (Queues, error)
}

// Service reads them at the clock's time.
type Service struct {
	store Store
	clock clock.Clock
}

// NewService returns the service.
func NewService(st Store, clk clock.Clock) *Service { return &Service{store: st, clock: clk} }

// Figures returns the key figures now.
func (s *Service) Figures(ctx context.Context) (Figures, error) {
	return s.store.Figures(ctx, s.clock.Now())
}

// Queues returns the queues' health now, the jobs sorted by kind then state.
func (s *Service) Queues(ctx context.Context) (Queues, error) {
	q, err := s.store.Queues(ctx, s.clock.Now())
	slices.SortFunc(q.Jobs, func(a, b JobCount) int {
		if a.Kind != b.Kind {
			if a.Kind < b.Kind {
				return -1
			}
			return 1
		}
		if a.State < b.State {
			return -1
		}
		if a.State > b.State {
			return 1
		}
		return 0
	})
	return q, err
}
