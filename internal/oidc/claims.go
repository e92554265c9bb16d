package oidc

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/space"
)

// Claims come from outside (the provider's tokens, decoded as JSON): every reader below
// accepts any shape, bounds what it collects, and fails closed.

const maxClaimValues = 64

// claimStrings returns the strings at a claim path: the claim named path if there is one,
// else the dotted path through objects, arrays being crossed at any level. Numbers count as
// their decimal text (a profession code may come as 10 or "10").
func claimStrings(claims map[string]any, path string) []string {
	if v, ok := claims[path]; ok {
		return collect(v, nil, nil)
	}
	parts := strings.Split(path, ".")
	if len(parts) > 8 {
		return nil
	}
	return collect(claims, parts, nil)
}

func collect(v any, parts []string, out []string) []string {
	if len(out) >= maxClaimValues {
		return out
	}
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			out = collect(e, parts, out)
		}
		return out
	case map[string]any:
		if len(parts) == 0 {
			return out
		}
		return collect(t[parts[0]], parts[1:], out)
	}
	if len(parts) != 0 {
		return out
	}
	switch t := v.(type) {
	case string:
		if s := strings.TrimSpace(t); s != "" && len(s) <= 256 {
			out = append(out, s)
		}
	case float64:
		if t == float64(int64(t)) {
			out = append(out, strconv.FormatInt(int64(t), 10))
		}
	}
	return out
}

// firstClaim returns the first string found at any of the paths, in order.
func firstClaim(claims map[string]any, paths ...string) string {
	for _, p := range paths {
		if vs := claimStrings(claims, p); len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// allClaims returns every string found at the paths, in order, without repeats.
func allClaims(claims map[string]any, paths ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		for _, v := range claimStrings(claims, p) {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// parseIdNat reads the IdNat_PS a provider states: an IdNat_PS (8 + RPPS, 0 + ADELI…), or a
// bare 11-digit RPPS, read as 8 + RPPS.
func parseIdNat(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if id, err := identity.ParseIdNatPS(v); err == nil {
		return id.String(), true
	}
	if len(v) == 11 {
		if r, err := identity.ParseRPPS(v); err == nil {
			return string(identity.PSRPPS) + string(r), true
		}
	}
	return "", false
}

var twoDigits = regexp.MustCompile(`^[0-9]{2}$`)

// professionCode turns a stated profession into carnet's code (TRE_G15 with its prefix):
// "10", "10^1.2.250.1.213.1.1.5.5" (SubjectRole) and "G15_10" are all "G15_10". Anything
// else is not a profession code: "".
func professionCode(v string) string {
	v, _, _ = strings.Cut(strings.TrimSpace(v), "^")
	if strings.HasPrefix(v, "G15_") {
		v = v[len("G15_"):]
	}
	if !twoDigits.MatchString(v) {
		return ""
	}
	return "G15_" + v
}

// professionCodes returns the distinct profession codes among the stated values.
func professionCodes(vs []string) []string {
	var out []string
	for _, v := range vs {
		if c := professionCode(v); c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// traits are the identity traits of a patient as a provider vouches for them.
type traits struct {
	BirthName string // normalised
	GivenName string // the first given name, normalised
	BirthDate time.Time
	Sex       space.Sex
}

// patientTraits reads the traits from the claims; false when one is missing or unreadable.
// FranceConnect's family_name is the birth name and its given_name every given name, the
// first one first, separated by spaces (its "identité pivot").
func patientTraits(claims map[string]any, c Claims) (traits, bool) {
	var t traits
	t.BirthName = normaliseName(firstClaim(claims, c.FamilyName))
	t.GivenName = firstGivenName(firstClaim(claims, c.GivenName))
	d, err := time.Parse(space.DateLayout, firstClaim(claims, c.BirthDate))
	if err != nil {
		return traits{}, false
	}
	t.BirthDate = d
	switch strings.ToLower(firstClaim(claims, c.Gender)) {
	case "female", "f":
		t.Sex = space.Female
	case "male", "m":
		t.Sex = space.Male
	default:
		return traits{}, false
	}
	if t.BirthName == "" || t.GivenName == "" {
		return traits{}, false
	}
	return t, true
}

// firstGivenName returns the first of given names, normalised.
func firstGivenName(s string) string {
	f := strings.Fields(normaliseName(s))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// normaliseName writes a name the way the INS referential does, so that two writings of the
// same name compare equal: upper case, without diacritics (É is E, Œ is OE), the apostrophe
// and the hyphen kept, but spaces around them and repeated spaces dropped. "Le Gall" and
// "LE  GALL" are the same; "Jean-Pierre" stays one given name.
func normaliseName(s string) string {
	if len(s) > 256 {
		s = s[:256]
	}
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(strings.ToUpper(s)) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == 'œ' || r == 'Œ':
			b.WriteString("OE")
		case r == 'æ' || r == 'Æ':
			b.WriteString("AE")
		case r == 'ß' || r == 'ẞ':
			b.WriteString("SS")
		case r == '’' || r == 'ʼ' || r == '\'':
			trimSpace(&b)
			b.WriteByte('\'')
			space = false
			continue
		case r == '-' || r == '‐' || r == '–':
			trimSpace(&b)
			b.WriteByte('-')
			space = false
			continue
		case unicode.IsSpace(r):
			if b.Len() > 0 && !space && !endsWithJoiner(&b) {
				b.WriteByte(' ')
				space = true
			}
			continue
		case unicode.IsLetter(r):
			b.WriteString(strings.ToUpper(string(r)))
		default:
			continue // digits, punctuation: not part of a name
		}
		space = false
	}
	return strings.TrimSpace(b.String())
}

func trimSpace(b *strings.Builder) {
	s := b.String()
	if strings.HasSuffix(s, " ") {
		s = strings.TrimRight(s, " ")
		b.Reset()
		b.WriteString(s)
	}
}

func endsWithJoiner(b *strings.Builder) bool {
	s := b.String()
	return strings.HasSuffix(s, "-") || strings.HasSuffix(s, "'")
}
