// Package access is in charge of the one access decision of carnet: who may do what on a
// patient's data, on what ground, and what the trace of it says. Every channel (web pages,
// FHIR API, mail, CLI, background jobs) asks Decide before it reads or writes, and writes the
// trace that Decision.TraceEntry returns in the same transaction (DESIGN.md invariant 2).
//
// Decide is pure: no I/O, no clock, no global state. Everything it needs comes in one Input of
// plain values that the caller (later, a service over a store) fills: the actor, the patient's
// settings (oppositions, blocked professionals, médecins traitants), this professional's
// relation to the patient (care team, authorisation), the action, the object, the habilitation
// Matrix to apply, and the time. The same Input always gives the same Decision, so a decision
// can be replayed from a trace and tested without a database.
//
// The rules are those of DOMAIN.md "Who may read what" and "Documents", and of the public
// health code (CSP) where we could read the article: L1110-4 and L1110-12 (care team), L1111-5
// (a minor's secret), L1111-15 and L1111-16 (masking, the médecin traitant), L1111-17 (care
// team, authorisation, emergencies), R1111-46 (the habilitation matrix), R1111-48 (who is told
// of an emergency access), R1111-53 (announcement delay). Where the texts are silent, the code
// says "our default". The shipped matrix is our default too (see matrix.go).
package access

import (
	"slices"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// Action is what the actor wants to do. Its value is the action name written in the trace.
type Action string

const (
	// ActionRead reads a document's content.
	ActionRead Action = "document.read"
	// ActionList shows one document (its metadata) in a list or search result. It follows the
	// rules of ActionRead: what a professional may not read does not appear in their lists.
	ActionList Action = "document.list"
	// ActionSearch searches or lists a patient's record as a whole, before each hit is decided
	// with ActionList. A professional without any ground is refused here, with a reason they can
	// act on, instead of getting an empty list.
	ActionSearch Action = "record.search"
	// ActionDeposit adds a document; Object describes the new document.
	ActionDeposit Action = "document.deposit"
	// ActionReplace deposits a new version of a document (same uniqueId, old one deprecated).
	ActionReplace Action = "document.replace"
	// ActionMask sets MASQUE_PS; ActionUnmask clears it.
	ActionMask   Action = "document.mask"
	ActionUnmask Action = "document.unmask"
	// ActionArchive and ActionDelete change a document's status.
	ActionArchive Action = "document.archive"
	ActionDelete  Action = "document.delete"
	// ActionSetLabel and ActionClearLabel set or clear the visibility label Input.Label.
	ActionSetLabel   Action = "document.label_set"
	ActionClearLabel Action = "document.label_clear"
	// ActionReadTraces reads the trail of accesses to the record.
	ActionReadTraces Action = "trace.read"
	// ActionManageAccess grants, renews or revokes an authorisation, blocks or unblocks a
	// professional, sets the oppositions, designates the médecins traitants.
	ActionManageAccess Action = "access.manage"
	// ActionAdminister is an administrative action on the space that reveals no health content:
	// create, open, close, reopen, run retention.
	ActionAdminister Action = "space.administer"
	// ActionExport takes the whole space away as one archive: every document the actor may see,
	// the profile and the trail (CSP L1111-7, RGPD art. 20). The holder exports their own; an
	// operator only on a stated legal request (Actor.LegalRequest), everything.
	ActionExport Action = "space.export"
	// ActionImport brings an existing record into the space (an export archive, IHE XDM
	// documents): the holder with their own archive, an operator migrating a record. It reads
	// nothing of the space.
	ActionImport Action = "space.import"
	// ActionReadMail reads the patient's secure messages (their mailbox, internal/mail): the
	// holder, and the legal representative of a minor; never a professional nor an app (our
	// default: a message is a correspondence with the patient, not a document of the record).
	ActionReadMail Action = "mail.read"
	// ActionSendMail answers a professional from the patient's mailbox, under the same rule.
	ActionSendMail Action = "mail.send"
	// ActionWriteMail writes to the patient's mailbox from the web pages: any professional
	// may start a conversation (DOMAIN.md), but not one the patient blocked, and the decision
	// is traced before the patient is named or written to.
	ActionWriteMail Action = "mail.write"
	// ActionReadEmergencyCard reads the patient's emergency card (internal/emergency): the items
	// the patient chose to show to whoever holds the card's link, while the card is on. Only
	// the public (audit.ActorPublic) reads it, and only with Input.Card saying so (card.go).
	ActionReadEmergencyCard Action = "emergency_card.read"
)

// Actions lists every action, for tests and for the admin page that explains the rules.
func Actions() []Action {
	return []Action{ActionRead, ActionList, ActionSearch, ActionDeposit, ActionReplace, ActionMask,
		ActionUnmask, ActionArchive, ActionDelete, ActionSetLabel, ActionClearLabel,
		ActionReadTraces, ActionManageAccess, ActionAdminister, ActionExport, ActionImport, ActionReadMail, ActionSendMail,
		ActionWriteMail, ActionReadEmergencyCard}
}

// Valid reports whether a is one of the actions.
func (a Action) Valid() bool {
	switch a {
	case ActionRead, ActionList, ActionSearch, ActionDeposit, ActionReplace, ActionMask, ActionUnmask,
		ActionArchive, ActionDelete, ActionSetLabel, ActionClearLabel, ActionReadTraces,
		ActionManageAccess, ActionAdminister, ActionExport, ActionImport, ActionReadMail, ActionSendMail,
		ActionWriteMail, ActionReadEmergencyCard:
		return true
	}
	return false
}

// onDocument reports whether a acts on one document (Object describes it); the others act on
// the record or the space as a whole.
func (a Action) onDocument() bool {
	switch a {
	case ActionSearch, ActionReadTraces, ActionManageAccess, ActionAdminister, ActionExport, ActionImport,
		ActionReadMail, ActionSendMail, ActionWriteMail, ActionReadEmergencyCard:
		return false
	}
	return true
}

// Label is a visibility label (DOMAIN.md "Documents", on top of the N/R/V confidentiality).
type Label string

const (
	// LabelMasquePS: the patient hides the document from professionals; the author and the
	// médecin traitant still see it (CSP L1111-15, L1111-16).
	LabelMasquePS Label = "MASQUE_PS"
	// LabelInvisiblePatient: a professional holds the document back from the patient until an
	// announcement consultation, at most one month (CSP R1111-53).
	LabelInvisiblePatient Label = "INVISIBLE_PATIENT"
	// LabelInvisibleRepresentants: a minor keeps a confidential act from their parents (CSP
	// L1111-5).
	LabelInvisibleRepresentants Label = "INVISIBLE_REPRESENTANTS_LEGAUX"
)

// Role of a legal representative. The values are those of space.Role (a test holds them
// equal); access does not import space so that space may one day ask access for decisions.
type Role string

const (
	RoleParent   Role = "parent"
	RoleGuardian Role = "guardian"
	RoleCurator  Role = "curator"
)

// Actor is who acts, with what the decision needs to know about them. Only the fields of the
// actor's Kind are read.
type Actor struct {
	Kind audit.ActorKind
	ID   string // IdNat_PS for a professional; account id, app id, operator id, or job name
	Name string // display name, for the trace
	Org  string // organisation (FINESS…), for the trace

	// PatientID is, for a patient, their own patient id; for a representative, the person they
	// represent; for an app, the patient who connected it.
	PatientID int64

	// Representative.
	Role Role
	// RepresentsMinor: the represented person is a minor now. A parent represents a minor only.
	RepresentsMinor bool
	// RepresentationCurrent: the representation is in force now (space.Service.ActsFor). False
	// denies: a caller that did not check gets nothing.
	RepresentationCurrent bool

	// Professional.
	Profession string // profession code of TRE_A02 / J48, e.g. "G15_10"
	Specialty  string // specialty code, e.g. "G15_10/SM26"; its profession must be Profession
	// Regulator: the regulating doctor of an emergency regulation centre (SAMU - centre 15),
	// acting in that capacity. Set by the authentication layer, never by the request.
	Regulator bool

	// App.
	Scopes  []Action // the actions the patient granted the app
	Classes []string // the document classes (categories) the patient granted; "*" for all
	// Resources are the FHIR resource types the app was granted and their SMART permissions,
	// "Observation.crs", "DocumentReference.rs": Scopes and Classes say what the decision
	// allows, Resources through which interactions of the API (internal/fhir checks them).
	Resources []string
	// GrantedByRepresentative: a representative connected the app, so it sees only what they see.
	GrantedByRepresentative bool

	// Operator: the reference of the legal request (a judge's requisition) under which they
	// export a space. Set by the operator's command from what they state; traced.
	LegalRequest string

	// System job: the actions the job declares it performs (e.g. the announcement job clears
	// INVISIBLE_PATIENT, retention deletes).
	JobActions []Action
}

// Audit returns the actor as a trace shows it.
func (a Actor) Audit() audit.Actor {
	return audit.Actor{Kind: a.Kind, ID: a.ID, Name: a.Name, Org: a.Org}
}

// Patient holds the patient's settings that bear on access.
type Patient struct {
	ID int64
	// OpposesBreakGlass: the patient objected beforehand to access in an emergency when they
	// cannot consent (CSP L1111-17 I al. 1).
	OpposesBreakGlass bool
	// OpposesRegulation: the patient objected beforehand to access by the regulating doctor of
	// an emergency regulation centre (CSP L1111-17 I al. 2).
	OpposesRegulation bool
	// Blocked lists the IdNat_PS of the professionals the patient blocked.
	Blocked []string
	// MedecinsTraitants lists the IdNat_PS of the médecins traitants, and of the professionals
	// the patient gave the same rights (CSP L1111-16: "un ou plusieurs professionnels").
	MedecinsTraitants []string
}

// AuthState is the state of a patient's authorisation for one professional.
type AuthState string

const (
	AuthNone    AuthState = "none"
	AuthValid   AuthState = "valid"
	AuthExpired AuthState = "expired"
	AuthRefused AuthState = "refused"
)

// Authorisation is the patient's consent for a professional outside the care team (CSP
// L1110-4 III al. 2, L1111-17 III).
type Authorisation struct {
	State AuthState
	// Until is when a valid authorisation ends (our default: one year after it is granted,
	// renewable). A valid authorisation past Until counts as expired even if the store has not
	// yet changed its state. Zero means no end: an operator may configure authorisations that
	// do not expire.
	Until time.Time
}

// Relation is what binds this professional to this patient, as the store knows it.
type Relation struct {
	// CareTeam: the professional is in the patient's care team (CSP L1110-12), which makes them
	// deemed authorised (R1111-46). Per issue 5, a professional who deposited for the patient or
	// whom the patient designated is in it.
	CareTeam bool
	// CareTeamSince: when they joined. A membership dated in the future does not count yet;
	// zero is "since ever".
	CareTeamSince time.Time
	Authorisation Authorisation
}

// Depositor says who deposited a document (DOMAIN.md "Who deposits").
type Depositor string

const (
	DepositedByProfessional Depositor = "professional"
	DepositedByPatient      Depositor = "patient"
	DepositedByInsurer      Depositor = "insurer"
)

// Labels are the visibility labels of a document.
type Labels struct {
	MasquePS         bool
	InvisiblePatient bool
	// VisibleToPatientAt is when the announcement delay ends and an INVISIBLE_PATIENT document
	// becomes visible to the patient by itself: one month after its deposit (CSP R1111-53). The
	// label is ignored from that time on, even if the job that clears it has not run yet. Zero
	// with the label set keeps the document hidden: showing a diagnosis before its announcement
	// is the worse mistake.
	VisibleToPatientAt     time.Time
	InvisibleRepresentants bool
}

// Object is the document acted on (the new document, for a deposit). Actions on the record as
// a whole ignore it.
type Object struct {
	Class string // classCode (TRE_A03); when empty, derived from Type
	Type  string // typeCode (JDV_J07)
	// Space the document is filed in; when empty, derived from Type.
	Space terminology.Space
	// Confidentiality holds the N/R/V codes. No rule of DOMAIN.md turns on them (the matrix and
	// the labels do), so Decide only carries them; they are here so that a rule can be added in
	// one place.
	Confidentiality []string
	Labels          Labels
	Authors         []string // IdNat_PS of the professionals who authored it
	DepositedBy     Depositor
}

// BreakGlass is a professional's emergency access request ("bris de glace"): the patient cannot
// consent and there is an immediate risk (CSP L1111-17 I al. 1).
type BreakGlass struct {
	Reason string // stated by the professional; required
	// Opened is when the break-glass session began, for a request within an open session; zero
	// for a new request, which opens one now.
	Opened time.Time
}

// Policy holds the configurable values of the decision.
type Policy struct {
	// BreakGlassFor is how long a break-glass session lasts (issue 5: "time-boxed"). Zero means
	// DefaultBreakGlassFor.
	BreakGlassFor time.Duration
}

// DefaultBreakGlassFor is our default length of a break-glass session: a day of emergency care.
// The texts set none.
const DefaultBreakGlassFor = 24 * time.Hour

// Input is everything Decide looks at.
type Input struct {
	Actor    Actor
	Patient  Patient
	Relation Relation // of Actor (a professional) to Patient; ignored for other actors
	Action   Action
	Object   Object
	Label    Label // the label set or cleared, for ActionSetLabel and ActionClearLabel
	// BreakGlass is the professional's emergency request, nil when there is none.
	BreakGlass *BreakGlass
	Matrix     *Matrix
	Now        time.Time
	Policy     Policy
	// Card is the state of the patient's emergency card, for ActionReadEmergencyCard.
	Card Card
}

// Decide returns whether in.Actor may do in.Action on in.Object of in.Patient's record now,
// and why. It never panics and never allows on missing facts: a zero or incomplete Input is
// refused with a reason.
func Decide(in Input) Decision {
	d := Decision{Action: in.Action, At: in.Now}
	if in.Matrix == nil {
		return d.deny(ReasonMatrixMissing)
	}
	d.MatrixVersion = in.Matrix.Version()
	if in.Now.IsZero() || !in.Action.Valid() || in.Patient.ID == 0 || in.Actor.ID == "" {
		return d.deny(ReasonInvalidRequest)
	}
	if in.Action == ActionReadEmergencyCard || in.Actor.Kind == audit.ActorPublic {
		return emergencyCard(in, d)
	}
	switch in.Actor.Kind {
	case audit.ActorPatient:
		if in.Actor.PatientID != in.Patient.ID {
			return d.deny(ReasonNotHolder)
		}
		return holder(in, d, ReasonSelf, false)
	case audit.ActorRepresentative:
		return representative(in, d)
	case audit.ActorProfessional:
		return professional(in, d)
	case audit.ActorApp:
		return app(in, d)
	case audit.ActorOperator:
		return operator(in, d)
	case audit.ActorSystem:
		// "System jobs as the caller declares": a job is code of ours, not a person; what it may
		// do is what it declared, and its own logic keeps the labels (e.g. no INVISIBLE_PATIENT
		// document in a mail to the patient).
		if slices.Contains(in.Actor.JobActions, in.Action) {
			return d.allow(ReasonSystem)
		}
		return d.deny(ReasonJobUndeclared)
	}
	return d.deny(ReasonInvalidRequest)
}

// class returns the document's class: as stored, or as its type gives it (DOMAIN.md: the class
// "follows from the typeCode"). The stored class wins so that a document keeps the class it was
// filed under if the tables move a type later.
func (in Input) class() string {
	if in.Object.Class != "" {
		return in.Object.Class
	}
	if t, err := in.Matrix.cat.Type(in.Object.Type); err == nil {
		return t.Class
	}
	return ""
}

// space returns the space the document is filed in, as given or as its type gives it.
func (in Input) space() terminology.Space {
	if in.Object.Space != "" {
		return in.Object.Space
	}
	if t, err := in.Matrix.cat.Type(in.Object.Type); err == nil {
		return t.Space
	}
	return ""
}

// hiddenFromPatient reports whether the announcement delay still hides the document from the
// patient (CSP R1111-53).
func (in Input) hiddenFromPatient() bool {
	l := in.Object.Labels
	return l.InvisiblePatient && (l.VisibleToPatientAt.IsZero() || in.Now.Before(l.VisibleToPatientAt))
}

// isAuthor reports whether the actor authored the document.
func (in Input) isAuthor() bool {
	return in.Actor.ID != "" && slices.Contains(in.Object.Authors, in.Actor.ID)
}

// hasReason reports whether a break-glass reason says something.
func hasReason(bg *BreakGlass) bool { return strings.TrimSpace(bg.Reason) != "" }
