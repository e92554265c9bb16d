package record_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// No sequence of operations lets a read return a document without an allow decision and its
// trace (issue 5): random deposits, labels, masks, authorisations, blocks and clock moves by
// the patient and three professionals, and after every read, metadata read or search, the last
// trace of the patient's chain is checked against what came back. A blocked professional gets
// nothing, and a document held back from the patient is not shown to them within the month.
func TestNoReadWithoutAllowAndTrace(t *testing.T) {
	e := recordtest.New(t)
	seq, shown, refused := 0, 0, 0
	rapid.Check(t, func(rt *rapid.T) {
		seq++
		ins := recordtest.TestINS(t, 20000+seq)
		pid := e.Patient(t, ins)
		holder := recordtest.Holder(pid)
		pros := []record.Request{}
		for i := range 3 {
			pros = append(pros, recordtest.Doctor(recordtest.RPPS(t, 20000+3*seq+i)))
		}
		actors := append([]record.Request{holder}, pros...)
		blocked := map[string]bool{}
		var docs []record.Document
		lastTrace := func() (actor, action, outcome, object, detail string) {
			err := e.DB.SQL().QueryRow(`SELECT actor_id, action, outcome, object, detail FROM traces
				WHERE patient_id = $1 ORDER BY id DESC LIMIT 1`, pid).Scan(&actor, &action, &outcome, &object, &detail)
			if err != nil {
				rt.Fatalf("last trace: %v", err)
			}
			return
		}
		steps := rapid.IntRange(1, 25).Draw(rt, "steps")
		for range steps {
			a := rapid.SampledFrom(actors).Draw(rt, "actor")
			p := rapid.SampledFrom(pros).Draw(rt, "professional")
			switch op := rapid.IntRange(0, 9).Draw(rt, "op"); op {
			case 0: // a deposit
				dep := recordtest.Report(ins, "doc")
				dep.InvisiblePatient = rapid.Bool().Draw(rt, "invisible")
				if d, err := e.Records.Deposit(ctx, p, dep, recordtest.PDF(300, seq*100+len(docs))); err == nil {
					docs = append(docs, d)
				}
			case 1:
				e.Access.GrantAuthorisation(ctx, holder.Actor, holder.Channel, pid, p.Actor.ID, 0)
			case 2:
				if e.Access.Block(ctx, holder.Actor, holder.Channel, pid, p.Actor.ID) == nil {
					blocked[p.Actor.ID] = true
				}
			case 3:
				if e.Access.Unblock(ctx, holder.Actor, holder.Channel, pid, p.Actor.ID) == nil {
					delete(blocked, p.Actor.ID)
				}
			case 4:
				if len(docs) > 0 {
					d := rapid.SampledFrom(docs).Draw(rt, "doc")
					if rapid.Bool().Draw(rt, "mask") {
						e.Records.Mask(ctx, holder, d.LogicalID)
					} else {
						e.Records.Unmask(ctx, holder, d.LogicalID)
					}
				}
			case 5:
				e.Clock.Advance(time.Duration(rapid.IntRange(0, 40).Draw(rt, "days")) * 24 * time.Hour)
			case 6, 7: // read bytes or metadata of one document
				if len(docs) == 0 {
					continue
				}
				d := rapid.SampledFrom(docs).Draw(rt, "doc")
				var got record.Document
				var err error
				action := string(access.ActionRead)
				if op == 6 {
					got, _, err = e.Records.ReadAll(ctx, a, d.LogicalID)
				} else {
					action = string(access.ActionList)
					got, err = e.Records.Get(ctx, a, d.LogicalID)
				}
				actor, act, outcome, object, _ := lastTrace()
				if err == nil {
					shown++
					if actor != canonicalID(a) || act != action || outcome != "allowed" || object != d.Ref() || got.LogicalID != d.LogicalID {
						rt.Fatalf("%s returned %s with last trace %s %s %s %s", a.Actor.ID, d.Ref(), actor, act, outcome, object)
					}
					if blocked[a.Actor.ID] {
						rt.Fatalf("a blocked professional read %s", d.Ref())
					}
					if a.Actor.Kind == holder.Actor.Kind && got.Labels.InvisiblePatient && e.Clock.Now().Before(got.Labels.VisibleToPatientAt) {
						rt.Fatalf("the patient read a document held back")
					}
				} else if refused++; act == action && actor == canonicalID(a) && outcome == "allowed" && object == d.Ref() {
					rt.Fatalf("an error (%v) after an allowed, successful trace", err)
				}
			default: // search
				page, err := e.Records.Search(ctx, a, record.Query{PatientID: pid, All: true})
				actor, act, outcome, _, detail := lastTrace()
				if err != nil {
					if outcome == "allowed" && act == string(access.ActionSearch) && actor == canonicalID(a) {
						rt.Fatalf("a failed search traced as allowed: %v", err)
					}
					continue
				}
				if act != string(access.ActionSearch) || outcome != "allowed" || actor != canonicalID(a) {
					rt.Fatalf("a search returned without its allowed trace: %s %s %s", actor, act, outcome)
				}
				if blocked[a.Actor.ID] && len(page.Documents) > 0 {
					rt.Fatalf("a blocked professional listed documents")
				}
				for _, d := range page.Documents {
					shown++
					if !strings.Contains(detail, d.Ref()) {
						rt.Fatalf("the search trace does not name %s it showed: %s", d.Ref(), detail)
					}
					if a.Actor.Kind == holder.Actor.Kind && d.Labels.InvisiblePatient && e.Clock.Now().Before(d.Labels.VisibleToPatientAt) {
						rt.Fatalf("the patient listed a document held back")
					}
				}
				if !slices.IsSortedFunc(page.Documents, func(x, y record.Document) int { return -x.Created.Compare(y.Created) }) {
					rt.Fatalf("a page out of order")
				}
			}
		}
	})
	// The sequences must have exercised both sides, or the property says nothing.
	if shown == 0 || refused == 0 {
		t.Fatalf("%d documents shown, %d reads refused: the generator misses a side", shown, refused)
	}
	t.Logf("%d documents shown, %d reads refused, all matching their traces", shown, refused)
}

// canonicalID is the actor id as traces name it (recordtest's IdNat_PS are canonical).
func canonicalID(r record.Request) string { return r.Actor.ID }
