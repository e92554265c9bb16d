package store

import (
	"context"
	"fmt"
	"time"
)

// QueueNotice records that the patient is to be told of something new at notBefore; a notice
// already queued for the same key stays as it was.
func (tx *Tx) QueueNotice(ctx context.Context, patientID int64, key string, notBefore, now time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO notice_outbox (patient_id, notice_key, not_before, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, patientID, key, micros(notBefore), micros(now))
	if err != nil {
		return fmt.Errorf("queue notice: %w", err)
	}
	return nil
}

// DueNotice is a queued notice whose time has come.
type DueNotice struct {
	PatientID int64
	Key       string
}

// DueNotices returns up to limit notices due at now, oldest first.
func (tx *Tx) DueNotices(ctx context.Context, now time.Time, limit int) ([]DueNotice, error) {
	rows, err := tx.query(ctx, `SELECT patient_id, notice_key FROM notice_outbox WHERE not_before <= $1
		ORDER BY not_before, patient_id, notice_key LIMIT $2`, micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("read due notices: %w", err)
	}
	defer rows.Close()
	var out []DueNotice
	for rows.Next() {
		var n DueNotice
		if err := rows.Scan(&n.PatientID, &n.Key); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// DeleteNotice removes a queued notice.
func (tx *Tx) DeleteNotice(ctx context.Context, n DueNotice) error {
	_, err := tx.exec(ctx, `DELETE FROM notice_outbox WHERE patient_id = $1 AND notice_key = $2`, n.PatientID, n.Key)
	return err
}

// MarkSeen records that the professional accessed the patient's record at at, and reports
// whether it was the first time.
func (tx *Tx) MarkSeen(ctx context.Context, patientID int64, idnat string, at time.Time) (bool, error) {
	res, err := tx.exec(ctx, `INSERT INTO access_seen (patient_id, idnat_ps, first_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		patientID, idnat, micros(at))
	if err != nil {
		return false, fmt.Errorf("mark professional seen: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
