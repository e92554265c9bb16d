// Package xdm reads and writes IHE XDM packages: the IHE_XDM.ZIP that French professionals
// attach to MSSanté messages, and that a person who already had a record brings along
// (IHE ITI TF-1 §16 "Cross-Enterprise Document Media Interchange"; ITI TF-2b §3.32 for the
// media layout; ITI TF-3 §4.2 for the ebRIM metadata; ANS CI-SIS for the French values).
//
// A package is a zip holding INDEX.HTM, README.TXT and one or more IHE_XDM/<SUBSET>/
// directories, each with a METADATA.XML (an ebRS 3.0 lcm:SubmitObjectsRequest: one
// submission set and its document entries) and the documents it names by their URI slot.
//
// Read checks what it is given as outside input: the zip is bounded (entries, bytes read,
// counted while decompressing), no entry name nor URI may leave the package, METADATA.XML
// may hold no DOCTYPE and is bounded in size, depth and elements, and every document's bytes
// must match its size and SHA-1 hash. Every refusal is an errs.Invalid whose message says
// what is wrong. Read decides nothing about the record: whether a document may be filed, for
// whom and by whom is for the record (Document.Deposit hands it over as a record.Deposit).
//
// Write produces a package from metadata and bytes, for tests, fixtures and the export.
package xdm

import (
	"time"

	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
)

// Package is the content of an XDM zip.
type Package struct {
	// Submission is the submission set of the first subset (by directory name), the only one
	// in the packages of MSSanté messages.
	Submission Submission
	// Others are the submission sets of the other subsets, in the order of their directory
	// names, when the package has several (a media may carry several patients).
	Others []Submission
	// Documents are the documents of every subset, subset by subset, each in the order of
	// its METADATA.XML. A document's subset is the directory of its Path.
	Documents []Document
}

// Submission is an XDS submission set (an ebRIM RegistryPackage classified as
// XDSSubmissionSet).
type Submission struct {
	// Subset is the directory under IHE_XDM/ holding its METADATA.XML, e.g. SUBSET01.
	Subset    string
	EntryUUID string // the RegistryPackage's id, without "urn:uuid:" when it is a UUID
	UniqueID  string // an OID
	SourceID  string // OID of the sending system
	// PatientID is the patientId as written (HL7 v2 CX); INS is the patient's INS read from it
	// when its assigning authority is one of the INS OIDs, and zero otherwise.
	PatientID string
	INS       identity.INS
	Submitted time.Time // submissionTime, UTC
	Title     string
	Comments  string
	// ContentType is the contentTypeCode (the clinical activity that led to the submission).
	ContentType        record.Code
	Authors            []Author
	IntendedRecipients []Recipient
}

// Document is a document entry (an ebRIM ExtrinsicObject) and its bytes. Its metadata fields
// are those of record.Deposit, in their XDS form; Deposit converts.
type Document struct {
	// Path is where the document is in the package: IHE_XDM/<subset>/<URI>. (The zip entry
	// may differ in letter case: names are matched regardless of case, as on the FAT and ISO
	// 9660 media XDM comes from.)
	Path    string
	Content []byte

	EntryUUID string // the ExtrinsicObject's id, without "urn:uuid:" when it is a UUID
	UniqueID  string
	PatientID string       // as written (CX), e.g. 279035121518989^^^&1.2.250.1.213.1.4.8&ISO^NH
	INS       identity.INS // read from PatientID when under an INS OID; zero otherwise
	// SourcePatientID is the sourcePatientId as written (CX): the patient's id at the sender.
	SourcePatientID string
	// SourcePatientInfo holds the sourcePatientInfo values as written ("PID-5|NOM^Prénom…").
	SourcePatientInfo []string

	Title    string // Name
	Comments string // Description
	Language string // languageCode, e.g. fr-FR
	MimeType string

	Class           record.Code // classCode
	Type            record.Code // typeCode
	Format          record.Code // formatCode
	Confidentiality []record.Code
	// The visibility labels of the French national record, carried as confidentialityCode
	// values of the system 1.2.250.1.213.1.1.4.13 (JDV_J08): Read takes them out of
	// Confidentiality and Write puts them back.
	MasquePS               bool // MASQUE_PS
	InvisiblePatient       bool // INVISIBLE_PATIENT
	InvisibleRepresentants bool // INVISIBLE_REPRESENTANTS_LEGAUX
	FacilityType           record.Code
	PracticeSetting        record.Code
	EventCodes             []record.Code
	// ReferenceIDs are the urn:ihe:iti:xds:2013:referenceIdList values as written (CXi).
	ReferenceIDs []string

	Authors            []Author
	LegalAuthenticator Person

	Created      time.Time // creationTime, UTC
	ServiceStart time.Time // serviceStartTime, UTC
	ServiceEnd   time.Time // serviceStopTime, UTC

	Size int64  // size slot, checked against Content by Read
	SHA1 string // hash slot (hex, lower case), checked against Content by Read
}

// Author is one author of a document or of a submission set (an author Classification).
type Author struct {
	Person       Person        // authorPerson; zero when there is none (a system, a device)
	Institutions []Institution // authorInstitution
	Roles        []record.Code // authorRole
	// Specialties are the authorSpecialty values: in France the profession and specialty of
	// JDV_J01 (G15_10/SM26…) or a kind of author (EXP_PATIENT, DISPOSITIF, LOGICIEL_DUI…).
	Specialties []record.Code
	Telecoms    []string // authorTelecommunication, as written (XTN)
}

// Person is a person named by an HL7 v2 XCN value. French senders (CI-SIS) write a
// professional as IdNat_PS^FAMILY^Given^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS.
type Person struct {
	ID        string // XCN.1: for a professional, the IdNat_PS (8 + RPPS, 0 + ADELI, …)
	Family    string // XCN.2
	Given     string // XCN.3
	Authority string // XCN.9: OID of the identifier's system, e.g. 1.2.250.1.71.4.2.1
	IDType    string // XCN.13: IDNPS, RPPS, ADELI, EI…
}

// Institution is an organisation named by an HL7 v2 XON value. French senders write
// Name^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^IdNat_Struct.
type Institution struct {
	Name      string // XON.1
	ID        string // XON.10 (XON.3 in older senders)
	Authority string // XON.6: OID of the identifier's system, e.g. 1.2.250.1.71.4.2.2
	IDType    string // XON.7: IDNST, FINEG…
}

// Recipient is an intendedRecipient of a submission set: an organisation, a person and a
// telecommunication address, written XON|XCN|XTN (ITI TF-3 §4.2.3.3.5).
type Recipient struct {
	Institution Institution
	Person      Person
	Telecom     string // XTN as written, e.g. ^NET^Internet^dr.martin@hopital.mssante.fr
}

// Limits bound what Read accepts. A zero field takes its default (DefaultLimits).
type Limits struct {
	// MaxArchive bounds the zip itself (the size given to Read).
	MaxArchive int64
	// MaxEntries bounds the entries of the zip, counted before archive/zip parses its
	// directory (whose memory grows with the number of entries).
	MaxEntries int
	// MaxEntry bounds the bytes of one document once decompressed, counted while reading.
	MaxEntry int64
	// MaxTotal bounds the bytes read from the zip in all (every METADATA.XML and document),
	// once decompressed, counted while reading. It is the memory the Package may hold.
	MaxTotal int64
	// MaxMetadata bounds the bytes of one METADATA.XML.
	MaxMetadata int64
	// MaxDepth bounds the nesting of elements in METADATA.XML.
	MaxDepth int
	// MaxElements bounds the elements of one METADATA.XML.
	MaxElements int
}

// DefaultLimits are our defaults: comfortably above what a real package holds, and low enough
// that a hostile one costs little. The national record accepts documents of up to 20 MB; a
// CDA wrapping such a PDF in base64 is about 27 MB, hence 32 MiB for one entry (the bound of
// cda.Parse too). An MSSanté message is much smaller than 128 MiB; the import of a whole
// record may need more and says so in its own Limits. ebRIM nests 7 levels deep
// (SubmitObjectsRequest/RegistryObjectList/ExtrinsicObject/Classification/Slot/ValueList/
// Value) and a document entry takes about 60 elements.
func DefaultLimits() Limits {
	return Limits{
		MaxArchive:  128 << 20,
		MaxEntries:  1000,
		MaxEntry:    32 << 20,
		MaxTotal:    128 << 20,
		MaxMetadata: 4 << 20,
		MaxDepth:    32,
		MaxElements: 100_000,
	}
}

func (l Limits) orDefaults() Limits {
	d := DefaultLimits()
	if l.MaxArchive <= 0 {
		l.MaxArchive = d.MaxArchive
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxEntry <= 0 {
		l.MaxEntry = d.MaxEntry
	}
	if l.MaxTotal <= 0 {
		l.MaxTotal = d.MaxTotal
	}
	if l.MaxMetadata <= 0 {
		l.MaxMetadata = d.MaxMetadata
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = d.MaxElements
	}
	return l
}

// Names of the package layout (ITI TF-2b §3.32.4.1.2.2).
const (
	rootDir      = "IHE_XDM"
	metadataName = "METADATA.XML"
	indexName    = "INDEX.HTM"
	readmeName   = "README.TXT"
)

// Namespaces of ebXML Registry 3.0 (OASIS ebRS/ebRIM 3.0), the only version XDM uses since
// XDS.b.
const (
	nsLCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
	nsRIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
)

// The UUIDs of XDS metadata (ITI TF-3 §4.2.5 and Table 4.2.5.1-1 … 4.2.5.2-1).
const (
	// DocumentEntry
	objectTypeStable   = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
	objectTypeOnDemand = "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248"
	schemeAuthor       = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
	schemeClass        = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
	schemeConfidential = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
	schemeEvent        = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
	schemeFormat       = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
	schemeFacility     = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
	schemePractice     = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
	schemeType         = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
	idPatientID        = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
	idUniqueID         = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"

	// SubmissionSet
	nodeSubmissionSet = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
	schemeSSAuthor    = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
	schemeSSContent   = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
	idSSUniqueID      = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
	idSSSourceID      = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
	idSSPatientID     = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"

	statusApproved = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
	assocHasMember = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
	otClass        = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification"
	otExternalID   = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier"
	otPackage      = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage"
	otAssociation  = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association"
)

// Slot names (ITI TF-3 §4.2.3.2 and §4.2.3.3).
const (
	slotCreationTime      = "creationTime"
	slotServiceStart      = "serviceStartTime"
	slotServiceStop       = "serviceStopTime"
	slotSourcePatientID   = "sourcePatientId"
	slotSourcePatientInfo = "sourcePatientInfo"
	slotLanguage          = "languageCode"
	slotSize              = "size"
	slotHash              = "hash"
	slotURI               = "URI"
	slotLegalAuth         = "legalAuthenticator"
	slotReferenceIDs      = "urn:ihe:iti:xds:2013:referenceIdList"
	slotSubmissionTime    = "submissionTime"
	slotRecipient         = "intendedRecipient"
	slotCodingScheme      = "codingScheme"
	slotAuthorPerson      = "authorPerson"
	slotAuthorInstitution = "authorInstitution"
	slotAuthorRole        = "authorRole"
	slotAuthorSpecialty   = "authorSpecialty"
	slotAuthorTelecom     = "authorTelecommunication"
)

// visibilitySystem is the code system of the visibility labels of the French national record
// (TRE_A07-StatusVisibiliteDocument), carried as confidentialityCode values (JDV_J08).
const visibilitySystem = "1.2.250.1.213.1.1.4.13"
