package agenda_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// at writes the authors of a report: a doctor of an organisation.
func at(dr, org string) func(*record.Deposit) {
	return func(d *record.Deposit) {
		d.Authors = []record.Author{{Kind: record.AuthorProfessional, ID: dr, Name: "Dr " + dr[len(dr)-3:], OrgID: org, OrgName: org}}
	}
}

// The reports of one stay (its report, the discharge letter, the admission report) make one
// event, from the first start to the last end, linked to each; a stay elsewhere at the same
// time, or a consultation on the same day by another doctor, stays apart.
func TestTimelineMergesTheReportsOfOneStay(t *testing.T) {
	ctx := context.Background()
	e := newDocEnv(t)
	dr, other := recordtest.RPPS(t, 1), recordtest.RPPS(t, 2)
	in := time.Date(2026, 2, 2, 14, 0, 0, 0, time.UTC)
	out := time.Date(2026, 2, 6, 10, 0, 0, 0, time.UTC)
	chu, clinic := "1750100125", "1750200123"
	report := e.deposit(t, dr, "34112-3", "CRH cardiologie", in, out, at(dr, chu))
	e.Clock.Advance(time.Hour) // the others come later: the stay is named after the first
	letter := e.deposit(t, dr, "11490-0", "Lettre de liaison", time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 2, 7, 0, 0, 0, 0, time.UTC), at(dr, chu))
	admission := e.deposit(t, other, "67851-6", "CR d'admission", in, time.Time{}, at(other, chu))
	elsewhere := e.deposit(t, other, "34112-3", "Hospitalisation en clinique", in, out, at(other, clinic))
	c1 := e.deposit(t, dr, "11488-4", "Consultation de suivi", time.Date(2026, 2, 20, 9, 0, 0, 0, time.UTC), time.Time{}, at(dr, ""))
	c2 := e.deposit(t, other, "11488-4", "Consultation d'anesthésie", time.Date(2026, 2, 20, 15, 0, 0, 0, time.UTC), time.Time{}, at(other, ""))
	c3 := e.deposit(t, dr, "34749-2", "Consultation pré-anesthésique", time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC), time.Time{}, at(dr, ""))

	evs, err := e.agenda.Timeline(ctx, holder(e.pid), e.pid, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var stays, consults []agenda.Event
	for _, ev := range evs {
		switch ev.Kind {
		case agenda.KindStay:
			stays = append(stays, ev)
		case agenda.KindConsultation:
			consults = append(consults, ev)
		}
	}
	if len(stays) != 2 || len(consults) != 2 {
		t.Fatalf("%d stays, %d consultations: %s", len(stays), len(consults), kinds(evs))
	}
	var merged, apart agenda.Event
	for _, s := range stays {
		if s.Document == elsewhere.LogicalID {
			apart = s
		} else {
			merged = s
		}
	}
	docs := slices.Clone(merged.Documents)
	slices.Sort(docs)
	want := []string{report.LogicalID, letter.LogicalID, admission.LogicalID}
	slices.Sort(want)
	if !slices.Equal(docs, want) || merged.Document != report.LogicalID || merged.SourceRef != report.UniqueID ||
		merged.Title != "Séjour hospitalier : CRH cardiologie" || !merged.Start.Equal(time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)) ||
		!merged.End.Equal(time.Date(2026, 2, 7, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("the merged stay: %+v (documents %v, want %v)", merged, merged.Documents, want)
	}
	if len(apart.Documents) != 1 {
		t.Fatalf("the stay elsewhere: %+v", apart)
	}
	// The two consultations of the same doctor on one day are one; another doctor's is apart.
	for _, c := range consults {
		switch {
		case slices.Contains(c.Documents, c1.LogicalID):
			if len(c.Documents) != 2 || !slices.Contains(c.Documents, c3.LogicalID) {
				t.Errorf("the doctor's consultation: %v", c.Documents)
			}
		case slices.Contains(c.Documents, c2.LogicalID):
			if len(c.Documents) != 1 {
				t.Errorf("the other doctor's consultation: %v", c.Documents)
			}
		default:
			t.Errorf("a consultation of %v", c.Documents)
		}
	}
}

// The feed shows the record's stays and consultations only when the patient chose it: a feed
// made without the choice (as every feed made before it existed) shows none, and the record is
// not searched for it; the choice is changed keeping the address.
func TestFeedShowsTheRecordOnlyByChoice(t *testing.T) {
	ctx := context.Background()
	e := newDocEnv(t)
	me := holder(e.pid)
	dr := recordtest.RPPS(t, 1)
	now := e.Clock.Now()
	e.deposit(t, dr, "34112-3", "CRH cardiologie", now.AddDate(0, 0, -10), now.AddDate(0, 0, -7), nil)
	token, err := e.agenda.NewFeed(ctx, me, e.pid, agenda.FeedOptions{Details: true})
	if err != nil {
		t.Fatal(err)
	}
	before := len(e.Traces(t, e.pid))
	f, err := e.agenda.FeedEvents(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(f.Events); got != "" {
		t.Fatalf("a feed without the choice shows %s", got)
	}
	tr := e.Traces(t, e.pid)[before:]
	if len(tr) != 1 || !strings.Contains(tr[0], " agenda") {
		t.Fatalf("the fetch searched the record:\n%s", strings.Join(tr, "\n"))
	}
	if st, err := e.agenda.Settings(ctx, me, e.pid); err != nil || st.FeedCare || !st.FeedDetails {
		t.Fatalf("settings: %+v %v", st, err)
	}

	if err := e.agenda.SetFeedOptions(ctx, me, e.pid, agenda.FeedOptions{Details: true, Care: true}); err != nil {
		t.Fatal(err)
	}
	f, err = e.agenda.FeedEvents(ctx, token) // the same address
	if err != nil || !strings.HasPrefix(kinds(f.Events), "stay:") || !f.Details {
		t.Fatalf("with the choice: %s %v", kinds(f.Events), err)
	}
	if !strings.Contains(string(agenda.ICS(f, now)), "SUMMARY:Séjour hospitalier : CRH cardiologie") {
		t.Fatal("the stay is not in the feed")
	}
	if st, err := e.agenda.Settings(ctx, me, e.pid); err != nil || !st.FeedCare {
		t.Fatalf("settings: %+v %v", st, err)
	}
	// Only the patient chooses; with no feed there is nothing to change.
	if err := e.agenda.SetFeedOptions(ctx, pro(dr, "G15_10"), e.pid, agenda.FeedOptions{Care: true}); err == nil {
		t.Fatal("a doctor changed the feed")
	}
	if err := e.agenda.RevokeFeed(ctx, me, e.pid); err != nil {
		t.Fatal(err)
	}
	if err := e.agenda.SetFeedOptions(ctx, me, e.pid, agenda.FeedOptions{Care: true}); err == nil {
		t.Fatal("options of a revoked feed")
	}
}
