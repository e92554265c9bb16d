package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Access adapts the store to the access service.
func (db *DB) Access() access.Store { return accessStore{db} }

type accessStore struct{ db *DB }

func (s accessStore) UpdateAccess(ctx context.Context, fn func(access.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s accessStore) ViewAccess(ctx context.Context, fn func(access.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ access.Tx = (*Tx)(nil)

// AccessPatient reads what every decision needs of the patient in one round trip: that the
// patient exists, their oppositions, whom they blocked, their médecins traitants. Each branch
// reads one patient's rows through a primary key.
func (tx *Tx) AccessPatient(ctx context.Context, patientID int64) (access.Patient, error) {
	rows, err := tx.query(ctx, `SELECT 'p', '', COALESCE(o.break_glass, FALSE), COALESCE(o.regulation, FALSE)
			FROM patients p LEFT JOIN access_oppositions o ON o.patient_id = p.id WHERE p.id = $1
		UNION ALL
		SELECT 'b', idnat_ps, FALSE, FALSE FROM access_blocked WHERE patient_id = $1
		UNION ALL
		SELECT 'm', idnat_ps, FALSE, FALSE FROM access_medecins_traitants WHERE patient_id = $1
		ORDER BY 1, 2`, patientID)
	if err != nil {
		return access.Patient{}, fmt.Errorf("read access settings: %w", err)
	}
	defer rows.Close()
	p := access.Patient{}
	found := false
	for rows.Next() {
		var kind, idnat string
		var breakGlass, regulation bool
		if err := rows.Scan(&kind, &idnat, &breakGlass, &regulation); err != nil {
			return access.Patient{}, fmt.Errorf("read access settings: %w", err)
		}
		switch kind {
		case "p":
			found, p.ID, p.OpposesBreakGlass, p.OpposesRegulation = true, patientID, breakGlass, regulation
		case "b":
			p.Blocked = append(p.Blocked, idnat)
		case "m":
			p.MedecinsTraitants = append(p.MedecinsTraitants, idnat)
		}
	}
	if err := rows.Err(); err != nil {
		return access.Patient{}, fmt.Errorf("read access settings: %w", err)
	}
	if !found {
		return access.Patient{}, errs.E(errs.NotFound, "patient not found")
	}
	return p, nil
}

// AccessRelation reads the professional's care team membership and authorisation in one
// round trip, each through its table's primary key.
func (tx *Tx) AccessRelation(ctx context.Context, patientID int64, idnat string) (access.Relation, error) {
	rows, err := tx.query(ctx, `SELECT 'c', since, basis, NULL FROM access_care_team WHERE patient_id = $1 AND idnat_ps = $2
		UNION ALL
		SELECT 'a', 0, state, valid_until FROM access_authorisations WHERE patient_id = $1 AND idnat_ps = $2`,
		patientID, idnat)
	if err != nil {
		return access.Relation{}, fmt.Errorf("read access relation: %w", err)
	}
	defer rows.Close()
	var r access.Relation
	for rows.Next() {
		var kind, text string
		var since int64
		var until sql.NullInt64
		if err := rows.Scan(&kind, &since, &text, &until); err != nil {
			return access.Relation{}, fmt.Errorf("read access relation: %w", err)
		}
		switch kind {
		case "c":
			r.CareTeam, r.CareTeamSince = true, fromMicros(since)
		case "a":
			r.Authorisation = access.Authorisation{State: access.AuthState(text), Until: fromNullMicros(until)}
		}
	}
	if err := rows.Err(); err != nil {
		return access.Relation{}, fmt.Errorf("read access relation: %w", err)
	}
	return r, nil
}

// LockPatient holds the patient's row until the transaction ends, so that an operation that
// reads then writes the patient's settings runs once at a time (PostgreSQL: FOR UPDATE; a
// SQLite write transaction already runs alone).
func (tx *Tx) LockPatient(ctx context.Context, patientID int64) error {
	if tx.db.dialect != Postgres {
		return nil
	}
	var id int64
	if err := tx.queryRow(ctx, `SELECT id FROM patients WHERE id = $1 FOR UPDATE`, patientID).Scan(&id); err != nil {
		return notFound(err, "patient")
	}
	return nil
}

// TraceDetails returns the details of the patient's allowed traces of action on object,
// oldest first (the patient's part of the trail, by its index).
func (tx *Tx) TraceDetails(ctx context.Context, patientID int64, action, object string) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT detail FROM traces WHERE patient_id = $1 AND action = $2 AND object = $3 AND outcome = $4
		ORDER BY id`, patientID, action, object, string(audit.Allowed))
	if err != nil {
		return nil, fmt.Errorf("read trace details: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("read trace details: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// AccessSettings reads every access setting of the patient, each list ordered by IdNat_PS.
func (tx *Tx) AccessSettings(ctx context.Context, patientID int64) (access.Settings, error) {
	s := access.Settings{PatientID: patientID}
	var breakGlass, regulation bool
	var updated int64
	err := tx.queryRow(ctx, `SELECT break_glass, regulation, updated_at FROM access_oppositions WHERE patient_id = $1`,
		patientID).Scan(&breakGlass, &regulation, &updated)
	switch {
	case err == nil:
		s.Oppositions = access.Oppositions{BreakGlass: breakGlass, Regulation: regulation, UpdatedAt: fromMicros(updated)}
	case !errors.Is(err, sql.ErrNoRows):
		return s, fmt.Errorf("read oppositions: %w", err)
	}
	if s.MedecinsTraitants, err = tx.accessMembers(ctx, "access_medecins_traitants", patientID); err != nil {
		return s, err
	}
	if s.Blocked, err = tx.accessMembers(ctx, "access_blocked", patientID); err != nil {
		return s, err
	}
	if err := tx.eachRow(ctx, `SELECT idnat_ps, since, basis FROM access_care_team WHERE patient_id = $1 ORDER BY idnat_ps`,
		patientID, func(rows *sql.Rows) error {
			var m access.CareTeamMember
			var since int64
			var basis string
			if err := rows.Scan(&m.IdNat, &since, &basis); err != nil {
				return err
			}
			m.Since, m.Basis = fromMicros(since), access.CareBasis(basis)
			s.CareTeam = append(s.CareTeam, m)
			return nil
		}); err != nil {
		return s, fmt.Errorf("read care team: %w", err)
	}
	if err := tx.eachRow(ctx, `SELECT `+authorisationColumns+` FROM access_authorisations WHERE patient_id = $1
		ORDER BY idnat_ps`, patientID, func(rows *sql.Rows) error {
		a, err := scanAuthorisation(rows)
		if err != nil {
			return err
		}
		s.Authorisations = append(s.Authorisations, a)
		return nil
	}); err != nil {
		return s, fmt.Errorf("read authorisations: %w", err)
	}
	return s, nil
}

// accessMembers reads a list of professionals of the patient (table is a constant of ours).
func (tx *Tx) accessMembers(ctx context.Context, table string, patientID int64) ([]access.Member, error) {
	var out []access.Member
	err := tx.eachRow(ctx, `SELECT idnat_ps, since FROM `+table+` WHERE patient_id = $1 ORDER BY idnat_ps`, patientID,
		func(rows *sql.Rows) error {
			var m access.Member
			var since int64
			if err := rows.Scan(&m.IdNat, &since); err != nil {
				return err
			}
			m.Since = fromMicros(since)
			out = append(out, m)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	return out, nil
}

// eachRow runs q with the patient id and calls fn on each row.
func (tx *Tx) eachRow(ctx context.Context, q string, patientID int64, fn func(*sql.Rows) error) error {
	rows, err := tx.query(ctx, q, patientID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

const authorisationColumns = `idnat_ps, state, granted_at, valid_until, updated_at`

func scanAuthorisation(row interface{ Scan(...any) error }) (access.AuthorisationRecord, error) {
	var a access.AuthorisationRecord
	var state string
	var granted, until sql.NullInt64
	var updated int64
	if err := row.Scan(&a.IdNat, &state, &granted, &until, &updated); err != nil {
		return a, err
	}
	a.State, a.GrantedAt, a.Until, a.UpdatedAt = access.AuthState(state), fromNullMicros(granted), fromNullMicros(until), fromMicros(updated)
	return a, nil
}

// AccessAuthorisation returns the patient's authorisation of a professional, as stored.
func (tx *Tx) AccessAuthorisation(ctx context.Context, patientID int64, idnat string) (access.AuthorisationRecord, error) {
	a, err := scanAuthorisation(tx.queryRow(ctx, `SELECT `+authorisationColumns+` FROM access_authorisations
		WHERE patient_id = $1 AND idnat_ps = $2`, patientID, idnat))
	return a, notFound(err, "authorisation")
}

// GrantAccessAuthorisation makes the authorisation valid from at until until, whatever it was.
func (tx *Tx) GrantAccessAuthorisation(ctx context.Context, patientID int64, idnat string, at, until time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO access_authorisations (patient_id, idnat_ps, state, granted_at, valid_until, updated_at)
		VALUES ($1, $2, 'valid', $3, $4, $3)
		ON CONFLICT (patient_id, idnat_ps) DO UPDATE SET state = 'valid', granted_at = excluded.granted_at,
			valid_until = excluded.valid_until, updated_at = excluded.updated_at`,
		patientID, idnat, micros(at), nullMicros(until))
	if err != nil {
		return fmt.Errorf("grant authorisation: %w", err)
	}
	return nil
}

// RenewAccessAuthorisation moves the end of a valid (or expired) authorisation, in one
// statement, so that a revocation or a refusal committed meanwhile is not undone.
func (tx *Tx) RenewAccessAuthorisation(ctx context.Context, patientID int64, idnat string, at, until time.Time) error {
	res, err := tx.exec(ctx, `UPDATE access_authorisations SET valid_until = $3, updated_at = $4
		WHERE patient_id = $1 AND idnat_ps = $2 AND state = 'valid'`, patientID, idnat, nullMicros(until), micros(at))
	if err != nil {
		return fmt.Errorf("renew authorisation: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	if _, err := tx.AccessAuthorisation(ctx, patientID, idnat); err != nil {
		if errs.Is(err, errs.NotFound) {
			return errs.E(errs.NotFound, "this professional has no authorisation to renew: grant one")
		}
		return err
	}
	return errs.E(errs.Conflict, "this authorisation was refused: grant it instead of renewing it")
}

// RefuseAccessAuthorisation records a refusal, keeping the date of a former grant.
func (tx *Tx) RefuseAccessAuthorisation(ctx context.Context, patientID int64, idnat string, at time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO access_authorisations (patient_id, idnat_ps, state, granted_at, valid_until, updated_at)
		VALUES ($1, $2, 'refused', NULL, NULL, $3)
		ON CONFLICT (patient_id, idnat_ps) DO UPDATE SET state = 'refused', valid_until = NULL,
			updated_at = excluded.updated_at`, patientID, idnat, micros(at))
	if err != nil {
		return fmt.Errorf("refuse authorisation: %w", err)
	}
	return nil
}

// DeleteAccessAuthorisation forgets the patient's answer to a professional.
func (tx *Tx) DeleteAccessAuthorisation(ctx context.Context, patientID int64, idnat string) error {
	return tx.deleteAccessRow(ctx, "access_authorisations", patientID, idnat, "this professional has no authorisation")
}

// AddBlocked blocks a professional; a block already there keeps its date.
func (tx *Tx) AddBlocked(ctx context.Context, patientID int64, m access.Member) (bool, error) {
	return tx.addAccessRow(ctx, `INSERT INTO access_blocked (patient_id, idnat_ps, since) VALUES ($1, $2, $3)
		ON CONFLICT (patient_id, idnat_ps) DO NOTHING`, patientID, m.IdNat, micros(m.Since))
}

// RemoveBlocked lifts a block.
func (tx *Tx) RemoveBlocked(ctx context.Context, patientID int64, idnat string) error {
	return tx.deleteAccessRow(ctx, "access_blocked", patientID, idnat, "this professional is not blocked")
}

// AddMedecinTraitant designates a médecin traitant; a designation already there keeps its date.
func (tx *Tx) AddMedecinTraitant(ctx context.Context, patientID int64, m access.Member) (bool, error) {
	return tx.addAccessRow(ctx, `INSERT INTO access_medecins_traitants (patient_id, idnat_ps, since) VALUES ($1, $2, $3)
		ON CONFLICT (patient_id, idnat_ps) DO NOTHING`, patientID, m.IdNat, micros(m.Since))
}

// RemoveMedecinTraitant ends a designation.
func (tx *Tx) RemoveMedecinTraitant(ctx context.Context, patientID int64, idnat string) error {
	return tx.deleteAccessRow(ctx, "access_medecins_traitants", patientID, idnat, "this professional is not a médecin traitant of the patient")
}

// AddCareTeamMember adds a member; one already there keeps their date and basis.
func (tx *Tx) AddCareTeamMember(ctx context.Context, patientID int64, m access.CareTeamMember) (bool, error) {
	return tx.addAccessRow(ctx, `INSERT INTO access_care_team (patient_id, idnat_ps, since, basis) VALUES ($1, $2, $3, $4)
		ON CONFLICT (patient_id, idnat_ps) DO NOTHING`, patientID, m.IdNat, micros(m.Since), string(m.Basis))
}

// RemoveCareTeamMember takes a professional out of the care team.
func (tx *Tx) RemoveCareTeamMember(ctx context.Context, patientID int64, idnat string) error {
	return tx.deleteAccessRow(ctx, "access_care_team", patientID, idnat, "this professional is not in the patient's care team")
}

// PutOppositions sets both oppositions.
func (tx *Tx) PutOppositions(ctx context.Context, patientID int64, o access.Oppositions) error {
	_, err := tx.exec(ctx, `INSERT INTO access_oppositions (patient_id, break_glass, regulation, updated_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (patient_id) DO UPDATE SET break_glass = excluded.break_glass, regulation = excluded.regulation,
			updated_at = excluded.updated_at`, patientID, o.BreakGlass, o.Regulation, micros(o.UpdatedAt))
	if err != nil {
		return fmt.Errorf("set oppositions: %w", err)
	}
	return nil
}

// addAccessRow runs an insert that does nothing on conflict, and says whether it inserted.
func (tx *Tx) addAccessRow(ctx context.Context, q string, args ...any) (bool, error) {
	res, err := tx.exec(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("add access setting: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("add access setting: %w", err)
	}
	return n == 1, nil
}

// deleteAccessRow deletes one professional's row of a settings table (a constant of ours);
// NotFound with missing when there was none.
func (tx *Tx) deleteAccessRow(ctx context.Context, table string, patientID int64, idnat, missing string) error {
	res, err := tx.exec(ctx, `DELETE FROM `+table+` WHERE patient_id = $1 AND idnat_ps = $2`, patientID, idnat)
	if err != nil {
		return fmt.Errorf("delete from %s: %w", table, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete from %s: %w", table, err)
	} else if n == 0 {
		return errs.E(errs.NotFound, "%s", missing)
	}
	return nil
}
