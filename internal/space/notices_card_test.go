package space_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/space"
)

// The "your emergency card was read" notice says that and where to look, nothing of the card.
func TestEmergencyCardNotice(t *testing.T) {
	svc, rec, _, _ := recordingService(t)
	ctx := context.Background()
	c, err := svc.Create(ctx, operator, space.NewSpace{Patient: person(t, "2790351215189", "Marie", "marie@example.fr", time.Date(1979, 3, 5, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	before := len(rec.sent)
	if err := svc.SendNotice(ctx, space.NoticeJob{PatientID: c.Patient.ID, Notice: space.NoticeEmergencyCard, Key: "card-read-20260310"}); err != nil {
		t.Fatal(err)
	}
	if len(rec.sent) != before+1 {
		t.Fatalf("%d notices sent", len(rec.sent)-before)
	}
	m := rec.sent[before]
	if m.To != "marie@example.fr" || !strings.Contains(m.Subject, "carte d'urgence") || !strings.Contains(m.Text, "historique des accès") {
		t.Errorf("notice: %+v", m)
	}
	if !strings.Contains(m.ID, "emergency-card") {
		t.Errorf("message id %q", m.ID)
	}
}
