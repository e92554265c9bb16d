package mail

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/errs"
)

// The allowlist publishes, for each domain, the subject DN of its operator's certificate
// (DNCertificatOperateur, e.g. "CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,
// ST=Haute-Garonne (31),C=FR"). A relay that checks operator certificates compares it with
// the subject of the certificate the sending operator presented. The two strings come from
// different writers (the allowlist's publisher, Go's crypto/x509), which may order the
// attributes differently and escape differently: they are compared in a canonical form.

// maxDN bounds a DN: real ones are under 300 bytes.
const maxDN = 2048

// dnTypes maps the attribute types of RFC 4514 §3 (and those certificates commonly carry,
// as Go's pkix.Name writes them or by OID) to one name.
var dnTypes = map[string]string{
	"cn": "CN", "2.5.4.3": "CN",
	"ou": "OU", "2.5.4.11": "OU",
	"o": "O", "2.5.4.10": "O",
	"l": "L", "2.5.4.7": "L",
	"st": "ST", "s": "ST", "2.5.4.8": "ST",
	"c": "C", "2.5.4.6": "C",
	"street": "STREET", "2.5.4.9": "STREET",
	"postalcode": "POSTALCODE", "2.5.4.17": "POSTALCODE",
	"serialnumber": "SERIALNUMBER", "2.5.4.5": "SERIALNUMBER",
	"dc": "DC", "0.9.2342.19200300.100.1.25": "DC",
	"uid": "UID", "0.9.2342.19200300.100.1.1": "UID",
	"e": "EMAILADDRESS", "emailaddress": "EMAILADDRESS", "1.2.840.113549.1.9.1": "EMAILADDRESS",
	"organizationidentifier": "ORGANIZATIONIDENTIFIER", "2.5.4.97": "ORGANIZATIONIDENTIFIER",
}

// NormalizeDN returns the canonical form of a distinguished name written as RFC 4514 (or
// RFC 2253) says: its attributes as TYPE=value, types by their usual name, values unescaped,
// trimmed and in lower case (the directory string attributes of a certificate subject compare
// ignoring case, X.520), sorted, joined by commas. Two DNs with the same attributes have the
// same canonical form whatever their order; a string that is not a DN is refused.
func NormalizeDN(s string) (string, error) {
	if len(s) > maxDN || !utf8.ValidString(s) {
		return "", errs.E(errs.Invalid, "not a distinguished name")
	}
	var attrs []string
	var cur strings.Builder
	flush := func() error {
		a, err := dnAttribute(cur.String())
		if err != nil {
			return err
		}
		attrs = append(attrs, a)
		cur.Reset()
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) {
				return "", errs.E(errs.Invalid, "a distinguished name ends with a lone backslash")
			}
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
		case ',', ';', '+': // ';' separates RDNs in RFC 1779's form; '+' joins a multi-valued RDN
			if err := flush(); err != nil {
				return "", err
			}
		default:
			cur.WriteByte(c)
		}
	}
	if err := flush(); err != nil {
		return "", err
	}
	slices.Sort(attrs)
	return strings.Join(attrs, ","), nil
}

// dnAttribute canonicalises one "type=value" (its value still escaped).
func dnAttribute(a string) (string, error) {
	t, v, ok := strings.Cut(a, "=")
	if !ok {
		return "", errs.E(errs.Invalid, "a distinguished name's attribute has no '='")
	}
	t = strings.ToLower(strings.TrimSpace(t))
	name, known := dnTypes[t]
	if !known {
		if !isOID(t) {
			return "", errs.E(errs.Invalid, "unknown attribute type in a distinguished name")
		}
		name = t
	}
	val, err := unescapeDN(strings.Trim(v, " "))
	if err != nil {
		return "", err
	}
	val = foldDNValue(val)
	if val == "" {
		return "", errs.E(errs.Invalid, "an empty attribute in a distinguished name")
	}
	// Written back with the characters that would split it escaped: the canonical form is
	// itself a DN, and two different attribute lists never join into the same string.
	return name + "=" + strings.NewReplacer(`\`, `\\`, `,`, `\,`, `+`, `\+`, `;`, `\;`, `=`, `\=`, `#`, `\#`, `"`, `\"`).Replace(val), nil
}

// foldDNValue folds what X.520's caseIgnoreMatch ignores, as far as ASCII goes: letters to
// lower case, runs of spaces to one, none at the ends. Nothing beyond ASCII is folded: a
// Turkish dotted İ, a Kelvin sign or a non-breaking space stays itself, so that a look-alike
// never compares equal to the name it imitates (values like "Bouches-du-Rhône" compare as
// written, which is how the allowlist and the certificate both write them).
func foldDNValue(v string) string {
	b := make([]byte, 0, len(v))
	space := true // drops leading spaces
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == ' ':
			if !space {
				b = append(b, ' ')
			}
			space = true
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
		space = false
	}
	return strings.TrimRight(string(b), " ")
}

// CertificateDN is the canonical form (NormalizeDN's) of a certificate's subject, read from
// its parsed attributes rather than from a string form: Go writes attributes it has no name
// for as #hex, which no published DN would match.
func CertificateDN(subject pkix.Name) (string, error) {
	var parts []string
	for _, a := range subject.Names {
		v, ok := a.Value.(string)
		if !ok {
			return "", errs.E(errs.Invalid, "a certificate subject attribute is not a string")
		}
		parts = append(parts, a.Type.String()+"="+escapeDNValue(v))
	}
	return NormalizeDN(strings.Join(parts, ","))
}

// escapeDNValue escapes a value for RFC 4514 (the characters that separate or quote).
func escapeDNValue(v string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `+`, `\+`, `;`, `\;`, `"`, `\"`, `#`, `\#`).Replace(v)
}

func isOID(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

// unescapeDN resolves RFC 4514 §2.4 escapes: a backslash before a special character or
// before two hex digits (a UTF-8 byte); a value in quotes (RFC 2253's older form) loses them.
func unescapeDN(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if strings.HasPrefix(v, "#") {
		return berString(v[1:])
	}
	var b []byte
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			b = append(b, v[i])
			continue
		}
		if i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
			x, _ := hex.DecodeString(v[i+1 : i+3])
			b = append(b, x...)
			i += 2
			continue
		}
		if i+1 >= len(v) {
			return "", errs.E(errs.Invalid, "a distinguished name's value ends with a lone backslash")
		}
		b = append(b, v[i+1])
		i++
	}
	if !utf8.Valid(b) {
		return "", errs.E(errs.Invalid, "a distinguished name's value is not UTF-8")
	}
	return string(b), nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// berString reads a value written as "#" and the hex of its BER encoding (RFC 4514 §2.4):
// one of the string types a certificate subject uses.
func berString(h string) (string, error) {
	der, err := hex.DecodeString(h)
	if err != nil {
		return "", errs.E(errs.Invalid, "a distinguished name's #value is not hexadecimal")
	}
	var raw asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &raw); err != nil || len(rest) > 0 || raw.Class != asn1.ClassUniversal {
		return "", errs.E(errs.Invalid, "a distinguished name's #value is not one BER value")
	}
	switch raw.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String:
		if !utf8.Valid(raw.Bytes) {
			return "", errs.E(errs.Invalid, "a distinguished name's value is not UTF-8")
		}
		return string(raw.Bytes), nil
	}
	return "", errs.E(errs.Invalid, "a distinguished name's #value is not a string")
}
