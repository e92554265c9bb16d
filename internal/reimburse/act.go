// Package reimburse is in charge of the health insurer's reimbursement feed (issue 10): every
// care act the insurer reimbursed becomes an event of the patient's agenda and a line of the
// month's reimbursement statement in their record: a "Relevé de remboursements" (typeCode
// REMB, class 60 "Données de remboursement"), filed in the Remboursements space and deposited
// by the insurer (DOMAIN.md "Who deposits"), one per person and month.
//
// # The file
//
// CSV, UTF-8 (a BOM is ignored), ';' or ',' separated (';' when the header line has one and
// no ','), one header line naming the columns in any order, then one row per reimbursed care
// act, as the insurer's extract of its payments (the "décomptes") gives them:
//
//	column             what                                                        required
//	ins                the beneficiary's INS: matricule (15 characters, key checked)    yes
//	                   or urn:oid:<OID>|<matricule>
//	act_date           the date of the care (date des soins): YYYY-MM-DD or DD/MM/YYYY  yes
//	end_date           the last day, for a hospital stay                                no
//	nature             consultation, visite, pharmacie, biologie, imagerie,             yes
//	                   hospitalisation, soins_infirmiers, kinesitherapie, dentaire,
//	                   optique, transport or autre
//	code_system        CCAM, NGAP, NABM, CIP or LPP; inferred from a CCAM or NGAP code  no
//	code               the act's code: CCAM "ZBQK002", NGAP key and coefficient ("GS",  no
//	                   "AMI 1.5"), NABM (4 digits), CIP (7 or 13 digits), LPP (7 digits)
//	provider_id        who performed it: the professional's IdNat_PS (8+RPPS, 0+ADELI…)  one of
//	                   or bare RPPS (11 digits), or the establishment's FINESS (9 chars) id and
//	provider_name      the professional's or establishment's name                       name
//	amount_paid        what the act cost (montant de la dépense), euros: 30, 30.00, 30,00  yes
//	amount_reimbursed  what the insurer reimbursed (montant remboursé), not above paid  yes
//	reference          the insurer's unique reference of the act (décompte and line):   yes
//	                   1 to 64 of A-Z a-z 0-9 . _ - /
//
// Order. The rows of one person are expected together (the insurer's extracts are sorted by
// beneficiary), their dates in any order: the import gathers one person's rows (at most
// Options.MaxGroup, 1000 by default) and files them at once, several people at a time
// (Options.Workers), so memory stays the same whatever the file's size. Any other order gives
// the same end state, with more versions of the statements: a person met again later, or a
// group cut at MaxGroup, is filed like a later file would be (by the same worker, after the
// earlier group).
//
// # What an act becomes
//
// An agenda event (agenda.KindReimbursement, on the act's date, its source reference the
// act's reference, linked to the month's statement), and a line of the statement of its month
// (a text/plain document in French, its uniqueId derived from the person's INS and the month).
// When acts arrive for a month already filed, the month's statement is replaced by a new
// version holding every act of the month (record.Replace: same uniqueId, the old one
// deprecated) and the month's events follow it. The import is idempotent: an act whose
// reference the person's agenda holds is left as it was, so running a file twice files it
// once, and an interrupted run is finished by running it again from the top (a statement is
// deposited before its acts' events, and rebuilt from the events filed before plus the acts
// still new). Each event's payload also names the row it was filed from (Options.FileID, the
// file's identity, and the line), so that a run of a file judges its rows as one run would
// have, whatever earlier runs of it filed: the row an event was filed from is counted as filed
// before, a later row with the same reference is rejected as a duplicate, at each run. Without
// a file identity only the rows filed during the run are earlier rows: a rerun then counts
// the later repeats of a reference filed by an earlier run as filed before, not rejected.
//
// Every bad row (unreadable, bad INS key, unknown person, space not open, bad date, bad
// amount, bad code, a reference met twice or already used for another person) is written to
// the rejects file with its line number, reference and reason, and the batch goes on. (Two
// people filed at the same moment by two workers with the same reference both pass: the
// check against another person's acts sees what is filed.) Negative amounts, the insurer's
// corrections of an act already paid, are refused: a correction of a filed act is not
// handled yet.
package reimburse

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Nature is the kind of care an act is, as the insurer's statements group them.
type Nature string

// The natures, and what the statement calls them.
var natures = map[Nature]string{
	"consultation":     "Consultation",
	"visite":           "Visite à domicile",
	"pharmacie":        "Pharmacie",
	"biologie":         "Analyses de biologie médicale",
	"imagerie":         "Imagerie médicale",
	"hospitalisation":  "Hospitalisation",
	"soins_infirmiers": "Soins infirmiers",
	"kinesitherapie":   "Kinésithérapie",
	"dentaire":         "Soins dentaires",
	"optique":          "Optique",
	"transport":        "Transport sanitaire",
	"autre":            "Autre acte",
}

// Label says the nature in French.
func (n Nature) Label() string {
	if l, ok := natures[n]; ok {
		return l
	}
	return string(n)
}

// CodeSystem is the nomenclature of an act's code.
type CodeSystem string

const (
	CCAM CodeSystem = "CCAM" // Classification commune des actes médicaux
	NGAP CodeSystem = "NGAP" // Nomenclature générale des actes professionnels
	NABM CodeSystem = "NABM" // Nomenclature des actes de biologie médicale
	CIP  CodeSystem = "CIP"  // Code identifiant de présentation (medicines)
	LPP  CodeSystem = "LPP"  // Liste des produits et prestations
)

// Act is one reimbursed care act, as a row of the file states it.
type Act struct {
	Line      int64  // in the file, for the rejects
	Matricule string // the beneficiary's INS matricule
	// System is the INS identifier system when the row states one (urn:oid: form), "" else.
	System string

	Date time.Time // the date of the care, at midnight UTC
	End  time.Time // the last day of a stay, zero for none

	Nature     Nature
	CodeSystem CodeSystem
	Code       string

	// ProviderID is the canonical IdNat_PS of a professional, or the FINESS (9 characters) of
	// an establishment; "" when not given.
	ProviderID   string
	ProviderName string

	Paid, Reimbursed Cents
	Reference        string
}

// Month returns the first day of the act's month.
func (a *Act) Month() time.Time {
	return time.Date(a.Date.Year(), a.Date.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// Cents is an amount in euro cents.
type Cents int64

// String writes the amount the French way: "1 234,56 €".
func (c Cents) String() string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	s := strconv.FormatInt(int64(c)/100, 10)
	var b strings.Builder
	b.WriteString(sign)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteByte(s[i])
	}
	fmt.Fprintf(&b, ",%02d €", int64(c)%100)
	return b.String()
}
