package archive_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/archive"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// The access settings go with the space. An import brings back what restricts access
// (blocks, refusals, oppositions) whoever imports; what gives access only when the patient
// imports, since only they give access to their record; each once, so that nothing the
// patient changed since comes back. What the space already has wins.
func TestAccessSettingsTravelWithTheSpace(t *testing.T) {
	ctx := context.Background()
	a := newInstance(t)
	ins := recordtest.TestINS(t, 41)
	pid := a.Patient(t, ins)
	holder := recordtest.Holder(pid)
	act, ch := holder.Actor, holder.Channel
	blocked, traitant, member, authorised := recordtest.RPPS(t, 5), recordtest.RPPS(t, 6), recordtest.RPPS(t, 7), recordtest.RPPS(t, 8)
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(time.Hour)
	}
	step(a.Access.Block(ctx, act, ch, pid, blocked))
	step(a.Access.DesignateMedecinTraitant(ctx, act, ch, pid, traitant))
	step(a.Access.AddToCareTeam(ctx, act, ch, pid, member, access.CareDesignated))
	_, err := a.Access.GrantAuthorisation(ctx, act, ch, pid, authorised, 0)
	step(err)
	step(a.Access.SetOppositions(ctx, act, ch, pid, true, false))
	settingsOf := func(in *instance, pid int64) access.Settings {
		t.Helper()
		st, err := in.Access.Settings(ctx, recordtest.Holder(pid).Actor, audit.ChannelWeb, pid)
		if err != nil {
			t.Fatal(err)
		}
		st.PatientID = 0
		return st
	}
	want := jsonOf(t, settingsOf(a, pid))
	zipped := export(t, a, holder, pid)
	files := unzip(t, zipped)
	if !bytes.Contains(files["access.json"], []byte(blocked)) {
		t.Fatalf("access.json: %s", files["access.json"])
	}
	for _, w := range []string{"Accès à mon dossier", "bloqué", "médecin traitant", "bris de glace"} {
		if !strings.Contains(string(files["index.html"]), w) {
			t.Errorf("index.html does not say %q", w)
		}
	}
	legal := "TJ Rennes 2026/5"
	if !bytes.Contains(unzip(t, export(t, a, operator(legal), pid))["access.json"], []byte(traitant)) {
		t.Fatal("the legal request's export has no access settings")
	}
	if traces := a.Traces(t, pid); !slices.ContainsFunc(traces, func(s string) bool {
		return strings.HasPrefix(s, "space.export allowed legal_request") && strings.HasSuffix(s, "access_settings legal_request="+legal)
	}) {
		t.Fatalf("the legal request's reading of the settings does not name it: %q", traces)
	}

	// The operator's import restores the block and the oppositions, and leaves the three
	// grants for the patient.
	b := newInstance(t)
	b.Clock.Advance(a.Clock.Now().Sub(b.Clock.Now()))
	pidB := b.Patient(t, ins)
	lim := archive.DefaultLimits(20 << 20)
	imp := func(r record.Request) archive.ImportReport {
		t.Helper()
		rep, err := b.archive.Import(ctx, r, pidB, bytes.NewReader(zipped), int64(len(zipped)), lim)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := imp(operator("")); rep.SettingsAdded != 2 || rep.SettingsLeft != 3 || rep.SettingsDone {
		t.Fatalf("the operator's import: %+v", rep)
	}
	if st := settingsOf(b, pidB); len(st.Blocked) != 1 || !st.Oppositions.BreakGlass || len(st.MedecinsTraitants)+len(st.CareTeam)+len(st.Authorisations) != 0 {
		t.Fatalf("after the operator's import: %+v", st)
	}
	if rep := imp(operator("")); !rep.SettingsDone || rep.SettingsAdded != 0 {
		t.Fatalf("the operator's second import: %+v", rep)
	}
	// The patient's own import brings the grants: the settings are the original's.
	hb := recordtest.Holder(pidB)
	if rep := imp(hb); rep.SettingsAdded != 3 || rep.SettingsLeft != 0 || rep.SettingsDone {
		t.Fatalf("the patient's import: %+v", rep)
	}
	if got := jsonOf(t, settingsOf(b, pidB)); got != want {
		t.Fatalf("settings after the imports:\n%s\nwant\n%s", got, want)
	}
	// Each entry is its own operation in the trail.
	var each []string
	for _, s := range b.Traces(t, pidB) {
		if strings.HasSuffix(s, " import") || strings.Contains(s, " import ") {
			each = append(each, s)
		}
	}
	if len(each) != 5 || !slices.ContainsFunc(each, func(s string) bool {
		return strings.HasPrefix(s, "access.medecin_traitant_designate allowed self") && strings.Contains(s, "professional/"+traitant)
	}) {
		t.Fatalf("traces of each entry: %q", each)
	}
	// What the patient changes after is theirs: an import again brings nothing back.
	if err := b.Access.RemoveMedecinTraitant(ctx, hb.Actor, hb.Channel, pidB, traitant); err != nil {
		t.Fatal(err)
	}
	if rep := imp(hb); !rep.SettingsDone {
		t.Fatalf("the patient's second import: %+v", rep)
	}
	if st := settingsOf(b, pidB); len(st.MedecinsTraitants) != 0 {
		t.Fatalf("the removed médecin traitant came back: %+v", st.MedecinsTraitants)
	}
	if traces := b.Traces(t, pidB); !slices.ContainsFunc(traces, func(s string) bool {
		return strings.HasPrefix(s, "space.import allowed") && strings.HasSuffix(s, "access_settings done: imported before")
	}) || slices.ContainsFunc(traces, func(s string) bool { return strings.HasPrefix(s, "space.import denied") }) {
		t.Fatalf("an import done before is not said as such: %q", traces)
	}
	// Two imports at once: one of them only.
	e := newInstance(t)
	pidE := e.Patient(t, ins)
	he := recordtest.Holder(pidE)
	results := make(chan access.SettingsImport, 2)
	for _, id := range []string{traitant, member} {
		go func() {
			r, err := e.Access.ImportSettings(ctx, he.Actor, he.Channel, pidE, access.Settings{MedecinsTraitants: []access.Member{{IdNat: id}}})
			if err != nil {
				t.Error(err)
			}
			results <- r
		}()
	}
	if r1, r2 := <-results, <-results; r1.Done == r2.Done || r1.Added+r2.Added != 1 {
		t.Fatalf("two imports at once: %+v %+v", r1, r2)
	}
	if st := settingsOf(e, pidE); len(st.MedecinsTraitants) != 1 {
		t.Fatalf("two imports at once left %d médecins traitants", len(st.MedecinsTraitants))
	}

	// Bad settings are refused before anything is decided.
	before := len(b.Traces(t, pidB))
	for _, bad := range []access.Settings{
		{Blocked: []access.Member{{IdNat: "8not-an-rpps"}}},
		{CareTeam: []access.CareTeamMember{{IdNat: member, Basis: "friendship"}}},
		{Authorisations: []access.AuthorisationRecord{{IdNat: authorised, State: "maybe"}}},
	} {
		if _, err := b.Access.ImportSettings(ctx, operator("").Actor, audit.ChannelCLI, pidB, bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("import of %+v: %v, want Invalid", bad, err)
		}
	}
	if n := len(b.Traces(t, pidB)); n != before {
		t.Fatalf("refused settings left %d trace(s)", n-before)
	}

	// A space that blocked the former médecin traitant and the authorised professional keeps
	// them blocked and out; an ended authorisation is not brought back; one without an end,
	// or longer than today's would be, lasts as long as today's.
	c := newInstance(t)
	c.Clock.Advance(a.Clock.Now().Sub(c.Clock.Now()))
	pidC := c.Patient(t, ins)
	hc := recordtest.Holder(pidC)
	for _, id := range []string{traitant, authorised} {
		if err := c.Access.Block(ctx, hc.Actor, hc.Channel, pidC, id); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := c.archive.Import(ctx, hc, pidC, bytes.NewReader(zipped), int64(len(zipped)), lim)
	if err != nil || rep.SettingsAdded != 3 || rep.SettingsKept != 2 {
		t.Fatalf("import into a space that blocked two of them: %+v %v", rep, err)
	}
	if st := settingsOf(c, pidC); len(st.MedecinsTraitants) != 0 || len(st.Authorisations) != 0 || len(st.Blocked) != 3 {
		t.Fatalf("settings: %+v", st)
	}
	d := newInstance(t)
	pidD := d.Patient(t, ins)
	hd := recordtest.Holder(pidD)
	now := d.Clock.Now()
	other, far := recordtest.RPPS(t, 9), recordtest.RPPS(t, 10)
	r, err := d.Access.ImportSettings(ctx, hd.Actor, hd.Channel, pidD, access.Settings{Authorisations: []access.AuthorisationRecord{
		{IdNat: authorised, State: access.AuthValid, GrantedAt: now.Add(-time.Hour)},                                     // no end
		{IdNat: other, State: access.AuthExpired, GrantedAt: now.Add(-400 * 24 * time.Hour), Until: now.Add(-time.Hour)}, // ended
		{IdNat: far, State: access.AuthValid, GrantedAt: now.Add(-time.Hour), Until: now.AddDate(50, 0, 0)},              // too long
	}})
	if err != nil || r.Added != 2 || r.Kept != 1 {
		t.Fatalf("authorisations: %+v %v", r, err)
	}
	st := settingsOf(d, pidD)
	if len(st.Authorisations) != 2 || slices.ContainsFunc(st.Authorisations, func(a access.AuthorisationRecord) bool {
		return a.IdNat == other || a.Until.IsZero() || a.Until.After(now.AddDate(1, 0, 1))
	}) {
		t.Fatalf("authorisations after the import: %+v", st.Authorisations)
	}
}
