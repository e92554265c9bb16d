package identity

import (
	"strings"
)

// RPPS is the 11-digit number of a professional in the Répertoire partagé des
// professionnels de santé, permanent for a whole career.
type RPPS string

// ParseRPPS checks an RPPS number: 11 digits, the last being a Luhn check digit.
//
// The Luhn key: the ANS MOS builds the RPPS-rang as "the 11 characters of the RPPS, a
// 2-character order number and a Luhn key", and every RPPS published in ANS and IHE France
// examples that we checked passes Luhn on its 11 digits (e.g. 10100534436, 10100710366,
// 10100842904), which chance would not explain. A made-up number such as 10001234567 is
// refused (its key would be 5). Should a genuine RPPS ever fail, this is the one rule to
// revisit.
func ParseRPPS(s string) (RPPS, error) {
	n, err := scan("RPPS", strings.TrimSpace(s), 11, -1)
	if err != nil {
		return "", err
	}
	if err := checkLuhn("RPPS", n); err != nil {
		return "", err
	}
	return RPPS(n), nil
}

// ADELI is the 9-character number of a professional in the former departmental ADELI
// lists (still found on older cards and records; the professions it covered move to the
// RPPS).
type ADELI string

// ParseADELI checks an ADELI number: 9 characters, the first two being the department of
// registration, which for Corsica we accept written 2A or 2B as in the other
// departmental registers; all others are digits.
//
// No check key is verified: the ADELI key rule is not in the public texts we have, and
// the ADELI numbers of ANS/IHE France examples (101005344, 441253000) do not pass Luhn, so
// a Luhn check would refuse numbers that other national systems accept.
func ParseADELI(s string) (ADELI, error) {
	n, err := scan("ADELI", strings.TrimSpace(s), 9, 0)
	if err != nil {
		return "", err
	}
	return ADELI(n), nil
}

// parseADELIRang checks the identifier of a cabinet registered in ADELI: the 9 characters
// of the holder's ADELI number and a 2-digit order number (ANS MOS, identifiantEG).
func parseADELIRang(t string) (string, error) {
	return scan("ADELI-rang", t, 11, 0)
}

// parseRPPSRang checks the identifier of a cabinet registered in the RPPS: the 11 digits
// of the holder's RPPS, a 2-digit order number and a Luhn key over the 13 before it (ANS
// MOS, identifiantEG).
func parseRPPSRang(t string) (string, error) {
	n, err := scan("RPPS-rang", t, 14, -1)
	if err != nil {
		return "", err
	}
	if err := checkLuhn("RPPS-rang", n); err != nil {
		return "", err
	}
	return n, nil
}

// PSKind is the type prefix of an IdNat_PS, the digit that tells what follows (ANS
// nomenclature TRE_G08-TypeIdentifiantPersonne; CI-SIS annexe "Identifiants des acteurs").
type PSKind string

const (
	PSADELI        PSKind = "0" // 0 + ADELI
	PSADELICabinet PSKind = "1" // 1 + ADELI-rang of the cabinet / internal id
	PSFINESS       PSKind = "3" // 3 + FINESS / internal id
	PSSIREN        PSKind = "4" // 4 + SIREN / internal id
	PSSIRET        PSKind = "5" // 5 + SIRET / internal id
	PSRPPSCabinet  PSKind = "6" // 6 + RPPS-rang of the cabinet / internal id
	PSRPPS         PSKind = "8" // 8 + RPPS
)

// Local reports whether professionals of this kind are named by a structure identifier
// and an internal identifier ("3"+FINESS+"/"+id) rather than by a national number of
// their own.
func (k PSKind) Local() bool {
	switch k {
	case PSADELICabinet, PSFINESS, PSSIREN, PSSIRET, PSRPPSCabinet:
		return true
	}
	return false
}

// IdNatPS is the national identifier of a professional (IdNat_PS, identifier system
// OIDIdNatPS): a type prefix and an RPPS or ADELI number, or, for staff known only to
// their organisation, the organisation's identifier and an internal identifier.
type IdNatPS struct {
	Kind  PSKind
	ID    string // the RPPS, the ADELI, or the structure number (FINESS, SIREN, SIRET, ADELI-rang, RPPS-rang)
	Local string // the internal identifier after "/", for the kinds where Kind.Local() is true
}

// ParseIdNatPS reads an IdNat_PS, e.g. "810100534436" (8 + RPPS) or "3750100125/9762"
// (3 + FINESS / internal id), and checks the inner number by its own rules. The code 10
// of TRE_G08 (an MSSanté address) is a type of identifier, not an IdNat_PS prefix, and
// the old 2 (DRASS) is no longer issued: both are refused as unknown prefixes.
func ParseIdNatPS(s string) (IdNatPS, error) {
	const kind = "IdNat_PS"
	t := strings.TrimSpace(s)
	if t == "" {
		return IdNatPS{}, &Error{Kind: kind, Reason: ReasonEmpty}
	}
	if p := hasSpace(t); p > 0 {
		return IdNatPS{}, &Error{Kind: kind, Reason: ReasonInnerSpace, Pos: p}
	}
	k, rest := PSKind(t[:1]), t[1:]
	var (
		id, local string
		err       error
	)
	switch k {
	case PSRPPS:
		var r RPPS
		r, err = ParseRPPS(rest)
		id = string(r)
	case PSADELI:
		var a ADELI
		a, err = ParseADELI(rest)
		id = string(a)
	case PSADELICabinet, PSFINESS, PSSIREN, PSSIRET, PSRPPSCabinet:
		var raw string
		raw, local, err = splitLocal(kind, rest, 1)
		if err != nil {
			return IdNatPS{}, err
		}
		id, err = parseStructureNumber(k, raw)
	default:
		return IdNatPS{}, &Error{Kind: kind, Reason: ReasonPrefix, Pos: 1,
			Detail: "type prefix must be 0 (ADELI), 1 (ADELI cabinet), 3 (FINESS), 4 (SIREN), 5 (SIRET), 6 (RPPS cabinet) or 8 (RPPS)"}
	}
	if err != nil {
		return IdNatPS{}, within(err, kind, 1)
	}
	return IdNatPS{Kind: k, ID: id, Local: local}, nil
}

// parseStructureNumber checks the structure part of a local IdNat_PS.
func parseStructureNumber(k PSKind, raw string) (string, error) {
	switch k {
	case PSADELICabinet:
		return parseADELIRang(raw)
	case PSFINESS:
		f, err := ParseFINESS(raw)
		return string(f), err
	case PSSIREN:
		n, err := ParseSIREN(raw)
		return string(n), err
	case PSSIRET:
		n, err := ParseSIRET(raw)
		return string(n), err
	default: // PSRPPSCabinet
		return parseRPPSRang(raw)
	}
}

// String returns the IdNat_PS as written in CDA, XDS and FHIR: prefix, number, and
// "/" + internal id when there is one.
func (p IdNatPS) String() string {
	if p.Local != "" {
		return string(p.Kind) + p.ID + "/" + p.Local
	}
	return string(p.Kind) + p.ID
}

// FHIR returns the Identifier.system and Identifier.value of the IdNat_PS.
func (p IdNatPS) FHIR() (system, value string) { return OIDIdNatPS.URI(), p.String() }
