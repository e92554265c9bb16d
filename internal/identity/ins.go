// Package identity is in charge of the national identifiers carnet reads and writes: the
// patient's INS (a NIR or NIA matricule with the OID of its identifier system), the
// professional's RPPS, ADELI and IdNat_PS, and the organisation's FINESS, SIREN, SIRET
// and IdNat_Struct. It checks their form and check keys, nothing more: whether a number
// was really issued is for the national directories (INSi, Annuaire santé) to say.
//
// Every parser trims surrounding space, refuses inner spaces, and returns an *Error whose
// Reason says what is wrong and which unwraps to errs.Invalid.
//
// Sources: DOMAIN.md "Identities"; ANS, Référentiel INS and CI-SIS (OIDs, IdNat_PS and
// IdNat_Struct prefixes); ANS, MOS (Modèle des objets de santé: FINESS, SIRET, RPPS-rang
// and ADELI-rang layouts); INSEE (NIR layout and key); Code de commerce R123-221 (SIREN,
// SIRET).
package identity

import (
	"log/slog"
	"strconv"
	"strings"
	"unicode"
)

// OID names an identifier system (ISO/IEC 9834 object identifier, dotted form).
type OID string

// The identifier systems of this package (ANS, Référentiel INS; CI-SIS annexe
// "Identifiants des acteurs").
const (
	OIDNIR         OID = "1.2.250.1.213.1.4.8"  // INS whose matricule is a NIR
	OIDNIA         OID = "1.2.250.1.213.1.4.9"  // INS whose matricule is a NIA (numéro d'identification d'attente)
	OIDTestNIR     OID = "1.2.250.1.213.1.4.10" // NIR of test identities (INSi test platform, official examples)
	OIDDemoNIR     OID = "1.2.250.1.213.1.4.11" // NIR of demonstration identities
	OIDIdNatPS     OID = "1.2.250.1.71.4.2.1"   // national identifier of a professional (IdNat_PS)
	OIDIdNatStruct OID = "1.2.250.1.71.4.2.2"   // national identifier of an organisation (IdNat_Struct)
)

// urnOID is the URI scheme FHIR uses for an OID in Identifier.system (RFC 3061).
const urnOID = "urn:oid:"

// URI returns the OID as a FHIR Identifier.system: "urn:oid:" + o.
func (o OID) URI() string { return urnOID + string(o) }

// IsINS reports whether o is one of the four INS identifier systems.
func (o OID) IsINS() bool {
	switch o {
	case OIDNIR, OIDNIA, OIDTestNIR, OIDDemoNIR:
		return true
	}
	return false
}

// INS is a patient's national health identifier: the 15-digit matricule (13-digit NIR or
// NIA, then the 2-digit key) and the identifier system it belongs to.
//
// System is empty when the INS was read from a bare matricule (ParseINS without a
// system): the digits alone do not tell a NIR from a NIA, and we would rather say "not
// stated" than guess. A qualified identity always carries its OID (Référentiel INS), so
// code that stores or sends an INS must require a non-empty System.
//
// An INS is personal data: LogValue keeps it out of logs.
type INS struct {
	Matricule string
	System    OID
}

// ParseINS reads an INS written either as a bare matricule ("279035121518989"), which
// leaves System empty, or as a FHIR token ("urn:oid:1.2.250.1.213.1.4.8|279035121518989"),
// as String writes it, so that ParseINS(x.String()) == x for every valid x.
func ParseINS(s string) (INS, error) {
	t := strings.TrimSpace(s)
	if strings.Contains(t, "|") {
		return ParseFHIRIdentifier(t)
	}
	m, err := parseMatricule("INS", t)
	if err != nil {
		return INS{}, err
	}
	return INS{Matricule: m}, nil
}

// NewINS checks a matricule and an INS identifier system together.
func NewINS(matricule string, system OID) (INS, error) {
	if !system.IsINS() {
		return INS{}, &Error{Kind: "INS", Reason: ReasonSystem,
			Detail: "identifier system is not one of the INS OIDs (NIR, NIA, test NIR, demo NIR)"}
	}
	m, err := parseMatricule("INS", strings.TrimSpace(matricule))
	if err != nil {
		return INS{}, err
	}
	return INS{Matricule: m, System: system}, nil
}

// FromFHIR reads the Identifier.system and Identifier.value of a FHIR Identifier; the
// system must be "urn:oid:" followed by one of the INS OIDs (FR Core, INS-NIR / INS-NIA
// slices).
func FromFHIR(system, value string) (INS, error) {
	sys := strings.TrimSpace(system)
	if sys == "" {
		return INS{}, &Error{Kind: "INS", Reason: ReasonSystem, Detail: "identifier system is missing"}
	}
	oid, ok := strings.CutPrefix(sys, urnOID)
	if !ok {
		return INS{}, &Error{Kind: "INS", Reason: ReasonSystem,
			Detail: "identifier system must be written urn:oid:<OID>"}
	}
	return NewINS(value, OID(oid))
}

// ParseFHIRIdentifier reads the FHIR token form "system|value"
// ("urn:oid:1.2.250.1.213.1.4.8|279035121518989"), as used in search parameters.
func ParseFHIRIdentifier(s string) (INS, error) {
	t := strings.TrimSpace(s)
	system, value, ok := strings.Cut(t, "|")
	if !ok {
		if t == "" {
			return INS{}, &Error{Kind: "INS", Reason: ReasonEmpty}
		}
		return INS{}, &Error{Kind: "INS", Reason: ReasonSyntax,
			Detail: "FHIR identifier must be written system|value, e.g. urn:oid:1.2.250.1.213.1.4.8|<matricule>"}
	}
	ins, err := FromFHIR(system, value)
	if err != nil {
		// A position in the value counts from the start of the whole token.
		if e, ok := err.(*Error); ok && e.Pos > 0 {
			lead := len([]rune(value)) - len([]rune(strings.TrimLeftFunc(value, unicode.IsSpace)))
			c := *e
			c.Pos += len([]rune(system)) + 1 + lead
			return INS{}, &c
		}
		return INS{}, err
	}
	return ins, nil
}

// FHIR returns the Identifier.system and Identifier.value of the INS; system is empty
// when the INS does not state it.
func (i INS) FHIR() (system, value string) {
	if i.System == "" {
		return "", i.Matricule
	}
	return i.System.URI(), i.Matricule
}

// String returns the FHIR token "urn:oid:<OID>|<matricule>", or the bare matricule when
// the system is not stated. ParseINS reads both.
func (i INS) String() string {
	if i.System == "" {
		return i.Matricule
	}
	return i.System.URI() + "|" + i.Matricule
}

// IsTest reports whether the INS belongs to a test or demonstration identifier system:
// such identities must never be mixed with real ones.
func (i INS) IsTest() bool { return i.System == OIDTestNIR || i.System == OIDDemoNIR }

// LogValue keeps the matricule out of logs (STYLE: no health data in logs); the system
// is kept, it helps tell test traffic from real traffic.
func (i INS) LogValue() slog.Value {
	return slog.GroupValue(slog.String("system", string(i.System)), slog.String("matricule", "[redacted]"))
}

// INSKey computes the 2-digit key of a 13-character NIR or NIA, after the same checks as
// ParseINS, so that nir13+key always parses. Meant for synthetic data and for telling a
// user which key a number calls for.
func INSKey(nir13 string) (string, error) {
	t := strings.TrimSpace(nir13)
	n, err := scan("NIR", t, 13, 5)
	if err != nil {
		return "", err
	}
	if err := checkNIRFields("NIR", n); err != nil {
		return "", err
	}
	return keyOf(n), nil
}

// parseMatricule checks a trimmed 15-character matricule and returns its canonical form.
func parseMatricule(kind, t string) (string, error) {
	m, err := scan(kind, t, 15, 5)
	if err != nil {
		if e, ok := err.(*Error); ok && e.Reason == ReasonLength && e.Length == 13 {
			e.Detail = "a 13-digit NIR needs its 2-digit key"
		}
		return "", err
	}
	if err := checkNIRFields(kind, m[:13]); err != nil {
		return "", err
	}
	if want, got := keyOf(m[:13]), m[13:]; want != got {
		return "", &Error{Kind: kind, Reason: ReasonKey, Pos: 14, Expected: want, Found: got}
	}
	return m, nil
}

// firstDigits lists the first digits we accept (INSEE NIR layout, and the numbers the
// health insurance gives while a NIR is pending):
//   - 1, 2: sex of a person registered in the RNIPP (1 male, 2 female);
//   - 3, 4: an older series for persons born abroad whose registration was in progress,
//     still met on some records;
//   - 7, 8: temporary numbers given while a NIR is awaited (7 male, 8 female).
//
// This is lenient on purpose: an INS returned by INSi is a NIR or a NIA and normally
// starts with 1 or 2, but refusing a number the insurer really issued would lock a patient
// out, while letting a rare series through costs nothing (INSi stays the judge of
// identity). 0, 5, 6 and 9 start no series and are refused.
const firstDigits = "123478"

// checkNIRFields checks the fields of a canonical 13-character NIR that have a closed set
// of values: the first digit and the birth month. Department, commune and order number are
// left alone: their sets change with geography and history (pre-1968 Algeria 91-94,
// Morocco 95, Tunisia 96; overseas 97x/98x; 99 abroad).
func checkNIRFields(kind, n string) error {
	if !strings.ContainsRune(firstDigits, rune(n[0])) {
		return &Error{Kind: kind, Reason: ReasonFirstDigit, Pos: 1, Expected: "1, 2, 3, 4, 7 or 8"}
	}
	// Month (INSEE): 01-12; when the civil-status record used for registration gives no
	// month, a pseudo-month is used: 20, 30-42, or 50 and above. We accept 20-42 as a whole
	// (21-29 are not known to be assigned, but refusing them would gain nothing) and refuse
	// 00, 13-19 and 43-49, which no convention produces.
	month, _ := strconv.Atoi(n[3:5])
	if !(month >= 1 && month <= 12 || month >= 20 && month <= 42 || month >= 50) {
		return &Error{Kind: kind, Reason: ReasonMonth, Pos: 4}
	}
	return nil
}

// keyOf returns the 2-digit key of a canonical 13-character NIR: 97 − (n mod 97), where n
// reads the 13 characters as a number after replacing the Corsican department 2A by 19
// and 2B by 18 (INSEE).
func keyOf(n string) string {
	switch n[5:7] {
	case "2A":
		n = n[:5] + "19" + n[7:]
	case "2B":
		n = n[:5] + "18" + n[7:]
	}
	v, _ := strconv.ParseUint(n, 10, 64) // 13 digits always fit: 10^13 < 2^64
	k := 97 - v%97
	return string([]byte{byte('0' + k/10), byte('0' + k%10)})
}
