package access_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// The service tests run on a real store, SQLite or PostgreSQL as storetest selects.

var t0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

type env struct {
	db    *store.DB
	clock *clock.Fake
	svc   *access.Service
}

func newEnv(t *testing.T, policy access.ServicePolicy) *env {
	t.Helper()
	db := storetest.New(t)
	clk := clock.NewFake(t0)
	return &env{db: db, clock: clk, svc: access.NewService(db.Access(), clk, MustMatrix(t), policy)}
}

// patient stores a person born on born, with a test INS drawn from seq, and returns their id.
func (e *env) patient(t *testing.T, seq int, born time.Time) int64 {
	t.Helper()
	nir13 := fmt.Sprintf("2%02d%02d75%06d", born.Year()%100, int(born.Month()), seq)
	n, err := strconv.ParseInt(nir13, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := identity.NewINS(fmt.Sprintf("%s%02d", nir13, 97-n%97), identity.OIDTestNIR)
	if err != nil {
		t.Fatal(err)
	}
	p := space.Patient{INS: ins, BirthName: "DUPONT", GivenNames: "Marie", BirthDate: born, Sex: space.Female, CreatedAt: t0}
	if err := e.db.Update(context.Background(), func(tx *store.Tx) error { return tx.InsertPatient(context.Background(), &p) }); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// rpps returns the IdNat_PS ("8" + RPPS) of test professional n, with its Luhn key.
func rpps(t *testing.T, n int) string {
	t.Helper()
	base := fmt.Sprintf("1999%06d", n)
	for k := 0; k <= 9; k++ {
		if id, err := identity.ParseIdNatPS("8" + base + strconv.Itoa(k)); err == nil {
			return id.String()
		}
	}
	t.Fatalf("no key for RPPS %s", base)
	return ""
}

func holderOf(patientID int64) access.Actor {
	return access.Actor{Kind: audit.ActorPatient, ID: fmt.Sprintf("account-%d", patientID), Name: "Marie Dupont", PatientID: patientID}
}

func doctor(idnat string) access.Actor {
	return access.Actor{Kind: audit.ActorProfessional, ID: idnat, Name: "Dr Martin", Org: "1750000001", Profession: "G15_10"}
}

// reportBy is a consultation report by author, in the Documents de santé.
func reportBy(author string) access.Target {
	return access.Target{Ref: "document/r1", Object: access.Object{Class: "10", Type: "11488-4",
		Space: terminology.SpaceDocuments, Authors: []string{author}, DepositedBy: access.DepositedByProfessional}}
}

// decide asks the service and checks that a decision was taken and answered consistently:
// allowed with no error, refused with the decision's error.
func (e *env) decide(t *testing.T, actor access.Actor, patientID int64, action access.Action, target access.Target, bg *access.BreakGlass) access.Decision {
	t.Helper()
	d, err := e.svc.Decide(context.Background(), actor, audit.ChannelFHIR, patientID, action, target, bg)
	switch {
	case d.Reason == "":
		t.Fatalf("no decision: %v", err)
	case d.Allowed && err != nil:
		t.Fatalf("allowed (%s) with an error: %v", d.Reason, err)
	case !d.Allowed && (err == nil || errs.CodeOf(err) != errs.CodeOf(d.Err())):
		t.Fatalf("refused (%s) with error %v, want %v", d.Reason, err, d.Err())
	}
	// The decision is the patient's last trace, with its reason code.
	tr := e.traces(t, patientID)
	if last := tr[len(tr)-1].Entry; last.Action != string(action) || last.Outcome != outcome(d) || access.ReasonOf(last.Reason) != d.Reason {
		t.Fatalf("last trace %+v, want the decision %s %s", last, action, d.Reason)
	}
	return d
}

// read decides a professional's read of a report by someone else.
func (e *env) read(t *testing.T, actor access.Actor, patientID int64, bg *access.BreakGlass) access.Decision {
	t.Helper()
	return e.decide(t, actor, patientID, access.ActionRead, reportBy("810100534436"), bg)
}

func wantReason(t *testing.T, d access.Decision, allowed bool, r access.Reason) {
	t.Helper()
	if d.Allowed != allowed || d.Reason != r {
		t.Fatalf("decision allowed=%v reason=%s, want allowed=%v reason=%s", d.Allowed, d.Reason, allowed, r)
	}
}

func wantCode(t *testing.T, err error, code errs.Code) {
	t.Helper()
	if errs.CodeOf(err) != code {
		t.Fatalf("error %v, want code %q", err, code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) settings(t *testing.T, patientID int64) access.Settings {
	t.Helper()
	s, err := e.svc.Settings(context.Background(), holderOf(patientID), audit.ChannelWeb, patientID)
	must(t, err)
	return s
}

// traces returns the patient's traces, oldest first.
func (e *env) traces(t *testing.T, patientID int64) []audit.Trace {
	t.Helper()
	var out []audit.Trace
	must(t, e.db.View(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = tx.TracesOfPatient(context.Background(), patientID, 10000)
		return err
	}))
	slices.Reverse(out)
	return out
}

// last returns the patient's last trace of action, failing when there is none.
func (e *env) last(t *testing.T, patientID int64, action string) audit.Entry {
	t.Helper()
	tr := e.traces(t, patientID)
	for i := len(tr) - 1; i >= 0; i-- {
		if tr[i].Entry.Action == action {
			return tr[i].Entry
		}
	}
	t.Fatalf("no trace of %s for patient %d", action, patientID)
	return audit.Entry{}
}

func (e *env) verify(t *testing.T) {
	t.Helper()
	res, err := e.db.VerifyTraces(context.Background(), storetest.Key)
	must(t, err)
	if !res.OK() {
		t.Fatalf("trace log does not verify: %+v", res.Problems)
	}
}

var adultBorn = time.Date(1980, 5, 1, 0, 0, 0, 0, time.UTC)

func TestAuthorisationLifecycle(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, access.ServicePolicy{})
	pid := e.patient(t, 1, adultBorn)
	me, dr := holderOf(pid), doctor(rpps(t, 1))

	wantReason(t, e.read(t, dr, pid, nil), false, access.ReasonNoAuthorisation)

	// Granted with the default length: a year. The identifier is stored in its canonical form.
	rec, err := e.svc.GrantAuthorisation(ctx, me, audit.ChannelWeb, pid, "  "+dr.ID+" ", 0)
	must(t, err)
	if rec.IdNat != dr.ID || rec.State != access.AuthValid || !rec.GrantedAt.Equal(t0) || !rec.Until.Equal(t0.AddDate(1, 0, 0)) {
		t.Fatalf("granted %+v", rec)
	}
	d := e.read(t, dr, pid, nil)
	wantReason(t, d, true, access.ReasonAuthorisation)
	if tr := e.last(t, pid, string(access.ActionRead)); tr.Outcome != audit.Allowed || access.ReasonOf(tr.Reason) != access.ReasonAuthorisation ||
		tr.Actor.ID != dr.ID || tr.Object != "document/r1" || tr.Channel != audit.ChannelFHIR {
		t.Fatalf("read trace %+v", tr)
	}
	if tr := e.last(t, pid, access.TraceAuthorisationGrant); tr.Outcome != audit.Allowed || tr.Object != "professional/"+dr.ID ||
		access.ReasonOf(tr.Reason) != access.ReasonSelf || tr.Detail != "until="+rec.Until.Format(time.RFC3339) {
		t.Fatalf("grant trace %+v", tr)
	}

	// A year later it has expired: Decide says so, and so does the settings page.
	e.clock.Set(rec.Until)
	wantReason(t, e.read(t, dr, pid, nil), false, access.ReasonAuthorisationExpired)
	if s := e.settings(t, pid); len(s.Authorisations) != 1 || s.Authorisations[0].State != access.AuthExpired {
		t.Fatalf("settings after expiry %+v", s.Authorisations)
	}

	// Renewed for a month from now.
	rec, err = e.svc.RenewAuthorisation(ctx, me, audit.ChannelWeb, pid, dr.ID, 30*24*time.Hour)
	must(t, err)
	if rec.State != access.AuthValid || !rec.Until.Equal(e.clock.Now().Add(30*24*time.Hour)) || !rec.GrantedAt.Equal(t0) {
		t.Fatalf("renewed %+v", rec)
	}
	wantReason(t, e.read(t, dr, pid, nil), true, access.ReasonAuthorisation)

	// Refused: the refusal is the reason given; a refusal is not renewed.
	must(t, e.svc.RefuseAuthorisation(ctx, me, audit.ChannelWeb, pid, dr.ID))
	wantReason(t, e.read(t, dr, pid, nil), false, access.ReasonAuthorisationRefused)
	_, err = e.svc.RenewAuthorisation(ctx, me, audit.ChannelWeb, pid, dr.ID, 0)
	wantCode(t, err, errs.Conflict)
	if s := e.settings(t, pid); len(s.Authorisations) != 1 || s.Authorisations[0].State != access.AuthRefused ||
		!s.Authorisations[0].GrantedAt.Equal(t0) || !s.Authorisations[0].Until.IsZero() {
		t.Fatalf("settings after refusal %+v", s.Authorisations)
	}

	// Revoked: nothing left; revoking again is NotFound, and so is renewing.
	must(t, e.svc.RevokeAuthorisation(ctx, me, audit.ChannelWeb, pid, dr.ID))
	wantReason(t, e.read(t, dr, pid, nil), false, access.ReasonNoAuthorisation)
	wantCode(t, e.svc.RevokeAuthorisation(ctx, me, audit.ChannelWeb, pid, dr.ID), errs.NotFound)
	_, err = e.svc.RenewAuthorisation(ctx, me, audit.ChannelWeb, pid, dr.ID, 0)
	wantCode(t, err, errs.NotFound)
	if tr := e.last(t, pid, access.TraceAuthorisationRenew); tr.Outcome != audit.Denied || !strings.HasPrefix(tr.Reason, "not_found: ") {
		t.Fatalf("refused renewal trace %+v", tr)
	}
	if s := e.settings(t, pid); len(s.Authorisations) != 0 {
		t.Fatalf("settings after revocation %+v", s.Authorisations)
	}

	// A negative length is refused, and a bad identifier is refused, both traced.
	_, err = e.svc.GrantAuthorisation(ctx, me, audit.ChannelWeb, pid, dr.ID, -time.Hour)
	wantCode(t, err, errs.Invalid)
	_, err = e.svc.GrantAuthorisation(ctx, me, audit.ChannelWeb, pid, "810000000000", 0)
	wantCode(t, err, errs.Invalid)
	if tr := e.last(t, pid, access.TraceAuthorisationGrant); tr.Outcome != audit.Denied || tr.Object != "professional" ||
		!strings.HasPrefix(tr.Reason, "invalid: ") {
		t.Fatalf("invalid grant trace %+v", tr)
	}
	if s := e.settings(t, pid); len(s.Authorisations) != 0 {
		t.Fatalf("refused grants stored something: %+v", s.Authorisations)
	}
	e.verify(t)
}

func TestAuthorisationLengthIsPolicy(t *testing.T) {
	e := newEnv(t, access.ServicePolicy{AuthorisationFor: 90 * 24 * time.Hour})
	pid := e.patient(t, 2, adultBorn)
	rec, err := e.svc.GrantAuthorisation(context.Background(), holderOf(pid), audit.ChannelWeb, pid, rpps(t, 2), 0)
	must(t, err)
	if !rec.Until.Equal(t0.Add(90 * 24 * time.Hour)) {
		t.Fatalf("until %v, want the policy's 90 days", rec.Until)
	}
	rec, err = e.svc.GrantAuthorisation(context.Background(), holderOf(pid), audit.ChannelWeb, pid, rpps(t, 2), time.Hour)
	must(t, err)
	if !rec.Until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("until %v, want the hour asked for", rec.Until)
	}
	e.verify(t)
}

func TestBlockBeatsEverything(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, access.ServicePolicy{})
	pid := e.patient(t, 3, adultBorn)
	me, dr := holderOf(pid), doctor(rpps(t, 3))
	coma := &access.BreakGlass{Reason: "patient unconscious, suspected overdose"}

	_, err := e.svc.GrantAuthorisation(ctx, me, audit.ChannelWeb, pid, dr.ID, 0)
	must(t, err)
	must(t, e.svc.Block(ctx, me, audit.ChannelWeb, pid, dr.ID))
	wantReason(t, e.read(t, dr, pid, nil), false, access.ReasonBlocked)
	wantReason(t, e.read(t, dr, pid, coma), false, access.ReasonBlocked)
	if tr := e.last(t, pid, string(access.ActionRead)); tr.Outcome != audit.Denied || tr.Detail != coma.Reason {
		t.Fatalf("refused break-glass trace %+v: want the stated reason kept", tr)
	}

	// No ground can be given to a blocked professional; blocking again keeps the first date.
	e.clock.Advance(time.Hour)
	_, err = e.svc.GrantAuthorisation(ctx, me, audit.ChannelWeb, pid, dr.ID, 0)
	wantCode(t, err, errs.Conflict)
	wantCode(t, e.svc.DesignateMedecinTraitant(ctx, me, audit.ChannelWeb, pid, dr.ID), errs.Conflict)
	wantCode(t, e.svc.AddToCareTeam(ctx, me, audit.ChannelWeb, pid, dr.ID, access.CareDesignated), errs.Conflict)
	must(t, e.svc.Block(ctx, me, audit.ChannelWeb, pid, dr.ID))
	s := e.settings(t, pid)
	if len(s.Blocked) != 1 || s.Blocked[0].IdNat != dr.ID || !s.Blocked[0].Since.Equal(t0) ||
		len(s.MedecinsTraitants) != 0 || len(s.CareTeam) != 0 || len(s.Authorisations) != 1 {
		t.Fatalf("settings %+v", s)
	}

	// Unblocking restores the authorisation the block overrode.
	must(t, e.svc.Unblock(ctx, me, audit.ChannelWeb, pid, dr.ID))
	wantReason(t, e.read(t, dr, pid, nil), true, access.ReasonAuthorisation)
	wantCode(t, e.svc.Unblock(ctx, me, audit.ChannelWeb, pid, dr.ID), errs.NotFound)
	e.verify(t)
}

func TestMedecinTraitant(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, access.ServicePolicy{})
	pid := e.patient(t, 4, adultBorn)
	me, mt, other := holderOf(pid), doctor(rpps(t, 4)), doctor(rpps(t, 5))

	must(t, e.svc.DesignateMedecinTraitant(ctx, me, audit.ChannelWeb, pid, mt.ID))
	wantReason(t, e.read(t, mt, pid, nil), true, access.ReasonMedecinTraitant)

	// The médecin traitant sees a masked document; a professional with only an authorisation
	// is told it does not exist.
	masked := reportBy("810100534436")
	masked.Object.Labels.MasquePS = true
	wantReason(t, e.decide(t, mt, pid, access.ActionRead, masked, nil), true, access.ReasonMedecinTraitant)
	_, err := e.svc.GrantAuthorisation(ctx, me, audit.ChannelWeb, pid, other.ID, 0)
	must(t, err)
	d := e.decide(t, other, pid, access.ActionRead, masked, nil)
	wantReason(t, d, false, access.ReasonMasked)
	if errs.CodeOf(d.Err()) != errs.NotFound {
		t.Fatalf("masked refusal %v, want NotFound", d.Err())
	}

	// An emergency access names the médecin traitant among those to tell.
	must(t, e.svc.RevokeAuthorisation(ctx, me, audit.ChannelWeb, pid, other.ID))
	d = e.read(t, other, pid, &access.BreakGlass{Reason: "unconscious"})
	wantReason(t, d, true, access.ReasonBreakGlass)
	if !slices.Contains(d.Notify, access.NotifyMedecinTraitant) {
		t.Fatalf("notify %v, want the médecin traitant", d.Notify)
	}

	must(t, e.svc.RemoveMedecinTraitant(ctx, me, audit.ChannelWeb, pid, mt.ID))
	wantReason(t, e.read(t, mt, pid, nil), false, access.ReasonNoAuthorisation)
	wantCode(t, e.svc.RemoveMedecinTraitant(ctx, me, audit.ChannelWeb, pid, mt.ID), errs.NotFound)
	e.verify(t)
}

func TestOppositions(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, access.ServicePolicy{})
	pid := e.patient(t, 6, adultBorn)
	me, dr := holderOf(pid), doctor(rpps(t, 6))
	samu := doctor(rpps(t, 7))
	samu.Regulator = true
	bg := &access.BreakGlass{Reason: "cardiac arrest, allergies unknown"}

	d := e.read(t, dr, pid, bg)
	wantReason(t, d, true, access.ReasonBreakGlass)
	if !d.Until.Equal(t0.Add(access.DefaultBreakGlassFor)) {
		t.Fatalf("break-glass until %v", d.Until)
	}
	if tr := e.last(t, pid, string(access.ActionRead)); tr.Outcome != audit.Allowed || tr.Detail != bg.Reason {
		t.Fatalf("break-glass trace %+v", tr)
	}
	wantReason(t, e.read(t, samu, pid, nil), true, access.ReasonRegulation)

	must(t, e.svc.SetOppositions(ctx, me, audit.ChannelWeb, pid, true, false))
	wantReason(t, e.read(t, dr, pid, bg), false, access.ReasonBreakGlassOpposed)
	wantReason(t, e.read(t, samu, pid, nil), true, access.ReasonRegulation)

	e.clock.Advance(time.Minute)
	must(t, e.svc.SetOppositions(ctx, me, audit.ChannelWeb, pid, true, true))
	wantReason(t, e.read(t, samu, pid, nil), false, access.ReasonRegulationOpposed)
	s := e.settings(t, pid)
	if !s.Oppositions.BreakGlass || !s.Oppositions.Regulation || !s.Oppositions.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("oppositions %+v", s.Oppositions)
	}
	if tr := e.last(t, pid, access.TraceOppositionsSet); tr.Detail != "break_glass=opposed regulation=opposed" || tr.Object != "oppositions" {
		t.Fatalf("oppositions trace %+v", tr)
	}

	must(t, e.svc.SetOppositions(ctx, me, audit.ChannelWeb, pid, false, false))
	wantReason(t, e.read(t, dr, pid, bg), true, access.ReasonBreakGlass)
	e.verify(t)
}

func TestProfessionalCannotManage(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, access.ServicePolicy{})
	pid := e.patient(t, 8, adultBorn)
	dr := doctor(rpps(t, 8))

	_, err := e.svc.GrantAuthorisation(ctx, dr, audit.ChannelFHIR, pid, dr.ID, 0)
	wantCode(t, err, errs.Forbidden)
	tr := e.last(t, pid, access.TraceAuthorisationGrant)
	if tr.Outcome != audit.Denied || access.ReasonOf(tr.Reason) != access.ReasonActionNotPermitted ||
		tr.Actor.ID != dr.ID || tr.Actor.Kind != audit.ActorProfessional || tr.Object != "professional/"+dr.ID {
		t.Fatalf("refusal trace %+v", tr)
	}
	for name, call := range map[string]func() error{
		"designate": func() error { return e.svc.DesignateMedecinTraitant(ctx, dr, audit.ChannelFHIR, pid, dr.ID) },
		"care team": func() error {
			return e.svc.AddToCareTeam(ctx, dr, audit.ChannelFHIR, pid, dr.ID, access.CareDesignated)
		},
		"oppositions": func() error { return e.svc.SetOppositions(ctx, dr, audit.ChannelFHIR, pid, true, true) },
		"block other": func() error { return e.svc.Block(ctx, dr, audit.ChannelFHIR, pid, rpps(t, 9)) },
		"settings":    func() error { _, err := e.svc.Settings(ctx, dr, audit.ChannelFHIR, pid); return err },
	} {
		if err := call(); errs.CodeOf(err) != errs.Forbidden {
			t.Errorf("%s by the professional: %v, want Forbidden", name, err)
		}
	}
	// Nothing changed, and the professional still has no ground.
	s := e.settings(t, pid)
	if len(s.Authorisations)+len(s.MedecinsTraitants)+len(s.CareTeam)+len(s.Blocked) != 0 || s.Oppositions.BreakGlass {
		t.Fatalf("settings changed by refused requests: %+v", s)
	}
	wantReason(t, e.read(t, dr, pid, nil), false, access.ReasonNoAuthorisation)
	denied := 0
	for _, tr := range e.traces(t, pid) {
		if tr.Entry.Actor.ID == dr.ID && tr.Entry.Outcome == audit.Denied {
			denied++
		}
	}
	if denied != 7 {
		t.Fatalf("%d denied traces of the professional, want 7", denied)
	}
	e.verify(t)
}

func TestRepresentatives(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, access.ServicePolicy{})
	child := e.patient(t, 10, t0.AddDate(-8, 0, 0))
	grownUp := e.patient(t, 11, t0.AddDate(-25, 0, 0))
	dr := doctor(rpps(t, 10))
	parentOf := func(patientID int64, minor bool) access.Actor {
		return access.Actor{Kind: audit.ActorRepresentative, ID: "account-parent", Name: "Paul Dupont", PatientID: patientID,
			Role: access.RoleParent, RepresentsMinor: minor, RepresentationCurrent: true}
	}

	// The parent of a minor manages the child's access.
	_, err := e.svc.GrantAuthorisation(ctx, parentOf(child, true), audit.ChannelWeb, child, dr.ID, 0)
	must(t, err)
	wantReason(t, e.read(t, dr, child, nil), true, access.ReasonAuthorisation)
	if tr := e.last(t, child, access.TraceAuthorisationGrant); tr.Actor.Kind != audit.ActorRepresentative ||
		access.ReasonOf(tr.Reason) != access.ReasonRepresentative {
		t.Fatalf("grant trace %+v", tr)
	}
	if _, err := e.svc.Settings(ctx, parentOf(child, true), audit.ChannelWeb, child); err != nil {
		t.Fatalf("the parent of a minor reads the settings: %v", err)
	}

	// The parent of an adult child does not, and nothing changes.
	_, err = e.svc.GrantAuthorisation(ctx, parentOf(grownUp, false), audit.ChannelWeb, grownUp, dr.ID, 0)
	wantCode(t, err, errs.Forbidden)
	wantCode(t, e.svc.Block(ctx, parentOf(grownUp, false), audit.ChannelWeb, grownUp, dr.ID), errs.Forbidden)
	if tr := e.last(t, grownUp, access.TraceAuthorisationGrant); tr.Outcome != audit.Denied ||
		access.ReasonOf(tr.Reason) != access.ReasonRepresentationEnded {
		t.Fatalf("refusal trace %+v", tr)
	}
	if s := e.settings(t, grownUp); len(s.Authorisations)+len(s.Blocked) != 0 {
		t.Fatalf("settings changed: %+v", s)
	}
	wantReason(t, e.read(t, dr, grownUp, nil), false, access.ReasonNoAuthorisation)

	// Nor does the patient of another record.
	_, err = e.svc.GrantAuthorisation(ctx, holderOf(grownUp), audit.ChannelWeb, child, dr.ID, 0)
	wantCode(t, err, errs.Forbidden)
	e.verify(t)
}

// TestOperatorAsDecideSays: whether an operator manages access is Decide's to say; the service
// adds no rule of its own.
func TestOperatorAsDecideSays(t *testing.T) {
	e := newEnv(t, access.ServicePolicy{})
	pid := e.patient(t, 12, adultBorn)
	op := access.Actor{Kind: audit.ActorOperator, ID: "op-1", Name: "Support"}
	want := access.Decide(access.Input{Actor: op, Patient: access.Patient{ID: pid}, Action: access.ActionManageAccess,
		Matrix: MustMatrix(t), Now: t0})
	err := e.svc.Block(context.Background(), op, audit.ChannelCLI, pid, rpps(t, 12))
	if (err == nil) != want.Allowed {
		t.Fatalf("operator block: %v, Decide says %s", err, want.Reason)
	}
	if tr := e.last(t, pid, access.TraceBlock); access.ReasonOf(tr.Reason) != want.Reason {
		t.Fatalf("trace %+v, Decide says %s", tr, want.Reason)
	}
	e.verify(t)
}

func TestCareTeam(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, access.ServicePolicy{})
	pid := e.patient(t, 13, adultBorn)
	me, designated, author, urgentist := holderOf(pid), doctor(rpps(t, 13)), doctor(rpps(t, 14)), doctor(rpps(t, 15))

	// Designated by the patient.
	must(t, e.svc.AddToCareTeam(ctx, me, audit.ChannelWeb, pid, designated.ID, access.CareDesignated))
	wantReason(t, e.read(t, designated, pid, nil), true, access.ReasonCareTeam)
	wantCode(t, e.svc.AddToCareTeam(ctx, me, audit.ChannelWeb, pid, author.ID, access.CareDeposit), errs.Invalid)

	// A professional the patient authorised deposits: the records service decides the deposit
	// in its own transaction and adds the author there. The authorisation may then go: the
	// author stays in the care team.
	_, err := e.svc.GrantAuthorisation(ctx, me, audit.ChannelWeb, pid, author.ID, 0)
	must(t, err)
	deposit := func(actor access.Actor, bg *access.BreakGlass) (access.Decision, bool) {
		t.Helper()
		var added bool
		d, err := access.Do(ctx, e.svc, e.db.Update, actor, audit.ChannelFHIR, pid, access.ActionDeposit, reportBy(actor.ID), bg,
			func(tx *store.Tx, d access.Decision) error {
				var err error
				added, err = e.svc.AddToCareTeamTx(ctx, tx, actor, audit.ChannelFHIR, pid, actor.ID, access.CareDeposit, d)
				return err
			})
		must(t, err)
		return d, added
	}
	if d, added := deposit(author, nil); !added || d.Reason != access.ReasonAuthorisation {
		t.Fatalf("deposit %s, added %v", d.Reason, added)
	}
	if _, added := deposit(author, nil); added {
		t.Fatal("a member was added twice")
	}
	must(t, e.svc.RevokeAuthorisation(ctx, me, audit.ChannelWeb, pid, author.ID))
	wantReason(t, e.read(t, author, pid, nil), true, access.ReasonCareTeam)

	// An emergency deposit makes nobody a member.
	if d, added := deposit(urgentist, &access.BreakGlass{Reason: "unconscious"}); added || d.Reason != access.ReasonBreakGlass {
		t.Fatalf("break-glass deposit %s, added %v", d.Reason, added)
	}
	wantReason(t, e.read(t, urgentist, pid, nil), false, access.ReasonNoAuthorisation)

	s := e.settings(t, pid)
	if len(s.CareTeam) != 2 {
		t.Fatalf("care team %+v", s.CareTeam)
	}
	for _, m := range s.CareTeam {
		want := map[string]access.CareBasis{designated.ID: access.CareDesignated, author.ID: access.CareDeposit}[m.IdNat]
		if m.Basis != want || !m.Since.Equal(t0) {
			t.Errorf("member %+v, want basis %q", m, want)
		}
	}
	joined := 0
	for _, tr := range e.traces(t, pid) {
		if tr.Entry.Action == access.TraceCareTeamAdd && tr.Entry.Outcome == audit.Allowed {
			joined++
		}
	}
	if joined != 2 {
		t.Fatalf("%d care team traces, want 2 (one per member)", joined)
	}

	must(t, e.svc.RemoveFromCareTeam(ctx, me, audit.ChannelWeb, pid, designated.ID))
	wantReason(t, e.read(t, designated, pid, nil), false, access.ReasonNoAuthorisation)
	wantCode(t, e.svc.RemoveFromCareTeam(ctx, me, audit.ChannelWeb, pid, designated.ID), errs.NotFound)
	e.verify(t)
}

// TestDoRollsBack: what act writes commits with the allowed decision or not at all, and a
// failed act is traced on its own; a refusal never runs act.
func TestDoRollsBack(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, access.ServicePolicy{})
	pid := e.patient(t, 16, adultBorn)
	me, dr := holderOf(pid), doctor(rpps(t, 16))
	_, err := e.svc.GrantAuthorisation(ctx, me, audit.ChannelWeb, pid, dr.ID, 0)
	must(t, err)
	before := len(e.traces(t, pid))

	d, err := access.Do(ctx, e.svc, e.db.Update, dr, audit.ChannelFHIR, pid, access.ActionDeposit, reportBy(dr.ID), nil,
		func(tx *store.Tx, _ access.Decision) error {
			if _, err := tx.AddCareTeamMember(ctx, pid, access.CareTeamMember{IdNat: dr.ID, Since: t0, Basis: access.CareDeposit}); err != nil {
				return err
			}
			return errs.E(errs.Conflict, "a document with this uniqueId exists")
		})
	wantCode(t, err, errs.Conflict)
	if !d.Allowed {
		t.Fatalf("decision %s", d.Reason)
	}
	tr := e.traces(t, pid)
	if len(tr) != before+1 || tr[len(tr)-1].Entry.Outcome != audit.Denied ||
		tr[len(tr)-1].Entry.Reason != "conflict: a document with this uniqueId exists" {
		t.Fatalf("traces after a failed act: %d new, last %+v", len(tr)-before, tr[len(tr)-1].Entry)
	}
	if s := e.settings(t, pid); len(s.CareTeam) != 0 {
		t.Fatalf("the failed act's write survived: %+v", s.CareTeam)
	}

	ran := false
	d, err = access.Do(ctx, e.svc, e.db.Update, doctor(rpps(t, 17)), audit.ChannelFHIR, pid, access.ActionRead, reportBy(dr.ID), nil,
		func(*store.Tx, access.Decision) error { ran = true; return nil })
	if ran || d.Allowed || errs.CodeOf(err) != errs.Forbidden || d.Reason != access.ReasonNoAuthorisation {
		t.Fatalf("refused Do: ran %v, %s, %v", ran, d.Reason, err)
	}
	e.verify(t)
}

func TestUnknownPatientAndBadActor(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, access.ServicePolicy{})
	pid := e.patient(t, 18, adultBorn)
	dr := doctor(rpps(t, 18))

	d, err := e.svc.Decide(ctx, dr, audit.ChannelFHIR, 987654, access.ActionRead, reportBy(dr.ID), nil)
	wantCode(t, err, errs.NotFound)
	if d.Reason != "" {
		t.Fatalf("decision %+v for no patient", d)
	}
	wantCode(t, e.svc.Block(ctx, holderOf(987654), audit.ChannelWeb, 987654, dr.ID), errs.NotFound)
	var n int
	must(t, e.db.SQL().QueryRow(`SELECT COUNT(*) FROM traces WHERE object = $1 AND patient_id IS NULL AND outcome = 'denied'`,
		"patient/987654").Scan(&n))
	if n != 2 {
		t.Fatalf("%d traces of the requests on no patient, want 2 in the actors' chains", n)
	}

	// A professional whose identifier is not an IdNat_PS gets nothing, not even break-glass:
	// the blocked list could not recognise them.
	bad := doctor(" 8-" + dr.ID)
	wantReason(t, e.read(t, bad, pid, &access.BreakGlass{Reason: "x"}), false, access.ReasonInvalidRequest)
	// A non-canonical but valid identifier is read in its canonical form.
	must(t, e.svc.Block(ctx, holderOf(pid), audit.ChannelWeb, pid, dr.ID))
	spaced := doctor(" " + dr.ID + " ")
	wantReason(t, e.read(t, spaced, pid, &access.BreakGlass{Reason: "x"}), false, access.ReasonBlocked)
	if tr := e.last(t, pid, string(access.ActionRead)); tr.Actor.ID != dr.ID {
		t.Fatalf("trace actor %q, want the canonical %q", tr.Actor.ID, dr.ID)
	}
	e.verify(t)
}

func outcome(d access.Decision) audit.Outcome {
	if d.Allowed {
		return audit.Allowed
	}
	return audit.Denied
}
