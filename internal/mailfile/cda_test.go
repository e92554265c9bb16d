package mailfile_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/shareddata"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/xdm"
)

// cdaINS is the test INS the CI-SIS example documents are written for.
const cdaINS = "279035121518989"

// openSpace creates and opens the space of the patient of this INS (test NIR) and returns
// their id and mailbox address.
func openSpace(t *testing.T, e *env, matricule string) (int64, string) {
	t.Helper()
	ctx := context.Background()
	ins, err := identity.NewINS(matricule, identity.OIDTestNIR)
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.Spaces.Create(ctx, space.By{Actor: e.Admin.Actor, Channel: e.Admin.Channel}, space.NewSpace{Patient: space.Patient{
		INS: ins, BirthName: "PAT-TROIS", GivenNames: "Marie", BirthDate: time.Date(1979, 3, 5, 0, 0, 0, 0, time.UTC),
		Sex: space.Female, Email: "marie." + matricule + "@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(space.DefaultPolicy().OptOutPeriod + time.Second)
	if _, err := e.Spaces.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	return c.Patient.ID, e.Mail.PatientAddress(matricule).String()
}

// cdaPackage wraps a CDA document in an XDM package for the patient of matricule.
func cdaPackage(t *testing.T, matricule string, content []byte, typeCode, uniqueID string) []byte {
	t.Helper()
	ins := identity.INS{Matricule: matricule, System: identity.OIDTestNIR}
	a := author("810002422979", "BIOLOGISTE", "Bea")
	p := xdm.Package{Submission: xdm.Submission{INS: ins, Submitted: mailtest.T0, Title: "Résultats", Authors: []xdm.Author{a},
		SourceID: "1.2.250.1.999.1", UniqueID: uniqueID + ".1"},
		Documents: []xdm.Document{{Content: content, UniqueID: uniqueID, INS: ins, Title: "Compte rendu de biologie",
			Language: "fr-FR", MimeType: "text/xml",
			Type:            record.Code{Code: typeCode, System: "2.16.840.1.113883.6.1"},
			Format:          record.Code{Code: "urn:ihe:lab:xd-lab:2008", System: "1.3.6.1.4.1.19376.1.2.3"},
			Confidentiality: []record.Code{{Code: "N", System: record.ConfidentialitySystem}},
			Authors:         []xdm.Author{a}, Created: mailtest.T0.Add(-time.Hour), ServiceStart: mailtest.T0.Add(-2 * time.Hour)}}}
	var b bytes.Buffer
	if err := xdm.Write(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A real CDA document (a CI-SIS example, read where it lies) in an XDM package is filed as a
// structured document of its patient; the same document sent to another patient, its
// metadata rewritten for them, is refused by the record (its recordTarget is not theirs) and
// the acknowledgement says so.
func TestXDMWithRealCDA(t *testing.T) {
	content, err := os.ReadFile(shareddata.Dir(t, "cda", "BIO-CR-BIO_2024.01_TSH_1.xml"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	pid, patient := openSpace(t, e, cdaINS)
	c := client(t, e, e.Submission, pro.Address, pro.Password)
	send(t, c, pro.Address, []string{patient}, message(pro.Address, patient, pro.Address, "cda1",
		cdaPackage(t, cdaINS, content, "11502-2", "1.2.250.1.999.1.9.1"), "X-MSS-INS: O\r\nX-MSS-CODECDA: 11502-2\r\n"))
	waitFor(t, "the acknowledgement", func() bool { return len(mdns(t, e, pro.Address)) == 1 })
	wantAll(t, "the acknowledgement", mdns(t, e, pro.Address)[0], "Disposition: automatic-action/MDN-sent-automatically; processed\r\n")
	docs := documents(t, e, pid, "1.2.250.1.999.1.9.1")
	if len(docs) != 1 || docs[0].CDALevel != 3 || docs[0].Type != "11502-2" {
		t.Fatalf("documents: %+v", docs)
	}

	other, otherAddr := e.Patient(t, 2)
	matricule := mailtest.INS(2)
	send(t, c, pro.Address, []string{otherAddr}, message(pro.Address, otherAddr, pro.Address, "cda2",
		cdaPackage(t, matricule, content, "11502-2", "1.2.250.1.999.1.9.2"), ""))
	waitFor(t, "the second acknowledgement", func() bool { return len(mdns(t, e, pro.Address)) == 2 })
	wantAll(t, "the acknowledgement", mdns(t, e, pro.Address)[1], "processed/Error: 102^Document ou metadonnees refuses")
	if docs := documents(t, e, other, "1.2.250.1.999.1.9.2"); len(docs) != 0 {
		t.Fatal("another patient's CDA was filed")
	}
}
