package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

func TestReimbursementsImport(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := dbArgs(t, dir)
	// An open space, as the server makes it at the end of the opt-out period.
	cfg, _, err := loadConfig("test", db, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := openStore(ctx, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := prepareSchema(ctx, st, clock.System{}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	person, other := recordtest.TestINS(t, 42), recordtest.TestINS(t, 43)
	people := &recordtest.Env{DB: st, Clock: clock.NewFake(recordtest.T0)}
	people.Patient(t, person)
	people.Patient(t, other)
	ins := person.Matricule
	st.Close()

	const header = "ins;act_date;end_date;nature;code_system;code;provider_id;provider_name;amount_paid;amount_reimbursed;reference\n"
	file := filepath.Join(dir, "remb-2025-02.csv")
	var written []byte
	write := func(body string) {
		written = []byte(header + body)
		if err := os.WriteFile(file, written, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(ins + ";2025-01-20;;consultation;;GS;;MARTIN Claire;30,00;21,00;D1\n" +
		ins + ";2025-02-03;;pharmacie;;;;Pharmacie du Centre;12,40;8,06;D2\n" +
		ins + ";2025-02-04;;biologie;NABM;1104;;Laboratoire;15,20;9,12;D3\n" +
		ins + ";2025-02-05;;biologie;NABM;1104;;Laboratoire;15,20;99;D4\n")
	cmd := func(args ...string) (int, string, string) { return runCmd(append(args, db...)...) }

	code, out, errOut := cmd("reimbursements", "import", file)
	if code != 0 || !strings.Contains(out, "4 acts in ") ||
		!strings.Contains(out, "3 events filed, 0 acts filed before, 2 statements deposited, 0 replaced, 1 rejected (see "+
			filepath.Join(dir, "remb-2025-02.rejects.csv")+")") {
		t.Fatalf("import: %d\n%s\n%s", code, out, errOut)
	}
	rejects, err := os.ReadFile(filepath.Join(dir, "remb-2025-02.rejects.csv"))
	if err != nil || !strings.HasPrefix(string(rejects), "line,reference,code,reason\n5,D4,invalid,\"bad amount: amount_reimbursed (99,00 €)") ||
		strings.Count(string(rejects), "\n") != 2 {
		t.Fatalf("rejects: %v\n%s", err, rejects)
	}

	// Again: nothing filed twice; the rejects file says the same.
	if code, out, errOut = cmd("reimbursements", "import", file); code != 0 ||
		!strings.Contains(out, "0 events filed, 3 acts filed before, 0 statements deposited, 0 replaced, 1 rejected") {
		t.Fatalf("again: %d\n%s\n%s", code, out, errOut)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "remb-2025-02.rejects.csv")); string(again) != string(rejects) {
		t.Fatalf("rejects again:\n%s", again)
	}

	// A new act for February: a dry run (flags first) says what would be done and does nothing.
	write(ins + ";2025-02-10;;consultation;;G;;MARTIN Claire;30;21;D5\n")
	rej := filepath.Join(dir, "dry.csv")
	for range 2 {
		if code, out, errOut = cmd("reimbursements", "import", "--dry-run", "--rejects", rej, file); code != 0 ||
			!strings.Contains(out, "1 events would be filed, 0 acts filed before, 0 statements deposited, 1 replaced, 0 rejected (see "+rej+")") {
			t.Fatalf("dry run: %d\n%s\n%s", code, out, errOut)
		}
	}
	if code, out, errOut = cmd("reimbursements", "import", file, "--workers", "2"); code != 0 ||
		!strings.Contains(out, "1 events filed, 0 acts filed before, 0 statements deposited, 1 replaced, 0 rejected") {
		t.Fatalf("February again: %d\n%s\n%s", code, out, errOut)
	}

	st, _, err = openStore(ctx, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var events, current, deprecated int
	q := func(query string, n *int) {
		if err := st.SQL().QueryRow(query).Scan(n); err != nil {
			t.Fatal(err)
		}
	}
	q(`SELECT COUNT(*) FROM agenda_events`, &events)
	q(`SELECT COUNT(*) FROM documents WHERE is_current AND status = 'approved' AND type_code = 'REMB'`, &current)
	q(`SELECT COUNT(*) FROM documents WHERE is_current AND status = 'deprecated'`, &deprecated)
	if events != 4 || current != 2 || deprecated != 1 {
		t.Fatalf("%d events, %d statements in force, %d deprecated", events, current, deprecated)
	}
	st.Close()

	// A reference back in a later group of the person (another person's row between): each run
	// of the file rejects it, the second too, which counts the first row as filed before. The
	// events name the file (the first 128 bits of its SHA-256) and their line.
	write(ins + ";2025-03-03;;consultation;;GS;;MARTIN Claire;30;21;D6\n" +
		other.Matricule + ";2025-03-04;;consultation;;GS;;MARTIN Claire;30;21;D7\n" +
		ins + ";2025-03-05;;pharmacie;;;;Pharmacie du Centre;12,40;8,06;D6\n")
	for _, want := range []string{"2 events filed, 0 acts filed before, 2 statements deposited, 0 replaced, 1 rejected",
		"0 events filed, 2 acts filed before, 0 statements deposited, 0 replaced, 1 rejected"} {
		if code, out, errOut = cmd("reimbursements", "import", file); code != 0 || !strings.Contains(out, want) {
			t.Fatalf("a repeated reference: %d\n%s\n%s", code, out, errOut)
		}
		if rej, _ := os.ReadFile(filepath.Join(dir, "remb-2025-02.rejects.csv")); string(rej) !=
			"line,reference,code,reason\n4,D6,conflict,duplicate reference: an earlier row of this file has the same reference\n" {
			t.Fatalf("a repeated reference's rejects:\n%s", rej)
		}
	}
	sum := sha256.Sum256(written)
	if st, _, err = openStore(ctx, cfg, true); err != nil {
		t.Fatal(err)
	}
	var payload string
	if err := st.SQL().QueryRow(`SELECT payload FROM agenda_events WHERE source_ref = 'D6'`).Scan(&payload); err != nil ||
		!strings.Contains(payload, `"file":"`+hex.EncodeToString(sum[:16])+`","line":2}`) {
		t.Fatalf("D6's payload: %v %s", err, payload)
	}
	st.Close()

	if code, out, _ = cmd("audit", "verify"); code != 0 || !strings.Contains(out, "the trace log is intact") {
		t.Fatalf("verify: %d %s", code, out)
	}
	for _, args := range [][]string{{"reimbursements"}, {"reimbursements", "import"}, {"reimbursements", "import", file, "extra"}} {
		if code, _, errOut = cmd(args...); code != 2 || !strings.Contains(errOut, "usage: carnet reimbursements import FILE") {
			t.Errorf("%q: %d %s", args, code, errOut)
		}
	}
	if code, _, errOut = cmd("reimbursements", "import", filepath.Join(dir, "missing.csv")); code != 1 || !strings.Contains(errOut, "open ") {
		t.Errorf("a missing file: %d %s", code, errOut)
	}
}
