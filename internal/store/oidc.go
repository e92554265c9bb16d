package store

import (
	"context"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/oidc"
	"github.com/carnet-sante/carnet/internal/space"
)

// OIDC adapts the store to OpenID Connect sign-in.
func (db *DB) OIDC() oidc.Store { return oidcStore{db} }

type oidcStore struct{ db *DB }

func (s oidcStore) UpdateOIDC(ctx context.Context, fn func(oidc.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s oidcStore) ViewOIDC(ctx context.Context, fn func(oidc.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ oidc.Tx = (*Tx)(nil)

// ProfessionalForSignIn returns a directory professional by IdNat_PS, with their account.
func (tx *Tx) ProfessionalForSignIn(ctx context.Context, idnat string) (oidc.Professional, error) {
	var p oidc.Professional
	err := tx.queryRow(ctx, `SELECT pr.id, pr.idnat_ps, pr.profession_code, pr.specialty_code, pr.family_name, pr.given_name,
			COALESCE(a.id, 0)
		FROM professionals pr LEFT JOIN accounts a ON a.professional_id = pr.id
		WHERE pr.idnat_ps = $1`, idnat).
		Scan(&p.ID, &p.IdNat, &p.Profession, &p.Specialty, &p.FamilyName, &p.GivenName, &p.AccountID)
	if err != nil {
		return oidc.Professional{}, notFound(err, "professional")
	}
	return p, nil
}

// maxCandidates bounds a traits look-up: a birth date and a sex hold a few hundred people
// nationally; far more means something is wrong, and the look-up fails rather than read on.
const maxCandidates = 5000

// PatientCandidates lists the patients of a birth date and sex whose space is not purged
// (by the patients_birth index).
func (tx *Tx) PatientCandidates(ctx context.Context, birthDate time.Time, sex space.Sex) ([]oidc.Candidate, error) {
	rows, err := tx.query(ctx, `SELECT p.id, p.birth_name, p.given_names, COALESCE(a.id, 0)
		FROM patients p JOIN spaces s ON s.patient_id = p.id
		LEFT JOIN accounts a ON a.patient_id = p.id
		WHERE p.birth_date = $1 AND p.sex = $2 AND s.state <> 'purged'
		ORDER BY p.id LIMIT $3`, birthDate.Format(space.DateLayout), string(sex), maxCandidates+1)
	if err != nil {
		return nil, fmt.Errorf("patient candidates: %w", err)
	}
	defer rows.Close()
	var out []oidc.Candidate
	for rows.Next() {
		var c oidc.Candidate
		if err := rows.Scan(&c.PatientID, &c.BirthName, &c.GivenNames, &c.AccountID); err != nil {
			return nil, fmt.Errorf("read patient candidate: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("patient candidates: %w", err)
	}
	if len(out) > maxCandidates {
		return nil, errs.E(errs.Unavailable, "too many patients share this birth date and sex to match by traits")
	}
	return out, nil
}

// LinkedAccount returns the account linked to a provider's subject.
func (tx *Tx) LinkedAccount(ctx context.Context, provider, subject string) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, `SELECT account_id FROM oidc_links WHERE provider = $1 AND subject = $2`, provider, subject).Scan(&id)
	if err != nil {
		return 0, notFound(err, "link")
	}
	return id, nil
}

// InsertLink links a provider's subject to an account. ON CONFLICT DO NOTHING rather than
// an error, so that a clash leaves a PostgreSQL transaction usable for a second look.
func (tx *Tx) InsertLink(ctx context.Context, l oidc.Link) error {
	res, err := tx.exec(ctx, `INSERT INTO oidc_links (provider, subject, account_id, created_at, last_used_at)
		VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING`, l.Provider, l.Subject, l.AccountID, micros(l.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert oidc link: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("insert oidc link: %w", err)
	} else if n == 0 {
		return errs.E(errs.Conflict, "this subject, or this account, is already linked at %s", l.Provider)
	}
	return nil
}

// TouchLink records a link's use.
func (tx *Tx) TouchLink(ctx context.Context, provider, subject string, at time.Time) error {
	res, err := tx.exec(ctx, `UPDATE oidc_links SET last_used_at = $3 WHERE provider = $1 AND subject = $2`,
		provider, subject, micros(at))
	if err != nil {
		return fmt.Errorf("touch oidc link: %w", err)
	}
	return oneRow(res, "link")
}
