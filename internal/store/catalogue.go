package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/catalogue"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/oauth"
)

// Catalogue adapts the store to the app catalogue.
func (db *DB) Catalogue() catalogue.Store { return catalogueStore{db} }

type catalogueStore struct{ db *DB }

func (s catalogueStore) UpdateCatalogue(ctx context.Context, fn func(catalogue.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s catalogueStore) ViewCatalogue(ctx context.Context, fn func(catalogue.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ catalogue.Tx = (*Tx)(nil)

// EnableOAuthClient lets a disabled client authenticate again.
func (tx *Tx) EnableOAuthClient(ctx context.Context, id string) error {
	res, err := tx.exec(ctx, `UPDATE oauth_clients SET disabled_at = NULL WHERE client_id = $1`, id)
	if err != nil {
		return fmt.Errorf("enable oauth client: %w", err)
	}
	return oneRow(res, "oauth client")
}

// UpdateOAuthClient replaces a client's name, redirect URIs, grant types and scope.
func (tx *Tx) UpdateOAuthClient(ctx context.Context, c oauth.Client) error {
	grants := make([]string, len(c.GrantTypes))
	for i, g := range c.GrantTypes {
		grants[i] = string(g)
	}
	res, err := tx.exec(ctx, `UPDATE oauth_clients SET name = $2, redirect_uris = $3, grant_types = $4, scope = $5 WHERE client_id = $1`,
		c.ID, c.Name, strings.Join(c.RedirectURIs, " "), strings.Join(grants, " "), c.Scope)
	if err != nil {
		return fmt.Errorf("update oauth client: %w", err)
	}
	return oneRow(res, "oauth client")
}

// InsertCatalogueApp records an app of the catalogue; its OAuth client exists already.
func (tx *Tx) InsertCatalogueApp(ctx context.Context, a catalogue.App) error {
	_, err := tx.exec(ctx, `INSERT INTO catalogue_apps (client_id, publisher, category, description, website, privacy_url, scopes,
			status, created_at, updated_at, status_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		a.ID, a.Publisher, a.Category, a.Description, a.Website, a.PrivacyPolicy, a.Scopes, string(a.Status),
		micros(a.CreatedAt), micros(a.UpdatedAt), micros(a.StatusAt))
	switch {
	case isUniqueViolation(err):
		return errs.E(errs.Conflict, "app %s is already in the catalogue", a.ID)
	case isForeignKeyViolation(err):
		return errs.E(errs.NotFound, "no OAuth client %s", a.ID)
	case err != nil:
		return fmt.Errorf("insert catalogue app: %w", err)
	}
	return tx.insertCatalogueData(ctx, a)
}

func (tx *Tx) insertCatalogueData(ctx context.Context, a catalogue.App) error {
	for _, d := range a.Data {
		if _, err := tx.exec(ctx, `INSERT INTO catalogue_app_data (client_id, class_code, justification) VALUES ($1, $2, $3)`,
			a.ID, d.Class, d.Justification); err != nil {
			if isUniqueViolation(err) {
				return errs.E(errs.Invalid, "data category %s is given twice", d.Class)
			}
			return fmt.Errorf("insert catalogue app data: %w", err)
		}
	}
	return nil
}

// UpdateCatalogueApp replaces what the catalogue holds of an app, but its status and logo.
func (tx *Tx) UpdateCatalogueApp(ctx context.Context, a catalogue.App) error {
	res, err := tx.exec(ctx, `UPDATE catalogue_apps SET publisher = $2, category = $3, description = $4, website = $5,
			privacy_url = $6, scopes = $7, updated_at = $8
		WHERE client_id = $1`, a.ID, a.Publisher, a.Category, a.Description, a.Website, a.PrivacyPolicy, a.Scopes, micros(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("update catalogue app: %w", err)
	}
	if err := oneRow(res, "app"); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `DELETE FROM catalogue_app_data WHERE client_id = $1`, a.ID); err != nil {
		return fmt.Errorf("replace catalogue app data: %w", err)
	}
	return tx.insertCatalogueData(ctx, a)
}

const catalogueAppSelect = `SELECT a.client_id, c.name, a.publisher, a.category, a.description, a.website, a.privacy_url, a.scopes,
	c.scope, c.client_type, c.grant_types, c.redirect_uris, a.status, a.logo_type, a.created_at, a.updated_at, a.status_at
	FROM catalogue_apps a JOIN oauth_clients c ON c.client_id = a.client_id`

func scanCatalogueApp(sc interface{ Scan(...any) error }) (catalogue.App, error) {
	var (
		a                          catalogue.App
		typ, grants, uris, status  string
		created, updated, statusAt int64
	)
	if err := sc.Scan(&a.ID, &a.Name, &a.Publisher, &a.Category, &a.Description, &a.Website, &a.PrivacyPolicy, &a.Scopes,
		&a.ClientScope, &typ, &grants, &uris, &status, &a.LogoType, &created, &updated, &statusAt); err != nil {
		return catalogue.App{}, err
	}
	a.Public = typ == string(oauth.Public)
	a.Offline = strings.Contains(" "+grants+" ", " "+string(oauth.GrantRefreshToken)+" ")
	a.RedirectURIs = strings.Fields(uris)
	a.Status = catalogue.Status(status)
	a.CreatedAt, a.UpdatedAt, a.StatusAt = fromMicros(created), fromMicros(updated), fromMicros(statusAt)
	return a, nil
}

// catalogueData fills the apps' data categories, by class.
func (tx *Tx) catalogueData(ctx context.Context, apps []catalogue.App) error {
	if len(apps) == 0 {
		return nil
	}
	idx := make(map[string]int, len(apps))
	for i, a := range apps {
		idx[a.ID] = i
	}
	q := `SELECT client_id, class_code, justification FROM catalogue_app_data ORDER BY client_id, class_code`
	var args []any
	if len(apps) == 1 {
		q = `SELECT client_id, class_code, justification FROM catalogue_app_data WHERE client_id = $1 ORDER BY class_code`
		args = []any{apps[0].ID}
	}
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read catalogue app data: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var d catalogue.DataCategory
		if err := rows.Scan(&id, &d.Class, &d.Justification); err != nil {
			return err
		}
		if i, ok := idx[id]; ok {
			apps[i].Data = append(apps[i].Data, d)
		}
	}
	return rows.Err()
}

// CatalogueApp returns an app; NotFound when unknown.
func (tx *Tx) CatalogueApp(ctx context.Context, id string) (catalogue.App, error) {
	a, err := scanCatalogueApp(tx.queryRow(ctx, catalogueAppSelect+` WHERE a.client_id = $1`, id))
	if err != nil {
		return catalogue.App{}, notFound(err, "app")
	}
	apps := []catalogue.App{a}
	if err := tx.catalogueData(ctx, apps); err != nil {
		return catalogue.App{}, err
	}
	return apps[0], nil
}

// CatalogueApps lists the apps of status (all when ""), by name.
func (tx *Tx) CatalogueApps(ctx context.Context, status catalogue.Status) ([]catalogue.App, error) {
	q, args := catalogueAppSelect+` ORDER BY c.name, a.client_id`, []any(nil)
	if status != "" {
		q, args = catalogueAppSelect+` WHERE a.status = $1 ORDER BY c.name, a.client_id`, []any{string(status)}
	}
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list catalogue apps: %w", err)
	}
	var out []catalogue.App
	for rows.Next() {
		a, err := scanCatalogueApp(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, err
	}
	rows.Close()
	return out, tx.catalogueData(ctx, out)
}

// SetCatalogueStatus sets an app's status.
func (tx *Tx) SetCatalogueStatus(ctx context.Context, id string, s catalogue.Status, at time.Time) error {
	res, err := tx.exec(ctx, `UPDATE catalogue_apps SET status = $2, status_at = $3 WHERE client_id = $1`, id, string(s), micros(at))
	if err != nil {
		return fmt.Errorf("set catalogue app status: %w", err)
	}
	return oneRow(res, "app")
}

// SetCatalogueLogo replaces an app's logo.
func (tx *Tx) SetCatalogueLogo(ctx context.Context, id, contentType string, data []byte, at time.Time) error {
	res, err := tx.exec(ctx, `UPDATE catalogue_apps SET logo = $2, logo_type = $3, updated_at = $4 WHERE client_id = $1`,
		id, data, contentType, micros(at))
	if err != nil {
		return fmt.Errorf("set catalogue app logo: %w", err)
	}
	return oneRow(res, "app")
}

// CatalogueLogo returns an app's logo.
func (tx *Tx) CatalogueLogo(ctx context.Context, id string) (string, []byte, error) {
	var (
		typ  string
		data []byte
	)
	err := tx.queryRow(ctx, `SELECT logo_type, logo FROM catalogue_apps WHERE client_id = $1`, id).Scan(&typ, &data)
	if err != nil {
		return "", nil, notFound(err, "app")
	}
	if typ == "" || len(data) == 0 {
		return "", nil, errs.E(errs.NotFound, "the app has no logo")
	}
	return typ, data, nil
}
