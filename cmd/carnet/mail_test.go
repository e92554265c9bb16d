package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/shareddata"
)

// The operator makes mailboxes, members and app passwords with carnet mail; a password
// printed by the command signs in to the mail service, and no longer once revoked; every
// change is traced as the operator, a refused one included; bad input changes nothing.
func TestMailMailboxCommands(t *testing.T) {
	db := append(dbArgs(t, t.TempDir()), "--domain", "carnet.test")
	cmd := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, db...), &out, &errb)
		return code, out.String(), errb.String()
	}
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := cmd(args...)
		if code != 0 {
			t.Fatalf("%s: %d %s %s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	refused := func(code int, want string, args ...string) {
		t.Helper()
		c, out, errOut := cmd(args...)
		if c != code || !strings.Contains(errOut, want) {
			t.Fatalf("%s: %d %q %q, want %d and %q", strings.Join(args, " "), c, out, errOut, code, want)
		}
	}
	must("account", "add-professional", "--idnat", "810100534436", "--family-name", "Martin", "--given-name", "Claire", "--profession", "G15_10")
	must("account", "add-professional", "--idnat", "810002681780", "--family-name", "Durand", "--given-name", "Paul", "--profession", "G15_10")
	must("account", "add-organisation", "--structure-id", "1750100125", "--name", "Pharmacie du Port", "--town", "Brest")

	// Usage and bad input: nothing is created.
	refused(2, "usage: carnet mail", "mail")
	refused(2, "usage: carnet mail", "mail", "mailbox", "delete")
	refused(1, "--kind is PER, ORG or APP", "mail", "mailbox", "add", "--kind", "PAT", "--local", "x")
	refused(1, "--local is required", "mail", "mailbox", "add", "--kind", "PER", "--idnat", "810100534436")
	refused(1, "takes --idnat, not --structure", "mail", "mailbox", "add", "--kind", "PER", "--local", "c", "--idnat", "810100534436", "--structure", "1750100125")
	refused(1, "--structure is required", "mail", "mailbox", "add", "--kind", "ORG", "--local", "pharma")
	refused(1, "IdNat_PS", "mail", "mailbox", "add", "--kind", "PER", "--local", "c", "--idnat", "12")
	refused(1, "not found", "mail", "mailbox", "add", "--kind", "PER", "--local", "c", "--idnat", "810000000009")
	refused(1, "only an organisational (ORG) mailbox may accept", "mail", "mailbox", "add", "--kind", "APP", "--local", "lgc", "--structure", "1750100125", "--accepts-patients")
	// The settings first here: after a stray argument, flags are not read.
	var out0, err0 bytes.Buffer
	if code := run(context.Background(), append(append([]string{"mail", "mailbox", "list"}, db...), "extra"), &out0, &err0); code != 1 ||
		!strings.Contains(err0.String(), `unexpected argument "extra"`) {
		t.Fatalf("a stray argument: %d %q", code, err0.String())
	}
	if out := must("mail", "mailbox", "list"); out != "" {
		t.Fatalf("mailboxes after refusals: %q", out)
	}

	if out := must("mail", "mailbox", "add", "--kind", "PER", "--local", "Claire.Martin", "--idnat", "810100534436"); !strings.Contains(out, "claire.martin@carnet.test (PER, Claire Martin) created") {
		t.Fatalf("mailbox add: %q", out)
	}
	refused(1, "already exists", "mail", "mailbox", "add", "--kind", "PER", "--local", "claire.martin", "--idnat", "810100534436")
	must("mail", "mailbox", "add", "--kind", "ORG", "--local", "pharmacie", "--structure", "1750100125", "--accepts-patients")
	must("mail", "mailbox", "add", "--kind", "APP", "--local", "lgc", "--structure", "1750100125", "--name", "Logiciel officine")
	refused(1, "only an organisational (ORG) mailbox has members", "mail", "mailbox", "member", "add", "--mailbox", "lgc@carnet.test", "--idnat", "810002681780")
	must("mail", "mailbox", "member", "add", "--mailbox", "pharmacie@carnet.test", "--idnat", "810002681780")
	must("mail", "mailbox", "hide", "--mailbox", "claire.martin@carnet.test")
	refused(1, "not found", "mail", "mailbox", "hide", "--mailbox", "nobody@carnet.test")

	// App passwords: the PER owner's by default, an ORG member's, an APP's software's.
	pw := regexp.MustCompile(`app password (\S+) .*\n.*\n(\S+)\n`)
	out := must("mail", "app-password", "add", "--mailbox", "claire.martin@carnet.test", "--label", "Thunderbird")
	m := pw.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("app-password add: %q", out)
	}
	publicID, secret := m[1], m[2]
	refused(1, "give --holder", "mail", "app-password", "add", "--mailbox", "pharmacie@carnet.test", "--label", "Outlook")
	refused(1, "only the owner of a PER mailbox, or a member of an ORG one", "mail", "app-password", "add", "--mailbox", "pharmacie@carnet.test", "--label", "Outlook", "--holder", "810100534436")
	must("mail", "app-password", "add", "--mailbox", "pharmacie@carnet.test", "--label", "Outlook", "--holder", "810002681780")
	must("mail", "app-password", "add", "--mailbox", "lgc@carnet.test", "--label", "LGC")
	refused(1, "--label is required", "mail", "app-password", "add", "--mailbox", "lgc@carnet.test")

	out = must("mail", "mailbox", "list")
	for _, want := range []string{
		"claire.martin@carnet.test\tPER\tClaire Martin\t810100534436\tmembers=0\tpasswords=1\thidden\t",
		"lgc@carnet.test\tAPP\tLogiciel officine\t1750100125\tmembers=0\tpasswords=1\tlisted\t",
		"pharmacie@carnet.test\tORG\tPharmacie du Port\t1750100125\tmembers=1\tpasswords=1\taccepts-patients\t",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("mailbox list lacks %q:\n%s", want, out)
		}
	}
	if out := must("mail", "mailbox", "list", "--kind", "org"); strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "pharmacie@") {
		t.Fatalf("list --kind org: %q", out)
	}
	must("mail", "mailbox", "show", "--mailbox", "claire.martin@carnet.test")
	if out := must("mail", "mailbox", "list", "--mailbox", "claire.martin@carnet.test"); !strings.Contains(out, "\tlisted\t") {
		t.Fatalf("after show: %q", out)
	}

	// The printed password signs in; revoked, it does not.
	signIn := func() error {
		a, _, err := openAdmin(context.Background(), "test", db, io.Discard, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.db.Close()
		svc, err := a.mailService()
		if err != nil {
			t.Fatal(err)
		}
		_, err = svc.Authenticate(context.Background(), "claire.martin@carnet.test", secret, "127.0.0.1")
		return err
	}
	if err := signIn(); err != nil {
		t.Fatalf("the printed app password does not sign in: %v", err)
	}
	refused(1, "no such app password", "mail", "app-password", "revoke", "--mailbox", "pharmacie@carnet.test", "--id", publicID)
	if out := must("mail", "app-password", "revoke", "--mailbox", "claire.martin@carnet.test", "--id", strings.ToLower(publicID)); !strings.Contains(out, publicID+" of claire.martin@carnet.test revoked") {
		t.Fatalf("revoke: %q", out)
	}
	if err := signIn(); mail.ReasonOf(err) != mail.ReasonAuthFailed {
		t.Fatalf("a revoked password signs in: %v", err)
	}

	// Traced as the operator at the terminal, refusals included; the log verifies.
	a, _, err := openAdmin(context.Background(), "test", db, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.db.Close()
	rows, err := a.db.SQL().QueryContext(context.Background(), `SELECT action, outcome, actor_kind, actor_id, channel FROM traces
		WHERE action LIKE 'mailbox.%' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	count := map[string]int{}
	for rows.Next() {
		var action, outcome, kind, id, channel string
		if err := rows.Scan(&action, &outcome, &kind, &id, &channel); err != nil {
			t.Fatal(err)
		}
		if kind != string(a.by.Kind) || id != a.by.ID || channel != "cli" {
			t.Fatalf("%s traced as %s %s over %s, want the operator %s over cli", action, kind, id, channel, a.by.ID)
		}
		count[action+" "+outcome]++
	}
	for _, want := range []string{"mailbox.create allowed", "mailbox.create denied", "mailbox.member_add allowed",
		"mailbox.hide allowed", "mailbox.app_password_create allowed", "mailbox.app_password_create denied",
		"mailbox.app_password_revoke allowed"} {
		if count[want] == 0 {
			t.Errorf("no %q trace in %v", want, count)
		}
	}
	if code, out, _ := cmd("audit", "verify"); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %d %s", code, out)
	}
}

// The published allowlist (6,554 entries) imports from the command, a second refresh changes
// nothing, and an unreadable file is refused and leaves the allowlist in force.
func TestMailAllowlistCommands(t *testing.T) {
	path := shareddata.Dir(t, "mssante", "listeblanchemssante-2025-03-14.xml")
	db := append(dbArgs(t, t.TempDir()), "--domain", "carnet.test")
	cmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, db...), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errOut := cmd("mail", "allowlist", "status"); code != 0 || !strings.Contains(out, "no allowlist imported") {
		t.Fatalf("status before: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := cmd("mail", "allowlist", "refresh"); code != 1 || !strings.Contains(errOut, "takes one file") {
		t.Fatalf("refresh without a file: %d %q %q", code, out, errOut)
	}
	code, out, errOut := cmd("mail", "allowlist", "refresh", path)
	// 6,554 entries read: one whose name is an address is skipped, 21 repeat a domain and
	// certificate (internal/mail's TestPublishedAllowlist).
	m := regexp.MustCompile(`(\d+) entries, (\d+) domains; (\d+) added, 0 removed, 1 entries skipped\n`).FindStringSubmatch(out)
	if code != 0 || m == nil || m[1] != "6532" || m[2] != "5001" || m[3] != "5001" || !strings.Contains(out, "+ … and 4951 more\n") ||
		!strings.Contains(out, "skipped: ") {
		t.Fatalf("refresh: %d %.300q %q", code, out, errOut)
	}
	status := func() string {
		code, out, errOut := cmd("mail", "allowlist", "status")
		if code != 0 {
			t.Fatalf("status: %d %s", code, errOut)
		}
		return out
	}
	var second, errb bytes.Buffer
	if code := run(context.Background(), append(append([]string{"mail", "allowlist", "refresh"}, db...), path), &second, &errb); code != 0 ||
		!strings.Contains(second.String(), "0 added, 0 removed") {
		t.Fatalf("second refresh (settings before the file): %d %.300q %.300q", code, second.String(), errb.String())
	}
	before := status()
	if !strings.Contains(before, "6532 entries, 5001 domains") {
		t.Fatalf("status: %q", before)
	}
	bad := filepath.Join(t.TempDir(), "bad.xml")
	os.WriteFile(bad, []byte(`<ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema"><ListeDomaines>`), 0o600)
	if code, _, errOut := cmd("mail", "allowlist", "refresh", bad); code != 1 || errOut == "" {
		t.Fatalf("bad file: %d %q", code, errOut)
	}
	if code, _, errOut := cmd("mail", "allowlist", "refresh", filepath.Join(t.TempDir(), "missing.xml")); code != 1 || !strings.Contains(errOut, "allowlist file") {
		t.Fatalf("missing file: %d %q", code, errOut)
	}
	if after := status(); after != before {
		t.Fatalf("a refused refresh changed the allowlist: %q, was %q", after, before)
	}
}
