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
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/demo"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/identity"
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
	d := demo.Deps{Spaces: spaces, Accounts: accounts, Auth: signin, Records: e.Records, Access: e.Access, Catalog: e.Catalog, Clock: e.Clock}
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
	// Again: nothing twice.
	again, err := demo.Seed(ctx, d, demo.Options{Seed: 7, People: 8, DocumentsPerPerson: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.People != 0 || again.Documents != 0 || again.Professionals != 0 || again.Organisations != 0 {
		t.Fatalf("second seed: %+v", again)
	}
	page, err := e.Records.Search(ctx, recordtest.Holder(pid), record.Query{PatientID: pid, All: true})
	if err != nil || len(page.Documents) == 0 {
		t.Fatalf("the demonstration patient's record: %d documents, %v", len(page.Documents), err)
	}
}
