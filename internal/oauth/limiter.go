package oauth

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/carnet-sante/carnet/internal/clock"
)

// Limits bound failed client authentications (issue 3 "Abuse"), per client id claimed and per
// address, each counted on its own: after Free failures of a client id (FreeAddress of an
// address, where several clients may sit behind one NAT), each further one shuts the key for a
// delay that doubles from Base up to Max, during which the endpoint answers 429 without
// checking anything. Failures older than Window are forgotten.
//
// The counts live in memory, in one bounded table per server (MaxKeys): a node restarted
// forgets them, and N nodes allow N times as many tries. That is enough against guessing a
// 256-bit secret, which no rate makes possible; the limit is there to keep an attacker from
// costing us a trace write per try, and to show the attempt. A shared table (like
// internal/auth's) is the path if that changes. Keying by the client id claimed, whether it
// exists or not, answers alike for known and unknown clients; the price is that an attacker
// can delay a known client's next authentication by up to Max, which a secret that cannot be
// guessed makes pointless to do for long.
type Limits struct {
	Free        int
	FreeAddress int
	Base        time.Duration
	Max         time.Duration
	Window      time.Duration
	MaxKeys     int
}

// DefaultLimits are our defaults: 5 free failures per client id and 20 per address, then 1 s,
// 2 s, 4 s … up to 5 minutes, forgotten after 15 quiet minutes; 20,000 keys per table (a few
// MB at most).
func DefaultLimits() Limits {
	return Limits{Free: 5, FreeAddress: 20, Base: time.Second, Max: 5 * time.Minute, Window: 15 * time.Minute, MaxKeys: 20000}
}

type limitEntry struct {
	failures int
	last     time.Time // last failure
	until    time.Time // shut until
}

type limiter struct {
	mu      sync.Mutex
	clock   clock.Clock
	lim     Limits
	entries map[string]*limitEntry
}

// newLimiters returns the table of client ids and the table of addresses.
func newLimiters(clk clock.Clock, lim Limits) (clients, addrs *limiter) {
	d := DefaultLimits()
	if lim.Free <= 0 {
		lim.Free = d.Free
	}
	if lim.FreeAddress <= 0 {
		lim.FreeAddress = d.FreeAddress
	}
	if lim.Base <= 0 {
		lim.Base = d.Base
	}
	if lim.Max < lim.Base {
		lim.Max = max(d.Max, lim.Base)
	}
	if lim.Window <= 0 {
		lim.Window = d.Window
	}
	if lim.MaxKeys <= 0 {
		lim.MaxKeys = d.MaxKeys
	}
	byAddr := lim
	byAddr.Free = lim.FreeAddress
	return &limiter{clock: clk, lim: lim, entries: map[string]*limitEntry{}},
		&limiter{clock: clk, lim: byAddr, entries: map[string]*limitEntry{}}
}

// wait returns how long key is still shut for, 0 when it is open.
func (l *limiter) wait(k string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if e, ok := l.entries[k]; ok && now.Before(e.until) {
		return e.until.Sub(now)
	}
	return 0
}

// fail counts a failure against key and returns the delay it set (0 while within the free
// failures).
func (l *limiter) fail(k string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	e, ok := l.entries[k]
	if !ok {
		if len(l.entries) >= l.lim.MaxKeys {
			l.evict(now)
		}
		e = &limitEntry{}
		l.entries[k] = e
	} else if now.Sub(e.last) > l.lim.Window && !now.Before(e.until) {
		*e = limitEntry{}
	}
	e.failures++
	e.last = now
	over := e.failures - l.lim.Free
	if over <= 0 {
		return 0
	}
	d := l.lim.Base
	for i := 1; i < over && d < l.lim.Max; i++ {
		d *= 2
	}
	d = min(d, l.lim.Max)
	e.until = now.Add(d)
	return d
}

// reset forgets a key's failures (a client that authenticated).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.entries, key)
	l.mu.Unlock()
}

// evict makes room: every forgotten entry goes; if none was, the one failed longest ago.
func (l *limiter) evict(now time.Time) {
	var oldest string
	var oldestAt time.Time
	removed := false
	for k, e := range l.entries {
		if now.Sub(e.last) > l.lim.Window && !now.Before(e.until) {
			delete(l.entries, k)
			removed = true
			continue
		}
		if oldest == "" || e.last.Before(oldestAt) {
			oldest, oldestAt = k, e.last
		}
	}
	if !removed && oldest != "" {
		delete(l.entries, oldest)
	}
}

// remoteKey is the rate-limit key of a request's address: the IP, or its /64 for IPv6, where
// one subscriber commonly holds a whole /64.
func remoteKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		return "a:" + host
	case ip.To4() != nil:
		return "a:" + ip.String()
	default:
		return "a:" + ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
}
