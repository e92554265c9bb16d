package mail

import (
	"strings"

	"github.com/carnet-sante/carnet/internal/identity"
)

// Address is a mailbox address as carnet keeps it: ASCII, lower case, local part a dot-atom.
// MSSanté addresses are plain ASCII (no SMTPUTF8, no quoted local parts), and comparing
// addresses case-insensitively is what every operator does in practice, although RFC 5321
// §2.4 lets the local part be case-sensitive.
type Address struct {
	Local  string
	Domain string
}

// String writes the address as local@domain; the null address as "".
func (a Address) String() string {
	if a.IsNull() {
		return ""
	}
	return a.Local + "@" + a.Domain
}

// IsNull reports the null reverse-path (MAIL FROM:<>) of bounces and receipts.
func (a Address) IsNull() bool { return a.Local == "" && a.Domain == "" }

// Limits of RFC 5321 §4.5.3.1.
const (
	maxLocal   = 64
	maxDomain  = 253 // a name of 255 octets on the wire, less its length bytes
	maxAddress = 254 // a path of 256 octets, less its angle brackets
	maxLabel   = 63
)

// ParseAddress reads an addr-spec as SMTP carries it (no display name, no angle brackets,
// no comments) and returns it in the canonical form. The empty string is the null address.
func ParseAddress(s string) (Address, error) {
	if s == "" {
		return Address{}, nil
	}
	if len(s) > maxAddress {
		return Address{}, refuse(ReasonBadAddress, "the address is longer than %d characters", maxAddress)
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return Address{}, refuse(ReasonBadAddress, "an address needs a local part, an @ and a domain")
	}
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if err := checkLocal(local); err != nil {
		return Address{}, err
	}
	if err := checkDomain(domain); err != nil {
		return Address{}, err
	}
	return Address{Local: strings.ToLower(local), Domain: domain}, nil
}

// checkLocal accepts a dot-atom (RFC 5322 §3.2.3): atext characters in dot-separated, non
// empty runs.
func checkLocal(s string) error {
	if len(s) > maxLocal {
		return refuse(ReasonBadAddress, "the local part of an address is longer than %d characters", maxLocal)
	}
	prevDot := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if prevDot {
				return refuse(ReasonBadAddress, "the local part of an address has an empty dot-separated part")
			}
			prevDot = true
			continue
		case isAtext(c):
		default:
			return refuse(ReasonBadAddress, "the local part of an address has a character that is not allowed (quoted local parts and non-ASCII are not accepted)")
		}
		prevDot = false
	}
	if prevDot {
		return refuse(ReasonBadAddress, "the local part of an address ends with a dot")
	}
	return nil
}

func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// CheckDomain checks a domain name: letters, digits and hyphens in labels of at most 63
// characters, neither starting nor ending with a hyphen, at least two labels (RFC 1035 §2.3.1,
// RFC 5321 §4.1.2; address literals are not accepted).
func CheckDomain(s string) error { return checkDomain(strings.ToLower(s)) }

func checkDomain(s string) error {
	if len(s) > maxDomain {
		return refuse(ReasonBadAddress, "the domain is longer than %d characters", maxDomain)
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return refuse(ReasonBadAddress, "the domain needs at least two labels")
	}
	for _, l := range labels {
		if l == "" || len(l) > maxLabel || l[0] == '-' || l[len(l)-1] == '-' {
			return refuse(ReasonBadAddress, "the domain has an empty, too long or hyphen-edged label")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return refuse(ReasonBadAddress, "the domain has a character that is not a letter, a digit or a hyphen")
			}
		}
	}
	return nil
}

// PatientDomainPrefix starts the domain of every patient mailbox: <INS>@patient.<operator>.
const PatientDomainPrefix = "patient."

// PatientINS tells whether a is a patient mailbox address (of any operator: the patient
// domain of the national operator is patient.mssante.fr) and returns its INS matricule.
func PatientINS(a Address) (string, bool) {
	if !strings.HasPrefix(a.Domain, PatientDomainPrefix) || len(a.Local) != 15 {
		return "", false
	}
	ins, err := identity.ParseINS(strings.ToUpper(a.Local)) // Corsica: 2A, 2B
	if err != nil {
		return "", false
	}
	return ins.Matricule, true
}

// IsPatient reports whether a is a patient mailbox address.
func IsPatient(a Address) bool {
	_, ok := PatientINS(a)
	return ok
}
