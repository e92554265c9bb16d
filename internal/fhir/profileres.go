package fhir

import (
	"cmp"
	"strconv"

	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/profile"
)

// The mapping of the profile's sections to their FHIR resources, both ways. What a resource
// holds that the profile does not keep is refused (onlyElements), never dropped unnoticed;
// where FHIR offers several forms of an element ([x]), the profile keeps the one people use
// (a date rather than an age or a range).

// AllergyIntolerance ↔ allergies.

func decodeAllergy(raw []byte) (profile.Item, *r4.Reference, error) {
	var r r4.AllergyIntolerance
	if err := decodeAs(raw, &r, "clinicalStatus", "verificationStatus", "type", "category", "criticality", "code",
		"patient", "onsetDateTime", "recordedDate", "recorder", "asserter", "note", "reaction"); err != nil {
		return profile.Item{}, nil, err
	}
	var p readProblems
	a := &profile.Allergy{Type: r.Type, Criticality: r.Criticality, Onset: dateOf(r.OnsetDateTime), Note: noteText(r.Note)}
	a.Substance, a.Text = codeOfConcept(r.Code)
	a.Status = statusCode(r.ClinicalStatus, r4.SystemAllergyClinical)
	switch statusCode(r.VerificationStatus, r4.SystemAllergyVerification) {
	case "entered-in-error", "refuted":
		p.add("an allergy entered in error or refuted is deleted, not written")
	}
	switch len(r.Category) {
	case 0:
	case 1:
		a.Category = r.Category[0]
	default:
		p.add("one category is kept")
	}
	for _, re := range r.Reaction {
		// The profile keeps the reaction in words: its description, else its manifestations.
		text := re.Description
		for _, m := range re.Manifestation {
			if _, t := codeOfConcept(&m); t != "" && text == "" {
				text = t
			}
		}
		if a.Reaction != "" {
			a.Reaction += "; "
		}
		a.Reaction += text
	}
	it := profile.Item{Section: profile.SectionAllergies, Identifier: identifierOf(r.Identifier, &p), Allergy: a}
	return it, &r.Patient, p.err("AllergyIntolerance")
}

func encodeAllergy(ms *profile.Measures, it *profile.Item) r4.Resource {
	al := it.Allergy
	r := r4.AllergyIntolerance{ID: it.ID, Meta: itemMeta(it), Extension: entered(it), Identifier: identifiers(it),
		ClinicalStatus: statusConcept(r4.SystemAllergyClinical, al.Status), Type: al.Type, Criticality: al.Criticality,
		Code: conceptOf(al.Substance, al.Text), Patient: patientRef(it), OnsetDateTime: r4.DateTime(al.Onset),
		RecordedDate: r4.DateTimeOf(it.Written), Recorder: authorRef(it.Author, it.PatientID), Note: notes(al.Note)}
	if al.Category != "" {
		r.Category = []string{al.Category}
	}
	if al.Reaction != "" {
		r.Reaction = []r4.AllergyIntoleranceReaction{{Manifestation: []r4.CodeableConcept{{Text: al.Reaction}}}}
	}
	return r
}

// Condition ↔ history (antécédents).

func decodeCondition(raw []byte) (profile.Item, *r4.Reference, error) {
	var r r4.Condition
	if err := decodeAs(raw, &r, "clinicalStatus", "verificationStatus", "category", "code", "subject", "onsetDateTime",
		"abatementDateTime", "recordedDate", "recorder", "asserter", "note"); err != nil {
		return profile.Item{}, nil, err
	}
	var p readProblems
	c := &profile.Condition{Onset: dateOf(r.OnsetDateTime), End: dateOf(r.AbatementDateTime), Note: noteText(r.Note)}
	c.Code, c.Text = codeOfConcept(r.Code)
	switch st := statusCode(r.ClinicalStatus, r4.SystemConditionClinical); st {
	case "active", "recurrence", "relapse":
		c.Status = "active"
	case "inactive", "remission", "resolved":
		c.Status = "resolved"
	case "":
		if c.End != "" {
			c.Status = "resolved"
		}
	default:
		p.add("unknown clinicalStatus %q", st)
	}
	switch statusCode(r.VerificationStatus, r4.SystemConditionVerStatus) {
	case "entered-in-error", "refuted":
		p.add("a condition entered in error or refuted is deleted, not written")
	}
	for _, cat := range r.Category {
		for _, cd := range cat.Coding {
			if cd.System == SystemHistoryKind && cd.Code == "surgical" {
				c.Surgical = true
			}
		}
	}
	it := profile.Item{Section: profile.SectionHistory, Identifier: identifierOf(r.Identifier, &p), Condition: c}
	return it, &r.Subject, p.err("Condition")
}

func encodeCondition(ms *profile.Measures, it *profile.Item) r4.Resource {
	c := it.Condition
	kind := "medical"
	if c.Surgical {
		kind = "surgical"
	}
	return r4.Condition{ID: it.ID, Meta: itemMeta(it), Extension: entered(it), Identifier: identifiers(it),
		ClinicalStatus: statusConcept(r4.SystemConditionClinical, c.Status),
		Category: []r4.CodeableConcept{{Coding: []r4.Coding{
			{System: r4.SystemConditionCategory, Code: "problem-list-item"},
			{System: SystemHistoryKind, Code: kind},
		}}},
		Code: conceptOf(c.Code, c.Text), Subject: patientRef(it), OnsetDateTime: r4.DateTime(c.Onset),
		AbatementDateTime: r4.DateTime(c.End), RecordedDate: r4.DateTimeOf(it.Written),
		Recorder: authorRef(it.Author, it.PatientID), Note: notes(c.Note)}
}

// MedicationStatement ↔ treatments.

func decodeTreatment(raw []byte) (profile.Item, *r4.Reference, error) {
	var r r4.MedicationStatement
	if err := decodeAs(raw, &r, "status", "medicationCodeableConcept", "subject", "effectiveDateTime", "effectivePeriod",
		"dateAsserted", "informationSource", "reasonCode", "note", "dosage"); err != nil {
		return profile.Item{}, nil, err
	}
	var p readProblems
	t := &profile.Treatment{Note: noteText(r.Note)}
	switch r.Status {
	case "active", "completed", "stopped":
		t.Status = r.Status
	default:
		p.add("the status %q is not kept: active, completed or stopped", r.Status)
	}
	if r.MedicationCodeableConcept == nil {
		p.add("medicationCodeableConcept is required (a medicationReference is not kept)")
	}
	t.Medication, t.Text = codeOfConcept(r.MedicationCodeableConcept)
	switch {
	case r.EffectivePeriod != nil:
		t.Start, t.End = dateOf(r.EffectivePeriod.Start), dateOf(r.EffectivePeriod.End)
	case r.EffectiveDateTime != "":
		t.Start = dateOf(r.EffectiveDateTime)
	}
	if r.EffectivePeriod != nil && r.EffectiveDateTime != "" {
		p.add("one effective[x]")
	}
	for _, rc := range r.ReasonCode {
		if _, text := codeOfConcept(&rc); text != "" {
			t.Reason = text
		}
	}
	for _, d := range r.Dosage {
		if d.Text != "" {
			if t.Dosage != "" {
				t.Dosage += "; "
			}
			t.Dosage += d.Text
		}
	}
	it := profile.Item{Section: profile.SectionTreatments, Identifier: identifierOf(r.Identifier, &p), Treatment: t}
	return it, &r.Subject, p.err("MedicationStatement")
}

func encodeTreatment(ms *profile.Measures, it *profile.Item) r4.Resource {
	t := it.Treatment
	r := r4.MedicationStatement{ID: it.ID, Meta: itemMeta(it), Extension: entered(it), Identifier: identifiers(it),
		Status: t.Status, MedicationCodeableConcept: conceptOf(t.Medication, t.Text), Subject: patientRef(it),
		DateAsserted: r4.DateTimeOf(it.Written), InformationSource: authorRef(it.Author, it.PatientID), Note: notes(t.Note)}
	if t.Start != "" || t.End != "" {
		r.EffectivePeriod = &r4.Period{Start: r4.DateTime(t.Start), End: r4.DateTime(t.End)}
	}
	if t.Reason != "" {
		r.ReasonCode = []r4.CodeableConcept{{Text: t.Reason}}
	}
	if t.Dosage != "" {
		r.Dosage = []r4.Dosage{{Text: t.Dosage}}
	}
	return r
}

// Immunization ↔ vaccinations.

func decodeVaccination(raw []byte) (profile.Item, *r4.Reference, error) {
	var r r4.Immunization
	if err := decodeAs(raw, &r, "status", "vaccineCode", "patient", "occurrenceDateTime", "recorded", "primarySource",
		"lotNumber", "note", "protocolApplied"); err != nil {
		return profile.Item{}, nil, err
	}
	var p readProblems
	if r.Status != "completed" {
		p.add("the profile records the doses given (status completed), not %q", r.Status)
	}
	if r.OccurrenceDateTime == "" {
		p.add("occurrenceDateTime is required (an occurrenceString is not kept)")
	}
	v := &profile.Vaccination{Date: dateOf(r.OccurrenceDateTime), Lot: r.LotNumber, Note: noteText(r.Note)}
	v.Vaccine, v.Text = codeOfConcept(&r.VaccineCode)
	for _, pa := range r.ProtocolApplied {
		if pa.DoseNumberPositiveInt != nil {
			v.Dose = *pa.DoseNumberPositiveInt
		}
	}
	it := profile.Item{Section: profile.SectionVaccinations, Identifier: identifierOf(r.Identifier, &p), Vaccination: v}
	return it, &r.Patient, p.err("Immunization")
}

func encodeVaccination(ms *profile.Measures, it *profile.Item) r4.Resource {
	v := it.Vaccination
	primary := it.Author.Kind == "professional"
	r := r4.Immunization{ID: it.ID, Meta: itemMeta(it), Extension: entered(it), Identifier: identifiers(it),
		Status: "completed", Patient: patientRef(it), OccurrenceDateTime: r4.DateTime(v.Date),
		Recorded: r4.DateTimeOf(it.Written), PrimarySource: &primary, LotNumber: v.Lot, Note: notes(v.Note)}
	if cc := conceptOf(v.Vaccine, v.Text); cc != nil {
		r.VaccineCode = *cc
	}
	if v.Dose > 0 {
		r.ProtocolApplied = []r4.ImmunizationProtocolApplied{{DoseNumberPositiveInt: r4.Ptr(v.Dose)}}
	}
	return r
}

// FamilyMemberHistory ↔ family history: one condition of one relative per item.

func decodeFamily(raw []byte) (profile.Item, *r4.Reference, error) {
	var r r4.FamilyMemberHistory
	if err := decodeAs(raw, &r, "status", "patient", "date", "relationship", "condition", "note"); err != nil {
		return profile.Item{}, nil, err
	}
	var p readProblems
	switch r.Status {
	case "completed", "partial":
	default:
		p.add("the status %q is not kept: completed or partial", r.Status)
	}
	f := &profile.FamilyHistory{Note: noteText(r.Note)}
	f.Relationship, _ = codeOfConcept(&r.Relationship)
	if len(r.Condition) != 1 {
		p.add("one condition per FamilyMemberHistory is kept, not %d", len(r.Condition))
	} else {
		c := r.Condition[0]
		f.Condition, f.Text = codeOfConcept(&c.Code)
		if a := c.OnsetAge; a != nil {
			n, err := strconv.Atoi(string(a.Value))
			if err != nil || a.Code != "a" {
				p.add("condition.onsetAge is kept in whole years (code a)")
			}
			f.OnsetAge = n
		}
		if c.OnsetRange != nil || c.OnsetPeriod != nil || c.OnsetString != "" || c.Outcome != nil || len(c.Note) > 0 {
			p.add("of a condition, the profile keeps its code and its onsetAge")
		}
	}
	it := profile.Item{Section: profile.SectionFamilyHistory, Identifier: identifierOf(r.Identifier, &p), Family: f}
	return it, &r.Patient, p.err("FamilyMemberHistory")
}

func encodeFamily(ms *profile.Measures, it *profile.Item) r4.Resource {
	f := it.Family
	cond := r4.FamilyMemberHistoryCondition{}
	if cc := conceptOf(f.Condition, f.Text); cc != nil {
		cond.Code = *cc
	}
	if f.OnsetAge > 0 {
		cond.OnsetAge = &r4.Quantity{Value: jsonNumber(float64(f.OnsetAge)), Unit: "a", System: r4.SystemUCUM, Code: "a"}
	}
	rel := conceptOf(f.Relationship, "")
	r := r4.FamilyMemberHistory{ID: it.ID, Meta: itemMeta(it), Extension: entered(it), Identifier: identifiers(it),
		Status: "completed", Patient: patientRef(it), Date: r4.DateTimeOf(it.Written),
		Condition: []r4.FamilyMemberHistoryCondition{cond}, Note: notes(f.Note)}
	if rel != nil {
		r.Relationship = *rel
	}
	return r
}

// RelatedPerson ↔ emergency contacts and the trusted person, told apart by their role.

const (
	codeEmergencyContact = "emergency-contact"
	codeTrustedPerson    = "trusted-person"
)

// relatedSections reads the relationship search parameter into the sections it selects.
func relatedSections(codes []string) []profile.Section {
	var out []profile.Section
	for _, c := range codes {
		switch c {
		case codeTrustedPerson:
			out = append(out, profile.SectionTrustedPerson)
		case codeEmergencyContact, "C":
			out = append(out, profile.SectionEmergencyContacts)
		}
	}
	return out
}

func decodeRelated(raw []byte) (profile.Item, *r4.Reference, error) {
	var r r4.RelatedPerson
	if err := decodeAs(raw, &r, "active", "patient", "relationship", "name", "telecom"); err != nil {
		return profile.Item{}, nil, err
	}
	var p readProblems
	c := &profile.Contact{}
	section := profile.Section("")
	for _, rel := range r.Relationship {
		for _, cd := range rel.Coding {
			switch {
			case cd.System == SystemContactRole && cd.Code == codeTrustedPerson:
				section = profile.SectionTrustedPerson
			case cd.System == SystemContactRole && cd.Code == codeEmergencyContact,
				cd.System == r4.SystemV2ContactRole && cd.Code == "C":
				if section == "" {
					section = profile.SectionEmergencyContacts
				}
			case cd.System == r4.SystemV3RoleCode:
				c.Relationship = profile.Code{System: cd.System, Code: cd.Code, Display: cd.Display}
			}
		}
	}
	if section == "" {
		p.add("relationship must say an emergency contact (%s|C) or the trusted person (%s|%s)", r4.SystemV2ContactRole,
			SystemContactRole, codeTrustedPerson)
	}
	if r.Active != nil && !*r.Active {
		p.add("an inactive contact is deleted, not written")
	}
	switch len(r.Name) {
	case 0:
	case 1:
		n := r.Name[0]
		c.Name = n.Text
		if c.Name == "" {
			for _, g := range n.Given {
				c.Name += g + " "
			}
			c.Name += n.Family
		}
	default:
		p.add("one name is kept")
	}
	for _, t := range r.Telecom {
		switch {
		case t.System == "phone" && c.Phone == "":
			c.Phone = t.Value
		case t.System == "email" && c.Email == "":
			c.Email = t.Value
		default:
			p.add("one phone number and one e-mail address are kept")
		}
	}
	it := profile.Item{Section: section, Identifier: identifierOf(r.Identifier, &p), Contact: c}
	return it, &r.Patient, p.err("RelatedPerson")
}

func encodeRelated(ms *profile.Measures, it *profile.Item) r4.Resource {
	c := it.Contact
	role := r4.CodeableConcept{Coding: []r4.Coding{{System: SystemContactRole, Code: codeTrustedPerson, Display: "Personne de confiance"}}}
	if it.Section == profile.SectionEmergencyContacts {
		role = r4.CodeableConcept{Coding: []r4.Coding{
			{System: SystemContactRole, Code: codeEmergencyContact, Display: "Contact en cas d'urgence"},
			{System: r4.SystemV2ContactRole, Code: "C", Display: "Emergency Contact"},
		}}
	}
	r := r4.RelatedPerson{ID: it.ID, Meta: itemMeta(it), Extension: entered(it), Identifier: identifiers(it),
		Active: r4.Ptr(true), Patient: patientRef(it), Relationship: []r4.CodeableConcept{role},
		Name: []r4.HumanName{{Text: c.Name}}}
	if !c.Relationship.IsZero() {
		r.Relationship = append(r.Relationship, *conceptOf(c.Relationship, ""))
	}
	if c.Phone != "" {
		r.Telecom = append(r.Telecom, r4.ContactPoint{System: "phone", Value: c.Phone})
	}
	if c.Email != "" {
		r.Telecom = append(r.Telecom, r4.ContactPoint{System: "email", Value: c.Email})
	}
	return r
}

// Consent ← wishes. Only written (in the space's Bundle): the profile takes wishes from the
// patient's pages, not over FHIR.

const (
	// SystemWishKind says which of the patient's wishes a Consent states.
	SystemWishKind = "https://carnet-sante.org/fhir/CodeSystem/profile-wish-kind"
	// SystemConsentScope is HL7's code system of a Consent's scope.
	SystemConsentScope = "http://terminology.hl7.org/CodeSystem/consentscope"
)

// encodeWish writes a wish as a Consent of scope adr (advance directive), the patient's own
// statement: its text is the Consent's source; a position on organ donation permits or denies.
func encodeWish(_ *profile.Measures, it *profile.Item) r4.Resource {
	w := it.Wish
	label, rule := "Autre volonté", ""
	category := []r4.Coding{{System: SystemWishKind, Code: w.Kind}}
	switch w.Kind {
	case profile.WishAdvanceDirectives:
		label, rule = "Directives anticipées", "Code de la santé publique, article L1111-11"
		category = append(category, r4.Coding{System: r4.SystemLOINC, Code: "42348-3", Display: "Advance healthcare directives"})
	case profile.WishOrganDonation:
		label, rule = "Position sur le don d'organes", "Code de la santé publique, article L1232-1"
	}
	category[0].Display = label
	pat := patientRef(it)
	r := r4.Consent{ID: it.ID, Meta: itemMeta(it), Extension: entered(it), Identifier: identifiers(it), Status: "active",
		Scope:    r4.CodeableConcept{Coding: []r4.Coding{{System: SystemConsentScope, Code: "adr", Display: "Advanced Care Directive"}}},
		Category: []r4.CodeableConcept{{Coding: category, Text: label}}, Patient: &pat, Performer: []r4.Reference{pat},
		DateTime: r4.DateTime(w.Date), PolicyRule: &r4.CodeableConcept{Text: cmp.Or(rule, "Volonté exprimée par la personne")}}
	if w.Text != "" {
		r.SourceAttachment = &r4.Attachment{ContentType: "text/plain; charset=utf-8", Data: []byte(w.Text), Title: label}
	}
	switch w.Consent {
	case "yes":
		r.Provision = &r4.ConsentProvision{Type: "permit"}
	case "no":
		r.Provision = &r4.ConsentProvision{Type: "deny"}
	}
	return r
}
