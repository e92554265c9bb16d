package smtpd_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
)

// recorder is an inspector that keeps what it was given, and fails its first call when told.
type recorder struct {
	mu      sync.Mutex
	seen    []mail.Delivered
	failOne bool
	calls   chan struct{}
}

func (r *recorder) Inspect(_ context.Context, d mail.Delivered) (mail.Finding, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, d)
	defer func() { r.calls <- struct{}{} }()
	if r.failOne {
		r.failOne = false
		return mail.Finding{}, errors.New("the record is unavailable")
	}
	return mail.Finding{Inspector: "recorder", Processed: true}, nil
}

func (r *recorder) wait(t *testing.T, n int) []mail.Delivered {
	t.Helper()
	for range n {
		select {
		case <-r.calls:
		case <-time.After(30 * time.Second):
			t.Fatalf("the inspector was not called %d times", n)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]mail.Delivered(nil), r.seen...)
}

func withAttachment(from, to, subject, name, ctype, content string) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + name + "@test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour.\r\n" +
		"--b1\r\nContent-Type: " + ctype + "\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\n\r\n" + content + "\r\n--b1--\r\n"
}

// A message with an attachment delivered to a patient is handed to the inspectors once the
// delivery committed, taken apart, with its bytes; a plain message, or one to a professional,
// queues nothing; an inspector's failure retries the job, and the inspector sees the same
// delivery again.
func TestInspectionOfPatientDeliveries(t *testing.T) {
	rec := &recorder{failOne: true, calls: make(chan struct{}, 16)}
	e := mailtest.New(t, mailtest.Options{Inspectors: []mail.Inspector{rec}})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	colleague := e.Professional(t, 2, "paul.durand", "DURAND", "Paul")
	patientID, patient := e.Patient(t, 1)
	c := client(t, e, e.Submission, true, pro.Address, pro.Password)

	plain := mailtest.Message("Dr Claire Martin <"+pro.Address+">", patient, "Bonjour", "Un message sans pièce jointe.")
	if stage, err := send(c, pro.Address, []string{patient}, plain); err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
	toColleague := withAttachment(pro.Address, colleague.Address, "Compte rendu", "cr.txt", "text/plain", "confrère")
	if stage, err := send(c, pro.Address, []string{colleague.Address}, toColleague); err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
	attached := withAttachment("Dr Claire Martin <"+pro.Address+">", patient, "Votre convocation", "rdv.ics", "text/calendar", "BEGIN:VCALENDAR\r\nEND:VCALENDAR")
	if stage, err := send(c, pro.Address, []string{patient}, attached); err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
	seen := rec.wait(t, 2) // the failed call, then the retry
	var queued int
	if err := e.DB.SQL().QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'mail.inspect'`).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if queued != 1 {
		t.Fatalf("%d inspection jobs, want 1 (only the patient's message with an attachment)", queued)
	}
	if seen[0].Job != seen[1].Job {
		t.Fatalf("the retry inspected another delivery: %+v then %+v", seen[0].Job, seen[1].Job)
	}
	d := seen[1]
	if d.Job.PatientID != patientID || d.From.String() != pro.Address || d.Name != "Dr Claire Martin" {
		t.Fatalf("delivery: %+v from %s %q", d.Job, d.From, d.Name)
	}
	if d.View.Subject != "Votre convocation" || len(d.View.Attachments) != 1 {
		t.Fatalf("view: %q, %d attachments", d.View.Subject, len(d.View.Attachments))
	}
	a := d.View.Attachments[0]
	if a.Name != "rdv.ics" || a.Declared != "text/calendar" || !strings.Contains(string(a.Data()), "BEGIN:VCALENDAR") {
		t.Fatalf("attachment: %q %q %q", a.Name, a.Declared, a.Data())
	}
	if d.Header.Get("Message-Id") != "<rdv.ics@test>" {
		t.Fatalf("header: %q", d.Header.Get("Message-Id"))
	}
	select {
	case <-rec.calls:
		t.Fatal("inspected once more after success")
	case <-time.After(300 * time.Millisecond):
	}
}

// The inspection names who signed in to send (an identifier, never content); a message its
// parsers refuse is not retried for hours but cancelled at once, no inspector called; a
// delivery whose mailbox no longer holds the message is not inspected.
func TestInspectionSenderAndLimits(t *testing.T) {
	rec := &recorder{calls: make(chan struct{}, 16)}
	e := mailtest.New(t, mailtest.Options{Inspectors: []mail.Inspector{rec}})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	_, patient := e.Patient(t, 1)
	_, other := e.Patient(t, 2)
	c := client(t, e, e.Submission, true, pro.Address, pro.Password)
	msg := withAttachment(pro.Address, patient, "Compte rendu", "cr.pdf", "application/pdf", "%PDF-1.4")
	if stage, err := send(c, pro.Address, []string{patient, other}, msg); err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
	seen := rec.wait(t, 2)
	if seen[0].Job.Sender != pro.IdNat || seen[1].Job.Sender != pro.IdNat {
		t.Fatalf("sender %q %q, want %s", seen[0].Job.Sender, seen[1].Job.Sender, pro.IdNat)
	}
	// The same message named with a mailbox that does not hold it (a patient who deleted it).
	job := seen[0].Job
	job.MailboxID = pro.Mailbox.ID
	if f, err := e.Mail.Inspect(context.Background(), job); err != nil || len(f) != 0 {
		t.Fatalf("inspection of a message the mailbox no longer holds: %v %v", f, err)
	}

	var b strings.Builder
	b.WriteString("From: " + pro.Address + "\r\nTo: " + patient + "\r\nSubject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := range 300 {
		b.WriteString("--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"p" + itoa(int64(i)) + "\"\r\n\r\nx\r\n")
	}
	b.WriteString("--b--\r\n")
	if stage, err := send(c, pro.Address, []string{patient}, b.String()); err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
	var state string
	for range 600 {
		if err := e.DB.SQL().QueryRow(`SELECT state FROM river_job WHERE kind = 'mail.inspect' ORDER BY id DESC LIMIT 1`).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state != "available" && state != "running" && state != "retryable" && state != "scheduled" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if state != "cancelled" {
		t.Fatalf("the unreadable message's inspection is %s, want cancelled", state)
	}
	select {
	case <-rec.calls:
		t.Fatal("an inspector was given the unreadable message")
	default:
	}
}
