package store

import (
	"context"
	"strings"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/errs"
)

// AgendaEventsByRefPrefix returns the patient's events of source whose reference begins with
// prefix: the instances of a series of invitations (agenda/invite.go), whose references are the
// series' followed by "-" and a hash. The prefix is matched with LIKE, so it may hold none of
// LIKE's wildcards (the agenda's references are letters, digits and "-").
func (tx *Tx) AgendaEventsByRefPrefix(ctx context.Context, patientID int64, source, prefix string, limit int) ([]agenda.Event, error) {
	if prefix == "" || strings.ContainsAny(prefix, `%_\`) {
		return nil, errs.E(errs.Invalid, "an event reference prefix holds a wildcard")
	}
	return tx.agendaEvents(ctx, `SELECT `+agendaColumns+` FROM agenda_events WHERE patient_id = $1 AND source = $2
		AND source_ref LIKE $3 ORDER BY id LIMIT $4`, patientID, source, prefix+"%", limit)
}
