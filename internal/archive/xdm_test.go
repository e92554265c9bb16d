package archive_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/archive"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/xdm"
)

// xdmOf is an IHE XDM package of n PDF reports for ins, authored by a professional.
func xdmOf(t *testing.T, ins identity.INS, n int) []byte {
	t.Helper()
	author := recordtest.RPPS(t, 41)
	p := xdm.Package{Submission: xdm.Submission{INS: ins, Submitted: recordtest.T0.Add(-48 * time.Hour)}}
	for i := range n {
		p.Documents = append(p.Documents, xdm.Document{
			Content: recordtest.PDF(3000+i, 400+i), INS: ins, Title: "Compte rendu ancien " + string(rune('A'+i)),
			MimeType: "application/pdf", Language: "fr-FR",
			Type:            record.Code{Code: "11488-4", System: "2.16.840.1.113883.6.1"},
			Class:           record.Code{Code: "10", System: "1.2.250.1.213.1.1.4.1"},
			Format:          record.Code{Code: "urn:ihe:iti:xds-sd:pdf:2008", System: "1.3.6.1.4.1.19376.1.2.3"},
			Confidentiality: []record.Code{{Code: "N", System: record.ConfidentialitySystem}},
			Authors: []xdm.Author{{Person: xdm.Person{ID: author, Family: "MARTIN", Given: "Paul", Authority: "1.2.250.1.71.4.2.1", IDType: "IDNPS"},
				Specialties: []record.Code{{Code: "G15_10/SM54", System: "1.2.250.1.213.1.1.4.5"}}}},
			Created:      recordtest.T0.Add(-time.Duration(72+i) * time.Hour),
			ServiceStart: recordtest.T0.Add(-time.Duration(96+i) * time.Hour),
		})
	}
	var buf bytes.Buffer
	if err := xdm.Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// An IHE XDM package of a former record goes into the space once, as its author's documents.
func TestImportXDM(t *testing.T) {
	ctx := context.Background()
	in := newInstance(t)
	ins := recordtest.TestINS(t, 40)
	pid := in.Patient(t, ins)
	pkg := xdmOf(t, ins, 3)
	lim := archive.DefaultLimits(20 << 20)
	rep, err := in.archive.Import(ctx, operator(""), pid, bytes.NewReader(pkg), int64(len(pkg)), lim)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != archive.FormatXDM || rep.Imported != 3 || rep.Present != 0 {
		t.Fatalf("import: %+v", rep)
	}
	docs := everything(t, in, pid)
	if len(docs) != 3 {
		t.Fatalf("%d documents", len(docs))
	}
	author := recordtest.RPPS(t, 41)
	for _, d := range docs {
		if d.DepositedBy != "professional" || d.Depositor != author || !strings.HasPrefix(d.Title, "Compte rendu ancien") ||
			!d.Submitted.Equal(recordtest.T0.Add(-48*time.Hour)) {
			t.Fatalf("imported document: %+v", d)
		}
	}
	// Its author reads it as theirs; the patient too.
	if _, err := in.Records.Get(ctx, recordtest.Doctor(author), docs[0].LogicalID); err != nil {
		t.Fatalf("the author reads the imported document: %v", err)
	}
	rep, err = in.archive.Import(ctx, operator(""), pid, bytes.NewReader(pkg), int64(len(pkg)), lim)
	if err != nil || rep.Imported != 0 || rep.Present != 3 {
		t.Fatalf("second import: %+v %v", rep, err)
	}
	// Another person's package is refused, whole.
	other := in.Patient(t, recordtest.TestINS(t, 41))
	if _, err := in.archive.Import(ctx, operator(""), other, bytes.NewReader(pkg), int64(len(pkg)), lim); !errs.Is(err, errs.Invalid) {
		t.Fatalf("another person's package: %v", err)
	}
	if n := len(everything(t, in, other)); n != 0 {
		t.Fatalf("%d documents imported into another person's space", n)
	}
}
