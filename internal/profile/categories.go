package profile

import (
	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// Category is the record category an item is decided as: a document type of the national
// list (JDV_J07) and the class it belongs to (TRE_A03).
type Category struct {
	Class, Type string
}

// The categories of the profile's items. Our default, from the national tables
// (internal/terminology): the profile is no document, but who may write and read an item is
// the question the access decision answers for documents, so an item is decided as the
// document of the national list that holds the same information.
//
//   - A professional's entry is a document of the "profil_medical" space, which professionals
//     feed (access: a professional deposits in the profile with a ground, or as the report of
//     an act of care, and joins the care team): the medical summary (VSM, 60591-5, class 11
//     Synthèse) holds history, allergies, family history, the blood group and the measures; the
//     medication review (56445-0, class 11) the treatments; the vaccination history (11369-6,
//     class 52 Certificat) the vaccinations.
//   - The patient's own entry (theirs, their representative's, their app's) is a document they
//     deposit: the national list gives the patient's deposits their own types, in the
//     "espace_personnel" space, which is where the decision lets the holder deposit (DOMAIN.md
//     "Who deposits"). DOCPAT01 (Synthèse déposée par le patient, class 11) for the medical
//     sections, DOCPAT07 (Certificat déposé par le patient, class 52) for vaccinations, so that
//     each section keeps one class whoever writes it; EXPPAT_3 (Directives anticipées) and
//     EXPPAT_1 (Volontés et droits du patient) for the wishes and the trusted person (CSP
//     L1111-6, a right the patient exercises), EXPPAT_2 (Autre document du patient) for the
//     emergency contacts — all class 90, which the default matrix opens to every health
//     professional, as it should be for what the patient wants carers to know.
//   - Wishes, emergency contacts and the trusted person have no professional category: they are
//     the patient's word. A professional who tries to write one is refused by the decision
//     itself (a professional may not deposit in the espace_personnel).
//
// Reading follows: the habilitation matrix gives each profession the classes and types above
// (a pharmacist reads class 11, hence allergies and treatments; a nurse also the vaccination
// types), the masking hides an item like a document, and an app reads and writes the classes
// the patient granted it.
var categories = map[Section]struct{ professional, patient Category }{
	SectionHistory:           {Category{"11", "60591-5"}, Category{"11", "DOCPAT01"}},
	SectionTreatments:        {Category{"11", "56445-0"}, Category{"11", "DOCPAT01"}},
	SectionAllergies:         {Category{"11", "60591-5"}, Category{"11", "DOCPAT01"}},
	SectionFamilyHistory:     {Category{"11", "60591-5"}, Category{"11", "DOCPAT01"}},
	SectionVaccinations:      {Category{"52", "11369-6"}, Category{"52", "DOCPAT07"}},
	SectionMeasurements:      {Category{"11", "60591-5"}, Category{"11", "DOCPAT01"}},
	SectionBloodGroup:        {Category{"11", "60591-5"}, Category{"11", "DOCPAT01"}},
	SectionWishes:            {Category{}, Category{"90", "EXPPAT_1"}},
	SectionEmergencyContacts: {Category{}, Category{"90", "EXPPAT_2"}},
	SectionTrustedPerson:     {Category{}, Category{"90", "EXPPAT_1"}},
}

// advanceDirectives is the type of the advance directives among the wishes.
var advanceDirectives = Category{"90", "EXPPAT_3"}

// categoryOf returns the category an item of section, written by an actor of kind, is decided
// as, and who deposits it for the decision. A professional writing a section that has no
// professional category is given the patient's: the decision then refuses them, and the trace
// says why (a professional does not deposit in the espace_personnel).
func categoryOf(section Section, wishKind string, kind audit.ActorKind) (Category, access.Depositor) {
	c := categories[section]
	switch kind {
	case audit.ActorProfessional:
		if c.professional.Type != "" {
			return c.professional, access.DepositedByProfessional
		}
		return c.patient, access.DepositedByProfessional
	case audit.ActorOperator, audit.ActorSystem:
		// Refused by the decision (the insurer deposits reimbursements only); described as
		// the patient's category so that the refusal says so.
		return c.patient, access.DepositedByInsurer
	}
	if section == SectionWishes && wishKind == WishAdvanceDirectives {
		return advanceDirectives, access.DepositedByPatient
	}
	return c.patient, access.DepositedByPatient
}

// CheckCategories checks the table against the terminology: each type known, of its class, in
// the space said above. A failure is a bug of ours, caught at start.
func CheckCategories(cat *terminology.Catalog) error {
	check := func(s Section, c Category, want terminology.Space) error {
		t, err := cat.Type(c.Type)
		if err != nil {
			return errs.Wrap(errs.Internal, err, "profile section %s: type %s", s, c.Type)
		}
		if t.Class != c.Class || t.Space != want {
			return errs.E(errs.Internal, "profile section %s: type %s is of class %s in %s, not %s in %s", s, c.Type, t.Class, t.Space, c.Class, want)
		}
		return nil
	}
	for s, c := range categories {
		if c.professional.Type != "" {
			if err := check(s, c.professional, terminology.SpaceProfile); err != nil {
				return err
			}
		}
		if err := check(s, c.patient, terminology.SpacePersonal); err != nil {
			return err
		}
	}
	return check(SectionWishes, advanceDirectives, terminology.SpacePersonal)
}

// Class is the document class (TRE_A03) an item of section s is decided as, whoever writes
// it: the category a patient grants an app to let it read or write the section
// (internal/catalogue says so on its pages).
func (s Section) Class() string {
	c := categories[s]
	if c.patient.Class != "" {
		return c.patient.Class
	}
	return c.professional.Class
}
