// Package recordtest builds a record service on a real store (SQLite or PostgreSQL, as
// storetest selects), a real encrypted blob store and a fake clock, for the tests of the
// record and of the channels built on it (FHIR, web).
package recordtest

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/store/storetest"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// T0 is the tests' "now" at the start.
var T0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// Env is a record service and what it is built on.
type Env struct {
	DB      *store.DB
	Clock   *clock.Fake
	Access  *access.Service
	Blobs   *blob.FS
	Records *record.Service
	Catalog *terminology.Catalog
	BlobDir string
}

// New returns an Env on a fresh store and blob directory.
func New(tb testing.TB) *Env {
	tb.Helper()
	db := storetest.New(tb)
	clk := clock.NewFake(T0)
	m, err := access.DefaultMatrix()
	if err != nil {
		tb.Fatal(err)
	}
	cat, err := terminology.Default()
	if err != nil {
		tb.Fatal(err)
	}
	blobDir := tb.TempDir()
	blobs, err := blob.NewFS(blobDir, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	// An insert-only queue: deposits queue their notices in their transaction.
	if _, err := jobs.Migrate(context.Background(), db); err != nil {
		tb.Fatal(err)
	}
	if _, err := jobs.New(db, jobs.Config{}, jobs.Deps{}); err != nil {
		tb.Fatal(err)
	}
	acc := access.NewService(db.Access(), clk, m, access.ServicePolicy{})
	rec, err := record.NewService(record.Deps{Store: db.Records(), Access: acc, Blobs: blobs, Catalog: cat, Clock: clk})
	if err != nil {
		tb.Fatal(err)
	}
	return &Env{DB: db, Clock: clk, Access: acc, Blobs: blobs, Records: rec, Catalog: cat, BlobDir: blobDir}
}

// TestINS returns the valid test INS number seq (a NIR of the test OID, with its key).
func TestINS(tb testing.TB, seq int) identity.INS {
	tb.Helper()
	nir13 := fmt.Sprintf("2%02d%02d75%06d", 80, 5, seq)
	n, err := strconv.ParseInt(nir13, 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	ins, err := identity.NewINS(fmt.Sprintf("%s%02d", nir13, 97-n%97), identity.OIDTestNIR)
	if err != nil {
		tb.Fatal(err)
	}
	return ins
}

// Patient stores a patient with ins and an open space, and returns their id.
func (e *Env) Patient(tb testing.TB, ins identity.INS) int64 {
	tb.Helper()
	ctx := context.Background()
	p := space.Patient{INS: ins, BirthName: "DUPONT", GivenNames: "Marie", BirthDate: time.Date(1980, 5, 2, 0, 0, 0, 0, time.UTC),
		Sex: space.Female, CreatedAt: e.Clock.Now()}
	err := e.DB.Update(ctx, func(tx *store.Tx) error {
		if err := tx.InsertPatient(ctx, &p); err != nil {
			return err
		}
		sp := space.New(p.ID, e.Clock.Now(), space.DefaultPolicy())
		sp.State, sp.OpenedAt, sp.OpensAt = space.Open, e.Clock.Now(), time.Time{}
		return tx.InsertSpace(ctx, sp, "")
	})
	if err != nil {
		tb.Fatal(err)
	}
	return p.ID
}

// RPPS returns the IdNat_PS ("8" + RPPS) of test professional n, with its Luhn key.
func RPPS(tb testing.TB, n int) string {
	tb.Helper()
	base := fmt.Sprintf("1999%06d", n)
	for k := 0; k <= 9; k++ {
		if id, err := identity.ParseIdNatPS("8" + base + strconv.Itoa(k)); err == nil {
			return id.String()
		}
	}
	tb.Fatalf("no key for RPPS %s", base)
	return ""
}

// Doctor is a general practitioner acting through their software.
func Doctor(idnat string) record.Request {
	return record.Request{Channel: audit.ChannelFHIR, Actor: access.Actor{Kind: audit.ActorProfessional, ID: idnat,
		Name: "Dr Martin", Org: "1750000001", Profession: "G15_10", Specialty: "G15_10/SM54"}}
}

// Holder is the patient acting on their own space through the portal.
func Holder(patientID int64) record.Request {
	return record.Request{Channel: audit.ChannelWeb, Actor: access.Actor{Kind: audit.ActorPatient,
		ID: fmt.Sprintf("account-%d", patientID), Name: "Marie Dupont", PatientID: patientID}}
}

// PDF returns a small but well-formed PDF of about size bytes, distinct for each seed.
func PDF(size, seed int) []byte {
	head := fmt.Sprintf("%%PDF-1.4\n%% carnet test document %d\n", seed)
	b := make([]byte, 0, size+64)
	b = append(b, head...)
	for len(b) < size-6 {
		b = append(b, "0123456789abcdef"[len(b)%16])
	}
	return append(b, "\n%%EOF"...)
}

// Report is a consultation report deposit for ins.
func Report(ins identity.INS, title string) record.Deposit {
	return record.Deposit{INS: ins, Title: title, Type: "11488-4", MimeType: "application/pdf",
		ServiceStart: T0.Add(-24 * time.Hour)}
}

// QueuedJobs returns the kinds and arguments of the jobs queued so far.
func (e *Env) QueuedJobs(tb testing.TB) []string {
	tb.Helper()
	q := `SELECT kind, CAST(args AS TEXT) FROM river_job ORDER BY id`
	if e.DB.Dialect() == store.SQLite {
		q = `SELECT kind, json(args) FROM river_job ORDER BY id` // River keeps JSONB there
	}
	rows, err := e.DB.SQL().Query(q)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var kind, args string
		if err := rows.Scan(&kind, &args); err != nil {
			tb.Fatal(err)
		}
		out = append(out, kind+" "+args)
	}
	return out
}

// Traces returns the patient's traces as "action outcome reason object detail" lines, oldest first.
func (e *Env) Traces(tb testing.TB, patientID int64) []string {
	tb.Helper()
	rows, err := e.DB.SQL().Query(`SELECT action, outcome, reason, object, detail FROM traces WHERE patient_id = $1 ORDER BY id`, patientID)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, o, r, obj, d string
		if err := rows.Scan(&a, &o, &r, &obj, &d); err != nil {
			tb.Fatal(err)
		}
		out = append(out, strings.TrimSpace(strings.Join([]string{a, o, r, obj, d}, " ")))
	}
	return out
}
