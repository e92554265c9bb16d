package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
)

// Mail adapts the store to the mail service. The jobs its transactions queue (outbound
// deliveries) go through jobs when it is given, a queue of their own, and through the store's
// job queue otherwise.
func (db *DB) Mail(jobs JobInserter) mail.Store { return mailStore{db: db, jobs: jobs} }

type mailStore struct {
	db   *DB
	jobs JobInserter
}

func (s mailStore) UpdateMail(ctx context.Context, fn func(mail.Tx) error) error {
	var delivered []int64 // the mailboxes that got mail, signalled once committed
	err := s.db.Update(ctx, func(tx *Tx) error {
		delivered = delivered[:0]
		return fn(mailTx{Tx: tx, jobs: s.jobs, delivered: &delivered})
	})
	if err == nil && len(delivered) > 0 {
		s.db.mailHub.Changed(delivered...)
	}
	return err
}

func (s mailStore) ViewMail(ctx context.Context, fn func(mail.Tx) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(mailTx{Tx: tx, jobs: s.jobs}) })
}

// mailTx is a transaction as the mail service sees it. Its queries are its own methods rather
// than *Tx's, so that the mail vocabulary (Deliver, Outbound…) stays out of the shared type.
type mailTx struct {
	*Tx
	jobs      JobInserter
	delivered *[]int64 // mailboxes Deliver filed into, in a write transaction
}

var _ mail.Tx = mailTx{}

// Enqueue queues job in the transaction, through the mail queue when there is one.
func (t mailTx) Enqueue(ctx context.Context, job Job) error {
	if t.jobs == nil {
		return t.Tx.Enqueue(ctx, job)
	}
	if err := t.jobs.InsertManyTx(ctx, t.tx, []Job{job}); err != nil {
		return fmt.Errorf("enqueue %s: %w", job.Kind(), err)
	}
	return nil
}

// ProfessionalByID returns a professional by row id.
func (t mailTx) ProfessionalByID(ctx context.Context, id int64) (account.Professional, error) {
	var idnat string
	if err := t.queryRow(ctx, `SELECT idnat_ps FROM professionals WHERE id = $1`, id).Scan(&idnat); err != nil {
		return account.Professional{}, notFound(err, "professional")
	}
	return t.ProfessionalByIdNat(ctx, idnat)
}

// folders are made with every mailbox (IMAP's INBOX and the special-use ones, RFC 6154).
var folders = []string{"INBOX", "Sent", "Drafts", "Trash"}

// InsertMailbox stores a mailbox and its folders.
func (t mailTx) InsertMailbox(ctx context.Context, m *mail.Mailbox, dir mail.DirectoryKeys) error {
	err := t.queryRow(ctx, `INSERT INTO mailboxes (address, kind, display_name, professional_id, organisation_id,
		patient_id, hidden, accepts_patients, dir_name, dir_org, dir_town, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		m.Address.String(), string(m.Kind), m.DisplayName, nullID(m.ProfessionalID), nullID(m.OrganisationID),
		nullID(m.PatientID), m.Hidden, m.AcceptsPatients, dir.Name, dir.Org, dir.Town, micros(m.CreatedAt)).Scan(&m.ID)
	if isUniqueViolation(err) {
		return errs.E(errs.Conflict, "the mailbox <%s> already exists", m.Address)
	}
	if err != nil {
		return fmt.Errorf("insert mailbox: %w", err)
	}
	// UIDVALIDITY is 32 bits (RFC 9051 §2.3.1.1): the creation second.
	validity := m.CreatedAt.Unix() & 0xffffffff
	for _, f := range folders {
		if _, err := t.exec(ctx, `INSERT INTO mail_folders (mailbox_id, name, uid_validity, uid_next) VALUES ($1, $2, $3, 1)`,
			m.ID, f, validity); err != nil {
			return fmt.Errorf("insert mail folder: %w", err)
		}
	}
	return nil
}

const mailboxColumns = `m.id, m.address, m.kind, m.display_name, COALESCE(m.professional_id, 0), COALESCE(m.organisation_id, 0),
	COALESCE(m.patient_id, 0), m.hidden, m.accepts_patients, m.used_bytes, m.created_at, m.disabled_at`

func scanMailbox(sc interface{ Scan(...any) error }, m *mail.Mailbox, extra ...any) error {
	var addr, kind string
	var created int64
	var disabled sql.NullInt64
	dest := append([]any{&m.ID, &addr, &kind, &m.DisplayName, &m.ProfessionalID, &m.OrganisationID, &m.PatientID,
		&m.Hidden, &m.AcceptsPatients, &m.UsedBytes, &created, &disabled}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	a, err := mail.ParseAddress(addr)
	if err != nil {
		return fmt.Errorf("mailbox %d: stored address: %w", m.ID, err)
	}
	m.Address, m.Kind, m.CreatedAt, m.DisabledAt = a, mail.Kind(kind), fromMicros(created), fromNullMicros(disabled)
	return nil
}

// MailboxByAddress returns a mailbox.
func (t mailTx) MailboxByAddress(ctx context.Context, address string) (mail.Mailbox, error) {
	var m mail.Mailbox
	err := scanMailbox(t.queryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes m WHERE m.address = $1`, address), &m)
	if err != nil {
		return m, notFound(err, "mailbox")
	}
	return m, nil
}

// SetMailboxHidden puts a mailbox on the "liste rouge" or takes it off.
func (t mailTx) SetMailboxHidden(ctx context.Context, id int64, hidden bool) error {
	res, err := t.exec(ctx, `UPDATE mailboxes SET hidden = $2 WHERE id = $1`, id, hidden)
	if err != nil {
		return fmt.Errorf("hide mailbox: %w", err)
	}
	return oneRow(res, "mailbox")
}

// AddMember adds a member to an ORG mailbox.
func (t mailTx) AddMember(ctx context.Context, mailboxID, professionalID int64, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO mailbox_members (mailbox_id, professional_id, added_at) VALUES ($1, $2, $3)`,
		mailboxID, professionalID, micros(at))
	if isUniqueViolation(err) {
		return errs.E(errs.Conflict, "this professional is already a member of the mailbox")
	}
	if err != nil {
		return fmt.Errorf("add mailbox member: %w", err)
	}
	return nil
}

// IsMember reports whether the professional is a member of the mailbox.
func (t mailTx) IsMember(ctx context.Context, mailboxID, professionalID int64) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM mailbox_members WHERE mailbox_id = $1 AND professional_id = $2`,
		mailboxID, professionalID).Scan(&n)
	return n > 0, err
}

// likeEscape makes s a LIKE pattern matching it anywhere, its wildcards taken literally.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// SearchDirectory searches the listed professional mailboxes. A grouped search (Distinct)
// numbers each group's mailboxes in the directory's order and keeps the first.
func (t mailTx) SearchDirectory(ctx context.Context, q mail.DirectoryQuery) ([]mail.DirectoryEntry, error) {
	where := []string{`m.kind <> 'PAT'`, `m.disabled_at IS NULL`}
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", fmt.Sprintf("$%d", len(args))))
	}
	switch {
	case q.Operator: // hidden mailboxes too: the operator manages the liste rouge
	case q.Viewer != "":
		add(`(m.hidden = FALSE OR p.idnat_ps = $? OR EXISTS (SELECT 1 FROM mailbox_members mm
			JOIN professionals vp ON vp.id = mm.professional_id WHERE mm.mailbox_id = m.id AND vp.idnat_ps = $?))`, q.Viewer)
	default:
		where = append(where, `m.hidden = FALSE`)
	}
	if q.Name != "" {
		add(`m.dir_name LIKE $? ESCAPE '\'`, likeEscape(q.Name))
	}
	if q.Profession != "" {
		add(`p.profession_code = $?`, q.Profession)
	}
	if q.RPPS != "" {
		add(`p.idnat_ps = $?`, q.RPPS)
	}
	if q.Organisation != "" {
		add(`m.dir_org LIKE $? ESCAPE '\'`, likeEscape(q.Organisation))
	}
	if q.Town != "" {
		add(`m.dir_town LIKE $? ESCAPE '\'`, likeEscape(q.Town))
	}
	if len(q.Kinds) > 0 {
		var in []string
		for _, k := range q.Kinds {
			args = append(args, string(k))
			in = append(in, fmt.Sprintf("$%d", len(args)))
		}
		where = append(where, `m.kind IN (`+strings.Join(in, ", ")+`)`)
	}
	if q.Address != "" {
		add(`m.address = $?`, q.Address)
	}
	if q.StructureID != "" {
		add(`o.structure_id = $?`, q.StructureID)
	}
	if q.MailboxID != 0 {
		add(`m.id = $?`, q.MailboxID)
	}
	if q.AcceptsPatients {
		where = append(where, `m.kind = 'ORG'`, `m.accepts_patients = TRUE`)
	}
	group := `m.id`
	switch q.Distinct {
	case mail.OnePerProfessional:
		group, where = `m.professional_id`, append(where, `m.professional_id IS NOT NULL`)
	case mail.OnePerOrganisation:
		group, where = `m.organisation_id`, append(where, `m.organisation_id IS NOT NULL`)
	}
	args = append(args, q.Limit, q.Offset)
	rows, err := t.query(ctx, `SELECT address, kind, display_name, idnat, family, given, profession, specialty,
		structure_id, org_name, town, mailbox_id, hidden FROM (
		SELECT m.address, m.kind, m.display_name, COALESCE(p.idnat_ps, '') AS idnat, COALESCE(p.family_name, '') AS family,
		COALESCE(p.given_name, '') AS given, COALESCE(p.profession_code, '') AS profession, COALESCE(p.specialty_code, '') AS specialty,
		COALESCE(o.structure_id, '') AS structure_id, COALESCE(o.name, '') AS org_name, COALESCE(o.town, '') AS town,
		m.id AS mailbox_id, m.hidden, m.dir_name,
		ROW_NUMBER() OVER (PARTITION BY `+group+` ORDER BY m.dir_name, m.id) AS nth
		FROM mailboxes m LEFT JOIN professionals p ON p.id = m.professional_id
		LEFT JOIN organisations o ON o.id = m.organisation_id
		WHERE `+strings.Join(where, " AND ")+`) d WHERE nth = 1`+
		fmt.Sprintf(` ORDER BY dir_name, mailbox_id LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("search directory: %w", err)
	}
	defer rows.Close()
	var out []mail.DirectoryEntry
	for rows.Next() {
		var e mail.DirectoryEntry
		var kind string
		if err := rows.Scan(&e.Address, &kind, &e.DisplayName, &e.IdNat, &e.FamilyName, &e.GivenName, &e.Profession,
			&e.Specialty, &e.StructureID, &e.OrganisationName, &e.Town, &e.MailboxID, &e.Hidden); err != nil {
			return nil, err
		}
		e.Kind = mail.Kind(kind)
		out = append(out, e)
	}
	return out, rows.Err()
}

// InsertAppPassword stores an app password.
func (t mailTx) InsertAppPassword(ctx context.Context, p *mail.AppPassword) error {
	err := t.queryRow(ctx, `INSERT INTO mail_app_passwords (public_id, mailbox_id, professional_id, label, hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, p.PublicID, p.MailboxID, nullID(p.ProfessionalID), p.Label, p.Hash,
		micros(p.CreatedAt)).Scan(&p.ID)
	if isUniqueViolation(err) {
		return errs.E(errs.Conflict, "app password id collision; try again")
	}
	if err != nil {
		return fmt.Errorf("insert app password: %w", err)
	}
	return nil
}

// AppPassword returns an app password by public id, with its mailbox.
func (t mailTx) AppPassword(ctx context.Context, publicID string) (mail.AppPassword, mail.Mailbox, error) {
	var p mail.AppPassword
	var m mail.Mailbox
	var pro, used, revoked sql.NullInt64
	var created int64
	err := scanMailbox(t.queryRow(ctx, `SELECT `+mailboxColumns+`, a.id, a.public_id, a.professional_id, a.label, a.hash,
		a.created_at, a.last_used_at, a.revoked_at FROM mail_app_passwords a JOIN mailboxes m ON m.id = a.mailbox_id
		WHERE a.public_id = $1`, publicID), &m, &p.ID, &p.PublicID, &pro, &p.Label, &p.Hash, &created, &used, &revoked)
	if err != nil {
		return p, m, notFound(err, "app password")
	}
	p.MailboxID, p.ProfessionalID = m.ID, pro.Int64
	p.CreatedAt, p.LastUsedAt, p.RevokedAt = fromMicros(created), fromNullMicros(used), fromNullMicros(revoked)
	return p, m, nil
}

// RevokeAppPassword revokes a live app password of the mailbox.
func (t mailTx) RevokeAppPassword(ctx context.Context, mailboxID, id int64, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE mail_app_passwords SET revoked_at = $3 WHERE id = $1 AND mailbox_id = $2 AND revoked_at IS NULL`,
		id, mailboxID, micros(at))
	if err != nil {
		return fmt.Errorf("revoke app password: %w", err)
	}
	return oneRow(res, "app password")
}

// TouchAppPassword records a use.
func (t mailTx) TouchAppPassword(ctx context.Context, id int64, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE mail_app_passwords SET last_used_at = $2 WHERE id = $1`, id, micros(at))
	return err
}

// AllowedDomain reports whether domain is in the allowlist.
func (t mailTx) AllowedDomain(ctx context.Context, domain string) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM mail_allowlist WHERE domain = $1 LIMIT 1) x`, domain).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read allowlist: %w", err)
	}
	return n > 0, nil
}

// OperatorDNs returns the operator certificate DNs the allowlist publishes for domain.
func (t mailTx) OperatorDNs(ctx context.Context, domain string) ([]string, error) {
	rows, err := t.query(ctx, `SELECT operator_dn FROM mail_allowlist WHERE domain = $1 ORDER BY operator_dn`, domain)
	if err != nil {
		return nil, fmt.Errorf("read allowlist: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var dn string
		if err := rows.Scan(&dn); err != nil {
			return nil, err
		}
		out = append(out, dn)
	}
	return out, rows.Err()
}

// allowlistBatch rows go in one INSERT: 6 parameters each, far below both engines' limits.
const allowlistBatch = 500

// ReplaceAllowlist makes list the allowlist: the entries it no longer has are deleted, the
// others upserted, a few hundred to a statement.
func (t mailTx) ReplaceAllowlist(ctx context.Context, list mail.Allowlist, at time.Time) (added, removed []string, err error) {
	rows, err := t.query(ctx, `SELECT domain, operator_dn FROM mail_allowlist`)
	if err != nil {
		return nil, nil, fmt.Errorf("read allowlist: %w", err)
	}
	old := map[[2]string]bool{}
	oldDomains := map[string]bool{}
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			rows.Close()
			return nil, nil, err
		}
		old[k], oldDomains[k[0]] = true, true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	keep := map[[2]string]bool{}
	newDomains := map[string]bool{}
	for _, e := range list.Entries {
		keep[[2]string{e.Domain, e.OperatorDN}], newDomains[e.Domain] = true, true
	}
	for k := range old {
		if !keep[k] {
			if _, err := t.exec(ctx, `DELETE FROM mail_allowlist WHERE domain = $1 AND operator_dn = $2`, k[0], k[1]); err != nil {
				return nil, nil, fmt.Errorf("update allowlist: %w", err)
			}
		}
	}
	for start := 0; start < len(list.Entries); start += allowlistBatch {
		batch := list.Entries[start:min(start+allowlistBatch, len(list.Entries))]
		var b strings.Builder
		args := make([]any, 0, 6*len(batch))
		b.WriteString(`INSERT INTO mail_allowlist (domain, operator_dn, description, responsible_contact, support_contact, updated_at) VALUES `)
		for i, e := range batch {
			if i > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6)
			args = append(args, e.Domain, e.OperatorDN, e.Description, e.ResponsibleContact, e.SupportContact, micros(e.UpdatedAt))
		}
		b.WriteString(` ON CONFLICT (domain, operator_dn) DO UPDATE SET description = excluded.description,
			responsible_contact = excluded.responsible_contact, support_contact = excluded.support_contact,
			updated_at = excluded.updated_at`)
		// Not through the prepared-statement cache: each batch's text differs in length only
		// at the end, and is run once.
		if _, err := t.tx.ExecContext(ctx, b.String(), args...); err != nil {
			return nil, nil, fmt.Errorf("update allowlist: %w", err)
		}
	}
	for d := range newDomains {
		if !oldDomains[d] {
			added = append(added, d)
		}
	}
	for d := range oldDomains {
		if !newDomains[d] {
			removed = append(removed, d)
		}
	}
	_, err = t.exec(ctx, `INSERT INTO mail_allowlist_import (id, generated_at, imported_at, entries, domains) VALUES (1, $1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET generated_at = excluded.generated_at, imported_at = excluded.imported_at,
		entries = excluded.entries, domains = excluded.domains`, micros(list.GeneratedAt), micros(at), len(list.Entries), len(newDomains))
	if err != nil {
		return nil, nil, fmt.Errorf("record allowlist import: %w", err)
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed, nil
}

// AllowlistStatus describes the allowlist in force (zero before any import).
func (t mailTx) AllowlistStatus(ctx context.Context) (mail.AllowlistStatus, error) {
	var st mail.AllowlistStatus
	var gen, imp int64
	err := t.queryRow(ctx, `SELECT generated_at, imported_at, entries, domains FROM mail_allowlist_import WHERE id = 1`).
		Scan(&gen, &imp, &st.Entries, &st.Domains)
	if err == sql.ErrNoRows {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read allowlist status: %w", err)
	}
	st.GeneratedAt, st.ImportedAt = fromMicros(gen), fromMicros(imp)
	return st, nil
}
