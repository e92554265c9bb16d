package profile

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Device is a personal health device (a scale, a blood pressure monitor, a phone's step
// counter) that pushes a patient's measurements (IHE PCH-01). It is bound to the patient it
// first pushed for: its identifier names one device of one person.
type Device struct {
	ID           string // carnet's id: the FHIR Device id
	PatientID    int64
	Identifier   string // the device's own identifier, "system|value" (IEEE EUI-64, serial number)
	Manufacturer string
	Model        string
	Name         string
	Type         Code // the kind of device (ISO/IEEE 11073-10101 MDC code, SNOMED CT)
	CreatedBy    Author
	Created      time.Time
}

// Ref names the device in traces.
func (d *Device) Ref() string { return "device/" + d.ID }

// Pushed is what a push did.
type Pushed struct {
	Device        Device
	DeviceCreated bool // false: the device was known already (a conditional create that matched)
	Items         []Item
	// Created says, for each item, whether it was stored now; false: an item with the same
	// identifier and the same content was stored by an earlier push, and is returned as it is.
	Created []bool
}

// MaxPush bounds the measurements of one push.
const MaxPush = 100

// errRefused rolls back a push one of whose measurements was refused.
var errRefused = errors.New("a measurement of the push was refused")

// Push stores measurements a device took for the patient (IHE PCH-01, Communicate PCD Data),
// all or none, with the device: created on its first push (FHIR conditional create on its
// identifier), found on the next ones. Each measurement is decided as an item added to the
// profile (access.ActionDeposit: for an app, within the scopes and classes the patient
// granted; for a professional, as any of their deposits) and traced; a refusal stores nothing
// and is traced on its own. Then:
//
//   - a device identifier already bound to another patient is Conflict;
//   - a measurement whose identifier is stored already is returned as it is when its content
//     is the same (a gateway sending again what it is not sure arrived), Conflict otherwise.
//
// Contents are checked before anything is decided (Invalid: unknown measure, unit, implausible
// value, no device identifier).
func (s *Service) Push(ctx context.Context, r Request, patientID int64, dev Device, items []Item) (Pushed, error) {
	now := s.clock.Now()
	if err := checkDevice(&dev); err != nil {
		return Pushed{}, err
	}
	switch {
	case len(items) == 0:
		return Pushed{}, errs.E(errs.Invalid, "the push holds no measurement")
	case len(items) > MaxPush:
		return Pushed{}, errs.E(errs.Invalid, "the push holds %d measurements, more than the %d accepted", len(items), MaxPush)
	}
	idents := map[string]bool{}
	for i := range items {
		it := &items[i]
		it.Section = SectionMeasurements
		if err := s.normalize(it, now); err != nil {
			return Pushed{}, numbered(err, i, len(items), "measurement")
		}
		if it.Identifier != "" {
			if idents[it.Identifier] {
				return Pushed{}, numbered(errs.E(errs.Invalid, "two measurements of the push have the same identifier"), i, len(items), "measurement")
			}
			idents[it.Identifier] = true
		}
		prepare(it, r, patientID, now)
	}
	by := authorOf(r.Actor)
	out := Pushed{Items: items, Created: make([]bool, len(items))}
	refused := -1
	err := s.store.UpdateProfile(ctx, func(tx Tx) error {
		out.Items = append([]Item(nil), items...)
		out.DeviceCreated = false
		if err := spaceOpen(ctx, tx, patientID); err != nil {
			return err
		}
		grounds := make([]access.Decision, len(items))
		for i := range items {
			d, err := s.access.DecideTx(ctx, tx, r.Actor, r.Channel, patientID, access.ActionDeposit,
				access.Target{Ref: items[i].Ref(), Object: items[i].Object()}, r.BreakGlass)
			switch {
			case d.Reason == "":
				return err
			case !d.Allowed:
				refused = i
				return errRefused
			}
			grounds[i] = d
		}
		known, err := tx.ProfileDevice(ctx, dev.Identifier)
		switch {
		case err == nil && known.PatientID != patientID:
			return errs.E(errs.Conflict, "this Device identifier is bound to another patient")
		case err == nil:
			out.Device = known
		case errs.Is(err, errs.NotFound):
			dev.ID, dev.PatientID, dev.CreatedBy, dev.Created = newUUID(), patientID, by, now
			if err := tx.InsertProfileDevice(ctx, &dev); err != nil {
				return err
			}
			out.Device, out.DeviceCreated = dev, true
		default:
			return err
		}
		for i := range out.Items {
			it := &out.Items[i]
			it.Device = out.Device.ID
			if it.Identifier != "" {
				prior, err := tx.ProfileItemByIdentifier(ctx, it.Identifier)
				switch {
				case err == nil && prior.PatientID == patientID && sameMeasurement(prior.Measurement, it.Measurement):
					*it, out.Created[i] = prior, false
					continue
				case err == nil:
					return numbered(errs.E(errs.Conflict, "this Observation identifier is already stored with other content"), i, len(items), "measurement")
				case !errs.Is(err, errs.NotFound):
					return err
				}
			}
			if err := tx.InsertProfileItem(ctx, it); err != nil {
				return numbered(err, i, len(items), "measurement")
			}
			out.Created[i] = true
			if err := s.written(ctx, tx, r, it, grounds[i], now); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, errRefused):
		// Nothing committed: decide the refused measurement again on its own, which traces the
		// refusal (the settings have not changed in between, or the new decision stands).
		it := &items[refused]
		_, rerr := s.access.Decide(ctx, r.Actor, r.Channel, patientID, access.ActionDeposit,
			access.Target{Ref: it.Ref(), Object: it.Object()}, r.BreakGlass)
		if rerr == nil {
			rerr = errs.E(errs.Conflict, "the access settings changed during the push: try again")
		}
		return Pushed{}, numbered(rerr, refused, len(items), "measurement")
	default:
		return Pushed{}, errors.Join(err, s.traceFailure(ctx, r, patientID, items[0].Ref(), err))
	}
}

// checkDevice checks what a push says of its device.
func checkDevice(d *Device) error {
	d.Identifier = strings.TrimSpace(d.Identifier)
	sys, val, ok := strings.Cut(d.Identifier, "|")
	switch {
	case d.Identifier == "":
		return errs.E(errs.Invalid, "the Device has no identifier: a pushed measurement names the device that took it")
	case !ok || sys == "" || val == "":
		return errs.E(errs.Invalid, "the Device identifier needs a system and a value")
	case len(d.Identifier) > maxIdentifier:
		return errs.E(errs.Invalid, "the Device identifier is longer than %d bytes", maxIdentifier)
	case len(d.Manufacturer) > maxText || len(d.Model) > maxText || len(d.Name) > maxText:
		return errs.E(errs.Invalid, "the Device's names are longer than %d bytes", maxText)
	}
	return nil
}

// sameMeasurement reports whether two measurements say the same thing: a push sent again.
func sameMeasurement(a, b *Measurement) bool {
	if a == nil || b == nil || a.Code != b.Code || !a.Taken.Equal(b.Taken) || a.Value != b.Value || a.Unit != b.Unit ||
		len(a.Components) != len(b.Components) {
		return false
	}
	for i := range a.Components {
		if a.Components[i] != b.Components[i] {
			return false
		}
	}
	return true
}

// numbered prefixes an error's message with the position of what it is about (a measurement, a
// profile item) in a call of more than one, keeping its code.
func numbered(err error, i, n int, what string) error {
	if n <= 1 || err == nil {
		return err
	}
	return errs.Wrap(errs.CodeOf(err), err, "%s %d: %s", what, i+1, errs.MessageOf(err))
}

// traceFailure traces a push that failed after it was allowed (its transaction, and the
// allowed traces with it, rolled back): a conflict is the patient's business too.
func (s *Service) traceFailure(ctx context.Context, r Request, patientID int64, ref string, cause error) error {
	e := audit.Entry{At: s.clock.Now(), Actor: authorOf(r.Actor).audit(), Channel: r.Channel,
		Action: string(access.ActionDeposit), PatientID: patientID, Object: ref}
	e.Outcome, e.Reason = audit.Failure(cause)
	ctx = context.WithoutCancel(ctx)
	return s.store.UpdateProfile(ctx, func(tx Tx) error {
		_, err := tx.AppendTrace(ctx, e)
		return err
	})
}

func (a Author) audit() audit.Actor {
	return audit.Actor{Kind: a.Kind, ID: a.ID, Name: a.Name, Org: a.Org}
}
