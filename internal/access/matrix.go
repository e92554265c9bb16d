package access

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// The habilitation matrix says which professions read which categories of documents. By law it
// is set by order of the Minister (CSP R1111-46: professionals see "only the data strictly
// necessary", per "the rules for managing access rights"); its official cells are not public
// here, so carnet ships its own default (data/matrix-v1.tsv, documented line by line as our
// default) and lets the operator load an edited copy. It is data, versioned: every decision
// names the version it was taken under, and the version is in the trace.
//
// A cell is one line: profession × document → allow or deny.
//
//	profession  a profession or specialty code of the terminology (G15_10, G15_10/SM26, 93…),
//	            a kind of profession (kind:health, kind:social, kind:other), or * for anyone
//	document    a document class (class:10), a document type (type:ATTEST-RESID), or * for any
//
// For a professional and a document, the cell that applies is the first found in this order:
// the professional's specialty, then their profession, then their kind, then *; and for each,
// the document's type, then its class, then *. A more specific profession therefore wins over a
// more specific document: a specialty line about a class overrides the profession's line about
// a type of that class. No cell found means deny. Types make deny cells finer than classes: the
// proof of residence, which doctors may not read (DOMAIN.md), has no class of its own in
// TRE_A03 but is the type ATTEST-RESID of class 95.
//
// A Matrix is immutable once parsed and safe to share.
type Matrix struct {
	version string
	cells   []Cell
	index   map[cellKey]int
	cat     *terminology.Catalog
	digest  string
}

// Cell is one line of the matrix.
type Cell struct {
	Profession string // a code, "kind:<kind>" or "*"
	Document   string // "class:<code>", "type:<code>" or "*"
	Allow      bool
	Note       string // why: shown on the admin page
	Line       int    // line in the source file, 0 for no cell
}

func (c Cell) String() string {
	if c.Line == 0 {
		return "no cell (deny)"
	}
	access := "deny"
	if c.Allow {
		access = "allow"
	}
	return fmt.Sprintf("%s × %s → %s (line %d)", c.Profession, c.Document, access, c.Line)
}

type cellKey struct{ profession, document string }

// The lines before the cells: the version line, then the header.
const (
	versionField = "version"
	wildcard     = "*"
	kindPrefix   = "kind:"
	classPrefix  = "class:"
	typePrefix   = "type:"
	maxVersion   = 64
)

var matrixColumns = []string{"profession", "document", "access", "note"}

//go:embed data/matrix-v1.tsv
var defaultMatrixTSV []byte

var defaultMatrix = sync.OnceValues(func() (*Matrix, error) {
	cat, err := terminology.Default()
	if err != nil {
		return nil, err
	}
	return parseMatrix(bytes.NewReader(defaultMatrixTSV), cat)
})

// DefaultMatrix returns carnet's shipped matrix, our default. An error means the embedded file
// is broken, a bug of ours that the tests catch.
func DefaultMatrix() (*Matrix, error) {
	m, err := defaultMatrix()
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "load the default habilitation matrix")
	}
	return m, nil
}

// ParseMatrix reads a matrix in the format of data/matrix-v1.tsv (an operator's edited copy),
// checking every code against the terminology. Errors are errs.Invalid and name the line.
func ParseMatrix(r io.Reader) (*Matrix, error) {
	cat, err := terminology.Default()
	if err != nil {
		return nil, err
	}
	return parseMatrix(r, cat)
}

func parseMatrix(r io.Reader, cat *terminology.Catalog) (*Matrix, error) {
	m := &Matrix{index: map[cellKey]int{}, cat: cat}
	sc := bufio.NewScanner(r)
	bad := func(n int, format string, args ...any) error {
		return errs.E(errs.Invalid, "habilitation matrix line %d: %s", n, fmt.Sprintf(format, args...))
	}
	var header bool
	n := 0
	for sc.Scan() {
		n++
		// Tolerate a CRLF copy of the file (edited on Windows).
		line := strings.TrimSuffix(sc.Text(), "\r")
		if !utf8.ValidString(line) {
			return nil, bad(n, "not UTF-8")
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		switch {
		case m.version == "":
			if len(fields) != 2 || fields[0] != versionField {
				return nil, bad(n, "want the version line first: %q, a tab, the version", versionField)
			}
			if err := checkVersion(fields[1]); err != nil {
				return nil, bad(n, "%v", err)
			}
			m.version = fields[1]
			continue
		case !header:
			if strings.Join(fields, "\t") != strings.Join(matrixColumns, "\t") {
				return nil, bad(n, "header %q, want %q", fields, matrixColumns)
			}
			header = true
			continue
		}
		// The note may be left out (a trailing tab is easy to lose in an editor).
		if len(fields) == len(matrixColumns)-1 {
			fields = append(fields, "")
		}
		if len(fields) != len(matrixColumns) {
			return nil, bad(n, "%d fields, want %d (%s)", len(fields), len(matrixColumns), strings.Join(matrixColumns, ", "))
		}
		c := Cell{Profession: fields[0], Document: fields[1], Note: strings.TrimSpace(fields[3]), Line: n}
		switch fields[2] {
		case "allow":
			c.Allow = true
		case "deny":
		default:
			return nil, bad(n, "access %q, want allow or deny", fields[2])
		}
		if err := m.checkProfession(c); err != nil {
			return nil, bad(n, "%v", err)
		}
		if err := m.checkDocument(c.Document); err != nil {
			return nil, bad(n, "%v", err)
		}
		k := cellKey{c.Profession, c.Document}
		if i, dup := m.index[k]; dup {
			return nil, bad(n, "%s × %s already on line %d", c.Profession, c.Document, m.cells[i].Line)
		}
		m.index[k] = len(m.cells)
		m.cells = append(m.cells, c)
	}
	if err := sc.Err(); err != nil {
		return nil, bad(n+1, "%v", err)
	}
	if m.version == "" || !header {
		return nil, errs.E(errs.Invalid, "habilitation matrix: no version line or no header")
	}
	m.digest = m.computeDigest()
	return m, nil
}

// checkVersion keeps versions short and free of spaces: they are written in every trace
// ("matrix=<version>") and read back by ReasonOf.
func checkVersion(v string) error {
	if v == "" || len(v) > maxVersion {
		return fmt.Errorf("version %q: 1 to %d characters", v, maxVersion)
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return fmt.Errorf("version %q: letters, digits, '.', '-' and '_' only", v)
		}
	}
	return nil
}

// checkProfession checks the profession column, and refuses to grant anything to authors that
// are no profession (kind other: the insurer's feed, devices, software): the terminology keeps
// them apart "so that no rule meant for professionals applies to them by accident".
func (m *Matrix) checkProfession(c Cell) error {
	var kind terminology.Kind
	switch {
	case c.Profession == wildcard:
		return nil
	case strings.HasPrefix(c.Profession, kindPrefix):
		kind = terminology.Kind(strings.TrimPrefix(c.Profession, kindPrefix))
		if !kind.Valid() {
			return fmt.Errorf("unknown kind %q (health, social or other)", kind)
		}
	default:
		p, err := m.cat.Profession(c.Profession)
		if err != nil {
			return fmt.Errorf("%s", errs.MessageOf(err))
		}
		kind = p.Kind
	}
	if kind == terminology.KindOther && c.Allow {
		return fmt.Errorf("%s is not a profession (kind other): it may be denied, not allowed", c.Profession)
	}
	return nil
}

func (m *Matrix) checkDocument(doc string) error {
	switch {
	case doc == wildcard:
		return nil
	case strings.HasPrefix(doc, classPrefix):
		_, err := m.cat.Class(strings.TrimPrefix(doc, classPrefix))
		if err != nil {
			return fmt.Errorf("%s", errs.MessageOf(err))
		}
		return nil
	case strings.HasPrefix(doc, typePrefix):
		_, err := m.cat.Type(strings.TrimPrefix(doc, typePrefix))
		if err != nil {
			return fmt.Errorf("%s", errs.MessageOf(err))
		}
		return nil
	}
	return fmt.Errorf("document %q: want class:<code>, type:<code> or *", doc)
}

// Version names the matrix, as its file declares it.
func (m *Matrix) Version() string { return m.version }

// Digest is the SHA-256 of the matrix's cells and version, in hex. Two files with the same
// version and different cells have different digests: the store keeps one digest per version
// so that a version name can never stand for two different matrices in the trail.
func (m *Matrix) Digest() string { return m.digest }

// Cells returns the cells in the order of the file.
func (m *Matrix) Cells() []Cell { return append([]Cell(nil), m.cells...) }

func (m *Matrix) computeDigest() string {
	h := sha256.New()
	writeField(h, "carnet-matrix-v1")
	writeField(h, m.version)
	for _, c := range m.cells {
		writeField(h, c.Profession)
		writeField(h, c.Document)
		if c.Allow {
			writeField(h, "allow")
		} else {
			writeField(h, "deny")
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeField writes s length-prefixed, so that no two different matrices hash alike.
func writeField(w io.Writer, s string) {
	fmt.Fprintf(w, "%d:%s", len(s), s)
}

// WriteTSV writes the matrix in the format ParseMatrix reads, for the operator to edit.
func (m *Matrix) WriteTSV(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# carnet habilitation matrix, exported. Change the version whenever a cell changes.\n")
	fmt.Fprintf(bw, "%s\t%s\n", versionField, m.version)
	fmt.Fprintf(bw, "%s\n", strings.Join(matrixColumns, "\t"))
	for _, c := range m.cells {
		access := "deny"
		if c.Allow {
			access = "allow"
		}
		fmt.Fprintf(bw, "%s\t%s\t%s\t%s\n", c.Profession, c.Document, access, c.Note)
	}
	return bw.Flush()
}

// Lookup returns the cell that applies to a professional of profession (and specialty, either
// may be empty but not both) reading a document of class and type. found is false when no cell
// applies, which means deny. An unknown profession or a specialty of another profession is
// errs.Invalid.
func (m *Matrix) Lookup(profession, specialty, class, typeCode string) (cell Cell, found bool, err error) {
	subjects, err := m.subjects(profession, specialty)
	if err != nil {
		return Cell{}, false, err
	}
	// Arrays on the stack: a search decides once per hit.
	var buf [3]string
	docs := buf[:0]
	if typeCode != "" {
		docs = append(docs, typePrefix+typeCode)
	}
	if class != "" {
		docs = append(docs, classPrefix+class)
	}
	docs = append(docs, wildcard)
	for _, s := range subjects {
		for _, doc := range docs {
			if i, ok := m.index[cellKey{s, doc}]; ok {
				return m.cells[i], true, nil
			}
		}
	}
	return Cell{}, false, nil
}

// subjects returns the profession keys of a professional, most specific first: specialty,
// profession, kind, *.
func (m *Matrix) subjects(profession, specialty string) ([]string, error) {
	p, err := m.profession(profession, specialty)
	if err != nil {
		return nil, err
	}
	s := make([]string, 0, 4)
	if p.Code != p.Profession {
		s = append(s, p.Code) // a specialty; or, of kind other, the code is all there is
	}
	if p.Profession != "" {
		s = append(s, p.Profession)
	}
	return append(s, kindPrefix+string(p.Kind), wildcard), nil
}

// profession resolves a professional's profession and specialty codes to the profession entry
// (the specialty's, when given), checking that they agree.
func (m *Matrix) profession(profession, specialty string) (terminology.Profession, error) {
	if profession == "" && specialty == "" {
		return terminology.Profession{}, errs.E(errs.Invalid, "no profession")
	}
	var prof, spec terminology.Profession
	var err error
	if profession != "" {
		if prof, err = m.cat.Profession(profession); err != nil {
			return terminology.Profession{}, err
		}
	}
	if specialty == "" {
		return prof, nil
	}
	if spec, err = m.cat.Profession(specialty); err != nil {
		return terminology.Profession{}, err
	}
	if profession != "" && spec.Profession != prof.Profession {
		return terminology.Profession{}, errs.E(errs.Invalid, "specialty %q is not one of profession %q", specialty, profession)
	}
	return spec, nil
}

// isDoctor reports whether the codes name a doctor (G15_10 and its specialties): the regulating
// doctor of CSP L1111-17 I al. 2 is a doctor ("le médecin régulateur").
func (m *Matrix) isDoctor(profession, specialty string) bool {
	p, err := m.profession(profession, specialty)
	return err == nil && p.Profession == "G15_10"
}
