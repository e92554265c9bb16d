// Package record is the shared medical record (DMP): the documents that professionals, the
// patient and the health insurer deposit in a patient's space, their metadata (an XDS
// DocumentEntry, DOMAIN.md "Documents"), their versions, and the operations on them: deposit,
// replace, archive, delete, mask and unmask, set and clear the visibility labels, read, search.
//
// Every operation passes through the one access decision (access.Service) in the same
// transaction as what it changes, and leaves its trace there (DESIGN.md invariant 2). Bytes
// live in a blob.Store, encrypted and checked on read (invariant 3); only their Ref is kept here.
//
// Versions. A document has three identifiers (DOMAIN.md): its uniqueId, given by the sender and
// kept across replacements; its logicalId, kept across metadata changes and new on replacement
// (it is the FHIR resource id); and its entryUUID, new for each metadata version (masking, a
// label, archiving). One row per metadata version is stored; the latest one of a logicalId is
// its current row, the one searches see.
package record

import (
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// Status is the availability of a document (XDS availabilityStatus, plus deletion).
type Status string

const (
	// Approved: the document in force.
	Approved Status = "approved"
	// Deprecated: replaced by a newer version (same uniqueId, new logicalId).
	Deprecated Status = "deprecated"
	// Deleted: removed by its author, the patient or retention. The row stays, without its bytes,
	// so that traces keep naming something; the document is found by no search.
	Deleted Status = "deleted"
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool { return s == Approved || s == Deprecated || s == Deleted }

// Code is a coded value: a code and its system (an OID or a URI).
type Code struct {
	Code    string `json:"code"`
	System  string `json:"system,omitempty"`
	Display string `json:"display,omitempty"`
}

// AuthorKind says what an author is (DOMAIN.md: professional, patient, device or system).
type AuthorKind string

const (
	AuthorProfessional AuthorKind = "professional"
	AuthorPatient      AuthorKind = "patient"
	AuthorDevice       AuthorKind = "device"
	AuthorSystem       AuthorKind = "system"
)

// Author is one author of a document.
type Author struct {
	Kind AuthorKind `json:"kind"`
	// ID is the IdNat_PS of a professional; empty for the others.
	ID         string `json:"id,omitempty"`
	Name       string `json:"name,omitempty"`
	Profession string `json:"profession,omitempty"` // profession code (TRE_A02, J48)
	Specialty  string `json:"specialty,omitempty"`  // authorSpecialty, e.g. G15_10/SM26
	Role       string `json:"role,omitempty"`       // authorRole
	// Organisation is the author's institution: its IdNat_Struct and name.
	OrgID   string `json:"org_id,omitempty"`
	OrgName string `json:"org_name,omitempty"`
}

// Labels are the visibility labels of a document (DOMAIN.md, on top of confidentiality).
type Labels = access.Labels

// Document is one metadata version of a document: an XDS DocumentEntry.
type Document struct {
	PatientID int64
	INS       identity.INS // the patient's, as the space holds it
	// SourcePatientID is the patient's id in the depositor's software (sourcePatientId).
	SourcePatientID string

	UniqueID  string // given by the sender, kept across versions
	LogicalID string // kept across metadata versions, new on replacement
	EntryUUID string // new for each metadata version
	Version   int    // metadata version of this logicalId, from 1
	Status    Status
	Archived  bool
	// Replaces is the logicalId of the document this one replaced, if any.
	Replaces string

	Title    string
	Comments string
	Language string // e.g. fr-FR

	Class      string            // classCode (TRE_A03)
	Type       string            // typeCode (JDV_J07)
	TypeSystem string            // the type's code system
	Space      terminology.Space // where it is filed, from the type
	Format     Code              // formatCode
	MimeType   string

	Confidentiality []Code // 1 to 4 codes, N/R/V and the others of J08
	FacilityType    Code   // healthcareFacilityTypeCode
	PracticeSetting Code   // practiceSettingCode
	EventCodes      []Code
	ReferenceIDs    []string

	Authors            []Author
	LegalAuthenticator string // IdNat_PS

	Created      time.Time // creationTime
	ServiceStart time.Time // serviceStartTime (required)
	ServiceEnd   time.Time
	Submitted    time.Time // when the record received it (this version's deposit)
	Updated      time.Time // when this metadata version was written

	Labels Labels
	// DepositedBy and Depositor say who deposited it: the actor kind and id that acted.
	DepositedBy access.Depositor
	Depositor   string

	// The bytes, as the blob store keeps them.
	BlobID string
	Size   int64
	SHA256 string // hex
	SHA1   string // hex (XDS hash)

	// CDALevel is 1 or 3 for an HL7 CDA R2 document, 0 otherwise.
	CDALevel int
}

// Object describes the document to the access decision.
func (d *Document) Object() access.Object {
	o := access.Object{Class: d.Class, Type: d.Type, Space: d.Space, Labels: d.Labels, DepositedBy: d.DepositedBy}
	for _, c := range d.Confidentiality {
		o.Confidentiality = append(o.Confidentiality, c.Code)
	}
	for _, a := range d.Authors {
		if a.Kind == AuthorProfessional && a.ID != "" {
			o.Authors = append(o.Authors, a.ID)
		}
	}
	if d.DepositedBy == access.DepositedByProfessional && d.Depositor != "" && !contains(o.Authors, d.Depositor) {
		// The professional who deposited it counts as an author: they may see what they sent.
		o.Authors = append(o.Authors, d.Depositor)
	}
	return o
}

// Ref names the document in traces.
func (d *Document) Ref() string { return "document/" + d.LogicalID }

// Visible reports whether the document is shown in searches (not deleted).
func (d *Document) Visible() bool { return d.Status != Deleted }

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// The mime types accepted (issue 4: PDF, images, plain text, HL7 CDA R2).
var mimeTypes = map[string]bool{
	"application/pdf": true,
	"image/jpeg":      true,
	"image/png":       true,
	"image/tiff":      true,
	"text/plain":      true,
	"text/xml":        true, // HL7 CDA R2, as XDS names it
	"application/xml": true,
}

// IsCDAMime reports whether m is the mime type of an XML (CDA) document.
func IsCDAMime(m string) bool { return m == "text/xml" || m == "application/xml" }

func normMime(m string) string {
	m = strings.ToLower(strings.TrimSpace(m))
	if i := strings.IndexByte(m, ';'); i >= 0 {
		m = strings.TrimSpace(m[:i])
	}
	return m
}

// checkMime returns the mime type normalised, or an error naming it.
func checkMime(m string) (string, error) {
	n := normMime(m)
	if n == "" {
		return "", errs.E(errs.Invalid, "the document's mime type is missing")
	}
	if !mimeTypes[n] {
		return "", errs.E(errs.Invalid, "mime type %q is not accepted (PDF, JPEG, PNG, TIFF, plain text, HL7 CDA R2 XML)", n)
	}
	return n, nil
}
