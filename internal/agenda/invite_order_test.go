package agenda_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// status reads the appointment of ref as the patient sees it, "" when the agenda shows none.
func status(t *testing.T, e *env, ref string) (string, agenda.Event) {
	t.Helper()
	evs, err := e.agenda.List(context.Background(), holder(e.pid), e.pid, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.SourceRef == ref {
			a, err := agenda.AppointmentOf(&ev)
			if err != nil {
				t.Fatal(err)
			}
			return a.Status, ev
		}
	}
	return "", agenda.Event{}
}

// RFC 5546 out of order: a CANCEL before its REQUEST files a hidden placeholder, and the
// REQUEST of an older version, arriving later, is filed cancelled, not booked; a later REQUEST
// books it again. On an equal SEQUENCE, the DTSTAMP decides a cancellation too.
func TestInvitationCancelBeforeRequest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	dr := recordtest.RPPS(t, 1)
	stamp := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	start := time.Date(2026, 4, 10, 7, 30, 0, 0, time.UTC)
	req := agenda.ICalEvent{UID: "late@chu", Sequence: 0, Stamp: stamp, Start: start, Summary: "IRM"}
	cancel := agenda.ICalEvent{UID: "late@chu", Sequence: 1, Stamp: stamp.Add(time.Hour)}
	ref := agenda.InvitationRef(e.pid, dr, &req)

	filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodCancel, cancel, "")
	if err != nil || filed != agenda.FiledCancelled {
		t.Fatalf("the early cancellation: %s %v", filed, err)
	}
	if st, _ := status(t, e, ref); st != "" {
		t.Fatalf("the placeholder shows in the agenda: %s", st)
	}
	var n int
	if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM agenda_events WHERE patient_id = $1 AND source_ref = $2`, e.pid, ref).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the placeholder is not kept: %d %v", n, err)
	}
	if filed, a, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodRequest, req, ""); err != nil ||
		filed != agenda.FiledCancelled || a.Status != agenda.StatusCancelled || !a.Start.Equal(start) || a.Sequence != 1 {
		t.Fatalf("the older request after its cancellation: %s %+v %v", filed, a, err)
	}
	st, ev := status(t, e, ref)
	if st != agenda.StatusCancelled || !strings.HasPrefix(ev.Title, "Rendez-vous annulé : IRM") {
		t.Fatalf("after the late request: %s %+v", st, ev)
	}
	// The same request again changes nothing.
	if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodRequest, req, ""); err != nil || filed != agenda.FiledUnchanged {
		t.Fatalf("again: %s %v", filed, err)
	}
	// A later version (SEQUENCE 2) books it again.
	again := req
	again.Sequence, again.Stamp = 2, stamp.Add(2*time.Hour)
	if filed, a, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodRequest, again, ""); err != nil ||
		filed != agenda.FiledUpdated || a.Status != agenda.StatusBooked {
		t.Fatalf("the later request: %s %+v %v", filed, a, err)
	}

	// Equal SEQUENCE: a cancellation stamped before the request it names is the older one.
	req2 := agenda.ICalEvent{UID: "stamp@chu", Sequence: 3, Stamp: stamp, Start: start, Summary: "Scanner"}
	if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodRequest, req2, ""); err != nil || filed != agenda.FiledCreated {
		t.Fatalf("request: %s %v", filed, err)
	}
	old := agenda.ICalEvent{UID: "stamp@chu", Sequence: 3, Stamp: stamp.Add(-time.Minute)}
	if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodCancel, old, ""); err != nil || filed != agenda.FiledUnchanged {
		t.Fatalf("an older cancellation of the same SEQUENCE: %s %v", filed, err)
	}
	if st, _ := status(t, e, agenda.InvitationRef(e.pid, dr, &req2)); st != agenda.StatusBooked {
		t.Fatalf("cancelled by an older cancellation: %s", st)
	}
	newer := old
	newer.Stamp = stamp.Add(time.Minute)
	if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodCancel, newer, ""); err != nil || filed != agenda.FiledCancelled {
		t.Fatalf("a later cancellation of the same SEQUENCE: %s %v", filed, err)
	}
}

// A CANCEL without RECURRENCE-ID cancels the whole series: the series' event and every
// instance the sender moved under its own reference; an instance that comes after, of an older
// version, is filed cancelled. Another sender's series is untouched. A recurring event says so.
func TestInvitationSeriesCancel(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	dr, other := recordtest.RPPS(t, 1), recordtest.RPPS(t, 2)
	stamp := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	start := time.Date(2026, 4, 10, 7, 30, 0, 0, time.UTC)
	series := agenda.ICalEvent{UID: "kine@cabinet", Stamp: stamp, Start: start, Summary: "Kinésithérapie", Recurring: true}
	moved := agenda.ICalEvent{UID: series.UID, RecurrenceID: "20260417T073000Z", Sequence: 1, Stamp: stamp.Add(time.Hour),
		Start: start.AddDate(0, 0, 8), Summary: "Kinésithérapie"}
	for _, ev := range []agenda.ICalEvent{series, moved} {
		if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodRequest, ev, ""); err != nil || filed != agenda.FiledCreated {
			t.Fatalf("%s: %s %v", ev.RecurrenceID, filed, err)
		}
	}
	if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(other), e.pid, agenda.MethodRequest, series, ""); err != nil || filed != agenda.FiledCreated {
		t.Fatalf("another's series: %s %v", filed, err)
	}
	sref, mref := agenda.InvitationRef(e.pid, dr, &series), agenda.InvitationRef(e.pid, dr, &moved)
	if !strings.HasPrefix(mref, sref+"-") {
		t.Fatalf("an instance's reference %s is not under its series' %s", mref, sref)
	}
	if _, ev := status(t, e, sref); !strings.Contains(ev.Title, "(rendez-vous récurrent)") {
		t.Fatalf("a recurring event does not say so: %q", ev.Title)
	}

	cancel := agenda.ICalEvent{UID: series.UID, Sequence: 2, Stamp: stamp.Add(2 * time.Hour)}
	if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodCancel, cancel, ""); err != nil || filed != agenda.FiledCancelled {
		t.Fatalf("the series' cancellation: %s %v", filed, err)
	}
	for name, ref := range map[string]string{"the series": sref, "the moved instance": mref} {
		if st, _ := status(t, e, ref); st != agenda.StatusCancelled {
			t.Errorf("%s: %s", name, st)
		}
	}
	if st, _ := status(t, e, agenda.InvitationRef(e.pid, other, &series)); st != agenda.StatusBooked {
		t.Errorf("another sender's series: %s", st)
	}
	// An instance of an older version, after the series was cancelled: cancelled too.
	late := moved
	late.RecurrenceID, late.Start = "20260424T073000Z", start.AddDate(0, 0, 15)
	if filed, a, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodRequest, late, ""); err != nil ||
		a.Status != agenda.StatusCancelled || filed != agenda.FiledCreated {
		t.Fatalf("an older instance after the series' cancellation: %s %+v %v", filed, a, err)
	}
	// The cancellation again: nothing to do, and no decision nor trace for it.
	before := len(e.Traces(t, e.pid))
	if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodCancel, cancel, ""); err != nil || filed != agenda.FiledUnchanged {
		t.Fatalf("the cancellation again: %s %v", filed, err)
	}
	if after := len(e.Traces(t, e.pid)); after != before {
		t.Fatalf("a retry that changes nothing left %d traces", after-before)
	}
}

// racyStore hides an event from the first look-up of a decided filing, as a filing committed
// between that look-up and the insert would: the insert then finds the reference taken.
type racyStore struct {
	agenda.Store
	ref    string
	hidden bool
}

type racyTx struct {
	agenda.Tx
	s *racyStore
}

func (s *racyStore) UpdateAgenda(ctx context.Context, fn func(agenda.Tx) error) error {
	return s.Store.UpdateAgenda(ctx, func(tx agenda.Tx) error { return fn(racyTx{Tx: tx, s: s}) })
}

func (tx racyTx) AgendaEventByRef(ctx context.Context, source, ref string) (agenda.Event, bool, error) {
	if ref == tx.s.ref && !tx.s.hidden {
		tx.s.hidden = true
		return agenda.Event{}, false, nil
	}
	return tx.Tx.AgendaEventByRef(ctx, source, ref)
}

// An insert that finds the invitation's reference taken reads the event again and compares
// the versions: a later version moves it, it is not reported created (nor lost).
func TestInvitationInsertFindsTheReferenceTaken(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	dr := recordtest.RPPS(t, 1)
	stamp := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ev := agenda.ICalEvent{UID: "race@chu", Stamp: stamp, Start: time.Date(2026, 4, 10, 7, 30, 0, 0, time.UTC), Summary: "IRM"}
	if filed, _, err := e.agenda.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodRequest, ev, ""); err != nil || filed != agenda.FiledCreated {
		t.Fatalf("file: %s %v", filed, err)
	}
	rs := &racyStore{Store: e.DB.Agenda(), ref: agenda.InvitationRef(e.pid, dr, &ev)}
	racy, err := agenda.NewService(agenda.Deps{Store: rs, Access: e.Access, Clock: e.Clock})
	if err != nil {
		t.Fatal(err)
	}
	moved := ev
	moved.Sequence, moved.Start = 1, ev.Start.Add(24*time.Hour)
	filed, a, err := racy.FileInvitation(ctx, smtpPro(dr), e.pid, agenda.MethodRequest, moved, "")
	if err != nil || filed != agenda.FiledUpdated || a.Version != 2 || !a.Start.Equal(moved.Start) || !rs.hidden {
		t.Fatalf("the insert that found the reference taken: %s %+v %v (hidden %v)", filed, a, err, rs.hidden)
	}
	if _, got := status(t, e, rs.ref); !got.Start.Equal(moved.Start) {
		t.Fatalf("the move is lost: %+v", got)
	}
}
