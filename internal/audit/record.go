package audit

import (
	"context"
	"errors"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Appender appends a trace inside a transaction; the store's transaction implements it.
type Appender interface {
	AppendTrace(ctx context.Context, e Entry) (Trace, error)
}

// Do runs act in one transaction opened by update and traces it there, so the action and its
// trace commit together. If act is refused (or fails), the transaction rolls back, nothing of
// the action remains, and the refusal is traced in a transaction of its own: a refused
// request changes nothing but still leaves a trace (DESIGN invariants 2 and 4).
//
// act may adjust the entry (the patient, the object) through the pointer it receives.
func Do[T Appender](ctx context.Context, update func(context.Context, func(T) error) error, e Entry, act func(T, *Entry) error) error {
	err := update(ctx, func(tx T) error {
		if err := act(tx, &e); err != nil {
			return err
		}
		e.Outcome = Allowed
		_, err := tx.AppendTrace(ctx, e)
		return err
	})
	if err == nil {
		return nil
	}
	e.Outcome, e.Reason = Failure(err)
	if terr := update(ctx, func(tx T) error { _, err := tx.AppendTrace(ctx, e); return err }); terr != nil {
		return errors.Join(err, terr)
	}
	return err
}

// Failure says how a trace records an action that returned err: Denied with the code and the
// safe message for a refusal (bad request, not found, forbidden, conflict), Failed with the
// code alone for a fault of ours.
func Failure(err error) (Outcome, string) {
	switch code := errs.CodeOf(err); code {
	case errs.Invalid, errs.NotFound, errs.Forbidden, errs.Conflict:
		return Denied, string(code) + ": " + errs.MessageOf(err)
	default:
		return Failed, string(code)
	}
}

// IsRefusal reports whether err refuses the request (rather than being a fault of ours).
func IsRefusal(err error) bool {
	outcome, _ := Failure(err)
	return err != nil && outcome == Denied
}
