package cda

import (
	"strconv"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// Check verifies that the document belongs with its deposit: its patient (recordTarget) is
// the patient want, and its type (ClinicalDocument/code) is typeCode. The national record
// refuses a document whose header contradicts its metadata (CI-SIS, "Structuration minimale":
// the XDS patientId is the recordTarget INS, the XDS typeCode is ClinicalDocument/code).
//
// The INS must match in matricule and, when want states it, in identifier system: a test
// identity (OID …4.10) is never the real identity with the same digits. Every id of
// patientRole that carries an INS OID must match, not only the first.
//
// Errors are errs.Invalid; their messages quote no identifier.
func (d *Document) Check(want identity.INS, typeCode string) error {
	p := d.Patient
	switch {
	case want.Matricule == "":
		return errs.E(errs.Invalid, "CDA: the deposit names no patient INS to check the document against")
	case p.INSError != nil:
		return errs.Wrap(errs.Invalid, p.INSError, "CDA: the document's patient INS (recordTarget) is not valid")
	case p.INS.Matricule == "":
		return errs.E(errs.Invalid, "CDA: the document's patient (recordTarget/patientRole/id) has no INS")
	case !sameINS(p.INS, want):
		return errs.E(errs.Invalid, "CDA: the document's patient (recordTarget) is not the patient of the deposit")
	}
	for _, id := range p.IDs {
		oid := identity.OID(id.Root)
		if !oid.IsINS() {
			continue
		}
		other, err := identity.NewINS(id.Extension, oid)
		if err != nil || !sameINS(other, want) {
			return errs.E(errs.Invalid, "CDA: the document's patient (recordTarget) has a second INS that is not the patient of the deposit")
		}
	}
	if d.Code.Code != typeCode {
		return errs.E(errs.Invalid, "CDA: the document's code %s does not match the typeCode %s", quote(d.Code.Code), quote(typeCode))
	}
	return nil
}

func sameINS(got, want identity.INS) bool {
	return got.Matricule == want.Matricule && (want.System == "" || got.System == want.System)
}

// quote shows a code in a message: quoted, escaped, and cut, since it comes from the
// document and could be anything.
func quote(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return strconv.Quote(s)
}
