package agenda_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// The document types read as care events are reports of the national list: each known, each a
// report (class 10) whose service period is the stay or the consultation.
func TestCareTypesAreReportsOfTheNationalList(t *testing.T) {
	cat, err := terminology.Default()
	if err != nil {
		t.Fatal(err)
	}
	stays, consultations := 0, 0
	for code, kind := range agenda.CareTypes {
		ty, err := cat.Type(code)
		if err != nil {
			t.Errorf("%s: %v", code, err)
			continue
		}
		if ty.Class != "10" || ty.Space != terminology.SpaceDocuments {
			t.Errorf("%s (%s) is of class %s in %s, not a report among the health documents", code, ty.Label, ty.Class, ty.Space)
		}
		switch kind {
		case agenda.KindStay:
			stays++
		case agenda.KindConsultation:
			consultations++
		}
	}
	// The reports the issue names: the hospital stay report, the discharge letter, the
	// consultation report.
	for code, want := range map[string]agenda.Kind{"34112-3": agenda.KindStay, "11490-0": agenda.KindStay, "11488-4": agenda.KindConsultation} {
		if agenda.CareTypes[code] != want {
			t.Errorf("%s makes %q, want %q", code, agenda.CareTypes[code], want)
		}
	}
	if stays == 0 || consultations == 0 {
		t.Fatalf("%d stays, %d consultations", stays, consultations)
	}
	for _, bad := range []string{"11488-4\tvisit\tx\n", "11488-4\tstay\n", "11488-4\tstay\tx\n11488-4\tstay\ty\n", "\tstay\tx\n"} {
		if _, err := agenda.ParseCareTypes([]byte(bad)); err == nil {
			t.Errorf("%q read", bad)
		}
	}
}

func newDocEnv(t *testing.T) *env {
	t.Helper()
	e := recordtest.New(t)
	a, err := agenda.NewService(agenda.Deps{Store: e.DB.Agenda(), Access: e.Access, Clock: e.Clock, Documents: e.Records})
	if err != nil {
		t.Fatal(err)
	}
	ins := recordtest.TestINS(t, 1)
	return &env{Env: e, agenda: a, pid: e.Patient(t, ins), ins: ins}
}

// deposit files a report of type typ for the patient, by doctor, over [start, end].
func (e *env) deposit(t *testing.T, doctor string, typ, title string, start, end time.Time, set func(*record.Deposit)) record.Document {
	t.Helper()
	dep := record.Deposit{INS: e.ins, Title: title, Type: typ, MimeType: "application/pdf", ServiceStart: start, ServiceEnd: end}
	if set != nil {
		set(&dep)
	}
	d, err := e.Records.Deposit(context.Background(), recordtest.Doctor(doctor), dep, recordtest.PDF(600, len(title)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func kinds(evs []agenda.Event) string {
	var s []string
	for _, e := range evs {
		if e.Kind == agenda.KindReminder {
			continue
		}
		s = append(s, string(e.Kind)+":"+e.Document)
	}
	return strings.Join(s, " ")
}

// The timeline shows the stays and consultations of the record's reports, linked to them, on
// their service dates; a report of another type makes none; the reading is the record's
// search, traced naming the documents shown.
func TestTimelineDerivesStaysAndConsultations(t *testing.T) {
	ctx := context.Background()
	e := newDocEnv(t)
	dr := recordtest.RPPS(t, 1)
	in := time.Date(2026, 2, 2, 14, 0, 0, 0, time.UTC)
	out := time.Date(2026, 2, 6, 10, 0, 0, 0, time.UTC)
	stay := e.deposit(t, dr, "34112-3", "CRH cardiologie", in, out, func(d *record.Deposit) {
		d.Authors = []record.Author{{Kind: record.AuthorProfessional, ID: dr, Name: "Dr Martin", OrgName: "CHU de Nantes"}}
	})
	consult := e.deposit(t, dr, "11488-4", "Consultation de suivi", time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC), time.Time{}, nil)
	e.deposit(t, dr, "11502-2", "Bilan sanguin", time.Date(2026, 2, 21, 0, 0, 0, 0, time.UTC), time.Time{}, nil)
	before := len(e.Traces(t, e.pid))

	evs, err := e.agenda.Timeline(ctx, holder(e.pid), e.pid, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(evs); got != "stay:"+stay.LogicalID+" consultation:"+consult.LogicalID {
		t.Fatalf("timeline: %s", got)
	}
	s := evs[0]
	if !s.Start.Equal(in) || !s.End.Equal(out) || s.Title != "Séjour hospitalier : CRH cardiologie" || s.Detail != "Dr Martin · CHU de Nantes" ||
		s.Source != agenda.SourceRecord || s.SourceRef != stay.UniqueID || s.Kind.Label() != "Séjour hospitalier" || s.AllDay() {
		t.Fatalf("the stay: %+v", s)
	}
	if c := evs[1]; !c.End.IsZero() || !c.AllDay() || c.Title != "Consultation : Consultation de suivi" {
		t.Fatalf("the consultation: %+v", c)
	}
	tr := e.Traces(t, e.pid)[before:]
	if len(tr) != 2 || !strings.HasPrefix(tr[0], "record.search allowed self") || !strings.Contains(tr[0], " agenda ") ||
		tr[1] != "record.search allowed self matrix=default-v1 record shown=2 document/"+stay.LogicalID+" document/"+consult.LogicalID &&
			tr[1] != "record.search allowed self matrix=default-v1 record shown=2 document/"+consult.LogicalID+" document/"+stay.LogicalID {
		t.Fatalf("traces of the reading:\n%s", strings.Join(tr, "\n"))
	}

	// A period that ends before the stay starts, or starts after it ended, holds none of it.
	evs, err = e.agenda.Timeline(ctx, holder(e.pid), e.pid, time.Date(2026, 2, 7, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 19, 0, 0, 0, 0, time.UTC))
	if err != nil || kinds(evs) != "" {
		t.Fatalf("a period between: %s %v", kinds(evs), err)
	}

	// The feed writes them with the minimal titles, as every event.
	f := agenda.ICS(agenda.Feed{PatientID: e.pid, Events: []agenda.Event{s}}, recordtest.T0)
	if !strings.Contains(string(f), "SUMMARY:Séjour hospitalier\r\n") || strings.Contains(string(f), "cardiologie") {
		t.Fatalf("the feed:\n%s", f)
	}

	// A deleted document's event is gone with it; a replaced one's moves to the new version.
	if err := e.Records.Delete(ctx, recordtest.Doctor(dr), consult.LogicalID); err != nil {
		t.Fatal(err)
	}
	repl, err := e.Records.Replace(ctx, recordtest.Doctor(dr), stay.LogicalID, record.Deposit{INS: e.ins, UniqueID: stay.UniqueID,
		Title: "CRH cardiologie (corrigé)", Type: "34112-3", MimeType: "application/pdf", ServiceStart: in, ServiceEnd: out}, recordtest.PDF(700, 9))
	if err != nil {
		t.Fatal(err)
	}
	evs, err = e.agenda.List(ctx, holder(e.pid), e.pid, time.Time{}, time.Time{})
	if err != nil || len(evs) != 0 {
		t.Fatalf("derived events are never stored: %d %v", len(evs), err)
	}
	evs, err = e.agenda.Timeline(ctx, holder(e.pid), e.pid, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || kinds(evs) != "stay:"+repl.LogicalID || evs[0].SourceRef != stay.UniqueID {
		t.Fatalf("after deletion and replacement: %s %v (replacement %s, ref %s want %s)", kinds(evs), err, repl.LogicalID, evs[0].SourceRef, stay.UniqueID)
	}
}

// A document the reader may not see makes no event for them: masked from professionals, held
// back from the patient until its announcement, hidden from the parents, archived.
func TestTimelineHidesWhatTheReaderCannotSee(t *testing.T) {
	ctx := context.Background()
	e := newDocEnv(t)
	author, other := recordtest.RPPS(t, 1), recordtest.RPPS(t, 2)
	day := func(d int) time.Time { return time.Date(2026, 2, d, 0, 0, 0, 0, time.UTC) }
	masked := e.deposit(t, author, "11488-4", "Consultation masquée", day(3), time.Time{}, func(d *record.Deposit) { d.MasquePS = true })
	held := e.deposit(t, author, "34112-3", "Séjour à annoncer", day(4), day(8), func(d *record.Deposit) { d.InvisiblePatient = true })
	plain := e.deposit(t, author, "11488-4", "Consultation", day(10), time.Time{}, nil)
	archived := e.deposit(t, author, "11488-4", "Consultation archivée", day(12), time.Time{}, nil)
	if _, err := e.Records.Archive(ctx, recordtest.Holder(e.pid), archived.LogicalID); err != nil {
		t.Fatal(err)
	}

	// The patient: the masked one (their own choice) but not the one held back.
	evs, err := e.agenda.Timeline(ctx, holder(e.pid), e.pid, time.Time{}, time.Time{})
	if err != nil || kinds(evs) != "consultation:"+masked.LogicalID+" consultation:"+plain.LogicalID {
		t.Fatalf("the patient's: %s %v", kinds(evs), err)
	}
	// Another doctor the patient authorised: not the masked one; the one held back, yes (it
	// is hidden from the patient only).
	h := recordtest.Holder(e.pid)
	if _, err := e.Access.GrantAuthorisation(ctx, h.Actor, h.Channel, e.pid, other, 0); err != nil {
		t.Fatal(err)
	}
	evs, err = e.agenda.Timeline(ctx, pro(other, "G15_10"), e.pid, time.Time{}, time.Time{})
	if err != nil || kinds(evs) != "stay:"+held.LogicalID+" consultation:"+plain.LogicalID {
		t.Fatalf("another doctor's: %s %v", kinds(evs), err)
	}
	// A doctor without a ground is refused the agenda, derived events and all.
	if _, err := e.agenda.Timeline(ctx, pro(recordtest.RPPS(t, 3), "G15_10"), e.pid, time.Time{}, time.Time{}); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a stranger: %v", err)
	}
	// After the announcement delay, the stay is the patient's to see.
	e.Clock.Advance(31 * 24 * time.Hour)
	evs, err = e.agenda.Timeline(ctx, holder(e.pid), e.pid, day(1), day(28))
	if err != nil || kinds(evs) != "consultation:"+masked.LogicalID+" stay:"+held.LogicalID+" consultation:"+plain.LogicalID {
		t.Fatalf("after the delay: %s %v", kinds(evs), err)
	}
}
