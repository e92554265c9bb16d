package agenda_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
)

type env struct {
	*recordtest.Env
	agenda *agenda.Service
	pid    int64
	ins    identity.INS
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := recordtest.New(t)
	a, err := agenda.NewService(agenda.Deps{Store: e.DB.Agenda(), Access: e.Access, Clock: e.Clock})
	if err != nil {
		t.Fatal(err)
	}
	ins := recordtest.TestINS(t, 1)
	return &env{Env: e, agenda: a, pid: e.Patient(t, ins), ins: ins}
}

// insurer is the operator filing the insurer's feed.
var insurer = agenda.Request{Channel: audit.ChannelCLI, Actor: access.Actor{Kind: audit.ActorOperator, ID: "cli:ops", Name: "ops"}}

func holder(pid int64) agenda.Request {
	r := recordtest.Holder(pid)
	return agenda.Request{Actor: r.Actor, Channel: r.Channel}
}

func pro(idnat, profession string) agenda.Request {
	r := recordtest.Doctor(idnat)
	r.Actor.Profession, r.Actor.Specialty = profession, ""
	return agenda.Request{Actor: r.Actor, Channel: r.Channel}
}

func day(d int) time.Time { return time.Date(2026, 2, d, 0, 0, 0, 0, time.UTC) }

func reimbursement(ref string, start, end time.Time, doc string) agenda.Event {
	return agenda.Event{Kind: agenda.KindReimbursement, Start: start, End: end, Title: "Remboursement : consultation " + ref,
		Detail: "Payé 30,00 €", SourceRef: ref, Document: doc, Payload: []byte(`{"ref":"` + ref + `"}`)}
}

func batch(evs ...agenda.Event) agenda.Batch {
	return agenda.Batch{Source: agenda.SourceReimbursement, Class: "60", Type: "REMB", Events: evs}
}

// lastTrace returns the patient's last trace as recordtest.Traces writes it.
func (e *env) lastTrace(t *testing.T) string {
	t.Helper()
	tr := e.Traces(t, e.pid)
	if len(tr) == 0 {
		t.Fatal("no trace")
	}
	return tr[len(tr)-1]
}

func refs(evs []agenda.Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.SourceRef)
	}
	return strings.Join(s, ",")
}

func TestAddIsIdempotentAndListed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	evs := []agenda.Event{reimbursement("B", day(10), time.Time{}, ""), reimbursement("A", day(3), day(7), ""),
		reimbursement("C", day(20), time.Time{}, "")}
	added, err := e.agenda.Add(ctx, insurer, e.pid, batch(evs...))
	if err != nil || added != (agenda.Added{Created: 3}) {
		t.Fatalf("add: %+v %v", added, err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.deposit allowed operator") || !strings.Contains(tr, " agenda") {
		t.Fatalf("the filing is not traced as the insurer's deposit: %s", tr)
	}
	e.Clock.Advance(time.Hour)
	if added, err = e.agenda.Add(ctx, insurer, e.pid, batch(evs[:2]...)); err != nil || added != (agenda.Added{Existed: 2}) {
		t.Fatalf("add again: %+v %v", added, err)
	}

	got, err := e.agenda.List(ctx, holder(e.pid), e.pid, time.Time{}, time.Time{})
	if err != nil || refs(got) != "A,B,C" {
		t.Fatalf("list: %s %v", refs(got), err)
	}
	a := got[0]
	if !a.End.Equal(day(7)) || a.Kind != agenda.KindReimbursement || a.Title != "Remboursement : consultation A" ||
		a.Detail != "Payé 30,00 €" || string(a.Payload) != `{"ref":"A"}` || a.Class != "60" || a.Type != "REMB" ||
		a.Source != agenda.SourceReimbursement || a.CreatedBy.Kind != audit.ActorOperator || a.CreatedBy.ID != "cli:ops" ||
		!a.CreatedAt.Equal(recordtest.T0) || a.PatientID != e.pid {
		t.Fatalf("event read back: %+v", a)
	}
	want := fmt.Sprintf("record.search allowed self matrix=default-v1 agenda shown=3 event/%d event/%d event/%d", got[0].ID, got[1].ID, got[2].ID)
	if tr := e.lastTrace(t); tr != want {
		t.Fatalf("the reading's trace:\n%s\nwant\n%s", tr, want)
	}

	// A period: the events that overlap it, a stay included.
	for _, tt := range []struct {
		from, to time.Time
		want     string
	}{
		{day(5), day(11), "A,B"},
		{day(7), day(10), "A"},
		{day(8), day(10), ""},
		{day(10), time.Time{}, "B,C"},
		{time.Time{}, day(3), ""},
	} {
		got, err := e.agenda.List(ctx, holder(e.pid), e.pid, tt.from, tt.to)
		if err != nil || refs(got) != tt.want {
			t.Errorf("[%s, %s): %s %v, want %s", tt.from.Format(time.DateOnly), tt.to.Format(time.DateOnly), refs(got), err, tt.want)
		}
	}
	if _, err := e.agenda.List(ctx, holder(e.pid), e.pid, day(10), day(10)); !errs.Is(err, errs.Invalid) {
		t.Fatalf("an empty period: %v", err)
	}
}

func TestAddIsDecided(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	doctor := pro(recordtest.RPPS(t, 1), "G15_10")
	for name, r := range map[string]agenda.Request{"a professional": doctor, "the patient": holder(e.pid)} {
		if _, err := e.agenda.Add(ctx, r, e.pid, batch(reimbursement("X", day(1), time.Time{}, ""))); !errs.Is(err, errs.Forbidden) {
			t.Errorf("%s files a reimbursement: %v", name, err)
		}
		if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.deposit denied") || !strings.Contains(tr, "space_not_allowed") {
			t.Errorf("%s's refusal: %s", name, tr)
		}
	}
	bad := reimbursement("X", day(1), time.Time{}, "")
	bad.Title = " "
	if _, err := e.agenda.Add(ctx, insurer, e.pid, batch(bad)); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "title") {
		t.Fatalf("an event without a title: %v", err)
	}
	bad = reimbursement("X", day(3), day(1), "")
	if _, err := e.agenda.Add(ctx, insurer, e.pid, batch(bad)); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "end is before") {
		t.Fatalf("an event ending before it starts: %v", err)
	}

	// A space not open takes no event, and the failure is traced.
	pending := recordtest.TestINS(t, 2)
	p := space.Patient{INS: pending, BirthName: "X", GivenNames: "Y", BirthDate: day(1), Sex: space.Female, CreatedAt: e.Clock.Now()}
	if err := e.DB.Update(ctx, func(tx *store.Tx) error {
		if err := tx.InsertPatient(ctx, &p); err != nil {
			return err
		}
		return tx.InsertSpace(ctx, space.New(p.ID, e.Clock.Now(), space.DefaultPolicy()), "")
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.agenda.Add(ctx, insurer, p.ID, batch(reimbursement("X", day(1), time.Time{}, ""))); !errs.Is(err, errs.Conflict) {
		t.Fatalf("a pending space: %v", err)
	}
	if tr := e.Traces(t, p.ID); len(tr) == 0 || !strings.HasPrefix(tr[len(tr)-1], "document.deposit denied conflict: this patient's space is pending") {
		t.Fatalf("the failure on a pending space: %q", tr)
	}
}

func TestListIsDecided(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// A statement in the record, masked by the patient, and events linked to it or not.
	doc, err := e.Records.Deposit(ctx, record.Request{Actor: insurer.Actor, Channel: insurer.Channel}, record.Deposit{INS: e.ins,
		Title: "Relevé de remboursements", Type: "REMB", MimeType: "text/plain", ServiceStart: day(1)}, []byte("relevé"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Records.Mask(ctx, recordtest.Holder(e.pid), doc.LogicalID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.agenda.Add(ctx, insurer, e.pid, batch(reimbursement("linked", day(2), time.Time{}, doc.LogicalID),
		reimbursement("alone", day(3), time.Time{}, ""))); err != nil {
		t.Fatal(err)
	}

	// A professional without a ground is refused, with a reason they can act on, and traced.
	idnat := recordtest.RPPS(t, 1)
	doctor := pro(idnat, "G15_10")
	if _, err := e.agenda.List(ctx, doctor, e.pid, time.Time{}, time.Time{}); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a doctor without a ground: %v", err)
	}
	if tr := e.lastTrace(t); tr != "record.search denied no_authorisation matrix=default-v1 agenda" {
		t.Fatalf("the refusal's trace: %s", tr)
	}
	// The operator reads no content.
	if _, err := e.agenda.List(ctx, insurer, e.pid, time.Time{}, time.Time{}); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("the operator: %v", err)
	}

	// Authorised, the doctor sees what the matrix grants and the masking leaves; the patient is
	// told of a new professional.
	h := recordtest.Holder(e.pid)
	if _, err := e.Access.GrantAuthorisation(ctx, h.Actor, h.Channel, e.pid, idnat, 0); err != nil {
		t.Fatal(err)
	}
	got, err := e.agenda.List(ctx, doctor, e.pid, time.Time{}, time.Time{})
	if err != nil || refs(got) != "alone" {
		t.Fatalf("an authorised doctor: %s %v", refs(got), err)
	}
	if tr := e.lastTrace(t); tr != fmt.Sprintf("record.search allowed authorisation matrix=default-v1 agenda shown=1 event/%d", got[0].ID) {
		t.Fatalf("the doctor's trace: %s", tr)
	}
	var n int
	if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM notice_outbox WHERE patient_id = $1 AND notice_key = $2`,
		e.pid, "first-"+idnat).Scan(&n); err != nil || n != 1 {
		t.Fatalf("first access notice: %d %v", n, err)
	}
	// A pharmacist has no access to reimbursement data (the matrix), however authorised.
	pharm := recordtest.RPPS(t, 2)
	if _, err := e.Access.GrantAuthorisation(ctx, h.Actor, h.Channel, e.pid, pharm, 0); err != nil {
		t.Fatal(err)
	}
	if got, err := e.agenda.List(ctx, pro(pharm, "G15_21"), e.pid, time.Time{}, time.Time{}); err != nil || len(got) != 0 {
		t.Fatalf("a pharmacist: %s %v", refs(got), err)
	}
	// The patient sees everything.
	if got, err := e.agenda.List(ctx, holder(e.pid), e.pid, time.Time{}, time.Time{}); err != nil || refs(got) != "linked,alone" {
		t.Fatalf("the patient: %s %v", refs(got), err)
	}
}
