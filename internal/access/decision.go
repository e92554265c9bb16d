package access

import (
	"errors"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Reason is the stable code of a decision: the ground that allowed it, or why it was refused.
// It is written in the trace, shown to the patient in their trail, and mapped by the channels;
// never rename one.
type Reason string

// The grounds: the Reason of an allowed decision, and its Basis.
const (
	ReasonSelf            Reason = "self"             // the patient, on their own record
	ReasonRepresentative  Reason = "representative"   // a legal representative, for the patient
	ReasonAuthor          Reason = "author"           // the professional who wrote the document
	ReasonMedecinTraitant Reason = "medecin_traitant" // a médecin traitant (or equal rights)
	ReasonCareTeam        Reason = "care_team"        // a member of the care team
	ReasonActOfCare       Reason = "act_of_care"      // a professional depositing the report of their own act
	ReasonAuthorisation   Reason = "authorisation"    // a professional the patient authorised
	ReasonBreakGlass      Reason = "break_glass"      // emergency access with a stated reason
	ReasonRegulation      Reason = "regulation"       // the regulating doctor of a SAMU - centre 15
	ReasonApp             Reason = "app"              // an app, within what the patient granted
	ReasonOwnTraces       Reason = "own_traces"       // a professional, on the traces of their own acts
	ReasonOperator        Reason = "operator"         // an operator, administrative only
	ReasonSystem          Reason = "system"           // a background job, as it declared
	ReasonLegalRequest    Reason = "legal_request"    // an operator exporting on a legal request
	ReasonEmergencyCard   Reason = "emergency_card"   // the public, with the link of the patient's emergency card
	ReasonMessaging       Reason = "messaging"        // a professional writing to the patient's mailbox
)

// The refusals.
const (
	ReasonBlocked                    Reason = "blocked"
	ReasonNoAuthorisation            Reason = "no_authorisation"
	ReasonAuthorisationExpired       Reason = "authorisation_expired"
	ReasonAuthorisationRefused       Reason = "authorisation_refused"
	ReasonBreakGlassReasonRequired   Reason = "break_glass_reason_required"
	ReasonBreakGlassOpposed          Reason = "break_glass_opposed"
	ReasonBreakGlassExpired          Reason = "break_glass_expired"
	ReasonRegulationOpposed          Reason = "regulation_opposed"
	ReasonRegulationReadOnly         Reason = "regulation_read_only"
	ReasonMatrixDenied               Reason = "matrix_denied"
	ReasonProfessionUnknown          Reason = "profession_unknown"
	ReasonMasked                     Reason = "masked"
	ReasonInvisibleToPatient         Reason = "invisible_to_patient"
	ReasonInvisibleToRepresentatives Reason = "invisible_to_representatives"
	ReasonRepresentationEnded        Reason = "representation_ended"
	ReasonRepresentationRole         Reason = "representation_role"
	ReasonNotHolder                  Reason = "not_holder"
	ReasonScope                      Reason = "scope"
	ReasonOperatorNoContent          Reason = "operator_no_content"
	ReasonLegalRequestRequired       Reason = "legal_request_required"
	ReasonActionNotPermitted         Reason = "action_not_permitted"
	ReasonAuthorOnly                 Reason = "author_only"
	ReasonPatientOnly                Reason = "patient_only"
	ReasonSpaceNotAllowed            Reason = "space_not_allowed"
	ReasonJobUndeclared              Reason = "job_undeclared"
	ReasonMatrixMissing              Reason = "matrix_missing"
	ReasonInvalidRequest             Reason = "invalid_request"
	ReasonEmergencyCardOff           Reason = "emergency_card_off"
)

// Recipient is who must be told of an access after the fact.
type Recipient string

const (
	NotifyPatient         Recipient = "patient" // the holder (or, for a minor, their representatives)
	NotifyMedecinTraitant Recipient = "medecin_traitant"
)

// Decision is the answer of Decide.
type Decision struct {
	Allowed bool
	// Reason is the ground of an allowed decision or the cause of a refusal; never empty.
	Reason Reason
	// Basis is the ground established, one of the grounds above: equal to Reason when allowed,
	// and kept when a later check refused (a care-team member refused a masked document has
	// Basis care_team, Reason masked), so the trail says both.
	Basis Reason
	// MatrixVersion names the habilitation matrix the decision was taken under; "" only when
	// there was none (Reason matrix_missing).
	MatrixVersion string
	// Cell is the matrix cell that decided, when the matrix was consulted (Cell.Line > 0), for
	// the admin page and for whoever asks why.
	Cell Cell
	// MessageFR and MessageEN say the decision to the requester; they carry no health data, so
	// they may be shown and logged.
	MessageFR, MessageEN string
	// Conceal: answer as if the object did not exist (errs.NotFound), so that a hidden
	// document's existence does not leak; a list leaves it out silently.
	Conceal bool
	// OwnTracesOnly: the trail shown must hold only the traces of the actor's own actions.
	OwnTracesOnly bool
	// Notify names who must be told after the fact (emergency access). The notifier sends one
	// notice per professional and episode, not one per document read.
	Notify []Recipient
	// Until is when a break-glass session ends.
	Until time.Time

	Action Action    // the action decided, as the trace names it
	At     time.Time // Input.Now
}

// message is what a decision says, in French first.
type message struct{ fr, en string }

// hiddenMessage is the message of every concealed refusal: it must not reveal that the
// document exists.
var hiddenMessage = message{
	"Ce document n'existe pas ou ne vous est pas accessible.",
	"This document does not exist or is not available to you.",
}

var messages = map[Reason]message{
	ReasonSelf:            {"Accès autorisé : vous êtes le titulaire de ce dossier.", "Allowed: you hold this record."},
	ReasonRepresentative:  {"Accès autorisé : vous êtes représentant légal du titulaire.", "Allowed: you are the holder's legal representative."},
	ReasonAuthor:          {"Accès autorisé : vous êtes l'auteur de ce document.", "Allowed: you are the author of this document."},
	ReasonMedecinTraitant: {"Accès autorisé : vous êtes médecin traitant du titulaire.", "Allowed: you are the holder's médecin traitant (regular doctor)."},
	ReasonCareTeam:        {"Accès autorisé : vous faites partie de l'équipe de soins du titulaire.", "Allowed: you are in the holder's care team."},
	ReasonActOfCare:       {"Dépôt autorisé : vous déposez le compte rendu d'un acte que vous avez réalisé pour le titulaire, ce qui vous fait entrer dans son équipe de soins.", "Deposit allowed: you deposit the report of an act of care you performed for the holder, which makes you a member of their care team."},
	ReasonAuthorisation:   {"Accès autorisé : le titulaire vous a donné son autorisation.", "Allowed: the holder authorised you."},
	ReasonBreakGlass: {"Accès en urgence (bris de glace) autorisé et tracé ; le titulaire et son médecin traitant en seront informés.",
		"Emergency (break-glass) access allowed and traced; the holder and their médecin traitant will be told."},
	ReasonRegulation: {"Accès autorisé au titre de la régulation médicale (SAMU - centre 15) ; le titulaire et son médecin traitant en seront informés.",
		"Allowed as emergency regulation (SAMU - centre 15); the holder and their médecin traitant will be told."},
	ReasonApp:       {"Accès autorisé : le titulaire a accordé cet accès à l'application.", "Allowed: the holder granted this access to the app."},
	ReasonOwnTraces: {"Accès autorisé à l'historique de vos propres actions sur ce dossier.", "Allowed: the history of your own actions on this record."},
	ReasonOperator:  {"Action administrative autorisée, sans accès au contenu du dossier.", "Administrative action allowed, without access to the record's content."},
	ReasonSystem:    {"Action autorisée pour ce traitement automatique.", "Action allowed for this background job."},
	ReasonLegalRequest: {"Export autorisé sur réquisition judiciaire, dont la référence est tracée.",
		"Export allowed on a legal request, whose reference is traced."},
	ReasonEmergencyCard: {"Consultation de la carte d'urgence avec le lien que le titulaire a donné ; il en est informé.",
		"Emergency card read with the link the holder gave; they are told."},
	ReasonEmergencyCardOff: {"La carte d'urgence du titulaire est désactivée ou ce lien a été renouvelé.",
		"The holder's emergency card is turned off or this link was renewed."},

	ReasonBlocked: {"Le titulaire de ce dossier a bloqué votre accès.", "The holder of this record has blocked your access."},
	ReasonNoAuthorisation: {"Vous n'êtes pas dans l'équipe de soins du titulaire et il ne vous a pas autorisé : demandez-lui son autorisation.",
		"You are not in the holder's care team and they have not authorised you: ask for their authorisation."},
	ReasonAuthorisationExpired: {"Votre autorisation d'accès a expiré : demandez au titulaire de la renouveler.",
		"Your authorisation has expired: ask the holder to renew it."},
	ReasonAuthorisationRefused: {"Le titulaire a refusé votre demande d'accès.", "The holder refused your request for access."},
	ReasonBreakGlassReasonRequired: {"Un accès en urgence (bris de glace) exige d'en indiquer le motif.",
		"Emergency (break-glass) access requires a stated reason."},
	ReasonBreakGlassOpposed: {"Le titulaire s'est opposé à l'accès en urgence (bris de glace) à son dossier.",
		"The holder has objected to emergency (break-glass) access to their record."},
	ReasonBreakGlassExpired: {"Votre accès en urgence a pris fin : un nouvel accès exige un nouveau motif.",
		"Your emergency access has ended: a new one requires a new reason."},
	ReasonRegulationOpposed: {"Le titulaire s'est opposé à l'accès de la régulation médicale à son dossier.",
		"The holder has objected to access by emergency regulation to their record."},
	ReasonRegulationReadOnly: {"La régulation médicale permet de consulter le dossier, non de l'alimenter.",
		"Emergency regulation may read the record, not add to it."},
	ReasonMatrixDenied: {"Votre profession n'a pas accès à cette catégorie de documents.",
		"Your profession has no access to this category of documents."},
	ReasonProfessionUnknown: {"Votre profession ou votre spécialité n'est pas reconnue : l'accès aux documents est refusé.",
		"Your profession or specialty is not recognised: access to documents is refused."},
	ReasonMasked:                     hiddenMessage,
	ReasonInvisibleToPatient:         hiddenMessage,
	ReasonInvisibleToRepresentatives: hiddenMessage,
	ReasonRepresentationEnded: {"Vous ne représentez plus cette personne (par exemple depuis sa majorité).",
		"You no longer represent this person (for instance since they came of age)."},
	ReasonRepresentationRole: {"Votre mesure de protection ne donne pas accès au dossier de santé de cette personne.",
		"Your protective measure gives no access to this person's health record."},
	ReasonNotHolder: {"Ce dossier n'est ni le vôtre ni celui d'une personne que vous représentez.",
		"This record is neither yours nor that of a person you represent."},
	ReasonScope: {"Le titulaire n'a pas accordé cet accès à l'application.",
		"The holder has not granted this access to the app."},
	ReasonOperatorNoContent: {"L'exploitant n'a pas accès au contenu des dossiers.",
		"The operator has no access to the content of records."},
	ReasonLegalRequestRequired: {"L'exploitant n'accède au contenu d'un dossier que sur réquisition judiciaire : indiquez sa référence.",
		"The operator reaches a record's content only on a legal request: state its reference."},
	ReasonActionNotPermitted: {"Cette action ne vous est pas permise sur ce dossier.",
		"You may not do this on this record."},
	ReasonAuthorOnly: {"Seul l'auteur du document peut faire cela.", "Only the document's author may do this."},
	ReasonPatientOnly: {"Seul le titulaire du dossier peut faire cela.",
		"Only the holder of the record may do this."},
	ReasonSpaceNotAllowed: {"Vous ne pouvez pas déposer de document dans cette partie du dossier.",
		"You may not deposit a document in this part of the record."},
	ReasonJobUndeclared: {"Ce traitement automatique n'a pas déclaré cette action.",
		"This background job did not declare this action."},
	ReasonMatrixMissing: {"Les règles d'accès sont indisponibles : réessayez plus tard.",
		"The access rules are unavailable: try again later."},
	ReasonInvalidRequest: {"La demande d'accès est incomplète.", "The access request is incomplete."},
	ReasonMessaging: {"Message autorisé : tout professionnel peut écrire au titulaire par la messagerie sécurisée de santé, sauf s'il l'a bloqué.",
		"Message allowed: any professional may write to the holder through secure health messaging, unless the holder blocked them."},
}

// Reasons lists every reason code, grounds first.
func Reasons() []Reason {
	return []Reason{
		ReasonSelf, ReasonRepresentative, ReasonAuthor, ReasonMedecinTraitant, ReasonCareTeam, ReasonActOfCare,
		ReasonAuthorisation, ReasonBreakGlass, ReasonRegulation, ReasonApp, ReasonOwnTraces,
		ReasonOperator, ReasonSystem, ReasonLegalRequest, ReasonEmergencyCard, ReasonMessaging,
		ReasonBlocked, ReasonNoAuthorisation, ReasonAuthorisationExpired, ReasonAuthorisationRefused,
		ReasonBreakGlassReasonRequired, ReasonBreakGlassOpposed, ReasonBreakGlassExpired,
		ReasonRegulationOpposed, ReasonRegulationReadOnly, ReasonMatrixDenied, ReasonProfessionUnknown,
		ReasonMasked, ReasonInvisibleToPatient, ReasonInvisibleToRepresentatives,
		ReasonRepresentationEnded, ReasonRepresentationRole, ReasonNotHolder, ReasonScope,
		ReasonOperatorNoContent, ReasonLegalRequestRequired, ReasonActionNotPermitted, ReasonAuthorOnly, ReasonPatientOnly,
		ReasonSpaceNotAllowed, ReasonJobUndeclared, ReasonMatrixMissing, ReasonInvalidRequest, ReasonEmergencyCardOff,
	}
}

// Messages returns what a reason says, in French and in English.
func (r Reason) Messages() (fr, en string) {
	m := messages[r]
	return m.fr, m.en
}

// concealed reports whether a refusal for r must look like an absent document.
func (r Reason) concealed() bool {
	return r == ReasonMasked || r == ReasonInvisibleToPatient || r == ReasonInvisibleToRepresentatives
}

// allow returns d allowed on ground basis.
func (d Decision) allow(basis Reason) Decision {
	d.Allowed, d.Reason, d.Basis, d.Conceal = true, basis, basis, false
	d.MessageFR, d.MessageEN = basis.Messages()
	return d
}

// deny returns d refused for reason. What an allowed ground had prepared (notice, session end)
// is dropped: nothing was accessed.
func (d Decision) deny(reason Reason) Decision {
	d.Allowed, d.Reason, d.Conceal = false, reason, reason.concealed()
	d.Notify, d.Until, d.OwnTracesOnly = nil, time.Time{}, false
	d.MessageFR, d.MessageEN = reason.Messages()
	return d
}

// Err returns nil for an allowed decision, and otherwise the project's error for the channels
// to map: NotFound for a concealed document, Invalid for a request the actor can correct,
// Internal for a fault of the caller, Forbidden for the rest. Its message is MessageEN.
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	code := errs.Forbidden
	switch {
	case d.Conceal:
		code = errs.NotFound
	case d.Reason == ReasonBreakGlassReasonRequired:
		code = errs.Invalid
	case d.Reason == ReasonMatrixMissing || d.Reason == ReasonInvalidRequest || d.Reason == "":
		code = errs.Internal
	}
	msg := d.MessageEN
	if msg == "" {
		msg = "access refused"
	}
	return &Refusal{err: &errs.Error{Code: code, Message: msg}, Reason: d.Reason}
}

// Refusal is the error of a refused decision: the project's error (its code and English
// message), with the reason, so that a channel can say it in the requester's language
// (Reason.Messages).
type Refusal struct {
	err    *errs.Error
	Reason Reason
}

func (r *Refusal) Error() string { return r.err.Error() }

// Unwrap gives the project's error, for errs.CodeOf and errs.MessageOf.
func (r *Refusal) Unwrap() error { return r.err }

// RefusalOf returns the reason of a refusal in err's chain, "" when err is no refusal.
func RefusalOf(err error) Reason {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// TraceEntry returns the trace of this decision, to be written in the same transaction as the
// action (DESIGN.md invariant 2), allowed or refused. object names what was acted on, e.g.
// "document/<entryUUID>" or "space". The trace's Reason is the reason code, followed by the
// ground when a later check refused it and by the matrix version, e.g. "masked basis=care_team
// matrix=default-v1": the trail then says exactly what was decided. ReasonOf reads the code back.
func (d Decision) TraceEntry(actor audit.Actor, ch audit.Channel, patientID int64, object string) audit.Entry {
	outcome := audit.Denied
	if d.Allowed {
		outcome = audit.Allowed
	}
	action := string(d.Action)
	if !d.Action.Valid() {
		// An invalid request is traced too, under a name that says what was attempted.
		action = "access.decide"
	}
	return audit.Entry{
		At:        d.At,
		Actor:     actor,
		Channel:   ch,
		Action:    action,
		PatientID: patientID,
		Object:    object,
		Outcome:   outcome,
		Reason:    d.traceReason(),
	}
}

func (d Decision) traceReason() string {
	var b strings.Builder
	b.WriteString(string(d.Reason))
	if d.Basis != "" && d.Basis != d.Reason {
		b.WriteString(" basis=" + string(d.Basis))
	}
	if d.MatrixVersion != "" {
		b.WriteString(" matrix=" + d.MatrixVersion)
	}
	return b.String()
}

// ReasonOf returns the reason code of a trace's Reason written by TraceEntry, for filters.
func ReasonOf(traceReason string) Reason {
	code, _, _ := strings.Cut(traceReason, " ")
	return Reason(code)
}
