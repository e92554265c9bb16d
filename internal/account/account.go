// Package account is in charge of the people and organisations carnet knows outside patient
// spaces, and of the accounts they sign in with: health professionals (IdNat_PS from an RPPS
// or ADELI number, profession, specialty, organisation), organisations (IdNat_Struct, FINESS),
// operator staff, and the login of patients. Passwords are kept as argon2id hashes only.
//
// Signing in (second factors, OpenID Connect, sessions) builds on this package; here are the
// records and the password check.
package account

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// Organisation is a health or medico-social organisation.
type Organisation struct {
	ID          int64
	StructureID identity.StructureID
	Name        string
	Town        string
	CreatedAt   time.Time
}

// FINESS returns the FINESS number when the organisation is identified by one.
func (o Organisation) FINESS() string {
	if o.StructureID.Kind == identity.StructFINESS {
		return o.StructureID.ID
	}
	return ""
}

// Professional is a health professional (or a social / medico-social one).
type Professional struct {
	ID             int64
	IdNat          identity.IdNatPS
	FamilyName     string
	GivenName      string
	Profession     string // TRE_G15 code with its prefix, e.g. G15_10 (médecin), G15_60 (infirmier)
	Specialty      string // optional, e.g. SM26 (qualified in general medicine)
	OrganisationID int64  // 0 when none
	Email          string
	CreatedAt      time.Time
}

// DisplayName is how traces and pages name the professional.
func (p Professional) DisplayName() string {
	return strings.TrimSpace(p.GivenName + " " + p.FamilyName)
}

// Kind of account.
type Kind string

const (
	KindPatient      Kind = "patient"
	KindProfessional Kind = "professional"
	KindOperator     Kind = "operator"
)

// Account is a sign-in identity.
type Account struct {
	ID             int64
	Kind           Kind
	Login          string // an e-mail address, lower case
	DisplayName    string
	PatientID      int64 // for KindPatient
	ProfessionalID int64 // for KindProfessional
	CreatedAt      time.Time
	DisabledAt     time.Time
	PasswordHash   string // argon2id, PHC string; never shown
}

// Tx is what the service needs of a store transaction.
type Tx interface {
	audit.Appender
	InsertOrganisation(ctx context.Context, o *Organisation) error // Conflict on a known structure id
	Organisation(ctx context.Context, id int64) (Organisation, error)
	OrganisationByStructureID(ctx context.Context, structureID string) (Organisation, error)
	InsertProfessional(ctx context.Context, p *Professional) error // Conflict on a known IdNat_PS
	ProfessionalByIdNat(ctx context.Context, idnat string) (Professional, error)
	// SearchProfessionals lists professionals for the operator (search.go).
	SearchProfessionals(ctx context.Context, q ProfessionalQuery) ([]ProfessionalRow, error)
	InsertAccount(ctx context.Context, a *Account) error // Conflict on a known login
	AccountByLogin(ctx context.Context, login string) (Account, error)
	SetPasswordHash(ctx context.Context, accountID int64, hash string) error
}

// Store opens transactions.
type Store interface {
	UpdateAccounts(ctx context.Context, fn func(Tx) error) error
	ViewAccounts(ctx context.Context, fn func(Tx) error) error
}

// Professions knows the profession and specialty codes (the terminology catalogue).
type Professions interface {
	Profession(code string) (terminology.Profession, error)
}

// Service manages accounts.
type Service struct {
	store       Store
	clock       clock.Clock
	params      password.Params
	professions Professions
	dummy       string // a hash to verify against when the login is unknown
}

// NewService returns the service.
func NewService(st Store, clk clock.Clock, p password.Params, professions Professions) (*Service, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	dummy, err := password.Hash("carnet-unknown-login-placeholder", p)
	if err != nil {
		return nil, err
	}
	return &Service{store: st, clock: clk, params: p, professions: professions, dummy: dummy}, nil
}

// By says who asks and through what.
type By struct {
	Actor   audit.Actor
	Channel audit.Channel
}

func (s *Service) do(ctx context.Context, by By, action, object string, act func(Tx, *audit.Entry) error) error {
	e := audit.Entry{At: s.clock.Now(), Actor: by.Actor, Channel: by.Channel, Action: action, Object: object}
	return audit.Do(ctx, s.store.UpdateAccounts, e, act)
}

// CreateOrganisation records an organisation.
func (s *Service) CreateOrganisation(ctx context.Context, by By, o Organisation) (Organisation, error) {
	o.Name, o.Town = strings.TrimSpace(o.Name), strings.TrimSpace(o.Town)
	o.CreatedAt = s.clock.Now()
	err := s.do(ctx, by, "organisation.create", "organisation/"+o.StructureID.String(), func(tx Tx, _ *audit.Entry) error {
		if o.StructureID.ID == "" {
			return errs.E(errs.Invalid, "an organisation needs a structure identifier (e.g. 1 + FINESS)")
		}
		if _, err := identity.ParseStructureID(o.StructureID.String()); err != nil {
			return err
		}
		if o.Name == "" {
			return errs.E(errs.Invalid, "an organisation needs a name")
		}
		return tx.InsertOrganisation(ctx, &o)
	})
	return o, err
}

// CreateProfessional records a professional.
func (s *Service) CreateProfessional(ctx context.Context, by By, p Professional) (Professional, error) {
	var problems []string
	if _, err := identity.ParseIdNatPS(p.IdNat.String()); p.IdNat.ID == "" || err != nil {
		problems = append(problems, "a valid IdNat_PS is required (8 + RPPS, or 0 + ADELI)")
	}
	p.FamilyName, p.GivenName = strings.TrimSpace(p.FamilyName), strings.TrimSpace(p.GivenName)
	if p.FamilyName == "" || p.GivenName == "" {
		problems = append(problems, "family and given names are required")
	}
	// The codes of the national value sets (JDV_J01, JDV_J48), as the terminology holds them.
	if prof, err := s.professions.Profession(p.Profession); err != nil || prof.Profession != p.Profession {
		problems = append(problems, "a known profession code is required, such as G15_10 (médecin) or G15_60 (infirmier)")
	} else if p.Specialty != "" {
		if _, err := s.professions.Profession(p.Profession + "/" + p.Specialty); err != nil {
			problems = append(problems, "the specialty is not one of this profession's (e.g. SM26 for G15_10)")
		}
	}
	if p.Email != "" {
		email, err := normaliseLogin(p.Email)
		if err != nil {
			problems = append(problems, errs.MessageOf(err))
		}
		p.Email = email
	}
	p.CreatedAt = s.clock.Now()
	err := s.do(ctx, by, "professional.create", "professional/"+p.IdNat.String(), func(tx Tx, _ *audit.Entry) error {
		if len(problems) > 0 {
			return errs.E(errs.Invalid, "professional: %s", strings.Join(problems, "; "))
		}
		if p.OrganisationID != 0 {
			if _, err := tx.Organisation(ctx, p.OrganisationID); err != nil {
				return err
			}
		}
		return tx.InsertProfessional(ctx, &p)
	})
	return p, err
}

// NewAccount is what CreateAccount needs.
type NewAccount struct {
	Kind           Kind
	Login          string
	DisplayName    string
	Password       string
	PatientID      int64
	ProfessionalID int64
}

// CreateAccount creates a sign-in account with a password.
func (s *Service) CreateAccount(ctx context.Context, by By, n NewAccount) (Account, error) {
	a := Account{Kind: n.Kind, DisplayName: strings.TrimSpace(n.DisplayName), PatientID: n.PatientID,
		ProfessionalID: n.ProfessionalID, CreatedAt: s.clock.Now()}
	// A valid request is hashed before the transaction, so the write lock is never held for
	// the ~20 ms of argon2id; a refused one is traced like any other refusal.
	invalid := n.validate(s.params)
	if invalid == nil {
		var err error
		if a.Login, err = normaliseLogin(n.Login); err != nil {
			return Account{}, err
		}
		if a.PasswordHash, err = password.Hash(n.Password, s.params); err != nil {
			return Account{}, err
		}
	}
	err := s.do(ctx, by, "account.create", "account/"+string(n.Kind), func(tx Tx, e *audit.Entry) error {
		e.PatientID = n.PatientID
		if invalid != nil {
			return invalid
		}
		if err := tx.InsertAccount(ctx, &a); err != nil {
			return err
		}
		e.Object = "account/" + strconv.FormatInt(a.ID, 10)
		return nil
	})
	a.PasswordHash = ""
	return a, err
}

// CheckPassword returns the account whose login and password match. An unknown login costs
// the same hashing work as a wrong password and gets the same answer, so neither timing nor
// message tells which logins exist. A hash made with older parameters is upgraded.
func (s *Service) CheckPassword(ctx context.Context, login, plain string) (Account, error) {
	denied := errs.E(errs.Forbidden, "unknown login or wrong password")
	login, err := normaliseLogin(login)
	if err != nil {
		return Account{}, denied
	}
	var a Account
	err = s.store.ViewAccounts(ctx, func(tx Tx) error {
		var err error
		a, err = tx.AccountByLogin(ctx, login)
		return err
	})
	if errs.Is(err, errs.NotFound) {
		_, _, _ = s.params.Verify(plain, s.dummy)
		return Account{}, denied
	}
	if err != nil {
		return Account{}, err
	}
	ok, rehash, err := s.params.Verify(plain, a.PasswordHash)
	if err != nil || !ok || !a.DisabledAt.IsZero() {
		return Account{}, denied
	}
	if rehash {
		if h, err := password.Hash(plain, s.params); err == nil {
			_ = s.store.UpdateAccounts(ctx, func(tx Tx) error { return tx.SetPasswordHash(ctx, a.ID, h) })
		}
	}
	a.PasswordHash = ""
	return a, nil
}

func (n NewAccount) validate(p password.Params) error {
	if _, err := normaliseLogin(n.Login); err != nil {
		return err
	}
	switch {
	case n.Kind == KindPatient && n.PatientID == 0,
		n.Kind == KindProfessional && n.ProfessionalID == 0,
		n.Kind == KindOperator && (n.PatientID != 0 || n.ProfessionalID != 0):
		return errs.E(errs.Invalid, "a %s account must name its %s", n.Kind, n.Kind)
	case n.Kind != KindPatient && n.Kind != KindProfessional && n.Kind != KindOperator:
		return errs.E(errs.Invalid, "unknown account kind %q", n.Kind)
	}
	if strings.TrimSpace(n.DisplayName) == "" {
		return errs.E(errs.Invalid, "a display name is required")
	}
	return p.CheckNew(n.Password)
}

// NormaliseLogin checks an e-mail address given as a login and returns it as accounts store
// it (trimmed, lower case), so that sign-in looks logins up the way they were recorded.
func NormaliseLogin(s string) (string, error) { return normaliseLogin(s) }

func normaliseLogin(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 254 || strings.ContainsAny(s, " \t\r\n<>,;\"") {
		return "", errs.E(errs.Invalid, "an e-mail address is required as login")
	}
	return s, nil
}

// OrganisationByStructureID returns a recorded organisation.
func (s *Service) OrganisationByStructureID(ctx context.Context, structureID string) (Organisation, error) {
	var o Organisation
	err := s.store.ViewAccounts(ctx, func(tx Tx) error {
		var err error
		o, err = tx.OrganisationByStructureID(ctx, structureID)
		return err
	})
	return o, err
}

// Professionals returns the recorded professionals among ids (IdNat_PS, canonical), by id:
// the directory's names for a patient's pages (who is in their care team). Unknown ids are
// left out.
func (s *Service) Professionals(ctx context.Context, ids []string) (map[string]Professional, error) {
	out := make(map[string]Professional, len(ids))
	err := s.store.ViewAccounts(ctx, func(tx Tx) error {
		for _, id := range ids {
			if _, done := out[id]; done {
				continue
			}
			p, err := tx.ProfessionalByIdNat(ctx, id)
			if errs.Is(err, errs.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out[id] = p
		}
		return nil
	})
	return out, err
}
