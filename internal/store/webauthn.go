package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Passkeys' credentials (migration 0015, auth.PasskeyTx). Bytes are kept as base64url text,
// the same in both dialects.

var b64 = base64.RawURLEncoding

// InsertPasskey stores a credential. ON CONFLICT DO NOTHING rather than an error, so that a
// clash leaves a PostgreSQL transaction usable (the trace of the refusal is written in it).
func (tx *Tx) InsertPasskey(ctx context.Context, k auth.Passkey) error {
	res, err := tx.exec(ctx, `INSERT INTO webauthn_credentials (credential_id, account_id, user_handle, name, public_key,
		sign_count, transports, aaguid, flags, attestation_fmt, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT DO NOTHING`,
		k.ID, k.AccountID, b64.EncodeToString(k.UserHandle), k.Name, b64.EncodeToString(k.PublicKey), int64(k.SignCount),
		strings.Join(k.Transports, ","), auth.AAGUIDString(k.AAGUID), int(k.Flags), k.AttestationFormat, micros(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert passkey: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("insert passkey: %w", err)
	} else if n == 0 {
		return errs.E(errs.Conflict, "this passkey is already registered")
	}
	return nil
}

// Passkeys lists an account's credentials, oldest first, locked for update on PostgreSQL in
// a write transaction (SQLite has one writer).
func (tx *Tx) Passkeys(ctx context.Context, accountID int64) ([]auth.Passkey, error) {
	q := `SELECT credential_id, user_handle, name, public_key, sign_count, transports, aaguid, flags, attestation_fmt,
		created_at, last_used_at FROM webauthn_credentials WHERE account_id = $1 ORDER BY created_at, credential_id`
	if tx.db.dialect == Postgres && !tx.readOnly {
		q += ` FOR UPDATE`
	}
	rows, err := tx.query(ctx, q, accountID)
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	defer rows.Close()
	var out []auth.Passkey
	for rows.Next() {
		k := auth.Passkey{AccountID: accountID}
		var handle, key, transports, aaguid string
		var count int64
		var flags int
		var created int64
		var used sql.NullInt64
		if err := rows.Scan(&k.ID, &handle, &k.Name, &key, &count, &transports, &aaguid, &flags, &k.AttestationFormat,
			&created, &used); err != nil {
			return nil, fmt.Errorf("read passkey: %w", err)
		}
		if k.UserHandle, err = b64.DecodeString(handle); err != nil {
			return nil, fmt.Errorf("read passkey %s: user handle: %w", k.ID, err)
		}
		if k.PublicKey, err = b64.DecodeString(key); err != nil {
			return nil, fmt.Errorf("read passkey %s: public key: %w", k.ID, err)
		}
		if transports != "" {
			k.Transports = strings.Split(transports, ",")
		}
		if k.AAGUID, err = parseAAGUID(aaguid); err != nil {
			return nil, fmt.Errorf("read passkey %s: %w", k.ID, err)
		}
		k.SignCount, k.Flags = uint32(count), byte(flags)
		k.CreatedAt, k.LastUsedAt = fromMicros(created), fromNullMicros(used)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	return out, nil
}

// parseAAGUID reads a UUID as auth.AAGUIDString writes it.
func parseAAGUID(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("aaguid %q is not a UUID", s)
	}
	return b, nil
}

// UsePasskey records a sign-in with a credential.
func (tx *Tx) UsePasskey(ctx context.Context, accountID int64, id string, signCount uint32, flags byte, at time.Time) error {
	res, err := tx.exec(ctx, `UPDATE webauthn_credentials SET sign_count = $3, flags = $4, last_used_at = $5
		WHERE account_id = $1 AND credential_id = $2`, accountID, id, int64(signCount), int(flags), micros(at))
	if err != nil {
		return fmt.Errorf("record passkey use: %w", err)
	}
	return oneRow(res, "passkey")
}

// DeletePasskey removes one of an account's credentials.
func (tx *Tx) DeletePasskey(ctx context.Context, accountID int64, id string) error {
	res, err := tx.exec(ctx, `DELETE FROM webauthn_credentials WHERE account_id = $1 AND credential_id = $2`, accountID, id)
	if err != nil {
		return fmt.Errorf("delete passkey: %w", err)
	}
	return oneRow(res, "passkey")
}
