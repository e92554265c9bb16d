package summary_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/profile/summary"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var popplerOnce sync.Once

// pdfText extracts the text of a PDF with poppler's pdftotext (.ci/install-test-deps installs
// it), the way a reader would copy it.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	popplerOnce.Do(func() {
		if _, err := exec.LookPath("pdftotext"); err != nil {
			// As the browser tests do: install what is missing rather than skip.
			out, err := exec.Command("bash", filepath.Join("..", "..", "..", ".ci", "install-test-deps")).CombinedOutput()
			if err != nil {
				t.Logf("install-test-deps: %v %s", err, out)
			}
		}
	})
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatalf("pdftotext is not installed: run .ci/install-test-deps (%v)", err)
	}
	f := filepath.Join(t.TempDir(), "s.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", "-layout", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	// Trailing blanks of the layout are not content.
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		lines = append(lines, strings.TrimRight(l, " "))
	}
	return strings.TrimSpace(strings.Join(lines, "\n")) + "\n"
}

var t0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

func example(t testing.TB) summary.Summary {
	m, err := profile.NewMeasures(profile.DefaultMeasures)
	if err != nil {
		t.Fatal(err)
	}
	me := profile.Author{Kind: audit.ActorPatient, ID: "1"}
	doc := profile.Author{Kind: audit.ActorProfessional, ID: "810001234567", Name: "Dr Claire Martin"}
	item := func(sec profile.Section, by profile.Author, at time.Time, fill func(*profile.Item)) profile.Item {
		it := profile.Item{Section: sec, Author: by, Written: at, Status: profile.Active}
		fill(&it)
		return it
	}
	items := []profile.Item{
		item(profile.SectionTreatments, doc, t0.AddDate(0, -2, 0), func(it *profile.Item) {
			it.Treatment = &profile.Treatment{Text: "Lévothyroxine 75 µg", Status: "active", Dosage: "1 comprimé le matin", Start: "2019-04"}
		}),
		item(profile.SectionAllergies, me, t0.AddDate(0, 0, -3), func(it *profile.Item) {
			it.Allergy = &profile.Allergy{Text: "Pénicilline", Type: "allergy", Criticality: "high", Status: "active", Reaction: "œdème de Quincke"}
		}),
		item(profile.SectionAllergies, me, t0.AddDate(0, 0, -1), func(it *profile.Item) {
			it.Allergy = &profile.Allergy{Text: "Lactose", Type: "intolerance", Status: "active"}
		}),
		item(profile.SectionHistory, doc, t0.AddDate(-1, 0, 0), func(it *profile.Item) {
			it.Condition = &profile.Condition{Text: "Appendicectomie", Surgical: true, Status: "resolved", Onset: "1998-07-14", End: "1998"}
		}),
		item(profile.SectionFamilyHistory, me, t0, func(it *profile.Item) {
			it.Family = &profile.FamilyHistory{Relationship: profile.Code{System: "http://terminology.hl7.org/CodeSystem/v3-RoleCode", Code: "MTH"},
				Text: "Diabète de type 2", OnsetAge: 55}
		}),
		item(profile.SectionVaccinations, doc, t0, func(it *profile.Item) {
			it.Vaccination = &profile.Vaccination{Text: "DTP (rappel)", Date: "2025-11-03", Dose: 4, Lot: "AB123"}
		}),
		item(profile.SectionBloodGroup, me, t0, func(it *profile.Item) { it.BloodGroup = &profile.BloodGroup{ABO: "O", Rh: "-"} }),
		item(profile.SectionWishes, me, t0, func(it *profile.Item) {
			it.Wish = &profile.Wish{Kind: profile.WishOrganDonation, Consent: "yes"}
		}),
		item(profile.SectionEmergencyContacts, me, t0, func(it *profile.Item) {
			it.Contact = &profile.Contact{Name: "Paul Dupont", Relationship: profile.Code{System: "http://terminology.hl7.org/CodeSystem/v3-RoleCode", Code: "SPS"},
				Phone: "06 12 34 56 78"}
		}),
	}
	latest := []profile.Item{
		item(profile.SectionMeasurements, me, t0, func(it *profile.Item) {
			it.Measurement = &profile.Measurement{Code: "29463-7", Value: 68.4, Unit: "kg", Taken: t0.Add(-2 * time.Hour)}
		}),
		item(profile.SectionMeasurements, doc, t0, func(it *profile.Item) {
			it.Measurement = &profile.Measurement{Code: "85354-9", Taken: t0.AddDate(0, 0, -7),
				Components: []profile.Component{{Code: "8480-6", Value: 128, Unit: "mm[Hg]"}, {Code: "8462-4", Value: 82, Unit: "mm[Hg]"}}}
		}),
	}
	return summary.Summary{Identity: summary.Identity{Name: "Marie-Hélène DUPONT", BirthDate: time.Date(1980, 5, 12, 0, 0, 0, 0, time.UTC),
		Sex: "Femme", INS: "280057512345621"}, Items: items, Latest: latest, Measures: m, Generated: t0}
}

// The summary's text, as pdftotext reads it, is the golden file's (go test -update rewrites
// it): every section in its order, allergies first, accents printed, page numbers.
func TestSummaryGolden(t *testing.T) {
	b, err := summary.Render(example(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %.20q", b)
	}
	text := pdfText(t, b)
	golden := filepath.Join("testdata", "summary.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if text != string(want) {
		t.Errorf("the summary's text differs from %s (go test -update rewrites it):\n%s", golden, text)
	}
	if a, tr := strings.Index(text, "Pénicilline"), strings.Index(text, "Lévothyroxine"); a < 0 || tr < 0 || a > tr {
		t.Error("the allergies are not first")
	}
}

// A long profile runs over several pages, each numbered out of the total.
func TestSummaryPages(t *testing.T) {
	s := example(t)
	for i := 0; i < 60; i++ {
		s.Items = append(s.Items, profile.Item{Section: profile.SectionHistory, Author: profile.Author{Kind: audit.ActorPatient},
			Written: t0, Condition: &profile.Condition{Text: "Antécédent numéro " + string(rune('A'+i%26)), Status: "active"}})
	}
	b, err := summary.Render(s)
	if err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, b)
	m := regexp.MustCompile(`Page 1/(\d+)`).FindStringSubmatch(text)
	if m == nil || m[1] == "1" {
		t.Fatalf("a long summary on one page, or pages not numbered:\n%s", text)
	}
	if p := "Page " + m[1] + "/" + m[1]; !strings.Contains(text, p) {
		t.Errorf("no %q:\n%s", p, text)
	}
	if strings.Count(text, "Antécédent numéro") != 60 {
		t.Errorf("%d of 60 items printed", strings.Count(text, "Antécédent numéro"))
	}
}

// Collect reads the profile as the actor may see it: an item the patient hid from
// professionals is in the patient's summary, not in a professional's; each reading is traced.
func TestCollectAsTheActorMaySee(t *testing.T) {
	ctx := context.Background()
	e := recordtest.New(t)
	svc, err := profile.NewService(profile.Deps{Store: e.DB.Profile(), Access: e.Access, Catalog: e.Catalog, Clock: e.Clock})
	if err != nil {
		t.Fatal(err)
	}
	ins := recordtest.TestINS(t, 41)
	pid := e.Patient(t, ins)
	h := recordtest.Holder(pid)
	me := profile.Request{Actor: h.Actor, Channel: h.Channel}
	d := recordtest.Doctor(recordtest.RPPS(t, 41))
	doctor := profile.Request{Actor: d.Actor, Channel: d.Channel}
	if _, err := svc.Add(ctx, doctor, pid, profile.Item{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Arachide"}}); err != nil {
		t.Fatal(err)
	}
	secret, err := svc.Add(ctx, me, pid, profile.Item{Section: profile.SectionHistory, Condition: &profile.Condition{Text: "Dépression"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Hide(ctx, me, secret.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Add(ctx, me, pid, profile.Item{Section: profile.SectionMeasurements,
		Measurement: &profile.Measurement{Code: "29463-7", Value: 70, Unit: "kg", Taken: e.Clock.Now().Add(-time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	render := func(r profile.Request) string {
		items, latest, err := summary.Collect(ctx, svc, r, pid)
		if err != nil {
			t.Fatal(err)
		}
		b, err := summary.Render(summary.Summary{Identity: summary.Identity{Name: "Test"}, Items: items, Latest: latest,
			Measures: svc.Measures(), Generated: e.Clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return pdfText(t, b)
	}
	mine := render(me)
	if !strings.Contains(mine, "Arachide") || !strings.Contains(mine, "Dépression") || !strings.Contains(mine, "Poids : 70 kg") {
		t.Errorf("the patient's summary:\n%s", mine)
	}
	// The doctor who wrote the allergy is in the care team (a deposit's author joins it).
	theirs := render(doctor)
	if strings.Contains(theirs, "Dépression") || !strings.Contains(theirs, "Arachide") {
		t.Errorf("a professional's summary shows what the patient hid, or not what they may read:\n%s", theirs)
	}
	traces := strings.Join(e.Traces(t, pid), "\n")
	if strings.Count(traces, "search allowed") < 4 {
		t.Errorf("the readings are not traced:\n%s", traces)
	}
}

// BenchmarkRender measures a summary's rendering (fonts embedded each time) and reports its size.
func BenchmarkRender(b *testing.B) {
	s := example(b)
	var size int
	for b.Loop() {
		out, err := summary.Render(s)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	b.ReportMetric(float64(size), "bytes/pdf")
}
