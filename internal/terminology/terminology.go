// Package terminology is in charge of the national codes carnet files documents and authors
// under, as the project's own data: the document type codes (XDS typeCode, value set
// JDV_J07_XdsTypeCode_CISIS, OID 1.2.250.1.213.1.1.5.471), the class each type belongs to (XDS
// classCode, TRE_A03-ClasseDocument, OID 1.2.250.1.213.1.1.4.1), the space of the patient's record
// a document of that type is filed in (DOMAIN.md "Documents (the DMP)"), and the professions and
// specialties of authors (JDV_J01_XdsAuthorSpecialty_CISIS, OID 1.2.250.1.213.1.1.5.461, and
// JDV_J48_ProfessionNonPS_CISIS, OID 1.2.250.1.213.1.1.5.123).
//
// The tables are TSV files of ours under data/, embedded in the binary and parsed once. They are
// written by the generator in internal/gen from the ANS value sets and carnet's editorial choices
// (class and space of each type, kind of each profession); the source versions are in each file's
// header. A code that is not in them is refused with an errs.Invalid naming it.
//
// A Catalog is an immutable value: parse it once (Default) and pass it to whoever needs it.
package terminology

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/carnet-sante/carnet/internal/errs"
)

// ClassSystem is the code system of document classes: TRE_A03-ClasseDocument.
const ClassSystem = "1.2.250.1.213.1.1.4.1"

// Space is the part of a patient's record a document is filed in.
type Space string

const (
	SpaceDocuments      Space = "documents_sante"  // Documents de santé: what professionals deposit
	SpaceProfile        Space = "profil_medical"   // Profil médical: summary, vaccinations, plans, medication reviews
	SpaceReimbursements Space = "remboursements"   // Remboursements: the health insurer's data
	SpacePersonal       Space = "espace_personnel" // Espace personnel: what the patient deposits
)

// Spaces lists the spaces in the order the patient's record shows them.
func Spaces() []Space {
	return []Space{SpaceDocuments, SpaceProfile, SpaceReimbursements, SpacePersonal}
}

// Valid reports whether s is one of the four spaces.
func (s Space) Valid() bool {
	switch s {
	case SpaceDocuments, SpaceProfile, SpaceReimbursements, SpacePersonal:
		return true
	}
	return false
}

// Kind says what sort of author a profession code designates.
type Kind string

const (
	// KindHealth: a health profession or specialty (TRE_A02-ProfessionSavFaire-CISIS,
	// 1.2.250.1.213.1.1.4.5: G15_10 médecin, G15_10/SM03 médecin biologiste, G15_60 infirmier…).
	KindHealth Kind = "health"
	// KindSocial: a non-health profession or role, the codes of J48 (TRE_R94-ProfessionSocial,
	// TRE_R85-RolePriseCharge, TRE_R95-UsagerTitre): social worker, psychologist, care coordinator…
	KindSocial Kind = "social"
	// KindOther: an author that is no profession (TRE_A00-ProducteurDocNonPS,
	// 1.2.250.1.213.1.1.4.6): the insurer's feed, a device, software, the patient's own expression.
	// Kept apart so that no rule meant for professionals applies to them by accident.
	KindOther Kind = "other"
)

// Valid reports whether k is one of the kinds.
func (k Kind) Valid() bool { return k == KindHealth || k == KindSocial || k == KindOther }

// TypeCode is a document type and where documents of that type go.
type TypeCode struct {
	Code   string // e.g. "11488-4", "REMB"
	System string // code system OID: LOINC 2.16.840.1.113883.6.1, TRE_A05 1.2.250.1.213.1.1.4.12…
	Label  string // the national label, French
	Class  string // classCode, in ClassSystem
	Space  Space
}

// Class is a document class (XDS classCode).
type Class struct {
	Code, System, Label string
}

// Profession is an author profession or specialty (XDS authorSpecialty).
type Profession struct {
	Code   string // e.g. "G15_10/SM03"
	System string // code system OID
	Label  string
	// Profession is the profession a specialty belongs to ("G15_10" for "G15_10/SM03"), the
	// code itself for a profession, and "" for KindOther.
	Profession string
	Kind       Kind
}

// Catalog holds the tables. It is never modified after it is built, so one value can be shared
// by every goroutine; accessors return copies.
type Catalog struct {
	types       []TypeCode
	typeIdx     map[string]int
	classes     []Class
	classIdx    map[string]int
	professions []Profession
	profIdx     map[string]int
}

//go:embed data/*.tsv
var dataFS embed.FS

var defaultCatalog = sync.OnceValues(func() (*Catalog, error) {
	sub, err := fs.Sub(dataFS, "data")
	if err != nil {
		return nil, err
	}
	return load(sub)
})

// Default returns the catalog of the embedded tables, parsed on first use. An error means the
// embedded data is broken, which is a bug of ours (the tests catch it), hence errs.Internal.
func Default() (*Catalog, error) {
	c, err := defaultCatalog()
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "load the terminology tables")
	}
	return c, nil
}

// Type returns the document type of code. A code outside the tables is errs.Invalid: the
// national record refuses unknown type codes too. Callers that receive a code system along with
// the code should compare it with TypeCode.System.
func (c *Catalog) Type(code string) (TypeCode, error) {
	i, ok := c.typeIdx[code]
	if !ok {
		return TypeCode{}, errs.E(errs.Invalid, "unknown document type code %q", code)
	}
	return c.types[i], nil
}

// Types returns every document type, in the order of the value set.
func (c *Catalog) Types() []TypeCode { return append([]TypeCode(nil), c.types...) }

// Class returns the document class of code.
func (c *Catalog) Class(code string) (Class, error) {
	i, ok := c.classIdx[code]
	if !ok {
		return Class{}, errs.E(errs.Invalid, "unknown document class code %q", code)
	}
	return c.classes[i], nil
}

// Classes returns every document class, in code order.
func (c *Catalog) Classes() []Class { return append([]Class(nil), c.classes...) }

// Profession returns the profession or specialty of code. Codes are unique across the code
// systems of J01 and J48 (the generator checks it), so the code alone identifies an entry.
func (c *Catalog) Profession(code string) (Profession, error) {
	i, ok := c.profIdx[code]
	if !ok {
		return Profession{}, errs.E(errs.Invalid, "unknown profession or specialty code %q", code)
	}
	return c.professions[i], nil
}

// Professions returns every profession and specialty, in the order of the value sets.
func (c *Catalog) Professions() []Profession { return append([]Profession(nil), c.professions...) }

// ProfessionsOf returns the professions and specialties of one kind, in the order of the value sets.
func (c *Catalog) ProfessionsOf(kind Kind) []Profession {
	var ps []Profession
	for _, p := range c.professions {
		if p.Kind == kind {
			ps = append(ps, p)
		}
	}
	return ps
}

// The columns of each file, in order; readTSV holds the files to exactly these headers.
var (
	classColumns      = []string{"code", "system", "label"}
	typeColumns       = []string{"code", "system", "label", "class", "space", "basis", "note"}
	professionColumns = []string{"code", "system", "label", "profession", "kind", "sets", "label_j48"}
)

const (
	classFile      = "classcodes.tsv"
	typeFile       = "typecodes.tsv"
	professionFile = "professions.tsv"
)

// load builds a Catalog from the three files of fsys and checks what the format cannot say: codes
// present and unique, every type's class known and space valid, every profession's kind valid.
func load(fsys fs.FS) (*Catalog, error) {
	c := &Catalog{typeIdx: map[string]int{}, classIdx: map[string]int{}, profIdx: map[string]int{}}

	recs, err := readFile(fsys, classFile, classColumns)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		cl := Class{Code: r.fields[0], System: r.fields[1], Label: r.fields[2]}
		if err := required(classFile, r, classColumns, "code", "system", "label"); err != nil {
			return nil, err
		}
		if _, dup := c.classIdx[cl.Code]; dup {
			return nil, fmt.Errorf("%s:%d: code %q twice", classFile, r.line, cl.Code)
		}
		c.classIdx[cl.Code] = len(c.classes)
		c.classes = append(c.classes, cl)
	}

	if recs, err = readFile(fsys, typeFile, typeColumns); err != nil {
		return nil, err
	}
	for _, r := range recs {
		t := TypeCode{Code: r.fields[0], System: r.fields[1], Label: r.fields[2], Class: r.fields[3], Space: Space(r.fields[4])}
		if err := required(typeFile, r, typeColumns, "code", "system", "label", "class", "space"); err != nil {
			return nil, err
		}
		if _, dup := c.typeIdx[t.Code]; dup {
			return nil, fmt.Errorf("%s:%d: code %q twice", typeFile, r.line, t.Code)
		}
		if _, ok := c.classIdx[t.Class]; !ok {
			return nil, fmt.Errorf("%s:%d: code %q: class %q is not in %s", typeFile, r.line, t.Code, t.Class, classFile)
		}
		if !t.Space.Valid() {
			return nil, fmt.Errorf("%s:%d: code %q: unknown space %q", typeFile, r.line, t.Code, t.Space)
		}
		c.typeIdx[t.Code] = len(c.types)
		c.types = append(c.types, t)
	}

	if recs, err = readFile(fsys, professionFile, professionColumns); err != nil {
		return nil, err
	}
	for _, r := range recs {
		p := Profession{Code: r.fields[0], System: r.fields[1], Label: r.fields[2], Profession: r.fields[3], Kind: Kind(r.fields[4])}
		if err := required(professionFile, r, professionColumns, "code", "system", "label", "kind", "sets"); err != nil {
			return nil, err
		}
		if _, dup := c.profIdx[p.Code]; dup {
			return nil, fmt.Errorf("%s:%d: code %q twice", professionFile, r.line, p.Code)
		}
		if !p.Kind.Valid() {
			return nil, fmt.Errorf("%s:%d: code %q: unknown kind %q", professionFile, r.line, p.Code, p.Kind)
		}
		if (p.Profession == "") != (p.Kind == KindOther) {
			return nil, fmt.Errorf("%s:%d: code %q: profession %q does not fit kind %q", professionFile, r.line, p.Code, p.Profession, p.Kind)
		}
		c.profIdx[p.Code] = len(c.professions)
		c.professions = append(c.professions, p)
	}
	return c, nil
}

func readFile(fsys fs.FS, name string, columns []string) ([]record, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readTSV(name, f, columns)
}

// required checks that the named columns of r are neither empty nor padded with spaces.
func required(file string, r record, columns []string, names ...string) error {
	for i, col := range columns {
		for _, name := range names {
			if col != name {
				continue
			}
			if v := r.fields[i]; v == "" || v != strings.TrimSpace(v) {
				return fmt.Errorf("%s:%d: %s %q: empty or padded with spaces", file, r.line, name, v)
			}
		}
	}
	return nil
}
