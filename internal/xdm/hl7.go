package xdm

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/record"
)

// XDS writes people, organisations, identifiers and dates as HL7 v2.5 data types inside slot
// values (ITI TF-3 §4.2.3.1.7, Table 4.2.3.1.7-2): components are separated by ^ and
// subcomponents by &, and the separators are escaped in values as \F\ (|), \S\ (^), \T\ (&),
// \R\ (~) and \E\ (\) (HL7 v2.5 §2.7.4). Other escapes (\X..\, highlighting) are left as
// written: no sender of XDS metadata needs them.

var hl7Unescaper = strings.NewReplacer(`\F\`, "|", `\S\`, "^", `\T\`, "&", `\R\`, "~", `\E\`, `\`)
var hl7Escaper = strings.NewReplacer(`\`, `\E\`, "|", `\F\`, "^", `\S\`, "&", `\T\`, "~", `\R\`)

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return hl7Unescaper.Replace(s)
}

func escape(s string) string { return hl7Escaper.Replace(s) }

// components splits a value into its components.
func components(s string) []string { return strings.Split(s, "^") }

// st returns component i (from 0) of c as a string value: unescaped and trimmed.
func st(c []string, i int) string {
	if i >= len(c) {
		return ""
	}
	return strings.TrimSpace(unescape(c[i]))
}

// first returns the first subcomponent of component i of c, unescaped and trimmed.
func first(c []string, i int) string {
	if i >= len(c) {
		return ""
	}
	s, _, _ := strings.Cut(c[i], "&")
	return strings.TrimSpace(unescape(s))
}

// join writes components, leaving out the empty ones at the end.
func join(c []string) string {
	n := len(c)
	for n > 0 && c[n-1] == "" {
		n--
	}
	return strings.Join(c[:n], "^")
}

// hdOID returns the universal id (an OID) of an HL7 HD value namespace&universalId&ISO. A
// lone OID without & is accepted too: some senders write it so.
func hdOID(h string) string {
	subs := strings.Split(h, "&")
	if len(subs) >= 2 {
		return strings.TrimSpace(unescape(subs[1]))
	}
	if s := strings.TrimSpace(subs[0]); isOID(s) {
		return s
	}
	return ""
}

// hd writes an OID as an HL7 HD value: &oid&ISO.
func hd(oid string) string {
	if oid == "" {
		return ""
	}
	return "&" + escape(oid) + "&ISO"
}

// isOID reports whether s has the form of an OID: numbers separated by dots.
func isOID(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' && s[i-1] != '.') {
			return false
		}
	}
	return true
}

// cx is an identifier in the HL7 CX form id^^^&oid&ISO[^type].
type cx struct{ id, authority string }

func parseCX(s string) cx {
	c := components(s)
	a := ""
	if len(c) > 3 {
		a = hdOID(c[3])
	}
	return cx{id: st(c, 0), authority: a}
}

func parsePerson(s string) Person {
	c := components(s)
	p := Person{ID: st(c, 0), Family: first(c, 1), Given: st(c, 2), IDType: st(c, 12)}
	if len(c) > 8 {
		p.Authority = hdOID(c[8])
	}
	return p
}

// hl7 writes p as an XCN value, in the CI-SIS form.
func (p Person) hl7() string {
	c := make([]string, 13)
	c[0], c[1], c[2] = escape(p.ID), escape(p.Family), escape(p.Given)
	c[8] = hd(p.Authority)
	if p.Family != "" || p.Given != "" {
		c[9] = "D" // name type: display name (HL7 Table 0200), as CI-SIS writes it
	}
	c[12] = escape(p.IDType)
	return join(c)
}

func parseInstitution(s string) Institution {
	c := components(s)
	in := Institution{Name: st(c, 0), ID: st(c, 9), IDType: st(c, 6)}
	if in.ID == "" {
		in.ID = st(c, 2) // XON.3, deprecated since HL7 v2.5 but still written
	}
	if len(c) > 5 {
		in.Authority = hdOID(c[5])
	}
	return in
}

// hl7 writes in as an XON value, in the CI-SIS form.
func (in Institution) hl7() string {
	c := make([]string, 10)
	c[0], c[5], c[6], c[9] = escape(in.Name), hd(in.Authority), escape(in.IDType), escape(in.ID)
	return join(c)
}

func parseRecipient(s string) Recipient {
	parts := strings.SplitN(s, "|", 3)
	var r Recipient
	r.Institution = parseInstitution(parts[0])
	if len(parts) > 1 {
		r.Person = parsePerson(parts[1])
	}
	if len(parts) > 2 {
		r.Telecom = strings.TrimSpace(parts[2])
	}
	return r
}

func (r Recipient) hl7() string {
	s := r.Institution.hl7()
	if p := r.Person.hl7(); p != "" || r.Telecom != "" {
		s += "|" + p
	}
	if r.Telecom != "" {
		s += "|" + r.Telecom
	}
	return s
}

// Email returns the e-mail address of the recipient's telecommunication (XTN.4, the form
// ^NET^Internet^address), or "".
func (r Recipient) Email() string {
	c := components(r.Telecom)
	if a := st(c, 3); strings.Contains(a, "@") {
		return a
	}
	if a := strings.TrimSpace(r.Telecom); !strings.ContainsAny(a, "^&") && strings.Contains(a, "@") {
		return a
	}
	return ""
}

// parseCode reads a coded author attribute (authorRole, authorSpecialty). CI-SIS writes it
// code^display^codeSystemOID (like an HL7 CE); ITI TF-3 since 2016 allows code^^^&oid&ISO.
func parseCode(s string) record.Code {
	c := components(s)
	if len(c) > 3 && st(c, 1) == "" && st(c, 2) == "" {
		if oid := hdOID(c[3]); oid != "" {
			return record.Code{Code: st(c, 0), System: oid}
		}
	}
	code := record.Code{Code: st(c, 0), Display: st(c, 1)}
	if len(c) > 2 {
		if strings.Contains(c[2], "&") {
			code.System = hdOID(c[2])
		} else {
			code.System = st(c, 2)
		}
	}
	return code
}

// codeHL7 writes a code in the CI-SIS form code^display^system.
func codeHL7(c record.Code) string {
	return join([]string{escape(c.Code), escape(c.Display), escape(c.System)})
}

// dtmLayout is the XDS date-time: HL7 DTM, in UTC, to the second (ITI TF-3 §4.2.3.1.7).
const dtmLayout = "20060102150405"

// parseDTM reads an HL7 DTM: YYYY[MM[DD[HH[MM[SS[.S…]]]]]], optionally followed by a UTC offset
// +/-HHMM, which XDS forbids but some senders write. Fractions of a second are dropped, as
// XDS keeps seconds. The result is in UTC.
func parseDTM(s string) (time.Time, error) {
	bad := func(why string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("%q is not an HL7 date-time YYYYMMDDHHMMSS: %s", clip(s), why)
	}
	n := digits(s, 0)
	switch n {
	case 4, 6, 8, 10, 12, 14:
	default:
		return bad("wrong number of digits")
	}
	f := [6]int{atoi(s[:4]), 1, 1, 0, 0, 0} // year, month, day, hour, minute, second
	for i, at := 1, 4; at+2 <= n; i, at = i+1, at+2 {
		f[i] = atoi(s[at : at+2])
	}
	rest := s[n:]
	if strings.HasPrefix(rest, ".") {
		if n != 14 {
			return bad("a fraction of a second needs the seconds")
		}
		k := digits(rest, 1)
		if k == 1 {
			return bad("empty fraction")
		}
		rest = rest[k:]
	}
	loc := time.UTC
	if rest != "" {
		if len(rest) != 5 || rest[0] != '+' && rest[0] != '-' || digits(rest, 1) != 5 {
			return bad("unexpected characters after the date")
		}
		h, m := atoi(rest[1:3]), atoi(rest[3:5])
		if h > 23 || m > 59 {
			return bad("invalid UTC offset")
		}
		off := h*3600 + m*60
		if rest[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	mo, d, h, mi, sec := f[1], f[2], f[3], f[4], f[5]
	if mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59 {
		return bad("a field is out of range")
	}
	t := time.Date(f[0], time.Month(mo), d, h, mi, sec, 0, loc)
	if t.Day() != d {
		return bad("no such day in that month")
	}
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return bad("year out of range")
	}
	return t, nil
}

// formatDTM writes t as an XDS date-time, or "" for the zero time.
func formatDTM(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(dtmLayout)
}

// digits returns the index of the first non-digit of s at or after from.
func digits(s string, from int) int {
	i := from
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// clip shortens an outside value quoted in an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
