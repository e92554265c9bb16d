package identity

import (
	"fmt"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Reason says what is wrong with an identifier, so that a caller (a form, a FHIR
// OperationOutcome, a test) can act on it without reading the message.
type Reason string

const (
	ReasonEmpty      Reason = "empty"       // nothing left once surrounding space is trimmed
	ReasonLength     Reason = "length"      // wrong number of characters
	ReasonInnerSpace Reason = "inner_space" // a space inside the identifier
	ReasonNonDigit   Reason = "non_digit"   // a character other than a digit where a digit is due
	ReasonKey        Reason = "key"         // the check key does not match the number
	ReasonFirstDigit Reason = "first_digit" // INS: the first digit is no known class of number
	ReasonMonth      Reason = "month"       // INS: positions 4-5 hold no possible birth month
	ReasonCorsica    Reason = "corsica"     // a Corsican A/B where no department code may be
	ReasonSystem     Reason = "system"      // the identifier system (OID) is missing or not the one expected
	ReasonSyntax     Reason = "syntax"      // the envelope is malformed (FHIR token without "|")
	ReasonPrefix     Reason = "prefix"      // an IdNat_PS / IdNat_Struct type prefix we do not know
	ReasonLocalID    Reason = "local_id"    // the internal identifier after "/" is missing or malformed
)

// Error is what every parser of this package returns. Its fields name exactly what is
// wrong; Error() turns them into a message that is safe to show: it quotes positions,
// lengths and check keys, never the identifier itself (an INS is personal data, and the
// digits around the faulty one tell its holder's sex, birth month and birthplace).
//
// Error unwraps to an *errs.Error with code errs.Invalid, so errs.CodeOf, errs.Is and
// errs.MessageOf work on it, and the protocol adapters map it like any bad input.
type Error struct {
	Kind     string // what was being read: "INS", "RPPS", "FINESS", "IdNat_PS (RPPS)", …
	Reason   Reason
	Pos      int    // 1-based position in the trimmed input of the offending character; 0 if none
	Length   int    // ReasonLength: the number of characters found
	Expected string // ReasonLength: the length(s) allowed; ReasonKey: the key the number calls for; ReasonFirstDigit: the digits allowed
	Found    string // ReasonKey: the key written
	Detail   string // a free-form explanation, for the reasons that need one
}

func (e *Error) Error() string {
	var what string
	switch e.Reason {
	case ReasonEmpty:
		what = "is empty"
	case ReasonLength:
		what = fmt.Sprintf("must have %s characters, found %d", e.Expected, e.Length)
	case ReasonInnerSpace:
		what = fmt.Sprintf("has a space at position %d; write it without spaces", e.Pos)
	case ReasonNonDigit:
		what = fmt.Sprintf("has a character that is not a digit at position %d", e.Pos)
	case ReasonKey:
		what = fmt.Sprintf("check key is %s, the number calls for %s", e.Found, e.Expected)
	case ReasonFirstDigit:
		what = fmt.Sprintf("first digit must be one of %s", e.Expected)
	case ReasonMonth:
		what = "positions 4-5 are not a birth month (01-12, or 20-42 and 50-99 for an unknown month)"
	case ReasonCorsica:
		what = fmt.Sprintf("has a letter at position %d; only a Corsican department code (2A or 2B) may hold one", e.Pos)
	case ReasonSystem, ReasonSyntax, ReasonPrefix, ReasonLocalID:
		// These reasons have no fixed wording: Detail is the whole explanation.
		return e.Kind + " " + e.Detail
	default:
		what = "is not valid"
	}
	if e.Detail != "" {
		what += " (" + e.Detail + ")"
	}
	return e.Kind + " " + what
}

// Unwrap exposes the project's error code: every failure here is bad input.
func (e *Error) Unwrap() error {
	return &errs.Error{Code: errs.Invalid, Message: e.Error()}
}

// within re-labels an error found in a part of a composite identifier (the RPPS inside an
// IdNat_PS) so that its kind and position refer to the whole input.
func within(err error, kind string, offset int) error {
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	c := *e
	c.Kind = kind + " (" + e.Kind + ")"
	if c.Pos > 0 {
		c.Pos += offset
	}
	return &c
}
