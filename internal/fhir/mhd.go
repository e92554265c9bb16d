package fhir

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// This file maps the record's documents to and from MHD resources (IHE ITI TF-3 §4.5.1 and the
// MHD "DocumentReference" mapping; the French PDSm guide profiles the same mapping).

// statusOf maps the record's status to DocumentReference.status.
func statusOf(s record.Status) string {
	switch s {
	case record.Deprecated:
		return r4.DocumentStatusSuperseded
	case record.Deleted:
		return r4.DocumentStatusEnteredInError
	}
	return r4.DocumentStatusCurrent
}

// systemURI writes a code system as FHIR wants it: URIs as they are, OIDs as urn:oid.
func systemURI(s string) string {
	switch {
	case s == "":
		return ""
	case s == "2.16.840.1.113883.6.1":
		return r4.SystemLOINC
	case strings.Contains(s, ":"):
		return s
	}
	return "urn:oid:" + s
}

// systemOID reads a code system back to the OID the record keeps, when it is one.
func systemOID(s string) string {
	if s == r4.SystemLOINC {
		return "2.16.840.1.113883.6.1"
	}
	if s == r4.SystemConfidentiality {
		return record.ConfidentialitySystem
	}
	return strings.TrimPrefix(s, "urn:oid:")
}

func concept(c record.Code) *r4.CodeableConcept {
	if c.Code == "" {
		return nil
	}
	return &r4.CodeableConcept{Coding: []r4.Coding{{System: systemURI(c.System), Code: c.Code, Display: c.Display}}}
}

func codeOf(cc *r4.CodeableConcept) record.Code {
	if cc == nil || len(cc.Coding) == 0 {
		return record.Code{}
	}
	c := cc.Coding[0]
	return record.Code{Code: c.Code, System: systemOID(c.System), Display: c.Display}
}

// Visibility labels as PDSm writes them in securityLabel (TRE_A07-StatusVisibiliteDocument).
var labelCodes = []struct {
	label access.Label
	on    func(access.Labels) bool
}{
	{access.LabelMasquePS, func(l access.Labels) bool { return l.MasquePS }},
	{access.LabelInvisiblePatient, func(l access.Labels) bool { return l.InvisiblePatient }},
	{access.LabelInvisibleRepresentants, func(l access.Labels) bool { return l.InvisibleRepresentants }},
}

func isVisibilitySystem(s string) bool { return s == r4.SystemVisibility || s == r4.OIDVisibility }

func isConfidentialitySystem(s string) bool {
	return s == r4.SystemConfidentiality || s == r4.OIDConfidentiality || s == ""
}

// documentReference writes a document as an MHD DocumentReference. base is the FHIR base URL.
func documentReference(d *record.Document, cat *terminology.Catalog, base string) r4.DocumentReference {
	size := d.Size
	sha1, _ := hex.DecodeString(d.SHA1)
	dr := r4.DocumentReference{
		ID: d.LogicalID,
		Meta: &r4.Meta{VersionID: strconv.Itoa(d.Version), LastUpdated: r4.InstantOf(d.Updated),
			Profile: []string{r4.ProfileMHDComprehensiveDocumentReference}},
		MasterIdentifier: &r4.Identifier{System: r4.SystemRFC3986, Value: "urn:oid:" + d.UniqueID},
		Identifier:       []r4.Identifier{{Use: "official", System: r4.SystemRFC3986, Value: "urn:uuid:" + d.EntryUUID}},
		Status:           statusOf(d.Status),
		Subject: &r4.Reference{Reference: "Patient/" + strconv.FormatInt(d.PatientID, 10),
			Identifier: insIdentifier(d.INS)},
		Date:        r4.InstantOf(d.Submitted),
		Description: d.Comments,
		Content: []r4.DocumentReferenceContent{{
			Attachment: r4.Attachment{ContentType: d.MimeType, Language: d.Language, URL: base + "/Binary/" + d.LogicalID,
				Size: &size, Hash: sha1, Title: d.Title, Creation: r4.DateTimeOf(d.Created)},
		}},
	}
	if d.Status == record.Approved {
		dr.DocStatus = "final"
	}
	if d.Archived {
		dr.Extension = append(dr.Extension, r4.Extension{URL: r4.ExtPDSmIsArchived, ValueBoolean: r4.Ptr(true)})
	}
	typ := &r4.CodeableConcept{Coding: []r4.Coding{{System: systemURI(d.TypeSystem), Code: d.Type}}}
	if t, err := cat.Type(d.Type); err == nil {
		typ.Coding[0].Display = t.Label
	}
	dr.Type = typ
	class := r4.CodeableConcept{Coding: []r4.Coding{{System: r4.OIDClassCode, Code: d.Class}}}
	if c, err := cat.Class(d.Class); err == nil {
		class.Coding[0].Display = c.Label
	}
	dr.Category = []r4.CodeableConcept{class}
	for _, a := range d.Authors {
		ref := r4.Reference{Display: a.Name}
		if a.ID != "" {
			ref.Identifier = &r4.Identifier{System: r4.SystemIdNatPS, Value: a.ID}
		}
		if ref.Display == "" && ref.Identifier == nil {
			ref.Display = string(a.Kind)
		}
		dr.Author = append(dr.Author, ref)
	}
	if d.LegalAuthenticator != "" {
		dr.Authenticator = &r4.Reference{Identifier: &r4.Identifier{System: r4.SystemIdNatPS, Value: d.LegalAuthenticator}}
	}
	if d.Replaces != "" {
		dr.RelatesTo = []r4.DocumentReferenceRelatesTo{{Code: "replaces", Target: r4.Reference{Reference: "DocumentReference/" + d.Replaces}}}
	}
	for _, c := range d.Confidentiality {
		dr.SecurityLabel = append(dr.SecurityLabel, *concept(record.Code{Code: c.Code, System: confidentialitySystem(c.System), Display: c.Display}))
	}
	for _, l := range labelCodes {
		if l.on(d.Labels) {
			dr.SecurityLabel = append(dr.SecurityLabel, r4.CodeableConcept{Coding: []r4.Coding{{System: r4.SystemVisibility, Code: string(l.label)}}})
		}
	}
	if d.Format.Code != "" {
		dr.Content[0].Format = &r4.Coding{System: systemURI(d.Format.System), Code: d.Format.Code, Display: d.Format.Display}
	}
	ctx := &r4.DocumentReferenceContext{
		FacilityType:    concept(d.FacilityType),
		PracticeSetting: concept(d.PracticeSetting),
	}
	if !d.ServiceStart.IsZero() {
		ctx.Period = &r4.Period{Start: r4.DateTimeOf(d.ServiceStart)}
		if !d.ServiceEnd.IsZero() {
			ctx.Period.End = r4.DateTimeOf(d.ServiceEnd)
		}
	}
	for _, e := range d.EventCodes {
		ctx.Event = append(ctx.Event, *concept(e))
	}
	for _, id := range d.ReferenceIDs {
		ctx.Related = append(ctx.Related, r4.Reference{Identifier: &r4.Identifier{Value: id}})
	}
	if d.SourcePatientID != "" {
		ctx.SourcePatientInfo = &r4.Reference{Identifier: &r4.Identifier{Value: d.SourcePatientID}}
	}
	dr.Context = ctx
	return dr
}

func confidentialitySystem(s string) string {
	if s == record.ConfidentialitySystem || s == "" {
		return r4.SystemConfidentiality
	}
	return s
}

func insIdentifier(ins identity.INS) *r4.Identifier {
	if ins.Matricule == "" {
		return nil
	}
	sys, val := ins.FHIR()
	return &r4.Identifier{System: sys, Value: val}
}

// depositOf reads an MHD DocumentReference into a deposit. patient is the INS the submission
// names (the List's subject); the DocumentReference's subject must name the same.
func depositOf(dr *r4.DocumentReference, patient identity.INS) (record.Deposit, error) {
	var problems []string
	bad := func(s string) { problems = append(problems, s) }
	dep := record.Deposit{INS: patient, Comments: dr.Description}
	if dr.Subject != nil && dr.Subject.Identifier != nil {
		ins, err := identity.FromFHIR(dr.Subject.Identifier.System, dr.Subject.Identifier.Value)
		switch {
		case err != nil:
			bad("DocumentReference.subject: " + errs.MessageOf(err))
		case patient.Matricule != "" && ins.Matricule != patient.Matricule:
			bad("DocumentReference.subject is not the patient of the submission")
		default:
			dep.INS = ins
		}
	}
	if dr.MasterIdentifier != nil {
		dep.UniqueID = strings.TrimPrefix(dr.MasterIdentifier.Value, "urn:oid:")
	}
	for _, id := range dr.Identifier {
		if v, ok := strings.CutPrefix(id.Value, "urn:uuid:"); ok {
			dep.EntryUUID = v
		}
	}
	if dr.Type != nil && len(dr.Type.Coding) > 0 {
		dep.Type, dep.TypeSystem = dr.Type.Coding[0].Code, dr.Type.Coding[0].System
	}
	if len(dr.Category) > 0 && len(dr.Category[0].Coding) > 0 {
		dep.Class = dr.Category[0].Coding[0].Code
	}
	for _, a := range dr.Author {
		au := record.Author{Kind: record.AuthorProfessional, Name: a.Display}
		if a.Identifier != nil && (a.Identifier.System == r4.SystemIdNatPS || a.Identifier.System == "") {
			au.ID = a.Identifier.Value
		}
		if au.ID == "" && au.Name == "" {
			continue
		}
		dep.Authors = append(dep.Authors, au)
	}
	if dr.Authenticator != nil && dr.Authenticator.Identifier != nil {
		dep.LegalAuthenticator = dr.Authenticator.Identifier.Value
	}
	for _, sl := range dr.SecurityLabel {
		for _, c := range sl.Coding {
			switch {
			case isVisibilitySystem(c.System):
				switch access.Label(c.Code) {
				case access.LabelMasquePS:
					dep.MasquePS = true
				case access.LabelInvisiblePatient:
					dep.InvisiblePatient = true
				case access.LabelInvisibleRepresentants:
					dep.InvisibleRepresentants = true
				default:
					bad("unknown visibility label " + c.Code)
				}
			case isConfidentialitySystem(c.System) || strings.HasPrefix(c.System, "urn:oid:") || strings.HasPrefix(c.System, "https://mos.esante.gouv.fr/"):
				dep.Confidentiality = append(dep.Confidentiality, record.Code{Code: c.Code, System: systemOID(c.System), Display: c.Display})
			default:
				bad("unknown securityLabel system " + c.System)
			}
		}
	}
	if len(dr.Content) != 1 {
		bad("DocumentReference.content: exactly one content is expected")
	} else {
		a := dr.Content[0].Attachment
		dep.MimeType, dep.Language, dep.Title = a.ContentType, a.Language, a.Title
		if a.Size != nil {
			dep.Size = *a.Size
		}
		if len(a.Hash) > 0 {
			dep.SHA1 = hex.EncodeToString(a.Hash)
		}
		if a.Creation != "" {
			t, err := a.Creation.Time(time.UTC)
			if err != nil {
				bad("content.attachment.creation: " + err.Error())
			}
			dep.Created = t
		}
		if f := dr.Content[0].Format; f != nil {
			dep.Format = record.Code{Code: f.Code, System: systemOID(f.System), Display: f.Display}
		}
	}
	if dep.Title == "" {
		dep.Title = dr.Description
	}
	if c := dr.Context; c != nil {
		if c.Period != nil {
			if c.Period.Start != "" {
				t, err := c.Period.Start.Time(time.UTC)
				if err != nil {
					bad("context.period.start: " + err.Error())
				}
				dep.ServiceStart = t
			}
			if c.Period.End != "" {
				t, err := c.Period.End.Time(time.UTC)
				if err != nil {
					bad("context.period.end: " + err.Error())
				}
				dep.ServiceEnd = t
			}
		}
		dep.FacilityType, dep.PracticeSetting = codeOf(c.FacilityType), codeOf(c.PracticeSetting)
		for i := range c.Event {
			dep.EventCodes = append(dep.EventCodes, codeOf(&c.Event[i]))
		}
		for _, r := range c.Related {
			if r.Identifier != nil && r.Identifier.Value != "" {
				dep.ReferenceIDs = append(dep.ReferenceIDs, r.Identifier.Value)
			}
		}
		if c.SourcePatientInfo != nil && c.SourcePatientInfo.Identifier != nil {
			dep.SourcePatientID = c.SourcePatientInfo.Identifier.Value
		}
	}
	if len(problems) > 0 {
		return record.Deposit{}, errs.E(errs.Invalid, "%s", strings.Join(problems, "; "))
	}
	return dep, nil
}
