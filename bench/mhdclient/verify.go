package mhdclient

import (
	"context"
	"errors"
	"sync"
)

// Summary is the outcome of CheckAll.
type Summary struct {
	OK         int
	Missing    []string // ids the server does not have (404)
	Mismatched []string // ids whose bytes differ
	Failed     []string // ids that could not be read: "id: error"
}

// Intact reports whether every deposit was found whole.
func (s Summary) Intact() bool { return len(s.Missing)+len(s.Mismatched)+len(s.Failed) == 0 }

// Lines lists up to max problems, one a line.
func (s Summary) Lines(max int) []string {
	var out []string
	for _, g := range []struct {
		what string
		ids  []string
	}{{"missing", s.Missing}, {"mismatched", s.Mismatched}, {"unreadable", s.Failed}} {
		for _, id := range g.ids {
			if len(out) == max {
				return append(out, "…")
			}
			out = append(out, g.what+" "+id)
		}
	}
	return out
}

// CheckAll checks every record with c.Check from clients goroutines: the proof that what the
// server acknowledged is still there, whole.
func CheckAll(ctx context.Context, c *Client, recs []Record, clients int) Summary {
	var (
		mu   sync.Mutex
		sum  Summary
		wg   sync.WaitGroup
		next = make(chan Record)
	)
	for w := 0; w < max(1, clients); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				err := c.Check(ctx, r)
				var se *StatusError
				mu.Lock()
				switch {
				case err == nil:
					sum.OK++
				case errors.As(err, &se) && se.Code == 404:
					sum.Missing = append(sum.Missing, r.ID)
				case errors.Is(err, ErrMismatch):
					sum.Mismatched = append(sum.Mismatched, r.ID)
				default:
					sum.Failed = append(sum.Failed, r.ID+": "+err.Error())
				}
				mu.Unlock()
			}
		}()
	}
	for _, r := range recs {
		next <- r
	}
	close(next)
	wg.Wait()
	return sum
}
