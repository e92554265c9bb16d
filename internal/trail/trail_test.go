package trail_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/trail"
)

var ctx = context.Background()

// env is a record with documents and accesses, and the trail over it.
type env struct {
	*recordtest.Env
	trail  *trail.Service
	ins    identity.INS
	pid    int64
	holder record.Request
	a, b   record.Request // a: the author of doc; b: a professional with no ground
	doc    record.Document
}

// newEnv builds the scene: A deposits and reads a document; B, outside the care team, is
// refused a search and the document's metadata; the holder reads it. The clock moves an hour
// between each.
func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{Env: recordtest.New(t)}
	m, err := access.DefaultMatrix()
	if err != nil {
		t.Fatal(err)
	}
	if e.trail, err = trail.NewService(e.DB.Trail(), e.Access, m); err != nil {
		t.Fatal(err)
	}
	e.ins = recordtest.TestINS(t, 1)
	e.pid = e.Patient(t, e.ins)
	e.holder = recordtest.Holder(e.pid)
	e.a = recordtest.Doctor(recordtest.RPPS(t, 1))
	e.b = recordtest.Doctor(recordtest.RPPS(t, 2))
	e.b.Actor.Name, e.b.Actor.Org = "Dr Durand", "1750000002"
	e.doc = e.deposit(t, e.a, recordtest.Report(e.ins, "CR de consultation"), 1)
	e.Clock.Advance(time.Hour)
	if _, _, err := e.Records.ReadAll(ctx, e.a, e.doc.LogicalID); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Hour)
	if _, err := e.Records.Search(ctx, e.b, record.Query{PatientID: e.pid}); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("B searches: %v", err)
	}
	if _, err := e.Records.Get(ctx, e.b, e.doc.LogicalID); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("B reads the metadata: %v", err)
	}
	e.Clock.Advance(time.Hour)
	if _, _, err := e.Records.ReadAll(ctx, e.holder, e.doc.LogicalID); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Hour)
	return e
}

func (e *env) deposit(t testing.TB, r record.Request, dep record.Deposit, seed int) record.Document {
	t.Helper()
	d, err := e.Records.Deposit(ctx, r, dep, recordtest.PDF(2000, seed))
	if err != nil {
		t.Fatalf("deposit %q: %v", dep.Title, err)
	}
	return d
}

func (e *env) list(t testing.TB, r record.Request, f trail.Filter) trail.Page {
	t.Helper()
	p, err := e.trail.List(ctx, r.Actor, r.Channel, e.pid, f)
	if err != nil {
		t.Fatalf("%s lists %+v: %v", r.Actor.Kind, f, err)
	}
	return p
}

// lines returns the items as "actor action outcome reason" lines.
func lines(p trail.Page) []string {
	out := make([]string, len(p.Items))
	for i, it := range p.Items {
		out[i] = strings.Join([]string{it.Actor.ID, it.Action, string(it.Outcome), it.Reason}, " ")
	}
	return out
}

// traceIDs returns the ids of the patient's traces in the database, newest first.
func (e *env) traceIDs(t testing.TB) []int64 {
	t.Helper()
	rows, err := e.DB.SQL().Query(`SELECT id FROM traces WHERE patient_id = $1 ORDER BY id DESC`, e.pid)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func ids(p trail.Page) []int64 {
	out := make([]int64, len(p.Items))
	for i, it := range p.Items {
		out[i] = it.ID
	}
	return out
}

func find(p trail.Page, action string, outcome audit.Outcome, actorID string) (trail.Item, bool) {
	for _, it := range p.Items {
		if it.Action == action && it.Outcome == outcome && (actorID == "" || it.Actor.ID == actorID) {
			return it, true
		}
	}
	return trail.Item{}, false
}

func TestHolderSeesEveryTrace(t *testing.T) {
	e := newEnv(t)
	p := e.list(t, e.holder, trail.Filter{Limit: trail.MaxLimit})
	if got, want := ids(p), e.traceIDs(t); !slices.Equal(got, want) {
		t.Fatalf("the holder's trail is not the patient's chain, newest first:\n got %v\nwant %v\n%s", got, want, strings.Join(lines(p), "\n"))
	}
	if p.Next != 0 || p.OwnOnly {
		t.Errorf("next %d, own only %v", p.Next, p.OwnOnly)
	}
	if first := p.Items[0]; first.Action != "trace.read" || first.Actor.ID != e.holder.Actor.ID || first.Reason != "self" {
		t.Errorf("the newest trace should be this reading: %+v", first)
	}
	// B's refusals, with who, from where, why, and their labels.
	search, ok := find(p, "record.search", audit.Denied, e.b.Actor.ID)
	if !ok {
		t.Fatalf("B's refused search is missing:\n%s", strings.Join(lines(p), "\n"))
	}
	want := trail.Item{ID: search.ID, At: recordtest.T0.Add(2 * time.Hour), Actor: audit.Actor{Kind: audit.ActorProfessional,
		ID: e.b.Actor.ID, Name: "Dr Durand", Org: "1750000002"}, Who: "Dr Durand", Channel: audit.ChannelFHIR,
		Action: "record.search", Object: "record", Outcome: audit.Denied, Reason: "no_authorisation", Matrix: "default-v1",
		ActionLabel: "Recherche dans le dossier", ReasonLabel: search.ReasonLabel}
	if search != want {
		t.Errorf("B's search:\n got %+v\nwant %+v", search, want)
	}
	if fr, _ := access.ReasonNoAuthorisation.Messages(); search.ReasonLabel != fr || fr == "" {
		t.Errorf("reason label %q", search.ReasonLabel)
	}
	if list, ok := find(p, "document.list", audit.Denied, e.b.Actor.ID); !ok || list.Document != e.doc.LogicalID {
		t.Errorf("B's refused metadata read: %+v", list)
	}
	read, ok := find(p, "document.read", audit.Allowed, e.a.Actor.ID)
	if !ok || read.Reason != "author" || read.Basis != access.ReasonAuthor || read.Document != e.doc.LogicalID ||
		read.ActionLabel != "Lecture d'un document" {
		t.Errorf("A's read: %+v", read)
	}
	for _, it := range p.Items {
		if it.ActionLabel == "" || it.ReasonLabel == "" || it.Who == "" || it.At.IsZero() || it.Channel == "" {
			t.Errorf("trace %d says too little: %+v", it.ID, it)
		}
	}
}

func TestProfessionalSeesOwnTraces(t *testing.T) {
	e := newEnv(t)
	p := e.list(t, e.a, trail.Filter{Limit: trail.MaxLimit})
	if !p.OwnOnly || len(p.Items) < 4 {
		t.Fatalf("A's trail:\n%s", strings.Join(lines(p), "\n"))
	}
	for _, it := range p.Items {
		if it.Actor.ID != e.a.Actor.ID {
			t.Errorf("A sees someone else's trace: %+v", it)
		}
	}
	for _, w := range []string{"document.deposit", "access.care_team_add", "document.read", "trace.read"} {
		if _, ok := find(p, w, audit.Allowed, ""); !ok {
			t.Errorf("A does not see their %s:\n%s", w, strings.Join(lines(p), "\n"))
		}
	}
	if p.Items[0].Action != "trace.read" || p.Items[0].Reason != string(access.ReasonOwnTraces) {
		t.Errorf("A's reading: %+v", p.Items[0])
	}
	// A professional with no ground still sees what they attempted: their refusals.
	pb := e.list(t, e.b, trail.Filter{Limit: trail.MaxLimit})
	if got := lines(pb)[1:]; len(got) != 2 || !strings.Contains(got[0], "document.list denied") || !strings.Contains(got[1], "record.search denied") {
		t.Errorf("B's trail:\n%s", strings.Join(lines(pb), "\n"))
	}
	// Asking for another's traces finds nothing, in any spelling of their IdNat_PS.
	for _, f := range []trail.Filter{{ActorID: e.b.Actor.ID}, {ActorKind: audit.ActorPatient}, {ActorID: e.holder.Actor.ID}} {
		if p := e.list(t, e.a, f); len(p.Items) != 0 {
			t.Errorf("A with %+v sees:\n%s", f, strings.Join(lines(p), "\n"))
		}
	}
	if p := e.list(t, e.a, trail.Filter{ActorID: e.a.Actor.ID, Actions: []string{"document.deposit"}}); len(p.Items) != 1 {
		t.Errorf("A filtering on themselves:\n%s", strings.Join(lines(p), "\n"))
	}
}

func TestFilters(t *testing.T) {
	e := newEnv(t)
	// A second document, and a failure: B cannot replace what A wrote.
	doc2 := e.deposit(t, e.a, recordtest.Report(e.ins, "CR 2"), 2)
	e.Clock.Advance(time.Hour)
	t5 := e.Clock.Now()
	if err := e.Records.Delete(ctx, e.b, doc2.LogicalID); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("B deletes: %v", err)
	}
	e.Clock.Advance(time.Hour)

	bID := e.b.Actor.ID
	cases := []struct {
		name string
		f    trail.Filter
		want []string // actor action outcome reason, newest first, without the readings of the trail
	}{
		{"actor", trail.Filter{ActorID: bID}, []string{
			bID + " document.delete denied author_only", bID + " document.list denied no_authorisation",
			bID + " record.search denied no_authorisation"}},
		{"actor in another spelling", trail.Filter{ActorID: " " + bID + " ", Outcome: audit.Denied, Actions: []string{"record."}}, []string{
			bID + " record.search denied no_authorisation"}},
		{"kind", trail.Filter{ActorKind: audit.ActorPatient}, []string{
			e.holder.Actor.ID + " document.read allowed self"}},
		{"family", trail.Filter{Actions: []string{"access."}}, []string{
			e.a.Actor.ID + " access.care_team_add allowed act_of_care"}},
		{"exact action", trail.Filter{Actions: []string{"document.read"}}, []string{
			e.holder.Actor.ID + " document.read allowed self", e.a.Actor.ID + " document.read allowed author"}},
		{"two families", trail.Filter{Actions: []string{"record.", "access."}, Outcome: audit.Denied}, []string{
			bID + " record.search denied no_authorisation"}},
		{"outcome", trail.Filter{Outcome: audit.Denied, Actions: []string{"document."}}, []string{
			bID + " document.delete denied author_only", bID + " document.list denied no_authorisation"}},
		{"object", trail.Filter{Object: "document/" + doc2.LogicalID}, []string{
			bID + " document.delete denied author_only", e.a.Actor.ID + " document.deposit allowed care_team"}},
		{"from", trail.Filter{From: t5, Actions: []string{"document."}}, []string{bID + " document.delete denied author_only"}},
		{"range", trail.Filter{From: recordtest.T0.Add(time.Hour), To: recordtest.T0.Add(3 * time.Hour)}, []string{
			bID + " document.list denied no_authorisation", bID + " record.search denied no_authorisation",
			e.a.Actor.ID + " document.read allowed author"}},
		{"before the first", trail.Filter{To: recordtest.T0}, nil},
		{"first accesses", trail.Filter{FirstAccess: true}, []string{e.a.Actor.ID + " document.deposit allowed act_of_care"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := e.list(t, e.holder, c.f)
			var got []string
			for _, l := range lines(p) {
				if !strings.Contains(l, " trace.read ") {
					got = append(got, l)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestInvalidFilters(t *testing.T) {
	e := newEnv(t)
	before := len(e.traceIDs(t))
	for _, f := range []trail.Filter{
		{ActorKind: "robot"}, {Outcome: "maybe"}, {Actions: []string{"DOCUMENT."}}, {Actions: []string{"document..read"}},
		{Actions: []string{"document.%"}}, {From: recordtest.T0, To: recordtest.T0}, {Limit: -1}, {Before: -3},
	} {
		if _, err := e.trail.List(ctx, e.holder.Actor, e.holder.Channel, e.pid, f); !errs.Is(err, errs.Invalid) {
			t.Errorf("%+v: %v", f, err)
		}
	}
	if after := len(e.traceIDs(t)); after != before {
		t.Errorf("an invalid filter read the trail: %d traces, then %d", before, after)
	}
	p := e.list(t, e.holder, trail.Filter{Limit: 100000})
	if len(p.Items) > trail.MaxLimit {
		t.Errorf("%d items", len(p.Items))
	}
}

func TestPaging(t *testing.T) {
	e := newEnv(t)
	for i := range 30 {
		if _, err := e.Records.Get(ctx, e.a, e.doc.LogicalID); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			e.Records.Get(ctx, e.b, e.doc.LogicalID)
		}
	}
	f := trail.Filter{Actions: []string{"document.", "record."}}
	all := e.list(t, e.holder, trail.Filter{Actions: f.Actions, Limit: trail.MaxLimit})
	if len(all.Items) < trail.DefaultLimit {
		t.Fatalf("%d traces", len(all.Items))
	}
	if p := e.list(t, e.holder, trail.Filter{}); len(p.Items) != trail.DefaultLimit || p.Next == 0 {
		t.Errorf("default page: %d items", len(p.Items))
	}
	for _, size := range []int{1, 2, 4, len(all.Items), len(all.Items) + 1} {
		var got []int64
		f.Limit, f.Before = size, 0
		for pages := 0; ; pages++ {
			p := e.list(t, e.holder, f)
			if len(p.Items) > size || pages > len(all.Items) {
				t.Fatalf("size %d: page of %d", size, len(p.Items))
			}
			got = append(got, ids(p)...)
			if p.Next == 0 {
				break
			}
			if p.Next != p.Items[len(p.Items)-1].ID || len(p.Items) != size {
				t.Fatalf("size %d: next %d after %v", size, p.Next, ids(p))
			}
			f.Before = p.Next
		}
		if !slices.Equal(got, ids(all)) {
			t.Errorf("size %d: pages give\n%v\nwant\n%v", size, got, ids(all))
		}
	}
}

func TestEveryReadingIsTraced(t *testing.T) {
	e := newEnv(t)
	stranger := recordtest.Holder(e.Patient(t, recordtest.TestINS(t, 2)))
	operator := record.Request{Channel: audit.ChannelWeb, Actor: access.Actor{Kind: audit.ActorOperator, ID: "7", Name: "ops"}}
	rep := record.Request{Channel: audit.ChannelWeb, Actor: access.Actor{Kind: audit.ActorRepresentative, ID: "account-99",
		Name: "Jean Dupont", PatientID: e.pid, Role: access.RoleGuardian, RepresentationCurrent: true}}
	cases := []struct {
		r    record.Request
		want string // the trace of the reading: actor action outcome reason
		err  errs.Code
	}{
		{e.holder, e.holder.Actor.ID + " trace.read allowed self matrix=default-v1", ""},
		{rep, "account-99 trace.read allowed representative matrix=default-v1", ""},
		{e.a, e.a.Actor.ID + " trace.read allowed own_traces matrix=default-v1", ""},
		{stranger, stranger.Actor.ID + " trace.read denied not_holder matrix=default-v1", errs.Forbidden},
		{operator, "7 trace.read denied legal_request_required matrix=default-v1", errs.Forbidden},
	}
	for _, c := range cases {
		before := e.traceIDs(t)
		_, err := e.trail.List(ctx, c.r.Actor, c.r.Channel, e.pid, trail.Filter{Limit: 1})
		if errs.CodeOf(err) != c.err {
			t.Errorf("%s: %v, want %q", c.r.Actor.Kind, err, c.err)
		}
		after := e.traceIDs(t)
		if len(after) != len(before)+1 {
			t.Fatalf("%s: %d traces written", c.r.Actor.Kind, len(after)-len(before))
		}
		var got string
		if err := e.DB.SQL().QueryRow(`SELECT actor_id || ' ' || action || ' ' || outcome || ' ' || reason || ' ' || object
			FROM traces WHERE id = $1`, after[0]).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want+" traces" {
			t.Errorf("%s: trace %q, want %q", c.r.Actor.Kind, got, c.want+" traces")
		}
	}
	// A patient who does not exist: refused, traced in the reader's own chain.
	if _, err := e.trail.List(ctx, e.a.Actor, e.a.Channel, 999999, trail.Filter{}); !errs.Is(err, errs.NotFound) {
		t.Errorf("no such patient: %v", err)
	}
}

func TestHiddenDocumentsStayHidden(t *testing.T) {
	e := newEnv(t)
	dep := recordtest.Report(e.ins, "Résultat à annoncer")
	dep.InvisiblePatient = true
	held := e.deposit(t, e.a, dep, 3)
	dep = recordtest.Report(e.ins, "Consultation confidentielle")
	dep.InvisibleRepresentants = true
	secret := e.deposit(t, e.a, dep, 4)
	for range 3 {
		if _, _, err := e.Records.ReadAll(ctx, e.a, held.LogicalID); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.Records.ReadAll(ctx, e.a, secret.LogicalID); err != nil {
		t.Fatal(err)
	}
	rep := record.Request{Channel: audit.ChannelWeb, Actor: access.Actor{Kind: audit.ActorRepresentative, ID: "account-99",
		PatientID: e.pid, Role: access.RoleParent, RepresentsMinor: true, RepresentationCurrent: true}}
	names := func(p trail.Page, id string) int {
		n := 0
		for _, it := range p.Items {
			if it.Document == id {
				n++
			}
		}
		return n
	}
	everything := trail.Filter{Limit: trail.MaxLimit}
	if p := e.list(t, e.holder, everything); names(p, held.LogicalID) != 0 || names(p, secret.LogicalID) != 2 {
		t.Errorf("the holder's trail names the document held back %d times, the confidential one %d times",
			names(p, held.LogicalID), names(p, secret.LogicalID))
	}
	if p := e.list(t, rep, everything); names(p, held.LogicalID) != 0 || names(p, secret.LogicalID) != 0 {
		t.Errorf("the parent's trail names the documents held back %d and %d times", names(p, held.LogicalID), names(p, secret.LogicalID))
	}
	if p := e.list(t, e.a, everything); names(p, held.LogicalID) != 4 || names(p, secret.LogicalID) != 2 {
		t.Errorf("the author's trail names their documents %d and %d times", names(p, held.LogicalID), names(p, secret.LogicalID))
	}
	// Hidden traces do not shorten a page: a page of 2 goes past the four hidden ones.
	p := e.list(t, e.holder, trail.Filter{Limit: 2, Actions: []string{"document."}})
	if len(p.Items) != 2 || p.Next == 0 || names(p, held.LogicalID) != 0 {
		t.Errorf("page of 2:\n%s", strings.Join(lines(p), "\n"))
	}
	// At the end of the announcement delay (CSP R1111-53), the trail shows it.
	e.Clock.Advance(31 * 24 * time.Hour)
	if p := e.list(t, e.holder, everything); names(p, held.LogicalID) != 4 {
		t.Errorf("after the delay, the holder's trail names it %d times", names(p, held.LogicalID))
	}
}

func TestFirstAccessAndEmergency(t *testing.T) {
	e := newEnv(t)
	c := recordtest.Doctor(recordtest.RPPS(t, 3))
	c.BreakGlass = &access.BreakGlass{Reason: "patient inconscient aux urgences"}
	if _, err := e.Records.Search(ctx, c, record.Query{PatientID: e.pid}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Records.ReadAll(ctx, c, e.doc.LogicalID); err != nil {
		t.Fatal(err)
	}
	p := e.list(t, e.holder, trail.Filter{Limit: trail.MaxLimit})
	var firsts []string
	for _, it := range p.Items {
		if it.FirstAccess {
			firsts = append(firsts, it.Actor.ID+" "+it.Action)
		}
	}
	want := []string{c.Actor.ID + " record.search", e.a.Actor.ID + " document.deposit"}
	if !slices.Equal(firsts, want) {
		t.Errorf("first accesses %v, want %v", firsts, want)
	}
	for _, action := range []string{"record.search", "document.read"} {
		it, ok := find(p, action, audit.Allowed, c.Actor.ID)
		if !ok || !it.Emergency || it.Statement != "patient inconscient aux urgences" || it.Basis != access.ReasonBreakGlass {
			t.Errorf("emergency %s: %+v", action, it)
		}
	}
	if it, _ := find(p, "document.read", audit.Allowed, e.a.Actor.ID); it.Emergency || it.Statement != "" || it.FirstAccess {
		t.Errorf("an ordinary read: %+v", it)
	}
	// The filter on first accesses finds the same.
	f := e.list(t, e.holder, trail.Filter{FirstAccess: true})
	if got := lines(f); len(got) != 2 || !strings.HasPrefix(got[0], c.Actor.ID+" record.search") {
		t.Errorf("first accesses: %v", got)
	}
}

func TestLabels(t *testing.T) {
	for _, a := range access.Actions() {
		if l := trail.ActionLabel(string(a)); l == string(a) || l == "" {
			t.Errorf("no label for %s", a)
		}
	}
	for _, c := range []struct{ action, want string }{
		{"document.burn", "Action sur un document"},
		{"access.block", "Blocage d'un professionnel"},
		{"weird", "weird"},
	} {
		if got := trail.ActionLabel(c.action); got != c.want {
			t.Errorf("%s: %q", c.action, got)
		}
	}
	for _, r := range access.Reasons() {
		if trail.ReasonLabel(string(r), audit.Allowed) == "" {
			t.Errorf("no label for reason %s", r)
		}
	}
	for _, c := range []struct {
		code    string
		outcome audit.Outcome
	}{{"not_found", audit.Denied}, {"internal", audit.Failed}, {"", audit.Allowed}, {"existence_test", audit.Allowed}} {
		if trail.ReasonLabel(c.code, c.outcome) == "" {
			t.Errorf("no label for %q %s", c.code, c.outcome)
		}
	}
	if fmt.Sprint(trail.Actions()) == "[]" {
		t.Error("no actions")
	}
}
