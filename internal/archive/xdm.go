package archive

import (
	"context"
	"io"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
)

// importXDM imports an IHE XDM package.
func (s *Service) importXDM(ctx context.Context, req record.Request, patientID int64, r io.ReaderAt, size int64, lim Limits) (ImportReport, error) {
	return ImportReport{}, errs.E(errs.Invalid, "the archive has no manifest.json: it is not a carnet archive")
}
