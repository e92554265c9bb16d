package record_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/terminology"
)

var ctx = context.Background()

func mustDeposit(t *testing.T, e *recordtest.Env, r record.Request, dep record.Deposit, content []byte) record.Document {
	t.Helper()
	d, err := e.Records.Deposit(ctx, r, dep, content)
	if err != nil {
		t.Fatalf("deposit %q: %v", dep.Title, err)
	}
	return d
}

func titles(p record.Page) []string {
	var out []string
	for _, d := range p.Documents {
		out = append(out, d.Title)
	}
	return out
}

func TestDepositReadAndTrace(t *testing.T) {
	e := recordtest.New(t)
	ins := recordtest.TestINS(t, 1)
	pid := e.Patient(t, ins)
	dr := recordtest.Doctor(recordtest.RPPS(t, 1))
	pdf := recordtest.PDF(100<<10, 1)
	s1 := sha1.Sum(pdf)
	s256 := sha256.Sum256(pdf)
	dep := recordtest.Report(ins, "CR de consultation")
	dep.SHA1, dep.SHA256, dep.Size = hex.EncodeToString(s1[:]), hex.EncodeToString(s256[:]), int64(len(pdf))
	d := mustDeposit(t, e, dr, dep, pdf)

	if d.Class != "10" || d.Space != terminology.SpaceDocuments || d.Status != record.Approved || d.Version != 1 {
		t.Errorf("classified as class %s space %s status %s v%d", d.Class, d.Space, d.Status, d.Version)
	}
	if d.SHA1 != dep.SHA1 || d.SHA256 != dep.SHA256 || d.Size != int64(len(pdf)) {
		t.Errorf("hashes/size not recorded: %+v", d)
	}
	if !strings.HasPrefix(d.UniqueID, "2.25.") || d.LogicalID == d.EntryUUID {
		t.Errorf("identifiers: unique %q logical %q entry %q", d.UniqueID, d.LogicalID, d.EntryUUID)
	}
	if len(d.Authors) != 1 || d.Authors[0].ID != dr.Actor.ID {
		t.Errorf("the depositor should be the author by default: %+v", d.Authors)
	}

	for _, r := range []record.Request{dr, recordtest.Holder(pid)} {
		got, b, err := e.Records.ReadAll(ctx, r, d.LogicalID)
		if err != nil {
			t.Fatalf("%s reads: %v", r.Actor.Kind, err)
		}
		if !bytes.Equal(b, pdf) || got.EntryUUID != d.EntryUUID {
			t.Errorf("%s read other bytes or entry", r.Actor.Kind)
		}
	}
	tr := e.Traces(t, pid)
	want := []string{"document.deposit allowed", "access.care_team_add allowed act_of_care", "document.read allowed author", "document.read allowed self"}
	for _, w := range want {
		if !slices.ContainsFunc(tr, func(s string) bool { return strings.HasPrefix(s, w) }) {
			t.Errorf("no trace %q in %q", w, tr)
		}
	}
	// The notice waits in the outbox; the flush makes one notice job of it.
	if n := countRows(t, e, "notice_outbox"); n != 1 {
		t.Errorf("%d notices queued", n)
	}
	if n, err := jobs.FlushNotices(ctx, e.DB, e.Clock.Now()); n != 1 || err != nil {
		t.Fatalf("flush: %d %v", n, err)
	}
	queued := e.QueuedJobs(t)
	if len(queued) != 1 || !strings.Contains(queued[0], `"new_content"`) || !strings.Contains(queued[0], d.LogicalID) {
		t.Errorf("queued jobs: %q", queued)
	}
}

// Many documents for one patient make one notice.
func TestNoticesAreGroupedByPatient(t *testing.T) {
	e := recordtest.New(t)
	ins := recordtest.TestINS(t, 12)
	pid := e.Patient(t, ins)
	other := recordtest.TestINS(t, 13)
	e.Patient(t, other)
	dr := recordtest.Doctor(recordtest.RPPS(t, 70))
	for i := range 5 {
		mustDeposit(t, e, dr, recordtest.Report(ins, "doc"), recordtest.PDF(500, 1200+i))
	}
	mustDeposit(t, e, dr, recordtest.Report(other, "doc"), recordtest.PDF(500, 1300))
	if n, err := jobs.FlushNotices(ctx, e.DB, e.Clock.Now()); n != 2 || err != nil {
		t.Fatalf("flush: %d notices %v, want 2", n, err)
	}
	if n := countRows(t, e, "notice_outbox"); n != 0 {
		t.Errorf("%d notices left in the outbox", n)
	}
	if n, _ := jobs.FlushNotices(ctx, e.DB, e.Clock.Now()); n != 0 {
		t.Errorf("a second flush sent %d", n)
	}
	_ = pid
}

func TestDepositRefusedStoresNothing(t *testing.T) {
	e := recordtest.New(t)
	ins := recordtest.TestINS(t, 2)
	pid := e.Patient(t, ins)
	dr := recordtest.Doctor(recordtest.RPPS(t, 2))
	pdf := recordtest.PDF(2000, 2)
	other := recordtest.TestINS(t, 3)
	cases := []struct {
		name    string
		edit    func(*record.Deposit)
		content []byte
		code    errs.Code
		msg     string
	}{
		{"unknown type", func(d *record.Deposit) { d.Type = "99999-9" }, pdf, errs.Invalid, `unknown typeCode "99999-9"`},
		{"no type", func(d *record.Deposit) { d.Type = "" }, pdf, errs.Invalid, "typeCode is missing"},
		{"class mismatch", func(d *record.Deposit) { d.Class = "60" }, pdf, errs.Invalid, "classCode 60 does not match typeCode 11488-4"},
		{"no title", func(d *record.Deposit) { d.Title = " " }, pdf, errs.Invalid, "title is missing"},
		{"bad mime", func(d *record.Deposit) { d.MimeType = "application/x-msdownload" }, pdf, errs.Invalid, "is not accepted"},
		{"hash mismatch", func(d *record.Deposit) { d.SHA1 = strings.Repeat("0", 40) }, pdf, errs.Invalid, "hash (SHA-1) stated does not match"},
		{"size mismatch", func(d *record.Deposit) { d.Size = 3 }, pdf, errs.Invalid, "size stated (3)"},
		{"empty", func(d *record.Deposit) {}, nil, errs.Invalid, "document is empty"},
		{"oversize", func(d *record.Deposit) {}, make([]byte, record.DefaultMaxSize+1), errs.Invalid, "more than the"},
		{"no act date", func(d *record.Deposit) { d.ServiceStart = time.Time{} }, pdf, errs.Invalid, "serviceStartTime"},
		{"unknown patient", func(d *record.Deposit) { d.INS = other }, pdf, errs.NotFound, "no patient space"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dep := recordtest.Report(ins, "CR")
			c.edit(&dep)
			_, err := e.Records.Deposit(ctx, dr, dep, c.content)
			if !errs.Is(err, c.code) || !strings.Contains(errs.MessageOf(err), c.msg) {
				t.Fatalf("got %v, want %s containing %q", err, c.code, c.msg)
			}
		})
	}
	// The patient deposits in their Espace personnel only.
	dep := recordtest.Report(ins, "mine")
	if _, err := e.Records.Deposit(ctx, recordtest.Holder(pid), dep, pdf); !errs.Is(err, errs.Forbidden) {
		t.Errorf("patient depositing a consultation report: %v, want forbidden", err)
	}
	if n := countRows(t, e, "documents"); n != 0 {
		t.Errorf("%d documents stored by refused deposits", n)
	}
	if n := countBlobs(t, e); n != 0 {
		t.Errorf("%d blobs left by refused deposits", n)
	}
}

func countRows(t *testing.T, e *recordtest.Env, table string) int {
	t.Helper()
	var n int
	if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func countBlobs(t *testing.T, e *recordtest.Env) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(e.BlobDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") && !strings.Contains(d.Name(), "tmp") {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPatientDepositsInEspacePersonnel(t *testing.T) {
	e := recordtest.New(t)
	ins := recordtest.TestINS(t, 4)
	pid := e.Patient(t, ins)
	dep := record.Deposit{INS: ins, Title: "Mes directives anticipées", Type: "DOCPAT01", MimeType: "image/png"}
	d := mustDeposit(t, e, recordtest.Holder(pid), dep, []byte("\x89PNG\r\n\x1a\nfake"))
	if d.Space != terminology.SpacePersonal || d.DepositedBy != access.DepositedByPatient {
		t.Errorf("filed in %s, deposited by %s", d.Space, d.DepositedBy)
	}
	if n := countRows(t, e, "notice_outbox"); n != 0 {
		t.Errorf("the patient is told of their own deposit")
	}
}

func TestCareTeamAuthorisationBlocking(t *testing.T) {
	e := recordtest.New(t)
	ins := recordtest.TestINS(t, 5)
	pid := e.Patient(t, ins)
	author := recordtest.Doctor(recordtest.RPPS(t, 10))
	outsider := recordtest.Doctor(recordtest.RPPS(t, 11))
	d := mustDeposit(t, e, author, recordtest.Report(ins, "CR"), recordtest.PDF(1000, 5))
	holder := recordtest.Holder(pid)

	if _, err := e.Records.Search(ctx, outsider, record.Query{PatientID: pid}); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("outsider search: %v, want forbidden", err)
	}
	if _, err := e.Records.Get(ctx, outsider, d.LogicalID); err == nil {
		t.Fatal("outsider read the document")
	}
	if _, err := e.Access.GrantAuthorisation(ctx, holder.Actor, holder.Channel, pid, outsider.Actor.ID, 0); err != nil {
		t.Fatal(err)
	}
	p, err := e.Records.Search(ctx, outsider, record.Query{PatientID: pid})
	if err != nil || len(p.Documents) != 1 {
		t.Fatalf("authorised outsider search: %v, %d docs", err, len(p.Documents))
	}
	if _, _, err := e.Records.ReadAll(ctx, outsider, d.LogicalID); err != nil {
		t.Fatalf("authorised outsider read: %v", err)
	}
	if err := e.Access.Block(ctx, holder.Actor, holder.Channel, pid, outsider.Actor.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Records.Search(ctx, outsider, record.Query{PatientID: pid}); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("blocked search: %v, want forbidden", err)
	}
	if _, _, err := e.Records.ReadAll(ctx, outsider, d.LogicalID); err == nil {
		t.Fatal("blocked professional read the document")
	}
	tr := e.Traces(t, pid)
	if !slices.ContainsFunc(tr, func(s string) bool { return strings.HasPrefix(s, "record.search denied blocked") }) {
		t.Errorf("no refused search trace: %q", tr)
	}
	if !slices.ContainsFunc(tr, func(s string) bool {
		return strings.HasPrefix(s, "record.search allowed authorisation") && strings.Contains(s, "shown=1 "+d.Ref())
	}) {
		t.Errorf("no allowed search trace naming the document: %q", tr)
	}
}

func TestReplaceDeprecates(t *testing.T) {
	e := recordtest.New(t)
	ins := recordtest.TestINS(t, 6)
	pid := e.Patient(t, ins)
	dr := recordtest.Doctor(recordtest.RPPS(t, 20))
	v1 := mustDeposit(t, e, dr, recordtest.Report(ins, "v1"), recordtest.PDF(1000, 61))
	v2, err := e.Records.Replace(ctx, dr, v1.LogicalID, recordtest.Report(ins, "v2"), recordtest.PDF(1000, 62))
	if err != nil {
		t.Fatal(err)
	}
	if v2.UniqueID != v1.UniqueID || v2.LogicalID == v1.LogicalID || v2.Replaces != v1.LogicalID {
		t.Errorf("replacement ids: %+v", v2)
	}
	holder := recordtest.Holder(pid)
	p, err := e.Records.Search(ctx, holder, record.Query{PatientID: pid})
	if err != nil || !slices.Equal(titles(p), []string{"v2"}) {
		t.Fatalf("current: %v %q", err, titles(p))
	}
	p, _ = e.Records.Search(ctx, holder, record.Query{PatientID: pid, Statuses: []record.Status{record.Deprecated}})
	if !slices.Equal(titles(p), []string{"v1"}) {
		t.Errorf("deprecated: %q", titles(p))
	}
	if _, err := e.Records.Replace(ctx, dr, v1.LogicalID, recordtest.Report(ins, "v3"), recordtest.PDF(1000, 63)); !errs.Is(err, errs.Conflict) {
		t.Errorf("replacing a deprecated document: %v, want conflict", err)
	}
	other := recordtest.Doctor(recordtest.RPPS(t, 21))
	if _, err := e.Records.Replace(ctx, other, v2.LogicalID, recordtest.Report(ins, "v3"), recordtest.PDF(1000, 64)); !errs.Is(err, errs.Forbidden) {
		t.Errorf("a non-author replacing: %v, want forbidden", err)
	}
	dup := recordtest.Report(ins, "dup")
	dup.UniqueID = v2.UniqueID
	if _, err := e.Records.Deposit(ctx, dr, dup, recordtest.PDF(1000, 65)); !errs.Is(err, errs.Conflict) {
		t.Errorf("a second deposit with the same uniqueId: %v, want conflict", err)
	}
}

func TestMaskArchiveDelete(t *testing.T) {
	e := recordtest.New(t)
	ins := recordtest.TestINS(t, 7)
	pid := e.Patient(t, ins)
	author := recordtest.Doctor(recordtest.RPPS(t, 30))
	other := recordtest.Doctor(recordtest.RPPS(t, 31))
	holder := recordtest.Holder(pid)
	d := mustDeposit(t, e, author, recordtest.Report(ins, "CR"), recordtest.PDF(1000, 7))
	if _, err := e.Access.GrantAuthorisation(ctx, holder.Actor, holder.Channel, pid, other.Actor.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Records.Mask(ctx, other, d.LogicalID); !errs.Is(err, errs.Forbidden) {
		t.Errorf("another professional masks: %v", err)
	}
	m, err := e.Records.Mask(ctx, holder, d.LogicalID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 2 || m.EntryUUID == d.EntryUUID || m.LogicalID != d.LogicalID || !m.Labels.MasquePS {
		t.Errorf("masking is a new metadata version: %+v", m)
	}
	if p, _ := e.Records.Search(ctx, other, record.Query{PatientID: pid}); len(p.Documents) != 0 {
		t.Errorf("a masked document shown to another professional")
	}
	if p, _ := e.Records.Search(ctx, author, record.Query{PatientID: pid}); len(p.Documents) != 1 {
		t.Errorf("the author no longer sees the masked document")
	}
	if _, err := e.Records.Unmask(ctx, holder, d.LogicalID); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.Records.Search(ctx, other, record.Query{PatientID: pid}); len(p.Documents) != 1 {
		t.Errorf("unmasked document not shown")
	}
	if _, err := e.Records.Archive(ctx, author, d.LogicalID); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.Records.Search(ctx, holder, record.Query{PatientID: pid}); len(p.Documents) != 0 {
		t.Errorf("an archived document in the default listing")
	}
	if p, _ := e.Records.Search(ctx, holder, record.Query{PatientID: pid, Archived: record.OnlyArchived}); len(p.Documents) != 1 {
		t.Errorf("the archived document not found with the archived flag")
	}
	if err := e.Records.Delete(ctx, other, d.LogicalID); !errs.Is(err, errs.Forbidden) {
		t.Errorf("a non-author deletes: %v", err)
	}
	if err := e.Records.Delete(ctx, author, d.LogicalID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Records.Get(ctx, holder, d.LogicalID); !errs.Is(err, errs.NotFound) {
		t.Errorf("a deleted document read: %v", err)
	}
	if n := countBlobs(t, e); n != 0 {
		t.Errorf("the deleted document's blob is still there")
	}
}

func TestInvisiblePatientAnnouncement(t *testing.T) {
	e := recordtest.New(t)
	ins := recordtest.TestINS(t, 8)
	pid := e.Patient(t, ins)
	dr := recordtest.Doctor(recordtest.RPPS(t, 40))
	holder := recordtest.Holder(pid)
	dep := recordtest.Report(ins, "Résultat à annoncer")
	dep.InvisiblePatient = true
	d := mustDeposit(t, e, dr, dep, recordtest.PDF(1000, 8))
	if want := recordtest.T0.Add(30 * 24 * time.Hour); !d.Labels.VisibleToPatientAt.Equal(want) {
		t.Errorf("visible at %v, want %v", d.Labels.VisibleToPatientAt, want)
	}
	if p, _ := e.Records.Search(ctx, holder, record.Query{PatientID: pid}); len(p.Documents) != 0 {
		t.Fatal("a document held back shown to the patient")
	}
	if _, _, err := e.Records.ReadAll(ctx, holder, d.LogicalID); err == nil {
		t.Fatal("a document held back read by the patient")
	}
	if n, _ := jobs.FlushNotices(ctx, e.DB, e.Clock.Now().Add(14*24*time.Hour-time.Second)); n != 0 {
		t.Errorf("the notice of a document held back went before two weeks")
	}
	if n, _ := jobs.FlushNotices(ctx, e.DB, e.Clock.Now().Add(14*24*time.Hour)); n != 1 {
		t.Errorf("the notice of a document held back did not go after two weeks")
	}
	e.Clock.Advance(30*24*time.Hour + time.Second)
	if p, _ := e.Records.Search(ctx, holder, record.Query{PatientID: pid}); len(p.Documents) != 1 {
		t.Fatal("after a month the document should be visible")
	}
}

func TestSearchFiltersAndPages(t *testing.T) {
	e := recordtest.New(t)
	ins := recordtest.TestINS(t, 9)
	pid := e.Patient(t, ins)
	dr := recordtest.Doctor(recordtest.RPPS(t, 50))
	holder := recordtest.Holder(pid)
	types := []string{"11488-4", "11502-2", "18748-4"}
	for i := range 12 {
		dep := recordtest.Report(ins, "doc"+string(rune('a'+i)))
		dep.Type = types[i%3]
		dep.Created = recordtest.T0.Add(-time.Duration(i) * 24 * time.Hour)
		mustDeposit(t, e, dr, dep, recordtest.PDF(500, 900+i))
	}
	old := recordtest.Report(ins, "old")
	old.Created = recordtest.T0.AddDate(-3, 0, 0)
	old.ServiceStart = old.Created
	mustDeposit(t, e, dr, old, recordtest.PDF(500, 999))

	p, err := e.Records.Search(ctx, holder, record.Query{PatientID: pid})
	if err != nil || len(p.Documents) != 12 || p.Since.IsZero() {
		t.Fatalf("first listing: %v %d since %v", err, len(p.Documents), p.Since)
	}
	if p, _ := e.Records.Search(ctx, holder, record.Query{PatientID: pid, All: true}); len(p.Documents) != 13 {
		t.Errorf("all: %d", len(p.Documents))
	}
	if p, _ := e.Records.Search(ctx, holder, record.Query{PatientID: pid, Types: []string{"11502-2"}}); len(p.Documents) != 4 {
		t.Errorf("by type: %d", len(p.Documents))
	}
	if p, _ := e.Records.Search(ctx, holder, record.Query{PatientID: pid, Author: dr.Actor.ID, All: true}); len(p.Documents) != 13 {
		t.Errorf("by author: %d", len(p.Documents))
	}
	if p, _ := e.Records.Search(ctx, holder, record.Query{PatientID: pid, Author: recordtest.RPPS(t, 51), All: true}); len(p.Documents) != 0 {
		t.Errorf("by another author: %d", len(p.Documents))
	}
	from := recordtest.T0.Add(-3*24*time.Hour - time.Hour)
	if p, _ := e.Records.Search(ctx, holder, record.Query{PatientID: pid, CreatedFrom: from}); !slices.Equal(titles(p), []string{"doca", "docb", "docc", "docd"}) {
		t.Errorf("by creation date: %q", titles(p))
	}
	// Pages of 5, following the cursor.
	var all []string
	q := record.Query{PatientID: pid, Limit: 5, All: true}
	for {
		p, err := e.Records.Search(ctx, holder, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, titles(p)...)
		if !p.More {
			break
		}
		last := p.Documents[len(p.Documents)-1]
		q.AfterCreated, q.AfterID = last.Created, last.LogicalID
	}
	if len(all) != 13 || all[0] != "doca" || all[12] != "old" {
		t.Errorf("pages: %q", all)
	}
}

// Purging a space lists its documents' blobs as garbage in the purge's transaction; the
// collector erases them.
func TestPurgeErasesBlobs(t *testing.T) {
	e := recordtest.New(t)
	ins := recordtest.TestINS(t, 11)
	pid := e.Patient(t, ins)
	dr := recordtest.Doctor(recordtest.RPPS(t, 60))
	d := mustDeposit(t, e, dr, recordtest.Report(ins, "v1"), recordtest.PDF(1000, 11))
	if _, err := e.Records.Mask(ctx, recordtest.Holder(pid), d.LogicalID); err != nil {
		t.Fatal(err)
	}
	mustDeposit(t, e, dr, recordtest.Report(ins, "other"), recordtest.PDF(1000, 12))
	if n := countBlobs(t, e); n != 2 {
		t.Fatalf("%d blobs before the purge", n)
	}
	if err := e.DB.Update(ctx, func(tx *store.Tx) error { return tx.PurgePatientData(ctx, pid, e.Clock.Now()) }); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, e, "documents"); n != 0 {
		t.Errorf("%d documents left after the purge", n)
	}
	n, err := jobs.CollectBlobGarbage(ctx, e.DB, e.Blobs)
	if err != nil || n != 2 {
		t.Fatalf("collected %d: %v", n, err)
	}
	if n := countBlobs(t, e); n != 0 {
		t.Errorf("%d blobs left after collection", n)
	}
	if n := countRows(t, e, "blob_garbage"); n != 0 {
		t.Errorf("%d garbage rows left", n)
	}
}

// The patient is told of the first access by a professional new to their record, once, and of
// every day of emergency access; the notices go as their own kind.
func TestPatientToldOfNewAndEmergencyAccess(t *testing.T) {
	e := recordtest.New(t)
	ins := recordtest.TestINS(t, 14)
	pid := e.Patient(t, ins)
	author := recordtest.Doctor(recordtest.RPPS(t, 80))
	reader := recordtest.Doctor(recordtest.RPPS(t, 81))
	urgentist := recordtest.Doctor(recordtest.RPPS(t, 82))
	holder := recordtest.Holder(pid)
	d := mustDeposit(t, e, author, recordtest.Report(ins, "CR"), recordtest.PDF(500, 14))
	if _, _, err := e.Records.ReadAll(ctx, author, d.LogicalID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Access.GrantAuthorisation(ctx, holder.Actor, holder.Channel, pid, reader.Actor.ID, 0); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := e.Records.Search(ctx, reader, record.Query{PatientID: pid}); err != nil {
			t.Fatal(err)
		}
	}
	urgentist.BreakGlass = &access.BreakGlass{Reason: "patient inconscient aux urgences"}
	if _, _, err := e.Records.ReadAll(ctx, urgentist, d.LogicalID); err != nil {
		t.Fatal(err)
	}
	rows, err := e.DB.SQL().Query(`SELECT notice_key FROM notice_outbox WHERE patient_id = $1 ORDER BY notice_key`, pid)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for rows.Next() {
		var k string
		rows.Scan(&k)
		keys = append(keys, k)
	}
	rows.Close()
	want := []string{"doc-" + d.LogicalID, "emergency-" + urgentist.Actor.ID + "-20260310", "first-" + reader.Actor.ID, "first-" + urgentist.Actor.ID}
	if !slices.Equal(keys, want) {
		t.Errorf("queued %q, want %q", keys, want)
	}
	if n, err := jobs.FlushNotices(ctx, e.DB, e.Clock.Now()); n != 3 || err != nil {
		t.Errorf("flush: %d %v, want 3 notices (new content, new professional, emergency)", n, err)
	}
	queued := strings.Join(e.QueuedJobs(t), "\n")
	for _, kind := range []string{"new_content", "new_professional", "emergency_access"} {
		if !strings.Contains(queued, kind) {
			t.Errorf("no %s notice in\n%s", kind, queued)
		}
	}
}

// At the end of the announcement delay the job clears INVISIBLE_PATIENT: a new metadata
// version, traced as the job's, and the patient is told the document is there.
func TestReleaseAnnounced(t *testing.T) {
	e := recordtest.New(t)
	ins := recordtest.TestINS(t, 15)
	pid := e.Patient(t, ins)
	dr := recordtest.Doctor(recordtest.RPPS(t, 90))
	dep := recordtest.Report(ins, "à annoncer")
	dep.InvisiblePatient = true
	d := mustDeposit(t, e, dr, dep, recordtest.PDF(500, 15))
	gone := mustDeposit(t, e, dr, dep, recordtest.PDF(500, 16))
	if err := e.Records.Delete(ctx, dr, gone.LogicalID); err != nil {
		t.Fatal(err)
	}
	if n, err := e.Records.ReleaseAnnounced(ctx); n != 0 || err != nil {
		t.Fatalf("released %d before the delay: %v", n, err)
	}
	e.Clock.Advance(30 * 24 * time.Hour)
	if n, err := e.Records.ReleaseAnnounced(ctx); n != 1 || err != nil {
		t.Fatalf("released %d at the end of the delay (want 1: the deleted one stays): %v", n, err)
	}
	got, err := e.Records.Get(ctx, recordtest.Holder(pid), d.LogicalID)
	if err != nil || got.Labels.InvisiblePatient || got.Version != 2 {
		t.Fatalf("after release: %+v %v", got.Labels, err)
	}
	if n, err := e.Records.ReleaseAnnounced(ctx); n != 0 || err != nil {
		t.Errorf("a second run released %d: %v", n, err)
	}
	if !slices.ContainsFunc(e.Traces(t, pid), func(s string) bool { return strings.HasPrefix(s, "document.label_clear allowed system") }) {
		t.Errorf("the release is not traced as the job's: %q", e.Traces(t, pid))
	}
	// Each run that released something says so in the job's own chain; the empty runs do not.
	var runs []string
	rows, err := e.DB.SQL().Query(`SELECT detail FROM traces WHERE action = $1 ORDER BY id`, record.ReleaseRunAction)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, d)
	}
	if !slices.Equal(runs, []string{"released=1"}) {
		t.Errorf("release runs traced: %q, want one with released=1", runs)
	}
}
