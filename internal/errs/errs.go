// Package errs is carnet's one error type: a code the caller can act on, a message that is
// safe to show to whoever made the request, and the wrapped cause for the operator's logs.
//
// Each protocol maps Code to its own vocabulary in exactly one place (HTTP status, FHIR
// OperationOutcome, SMTP enhanced status code, IMAP response, CLI exit status).
package errs

import (
	"errors"
	"fmt"
)

// Code classifies an error by what the caller can do about it.
type Code string

const (
	Invalid   Code = "invalid"   // the request is malformed or breaks a rule; fix it and retry
	NotFound  Code = "not_found" // the thing asked for does not exist (or may not be revealed)
	Forbidden Code = "forbidden" // the actor may not do this
	// Unauthenticated: who is asking is unknown (no credentials, or expired or revoked ones);
	// authenticate and retry.
	Unauthenticated Code = "unauthenticated"
	Conflict        Code = "conflict"    // the request clashes with the current state
	Unavailable     Code = "unavailable" // try again later
	Internal        Code = "internal"    // a fault of ours
)

// Error is the project's error. Message must never carry health data nor secrets: it is shown
// to the requester and may reach logs.
type Error struct {
	Code    Code
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// E builds an Error with a formatted message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an Error around a cause.
func Wrap(code Code, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// CodeOf returns the code of the first *Error in err's chain, Internal when there is none, and
// "" for a nil error.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// MessageOf returns the safe message of the first *Error in err's chain, or a generic text.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
