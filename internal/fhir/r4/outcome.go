package r4

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/carnet-sante/carnet/internal/errs"
)

// OperationOutcome reports errors and warnings about an interaction (FHIR R4 §3.1.2.6).
type OperationOutcome struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`

	Issue []OperationOutcomeIssue `json:"issue"`
}

// OperationOutcomeIssue is one issue.
type OperationOutcomeIssue struct {
	ID                string           `json:"id,omitempty"`
	Extension         []Extension      `json:"extension,omitempty"`
	ModifierExtension []Extension      `json:"modifierExtension,omitempty"`
	Severity          string           `json:"severity"`
	Code              IssueType        `json:"code"`
	Details           *CodeableConcept `json:"details,omitempty"`
	Diagnostics       string           `json:"diagnostics,omitempty"`
	Location          []string         `json:"location,omitempty"`
	Expression        []string         `json:"expression,omitempty"`
}

// Issue severities (FHIR R4 issue-severity).
const (
	SeverityFatal       = "fatal"
	SeverityError       = "error"
	SeverityWarning     = "warning"
	SeverityInformation = "information"
)

// IssueType is a code of FHIR R4 issue-type: what kind of problem an issue is.
type IssueType string

// The issue types carnet uses (FHIR R4 issue-type).
const (
	IssueInvalid       IssueType = "invalid"       // content invalid against the specification or a profile
	IssueStructure     IssueType = "structure"     // structural issue: unknown element, wrong JSON type
	IssueRequired      IssueType = "required"      // a required element is missing
	IssueValue         IssueType = "value"         // an element's value is not allowed
	IssueInvariant     IssueType = "invariant"     // a content validation rule failed
	IssueCodeInvalid   IssueType = "code-invalid"  // a code is not in its value set
	IssueTooLong       IssueType = "too-long"      // an element or the content is too long
	IssueBusinessRule  IssueType = "business-rule" // a business rule of the server refused it
	IssueProcessing    IssueType = "processing"    // processing failed for a reason not listed
	IssueNotSupported  IssueType = "not-supported" // the content or operation is not supported
	IssueDuplicate     IssueType = "duplicate"     // an attempt to create a duplicate record
	IssueConflict      IssueType = "conflict"      // an edit/version conflict
	IssueNotFound      IssueType = "not-found"     // the reference could not be found
	IssueDeleted       IssueType = "deleted"       // the resource existed but was deleted
	IssueForbidden     IssueType = "forbidden"     // the user may not do this
	IssueSecurity      IssueType = "security"      // a security problem (authentication, authorisation)
	IssueLogin         IssueType = "login"         // the user needs to authenticate
	IssueTooCostly     IssueType = "too-costly"    // the operation would cost too much (size, nesting, result count)
	IssueThrottled     IssueType = "throttled"     // too many requests
	IssueTransient     IssueType = "transient"     // try again later
	IssueTimeout       IssueType = "timeout"       // an internal timeout occurred
	IssueException     IssueType = "exception"     // an unexpected internal error
	IssueInformational IssueType = "informational" // nothing wrong: a message
)

// HTTPStatus is the status that usually goes with an issue of this type, following FHIR R4
// §3.1.0.4 "HTTP status codes": 400 when the content could not be parsed or failed basic FHIR
// rules, 422 when it parsed but broke a profile or business rule, 401/403 for security, 404/410
// for what is not there, 409 for conflicts, 413 for content too large, 5xx for the server's
// own failures.
func (t IssueType) HTTPStatus() int {
	switch t {
	case IssueInvalid, IssueStructure, IssueTooCostly:
		return http.StatusBadRequest
	case IssueTooLong:
		return http.StatusRequestEntityTooLarge
	case IssueRequired, IssueValue, IssueInvariant, IssueCodeInvalid, IssueBusinessRule,
		IssueProcessing, IssueNotSupported:
		return http.StatusUnprocessableEntity
	case IssueLogin:
		return http.StatusUnauthorized
	case IssueForbidden, IssueSecurity:
		return http.StatusForbidden
	case IssueNotFound:
		return http.StatusNotFound
	case IssueDeleted:
		return http.StatusGone
	case IssueConflict, IssueDuplicate:
		return http.StatusConflict
	case IssueThrottled:
		return http.StatusTooManyRequests
	case IssueTransient:
		return http.StatusServiceUnavailable
	case IssueTimeout:
		return http.StatusGatewayTimeout
	case IssueInformational:
		return http.StatusOK
	default:
		return http.StatusInternalServerError
	}
}

// Outcome builds an OperationOutcome with one issue.
func Outcome(severity string, code IssueType, diagnostics string) *OperationOutcome {
	return &OperationOutcome{Issue: []OperationOutcomeIssue{{
		Severity:    severity,
		Code:        code,
		Diagnostics: diagnostics,
	}}}
}

// Status is the HTTP status that goes with the outcome: that of its first error or fatal issue,
// 200 when it has none.
func (o *OperationOutcome) Status() int {
	for _, i := range o.Issue {
		if i.Severity == SeverityError || i.Severity == SeverityFatal {
			return i.Code.HTTPStatus()
		}
	}
	return http.StatusOK
}

// FromError is the one place where an error becomes a FHIR OperationOutcome and its HTTP
// status. Decoding errors keep their issue type and the location of the faulty element;
// errors of the project's type ([errs.Error]) map by code; anything else is an internal error,
// whose details stay in the server's logs and never reach the client.
func FromError(err error) (*OperationOutcome, int) {
	var de *DecodeError
	if errors.As(err, &de) {
		o := Outcome(SeverityError, de.Type, de.Error())
		if de.Expression != "" {
			o.Issue[0].Expression = []string{de.Expression}
		}
		return o, de.Type.HTTPStatus()
	}
	var t IssueType
	switch errs.CodeOf(err) {
	case errs.Invalid:
		// The request parsed as FHIR (or it would be a DecodeError): it broke a rule of ours.
		t = IssueBusinessRule
	case errs.NotFound:
		t = IssueNotFound
	case errs.Forbidden:
		t = IssueForbidden
	case errs.Conflict:
		t = IssueConflict
	case errs.Unavailable:
		t = IssueTransient
	default:
		return Outcome(SeverityError, IssueException, "internal error"), http.StatusInternalServerError
	}
	return Outcome(SeverityError, t, errs.MessageOf(err)), t.HTTPStatus()
}
