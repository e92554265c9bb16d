package access

import (
	"slices"
	"strings"

	"github.com/carnet-sante/carnet/internal/terminology"
)

// holder decides for the patient, and for those who act in the patient's place (a
// representative, an app the patient connected): they see the whole record (DOMAIN.md) but
// what the labels hide from them, and manage it. basis is the ground they act on; asRep applies
// what is hidden from representatives.
func holder(in Input, d Decision, basis Reason, asRep bool) Decision {
	d.Basis = basis
	if in.Action.onDocument() && in.Action != ActionDeposit {
		// What the holder cannot see, they can neither read, mask, nor delete: the document is
		// answered as absent (errs.NotFound) so that its existence does not leak before its
		// announcement (CSP R1111-53) or to the parents a minor keeps it from (CSP L1111-5).
		// A deposit is a new document of their own: no label of others bears on it.
		if asRep && in.Object.Labels.InvisibleRepresentants {
			return d.deny(ReasonInvisibleToRepresentatives)
		}
		if in.hiddenFromPatient() {
			return d.deny(ReasonInvisibleToPatient)
		}
	}
	switch in.Action {
	case ActionRead, ActionList, ActionSearch, ActionArchive, ActionDelete, ActionMask, ActionUnmask,
		ActionManageAccess, ActionAdminister, ActionExport, ActionImport, ActionReadMail, ActionSendMail:
		// The holder reads the whole record, hides documents from professionals (L1111-15),
		// archives and deletes, decides who may access (L1111-17 III), takes it all away and
		// brings in what they had elsewhere (RGPD art. 20). An export holds only what the
		// holder may list (access.Export decides each document).
		return d.allow(basis)
	case ActionReadTraces:
		// DOMAIN.md "Traces": the holder sees them all at any time. A trail read by a
		// representative (or their app) must leave out the traces of the documents hidden from
		// them: the trail service decides ActionList on each traced document and drops the
		// concealed ones, else the trail would reveal what the label hides.
		return d.allow(basis)
	case ActionDeposit:
		// DOMAIN.md "Who deposits": the patient deposits into their "Espace personnel" only.
		if in.space() == terminology.SpacePersonal {
			return d.allow(basis)
		}
		if in.space() == "" {
			return d.deny(ReasonInvalidRequest)
		}
		return d.deny(ReasonSpaceNotAllowed)
	case ActionReplace:
		// A new version of a document is its author's: the patient replaces what they deposited.
		if in.Object.DepositedBy == DepositedByPatient {
			return d.allow(basis)
		}
		return d.deny(ReasonAuthorOnly)
	case ActionSetLabel, ActionClearLabel:
		switch in.Label {
		case LabelMasquePS:
			return d.allow(basis)
		case LabelInvisiblePatient:
			// Set by the professional who holds the document back, lifted by the announcement or
			// the deadline (R1111-53); the patient cannot lift it.
			return d.deny(ReasonAuthorOnly)
		case LabelInvisibleRepresentants:
			// The minor's own secret (L1111-5): the patient sets and lifts it, never a
			// representative.
			if asRep {
				return d.deny(ReasonPatientOnly)
			}
			return d.allow(basis)
		}
		return d.deny(ReasonInvalidRequest)
	}
	return d.deny(ReasonInvalidRequest)
}

// representative decides for a legal representative: like the patient, while the
// representation lasts, but not what a minor hides from them.
func representative(in Input, d Decision) Decision {
	a := in.Actor
	if a.PatientID != in.Patient.ID {
		return d.deny(ReasonNotHolder)
	}
	switch a.Role {
	case RoleParent, RoleGuardian:
	case RoleCurator:
		// Our default, after Code civil art. 459: an adult under curatorship takes the decisions
		// about their own person, health included; the curator assists with property, so has no
		// access to the health record of their own.
		return d.deny(ReasonRepresentationRole)
	default:
		return d.deny(ReasonRepresentationRole)
	}
	// A parent's authority ends at the child's majority (space.Service.ActsFor); a parent of an
	// adult is no representative, whatever the caller says.
	if !a.RepresentationCurrent || (a.Role == RoleParent && !a.RepresentsMinor) {
		return d.deny(ReasonRepresentationEnded)
	}
	if (in.Action == ActionReadMail || in.Action == ActionSendMail) && !a.RepresentsMinor {
		// Our default: the messages of an adult are their own correspondence; a representative
		// reads and answers them for a minor only.
		return d.deny(ReasonRepresentationRole)
	}
	return holder(in, d, ReasonRepresentative, true)
}

// appActions are the only actions an app may be granted (our default): it reads what the
// patient lets it read, pushes documents into the Espace personnel, and reads the trail for the
// patient's own apps (issue 5, FHIR AuditEvent). Masking, deleting and managing access stay
// with the patient, in the portal.
var appActions = []Action{ActionRead, ActionList, ActionSearch, ActionDeposit, ActionReadTraces}

// app decides for a referenced app the patient connected (OAuth scopes): within what was
// granted, and never more than the patient (or the representative who connected it) may see.
func app(in Input, d Decision) Decision {
	a := in.Actor
	if a.PatientID != in.Patient.ID {
		return d.deny(ReasonNotHolder)
	}
	if !slices.Contains(appActions, in.Action) || !slices.Contains(a.Scopes, in.Action) {
		return d.deny(ReasonScope)
	}
	if in.Action.onDocument() {
		c := in.class()
		if c == "" {
			return d.deny(ReasonInvalidRequest)
		}
		if !slices.Contains(a.Classes, c) && !slices.Contains(a.Classes, "*") {
			return d.deny(ReasonScope)
		}
	}
	return holder(in, d, ReasonApp, a.GrantedByRepresentative)
}

// operator decides for the health insurer's staff running the service: administrative actions
// and the insurer's own reimbursement data (DESIGN.md "Who uses it"), never the content of a
// record (our default: nothing in their work needs it, and the insurer is no carer).
func operator(in Input, d Decision) Decision {
	switch in.Action {
	case ActionAdminister:
		return d.allow(ReasonOperator)
	case ActionDeposit:
		// DOMAIN.md "Who deposits": the health insurer, reimbursements.
		switch in.space() {
		case terminology.SpaceReimbursements:
			return d.allow(ReasonOperator)
		case "":
			return d.deny(ReasonInvalidRequest)
		}
		return d.deny(ReasonSpaceNotAllowed)
	case ActionReplace, ActionArchive, ActionDelete:
		// Corrections and retention of the insurer's own deposits, which need no reading.
		if in.Object.DepositedBy == DepositedByInsurer {
			return d.allow(ReasonOperator)
		}
		return d.deny(ReasonActionNotPermitted)
	case ActionImport:
		// Bringing a person's former record into their space (migration): a write that reads
		// nothing of the space.
		return d.allow(ReasonOperator)
	case ActionExport, ActionReadTraces:
		// The one case where the operator takes content: a legal request (a judge's
		// requisition), whose reference is stated and traced. Our default: nothing else.
		if strings.TrimSpace(in.Actor.LegalRequest) == "" {
			return d.deny(ReasonLegalRequestRequired)
		}
		return d.allow(ReasonLegalRequest)
	case ActionRead, ActionList, ActionSearch:
		// What a legal request's export reads (the record, the agenda) it reads whole.
		if strings.TrimSpace(in.Actor.LegalRequest) != "" {
			return d.allow(ReasonLegalRequest)
		}
		return d.deny(ReasonOperatorNoContent)
	}
	return d.deny(ReasonActionNotPermitted)
}

// professional decides for a health, social or medico-social professional.
func professional(in Input, d Decision) Decision {
	// DOMAIN.md: a blocked professional gets no access at all, even with an authorisation. We
	// read "at all" literally: before authorship, the médecin traitant rights and emergencies.
	if slices.Contains(in.Patient.Blocked, in.Actor.ID) {
		return d.deny(ReasonBlocked)
	}
	author := in.Action.onDocument() && in.isAuthor()
	switch in.Action {
	case ActionWriteMail:
		// DOMAIN.md: only a professional starts a conversation, and needs no ground to do so
		// (the patient may not answer); the blocking above still stops them.
		return d.allow(ReasonMessaging)
	case ActionRead, ActionList:
		if author {
			// Authors always read what they wrote: the masking and the matrix protect the
			// patient from others, not from the document's own author (DOMAIN.md).
			return d.allow(ReasonAuthor)
		}
		d = ground(in, d, false)
		if !d.Allowed {
			return d
		}
		// MASQUE_PS: hidden from every professional but the author and the médecin traitant
		// (CSP L1111-16: the médecin traitant sees what the holder made inaccessible).
		// Break-glass and regulation do not lift it: the texts name no other exception, and the
		// patient who masked chose for every case.
		if in.Object.Labels.MasquePS && d.Basis != ReasonMedecinTraitant {
			return d.deny(ReasonMasked)
		}
		return matrix(in, d)
	case ActionSearch:
		// Searching reveals what the record holds: it needs a ground; each hit is then decided
		// with ActionList. An author without a ground still reads their own documents by id.
		return ground(in, d, false)
	case ActionDeposit:
		switch in.space() {
		case terminology.SpaceDocuments, terminology.SpaceProfile:
		case "":
			return d.deny(ReasonInvalidRequest)
		default:
			// The Espace personnel is the patient's, the reimbursements the insurer's.
			return d.deny(ReasonSpaceNotAllowed)
		}
		// CSP L1111-17 III: a professional of the care team, or authorised, feeds the record;
		// break-glass covers feeding too (I al. 1: "consulté ou alimenté"), regulation does not
		// (I al. 2: "consulté"). The matrix governs reading only.
		if g := ground(in, d, true); g.Allowed {
			return g
		} else if in.Relation.Authorisation.State == AuthRefused || g.Reason == ReasonBreakGlassOpposed ||
			g.Reason == ReasonRegulationReadOnly {
			// The patient declined this professional, or emergencies: what they said stands. A
			// regulating doctor acting as such reads only (L1111-17 I al. 2: "consulté").
			return g
		}
		// Otherwise the deposit is the report of an act this professional performed for the
		// patient: L1110-12 makes whoever takes part in an act of care a member of the care
		// team, and L1111-15 obliges them to report it in the record. Our reading: depositing
		// needs no prior consent (the record must not miss a report because its author saw the
		// patient first), and the author joins the care team (access.AddToCareTeamTx), which the
		// patient sees and can undo. Blocking, checked first, still stops everything.
		return d.allow(ReasonActOfCare)
	case ActionReplace, ActionArchive, ActionDelete:
		// A document is its author's to correct or withdraw; a later deposit by the same
		// professional needs no new consent, only the patient's information (CSP L1111-17 III).
		if author {
			return d.allow(ReasonAuthor)
		}
		return d.deny(ReasonAuthorOnly)
	case ActionMask:
		// The author may mask at the patient's request when depositing or later; masking only
		// narrows who sees.
		if author {
			return d.allow(ReasonAuthor)
		}
		return d.deny(ReasonPatientOnly)
	case ActionUnmask:
		// Lifting the patient's choice is the patient's (L1111-15).
		return d.deny(ReasonPatientOnly)
	case ActionSetLabel, ActionClearLabel:
		return professionalLabel(in, d, author)
	case ActionReadTraces:
		// DOMAIN.md "Traces": the acting professional sees theirs. Our reading of "the médecin
		// traitant and the acting professional see theirs": every professional sees the traces
		// of their own actions on this record, the médecin traitant included, and no more.
		d.OwnTracesOnly = true
		return d.allow(ReasonOwnTraces)
	}
	// Managing access and administering the space are the patient's and the operator's.
	return d.deny(ReasonActionNotPermitted)
}

// professionalLabel decides who among professionals sets or clears a label.
func professionalLabel(in Input, d Decision, author bool) Decision {
	switch in.Label {
	case LabelMasquePS:
		if in.Action == ActionSetLabel && author {
			return d.allow(ReasonAuthor)
		}
		return d.deny(ReasonPatientOnly)
	case LabelInvisiblePatient:
		// R1111-53: the professional who deposits holds the document back ("il peut rendre cette
		// donnée provisoirement inaccessible"); the announcement is made by a professional,
		// "notamment son médecin traitant", who may then lift it.
		if author {
			return d.allow(ReasonAuthor)
		}
		if in.Action == ActionClearLabel && slices.Contains(in.Patient.MedecinsTraitants, in.Actor.ID) {
			return d.allow(ReasonMedecinTraitant)
		}
		return d.deny(ReasonAuthorOnly)
	case LabelInvisibleRepresentants:
		// L1111-5: the minor asks the professional who treats them to keep the act from their
		// parents; that professional, the author, sets the label (and lifts it when the minor
		// agrees).
		if author {
			return d.allow(ReasonAuthor)
		}
		return d.deny(ReasonAuthorOnly)
	}
	return d.deny(ReasonInvalidRequest)
}

// ground establishes on what ground a professional reaches this patient's record, in this
// order: médecin traitant, care team, authorisation, regulation, break-glass. Emergency grounds
// come last so that a professional who has an ordinary ground uses it and the patient is not
// alarmed for nothing. It returns d allowed with its Basis, or denied with the most useful
// reason: the failed break-glass if one was asked, else the refused regulation, else the state
// of the authorisation.
func ground(in Input, d Decision, deposit bool) Decision {
	a, p, r, now := in.Actor, in.Patient, in.Relation, in.Now
	if slices.Contains(p.MedecinsTraitants, a.ID) {
		return d.allow(ReasonMedecinTraitant)
	}
	// CSP R1111-46: a member of the care team is deemed authorised.
	if r.CareTeam && !r.CareTeamSince.After(now) {
		return d.allow(ReasonCareTeam)
	}
	// CSP L1110-4 III al. 2, L1111-17 III: outside the care team, the patient's consent.
	refusal := ReasonNoAuthorisation
	switch r.Authorisation.State {
	case AuthValid:
		if r.Authorisation.Until.IsZero() || now.Before(r.Authorisation.Until) {
			return d.allow(ReasonAuthorisation)
		}
		refusal = ReasonAuthorisationExpired
	case AuthExpired:
		refusal = ReasonAuthorisationExpired
	case AuthRefused:
		// A refused authorisation is no blocking: the patient declined this request, yet an
		// emergency below may still apply (only the oppositions and blocking stop those).
		refusal = ReasonAuthorisationRefused
	}
	// CSP L1111-17 I al. 2: the regulating doctor of the SAMU - centre 15 reads, unless the
	// patient opposed it; reading only.
	if a.Regulator && in.Matrix.isDoctor(a.Profession, a.Specialty) {
		switch {
		case deposit:
			refusal = ReasonRegulationReadOnly
		case p.OpposesRegulation:
			refusal = ReasonRegulationOpposed
		default:
			d = d.allow(ReasonRegulation)
			d.Notify = emergencyNotice(p)
			return d
		}
	}
	// CSP L1111-17 I al. 1: any professional, when the patient cannot consent and there is an
	// immediate risk, with a stated reason (DOMAIN.md), unless the patient opposed it.
	if bg := in.BreakGlass; bg != nil {
		dur := in.Policy.BreakGlassFor
		if dur <= 0 {
			dur = DefaultBreakGlassFor
		}
		opened := bg.Opened
		if opened.IsZero() {
			opened = now
		}
		switch {
		case !hasReason(bg):
			refusal = ReasonBreakGlassReasonRequired
		case p.OpposesBreakGlass:
			refusal = ReasonBreakGlassOpposed
		case opened.After(now):
			refusal = ReasonInvalidRequest
		case !now.Before(opened.Add(dur)):
			refusal = ReasonBreakGlassExpired
		default:
			d = d.allow(ReasonBreakGlass)
			d.Until = opened.Add(dur)
			d.Notify = emergencyNotice(p)
			return d
		}
	}
	return d.deny(refusal)
}

// emergencyNotice names who must be told of an emergency access after the fact: the holder and
// their médecin traitant (CSP R1111-48, for both situations of L1111-17 I).
func emergencyNotice(p Patient) []Recipient {
	n := []Recipient{NotifyPatient}
	if len(p.MedecinsTraitants) > 0 {
		n = append(n, NotifyMedecinTraitant)
	}
	return n
}

// matrix applies the habilitation matrix to a professional who has a ground: their profession
// must read the document's category (CSP R1111-46: only the data strictly necessary, per the
// rules of access rights set by order).
func matrix(in Input, d Decision) Decision {
	class := in.class()
	if class == "" && in.Object.Type == "" {
		return d.deny(ReasonInvalidRequest)
	}
	cell, found, err := in.Matrix.Lookup(in.Actor.Profession, in.Actor.Specialty, class, in.Object.Type)
	if err != nil {
		return d.deny(ReasonProfessionUnknown)
	}
	d.Cell = cell
	if !found || !cell.Allow {
		return d.deny(ReasonMatrixDenied)
	}
	return d.allow(d.Basis)
}
