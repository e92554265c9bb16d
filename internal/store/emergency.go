package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/carnet-sante/carnet/internal/emergency"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/profile"
)

// The emergency cards (migration 0022, emergency.Tx).

// Emergency adapts the store to the emergency card service.
func (db *DB) Emergency() emergency.Store { return emergencyStore{db} }

type emergencyStore struct{ db *DB }

func (s emergencyStore) UpdateEmergency(ctx context.Context, fn func(emergency.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s emergencyStore) ViewEmergency(ctx context.Context, fn func(emergency.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ emergency.Tx = (*Tx)(nil)

const cardColumns = `patient_id, token_hash, enabled, sections, issued_at, updated_at, notice_day`

func (tx *Tx) scanCard(ctx context.Context, where string, arg any) (emergency.Card, []byte, error) {
	var (
		c               emergency.Card
		hash, sections  string
		issued, updated int64
	)
	err := tx.queryRow(ctx, `SELECT `+cardColumns+` FROM emergency_cards WHERE `+where, arg).
		Scan(&c.PatientID, &hash, &c.On, &sections, &issued, &updated, &c.NoticeDay)
	if errors.Is(err, sql.ErrNoRows) {
		return emergency.Card{}, nil, errs.E(errs.NotFound, "no emergency card")
	}
	if err != nil {
		return emergency.Card{}, nil, fmt.Errorf("emergency card: %w", err)
	}
	for _, s := range strings.Split(sections, ",") {
		if s != "" {
			c.Sections = append(c.Sections, profile.Section(s))
		}
	}
	c.IssuedAt, c.UpdatedAt = fromMicros(issued), fromMicros(updated)
	raw, err := hex.DecodeString(hash)
	if err != nil {
		return emergency.Card{}, nil, fmt.Errorf("emergency card: token hash: %w", err)
	}
	rows, err := tx.query(ctx, `SELECT item_id, choice FROM emergency_card_items WHERE patient_id = $1`, c.PatientID)
	if err != nil {
		return emergency.Card{}, nil, fmt.Errorf("emergency card choices: %w", err)
	}
	defer rows.Close()
	c.Choices = map[string]emergency.Choice{}
	for rows.Next() {
		var id, choice string
		if err := rows.Scan(&id, &choice); err != nil {
			return emergency.Card{}, nil, err
		}
		c.Choices[id] = emergency.Choice(choice)
	}
	return c, raw, rows.Err()
}

// EmergencyCard returns the patient's card.
func (tx *Tx) EmergencyCard(ctx context.Context, patientID int64) (emergency.Card, error) {
	c, _, err := tx.scanCard(ctx, `patient_id = $1`, patientID)
	return c, err
}

// EmergencyCardByHash returns the card of a token's hash, and the hash as stored.
func (tx *Tx) EmergencyCardByHash(ctx context.Context, hash []byte) (emergency.Card, []byte, error) {
	return tx.scanCard(ctx, `token_hash = $1`, hex.EncodeToString(hash))
}

// PutEmergencyCard stores a card and its choices; hash, when not nil, replaces the token's.
func (tx *Tx) PutEmergencyCard(ctx context.Context, c *emergency.Card, hash []byte) error {
	secs := make([]string, len(c.Sections))
	for i, s := range c.Sections {
		secs[i] = string(s)
	}
	var err error
	if hash != nil {
		_, err = tx.exec(ctx, `INSERT INTO emergency_cards (`+cardColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (patient_id) DO UPDATE SET token_hash = excluded.token_hash, enabled = excluded.enabled,
			sections = excluded.sections, issued_at = excluded.issued_at, updated_at = excluded.updated_at`,
			c.PatientID, hex.EncodeToString(hash), c.On, strings.Join(secs, ","), micros(c.IssuedAt), micros(c.UpdatedAt), c.NoticeDay)
	} else {
		var res sql.Result
		res, err = tx.exec(ctx, `UPDATE emergency_cards SET enabled = $2, sections = $3, updated_at = $4 WHERE patient_id = $1`,
			c.PatientID, c.On, strings.Join(secs, ","), micros(c.UpdatedAt))
		if err == nil {
			if n, _ := res.RowsAffected(); n != 1 {
				return errs.E(errs.NotFound, "no emergency card")
			}
		}
	}
	switch {
	case isForeignKeyViolation(err):
		return errs.Wrap(errs.NotFound, err, "no such patient")
	case err != nil:
		return fmt.Errorf("store emergency card: %w", err)
	}
	if _, err := tx.exec(ctx, `DELETE FROM emergency_card_items WHERE patient_id = $1`, c.PatientID); err != nil {
		return fmt.Errorf("store emergency card choices: %w", err)
	}
	for id, choice := range c.Choices {
		if _, err := tx.exec(ctx, `INSERT INTO emergency_card_items (patient_id, item_id, choice) VALUES ($1, $2, $3)`,
			c.PatientID, id, string(choice)); err != nil {
			return fmt.Errorf("store emergency card choices: %w", err)
		}
	}
	return nil
}

// SetEmergencyCardNoticeDay records the day of the last scan notice.
func (tx *Tx) SetEmergencyCardNoticeDay(ctx context.Context, patientID int64, day string) error {
	if _, err := tx.exec(ctx, `UPDATE emergency_cards SET notice_day = $2 WHERE patient_id = $1`, patientID, day); err != nil {
		return fmt.Errorf("emergency card notice: %w", err)
	}
	return nil
}
