package archive_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/archive"
	"github.com/carnet-sante/carnet/internal/archive/archivetest"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// instance is one carnet: a store, its record, and the archive service on top.
type instance struct {
	*recordtest.Env
	archive *archive.Service
}

func newInstance(t *testing.T) *instance {
	t.Helper()
	e := recordtest.New(t)
	a, _ := archivetest.New(t, e)
	return &instance{Env: e, archive: a}
}

func operator(legal string) record.Request {
	return record.Request{Channel: audit.ChannelCLI, Actor: access.Actor{Kind: audit.ActorOperator, ID: "cli:ops", Name: "ops",
		LegalRequest: legal}}
}

// filled is a record with one of each kind of document: a report, a replaced one and its new
// version, a masked one, one held back for its announcement, an archived one, and one the
// patient deposited.
func filled(t *testing.T, in *instance, ins identity.INS) (pid int64, heldBack string) {
	t.Helper()
	ctx := context.Background()
	pid = in.Patient(t, ins)
	doc := recordtest.Doctor(recordtest.RPPS(t, 1))
	dep := func(r record.Request, d record.Deposit, seed int) record.Document {
		t.Helper()
		got, err := in.Records.Deposit(ctx, r, d, recordtest.PDF(2000+seed, seed))
		if err != nil {
			t.Fatal(err)
		}
		in.Clock.Advance(time.Minute)
		return got
	}
	dep(doc, recordtest.Report(ins, "Consultation du 3 mars"), 1)
	old := dep(doc, recordtest.Report(ins, "Bilan, première version"), 2)
	if _, err := in.Records.Replace(ctx, doc, old.LogicalID, recordtest.Report(ins, "Bilan, version corrigée"), recordtest.PDF(2100, 3)); err != nil {
		t.Fatal(err)
	}
	masked := recordtest.Report(ins, "Compte rendu masqué")
	masked.MasquePS = true
	dep(doc, masked, 4)
	held := recordtest.Report(ins, "Résultat à annoncer")
	held.InvisiblePatient = true
	heldBack = dep(doc, held, 5).LogicalID
	arch := dep(doc, recordtest.Report(ins, "Ancien compte rendu"), 6)
	if _, err := in.Records.Archive(ctx, recordtest.Holder(pid), arch.LogicalID); err != nil {
		t.Fatal(err)
	}
	mine := record.Deposit{INS: ins, Title: "Mon carnet de vaccination", Type: "DOCPAT01", MimeType: "application/pdf"}
	dep(recordtest.Holder(pid), mine, 7)
	return pid, heldBack
}

func export(t *testing.T, in *instance, r record.Request, pid int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := in.archive.Export(context.Background(), r, pid, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// comparable is what must survive an export and an import.
type comparable struct {
	UniqueID, LogicalID, Title, Type, Class, MimeType, SHA256, SHA1, Depositor string
	Status                                                                     record.Status
	Archived                                                                   bool
	Labels                                                                     record.Labels
	DepositedBy                                                                access.Depositor
	Authors                                                                    string
	Created, ServiceStart, Submitted                                           time.Time
	Size                                                                       int64
}

func comparables(t *testing.T, docs []record.Document) []comparable {
	t.Helper()
	out := make([]comparable, len(docs))
	for i, d := range docs {
		a, _ := json.Marshal(d.Authors)
		out[i] = comparable{d.UniqueID, d.LogicalID, d.Title, d.Type, d.Class, d.MimeType, d.SHA256, d.SHA1, d.Depositor,
			d.Status, d.Archived, d.Labels, d.DepositedBy, string(a), d.Created.UTC(), d.ServiceStart.UTC(), d.Submitted.UTC(), d.Size}
	}
	slices.SortFunc(out, func(a, b comparable) int { return strings.Compare(a.LogicalID, b.LogicalID) })
	return out
}

func everything(t *testing.T, in *instance, pid int64) []record.Document {
	t.Helper()
	x, err := in.Records.Export(context.Background(), operator("test"), pid)
	if err != nil {
		t.Fatal(err)
	}
	return x.Documents
}

func TestExportHoldsWhatTheHolderSees(t *testing.T) {
	in := newInstance(t)
	ins := recordtest.TestINS(t, 1)
	pid, heldBack := filled(t, in, ins)
	files := unzip(t, export(t, in, recordtest.Holder(pid), pid))

	for _, name := range []string{"index.html", "bundle.json", "record.json", "traces.json", "manifest.json"} {
		if len(files[name]) == 0 {
			t.Fatalf("the archive has no %s", name)
		}
	}
	var m archive.Manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	if m.Format != archive.Format || m.INS != ins.Matricule || m.Documents != 6 {
		t.Fatalf("manifest %+v: want 6 documents (7 deposited, one held back) of %s", m, ins.Matricule)
	}
	for _, f := range m.Files {
		sum := sha256.Sum256(files[f.Path])
		if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(files[f.Path])) != f.Size {
			t.Errorf("%s does not match the manifest", f.Path)
		}
	}
	if len(m.Files) != len(files)-1 {
		t.Errorf("manifest lists %d files, the archive holds %d besides it", len(m.Files), len(files)-1)
	}
	for name := range files {
		if strings.Contains(name, heldBack) {
			t.Errorf("the document held back for its announcement is in the holder's export: %s", name)
		}
	}
	for _, s := range [][]byte{files["bundle.json"], files["record.json"], files["index.html"], files["traces.json"]} {
		if bytes.Contains(s, []byte("Résultat à annoncer")) || bytes.Contains(s, []byte(heldBack)) {
			t.Fatal("the held-back document shows in the export")
		}
	}
	index := string(files["index.html"])
	for _, want := range []string{"Consultation du 3 mars", "Bilan, version corrigée", "remplacé par une nouvelle version", "archivé",
		"Mon carnet de vaccination", "Espace personnel", "DUPONT"} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html does not say %q", want)
		}
	}
	fhirtest.Validate(t, files["bundle.json"])

	// The export is in the trail, with what it took.
	traces := in.Traces(t, pid)
	if !slices.ContainsFunc(traces, func(s string) bool {
		return strings.HasPrefix(s, "space.export allowed self") && strings.Contains(s, "documents=6")
	}) {
		t.Fatalf("no trace of the export: %q", traces)
	}
}

func TestOperatorExportsOnlyOnALegalRequest(t *testing.T) {
	in := newInstance(t)
	ins := recordtest.TestINS(t, 2)
	pid, heldBack := filled(t, in, ins)
	var buf bytes.Buffer
	err := in.archive.Export(context.Background(), operator(""), pid, &buf)
	if !errs.Is(err, errs.Forbidden) || buf.Len() != 0 {
		t.Fatalf("export without a legal request: %v, %d bytes written", err, buf.Len())
	}
	files := unzip(t, export(t, in, operator("TJ Paris, réquisition 2026/0042"), pid))
	var m archive.Manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	if m.Documents != 7 {
		t.Fatalf("legal export: %d documents, want all 7", m.Documents)
	}
	if !bytes.Contains(files["record.json"], []byte(heldBack)) || !bytes.Contains(files["traces.json"], []byte(heldBack)) {
		t.Fatal("the legal export leaves out a document or its traces")
	}
	traces := in.Traces(t, pid)
	if !slices.ContainsFunc(traces, func(s string) bool {
		return strings.HasPrefix(s, "space.export denied legal_request_required")
	}) || !slices.ContainsFunc(traces, func(s string) bool {
		return strings.HasPrefix(s, "space.export allowed legal_request") && strings.Contains(s, "réquisition 2026/0042")
	}) {
		t.Fatalf("the refused and the allowed export are not both traced: %q", traces)
	}
	// A professional exports nothing, even of a record they fed.
	_, err = in.Records.Export(context.Background(), recordtest.Doctor(recordtest.RPPS(t, 1)), pid)
	if !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a professional's export: %v", err)
	}
}

func TestExportReimportedEqualsTheOriginal(t *testing.T) {
	ctx := context.Background()
	a := newInstance(t)
	ins := recordtest.TestINS(t, 3)
	pidA, _ := filled(t, a, ins)
	zipped := export(t, a, operator("TJ Lyon 2026/7"), pidA)

	b := newInstance(t)
	pidB := b.Patient(t, ins)
	rep, err := b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(zipped), int64(len(zipped)), archive.DefaultLimits(20<<20))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 7 || rep.Present != 0 || rep.Format != archive.Format {
		t.Fatalf("import: %+v, want 7 imported", rep)
	}
	want, got := comparables(t, everything(t, a, pidA)), comparables(t, everything(t, b, pidB))
	if !slices.Equal(want, got) {
		t.Fatalf("re-imported record differs:\n got %+v\nwant %+v", got, want)
	}
	// Bytes too: every document reads back the same.
	for _, d := range everything(t, b, pidB) {
		x, err := b.Records.Export(ctx, operator("check"), pidB)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(x.Documents, func(o record.Document) bool { return o.LogicalID == d.LogicalID })
		rc, err := x.Open(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", d.Title, err)
		}
		if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != d.SHA256 {
			t.Fatalf("%s: bytes differ", d.Title)
		}
	}
	// Again: nothing twice.
	rep, err = b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(zipped), int64(len(zipped)), archive.DefaultLimits(20<<20))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 0 || rep.Present != 7 {
		t.Fatalf("second import: %+v, want all 7 present", rep)
	}
	if n := len(everything(t, b, pidB)); n != 7 {
		t.Fatalf("%d documents after two imports, want 7", n)
	}
	// Each imported document is in the trail.
	if n := importTraces(t, b, pidB, "document/"); n != 7 {
		t.Fatalf("%d documents traced as imported, want 7", n)
	}
	// The holder's own import brings back what they deposited, and leaves what professionals
	// did: nothing vouches for what a file says of who deposited it.
	c := newInstance(t)
	pidC := c.Patient(t, ins)
	rep, err = c.archive.Import(ctx, recordtest.Holder(pidC), pidC, bytes.NewReader(zipped), int64(len(zipped)), archive.DefaultLimits(20<<20))
	if err != nil || rep.Imported != 1 || rep.Left != 6 {
		t.Fatalf("the holder's import: %+v %v", rep, err)
	}
	if docs := everything(t, c, pidC); len(docs) != 1 || docs[0].DepositedBy != access.DepositedByPatient {
		t.Fatalf("the holder's import filed %+v", docs)
	}
}

// importTraces counts the operator's allowed import traces of objects named prefix… in the
// patient's trail.
func importTraces(t *testing.T, in *instance, pid int64, prefix string) int {
	t.Helper()
	n := 0
	for _, s := range in.Traces(t, pid) {
		if strings.HasPrefix(s, "space.import allowed operator") && strings.Contains(s, " "+prefix) {
			n++
		}
	}
	return n
}

func TestImportRefusesWhatIsNotThisPatientsOrIsDamaged(t *testing.T) {
	ctx := context.Background()
	a := newInstance(t)
	pidA, _ := filled(t, a, recordtest.TestINS(t, 4))
	zipped := export(t, a, recordtest.Holder(pidA), pidA)
	b := newInstance(t)
	other := b.Patient(t, recordtest.TestINS(t, 5))
	lim := archive.DefaultLimits(20 << 20)
	if _, err := b.archive.Import(ctx, operator(""), other, bytes.NewReader(zipped), int64(len(zipped)), lim); !errs.Is(err, errs.Invalid) {
		t.Fatalf("import of another person's archive: %v", err)
	}
	// A document's bytes changed inside the archive.
	pidB := b.Patient(t, recordtest.TestINS(t, 4))
	files := unzip(t, zipped)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		if strings.HasPrefix(name, "documents/") {
			body = append([]byte(nil), body...)
			body[20] ^= 1
		}
		w, _ := zw.Create(name)
		w.Write(body)
	}
	zw.Close()
	if _, err := b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(buf.Bytes()), int64(buf.Len()), lim); !errs.Is(err, errs.Invalid) {
		t.Fatalf("import of a damaged archive: %v", err)
	}
	if n := len(everything(t, b, pidB)); n != 0 {
		t.Fatalf("%d documents imported from a damaged archive", n)
	}
	// Not a zip at all; a zip of too many files.
	if _, err := b.archive.Import(ctx, operator(""), pidB, strings.NewReader("hello"), 5, lim); !errs.Is(err, errs.Invalid) {
		t.Fatalf("import of a text file: %v", err)
	}
	small := lim
	small.MaxFiles = 3
	if _, err := b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(zipped), int64(len(zipped)), small); !errs.Is(err, errs.Invalid) {
		t.Fatalf("import over the file limit: %v", err)
	}
	// A professional imports nothing.
	if _, err := b.archive.Import(ctx, recordtest.Doctor(recordtest.RPPS(t, 1)), pidB, bytes.NewReader(zipped), int64(len(zipped)), lim); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a professional's import: %v", err)
	}
	// An archive of the first layout is read; one of a layout to come is refused whole.
	withVersion := func(v int) []byte {
		var m map[string]any
		if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
			t.Fatal(err)
		}
		m["version"] = v
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, body := range files {
			if name == "manifest.json" {
				body, _ = json.Marshal(m)
			}
			w, _ := zw.Create(name)
			w.Write(body)
		}
		zw.Close()
		return buf.Bytes()
	}
	if v3 := withVersion(archive.Version + 1); !errs.Is(func() error {
		_, err := b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(v3), int64(len(v3)), lim)
		return err
	}(), errs.Invalid) {
		t.Fatal("an archive of a later layout was not refused")
	}
	if n := len(everything(t, b, pidB)); n != 0 {
		t.Fatalf("%d documents imported from an archive of a later layout", n)
	}
	// A small file of many empty entries is refused for their count, before they are held.
	var bloated bytes.Buffer
	zw = zip.NewWriter(&bloated)
	for name, body := range files {
		if name == "manifest.json" {
			body = []byte(`{"format":"carnet-export","version":2,"files":[` + strings.Repeat(`{},`, 200_000) + `{}]}`)
		}
		w, _ := zw.Create(name)
		w.Write(body)
	}
	zw.Close()
	if _, err := b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(bloated.Bytes()), int64(bloated.Len()), lim); !errs.Is(err, errs.Invalid) ||
		!strings.Contains(err.Error(), "lists more than") {
		t.Fatalf("a manifest of 200,000 empty entries: %v", err)
	}
	v1 := withVersion(1)
	if rep, err := b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(v1), int64(len(v1)), lim); err != nil || rep.Imported != 6 { // the holder's: without the one held back
		t.Fatalf("import of a version 1 archive: %+v %v", rep, err)
	}
}

// The agenda goes with the space: exported in agenda.json, filed again by an import.
func TestAgendaTravelsWithTheSpace(t *testing.T) {
	ctx := context.Background()
	a := newInstance(t)
	ins := recordtest.TestINS(t, 50)
	pid := a.Patient(t, ins)
	ag, err := agenda.NewService(agenda.Deps{Store: a.DB.Agenda(), Access: a.Access, Clock: a.Clock})
	if err != nil {
		t.Fatal(err)
	}
	ar := agenda.Request{Actor: operator("").Actor, Channel: audit.ChannelCLI}
	events := []agenda.Event{
		{Kind: agenda.KindReimbursement, Start: recordtest.T0.Add(-72 * time.Hour), Title: "Remboursement : consultation", Detail: "Payé 30,00 €", SourceRef: "ACT-1"},
		{Kind: agenda.KindReimbursement, Start: recordtest.T0.Add(-48 * time.Hour), Title: "Remboursement : pharmacie", SourceRef: "ACT-2"},
	}
	if _, err := ag.Add(ctx, ar, pid, agenda.Batch{Source: agenda.SourceReimbursement, Class: "60", Type: "REMB", Events: events}); err != nil {
		t.Fatal(err)
	}
	zipped := export(t, a, operator("TJ Lille 2026/9"), pid)
	files := unzip(t, zipped)
	if !bytes.Contains(files["agenda.json"], []byte("ACT-2")) || !strings.Contains(string(files["index.html"]), "Remboursement : consultation") {
		t.Fatalf("agenda.json / index.html: %s", files["agenda.json"])
	}
	b := newInstance(t)
	pidB := b.Patient(t, ins)
	lim := archive.DefaultLimits(20 << 20)
	rep, err := b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(zipped), int64(len(zipped)), lim)
	if err != nil || rep.EventsImported != 2 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	rep, err = b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(zipped), int64(len(zipped)), lim)
	if err != nil || rep.EventsImported != 0 || rep.EventsPresent != 2 {
		t.Fatalf("second import: %+v %v", rep, err)
	}
	agB, _ := agenda.NewService(agenda.Deps{Store: b.DB.Agenda(), Access: b.Access, Clock: b.Clock})
	got, err := agB.List(ctx, agenda.Request{Actor: recordtest.Holder(pidB).Actor, Channel: audit.ChannelWeb}, pidB, time.Time{}, time.Time{})
	if err != nil || len(got) != 2 || got[0].Title != "Remboursement : consultation" || got[1].SourceRef != "ACT-2" {
		t.Fatalf("agenda after the import: %+v %v", got, err)
	}
	// A patient importing their own archive cannot file the insurer's events: refused and said.
	c := newInstance(t)
	pidC := c.Patient(t, ins)
	rep, err = c.archive.Import(ctx, recordtest.Holder(pidC), pidC, bytes.NewReader(zipped), int64(len(zipped)), lim)
	if err != nil || rep.EventsRefused != 2 || rep.EventsImported != 0 {
		t.Fatalf("a patient's import of the insurer's events: %+v %v", rep, err)
	}
}

// jsonOf is v as JSON, to compare values holding pointers.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
