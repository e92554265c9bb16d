package xdm

import (
	"strings"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
)

// Deposit returns the document's metadata as a deposit in the record. Nothing is checked
// here: the record checks a deposit whatever its channel (type, INS, authors, dates, hash).
// Identifiers the record reads in another form are converted: the entryUUID only when it is
// a UUID, the sourcePatientId to its identifier, authors and legal authenticator to
// IdNat_PS.
func (d Document) Deposit() record.Deposit {
	dep := record.Deposit{
		INS:                    d.INS,
		SourcePatientID:        parseCX(d.SourcePatientID).id,
		UniqueID:               d.UniqueID,
		Title:                  d.Title,
		Comments:               d.Comments,
		Language:               d.Language,
		Type:                   d.Type.Code,
		TypeSystem:             d.Type.System,
		Class:                  d.Class.Code,
		Format:                 d.Format,
		MimeType:               d.MimeType,
		Confidentiality:        append([]record.Code(nil), d.Confidentiality...),
		FacilityType:           d.FacilityType,
		PracticeSetting:        d.PracticeSetting,
		EventCodes:             append([]record.Code(nil), d.EventCodes...),
		ReferenceIDs:           append([]string(nil), d.ReferenceIDs...),
		LegalAuthenticator:     d.LegalAuthenticator.idNat(),
		Created:                d.Created,
		ServiceStart:           d.ServiceStart,
		ServiceEnd:             d.ServiceEnd,
		MasquePS:               d.MasquePS,
		InvisiblePatient:       d.InvisiblePatient,
		InvisibleRepresentants: d.InvisibleRepresentants,
		Size:                   d.Size,
		SHA1:                   d.SHA1,
	}
	if validUUID(d.EntryUUID) {
		dep.EntryUUID = d.EntryUUID
	}
	for _, a := range d.Authors {
		dep.Authors = append(dep.Authors, a.record())
	}
	return dep
}

// The authorSpecialty codes of JDV_J01 that name a kind of author rather than a profession
// (code system 1.2.250.1.213.1.1.4.6).
var authorKinds = map[string]record.AuthorKind{
	"EXP_PATIENT":  record.AuthorPatient, // expression personnelle du patient
	"DISPOSITIF":   record.AuthorDevice,  // dispositif médical
	"AUTOMATE":     record.AuthorDevice,  // automate
	"ALIM_AM":      record.AuthorSystem,  // alimentation automatique par l'Assurance Maladie
	"LOGICIEL_DUI": record.AuthorSystem,  // logiciel de dossier usager informatisé
	"SNR":          record.AuthorSystem,  // service numérique référencé
}

// record converts an author: a professional named by IdNat_PS, the patient (named by an INS
// or marked EXP_PATIENT), a device or a system.
func (a Author) record() record.Author {
	r := record.Author{Kind: record.AuthorProfessional, Name: strings.TrimSpace(a.Person.Given + " " + a.Person.Family)}
	if len(a.Institutions) > 0 {
		r.OrgID, r.OrgName = a.Institutions[0].ID, a.Institutions[0].Name
	}
	if len(a.Roles) > 0 {
		r.Role = a.Roles[0].Code
	}
	var specialty string
	if len(a.Specialties) > 0 {
		specialty = a.Specialties[0].Code
	}
	switch {
	case authorKinds[specialty] != "":
		r.Kind = authorKinds[specialty]
	case identity.OID(a.Person.Authority).IsINS():
		r.Kind = record.AuthorPatient
	case a.Person == (Person{}):
		r.Kind = record.AuthorSystem // an organisation or its software, with no person named
	default:
		r.ID = a.Person.idNat()
		// JDV_J01 writes a specialty under its profession: G15_10/SM26 is a doctor (G15_10)
		// qualified in general medicine; access.Actor keeps both in that form.
		r.Profession, r.Specialty = specialty, ""
		if p, _, ok := strings.Cut(specialty, "/"); ok {
			r.Profession, r.Specialty = p, specialty
		}
	}
	return r
}

// IdNatPS returns the national identifier of the person when they are a professional named
// by one: XCN.1 under the IdNat_PS system (1.2.250.1.71.4.2.1), or an RPPS or ADELI number
// that XCN.13 names as such, which becomes 8 + RPPS or 0 + ADELI.
func (p Person) IdNatPS() (identity.IdNatPS, error) {
	switch {
	case p.ID == "":
		return identity.IdNatPS{}, errs.E(errs.Invalid, "the person has no identifier")
	case p.Authority != string(identity.OIDIdNatPS) && !(p.Authority == "" && p.IDType == "IDNPS"):
		return identity.IdNatPS{}, errs.E(errs.Invalid, "the person's identifier is not an IdNat_PS (its system is %q)", clip(p.Authority))
	}
	switch strings.ToUpper(p.IDType) {
	case "RPPS":
		if _, err := identity.ParseRPPS(p.ID); err == nil {
			return identity.ParseIdNatPS(string(identity.PSRPPS) + p.ID)
		}
	case "ADELI":
		if _, err := identity.ParseADELI(p.ID); err == nil {
			return identity.ParseIdNatPS(string(identity.PSADELI) + p.ID)
		}
	}
	return identity.ParseIdNatPS(p.ID)
}

// idNat returns the IdNat_PS of the person, canonical when it parses and as written when it
// does not (the record then refuses it, saying why); "" when the person is not named by one.
func (p Person) idNat() string {
	if id, err := p.IdNatPS(); err == nil {
		return id.String()
	}
	if p.ID != "" && (p.Authority == string(identity.OIDIdNatPS) || p.Authority == "" && p.IDType == "IDNPS") {
		return p.ID
	}
	return ""
}
