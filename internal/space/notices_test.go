package space_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// recorder keeps what would be sent.
type recorder struct {
	mu   sync.Mutex
	sent []notify.Message
}

func (r *recorder) Send(_ context.Context, m notify.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return nil
}

func recordingService(t *testing.T) (*space.Service, *recorder, *clock.Fake, *env) {
	t.Helper()
	db := storetest.New(t)
	if _, err := jobs.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.New(db, jobs.Config{}, jobs.Deps{}); err != nil { // insert only
		t.Fatal(err)
	}
	rec := &recorder{}
	clk := clock.NewFake(start)
	svc, err := space.NewService(space.Deps{Store: db.Spaces(), Clock: clk, Policy: space.DefaultPolicy(),
		PublicURL: "https://carnet.example", Sender: rec, CodeKey: []byte("activation-code-key-32-bytes-abc")})
	if err != nil {
		t.Fatal(err)
	}
	return svc, rec, clk, &env{db: db, clock: clk, svc: svc}
}

// A retried creation notice carries the same code under the same Message-ID: a copy that did
// arrive before the retry still works.
func TestRetriedNoticeSendsTheSameCode(t *testing.T) {
	svc, rec, clk, e := recordingService(t)
	ctx := context.Background()
	c, err := svc.Create(ctx, operator, space.NewSpace{Patient: person(t, "2790351215189", "Marie", "marie@example.fr", time.Date(1979, 3, 5, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	job := space.NoticeJob{PatientID: c.Patient.ID, Notice: space.NoticeCreated, Version: c.Space.Version}
	if err := svc.SendNotice(ctx, job); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := svc.SendNotice(ctx, job); err != nil {
		t.Fatal(err)
	}
	if len(rec.sent) != 2 || rec.sent[0].ID != rec.sent[1].ID || codeIn(t, rec.sent[0].Text) != codeIn(t, rec.sent[1].Text) {
		t.Fatalf("the retry differs: %+v", rec.sent)
	}
	me := space.By{Actor: audit.Actor{Kind: audit.ActorPatient, ID: "self"}, Channel: audit.ChannelWeb}
	if _, err := svc.Activate(ctx, me, c.Patient.INS, codeIn(t, rec.sent[0].Text)); err != nil {
		t.Fatalf("the first copy's code: %v", err)
	}
	// Sending reads the patient's address: traced.
	e.hasTrace(t, c.Patient.ID, "space.notice", audit.Allowed)
	// Once open, a late creation notice is dropped, and that is traced too.
	if err := svc.SendNotice(ctx, job); err != nil || len(rec.sent) != 2 {
		t.Fatalf("late creation notice: %v, %d sent", err, len(rec.sent))
	}
	e.hasTrace(t, c.Patient.ID, "space.notice", audit.Denied)
	e.verifyLog(t)
}

// A notice about a version of the space that changed since is dropped.
func TestStaleNoticeIsDropped(t *testing.T) {
	svc, rec, _, _ := recordingService(t)
	ctx := context.Background()
	c, err := svc.Create(ctx, operator, space.NewSpace{Patient: person(t, "2790351215189", "Marie", "marie@example.fr", time.Date(1979, 3, 5, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	me := space.By{Actor: audit.Actor{Kind: audit.ActorPatient, ID: "self"}, Channel: audit.ChannelWeb}
	svc.SendNotice(ctx, space.NoticeJob{PatientID: c.Patient.ID, Notice: space.NoticeCreated, Version: 1})
	if _, err := svc.Activate(ctx, me, c.Patient.INS, codeIn(t, rec.sent[0].Text)); err != nil {
		t.Fatal(err)
	}
	closed, err := svc.Close(ctx, me, c.Patient.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Reopen(ctx, me, c.Patient.ID); err != nil {
		t.Fatal(err)
	}
	before := len(rec.sent)
	if err := svc.SendNotice(ctx, space.NoticeJob{PatientID: c.Patient.ID, Notice: space.NoticeClosed, Version: closed.Version}); err != nil {
		t.Fatal(err)
	}
	if len(rec.sent) != before {
		t.Fatalf("a closure notice went out for a space reopened since: %+v", rec.sent[before:])
	}
	if err := svc.NotifyNewContent(ctx, c.Patient.ID, ""); !errs.Is(err, errs.Invalid) {
		t.Fatalf("new-content notice without a key: %v", err)
	}
}

// A protected adult's notices reach their guardian too.
func TestGuardianIsNotified(t *testing.T) {
	svc, rec, _, _ := recordingService(t)
	ctx := context.Background()
	g, err := svc.Create(ctx, operator, space.NewSpace{Patient: person(t, "1700675123451", "Paul", "paul@example.fr", time.Date(1970, 6, 1, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	ward, err := svc.Create(ctx, operator, space.NewSpace{Patient: person(t, "2500675123452", "Rose", "", time.Date(1950, 6, 1, 0, 0, 0, 0, time.UTC)),
		Representatives: []space.NewRepresentative{{INS: g.Patient.INS.Matricule, Role: space.Guardian}}})
	if err != nil {
		t.Fatal(err)
	}
	if ward.ActivationCode != "" {
		t.Fatal("the ward's notice was left to the post though the guardian has an address")
	}
	if err := svc.SendNotice(ctx, space.NoticeJob{PatientID: ward.Patient.ID, Notice: space.NoticeCreated, Version: 1}); err != nil {
		t.Fatal(err)
	}
	if len(rec.sent) != 1 || rec.sent[0].To != "paul@example.fr" {
		t.Fatalf("sent %+v", rec.sent)
	}
}
