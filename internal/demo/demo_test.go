package demo_test

import (
	"bytes"
	"context"
	"log/slog"
	"reflect"
	"regexp"
	"strconv"
	"testing"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/archive/archivetest"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/demo"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/terminology"
)

func TestGenerateIsDeterministicAndValid(t *testing.T) {
	cat, err := terminology.Default()
	if err != nil {
		t.Fatal(err)
	}
	a, err := demo.Generate(demo.Options{Seed: 42, People: 300}, cat, recordtest.T0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := demo.Generate(demo.Options{Seed: 42, People: 300}, cat, recordtest.T0)
	c, _ := demo.Generate(demo.Options{Seed: 43, People: 300}, cat, recordtest.T0)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gives two populations")
	}
	if reflect.DeepEqual(a.People, c.People) {
		t.Fatal("two seeds give the same people")
	}
	seen := map[string]bool{}
	children := 0
	for i, p := range a.People {
		if _, err := identity.NewINS(p.INS.Matricule, identity.OIDDemoNIR); err != nil || p.INS.System != identity.OIDDemoNIR {
			t.Fatalf("person %d: INS %v: %v", i, p.INS, err)
		}
		if seen[p.INS.Matricule] {
			t.Fatalf("INS %s twice", p.INS.Matricule)
		}
		seen[p.INS.Matricule] = true
		if p.Parent >= 0 {
			children++
			if p.Parent >= i || a.People[p.Parent].Parent >= 0 || p.BirthDate.Before(recordtest.T0.AddDate(-18, 0, 0)) {
				t.Fatalf("child %d: parent %d, born %s", i, p.Parent, p.BirthDate)
			}
		}
		if p.BirthDate.After(recordtest.T0) || p.BirthName == "" || p.GivenNames == "" {
			t.Fatalf("person %d: %+v", i, p)
		}
	}
	if children == 0 {
		t.Fatal("no family has children")
	}
	professions := map[string]bool{}
	for _, p := range a.Pros {
		if _, err := identity.ParseIdNatPS(p.IdNat.String()); err != nil {
			t.Fatalf("professional %v: %v", p.IdNat, err)
		}
		if p.Org < 0 || p.Org >= len(a.Orgs) {
			t.Fatalf("professional of organisation %d", p.Org)
		}
		professions[p.Profession] = true
	}
	if len(professions) < 5 {
		t.Fatalf("only %d professions", len(professions))
	}
	for _, o := range a.Orgs {
		if _, err := identity.ParseFINESS(o.FINESS); err != nil {
			t.Fatalf("organisation %s: %v", o.FINESS, err)
		}
	}
}

// The PDF bodies are real PDFs: the cross-reference table points at each object.
func TestPDF(t *testing.T) {
	b := demo.PDF("Compte rendu de consultation", []string{"Patient : Hélène DURAND", "Conclusion : (normal)"})
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(b)
	if !bytes.HasPrefix(b, []byte("%PDF-1.4")) || m == nil {
		t.Fatalf("not a PDF: %q", b[len(b)-40:])
	}
	off, _ := strconv.Atoi(string(m[1]))
	if !bytes.HasPrefix(b[off:], []byte("xref\n0 7\n")) {
		t.Fatalf("startxref %d points at %q", off, b[off:off+10])
	}
	for i, line := range regexp.MustCompile(`(\d{10}) 00000 n `).FindAllSubmatch(b, -1) {
		o, _ := strconv.Atoi(string(line[1]))
		if want := strconv.Itoa(i+1) + " 0 obj"; !bytes.HasPrefix(b[o:], []byte(want)) {
			t.Fatalf("xref entry %d points at %q", i+1, b[o:o+8])
		}
	}
	if !bytes.Contains(b, []byte(`H\351l\350ne`)) || !bytes.Contains(b, []byte(`\(normal\)`)) {
		t.Fatal("text not encoded")
	}
}

type discard struct{}

func (discard) Send(context.Context, notify.Message) error { return nil }

// Seeding goes through the services: open spaces with their records, families with their
// representatives, sign-ins that work, an export that is valid FHIR; seeding again adds nothing.
func TestSeed(t *testing.T) {
	ctx := context.Background()
	e := recordtest.New(t)
	cheap := password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32, MinLength: 12, MaxBytes: 1024}
	codeKey := bytes.Repeat([]byte{9}, 32)
	spaces, err := space.NewService(space.Deps{Store: e.DB.Spaces(), Clock: e.Clock, Policy: space.DefaultPolicy(),
		PublicURL: "https://carnet.test", CodeKey: codeKey})
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := account.NewService(e.DB.Accounts(), e.Clock, cheap, e.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	cfg := auth.DefaultConfig()
	cfg.ResetURL = "https://carnet.test/mot-de-passe/nouveau"
	signin, err := auth.NewService(auth.Deps{Store: e.DB.Auth(), Clock: e.Clock, Key: bytes.Repeat([]byte{5}, 32), CodeKey: codeKey,
		Password: cheap, Mail: discard{}, Config: cfg, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(signin.Close)
	messaging, err := mail.NewService(mail.Deps{Store: e.DB.Mail(nil), Blobs: e.Blobs, Clock: e.Clock, Key: bytes.Repeat([]byte{3}, 32),
		Password: cheap, Config: mail.DefaultConfig("carnet.test"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := mail.NewPortal(messaging, e.DB.MailPortal(nil), e.Access, e.Records)
	if err != nil {
		t.Fatal(err)
	}
	d := demo.Deps{Spaces: spaces, Accounts: accounts, Auth: signin, Records: e.Records, Access: e.Access, Catalog: e.Catalog, Clock: e.Clock,
		Messages: inbox}
	opts := demo.Options{Seed: 7, People: 8, DocumentsPerPerson: 3, Password: "démonstration-2026"}
	rep, err := demo.Seed(ctx, d, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.People != 8 || rep.Documents == 0 || rep.Professionals == 0 || len(rep.SignIns) != 3 || len(rep.INS) != rep.People+rep.Children {
		t.Fatalf("report: %+v", rep)
	}
	for _, ins := range rep.INS {
		_, sp, err := spaces.ByINS(ctx, ins.Matricule)
		if err != nil || sp.State != space.Open {
			t.Fatalf("space of %s: %+v %v", ins.Matricule, sp, err)
		}
	}
	// Every sign-in works (the password step; the code goes by e-mail).
	for _, s := range rep.SignIns {
		if _, err := signin.SignIn(ctx, auth.Credentials{Identifier: s.Login, Password: s.Password, Client: auth.Client{Addr: "192.0.2.9"}}); err != nil {
			t.Fatalf("sign-in %s: %v", s.Login, err)
		}
	}
	// The demonstration patient's export is valid FHIR, with their documents.
	arch, _ := archivetest.New(t, e)
	pid, err := e.Records.PatientID(ctx, rep.INS[0])
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := arch.Bundle(ctx, recordtest.Holder(pid), pid)
	if err != nil {
		t.Fatal(err)
	}
	fhirtest.ValidateValue(t, bundle)
	// Children are represented by their parent.
	pop, _ := demo.Generate(opts, e.Catalog, e.Clock.Now())
	for i, p := range pop.People {
		if p.Parent < 0 {
			continue
		}
		child, _ := e.Records.PatientID(ctx, p.INS)
		parent, _ := e.Records.PatientID(ctx, pop.People[p.Parent].INS)
		if role, err := spaces.ActsFor(ctx, parent, child); err != nil || role != space.Parent {
			t.Fatalf("child %d: parent's role %q %v", i, role, err)
		}
	}
	checkMessages(t, rep, pop, opts.Seed, e, messaging, inbox)
	// Again: nothing twice.
	again, err := demo.Seed(ctx, d, demo.Options{Seed: 7, People: 8, DocumentsPerPerson: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.People != 0 || again.Documents != 0 || again.Professionals != 0 || again.Organisations != 0 || again.Messages != 0 {
		t.Fatalf("second seed: %+v", again)
	}
	page, err := e.Records.Search(ctx, recordtest.Holder(pid), record.Query{PatientID: pid, All: true})
	if err != nil || len(page.Documents) == 0 {
		t.Fatalf("the demonstration patient's record: %d documents, %v", len(page.Documents), err)
	}
}

// The conversations are a function of the seed, and each keeps the messaging's rules: the
// professional writes first, the patient answers only what a professional wrote, nothing
// follows a [FIN].
func TestThreads(t *testing.T) {
	cat, err := terminology.Default()
	if err != nil {
		t.Fatal(err)
	}
	pop, err := demo.Generate(demo.Options{Seed: 42, People: 200}, cat, recordtest.T0)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := demo.Threads(pop, 42), demo.Threads(pop, 42), demo.Threads(pop, 43)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gives two sets of conversations")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("two seeds give the same conversations")
	}
	var answered, ended, endedAfterAnswer, unanswered int
	pairs := map[[2]int]bool{}
	for n, th := range a {
		p := pop.People[th.Person]
		if p.Parent >= 0 {
			t.Fatalf("thread %d: a child's mailbox", n)
		}
		if pairs[[2]int{th.Person, th.Pro}] {
			t.Fatalf("thread %d: a second conversation of the same patient and professional", n)
		}
		pairs[[2]int{th.Person, th.Pro}] = true
		if len(th.Lines) == 0 || th.Lines[0].FromPatient {
			t.Fatalf("thread %d: the patient writes first: %+v", n, th.Lines)
		}
		for k, l := range th.Lines {
			if l.End && (l.FromPatient || k != len(th.Lines)-1) {
				t.Fatalf("thread %d: a [FIN] by the patient, or followed by a message: %+v", n, th.Lines)
			}
			if (!l.FromPatient && l.Subject == "") || l.Body == "" {
				t.Fatalf("thread %d: line %d without subject or text", n, k)
			}
			if l.FromPatient {
				answered++
			}
		}
		switch {
		case th.Ended() && len(th.Lines) > 1:
			ended++
			endedAfterAnswer++
		case th.Ended():
			ended++
		case len(th.Lines) == 1:
			unanswered++
		}
	}
	if len(a) == 0 || a[0].Person != 0 || a[0].Ended() {
		t.Fatal("the demonstration patient has no conversation left open")
	}
	if len(a) < 50 || answered == 0 || ended == 0 || endedAfterAnswer == 0 || unanswered == 0 {
		t.Fatalf("%d threads, %d answers, %d ended (%d after an answer), %d unanswered", len(a), answered, ended, endedAfterAnswer, unanswered)
	}
}

// checkMessages checks what Seed sent against the plan: every message of every thread is in the
// patient's mailbox, each conversation is recorded ended or open as planned, and the rules hold
// in the store: the patient's answer to an ended conversation is refused, to an open one taken.
func checkMessages(t *testing.T, rep demo.Report, pop demo.Population, seed uint64, e *recordtest.Env, svc *mail.Service, inbox *mail.Portal) {
	t.Helper()
	ctx := context.Background()
	threads := demo.Threads(pop, seed)
	lines, ended := 0, 0
	byPerson := map[int][]demo.Thread{}
	for _, th := range threads {
		lines += len(th.Lines)
		if th.Ended() {
			ended++
		}
		byPerson[th.Person] = append(byPerson[th.Person], th)
	}
	if rep.Messages != lines || rep.Conversations != len(threads) || rep.Ended != ended || ended == 0 || ended == len(threads) {
		t.Fatalf("report: %d messages in %d conversations (%d ended), want %d in %d (%d)", rep.Messages, rep.Conversations, rep.Ended,
			lines, len(threads), ended)
	}
	for person, ths := range byPerson {
		ins := pop.People[person].INS
		pid, err := e.Records.PatientID(ctx, ins)
		if err != nil {
			t.Fatal(err)
		}
		h := recordtest.Holder(pid).Actor
		in, err := inbox.Inbox(ctx, h, audit.ChannelWeb, pid)
		if err != nil {
			t.Fatal(err)
		}
		wantIn, wantOut := 0, 0
		for _, th := range ths {
			for _, l := range th.Lines {
				if l.FromPatient {
					wantOut++
				} else {
					wantIn++
				}
			}
		}
		gotIn, gotOut := 0, 0
		for _, m := range in.Messages {
			if m.Incoming {
				gotIn++
			} else {
				gotOut++
			}
		}
		if gotIn != wantIn || gotOut != wantOut {
			t.Fatalf("person %d: %d received and %d sent, want %d and %d", person, gotIn, gotOut, wantIn, wantOut)
		}
		for _, th := range ths {
			pro := pop.Pros[th.Pro]
			var c mail.Conversation
			err := e.DB.MailPortal(nil).ViewPortal(ctx, func(tx mail.PortalTx) error {
				p, err := tx.ProfessionalByIdNat(ctx, pro.IdNat.String())
				if err != nil {
					return err
				}
				box, err := tx.ProfessionalMailbox(ctx, p.ID)
				if err != nil {
					return err
				}
				c, err = tx.Conversation(ctx, svc.PatientAddress(ins.Matricule).String(), box.Address.String())
				return err
			})
			if err != nil {
				t.Fatalf("conversation of person %d with %s: %v", person, pro.IdNat, err)
			}
			if c.EndedAt.IsZero() == th.Ended() {
				t.Fatalf("conversation of person %d with %s: ended at %v, want ended %v", person, pro.IdNat, c.EndedAt, th.Ended())
			}
			// The patient answers the thread's first message.
			var id int64
			for _, m := range in.Messages {
				if m.Incoming && m.Subject == th.Lines[0].Subject {
					id = m.ID
				}
			}
			if id == 0 {
				t.Fatalf("person %d: no message %q", person, th.Lines[0].Subject)
			}
			_, err = inbox.Reply(ctx, h, audit.ChannelWeb, id, "Une dernière question, Docteur.", nil)
			if th.Ended() && mail.ReasonOf(err) != mail.ReasonPatientFirst {
				t.Fatalf("person %d: an answer after [FIN]: %v", person, err)
			}
			if !th.Ended() && err != nil {
				t.Fatalf("person %d: an answer to an open conversation: %v", person, err)
			}
		}
	}
}
