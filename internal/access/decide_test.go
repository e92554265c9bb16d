package access_test

import (
	"slices"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
)

// decideCase is one row of the table: an input, and the decision expected of it.
type decideCase struct {
	name    string
	in      access.Input
	want    access.Reason
	basis   access.Reason      // checked when not empty
	notify  []access.Recipient // checked when check.notify
	conceal bool
	check   struct{ notify bool }
}

// with returns a copy of in changed by f, so that each row reads as "this situation, but…".
// The copy is deep: rows built from one another must not share a pointer or a slice.
func with(in access.Input, f func(*access.Input)) access.Input {
	in = clone(in)
	f(&in)
	return in
}

func clone(in access.Input) access.Input {
	if in.BreakGlass != nil {
		bg := *in.BreakGlass
		in.BreakGlass = &bg
	}
	in.Patient.Blocked = slices.Clone(in.Patient.Blocked)
	in.Patient.MedecinsTraitants = slices.Clone(in.Patient.MedecinsTraitants)
	in.Actor.Scopes = slices.Clone(in.Actor.Scopes)
	in.Actor.Classes = slices.Clone(in.Actor.Classes)
	in.Actor.JobActions = slices.Clone(in.Actor.JobActions)
	in.Object.Authors = slices.Clone(in.Object.Authors)
	return in
}

func action(in access.Input, a access.Action) access.Input {
	in.Action = a
	return in
}

func object(in access.Input, o access.Object) access.Input {
	in.Object = o
	return in
}

func label(in access.Input, a access.Action, l access.Label) access.Input {
	in.Action, in.Label = a, l
	return in
}

func breakGlass(in access.Input, reason string) access.Input {
	in = clone(in)
	in.BreakGlass = &access.BreakGlass{Reason: reason}
	return in
}

func masked(o access.Object) access.Object {
	o.Labels.MasquePS = true
	return o
}

func heldBack(o access.Object, until time.Time) access.Object {
	o.Labels.InvisiblePatient, o.Labels.VisibleToPatientAt = true, until
	return o
}

func hiddenFromParents(o access.Object) access.Object {
	o.Labels.InvisibleRepresentants = true
	return o
}

func notifyCase(c decideCase, n ...access.Recipient) decideCase {
	c.notify, c.check.notify = n, true
	return c
}

func patientCases(t *testing.T) []decideCase {
	p := asPatient(t)
	later := now.Add(72 * time.Hour)
	return []decideCase{
		{name: "patient reads their report", in: p, want: access.ReasonSelf},
		{name: "patient lists their report", in: action(p, access.ActionList), want: access.ReasonSelf},
		{name: "patient searches their record", in: action(p, access.ActionSearch), want: access.ReasonSelf},
		{name: "patient reads a masked document", in: object(p, masked(report())), want: access.ReasonSelf},
		{name: "patient reads a held-back document before the deadline", in: object(p, heldBack(report(), later)),
			want: access.ReasonInvisibleToPatient, conceal: true},
		{name: "patient lists a held-back document before the deadline", in: action(object(p, heldBack(report(), later)), access.ActionList),
			want: access.ReasonInvisibleToPatient, conceal: true},
		{name: "patient reads a held-back document at the deadline", in: object(p, heldBack(report(), now)), want: access.ReasonSelf},
		{name: "patient reads a held-back document with no deadline known", in: object(p, heldBack(report(), time.Time{})),
			want: access.ReasonInvisibleToPatient, conceal: true},
		{name: "patient deletes a held-back document before the deadline", in: action(object(p, heldBack(report(), later)), access.ActionDelete),
			want: access.ReasonInvisibleToPatient, conceal: true},
		{name: "patient reads a document hidden from representatives", in: object(p, hiddenFromParents(report())), want: access.ReasonSelf},
		{name: "patient reads another patient's record", in: with(p, func(in *access.Input) { in.Patient.ID = otherID }),
			want: access.ReasonNotHolder},
		{name: "patient deposits into the Espace personnel", in: action(object(p, doc("DOCPAT03")), access.ActionDeposit), want: access.ReasonSelf},
		{name: "patient deposits a health document", in: action(p, access.ActionDeposit), want: access.ReasonSpaceNotAllowed},
		{name: "patient deposits a document of unknown type and space", in: action(object(p, doc("NOPE")), access.ActionDeposit),
			want: access.ReasonInvalidRequest},
		{name: "patient replaces what they deposited",
			in:   action(object(p, access.Object{Type: "DOCPAT03", DepositedBy: access.DepositedByPatient}), access.ActionReplace),
			want: access.ReasonSelf},
		{name: "patient replaces a professional's report", in: action(p, access.ActionReplace), want: access.ReasonAuthorOnly},
		{name: "patient deletes a report", in: action(p, access.ActionDelete), want: access.ReasonSelf},
		{name: "patient archives a report", in: action(p, access.ActionArchive), want: access.ReasonSelf},
		{name: "patient masks a report", in: action(p, access.ActionMask), want: access.ReasonSelf},
		{name: "patient unmasks a report", in: action(object(p, masked(report())), access.ActionUnmask), want: access.ReasonSelf},
		{name: "patient sets MASQUE_PS as a label", in: label(p, access.ActionSetLabel, access.LabelMasquePS), want: access.ReasonSelf},
		{name: "patient lifts INVISIBLE_PATIENT past the deadline",
			in:   label(object(p, heldBack(report(), now.Add(-time.Hour))), access.ActionClearLabel, access.LabelInvisiblePatient),
			want: access.ReasonAuthorOnly},
		{name: "patient hides a document from their parents", in: label(p, access.ActionSetLabel, access.LabelInvisibleRepresentants),
			want: access.ReasonSelf},
		{name: "patient sets an unknown label", in: label(p, access.ActionSetLabel, "SECRET"), want: access.ReasonInvalidRequest},
		{name: "patient reads their trail", in: action(p, access.ActionReadTraces), want: access.ReasonSelf},
		{name: "patient manages access", in: action(p, access.ActionManageAccess), want: access.ReasonSelf},
		{name: "patient exports their space", in: action(p, access.ActionExport), want: access.ReasonSelf},
		{name: "patient imports their former record", in: action(p, access.ActionImport), want: access.ReasonSelf},
		{name: "patient administers their space", in: action(p, access.ActionAdminister), want: access.ReasonSelf},
	}
}

func representativeCases(t *testing.T) []decideCase {
	parent, guardian := asRep(t, access.RoleParent), asRep(t, access.RoleGuardian)
	guardian.Actor.RepresentsMinor = false
	return []decideCase{
		{name: "parent reads their child's report", in: parent, want: access.ReasonRepresentative},
		{name: "parent reads a document the minor hid from them", in: object(parent, hiddenFromParents(report())),
			want: access.ReasonInvisibleToRepresentatives, basis: access.ReasonRepresentative, conceal: true},
		{name: "parent lists a document the minor hid from them", in: action(object(parent, hiddenFromParents(report())), access.ActionList),
			want: access.ReasonInvisibleToRepresentatives, conceal: true},
		{name: "parent masks a document the minor hid from them", in: action(object(parent, hiddenFromParents(report())), access.ActionMask),
			want: access.ReasonInvisibleToRepresentatives, conceal: true},
		{name: "parent reads a held-back document before the deadline", in: object(parent, heldBack(report(), now.Add(time.Hour))),
			want: access.ReasonInvisibleToPatient, conceal: true},
		{name: "parent reads a masked document", in: object(parent, masked(report())), want: access.ReasonRepresentative},
		{name: "parent of a child come of age", in: with(parent, func(in *access.Input) { in.Actor.RepresentsMinor = false }),
			want: access.ReasonRepresentationEnded},
		{name: "representation no longer current", in: with(guardian, func(in *access.Input) { in.Actor.RepresentationCurrent = false }),
			want: access.ReasonRepresentationEnded},
		{name: "guardian of an adult reads", in: guardian, want: access.ReasonRepresentative},
		{name: "guardian reads a document hidden from representatives", in: object(guardian, hiddenFromParents(report())),
			want: access.ReasonInvisibleToRepresentatives, conceal: true},
		{name: "curator reads", in: asRep(t, access.RoleCurator), want: access.ReasonRepresentationRole},
		{name: "unknown role", in: asRep(t, "uncle"), want: access.ReasonRepresentationRole},
		{name: "representative of another person", in: with(parent, func(in *access.Input) { in.Actor.PatientID = otherID }),
			want: access.ReasonNotHolder},
		{name: "parent sets INVISIBLE_REPRESENTANTS_LEGAUX", in: label(parent, access.ActionSetLabel, access.LabelInvisibleRepresentants),
			want: access.ReasonPatientOnly},
		{name: "parent deposits into the Espace personnel", in: action(object(parent, doc("DOCPAT01")), access.ActionDeposit),
			want: access.ReasonRepresentative},
		{name: "parent manages access", in: action(parent, access.ActionManageAccess), want: access.ReasonRepresentative},
		{name: "parent reads the trail", in: action(parent, access.ActionReadTraces), want: access.ReasonRepresentative},
	}
}

func professionalCases(t *testing.T) []decideCase {
	doctor := inTeam(t, drHouse, "G15_10")
	stranger := asPS(t, drHouse, "G15_10")
	authorised := with(stranger, func(in *access.Input) {
		in.Relation.Authorisation = access.Authorisation{State: access.AuthValid, Until: now.AddDate(1, 0, 0)}
	})
	blocked := func(in access.Input) access.Input {
		in = clone(in)
		in.Patient.Blocked = []string{in.Actor.ID}
		return in
	}
	mt := asPS(t, drMT, "G15_10")
	author := asPS(t, drAuthor, "G15_10")
	reg := with(asPS(t, regulator, "G15_10"), func(in *access.Input) { in.Actor.Regulator = true })
	bg := breakGlass(stranger, "unconscious, brought in by the fire brigade")
	heldBackReport := heldBack(report(), now.Add(72*time.Hour))
	cases := []decideCase{
		// Grounds.
		{name: "care-team doctor reads a report", in: doctor, want: access.ReasonCareTeam},
		{name: "care team since a future date", in: with(doctor, func(in *access.Input) { in.Relation.CareTeamSince = now.Add(time.Hour) }),
			want: access.ReasonNoAuthorisation},
		{name: "authorised doctor reads", in: authorised, want: access.ReasonAuthorisation},
		{name: "authorisation without end", in: with(stranger, func(in *access.Input) { in.Relation.Authorisation.State = access.AuthValid }),
			want: access.ReasonAuthorisation},
		{name: "valid authorisation past its end", in: with(authorised, func(in *access.Input) { in.Relation.Authorisation.Until = now }),
			want: access.ReasonAuthorisationExpired},
		{name: "expired authorisation", in: with(stranger, func(in *access.Input) { in.Relation.Authorisation.State = access.AuthExpired }),
			want: access.ReasonAuthorisationExpired},
		{name: "refused authorisation", in: with(stranger, func(in *access.Input) { in.Relation.Authorisation.State = access.AuthRefused }),
			want: access.ReasonAuthorisationRefused},
		{name: "no authorisation", in: stranger, want: access.ReasonNoAuthorisation},
		{name: "no authorisation to search", in: action(stranger, access.ActionSearch), want: access.ReasonNoAuthorisation},
		{name: "care team searches", in: action(doctor, access.ActionSearch), want: access.ReasonCareTeam},
		{name: "médecin traitant reads", in: mt, want: access.ReasonMedecinTraitant},
		{name: "author without any ground reads their document", in: author, want: access.ReasonAuthor},

		// Blocking beats everything.
		{name: "blocked beats a valid authorisation", in: blocked(authorised), want: access.ReasonBlocked},
		{name: "blocked beats the care team", in: blocked(doctor), want: access.ReasonBlocked},
		{name: "blocked beats break-glass", in: blocked(bg), want: access.ReasonBlocked},
		{name: "blocked beats the médecin traitant", in: blocked(mt), want: access.ReasonBlocked},
		{name: "blocked beats authorship", in: blocked(author), want: access.ReasonBlocked},
		{name: "a professional without a ground writes to the patient", in: action(stranger, access.ActionWriteMail), want: access.ReasonMessaging},
		{name: "blocked beats writing to the patient", in: blocked(action(stranger, access.ActionWriteMail)), want: access.ReasonBlocked},
		{name: "blocked beats regulation", in: blocked(reg), want: access.ReasonBlocked},
		{name: "blocked reads no trail", in: action(blocked(doctor), access.ActionReadTraces), want: access.ReasonBlocked},

		// Emergencies.
		notifyCase(decideCase{name: "break-glass with a reason", in: bg, want: access.ReasonBreakGlass},
			access.NotifyPatient, access.NotifyMedecinTraitant),
		notifyCase(decideCase{name: "break-glass, patient without médecin traitant",
			in: with(bg, func(in *access.Input) { in.Patient.MedecinsTraitants = nil }), want: access.ReasonBreakGlass}, access.NotifyPatient),
		{name: "break-glass without a reason", in: breakGlass(stranger, "  \t"), want: access.ReasonBreakGlassReasonRequired},
		{name: "break-glass opposed", in: with(bg, func(in *access.Input) { in.Patient.OpposesBreakGlass = true }),
			want: access.ReasonBreakGlassOpposed},
		{name: "break-glass within its session", in: with(bg, func(in *access.Input) { in.BreakGlass.Opened = now.Add(-23 * time.Hour) }),
			want: access.ReasonBreakGlass},
		{name: "break-glass session over", in: with(bg, func(in *access.Input) { in.BreakGlass.Opened = now.Add(-24 * time.Hour) }),
			want: access.ReasonBreakGlassExpired},
		{name: "break-glass session over under a shorter policy",
			in: with(bg, func(in *access.Input) {
				in.BreakGlass.Opened, in.Policy.BreakGlassFor = now.Add(-2*time.Hour), time.Hour
			}), want: access.ReasonBreakGlassExpired},
		{name: "break-glass session opened in the future", in: with(bg, func(in *access.Input) { in.BreakGlass.Opened = now.Add(time.Hour) }),
			want: access.ReasonInvalidRequest},
		notifyCase(decideCase{name: "break-glass by a care-team member uses the care team", in: breakGlass(doctor, "coma"),
			want: access.ReasonCareTeam}),
		{name: "break-glass after a refused authorisation",
			in: with(bg, func(in *access.Input) { in.Relation.Authorisation.State = access.AuthRefused }), want: access.ReasonBreakGlass},
		{name: "break-glass to search", in: action(bg, access.ActionSearch), want: access.ReasonBreakGlass},
		{name: "break-glass to deposit", in: action(bg, access.ActionDeposit), want: access.ReasonBreakGlass},
		notifyCase(decideCase{name: "regulating doctor reads", in: reg, want: access.ReasonRegulation},
			access.NotifyPatient, access.NotifyMedecinTraitant),
		{name: "regulation opposed", in: with(reg, func(in *access.Input) { in.Patient.OpposesRegulation = true }),
			want: access.ReasonRegulationOpposed},
		{name: "regulation opposed, break-glass not", in: with(breakGlass(reg, "cardiac arrest"), func(in *access.Input) {
			in.Patient.OpposesRegulation = true
		}), want: access.ReasonBreakGlass},
		{name: "regulating doctor deposits", in: action(reg, access.ActionDeposit), want: access.ReasonRegulationReadOnly},
		{name: "regulating flag on a nurse", in: with(reg, func(in *access.Input) { in.Actor.Profession = "G15_60" }),
			want: access.ReasonNoAuthorisation},

		// MASQUE_PS.
		{name: "masked: author reads", in: object(author, masked(report())), want: access.ReasonAuthor},
		{name: "masked: médecin traitant reads", in: object(mt, masked(report())), want: access.ReasonMedecinTraitant},
		{name: "masked: other care-team doctor", in: object(doctor, masked(report())),
			want: access.ReasonMasked, basis: access.ReasonCareTeam, conceal: true},
		{name: "masked: left out of a care-team doctor's list", in: action(object(doctor, masked(report())), access.ActionList),
			want: access.ReasonMasked, conceal: true},
		notifyCase(decideCase{name: "masked: break-glass does not lift it", in: object(bg, masked(report())),
			want: access.ReasonMasked, basis: access.ReasonBreakGlass, conceal: true}),
		{name: "masked: regulation does not lift it", in: object(reg, masked(report())), want: access.ReasonMasked, conceal: true},
		{name: "masked: authorised doctor", in: object(authorised, masked(report())), want: access.ReasonMasked, conceal: true},

		// Labels that concern the patient's side do not hide from professionals.
		{name: "held back: author reads", in: object(author, heldBackReport), want: access.ReasonAuthor},
		{name: "held back: care-team doctor reads", in: object(doctor, heldBackReport), want: access.ReasonCareTeam},
		{name: "hidden from parents: care-team doctor reads", in: object(doctor, hiddenFromParents(report())), want: access.ReasonCareTeam},

		// The matrix.
		{name: "nurse reads a report", in: inTeam(t, nurse, "G15_60"), want: access.ReasonCareTeam},
		{name: "nurse reads a medical certificate", in: object(inTeam(t, nurse, "G15_60"), doc("89601-9")),
			want: access.ReasonMatrixDenied, basis: access.ReasonCareTeam},
		{name: "doctor reads a medical certificate", in: object(doctor, doc("89601-9")), want: access.ReasonCareTeam},
		{name: "nurse reads reimbursement data", in: object(inTeam(t, nurse, "G15_60"), doc("REMB")), want: access.ReasonMatrixDenied},
		{name: "doctor reads reimbursement data", in: object(doctor, doc("REMB")), want: access.ReasonCareTeam},
		{name: "nurse reads imaging", in: object(inTeam(t, nurse, "G15_60"), doc("18748-4")), want: access.ReasonMatrixDenied},
		{name: "advanced practice nurse reads imaging",
			in:   with(object(inTeam(t, nurse, "G15_60"), doc("18748-4")), func(in *access.Input) { in.Actor.Specialty = "G15_60/SI01" }),
			want: access.ReasonCareTeam},
		{name: "nurse reads a care plan", in: object(inTeam(t, nurse, "G15_60"), doc("18776-5")), want: access.ReasonCareTeam},
		{name: "doctor reads a proof of residence", in: object(doctor, doc("ATTEST-RESID")), want: access.ReasonMatrixDenied},
		{name: "doctor reads another management document", in: object(doctor, doc("ATTEST-DROITS-AM")), want: access.ReasonCareTeam},
		{name: "social worker reads a proof of residence", in: object(inTeam(t, social, "41"), doc("ATTEST-RESID")), want: access.ReasonCareTeam},
		{name: "social worker reads a consultation report", in: inTeam(t, social, "41"), want: access.ReasonMatrixDenied},
		{name: "social worker reads a care plan", in: object(inTeam(t, social, "41"), doc("18776-5")), want: access.ReasonCareTeam},
		{name: "social worker reads a social-sector document", in: object(inTeam(t, social, "41"), doc("28653-4")), want: access.ReasonCareTeam},
		{name: "pharmacist reads a prescription", in: object(inTeam(t, pharma, "G15_21"), doc("57833-6")), want: access.ReasonCareTeam},
		{name: "pharmacist reads biology results", in: object(inTeam(t, pharma, "G15_21"), doc("11502-2")), want: access.ReasonCareTeam},
		{name: "pharmacist reads a hospital report", in: object(inTeam(t, pharma, "G15_21"), doc("34112-3")), want: access.ReasonMatrixDenied},
		{name: "industry pharmacist reads a prescription",
			in:   with(object(inTeam(t, pharma, "G15_21"), doc("57833-6")), func(in *access.Input) { in.Actor.Specialty = "G15_21/B" }),
			want: access.ReasonMatrixDenied},
		{name: "medical secretariat (not a profession) reads", in: inTeam(t, "810000000099", "SECRETARIAT_MEDICAL"),
			want: access.ReasonMatrixDenied},
		{name: "unknown profession", in: inTeam(t, drHouse, "G99_99"), want: access.ReasonProfessionUnknown},
		{name: "no profession", in: inTeam(t, drHouse, ""), want: access.ReasonProfessionUnknown},
		{name: "specialty of another profession", in: with(doctor, func(in *access.Input) { in.Actor.Specialty = "G15_60/SI01" }),
			want: access.ReasonProfessionUnknown},
		{name: "specialty alone", in: with(doctor, func(in *access.Input) { in.Actor.Profession, in.Actor.Specialty = "", "G15_10/SM26" }),
			want: access.ReasonCareTeam},
		{name: "document with neither class nor type", in: object(doctor, access.Object{}), want: access.ReasonInvalidRequest},

		// Writing.
		{name: "care-team doctor deposits a report", in: action(doctor, access.ActionDeposit), want: access.ReasonCareTeam},
		{name: "care-team doctor deposits into the profile", in: action(object(doctor, doc("60591-5")), access.ActionDeposit),
			want: access.ReasonCareTeam},
		{name: "stranger deposits the report of their act", in: action(stranger, access.ActionDeposit), want: access.ReasonActOfCare},
		{name: "refused stranger deposits", in: action(with(stranger, func(in *access.Input) {
			in.Relation.Authorisation = access.Authorisation{State: access.AuthRefused}
		}), access.ActionDeposit), want: access.ReasonAuthorisationRefused},
		{name: "doctor deposits into the Espace personnel", in: action(object(doctor, doc("DOCPAT03")), access.ActionDeposit),
			want: access.ReasonSpaceNotAllowed},
		{name: "doctor deposits reimbursement data", in: action(object(doctor, doc("REMB")), access.ActionDeposit),
			want: access.ReasonSpaceNotAllowed},
		{name: "doctor deposits a document of no known space", in: action(object(doctor, access.Object{Class: "10"}), access.ActionDeposit),
			want: access.ReasonInvalidRequest},
		{name: "author replaces", in: action(author, access.ActionReplace), want: access.ReasonAuthor},
		{name: "care-team doctor replaces another's document", in: action(doctor, access.ActionReplace), want: access.ReasonAuthorOnly},
		{name: "author deletes", in: action(author, access.ActionDelete), want: access.ReasonAuthor},
		{name: "care-team doctor archives another's document", in: action(doctor, access.ActionArchive), want: access.ReasonAuthorOnly},
		{name: "author masks at the patient's request", in: action(author, access.ActionMask), want: access.ReasonAuthor},
		{name: "care-team doctor masks", in: action(doctor, access.ActionMask), want: access.ReasonPatientOnly},
		{name: "author unmasks", in: action(object(author, masked(report())), access.ActionUnmask), want: access.ReasonPatientOnly},
		{name: "author sets MASQUE_PS", in: label(author, access.ActionSetLabel, access.LabelMasquePS), want: access.ReasonAuthor},
		{name: "author clears MASQUE_PS", in: label(author, access.ActionClearLabel, access.LabelMasquePS), want: access.ReasonPatientOnly},
		{name: "author holds a document back", in: label(author, access.ActionSetLabel, access.LabelInvisiblePatient), want: access.ReasonAuthor},
		{name: "care-team doctor holds a document back", in: label(doctor, access.ActionSetLabel, access.LabelInvisiblePatient),
			want: access.ReasonAuthorOnly},
		{name: "médecin traitant lifts INVISIBLE_PATIENT after the announcement",
			in: label(object(mt, heldBackReport), access.ActionClearLabel, access.LabelInvisiblePatient), want: access.ReasonMedecinTraitant},
		{name: "médecin traitant sets INVISIBLE_PATIENT on another's document",
			in: label(mt, access.ActionSetLabel, access.LabelInvisiblePatient), want: access.ReasonAuthorOnly},
		{name: "author hides an act from the parents", in: label(author, access.ActionSetLabel, access.LabelInvisibleRepresentants),
			want: access.ReasonAuthor},
		{name: "care-team doctor hides an act from the parents", in: label(doctor, access.ActionSetLabel, access.LabelInvisibleRepresentants),
			want: access.ReasonAuthorOnly},
		{name: "professional sets no label", in: label(author, access.ActionSetLabel, ""), want: access.ReasonInvalidRequest},

		// The record as a whole.
		{name: "professional reads their own traces", in: action(doctor, access.ActionReadTraces), want: access.ReasonOwnTraces},
		{name: "professional manages access", in: action(doctor, access.ActionManageAccess), want: access.ReasonActionNotPermitted},
		{name: "professional exports a space", in: action(doctor, access.ActionExport), want: access.ReasonActionNotPermitted},
		{name: "professional imports into a space", in: action(doctor, access.ActionImport), want: access.ReasonActionNotPermitted},
		{name: "professional administers the space", in: action(mt, access.ActionAdminister), want: access.ReasonActionNotPermitted},
	}
	return cases
}

func otherActorCases(t *testing.T) []decideCase {
	a, op := asApp(t), asOperator(t)
	return []decideCase{
		{name: "app reads a granted category", in: a, want: access.ReasonApp},
		{name: "app reads outside its categories", in: object(a, doc("18748-4")), want: access.ReasonScope},
		{name: "app granted every category", in: with(object(a, doc("18748-4")), func(in *access.Input) { in.Actor.Classes = []string{"*"} }),
			want: access.ReasonApp},
		{name: "app searches without the scope", in: action(a, access.ActionSearch), want: access.ReasonScope},
		{name: "app deletes with a scope it may not have",
			in: with(action(a, access.ActionDelete), func(in *access.Input) {
				in.Actor.Scopes = append(in.Actor.Scopes, access.ActionDelete)
			}), want: access.ReasonScope},
		{name: "app reads a held-back document", in: object(a, heldBack(report(), now.Add(time.Hour))),
			want: access.ReasonInvisibleToPatient, conceal: true},
		{name: "app of a representative reads what the minor hid",
			in:   with(object(a, hiddenFromParents(report())), func(in *access.Input) { in.Actor.GrantedByRepresentative = true }),
			want: access.ReasonInvisibleToRepresentatives, conceal: true},
		{name: "app of the patient reads what the minor hid from parents", in: object(a, hiddenFromParents(report())), want: access.ReasonApp},
		{name: "app of another patient", in: with(a, func(in *access.Input) { in.Actor.PatientID = otherID }), want: access.ReasonNotHolder},
		{name: "app deposits into the Espace personnel",
			in:   with(action(object(a, doc("DOCPAT03")), access.ActionDeposit), func(in *access.Input) { in.Actor.Classes = []string{"10"} }),
			want: access.ReasonApp},
		{name: "app deposits a health document", in: action(a, access.ActionDeposit), want: access.ReasonSpaceNotAllowed},
		{name: "app reads a document of no known class", in: object(a, access.Object{Type: "NOPE"}), want: access.ReasonInvalidRequest},

		{name: "operator reads a document", in: op, want: access.ReasonOperatorNoContent},
		{name: "operator lists a document", in: action(op, access.ActionList), want: access.ReasonOperatorNoContent},
		{name: "operator searches a record", in: action(op, access.ActionSearch), want: access.ReasonOperatorNoContent},
		{name: "operator administers a space", in: action(op, access.ActionAdminister), want: access.ReasonOperator},
		{name: "operator exports a space without a legal request", in: action(op, access.ActionExport),
			want: access.ReasonLegalRequestRequired},
		{name: "operator exports a space on a legal request",
			in:   with(action(op, access.ActionExport), func(in *access.Input) { in.Actor.LegalRequest = "TJ Paris 2026/123" }),
			want: access.ReasonLegalRequest},
		{name: "operator imports a former record", in: action(op, access.ActionImport), want: access.ReasonOperator},
		{name: "operator reads a document on a legal request",
			in:   with(op, func(in *access.Input) { in.Actor.LegalRequest = "TJ Paris 2026/123" }),
			want: access.ReasonLegalRequest},
		{name: "operator deposits reimbursement data", in: action(object(op, doc("REMB")), access.ActionDeposit), want: access.ReasonOperator},
		{name: "operator deposits a report", in: action(op, access.ActionDeposit), want: access.ReasonSpaceNotAllowed},
		{name: "operator deposits a document of no known space", in: action(object(op, access.Object{}), access.ActionDeposit),
			want: access.ReasonInvalidRequest},
		{name: "operator deletes the insurer's data",
			in:   action(object(op, access.Object{Type: "REMB", DepositedBy: access.DepositedByInsurer}), access.ActionDelete),
			want: access.ReasonOperator},
		{name: "operator deletes a professional's report", in: action(op, access.ActionDelete), want: access.ReasonActionNotPermitted},
		{name: "operator reads the trail", in: action(op, access.ActionReadTraces), want: access.ReasonLegalRequestRequired},
		{name: "operator reads the trail on a legal request",
			in:   with(action(op, access.ActionReadTraces), func(in *access.Input) { in.Actor.LegalRequest = "TJ Paris 2026/123" }),
			want: access.ReasonLegalRequest},
		{name: "operator manages access", in: action(op, access.ActionManageAccess), want: access.ReasonActionNotPermitted},

		{name: "job does what it declared", in: label(asJob(t, access.ActionClearLabel), access.ActionClearLabel, access.LabelInvisiblePatient),
			want: access.ReasonSystem},
		{name: "job does what it did not declare", in: asJob(t, access.ActionClearLabel), want: access.ReasonJobUndeclared},
		{name: "public reads an emergency card that is on", in: with(asPatient(t), func(in *access.Input) {
			in.Actor, in.Action, in.Card = access.Actor{Kind: "public", ID: "192.0.2.0/24"}, access.ActionReadEmergencyCard,
				access.Card{On: true, TokenMatches: true}
		}), want: access.ReasonEmergencyCard},
		{name: "public reads an emergency card turned off", in: with(asPatient(t), func(in *access.Input) {
			in.Actor, in.Action, in.Card = access.Actor{Kind: "public", ID: "192.0.2.0/24"}, access.ActionReadEmergencyCard,
				access.Card{On: false, TokenMatches: true}
		}), want: access.ReasonEmergencyCardOff},
		{name: "public with a stale emergency card link", in: with(asPatient(t), func(in *access.Input) {
			in.Actor, in.Action, in.Card = access.Actor{Kind: "public", ID: "192.0.2.0/24"}, access.ActionReadEmergencyCard,
				access.Card{On: true}
		}), want: access.ReasonEmergencyCardOff},
		{name: "public reads a document", in: with(asPatient(t), func(in *access.Input) {
			in.Actor, in.Card = access.Actor{Kind: "public", ID: "192.0.2.0/24"}, access.Card{On: true, TokenMatches: true}
		}), want: access.ReasonActionNotPermitted},
		{name: "patient reads their card as the public would", in: with(asPatient(t), func(in *access.Input) {
			in.Action, in.Card = access.ActionReadEmergencyCard, access.Card{On: true, TokenMatches: true}
		}), want: access.ReasonActionNotPermitted},

		{name: "no matrix", in: with(asPatient(t), func(in *access.Input) { in.Matrix = nil }), want: access.ReasonMatrixMissing},
		{name: "no time", in: with(asPatient(t), func(in *access.Input) { in.Now = time.Time{} }), want: access.ReasonInvalidRequest},
		{name: "unknown action", in: action(asPatient(t), "document.burn"), want: access.ReasonInvalidRequest},
		{name: "unknown actor kind", in: with(asPatient(t), func(in *access.Input) { in.Actor.Kind = "robot" }),
			want: access.ReasonInvalidRequest},
		{name: "no patient", in: with(asPatient(t), func(in *access.Input) { in.Patient.ID, in.Actor.PatientID = 0, 0 }),
			want: access.ReasonInvalidRequest},
		{name: "no actor id", in: with(inTeam(t, "", "G15_10"), func(in *access.Input) {}), want: access.ReasonInvalidRequest},
		{name: "zero input", in: access.Input{}, want: access.ReasonMatrixMissing},
	}
}

func TestDecide(t *testing.T) {
	var cases []decideCase
	cases = append(cases, patientCases(t)...)
	cases = append(cases, representativeCases(t)...)
	cases = append(cases, professionalCases(t)...)
	cases = append(cases, otherActorCases(t)...)

	seen := map[access.Reason]bool{}
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		names[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			d := access.Decide(c.in)
			seen[d.Reason] = true
			if d.Reason != c.want {
				t.Fatalf("reason %q (basis %q, cell %v), want %q", d.Reason, d.Basis, d.Cell, c.want)
			}
			if d.Allowed != allowReasons[c.want] {
				t.Errorf("allowed %v with reason %q", d.Allowed, d.Reason)
			}
			if c.basis != "" && d.Basis != c.basis {
				t.Errorf("basis %q, want %q", d.Basis, c.basis)
			}
			if d.Conceal != c.conceal {
				t.Errorf("conceal %v, want %v", d.Conceal, c.conceal)
			}
			if c.check.notify && !slices.Equal(d.Notify, c.notify) {
				t.Errorf("notify %v, want %v", d.Notify, c.notify)
			}
			if !c.check.notify && d.Reason != access.ReasonBreakGlass && d.Reason != access.ReasonRegulation && d.Notify != nil {
				t.Errorf("notify %v on a decision that is no emergency access", d.Notify)
			}
			if c.in.Matrix != nil && d.MatrixVersion != "default-v1" {
				t.Errorf("matrix version %q, want default-v1", d.MatrixVersion)
			}
			if d.MessageFR == "" || d.MessageEN == "" {
				t.Errorf("no message: %+v", d)
			}
			if d.Action != c.in.Action || !d.At.Equal(c.in.Now) {
				t.Errorf("decision names action %q at %v, want %q at %v", d.Action, d.At, c.in.Action, c.in.Now)
			}
			if err := d.Err(); (err == nil) != d.Allowed {
				t.Errorf("Err() = %v for allowed=%v", err, d.Allowed)
			}
		})
	}
	// Every reason code is the answer of at least one row.
	for _, r := range access.Reasons() {
		if !seen[r] {
			t.Errorf("no case yields reason %q", r)
		}
	}
}

// TestBreakGlassSession checks the end of a break-glass session and that a refused request
// prepares no notice.
func TestBreakGlassSession(t *testing.T) {
	in := breakGlass(asPS(t, drHouse, "G15_10"), "unconscious")
	d := access.Decide(in)
	if !d.Allowed || !d.Until.Equal(now.Add(access.DefaultBreakGlassFor)) {
		t.Fatalf("new session: %+v, want allowed until %v", d, now.Add(access.DefaultBreakGlassFor))
	}
	in.BreakGlass.Opened = now.Add(-time.Hour)
	if d := access.Decide(in); !d.Until.Equal(now.Add(access.DefaultBreakGlassFor - time.Hour)) {
		t.Errorf("open session ends %v", d.Until)
	}
	in.Object = masked(report())
	if d := access.Decide(in); d.Allowed || d.Notify != nil || !d.Until.IsZero() {
		t.Errorf("refused masked document kept the session's notice or end: %+v", d)
	}
}

func TestErr(t *testing.T) {
	for _, c := range []struct {
		in   access.Input
		code errs.Code
	}{
		{object(inTeam(t, drHouse, "G15_10"), masked(report())), errs.NotFound},
		{breakGlass(asPS(t, drHouse, "G15_10"), ""), errs.Invalid},
		{asPS(t, drHouse, "G15_10"), errs.Forbidden},
		{access.Input{}, errs.Internal},
		{action(asPatient(t), "nope"), errs.Internal},
	} {
		d := access.Decide(c.in)
		err := d.Err()
		if errs.CodeOf(err) != c.code || errs.MessageOf(err) != d.MessageEN {
			t.Errorf("%s: Err() = %v (code %s), want code %s and message %q", d.Reason, err, errs.CodeOf(err), c.code, d.MessageEN)
		}
	}
	if err := access.Decide(asPatient(t)).Err(); err != nil {
		t.Errorf("allowed decision: Err() = %v", err)
	}
}
