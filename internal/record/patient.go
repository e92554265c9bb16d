package record

import (
	"context"
	"strconv"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/space"
)

// Holder is the identity of a space's holder and the space's state, as FHIR's Patient resource
// shows them (internal/fhir GET Patient/{id}, the first read of every SMART patient app).
type Holder struct {
	Patient space.Patient
	State   space.State
}

// ReadHolder reads the identity of the holder of patientID's space (INS, names, birth date,
// sex) for r's actor. The identity is personal data of the record: it is decided as reading
// the record as a whole (access.ActionSearch, so a professional needs a ground, an app its
// patient's grant) and traced, allowed or refused.
//
// Whoever is refused, or asks for a patient that does not exist, gets NotFound: the answer
// must not tell that a space exists. A patient, a representative or an app asking for another
// patient than their own is refused in their own chain, never in the other patient's (as
// LookupSpace does), and so is anyone asking for an id that names no patient.
func (s *Service) ReadHolder(ctx context.Context, r Request, patientID int64) (Holder, error) {
	notFound := errs.E(errs.NotFound, "no such patient")
	ref := "patient/" + strconv.FormatInt(patientID, 10)
	refuse := func(reason string) error {
		return s.store.UpdateRecords(context.WithoutCancel(ctx), func(tx Tx) error {
			_, err := tx.AppendTrace(ctx, audit.Entry{At: s.clock.Now(), Actor: r.Actor.Audit(), Channel: r.Channel,
				Action: string(access.ActionSearch), Object: ref, Outcome: audit.Denied, Reason: reason})
			return err
		})
	}
	if patientID <= 0 || (actsForOne(r.Actor) && patientID != r.Actor.PatientID) {
		if err := refuse("not_own_patient"); err != nil {
			return Holder{}, err
		}
		return Holder{}, notFound
	}
	exists := false
	if err := s.store.ViewRecords(ctx, func(tx Tx) error {
		_, err := tx.Patient(ctx, patientID)
		switch {
		case errs.Is(err, errs.NotFound):
			return nil
		case err != nil:
			return err
		}
		exists = true
		return nil
	}); err != nil {
		return Holder{}, err
	}
	if !exists {
		if err := refuse("no_such_patient"); err != nil {
			return Holder{}, err
		}
		return Holder{}, notFound
	}
	var h Holder
	err := s.read(ctx, r, patientID, access.ActionSearch, access.Target{Ref: ref}, func(tx Tx) error {
		p, err := tx.Patient(ctx, patientID)
		if err != nil {
			return err
		}
		sp, err := tx.Space(ctx, patientID)
		if err != nil {
			return err
		}
		h = Holder{Patient: p, State: sp.State}
		return nil
	})
	if errs.Is(err, errs.Forbidden) || errs.Is(err, errs.NotFound) {
		return Holder{}, notFound
	}
	if err != nil {
		return Holder{}, err
	}
	return h, nil
}
