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
	"github.com/carnet-sante/carnet/internal/emergency"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
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

// The medical profile goes with the space: its items in profile.json, as the profile keeps
// them, and in the index page, read through the profile's own decision and traced.
func TestProfileTravelsWithTheExport(t *testing.T) {
	in := newInstance(t)
	ctx := context.Background()
	pid := in.Patient(t, recordtest.TestINS(t, 1))
	medical, err := profile.NewService(profile.Deps{Store: in.DB.Profile(), Access: in.Access, Catalog: in.Catalog, Clock: in.Clock})
	if err != nil {
		t.Fatal(err)
	}
	holder := recordtest.Holder(pid)
	pr := profile.Request{Actor: holder.Actor, Channel: holder.Channel}
	allergy, err := medical.Add(ctx, pr, pid, profile.Item{Section: profile.SectionAllergies,
		Allergy: &profile.Allergy{Text: "Pénicilline", Type: "allergy", Status: "active"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := medical.Add(ctx, pr, pid, profile.Item{Section: profile.SectionBloodGroup,
		BloodGroup: &profile.BloodGroup{ABO: "AB", Rh: "-"}}); err != nil {
		t.Fatal(err)
	}
	directives, err := medical.Add(ctx, pr, pid, profile.Item{Section: profile.SectionWishes,
		Wish: &profile.Wish{Kind: profile.WishAdvanceDirectives, Text: "Pas de réanimation prolongée.", Date: "2025-06"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := medical.Add(ctx, pr, pid, profile.Item{Section: profile.SectionWishes,
		Wish: &profile.Wish{Kind: profile.WishOrganDonation, Consent: "no"}}); err != nil {
		t.Fatal(err)
	}
	cards, err := emergency.NewService(in.DB.Emergency(), in.Access, medical, in.Clock)
	if err != nil {
		t.Fatal(err)
	}
	token, err := cards.TurnOn(ctx, holder.Actor, holder.Channel, pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := cards.Save(ctx, holder.Actor, holder.Channel, pid, []profile.Section{profile.SectionAllergies, profile.SectionBloodGroup},
		map[string]emergency.Choice{allergy.ID: emergency.Hide}); err != nil {
		t.Fatal(err)
	}
	files := unzip(t, export(t, in, holder, pid))
	var card struct {
		On       bool
		Sections []profile.Section
		Choices  map[string]emergency.Choice
	}
	if err := json.Unmarshal(files["emergency.json"], &card); err != nil || !card.On || len(card.Sections) != 2 ||
		card.Choices[allergy.ID] != emergency.Hide || bytes.Contains(files["emergency.json"], []byte(token)) {
		t.Fatalf("emergency.json: %s %v", files["emergency.json"], err)
	}
	if _, ok := unzip(t, export(t, in, operator("TJ Caen 2026/1"), pid))["emergency.json"]; ok {
		t.Fatal("the operator's export holds the emergency card, which is the patient's alone")
	}
	var items []profile.Item
	if err := json.Unmarshal(files["profile.json"], &items); err != nil {
		t.Fatalf("profile.json: %v\n%s", err, files["profile.json"])
	}
	if len(items) != 4 || !slices.ContainsFunc(items, func(it profile.Item) bool {
		return it.ID == allergy.ID && it.Allergy != nil && it.Allergy.Text == "Pénicilline" && it.PatientID == 0
	}) {
		t.Fatalf("profile.json: %+v", items)
	}
	index := string(files["index.html"])
	for _, want := range []string{"Profil médical", "Allergies", "Pénicilline", "AB -", "Carte d'urgence : activée, elle montre : allergies et intolérances, groupe sanguin."} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html does not say %q", want)
		}
	}
	// And in the FHIR Bundle, as the profile's own resources, valid.
	for _, want := range []string{`"resourceType": "AllergyIntolerance"`, `"fullUrl": "AllergyIntolerance/` + allergy.ID + `"`, `"resourceType": "Observation"`,
		`"fullUrl": "Consent/` + directives.ID + `"`, `"code": "42348-3"`, `"type": "deny"`} {
		if !bytes.Contains(files["bundle.json"], []byte(want)) {
			t.Errorf("bundle.json does not hold %s", want)
		}
	}
	fhirtest.Validate(t, files["bundle.json"])
	var m archive.Manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil || !slices.ContainsFunc(m.Files, func(f archive.File) bool { return f.Path == "profile.json" }) {
		t.Fatalf("manifest: %+v %v", m.Files, err)
	}
	// The profile's read is traced as the profile traces it.
	if traces := in.Traces(t, pid); !slices.ContainsFunc(traces, func(s string) bool {
		return strings.HasPrefix(s, "record.search allowed self") && strings.Contains(s, "profile shown=4 ") && strings.Contains(s, allergy.ID)
	}) {
		t.Fatalf("no trace of the profile's read: %q", traces)
	}
}

// profileOf reads a patient's whole profile as the operator on a legal request does, in a
// form two instances can compare: what each item is and was, without this instance's keys.
func profileOf(t *testing.T, in *instance, medical *profile.Service, pid int64) []profile.Item {
	t.Helper()
	op := operator("check")
	page, err := medical.List(context.Background(), profile.Request{Actor: op.Actor, Channel: op.Channel},
		profile.Query{PatientID: pid, Limit: profile.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for i := range page.Items {
		it := &page.Items[i]
		it.VersionID, it.PatientID = "", 0
		for _, tm := range []*time.Time{&it.Written, &it.Changed, &it.Created, &it.At} {
			*tm = tm.UTC()
		}
		if it.Measurement != nil {
			it.Measurement.Taken = it.Measurement.Taken.UTC()
		}
	}
	slices.SortFunc(page.Items, func(a, b profile.Item) int { return strings.Compare(a.ID, b.ID) })
	return page.Items
}

func profileService(t *testing.T, in *instance) *profile.Service {
	t.Helper()
	medical, err := profile.NewService(profile.Deps{Store: in.DB.Profile(), Access: in.Access, Catalog: in.Catalog, Clock: in.Clock})
	if err != nil {
		t.Fatal(err)
	}
	return medical
}

// A profile re-imported into a fresh instance is the original: each item's id, version,
// author, dates, category and content, hidden or not; a second import files nothing; a space
// that already has its blood group keeps its own.
func TestProfileReimportedEqualsTheOriginal(t *testing.T) {
	ctx := context.Background()
	a := newInstance(t)
	ins := recordtest.TestINS(t, 21)
	pidA := a.Patient(t, ins)
	medA := profileService(t, a)
	holder := recordtest.Holder(pidA)
	hr := profile.Request{Actor: holder.Actor, Channel: holder.Channel}
	doc := recordtest.Doctor(recordtest.RPPS(t, 4))
	add := func(r profile.Request, it profile.Item) profile.Item {
		t.Helper()
		got, err := medA.Add(ctx, r, pidA, it)
		if err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(time.Hour)
		return got
	}
	allergy := add(hr, profile.Item{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Pénicilline", Type: "allergy", Status: "active"}})
	if _, err := medA.Update(ctx, hr, allergy.ID, profile.Item{Section: profile.SectionAllergies,
		Allergy: &profile.Allergy{Text: "Pénicilline G", Type: "allergy", Status: "active", Criticality: "high"}}, 1); err != nil {
		t.Fatal(err)
	}
	add(profile.Request{Actor: doc.Actor, Channel: doc.Channel}, profile.Item{Section: profile.SectionHistory,
		Condition: &profile.Condition{Text: "Asthme", Status: "active", Onset: "2009"}})
	hidden := add(hr, profile.Item{Section: profile.SectionTreatments, Treatment: &profile.Treatment{Text: "Ventoline", Status: "active"}})
	if _, err := medA.Hide(ctx, hr, hidden.ID); err != nil {
		t.Fatal(err)
	}
	add(hr, profile.Item{Section: profile.SectionMeasurements, Measurement: &profile.Measurement{Code: "29463-7", Value: 150, Unit: "[lb_av]",
		Taken: a.Clock.Now().Add(-48 * time.Hour)}})
	add(hr, profile.Item{Section: profile.SectionBloodGroup, BloodGroup: &profile.BloodGroup{ABO: "O", Rh: "+"}})
	add(hr, profile.Item{Section: profile.SectionWishes, Wish: &profile.Wish{Kind: profile.WishAdvanceDirectives, Text: "Pas d'acharnement", Date: "2025-02-01"}})
	want := profileOf(t, a, medA, pidA)
	if len(want) != 6 {
		t.Fatalf("the original profile holds %d items, want 6", len(want))
	}
	zipped := export(t, a, holder, pidA)

	b := newInstance(t)
	b.Clock.Advance(a.Clock.Now().Sub(b.Clock.Now())) // later than what it imports
	pidB := b.Patient(t, ins)
	medB := profileService(t, b)
	lim := archive.DefaultLimits(20 << 20)
	rep, err := b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(zipped), int64(len(zipped)), lim)
	if err != nil || rep.ProfileImported != 6 || rep.ProfilePresent != 0 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	got := profileOf(t, b, medB, pidB)
	if wj, gj := jsonOf(t, want), jsonOf(t, got); wj != gj {
		t.Fatalf("re-imported profile differs:\n got %s\nwant %s", gj, wj)
	}
	rep, err = b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(zipped), int64(len(zipped)), lim)
	if err != nil || rep.ProfileImported != 0 || rep.ProfilePresent != 6 {
		t.Fatalf("second import: %+v %v", rep, err)
	}
	if n := importTraces(t, b, pidB, "profile/"); n != 6 {
		t.Fatalf("%d profile items traced as imported, want 6", n)
	}
	if i := slices.IndexFunc(got, func(it profile.Item) bool { return it.ID == hidden.ID }); i < 0 || !got[i].Hidden {
		t.Fatal("the item hidden from professionals is not hidden after the import")
	}

	// A space that has its own blood group keeps it.
	c := newInstance(t)
	c.Clock.Advance(a.Clock.Now().Sub(c.Clock.Now()))
	pidC := c.Patient(t, ins)
	medC := profileService(t, c)
	own, err := medC.Add(ctx, profile.Request{Actor: recordtest.Holder(pidC).Actor, Channel: audit.ChannelWeb}, pidC,
		profile.Item{Section: profile.SectionBloodGroup, BloodGroup: &profile.BloodGroup{ABO: "A", Rh: "-"}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = c.archive.Import(ctx, recordtest.Holder(pidC), pidC, bytes.NewReader(zipped), int64(len(zipped)), lim)
	// The patient's own import: the doctor's item is left out (nothing vouches for a file's
	// author), the blood group too (the space has its own).
	if err != nil || rep.ProfileImported != 4 || rep.ProfileKept != 1 || rep.ProfileLeft != 1 {
		t.Fatalf("import into a space with its blood group: %+v %v", rep, err)
	}
	groups, err := medC.List(ctx, profile.Request{Actor: recordtest.Holder(pidC).Actor, Channel: audit.ChannelWeb},
		profile.Query{PatientID: pidC, Sections: []profile.Section{profile.SectionBloodGroup}})
	if err != nil || len(groups.Items) != 1 || groups.Items[0].ID != own.ID {
		t.Fatalf("blood groups after the import: %+v %v", groups.Items, err)
	}
}

// An archive whose profile names another space's item is refused, and files none of its
// items.
func TestProfileImportRefusesAnotherSpacesItem(t *testing.T) {
	ctx := context.Background()
	in := newInstance(t)
	med := profileService(t, in)
	other := in.Patient(t, recordtest.TestINS(t, 31))
	theirs, err := med.Add(ctx, profile.Request{Actor: recordtest.Holder(other).Actor, Channel: audit.ChannelWeb}, other,
		profile.Item{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Arachide", Status: "active"}})
	if err != nil {
		t.Fatal(err)
	}
	pid := in.Patient(t, recordtest.TestINS(t, 32))
	author := profile.Author{Kind: audit.ActorPatient, ID: "account-x"}
	at := in.Clock.Now().Add(-time.Hour)
	items := []profile.Item{
		{Section: profile.SectionHistory, Condition: &profile.Condition{Text: "Migraine", Status: "active"}, Author: author,
			Written: at, Changed: at, Created: at, ID: "6f1c1a52-3b0e-4d55-9a63-0d7b1c1e2f10"},
		{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Arachide", Status: "active"}, Author: author,
			Written: at, Changed: at, Created: at, ID: theirs.ID},
	}
	hr := profile.Request{Actor: recordtest.Holder(pid).Actor, Channel: audit.ChannelWeb}
	_, err = med.Import(ctx, hr, pid, items)
	if !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "profile item 2") {
		t.Fatalf("import of another space's item: %v, want a Conflict naming item 2", err)
	}
	// Another space's identifier too.
	if _, err := med.Push(ctx, profile.Request{Actor: recordtest.Holder(other).Actor, Channel: audit.ChannelWeb}, other,
		profile.Device{Identifier: "urn:oid:1.2.3|scale-1", Name: "Balance"}, []profile.Item{{Section: profile.SectionMeasurements,
			Identifier: "urn:oid:1.2.3|w-1", Measurement: &profile.Measurement{Code: "29463-7", Value: 70, Unit: "kg", Taken: at}}}); err != nil {
		t.Fatal(err)
	}
	items[1] = profile.Item{Section: profile.SectionMeasurements, Identifier: "urn:oid:1.2.3|w-1", Author: author, Written: at, Changed: at,
		Created: at, Measurement: &profile.Measurement{Code: "29463-7", Value: 71, Unit: "kg", Taken: at}}
	if _, err = med.Import(ctx, hr, pid, items); !errs.Is(err, errs.Conflict) {
		t.Fatalf("import of another space's identifier: %v, want a Conflict", err)
	}
	if got := profileOf(t, in, med, pid); len(got) != 0 {
		t.Fatalf("%d items filed by a refused import", len(got))
	}
	// Bad content is refused before anything is decided: no trace.
	before := len(in.Traces(t, pid))
	doctor := profile.Author{Kind: audit.ActorProfessional, ID: recordtest.RPPS(t, 2)}
	for name, bad := range map[string]profile.Item{
		"no content": {Section: profile.SectionAllergies, Allergy: &profile.Allergy{}, Author: author, Written: at, Changed: at, Created: at},
		"an unknown author": {Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Lait", Status: "active"},
			Author: profile.Author{Kind: "nobody", ID: "x"}, Written: at, Changed: at, Created: at},
		"a professional's wish": {Section: profile.SectionWishes, Wish: &profile.Wish{Kind: profile.WishOther, Text: "Rien"}, Author: doctor,
			Written: at, Changed: at, Created: at},
		"no dates":       {Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Lait", Status: "active"}, Author: author},
		"a deleted item": {Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Lait", Status: "active"}, Author: author, Written: at, Changed: at, Created: at, Status: profile.Deleted},
	} {
		if _, err := med.Import(ctx, hr, pid, []profile.Item{items[0], bad}); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
	if n := len(in.Traces(t, pid)); n != before {
		t.Fatalf("refused items left %d trace(s)", n-before)
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

// withMailbox is an instance whose exports carry the patient's mailbox: the messaging runs
// on the instance's store (SMTP listeners on loopback), the archive reads it through the
// portal.
func withMailbox(t *testing.T) (*instance, *mailtest.Env, *mail.Portal) {
	t.Helper()
	e := recordtest.New(t)
	mx := mailtest.New(t, mailtest.Options{Store: func(testing.TB) *store.DB { return e.DB }})
	box, err := mail.NewPortal(mx.Mail, e.DB.MailPortal(mx.Queue), e.Access, e.Records)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := archivetest.New(t, e, func(d *archive.Deps) { d.Mail = box })
	return &instance{Env: e, archive: a}, mx, box
}

// The mailbox goes with the space: each message's bytes as received, attachments included,
// in mail/, listed in mail.json and the index page, in the manifest; read through the
// mailbox's own decision and traced.
func TestMailboxTravelsWithTheExport(t *testing.T) {
	ctx := context.Background()
	in, mx, box := withMailbox(t)
	pid, addr := mx.Patient(t, 1)
	pro := mx.Professional(t, 1, "paul.martin", "MARTIN", "Paul")
	raw := "From: Dr Paul Martin <" + pro.Address + ">\r\nTo: " + addr + "\r\nSubject: Vos résultats\r\nMessage-ID: <res.1@carnet.example>\r\n" +
		"Date: " + mailtest.T0.Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Vos résultats sont normaux.\r\n"
	mx.Submit(t, pro, addr, raw)
	holder := recordtest.Holder(pid)
	inbox, err := box.Inbox(ctx, holder.Actor, holder.Channel, pid)
	if err != nil || len(inbox.Messages) != 1 {
		t.Fatalf("inbox: %+v %v", inbox, err)
	}
	if _, err := box.Thread(ctx, holder.Actor, holder.Channel, inbox.Messages[0].ID); err != nil { // read: \Seen
		t.Fatal(err)
	}
	if _, err := box.Reply(ctx, holder.Actor, holder.Channel, inbox.Messages[0].ID, "Merci docteur.", nil); err != nil {
		t.Fatal(err)
	}
	mx.Submit(t, pro, addr, strings.Replace(strings.Replace(raw, "res.1@", "res.2@", 1), "Vos résultats", "Rendez-vous", 1))

	zipped := export(t, in, holder, pid)
	files := unzip(t, zipped)
	var msgs []struct {
		Path, Folder, Subject, Correspondent string
		Incoming, Seen                       bool
		MessageID                            string `json:"message_id"`
	}
	if err := json.Unmarshal(files["mail.json"], &msgs); err != nil {
		t.Fatalf("mail.json: %v\n%s", err, files["mail.json"])
	}
	if len(msgs) != 3 || msgs[0].Folder != "INBOX" || !msgs[0].Incoming || !msgs[0].Seen || msgs[2].Seen || msgs[0].Subject != "Vos résultats" ||
		msgs[0].MessageID != "res.1@carnet.example" || msgs[1].Folder != "Sent" || msgs[1].Incoming || msgs[2].Subject != "Rendez-vous" {
		t.Fatalf("mail.json: %s", files["mail.json"])
	}
	if got := string(files[msgs[0].Path]); !strings.Contains(got, "Vos résultats sont normaux.") || !strings.Contains(got, "Message-ID: <res.1@carnet.example>") {
		t.Fatalf("%s is not the message received:\n%s", msgs[0].Path, got)
	}
	if got := string(files[msgs[1].Path]); !strings.Contains(got, "Merci docteur.") || !strings.Contains(got, pro.Address) {
		t.Fatalf("%s is not the reply sent:\n%s", msgs[1].Path, got)
	}
	index := string(files["index.html"])
	for _, want := range []string{"Messagerie de santé", "Vos résultats", `href="` + msgs[0].Path + `"`, "envoyé"} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html does not say %q", want)
		}
	}
	var m archive.Manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mail.json", msgs[0].Path, msgs[1].Path} {
		i := slices.IndexFunc(m.Files, func(f archive.File) bool { return f.Path == want })
		if i < 0 {
			t.Fatalf("%s is not in the manifest", want)
		}
		if sum := sha256.Sum256(files[want]); hex.EncodeToString(sum[:]) != m.Files[i].SHA256 {
			t.Fatalf("%s does not match the manifest", want)
		}
	}
	if traces := in.Traces(t, pid); !slices.ContainsFunc(traces, func(s string) bool {
		return strings.HasPrefix(s, "mail.read allowed self") && strings.HasSuffix(s, " mailbox")
	}) {
		t.Fatalf("no trace of the mailbox's read: %q", traces)
	}

	// An operator on a legal request takes the mailbox with the rest.
	files = unzip(t, export(t, in, operator("TJ Nantes 2026/3"), pid))
	if !bytes.Contains(files["mail.json"], []byte("Vos résultats")) {
		t.Fatalf("the legal request's export has no mail: %s", files["mail.json"])
	}
	if traces := in.Traces(t, pid); !slices.Contains(traces, "space.export allowed legal_request matrix=default-v1 mailbox legal_request=TJ Nantes 2026/3") {
		t.Fatalf("the legal request's reading of the mailbox does not name it: %q", traces)
	}
	// Imported into a fresh instance, the mailbox is the original: each message's folder,
	// date, read state and bytes; a second import files nothing.
	b, mxB, boxB := withMailbox(t)
	pidB, _ := mxB.Patient(t, 1)
	lim := archive.DefaultLimits(20 << 20)
	rep, err := b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(zipped), int64(len(zipped)), lim)
	if err != nil || rep.MailImported != 3 || rep.MailPresent != 0 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	again := unzip(t, export(t, b, recordtest.Holder(pidB), pidB))
	// The correspondent's name is the directory's where they have a mailbox here, the
	// message's own elsewhere: everything else must be the same.
	listed := func(raw []byte) string {
		var l []map[string]any
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatal(err)
		}
		for _, m := range l {
			delete(m, "correspondent")
		}
		return jsonOf(t, l)
	}
	if got, want := listed(again["mail.json"]), listed(files["mail.json"]); got != want {
		t.Fatalf("mail.json after the import:\n%s\nwant\n%s", got, want)
	}
	for _, m := range msgs {
		if !bytes.Equal(again[m.Path], files[m.Path]) {
			t.Fatalf("%s differs after the import", m.Path)
		}
	}
	// In the portal, an imported message is named as it names its sender, and said imported.
	inboxB, err := boxB.Inbox(ctx, recordtest.Holder(pidB).Actor, audit.ChannelWeb, pidB)
	if err != nil || len(inboxB.Messages) != 3 || !inboxB.Messages[0].Imported ||
		inboxB.Messages[2].Correspondent != "Dr Paul Martin (message importé)" {
		t.Fatalf("the inbox after the import: %+v %v", inboxB, err)
	}
	rep, err = b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(zipped), int64(len(zipped)), lim)
	if err != nil || rep.MailImported != 0 || rep.MailPresent != 3 {
		t.Fatalf("second import: %+v %v", rep, err)
	}
	if n := importTraces(t, b, pidB, "message/"); n != 3 {
		t.Fatalf("%d messages traced as imported, want 3", n)
	}

	// The FHIR Bundle alone ($everything as JSON) neither reads nor traces the mailbox.
	before := len(in.Traces(t, pid))
	if _, err := in.archive.Bundle(ctx, holder, pid); err != nil {
		t.Fatal(err)
	}
	for _, s := range in.Traces(t, pid)[before:] {
		if strings.HasSuffix(s, " mailbox") {
			t.Fatalf("the Bundle read the mailbox: %q", s)
		}
	}
}

// Messages that are not a patient mailbox's are refused before anything is decided or
// stored, and the batch files none of its messages.
func TestMailImportRefusesWhatIsNotAMailbox(t *testing.T) {
	ctx := context.Background()
	in, mx, box := withMailbox(t)
	pid, addr := mx.Patient(t, 2)
	holder := recordtest.Holder(pid)
	good := mail.ImportedMessage{Folder: "INBOX", At: mailtest.T0, Data: []byte("From: a@b.example\r\nTo: " + addr + "\r\nSubject: x\r\n\r\nbody\r\n")}
	before := len(in.Traces(t, pid))
	for name, bad := range map[string]mail.ImportedMessage{
		"a folder a patient has not": {Folder: "Trash", At: mailtest.T0, Data: good.Data},
		"sent, but not by them":      {Folder: "Sent", At: mailtest.T0, Data: good.Data},
		"no date":                    {Folder: "INBOX", Data: good.Data},
		"empty":                      {Folder: "INBOX", At: mailtest.T0},
		"an unreadable header":       {Folder: "INBOX", At: mailtest.T0, Data: []byte("not a header at all\r\n\r\nbody")},
	} {
		_, err := box.Import(ctx, holder.Actor, holder.Channel, pid, []mail.ImportedMessage{good, bad})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "message 2") {
			t.Errorf("%s: %v, want Invalid naming message 2", name, err)
		}
	}
	if n := len(in.Traces(t, pid)); n != before {
		t.Fatalf("messages refused for what they are left %d trace(s)", n-before)
	}
	inbox, err := box.Inbox(ctx, holder.Actor, holder.Channel, pid)
	if err != nil || len(inbox.Messages) != 0 {
		t.Fatalf("a refused import filed %d message(s): %v", len(inbox.Messages), err)
	}
	// A mailbox's quota holds for what is imported too: all or none.
	big := func(fill string) mail.ImportedMessage {
		return mail.ImportedMessage{Folder: "INBOX", At: mailtest.T0, Data: append(append([]byte{}, good.Data...), bytes.Repeat([]byte(fill), 3<<20)...)}
	}
	cfg := mx.Mail.Config()
	cfg.QuotaBytes = 5 << 20
	limited, err := mail.NewService(mail.Deps{Store: in.DB.Mail(nil), Blobs: mx.Blobs, Clock: mx.Clock, Key: bytes.Repeat([]byte{7}, 32),
		Password: mailtest.CheapParams, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	small, err := mail.NewPortal(limited, in.DB.MailPortal(mx.Queue), in.Access, in.Records)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Import(ctx, holder.Actor, holder.Channel, pid, []mail.ImportedMessage{good, big("x"), big("y")}); err == nil ||
		!strings.Contains(err.Error(), "quota") {
		t.Fatalf("an import over the quota: %v", err)
	}
	if traces := in.Traces(t, pid); !strings.HasPrefix(traces[len(traces)-1], "space.import denied") {
		t.Fatalf("the failed import is not traced as such: %q", traces[len(traces)-1])
	}
	if inbox, _ := box.Inbox(ctx, holder.Actor, holder.Channel, pid); len(inbox.Messages) != 0 {
		t.Fatalf("an import over the quota filed %d message(s)", len(inbox.Messages))
	}
	// A message the patient received in Bcc names them nowhere: it comes back all the same,
	// said imported.
	bcc := mail.ImportedMessage{Folder: "INBOX", At: mailtest.T0, Data: []byte("From: Dr Jeanne Durand <jeanne@carnet.example>\r\n" +
		"To: undisclosed-recipients:;\r\nSubject: Rappel vaccin\r\n\r\nbody\r\n")}
	if r, err := box.Import(ctx, holder.Actor, holder.Channel, pid, []mail.ImportedMessage{bcc}); err != nil || r.Imported != 1 {
		t.Fatalf("a message received in Bcc: %+v %v", r, err)
	}
	if inbox, _ := box.Inbox(ctx, holder.Actor, holder.Channel, pid); len(inbox.Messages) != 1 ||
		inbox.Messages[0].Correspondent != "Dr Jeanne Durand (message importé)" {
		t.Fatalf("inbox: %+v", inbox.Messages)
	}
	// A professional imports nothing into a patient's mailbox.
	doc := recordtest.Doctor(recordtest.RPPS(t, 3))
	if _, err := box.Import(ctx, doc.Actor, doc.Channel, pid, []mail.ImportedMessage{good}); access.RefusalOf(err) == "" && !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a professional's import: %v, want a refusal", err)
	}
}

// The access settings go with the space. An import brings back what restricts access
// (blocks, refusals, oppositions) whoever imports; what gives access only when the patient
// imports, since only they give access to their record; each once, so that nothing the
// patient changed since comes back. What the space already has wins.
func TestAccessSettingsTravelWithTheSpace(t *testing.T) {
	ctx := context.Background()
	a := newInstance(t)
	ins := recordtest.TestINS(t, 41)
	pid := a.Patient(t, ins)
	holder := recordtest.Holder(pid)
	act, ch := holder.Actor, holder.Channel
	blocked, traitant, member, authorised := recordtest.RPPS(t, 5), recordtest.RPPS(t, 6), recordtest.RPPS(t, 7), recordtest.RPPS(t, 8)
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(time.Hour)
	}
	step(a.Access.Block(ctx, act, ch, pid, blocked))
	step(a.Access.DesignateMedecinTraitant(ctx, act, ch, pid, traitant))
	step(a.Access.AddToCareTeam(ctx, act, ch, pid, member, access.CareDesignated))
	_, err := a.Access.GrantAuthorisation(ctx, act, ch, pid, authorised, 0)
	step(err)
	step(a.Access.SetOppositions(ctx, act, ch, pid, true, false))
	settingsOf := func(in *instance, pid int64) access.Settings {
		t.Helper()
		st, err := in.Access.Settings(ctx, recordtest.Holder(pid).Actor, audit.ChannelWeb, pid)
		if err != nil {
			t.Fatal(err)
		}
		st.PatientID = 0
		return st
	}
	want := jsonOf(t, settingsOf(a, pid))
	zipped := export(t, a, holder, pid)
	files := unzip(t, zipped)
	if !bytes.Contains(files["access.json"], []byte(blocked)) {
		t.Fatalf("access.json: %s", files["access.json"])
	}
	for _, w := range []string{"Accès à mon dossier", "bloqué", "médecin traitant", "bris de glace"} {
		if !strings.Contains(string(files["index.html"]), w) {
			t.Errorf("index.html does not say %q", w)
		}
	}
	legal := "TJ Rennes 2026/5"
	if !bytes.Contains(unzip(t, export(t, a, operator(legal), pid))["access.json"], []byte(traitant)) {
		t.Fatal("the legal request's export has no access settings")
	}
	if traces := a.Traces(t, pid); !slices.ContainsFunc(traces, func(s string) bool {
		return strings.HasPrefix(s, "space.export allowed legal_request") && strings.HasSuffix(s, "access_settings legal_request="+legal)
	}) {
		t.Fatalf("the legal request's reading of the settings does not name it: %q", traces)
	}

	// The operator's import restores the block and the oppositions, and leaves the three
	// grants for the patient.
	b := newInstance(t)
	b.Clock.Advance(a.Clock.Now().Sub(b.Clock.Now()))
	pidB := b.Patient(t, ins)
	lim := archive.DefaultLimits(20 << 20)
	imp := func(r record.Request) archive.ImportReport {
		t.Helper()
		rep, err := b.archive.Import(ctx, r, pidB, bytes.NewReader(zipped), int64(len(zipped)), lim)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := imp(operator("")); rep.SettingsAdded != 2 || rep.SettingsLeft != 3 || rep.SettingsDone {
		t.Fatalf("the operator's import: %+v", rep)
	}
	if st := settingsOf(b, pidB); len(st.Blocked) != 1 || !st.Oppositions.BreakGlass || len(st.MedecinsTraitants)+len(st.CareTeam)+len(st.Authorisations) != 0 {
		t.Fatalf("after the operator's import: %+v", st)
	}
	if rep := imp(operator("")); !rep.SettingsDone || rep.SettingsAdded != 0 {
		t.Fatalf("the operator's second import: %+v", rep)
	}
	// The patient's own import brings the grants: the settings are the original's.
	hb := recordtest.Holder(pidB)
	if rep := imp(hb); rep.SettingsAdded != 3 || rep.SettingsLeft != 0 || rep.SettingsDone {
		t.Fatalf("the patient's import: %+v", rep)
	}
	if got := jsonOf(t, settingsOf(b, pidB)); got != want {
		t.Fatalf("settings after the imports:\n%s\nwant\n%s", got, want)
	}
	// Each entry is its own operation in the trail.
	var each []string
	for _, s := range b.Traces(t, pidB) {
		if strings.HasSuffix(s, " import") || strings.Contains(s, " import ") {
			each = append(each, s)
		}
	}
	if len(each) != 5 || !slices.ContainsFunc(each, func(s string) bool {
		return strings.HasPrefix(s, "access.medecin_traitant_designate allowed self") && strings.Contains(s, "professional/"+traitant)
	}) {
		t.Fatalf("traces of each entry: %q", each)
	}
	// What the patient changes after is theirs: an import again brings nothing back.
	if err := b.Access.RemoveMedecinTraitant(ctx, hb.Actor, hb.Channel, pidB, traitant); err != nil {
		t.Fatal(err)
	}
	if rep := imp(hb); !rep.SettingsDone {
		t.Fatalf("the patient's second import: %+v", rep)
	}
	if st := settingsOf(b, pidB); len(st.MedecinsTraitants) != 0 {
		t.Fatalf("the removed médecin traitant came back: %+v", st.MedecinsTraitants)
	}
	if traces := b.Traces(t, pidB); !slices.ContainsFunc(traces, func(s string) bool {
		return strings.HasPrefix(s, "space.import allowed") && strings.HasSuffix(s, "access_settings done: imported before")
	}) || slices.ContainsFunc(traces, func(s string) bool { return strings.HasPrefix(s, "space.import denied") }) {
		t.Fatalf("an import done before is not said as such: %q", traces)
	}
	// Two imports at once: one of them only.
	e := newInstance(t)
	pidE := e.Patient(t, ins)
	he := recordtest.Holder(pidE)
	results := make(chan access.SettingsImport, 2)
	for _, id := range []string{traitant, member} {
		go func() {
			r, err := e.Access.ImportSettings(ctx, he.Actor, he.Channel, pidE, access.Settings{MedecinsTraitants: []access.Member{{IdNat: id}}})
			if err != nil {
				t.Error(err)
			}
			results <- r
		}()
	}
	if r1, r2 := <-results, <-results; r1.Done == r2.Done || r1.Added+r2.Added != 1 {
		t.Fatalf("two imports at once: %+v %+v", r1, r2)
	}
	if st := settingsOf(e, pidE); len(st.MedecinsTraitants) != 1 {
		t.Fatalf("two imports at once left %d médecins traitants", len(st.MedecinsTraitants))
	}

	// Bad settings are refused before anything is decided.
	before := len(b.Traces(t, pidB))
	for _, bad := range []access.Settings{
		{Blocked: []access.Member{{IdNat: "8not-an-rpps"}}},
		{CareTeam: []access.CareTeamMember{{IdNat: member, Basis: "friendship"}}},
		{Authorisations: []access.AuthorisationRecord{{IdNat: authorised, State: "maybe"}}},
	} {
		if _, err := b.Access.ImportSettings(ctx, operator("").Actor, audit.ChannelCLI, pidB, bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("import of %+v: %v, want Invalid", bad, err)
		}
	}
	if n := len(b.Traces(t, pidB)); n != before {
		t.Fatalf("refused settings left %d trace(s)", n-before)
	}

	// A space that blocked the former médecin traitant and the authorised professional keeps
	// them blocked and out; an ended authorisation is not brought back; one without an end,
	// or longer than today's would be, lasts as long as today's.
	c := newInstance(t)
	c.Clock.Advance(a.Clock.Now().Sub(c.Clock.Now()))
	pidC := c.Patient(t, ins)
	hc := recordtest.Holder(pidC)
	for _, id := range []string{traitant, authorised} {
		if err := c.Access.Block(ctx, hc.Actor, hc.Channel, pidC, id); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := c.archive.Import(ctx, hc, pidC, bytes.NewReader(zipped), int64(len(zipped)), lim)
	if err != nil || rep.SettingsAdded != 3 || rep.SettingsKept != 2 {
		t.Fatalf("import into a space that blocked two of them: %+v %v", rep, err)
	}
	if st := settingsOf(c, pidC); len(st.MedecinsTraitants) != 0 || len(st.Authorisations) != 0 || len(st.Blocked) != 3 {
		t.Fatalf("settings: %+v", st)
	}
	d := newInstance(t)
	pidD := d.Patient(t, ins)
	hd := recordtest.Holder(pidD)
	now := d.Clock.Now()
	other, far := recordtest.RPPS(t, 9), recordtest.RPPS(t, 10)
	r, err := d.Access.ImportSettings(ctx, hd.Actor, hd.Channel, pidD, access.Settings{Authorisations: []access.AuthorisationRecord{
		{IdNat: authorised, State: access.AuthValid, GrantedAt: now.Add(-time.Hour)},                                     // no end
		{IdNat: other, State: access.AuthExpired, GrantedAt: now.Add(-400 * 24 * time.Hour), Until: now.Add(-time.Hour)}, // ended
		{IdNat: far, State: access.AuthValid, GrantedAt: now.Add(-time.Hour), Until: now.AddDate(50, 0, 0)},              // too long
	}})
	if err != nil || r.Added != 2 || r.Kept != 1 {
		t.Fatalf("authorisations: %+v %v", r, err)
	}
	st := settingsOf(d, pidD)
	if len(st.Authorisations) != 2 || slices.ContainsFunc(st.Authorisations, func(a access.AuthorisationRecord) bool {
		return a.IdNat == other || a.Until.IsZero() || a.Until.After(now.AddDate(1, 0, 1))
	}) {
		t.Fatalf("authorisations after the import: %+v", st.Authorisations)
	}
}
