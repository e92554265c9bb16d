package mail_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/shareddata"
)

func TestPublishedAllowlist(t *testing.T) {
	path := shareddata.Dir(t, "mssante", "listeblanchemssante-2025-03-14.xml")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	list, err := mail.DecodeAllowlist(f, mail.AllowlistLimits{})
	if err != nil {
		t.Fatal(err)
	}
	dns := map[string]bool{}
	for _, e := range list.Entries {
		dns[e.OperatorDN] = true
	}
	// 6,554 entries, 5,002 distinct names, 392 certificates; one name is an address, not a
	// domain: that entry is left out, and said; 21 entries repeat a domain and certificate.
	if list.Read != 6554 || len(list.Entries) != 6532 || len(list.Domains()) != 5001 || len(dns) != 392 {
		t.Fatalf("read %d (want 6554), entries %d (want 6532), domains %d (want 5001), certificates %d (want 392)",
			list.Read, len(list.Entries), len(list.Domains()), len(dns))
	}
	if len(list.Skipped) != 1 || !strings.Contains(list.Skipped[0], "sessad@ase.ditepbeziers.mssante.fr") {
		t.Fatalf("skipped: %v", list.Skipped)
	}
	if want := time.Date(2025, 3, 13, 14, 54, 10, 0, time.UTC); !list.GeneratedAt.Equal(want) {
		t.Fatalf("generated at %v", list.GeneratedAt)
	}
	first := list.Entries[0]
	if first.Domain != "adsea29.mssante.fr" || first.Description != "BREST LA SAUVEGARDE" ||
		!strings.HasPrefix(first.OperatorDN, "CN=medimail-asip.mipih.fr,") || first.UpdatedAt.IsZero() {
		t.Fatalf("first entry: %+v", first)
	}

	// Imported into the store, then refreshed with a smaller list: what goes and comes is said.
	e := mailtest.New(t, mailtest.Options{NoSMTP: true})
	f.Seek(0, 0)
	rep, err := e.Mail.RefreshAllowlist(context.Background(), e.Admin, f)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 6532 || rep.Domains != 5001 || len(rep.Added) != 5001 || len(rep.Removed) != 0 || len(rep.Skipped) != 1 {
		t.Fatalf("first import: %d entries, %d domains, +%d -%d", rep.Entries, rep.Domains, len(rep.Added), len(rep.Removed))
	}
	for domain, want := range map[string]bool{"zenidoc.mssante.fr": true, "patient.mssante.fr": true, "gmail.com": false, mailtest.Domain: true} {
		if ok, err := e.Mail.Allowed(context.Background(), domain); err != nil || ok != want {
			t.Errorf("Allowed(%s) = %v %v, want %v", domain, ok, err, want)
		}
	}
	rep, err = e.Mail.RefreshAllowlist(context.Background(), e.Admin, strings.NewReader(mailtest.AllowlistXML("zenidoc.mssante.fr", "new.mssante.fr")))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Added) != 1 || rep.Added[0] != "new.mssante.fr" || len(rep.Removed) != 5000 {
		t.Fatalf("refresh: +%v -%d", rep.Added, len(rep.Removed))
	}
	if ok, _ := e.Mail.Allowed(context.Background(), "adsea29.mssante.fr"); ok {
		t.Fatal("a removed domain is still allowed")
	}
	st, err := e.Mail.AllowlistStatus(context.Background())
	if err != nil || st.Domains != 2 || st.ImportedAt.IsZero() {
		t.Fatalf("status %+v %v", st, err)
	}
	// A broken file changes nothing.
	if _, err := e.Mail.RefreshAllowlist(context.Background(), e.Admin, strings.NewReader("<ListeBlancheMSSante")); mail.ReasonOf(err) != mail.ReasonBadAllowlist {
		t.Fatalf("broken file: %v", err)
	}
	if ok, _ := e.Mail.Allowed(context.Background(), "new.mssante.fr"); !ok {
		t.Fatal("a broken file changed the allowlist")
	}
}

func TestDecodeAllowlistRefusals(t *testing.T) {
	valid := mailtest.AllowlistXML("a.example")
	for name, doc := range map[string]string{
		"other root":      strings.Replace(valid, "ListeBlancheMSSante xmlns", "Other xmlns", 1),
		"no namespace":    strings.Replace(valid, ` xmlns="https://listeblanche.mssante.fr/schema"`, "", 1),
		"doctype":         `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>` + valid[strings.Index(valid, "<ListeBlanche"):],
		"bad domain only": strings.Replace(valid, "<Nom>a.example</Nom>", "<Nom>not a domain</Nom>", 1),
		"no domain only":  strings.Replace(valid, "<Nom>a.example</Nom>", "", 1),
		"bad date only":   strings.Replace(valid, "2026-02-01T00:00:00Z", "hier", 1),
		"no date":         strings.Replace(valid, "<DateDeGeneration>2026-03-01T10:00:00Z</DateDeGeneration>", "", 1),
		"empty":           mailtest.AllowlistXML(),
		"latin-1":         strings.Replace(valid, `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1),
		"truncated":       valid[:len(valid)-30],
		"too many bytes":  valid + strings.Repeat(" ", 1<<10),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := mail.DecodeAllowlist(strings.NewReader(doc), mail.AllowlistLimits{MaxBytes: int64(len(valid)) + 100})
			if mail.ReasonOf(err) != mail.ReasonBadAllowlist || !errs.Is(err, errs.Invalid) {
				t.Fatalf("accepted or wrongly refused: %v", err)
			}
		})
	}
	if _, err := mail.DecodeAllowlist(strings.NewReader(mailtest.AllowlistXML("a.example", "b.example")), mail.AllowlistLimits{MaxEntries: 1}); err == nil {
		t.Fatal("more entries than the limit accepted")
	}
}

func TestMailboxesAndDirectory(t *testing.T) {
	e := mailtest.New(t, mailtest.Options{NoSMTP: true})
	ctx := context.Background()
	claire := e.Professional(t, 1, "claire.martin", "MARTIN", "Hélène Claire")
	org := e.Organisation(t, "750100125", "Pharmacie de la Gare", "Saint-Étienne")
	pharma, err := e.Mail.CreateMailbox(ctx, e.Admin, mail.NewMailbox{Kind: mail.ORG, LocalPart: "pharmacie.gare", StructureID: org, AcceptsPatients: true})
	if err != nil || pharma.Kind != mail.ORG || pharma.DisplayName != "Pharmacie de la Gare" {
		t.Fatalf("ORG mailbox: %+v %v", pharma, err)
	}
	hidden := e.Professional(t, 2, "secret.doc", "SECRET", "Doc")
	if err := e.Mail.SetHidden(ctx, e.Admin, hidden.Address, true); err != nil {
		t.Fatal(err)
	}

	for name, tc := range map[string]struct {
		n    mail.NewMailbox
		code errs.Code
	}{
		"PER without IdNat":    {mail.NewMailbox{Kind: mail.PER, LocalPart: "x"}, errs.Invalid},
		"PER of a local id":    {mail.NewMailbox{Kind: mail.PER, LocalPart: "x", IdNat: "3750100125/9762"}, errs.Invalid},
		"PER of nobody known":  {mail.NewMailbox{Kind: mail.PER, LocalPart: "x", IdNat: "8" + mailtest.RPPS(50)}, errs.NotFound},
		"same address twice":   {mail.NewMailbox{Kind: mail.PER, LocalPart: "CLAIRE.martin", IdNat: claire.IdNat}, errs.Conflict},
		"bad local part":       {mail.NewMailbox{Kind: mail.ORG, LocalPart: "a b", StructureID: org}, errs.Invalid},
		"patient kind":         {mail.NewMailbox{Kind: mail.PAT, LocalPart: "x"}, errs.Invalid},
		"APP accepting people": {mail.NewMailbox{Kind: mail.APP, LocalPart: "x", StructureID: org, AcceptsPatients: true}, errs.Invalid},
	} {
		if _, err := e.Mail.CreateMailbox(ctx, e.Admin, tc.n); !errs.Is(err, tc.code) {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}

	search := func(q mail.DirectoryQuery) []string {
		t.Helper()
		got, err := e.Mail.Directory(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range got {
			out = append(out, d.Address)
		}
		return out
	}
	for name, tc := range map[string]struct {
		q    mail.DirectoryQuery
		want string
	}{
		"name without accents": {mail.DirectoryQuery{Name: "helene"}, claire.Address},
		"name, any case":       {mail.DirectoryQuery{Name: "MARTIN"}, claire.Address},
		"RPPS":                 {mail.DirectoryQuery{RPPS: mailtest.RPPS(1)}, claire.Address},
		"profession and name":  {mail.DirectoryQuery{Profession: "G15_10", Name: "mart"}, claire.Address},
		"organisation":         {mail.DirectoryQuery{Organisation: "pharmacie"}, pharma.Address.String()},
		"town":                 {mail.DirectoryQuery{Town: "saint etienne"}, pharma.Address.String()},
		"liste rouge":          {mail.DirectoryQuery{Name: "secret"}, ""},
		"wildcards are text":   {mail.DirectoryQuery{Name: "%"}, ""},
	} {
		got := search(tc.q)
		if (tc.want == "" && len(got) != 0) || (tc.want != "" && (len(got) != 1 || got[0] != tc.want)) {
			t.Errorf("%s: %v, want %q", name, got, tc.want)
		}
	}
	if _, err := e.Mail.Directory(ctx, mail.DirectoryQuery{}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("a search without criterion: %v", err)
	}
	// Address and type never change: the database refuses it too.
	if _, err := e.DB.SQL().Exec(`UPDATE mailboxes SET address = 'other@carnet.example' WHERE address = $1`, claire.Address); err == nil {
		t.Fatal("a mailbox address was changed")
	}
	if _, err := e.DB.SQL().Exec(`UPDATE mailboxes SET kind = 'ORG' WHERE address = $1`, claire.Address); err == nil {
		t.Fatal("a mailbox type was changed")
	}
}

func TestAppPasswords(t *testing.T) {
	e := mailtest.New(t, mailtest.Options{NoSMTP: true})
	ctx := context.Background()
	claire := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	paul := e.Professional(t, 2, "paul.durand", "DURAND", "Paul")
	org := e.Organisation(t, "750100125", "Secrétariat", "Paris")
	if _, err := e.Mail.CreateMailbox(ctx, e.Admin, mail.NewMailbox{Kind: mail.ORG, LocalPart: "secretariat", StructureID: org}); err != nil {
		t.Fatal(err)
	}
	orgBox := "secretariat@" + mailtest.Domain
	if _, _, err := e.Mail.CreateAppPassword(ctx, e.Admin, orgBox, paul.IdNat, "Thunderbird"); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a non-member's password: %v", err)
	}
	if _, _, err := e.Mail.CreateAppPassword(ctx, e.Admin, claire.Address, paul.IdNat, "Thunderbird"); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a password for someone else's PER mailbox: %v", err)
	}
	if err := e.Mail.AddMember(ctx, e.Admin, orgBox, paul.IdNat); err != nil {
		t.Fatal(err)
	}
	pass, ap, err := e.Mail.CreateAppPassword(ctx, e.Admin, orgBox, paul.IdNat, "Thunderbird")
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Mail.Authenticate(ctx, orgBox, pass, "192.0.2.1")
	if err != nil || s.Mailbox.Address.String() != orgBox || s.Professional.IdNat.String() != paul.IdNat {
		t.Fatalf("member's authentication: %+v %v", s, err)
	}
	// Only the hash is stored.
	var hash string
	if err := e.DB.SQL().QueryRow(`SELECT hash FROM mail_app_passwords WHERE public_id = $1`, ap.PublicID).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "hmac-sha256$") || strings.Contains(hash, strings.ReplaceAll(pass, "-", "")[8:]) {
		t.Fatalf("stored: %s", hash)
	}
	if _, err := e.Mail.Authenticate(ctx, orgBox, wrongPassword(pass), "192.0.2.2"); mail.ReasonOf(err) != mail.ReasonAuthFailed {
		t.Fatalf("a wrong password: %v", err)
	}
	// A password made before the keyed hash keeps its argon2id hash, and still opens the mailbox.
	legacyPass, legacy, err := e.Mail.CreateAppPassword(ctx, e.Admin, orgBox, paul.IdNat, "Outlook")
	if err != nil {
		t.Fatal(err)
	}
	argon, err := password.Hash(strings.ToUpper(strings.ReplaceAll(legacyPass, "-", "")), mailtest.CheapParams)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.DB.SQL().Exec(`UPDATE mail_app_passwords SET hash = $1 WHERE public_id = $2`, argon, legacy.PublicID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Mail.Authenticate(ctx, orgBox, legacyPass, "192.0.2.3"); err != nil {
		t.Fatalf("an argon2id password: %v", err)
	}
	if _, err := e.Mail.Authenticate(ctx, orgBox, wrongPassword(legacyPass), "192.0.2.4"); mail.ReasonOf(err) != mail.ReasonAuthFailed {
		t.Fatalf("a wrong argon2id password: %v", err)
	}
	if err := e.Mail.RevokeAppPassword(ctx, e.Admin, orgBox, ap.PublicID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Mail.Authenticate(ctx, orgBox, pass, "192.0.2.1"); mail.ReasonOf(err) != mail.ReasonAuthFailed {
		t.Fatalf("a revoked password: %v", err)
	}
	// A patient's mailbox has no password.
	_, patient := e.Patient(t, 1)
	if _, _, err := e.Mail.CreateAppPassword(ctx, e.Admin, patient, "", "x"); err == nil {
		t.Fatal("a patient mailbox got an app password")
	}
}

// wrongPassword changes an app password's last character.
func wrongPassword(p string) string {
	last := "A"
	if strings.HasSuffix(p, "A") {
		last = "B"
	}
	return p[:len(p)-1] + last
}
