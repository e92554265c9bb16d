package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// Records adapts the store to the record service.
func (db *DB) Records() record.Store { return recordStore{db} }

type recordStore struct{ db *DB }

func (s recordStore) UpdateRecords(ctx context.Context, fn func(record.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s recordStore) ViewRecords(ctx context.Context, fn func(record.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ record.Tx = (*Tx)(nil)

// docMeta is the part of a document's metadata kept as JSON: what no query filters on.
type docMeta struct {
	INS                string          `json:"ins"`
	INSSystem          string          `json:"ins_system,omitempty"`
	SourcePatientID    string          `json:"source_patient_id,omitempty"`
	Replaces           string          `json:"replaces,omitempty"`
	Title              string          `json:"title"`
	Comments           string          `json:"comments,omitempty"`
	Language           string          `json:"language,omitempty"`
	TypeSystem         string          `json:"type_system,omitempty"`
	Format             record.Code     `json:"format,omitzero"`
	MimeType           string          `json:"mime_type"`
	Confidentiality    []record.Code   `json:"confidentiality,omitempty"`
	FacilityType       record.Code     `json:"facility_type,omitzero"`
	PracticeSetting    record.Code     `json:"practice_setting,omitzero"`
	EventCodes         []record.Code   `json:"event_codes,omitempty"`
	ReferenceIDs       []string        `json:"reference_ids,omitempty"`
	Authors            []record.Author `json:"authors,omitempty"`
	LegalAuthenticator string          `json:"legal_authenticator,omitempty"`
	CDALevel           int             `json:"cda_level,omitempty"`
}

const documentColumns = `patient_id, entry_uuid, logical_id, version, unique_id, status, archived, class_code,
	type_code, space, created, service_start, service_end, submitted, updated, masque_ps, invisible_patient,
	visible_at, invisible_representants, deposited_by, depositor, blob_id, size, sha256, sha1, metadata`

// InsertDocument stores d as the current metadata version of its logicalId, with its authors.
func (tx *Tx) InsertDocument(ctx context.Context, d *record.Document) error {
	meta, err := json.Marshal(docMeta{
		INS: d.INS.Matricule, INSSystem: string(d.INS.System), SourcePatientID: d.SourcePatientID,
		Replaces: d.Replaces, Title: d.Title, Comments: d.Comments, Language: d.Language,
		TypeSystem: d.TypeSystem, Format: d.Format, MimeType: d.MimeType, Confidentiality: d.Confidentiality,
		FacilityType: d.FacilityType, PracticeSetting: d.PracticeSetting, EventCodes: d.EventCodes,
		ReferenceIDs: d.ReferenceIDs, Authors: d.Authors, LegalAuthenticator: d.LegalAuthenticator,
		CDALevel: d.CDALevel,
	})
	if err != nil {
		return fmt.Errorf("encode document metadata: %w", err)
	}
	_, err = tx.exec(ctx, `INSERT INTO documents (`+documentColumns+`, is_current)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, TRUE)`,
		d.PatientID, d.EntryUUID, d.LogicalID, d.Version, d.UniqueID, string(d.Status), d.Archived, d.Class,
		d.Type, string(d.Space), micros(d.Created), micros(d.ServiceStart), nullMicros(d.ServiceEnd),
		micros(d.Submitted), micros(d.Updated), d.Labels.MasquePS, d.Labels.InvisiblePatient,
		nullMicros(d.Labels.VisibleToPatientAt), d.Labels.InvisibleRepresentants, string(d.DepositedBy),
		d.Depositor, d.BlobID, d.Size, d.SHA256, d.SHA1, string(meta))
	if err != nil {
		if isUniqueViolation(err) {
			return errs.E(errs.Conflict, "document entry %s already exists", d.EntryUUID)
		}
		return fmt.Errorf("insert document: %w", err)
	}
	seen := map[string]bool{}
	for _, a := range d.Authors {
		if a.Kind != record.AuthorProfessional || a.ID == "" || seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		if _, err := tx.exec(ctx, `INSERT INTO document_authors (patient_id, entry_uuid, idnat_ps) VALUES ($1, $2, $3)`,
			d.PatientID, d.EntryUUID, a.ID); err != nil {
			return fmt.Errorf("insert document author: %w", err)
		}
	}
	return nil
}

// SupersedeDocument marks a metadata version as no longer current.
func (tx *Tx) SupersedeDocument(ctx context.Context, entryUUID string) error {
	res, err := tx.exec(ctx, `UPDATE documents SET is_current = FALSE WHERE entry_uuid = $1 AND is_current`, entryUUID)
	if err != nil {
		return fmt.Errorf("supersede document: %w", err)
	}
	return oneRow(res, "document entry")
}

// SetDocumentStatus changes a metadata version's status in place.
func (tx *Tx) SetDocumentStatus(ctx context.Context, entryUUID string, st record.Status, at time.Time) error {
	res, err := tx.exec(ctx, `UPDATE documents SET status = $2, updated = $3 WHERE entry_uuid = $1`, entryUUID, string(st), micros(at))
	if err != nil {
		return fmt.Errorf("set document status: %w", err)
	}
	return oneRow(res, "document entry")
}

func oneRow(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.E(errs.NotFound, "%s not found", what)
	}
	return nil
}

// Document returns the current metadata version of logicalID.
func (tx *Tx) Document(ctx context.Context, logicalID string) (record.Document, error) {
	d, err := tx.scanDocument(tx.queryRow(ctx, `SELECT `+documentColumns+` FROM documents WHERE logical_id = $1 AND is_current`, logicalID))
	return d, notFound(err, "document")
}

// DocumentByUniqueID returns the patient's current approved document with this uniqueId.
func (tx *Tx) DocumentByUniqueID(ctx context.Context, patientID int64, uniqueID string) (record.Document, error) {
	d, err := tx.scanDocument(tx.queryRow(ctx, `SELECT `+documentColumns+` FROM documents
		WHERE patient_id = $1 AND unique_id = $2 AND is_current AND status = 'approved'`, patientID, uniqueID))
	return d, notFound(err, "document")
}

// SearchDocuments returns the current metadata versions of the patient's documents matching q,
// newest first (creationTime, then logicalId), at most q.Limit+1.
func (tx *Tx) SearchDocuments(ctx context.Context, q record.Query) ([]record.Document, error) {
	var b strings.Builder
	args := []any{q.PatientID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		ph := make([]string, len(vals))
		for i, v := range vals {
			ph[i] = arg(v)
		}
		fmt.Fprintf(&b, " AND %s IN (%s)", col, strings.Join(ph, ", "))
	}
	// The listing reads three columns a row; the rest of each document comes from the cache of
	// entries (a metadata version never changes but for its status), or from a second query
	// for the entries not cached. Scanning 26 columns a row cost more than the search itself.
	b.WriteString(`SELECT entry_uuid, status, updated FROM documents d WHERE patient_id = $1 AND is_current`)
	statuses := make([]string, len(q.Statuses))
	for i, s := range q.Statuses {
		statuses[i] = string(s)
	}
	in("status", statuses)
	in("type_code", q.Types)
	in("class_code", q.Classes)
	spaces := make([]string, len(q.Spaces))
	for i, s := range q.Spaces {
		spaces[i] = string(s)
	}
	in("space", spaces)
	switch q.Archived {
	case record.ExcludeArchived:
		b.WriteString(" AND NOT archived")
	case record.OnlyArchived:
		b.WriteString(" AND archived")
	}
	if !q.CreatedFrom.IsZero() {
		b.WriteString(" AND created >= " + arg(micros(q.CreatedFrom)))
	}
	if !q.CreatedTo.IsZero() {
		b.WriteString(" AND created < " + arg(micros(q.CreatedTo)))
	}
	if !q.ServiceFrom.IsZero() {
		b.WriteString(" AND COALESCE(service_end, service_start) >= " + arg(micros(q.ServiceFrom)))
	}
	if !q.ServiceTo.IsZero() {
		b.WriteString(" AND service_start < " + arg(micros(q.ServiceTo)))
	}
	for _, l := range q.Labels {
		switch l {
		case access.LabelMasquePS:
			b.WriteString(" AND masque_ps")
		case access.LabelInvisiblePatient:
			b.WriteString(" AND invisible_patient")
		case access.LabelInvisibleRepresentants:
			b.WriteString(" AND invisible_representants")
		default:
			return nil, errs.E(errs.Invalid, "unknown visibility label %q", l)
		}
	}
	if q.Author != "" {
		b.WriteString(` AND EXISTS (SELECT 1 FROM document_authors a WHERE a.patient_id = d.patient_id
			AND a.entry_uuid = d.entry_uuid AND a.idnat_ps = ` + arg(q.Author) + `)`)
	}
	if !q.AfterCreated.IsZero() {
		c, id := arg(micros(q.AfterCreated)), arg(q.AfterID)
		fmt.Fprintf(&b, " AND (created < %s OR (created = %s AND logical_id < %s))", c, c, id)
	}
	b.WriteString(" ORDER BY created DESC, logical_id DESC LIMIT " + arg(q.Limit+1))
	rows, err := tx.query(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("search documents: %w", err)
	}
	type hit struct {
		entry, status string
		updated       int64
	}
	var hits []hit
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.entry, &h.status, &h.updated); err != nil {
			rows.Close()
			return nil, fmt.Errorf("search documents: %w", err)
		}
		hits = append(hits, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search documents: %w", err)
	}
	out := make([]record.Document, len(hits))
	var missing []string
	for i, h := range hits {
		if d, ok := tx.db.entries.get(h.entry); ok {
			out[i] = d
		} else {
			missing = append(missing, h.entry)
		}
	}
	if len(missing) > 0 {
		loaded, err := tx.loadEntries(ctx, q.PatientID, missing)
		if err != nil {
			return nil, err
		}
		for i, h := range hits {
			if out[i].EntryUUID == "" {
				d, ok := loaded[h.entry]
				if !ok {
					return nil, errs.E(errs.Internal, "document entry %s vanished during a search", h.entry)
				}
				out[i] = d
			}
		}
	}
	for i, h := range hits {
		out[i].Status, out[i].Updated = record.Status(h.status), fromMicros(h.updated)
	}
	return out, nil
}

// loadEntries reads the given entries of a patient whole (and caches them, in a View).
func (tx *Tx) loadEntries(ctx context.Context, patientID int64, entries []string) (map[string]record.Document, error) {
	args := []any{patientID}
	ph := make([]string, len(entries))
	for i, e := range entries {
		args = append(args, e)
		ph[i] = "$" + strconv.Itoa(len(args))
	}
	rows, err := tx.query(ctx, `SELECT `+documentColumns+` FROM documents WHERE patient_id = $1 AND entry_uuid IN (`+
		strings.Join(ph, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read documents: %w", err)
	}
	defer rows.Close()
	out := make(map[string]record.Document, len(entries))
	for rows.Next() {
		d, err := tx.scanDocument(rows)
		if err != nil {
			return nil, fmt.Errorf("read documents: %w", err)
		}
		out[d.EntryUUID] = d
	}
	return out, rows.Err()
}

// entryCache keeps documents by entryUUID. A metadata version never changes once written (a
// change is a new entryUUID) but for its status and update time, which are columns a listing
// reads each time; so an entry can be served from any node's cache for as long as it lives,
// and a listing reads three columns a row instead of decoding whole rows. Bounded: emptied
// when full, which costs one read per entry again. The slices of a cached document are shared
// by the copies handed out: they are read-only.
type entryCache struct {
	mu sync.RWMutex
	m  map[string]record.Document
}

const entryCacheSize = 20000

func (c *entryCache) get(entryUUID string) (record.Document, bool) {
	c.mu.RLock()
	d, ok := c.m[entryUUID]
	c.mu.RUnlock()
	return d, ok
}

func (c *entryCache) put(d record.Document) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= entryCacheSize {
		c.m = make(map[string]record.Document, 1024)
	}
	c.m[d.EntryUUID] = d
	c.mu.Unlock()
}

func (tx *Tx) scanDocument(row interface{ Scan(...any) error }) (record.Document, error) {
	var (
		d                                              record.Document
		status, space, depositedBy, meta               string
		created, start, submitted, updated             int64
		end, visible                                   sql.NullInt64
		masque, invisiblePatient, invisibleReps, archv bool
	)
	if err := row.Scan(&d.PatientID, &d.EntryUUID, &d.LogicalID, &d.Version, &d.UniqueID, &status, &archv,
		&d.Class, &d.Type, &space, &created, &start, &end, &submitted, &updated, &masque, &invisiblePatient,
		&visible, &invisibleReps, &depositedBy, &d.Depositor, &d.BlobID, &d.Size, &d.SHA256, &d.SHA1, &meta); err != nil {
		return record.Document{}, err
	}
	m := new(docMeta)
	if err := json.Unmarshal([]byte(meta), m); err != nil {
		return record.Document{}, fmt.Errorf("decode document metadata: %w", err)
	}
	d.Status, d.Archived, d.Space, d.DepositedBy = record.Status(status), archv, terminology.Space(space), access.Depositor(depositedBy)
	d.Created, d.ServiceStart, d.ServiceEnd = fromMicros(created), fromMicros(start), fromNullMicros(end)
	d.Submitted, d.Updated = fromMicros(submitted), fromMicros(updated)
	d.Labels = access.Labels{MasquePS: masque, InvisiblePatient: invisiblePatient,
		VisibleToPatientAt: fromNullMicros(visible), InvisibleRepresentants: invisibleReps}
	d.INS = identity.INS{Matricule: m.INS, System: identity.OID(m.INSSystem)}
	d.SourcePatientID, d.Replaces, d.Title, d.Comments, d.Language = m.SourcePatientID, m.Replaces, m.Title, m.Comments, m.Language
	d.TypeSystem, d.Format, d.MimeType, d.Confidentiality = m.TypeSystem, m.Format, m.MimeType, m.Confidentiality
	d.FacilityType, d.PracticeSetting, d.EventCodes, d.ReferenceIDs = m.FacilityType, m.PracticeSetting, m.EventCodes, m.ReferenceIDs
	d.Authors, d.LegalAuthenticator, d.CDALevel = m.Authors, m.LegalAuthenticator, m.CDALevel
	if tx.readOnly {
		// A write transaction may see its own entries, which may yet roll back (and an
		// entryUUID may come from a client that retries): only committed ones are cached.
		tx.db.entries.put(d)
	}
	return d, nil
}

// SyncDocumentTypes makes the document_types table hold exactly types.
func (tx *Tx) SyncDocumentTypes(ctx context.Context, types []terminology.TypeCode) error {
	if _, err := tx.exec(ctx, `DELETE FROM document_types`); err != nil {
		return fmt.Errorf("sync document types: %w", err)
	}
	for _, t := range types {
		if _, err := tx.exec(ctx, `INSERT INTO document_types (code, system, label, class_code, space) VALUES ($1, $2, $3, $4, $5)`,
			t.Code, t.System, t.Label, t.Class, string(t.Space)); err != nil {
			return fmt.Errorf("sync document types: %w", err)
		}
	}
	return nil
}

// PendingBlobGarbage returns up to limit blobs waiting to be erased.
func (tx *Tx) PendingBlobGarbage(ctx context.Context, limit int) ([]string, error) {
	ids, err := tx.stringColumn(ctx, `SELECT blob_id FROM blob_garbage ORDER BY since, blob_id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("read blob garbage: %w", err)
	}
	return ids, nil
}

// stringColumn runs a query of one text column and returns its values.
func (tx *Tx) stringColumn(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ForgetBlobGarbage removes an erased blob from the list.
func (tx *Tx) ForgetBlobGarbage(ctx context.Context, id string) error {
	_, err := tx.exec(ctx, `DELETE FROM blob_garbage WHERE blob_id = $1`, id)
	return err
}

// DueReleases returns up to limit documents held back from the patient whose announcement
// delay ended by now (their logicalIds).
func (tx *Tx) DueReleases(ctx context.Context, now time.Time, limit int) ([]string, error) {
	ids, err := tx.stringColumn(ctx, `SELECT logical_id FROM documents WHERE is_current AND invisible_patient
		AND visible_at <= $1 AND status <> 'deleted' ORDER BY visible_at LIMIT $2`, micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("read held-back documents: %w", err)
	}
	return ids, nil
}
