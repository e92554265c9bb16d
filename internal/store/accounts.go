package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// Accounts adapts the store to the account service.
func (db *DB) Accounts() account.Store { return accountStore{db} }

type accountStore struct{ db *DB }

func (s accountStore) UpdateAccounts(ctx context.Context, fn func(account.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s accountStore) ViewAccounts(ctx context.Context, fn func(account.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ account.Tx = (*Tx)(nil)

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// InsertOrganisation stores an organisation and sets its id.
func (tx *Tx) InsertOrganisation(ctx context.Context, o *account.Organisation) error {
	var finess sql.NullString
	if f := o.FINESS(); f != "" {
		finess = sql.NullString{String: f, Valid: true}
	}
	err := tx.queryRow(ctx, `INSERT INTO organisations (structure_id, finess, name, town, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		o.StructureID.String(), finess, o.Name, o.Town, micros(o.CreatedAt)).Scan(&o.ID)
	if isUniqueViolation(err) {
		return errs.E(errs.Conflict, "organisation %s is already recorded", o.StructureID.String())
	}
	if err != nil {
		return fmt.Errorf("insert organisation: %w", err)
	}
	return nil
}

// Organisation returns an organisation by id.
func (tx *Tx) Organisation(ctx context.Context, id int64) (account.Organisation, error) {
	return tx.organisation(ctx, `id = $1`, id)
}

// OrganisationByStructureID returns an organisation by IdNat_Struct.
func (tx *Tx) OrganisationByStructureID(ctx context.Context, structureID string) (account.Organisation, error) {
	return tx.organisation(ctx, `structure_id = $1`, structureID)
}

func (tx *Tx) organisation(ctx context.Context, where string, arg any) (account.Organisation, error) {
	var o account.Organisation
	var sid string
	var created int64
	err := tx.queryRow(ctx, `SELECT id, structure_id, name, town, created_at FROM organisations WHERE `+where, arg).
		Scan(&o.ID, &sid, &o.Name, &o.Town, &created)
	if err != nil {
		return o, notFound(err, "organisation")
	}
	if o.StructureID, err = identity.ParseStructureID(sid); err != nil {
		return o, fmt.Errorf("organisation %d: stored structure id: %w", o.ID, err)
	}
	o.CreatedAt = fromMicros(created)
	return o, nil
}

// InsertProfessional stores a professional and sets its id.
func (tx *Tx) InsertProfessional(ctx context.Context, p *account.Professional) error {
	err := tx.queryRow(ctx, `INSERT INTO professionals (idnat_ps, family_name, given_name, profession_code,
		specialty_code, organisation_id, email, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		p.IdNat.String(), p.FamilyName, p.GivenName, p.Profession, p.Specialty, nullID(p.OrganisationID),
		p.Email, micros(p.CreatedAt)).Scan(&p.ID)
	if isUniqueViolation(err) {
		return errs.E(errs.Conflict, "professional %s is already recorded", p.IdNat.String())
	}
	if err != nil {
		return fmt.Errorf("insert professional: %w", err)
	}
	return nil
}

// ProfessionalByIdNat returns a professional by IdNat_PS.
func (tx *Tx) ProfessionalByIdNat(ctx context.Context, idnat string) (account.Professional, error) {
	var p account.Professional
	var id string
	var org sql.NullInt64
	var created int64
	err := tx.queryRow(ctx, `SELECT id, idnat_ps, family_name, given_name, profession_code, specialty_code,
		organisation_id, email, created_at FROM professionals WHERE idnat_ps = $1`, idnat).
		Scan(&p.ID, &id, &p.FamilyName, &p.GivenName, &p.Profession, &p.Specialty, &org, &p.Email, &created)
	if err != nil {
		return p, notFound(err, "professional")
	}
	if p.IdNat, err = identity.ParseIdNatPS(id); err != nil {
		return p, fmt.Errorf("professional %d: stored IdNat_PS: %w", p.ID, err)
	}
	p.OrganisationID, p.CreatedAt = org.Int64, fromMicros(created)
	return p, nil
}

// InsertAccount stores an account and sets its id.
func (tx *Tx) InsertAccount(ctx context.Context, a *account.Account) error {
	err := tx.queryRow(ctx, `INSERT INTO accounts (kind, login, display_name, password_hash, patient_id,
		professional_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		string(a.Kind), a.Login, a.DisplayName, a.PasswordHash, nullID(a.PatientID), nullID(a.ProfessionalID),
		micros(a.CreatedAt)).Scan(&a.ID)
	if isUniqueViolation(err) {
		return errs.E(errs.Conflict, "this login, or this person, already has an account")
	}
	if err != nil {
		return fmt.Errorf("insert account: %w", err)
	}
	return nil
}

// AccountByLogin returns an account with its password hash.
func (tx *Tx) AccountByLogin(ctx context.Context, login string) (account.Account, error) {
	var a account.Account
	var kind string
	var patient, pro, disabled sql.NullInt64
	var created int64
	err := tx.queryRow(ctx, `SELECT id, kind, login, display_name, password_hash, patient_id, professional_id,
		created_at, disabled_at FROM accounts WHERE login = $1`, login).
		Scan(&a.ID, &kind, &a.Login, &a.DisplayName, &a.PasswordHash, &patient, &pro, &created, &disabled)
	if err != nil {
		return a, notFound(err, "account")
	}
	a.Kind, a.PatientID, a.ProfessionalID = account.Kind(kind), patient.Int64, pro.Int64
	a.CreatedAt, a.DisabledAt = fromMicros(created), fromNullMicros(disabled)
	return a, nil
}

// SetPasswordHash replaces an account's password hash.
func (tx *Tx) SetPasswordHash(ctx context.Context, accountID int64, hash string) error {
	_, err := tx.exec(ctx, `UPDATE accounts SET password_hash = $2 WHERE id = $1`, accountID, hash)
	return err
}
