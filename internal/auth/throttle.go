package auth

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Policy is a rate limit with progressive delays on one key: the first Free attempts in a
// row go through at once; after that each attempt must wait Base, then twice as long after
// each further failure, up to Max. A key forgets its failures after Window without any.
//
// The count is taken before the credential is checked (the attempt reserves its place) and
// given back when the check succeeds, so that a thousand guesses sent at the same instant
// count as a thousand, not as one.
//
// There is no lock-out: a lock would let anyone who knows an identifier keep its owner out.
// The delay caps at Max and the owner proves themselves through the reset link, which
// clears it.
type Policy struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Window time.Duration
}

func (p Policy) validate() error {
	if p.Free < 1 || p.Base <= 0 || p.Max < p.Base || p.Window <= 0 {
		return errs.E(errs.Invalid, "auth: a rate limit needs free attempts, a base delay, a maximum delay and a window")
	}
	return nil
}

// delay is the wait imposed after the n-th failure in a row.
func (p Policy) delay(n int) time.Duration {
	if n < p.Free {
		return 0
	}
	shift := n - p.Free
	if shift > 30 {
		return p.Max
	}
	d := p.Base << shift
	if d > p.Max || d <= 0 {
		return p.Max
	}
	return d
}

// reportable: the count reached Free, or another Free beyond it. With growing delays that
// is a report every few minutes to hours during a guessing run, not one per guess.
func (p Policy) reportable(n int) bool { return n >= p.Free && n%p.Free == 0 }

// ThrottleState is a key's stored state.
type ThrottleState struct {
	Failures int
	LastAt   time.Time // the last attempt counted
	NextAt   time.Time // no attempt before this
}

// Throttled refuses an attempt made before its key's delay is over. Its answer is the same
// whether the identifier names an account or not (the keys are the identifiers typed).
type Throttled struct{ RetryAfter time.Duration }

func (t *Throttled) Error() string {
	return "too many attempts: try again in " + roundUp(t.RetryAfter).String()
}

func roundUp(d time.Duration) time.Duration {
	if r := d.Truncate(time.Second); r < d {
		return r + time.Second
	}
	return d
}

// throttledErr wraps t in the project's error, code Unavailable ("try again later").
func throttledErr(t *Throttled) error {
	return errs.Wrap(errs.Unavailable, t, "too many attempts: try again in %s", roundUp(t.RetryAfter))
}

// limit names a key and its policy.
type limit struct {
	key    string
	policy Policy
}

// Keys are HMACs of what they count, so the table holds no identifier or address in clear.
func (s *Service) identLimit(id Identifier) limit {
	return limit{"id:" + s.mac("ident", string(id.Kind), id.Value)[:32], s.cfg.Identifier}
}

func (s *Service) activationLimit(ins string) limit {
	return limit{"act:" + s.mac("activation", ins)[:32], s.cfg.Identifier}
}

func (s *Service) resetLimit(id Identifier) limit {
	return limit{"reset:" + s.mac("reset", string(id.Kind), id.Value)[:32], s.cfg.Reset}
}

func (s *Service) codeLimit(accountID int64) limit {
	return limit{"code:" + strconv.FormatInt(accountID, 10), s.cfg.Code}
}

// addrLimit counts by IPv4 address or IPv6 /64 (what one subscriber usually holds); an
// unreadable address shares one key, so that hiding it buys nothing.
func (s *Service) addrLimit(addr string) limit {
	p := "unknown"
	if a, err := netip.ParseAddr(addr); err == nil {
		a = a.Unmap()
		if a.Is6() {
			pr, _ := a.Prefix(64)
			p = pr.String()
		} else {
			p = a.String()
		}
	}
	return limit{"addr:" + s.mac("addr", p)[:32], s.cfg.Address}
}

// admission is an attempt let through, with the keys it made cross a reporting threshold.
type admission struct {
	reports []report
}

// report says that a key crossed a reporting threshold.
type report struct {
	key      string
	failures int
}

// admit counts an attempt on every key, or refuses it with Throttled if one of them is still
// waiting out its delay (and then counts nothing). Keys are locked in one order, so two
// attempts on overlapping keys wait for each other instead of deadlocking.
func (s *Service) admit(ctx context.Context, check string, limits ...limit) (*admission, error) {
	sorted := sortedLimits(limits)
	ad := &admission{}
	err := s.store.UpdateAuth(ctx, func(tx Tx) error {
		states := make([]ThrottleState, len(sorted))
		for i, l := range sorted {
			st, err := tx.LockThrottle(ctx, l.key)
			if err != nil {
				return err
			}
			states[i] = st
		}
		// The time is read once every key is locked: an attempt that waited for a lock
		// must not judge the delay a concurrent attempt just wrote by a time read before it
		// (it would see a free attempt's delay, ending "now", as still ahead).
		now := s.clock.Now()
		var wait time.Duration
		for i, l := range sorted {
			st := states[i]
			if !st.LastAt.IsZero() && now.Sub(st.LastAt) >= l.policy.Window {
				st = ThrottleState{}
			}
			if d := st.NextAt.Sub(now); d > wait {
				wait = d
			}
			states[i] = st
		}
		if wait > 0 {
			return &Throttled{RetryAfter: wait}
		}
		ad.reports = nil
		for i, l := range sorted {
			st := states[i]
			st.Failures++
			st.LastAt, st.NextAt = now, now.Add(l.policy.delay(st.Failures))
			if err := tx.SaveThrottle(ctx, l.key, st); err != nil {
				return err
			}
			if l.policy.reportable(st.Failures) {
				ad.reports = append(ad.reports, report{key: l.key, failures: st.Failures})
			}
		}
		return nil
	})
	var t *Throttled
	if errors.As(err, &t) {
		s.metrics.throttled(check)
		return nil, throttledErr(t)
	}
	if err != nil {
		return nil, err
	}
	for _, r := range ad.reports {
		s.metrics.reported(classOf(r.key))
		if classOf(r.key) == "addr" {
			// An address's failures have no account to trace them on: the log and the
			// counter carry them (the key, an HMAC, lets the operator follow one source).
			s.log.Warn("credential guessing suspected", "check", check, "class", "addr", "key", r.key, "failures", r.failures)
		}
	}
	return ad, nil
}

func classOf(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] == ':' {
			return key[:i]
		}
	}
	return key
}

// reportOf returns the report of the admission on key l, if it crossed a threshold.
func (ad *admission) reportOf(l limit) (report, bool) {
	for _, r := range ad.reports {
		if r.key == l.key {
			return r, true
		}
	}
	return report{}, false
}

func sortedLimits(limits []limit) []limit {
	out := slices.Clone(limits)
	slices.SortFunc(out, func(a, b limit) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	return out
}
