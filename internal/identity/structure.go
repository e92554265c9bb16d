package identity

import (
	"strings"
)

// FINESS is the 9-character number of a health or medico-social establishment in the
// Fichier national des établissements sanitaires et sociaux.
type FINESS string

// ParseFINESS checks a FINESS number (ANS MOS, numFINESS): positions 1-2 the department
// (digits, or 2A/2B for Corsica; 97 overseas, 98 Mayotte), then 6 digits, and in position
// 9 a Luhn key over the first 8.
//
// For Corsica the key cannot be checked: the texts do not say how the letter enters the
// Luhn sum, so a 2A/2B number is checked for form only. We do not require the "0" that
// the MOS shows in position 3 either: older numbers may lack it and the key protects the
// rest. Real numbers pass: 750100125 (Pitié-Salpêtrière), 130783293 (AP-HM), 690781810
// (HCL).
func ParseFINESS(s string) (FINESS, error) {
	n, err := scan("FINESS", strings.TrimSpace(s), 9, 0)
	if err != nil {
		return "", err
	}
	if !corsican(n) {
		if err := checkLuhn("FINESS", n); err != nil {
			return "", err
		}
	}
	return FINESS(n), nil
}

// corsican reports whether a canonical FINESS or ADELI number starts with 2A or 2B.
func corsican(n string) bool { return n[:2] == "2A" || n[:2] == "2B" }

// SIREN is the 9-digit INSEE number of a legal entity (Code de commerce R123-221).
type SIREN string

// laPoste is the SIREN of La Poste, which does not satisfy Luhn and whose SIRETs follow
// their own rule (INSEE): all of La Poste's establishments were put under one SIREN when
// it became a company, too many for the 4-digit NIC and its Luhn key.
const laPoste = "356000000"

// ParseSIREN checks a SIREN: 9 digits whose last is a Luhn key (INSEE), La Poste's
// 356000000 excepted.
func ParseSIREN(s string) (SIREN, error) {
	n, err := scan("SIREN", strings.TrimSpace(s), 9, -1)
	if err != nil {
		return "", err
	}
	if n != laPoste {
		if err := checkLuhn("SIREN", n); err != nil {
			return "", err
		}
	}
	return SIREN(n), nil
}

// SIRET is the 14-digit INSEE number of an establishment: the SIREN of its legal entity
// then the 5-digit NIC (Code de commerce R123-221).
type SIRET string

// ParseSIRET checks a SIRET: 14 digits with a Luhn key over the whole (INSEE). La Poste's
// establishments (SIREN 356000000) are valid when the sum of their 14 digits is a
// multiple of 5; its head office, 35600000000048, happens to pass Luhn as well.
func ParseSIRET(s string) (SIRET, error) {
	n, err := scan("SIRET", strings.TrimSpace(s), 14, -1)
	if err != nil {
		return "", err
	}
	if n[:9] == laPoste && digitSum(n)%5 == 0 {
		return SIRET(n), nil
	}
	if err := checkLuhn("SIRET", n); err != nil {
		return "", err
	}
	return SIRET(n), nil
}

// SIREN returns the legal entity part of the SIRET.
func (s SIRET) SIREN() SIREN { return SIREN(s[:9]) }

// StructKind is the type prefix of an IdNat_Struct (ANS nomenclature
// TRE_G07-TypeIdentifiantStructure; CI-SIS annexe "Identifiants des acteurs").
type StructKind string

const (
	StructADELICabinet StructKind = "0" // 0 + ADELI-rang of the cabinet
	StructFINESS       StructKind = "1" // 1 + FINESS
	StructSIREN        StructKind = "2" // 2 + SIREN
	StructSIRET        StructKind = "3" // 3 + SIRET
	StructRPPSRang     StructKind = "4" // 4 + RPPS-rang of the cabinet
)

// StructureID is the national identifier of an organisation (IdNat_Struct, identifier
// system OIDIdNatStruct): a type prefix and the number it announces.
type StructureID struct {
	Kind StructKind
	ID   string
}

// ParseStructureID reads an IdNat_Struct, e.g. "1750100125" (1 + FINESS). The CI-SIS also
// allows a bare "technical number" without prefix for organisations known to no
// register; it cannot be told from a prefixed number, so it is refused here and must be
// carried under its own identifier system.
func ParseStructureID(s string) (StructureID, error) {
	const kind = "IdNat_Struct"
	t := strings.TrimSpace(s)
	if t == "" {
		return StructureID{}, &Error{Kind: kind, Reason: ReasonEmpty}
	}
	if p := hasSpace(t); p > 0 {
		return StructureID{}, &Error{Kind: kind, Reason: ReasonInnerSpace, Pos: p}
	}
	k, rest := StructKind(t[:1]), t[1:]
	var (
		id  string
		err error
	)
	switch k {
	case StructADELICabinet:
		id, err = parseADELIRang(rest)
	case StructFINESS:
		var f FINESS
		f, err = ParseFINESS(rest)
		id = string(f)
	case StructSIREN:
		var n SIREN
		n, err = ParseSIREN(rest)
		id = string(n)
	case StructSIRET:
		var n SIRET
		n, err = ParseSIRET(rest)
		id = string(n)
	case StructRPPSRang:
		id, err = parseRPPSRang(rest)
	default:
		return StructureID{}, &Error{Kind: kind, Reason: ReasonPrefix, Pos: 1,
			Detail: "type prefix must be 0 (ADELI cabinet), 1 (FINESS), 2 (SIREN), 3 (SIRET) or 4 (RPPS-rang)"}
	}
	if err != nil {
		return StructureID{}, within(err, kind, 1)
	}
	return StructureID{Kind: k, ID: id}, nil
}

// String returns the IdNat_Struct: prefix then number.
func (s StructureID) String() string { return string(s.Kind) + s.ID }

// FHIR returns the Identifier.system and Identifier.value of the IdNat_Struct.
func (s StructureID) FHIR() (system, value string) { return OIDIdNatStruct.URI(), s.String() }
