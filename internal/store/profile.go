package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/profile"
)

// Profile adapts the store to the profile service.
func (db *DB) Profile() profile.Store { return profileStore{db} }

type profileStore struct{ db *DB }

func (s profileStore) UpdateProfile(ctx context.Context, fn func(profile.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s profileStore) ViewProfile(ctx context.Context, fn func(profile.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ profile.Tx = (*Tx)(nil)

// profileData is the part of an item kept as JSON: what no query filters on.
type profileData struct {
	Author      profile.Author         `json:"author"`
	ChangedBy   profile.Author         `json:"changed_by"`
	Condition   *profile.Condition     `json:"condition,omitempty"`
	Treatment   *profile.Treatment     `json:"treatment,omitempty"`
	Allergy     *profile.Allergy       `json:"allergy,omitempty"`
	Family      *profile.FamilyHistory `json:"family,omitempty"`
	Vaccination *profile.Vaccination   `json:"vaccination,omitempty"`
	Measurement *profile.Measurement   `json:"measurement,omitempty"`
	Wish        *profile.Wish          `json:"wish,omitempty"`
	Contact     *profile.Contact       `json:"contact,omitempty"`
	BloodGroup  *profile.BloodGroup    `json:"blood_group,omitempty"`
}

const profileColumns = `patient_id, version_id, item_id, version, section, status, hidden, class_code, type_code,
	deposited_by, author_kind, author_id, written_at, changed_at, created_at, dated_at, code, identifier, device_id, data`

// InsertProfileItem stores it as the current version of its item.
func (tx *Tx) InsertProfileItem(ctx context.Context, it *profile.Item) error {
	data, err := json.Marshal(profileData{Author: it.Author, ChangedBy: it.ChangedBy, Condition: it.Condition,
		Treatment: it.Treatment, Allergy: it.Allergy, Family: it.Family, Vaccination: it.Vaccination,
		Measurement: it.Measurement, Wish: it.Wish, Contact: it.Contact, BloodGroup: it.BloodGroup})
	if err != nil {
		return fmt.Errorf("encode profile item: %w", err)
	}
	_, err = tx.exec(ctx, `INSERT INTO profile_items (`+profileColumns+`, is_current)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, TRUE)`,
		it.PatientID, it.VersionID, it.ID, it.Version, string(it.Section), string(it.Status), it.Hidden, it.Class, it.Type,
		string(it.DepositedBy), string(it.Author.Kind), it.Author.ID, micros(it.Written), micros(it.Changed),
		micros(it.Created), micros(it.At), it.Code(), it.Identifier, it.Device, string(data))
	switch {
	case isUniqueViolation(err):
		return errs.Wrap(errs.Conflict, err, "an item with this identifier is already stored")
	case isForeignKeyViolation(err):
		return errs.Wrap(errs.NotFound, err, "no such patient")
	case err != nil:
		return fmt.Errorf("insert profile item: %w", err)
	}
	return nil
}

// SupersedeProfileItem marks a version as no longer current.
func (tx *Tx) SupersedeProfileItem(ctx context.Context, patientID int64, versionID string) error {
	res, err := tx.exec(ctx, `UPDATE profile_items SET is_current = FALSE WHERE patient_id = $1 AND version_id = $2 AND is_current`,
		patientID, versionID)
	if err != nil {
		return fmt.Errorf("supersede profile item: %w", err)
	}
	return oneRow(res, "profile item version")
}

// ProfileItem returns the current version of an item.
func (tx *Tx) ProfileItem(ctx context.Context, id string) (profile.Item, error) {
	items, err := tx.profileItems(ctx, `SELECT `+profileColumns+` FROM profile_items WHERE item_id = $1 AND is_current`, id)
	if err != nil {
		return profile.Item{}, err
	}
	if len(items) == 0 {
		return profile.Item{}, errs.E(errs.NotFound, "profile item not found")
	}
	return items[0], nil
}

// ProfileItemVersions returns every version of an item, oldest first.
func (tx *Tx) ProfileItemVersions(ctx context.Context, id string) ([]profile.Item, error) {
	return tx.profileItems(ctx, `SELECT `+profileColumns+` FROM profile_items WHERE item_id = $1 ORDER BY version`, id)
}

// ProfileItemByIdentifier returns the current version of the item holding identifier.
func (tx *Tx) ProfileItemByIdentifier(ctx context.Context, identifier string) (profile.Item, error) {
	items, err := tx.profileItems(ctx, `SELECT `+profileColumns+` FROM profile_items
		WHERE identifier = $1 AND identifier <> '' AND is_current`, identifier)
	if err != nil {
		return profile.Item{}, err
	}
	if len(items) == 0 {
		return profile.Item{}, errs.E(errs.NotFound, "no profile item with this identifier")
	}
	return items[0], nil
}

// ProfileItems returns the current, active versions of the patient's items that match q.
func (tx *Tx) ProfileItems(ctx context.Context, q profile.Query) ([]profile.Item, error) {
	var b strings.Builder
	args := []any{q.PatientID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	b.WriteString(`SELECT ` + profileColumns + ` FROM profile_items WHERE patient_id = $1 AND is_current AND status = 'active'`)
	in := func(col string, vs []string) {
		if len(vs) == 0 {
			return
		}
		ph := make([]string, len(vs))
		for i, v := range vs {
			ph[i] = arg(v)
		}
		b.WriteString(` AND ` + col + ` IN (` + strings.Join(ph, ", ") + `)`)
	}
	sections := make([]string, len(q.Sections))
	for i, s := range q.Sections {
		sections[i] = string(s)
	}
	in("section", sections)
	in("code", q.Codes)
	if !q.From.IsZero() {
		b.WriteString(` AND dated_at >= ` + arg(micros(q.From)))
	}
	if !q.To.IsZero() {
		b.WriteString(` AND dated_at < ` + arg(micros(q.To)))
	}
	order, cmp := "DESC", "<"
	if q.Ascending {
		order, cmp = "ASC", ">"
	}
	if q.AfterID != "" {
		at := arg(micros(q.AfterAt))
		b.WriteString(` AND (dated_at ` + cmp + ` ` + at + ` OR (dated_at = ` + at + ` AND item_id ` + cmp + ` ` + arg(q.AfterID) + `))`)
	}
	b.WriteString(` ORDER BY dated_at ` + order + `, item_id ` + order)
	if q.Limit > 0 {
		b.WriteString(` LIMIT ` + arg(q.Limit))
	}
	return tx.profileItems(ctx, b.String(), args...)
}

func (tx *Tx) profileItems(ctx context.Context, q string, args ...any) ([]profile.Item, error) {
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read profile items: %w", err)
	}
	defer rows.Close()
	var out []profile.Item
	for rows.Next() {
		var (
			it                                             profile.Item
			section, status, depositedBy, authorKind, data string
			written, changed, created, at                  int64
			authorID, code                                 string
		)
		if err := rows.Scan(&it.PatientID, &it.VersionID, &it.ID, &it.Version, &section, &status, &it.Hidden, &it.Class,
			&it.Type, &depositedBy, &authorKind, &authorID, &written, &changed, &created, &at, &code, &it.Identifier,
			&it.Device, &data); err != nil {
			return nil, fmt.Errorf("read profile items: %w", err)
		}
		var d profileData
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			return nil, fmt.Errorf("decode profile item %s: %w", it.ID, err)
		}
		it.Section, it.Status, it.DepositedBy = profile.Section(section), profile.Status(status), access.Depositor(depositedBy)
		it.Author, it.ChangedBy = d.Author, d.ChangedBy
		it.Author.Kind, it.Author.ID = audit.ActorKind(authorKind), authorID
		it.Written, it.Changed, it.Created, it.At = fromMicros(written), fromMicros(changed), fromMicros(created), fromMicros(at)
		it.Condition, it.Treatment, it.Allergy, it.Family, it.Vaccination = d.Condition, d.Treatment, d.Allergy, d.Family, d.Vaccination
		it.Measurement, it.Wish, it.Contact, it.BloodGroup = d.Measurement, d.Wish, d.Contact, d.BloodGroup
		if it.Measurement != nil {
			it.Measurement.Taken = it.Measurement.Taken.UTC()
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// deviceData is the part of a device kept as JSON.
type deviceData struct {
	Manufacturer string         `json:"manufacturer,omitempty"`
	Model        string         `json:"model,omitempty"`
	Name         string         `json:"name,omitempty"`
	Type         profile.Code   `json:"type,omitzero"`
	CreatedBy    profile.Author `json:"created_by"`
}

// ProfileDevice returns the device with identifier.
func (tx *Tx) ProfileDevice(ctx context.Context, identifier string) (profile.Device, error) {
	var (
		d          profile.Device
		kind, data string
		created    int64
	)
	err := tx.queryRow(ctx, `SELECT id, patient_id, identifier, created_by_kind, created_by_id, created_at, data
		FROM profile_devices WHERE identifier = $1`, identifier).Scan(&d.ID, &d.PatientID, &d.Identifier, &kind,
		&d.CreatedBy.ID, &created, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return profile.Device{}, errs.E(errs.NotFound, "no device with this identifier")
	}
	if err != nil {
		return profile.Device{}, fmt.Errorf("read device: %w", err)
	}
	var dd deviceData
	if err := json.Unmarshal([]byte(data), &dd); err != nil {
		return profile.Device{}, fmt.Errorf("decode device %s: %w", d.ID, err)
	}
	id := d.CreatedBy.ID
	d.Manufacturer, d.Model, d.Name, d.Type, d.CreatedBy = dd.Manufacturer, dd.Model, dd.Name, dd.Type, dd.CreatedBy
	d.CreatedBy.Kind, d.CreatedBy.ID, d.Created = audit.ActorKind(kind), id, fromMicros(created)
	return d, nil
}

// InsertProfileDevice stores a device.
func (tx *Tx) InsertProfileDevice(ctx context.Context, d *profile.Device) error {
	data, err := json.Marshal(deviceData{Manufacturer: d.Manufacturer, Model: d.Model, Name: d.Name, Type: d.Type, CreatedBy: d.CreatedBy})
	if err != nil {
		return fmt.Errorf("encode device: %w", err)
	}
	_, err = tx.exec(ctx, `INSERT INTO profile_devices (id, patient_id, identifier, created_by_kind, created_by_id, created_at, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, d.ID, d.PatientID, d.Identifier, string(d.CreatedBy.Kind), d.CreatedBy.ID,
		micros(d.Created), string(data))
	switch {
	case isUniqueViolation(err):
		return errs.Wrap(errs.Conflict, err, "a device with this identifier is already stored")
	case err != nil:
		return fmt.Errorf("insert device: %w", err)
	}
	return nil
}
