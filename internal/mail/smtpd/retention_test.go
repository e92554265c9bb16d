package smtpd_test

import (
	"bytes"
	"context"
	"io"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/notify"
)

// A mailbox unused for a year less a month is warned of by e-mail to its holders; one still
// unused a month later is deleted: a professional's stays disabled and out of the directory,
// a patient's goes with its messages. Signing in from a mail client in between keeps it.
func TestMailboxInactivity(t *testing.T) {
	ctx := context.Background()
	e := mailtest.New(t, mailtest.Options{})
	outbox := t.TempDir()
	sender, err := notify.NewOutbox(notify.Config{OutboxDir: outbox}, e.Clock)
	if err != nil {
		t.Fatal(err)
	}
	rule, err := mail.NewRetention(e.Mail, sender, mail.DefaultRetention())
	if err != nil {
		t.Fatal(err)
	}
	writer := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire") // will keep using hers
	idle := idleProfessional(t, e, 2, "paul.roux", "paul.roux@example.org")
	_, patient := e.Patient(t, 1)
	c := client(t, e, e.Submission, true, writer.Address, writer.Password)
	if stage, err := send(c, writer.Address, []string{patient, idle.Address.String()}, mailtest.Message("Dr Claire Martin <"+writer.Address+">",
		patient, "Résultats", "Vos résultats sont normaux.")); err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
	c.Close()

	// Nearly a year later: everyone is warned, once.
	e.Clock.Advance(336 * 24 * time.Hour)
	rep, err := rule.Sweep(ctx)
	if err != nil || rep.Warned != 3 || rep.Deleted != 0 || rep.Failed != 0 {
		t.Fatalf("first run: %+v %v", rep, err)
	}
	if rep, err := rule.Sweep(ctx); err != nil || rep != (mail.RetentionReport{}) {
		t.Fatalf("a second run the same day: %+v %v", rep, err)
	}
	mails := readOutbox(t, outbox)
	if len(mails) != 2 { // the writer's account has no e-mail: warned all the same, told by nobody
		t.Fatalf("%d warning e-mails, want 2:\n%s", len(mails), strings.Join(mails, "\n---\n"))
	}
	joined := strings.Join(mails, "\n")
	for _, want := range []string{"paul.roux@example.org", "lucie1@example.org", "paul.roux@" + mailtest.Domain, "messagerie de votre espace sant"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, patient) || strings.Contains(joined, "sultats") {
		t.Errorf("a warning names the patient's address or a message:\n%s", joined)
	}

	// The writer signs in from a mail client: their mailbox is in use again.
	e.Clock.Advance(10 * 24 * time.Hour)
	client(t, e, e.Submission, true, writer.Address, writer.Password).Close()

	// A month after the warning: the unused ones go.
	e.Clock.Advance(21 * 24 * time.Hour)
	rep, err = rule.Sweep(ctx)
	if err != nil || rep.Deleted != 2 || rep.Warned != 0 || rep.Failed != 0 {
		t.Fatalf("second run: %+v %v", rep, err)
	}
	if _, err := e.Mail.Mailbox(ctx, patient); !errs.Is(err, errs.NotFound) {
		t.Errorf("the patient's mailbox is still there: %v", err)
	}
	gone, err := e.Mail.Mailbox(ctx, idle.Address.String())
	if err != nil || gone.DisabledAt.IsZero() {
		t.Errorf("the idle professional's mailbox: %+v %v", gone, err)
	}
	if d := e.Deliveries(t, idle.Address.String()); len(d) != 0 {
		t.Errorf("the idle mailbox still holds %d messages", len(d))
	}
	kept, err := e.Mail.Mailbox(ctx, writer.Address)
	if err != nil || !kept.DisabledAt.IsZero() {
		t.Errorf("the writer's mailbox was deleted: %+v %v", kept, err)
	}
	if _, err := e.Mail.Authenticate(ctx, idle.Address.String(), idle.password, "127.0.0.1"); err == nil {
		t.Error("a deleted mailbox's app password still signs in")
	}
	var garbage, traced int
	e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM blob_garbage`).Scan(&garbage)
	e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM traces WHERE action IN ('mail.inactivity_warning', 'mail.inactivity_delete', 'mail.retention')`).Scan(&traced)
	if garbage != 1 || traced != 3+2+3 {
		t.Errorf("%d blobs to erase (want 1: the message both held), %d traces (want 8)", garbage, traced)
	}
}

type idleBox struct {
	Address  mail.Address
	password string
}

// idleProfessional records a professional with an e-mail address and a PER mailbox.
func idleProfessional(t *testing.T, e *mailtest.Env, i int, local, email string) idleBox {
	t.Helper()
	ctx := context.Background()
	id, err := identity.ParseIdNatPS("8" + mailtest.RPPS(i))
	if err != nil {
		t.Fatal(err)
	}
	by := account.By{Actor: e.Admin.Actor, Channel: e.Admin.Channel}
	if _, err := e.Accounts.CreateProfessional(ctx, by, account.Professional{IdNat: id, FamilyName: "ROUX", GivenName: "Paul",
		Profession: "G15_10", Email: email}); err != nil {
		t.Fatal(err)
	}
	m, err := e.Mail.CreateMailbox(ctx, e.Admin, mail.NewMailbox{Kind: mail.PER, LocalPart: local, IdNat: id.String()})
	if err != nil {
		t.Fatal(err)
	}
	pass, _, err := e.Mail.CreateAppPassword(ctx, e.Admin, m.Address.String(), id.String(), "client")
	if err != nil {
		t.Fatal(err)
	}
	return idleBox{Address: m.Address, password: pass}
}

func readOutbox(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := netmail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m.Header.Get("To")+"\n"+string(body))
	}
	return out
}
