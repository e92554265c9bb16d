package reimburse_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/reimburse"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
)

type env struct {
	*recordtest.Env
	agenda *agenda.Service
	im     *reimburse.Importer
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	e := recordtest.New(tb)
	a, err := agenda.NewService(agenda.Deps{Store: e.DB.Agenda(), Access: e.Access, Clock: e.Clock})
	if err != nil {
		tb.Fatal(err)
	}
	im, err := reimburse.New(reimburse.Deps{Store: e.DB.Reimbursements(), Records: e.Records, Agenda: a, Clock: e.Clock})
	if err != nil {
		tb.Fatal(err)
	}
	return &env{Env: e, agenda: a, im: im}
}

// patientIn stores a patient whose space is in state st.
func (e *env) patientIn(tb testing.TB, ins identity.INS, st space.State) int64 {
	tb.Helper()
	if st == space.Open {
		return e.Patient(tb, ins)
	}
	ctx := context.Background()
	p := space.Patient{INS: ins, BirthName: "X", GivenNames: "Y", BirthDate: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC),
		Sex: space.Male, CreatedAt: e.Clock.Now()}
	if err := e.DB.Update(ctx, func(tx *store.Tx) error {
		if err := tx.InsertPatient(ctx, &p); err != nil {
			return err
		}
		sp := space.New(p.ID, e.Clock.Now(), space.DefaultPolicy())
		sp.State = st
		return tx.InsertSpace(ctx, sp, "")
	}); err != nil {
		tb.Fatal(err)
	}
	return p.ID
}

var operator = record.Request{Channel: audit.ChannelCLI, Actor: access.Actor{Kind: audit.ActorOperator, ID: "cli:ops", Name: "ops"}}

// run imports file and returns the summary and the rejects, one "line ref code: reason" a line.
func (e *env) run(tb testing.TB, file string, dry bool) (reimburse.Summary, []string) {
	tb.Helper()
	var rej bytes.Buffer
	sum, err := e.im.Run(context.Background(), strings.NewReader(file), reimburse.Options{Request: operator, Rejects: &rej, DryRun: dry})
	if err != nil {
		tb.Fatalf("import: %v", err)
	}
	recs, err := csv.NewReader(&rej).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	// In the order of the file: a person's rows are rejected when the person is filed.
	slices.SortStableFunc(recs, func(a, b []string) int { return cmp.Compare(atoi(a[0]), atoi(b[0])) })
	var out []string
	for _, r := range recs {
		out = append(out, r[0]+" "+r[1]+" "+r[2]+": "+r[3])
	}
	return sum, out
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

const header = "ins;act_date;end_date;nature;code_system;code;provider_id;provider_name;amount_paid;amount_reimbursed;reference\n"

// statements returns the patient's REMB documents in force and deprecated, oldest first.
func (e *env) statements(tb testing.TB, pid int64) []record.Document {
	tb.Helper()
	p, err := e.Records.Search(context.Background(), recordtest.Holder(pid), record.Query{PatientID: pid, Types: []string{"REMB"},
		Statuses: []record.Status{record.Approved, record.Deprecated}, All: true})
	if err != nil {
		tb.Fatal(err)
	}
	docs := p.Documents
	for i, j := 0, len(docs)-1; i < j; i, j = i+1, j-1 {
		docs[i], docs[j] = docs[j], docs[i]
	}
	return docs
}

func (e *env) text(tb testing.TB, pid int64, logicalID string) string {
	tb.Helper()
	_, b, err := e.Records.ReadAll(context.Background(), recordtest.Holder(pid), logicalID)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func (e *env) events(tb testing.TB, pid int64) []agenda.Event {
	tb.Helper()
	h := recordtest.Holder(pid)
	evs, err := e.agenda.List(context.Background(), agenda.Request{Actor: h.Actor, Channel: h.Channel}, pid, time.Time{}, time.Time{})
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

// count counts rows of a table.
func (e *env) count(tb testing.TB, table string) int {
	tb.Helper()
	var n int
	if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestImport(t *testing.T) {
	e := newEnv(t)
	insA, insB := recordtest.TestINS(t, 1), recordtest.TestINS(t, 2)
	a, b := e.Patient(t, insA), e.Patient(t, insB)
	e.patientIn(t, recordtest.TestINS(t, 3), space.Pending)
	e.patientIn(t, recordtest.TestINS(t, 4), space.Closed)
	A, B, P, C, U := insA.Matricule, insB.Matricule, recordtest.TestINS(t, 3).Matricule, recordtest.TestINS(t, 4).Matricule,
		recordtest.TestINS(t, 5).Matricule
	badKey := A[:13] + fmt.Sprintf("%02d", (int(A[13]-'0')*10+int(A[14]-'0')+1)%100)
	file := header +
		A + ";2026-02-03;;consultation;;GS;" + recordtest.RPPS(t, 1) + ";MARTIN Claire;30,00;21,00;R1\n" + // 2
		A + ";2026-02-10;;pharmacie;;;;Pharmacie du Centre;12.40;8,06;R2\n" + // 3
		A + ";20/01/2026;;imagerie;;ZBQK002;;Cabinet de radiologie;25;17,50;R3\n" + // 4
		A + ";2026-02-11;;consultation;;GS;;MARTIN Claire;30;21;R1\n" + // 5: the same reference again
		badKey + ";2026-02-03;;consultation;;GS;;X;30;21;R6\n" + // 6: bad INS key
		U + ";2026-02-03;;consultation;;GS;;X;30;21;R7\n" + // 7: unknown patient
		P + ";2026-02-03;;consultation;;GS;;X;30;21;R8\n" + // 8: space pending
		C + ";2026-02-03;;consultation;;GS;;X;30;21;R9\n" + // 9: space closed
		A + ";2026-02-30;;consultation;;GS;;X;30;21;R10\n" + // 10: bad date
		A + ";2026-04-01;;consultation;;GS;;X;30;21;R11\n" + // 11: in the future (now is 10 March 2026)
		A + ";2026-02-03;;consultation;;GS;;X;12,345;1;R12\n" + // 12: bad amount
		A + ";2026-02-03;;consultation;;GS;;X;10;11;R13\n" + // 13: more reimbursed than paid
		A + ";2026-02-03;;massage;;;;X;30;21;R14\n" + // 14: unknown nature
		A + ";2026-02-03;;imagerie;CCAM;ZBQ12;;X;30;21;R15\n" + // 15: bad code
		A + ";2026-02-03;consultation\n" + // 16: fields missing
		B + ";2026-02-05;2026-02-08;hospitalisation;;;750100125;Hôpital Nord;1200;1180,40;R4\n" + // 17
		B + ";2026-02-06;;consultation;;GS;;X;30;21;R2\n" + // 18: A's reference
		B + ";2026-02-06;;consultation;;G\"S;;X;30;21;R19\n" + // 19: unreadable
		A + ";2026-02-12;;consultation;;GS;;MARTIN Claire;30;21;R1\n" // 20: A again, a reference already filed by line 2

	sum, rejects := e.run(t, file, false)
	want := reimburse.Summary{Acts: 19, Events: 4, Deposited: 3, Rejected: 15}
	if sum != want {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
	wantRejects := []string{
		"5 R1 conflict: duplicate reference",
		"6 R6 invalid: INS check key",
		"7 R7 not_found: unknown patient",
		"8 R8 conflict: space not open: this person's space is not open yet",
		"9 R9 conflict: space not open: this person's space is closed",
		"10 R10 invalid: bad date",
		"11 R11 invalid: bad date: act_date is in the future",
		"12 R12 invalid: bad amount",
		"13 R13 invalid: bad amount: amount_reimbursed",
		"14 R14 invalid: unknown nature",
		"15 R15 invalid: bad code",
		"16  invalid: 3 fields, the header has 11",
		"18 R2 conflict: duplicate reference: this reference names an act of another person",
		"19  invalid: unreadable CSV record",
		"20 R1 conflict: duplicate reference: an earlier row of this file",
	}
	if len(rejects) != len(wantRejects) {
		t.Fatalf("rejects:\n%s", strings.Join(rejects, "\n"))
	}
	for i, w := range wantRejects {
		if !strings.HasPrefix(rejects[i], w) {
			t.Errorf("reject %d: %q, want %q…", i, rejects[i], w)
		}
	}

	// A: two statements (January, February), B: one; every act an event linked to its month's.
	docsA := e.statements(t, a)
	if len(docsA) != 2 {
		t.Fatalf("A's statements: %+v", docsA)
	}
	byTitle := map[string]record.Document{}
	for _, d := range docsA {
		byTitle[d.Title] = d
		if d.Type != "REMB" || d.Class != "60" || d.Space != "remboursements" || d.DepositedBy != access.DepositedByInsurer ||
			d.MimeType != "text/plain" || d.Depositor != "cli:ops" {
			t.Errorf("statement metadata: %+v", d)
		}
	}
	feb := byTitle["Relevé de remboursements — février 2026"]
	if feb.UniqueID != reimburse.StatementUniqueID(A, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) ||
		!feb.ServiceStart.Equal(time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)) || !feb.ServiceEnd.Equal(time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("February: %+v", feb)
	}
	text := e.text(t, a, feb.LogicalID)
	for _, s := range []string{"Relevé de remboursements — février 2026\n", "Bénéficiaire : Marie DUPONT", "INS : " + A,
		"Période : du 01/02/2026 au 28/02/2026",
		"03/02/2026  Consultation — MARTIN Claire\n            Code NGAP GS · IdNat_PS " + recordtest.RPPS(t, 1) + " · Payé 30,00 € · Remboursé 21,00 € · Référence R1",
		"10/02/2026  Pharmacie — Pharmacie du Centre\n            Payé 12,40 € · Remboursé 8,06 € · Référence R2",
		"Total : 2 actes · payé 42,40 € · remboursé 29,06 €", "Relevé établi le 10/03/2026 par Assurance Maladie"} {
		if !strings.Contains(text, s) {
			t.Errorf("February's statement lacks %q:\n%s", s, text)
		}
	}
	if strings.Contains(text, "R3") {
		t.Errorf("January's act in February:\n%s", text)
	}
	evsA := e.events(t, a)
	if len(evsA) != 3 || evsA[0].SourceRef != "R3" || evsA[1].SourceRef != "R1" || evsA[2].SourceRef != "R2" ||
		evsA[1].Document != feb.LogicalID || evsA[2].Document != feb.LogicalID || evsA[0].Document != byTitle["Relevé de remboursements — janvier 2026"].LogicalID {
		t.Fatalf("A's events: %+v", evsA)
	}
	if ev := evsA[1]; ev.Title != "Remboursement : consultation — MARTIN Claire" || ev.Detail != "Payé 30,00 € · remboursé 21,00 € · NGAP GS" ||
		!ev.Start.Equal(time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)) || ev.Kind != agenda.KindReimbursement {
		t.Errorf("an event: %+v", ev)
	}
	evsB := e.events(t, b)
	if len(evsB) != 1 || !evsB[0].End.Equal(time.Date(2026, 2, 8, 0, 0, 0, 0, time.UTC)) || evsB[0].Title != "Remboursement : hospitalisation — Hôpital Nord" {
		t.Fatalf("B's events: %+v", evsB)
	}
	if !strings.Contains(e.text(t, b, evsB[0].Document), "du 05/02/2026 au 08/02/2026  Hospitalisation — Hôpital Nord\n            FINESS 750100125") {
		t.Errorf("B's statement:\n%s", e.text(t, b, evsB[0].Document))
	}

	// Running it again files nothing: no document, no event, no trace; the same rows rejected.
	e.Clock.Advance(time.Hour)
	docs, events, traces := e.count(t, "documents"), e.count(t, "agenda_events"), e.count(t, "traces")
	sum, again := e.run(t, file, false)
	if want := (reimburse.Summary{Acts: 19, Existed: 5, Rejected: 14}); sum != want {
		t.Errorf("again: %+v, want %+v", sum, want)
	}
	// Line 20 was rejected as a duplicate of this run; now its act was filed before: it is known
	// (these runs name no file: TestSecondRunRejectsTheSameRows runs a file that does).
	if len(again) != 14 || strings.Join(again, "\n") != strings.Join(rejects[:14], "\n") {
		t.Errorf("rejects again:\n%s", strings.Join(again, "\n"))
	}
	if d, ev, tr := e.count(t, "documents"), e.count(t, "agenda_events"), e.count(t, "traces"); d != docs || ev != events || tr != traces {
		t.Errorf("the second run wrote: documents %d→%d, events %d→%d, traces %d→%d", docs, d, events, ev, traces, tr)
	}

	// A later file brings acts for February (replaced, the patient's masking kept) and March.
	if _, err := e.Records.Mask(context.Background(), recordtest.Holder(a), feb.LogicalID); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(24 * time.Hour)
	before := len(e.Traces(t, a))
	later := header +
		A + ";2026-02-20;;biologie;NABM;1104;;Laboratoire;15,20;9,12;R20\n" +
		A + ";2026-02-10;;pharmacie;;;;Pharmacie du Centre;12.40;8,06;R2\n" + // known
		A + ";2026-03-02;;kinesitherapie;NGAP;AMK 8;;Kiné;17;10,2;R21\n"
	if sum, rej := e.run(t, later, false); sum != (reimburse.Summary{Acts: 3, Events: 2, Existed: 1, Deposited: 1, Replaced: 1}) || len(rej) != 0 {
		t.Fatalf("later file: %+v %q", sum, rej)
	}
	// Traced as the insurer's: the replacement, the deposit, the filing of the events.
	if tr := e.Traces(t, a)[before:]; len(tr) != 3 || !strings.HasPrefix(tr[0], "document.replace allowed operator matrix=default-v1 document/"+feb.LogicalID) ||
		!strings.HasPrefix(tr[1], "document.deposit allowed operator matrix=default-v1 document/") ||
		tr[2] != "document.deposit allowed operator matrix=default-v1 agenda" {
		t.Errorf("the later import's traces:\n%s", strings.Join(tr, "\n"))
	}
	docsA = e.statements(t, a)
	var cur, old record.Document
	for _, d := range docsA {
		if d.UniqueID == feb.UniqueID {
			if d.Status == record.Approved {
				cur = d
			} else {
				old = d
			}
		}
	}
	if len(docsA) != 4 || old.LogicalID != feb.LogicalID || old.Status != record.Deprecated || cur.Replaces != feb.LogicalID ||
		!cur.Labels.MasquePS || !cur.ServiceEnd.Equal(time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("February replaced: cur %+v old %+v (%d statements)", cur, old, len(docsA))
	}
	text = e.text(t, a, cur.LogicalID)
	for _, s := range []string{"Référence R1", "Référence R2", "20/02/2026  Analyses de biologie médicale — Laboratoire\n            Code NABM 1104",
		"Total : 3 actes · payé 57,60 € · remboursé 38,18 €", "Relevé établi le 11/03/2026"} {
		if !strings.Contains(text, s) {
			t.Errorf("February's new statement lacks %q:\n%s", s, text)
		}
	}
	for _, ev := range e.events(t, a) {
		if ev.Start.Month() == time.February && ev.Document != cur.LogicalID {
			t.Errorf("event %s still linked to %s, not to the new statement %s", ev.SourceRef, ev.Document, cur.LogicalID)
		}
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	e := newEnv(t)
	ins := recordtest.TestINS(t, 1)
	e.Patient(t, ins)
	file := header + ins.Matricule + ";2026-02-03;;consultation;;GS;;X;30;21;R1\n" +
		ins.Matricule + ";2026-01-03;;consultation;;GS;;X;30;21;R2\n" +
		ins.Matricule + ";2026-01-03;;consultation;;GS;;X;30;21;R2\n"
	docs, traces := e.count(t, "documents"), e.count(t, "traces")
	sum, rej := e.run(t, file, true)
	if sum != (reimburse.Summary{Acts: 3, Events: 2, Deposited: 2, Rejected: 1}) || len(rej) != 1 {
		t.Fatalf("dry run: %+v %q", sum, rej)
	}
	if e.count(t, "documents") != docs || e.count(t, "agenda_events") != 0 || e.count(t, "traces") != traces {
		t.Fatal("a dry run wrote")
	}
}

// A file whose people are not grouped ends in the same state as the same file grouped: the
// same events, and statements that say the same.
func TestOrderDoesNotMatter(t *testing.T) {
	rows := func(ins string) []string {
		return []string{ins + ";2026-02-03;;consultation;;GS;;X;30;21;" + ins[10:] + "-1\n",
			ins + ";2026-02-04;;pharmacie;;;;P;10;6;" + ins[10:] + "-2\n",
			ins + ";2026-01-04;;pharmacie;;;;P;10;6;" + ins[10:] + "-3\n"}
	}
	final := func(interleave bool, maxGroup int) string {
		e := newEnv(t)
		insA, insB := recordtest.TestINS(t, 1), recordtest.TestINS(t, 2)
		a, b := e.Patient(t, insA), e.Patient(t, insB)
		ra, rb := rows(insA.Matricule), rows(insB.Matricule)
		file := header + strings.Join(ra, "") + strings.Join(rb, "")
		if interleave {
			file = header + ra[0] + rb[0] + ra[1] + rb[1] + ra[2] + rb[2]
		}
		var rej bytes.Buffer
		sum, err := e.im.Run(context.Background(), strings.NewReader(file), reimburse.Options{Request: operator, Rejects: &rej, MaxGroup: maxGroup})
		if err != nil || sum.Events != 6 || sum.Rejected != 0 {
			t.Fatalf("import: %+v %v %s", sum, err, rej.String())
		}
		var out strings.Builder
		for _, pid := range []int64{a, b} {
			for _, ev := range e.events(t, pid) {
				fmt.Fprintf(&out, "%s %s %s\n", ev.SourceRef, ev.Start.Format(time.DateOnly), ev.Title)
			}
			docs := e.statements(t, pid)
			slices.SortFunc(docs, func(a, b record.Document) int { return a.ServiceStart.Compare(b.ServiceStart) })
			for _, d := range docs {
				if d.Status == record.Approved {
					out.WriteString(e.text(t, pid, d.LogicalID))
				}
			}
		}
		return out.String()
	}
	grouped := final(false, 0)
	if got := final(true, 0); got != grouped {
		t.Errorf("interleaved:\n%s\nwant\n%s", got, grouped)
	}
	if got := final(false, 1); got != grouped {
		t.Errorf("groups of one act:\n%s\nwant\n%s", got, grouped)
	}
}

// BenchmarkImport files acts of 5 a person and month, and reports acts per second.
func BenchmarkImport(b *testing.B) {
	e := newEnv(b)
	const perPerson = 5
	people := max(1, b.N/perPerson)
	var file strings.Builder
	file.WriteString(header)
	ctx := context.Background()
	n := 0
	for i := range people {
		ins := recordtest.TestINS(b, 1000+i)
		p := space.Patient{INS: ins, BirthName: "DUPONT", GivenNames: "Marie", BirthDate: time.Date(1980, 5, 2, 0, 0, 0, 0, time.UTC),
			Sex: space.Female, CreatedAt: e.Clock.Now()}
		if err := e.DB.Update(ctx, func(tx *store.Tx) error {
			if err := tx.InsertPatient(ctx, &p); err != nil {
				return err
			}
			sp := space.New(p.ID, e.Clock.Now(), space.DefaultPolicy())
			sp.State, sp.OpenedAt, sp.OpensAt = space.Open, e.Clock.Now(), time.Time{}
			return tx.InsertSpace(ctx, sp, "")
		}); err != nil {
			b.Fatal(err)
		}
		for j := range perPerson {
			if n == b.N && j > 0 {
				break
			}
			fmt.Fprintf(&file, "%s;2026-02-%02d;;consultation;;GS;;MARTIN Claire;30;21;B%d-%d\n", ins.Matricule, j+1, i, j)
			n++
		}
	}
	b.ResetTimer()
	began := time.Now()
	sum, err := e.im.Run(ctx, strings.NewReader(file.String()), reimburse.Options{Request: operator, Rejects: &bytes.Buffer{}})
	elapsed := time.Since(began)
	b.StopTimer()
	if err != nil || sum.Events != int64(n) {
		b.Fatalf("%+v %v", sum, err)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "acts/s")
}

// importerOver returns an importer of e whose agenda is kept in store.
func (e *env) importerOver(tb testing.TB, store agenda.Store) *reimburse.Importer {
	tb.Helper()
	ag, err := agenda.NewService(agenda.Deps{Store: store, Access: e.Access, Clock: e.Clock})
	if err != nil {
		tb.Fatal(err)
	}
	im, err := reimburse.New(reimburse.Deps{Store: e.DB.Reimbursements(), Records: e.Records, Agenda: ag, Clock: e.Clock})
	if err != nil {
		tb.Fatal(err)
	}
	return im
}

// failingAgenda fails the agenda's writes while fail is set, as a crash between a month's
// statement (deposited in its own transaction) and its events' transaction would leave it.
type failingAgenda struct {
	agenda.Store
	fail bool
}

func (f *failingAgenda) UpdateAgenda(ctx context.Context, fn func(agenda.Tx) error) error {
	if f.fail {
		return errors.New("the disk went away")
	}
	return f.Store.UpdateAgenda(ctx, fn)
}

// A run cut between a month's statement and its events ends, once run again, as a run that
// went through: one version of the statement, one deposit trace, the events filed and linked
// to it. Before, the second run deposited the same statement again (a second version, a
// second trace).
func TestRunCutBeforeTheEventsEndsAsAnUninterruptedOne(t *testing.T) {
	type end struct{ documents, traces, events int }
	run := func(cut bool) end {
		e := newEnv(t)
		ins := recordtest.TestINS(t, 1)
		e.Patient(t, ins)
		file := header + ins.Matricule + ";2026-02-03;;consultation;;GS;;MARTIN Claire;30,00;21,00;R1\n" +
			ins.Matricule + ";2026-02-10;;pharmacie;;;;Pharmacie du Centre;12.40;8,06;R2\n" +
			ins.Matricule + ";2026-03-02;;consultation;;G;;MARTIN Claire;26,50;18,55;R3\n"
		fa := &failingAgenda{Store: e.DB.Agenda(), fail: cut}
		im := e.importerOver(t, fa)
		opt := func() reimburse.Options { return reimburse.Options{Request: operator, Rejects: &bytes.Buffer{}} }
		if cut {
			s, err := im.Run(context.Background(), strings.NewReader(file), opt())
			if err == nil || s.Deposited != 2 {
				t.Fatalf("cut run: %+v %v (its two statements are in, and it says so)", s, err)
			}
			fa.fail = false
			e.Clock.Advance(time.Hour)
		}
		s, err := im.Run(context.Background(), strings.NewReader(file), opt())
		if err != nil || s.Events != 3 {
			t.Fatalf("run: %+v %v", s, err)
		}
		if cut && (s.Deposited != 0 || s.Replaced != 0) {
			t.Errorf("run after the cut deposited statements again: %+v", s)
		}
		return end{e.count(t, "documents"), e.count(t, "traces"), e.count(t, "agenda_events")}
	}
	through, cut := run(false), run(true)
	if through != cut {
		t.Fatalf("cut then run again: %+v; uninterrupted: %+v", cut, through)
	}
}

// The same cut, in a month that had a statement already: the run after it finds the new
// version in force and moves the earlier act's event to it, as the cut run would have.
func TestRunCutBeforeTheEventsMovesTheEarlierEvents(t *testing.T) {
	type end struct {
		documents, traces, events int
		stale                     []string // events linked to a statement no longer in force
	}
	run := func(cut bool) end {
		e := newEnv(t)
		ins := recordtest.TestINS(t, 1)
		pid := e.Patient(t, ins)
		first := header + ins.Matricule + ";2026-02-03;;consultation;;GS;;MARTIN Claire;30,00;21,00;R1\n"
		second := first + ins.Matricule + ";2026-02-10;;pharmacie;;;;Pharmacie du Centre;12.40;8,06;R2\n"
		fa := &failingAgenda{Store: e.DB.Agenda()}
		im := e.importerOver(t, fa)
		opt := func() reimburse.Options { return reimburse.Options{Request: operator, Rejects: &bytes.Buffer{}} }
		if _, err := im.Run(context.Background(), strings.NewReader(first), opt()); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(time.Hour)
		if cut {
			fa.fail = true
			if _, err := im.Run(context.Background(), strings.NewReader(second), opt()); err == nil {
				t.Fatal("the cut run went through")
			}
			fa.fail = false
			e.Clock.Advance(time.Hour)
		}
		if s, err := im.Run(context.Background(), strings.NewReader(second), opt()); err != nil || s.Events != 1 {
			t.Fatalf("run: %+v %v", s, err)
		}
		inForce := map[string]bool{}
		for _, d := range e.statements(t, pid) {
			if d.Status == record.Approved {
				inForce[d.LogicalID] = true
			}
		}
		var stale []string
		for _, ev := range e.events(t, pid) {
			if !inForce[ev.Document] {
				stale = append(stale, ev.SourceRef)
			}
		}
		return end{e.count(t, "documents"), e.count(t, "traces"), e.count(t, "agenda_events"), stale}
	}
	through, cut := run(false), run(true)
	if len(cut.stale) > 0 || cut.documents != through.documents || cut.events != through.events {
		t.Fatalf("cut then run again: %+v; uninterrupted: %+v", cut, through)
	}
}

// runOpt imports file with im and opt (its Rejects set here) and returns the summary, the
// rejects in the order of the file, and the run's error.
func runOpt(tb testing.TB, im *reimburse.Importer, file string, opt reimburse.Options) (reimburse.Summary, []string, error) {
	tb.Helper()
	var rej bytes.Buffer
	opt.Rejects = &rej
	sum, runErr := im.Run(context.Background(), strings.NewReader(file), opt)
	recs, err := csv.NewReader(&rej).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	slices.SortStableFunc(recs, func(a, b []string) int { return cmp.Compare(atoi(a[0]), atoi(b[0])) })
	var out []string
	for _, r := range recs {
		out = append(out, r[0]+" "+r[1]+" "+r[2]+": "+r[3])
	}
	return sum, out, runErr
}

// fileID is the identity of file, as the command gives it.
func fileID(tb testing.TB, file string) string {
	tb.Helper()
	id, err := reimburse.FileIDOf(strings.NewReader(file))
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// cutAgenda lets the agenda's first writes through, then fails the others, as a crash in the
// middle of a run would leave it.
type cutAgenda struct {
	agenda.Store
	mu   sync.Mutex
	left int // writes let through before the cut; < 0: no cut
}

func (c *cutAgenda) UpdateAgenda(ctx context.Context, fn func(agenda.Tx) error) error {
	c.mu.Lock()
	cut := c.left == 0
	if c.left > 0 {
		c.left--
	}
	c.mu.Unlock()
	if cut {
		return errors.New("the disk went away")
	}
	return c.Store.UpdateAgenda(ctx, fn)
}

// tally counts the documents, traces and events of every patient.
func (e *env) tally(tb testing.TB) string {
	tb.Helper()
	return fmt.Sprintf("%d documents, %d traces, %d events\n", e.count(tb, "documents"), e.count(tb, "traces"), e.count(tb, "agenda_events"))
}

// state describes what the store holds of pid's reimbursements, logical ids aside: the events
// (reference, date, payload, the statement they link to and whether it is in force), the text
// of the statements in force. Reading them is traced.
func (e *env) state(tb testing.TB, pid int64) string {
	tb.Helper()
	var out strings.Builder
	docs := map[string]record.Document{}
	var inForce []record.Document
	for _, d := range e.statements(tb, pid) {
		docs[d.LogicalID] = d
		if d.Status == record.Approved {
			inForce = append(inForce, d)
		}
	}
	for _, ev := range e.events(tb, pid) {
		d := docs[ev.Document]
		fmt.Fprintf(&out, "%s %s %s → %s %s\n", ev.SourceRef, ev.Start.Format(time.DateOnly), ev.Payload, d.Title, d.Status)
	}
	slices.SortFunc(inForce, func(a, b record.Document) int { return a.ServiceStart.Compare(b.ServiceStart) })
	for _, d := range inForce {
		out.WriteString(e.text(tb, pid, d.LogicalID))
	}
	return out.String()
}

// A run cut in the middle of a person's rows, after their first group was filed, then run
// again from the top, rejects the same rows as a run that went through, and the two runs
// together count and file what it did. A reference repeated in a later group of the person is
// still rejected as a duplicate by the rerun, though its first row was filed before the rerun
// began: the event names the row of this file it was filed from. Before, the rerun counted
// the repeated rows as filed before and its rejects file lacked them.
func TestRerunAfterACutRejectsAsAnUninterruptedRun(t *testing.T) {
	type result struct {
		sum     reimburse.Summary // the cut run's and the rerun's together, Acts the rerun's
		rejects []string          // the last run's
		state   string
	}
	ins := recordtest.TestINS(t, 1)
	A := ins.Matricule
	// Groups of two rows: lines 2-3, 4-5, 6-7.
	file := header +
		A + ";2026-02-03;;consultation;;GS;;MARTIN Claire;30,00;21,00;R1\n" + // 2
		A + ";2026-02-10;;pharmacie;;;;Pharmacie du Centre;12.40;8,06;R2\n" + // 3
		A + ";2026-02-12;;biologie;NABM;1104;;Laboratoire;15,20;9,12;R3\n" + // 4
		A + ";2026-02-15;;consultation;;GS;;MARTIN Claire;30;21;R1\n" + // 5: line 2's reference
		A + ";2026-01-20;;imagerie;;ZBQK002;;Cabinet de radiologie;25;17,50;R4\n" + // 6
		A + ";2026-01-21;;pharmacie;;;;Pharmacie du Centre;12.40;8,06;R2\n" // 7: line 3's reference
	opt := reimburse.Options{Request: operator, MaxGroup: 2, Workers: 1, FileID: fileID(t, file)}
	run := func(cut bool) result {
		e := newEnv(t)
		pid := e.Patient(t, ins)
		ca := &cutAgenda{Store: e.DB.Agenda(), left: -1}
		im := e.importerOver(t, ca)
		var first reimburse.Summary
		if cut {
			ca.left = 1 // the first group's events go in, not the second's (its statement does)
			s, _, err := runOpt(t, im, file, opt)
			if err == nil || s.Events != 2 || s.Deposited != 1 || s.Replaced != 1 {
				t.Fatalf("cut run: %+v %v", s, err)
			}
			first = reimburse.Summary{Events: s.Events, Deposited: s.Deposited, Replaced: s.Replaced}
			ca.left = -1
			e.Clock.Advance(time.Hour)
		}
		s, rej, err := runOpt(t, im, file, opt)
		if err != nil {
			t.Fatalf("run: %+v %v", s, err)
		}
		// What the rerun finds filed before is what the cut run filed.
		if cut && s.Existed != first.Events {
			t.Errorf("the rerun counts %d acts filed before; the cut run filed %d", s.Existed, first.Events)
		}
		s.Events, s.Deposited, s.Replaced = s.Events+first.Events, s.Deposited+first.Deposited, s.Replaced+first.Replaced
		return result{s, rej, e.tally(t) + e.state(t, pid)}
	}
	through, cut := run(false), run(true)
	want := []string{
		"5 R1 conflict: duplicate reference: an earlier row of this file has the same reference",
		"7 R2 conflict: duplicate reference: an earlier row of this file has the same reference",
	}
	if strings.Join(through.rejects, "\n") != strings.Join(want, "\n") {
		t.Fatalf("uninterrupted run's rejects:\n%s", strings.Join(through.rejects, "\n"))
	}
	if through.sum != (reimburse.Summary{Acts: 6, Events: 4, Deposited: 2, Replaced: 1, Rejected: 2}) {
		t.Fatalf("uninterrupted run: %+v", through.sum)
	}
	if strings.Join(cut.rejects, "\n") != strings.Join(through.rejects, "\n") {
		t.Errorf("rerun's rejects:\n%s\nuninterrupted:\n%s", strings.Join(cut.rejects, "\n"), strings.Join(through.rejects, "\n"))
	}
	if c := cut.sum; c.Acts != through.sum.Acts || c.Events != through.sum.Events || c.Deposited != through.sum.Deposited ||
		c.Replaced != through.sum.Replaced || c.Rejected != through.sum.Rejected {
		t.Errorf("cut run and rerun: %+v; uninterrupted: %+v", c, through.sum)
	}
	if cut.state != through.state {
		t.Errorf("after the cut and the rerun:\n%s\nuninterrupted:\n%s", cut.state, through.state)
	}
}

// A file run a second time rejects the same rows as the first time, a reference repeated in a
// later group of a person included, and counts the acts the first run filed as filed before.
// Another file with the same acts, or a run that names no file, judges by its start: what was
// filed before it is known.
func TestSecondRunRejectsTheSameRows(t *testing.T) {
	e := newEnv(t)
	insA, insB := recordtest.TestINS(t, 1), recordtest.TestINS(t, 2)
	a, b := e.Patient(t, insA), e.Patient(t, insB)
	A, B := insA.Matricule, insB.Matricule
	file := header +
		A + ";2026-02-03;;consultation;;GS;;MARTIN Claire;30,00;21,00;R1\n" + // 2
		A + ";2026-02-10;;pharmacie;;;;Pharmacie du Centre;12.40;8,06;R2\n" + // 3
		A + ";2026-02-11;;consultation;;GS;;MARTIN Claire;30;21;R1\n" + // 4: the same group
		B + ";2026-02-05;;consultation;;GS;;X;30;21;R3\n" + // 5
		A + ";2026-02-12;;consultation;;GS;;MARTIN Claire;30;21;R1\n" + // 6: A again, a later group
		A + ";2026-01-20;;imagerie;;ZBQK002;;Cabinet de radiologie;25;17,50;R4\n" // 7
	opt := reimburse.Options{Request: operator, FileID: fileID(t, file)}
	want := []string{
		"4 R1 conflict: duplicate reference: an earlier row of this file has the same reference",
		"6 R1 conflict: duplicate reference: an earlier row of this file has the same reference",
	}
	sum, rej, err := runOpt(t, e.im, file, opt)
	if err != nil || sum != (reimburse.Summary{Acts: 6, Events: 4, Deposited: 3, Rejected: 2}) || strings.Join(rej, "\n") != strings.Join(want, "\n") {
		t.Fatalf("first run: %+v %v\n%s", sum, err, strings.Join(rej, "\n"))
	}
	stateA, stateB := e.state(t, a), e.state(t, b)
	tally := e.tally(t)
	if !strings.Contains(stateA, `"file":"`+opt.FileID+`","line":2}`) || !strings.Contains(stateA, `"line":7}`) {
		t.Errorf("the events do not name their row:\n%s", stateA)
	}

	e.Clock.Advance(time.Hour)
	sum, rej, err = runOpt(t, e.im, file, opt)
	if err != nil || sum != (reimburse.Summary{Acts: 6, Existed: 4, Rejected: 2}) || strings.Join(rej, "\n") != strings.Join(want, "\n") {
		t.Errorf("second run: %+v %v\n%s", sum, err, strings.Join(rej, "\n"))
	}
	if got := e.tally(t); got != tally {
		t.Errorf("the second run wrote: %s, before it %s", got, tally)
	}
	if e.state(t, a) != stateA || e.state(t, b) != stateB {
		t.Errorf("the second run changed:\n%s%s", e.state(t, a), e.state(t, b))
	}

	// The same rows in another file: filed before it, whatever their line.
	other := file + B + ";2026-02-06;;pharmacie;;;;P;10;6;R5\n"
	sum, rej, err = runOpt(t, e.im, other, reimburse.Options{Request: operator, FileID: fileID(t, other)})
	if err != nil || sum != (reimburse.Summary{Acts: 7, Events: 1, Existed: 5, Replaced: 1, Rejected: 1}) || len(rej) != 1 || !strings.HasPrefix(rej[0], "4 R1 conflict") {
		t.Errorf("another file: %+v %v\n%s", sum, err, strings.Join(rej, "\n"))
	}
	// No file identity: this run's start only.
	sum, rej, err = runOpt(t, e.im, file, reimburse.Options{Request: operator})
	if err != nil || sum != (reimburse.Summary{Acts: 6, Existed: 5, Rejected: 1}) || len(rej) != 1 || !strings.HasPrefix(rej[0], "4 R1 conflict") {
		t.Errorf("no file identity: %+v %v\n%s", sum, err, strings.Join(rej, "\n"))
	}
	for _, id := range []string{"0123", strings.ToUpper(opt.FileID), opt.FileID + "x", strings.Repeat("0", 65)} {
		if _, _, err := runOpt(t, e.im, file, reimburse.Options{Request: operator, FileID: id}); !errs.Is(err, errs.Invalid) {
			t.Errorf("file identity %q: %v", id, err)
		}
	}
	if id := opt.FileID; len(id) != 32 || id != fileID(t, file) || id == fileID(t, other) {
		t.Errorf("FileIDOf: %q", id)
	}
}
