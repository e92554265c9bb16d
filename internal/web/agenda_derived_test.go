package web

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// depositReport files a report of type typ over [start, end] in ins's record, by doctor.
func depositReport(t *testing.T, p *healthPortal, ins identity.INS, doctor, typ, title string, start, end time.Time, set func(*record.Deposit)) record.Document {
	t.Helper()
	dep := record.Deposit{INS: ins, Title: title, Type: typ, MimeType: "application/pdf", ServiceStart: start, ServiceEnd: end}
	if set != nil {
		set(&dep)
	}
	d, err := p.Records.Deposit(context.Background(), recordtest.Doctor(doctor), dep, recordtest.PDF(800, len(title)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The agenda page shows the hospital stays and consultations of the record's reports, with
// their kind and a link to the report; a report held back until its announcement shows
// nothing to the patient, and a report a minor hides from their parents nothing to the parent.
func TestAgendaShowsStaysAndConsultations(t *testing.T) {
	p := newHealthPortal(t)
	ctx := context.Background()
	b, _, ins := p.patientIn(t, 671, "Inès")
	doctor := recordtest.RPPS(t, 67)
	now := p.Clock.Now()
	in, out := now.AddDate(0, 0, -20).Truncate(time.Hour), now.AddDate(0, 0, -16).Truncate(time.Hour)
	stay := depositReport(t, p, ins, doctor, "34112-3", "Hospitalisation en cardiologie", in, out, nil)
	depositReport(t, p, ins, doctor, "11488-4", "Consultation d'annonce à venir", now.AddDate(0, 0, -2), time.Time{},
		func(d *record.Deposit) { d.InvisiblePatient = true })

	pg := b.get("/moi/agenda")
	if pg.status != 200 {
		t.Fatalf("agenda: %d", pg.status)
	}
	checkHTML(t, pg.body, "fr")
	if !strings.Contains(pg.body, ">Séjour hospitalier</span>") || !strings.Contains(pg.body, "Séjour hospitalier : Hospitalisation en cardiologie") ||
		!strings.Contains(pg.body, `href="/moi/documents/`+stay.LogicalID+`"`) ||
		!strings.Contains(pg.body, frDateTime(in)+" – "+frDateTime(out)) {
		t.Errorf("the stay: %.4000s", pg.body[strings.Index(pg.body, "<main"):])
	}
	if strings.Contains(pg.body, "annonce") || strings.Contains(pg.body, ">Consultation</span>") {
		t.Error("a report held back from the patient shows in their agenda")
	}
	noHealthDataInURLs(t, pg, "cardiologie")
	if tr := p.Traces(t, stay.PatientID); !traced(tr, "record.search allowed self", "record shown=1 document/"+stay.LogicalID) {
		t.Errorf("the record's reading is not traced with the document shown:\n%s", strings.Join(tr, "\n"))
	}
	// In English, the kind is translated.
	b.get("/langue/en?retour=/moi/agenda")
	if pg = b.get("/moi/agenda"); !strings.Contains(pg.body, ">Hospital stay</span>") ||
		!strings.Contains(pg.body, "Hospital stay: Hospitalisation en cardiologie") || strings.Contains(pg.body, "Séjour hospitalier") {
		t.Errorf("the English kind: %.3000s", pg.body[strings.Index(pg.body, "<main"):])
	}
	b.get("/langue/fr?retour=/moi/agenda")

	// A parent reads their child's agenda: the consultation, not the one the child hides.
	by := space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI}
	childINS := recordtest.TestINS(t, 672)
	child, err := p.spaces.Create(ctx, by, space.NewSpace{Patient: space.Patient{INS: childINS, BirthName: "MARTIN", GivenNames: "Tom",
		BirthDate: now.AddDate(-15, 0, 0).Truncate(24 * time.Hour), Sex: space.Male},
		Representatives: []space.NewRepresentative{{INS: ins.Matricule, Role: space.Parent}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.spaces.Activate(ctx, by, childINS, child.ActivationCode); err != nil {
		t.Fatal(err)
	}
	seen := depositReport(t, p, childINS, doctor, "11488-4", "Consultation pédiatrique", now.AddDate(0, 0, -5), time.Time{}, nil)
	depositReport(t, p, childINS, doctor, "11488-4", "Consultation confidentielle", now.AddDate(0, 0, -4), time.Time{},
		func(d *record.Deposit) { d.InvisibleRepresentants = true })
	base := "/proches/" + strconv.FormatInt(seen.PatientID, 10)
	pg = b.get(base + "/agenda")
	if pg.status != 200 || !strings.Contains(pg.body, "Consultation : Consultation pédiatrique") ||
		!strings.Contains(pg.body, `href="`+base+`/documents/`+seen.LogicalID+`"`) {
		t.Fatalf("the child's agenda: %d %.3000s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	if strings.Contains(pg.body, "confidentielle") {
		t.Error("a report the child hides from their parents shows in the parent's view")
	}
}

// The reports of one stay make one event on the page, linked to each report.
func TestAgendaShowsOneStayForItsReports(t *testing.T) {
	p := newHealthPortal(t)
	b, _, ins := p.patientIn(t, 673, "Léa")
	doctor := recordtest.RPPS(t, 68)
	now := p.Clock.Now()
	in, out := now.AddDate(0, 0, -20).Truncate(time.Hour), now.AddDate(0, 0, -16).Truncate(time.Hour)
	report := depositReport(t, p, ins, doctor, "34112-3", "Hospitalisation en pneumologie", in, out, nil)
	letter := depositReport(t, p, ins, doctor, "11490-0", "Lettre de liaison", in, out, nil)
	pg := b.get("/moi/agenda")
	if pg.status != 200 || strings.Count(pg.body, ">Séjour hospitalier</span>") != 1 ||
		!strings.Contains(pg.body, `href="/moi/documents/`+report.LogicalID+`"`) || !strings.Contains(pg.body, `href="/moi/documents/`+letter.LogicalID+`"`) ||
		!strings.Contains(pg.body, "Voir le document 2") {
		t.Fatalf("the stay: %d %.4000s", pg.status, pg.body[strings.Index(pg.body, "<main"):])
	}
	checkHTML(t, pg.body, "fr")
}
