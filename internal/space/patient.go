package space

import (
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// Sex as the INS referential records it.
type Sex string

const (
	Female  Sex = "F"
	Male    Sex = "M"
	Unknown Sex = "U"
)

// Patient is the person a space belongs to: the traits of a qualified identity (Référentiel
// INS: matricule + OID + birth name + first given name + birth date + sex) and how to reach
// them for notices.
type Patient struct {
	ID            int64
	INS           identity.INS
	BirthName     string
	GivenNames    string // all given names, the first one first
	UsedName      string
	BirthDate     time.Time // a date, at midnight UTC
	Sex           Sex
	Email         string
	Phone         string
	PostalAddress string
	CreatedAt     time.Time
}

// DateLayout is how dates of birth are written.
const DateLayout = "2006-01-02"

// Validate checks the identity traits.
func (p Patient) Validate(now time.Time) error {
	var problems []string
	if p.INS.Matricule == "" || !p.INS.System.IsINS() {
		problems = append(problems, "an INS with its identifier system (OID) is required")
	} else if _, err := identity.NewINS(p.INS.Matricule, p.INS.System); err != nil {
		problems = append(problems, errs.MessageOf(err))
	}
	if strings.TrimSpace(p.BirthName) == "" {
		problems = append(problems, "the birth name is required")
	}
	if strings.TrimSpace(p.GivenNames) == "" {
		problems = append(problems, "at least one given name is required")
	}
	if p.BirthDate.IsZero() || p.BirthDate.After(now) {
		problems = append(problems, "the birth date is required and cannot be in the future")
	}
	switch p.Sex {
	case Female, Male, Unknown:
	default:
		problems = append(problems, "sex must be F, M or U")
	}
	if p.Email != "" && (!strings.Contains(p.Email, "@") || strings.ContainsAny(p.Email, " \r\n<>")) {
		problems = append(problems, "the e-mail address is not valid")
	}
	if len(problems) > 0 {
		return errs.E(errs.Invalid, "patient identity: %s", strings.Join(problems, "; "))
	}
	return nil
}

// AgeAt returns the age in whole years at t.
func (p Patient) AgeAt(t time.Time) int {
	y, m, d := t.Date()
	by, bm, bd := p.BirthDate.Date()
	age := y - by
	if m < bm || (m == bm && d < bd) {
		age--
	}
	return age
}

// Role of a legal representative.
type Role string

const (
	Parent   Role = "parent"   // holder of parental authority over a minor
	Guardian Role = "guardian" // tuteur of a protected adult (or of a minor without parents)
	Curator  Role = "curator"  // curateur
)

// Representative links a person acting for a patient.
type Representative struct {
	PatientID        int64
	RepresentativeID int64
	Role             Role
	Since            time.Time
}

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool { return r == Parent || r == Guardian || r == Curator }
