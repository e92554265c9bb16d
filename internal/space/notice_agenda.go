package space

import (
	"fmt"
	"strings"

	"github.com/carnet-sante/carnet/internal/notify"
)

// agendaReminderNotice is the day-before reminder of the agenda (internal/agenda): it says that
// something is planned tomorrow, never what, with whom or where.
func agendaReminderNotice(to, name, space, publicURL, id string) notify.Message {
	text := fmt.Sprintf("Bonjour %s,\n\nVous avez un rendez-vous demain dans l'agenda de %s.\n"+
		"Connectez-vous sur %s pour consulter l'agenda.\n\n"+
		"Pour ne plus recevoir ces rappels, décochez-les sur la page « M'abonner à mon agenda ».\n\n-- \ncarnet\n",
		name, space, strings.TrimSuffix(publicURL, "/"))
	return notify.Message{To: to, Subject: "Vous avez un rendez-vous demain", Text: text, ID: id}
}
