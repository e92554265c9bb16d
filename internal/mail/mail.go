// Package mail is in charge of carnet's secure health messaging (MSSanté, DOMAIN.md "Secure
// health messaging"): the mailboxes (PER, ORG, APP, and one per open patient space) and their
// directory, the operators' allowlist, the app-specific passwords of mail clients, and the
// rules a message must pass before it is accepted: who may write to whom (a patient never
// writes first, a [FIN] ends the exchange, a closed space receives nothing, a no-reply mailbox
// is not answered), stored how (bytes encrypted in the blob store and synced, metadata
// committed, traced on a patient's chain) and handed on where (a local mailbox, or the queue
// of outbound deliveries to another operator).
//
// The protocols are adapters: smtpd speaks SMTP (relay and submission) and maps this
// package's refusals to SMTP reply codes in one table; relay delivers queued messages to
// other operators and bounces what it cannot; imapd serves the professional mailboxes'
// folders (FolderStore) to mail clients. The store implements Tx
// (internal/store/mail.go).
package mail

import (
	"errors"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Kind of mailbox. Address and kind never change after creation.
type Kind string

const (
	PER Kind = "PER" // nominative: a professional with an RPPS (or ADELI) number
	ORG Kind = "ORG" // organisational: a secretariat, a service, a pharmacy; several members
	APP Kind = "APP" // applicative: an organisation's software; no-reply
	PAT Kind = "PAT" // a patient's, one per open space
)

// Mailbox is an address carnet delivers to.
type Mailbox struct {
	ID              int64
	Address         Address
	Kind            Kind
	DisplayName     string
	ProfessionalID  int64 // PER: the owner
	OrganisationID  int64 // ORG, APP: the owner; PER: the owner's organisation when the box was made
	PatientID       int64 // PAT
	Hidden          bool  // "liste rouge": not listed in the directory
	AcceptsPatients bool  // ORG only: patients may write first (a pharmacy receiving prescriptions)
	UsedBytes       int64
	CreatedAt       time.Time
	DisabledAt      time.Time
}

// Reason says why a message, a recipient or a credential is refused, in terms the SMTP
// adapter maps to one reply code and enhanced status code each (smtpd's table).
type Reason string

const (
	ReasonBadAddress     Reason = "bad_address"       // syntax
	ReasonUnknownMailbox Reason = "unknown_mailbox"   // no such mailbox here
	ReasonSenderDomain   Reason = "sender_domain"     // sending domain not in the allowlist
	ReasonRelayDenied    Reason = "relay_denied"      // recipient not ours (relay) or outside the trust space (submission)
	ReasonSpaceNotOpen   Reason = "space_not_open"    // the patient's space is not open
	ReasonDisabled       Reason = "mailbox_disabled"  // the mailbox no longer receives
	ReasonNoReply        Reason = "no_reply"          // an APP mailbox
	ReasonPatientFirst   Reason = "patient_first"     // a patient writing first, or after [FIN]
	ReasonSenderNotOwn   Reason = "sender_not_own"    // submission from another mailbox than the authenticated one
	ReasonMailboxFull    Reason = "mailbox_full"      // quota
	ReasonTooBig         Reason = "too_big"           // message size
	ReasonMalformed      Reason = "malformed"         // unreadable header
	ReasonTLSRequired    Reason = "tls_required"      // STARTTLS first
	ReasonAuthRequired   Reason = "auth_required"     // submission without AUTH
	ReasonAuthFailed     Reason = "auth_failed"       // unknown account or wrong password, alike
	ReasonThrottled      Reason = "throttled"         // too many attempts
	ReasonTooManyRcpts   Reason = "too_many_rcpts"    // recipients per message
	ReasonTemporary      Reason = "temporary"         // a fault of ours; try again
	ReasonBadAllowlist   Reason = "allowlist_invalid" // an allowlist file that cannot be imported
)

// Refusal is a refused request: a reason for the protocol adapters, and the project's error
// (code and safe message) for traces and other callers. Its message may reach the sender of
// the mail: it never holds health data.
type Refusal struct {
	Reason     Reason
	Err        *errs.Error
	RetryAfter time.Duration // ReasonThrottled: how long to wait
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// codes maps reasons to the project's error codes, so that audit.Failure records a refusal
// as Denied and a fault as Failed.
var codes = map[Reason]errs.Code{
	ReasonBadAddress: errs.Invalid, ReasonUnknownMailbox: errs.NotFound, ReasonSenderDomain: errs.Forbidden,
	ReasonRelayDenied: errs.Forbidden, ReasonSpaceNotOpen: errs.Conflict, ReasonDisabled: errs.Conflict,
	ReasonNoReply: errs.Forbidden, ReasonPatientFirst: errs.Forbidden, ReasonSenderNotOwn: errs.Forbidden,
	ReasonMailboxFull: errs.Unavailable, ReasonTooBig: errs.Invalid, ReasonMalformed: errs.Invalid,
	ReasonTLSRequired: errs.Forbidden, ReasonAuthRequired: errs.Unauthenticated, ReasonAuthFailed: errs.Unauthenticated,
	ReasonThrottled: errs.Unavailable, ReasonTooManyRcpts: errs.Unavailable, ReasonTemporary: errs.Unavailable,
	ReasonBadAllowlist: errs.Invalid,
}

// refuse builds a Refusal.
func refuse(reason Reason, format string, args ...any) error {
	code, ok := codes[reason]
	if !ok {
		code = errs.Internal
	}
	return &Refusal{Reason: reason, Err: errs.E(code, format, args...)}
}

// ReasonOf returns the reason of a refusal in err's chain: ReasonTemporary for any other
// error (a fault of ours, an unreachable database), "" for nil.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ReasonTemporary
}

// MessageOf returns the message of a refusal, safe to send back; a generic text otherwise.
func MessageOf(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Err.Message
	}
	return "temporary failure, please try again later"
}

// By says who acts, for the operator's and the owners' actions on mailboxes.
type By struct {
	Actor   audit.Actor
	Channel audit.Channel
}

// Channel a message came through.
type Channel string

const (
	Relay      Channel = "relay"      // another operator, SMTP port 25
	Submission Channel = "submission" // a mailbox owner's client, SMTP port 587
	System     Channel = "system"     // carnet itself: a bounce
)

func (c Channel) String() string { return string(c) }
