package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
)

// Spaces adapts the store to the space service.
func (db *DB) Spaces() space.Store { return spaceStore{db} }

type spaceStore struct{ db *DB }

func (s spaceStore) UpdateSpaces(ctx context.Context, fn func(space.Tx) error) error {
	return s.db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

// BulkUpdateSpaces runs fn in a write transaction of its own. On SQLite it does not join the
// group commit: each piece of work there runs in a savepoint, and SQLite copies every page a
// savepoint changes into a sub-journal first, which for a batch of thousands of creations
// doubled its cost; it waits for the one writer connection like the committer does. On
// PostgreSQL the transaction keeps hold of its connection, so that bulk inserts can COPY.
func (s spaceStore) BulkUpdateSpaces(ctx context.Context, fn func(space.Tx) error) error {
	if s.db.dialect != Postgres {
		return s.db.run(ctx, s.db.write, false, func(tx *Tx) error { return fn(tx) })
	}
	conn, err := s.db.write.Conn(ctx)
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "begin transaction")
	}
	defer conn.Close()
	return s.db.run(ctx, conn, false, func(tx *Tx) error { return fn(tx) })
}

func (s spaceStore) ViewSpaces(ctx context.Context, fn func(space.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ space.Tx = (*Tx)(nil)

const patientColumns = `id, ins, ins_oid, birth_name, given_names, used_name, birth_date, sex, email, phone, postal_address, created_at`

func scanPatient(row interface{ Scan(...any) error }) (space.Patient, error) {
	var p space.Patient
	var oid, birth, sex string
	var created int64
	if err := row.Scan(&p.ID, &p.INS.Matricule, &oid, &p.BirthName, &p.GivenNames, &p.UsedName, &birth, &sex,
		&p.Email, &p.Phone, &p.PostalAddress, &created); err != nil {
		return p, err
	}
	p.INS.System = identity.OID(oid)
	p.Sex = space.Sex(sex)
	p.CreatedAt = fromMicros(created)
	if birth != "" {
		t, err := time.Parse(space.DateLayout, birth)
		if err != nil {
			return p, fmt.Errorf("patient %d: stored birth date: %w", p.ID, err)
		}
		p.BirthDate = t
	}
	return p, nil
}

// InsertPatient stores a new patient and sets p.ID.
func (tx *Tx) InsertPatient(ctx context.Context, p *space.Patient) error {
	err := tx.queryRow(ctx, `INSERT INTO patients (ins, ins_oid, birth_name, given_names, used_name, birth_date, sex,
		email, phone, postal_address, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		p.INS.Matricule, string(p.INS.System), p.BirthName, p.GivenNames, p.UsedName, p.BirthDate.Format(space.DateLayout),
		string(p.Sex), p.Email, p.Phone, p.PostalAddress, micros(p.CreatedAt)).Scan(&p.ID)
	if isUniqueViolation(err) {
		return errs.E(errs.Conflict, "a space already exists for this INS")
	}
	if err != nil {
		return fmt.Errorf("insert patient: %w", err)
	}
	return nil
}

// InsertPatients stores new patients in a few statements and returns their ids, in order. A
// patient whose INS has a space by now (another import created it since the caller looked)
// is not inserted and gets id 0: PostgreSQL makes the insert wait for that transaction, so
// the caller can read the patient then. (On SQLite that cannot happen when the caller looked
// in the same transaction; should it, the batch fails with Conflict.)
func (tx *Tx) InsertPatients(ctx context.Context, ps []space.Patient) ([]int64, error) {
	n := len(ps)
	ins, oid, birthName, given, used, born, sex := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	email, phone, addr, created := make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	at := make(map[string]int, n)
	for i, p := range ps {
		ins[i], oid[i], birthName[i], given[i], used[i] = p.INS.Matricule, string(p.INS.System), p.BirthName, p.GivenNames, p.UsedName
		born[i], sex[i], email[i], phone[i], addr[i] = p.BirthDate.Format(space.DateLayout), string(p.Sex), p.Email, p.Phone, p.PostalAddress
		created[i] = micros(p.CreatedAt)
		at[p.INS.Matricule] = i
	}
	ids := make([]int64, n)
	cols := []bulkCol{{"ins", "text", ins}, {"ins_oid", "text", oid},
		{"birth_name", "text", birthName}, {"given_names", "text", given}, {"used_name", "text", used},
		{"birth_date", "text", born}, {"sex", "text", sex}, {"email", "text", email}, {"phone", "text", phone},
		{"postal_address", "text", addr}, {"created_at", "bigint", created}}
	if tx.db.dialect == SQLite && n > 0 {
		// SQLite has one writer and the transaction took the write lock at BEGIN, so nobody
		// can have created one of these people since the caller looked them up in it: the ids
		// are the next ones, given here, and the rows need no RETURNING read back, scanned and
		// matched one by one. AUTOINCREMENT's counter (sqlite_sequence) is the highest id ever
		// given; it follows the ids inserted.
		var last int64
		if err := tx.queryRow(ctx, `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'patients'), 0),
			COALESCE((SELECT MAX(id) FROM patients), 0))`).Scan(&last); err != nil {
			return nil, fmt.Errorf("insert patients: %w", err)
		}
		for i := range ids {
			ids[i] = last + 1 + int64(i)
		}
		err := tx.insertBulk(ctx, "patients", append([]bulkCol{{"id", "bigint", ids}}, cols...), "", nil)
		if isUniqueViolation(err) {
			return nil, errs.E(errs.Conflict, "a person of the batch already has a space; try again")
		}
		if err != nil {
			return nil, fmt.Errorf("insert patients: %w", err)
		}
		return ids, nil
	}
	err := tx.insertBulk(ctx, "patients", cols,
		`ON CONFLICT (ins) DO NOTHING RETURNING id, ins`, func(rows *sql.Rows) error {
			var id int64
			var m string
			if err := rows.Scan(&id, &m); err != nil {
				return err
			}
			ids[at[m]] = id
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("insert patients: %w", err)
	}
	return ids, nil
}

// PatientsByINS returns the patients of these matricules that exist, by matricule, in one
// query.
func (tx *Tx) PatientsByINS(ctx context.Context, matricules []string) (map[string]space.Patient, error) {
	out := make(map[string]space.Patient, len(matricules))
	if len(matricules) == 0 {
		return out, nil
	}
	cond, arg, err := tx.db.inList("ins", matricules, 1)
	if err != nil {
		return nil, err
	}
	rows, err := tx.query(ctx, `SELECT `+patientColumns+` FROM patients WHERE `+cond, arg)
	if err != nil {
		return nil, fmt.Errorf("look up patients: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPatient(rows)
		if err != nil {
			return nil, fmt.Errorf("look up patients: %w", err)
		}
		out[p.INS.Matricule] = p
	}
	return out, rows.Err()
}

// Patient returns a patient by id.
func (tx *Tx) Patient(ctx context.Context, id int64) (space.Patient, error) {
	p, err := scanPatient(tx.queryRow(ctx, `SELECT `+patientColumns+` FROM patients WHERE id = $1`, id))
	return p, notFound(err, "patient")
}

// SetPatientContact replaces where a patient's notices go.
func (tx *Tx) SetPatientContact(ctx context.Context, patientID int64, email, phone string) error {
	res, err := tx.exec(ctx, `UPDATE patients SET email = $2, phone = $3 WHERE id = $1`, patientID, email, phone)
	if err != nil {
		return fmt.Errorf("set patient contact: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return errs.E(errs.NotFound, "no such patient")
	}
	return nil
}

// PatientByINS returns a patient by matricule.
func (tx *Tx) PatientByINS(ctx context.Context, matricule string) (space.Patient, error) {
	p, err := scanPatient(tx.queryRow(ctx, `SELECT `+patientColumns+` FROM patients WHERE ins = $1`, matricule))
	return p, notFound(err, "patient")
}

const spaceColumns = `patient_id, state, created_at, opens_at, opened_at, activated, opposed_at, closed_at,
	purge_at, deletion_requested, purged_at, version`

// InsertSpace stores a new space.
func (tx *Tx) InsertSpace(ctx context.Context, s space.Space, activationHash string) error {
	_, err := tx.exec(ctx, `INSERT INTO spaces (`+spaceColumns+`, activation_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		s.PatientID, string(s.State), micros(s.CreatedAt), nullMicros(s.OpensAt), nullMicros(s.OpenedAt), s.Activated,
		nullMicros(s.OpposedAt), nullMicros(s.ClosedAt), nullMicros(s.PurgeAt), s.DeletionRequested,
		nullMicros(s.PurgedAt), s.Version, activationHash)
	if isUniqueViolation(err) {
		return errs.E(errs.Conflict, "this person already has a space")
	}
	if err != nil {
		return fmt.Errorf("insert space: %w", err)
	}
	return nil
}

// InsertSpaces stores new spaces, each with the hash of its activation code ("" when none),
// in a few statements.
func (tx *Tx) InsertSpaces(ctx context.Context, ss []space.Space, activationHashes []string) error {
	n := len(ss)
	patient, created, version := make([]int64, n), make([]int64, n), make([]int64, n)
	state := make([]string, n)
	opens, opened, opposed, closed, purgeAt, purged := make([]*int64, n), make([]*int64, n), make([]*int64, n),
		make([]*int64, n), make([]*int64, n), make([]*int64, n)
	activated, deletion := make([]bool, n), make([]bool, n)
	for i, s := range ss {
		patient[i], state[i], created[i], version[i] = s.PatientID, string(s.State), micros(s.CreatedAt), s.Version
		opens[i], opened[i], opposed[i] = microsOrNil(s.OpensAt), microsOrNil(s.OpenedAt), microsOrNil(s.OpposedAt)
		closed[i], purgeAt[i], purged[i] = microsOrNil(s.ClosedAt), microsOrNil(s.PurgeAt), microsOrNil(s.PurgedAt)
		activated[i], deletion[i] = s.Activated, s.DeletionRequested
	}
	err := tx.insertBulk(ctx, "spaces", []bulkCol{{"patient_id", "bigint", patient}, {"state", "text", state},
		{"created_at", "bigint", created}, {"opens_at", "bigint", opens}, {"opened_at", "bigint", opened},
		{"activated", "boolean", activated}, {"opposed_at", "bigint", opposed}, {"closed_at", "bigint", closed},
		{"purge_at", "bigint", purgeAt}, {"deletion_requested", "boolean", deletion}, {"purged_at", "bigint", purged},
		{"version", "bigint", version}, {"activation_hash", "text", activationHashes}}, "", nil)
	if isUniqueViolation(err) {
		return errs.E(errs.Conflict, "a person of the batch already has a space")
	}
	if err != nil {
		return fmt.Errorf("insert spaces: %w", err)
	}
	return nil
}

// microsOrNil is nullMicros for a bulk column.
func microsOrNil(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	us := micros(t)
	return &us
}

// Space returns a patient's space.
func (tx *Tx) Space(ctx context.Context, patientID int64) (space.Space, error) {
	var s space.Space
	var state string
	var created int64
	var opens, opened, opposed, closed, purgeAt, purged sql.NullInt64
	err := tx.queryRow(ctx, `SELECT `+spaceColumns+` FROM spaces WHERE patient_id = $1`, patientID).Scan(
		&s.PatientID, &state, &created, &opens, &opened, &s.Activated, &opposed, &closed, &purgeAt,
		&s.DeletionRequested, &purged, &s.Version)
	if err != nil {
		return s, notFound(err, "space")
	}
	s.State = space.State(state)
	s.CreatedAt = fromMicros(created)
	s.OpensAt, s.OpenedAt, s.OpposedAt = fromNullMicros(opens), fromNullMicros(opened), fromNullMicros(opposed)
	s.ClosedAt, s.PurgeAt, s.PurgedAt = fromNullMicros(closed), fromNullMicros(purgeAt), fromNullMicros(purged)
	return s, nil
}

// SaveSpace writes s if nobody changed it since it was read (s.Version), and bumps the version.
func (tx *Tx) SaveSpace(ctx context.Context, s space.Space) error {
	res, err := tx.exec(ctx, `UPDATE spaces SET state = $2, opens_at = $3, opened_at = $4, activated = $5,
		opposed_at = $6, closed_at = $7, purge_at = $8, deletion_requested = $9, purged_at = $10, version = version + 1
		WHERE patient_id = $1 AND version = $11`,
		s.PatientID, string(s.State), nullMicros(s.OpensAt), nullMicros(s.OpenedAt), s.Activated,
		nullMicros(s.OpposedAt), nullMicros(s.ClosedAt), nullMicros(s.PurgeAt), s.DeletionRequested,
		nullMicros(s.PurgedAt), s.Version)
	if err != nil {
		return fmt.Errorf("save space: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errs.E(errs.Conflict, "the space changed meanwhile; try again")
	}
	return nil
}

// ActivationHash returns the hash of the pending activation code ("" when none).
func (tx *Tx) ActivationHash(ctx context.Context, patientID int64) (string, error) {
	var h string
	err := tx.queryRow(ctx, `SELECT activation_hash FROM spaces WHERE patient_id = $1`, patientID).Scan(&h)
	return h, notFound(err, "space")
}

// SetActivationHash replaces the activation code hash.
func (tx *Tx) SetActivationHash(ctx context.Context, patientID int64, hash string) error {
	_, err := tx.exec(ctx, `UPDATE spaces SET activation_hash = $2 WHERE patient_id = $1`, patientID, hash)
	return err
}

// DueSpaces lists spaces whose opening or purge deadline has passed. Both conditions use a
// partial index, so the sweep reads only what is due.
func (tx *Tx) DueSpaces(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	rows, err := tx.query(ctx, `SELECT patient_id FROM (
		SELECT patient_id, opens_at AS due FROM spaces WHERE state = 'pending' AND opens_at <= $1
		UNION ALL
		SELECT patient_id, purge_at AS due FROM spaces WHERE state = 'closed' AND purge_at <= $1
	) d ORDER BY due, patient_id LIMIT $2`, micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due spaces: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// PurgePatientData deletes what is held for the patient. The INS stays (so that the space is
// not created again by the next opt-out run) and the traces stay (the access trail outlives
// the space); every other trait is erased. Each capability that stores patient data adds its
// tables to purgeStatements: TestPurgeCoversEveryTable fails for a table holding a patient,
// an account or a mailbox that is neither purged nor said to be kept.
func (tx *Tx) PurgePatientData(ctx context.Context, patientID int64, now time.Time) error {
	for _, st := range purgeStatements {
		// PostgreSQL refuses a parameter a statement does not use: pass only those it names.
		var args []any
		switch {
		case strings.Contains(st.sql, "$2"):
			args = []any{patientID, micros(now)}
		case strings.Contains(st.sql, "$1"):
			args = []any{patientID}
		}
		if _, err := tx.exec(ctx, st.sql, args...); err != nil {
			return fmt.Errorf("purge patient data (%s): %w", st.table, err)
		}
	}
	return nil
}

// purgeStatement empties (or, for the rows that must stay, blanks) one table of a patient's
// data; $1 is the patient, $2 now.
type purgeStatement struct{ table, sql string }

// The patient's own accounts: what hangs on them goes with the space.
const patientAccounts = `(SELECT id FROM accounts WHERE patient_id = $1)`

// The patient's mailbox (one at most).
const patientMailbox = `(SELECT id FROM mailboxes WHERE patient_id = $1)`

// purgeStatements run in this order: bytes are queued for the blob garbage job while the rows
// that name them still exist.
var purgeStatements = []purgeStatement{
	{"representatives", `DELETE FROM representatives WHERE patient_id = $1 OR representative_id = $1`},
	{"access_medecins_traitants", `DELETE FROM access_medecins_traitants WHERE patient_id = $1`},
	{"access_blocked", `DELETE FROM access_blocked WHERE patient_id = $1`},
	{"access_oppositions", `DELETE FROM access_oppositions WHERE patient_id = $1`},
	{"access_care_team", `DELETE FROM access_care_team WHERE patient_id = $1`},
	{"access_authorisations", `DELETE FROM access_authorisations WHERE patient_id = $1`},
	// The documents' bytes are erased by the blob garbage job, after this commits.
	{"blob_garbage", `INSERT INTO blob_garbage (blob_id, since) SELECT DISTINCT blob_id, CAST($2 AS BIGINT) FROM documents
		WHERE patient_id = $1 AND blob_id <> '' ON CONFLICT DO NOTHING`},
	{"notice_outbox", `DELETE FROM notice_outbox WHERE patient_id = $1`},
	{"access_seen", `DELETE FROM access_seen WHERE patient_id = $1`},
	{"document_authors", `DELETE FROM document_authors WHERE patient_id = $1`},
	{"documents", `DELETE FROM documents WHERE patient_id = $1`},
	{"agenda_events", `DELETE FROM agenda_events WHERE patient_id = $1`},
	{"agenda_settings", `DELETE FROM agenda_settings WHERE patient_id = $1`},
	{"profile_items", `DELETE FROM profile_items WHERE patient_id = $1`},
	{"emergency_card_items", `DELETE FROM emergency_card_items WHERE patient_id = $1`},
	{"emergency_cards", `DELETE FROM emergency_cards WHERE patient_id = $1`},
	{"profile_devices", `DELETE FROM profile_devices WHERE patient_id = $1`},
	{"profile_shares", `DELETE FROM profile_shares WHERE patient_id = $1`},
	// Questionnaires received and their responses: their JSON (blobs) to the garbage job.
	{"blob_garbage", `INSERT INTO blob_garbage (blob_id, since) SELECT blob_id, CAST($2 AS BIGINT) FROM questionnaire_responses
		WHERE patient_id = $1 UNION SELECT blob_id, CAST($2 AS BIGINT) FROM questionnaires WHERE patient_id = $1 ON CONFLICT DO NOTHING`},
	{"questionnaire_responses", `DELETE FROM questionnaire_responses WHERE patient_id = $1`},
	{"questionnaires", `DELETE FROM questionnaires WHERE patient_id = $1`},
	// Machine access: tokens, codes and grants bound to the patient or their accounts.
	{"api_tokens", `DELETE FROM api_tokens WHERE patient_id = $1 OR account_id IN ` + patientAccounts},
	{"oauth_codes", `DELETE FROM oauth_codes WHERE patient_id = $1`},
	{"oauth_grants", `DELETE FROM oauth_grants WHERE patient_id = $1`},
	// Sign-in: sessions, pending codes and reset links, passkeys, external identities.
	{"auth_sessions", `DELETE FROM auth_sessions WHERE account_id IN ` + patientAccounts},
	{"auth_challenges", `DELETE FROM auth_challenges WHERE account_id IN ` + patientAccounts},
	{"auth_reset_tokens", `DELETE FROM auth_reset_tokens WHERE account_id IN ` + patientAccounts},
	{"webauthn_credentials", `DELETE FROM webauthn_credentials WHERE account_id IN ` + patientAccounts},
	{"oidc_links", `DELETE FROM oidc_links WHERE account_id IN ` + patientAccounts},
	// The patient's mailbox: the bytes of the messages no other mailbox or pending outbound
	// delivery holds go to the garbage job, then those messages, the deliveries, the folders
	// and the conversations. A message also delivered to a professional stays theirs.
	{"blob_garbage", `INSERT INTO blob_garbage (blob_id, since) SELECT DISTINCT m.blob_id, CAST($2 AS BIGINT)
		FROM mail_messages m JOIN mail_deliveries d ON d.message_ref = m.id
		WHERE d.mailbox_id IN ` + patientMailbox + `
		AND NOT EXISTS (SELECT 1 FROM mail_deliveries o WHERE o.message_ref = m.id AND o.mailbox_id NOT IN ` + patientMailbox + `)
		AND NOT EXISTS (SELECT 1 FROM mail_outbound q WHERE q.message_ref = m.id)
		ON CONFLICT DO NOTHING`},
	{"mail_deliveries", `DELETE FROM mail_deliveries WHERE mailbox_id IN ` + patientMailbox},
	{"mail_messages", `DELETE FROM mail_messages WHERE blob_id IN (SELECT blob_id FROM blob_garbage)
		AND NOT EXISTS (SELECT 1 FROM mail_deliveries d WHERE d.message_ref = mail_messages.id)
		AND NOT EXISTS (SELECT 1 FROM mail_outbound q WHERE q.message_ref = mail_messages.id)`},
	{"mail_folders", `DELETE FROM mail_folders WHERE mailbox_id IN ` + patientMailbox},
	{"mail_conversations", `DELETE FROM mail_conversations WHERE patient_address IN (SELECT address FROM mailboxes WHERE patient_id = $1)`},
	// The mailbox row stays, disabled: its address (the INS) never serves anyone else.
	{"mailboxes", `UPDATE mailboxes SET display_name = '', used_bytes = 0, disabled_at = COALESCE(disabled_at, $2) WHERE patient_id = $1`},
	{"accounts", `UPDATE accounts SET disabled_at = COALESCE(disabled_at, $2), password_hash = '' WHERE patient_id = $1`},
	{"patients", `UPDATE patients SET birth_name = '', given_names = '', used_name = '', email = '', phone = '', postal_address = '' WHERE id = $1`},
	{"spaces", `UPDATE spaces SET activation_hash = '' WHERE patient_id = $1`},
}

// keptOnPurge are the tables holding a patient, an account or a mailbox that a purge leaves
// as they are, and why.
var keptOnPurge = map[string]string{
	"traces":             "the access trail outlives the space (DOMAIN.md)",
	"mailbox_members":    "professionals in ORG mailboxes; a patient mailbox has none",
	"mail_app_passwords": "mail clients of professional mailboxes; a patient mailbox has none",
	"oauth_clients":      "apps registered by operators",
}

// AddRepresentative links a representative.
func (tx *Tx) AddRepresentative(ctx context.Context, r space.Representative) error {
	_, err := tx.exec(ctx, `INSERT INTO representatives (patient_id, representative_id, role, since) VALUES ($1, $2, $3, $4)`,
		r.PatientID, r.RepresentativeID, string(r.Role), micros(r.Since))
	if isUniqueViolation(err) {
		return errs.E(errs.Conflict, "this person already represents this patient")
	}
	if err != nil {
		return fmt.Errorf("add representative: %w", err)
	}
	return nil
}

// AddRepresentatives links many representatives in a few statements.
func (tx *Tx) AddRepresentatives(ctx context.Context, rs []space.Representative) error {
	n := len(rs)
	patient, rep, since, role := make([]int64, n), make([]int64, n), make([]int64, n), make([]string, n)
	for i, r := range rs {
		patient[i], rep[i], role[i], since[i] = r.PatientID, r.RepresentativeID, string(r.Role), micros(r.Since)
	}
	err := tx.insertBulk(ctx, "representatives", []bulkCol{{"patient_id", "bigint", patient},
		{"representative_id", "bigint", rep}, {"role", "text", role}, {"since", "bigint", since}}, "", nil)
	if isUniqueViolation(err) {
		return errs.E(errs.Conflict, "a representative is linked twice to the same person")
	}
	if err != nil {
		return fmt.Errorf("add representatives: %w", err)
	}
	return nil
}

// QueueNotices queues a notice of the same key for each of patientIDs, in a few statements
// (COPY on PostgreSQL), for patients who have none of that key queued: the batch's new
// patients. (QueueNotice leaves one already queued as it was; here it would be an error.)
func (tx *Tx) QueueNotices(ctx context.Context, patientIDs []int64, key string, notBefore, now time.Time) error {
	n := len(patientIDs)
	keys, due, created := make([]string, n), make([]int64, n), make([]int64, n)
	for i := range patientIDs {
		keys[i], due[i], created[i] = key, micros(notBefore), micros(now)
	}
	err := tx.insertBulk(ctx, "notice_outbox", []bulkCol{{"patient_id", "bigint", patientIDs}, {"notice_key", "text", keys},
		{"not_before", "bigint", due}, {"created_at", "bigint", created}}, "", nil)
	if err != nil {
		return fmt.Errorf("queue notices: %w", err)
	}
	return nil
}

// RemoveRepresentative removes a link.
func (tx *Tx) RemoveRepresentative(ctx context.Context, patientID, representativeID int64) error {
	res, err := tx.exec(ctx, `DELETE FROM representatives WHERE patient_id = $1 AND representative_id = $2`, patientID, representativeID)
	if err != nil {
		return fmt.Errorf("remove representative: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "no such representative")
	}
	return nil
}

func (tx *Tx) representatives(ctx context.Context, where string, id int64) ([]space.Representative, error) {
	rows, err := tx.query(ctx, `SELECT patient_id, representative_id, role, since FROM representatives WHERE `+where+` = $1
		ORDER BY patient_id, representative_id`, id)
	if err != nil {
		return nil, fmt.Errorf("list representatives: %w", err)
	}
	defer rows.Close()
	var out []space.Representative
	for rows.Next() {
		var r space.Representative
		var role string
		var since int64
		if err := rows.Scan(&r.PatientID, &r.RepresentativeID, &role, &since); err != nil {
			return nil, err
		}
		r.Role, r.Since = space.Role(role), fromMicros(since)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Representatives lists who represents the patient.
func (tx *Tx) Representatives(ctx context.Context, patientID int64) ([]space.Representative, error) {
	return tx.representatives(ctx, "patient_id", patientID)
}

// Represented lists whom the person represents.
func (tx *Tx) Represented(ctx context.Context, representativeID int64) ([]space.Representative, error) {
	return tx.representatives(ctx, "representative_id", representativeID)
}
