package archive

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/xdm"
)

// FormatXDM names an IHE XDM package in an import's report.
const FormatXDM = "ihe-xdm"

// importXDM imports the documents of an IHE XDM package (IHE ITI TF-1 §16): the media a
// former record or a professional's software gives a person. Every document must be this
// patient's (the INS of its patientId); the record checks each as it checks a deposit.
func (s *Service) importXDM(ctx context.Context, req record.Request, patientID int64, r io.ReaderAt, size int64, lim Limits) (ImportReport, error) {
	xl := xdm.DefaultLimits()
	xl.MaxEntries = min(xl.MaxEntries, lim.MaxFiles)
	xl.MaxEntry = min(xl.MaxEntry, lim.MaxFile)
	pkg, err := xdm.Read(r, size, xl)
	if err != nil {
		return ImportReport{}, errs.Wrap(errs.Invalid, err, "the archive is neither a carnet export (no manifest.json) nor a valid IHE XDM package: %s", errs.MessageOf(err))
	}
	p, _, err := s.d.Spaces.Get(ctx, patientID)
	if err != nil {
		return ImportReport{}, err
	}
	rep := ImportReport{Format: FormatXDM}
	items := make([]record.ImportItem, 0, len(pkg.Documents))
	for i, d := range pkg.Documents {
		if d.INS.Matricule != p.INS.Matricule {
			return rep, errs.E(errs.Invalid, "document %d of the package is another person's (its patientId is not this space's INS)", i+1)
		}
		items = append(items, record.ImportItem{Document: record.Imported(d.Deposit(), submissionOf(pkg, d)), Content: d.Content})
	}
	for len(items) > 0 {
		n := min(len(items), record.MaxItems)
		r, err := s.d.Records.Import(ctx, req, patientID, items[:n])
		if err != nil {
			return rep, err
		}
		rep.Imported += r.Imported
		rep.Present += r.Present
		rep.Left += r.Left
		items = items[n:]
	}
	return rep, nil
}

// submissionOf returns when the submission set holding d was made.
func submissionOf(pkg *xdm.Package, d xdm.Document) time.Time {
	for _, sub := range append([]xdm.Submission{pkg.Submission}, pkg.Others...) {
		if strings.HasPrefix(d.Path, "IHE_XDM/"+sub.Subset+"/") {
			return sub.Submitted
		}
	}
	return pkg.Submission.Submitted
}
