package agendamail_test

import (
	"context"
	"errors"
	"net/smtp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/agenda/agendamail"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
)

// OtherDomain is another operator's, in the test allowlist.
const OtherDomain = "hopital.other.example"

// probe hands each delivery to the inspector and reports its finding; told so, it fails the
// first call after the inspector ran, as another inspector's failure would, so that the job is
// retried and the inspector sees the same delivery again.
type probe struct {
	in       mail.Inspector
	mu       sync.Mutex
	failNext bool
	found    chan mail.Finding
}

func (p *probe) Inspect(ctx context.Context, d mail.Delivered) (mail.Finding, error) {
	f, err := p.in.Inspect(ctx, d)
	p.mu.Lock()
	fail := p.failNext
	p.failNext = false
	p.mu.Unlock()
	if err == nil && fail {
		err = errors.New("another inspector failed")
	}
	p.found <- f
	return f, err
}

func (p *probe) failOnce() { p.mu.Lock(); p.failNext = true; p.mu.Unlock() }

func (p *probe) wait(t *testing.T) mail.Finding {
	t.Helper()
	select {
	case f := <-p.found:
		return f
	case <-time.After(30 * time.Second):
		t.Fatal("the message was not inspected")
	}
	return mail.Finding{}
}

type env struct {
	*mailtest.Env
	agenda *agenda.Service
	access *access.Service
	probe  *probe
	pid    int64
	box    string // the patient's address
}

func newEnv(t *testing.T) *env {
	t.Helper()
	p := &probe{found: make(chan mail.Finding, 16)}
	e := mailtest.New(t, mailtest.Options{Inspectors: []mail.Inspector{p}})
	m, err := access.DefaultMatrix()
	if err != nil {
		t.Fatal(err)
	}
	acc := access.NewService(e.DB.Access(), e.Clock, m, access.ServicePolicy{})
	a, err := agenda.NewService(agenda.Deps{Store: e.DB.Agenda(), Access: acc, Clock: e.Clock})
	if err != nil {
		t.Fatal(err)
	}
	in := agendamail.New(a, nil)
	p.in = in
	in.Use(e.Mail) // as serve does, once the messaging runs
	pid, box := e.Patient(t, 1)
	return &env{Env: e, agenda: a, access: acc, probe: p, pid: pid, box: box}
}

func (e *env) send(t *testing.T, addr, user, pass, from, msg string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(e.ClientTLS); err != nil {
		t.Fatal(err)
	}
	if user != "" {
		if err := c.Auth(smtp.PlainAuth("", user, pass, "127.0.0.1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Mail(from); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(e.box); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// events reads the patient's agenda as the patient, through the agenda service.
func (e *env) events(t *testing.T) []agenda.Event {
	t.Helper()
	r := agenda.Request{Channel: audit.ChannelWeb, Actor: access.Actor{Kind: audit.ActorPatient, ID: "account-1", PatientID: e.pid}}
	evs, err := e.agenda.List(context.Background(), r, e.pid, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// vevent writes a calendar of one event.
func vevent(method, uid string, seq int, stamp, start, end, summary string) string {
	lines := []string{"BEGIN:VCALENDAR", "PRODID:-//Test//FR", "VERSION:2.0"}
	if method != "" {
		lines = append(lines, "METHOD:"+method)
	}
	lines = append(lines, "BEGIN:VEVENT", "UID:"+uid, "SEQUENCE:"+string(rune('0'+seq)), "DTSTAMP:"+stamp)
	if start != "" {
		lines = append(lines, "DTSTART;TZID=Europe/Paris:"+start)
	}
	if end != "" {
		lines = append(lines, "DTEND;TZID=Europe/Paris:"+end)
	}
	if summary != "" {
		lines = append(lines, "SUMMARY:"+summary)
	}
	lines = append(lines, "LOCATION:CHU\\, bâtiment B", "ORGANIZER;CN=\"Dr Claire Martin\":mailto:claire.martin@"+mailtest.Domain,
		"END:VEVENT", "END:VCALENDAR")
	return strings.Join(lines, "\r\n") + "\r\n"
}

// message writes an invitation as mail software sends one: the text, and the calendar as an
// alternative part (RFC 6047) or as an attached .ics file.
func message(from, to, subject, cal string, attached bool) string {
	part := "Content-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\r\n"
	if attached {
		part = "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"invitation.ics\"\r\n\r\n"
	}
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject + "@test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVous êtes convoqué·e.\r\n" +
		"--b1\r\n" + part + cal + "\r\n--b1--\r\n"
}

// An invitation sent over SMTP files an appointment in the patient's agenda under the
// sender's identity; the updated invitation moves the same event; a cancellation cancels it;
// a malformed calendar changes nothing and says why; an inspection retried files nothing twice.
func TestInvitationsOverSMTP(t *testing.T) {
	e := newEnv(t)
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	from := "Dr Claire Martin <" + pro.Address + ">"

	// The first inspection is failed by "another inspector" after ours filed: the retry must
	// not file the event twice.
	e.probe.failOnce()
	cal := vevent("REQUEST", "conv-42@chu", 0, "20260501T080000Z", "20260610T093000", "20260610T101500", "Consultation de cardiologie")
	e.send(t, e.Submission, pro.Address, pro.Password, pro.Address, message(from, e.box, "convocation", cal, false))
	for range 2 {
		if f := e.probe.wait(t); f.Failure != "" {
			t.Fatalf("finding: %+v", f)
		}
	}
	evs := e.events(t)
	if len(evs) != 1 {
		t.Fatalf("%d events after a retried inspection", len(evs))
	}
	ev := evs[0]
	a, err := agenda.AppointmentOf(&ev)
	if err != nil {
		t.Fatal(err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	if !ev.Start.Equal(time.Date(2026, 6, 10, 9, 30, 0, 0, paris)) || !ev.End.Equal(time.Date(2026, 6, 10, 10, 15, 0, 0, paris)) ||
		ev.Title != "Rendez-vous : Consultation de cardiologie — Claire MARTIN" || ev.Detail != "CHU, bâtiment B" ||
		ev.Kind != agenda.KindAppointment || ev.CreatedBy.Kind != audit.ActorProfessional || ev.CreatedBy.ID != pro.IdNat ||
		a.Version != 1 || a.Origin != agenda.OriginMail {
		t.Fatalf("event: %+v %+v", ev, a)
	}

	// The update (SEQUENCE 1), as an attached .ics file: the same event, moved.
	cal = vevent("REQUEST", "conv-42@chu", 1, "20260502T080000Z", "20260612T140000", "20260612T150000", "Consultation de cardiologie")
	e.send(t, e.Submission, pro.Address, pro.Password, pro.Address, message(from, e.box, "report", cal, true))
	if f := e.probe.wait(t); !f.Processed || f.Failure != "" {
		t.Fatalf("update finding: %+v", f)
	}
	evs = e.events(t)
	if len(evs) != 1 || evs[0].ID != ev.ID || !evs[0].Start.Equal(time.Date(2026, 6, 12, 14, 0, 0, 0, paris)) {
		t.Fatalf("after the update: %+v", evs)
	}

	// A malformed calendar (an unknown escape): nothing changes, the finding says why.
	bad := strings.Replace(vevent("REQUEST", "conv-42@chu", 2, "20260503T080000Z", "20260613T140000", "", "x"), "CHU\\,", "CHU\\q", 1)
	e.send(t, e.Submission, pro.Address, pro.Password, pro.Address, message(from, e.box, "illisible", bad, false))
	if f := e.probe.wait(t); f.Processed || !strings.HasPrefix(f.Failure, "AGENDA_ILLISIBLE^") {
		t.Fatalf("malformed finding: %+v", f)
	}
	if after := e.events(t); len(after) != 1 || !after[0].Start.Equal(evs[0].Start) || after[0].Title != evs[0].Title {
		t.Fatalf("a malformed calendar changed the agenda: %+v", after)
	}

	// The cancellation.
	cal = vevent("CANCEL", "conv-42@chu", 2, "20260504T080000Z", "", "", "")
	e.send(t, e.Submission, pro.Address, pro.Password, pro.Address, message(from, e.box, "annulation", cal, false))
	if f := e.probe.wait(t); !f.Processed || f.Failure != "" {
		t.Fatalf("cancel finding: %+v", f)
	}
	evs = e.events(t)
	if a, err := agenda.AppointmentOf(&evs[0]); len(evs) != 1 || err != nil || a.Status != agenda.StatusCancelled ||
		!strings.HasPrefix(evs[0].Title, "Rendez-vous annulé : ") {
		t.Fatalf("after the cancellation: %+v", evs)
	}
}

// A hospital's convocations software writes from its APP mailbox: the event is filed under the
// organisation's staff identifier. Another operator's sender cannot be identified here: its
// invitation is not filed, and the finding says why.
func TestInvitationSenders(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	org := e.Organisation(t, "750100125", "CHU de Test", "Paris")
	box, err := e.Mail.CreateMailbox(ctx, e.Admin, mail.NewMailbox{Kind: mail.APP, LocalPart: "convocations", StructureID: org})
	if err != nil {
		t.Fatal(err)
	}
	pass, _, err := e.Mail.CreateAppPassword(ctx, e.Admin, box.Address.String(), "", "logiciel de convocations")
	if err != nil {
		t.Fatal(err)
	}
	cal := vevent("PUBLISH", "hdj-7@chu", 0, "20260501T080000Z", "20260615T080000", "", "Hôpital de jour")
	e.send(t, e.Submission, box.Address.String(), pass, box.Address.String(), message(box.Address.String(), e.box, "hdj", cal, false))
	if f := e.probe.wait(t); !f.Processed || f.Failure != "" {
		t.Fatalf("finding: %+v", f)
	}
	evs := e.events(t)
	if len(evs) != 1 || evs[0].CreatedBy.ID != "3750100125/convocations" || evs[0].CreatedBy.Kind != audit.ActorProfessional {
		t.Fatalf("events: %+v", evs)
	}

	e.Allow(t, OtherDomain)
	sender := "dr.house@" + OtherDomain
	cal = vevent("REQUEST", "x-1@other", 0, "20260501T080000Z", "20260616T080000", "", "Consultation")
	e.send(t, e.Relay, "", "", sender, message(sender, e.box, "relayed", cal, false))
	if f := e.probe.wait(t); f.Processed || !strings.HasPrefix(f.Failure, "AGENDA_EXPEDITEUR^") {
		t.Fatalf("relayed finding: %+v", f)
	}
	if len(e.events(t)) != 1 {
		t.Fatal("a relayed invitation was filed")
	}
}

// orgMailbox makes an ORG mailbox of an organisation and its members, each with their own app
// password.
func orgMailbox(t *testing.T, e *env, members ...mailtest.Pro) (string, []string) {
	t.Helper()
	ctx := context.Background()
	org := e.Organisation(t, "750100125", "Centre de cardiologie", "Paris")
	box, err := e.Mail.CreateMailbox(ctx, e.Admin, mail.NewMailbox{Kind: mail.ORG, LocalPart: "secretariat.cardio", StructureID: org})
	if err != nil {
		t.Fatal(err)
	}
	var passes []string
	for _, m := range members {
		if err := e.Mail.AddMember(ctx, e.Admin, box.Address.String(), m.IdNat); err != nil {
			t.Fatal(err)
		}
		pass, _, err := e.Mail.CreateAppPassword(ctx, e.Admin, box.Address.String(), m.IdNat, "poste de "+m.IdNat)
		if err != nil {
			t.Fatal(err)
		}
		passes = append(passes, pass)
	}
	return box.Address.String(), passes
}

// A professional the patient blocked, member of an organisation's mailbox, sends an invitation
// from it with their own app password: they are the actor, the decision refuses them, the
// trace names them, and the finding says why in French only. A member the patient did not block
// files the event as themselves, on behalf of the organisation, named as the directory knows
// them (not as the ORGANIZER's CN says); another member moves the same event (the
// organisation's UIDs are one namespace).
func TestInvitationFromOrganisationMailboxMembers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	blocked := e.Professional(t, 1, "paul.roux", "ROUX", "Paul")
	claire := e.Professional(t, 2, "claire.martin", "MARTIN", "Claire")
	sophie := e.Professional(t, 3, "sophie.leroy", "LEROY", "Sophie")
	from, passes := orgMailbox(t, e, blocked, claire, sophie)
	holder := access.Actor{Kind: audit.ActorPatient, ID: "patient-1", Name: "Lucie Durand", PatientID: e.pid}
	if err := e.access.Block(ctx, holder, audit.ChannelWeb, e.pid, blocked.IdNat); err != nil {
		t.Fatal(err)
	}

	cal := strings.Replace(vevent("REQUEST", "org-1@cardio", 0, "20260501T080000Z", "20260610T093000", "", "Échographie"),
		"CN=\"Dr Claire Martin\"", "CN=\"Pr Jean Dupont\"", 1)
	e.send(t, e.Submission, from, passes[0], from, message(from, e.box, "org-blocked", cal, false))
	f := e.probe.wait(t)
	if f.Processed || !strings.HasPrefix(f.Failure, "AGENDA_REFUS^L'invitation n'est pas ajoutée à l'agenda : l'expéditeur n'est pas autorisé") {
		t.Fatalf("the blocked member's finding: %+v", f)
	}
	if strings.ContainsAny(f.Failure, "()") || strings.Contains(f.Failure, "piece-jointe") {
		t.Fatalf("the finding carries more than its French label: %q", f.Failure)
	}
	if evs := e.events(t); len(evs) != 0 {
		t.Fatalf("the blocked member filed: %+v", evs)
	}
	var actor string
	if err := e.DB.SQL().QueryRow(`SELECT actor_id FROM traces WHERE patient_id = $1 AND action = $2 AND outcome = 'denied'`,
		e.pid, string(access.ActionDeposit)).Scan(&actor); err != nil {
		t.Fatal(err)
	}
	if actor != blocked.IdNat {
		t.Fatalf("the refusal names %q, want the member who sent it %s", actor, blocked.IdNat)
	}

	// Claire files it: the event is hers, on behalf of the organisation, named as the
	// directory knows her whatever the CN says.
	e.send(t, e.Submission, from, passes[1], from, message(from, e.box, "org-claire", cal, false))
	if f := e.probe.wait(t); !f.Processed || f.Failure != "" {
		t.Fatalf("Claire's finding: %+v", f)
	}
	evs := e.events(t)
	if len(evs) != 1 || evs[0].CreatedBy.ID != claire.IdNat ||
		evs[0].Title != "Rendez-vous : Échographie — Claire MARTIN" {
		t.Fatalf("Claire's event: %+v", evs)
	}
	var org string
	if err := e.DB.SQL().QueryRow(`SELECT actor_org FROM traces WHERE patient_id = $1 AND action = $2 AND outcome = 'allowed' AND actor_id = $3`,
		e.pid, string(access.ActionDeposit), claire.IdNat).Scan(&org); err != nil || org != "1750100125" {
		t.Fatalf("the trace's organisation: %q %v", org, err)
	}
	// Sophie moves it: the same event.
	moved := vevent("REQUEST", "org-1@cardio", 1, "20260502T080000Z", "20260611T093000", "", "Échographie")
	e.send(t, e.Submission, from, passes[2], from, message(from, e.box, "org-sophie", moved, false))
	if f := e.probe.wait(t); !f.Processed || f.Failure != "" {
		t.Fatalf("Sophie's finding: %+v", f)
	}
	if after := e.events(t); len(after) != 1 || after[0].ID != evs[0].ID || !strings.HasSuffix(after[0].Title, "— Sophie LEROY") {
		t.Fatalf("after Sophie's update: %+v", after)
	}
}

// The findings of an unreadable calendar name the part as the sender knows it, in French.
func TestInvitationFindingsInFrench(t *testing.T) {
	e := newEnv(t)
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	bad := strings.Replace(vevent("REQUEST", "x@chu", 0, "20260503T080000Z", "20260613T140000", "", "x"), "CHU\\,", "CHU\\q", 1)
	e.send(t, e.Submission, pro.Address, pro.Password, pro.Address, message(pro.Address, e.box, "alt", bad, false))
	if f := e.probe.wait(t); f.Failure != "AGENDA_ILLISIBLE^L'invitation est illisible : ce n'est pas un agenda iCalendar valide (RFC 5545)." {
		t.Fatalf("an unnamed part: %q", f.Failure)
	}
	e.send(t, e.Submission, pro.Address, pro.Password, pro.Address, message(pro.Address, e.box, "att", bad, true))
	if f := e.probe.wait(t); f.Failure != "AGENDA_ILLISIBLE^L'invitation « invitation.ics » est illisible : ce n'est pas un agenda iCalendar valide (RFC 5545)." {
		t.Fatalf("a named part: %q", f.Failure)
	}
	reply := vevent("REPLY", "y@chu", 0, "20260503T080000Z", "20260613T140000", "", "x")
	e.send(t, e.Submission, pro.Address, pro.Password, pro.Address, message(pro.Address, e.box, "reply", reply, false))
	if f := e.probe.wait(t); !strings.HasPrefix(f.Failure, "AGENDA_REFUS^L'invitation n'est pas ajoutée à l'agenda : ce n'est pas une invitation") {
		t.Fatalf("a reply: %q", f.Failure)
	}
}
