package space

import (
	"strings"
	"testing"
)

// The reminder says that something is planned tomorrow, and nothing of what: no health content
// in an e-mail (DOMAIN "The patient is notified on their personal e-mail, without any health
// content").
func TestAgendaReminderNoticeSaysNothingOfTheEvent(t *testing.T) {
	m := agendaReminderNotice("marie@example.fr", "Marie", "votre espace santé", "https://carnet.test/", "notice-1")
	if m.To != "marie@example.fr" || m.Subject != "Vous avez un rendez-vous demain" || m.ID != "notice-1" {
		t.Fatalf("%+v", m)
	}
	if !strings.Contains(m.Text, "Bonjour Marie") || !strings.Contains(m.Text, "https://carnet.test pour consulter l'agenda") {
		t.Fatalf("text: %s", m.Text)
	}
	// The builder takes no event: nothing of one can reach the text. Its words are fixed.
	for _, w := range []string{"médecin", "Dr", "consultation", "IRM", "hôpital"} {
		if strings.Contains(m.Text, w) {
			t.Fatalf("the reminder says %q: %s", w, m.Text)
		}
	}
}
