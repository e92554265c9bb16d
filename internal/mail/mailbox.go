package mail

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// NewMailbox is what CreateMailbox needs. Patient mailboxes are not created this way: they
// exist with the open space (PatientMailbox).
type NewMailbox struct {
	Kind        Kind
	LocalPart   string // before @<domain>, e.g. "claire.martin", "secretariat.cardio"
	DisplayName string // defaults to the professional's or organisation's name
	// IdNat is the owner of a PER mailbox: an IdNat_PS from a national number (8 + RPPS, or
	// 0 + ADELI), of a professional already recorded.
	IdNat string
	// StructureID is the owner of an ORG or APP mailbox: an IdNat_Struct (1 + FINESS…) of a
	// recorded organisation.
	StructureID     string
	Hidden          bool // "liste rouge"
	AcceptsPatients bool // ORG only: a pharmacy's, to which patients may write first
}

// maxDisplayName bounds a display name: it goes into headers and the directory.
const maxDisplayName = 200

// CreateMailbox creates a PER, ORG or APP mailbox at <LocalPart>@<domain>. Its address and
// type are final. Traced on the actor's chain.
func (s *Service) CreateMailbox(ctx context.Context, by By, n NewMailbox) (Mailbox, error) {
	addr, perr := ParseAddress(strings.TrimSpace(n.LocalPart) + "@" + s.cfg.Domain)
	m := Mailbox{Address: addr, Kind: n.Kind, DisplayName: strings.TrimSpace(n.DisplayName), Hidden: n.Hidden,
		AcceptsPatients: n.AcceptsPatients, CreatedAt: s.clock.Now()}
	err := s.do(ctx, by, "mailbox.create", "mailbox/"+addr.String(), func(tx Tx, _ *audit.Entry) error {
		if perr != nil {
			return perr
		}
		if n.AcceptsPatients && n.Kind != ORG {
			return errs.E(errs.Invalid, "only an organisational (ORG) mailbox may accept patients' first messages")
		}
		var dir DirectoryKeys
		switch n.Kind {
		case PER:
			id, err := identity.ParseIdNatPS(n.IdNat)
			if err != nil || (id.Kind != identity.PSRPPS && id.Kind != identity.PSADELI) {
				return errs.E(errs.Invalid, "a nominative (PER) mailbox needs its owner's IdNat_PS from an RPPS (8 + RPPS) or ADELI (0 + ADELI) number")
			}
			p, err := tx.ProfessionalByIdNat(ctx, id.String())
			if err != nil {
				return err
			}
			m.ProfessionalID, m.OrganisationID = p.ID, p.OrganisationID
			if m.DisplayName == "" {
				m.DisplayName = p.DisplayName()
			}
			dir.Name = p.FamilyName + " " + p.GivenName + " " + m.DisplayName
			dir.Profession, dir.Specialty, dir.IdNat = p.Profession, p.Specialty, p.IdNat.String()
			if p.OrganisationID != 0 {
				o, err := tx.Organisation(ctx, p.OrganisationID)
				if err != nil {
					return err
				}
				dir.Org, dir.Town = o.Name+" "+o.StructureID.String(), o.Town
			}
		case ORG, APP:
			o, err := s.organisation(ctx, tx, n.StructureID)
			if err != nil {
				return err
			}
			m.OrganisationID = o.ID
			if m.DisplayName == "" {
				m.DisplayName = o.Name
			}
			dir.Name, dir.Org, dir.Town = m.DisplayName, o.Name+" "+o.StructureID.String(), o.Town
		default:
			return errs.E(errs.Invalid, "a mailbox is PER, ORG or APP (patient mailboxes come with the space)")
		}
		if err := checkDisplayName(m.DisplayName); err != nil {
			return err
		}
		dir.fold()
		return tx.InsertMailbox(ctx, &m, dir)
	})
	return m, err
}

func (s *Service) organisation(ctx context.Context, tx Tx, structureID string) (account.Organisation, error) {
	sid, err := identity.ParseStructureID(structureID)
	if err != nil {
		return account.Organisation{}, errs.E(errs.Invalid, "an ORG or APP mailbox needs its organisation's IdNat_Struct (e.g. 1 + FINESS)")
	}
	return tx.OrganisationByStructureID(ctx, sid.String())
}

func checkDisplayName(s string) error {
	if s == "" || utf8.RuneCountInString(s) > maxDisplayName || !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\t\x00\"<>") {
		return errs.E(errs.Invalid, "a mailbox display name is required: one line of at most %d characters, without quotes or angle brackets", maxDisplayName)
	}
	return nil
}

// AddMember makes a recorded professional a member of an ORG mailbox: they may get an app
// password for it.
func (s *Service) AddMember(ctx context.Context, by By, mailbox, idnat string) error {
	return s.do(ctx, by, "mailbox.member_add", "mailbox/"+mailbox, func(tx Tx, _ *audit.Entry) error {
		m, err := s.mailbox(ctx, tx, mailbox)
		if err != nil {
			return err
		}
		if m.Kind != ORG {
			return errs.E(errs.Invalid, "only an organisational (ORG) mailbox has members")
		}
		p, err := tx.ProfessionalByIdNat(ctx, idnat)
		if err != nil {
			return err
		}
		return tx.AddMember(ctx, m.ID, p.ID, s.clock.Now())
	})
}

// SetHidden puts a mailbox on the "liste rouge" (hidden from the directory) or takes it off.
func (s *Service) SetHidden(ctx context.Context, by By, mailbox string, hidden bool) error {
	return s.do(ctx, by, "mailbox.hide", "mailbox/"+mailbox, func(tx Tx, e *audit.Entry) error {
		m, err := s.mailbox(ctx, tx, mailbox)
		if err != nil {
			return err
		}
		if m.Kind == PAT {
			return errs.E(errs.Invalid, "patient mailboxes are never listed")
		}
		e.Detail = "hidden=false"
		if hidden {
			e.Detail = "hidden=true"
		}
		return tx.SetMailboxHidden(ctx, m.ID, hidden)
	})
}

// Mailbox returns a mailbox by address.
func (s *Service) Mailbox(ctx context.Context, address string) (Mailbox, error) {
	var m Mailbox
	err := s.store.ViewMail(ctx, func(tx Tx) error {
		var err error
		m, err = s.mailbox(ctx, tx, address)
		return err
	})
	return m, err
}

func (s *Service) mailbox(ctx context.Context, tx Tx, address string) (Mailbox, error) {
	a, err := ParseAddress(strings.TrimSpace(address))
	if err != nil || a.IsNull() {
		return Mailbox{}, errs.E(errs.Invalid, "not a mailbox address")
	}
	return tx.MailboxByAddress(ctx, a.String())
}

// DirectoryKeys are a mailbox's search keys, folded (lower case, without accents) when the
// mailbox is made: the directory then searches with plain comparisons in both databases.
type DirectoryKeys struct {
	Name       string
	Org        string
	Town       string
	Profession string // the codes, as recorded
	Specialty  string
	IdNat      string
}

func (k *DirectoryKeys) fold() {
	k.Name, k.Org, k.Town = Fold(k.Name), Fold(k.Org), Fold(k.Town)
}

// Fold lowers s and strips the accents of French (and the other Latin-1 letters), so that
// "Hélène" finds "HELENE": what directories compare.
func Fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if f, ok := folds[r]; ok {
			b.WriteString(f)
			continue
		}
		b.WriteRune(r)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

var folds = func() map[rune]string {
	m := map[rune]string{'œ': "oe", 'æ': "ae", 'ß': "ss"}
	for base, letters := range map[string]string{"a": "àáâãäå", "c": "ç", "e": "èéêë", "i": "ìíîï", "n": "ñ",
		"o": "òóôõöø", "u": "ùúûü", "y": "ýÿ", " ": "-'’"} {
		for _, r := range letters {
			m[r] = base
		}
	}
	return m
}()

// DirectoryQuery searches the directory. Every field given must match.
type DirectoryQuery struct {
	Name         string // part of the name (family, given, display), any case or accents
	Profession   string // a profession code, e.g. G15_10
	RPPS         string // an RPPS number (11 digits) or an IdNat_PS
	Organisation string // part of the organisation's name, or its IdNat_Struct
	Town         string // part of the town
	Limit        int    // default 50, at most 200
	Offset       int    // entries skipped, for the next pages (at most MaxDirectoryOffset)

	// Exact criteria, as the FHIR directory's searches and reads name things (internal/fhir
	// directory.go); each is enough alone.
	Kinds       []Kind // only mailboxes of these kinds (PER, ORG, APP); none: the three
	Address     string // the mailbox's address
	StructureID string // the organisation's IdNat_Struct (1 + FINESS, 3 + SIRET…)
	MailboxID   int64

	// Viewer is the IdNat_PS of the professional searching: their own mailboxes (their PER
	// ones, and the ORG ones they are a member of) are found even on the "liste rouge".
	Viewer string
	// Operator: the operator's search (the directory page of /admin), which lists the mailboxes
	// on the "liste rouge" too, marked Hidden, to take them off it or put them on.
	Operator bool
	// AcceptsPatients: only the ORG mailboxes patients may write to first (a pharmacy's).
	AcceptsPatients bool
	// Distinct keeps one entry per professional or per organisation (the first in the order
	// of the directory): a FHIR Practitioner or Organization is listed once whatever its
	// number of mailboxes.
	Distinct Distinct
}

// Distinct says how directory entries are grouped.
type Distinct int

const (
	EveryMailbox Distinct = iota
	OnePerProfessional
	OnePerOrganisation
)

// MaxDirectoryOffset bounds paging: the directory is searched, not walked through.
const MaxDirectoryOffset = 10000

// DirectoryEntry is a listed mailbox with its owner's identifiers.
type DirectoryEntry struct {
	MailboxID   int64
	Hidden      bool // on the "liste rouge": only its owner (the Viewer) finds it
	Address     string
	Kind        Kind
	DisplayName string
	// The professional's, for PER (and the identifiers published in FHIR Practitioner).
	IdNat      string
	FamilyName string
	GivenName  string
	Profession string
	Specialty  string
	// The organisation's.
	StructureID      string
	OrganisationName string
	Town             string
}

// Directory searches the professional mailboxes (PER, ORG, APP) that are not on the "liste
// rouge". At least one criterion is required: the directory is searched, not dumped.
func (s *Service) Directory(ctx context.Context, q DirectoryQuery) ([]DirectoryEntry, error) {
	q.Name, q.Organisation, q.Town = Fold(q.Name), Fold(q.Organisation), Fold(q.Town)
	q.Profession, q.RPPS = strings.TrimSpace(q.Profession), strings.TrimSpace(q.RPPS)
	if q.RPPS != "" {
		if r, err := identity.ParseRPPS(q.RPPS); err == nil {
			q.RPPS = string(identity.PSRPPS) + string(r)
		} else if id, err := identity.ParseIdNatPS(q.RPPS); err == nil {
			q.RPPS = id.String()
		} else {
			return nil, errs.E(errs.Invalid, "the RPPS criterion is neither an RPPS number nor an IdNat_PS")
		}
	}
	if q.Address != "" {
		a, err := ParseAddress(strings.TrimSpace(q.Address))
		if err != nil || a.IsNull() {
			return nil, errs.E(errs.Invalid, "the address criterion is not a mailbox address")
		}
		q.Address = a.String()
	}
	if q.StructureID != "" {
		sid, err := identity.ParseStructureID(strings.TrimSpace(q.StructureID))
		if err != nil {
			return nil, errs.E(errs.Invalid, "the organisation criterion is not an IdNat_Struct (1 + FINESS, 3 + SIRET…)")
		}
		q.StructureID = sid.String()
	}
	for _, k := range q.Kinds {
		if k != PER && k != ORG && k != APP {
			return nil, errs.E(errs.Invalid, "the directory lists PER, ORG and APP mailboxes")
		}
	}
	if q.Distinct < EveryMailbox || q.Distinct > OnePerOrganisation {
		return nil, errs.E(errs.Invalid, "unknown grouping of directory entries")
	}
	if q.MailboxID < 0 || q.Offset < 0 || q.Offset > MaxDirectoryOffset {
		return nil, errs.E(errs.Invalid, "the directory pages go up to %d entries", MaxDirectoryOffset)
	}
	if q.Name == "" && q.Profession == "" && q.RPPS == "" && q.Organisation == "" && q.Town == "" &&
		q.Address == "" && q.StructureID == "" && q.MailboxID == 0 {
		return nil, errs.E(errs.Invalid, "give at least one criterion: name, profession, RPPS, organisation or town")
	}
	for _, f := range []string{q.Name, q.Organisation, q.Town} {
		if len(f) > 100 {
			return nil, errs.E(errs.Invalid, "a search criterion is longer than 100 characters")
		}
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 200)
	var out []DirectoryEntry
	err := s.store.ViewMail(ctx, func(tx Tx) error {
		var err error
		out, err = tx.SearchDirectory(ctx, q)
		return err
	})
	return out, err
}
