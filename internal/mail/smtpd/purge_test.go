package smtpd_test

import (
	"context"
	"testing"

	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// Purging a space erases the patient's mailbox: their deliveries, folders and conversations,
// and the messages only they held (their bytes queued for the blob garbage job), while a
// message also sent to a professional stays theirs; the mailbox stays, disabled and nameless.
func TestPurgeErasesThePatientsMail(t *testing.T) {
	ctx := context.Background()
	e := mailtest.New(t, mailtest.Options{})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	colleague := e.Professional(t, 2, "paul.roux", "ROUX", "Paul")
	patientID, patient := e.Patient(t, 1)
	c := client(t, e, e.Submission, true, pro.Address, pro.Password)
	shared := mailtest.Message("Dr Claire Martin <"+pro.Address+">", patient, "Votre suivi", "Copie au Dr Roux.")
	if stage, err := send(c, pro.Address, []string{patient, colleague.Address}, shared); err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
	own := mailtest.Message("Dr Claire Martin <"+pro.Address+">", patient, "Résultats", "Vos résultats sont normaux.")
	if stage, err := send(c, pro.Address, []string{patient}, own); err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
	got := e.Deliveries(t, patient)
	if len(got) != 2 {
		t.Fatalf("patient's INBOX before the purge: %+v", got)
	}
	sharedID, ownID := got[0].MessageID, got[1].MessageID
	blobOf := func(id int64) string {
		var b string
		if err := e.DB.SQL().QueryRow(`SELECT blob_id FROM mail_messages WHERE id = $1`, id).Scan(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	sharedBlob, ownBlob := blobOf(sharedID), blobOf(ownID)

	by := space.By{Actor: e.Admin.Actor, Channel: e.Admin.Channel}
	if _, err := e.Spaces.Close(ctx, by, patientID, true); err != nil {
		t.Fatal(err)
	}
	e.Clock.Set(e.Clock.Now().AddDate(0, space.DefaultPolicy().DeletionMonths, 1))
	if rep, err := e.Spaces.Sweep(ctx); err != nil || rep.Purged != 1 {
		t.Fatalf("sweep: %+v %v", rep, err)
	}

	if got := e.Deliveries(t, patient); len(got) != 0 {
		t.Errorf("patient's INBOX after the purge: %+v", got)
	}
	count := func(q string, args ...any) int {
		var n int
		if err := e.DB.SQL().QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT COUNT(*) FROM mail_messages WHERE id = $1`, ownID); n != 0 {
		t.Error("the message only the patient held is still stored")
	}
	if n := count(`SELECT COUNT(*) FROM blob_garbage WHERE blob_id = $1`, ownBlob); n != 1 {
		t.Error("the bytes of the message only the patient held are not queued for erasure")
	}
	if n := count(`SELECT COUNT(*) FROM blob_garbage WHERE blob_id = $1`, sharedBlob); n != 0 {
		t.Error("the bytes of a message a professional holds too are queued for erasure")
	}
	if n := count(`SELECT COUNT(*) FROM mail_conversations WHERE patient_address = $1`, patient); n != 0 {
		t.Errorf("%d conversations of the patient left", n)
	}
	if n := count(`SELECT COUNT(*) FROM mail_folders f JOIN mailboxes m ON m.id = f.mailbox_id WHERE m.patient_id = $1`, patientID); n != 0 {
		t.Errorf("%d folders of the patient left", n)
	}
	if n := count(`SELECT COUNT(*) FROM mailboxes WHERE patient_id = $1 AND display_name = '' AND disabled_at IS NOT NULL AND used_bytes = 0`, patientID); n != 1 {
		t.Error("the patient's mailbox is not disabled and blanked")
	}
	// The professional keeps their copy, whole.
	kept := e.Deliveries(t, colleague.Address)
	if len(kept) != 1 || kept[0].MessageID != sharedID {
		t.Fatalf("colleague's INBOX: %+v", kept)
	}
	if body := e.ReadMessage(t, sharedID); len(body) == 0 {
		t.Error("the shared message is unreadable")
	}
}
