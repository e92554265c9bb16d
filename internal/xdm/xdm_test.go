package xdm_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/cda"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/shareddata"
	"github.com/carnet-sante/carnet/internal/xdm"
)

// A complete package reads back as it was written, and writing is deterministic.
func TestRoundTrip(t *testing.T) {
	p := samplePackage(3)
	b := mustWrite(t, p)
	if again := mustWrite(t, p); !bytes.Equal(b, again) {
		t.Error("writing the same package twice gave different bytes")
	}
	got := mustRead(t, b)
	diff(t, *got, p)

	names := map[string]bool{}
	for _, e := range entries(t, b) {
		names[e.name] = true
	}
	for _, want := range []string{"README.TXT", "INDEX.HTM", "IHE_XDM/SUBSET01/METADATA.XML", "IHE_XDM/SUBSET01/DOC0001.PDF", "IHE_XDM/SUBSET01/DOC0003.PDF"} {
		if !names[want] {
			t.Errorf("the package has no %s: %v", want, names)
		}
	}
}

// What a fixture leaves out, Write fills in, and Read returns it.
func TestWriteFillsWhatIsMissing(t *testing.T) {
	p := xdm.Package{
		Submission: xdm.Submission{INS: testINS, Submitted: t0},
		Documents: []xdm.Document{
			{INS: testINS, MimeType: "text/xml", Content: []byte("<ClinicalDocument/>"), Title: "CDA"},
			{MimeType: "application/pdf", Content: []byte("%PDF-1.4"), Title: "PDF"},
			{MimeType: "image/jpeg", Content: []byte{0xff, 0xd8, 0xff}, Title: "Photo"},
		},
	}
	got := mustRead(t, mustWrite(t, p))
	s := got.Submission
	if s.Subset != "SUBSET01" || s.PatientID != testPatientID || s.INS != testINS || !s.Submitted.Equal(t0) {
		t.Errorf("submission set: %+v", s)
	}
	if !strings.HasPrefix(s.UniqueID, "2.25.") || len(s.EntryUUID) != 36 {
		t.Errorf("identifiers not filled: uniqueId %q, entryUUID %q", s.UniqueID, s.EntryUUID)
	}
	wantPaths := []string{"IHE_XDM/SUBSET01/DOC0001.XML", "IHE_XDM/SUBSET01/DOC0002.PDF", "IHE_XDM/SUBSET01/DOC0003.JPG"}
	for i, d := range got.Documents {
		if d.Path != wantPaths[i] {
			t.Errorf("document %d: path %q, want %q", i+1, d.Path, wantPaths[i])
		}
		if d.INS != testINS || d.PatientID != testPatientID {
			t.Errorf("document %d: patient %v %q", i+1, d.INS, d.PatientID)
		}
		if d.Size != int64(len(p.Documents[i].Content)) || d.SHA1 != sha1Hex(p.Documents[i].Content) {
			t.Errorf("document %d: size %d, hash %s", i+1, d.Size, d.SHA1)
		}
		if !bytes.Equal(d.Content, p.Documents[i].Content) || d.Title != p.Documents[i].Title {
			t.Errorf("document %d: content or title changed", i+1)
		}
		if !strings.HasPrefix(d.UniqueID, "2.25.") || len(d.EntryUUID) != 36 {
			t.Errorf("document %d: identifiers not filled: %q %q", i+1, d.UniqueID, d.EntryUUID)
		}
	}
}

func TestWriteRefuses(t *testing.T) {
	doc := func() xdm.Document {
		return xdm.Document{MimeType: "text/plain", Content: []byte("hello"), INS: testINS}
	}
	other := identity.INS{Matricule: "184077512345657", System: identity.OIDNIR}
	cases := []struct {
		name string
		edit func(p *xdm.Package)
		want string
	}{
		{"wrong size", func(p *xdm.Package) { p.Documents[0].Size = 3 }, "size stated (3)"},
		{"wrong hash", func(p *xdm.Package) { p.Documents[0].SHA1 = strings.Repeat("0", 40) }, "hash stated"},
		{"no mime type", func(p *xdm.Package) { p.Documents[0].MimeType = "" }, "mime type is missing"},
		{"no patient", func(p *xdm.Package) { p.Documents[0].INS, p.Submission.INS = identity.INS{}, identity.INS{} }, "patient is missing"},
		{"two patients", func(p *xdm.Package) {
			p.Documents = append(p.Documents, xdm.Document{MimeType: "text/plain", INS: other})
		}, "not for the patient"},
		{"path outside", func(p *xdm.Package) { p.Documents[0].Path = "IHE_XDM/SUBSET01/../../x" }, "path element"},
		{"unknown subset", func(p *xdm.Package) { p.Documents[0].Path = "IHE_XDM/SUBSET09/DOC.XML" }, "not in IHE_XDM/<subset>/"},
		{"metadata path", func(p *xdm.Package) { p.Documents[0].Path = "IHE_XDM/SUBSET01/metadata.xml" }, "METADATA.XML"},
		{"same path", func(p *xdm.Package) {
			p.Documents[0].Path = "IHE_XDM/SUBSET01/A.TXT"
			p.Documents = append(p.Documents, doc())
			p.Documents[1].Path = "IHE_XDM/SUBSET01/a.txt"
		}, "two documents"},
		{"bad subset", func(p *xdm.Package) { p.Submission.Subset = "../S" }, "subset name"},
		{"empty subset", func(p *xdm.Package) { p.Others = []xdm.Submission{{INS: testINS}} }, "holds no document"},
		{"patientId against INS", func(p *xdm.Package) { p.Documents[0].PatientID = "184077512345657^^^&1.2.250.1.213.1.4.8&ISO^NH" }, "different patients"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := xdm.Package{Submission: xdm.Submission{INS: testINS}, Documents: []xdm.Document{doc()}}
			c.edit(&p)
			var b bytes.Buffer
			mustRefuse(t, xdm.Write(&b, p), c.want)
		})
	}
}

// A media may carry several subsets, each its own submission set and patient.
func TestSeveralSubsets(t *testing.T) {
	other := identity.INS{Matricule: "184077512345657", System: identity.OIDNIR}
	p := samplePackage(2)
	p.Others = []xdm.Submission{{Subset: "SUBSET02", EntryUUID: "7a3c9e21-5b4d-4f60-8e1a-2c3d4e5f6a7b",
		UniqueID: "1.2.250.1.999.1.2", PatientID: "184077512345657^^^&1.2.250.1.213.1.4.8&ISO^NH", INS: other, Submitted: t0}}
	d := p.Documents[0]
	d.Path, d.EntryUUID, d.UniqueID = "IHE_XDM/SUBSET02/DOC0001.PDF", "7a3c9e21-5b4d-4f60-8e1a-000000000001", "1.2.250.1.999.1.2.1"
	d.PatientID, d.INS = p.Others[0].PatientID, other
	p.Documents = append(p.Documents, d)
	got := mustRead(t, mustWrite(t, p))
	diff(t, *got, p)
}

// frenchMetadata is a METADATA.XML as French senders write it (CI-SIS "Volet Partage de
// documents de santé" values, HL7 v2 XCN/XON/CX with IdNat_PS and the INS OID), describing the
// CI-SIS example lab report DOC_NON_STRUCTURE_CDA-R2-N1.xml: its INS, author, legal
// authenticator, dates (the CDA's +0100 times in UTC), codes and organisation. {{SIZE}} and
// {{HASH}} are filled in from the file.
const frenchMetadata = `<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0" xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0">
 <rim:RegistryObjectList>
  <rim:ExtrinsicObject id="urn:uuid:9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8" mimeType="text/xml" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1" status="urn:oasis:names:tc:ebxml-regrep:StatusType:Approved">
   <rim:Slot name="creationTime"><rim:ValueList><rim:Value>20210401124745</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="hash"><rim:ValueList><rim:Value>{{HASH}}</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="languageCode"><rim:ValueList><rim:Value>fr-FR</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="legalAuthenticator"><rim:ValueList><rim:Value>807505123456^Camparini^Marcel^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="serviceStartTime"><rim:ValueList><rim:Value>20210104124700</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="serviceStopTime"><rim:ValueList><rim:Value>20210104125500</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="size"><rim:ValueList><rim:Value>{{SIZE}}</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="sourcePatientId"><rim:ValueList><rim:Value>1234567890121^^^&amp;1.2.3.4.567.8.9.10&amp;ISO^PI</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="sourcePatientInfo">
    <rim:ValueList>
     <rim:Value>PID-3|1234567890121^^^&amp;1.2.3.4.567.8.9.10&amp;ISO^PI</rim:Value>
     <rim:Value>PID-5|PAT-TROIS^DOMINIQUE^^^^^L</rim:Value>
     <rim:Value>PID-7|19790328</rim:Value>
     <rim:Value>PID-8|F</rim:Value>
    </rim:ValueList>
   </rim:Slot>
   <rim:Slot name="URI"><rim:ValueList><rim:Value>DOC0001.XML</rim:Value></rim:ValueList></rim:Slot>
   <rim:Name><rim:LocalizedString charset="UTF-8" xml:lang="fr-FR" value="Compte rendu d'examens biologiques"/></rim:Name>
   <rim:Description><rim:LocalizedString charset="UTF-8" xml:lang="fr-FR" value="Hématologie"/></rim:Description>
   <rim:Classification classificationScheme="urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d" classifiedObject="urn:uuid:9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8" id="urn:uuid:1c2d3e4f-0001-4000-8000-000000000001" nodeRepresentation="" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification">
    <rim:Slot name="authorInstitution"><rim:ValueList><rim:Value>Laboratoire des charmes^^^^^&amp;1.2.250.1.71.4.2.2&amp;ISO^IDNST^^^1120459876</rim:Value></rim:ValueList></rim:Slot>
    <rim:Slot name="authorPerson"><rim:ValueList><rim:Value>801234534765^CAMPARINI^Marcel^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS</rim:Value></rim:ValueList></rim:Slot>
    <rim:Slot name="authorSpecialty"><rim:ValueList><rim:Value>G15_10/SM03^Médecin - Biologie médicale (SM)^1.2.250.1.213.1.1.4.5</rim:Value></rim:ValueList></rim:Slot>
   </rim:Classification>
   <rim:Classification classificationScheme="urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a" classifiedObject="urn:uuid:9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8" id="urn:uuid:1c2d3e4f-0001-4000-8000-000000000002" nodeRepresentation="10" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>1.2.250.1.213.1.1.4.1</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString charset="UTF-8" xml:lang="fr-FR" value="Compte rendu"/></rim:Name>
   </rim:Classification>
   <rim:Classification classificationScheme="urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f" classifiedObject="urn:uuid:9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8" id="urn:uuid:1c2d3e4f-0001-4000-8000-000000000003" nodeRepresentation="N" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>2.16.840.1.113883.5.25</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString charset="UTF-8" xml:lang="fr-FR" value="Normal"/></rim:Name>
   </rim:Classification>
   <rim:Classification classificationScheme="urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4" classifiedObject="urn:uuid:9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8" id="urn:uuid:1c2d3e4f-0001-4000-8000-000000000004" nodeRepresentation="18723-7" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>2.16.840.1.113883.6.1</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString charset="UTF-8" xml:lang="fr-FR" value="Hématologie"/></rim:Name>
   </rim:Classification>
   <rim:Classification classificationScheme="urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d" classifiedObject="urn:uuid:9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8" id="urn:uuid:1c2d3e4f-0001-4000-8000-000000000005" nodeRepresentation="urn:ihe:iti:xds-sd:pdf:2008" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>1.3.6.1.4.1.19376.1.2.3</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString charset="UTF-8" xml:lang="fr-FR" value="Document à corps non structuré en Pdf/A-1"/></rim:Name>
   </rim:Classification>
   <rim:Classification classificationScheme="urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1" classifiedObject="urn:uuid:9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8" id="urn:uuid:1c2d3e4f-0001-4000-8000-000000000006" nodeRepresentation="SA25" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>1.2.250.1.71.4.2.4</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString charset="UTF-8" xml:lang="fr-FR" value="Laboratoire de biologie médicale"/></rim:Name>
   </rim:Classification>
   <rim:Classification classificationScheme="urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead" classifiedObject="urn:uuid:9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8" id="urn:uuid:1c2d3e4f-0001-4000-8000-000000000007" nodeRepresentation="AMBULATOIRE" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>1.2.250.1.213.1.1.4.9</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString charset="UTF-8" xml:lang="fr-FR" value="Ambulatoire"/></rim:Name>
   </rim:Classification>
   <rim:Classification classificationScheme="urn:uuid:f0306f51-975f-434e-a61c-c59651d33983" classifiedObject="urn:uuid:9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8" id="urn:uuid:1c2d3e4f-0001-4000-8000-000000000008" nodeRepresentation="11502-2" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>2.16.840.1.113883.6.1</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString charset="UTF-8" xml:lang="fr-FR" value="CR d'examens biologiques"/></rim:Name>
   </rim:Classification>
   <rim:ExternalIdentifier id="urn:uuid:1c2d3e4f-0001-4000-8000-000000000009" identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier" registryObject="urn:uuid:9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8" value="279035121518989^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH">
    <rim:Name><rim:LocalizedString value="XDSDocumentEntry.patientId"/></rim:Name>
   </rim:ExternalIdentifier>
   <rim:ExternalIdentifier id="urn:uuid:1c2d3e4f-0001-4000-8000-00000000000a" identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier" registryObject="urn:uuid:9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8" value="1.3.6.1.4.1.19376.1.2.20.12345.1.1">
    <rim:Name><rim:LocalizedString value="XDSDocumentEntry.uniqueId"/></rim:Name>
   </rim:ExternalIdentifier>
  </rim:ExtrinsicObject>
  <rim:RegistryPackage id="urn:uuid:4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage">
   <rim:Slot name="submissionTime"><rim:ValueList><rim:Value>20210401130512</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="intendedRecipient"><rim:ValueList><rim:Value>|279035121518989^PAT-TROIS^DOMINIQUE^^^^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^D^^^NH|^NET^Internet^279035121518989@patient.mssante.fr</rim:Value></rim:ValueList></rim:Slot>
   <rim:Name><rim:LocalizedString charset="UTF-8" xml:lang="fr-FR" value="Résultats d'analyses"/></rim:Name>
   <rim:Classification classificationScheme="urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d" classifiedObject="urn:uuid:4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8" id="urn:uuid:1c2d3e4f-0002-4000-8000-000000000001" nodeRepresentation="" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification">
    <rim:Slot name="authorInstitution"><rim:ValueList><rim:Value>Laboratoire des charmes^^^^^&amp;1.2.250.1.71.4.2.2&amp;ISO^IDNST^^^1120459876</rim:Value></rim:ValueList></rim:Slot>
    <rim:Slot name="authorPerson"><rim:ValueList><rim:Value>801234534765^CAMPARINI^Marcel^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS</rim:Value></rim:ValueList></rim:Slot>
   </rim:Classification>
   <rim:Classification classificationScheme="urn:uuid:aa543740-bdda-424e-8c96-df4873be8500" classifiedObject="urn:uuid:4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8" id="urn:uuid:1c2d3e4f-0002-4000-8000-000000000002" nodeRepresentation="11502-2" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>2.16.840.1.113883.6.1</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString charset="UTF-8" xml:lang="fr-FR" value="CR d'examens biologiques"/></rim:Name>
   </rim:Classification>
   <rim:ExternalIdentifier id="urn:uuid:1c2d3e4f-0002-4000-8000-000000000003" identificationScheme="urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier" registryObject="urn:uuid:4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8" value="1.2.250.1.999.2.20210401.1">
    <rim:Name><rim:LocalizedString value="XDSSubmissionSet.uniqueId"/></rim:Name>
   </rim:ExternalIdentifier>
   <rim:ExternalIdentifier id="urn:uuid:1c2d3e4f-0002-4000-8000-000000000004" identificationScheme="urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier" registryObject="urn:uuid:4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8" value="1.2.250.1.999.2">
    <rim:Name><rim:LocalizedString value="XDSSubmissionSet.sourceId"/></rim:Name>
   </rim:ExternalIdentifier>
   <rim:ExternalIdentifier id="urn:uuid:1c2d3e4f-0002-4000-8000-000000000005" identificationScheme="urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier" registryObject="urn:uuid:4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8" value="279035121518989^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH">
    <rim:Name><rim:LocalizedString value="XDSSubmissionSet.patientId"/></rim:Name>
   </rim:ExternalIdentifier>
  </rim:RegistryPackage>
  <rim:Classification classifiedObject="urn:uuid:4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8" classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd" id="urn:uuid:1c2d3e4f-0003-4000-8000-000000000001" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification"/>
  <rim:Association associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" id="urn:uuid:1c2d3e4f-0003-4000-8000-000000000002" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association" sourceObject="urn:uuid:4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8" targetObject="urn:uuid:9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8">
   <rim:Slot name="SubmissionSetStatus"><rim:ValueList><rim:Value>Original</rim:Value></rim:ValueList></rim:Slot>
  </rim:Association>
 </rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
`

// frenchPackage builds the zip a French sender would attach: the lab report of the CI-SIS
// examples and its metadata. It skips when the reference data is not there (shareddata).
func frenchPackage(tb testing.TB) (zip []byte, cdaDoc []byte) {
	tb.Helper()
	content, err := os.ReadFile(filepath.Join(shareddata.Dir(tb, "cda"), "DOC_NON_STRUCTURE_CDA-R2-N1.xml"))
	if err != nil {
		tb.Fatal(err)
	}
	meta := strings.NewReplacer("{{SIZE}}", strconv.Itoa(len(content)), "{{HASH}}", strings.ToUpper(sha1Hex(content))).Replace(frenchMetadata)
	return buildZip(tb,
		entry{name: "README.TXT", data: []byte("Archive IHE XDM\r\n")},
		entry{name: "INDEX.HTM", data: []byte("<html><body><a href=\"IHE_XDM/SUBSET01/DOC0001.XML\">CR</a></body></html>")},
		entry{name: "IHE_XDM/"},
		entry{name: "IHE_XDM/SUBSET01/"},
		entry{name: "IHE_XDM/SUBSET01/METADATA.XML", data: []byte(meta)},
		entry{name: "IHE_XDM/SUBSET01/DOC0001.XML", data: content},
	), content
}

// A package as a French professional's software sends it reads into what the record needs,
// and agrees with the CDA document it carries.
func TestFrenchPackage(t *testing.T) {
	b, content := frenchPackage(t)
	p := mustRead(t, b)

	s := p.Submission
	if s.Subset != "SUBSET01" || s.EntryUUID != "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8" || s.UniqueID != "1.2.250.1.999.2.20210401.1" || s.SourceID != "1.2.250.1.999.2" {
		t.Errorf("submission set identifiers: %+v", s)
	}
	if s.INS != testINS || !s.Submitted.Equal(time.Date(2021, 4, 1, 13, 5, 12, 0, time.UTC)) || s.Title != "Résultats d'analyses" {
		t.Errorf("submission set: INS %v, time %v, title %q", s.INS, s.Submitted, s.Title)
	}
	if s.ContentType.Code != "11502-2" || len(s.Authors) != 1 || s.Authors[0].Person.ID != "801234534765" {
		t.Errorf("submission set content type or author: %+v %+v", s.ContentType, s.Authors)
	}
	if len(s.IntendedRecipients) != 1 || s.IntendedRecipients[0].Email() != "279035121518989@patient.mssante.fr" ||
		s.IntendedRecipients[0].Person.Family != "PAT-TROIS" {
		t.Errorf("intended recipients: %+v", s.IntendedRecipients)
	}

	if len(p.Documents) != 1 {
		t.Fatalf("%d documents", len(p.Documents))
	}
	d := p.Documents[0]
	if d.Path != "IHE_XDM/SUBSET01/DOC0001.XML" || !bytes.Equal(d.Content, content) || d.Size != int64(len(content)) || d.SHA1 != sha1Hex(content) {
		t.Errorf("bytes: path %q, size %d, hash %s", d.Path, d.Size, d.SHA1)
	}
	want := xdm.Document{
		EntryUUID: "9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8", UniqueID: "1.3.6.1.4.1.19376.1.2.20.12345.1.1",
		PatientID: "279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH", INS: testINS,
		SourcePatientID:   "1234567890121^^^&1.2.3.4.567.8.9.10&ISO^PI",
		SourcePatientInfo: []string{"PID-3|1234567890121^^^&1.2.3.4.567.8.9.10&ISO^PI", "PID-5|PAT-TROIS^DOMINIQUE^^^^^L", "PID-7|19790328", "PID-8|F"},
		Title:             "Compte rendu d'examens biologiques", Comments: "Hématologie", Language: "fr-FR", MimeType: "text/xml",
		Class:           record.Code{Code: "10", System: "1.2.250.1.213.1.1.4.1", Display: "Compte rendu"},
		Type:            record.Code{Code: "11502-2", System: "2.16.840.1.113883.6.1", Display: "CR d'examens biologiques"},
		Format:          record.Code{Code: "urn:ihe:iti:xds-sd:pdf:2008", System: "1.3.6.1.4.1.19376.1.2.3", Display: "Document à corps non structuré en Pdf/A-1"},
		Confidentiality: []record.Code{{Code: "N", System: "2.16.840.1.113883.5.25", Display: "Normal"}},
		FacilityType:    record.Code{Code: "SA25", System: "1.2.250.1.71.4.2.4", Display: "Laboratoire de biologie médicale"},
		PracticeSetting: record.Code{Code: "AMBULATOIRE", System: "1.2.250.1.213.1.1.4.9", Display: "Ambulatoire"},
		EventCodes:      []record.Code{{Code: "18723-7", System: "2.16.840.1.113883.6.1", Display: "Hématologie"}},
		Authors: []xdm.Author{{
			Person:       xdm.Person{ID: "801234534765", Family: "CAMPARINI", Given: "Marcel", Authority: "1.2.250.1.71.4.2.1", IDType: "IDNPS"},
			Institutions: []xdm.Institution{{Name: "Laboratoire des charmes", ID: "1120459876", Authority: "1.2.250.1.71.4.2.2", IDType: "IDNST"}},
			Specialties:  []record.Code{{Code: "G15_10/SM03", Display: "Médecin - Biologie médicale (SM)", System: "1.2.250.1.213.1.1.4.5"}},
		}},
		LegalAuthenticator: xdm.Person{ID: "807505123456", Family: "Camparini", Given: "Marcel", Authority: "1.2.250.1.71.4.2.1", IDType: "IDNPS"},
		Created:            time.Date(2021, 4, 1, 12, 47, 45, 0, time.UTC),
		ServiceStart:       time.Date(2021, 1, 4, 12, 47, 0, 0, time.UTC),
		ServiceEnd:         time.Date(2021, 1, 4, 12, 55, 0, 0, time.UTC),
	}
	d.Path, d.Content, d.Size, d.SHA1 = "", nil, 0, ""
	diff(t, d, want)

	// The metadata agree with the document they describe.
	doc, err := cda.Parse(bytes.NewReader(content), int64(len(content))+1)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Patient.INS != p.Documents[0].INS {
		t.Errorf("the CDA is for %v, the metadata for %v", doc.Patient.INS, p.Documents[0].INS)
	}
	if doc.Code.Code != p.Documents[0].Type.Code {
		t.Errorf("the CDA is a %s, the metadata say %s", doc.Code.Code, p.Documents[0].Type.Code)
	}

	// And it writes back: Read(Write(p)) == p.
	diff(t, *mustRead(t, mustWrite(t, *p)), *p)
}

// The document's metadata reach the record as a deposit, identifiers in the record's form.
func TestDeposit(t *testing.T) {
	b, content := frenchPackage(t)
	d := mustRead(t, b).Documents[0]
	dep := d.Deposit()
	want := record.Deposit{
		INS: testINS, SourcePatientID: "1234567890121", UniqueID: "1.3.6.1.4.1.19376.1.2.20.12345.1.1",
		EntryUUID: "9f3b2c1d-8e7a-4b6c-a5d4-e3f2a1b0c9d8",
		Title:     "Compte rendu d'examens biologiques", Comments: "Hématologie", Language: "fr-FR",
		Type: "11502-2", TypeSystem: "2.16.840.1.113883.6.1", Class: "10",
		Format:          d.Format,
		MimeType:        "text/xml",
		Confidentiality: d.Confidentiality,
		FacilityType:    d.FacilityType, PracticeSetting: d.PracticeSetting, EventCodes: d.EventCodes,
		Authors: []record.Author{{Kind: record.AuthorProfessional, ID: "801234534765", Name: "Marcel CAMPARINI",
			Profession: "G15_10", Specialty: "G15_10/SM03", OrgID: "1120459876", OrgName: "Laboratoire des charmes"}},
		LegalAuthenticator: "807505123456",
		Created:            d.Created, ServiceStart: d.ServiceStart, ServiceEnd: d.ServiceEnd,
		Size: int64(len(content)), SHA1: sha1Hex(content),
	}
	diff(t, dep, want)
	// The deposit does not share slices with the document: the record may change them.
	dep.Confidentiality[0].Code = "V"
	if d.Confidentiality[0].Code != "N" {
		t.Error("Deposit shares its confidentiality codes with the document")
	}
}

func TestDepositAuthorsAndLabels(t *testing.T) {
	p := samplePackage(3)
	d := p.Documents[1] // MASQUE_PS
	d.InvisibleRepresentants = true
	d.Authors = []xdm.Author{
		// An RPPS written bare, named as such: the IdNat_PS is 8 + RPPS.
		{Person: xdm.Person{ID: "10002422979", Family: "MARTIN", Authority: "1.2.250.1.71.4.2.1", IDType: "RPPS"},
			Specialties: []record.Code{{Code: "G15_60"}}, Roles: []record.Code{{Code: "ODRP"}}},
		// The patient, named by the INS.
		{Person: xdm.Person{ID: "279035121518989", Family: "PAT-TROIS", Authority: "1.2.250.1.213.1.4.10"}},
		// A device.
		{Person: xdm.Person{Family: "Analyseur"}, Specialties: []record.Code{{Code: "AUTOMATE", System: "1.2.250.1.213.1.1.4.6"}}},
		// An organisation's software, with no person.
		{Institutions: []xdm.Institution{{Name: "Hôpital", ID: "1750000001"}}},
		// A professional with a local identifier: no IdNat_PS.
		{Person: xdm.Person{ID: "42", Family: "DURAND", Authority: "1.2.250.1.999.1"}},
	}
	d.EntryUUID = "Document01" // a symbolic id: not handed over
	dep := d.Deposit()
	want := []record.Author{
		{Kind: record.AuthorProfessional, ID: "810002422979", Name: "MARTIN", Profession: "G15_60", Role: "ODRP"},
		{Kind: record.AuthorPatient, Name: "PAT-TROIS"},
		{Kind: record.AuthorDevice, Name: "Analyseur"},
		{Kind: record.AuthorSystem, OrgID: "1750000001", OrgName: "Hôpital"},
		{Kind: record.AuthorProfessional, Name: "DURAND"},
	}
	diff(t, dep.Authors, want)
	if !dep.MasquePS || dep.InvisiblePatient || !dep.InvisibleRepresentants {
		t.Errorf("labels: %+v", dep)
	}
	if dep.EntryUUID != "" {
		t.Errorf("a symbolic entry id reached the deposit: %q", dep.EntryUUID)
	}
	got := mustRead(t, mustWrite(t, xdm.Package{Submission: p.Submission, Documents: []xdm.Document{d}})).Documents[0]
	if !got.MasquePS || got.InvisiblePatient || !got.InvisibleRepresentants || len(got.Confidentiality) != 1 {
		t.Errorf("labels after a round trip: %v %v %v %v", got.MasquePS, got.InvisiblePatient, got.InvisibleRepresentants, got.Confidentiality)
	}
}

func TestPersonIdNatPS(t *testing.T) {
	cases := []struct {
		p    xdm.Person
		want string // "" for an error
	}{
		{xdm.Person{ID: "810002422979", Authority: "1.2.250.1.71.4.2.1", IDType: "IDNPS"}, "810002422979"},
		{xdm.Person{ID: "10002422979", Authority: "1.2.250.1.71.4.2.1", IDType: "RPPS"}, "810002422979"},
		{xdm.Person{ID: "441253000", Authority: "1.2.250.1.71.4.2.1", IDType: "ADELI"}, "0441253000"},
		{xdm.Person{ID: "810002422979", IDType: "IDNPS"}, "810002422979"},
		{xdm.Person{ID: "801234534765", Authority: "1.2.250.1.71.4.2.1"}, ""}, // bad Luhn key
		{xdm.Person{ID: "810002422979", Authority: "1.2.250.1.999"}, ""},
		{xdm.Person{Family: "X"}, ""},
	}
	for _, c := range cases {
		id, err := c.p.IdNatPS()
		switch {
		case c.want == "" && err == nil:
			t.Errorf("%+v: got %v, want an error", c.p, id)
		case c.want != "" && (err != nil || id.String() != c.want):
			t.Errorf("%+v: got %v, %v; want %s", c.p, id, err, c.want)
		case err != nil && !isInvalid(err):
			t.Errorf("%+v: %v is not errs.Invalid", c.p, err)
		}
	}
}

// Older French senders write METADATA.XML in ISO-8859-1; a UTF-8 byte order mark is fine too.
func TestEncodings(t *testing.T) {
	b := mustWrite(t, samplePackage(1))
	latin := rezip(t, b, func(name string, data []byte) (string, []byte) {
		if !strings.HasSuffix(name, "METADATA.XML") {
			return name, data
		}
		s := strings.Replace(string(data), `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1)
		var out []byte
		for _, r := range s {
			if r > 0xff {
				t.Fatalf("the sample holds %q, which ISO-8859-1 cannot write", r)
			}
			out = append(out, byte(r))
		}
		return name, out
	})
	if got := mustRead(t, latin); got.Documents[0].Class.Display != "Compte rendu" || got.Submission.Comments != "Résultats & compte rendu <urgent>" {
		t.Errorf("ISO-8859-1 metadata misread: %q", got.Submission.Comments)
	}
	bom := rezip(t, b, func(name string, data []byte) (string, []byte) {
		if strings.HasSuffix(name, "METADATA.XML") {
			return name, append([]byte("\xef\xbb\xbf"), data...)
		}
		return name, data
	})
	mustRead(t, bom)
	other := editMetadata(t, b, `encoding="UTF-8"`, `encoding="windows-1252"`)
	_, err := read(other, xdm.Limits{})
	mustRefuse(t, err, "unsupported character encoding")
}

// A URI longer than a slot value is cut into numbered values and joined again; names are
// matched regardless of case.
func TestLongURIAndCase(t *testing.T) {
	p := samplePackage(1)
	p.Documents[0].Path = "IHE_XDM/SUBSET01/" + strings.Repeat("D", 150) + "/" + strings.Repeat("x", 100) + ".pdf"
	b := mustWrite(t, p)
	if m := string(metadataOf(t, b)); !strings.Contains(m, "<rim:Value>1|IHE") && !strings.Contains(m, "<rim:Value>1|DDD") || !strings.Contains(m, "<rim:Value>2|") {
		t.Error("the long URI was not cut into numbered values")
	}
	diff(t, *mustRead(t, b), p)

	upper := rezip(t, mustWrite(t, samplePackage(1)), func(name string, data []byte) (string, []byte) {
		return strings.ToLower(name), data
	})
	got := mustRead(t, upper)
	if got.Submission.Subset != "subset01" || got.Documents[0].Path != "IHE_XDM/subset01/DOC0001.PDF" {
		t.Errorf("subset %q, path %q", got.Submission.Subset, got.Documents[0].Path)
	}
}

func metadataOf(tb testing.TB, b []byte) []byte {
	tb.Helper()
	for _, e := range entries(tb, b) {
		if strings.HasSuffix(e.name, "METADATA.XML") {
			return e.data
		}
	}
	tb.Fatal("no METADATA.XML")
	return nil
}

// An INS of Corsica may be written with a lower-case department (2a): it is the same patient
// as 2A, and the package writes back.
func TestCorsicanINSInLowerCase(t *testing.T) {
	p := samplePackage(1)
	const old = `value="279035121518989^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH"`
	b := editMetadata(t, mustWrite(t, p), old, `value="184072a12345617^^^&amp;1.2.250.1.213.1.4.8&amp;ISO^NH"`)
	b = editMetadata(t, b, old, `value="184072A12345617^^^&amp;1.2.250.1.213.1.4.8&amp;ISO^NH"`)
	got := mustRead(t, b)
	if got.Documents[0].INS.Matricule != "184072A12345617" {
		t.Fatalf("INS %v", got.Documents[0].INS)
	}
	diff(t, *mustRead(t, mustWrite(t, *got)), *got)
}
