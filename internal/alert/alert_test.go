package alert_test

import (
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/alert"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
)

var ctx = context.Background()

// env is a record and a messaging on one database, with a patient whose médecins traitants
// are one with a carnet PER mailbox, one with only the e-mail of their account, and one
// carnet has no account for.
type env struct {
	rt                    *recordtest.Env
	mt                    *mailtest.Env
	alerts                *alert.Service
	outbox                string
	ins                   identity.INS
	pid                   int64
	doc                   string
	secure, plain, absent string // the médecins traitants' IdNat
	secureBox             string // the first one's mailbox
	urgentist             string // an emergency doctor known to carnet
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{rt: recordtest.New(t)}
	e.mt = mailtest.New(t, mailtest.Options{NoSMTP: true, Store: func(testing.TB) *store.DB { return e.rt.DB }})
	e.outbox = t.TempDir()
	sender, err := notify.NewOutbox(notify.Config{OutboxDir: e.outbox}, e.rt.Clock)
	if err != nil {
		t.Fatal(err)
	}
	if e.alerts, err = alert.NewService(alert.Deps{Store: e.rt.DB.Alerts(), Mail: e.mt.Mail, Sender: sender,
		Professions: e.rt.Catalog, Clock: e.rt.Clock, PublicURL: "https://carnet.example/"}); err != nil {
		t.Fatal(err)
	}
	e.ins = recordtest.TestINS(t, 31)
	e.pid = e.rt.Patient(t, e.ins)
	pro := e.mt.Professional(t, 1, "anne.leroy", "LEROY", "Anne")
	e.secure, e.secureBox = pro.IdNat, pro.Address
	e.plain = e.professional(t, 41, "PETIT", "Paul", "paul.petit@example.org")
	e.absent = recordtest.RPPS(t, 42)
	e.urgentist = e.professional(t, 43, "URGENCE", "Jean", "")
	holder := recordtest.Holder(e.pid)
	for _, id := range []string{e.secure, e.plain, e.absent} {
		if err := e.rt.Access.DesignateMedecinTraitant(ctx, holder.Actor, holder.Channel, e.pid, id); err != nil {
			t.Fatal(err)
		}
	}
	author := recordtest.Doctor(recordtest.RPPS(t, 44))
	d, err := e.rt.Records.Deposit(ctx, author, recordtest.Report(e.ins, "CR des urgences"), recordtest.PDF(400, 1))
	if err != nil {
		t.Fatal(err)
	}
	e.doc = d.LogicalID
	return e
}

func (e *env) professional(t *testing.T, n int, family, given, email string) string {
	t.Helper()
	id, err := identity.ParseIdNatPS(recordtest.RPPS(t, n))
	if err != nil {
		t.Fatal(err)
	}
	by := account.By{Actor: e.mt.Admin.Actor, Channel: e.mt.Admin.Channel}
	if _, err := e.mt.Accounts.CreateProfessional(ctx, by, account.Professional{IdNat: id, FamilyName: family, GivenName: given,
		Profession: "G15_10", Email: email}); err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// alertKeys returns the alert keys queued in the notice outbox for the patient.
func (e *env) alertKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	err := e.rt.DB.View(ctx, func(tx *store.Tx) error {
		due, err := tx.DueNotices(ctx, e.rt.Clock.Now(), 1000)
		for _, d := range due {
			if _, ok := access.ParseAlertKey(d.Key); ok && d.PatientID == e.pid {
				keys = append(keys, d.Key)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// inbox returns the decoded bodies of the messages in a mailbox's INBOX.
func (e *env) inbox(t *testing.T, address string) []string {
	t.Helper()
	var out []string
	for _, d := range e.mt.Deliveries(t, address) {
		m, err := mail.ReadMessage(strings.NewReader(e.mt.ReadMessage(t, d.MessageID)))
		if err != nil {
			t.Fatal(err)
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, subject+"\n"+body(t, m))
	}
	return out
}

// A break-glass session: the patient's médecins traitants are told once, by the channel each
// can be reached by, and the patient's trail says whom carnet told and whom it could not.
func TestBreakGlassAlertsMedecinsTraitants(t *testing.T) {
	e := newEnv(t)
	urgentist := recordtest.Doctor(e.urgentist)
	urgentist.Actor.Name = "Jean URGENCE"
	urgentist.BreakGlass = &access.BreakGlass{Reason: "patient inconscient aux urgences"}
	for range 3 { // a session reads many documents: one alert a day
		if _, _, err := e.rt.Records.ReadAll(ctx, urgentist, e.doc); err != nil {
			t.Fatal(err)
		}
	}
	keys := e.alertKeys(t)
	if len(keys) != 1 {
		t.Fatalf("alert keys %q, want one", keys)
	}
	a, _ := access.ParseAlertKey(keys[0])
	if a.Basis != access.ReasonBreakGlass || a.IdNat != e.urgentist || !a.Day.Equal(recordtest.T0.Truncate(24*3600e9)) {
		t.Errorf("alert key says %+v", a)
	}

	// The outbox turns it into its own job.
	if n, err := jobs.FlushNotices(ctx, e.rt.DB, e.rt.Clock.Now()); err != nil || n < 1 {
		t.Fatalf("flush: %d %v", n, err)
	}
	if q := strings.Join(e.rt.QueuedJobs(t), "\n"); !strings.Contains(q, "access.alert") || !strings.Contains(q, keys[0]) {
		t.Fatalf("no alert job queued in\n%s", q)
	}

	rep, err := e.alerts.Send(ctx, alert.Job{PatientID: e.pid, Key: keys[0]})
	if err != nil {
		t.Fatal(err)
	}
	if rep != (alert.Report{Secure: 1, Email: 1, Unreachable: 1}) {
		t.Errorf("report %+v, want one secure message, one e-mail, one unreachable", rep)
	}

	// The secure message names the patient, who accessed and on what ground.
	msgs := e.inbox(t, e.secureBox)
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the médecin traitant's INBOX, want 1", len(msgs))
	}
	for _, want := range []string{"Accès en urgence au dossier de Marie DUPONT", "Bonjour Anne LEROY", e.ins.Matricule,
		"2 mai 1980", "Jean URGENCE, médecin (" + e.urgentist + ")", "bris de glace", "10 mars 2026", "R1111-48"} {
		if !strings.Contains(msgs[0], want) {
			t.Errorf("secure message lacks %q:\n%s", want, msgs[0])
		}
	}

	// The e-mail names no patient and holds nothing of the record.
	mails := outboxMessages(t, e.outbox)
	if len(mails) != 1 {
		t.Fatalf("%d e-mails, want 1", len(mails))
	}
	for _, no := range []string{"DUPONT", "Marie", e.ins.Matricule, "1980", "URGENCE"} {
		if strings.Contains(mails[0], no) {
			t.Errorf("the e-mail to the médecin traitant without a secure mailbox holds %q:\n%s", no, mails[0])
		}
	}
	for _, want := range []string{"paul.petit@example.org", "https://carnet.example/pro", "messagerie s"} {
		if !strings.Contains(mails[0], want) {
			t.Errorf("e-mail lacks %q:\n%s", want, mails[0])
		}
	}

	// A retried job sends nothing twice.
	if _, err := e.alerts.Send(ctx, alert.Job{PatientID: e.pid, Key: keys[0]}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.mt.Deliveries(t, e.secureBox)); n != 1 {
		t.Errorf("%d messages after a retry, want 1", n)
	}
	if n := len(outboxMessages(t, e.outbox)); n != 1 {
		t.Errorf("%d e-mails after a retry, want 1", n)
	}

	// The trail: the alert, traced on the patient's chain, with whom it reached.
	var traced string
	for _, tr := range e.rt.Traces(t, e.pid) {
		if strings.HasPrefix(tr, "access.alert ") {
			traced = tr
		}
	}
	for _, want := range []string{"allowed", e.secure + " (messagerie sécurisée)", e.plain + " (courriel)", "injoignable", e.absent} {
		if !strings.Contains(traced, want) {
			t.Errorf("alert trace lacks %q: %q", want, traced)
		}
	}
}

// The regulating doctor of a SAMU reads without consent: the médecins traitants are told on
// that ground; a médecin traitant who accessed in an emergency is not told of their own access.
func TestRegulationAlertAndOwnAccess(t *testing.T) {
	e := newEnv(t)
	regulator := recordtest.Doctor(e.urgentist)
	regulator.Actor.Regulator = true
	if _, _, err := e.rt.Records.ReadAll(ctx, regulator, e.doc); err != nil {
		t.Fatal(err)
	}
	self := recordtest.Doctor(e.secure)
	self.BreakGlass = &access.BreakGlass{Reason: "garde de nuit"}
	if _, _, err := e.rt.Records.ReadAll(ctx, self, e.doc); err != nil {
		t.Fatal(err)
	}
	keys := e.alertKeys(t)
	var regulation, own string
	for _, k := range keys {
		a, _ := access.ParseAlertKey(k)
		switch a.IdNat {
		case e.urgentist:
			regulation = k
		case e.secure:
			own = k
		}
	}
	// The médecin traitant reads as such (their own ground), not as an emergency: no alert.
	if own != "" {
		t.Errorf("a médecin traitant's own read queued an alert: %q", keys)
	}
	if regulation == "" {
		t.Fatalf("no alert for the regulating doctor in %q", keys)
	}
	if a, _ := access.ParseAlertKey(regulation); a.Basis != access.ReasonRegulation {
		t.Errorf("basis %q, want regulation", a.Basis)
	}
	if _, err := e.alerts.Send(ctx, alert.Job{PatientID: e.pid, Key: regulation}); err != nil {
		t.Fatal(err)
	}
	msgs := e.inbox(t, e.secureBox)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "médecin régulateur d'un SAMU - centre 15") {
		t.Errorf("regulation alert: %q", msgs)
	}

	// An alert naming the médecin traitant themself as the accessing professional skips them.
	ownKey := access.AlertKey(access.ReasonBreakGlass, e.secure, e.rt.Clock.Now())
	rep, err := e.alerts.Send(ctx, alert.Job{PatientID: e.pid, Key: ownKey})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Secure != 0 || len(e.mt.Deliveries(t, e.secureBox)) != 1 {
		t.Errorf("the médecin traitant was told of their own access: %+v", rep)
	}
}

// A patient without médecin traitant: an emergency access queues no alert at all.
func TestNoMedecinTraitantNoAlert(t *testing.T) {
	e := newEnv(t)
	other := e.rt.Patient(t, recordtest.TestINS(t, 32))
	d, err := e.rt.Records.Deposit(ctx, recordtest.Doctor(recordtest.RPPS(t, 44)), recordtest.Report(recordtest.TestINS(t, 32), "CR"),
		recordtest.PDF(300, 2))
	if err != nil {
		t.Fatal(err)
	}
	urgentist := recordtest.Doctor(e.urgentist)
	urgentist.BreakGlass = &access.BreakGlass{Reason: "détresse respiratoire"}
	if _, _, err := e.rt.Records.ReadAll(ctx, urgentist, d.LogicalID); err != nil {
		t.Fatal(err)
	}
	rows, err := e.rt.DB.SQL().Query(`SELECT notice_key FROM notice_outbox WHERE patient_id = $1`, other)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		rows.Scan(&k)
		keys = append(keys, k)
	}
	if slices.ContainsFunc(keys, func(k string) bool { _, ok := access.ParseAlertKey(k); return ok }) {
		t.Errorf("alert queued for a patient without médecin traitant: %q", keys)
	}
	if !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, "emergency-") }) {
		t.Errorf("the patient's own emergency notice is missing: %q", keys)
	}
}

// Keys that are not alerts, or are damaged, are refused.
func TestParseAlertKey(t *testing.T) {
	id := recordtest.RPPS(t, 43)
	k := access.AlertKey(access.ReasonRegulation, id, recordtest.T0)
	if a, ok := access.ParseAlertKey(k); !ok || a.IdNat != id || a.Basis != access.ReasonRegulation {
		t.Errorf("round trip: %+v %v", a, ok)
	}
	for _, bad := range []string{"", "emergency-" + id + "-20260310", "alert-mt-", "alert-mt-break_glass-2026031-" + id,
		"alert-mt-break_glass-20261310-" + id, "alert-mt-care_team-20260310-" + id, "alert-mt-break_glass-20260310-8123"} {
		if _, ok := access.ParseAlertKey(bad); ok {
			t.Errorf("%q parsed as an alert key", bad)
		}
	}
	if _, err := (&alert.Service{}).Send(ctx, alert.Job{Key: "doc-x"}); err == nil {
		t.Error("a non-alert key was sent")
	}
}

func outboxMessages(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m.Header.Get("To")+"\n"+body(t, m))
	}
	return out
}

// body decodes a message's single text part.
func body(t *testing.T, m *mail.Message) string {
	t.Helper()
	r := m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
