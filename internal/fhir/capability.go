package fhir

import (
	"github.com/carnet-sante/carnet/internal/fhir/r4"
)

// capabilityDate is when this statement last changed.
const capabilityDate = "2026-11-25"

// capabilities are the resources of the capabilities the API serves as it is configured,
// beyond the documents' and the trail's: the profile's, Appointment, QuestionnaireResponse
// (once the questionnaires are given) and the directory's (once given). It is the one list:
// GET /fhir/metadata answers from it, whichever mux is in front (profileRoutes,
// appointmentRoutes pass it through), so that a resource served is a resource declared.
func (a *API) capabilities() []r4.CapabilityStatementResource {
	var out []r4.CapabilityStatementResource
	if a.d.Profile != nil {
		out = append(out, profileCapabilities()...)
	}
	if a.d.Agenda != nil {
		out = append(out, appointmentCapability())
	}
	if ref := a.questionnaires.Load(); ref != nil && ref.s != nil {
		out = append(out, questionnaireCapability())
	}
	return append(out, a.directoryCapabilities()...)
}

// capability is the server's CapabilityStatement: what /fhir/metadata answers. extra are the
// resources of the capabilities served when configured (the profile's: profileCapabilities).
func capability(base, version string, extra ...r4.CapabilityStatementResource) r4.CapabilityStatement {
	param := func(name, typ, doc string) r4.CapabilityStatementSearchParam {
		return r4.CapabilityStatementSearchParam{Name: name, Type: typ, Documentation: doc}
	}
	inter := func(codes ...string) []r4.CapabilityStatementInteraction {
		out := make([]r4.CapabilityStatementInteraction, len(codes))
		for i, c := range codes {
			out[i] = r4.CapabilityStatementInteraction{Code: c}
		}
		return out
	}
	return r4.CapabilityStatement{
		URL:         base + "/metadata",
		Version:     version,
		Name:        "CarnetDocumentRecipientResponder",
		Title:       "carnet: shared medical record (IHE MHD Document Recipient and Responder, PDSm)",
		Status:      "active",
		Date:        capabilityDate,
		Publisher:   "carnet",
		Kind:        "instance",
		Description: "Deposit (ITI-65, ITI-105), find (ITI-67) and retrieve (ITI-68) documents of a patient's record; mask and label them (PATCH of securityLabel); find a patient's space by INS.",
		Instantiates: []string{
			"https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient",
			"https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentResponder",
		},
		Software:       &r4.CapabilityStatementSoftware{Name: "carnet", Version: version},
		Implementation: &r4.CapabilityStatementImplementation{Description: "carnet FHIR API", URL: base},
		FHIRVersion:    r4.FHIRVersion,
		Format:         []string{r4.MIMEFHIRJSON, "json"},
		PatchFormat:    []string{"application/json-patch+json"},
		Rest: []r4.CapabilityStatementRest{{
			Mode: "server",
			Security: &r4.CapabilityStatementSecurity{
				Service: []r4.CodeableConcept{{Coding: []r4.Coding{{System: "http://terminology.hl7.org/CodeSystem/restful-security-service", Code: "OAuth", Display: "OAuth"}}}},
				Description: "Bearer tokens (Authorization: Bearer). Every request is decided by the patient's access rules and traced. " +
					"An emergency access (break-glass) states its reason in the X-Carnet-Break-Glass header.",
			},
			Interaction: inter("transaction"),
			Resource: append([]r4.CapabilityStatementResource{
				{
					Type:             "DocumentReference",
					Profile:          "http://hl7.org/fhir/StructureDefinition/DocumentReference",
					SupportedProfile: []string{r4.ProfileMHDComprehensiveDocumentReference, r4.ProfileMHDMinimalDocumentReference},
					Interaction:      inter("read", "search-type", "create", "patch", "delete"),
					Versioning:       "versioned",
					SearchParam: []r4.CapabilityStatementSearchParam{
						param("patient.identifier", "token", "The patient's INS: urn:oid:1.2.250.1.213.1.4.8|<INS>. Required, or patient."),
						param("patient", "reference", "Patient/<id> as the Patient lookup returns it."),
						param("status", "token", "current (default) or superseded."),
						param("type", "token", "typeCode (JDV_J07)."),
						param("category", "token", "classCode (TRE_A03)."),
						param("creation", "date", "creationTime; without any date, the last two years are listed."),
						param("date", "date", "as creation."),
						param("period", "date", "the act's dates (serviceStartTime, serviceStopTime)."),
						param("security-label", "token", "MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX."),
						param("author.identifier", "token", "an author's IdNat_PS."),
						param("_archived", "special", "true: only archived documents; any: both; default false."),
						param("_count", "number", "page size, at most 1000; next pages by the next link."),
					},
				},
				{Type: "Binary", Interaction: inter("read"), Documentation: "ITI-68: the document's bytes, checked against their hashes."},
				{Type: "List", SupportedProfile: []string{r4.ProfileMHDComprehensiveSubmissionSet, r4.ProfileMHDMinimalSubmissionSet},
					Documentation: "Accepted as the SubmissionSet of an ITI-65 transaction."},
				{Type: "AuditEvent", Interaction: inter("search-type"),
					SearchParam: []r4.CapabilityStatementSearchParam{
						param("patient", "reference", "Patient/<id>; or patient.identifier with the INS. Required."),
						param("date", "date", "when the access happened"),
						param("agent.identifier", "token", "who acted (an IdNat_PS)"),
						param("subtype", "token", "carnet's action code or family (document., record., access.)"),
						param("action", "token", "C, R, U, D, E"),
						param("outcome", "token", "0 allowed, 4 refused, 8 failed"),
						param("entity", "reference", "DocumentReference/<id>"),
						param("_count", "number", "page size; next pages by the next link"),
					},
					Documentation: "The trail of every access to the patient's record: the patient's own apps read it all, a professional theirs."},
				{Type: "Patient", Interaction: inter("read", "search-type"),
					SearchParam: []r4.CapabilityStatementSearchParam{param("identifier", "token", "the INS"),
						param("_id", "token", "the patient's id, as read answers it (patient_read.go)")},
					Operation: []r4.CapabilityStatementOperation{{Name: "everything",
						Definition:    "http://hl7.org/fhir/OperationDefinition/Patient-everything",
						Documentation: "The holder's whole space: a Bundle, or with Accept: application/zip the archive with every document."}},
					Documentation: "By identifier: whether a patient has a space, and its state; no health data. " +
						"Read (and _id): the holder's identity, to whoever may read the record (an app with Patient.r)."},
			}, extra...),
		}},
	}
}
