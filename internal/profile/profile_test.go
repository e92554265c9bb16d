package profile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

var ctx = context.Background()

type env struct {
	*recordtest.Env
	prof *profile.Service
	pid  int64
	ins  identity.INS
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := recordtest.New(t)
	p, err := profile.NewService(profile.Deps{Store: e.DB.Profile(), Access: e.Access, Catalog: e.Catalog, Clock: e.Clock})
	if err != nil {
		t.Fatal(err)
	}
	ins := recordtest.TestINS(t, 1)
	return &env{Env: e, prof: p, pid: e.Patient(t, ins), ins: ins}
}

func holder(pid int64) profile.Request {
	r := recordtest.Holder(pid)
	return profile.Request{Actor: r.Actor, Channel: r.Channel}
}

// pro is a professional of profession (G15_10 doctor, G15_21 pharmacist, G15_70 physiotherapist).
func pro(idnat, profession string) profile.Request {
	r := recordtest.Doctor(idnat)
	r.Actor.Profession, r.Actor.Specialty = profession, ""
	return profile.Request{Actor: r.Actor, Channel: r.Channel}
}

// app is an app the patient connected, with the actions and classes granted.
func app(pid int64, classes []string, actions ...access.Action) profile.Request {
	return profile.Request{Channel: audit.ChannelFHIR, Actor: access.Actor{Kind: audit.ActorApp, ID: "suivi-tension",
		Name: "Suivi Tension", PatientID: pid, Scopes: actions, Classes: classes}}
}

func (e *env) lastTrace(t *testing.T) string {
	t.Helper()
	tr := e.Traces(t, e.pid)
	if len(tr) == 0 {
		t.Fatal("no trace")
	}
	return tr[len(tr)-1]
}

// hasTrace reports whether a trace begins with prefix and names object.
func hasTrace(traces []string, prefix, object string) bool {
	for _, tr := range traces {
		if strings.HasPrefix(tr, prefix) && strings.Contains(tr, " "+object) {
			return true
		}
	}
	return false
}

func (e *env) add(t *testing.T, r profile.Request, it profile.Item) profile.Item {
	t.Helper()
	got, err := e.prof.Add(ctx, r, e.pid, it)
	if err != nil {
		t.Fatalf("add %s: %v", it.Section, err)
	}
	return got
}

func weight(kg float64, at time.Time) profile.Item {
	return profile.Item{Section: profile.SectionMeasurements, Measurement: &profile.Measurement{Code: "29463-7", Value: kg, Unit: "kg", Taken: at}}
}

// One item of each section, as the patient writes it.
func sectionItems() []profile.Item {
	return []profile.Item{
		{Section: profile.SectionHistory, Condition: &profile.Condition{Text: "Appendicectomie", Surgical: true, Status: "resolved", Onset: "1995-06", End: "1995-07"}},
		{Section: profile.SectionTreatments, Treatment: &profile.Treatment{Medication: profile.Code{System: "http://www.whocc.no/atc", Code: "C09AA05"}, Text: "Ramipril 5 mg", Dosage: "1 le matin"}},
		{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Pénicilline", Type: "allergy", Category: "medication", Criticality: "high"}},
		{Section: profile.SectionFamilyHistory, Family: &profile.FamilyHistory{Relationship: profile.Code{System: "http://terminology.hl7.org/CodeSystem/v3-RoleCode", Code: "FTH"}, Text: "Infarctus", OnsetAge: 54}},
		{Section: profile.SectionVaccinations, Vaccination: &profile.Vaccination{Text: "Grippe", Date: "2025-10-21", Dose: 1}},
		weight(72.5, recordtest.T0.Add(-time.Hour)),
		{Section: profile.SectionWishes, Wish: &profile.Wish{Kind: profile.WishOrganDonation, Consent: "yes"}},
		{Section: profile.SectionWishes, Wish: &profile.Wish{Kind: profile.WishAdvanceDirectives, Text: "Pas d'acharnement thérapeutique."}},
		{Section: profile.SectionEmergencyContacts, Contact: &profile.Contact{Name: "Anne DUPONT", Phone: "+33612345678"}},
		{Section: profile.SectionTrustedPerson, Contact: &profile.Contact{Name: "Paul DUPONT", Email: "paul@example.fr"}},
		{Section: profile.SectionBloodGroup, BloodGroup: &profile.BloodGroup{ABO: "A", Rh: "+"}},
	}
}

// Every section takes the patient's entry, records who wrote it and when, gives it its
// category, and reads it back; the reading is traced.
func TestSectionsByThePatient(t *testing.T) {
	e := newEnv(t)
	me := holder(e.pid)
	wantType := map[profile.Section]string{profile.SectionHistory: "DOCPAT01", profile.SectionTreatments: "DOCPAT01",
		profile.SectionAllergies: "DOCPAT01", profile.SectionFamilyHistory: "DOCPAT01", profile.SectionVaccinations: "DOCPAT07",
		profile.SectionMeasurements: "DOCPAT01", profile.SectionEmergencyContacts: "EXPPAT_2", profile.SectionTrustedPerson: "EXPPAT_1",
		profile.SectionBloodGroup: "DOCPAT01"}
	seen := map[profile.Section]bool{}
	for _, in := range sectionItems() {
		t.Run(string(in.Section), func(t *testing.T) {
			it := e.add(t, me, in)
			seen[in.Section] = true
			if it.ID == "" || it.Version != 1 || it.Status != profile.Active || it.Author.Kind != audit.ActorPatient ||
				it.Author.ID != me.Actor.ID || !it.Written.Equal(recordtest.T0) || it.DepositedBy != access.DepositedByPatient {
				t.Errorf("added %+v", it)
			}
			if w, ok := wantType[in.Section]; ok && it.Type != w {
				t.Errorf("type %s, want %s", it.Type, w)
			}
			if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.deposit allowed self") || !strings.Contains(tr, " profile/"+it.ID) {
				t.Errorf("trace: %s", e.lastTrace(t))
			}
			got, err := e.prof.Get(ctx, me, it.ID)
			if err != nil || got.VersionID != it.VersionID || got.Section != in.Section {
				t.Fatalf("get: %+v %v", got, err)
			}
			if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.read allowed self") || !strings.Contains(tr, " profile/"+it.ID) {
				t.Errorf("read trace: %s", e.lastTrace(t))
			}
		})
	}
	if len(seen) != len(profile.Sections()) {
		t.Errorf("sections covered: %v", seen)
	}
	page, err := e.prof.List(ctx, me, profile.Query{PatientID: e.pid})
	if err != nil || len(page.Items) != len(sectionItems()) || page.More {
		t.Fatalf("list: %d %v", len(page.Items), err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "record.search allowed self") || !strings.Contains(tr, " profile shown=11 ") {
		t.Errorf("search trace: %s", tr)
	}
	// One blood group, one trusted person.
	if _, err := e.prof.Add(ctx, me, e.pid, sectionItems()[10]); !errs.Is(err, errs.Conflict) {
		t.Errorf("second blood group: %v", err)
	}
}

// What is wrong with an item is said before anything is decided.
func TestSectionChecks(t *testing.T) {
	e := newEnv(t)
	me := holder(e.pid)
	for _, c := range []struct {
		name string
		it   profile.Item
		want string
	}{
		{"no content", profile.Item{Section: profile.SectionAllergies}, "holds that section's content"},
		{"other section's content", profile.Item{Section: profile.SectionAllergies, Treatment: &profile.Treatment{Text: "x"}}, "holds that section's content"},
		{"nameless allergy", profile.Item{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Category: "pollen"}}, "substance's name is missing; the category"},
		{"bad date", profile.Item{Section: profile.SectionHistory, Condition: &profile.Condition{Text: "x", Onset: "1995-13"}}, "onset is not a date"},
		{"future vaccination", profile.Item{Section: profile.SectionVaccinations, Vaccination: &profile.Vaccination{Text: "x", Date: "2099-01-01"}}, "in the future"},
		{"contact without a way to call", profile.Item{Section: profile.SectionEmergencyContacts, Contact: &profile.Contact{Name: "A"}}, "phone number or an e-mail"},
		{"blood group", profile.Item{Section: profile.SectionBloodGroup, BloodGroup: &profile.BloodGroup{ABO: "C", Rh: "+"}}, "ABO group"},
		{"organ donation", profile.Item{Section: profile.SectionWishes, Wish: &profile.Wish{Kind: profile.WishOrganDonation, Consent: "maybe"}}, "position on organ donation"},
		{"unknown section", profile.Item{Section: "hobbies"}, "unknown profile section"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := len(e.Traces(t, e.pid))
			_, err := e.prof.Add(ctx, me, e.pid, c.it)
			if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.MessageOf(err), c.want) {
				t.Errorf("%v, want %q", err, c.want)
			}
			if len(e.Traces(t, e.pid)) != n {
				t.Error("a refused content was traced")
			}
		})
	}
}

// A professional writes an item of the profile as a deposit in profil_medical and joins the care
// team; the patient hides it; another professional of the care team no longer sees it, the
// author and the médecin traitant still do; the patient shows it again.
func TestHiddenItem(t *testing.T) {
	e := newEnv(t)
	me := holder(e.pid)
	author, mt, other := recordtest.RPPS(t, 1), recordtest.RPPS(t, 2), recordtest.RPPS(t, 3)
	for _, id := range []string{mt, other} {
		if err := e.Access.AddToCareTeam(ctx, me.Actor, me.Channel, e.pid, id, access.CareDesignated); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Access.DesignateMedecinTraitant(ctx, me.Actor, me.Channel, e.pid, mt); err != nil {
		t.Fatal(err)
	}
	it := e.add(t, pro(author, "G15_10"), profile.Item{Section: profile.SectionAllergies,
		Allergy: &profile.Allergy{Substance: profile.Code{System: "http://snomed.info/sct", Code: "764146007"}, Text: "Pénicilline"}})
	if it.Type != "60591-5" || it.Class != "11" || it.DepositedBy != access.DepositedByProfessional || it.Author.ID != author ||
		it.Author.Profession != "G15_10" {
		t.Fatalf("added by a professional: %+v", it)
	}
	if !hasTrace(e.Traces(t, e.pid), "access.care_team_add allowed act_of_care", "professional/"+author) {
		t.Error("the author did not join the care team")
	}
	hidden, err := e.prof.Hide(ctx, me, it.ID)
	if err != nil || !hidden.Hidden || hidden.Version != 2 || hidden.ChangedBy.Kind != audit.ActorPatient || hidden.Author.ID != author {
		t.Fatalf("hide: %+v %v", hidden, err)
	}
	if _, err := e.prof.Get(ctx, pro(other, "G15_10"), it.ID); !errs.Is(err, errs.NotFound) {
		t.Errorf("a care-team doctor read the hidden item: %v", err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.read denied masked basis=care_team") {
		t.Errorf("trace: %s", tr)
	}
	page, err := e.prof.List(ctx, pro(other, "G15_10"), profile.Query{PatientID: e.pid})
	if err != nil || len(page.Items) != 0 {
		t.Errorf("listed to a care-team doctor: %+v %v", page.Items, err)
	}
	for _, who := range []string{author, mt} {
		if got, err := e.prof.Get(ctx, pro(who, "G15_10"), it.ID); err != nil || !got.Hidden {
			t.Errorf("%s: %+v %v", who, got, err)
		}
		if page, err := e.prof.List(ctx, pro(who, "G15_10"), profile.Query{PatientID: e.pid}); err != nil || len(page.Items) != 1 {
			t.Errorf("%s lists: %d %v", who, len(page.Items), err)
		}
	}
	// Only the patient shows it again.
	if _, err := e.prof.Unhide(ctx, pro(author, "G15_10"), it.ID); !errs.Is(err, errs.Forbidden) {
		t.Errorf("the author unhid: %v", err)
	}
	if got, err := e.prof.Unhide(ctx, me, it.ID); err != nil || got.Hidden || got.Version != 3 {
		t.Fatalf("unhide: %+v %v", got, err)
	}
	if _, err := e.prof.Get(ctx, pro(other, "G15_10"), it.ID); err != nil {
		t.Errorf("shown again: %v", err)
	}
}

// A blocked professional, or one whose request the patient refused and who has no other
// ground, is refused and traced; the matrix keeps a physiotherapist from the medical summary.
func TestRefusedProfessional(t *testing.T) {
	e := newEnv(t)
	me := holder(e.pid)
	blocked, refused, kine, doctor := recordtest.RPPS(t, 1), recordtest.RPPS(t, 2), recordtest.RPPS(t, 3), recordtest.RPPS(t, 4)
	if err := e.Access.Block(ctx, me.Actor, me.Channel, e.pid, blocked); err != nil {
		t.Fatal(err)
	}
	if err := e.Access.RefuseAuthorisation(ctx, me.Actor, me.Channel, e.pid, refused); err != nil {
		t.Fatal(err)
	}
	it := e.add(t, me, sectionItems()[2])
	for _, c := range []struct {
		who    string
		reason string
	}{{blocked, "blocked"}, {refused, "authorisation_refused"}} {
		if _, err := e.prof.Add(ctx, pro(c.who, "G15_10"), e.pid, sectionItems()[0]); !errs.Is(err, errs.Forbidden) {
			t.Errorf("%s added: %v", c.reason, err)
		}
		if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.deposit denied "+c.reason) {
			t.Errorf("trace: %s", tr)
		}
		if _, err := e.prof.Get(ctx, pro(c.who, "G15_10"), it.ID); !errs.Is(err, errs.Forbidden) {
			t.Errorf("%s read: %v", c.reason, err)
		}
		if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.read denied "+c.reason) {
			t.Errorf("trace: %s", tr)
		}
		if _, err := e.prof.List(ctx, pro(c.who, "G15_10"), profile.Query{PatientID: e.pid}); !errs.Is(err, errs.Forbidden) {
			t.Errorf("%s listed: %v", c.reason, err)
		}
	}
	// A professional writes no wish, no contact: the decision refuses the espace_personnel.
	if _, err := e.prof.Add(ctx, pro(doctor, "G15_10"), e.pid, sectionItems()[7]); !errs.Is(err, errs.Forbidden) {
		t.Errorf("a doctor wrote a wish: %v", err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.deposit denied space_not_allowed") {
		t.Errorf("trace: %s", tr)
	}
	if err := e.Access.AddToCareTeam(ctx, me.Actor, me.Channel, e.pid, kine, access.CareDesignated); err != nil {
		t.Fatal(err)
	}
	if _, err := e.prof.Get(ctx, pro(kine, "G15_70"), it.ID); !errs.Is(err, errs.Forbidden) {
		t.Errorf("a physiotherapist read the allergies: %v", err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.read denied matrix_denied basis=care_team") {
		t.Errorf("trace: %s", tr)
	}
}

// An edit is a new version, the former one superseded and kept; only the author (or, for the
// patient's own entries, the patient) edits; the author or the patient deletes.
func TestVersionsAndDeletion(t *testing.T) {
	e := newEnv(t)
	me := holder(e.pid)
	doctor, other := recordtest.RPPS(t, 1), recordtest.RPPS(t, 2)
	it := e.add(t, pro(doctor, "G15_10"), profile.Item{Section: profile.SectionTreatments, Treatment: &profile.Treatment{Text: "Ramipril 5 mg"}})
	e.Clock.Advance(time.Hour)
	edit := profile.Item{Section: profile.SectionTreatments, Treatment: &profile.Treatment{Text: "Ramipril 10 mg", Dosage: "1 le soir"}}
	if _, err := e.prof.Update(ctx, me, it.ID, edit, 0); !errs.Is(err, errs.Forbidden) {
		t.Errorf("the patient edited a professional's item: %v", err)
	}
	if _, err := e.prof.Update(ctx, pro(doctor, "G15_10"), it.ID, edit, 7); !errs.Is(err, errs.Conflict) {
		t.Errorf("stale version: %v", err)
	}
	v2, err := e.prof.Update(ctx, pro(doctor, "G15_10"), it.ID, edit, 1)
	if err != nil || v2.Version != 2 || v2.ID != it.ID || v2.VersionID == it.VersionID || v2.Treatment.Text != "Ramipril 10 mg" ||
		!v2.Written.Equal(recordtest.T0.Add(time.Hour)) || !v2.Created.Equal(recordtest.T0) {
		t.Fatalf("update: %+v %v", v2, err)
	}
	hist, err := e.prof.History(ctx, me, it.ID)
	if err != nil || len(hist) != 2 || hist[0].Treatment.Text != "Ramipril 5 mg" || hist[1].Version != 2 {
		t.Fatalf("history: %+v %v", hist, err)
	}
	if _, err := e.prof.Update(ctx, me, it.ID, profile.Item{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "x"}}, 0); err == nil {
		t.Error("the section changed")
	}
	moved := edit
	moved.PatientID = e.pid + 1
	if _, err := e.prof.Update(ctx, pro(doctor, "G15_10"), it.ID, moved, 0); !errs.Is(err, errs.Invalid) {
		t.Errorf("the patient changed: %v", err)
	}
	if err := e.prof.Delete(ctx, me, it.ID, profile.SectionAllergies); !errs.Is(err, errs.NotFound) {
		t.Errorf("deleted as an item of another section: %v", err)
	}
	if err := e.prof.Delete(ctx, pro(other, "G15_10"), it.ID); !errs.Is(err, errs.Forbidden) {
		t.Errorf("another professional deleted: %v", err)
	}
	if err := e.prof.Delete(ctx, me, it.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.prof.Get(ctx, me, it.ID); !errs.Is(err, errs.NotFound) {
		t.Errorf("read after deletion: %v", err)
	}
	if page, err := e.prof.List(ctx, me, profile.Query{PatientID: e.pid}); err != nil || len(page.Items) != 0 {
		t.Errorf("listed after deletion: %+v %v", page, err)
	}
	// The patient edits what their side wrote; the author deletes theirs.
	mine := e.add(t, me, sectionItems()[0])
	if _, err := e.prof.Update(ctx, me, mine.ID, sectionItems()[0], 1); err != nil {
		t.Errorf("the patient edits their own: %v", err)
	}
	theirs := e.add(t, pro(doctor, "G15_10"), sectionItems()[2])
	if err := e.prof.Delete(ctx, pro(doctor, "G15_10"), theirs.ID); err != nil {
		t.Errorf("the author deletes: %v", err)
	}
}

// An app writes and reads within the actions and classes the patient granted; editing and
// deleting stay with the patient (access: an app has no replace or delete action).
func TestApp(t *testing.T) {
	e := newEnv(t)
	full := app(e.pid, []string{"11"}, access.ActionDeposit, access.ActionRead, access.ActionList, access.ActionSearch)
	it := e.add(t, full, weight(70, recordtest.T0))
	if it.Author.Kind != audit.ActorApp || it.DepositedBy != access.DepositedByPatient || it.Type != "DOCPAT01" {
		t.Errorf("added by an app: %+v", it)
	}
	if s, err := e.prof.Series(ctx, full, e.pid, "29463-7", time.Time{}, time.Time{}); err != nil || len(s.Points) != 1 {
		t.Errorf("series: %+v %v", s, err)
	}
	for name, r := range map[string]profile.Request{
		"no deposit scope": app(e.pid, []string{"11"}, access.ActionRead),
		"other class":      app(e.pid, []string{"52"}, access.ActionDeposit),
		"other patient":    app(e.pid+1, []string{"*"}, access.ActionDeposit),
	} {
		if _, err := e.prof.Add(ctx, r, e.pid, weight(71, recordtest.T0)); !errs.Is(err, errs.Forbidden) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := e.prof.Update(ctx, full, it.ID, weight(71, recordtest.T0), 0); !errs.Is(err, errs.Forbidden) {
		t.Errorf("an app edited: %v", err)
	}
	if tr := e.lastTrace(t); !strings.HasPrefix(tr, "document.replace denied scope") {
		t.Errorf("trace: %s", tr)
	}
}

// The series of a measure is oldest first within its period, the latest values one per
// measure, each what the actor may see.
func TestSeriesAndLatest(t *testing.T) {
	e := newEnv(t)
	me := holder(e.pid)
	for i, kg := range []float64{80, 79.5, 78} {
		e.add(t, me, weight(kg, recordtest.T0.AddDate(0, 0, -10+i)))
	}
	bp := e.add(t, me, profile.Item{Section: profile.SectionMeasurements, Measurement: &profile.Measurement{Code: "85354-9",
		Taken: recordtest.T0.AddDate(0, 0, -1), Components: []profile.Component{{Code: "8462-4", Value: 11, Unit: "kPa"}, {Code: "8480-6", Value: 130, Unit: "mm[Hg]"}}}})
	if c := bp.Measurement.Components; len(c) != 2 || c[0].Code != "8480-6" || c[1].Value != 82.506787 || bp.Measurement.Sent != "11 kPa" {
		t.Errorf("blood pressure: %+v", bp.Measurement)
	}
	s, err := e.prof.Series(ctx, me, e.pid, "29463-7", recordtest.T0.AddDate(0, 0, -9), time.Time{})
	if err != nil || len(s.Points) != 2 || s.Points[0].Values[0] != 79.5 || s.Points[1].Values[0] != 78 || s.Measure.Unit != "kg" {
		t.Fatalf("series: %+v %v", s, err)
	}
	latest, err := e.prof.Latest(ctx, me, e.pid)
	if err != nil || len(latest) != 2 || latest[0].Measurement.Value != 78 || latest[1].Measurement.Code != "85354-9" {
		t.Fatalf("latest: %+v %v", latest, err)
	}
	if _, err := e.prof.Series(ctx, me, e.pid, "1234-5", time.Time{}, time.Time{}); !errs.Is(err, errs.Invalid) {
		t.Errorf("unknown measure: %v", err)
	}
}
