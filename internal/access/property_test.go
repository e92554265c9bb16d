package access_test

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
)

// checkInvariants holds one decision to the properties every decision must have, whatever the
// input. It returns a description of the first broken one.
func checkInvariants(in access.Input, d access.Decision) string {
	switch {
	case d.Reason == "" || !slices.Contains(access.Reasons(), d.Reason):
		return "reason missing or unknown"
	case d.MessageFR == "" || d.MessageEN == "":
		return "message missing"
	case in.Matrix != nil && d.MatrixVersion != in.Matrix.Version():
		return "matrix version not named"
	case d.Allowed != (d.Err() == nil):
		return "Err disagrees with Allowed"
	case d.Allowed != allowReasons[d.Reason]:
		return "allowed with a refusal reason, or refused with a ground"
	case d.Allowed && d.Basis != d.Reason:
		return "allowed with a basis other than its reason"
	case d.Conceal && d.Allowed:
		return "allowed and concealed"
	case (len(d.Notify) > 0) != (d.Allowed && (d.Reason == access.ReasonBreakGlass || d.Reason == access.ReasonRegulation)):
		return "notice without emergency access, or emergency access without notice"
	case !d.Allowed && (!d.Until.IsZero() || d.OwnTracesOnly):
		return "refusal carrying a session or a trail filter"
	}
	if !d.Allowed {
		return ""
	}
	a, o := in.Actor, in.Object
	read := in.Action == access.ActionRead || in.Action == access.ActionList
	author := a.ID != "" && slices.Contains(o.Authors, a.ID)
	mt := slices.Contains(in.Patient.MedecinsTraitants, a.ID)
	hiddenFromPatient := o.Labels.InvisiblePatient && (o.Labels.VisibleToPatientAt.IsZero() || in.Now.Before(o.Labels.VisibleToPatientAt))
	docAction := in.Action != access.ActionSearch && in.Action != access.ActionReadTraces &&
		in.Action != access.ActionManageAccess && in.Action != access.ActionAdminister && in.Action != access.ActionDeposit &&
		in.Action != access.ActionExport && in.Action != access.ActionImport &&
		in.Action != access.ActionReadMail && in.Action != access.ActionSendMail && in.Action != access.ActionWriteMail
	switch a.Kind {
	case audit.ActorProfessional:
		switch {
		case slices.Contains(in.Patient.Blocked, a.ID):
			return "blocked professional allowed"
		case read && !author && o.Labels.MasquePS && !mt:
			return "masked document read by a professional neither author nor médecin traitant"
		case read && !author && (!d.Cell.Allow || d.Cell.Line == 0):
			return "professional read without a matrix cell allowing it"
		case d.Reason == access.ReasonBreakGlass && (in.BreakGlass == nil || in.Patient.OpposesBreakGlass):
			return "break-glass without a request or against the patient's opposition"
		case d.Reason == access.ReasonRegulation && (!a.Regulator || in.Patient.OpposesRegulation || in.Action == access.ActionDeposit):
			return "regulation without a regulator, against an opposition, or to deposit"
		}
	case audit.ActorPatient, audit.ActorRepresentative, audit.ActorApp:
		asRep := a.Kind == audit.ActorRepresentative || (a.Kind == audit.ActorApp && a.GrantedByRepresentative)
		switch {
		case a.PatientID != in.Patient.ID:
			return "someone else's record"
		case docAction && hiddenFromPatient:
			return "held-back document reached the patient's side before the deadline"
		case docAction && asRep && o.Labels.InvisibleRepresentants:
			return "document hidden from representatives reached one"
		case a.Kind == audit.ActorRepresentative && (!a.RepresentationCurrent || a.Role == access.RoleCurator):
			return "representation not in force"
		}
	case audit.ActorOperator:
		if in.Action == access.ActionRead || in.Action == access.ActionList || in.Action == access.ActionSearch {
			return "operator read content"
		}
	case audit.ActorSystem:
		if !slices.Contains(a.JobActions, in.Action) {
			return "job did what it did not declare"
		}
	default:
		return "unknown actor allowed"
	}
	return ""
}

// actors returns the actors of the exhaustive test, each with the relations it may have.
func actors(tb testing.TB) []access.Input {
	var out []access.Input
	base := asPatient(tb)
	add := func(f func(*access.Input)) { out = append(out, with(base, f)) }
	add(func(in *access.Input) {})
	add(func(in *access.Input) { in.Actor.PatientID = otherID })
	for _, r := range []access.Role{access.RoleParent, access.RoleGuardian, access.RoleCurator} {
		for _, minor := range []bool{false, true} {
			for _, current := range []bool{false, true} {
				in := asRep(tb, r)
				in.Actor.RepresentsMinor, in.Actor.RepresentationCurrent = minor, current
				out = append(out, in)
			}
		}
	}
	for _, byRep := range []bool{false, true} {
		for _, classes := range [][]string{nil, {"10"}, {"*"}} {
			in := asApp(tb)
			in.Actor.GrantedByRepresentative, in.Actor.Classes = byRep, classes
			in.Actor.Scopes = append(in.Actor.Scopes, access.ActionDelete, access.ActionReadTraces)
			out = append(out, in)
		}
	}
	out = append(out, asOperator(tb), asJob(tb), asJob(tb, access.Actions()...))

	relations := []func(*access.Input){
		func(in *access.Input) {},
		func(in *access.Input) { in.Relation.CareTeam = true },
		func(in *access.Input) {
			in.Relation.Authorisation = access.Authorisation{State: access.AuthValid, Until: now.Add(time.Hour)}
		},
		func(in *access.Input) {
			in.Relation.Authorisation = access.Authorisation{State: access.AuthValid, Until: now}
		},
		func(in *access.Input) { in.Relation.Authorisation.State = access.AuthRefused },
		func(in *access.Input) { in.Patient.MedecinsTraitants = []string{in.Actor.ID} },
		func(in *access.Input) { in.Relation.CareTeam, in.Patient.Blocked = true, []string{in.Actor.ID} },
	}
	requests := []*access.BreakGlass{nil, {Reason: "coma"}, {Reason: " "}, {Reason: "coma", Opened: now.Add(-48 * time.Hour)}}
	for _, prof := range [][2]string{{"G15_10", ""}, {"G15_60", ""}, {"G15_60", "G15_60/SI02"}, {"41", ""}, {"AUTOMATE", ""}, {"G99", ""}} {
		for _, regulator := range []bool{false, true} {
			for _, rel := range relations {
				for _, bg := range requests {
					for opp := range 4 {
						for _, id := range []string{drHouse, drAuthor} {
							in := asPS(tb, id, prof[0])
							in.Actor.Specialty, in.Actor.Regulator = prof[1], regulator
							rel(&in)
							if bg != nil {
								b := *bg
								in.BreakGlass = &b
							}
							in.Patient.OpposesBreakGlass, in.Patient.OpposesRegulation = opp&1 != 0, opp&2 != 0
							out = append(out, in)
						}
					}
				}
			}
		}
	}
	return out
}

// TestEveryCombination decides every actor × relation × emergency × opposition × label ×
// document × action of a small universe (issue 5's table of every actor kind × relationship ×
// label × action) and holds each decision to checkInvariants, and to being deterministic.
func TestEveryCombination(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive: over two million decisions, skipped in -short")
	}
	docs := []access.Object{report(), doc("89601-9"), doc("ATTEST-RESID"), doc("REMB"), doc("DOCPAT03"), doc("18776-5"),
		{Type: "REMB", DepositedBy: access.DepositedByInsurer}}
	labels := []access.Labels{
		{}, {MasquePS: true}, {InvisibleRepresentants: true},
		{InvisiblePatient: true, VisibleToPatientAt: now.Add(time.Hour)},
		{InvisiblePatient: true, VisibleToPatientAt: now.Add(-time.Hour)},
		{InvisiblePatient: true},
		{MasquePS: true, InvisiblePatient: true, InvisibleRepresentants: true, VisibleToPatientAt: now.Add(time.Hour)},
	}
	type act struct {
		a access.Action
		l access.Label
	}
	var acts []act
	for _, a := range access.Actions() {
		if a == access.ActionSetLabel || a == access.ActionClearLabel {
			for _, l := range []access.Label{access.LabelMasquePS, access.LabelInvisiblePatient, access.LabelInvisibleRepresentants} {
				acts = append(acts, act{a, l})
			}
			continue
		}
		acts = append(acts, act{a: a})
	}
	n, allowed := 0, 0
	for _, base := range actors(t) {
		for _, o := range docs {
			for _, l := range labels {
				for _, ac := range acts {
					in := base
					in.Object, in.Object.Labels, in.Action, in.Label = o, l, ac.a, ac.l
					d := access.Decide(in)
					if broken := checkInvariants(in, d); broken != "" {
						t.Fatalf("%s\ninput %+v\nactor %+v\ndecision %+v", broken, in, in.Actor, d)
					}
					// Determinism, on a sample: deciding twice costs as much as the rest.
					if n%7 == 0 && !reflect.DeepEqual(access.Decide(in), d) {
						t.Fatalf("not deterministic: %+v", d)
					}
					n++
					if d.Allowed {
						allowed++
					}
				}
			}
		}
	}
	t.Logf("%d decisions, %d allowed", n, allowed)
	if allowed == 0 || allowed == n {
		t.Fatalf("%d of %d allowed: the universe tests nothing", allowed, n)
	}
}

// FuzzDecide varies the fields that steer the decision, zero values included: Decide never
// panics, and every decision keeps the invariants.
func FuzzDecide(f *testing.F) {
	f.Add(uint8(2), uint8(0), uint32(0), "G15_10", "", "11488-4", "", "810000000001", int64(0))
	f.Add(uint8(2), uint8(0), uint32(0xffffffff), "G15_60", "G15_60/SI01", "89601-9", "coma", "810000000003", int64(-3600))
	f.Add(uint8(0), uint8(9), uint32(1<<12), "", "", "DOCPAT03", "", "acct", int64(3600))
	f.Add(uint8(255), uint8(255), uint32(0), "", "", "", "", "", int64(0))
	m := MustMatrix(f)
	f.Fuzz(func(t *testing.T, kind, act uint8, flags uint32, prof, spec, typ, reason, id string, offset int64) {
		kinds := []audit.ActorKind{audit.ActorPatient, audit.ActorRepresentative, audit.ActorProfessional,
			audit.ActorApp, audit.ActorOperator, audit.ActorSystem, ""}
		actions := append(access.Actions(), "")
		labels := []access.Label{access.LabelMasquePS, access.LabelInvisiblePatient, access.LabelInvisibleRepresentants, ""}
		bit := func(i uint) bool { return flags&(1<<i) != 0 }
		at := now.Add(time.Duration(offset) * time.Second)
		in := access.Input{
			Actor: access.Actor{Kind: kinds[int(kind)%len(kinds)], ID: id, PatientID: patientID, Profession: prof, Specialty: spec,
				Regulator: bit(0), RepresentsMinor: bit(1), RepresentationCurrent: bit(2), GrantedByRepresentative: bit(3),
				Role:   []access.Role{access.RoleParent, access.RoleGuardian, access.RoleCurator, ""}[flags>>28&3],
				Scopes: actions[:int(act)%len(actions)], Classes: []string{typ, "10"}, JobActions: actions[int(act)%len(actions):]},
			Patient: access.Patient{ID: patientID, OpposesBreakGlass: bit(4), OpposesRegulation: bit(5)},
			Action:  actions[int(act)%len(actions)],
			Label:   labels[flags>>26&3],
			Object: access.Object{Type: typ, Authors: []string{id}[:flags>>6&1],
				Labels: access.Labels{MasquePS: bit(7), InvisiblePatient: bit(8), InvisibleRepresentants: bit(9), VisibleToPatientAt: at}},
			Matrix: m, Now: now,
		}
		if bit(10) {
			in.Patient.Blocked = []string{id}
		}
		if bit(11) {
			in.Patient.MedecinsTraitants = []string{id}
		}
		if bit(12) {
			in.Relation.CareTeam, in.Relation.CareTeamSince = true, at
		}
		if bit(13) {
			in.Relation.Authorisation = access.Authorisation{State: access.AuthState(typ), Until: at}
		}
		if bit(14) {
			in.Relation.Authorisation = access.Authorisation{State: access.AuthValid, Until: at}
		}
		if bit(15) {
			in.BreakGlass = &access.BreakGlass{Reason: reason, Opened: at}
		}
		if bit(16) {
			in.Object.Class = spec
		}
		if bit(17) {
			in.Matrix = nil
		}
		if bit(18) {
			in.Now = time.Time{}
		}
		if bit(19) {
			in.Actor.PatientID = otherID
		}
		if bit(20) {
			in.Policy.BreakGlassFor = time.Duration(offset)
		}
		d := access.Decide(in)
		if broken := checkInvariants(in, d); broken != "" {
			t.Fatalf("%s\ninput %+v\ndecision %+v", broken, in, d)
		}
		if e := d.TraceEntry(in.Actor.Audit(), audit.ChannelWeb, patientID, "document/x"); e.Action == "" || e.Reason == "" {
			t.Fatalf("trace entry %+v", e)
		}
	})
}

// FuzzParseMatrix: the parser of the operator's file never panics, and what it accepts writes
// back to the same matrix.
func FuzzParseMatrix(f *testing.F) {
	f.Add("version\tv1\nprofession\tdocument\taccess\tnote\nG15_10\t*\tallow\tx\n")
	f.Add("version\tv1\nprofession\tdocument\taccess\tnote\nkind:social\tclass:44\tallow\nG15_10\ttype:ATTEST-RESID\tdeny\t\n")
	f.Add("# c\r\nversion\tv1\r\nprofession\tdocument\taccess\tnote\r\n*\t*\tdeny\t\r\n")
	f.Add("version\n")
	f.Fuzz(func(t *testing.T, src string) {
		m, err := access.ParseMatrix(strings.NewReader(src))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := m.WriteTSV(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := access.ParseMatrix(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("written matrix does not parse: %v\n%s", err, buf.String())
		}
		if back.Digest() != m.Digest() {
			t.Fatalf("digest changed on the round trip\n%s", buf.String())
		}
	})
}
