package trail_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/trail"
)

// BenchmarkList lists pages of 50 traces of a patient whose chain holds 10,000 traces: 20
// professionals reading, listing and searching 20 documents, one in twenty refused, over a
// year. Run on both databases:
//
//	go test ./internal/trail -run '^$' -bench List
//	CARNET_TEST_DATABASE=postgres go test ./internal/trail -run '^$' -bench List
func BenchmarkList(b *testing.B) {
	e := recordtest.New(b)
	m, err := access.DefaultMatrix()
	if err != nil {
		b.Fatal(err)
	}
	svc, err := trail.NewService(e.DB.Trail(), e.Access, m)
	if err != nil {
		b.Fatal(err)
	}
	ins := recordtest.TestINS(b, 1)
	pid := e.Patient(b, ins)
	pros := make([]record.Request, 20)
	docs := make([]string, 20)
	for i := range pros {
		pros[i] = recordtest.Doctor(recordtest.RPPS(b, i+1))
		d, err := e.Records.Deposit(ctx, pros[i], recordtest.Report(ins, fmt.Sprint("CR ", i)), recordtest.PDF(1000, i))
		if err != nil {
			b.Fatal(err)
		}
		docs[i] = d.LogicalID
	}
	const total, batch = 10_000, 500
	actions := []string{"document.read", "document.list", "record.search", "document.read"}
	start := e.Clock.Now()
	for n := 0; n < total; {
		err := e.DB.Update(ctx, func(tx *store.Tx) error {
			for end := n + batch; n < end && n < total; n++ {
				p := pros[n%len(pros)]
				en := audit.Entry{At: start.Add(time.Duration(n) * 53 * time.Minute), Actor: p.Actor.Audit(), Channel: p.Channel,
					Action: actions[n%len(actions)], PatientID: pid, Object: "document/" + docs[(n/3)%len(docs)],
					Outcome: audit.Allowed, Reason: "care_team matrix=default-v1"}
				if en.Action == "record.search" {
					en.Object = "record"
				}
				if n%20 == 7 {
					en.Outcome, en.Reason = audit.Denied, "no_authorisation matrix=default-v1"
				}
				if _, err := tx.AppendTrace(ctx, en); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	holder := recordtest.Holder(pid)
	var middle int64
	if p, err := svc.List(ctx, holder.Actor, holder.Channel, pid, trail.Filter{Limit: trail.MaxLimit}); err != nil {
		b.Fatal(err)
	} else {
		middle = p.Items[len(p.Items)-1].ID - total/2
	}
	cases := []struct {
		name string
		r    record.Request
		f    trail.Filter
	}{
		{"holder/first", holder, trail.Filter{Limit: 50}},
		{"holder/middle", holder, trail.Filter{Limit: 50, Before: middle}},
		{"holder/refused", holder, trail.Filter{Limit: 50, Outcome: audit.Denied}},
		{"holder/family", holder, trail.Filter{Limit: 50, Actions: []string{"record."}}},
		{"holder/document", holder, trail.Filter{Limit: 50, Object: "document/" + docs[3]}},
		{"professional/own", pros[5], trail.Filter{Limit: 50}},
	}
	// What every reading costs before it reads: the decision and its trace, committed.
	b.Run("decision-only", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.Access.Decide(ctx, holder.Actor, holder.Channel, pid, access.ActionReadTraces,
				access.Target{Ref: trail.ObjectTraces}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				p, err := svc.List(ctx, c.r.Actor, c.r.Channel, pid, c.f)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Items) != 50 {
					b.Fatalf("%d items", len(p.Items))
				}
			}
		})
	}
}
