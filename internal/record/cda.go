package record

import (
	"bytes"

	"github.com/carnet-sante/carnet/internal/cda"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// checkCDA parses an HL7 CDA R2 document and checks it against its deposit (issue 4): the
// patient of recordTarget must be the deposit's, the document's code its typeCode. It returns
// the CDA level (1 or 3); 0 for a document that is not XML.
func checkCDA(mime string, content []byte, ins identity.INS, typeCode string, max int64) (int, error) {
	if !IsCDAMime(mime) {
		return 0, nil
	}
	d, err := cda.Parse(bytes.NewReader(content), max)
	if err != nil {
		return 0, errs.Wrap(errs.Invalid, err, "the document is not a valid HL7 CDA R2 document: %s", errs.MessageOf(err))
	}
	if err := d.Check(ins, typeCode); err != nil {
		return 0, err
	}
	return d.Level, nil
}

// ParseCDA reads a stored CDA document, for display.
func ParseCDA(content []byte) (*cda.Document, error) {
	return cda.Parse(bytes.NewReader(content), int64(len(content))+1)
}
