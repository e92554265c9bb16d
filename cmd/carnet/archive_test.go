package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
)

// instanceOf opens the data directory args point at as serve does, and opens the space of
// ins (created by `carnet space create`) at once, as its opt-out period would.
func instanceOf(t *testing.T, args []string, ins identity.INS) (*recordServices, int64) {
	t.Helper()
	ctx := context.Background()
	cfg, _, err := loadConfig("test", args, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, key, err := openStore(ctx, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := clock.System{}
	if err := prepareSchema(ctx, db, clk, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.New(db, jobs.Config{}, jobs.Deps{}); err != nil {
		t.Fatal(err)
	}
	spaces, err := newSpaces(db, clk, cfg, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.NewFS(filepath.Join(cfg.DataDir, "blobs"), key.master)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := newRecordServices(ctx, db, clk, cfg, key, spaces, blobs, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := spaces.ByINS(ctx, ins.Matricule)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx *store.Tx) error {
		sp, err := tx.Space(ctx, p.ID)
		if err != nil {
			return err
		}
		sp.State, sp.OpenedAt, sp.OpensAt = space.Open, time.Now(), time.Time{}
		return tx.SaveSpace(ctx, sp)
	}); err != nil {
		t.Fatal(err)
	}
	return rs, p.ID
}

// An operator exports a space only on a legal request; the archive imported into another
// instance gives the same record, and importing it again imports nothing.
func TestExportAndImportCommands(t *testing.T) {
	const insText = "279035121518989"
	ins, err := identity.NewINS(insText, identity.OIDNIR)
	if err != nil {
		t.Fatal(err)
	}
	// The settings go before the file: flags end at the first argument that is none.
	cmdOn := func(db []string) func(args ...string) (int, string, string) {
		return func(args ...string) (int, string, string) {
			var out, errb bytes.Buffer
			if last := args[len(args)-1]; args[0] == "import" && strings.HasSuffix(last, ".zip") {
				args = append(append(args[:len(args)-1:len(args)-1], db...), last)
			} else {
				args = append(args, db...)
			}
			code := run(context.Background(), args, &out, &errb)
			return code, out.String(), errb.String()
		}
	}
	create := []string{"space", "create", "--ins", insText, "--birth-name", "DUPONT", "--given-names", "Marie",
		"--birth-date", "1979-03-05", "--sex", "F"}

	dbA := dbArgs(t, t.TempDir())
	cmdA := cmdOn(dbA)
	if code, out, errOut := cmdA(create...); code != 0 {
		t.Fatalf("create: %d %s %s", code, out, errOut)
	}
	rsA, pidA := instanceOf(t, dbA, ins)
	doctor := recordtest.Doctor(recordtest.RPPS(t, 7))
	for i, title := range []string{"Consultation", "Biologie", "Radiographie"} {
		dep := record.Deposit{INS: ins, Title: title, Type: "11488-4", MimeType: "application/pdf", ServiceStart: time.Now().Add(-time.Hour)}
		if _, err := rsA.records.Deposit(context.Background(), doctor, dep, recordtest.PDF(4000, i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rsA.profile.Add(context.Background(), profile.Request{Actor: doctor.Actor, Channel: doctor.Channel}, pidA,
		profile.Item{Section: profile.SectionHistory, Condition: &profile.Condition{Text: "Asthme", Status: "active"}}); err != nil {
		t.Fatal(err)
	}

	file := filepath.Join(t.TempDir(), "export.zip")
	if code, _, errOut := cmdA("export", "--ins", insText, "--to", file); code == 0 || !strings.Contains(errOut, "réquisition") && !strings.Contains(errOut, "legal request") {
		t.Fatalf("export without a legal request: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("a refused export left a file: %v", err)
	}
	code, out, errOut := cmdA("export", "--ins", insText, "--legal-request", "TJ Paris 2026/0042", "--to", file)
	if code != 0 || !strings.Contains(out, "exported") {
		t.Fatalf("export: %d %s %s", code, out, errOut)
	}

	dbB := dbArgs(t, t.TempDir())
	cmdB := cmdOn(dbB)
	if code, out, errOut := cmdB(create...); code != 0 {
		t.Fatalf("create B: %d %s %s", code, out, errOut)
	}
	rsB, pidB := instanceOf(t, dbB, ins)
	code, out, errOut = cmdB("import", "--ins", insText, file)
	if code != 0 || !strings.Contains(out, "3 document(s) imported, 0 already present") || !strings.Contains(out, "profile: 1 item(s) imported, 0 already present") ||
		!strings.Contains(out, "access settings: 0 added, 0 kept as the space has them, 1 grant(s) left for the patient") || !strings.Contains(out, "mailbox: 0 message(s) imported") {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	code, out, errOut = cmdB("import", "--ins", insText, file)
	if code != 0 || !strings.Contains(out, "0 document(s) imported, 3 already present") || !strings.Contains(out, "profile: 0 item(s) imported, 1 already present") {
		t.Fatalf("second import: %d %s %s", code, out, errOut)
	}
	legal := record.Request{Actor: (&admin{by: operatorActor()}).operator("check"), Channel: "cli"}
	a, err := rsA.records.Export(context.Background(), legal, pidA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rsB.records.Export(context.Background(), legal, pidB)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Documents) != 3 || len(b.Documents) != 3 {
		t.Fatalf("%d documents exported, %d imported", len(a.Documents), len(b.Documents))
	}
	for i := range a.Documents {
		x, y := a.Documents[i], b.Documents[i]
		if x.LogicalID != y.LogicalID || x.UniqueID != y.UniqueID || x.SHA256 != y.SHA256 || x.Title != y.Title ||
			!x.Created.Equal(y.Created) || x.Depositor != y.Depositor {
			t.Fatalf("document %d differs after the round trip:\n%+v\n%+v", i, x, y)
		}
	}
	if code, out, errOut := cmdB("audit", "verify"); code != 0 {
		t.Fatalf("audit verify after the import: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := cmdB("import", "--ins", insText); code == 0 || !strings.Contains(errOut, "usage: carnet import") {
		t.Fatalf("import without a file: %d %s", code, errOut)
	}
}
