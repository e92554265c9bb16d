package archive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/archive"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/emergency"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// The medical profile goes with the space: its items in profile.json, as the profile keeps
// them, and in the index page, read through the profile's own decision and traced.
func TestProfileTravelsWithTheExport(t *testing.T) {
	in := newInstance(t)
	ctx := context.Background()
	pid := in.Patient(t, recordtest.TestINS(t, 1))
	medical, err := profile.NewService(profile.Deps{Store: in.DB.Profile(), Access: in.Access, Catalog: in.Catalog, Clock: in.Clock})
	if err != nil {
		t.Fatal(err)
	}
	holder := recordtest.Holder(pid)
	pr := profile.Request{Actor: holder.Actor, Channel: holder.Channel}
	allergy, err := medical.Add(ctx, pr, pid, profile.Item{Section: profile.SectionAllergies,
		Allergy: &profile.Allergy{Text: "Pénicilline", Type: "allergy", Status: "active"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := medical.Add(ctx, pr, pid, profile.Item{Section: profile.SectionBloodGroup,
		BloodGroup: &profile.BloodGroup{ABO: "AB", Rh: "-"}}); err != nil {
		t.Fatal(err)
	}
	directives, err := medical.Add(ctx, pr, pid, profile.Item{Section: profile.SectionWishes,
		Wish: &profile.Wish{Kind: profile.WishAdvanceDirectives, Text: "Pas de réanimation prolongée.", Date: "2025-06"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := medical.Add(ctx, pr, pid, profile.Item{Section: profile.SectionWishes,
		Wish: &profile.Wish{Kind: profile.WishOrganDonation, Consent: "no"}}); err != nil {
		t.Fatal(err)
	}
	cards, err := emergency.NewService(in.DB.Emergency(), in.Access, medical, in.Clock)
	if err != nil {
		t.Fatal(err)
	}
	token, err := cards.TurnOn(ctx, holder.Actor, holder.Channel, pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := cards.Save(ctx, holder.Actor, holder.Channel, pid, []profile.Section{profile.SectionAllergies, profile.SectionBloodGroup},
		map[string]emergency.Choice{allergy.ID: emergency.Hide}); err != nil {
		t.Fatal(err)
	}
	files := unzip(t, export(t, in, holder, pid))
	var card struct {
		On       bool
		Sections []profile.Section
		Choices  map[string]emergency.Choice
	}
	if err := json.Unmarshal(files["emergency.json"], &card); err != nil || !card.On || len(card.Sections) != 2 ||
		card.Choices[allergy.ID] != emergency.Hide || bytes.Contains(files["emergency.json"], []byte(token)) {
		t.Fatalf("emergency.json: %s %v", files["emergency.json"], err)
	}
	if _, ok := unzip(t, export(t, in, operator("TJ Caen 2026/1"), pid))["emergency.json"]; ok {
		t.Fatal("the operator's export holds the emergency card, which is the patient's alone")
	}
	var items []profile.Item
	if err := json.Unmarshal(files["profile.json"], &items); err != nil {
		t.Fatalf("profile.json: %v\n%s", err, files["profile.json"])
	}
	if len(items) != 4 || !slices.ContainsFunc(items, func(it profile.Item) bool {
		return it.ID == allergy.ID && it.Allergy != nil && it.Allergy.Text == "Pénicilline" && it.PatientID == 0
	}) {
		t.Fatalf("profile.json: %+v", items)
	}
	index := string(files["index.html"])
	for _, want := range []string{"Profil médical", "Allergies", "Pénicilline", "AB -", "Carte d'urgence : activée, elle montre : allergies et intolérances, groupe sanguin."} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html does not say %q", want)
		}
	}
	// And in the FHIR Bundle, as the profile's own resources, valid.
	for _, want := range []string{`"resourceType": "AllergyIntolerance"`, `"fullUrl": "AllergyIntolerance/` + allergy.ID + `"`, `"resourceType": "Observation"`,
		`"fullUrl": "Consent/` + directives.ID + `"`, `"code": "42348-3"`, `"type": "deny"`} {
		if !bytes.Contains(files["bundle.json"], []byte(want)) {
			t.Errorf("bundle.json does not hold %s", want)
		}
	}
	fhirtest.Validate(t, files["bundle.json"])
	var m archive.Manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil || !slices.ContainsFunc(m.Files, func(f archive.File) bool { return f.Path == "profile.json" }) {
		t.Fatalf("manifest: %+v %v", m.Files, err)
	}
	// The profile's read is traced as the profile traces it.
	if traces := in.Traces(t, pid); !slices.ContainsFunc(traces, func(s string) bool {
		return strings.HasPrefix(s, "record.search allowed self") && strings.Contains(s, "profile shown=4 ") && strings.Contains(s, allergy.ID)
	}) {
		t.Fatalf("no trace of the profile's read: %q", traces)
	}
}

// profileOf reads a patient's whole profile as the operator on a legal request does, in a
// form two instances can compare: what each item is and was, without this instance's keys.
func profileOf(t *testing.T, in *instance, medical *profile.Service, pid int64) []profile.Item {
	t.Helper()
	op := operator("check")
	page, err := medical.List(context.Background(), profile.Request{Actor: op.Actor, Channel: op.Channel},
		profile.Query{PatientID: pid, Limit: profile.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for i := range page.Items {
		it := &page.Items[i]
		it.VersionID, it.PatientID = "", 0
		for _, tm := range []*time.Time{&it.Written, &it.Changed, &it.Created, &it.At} {
			*tm = tm.UTC()
		}
		if it.Measurement != nil {
			it.Measurement.Taken = it.Measurement.Taken.UTC()
		}
	}
	slices.SortFunc(page.Items, func(a, b profile.Item) int { return strings.Compare(a.ID, b.ID) })
	return page.Items
}

func profileService(t *testing.T, in *instance) *profile.Service {
	t.Helper()
	medical, err := profile.NewService(profile.Deps{Store: in.DB.Profile(), Access: in.Access, Catalog: in.Catalog, Clock: in.Clock})
	if err != nil {
		t.Fatal(err)
	}
	return medical
}

// A profile re-imported into a fresh instance is the original: each item's id, version,
// author, dates, category and content, hidden or not; a second import files nothing; a space
// that already has its blood group keeps its own.
func TestProfileReimportedEqualsTheOriginal(t *testing.T) {
	ctx := context.Background()
	a := newInstance(t)
	ins := recordtest.TestINS(t, 21)
	pidA := a.Patient(t, ins)
	medA := profileService(t, a)
	holder := recordtest.Holder(pidA)
	hr := profile.Request{Actor: holder.Actor, Channel: holder.Channel}
	doc := recordtest.Doctor(recordtest.RPPS(t, 4))
	add := func(r profile.Request, it profile.Item) profile.Item {
		t.Helper()
		got, err := medA.Add(ctx, r, pidA, it)
		if err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(time.Hour)
		return got
	}
	allergy := add(hr, profile.Item{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Pénicilline", Type: "allergy", Status: "active"}})
	if _, err := medA.Update(ctx, hr, allergy.ID, profile.Item{Section: profile.SectionAllergies,
		Allergy: &profile.Allergy{Text: "Pénicilline G", Type: "allergy", Status: "active", Criticality: "high"}}, 1); err != nil {
		t.Fatal(err)
	}
	add(profile.Request{Actor: doc.Actor, Channel: doc.Channel}, profile.Item{Section: profile.SectionHistory,
		Condition: &profile.Condition{Text: "Asthme", Status: "active", Onset: "2009"}})
	hidden := add(hr, profile.Item{Section: profile.SectionTreatments, Treatment: &profile.Treatment{Text: "Ventoline", Status: "active"}})
	if _, err := medA.Hide(ctx, hr, hidden.ID); err != nil {
		t.Fatal(err)
	}
	add(hr, profile.Item{Section: profile.SectionMeasurements, Measurement: &profile.Measurement{Code: "29463-7", Value: 150, Unit: "[lb_av]",
		Taken: a.Clock.Now().Add(-48 * time.Hour)}})
	add(hr, profile.Item{Section: profile.SectionBloodGroup, BloodGroup: &profile.BloodGroup{ABO: "O", Rh: "+"}})
	add(hr, profile.Item{Section: profile.SectionWishes, Wish: &profile.Wish{Kind: profile.WishAdvanceDirectives, Text: "Pas d'acharnement", Date: "2025-02-01"}})
	want := profileOf(t, a, medA, pidA)
	if len(want) != 6 {
		t.Fatalf("the original profile holds %d items, want 6", len(want))
	}
	zipped := export(t, a, holder, pidA)

	b := newInstance(t)
	b.Clock.Advance(a.Clock.Now().Sub(b.Clock.Now())) // later than what it imports
	pidB := b.Patient(t, ins)
	medB := profileService(t, b)
	lim := archive.DefaultLimits(20 << 20)
	rep, err := b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(zipped), int64(len(zipped)), lim)
	if err != nil || rep.ProfileImported != 6 || rep.ProfilePresent != 0 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	got := profileOf(t, b, medB, pidB)
	if wj, gj := jsonOf(t, want), jsonOf(t, got); wj != gj {
		t.Fatalf("re-imported profile differs:\n got %s\nwant %s", gj, wj)
	}
	rep, err = b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(zipped), int64(len(zipped)), lim)
	if err != nil || rep.ProfileImported != 0 || rep.ProfilePresent != 6 {
		t.Fatalf("second import: %+v %v", rep, err)
	}
	if n := importTraces(t, b, pidB, "profile/"); n != 6 {
		t.Fatalf("%d profile items traced as imported, want 6", n)
	}
	if i := slices.IndexFunc(got, func(it profile.Item) bool { return it.ID == hidden.ID }); i < 0 || !got[i].Hidden {
		t.Fatal("the item hidden from professionals is not hidden after the import")
	}

	// A space that has its own blood group keeps it.
	c := newInstance(t)
	c.Clock.Advance(a.Clock.Now().Sub(c.Clock.Now()))
	pidC := c.Patient(t, ins)
	medC := profileService(t, c)
	own, err := medC.Add(ctx, profile.Request{Actor: recordtest.Holder(pidC).Actor, Channel: audit.ChannelWeb}, pidC,
		profile.Item{Section: profile.SectionBloodGroup, BloodGroup: &profile.BloodGroup{ABO: "A", Rh: "-"}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = c.archive.Import(ctx, recordtest.Holder(pidC), pidC, bytes.NewReader(zipped), int64(len(zipped)), lim)
	// The patient's own import: the doctor's item is left out (nothing vouches for a file's
	// author), the blood group too (the space has its own).
	if err != nil || rep.ProfileImported != 4 || rep.ProfileKept != 1 || rep.ProfileLeft != 1 {
		t.Fatalf("import into a space with its blood group: %+v %v", rep, err)
	}
	groups, err := medC.List(ctx, profile.Request{Actor: recordtest.Holder(pidC).Actor, Channel: audit.ChannelWeb},
		profile.Query{PatientID: pidC, Sections: []profile.Section{profile.SectionBloodGroup}})
	if err != nil || len(groups.Items) != 1 || groups.Items[0].ID != own.ID {
		t.Fatalf("blood groups after the import: %+v %v", groups.Items, err)
	}
}

// An archive whose profile names another space's item is refused, and files none of its
// items.
func TestProfileImportRefusesAnotherSpacesItem(t *testing.T) {
	ctx := context.Background()
	in := newInstance(t)
	med := profileService(t, in)
	other := in.Patient(t, recordtest.TestINS(t, 31))
	theirs, err := med.Add(ctx, profile.Request{Actor: recordtest.Holder(other).Actor, Channel: audit.ChannelWeb}, other,
		profile.Item{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Arachide", Status: "active"}})
	if err != nil {
		t.Fatal(err)
	}
	pid := in.Patient(t, recordtest.TestINS(t, 32))
	author := profile.Author{Kind: audit.ActorPatient, ID: "account-x"}
	at := in.Clock.Now().Add(-time.Hour)
	items := []profile.Item{
		{Section: profile.SectionHistory, Condition: &profile.Condition{Text: "Migraine", Status: "active"}, Author: author,
			Written: at, Changed: at, Created: at, ID: "6f1c1a52-3b0e-4d55-9a63-0d7b1c1e2f10"},
		{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Arachide", Status: "active"}, Author: author,
			Written: at, Changed: at, Created: at, ID: theirs.ID},
	}
	hr := profile.Request{Actor: recordtest.Holder(pid).Actor, Channel: audit.ChannelWeb}
	_, err = med.Import(ctx, hr, pid, items)
	if !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "profile item 2") {
		t.Fatalf("import of another space's item: %v, want a Conflict naming item 2", err)
	}
	// Another space's identifier too.
	if _, err := med.Push(ctx, profile.Request{Actor: recordtest.Holder(other).Actor, Channel: audit.ChannelWeb}, other,
		profile.Device{Identifier: "urn:oid:1.2.3|scale-1", Name: "Balance"}, []profile.Item{{Section: profile.SectionMeasurements,
			Identifier: "urn:oid:1.2.3|w-1", Measurement: &profile.Measurement{Code: "29463-7", Value: 70, Unit: "kg", Taken: at}}}); err != nil {
		t.Fatal(err)
	}
	items[1] = profile.Item{Section: profile.SectionMeasurements, Identifier: "urn:oid:1.2.3|w-1", Author: author, Written: at, Changed: at,
		Created: at, Measurement: &profile.Measurement{Code: "29463-7", Value: 71, Unit: "kg", Taken: at}}
	if _, err = med.Import(ctx, hr, pid, items); !errs.Is(err, errs.Conflict) {
		t.Fatalf("import of another space's identifier: %v, want a Conflict", err)
	}
	if got := profileOf(t, in, med, pid); len(got) != 0 {
		t.Fatalf("%d items filed by a refused import", len(got))
	}
	// Bad content is refused before anything is decided: no trace.
	before := len(in.Traces(t, pid))
	doctor := profile.Author{Kind: audit.ActorProfessional, ID: recordtest.RPPS(t, 2)}
	for name, bad := range map[string]profile.Item{
		"no content": {Section: profile.SectionAllergies, Allergy: &profile.Allergy{}, Author: author, Written: at, Changed: at, Created: at},
		"an unknown author": {Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Lait", Status: "active"},
			Author: profile.Author{Kind: "nobody", ID: "x"}, Written: at, Changed: at, Created: at},
		"a professional's wish": {Section: profile.SectionWishes, Wish: &profile.Wish{Kind: profile.WishOther, Text: "Rien"}, Author: doctor,
			Written: at, Changed: at, Created: at},
		"no dates":       {Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Lait", Status: "active"}, Author: author},
		"a deleted item": {Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Lait", Status: "active"}, Author: author, Written: at, Changed: at, Created: at, Status: profile.Deleted},
	} {
		if _, err := med.Import(ctx, hr, pid, []profile.Item{items[0], bad}); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
	if n := len(in.Traces(t, pid)); n != before {
		t.Fatalf("refused items left %d trace(s)", n-before)
	}
}
