package account

import (
	"context"
	"strings"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// ProfessionalQuery selects recorded professionals for the operator's list. With neither
// criterion, the last recorded come first.
type ProfessionalQuery struct {
	Name  string // part of the family or given name, any case (ASCII case: SQLite's LOWER)
	IdNat string // an IdNat_PS, or an RPPS number (11 digits)
	Limit int    // default 50, at most 200
}

// ProfessionalRow is a professional as the operator's list shows them.
type ProfessionalRow struct {
	Professional
	StructureID      string // the organisation's IdNat_Struct, "" for none
	OrganisationName string
	Login            string // the sign-in account's login, "" for none
}

// SearchProfessionals lists recorded professionals, last recorded first. The list names
// professionals, no patient and no health data: it is not traced.
func (s *Service) SearchProfessionals(ctx context.Context, q ProfessionalQuery) ([]ProfessionalRow, error) {
	q.Name, q.IdNat = strings.TrimSpace(q.Name), strings.TrimSpace(q.IdNat)
	if len(q.Name) > 100 {
		return nil, errs.E(errs.Invalid, "the name searched is longer than 100 characters")
	}
	if q.IdNat != "" {
		if r, err := identity.ParseRPPS(q.IdNat); err == nil {
			q.IdNat = string(identity.PSRPPS) + string(r)
		} else if id, err := identity.ParseIdNatPS(q.IdNat); err == nil {
			q.IdNat = id.String()
		} else {
			return nil, errs.E(errs.Invalid, "the identifier is neither an RPPS number nor an IdNat_PS")
		}
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 200)
	var out []ProfessionalRow
	err := s.store.ViewAccounts(ctx, func(tx Tx) error {
		var err error
		out, err = tx.SearchProfessionals(ctx, q)
		return err
	})
	return out, err
}
