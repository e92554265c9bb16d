package optout

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
)

// The columns of the insurer's file, by header name (case and surrounding spaces ignored).
// ins, birth_name, given_names, birth_date and sex are required; the others may be absent.
const (
	colINS       = "ins"            // matricule, or urn:oid:OID|matricule
	colOID       = "ins_oid"        // identifier system when ins is a bare matricule (default NIR)
	colBirthName = "birth_name"     // nom de naissance
	colGiven     = "given_names"    // prénoms, the first one first
	colUsedName  = "used_name"      // nom d'usage
	colBirthDate = "birth_date"     // YYYY-MM-DD (or DD/MM/YYYY)
	colSex       = "sex"            // F, M or U
	colEmail     = "email"          // where the notice goes
	colPhone     = "phone"          // for later notifications
	colAddress   = "postal_address" // for the postal notice when there is no e-mail
	colParents   = "parent_ins"     // for a minor: the parents' INS, separated by '|'
)

var known = map[string]bool{colINS: true, colOID: true, colBirthName: true, colGiven: true, colUsedName: true,
	colBirthDate: true, colSex: true, colEmail: true, colPhone: true, colAddress: true, colParents: true}

var required = []string{colINS, colBirthName, colGiven, colBirthDate, colSex}

// Header maps column names to positions.
type Header struct {
	Comma rune
	index map[string]int
}

// ParseHeader reads the header line: the separator is ';' (French spreadsheets) when the line
// has one and no ',', else ','. Unknown or missing columns are refused with their names.
func ParseHeader(line string) (Header, error) {
	line = strings.TrimPrefix(strings.TrimRight(line, "\r\n"), "\ufeff")
	h := Header{Comma: ',', index: map[string]int{}}
	if strings.Contains(line, ";") && !strings.Contains(line, ",") {
		h.Comma = ';'
	}
	r := csv.NewReader(strings.NewReader(line))
	r.Comma = h.Comma
	names, err := r.Read()
	if err != nil {
		return h, errs.Wrap(errs.Invalid, err, "header line")
	}
	var problems []string
	for i, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if !known[n] {
			problems = append(problems, fmt.Sprintf("unknown column %q", truncate(n, 40)))
		} else if _, dup := h.index[n]; dup {
			problems = append(problems, fmt.Sprintf("column %q twice", n))
		}
		h.index[n] = i
	}
	for _, n := range required {
		if _, ok := h.index[n]; !ok {
			problems = append(problems, fmt.Sprintf("missing column %q", n))
		}
	}
	if len(problems) > 0 {
		return h, errs.E(errs.Invalid, "header line: %s (expected columns: %s)", strings.Join(problems, "; "), strings.Join(columnList(), ","))
	}
	return h, nil
}

func columnList() []string {
	return []string{colINS, colOID, colBirthName, colGiven, colUsedName, colBirthDate, colSex, colEmail, colPhone, colAddress, colParents}
}

func (h Header) get(rec []string, col string) string {
	i, ok := h.index[col]
	if !ok || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// Row turns one record into a creation request. The checks that need no database happen here
// (formats, INS key); the rest is the space service's.
func (h Header) Row(rec []string) (space.NewSpace, error) {
	if len(rec) != len(h.index) {
		return space.NewSpace{}, errs.E(errs.Invalid, "%d fields, the header has %d", len(rec), len(h.index))
	}
	ins, err := identity.ParseINS(h.get(rec, colINS))
	if err != nil {
		return space.NewSpace{}, err
	}
	if ins.System == "" {
		ins.System = identity.OIDNIR
		if oid := h.get(rec, colOID); oid != "" {
			if ins, err = identity.NewINS(ins.Matricule, identity.OID(strings.TrimPrefix(oid, "urn:oid:"))); err != nil {
				return space.NewSpace{}, err
			}
		}
	}
	born, err := parseDate(h.get(rec, colBirthDate))
	if err != nil {
		return space.NewSpace{}, err
	}
	p := space.Patient{
		INS: ins, BirthName: h.get(rec, colBirthName), GivenNames: h.get(rec, colGiven), UsedName: h.get(rec, colUsedName),
		BirthDate: born, Sex: space.Sex(strings.ToUpper(h.get(rec, colSex))), Email: strings.ToLower(h.get(rec, colEmail)),
		Phone: h.get(rec, colPhone), PostalAddress: h.get(rec, colAddress),
	}
	if p.Email == "" && p.PostalAddress == "" && h.get(rec, colParents) == "" {
		return space.NewSpace{}, errs.E(errs.Invalid, "no e-mail nor postal address: the notice cannot reach the person")
	}
	n := space.NewSpace{Patient: p}
	if parents := h.get(rec, colParents); parents != "" {
		for _, pi := range strings.Split(parents, "|") {
			if pi = strings.TrimSpace(pi); pi != "" {
				n.Representatives = append(n.Representatives, space.NewRepresentative{INS: pi, Role: space.Parent})
			}
		}
	}
	return n, nil
}

func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{space.DateLayout, "02/01/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errs.E(errs.Invalid, "the birth date is not YYYY-MM-DD (nor DD/MM/YYYY)")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// newReader reads the records after the header, from r.
func (h Header) newReader(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.Comma = h.Comma
	cr.FieldsPerRecord = -1 // checked per row, so that one bad row is rejected, not fatal
	cr.ReuseRecord = true
	return cr
}
