package agenda_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

func smtpPro(idnat string) agenda.Request {
	r := pro(idnat, "G15_10")
	r.Channel = audit.ChannelSMTP
	return r
}

// An invitation files an appointment; a later version moves it, an older or the same one
// changes nothing (a retried inspection), a cancellation cancels it; another sender's UID names
// another event; each filing is the sender's deposit, traced; a blocked sender is refused.
func TestFileInvitation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	dr, other := recordtest.RPPS(t, 1), recordtest.RPPS(t, 2)
	stamp := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	start := time.Date(2026, 4, 10, 7, 30, 0, 0, time.UTC)
	ev := agenda.ICalEvent{UID: "conv-42@chu", Stamp: stamp, Start: start, End: start.Add(45 * time.Minute),
		Summary: "Consultation de cardiologie", Location: "CHU, bâtiment B", OrganizerName: "Dr Martin",
		Description: "Venir à jeun."}

	filed, a, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodRequest, ev, "Votre convocation")
	if err != nil || filed != agenda.FiledCreated {
		t.Fatalf("file: %s %v", filed, err)
	}
	if a.Status != agenda.StatusBooked || a.Description != "Consultation de cardiologie" || a.Location != "CHU, bâtiment B" ||
		a.PractitionerName != "Dr Martin" || a.Comment != "Venir à jeun." || a.Origin != agenda.OriginMail || a.Version != 1 ||
		a.ID != agenda.InvitationRef(e.pid, dr, &ev) || a.CreatedBy.ID != dr {
		t.Fatalf("appointment: %+v", a)
	}
	if tr := e.lastTrace(t); tr != "document.deposit allowed act_of_care matrix=default-v1 appointment/"+a.ID {
		t.Fatalf("trace: %s", tr)
	}

	// The same version again (a retried job): nothing changes; an older one neither.
	for _, again := range []agenda.ICalEvent{ev, func() agenda.ICalEvent {
		o := ev
		o.Stamp, o.Start, o.End = stamp.Add(-time.Hour), start.Add(time.Hour), time.Time{}
		return o
	}()} {
		if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodRequest, again, ""); err != nil || filed != agenda.FiledUnchanged {
			t.Fatalf("again: %s %v", filed, err)
		}
	}
	// A later one (the next SEQUENCE) moves it; the timeline holds one event.
	moved := ev
	moved.Sequence, moved.Start, moved.End = 1, start.Add(24*time.Hour), time.Time{}
	if filed, a, err = e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodRequest, moved, ""); err != nil || filed != agenda.FiledUpdated ||
		!a.Start.Equal(moved.Start) || a.Version != 2 {
		t.Fatalf("moved: %s %+v %v", filed, a, err)
	}
	evs, err := e.agenda.List(ctx, holder(e.pid), e.pid, time.Time{}, time.Time{})
	if err != nil || len(evs) != 1 || !evs[0].Start.Equal(moved.Start) || evs[0].Title != "Rendez-vous : Consultation de cardiologie — Dr Martin" {
		t.Fatalf("timeline: %+v %v", evs, err)
	}

	// Another professional sending the same UID files their own event, and cannot cancel the
	// first one: their cancellation is of their own UID (a placeholder, hidden), and their
	// invitation of an older SEQUENCE is filed cancelled by it.
	if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(other), e.pid, agenda.MethodCancel, agenda.ICalEvent{UID: ev.UID, Sequence: 5, Stamp: stamp}, ""); err != nil || filed != agenda.FiledCancelled {
		t.Fatalf("another's cancellation: %s %v", filed, err)
	}
	if got := mustEvent(t, e, a.ID); !strings.HasPrefix(got.Title, "Rendez-vous : ") {
		t.Fatalf("another's cancellation touched the event: %+v", got)
	}
	if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(other), e.pid, agenda.MethodPublish, ev, ""); err != nil || filed != agenda.FiledCancelled {
		t.Fatalf("another's invitation: %s %v", filed, err)
	}

	// A cancellation of an older SEQUENCE is stale; the current one cancels, keeping the event's
	// time and words; cancelling again changes nothing.
	cancel := agenda.ICalEvent{UID: ev.UID, Stamp: stamp.Add(time.Hour)}
	if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodCancel, cancel, ""); err != nil || filed != agenda.FiledUnchanged {
		t.Fatalf("stale cancellation: %s %v", filed, err)
	}
	cancel.Sequence = 1
	if filed, a, err = e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodCancel, cancel, ""); err != nil || filed != agenda.FiledCancelled ||
		a.Status != agenda.StatusCancelled || !a.Start.Equal(moved.Start) || a.Description != ev.Summary {
		t.Fatalf("cancellation: %s %+v %v", filed, a, err)
	}
	if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodCancel, cancel, ""); err != nil || filed != agenda.FiledUnchanged {
		t.Fatalf("cancelled again: %s %v", filed, err)
	}
	ics := string(agenda.ICS(agenda.Feed{PatientID: e.pid, Events: []agenda.Event{mustEvent(t, e, a.ID)}}, recordtest.T0))
	if !strings.Contains(ics, "STATUS:CANCELLED") {
		t.Fatalf("the feed does not say it is cancelled:\n%s", ics)
	}

	// What is not an invitation, or not a whole one, is refused before anything is decided.
	for name, tc := range map[string]struct {
		method string
		ev     agenda.ICalEvent
	}{
		"a reply":       {"REPLY", ev},
		"no start":      {agenda.MethodRequest, agenda.ICalEvent{UID: "x", Stamp: stamp}},
		"an anonymous ": {agenda.MethodRequest, ev},
	} {
		r := smtpPro(dr)
		if strings.HasPrefix(name, "an anonymous") {
			r.Actor.ID = ""
		}
		if _, _, err := e.agenda.FileInvitation(ctx, r, e.pid, tc.method, tc.ev, ""); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// A professional the patient blocked files nothing, and the refusal is traced.
	h := recordtest.Holder(e.pid)
	if err := e.Access.Block(ctx, h.Actor, h.Channel, e.pid, other); err != nil {
		t.Fatal(err)
	}
	next := ev
	next.UID = "conv-43@chu"
	if _, _, err := e.agenda.FileInvitation(ctx, smtpPro(other), e.pid, agenda.MethodRequest, next, ""); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("blocked: %v", err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.deposit denied blocked") {
		t.Fatalf("the refusal's trace: %s", tr)
	}
}

// An all-day invitation is an all-day appointment.
func TestFileInvitationAllDay(t *testing.T) {
	e := newEnv(t)
	day := time.Date(2026, 4, 10, 0, 0, 0, 0, time.UTC)
	ev := agenda.ICalEvent{UID: "hdj@chu", Stamp: recordtest.T0, Start: day, AllDay: true}
	_, a, err := e.agenda.FileInvitation(context.Background(), smtpPro(recordtest.RPPS(t, 1)), e.pid, "", ev, "Hôpital de jour")
	if err != nil || !a.AllDay || a.Description != "Hôpital de jour" {
		t.Fatalf("%+v %v", a, err)
	}
	if got := mustEvent(t, e, a.ID); !got.AllDay() {
		t.Fatalf("not all-day: %+v", got)
	}
}

func mustEvent(t *testing.T, e *env, ref string) agenda.Event {
	t.Helper()
	evs, err := e.agenda.List(context.Background(), holder(e.pid), e.pid, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.SourceRef == ref {
			return ev
		}
	}
	t.Fatalf("no event %s", ref)
	return agenda.Event{}
}
