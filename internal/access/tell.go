package access

import (
	"context"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/identity"
)

// Teller is what telling people of an access needs of the store transaction that made it.
type Teller interface {
	// MarkSeen records that a professional accessed the record, and reports whether it was
	// the first time.
	MarkSeen(ctx context.Context, patientID int64, idnat string, at time.Time) (bool, error)
	// QueueNotice records that the patient is to be told of something at notBefore; a notice
	// queued under the same key stays as it was, so a key says how often one is sent.
	QueueNotice(ctx context.Context, patientID int64, key string, notBefore, now time.Time) error
}

// Tell queues, in the transaction of an access d allowed to actor, what must be told of it
// after the fact: to the patient, a professional's first access (when reading) and an
// emergency access; to the médecins traitants, an emergency access (CSP R1111-48). An
// emergency session reads many documents in a day: the keys make one notice a day per
// professional and recipient. The notices name no one and hold nothing of the record; the
// job that sends them reads what it needs, and the trail says who.
func Tell(ctx context.Context, tx Teller, actor Actor, patientID int64, d Decision, reading bool, now time.Time) error {
	if !d.Allowed || actor.Kind != audit.ActorProfessional {
		return nil
	}
	id, err := identity.ParseIdNatPS(actor.ID)
	if err != nil {
		return nil // the decision refused such an actor; nothing to tell
	}
	idnat := id.String()
	// The author of a deposit is seen too, so that their later reads are no news.
	first, err := tx.MarkSeen(ctx, patientID, idnat, now)
	if err != nil {
		return err
	}
	if first && reading {
		if err := tx.QueueNotice(ctx, patientID, "first-"+idnat, now, now); err != nil {
			return err
		}
	}
	day := now.UTC().Format("20060102")
	for _, to := range d.Notify {
		key := "emergency-" + idnat + "-" + day
		if to == NotifyMedecinTraitant {
			key = AlertKey(d.Basis, idnat, now)
		}
		if err := tx.QueueNotice(ctx, patientID, key, now, now); err != nil {
			return err
		}
	}
	return nil
}

// alertPrefix starts the notice key of an alert to the médecins traitants.
const alertPrefix = "alert-mt-"

// AlertKey is the notice key of the alert telling the médecins traitants that the
// professional idnat accessed the record on basis (break-glass or regulation) on at's day.
func AlertKey(basis Reason, idnat string, at time.Time) string {
	return alertPrefix + string(basis) + "-" + at.UTC().Format("20060102") + "-" + idnat
}

// Alert is what an alert key says.
type Alert struct {
	Basis Reason // ReasonBreakGlass or ReasonRegulation
	Day   time.Time
	IdNat string // the professional who accessed
}

// ParseAlertKey reads an alert key; ok is false for the key of any other notice.
func ParseAlertKey(key string) (a Alert, ok bool) {
	rest, ok := strings.CutPrefix(key, alertPrefix)
	if !ok {
		return Alert{}, false
	}
	for _, b := range []Reason{ReasonBreakGlass, ReasonRegulation} {
		tail, found := strings.CutPrefix(rest, string(b)+"-")
		if !found || len(tail) < 10 || tail[8] != '-' {
			continue
		}
		day, err := time.Parse("20060102", tail[:8])
		if err != nil {
			return Alert{}, false
		}
		id, err := identity.ParseIdNatPS(tail[9:])
		if err != nil {
			return Alert{}, false
		}
		return Alert{Basis: b, Day: day, IdNat: id.String()}, true
	}
	return Alert{}, false
}
