package reimburse

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// The columns of the file (see the package comment), by header name; case and surrounding
// spaces are ignored.
const (
	colINS        = "ins"
	colDate       = "act_date"
	colEnd        = "end_date"
	colNature     = "nature"
	colCodeSystem = "code_system"
	colCode       = "code"
	colProviderID = "provider_id"
	colProvider   = "provider_name"
	colPaid       = "amount_paid"
	colReimbursed = "amount_reimbursed"
	colRef        = "reference"
)

// Columns lists the columns in the order of the package comment.
func Columns() []string {
	return []string{colINS, colDate, colEnd, colNature, colCodeSystem, colCode, colProviderID, colProvider, colPaid,
		colReimbursed, colRef}
}

var requiredColumns = []string{colINS, colDate, colNature, colPaid, colReimbursed, colRef}

// Header maps the file's columns to their positions.
type Header struct {
	Comma rune
	index map[string]int
	n     int
}

// ParseHeader reads the header line. Unknown, repeated or missing columns are refused with
// their names, and so is a header with neither provider_id nor provider_name.
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
	known := map[string]bool{}
	for _, c := range Columns() {
		known[c] = true
	}
	var problems []string
	for i, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if !known[n] {
			problems = append(problems, fmt.Sprintf("unknown column %q", clip(n, 40)))
		} else if _, dup := h.index[n]; dup {
			problems = append(problems, fmt.Sprintf("column %q twice", n))
		}
		h.index[n] = i
	}
	h.n = len(names)
	for _, n := range requiredColumns {
		if _, ok := h.index[n]; !ok {
			problems = append(problems, fmt.Sprintf("missing column %q", n))
		}
	}
	_, id := h.index[colProviderID]
	_, name := h.index[colProvider]
	if !id && !name {
		problems = append(problems, "missing column provider_id or provider_name")
	}
	if len(problems) > 0 {
		return h, errs.E(errs.Invalid, "header line: %s (expected columns: %s)", strings.Join(problems, "; "), strings.Join(Columns(), ","))
	}
	return h, nil
}

func (h Header) get(rec []string, col string) string {
	i, ok := h.index[col]
	if !ok || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// Reference returns the row's act reference as written, for the rejects file ("" when the row
// has none or it is not printable).
func (h Header) Reference(rec []string) string {
	r := h.get(rec, colRef)
	if !validRef(r) {
		return ""
	}
	return r
}

// Limits of a row's fields.
const (
	maxRef      = 64
	maxName     = 128
	maxCode     = 16
	maxAmount   = 10_000_000_00 // ten million euros, in cents: no care act costs more
	maxStayDays = 366
)

// earliest is the earliest date of care accepted: the feed covers the living.
var earliest = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// Row turns one record into an act. Only the checks that need no database happen here
// (formats, keys, amounts); the date's place against today, the person and their space are
// the import's.
func (h Header) Row(rec []string) (Act, error) {
	if len(rec) != h.n {
		return Act{}, errs.E(errs.Invalid, "%d fields, the header has %d", len(rec), h.n)
	}
	for _, f := range rec {
		if !utf8.ValidString(f) {
			return Act{}, errs.E(errs.Invalid, "a field is not valid UTF-8")
		}
	}
	var a Act
	a.Reference = h.get(rec, colRef)
	if !validRef(a.Reference) {
		return Act{}, errs.E(errs.Invalid, "bad reference: 1 to %d of A-Z a-z 0-9 . _ - /", maxRef)
	}
	ins, err := identity.ParseINS(h.get(rec, colINS))
	if err != nil {
		return Act{}, err
	}
	a.Matricule, a.System = ins.Matricule, string(ins.System)

	if a.Date, err = parseDate(h.get(rec, colDate), "act_date"); err != nil {
		return Act{}, err
	}
	if a.Date.Before(earliest) {
		return Act{}, errs.E(errs.Invalid, "bad date: act_date is before 1900")
	}
	if s := h.get(rec, colEnd); s != "" {
		if a.End, err = parseDate(s, "end_date"); err != nil {
			return Act{}, err
		}
		switch {
		case a.End.Before(a.Date):
			return Act{}, errs.E(errs.Invalid, "bad date: end_date is before act_date")
		case a.End.Sub(a.Date) > maxStayDays*24*time.Hour:
			return Act{}, errs.E(errs.Invalid, "bad date: a stay of more than %d days is filed in several acts", maxStayDays)
		case a.End.Equal(a.Date):
			a.End = time.Time{}
		}
	}

	a.Nature = Nature(strings.ToLower(h.get(rec, colNature)))
	if _, ok := natures[a.Nature]; !ok {
		return Act{}, errs.E(errs.Invalid, "unknown nature %q (consultation, visite, pharmacie, biologie, imagerie, hospitalisation, soins_infirmiers, kinesitherapie, dentaire, optique, transport, autre)",
			clip(string(a.Nature), 24))
	}
	if a.CodeSystem, a.Code, err = parseCode(h.get(rec, colCodeSystem), h.get(rec, colCode)); err != nil {
		return Act{}, err
	}

	if a.ProviderID, err = parseProvider(h.get(rec, colProviderID)); err != nil {
		return Act{}, err
	}
	a.ProviderName = strings.Join(strings.Fields(h.get(rec, colProvider)), " ")
	switch {
	case a.ProviderID == "" && a.ProviderName == "":
		return Act{}, errs.E(errs.Invalid, "who performed the act is missing: provider_id or provider_name")
	case utf8.RuneCountInString(a.ProviderName) > maxName:
		return Act{}, errs.E(errs.Invalid, "provider_name is longer than %d characters", maxName)
	case strings.ContainsFunc(a.ProviderName, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return Act{}, errs.E(errs.Invalid, "provider_name holds a control character")
	}

	if a.Paid, err = parseAmount(h.get(rec, colPaid), "amount_paid"); err != nil {
		return Act{}, err
	}
	if a.Reimbursed, err = parseAmount(h.get(rec, colReimbursed), "amount_reimbursed"); err != nil {
		return Act{}, err
	}
	if a.Reimbursed > a.Paid {
		return Act{}, errs.E(errs.Invalid, "bad amount: amount_reimbursed (%s) is more than amount_paid (%s)", a.Reimbursed, a.Paid)
	}
	return a, nil
}

// validRef reports whether r may be an act reference.
func validRef(r string) bool {
	if r == "" || len(r) > maxRef {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/') {
			return false
		}
	}
	return true
}

// parseDate reads a date of care: YYYY-MM-DD, or DD/MM/YYYY as French spreadsheets write it.
func parseDate(s, col string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", "02/01/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if s == "" {
		return time.Time{}, errs.E(errs.Invalid, "bad date: %s is missing", col)
	}
	return time.Time{}, errs.E(errs.Invalid, "bad date: %s is not a date YYYY-MM-DD (nor DD/MM/YYYY)", col)
}

// parseAmount reads euros with at most two decimals, '.' or ',' as the decimal separator,
// into cents. Negative amounts (the insurer's corrections) are refused: see the package
// comment.
func parseAmount(s, col string) (Cents, error) {
	bad := func(why string) (Cents, error) {
		return 0, errs.E(errs.Invalid, "bad amount: %s %s", col, why)
	}
	if s == "" {
		return bad("is missing")
	}
	if s[0] == '-' {
		return bad("is negative: corrections are not taken")
	}
	whole, frac, hasFrac := strings.Cut(strings.Replace(s, ",", ".", 1), ".")
	if whole == "" || len(whole) > 9 || hasFrac && (frac == "" || len(frac) > 2) {
		return bad("is not an amount in euros (30, 30.5 or 30,50)")
	}
	var c int64
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return bad("is not an amount in euros (30, 30.5 or 30,50)")
			}
		}
	}
	for i := 0; i < len(whole); i++ {
		c = c*10 + int64(whole[i]-'0')
	}
	c *= 100
	switch len(frac) {
	case 1:
		c += int64(frac[0]-'0') * 10
	case 2:
		c += int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	}
	if c > maxAmount {
		return bad("is more than ten million euros")
	}
	return Cents(c), nil
}

// parseCode checks an act's code against its nomenclature, inferring a CCAM or NGAP one.
func parseCode(system, code string) (CodeSystem, string, error) {
	sys := CodeSystem(strings.ToUpper(system))
	code = strings.ToUpper(strings.Join(strings.Fields(code), " "))
	if code == "" {
		if sys != "" {
			return "", "", errs.E(errs.Invalid, "bad code: code_system %s without a code", clip(system, 8))
		}
		return "", "", nil
	}
	if len(code) > maxCode {
		return "", "", errs.E(errs.Invalid, "bad code: longer than %d characters", maxCode)
	}
	if sys == "" {
		switch {
		case isCCAM(code):
			sys = CCAM
		case isNGAP(code):
			sys = NGAP
		default:
			return "", "", errs.E(errs.Invalid, "bad code: state its code_system (CCAM, NGAP, NABM, CIP or LPP)")
		}
	}
	ok := false
	switch sys {
	case CCAM:
		ok = isCCAM(code)
	case NGAP:
		ok = isNGAP(code)
	case NABM:
		ok = digits(code) && len(code) == 4
	case CIP:
		ok = digits(code) && (len(code) == 7 || len(code) == 13)
	case LPP:
		ok = digits(code) && len(code) == 7
	default:
		return "", "", errs.E(errs.Invalid, "bad code: unknown code_system %q (CCAM, NGAP, NABM, CIP or LPP)", clip(system, 8))
	}
	if !ok {
		return "", "", errs.E(errs.Invalid, "bad code: not a %s code", sys)
	}
	return sys, code, nil
}

// isCCAM: four letters then three digits (ATIH, CCAM: "ZBQK002").
func isCCAM(c string) bool {
	if len(c) != 7 {
		return false
	}
	for i := range 7 {
		if i < 4 && (c[i] < 'A' || c[i] > 'Z') || i >= 4 && (c[i] < '0' || c[i] > '9') {
			return false
		}
	}
	return true
}

// isNGAP: a key letter group ("C", "GS", "AMI"), then optionally a coefficient ("AMI 1.5",
// "K20"), as the NGAP writes acts.
func isNGAP(c string) bool {
	i := 0
	for i < len(c) && c[i] >= 'A' && c[i] <= 'Z' {
		i++
	}
	if i == 0 || i > 5 {
		return false
	}
	rest := strings.TrimPrefix(c[i:], " ")
	if rest == "" {
		return i == len(c)
	}
	whole, frac, hasFrac := strings.Cut(strings.Replace(rest, ",", ".", 1), ".")
	return whole != "" && len(whole) <= 4 && digits(whole) && (!hasFrac || frac != "" && len(frac) <= 2 && digits(frac))
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseProvider reads who performed the act: the IdNat_PS of a professional (a bare RPPS
// is read as one), or the FINESS of an establishment, kept as its 9 characters.
func parseProvider(s string) (string, error) {
	switch {
	case s == "":
		return "", nil
	case len(s) == 9:
		f, err := identity.ParseFINESS(s)
		return string(f), err
	case len(s) == 11 && digits(s):
		s = "8" + s
	}
	id, err := identity.ParseIdNatPS(s)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

func clip(s string, n int) string {
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
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
