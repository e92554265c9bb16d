package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/oauth"
)

// OAuth adapts the store to the OAuth authorisation server.
func (db *DB) OAuth() oauth.Store { return oauthStore{db} }

type oauthStore struct{ db *DB }

func (s oauthStore) UpdateOAuth(ctx context.Context, fn func(oauth.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s oauthStore) ViewOAuth(ctx context.Context, fn func(oauth.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ oauth.Tx = (*Tx)(nil)

// InsertOAuthClient registers a client; Conflict when its id is taken.
func (tx *Tx) InsertOAuthClient(ctx context.Context, c oauth.Client, secretHash string) error {
	if c.Subject.Kind == audit.ActorOperator {
		// The foreign key says the account exists; a client acting for an operator must not
		// be bound to a patient's or a professional's account by mistake.
		var kind string
		if err := tx.queryRow(ctx, `SELECT kind FROM accounts WHERE id = $1`, c.Subject.AccountID).Scan(&kind); err != nil {
			return notFound(err, "operator account")
		}
		if kind != string(audit.ActorOperator) {
			return errs.E(errs.Invalid, "account %d is not an operator's", c.Subject.AccountID)
		}
	}
	grants := make([]string, len(c.GrantTypes))
	for i, g := range c.GrantTypes {
		grants[i] = string(g)
	}
	_, err := tx.exec(ctx, `INSERT INTO oauth_clients (client_id, name, client_type, secret_hash, redirect_uris, grant_types, scope,
			subject_kind, professional_id, account_id, may_introspect, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		c.ID, c.Name, string(c.Type), secretHash, strings.Join(c.RedirectURIs, " "), strings.Join(grants, " "), c.Scope,
		string(c.Subject.Kind), nullID(c.Subject.ProfessionalID), nullID(c.Subject.AccountID), c.MayIntrospect, micros(c.CreatedAt))
	switch {
	case isUniqueViolation(err):
		return errs.E(errs.Conflict, "client %s is already registered", c.ID)
	case isForeignKeyViolation(err):
		return errs.E(errs.NotFound, "the client's subject does not exist")
	case err != nil:
		return fmt.Errorf("insert oauth client: %w", err)
	}
	return nil
}

const oauthClientColumns = `client_id, name, client_type, secret_hash, redirect_uris, grant_types, scope, subject_kind,
	professional_id, account_id, may_introspect, created_at, disabled_at`

func scanOAuthClient(sc interface{ Scan(...any) error }) (oauth.Client, string, error) {
	var (
		c                       oauth.Client
		typ, uris, grants, kind string
		hash                    string
		profID, accID, disabled sql.NullInt64
		created                 int64
	)
	if err := sc.Scan(&c.ID, &c.Name, &typ, &hash, &uris, &grants, &c.Scope, &kind, &profID, &accID, &c.MayIntrospect,
		&created, &disabled); err != nil {
		return oauth.Client{}, "", err
	}
	c.Type = oauth.ClientType(typ)
	c.RedirectURIs = strings.Fields(uris)
	for _, g := range strings.Fields(grants) {
		c.GrantTypes = append(c.GrantTypes, oauth.GrantType(g))
	}
	if kind != "" {
		c.Subject = apitoken.Subject{Kind: audit.ActorKind(kind), ProfessionalID: profID.Int64, AccountID: accID.Int64}
	}
	c.CreatedAt, c.DisabledAt = fromMicros(created), fromNullMicros(disabled)
	return c, hash, nil
}

// OAuthClient returns a client and its secret's hash. In a write transaction on PostgreSQL it
// locks the row until the commit: a token issued in this transaction and the client's
// suspension (DisableOAuthClient's UPDATE) are then ordered, so that a suspension committed
// first is seen here, and one committed after revokes what this transaction issued. SQLite's
// single writer orders them already.
func (tx *Tx) OAuthClient(ctx context.Context, id string) (oauth.Client, string, error) {
	q := `SELECT ` + oauthClientColumns + ` FROM oauth_clients WHERE client_id = $1`
	if tx.db.dialect == Postgres && !tx.readOnly {
		q += ` FOR UPDATE`
	}
	c, hash, err := scanOAuthClient(tx.queryRow(ctx, q, id))
	if err != nil {
		return oauth.Client{}, "", notFound(err, "oauth client")
	}
	return c, hash, nil
}

// OAuthClients lists the clients by id.
func (tx *Tx) OAuthClients(ctx context.Context) ([]oauth.Client, error) {
	rows, err := tx.query(ctx, `SELECT `+oauthClientColumns+` FROM oauth_clients ORDER BY client_id`)
	if err != nil {
		return nil, fmt.Errorf("list oauth clients: %w", err)
	}
	defer rows.Close()
	var out []oauth.Client
	for rows.Next() {
		c, _, err := scanOAuthClient(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetOAuthClientSecret replaces a client's secret hash.
func (tx *Tx) SetOAuthClientSecret(ctx context.Context, id, secretHash string) error {
	res, err := tx.exec(ctx, `UPDATE oauth_clients SET secret_hash = $2 WHERE client_id = $1`, id, secretHash)
	if err != nil {
		return fmt.Errorf("set oauth client secret: %w", err)
	}
	return oneRow(res, "oauth client")
}

// DisableOAuthClient disables a client, revokes its grants and every token issued to it, and
// drops its codes not yet exchanged.
func (tx *Tx) DisableOAuthClient(ctx context.Context, id string, at time.Time) error {
	res, err := tx.exec(ctx, `UPDATE oauth_clients SET disabled_at = COALESCE(disabled_at, $2) WHERE client_id = $1`, id, micros(at))
	if err != nil {
		return fmt.Errorf("disable oauth client: %w", err)
	}
	if err := oneRow(res, "oauth client"); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `UPDATE oauth_grants SET revoked_at = $2, revoke_reason = 'client disabled'
		WHERE client_id = $1 AND revoked_at IS NULL`, id, micros(at)); err != nil {
		return fmt.Errorf("revoke grants of oauth client: %w", err)
	}
	if _, err := tx.exec(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL`, id, micros(at)); err != nil {
		return fmt.Errorf("revoke tokens of oauth client: %w", err)
	}
	// A code not yet exchanged would otherwise give a grant, and tokens, after the suspension.
	// Used codes stay: their grant_id is what a replayed code revokes.
	if _, err := tx.exec(ctx, `DELETE FROM oauth_codes WHERE client_id = $1 AND used_at IS NULL`, id); err != nil {
		return fmt.Errorf("drop codes of oauth client: %w", err)
	}
	return nil
}

// InsertOAuthCode stores an authorisation code by its hash.
func (tx *Tx) InsertOAuthCode(ctx context.Context, hash string, c oauth.Code) error {
	_, err := tx.exec(ctx, `INSERT INTO oauth_codes (hash, client_id, redirect_uri, code_challenge, patient_id, by_representative,
			granted_by, scope, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, hash, c.ClientID, c.RedirectURI, c.Challenge, c.PatientID,
		c.ByRepresentative, c.GrantedBy, c.Scope, micros(c.CreatedAt), micros(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert oauth code: %w", err)
	}
	return nil
}

// OAuthCode returns a code by its hash.
func (tx *Tx) OAuthCode(ctx context.Context, hash string) (oauth.Code, error) {
	var (
		c                oauth.Code
		created, expires int64
		used             sql.NullInt64
	)
	err := tx.queryRow(ctx, `SELECT client_id, redirect_uri, code_challenge, patient_id, by_representative, granted_by, scope,
			created_at, expires_at, used_at, grant_id
		FROM oauth_codes WHERE hash = $1`, hash).Scan(&c.ClientID, &c.RedirectURI, &c.Challenge, &c.PatientID,
		&c.ByRepresentative, &c.GrantedBy, &c.Scope, &created, &expires, &used, &c.GrantID)
	if err != nil {
		return oauth.Code{}, notFound(err, "oauth code")
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMicros(created), fromMicros(expires), fromNullMicros(used)
	return c, nil
}

// UseOAuthCode marks a code used. The condition on used_at makes two concurrent exchanges of
// one code succeed once: the second waits for the first's row lock (PostgreSQL) or for the
// single writer (SQLite), then finds it used.
func (tx *Tx) UseOAuthCode(ctx context.Context, hash string, at time.Time, grantID string) (bool, error) {
	res, err := tx.exec(ctx, `UPDATE oauth_codes SET used_at = $2, grant_id = $3 WHERE hash = $1 AND used_at IS NULL`,
		hash, micros(at), grantID)
	if err != nil {
		return false, fmt.Errorf("use oauth code: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// InsertOAuthGrant records a grant.
func (tx *Tx) InsertOAuthGrant(ctx context.Context, g oauth.Grant) error {
	_, err := tx.exec(ctx, `INSERT INTO oauth_grants (grant_id, client_id, patient_id, by_representative, granted_by, scope, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, g.ID, g.ClientID, g.PatientID, g.ByRepresentative, g.GrantedBy, g.Scope, micros(g.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert oauth grant: %w", err)
	}
	return nil
}

const oauthGrantSelect = `SELECT g.grant_id, g.client_id, c.name, g.patient_id, g.by_representative, g.granted_by, g.scope,
	g.created_at, g.revoked_at, g.revoke_reason
	FROM oauth_grants g JOIN oauth_clients c ON c.client_id = g.client_id`

func scanOAuthGrant(sc interface{ Scan(...any) error }) (oauth.Grant, error) {
	var (
		g       oauth.Grant
		created int64
		revoked sql.NullInt64
	)
	if err := sc.Scan(&g.ID, &g.ClientID, &g.ClientName, &g.PatientID, &g.ByRepresentative, &g.GrantedBy, &g.Scope,
		&created, &revoked, &g.RevokeReason); err != nil {
		return oauth.Grant{}, err
	}
	g.CreatedAt, g.RevokedAt = fromMicros(created), fromNullMicros(revoked)
	return g, nil
}

// OAuthGrant returns a grant.
func (tx *Tx) OAuthGrant(ctx context.Context, id string) (oauth.Grant, error) {
	g, err := scanOAuthGrant(tx.queryRow(ctx, oauthGrantSelect+` WHERE g.grant_id = $1`, id))
	if err != nil {
		return oauth.Grant{}, notFound(err, "oauth grant")
	}
	return g, nil
}

// OAuthGrants lists a patient's grants, newest first.
func (tx *Tx) OAuthGrants(ctx context.Context, patientID int64) ([]oauth.Grant, error) {
	rows, err := tx.query(ctx, oauthGrantSelect+` WHERE g.patient_id = $1 ORDER BY g.created_at DESC, g.grant_id`, patientID)
	if err != nil {
		return nil, fmt.Errorf("list oauth grants: %w", err)
	}
	defer rows.Close()
	var out []oauth.Grant
	for rows.Next() {
		g, err := scanOAuthGrant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// RevokeOAuthGrant revokes a grant and the access tokens issued under it; its refresh tokens
// are refused through the grant.
func (tx *Tx) RevokeOAuthGrant(ctx context.Context, id string, at time.Time, reason string) error {
	res, err := tx.exec(ctx, `UPDATE oauth_grants SET revoked_at = COALESCE(revoked_at, $2),
			revoke_reason = CASE WHEN revoked_at IS NULL THEN $3 ELSE revoke_reason END
		WHERE grant_id = $1`, id, micros(at), reason)
	if err != nil {
		return fmt.Errorf("revoke oauth grant: %w", err)
	}
	if err := oneRow(res, "oauth grant"); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `UPDATE api_tokens SET revoked_at = $2
		WHERE revoked_at IS NULL AND token_id IN (SELECT token_id FROM oauth_grant_tokens WHERE grant_id = $1)`, id, micros(at)); err != nil {
		return fmt.Errorf("revoke tokens of oauth grant: %w", err)
	}
	return nil
}

// LinkOAuthToken records the grant an access token was issued under.
func (tx *Tx) LinkOAuthToken(ctx context.Context, tokenID, grantID string) error {
	if _, err := tx.exec(ctx, `INSERT INTO oauth_grant_tokens (token_id, grant_id) VALUES ($1, $2)`, tokenID, grantID); err != nil {
		return fmt.Errorf("link oauth token: %w", err)
	}
	return nil
}

// InsertOAuthRefresh stores a refresh token by its hash.
func (tx *Tx) InsertOAuthRefresh(ctx context.Context, hash string, r oauth.Refresh) error {
	_, err := tx.exec(ctx, `INSERT INTO oauth_refresh_tokens (hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		hash, r.GrantID, micros(r.CreatedAt), micros(r.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert oauth refresh token: %w", err)
	}
	return nil
}

// OAuthRefresh returns a refresh token by its hash.
func (tx *Tx) OAuthRefresh(ctx context.Context, hash string) (oauth.Refresh, error) {
	var (
		r                oauth.Refresh
		created, expires int64
		used             sql.NullInt64
	)
	err := tx.queryRow(ctx, `SELECT grant_id, created_at, expires_at, used_at FROM oauth_refresh_tokens WHERE hash = $1`, hash).
		Scan(&r.GrantID, &created, &expires, &used)
	if err != nil {
		return oauth.Refresh{}, notFound(err, "oauth refresh token")
	}
	r.CreatedAt, r.ExpiresAt, r.UsedAt = fromMicros(created), fromMicros(expires), fromNullMicros(used)
	return r, nil
}

// UseOAuthRefresh marks a refresh token used, once (see UseOAuthCode).
func (tx *Tx) UseOAuthRefresh(ctx context.Context, hash string, at time.Time) (bool, error) {
	res, err := tx.exec(ctx, `UPDATE oauth_refresh_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL`, hash, micros(at))
	if err != nil {
		return false, fmt.Errorf("use oauth refresh token: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SweepOAuth deletes codes and refresh tokens that expired before before.
func (tx *Tx) SweepOAuth(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, q := range []string{`DELETE FROM oauth_codes WHERE expires_at < $1`, `DELETE FROM oauth_refresh_tokens WHERE expires_at < $1`} {
		res, err := tx.exec(ctx, q, micros(before))
		if err != nil {
			return total, fmt.Errorf("sweep oauth: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
