package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/profile/share"
)

// The codes that share a profile's summary (migration 0021, share.Tx).

// Shares adapts the store to the share service.
func (db *DB) Shares() share.Store { return shareStore{db} }

type shareStore struct{ db *DB }

func (s shareStore) UpdateShares(ctx context.Context, fn func(share.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s shareStore) ViewShares(ctx context.Context, fn func(share.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ share.Tx = (*Tx)(nil)

const shareColumns = `id, patient_id, created_by_kind, created_by_id, created_by_name, created_at, expires_at, used_at, used_by, revoked_at`

// InsertProfileShare stores a share with its code's hash.
func (tx *Tx) InsertProfileShare(ctx context.Context, s *share.Share, hash []byte) error {
	_, err := tx.exec(ctx, `INSERT INTO profile_shares (id, patient_id, code_hash, created_by_kind, created_by_id, created_by_name,
		created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		s.ID, s.PatientID, hex.EncodeToString(hash), string(s.CreatedBy.Kind), s.CreatedBy.ID, s.CreatedBy.Name,
		micros(s.CreatedAt), micros(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert profile share: %w", err)
	}
	return nil
}

func scanShare(sc interface{ Scan(...any) error }) (share.Share, error) {
	var (
		s                share.Share
		kind             string
		created, expires int64
		used, revoked    sql.NullInt64
	)
	if err := sc.Scan(&s.ID, &s.PatientID, &kind, &s.CreatedBy.ID, &s.CreatedBy.Name, &created, &expires, &used, &s.UsedBy, &revoked); err != nil {
		return share.Share{}, err
	}
	s.CreatedBy.Kind = audit.ActorKind(kind)
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	if used.Valid {
		s.UsedAt = fromMicros(used.Int64)
	}
	if revoked.Valid {
		s.RevokedAt = fromMicros(revoked.Int64)
	}
	return s, nil
}

// ProfileShareByHash returns the share of a code's hash.
func (tx *Tx) ProfileShareByHash(ctx context.Context, hash []byte) (share.Share, error) {
	s, err := scanShare(tx.queryRow(ctx, `SELECT `+shareColumns+` FROM profile_shares WHERE code_hash = $1`, hex.EncodeToString(hash)))
	if errors.Is(err, sql.ErrNoRows) {
		return share.Share{}, errs.E(errs.NotFound, "no such code")
	}
	if err != nil {
		return share.Share{}, fmt.Errorf("profile share: %w", err)
	}
	return s, nil
}

// ProfileShares returns the patient's shares, newest first.
func (tx *Tx) ProfileShares(ctx context.Context, patientID int64, limit int) ([]share.Share, error) {
	rows, err := tx.query(ctx, `SELECT `+shareColumns+` FROM profile_shares WHERE patient_id = $1
		ORDER BY created_at DESC, id LIMIT $2`, patientID, limit)
	if err != nil {
		return nil, fmt.Errorf("profile shares: %w", err)
	}
	defer rows.Close()
	var out []share.Share
	for rows.Next() {
		s, err := scanShare(rows)
		if err != nil {
			return nil, fmt.Errorf("profile shares: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// UseProfileShare marks an active share used: one statement, so that two uses at once make
// one.
func (tx *Tx) UseProfileShare(ctx context.Context, id string, at time.Time, who string) (bool, error) {
	res, err := tx.exec(ctx, `UPDATE profile_shares SET used_at = $2, used_by = $3
		WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2`, id, micros(at), who)
	if err != nil {
		return false, fmt.Errorf("use profile share: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RevokeProfileShare marks the patient's active share revoked.
func (tx *Tx) RevokeProfileShare(ctx context.Context, patientID int64, id string, at time.Time) (bool, error) {
	res, err := tx.exec(ctx, `UPDATE profile_shares SET revoked_at = $3
		WHERE id = $1 AND patient_id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3`, id, patientID, micros(at))
	if err != nil {
		return false, fmt.Errorf("revoke profile share: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
