package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/identity"
)

// SearchProfessionals lists professionals for the operator's page, last recorded first, with
// their organisation and sign-in login. The name is matched in any ASCII case on the family
// or the given name (SQLite's LOWER folds ASCII only; the names are usually in capitals).
func (tx *Tx) SearchProfessionals(ctx context.Context, q account.ProfessionalQuery) ([]account.ProfessionalRow, error) {
	var where []string
	var args []any
	if q.Name != "" {
		args = append(args, likeEscape(strings.ToLower(q.Name)))
		n := len(args)
		where = append(where, fmt.Sprintf(`(LOWER(p.family_name) LIKE $%d ESCAPE '\' OR LOWER(p.given_name) LIKE $%d ESCAPE '\')`, n, n))
	}
	if q.IdNat != "" {
		args = append(args, q.IdNat)
		where = append(where, fmt.Sprintf(`p.idnat_ps = $%d`, len(args)))
	}
	cond := ""
	if len(where) > 0 {
		cond = "WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, q.Limit)
	rows, err := tx.query(ctx, `SELECT p.id, p.idnat_ps, p.family_name, p.given_name, p.profession_code, p.specialty_code,
		p.organisation_id, p.email, p.created_at, COALESCE(o.structure_id, ''), COALESCE(o.name, ''), COALESCE(a.login, '')
		FROM professionals p LEFT JOIN organisations o ON o.id = p.organisation_id
		LEFT JOIN accounts a ON a.professional_id = p.id `+cond+fmt.Sprintf(` ORDER BY p.id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("search professionals: %w", err)
	}
	defer rows.Close()
	var out []account.ProfessionalRow
	for rows.Next() {
		var r account.ProfessionalRow
		var id string
		var org sql.NullInt64
		var created int64
		if err := rows.Scan(&r.ID, &id, &r.FamilyName, &r.GivenName, &r.Profession, &r.Specialty, &org, &r.Email, &created,
			&r.StructureID, &r.OrganisationName, &r.Login); err != nil {
			return nil, err
		}
		if r.IdNat, err = identity.ParseIdNatPS(id); err != nil {
			return nil, fmt.Errorf("professional %d: stored IdNat_PS: %w", r.ID, err)
		}
		r.OrganisationID, r.CreatedAt = org.Int64, fromMicros(created)
		out = append(out, r)
	}
	return out, rows.Err()
}
