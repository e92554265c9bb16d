package store

import (
	"context"
	"fmt"
	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
)

// StoredMatrix is a habilitation matrix as the operator loaded it.
type StoredMatrix = access.StoredMatrix

// Matrices returns the store of the habilitation matrices' administration.
func (db *DB) Matrices() access.MatrixStore { return matrixStore{db} }

type matrixStore struct{ db *DB }

func (s matrixStore) UpdateMatrices(ctx context.Context, fn func(access.MatrixTx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s matrixStore) ViewMatrices(ctx context.Context, fn func(access.MatrixTx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

// PutMatrix stores a matrix version and makes it the active one. Loading the same version
// again with the same content only activates it; with other content it is a Conflict: a
// version names one content forever, since traces name versions.
func (tx *Tx) PutMatrix(ctx context.Context, m StoredMatrix) error {
	var digest string
	err := tx.queryRow(ctx, `SELECT digest FROM access_matrices WHERE version = $1`, m.Version).Scan(&digest)
	switch {
	case err == nil && digest != m.Digest:
		return errs.E(errs.Conflict, "matrix version %s was loaded before with other cells: give the new one a new version", m.Version)
	case err == nil:
	case errs.Is(notFound(err, "matrix"), errs.NotFound):
		if _, err := tx.exec(ctx, `INSERT INTO access_matrices (version, digest, body, loaded_at, loaded_by) VALUES ($1, $2, $3, $4, $5)`,
			m.Version, m.Digest, m.Body, micros(m.LoadedAt), m.LoadedBy); err != nil {
			return fmt.Errorf("store matrix: %w", err)
		}
	default:
		return fmt.Errorf("read matrix: %w", err)
	}
	if _, err := tx.exec(ctx, `UPDATE access_matrices SET active = FALSE WHERE active AND version <> $1`, m.Version); err != nil {
		return fmt.Errorf("activate matrix: %w", err)
	}
	if _, err := tx.exec(ctx, `UPDATE access_matrices SET active = TRUE WHERE version = $1`, m.Version); err != nil {
		return fmt.Errorf("activate matrix: %w", err)
	}
	return nil
}

// ActiveMatrix returns the active matrix; NotFound when the operator never loaded one.
func (tx *Tx) ActiveMatrix(ctx context.Context) (StoredMatrix, error) {
	var m StoredMatrix
	var at int64
	err := tx.queryRow(ctx, `SELECT version, digest, body, loaded_at, loaded_by, active FROM access_matrices WHERE active`).
		Scan(&m.Version, &m.Digest, &m.Body, &at, &m.LoadedBy, &m.Active)
	m.LoadedAt = fromMicros(at)
	return m, notFound(err, "active matrix")
}

// Matrices lists the loaded versions, the latest loaded first, without their bodies.
func (tx *Tx) Matrices(ctx context.Context) ([]StoredMatrix, error) {
	rows, err := tx.query(ctx, `SELECT version, digest, loaded_at, loaded_by, active FROM access_matrices ORDER BY loaded_at DESC, version`)
	if err != nil {
		return nil, fmt.Errorf("list matrices: %w", err)
	}
	defer rows.Close()
	var out []StoredMatrix
	for rows.Next() {
		var m StoredMatrix
		var at int64
		if err := rows.Scan(&m.Version, &m.Digest, &at, &m.LoadedBy, &m.Active); err != nil {
			return nil, err
		}
		m.LoadedAt = fromMicros(at)
		out = append(out, m)
	}
	return out, rows.Err()
}
