package identity

import (
	"strconv"
	"strings"
	"unicode"
)

// maxInput bounds what we look at character by character: no identifier of this package
// is anywhere near that long, and a megabyte pasted in a form should cost nothing.
const maxInput = 256

// scan checks a trimmed identifier: not empty, no inner space, exactly n characters, all
// digits, except that the pair starting at index corsica (0-based; -1 for none) may read
// 2A or 2B, the Corsican department codes. It returns the canonical form, with letters
// upper-cased. Positions in errors count characters, not bytes, from 1.
//
// Inner spaces are refused rather than squeezed out: the same number is written with
// spaces in several groupings, and a value that round-trips must have one spelling.
func scan(kind, t string, n, corsica int) (string, error) {
	if t == "" {
		return "", &Error{Kind: kind, Reason: ReasonEmpty}
	}
	if len(t) > maxInput {
		return "", &Error{Kind: kind, Reason: ReasonLength, Length: len([]rune(t)), Expected: strconv.Itoa(n)}
	}
	rs := []rune(t)
	for i, r := range rs {
		if unicode.IsSpace(r) {
			return "", &Error{Kind: kind, Reason: ReasonInnerSpace, Pos: i + 1}
		}
	}
	if len(rs) != n {
		return "", &Error{Kind: kind, Reason: ReasonLength, Length: len(rs), Expected: strconv.Itoa(n)}
	}
	b := make([]byte, n)
	for i, r := range rs {
		switch {
		case r >= '0' && r <= '9':
			b[i] = byte(r)
		case r == 'A' || r == 'B' || r == 'a' || r == 'b':
			if corsica < 0 || i != corsica+1 || rs[corsica] != '2' {
				return "", &Error{Kind: kind, Reason: ReasonCorsica, Pos: i + 1}
			}
			b[i] = byte(unicode.ToUpper(r))
		default:
			return "", &Error{Kind: kind, Reason: ReasonNonDigit, Pos: i + 1}
		}
	}
	return string(b), nil
}

// hasSpace reports the 1-based position of the first space in s, or 0.
func hasSpace(s string) int {
	i := 0
	for _, r := range s {
		i++
		if unicode.IsSpace(r) {
			return i
		}
	}
	return 0
}

// luhnDigit returns the check digit that completes the decimal digits s under the Luhn
// formula (ISO/IEC 7812-1, annex B): from the right, every second digit starting with the
// one next to the check digit is doubled, and the sum must end in 0.
func luhnDigit(s string) byte {
	sum := 0
	double := true
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// checkLuhn returns a ReasonKey error unless the last digit of s is its Luhn check digit.
func checkLuhn(kind, s string) error {
	want := luhnDigit(s[:len(s)-1])
	if got := s[len(s)-1]; got != want {
		return &Error{Kind: kind, Reason: ReasonKey, Pos: len(s), Expected: string(want), Found: string(got)}
	}
	return nil
}

// digitSum is the plain sum of the decimal digits of s.
func digitSum(s string) int {
	sum := 0
	for i := 0; i < len(s); i++ {
		sum += int(s[i] - '0')
	}
	return sum
}

// localChars is what we accept in the internal part of an IdNat_PS ("3"+FINESS+"/"+id):
// the texts leave it free, but the value travels inside HL7 v2 and XDS fields whose
// separators are ^ & ~ | \ and inside FHIR tokens, so we keep to letters, digits, "-",
// "_" and ".". Our default, to widen if a real registry number needs more.
func localChars(s string) int {
	i := 0
	for _, r := range s {
		i++
		ok := r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' ||
			r == '-' || r == '_' || r == '.'
		if !ok {
			return i
		}
	}
	return 0
}

// maxLocal bounds the internal identifier; our default, the texts set none.
const maxLocal = 50

// splitLocal cuts "id/local" for the IdNat_PS kinds that name a person inside a structure.
func splitLocal(kind, rest string, offset int) (id, local string, err error) {
	id, local, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", &Error{Kind: kind, Reason: ReasonLocalID,
			Detail: "needs the internal identifier after a \"/\" (structure id/internal id)"}
	}
	switch {
	case local == "":
		return "", "", &Error{Kind: kind, Reason: ReasonLocalID, Detail: "has an empty internal identifier after \"/\""}
	case len([]rune(local)) > maxLocal:
		return "", "", &Error{Kind: kind, Reason: ReasonLocalID,
			Detail: "internal identifier is longer than " + strconv.Itoa(maxLocal) + " characters"}
	}
	if p := localChars(local); p > 0 {
		pos := offset + len([]rune(id)) + 1 + p
		return "", "", &Error{Kind: kind, Reason: ReasonLocalID, Pos: pos,
			Detail: "internal identifier has a character other than a letter, a digit, \"-\", \"_\" or \".\" at position " + strconv.Itoa(pos)}
	}
	return id, local, nil
}
