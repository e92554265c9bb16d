package r4

// Canonical URLs and code systems of IHE MHD 4.x (https://profiles.ihe.net/ITI/MHD/) and of
// the French PDSm guide by ANS (https://interop.esante.gouv.fr/ig/fhir/pdsm/, version 3.1),
// checked against the published StructureDefinitions and examples of both guides.

// IHE MHD profiles.
const (
	mhdSD = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/"

	ProfileMHDMinimalDocumentReference                  = mhdSD + "IHE.MHD.Minimal.DocumentReference"
	ProfileMHDUnContainedComprehensiveDocumentReference = mhdSD + "IHE.MHD.UnContained.Comprehensive.DocumentReference"
	ProfileMHDComprehensiveDocumentReference            = mhdSD + "IHE.MHD.Comprehensive.DocumentReference"
	ProfileMHDMinimalSubmissionSet                      = mhdSD + "IHE.MHD.Minimal.SubmissionSet"
	ProfileMHDUnContainedComprehensiveSubmissionSet     = mhdSD + "IHE.MHD.UnContained.Comprehensive.SubmissionSet"
	ProfileMHDComprehensiveSubmissionSet                = mhdSD + "IHE.MHD.Comprehensive.SubmissionSet"
	ProfileMHDMinimalProvideBundle                      = mhdSD + "IHE.MHD.Minimal.ProvideBundle"
	ProfileMHDUnContainedComprehensiveProvideBundle     = mhdSD + "IHE.MHD.UnContained.Comprehensive.ProvideBundle"
	ProfileMHDComprehensiveProvideBundle                = mhdSD + "IHE.MHD.Comprehensive.ProvideBundle"
	ProfileMHDMinimalFolder                             = mhdSD + "IHE.MHD.Minimal.Folder"
)

// IHE MHD extensions of List (SubmissionSet, Folder) and of List.source.
const (
	ExtMHDDesignationType   = mhdSD + "ihe-designationType"   // valueCodeableConcept: SubmissionSet.contentTypeCode
	ExtMHDSourceID          = mhdSD + "ihe-sourceId"          // valueIdentifier: SubmissionSet.sourceId (an OID)
	ExtMHDIntendedRecipient = mhdSD + "ihe-intendedRecipient" // valueReference
	ExtMHDAuthorOrg         = mhdSD + "ihe-authorOrg"         // valueReference, on List.source
)

// MHD list types: List.code tells a SubmissionSet from a Folder.
const (
	SystemMHDListTypes    = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
	ListTypeSubmissionSet = "submissionset"
	ListTypeFolder        = "folder"
	SystemRFC3986         = "urn:ietf:rfc:3986" // Identifier.system of uniqueId and entryUUID ("urn:oid:…", "urn:uuid:…")
	ListModeWorking       = "working"           // List.mode of a SubmissionSet and a Folder
)

// PDSm (ANS) profiles and extensions.
const (
	pdsmSD = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"

	ProfilePDSmProvideDocumentBundle       = pdsmSD + "pdsm-comprehensive-provide-document-bundle"
	ProfilePDSmDocumentReference           = pdsmSD + "pdsm-comprehensive-document-reference"
	ProfilePDSmSubmissionSet               = pdsmSD + "pdsm-submissionset-comprehensive"
	ProfilePDSmFolder                      = pdsmSD + "pdsm-folder-comprehensive"
	ProfilePDSmSimplifiedPublish           = pdsmSD + "pdsm-simplified-publish" // ITI-105-like: the document inline in attachment.data
	ProfilePDSmFindDocumentReferencesReply = pdsmSD + "pdsm-find-documentreferences-comprehensive-response"
	ProfilePDSmFindListsReply              = pdsmSD + "pdsm-find-lists-response"

	ExtPDSmIsArchived        = pdsmSD + "pdsm-ext-is-archived"        // valueBoolean
	ExtPDSmIsDeleted         = pdsmSD + "pdsm-ext-is-deleted"         // valueBoolean
	ExtPDSmIntendedRecipient = pdsmSD + "pdsm-ext-intended-recipient" // valueReference
)

// Identifier systems of French health identities (see DOMAIN: Identities).
const (
	SystemINSNIR     = "urn:oid:1.2.250.1.213.1.4.8"  // INS from the NIR
	SystemINSNIA     = "urn:oid:1.2.250.1.213.1.4.9"  // INS from a NIA (provisional number)
	SystemINSNIRTest = "urn:oid:1.2.250.1.213.1.4.10" // test NIR
	SystemINSNIRDemo = "urn:oid:1.2.250.1.213.1.4.11" // demonstration NIR
	SystemIdNatPS    = "urn:oid:1.2.250.1.71.4.2.1"   // IdNat_PS: national id of a professional (8+RPPS, 0+ADELI, ...)
	SystemIdNatStruc = "urn:oid:1.2.250.1.71.4.2.2"   // IdNat_Struct: national id of an organisation
)

// Code systems of the XDS metadata. The ANS terminologies (TRE_*) each have an OID, used in XDS
// and CDA, and a FHIR canonical URL, which is what PDSm examples put in Coding.system. Accept
// both on input; write the URL.
const (
	// classCode → DocumentReference.category.
	OIDClassCode    = "urn:oid:1.2.250.1.213.1.1.4.1"
	SystemClassCode = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"

	// typeCode → DocumentReference.type: LOINC mostly, else the CI-SIS complementary types.
	SystemLOINC           = "http://loinc.org"
	OIDLOINC              = "urn:oid:2.16.840.1.113883.6.1"
	OIDTypeCodeCISIS      = "urn:oid:1.2.250.1.213.1.1.4.12"
	SystemTypeCodeCISIS   = "https://mos.esante.gouv.fr/NOS/TRE_A05-TypeDocComplementaire/FHIR/TRE-A05-TypeDocComplementaire"
	OIDConfidentiality    = "urn:oid:2.16.840.1.113883.5.25" // HL7 v3 Confidentiality: N, R, V
	SystemConfidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
	// The ANS visibility labels (MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX)
	// travel as securityLabel too.
	OIDVisibility    = "urn:oid:1.2.250.1.213.1.1.4.13"
	SystemVisibility = "https://mos.esante.gouv.fr/NOS/TRE_A07-StatusVisibiliteDocument/FHIR/TRE-A07-StatusVisibiliteDocument"

	// formatCode → DocumentReference.content.format: the CI-SIS formats (TRE_A06) and the IHE
	// ones (TRE_A11).
	OIDFormatCodeCISIS    = "urn:oid:1.2.250.1.213.1.1.4.2.282"
	SystemFormatCodeCISIS = "https://mos.esante.gouv.fr/NOS/TRE_A06-FormatCodeComplementaire/FHIR/TRE-A06-FormatCodeComplementaire"
	OIDFormatCodeIHE      = "urn:oid:1.3.6.1.4.1.19376.1.2.3"
	SystemFormatCodeIHE   = "https://mos.esante.gouv.fr/NOS/TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode"

	// healthcareFacilityTypeCode → context.facilityType: activity sectors (TRE_R02) for
	// professionals, TRE_A00 for the patient's own documents.
	OIDFacilityType          = "urn:oid:1.2.250.1.71.4.2.4"
	SystemFacilityType       = "https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite"
	OIDProducerNonPS         = "urn:oid:1.2.250.1.213.1.1.4.6"
	SystemProducerNonPS      = "https://mos.esante.gouv.fr/NOS/TRE_A00-ProducteurDocNonPS/FHIR/TRE-A00-ProducteurDocNonPS"
	OIDPracticeSetting       = "urn:oid:1.2.250.1.213.1.1.4.9" // practiceSettingCode → context.practiceSetting
	SystemPracticeSetting    = "https://mos.esante.gouv.fr/NOS/TRE_A01-CadreExercice/FHIR/TRE-A01-CadreExercice"
	OIDReferenceIDTypeDMP    = "urn:oid:1.2.250.1.213.1.1.4.347" // types of referenceIdList identifiers
	SystemV3ActReason        = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	SystemAuditEventType     = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	SystemDICOMAuditEventIDs = "http://dicom.nema.org/resources/ontology/DCM"
)

// The national value sets (JDV) of the CI-SIS that bind the XDS codes, by OID (as in the SVS
// files of shared/data/terminology) and by FHIR URL.
const (
	OIDValueSetFacilityType    = "urn:oid:1.2.250.1.213.1.1.5.466" // JDV_J02
	OIDValueSetPracticeSetting = "urn:oid:1.2.250.1.213.1.1.5.467" // JDV_J04
	OIDValueSetTypeCode        = "urn:oid:1.2.250.1.213.1.1.5.471" // JDV_J07
	OIDValueSetConfidentiality = "urn:oid:1.2.250.1.213.1.1.5.463" // JDV_J08

	ValueSetFacilityType    = "https://mos.esante.gouv.fr/NOS/JDV_J02-XdsHealthcareFacilityTypeCode-CISIS/FHIR/JDV-J02-XdsHealthcareFacilityTypeCode-CISIS"
	ValueSetPracticeSetting = "https://mos.esante.gouv.fr/NOS/JDV_J04-XdsPracticeSettingCode-CISIS/FHIR/JDV-J04-XdsPracticeSettingCode-CISIS"
	ValueSetClassCode       = "https://mos.esante.gouv.fr/NOS/JDV_J06-XdsClassCode-CISIS/FHIR/JDV-J06-XdsClassCode-CISIS"
	ValueSetTypeCode        = "https://mos.esante.gouv.fr/NOS/JDV_J07-XdsTypeCode-CISIS/FHIR/JDV-J07-XdsTypeCode-CISIS"
	ValueSetConfidentiality = "https://mos.esante.gouv.fr/NOS/JDV_J08-XdsConfidentialityCode-CISIS/FHIR/JDV-J08-XdsConfidentialityCode-CISIS"
	ValueSetFormatCode      = "https://mos.esante.gouv.fr/NOS/JDV_J10-XdsFormatCode-CISIS/FHIR/JDV-J10-XdsFormatCode-CISIS"
)

// MIME types of FHIR JSON (FHIR R4 §3.1.0.1.1).
const (
	MIMEFHIRJSON = "application/fhir+json"
	MIMEJSON     = "application/json"
)
