package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/oauth"
)

// Tokens adapts the store to the API token service.
func (db *DB) Tokens() apitoken.Store { return tokenStore{db} }

type tokenStore struct{ db *DB }

func (s tokenStore) UpdateTokens(ctx context.Context, fn func(apitoken.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s tokenStore) ViewTokens(ctx context.Context, fn func(apitoken.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ apitoken.Tx = (*Tx)(nil)

// InsertAPIToken stores a token by the hash of its secret.
func (tx *Tx) InsertAPIToken(ctx context.Context, hash string, t apitoken.Token) error {
	actions := make([]string, len(t.Subject.Scopes))
	for i, a := range t.Subject.Scopes {
		actions[i] = string(a)
	}
	_, err := tx.exec(ctx, `INSERT INTO api_tokens (hash, token_id, kind, professional_id, account_id, patient_id, label, created_at, expires_at,
			client_id, scope, app_actions, app_classes, by_representative)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, hash, t.ID, string(t.Subject.Kind), nullID(t.Subject.ProfessionalID),
		nullID(t.Subject.AccountID), nullID(t.Subject.PatientID), t.Label, micros(t.CreatedAt), micros(t.ExpiresAt),
		t.ClientID, t.Scope, strings.Join(actions, " "), strings.Join(t.Subject.Classes, " "), t.Subject.ByRepresentative)
	if err != nil {
		if isForeignKeyViolation(err) {
			return errs.E(errs.NotFound, "the token's subject does not exist")
		}
		return fmt.Errorf("insert api token: %w", err)
	}
	return nil
}

// APIToken resolves a token and its subject in one round trip.
func (tx *Tx) APIToken(ctx context.Context, hash string) (apitoken.Resolved, error) {
	var (
		r                          apitoken.Resolved
		kind                       string
		profID, accID, patID       sql.NullInt64
		created, expires           int64
		revoked, accDisabled       sql.NullInt64
		idnat, family, given, prof sql.NullString
		spec, org, accName         sql.NullString
		appActions, appClasses     string
		byRep                      bool
	)
	err := tx.queryRow(ctx, `SELECT t.token_id, t.kind, t.professional_id, t.account_id, t.patient_id, t.label,
			t.created_at, t.expires_at, t.revoked_at,
			p.idnat_ps, p.family_name, p.given_name, p.profession_code, p.specialty_code, o.structure_id,
			a.display_name, a.disabled_at, t.client_id, t.scope, t.app_actions, t.app_classes, t.by_representative
		FROM api_tokens t
		LEFT JOIN professionals p ON p.id = t.professional_id
		LEFT JOIN organisations o ON o.id = p.organisation_id
		LEFT JOIN accounts a ON a.id = t.account_id
		WHERE t.hash = $1`, hash).Scan(&r.Token.ID, &kind, &profID, &accID, &patID, &r.Token.Label,
		&created, &expires, &revoked, &idnat, &family, &given, &prof, &spec, &org, &accName, &accDisabled,
		&r.Token.ClientID, &r.Token.Scope, &appActions, &appClasses, &byRep)
	if err != nil {
		return apitoken.Resolved{}, notFound(err, "api token")
	}
	r.Token.Subject = apitoken.Subject{Kind: audit.ActorKind(kind), ProfessionalID: profID.Int64, AccountID: accID.Int64, PatientID: patID.Int64}
	r.Token.CreatedAt, r.Token.ExpiresAt, r.Token.RevokedAt = fromMicros(created), fromMicros(expires), fromNullMicros(revoked)
	switch r.Token.Subject.Kind {
	case audit.ActorProfessional:
		r.Actor = access.Actor{Kind: audit.ActorProfessional, ID: idnat.String, Name: given.String + " " + family.String,
			Org: org.String, Profession: prof.String}
		if spec.String != "" {
			// Stored as the profession's own code (SM26); the decision names it in full (G15_10/SM26).
			r.Actor.Specialty = prof.String + "/" + spec.String
		}
	case audit.ActorOperator:
		r.Actor = access.Actor{Kind: audit.ActorOperator, ID: strconv.FormatInt(accID.Int64, 10), Name: accName.String}
		r.Disabled = accDisabled.Valid
	case audit.ActorPatient:
		r.Actor = access.Actor{Kind: audit.ActorPatient, ID: "patient-" + strconv.FormatInt(patID.Int64, 10), PatientID: patID.Int64}
	case audit.ActorApp:
		// The app is its OAuth client; the label holds its name as the patient saw it at consent.
		for _, a := range strings.Fields(appActions) {
			r.Token.Subject.Scopes = append(r.Token.Subject.Scopes, access.Action(a))
		}
		r.Token.Subject.Classes = strings.Fields(appClasses)
		r.Token.Subject.ByRepresentative = byRep
		r.Actor = access.Actor{Kind: audit.ActorApp, ID: r.Token.ClientID, Name: r.Token.Label, PatientID: patID.Int64,
			Scopes: r.Token.Subject.Scopes, Classes: r.Token.Subject.Classes, GrantedByRepresentative: byRep,
			// The resource types granted are those of the scope the token was issued with (its
			// canonical form, oauth.Scope.String), so that no column repeats them.
			Resources: oauth.ResourceGrants(r.Token.Scope)}
	}
	return r, nil
}

// RevokeAPIToken marks a token revoked (keeping the first revocation date).
func (tx *Tx) RevokeAPIToken(ctx context.Context, id string, at time.Time) error {
	res, err := tx.exec(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE token_id = $1`, id, micros(at))
	if err != nil {
		return fmt.Errorf("revoke api token: %w", err)
	}
	return oneRow(res, "api token")
}
