package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/space"
)

// Auth adapts the store to the sign-in and session service.
func (db *DB) Auth() auth.Store { return authStore{db} }

type authStore struct{ db *DB }

func (s authStore) UpdateAuth(ctx context.Context, fn func(auth.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s authStore) ViewAuth(ctx context.Context, fn func(auth.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ auth.Tx = (*Tx)(nil)

// principalSelect reads an account with what sign-in needs of its person, in one round trip
// whichever identifier names it (the hot path of every sign-in and every request).
const principalSelect = `SELECT a.id, a.kind, a.login, a.display_name, a.password_hash, a.disabled_at,
	COALESCE(a.patient_id, 0), COALESCE(pa.ins, ''), COALESCE(pa.phone, ''),
	COALESCE(a.professional_id, 0), COALESCE(pr.idnat_ps, ''), COALESCE(pr.profession_code, ''),
	COALESCE(pr.specialty_code, ''), COALESCE(o.structure_id, '')`

const principalFrom = ` FROM accounts a
	LEFT JOIN patients pa ON pa.id = a.patient_id
	LEFT JOIN professionals pr ON pr.id = a.professional_id
	LEFT JOIN organisations o ON o.id = pr.organisation_id`

func principalDest(p *auth.Principal, kind *string, disabled *sql.NullInt64) []any {
	return []any{&p.AccountID, kind, &p.Login, &p.DisplayName, &p.PasswordHash, disabled, &p.PatientID, &p.INS, &p.Phone,
		&p.ProfessionalID, &p.IdNat, &p.Profession, &p.Specialty, &p.Org}
}

// PrincipalBy resolves an identifier to its account.
func (tx *Tx) PrincipalBy(ctx context.Context, id auth.Identifier) (auth.Principal, error) {
	var where string
	switch id.Kind {
	case auth.IdentEmail:
		where = `a.login = $1`
	case auth.IdentINS:
		where = `pa.ins = $1`
	case auth.IdentIdNat:
		where = `pr.idnat_ps = $1`
	default:
		return auth.Principal{}, errs.E(errs.NotFound, "account not found")
	}
	return tx.principal(ctx, where, id.Value)
}

// PrincipalByAccount returns the principal of an account id.
func (tx *Tx) PrincipalByAccount(ctx context.Context, accountID int64) (auth.Principal, error) {
	return tx.principal(ctx, `a.id = $1`, accountID)
}

func (tx *Tx) principal(ctx context.Context, where string, arg any) (auth.Principal, error) {
	var p auth.Principal
	var kind string
	var disabled sql.NullInt64
	err := tx.queryRow(ctx, principalSelect+principalFrom+` WHERE `+where, arg).Scan(principalDest(&p, &kind, &disabled)...)
	if err != nil {
		return auth.Principal{}, notFound(err, "account")
	}
	p.Kind, p.Disabled = account.Kind(kind), disabled.Valid
	return p, nil
}

// SetLogin changes an account's login.
func (tx *Tx) SetLogin(ctx context.Context, accountID int64, login string) error {
	res, err := tx.exec(ctx, `UPDATE accounts SET login = $2 WHERE id = $1`, accountID, login)
	if isUniqueViolation(err) {
		return errs.E(errs.Conflict, "this e-mail address is already the login of another account")
	}
	if err != nil {
		return fmt.Errorf("set login: %w", err)
	}
	return oneRow(res, "account")
}

// SpacesInTx returns the space service's store bound to this transaction: each of its updates
// runs in a savepoint (rolled back alone when it fails, as a transaction of its own would be),
// its views read through this transaction.
func (tx *Tx) SpacesInTx() space.Store { return boundSpaces{tx} }

type boundSpaces struct{ tx *Tx }

func (b boundSpaces) UpdateSpaces(ctx context.Context, fn func(space.Tx) error) error {
	return b.tx.savepoint(ctx, func() error { return fn(b.tx) })
}

func (b boundSpaces) ViewSpaces(ctx context.Context, fn func(space.Tx) error) error { return fn(b.tx) }

// savepoint runs fn in a savepoint of tx. (Not through the prepared-statement cache: these
// are transaction control, not queries.)
func (tx *Tx) savepoint(ctx context.Context, fn func() error) error {
	if _, err := tx.tx.ExecContext(ctx, `SAVEPOINT bound`); err != nil {
		return errs.Wrap(errs.Unavailable, err, "savepoint")
	}
	if err := fn(); err != nil {
		if _, rerr := tx.tx.ExecContext(context.Background(), `ROLLBACK TO SAVEPOINT bound`); rerr != nil {
			return fmt.Errorf("%w (and the savepoint could not be rolled back: %v)", err, rerr)
		}
		_, _ = tx.tx.ExecContext(context.Background(), `RELEASE SAVEPOINT bound`)
		return err
	}
	if _, err := tx.tx.ExecContext(ctx, `RELEASE SAVEPOINT bound`); err != nil {
		return errs.Wrap(errs.Unavailable, err, "release savepoint")
	}
	return nil
}

// zeroMicros stores a zero time as 0, and fromZeroMicros reads it back.
func zeroMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromZeroMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us)
}

// LockThrottle returns a rate-limit key's state, creating the key if new. The upsert locks
// the row until commit on PostgreSQL (SQLite has one writer), so two attempts on one key
// count one after the other.
func (tx *Tx) LockThrottle(ctx context.Context, key string) (auth.ThrottleState, error) {
	var st auth.ThrottleState
	var last, next int64
	err := tx.queryRow(ctx, `INSERT INTO auth_throttle (throttle_key, failures, last_at, next_at) VALUES ($1, 0, 0, 0)
		ON CONFLICT (throttle_key) DO UPDATE SET throttle_key = excluded.throttle_key
		RETURNING failures, last_at, next_at`, key).Scan(&st.Failures, &last, &next)
	if err != nil {
		return st, fmt.Errorf("lock rate limit: %w", err)
	}
	st.LastAt, st.NextAt = fromZeroMicros(last), fromZeroMicros(next)
	return st, nil
}

// SaveThrottle writes a key's state.
func (tx *Tx) SaveThrottle(ctx context.Context, key string, st auth.ThrottleState) error {
	_, err := tx.exec(ctx, `UPDATE auth_throttle SET failures = $2, last_at = $3, next_at = $4 WHERE throttle_key = $1`,
		key, st.Failures, zeroMicros(st.LastAt), zeroMicros(st.NextAt))
	if err != nil {
		return fmt.Errorf("save rate limit: %w", err)
	}
	return nil
}

// DeleteThrottle forgets a key.
func (tx *Tx) DeleteThrottle(ctx context.Context, key string) error {
	if _, err := tx.exec(ctx, `DELETE FROM auth_throttle WHERE throttle_key = $1`, key); err != nil {
		return fmt.Errorf("clear rate limit: %w", err)
	}
	return nil
}

// InsertChallenge stores a pending sign-in by the hash of its secret.
func (tx *Tx) InsertChallenge(ctx context.Context, hash string, c auth.Challenge) error {
	_, err := tx.exec(ctx, `INSERT INTO auth_challenges (hash, account_id, method, state, ident_key, attempts, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, hash, c.AccountID, string(c.Method), c.State, c.IdentKey, c.Attempts,
		micros(c.CreatedAt), micros(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert challenge: %w", err)
	}
	return nil
}

// Challenge returns a pending sign-in, locked for update in a write transaction.
func (tx *Tx) Challenge(ctx context.Context, hash string) (auth.Challenge, error) {
	q := `SELECT account_id, method, state, ident_key, attempts, created_at, expires_at, used_at
		FROM auth_challenges WHERE hash = $1`
	if tx.db.dialect == Postgres && !tx.readOnly {
		q += ` FOR UPDATE`
	}
	var c auth.Challenge
	var method string
	var created, expires int64
	var used sql.NullInt64
	err := tx.queryRow(ctx, q, hash).Scan(&c.AccountID, &method, &c.State, &c.IdentKey, &c.Attempts, &created, &expires, &used)
	if err != nil {
		return auth.Challenge{}, notFound(err, "challenge")
	}
	c.Method, c.CreatedAt, c.ExpiresAt, c.UsedAt = auth.Method(method), fromMicros(created), fromMicros(expires), fromNullMicros(used)
	return c, nil
}

// UpdateChallenge records an attempt, and the use that ends the challenge.
func (tx *Tx) UpdateChallenge(ctx context.Context, hash string, attempts int, usedAt time.Time) error {
	res, err := tx.exec(ctx, `UPDATE auth_challenges SET attempts = $2, used_at = $3 WHERE hash = $1`,
		hash, attempts, nullMicros(usedAt))
	if err != nil {
		return fmt.Errorf("update challenge: %w", err)
	}
	return oneRow(res, "challenge")
}

// InsertSession stores a session by the hash of its secret.
func (tx *Tx) InsertSession(ctx context.Context, hash string, s auth.Session) error {
	_, err := tx.exec(ctx, `INSERT INTO auth_sessions (hash, session_id, account_id, method, created_at, last_seen_at,
		expires_at, client_addr, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		hash, s.ID, s.AccountID, string(s.Method), micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt),
		s.ClientAddr, s.UserAgent)
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

const sessionColumns = `s.session_id, s.account_id, s.method, s.created_at, s.last_seen_at, s.expires_at, s.revoked_at,
	s.revoke_reason, s.client_addr, s.user_agent`

func sessionDest(s *auth.Session, method *string, created, seen, expires *int64, revoked *sql.NullInt64) []any {
	return []any{&s.ID, &s.AccountID, method, created, seen, expires, revoked, &s.RevokeReason, &s.ClientAddr, &s.UserAgent}
}

func finishSession(s *auth.Session, method string, created, seen, expires int64, revoked sql.NullInt64) {
	s.Method, s.CreatedAt, s.LastSeenAt, s.ExpiresAt = auth.Method(method), fromMicros(created), fromMicros(seen), fromMicros(expires)
	s.RevokedAt = fromNullMicros(revoked)
}

// SessionBy returns a session and its principal in one round trip: it runs on every request.
func (tx *Tx) SessionBy(ctx context.Context, hash string) (auth.Session, auth.Principal, error) {
	var s auth.Session
	var p auth.Principal
	var method, kind string
	var created, seen, expires int64
	var revoked, disabled sql.NullInt64
	dest := append(sessionDest(&s, &method, &created, &seen, &expires, &revoked), principalDest(&p, &kind, &disabled)...)
	err := tx.queryRow(ctx, `SELECT `+sessionColumns+`, `+principalSelect[len("SELECT "):]+`
		FROM auth_sessions s JOIN accounts a ON a.id = s.account_id
		LEFT JOIN patients pa ON pa.id = a.patient_id
		LEFT JOIN professionals pr ON pr.id = a.professional_id
		LEFT JOIN organisations o ON o.id = pr.organisation_id
		WHERE s.hash = $1`, hash).Scan(dest...)
	if err != nil {
		return auth.Session{}, auth.Principal{}, notFound(err, "session")
	}
	finishSession(&s, method, created, seen, expires, revoked)
	p.Kind, p.Disabled = account.Kind(kind), disabled.Valid
	return s, p, nil
}

// TouchSession records a session's use.
func (tx *Tx) TouchSession(ctx context.Context, hash string, at time.Time) error {
	_, err := tx.exec(ctx, `UPDATE auth_sessions SET last_seen_at = $2 WHERE hash = $1 AND last_seen_at < $2`, hash, micros(at))
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// RevokeSession revokes one live session of an account.
func (tx *Tx) RevokeSession(ctx context.Context, accountID int64, id string, at time.Time, reason string) error {
	res, err := tx.exec(ctx, `UPDATE auth_sessions SET revoked_at = $3, revoke_reason = $4
		WHERE account_id = $1 AND session_id = $2 AND revoked_at IS NULL`, accountID, id, micros(at), reason)
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return oneRow(res, "session")
}

// RevokeSessions revokes every live session of an account.
func (tx *Tx) RevokeSessions(ctx context.Context, accountID int64, at time.Time, reason string) (int, error) {
	res, err := tx.exec(ctx, `UPDATE auth_sessions SET revoked_at = $2, revoke_reason = $3
		WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2`, accountID, micros(at), reason)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Sessions lists an account's sessions neither revoked nor past their absolute end, the
// most recently used first.
func (tx *Tx) Sessions(ctx context.Context, accountID int64, now time.Time) ([]auth.Session, error) {
	rows, err := tx.query(ctx, `SELECT `+sessionColumns+` FROM auth_sessions s
		WHERE s.account_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
		ORDER BY s.last_seen_at DESC, s.session_id`, accountID, micros(now))
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out []auth.Session
	for rows.Next() {
		var s auth.Session
		var method string
		var created, seen, expires int64
		var revoked sql.NullInt64
		if err := rows.Scan(sessionDest(&s, &method, &created, &seen, &expires, &revoked)...); err != nil {
			return nil, fmt.Errorf("read session: %w", err)
		}
		finishSession(&s, method, created, seen, expires, revoked)
		out = append(out, s)
	}
	return out, rows.Err()
}

// InsertResetToken stores a reset link by the hash of its secret.
func (tx *Tx) InsertResetToken(ctx context.Context, hash string, accountID int64, created, expires time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO auth_reset_tokens (hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		hash, accountID, micros(created), micros(expires))
	if err != nil {
		return fmt.Errorf("insert reset token: %w", err)
	}
	return nil
}

// UseResetToken spends a live reset link, and every other live link of its account.
func (tx *Tx) UseResetToken(ctx context.Context, hash string, now time.Time) (int64, error) {
	var accountID int64
	err := tx.queryRow(ctx, `UPDATE auth_reset_tokens SET used_at = $2
		WHERE hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING account_id`, hash, micros(now)).Scan(&accountID)
	if err != nil {
		return 0, notFound(err, "reset link")
	}
	if _, err := tx.exec(ctx, `UPDATE auth_reset_tokens SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL`,
		accountID, micros(now)); err != nil {
		return 0, fmt.Errorf("spend reset links: %w", err)
	}
	return accountID, nil
}

// SweepAuth deletes sessions and challenges over before before, reset links expired before
// it, and rate-limit keys idle since.
func (tx *Tx) SweepAuth(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM auth_sessions WHERE expires_at < $1 OR revoked_at < $1`,
		`DELETE FROM auth_challenges WHERE expires_at < $1`,
		`DELETE FROM auth_reset_tokens WHERE expires_at < $1`,
		`DELETE FROM auth_throttle WHERE last_at < $1`,
	} {
		res, err := tx.exec(ctx, q, micros(before))
		if err != nil {
			return total, fmt.Errorf("sweep sign-in data: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
