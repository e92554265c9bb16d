package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record"
)

// Limits bound what an import reads, whatever the zip's headers claim.
type Limits struct {
	MaxFiles    int   // entries in the zip
	MaxFile     int64 // bytes of one file, uncompressed
	MaxTotal    int64 // bytes of all files, uncompressed
	MaxMetadata int64 // bytes of record.json / manifest.json
	MaxMessage  int64 // bytes of one message of the mailbox
	// BatchBytes bounds the documents' bytes held in memory at once (one record.Import call).
	BatchBytes int64
}

// DefaultLimits suit a lifetime's record: 100,000 files, 4 GiB in all, documents of the
// record's own largest size, messages of the mail's default largest (20 MB).
func DefaultLimits(maxDocument int64) Limits {
	return Limits{MaxFiles: 100_000, MaxFile: maxDocument, MaxTotal: 4 << 30, MaxMetadata: 256 << 20, MaxMessage: 20 << 20,
		BatchBytes: 64 << 20}
}

// ImportReport says what an import did.
type ImportReport struct {
	Format   string // "carnet-export" or "ihe-xdm"
	Imported int
	Present  int // already in the record (an import run twice imports nothing twice)
	// Left: the documents a professional or the insurer deposited, and the profile items a
	// professional wrote, which the holder's own import leaves out (record.ImportReport.Left).
	Left, ProfileLeft int
	// Agenda events filed, already there, and refused (the requester may not file events of
	// that category: a patient does not file the insurer's reimbursements).
	EventsImported, EventsPresent, EventsRefused int
	// Profile items filed, already there, and left out because the space already has its
	// own (its blood group, its trusted person).
	ProfileImported, ProfilePresent, ProfileKept int
	// Messages filed into the mailbox, and already there.
	MailImported, MailPresent int
	// Access settings: what was added (a professional blocked, in the care team…), kept as
	// the space has it, and left for the patient to bring back (the grants, when an operator
	// imports); SettingsDone when they were imported into this space before.
	SettingsAdded, SettingsKept, SettingsLeft int
	SettingsDone                              bool
}

// Import brings a former record into the patient's space: a carnet archive (Export's) or an
// IHE XDM package. The archive must be this patient's (its INS), its files must match the
// manifest. Documents go to record.Import, the agenda's events to agenda.Add, the profile's
// items to profile.Import and the messages to the mailbox (Deps.Mail), in batches, each
// decided (access.ActionImport) and traced; a batch goes in whole or not at all, and what
// was imported before is found present, so an interrupted import run again ends in the same
// state.
func (s *Service) Import(ctx context.Context, req record.Request, patientID int64, r io.ReaderAt, size int64, lim Limits) (ImportReport, error) {
	if n, err := zipEntries(r, size); err != nil {
		return ImportReport{}, err
	} else if n > uint64(lim.MaxFiles) {
		return ImportReport{}, errs.E(errs.Invalid, "the archive holds %d files, more than %d", n, lim.MaxFiles)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return ImportReport{}, errs.E(errs.Invalid, "the file is not a zip archive: %v", err)
	}
	if len(zr.File) > lim.MaxFiles {
		return ImportReport{}, errs.E(errs.Invalid, "the archive holds %d files, more than %d", len(zr.File), lim.MaxFiles)
	}
	files := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		files[f.Name] = f
	}
	if _, ok := files["manifest.json"]; ok {
		return s.importCarnet(ctx, req, patientID, files, lim)
	}
	return s.importXDM(ctx, req, patientID, r, size, lim)
}

// importCarnet imports an archive written by Export.
func (s *Service) importCarnet(ctx context.Context, req record.Request, patientID int64, files map[string]*zip.File, lim Limits) (ImportReport, error) {
	rep := ImportReport{Format: Format}
	var total int64
	read := func(name string, max int64) ([]byte, error) {
		f, ok := files[name]
		if !ok {
			return nil, errs.E(errs.Invalid, "the archive has no %s", name)
		}
		b, err := readBounded(f, max)
		total += int64(len(b))
		if err == nil && total > lim.MaxTotal {
			err = errs.E(errs.Invalid, "the archive is larger than %d bytes uncompressed", lim.MaxTotal)
		}
		return b, err
	}
	raw, err := read("manifest.json", lim.MaxMetadata)
	if err != nil {
		return rep, err
	}
	// The lists are read an entry at a time, each bounded: a small file of many empty
	// entries must not make the import hold far more than its bytes.
	var head struct {
		Manifest
		Files json.RawMessage `json:"files"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return rep, errs.E(errs.Invalid, "manifest.json is not valid: %v", err)
	}
	m := head.Manifest
	if m.Files, err = decodeList[File](head.Files, "manifest.json", len(files)); err != nil {
		return rep, err
	}
	if m.Format != Format || m.Version < 1 || m.Version > Version {
		return rep, errs.E(errs.Invalid, "the archive is %q version %d, not %s version 1 to %d", m.Format, m.Version, Format, Version)
	}
	p, _, err := s.d.Spaces.Get(ctx, patientID)
	if err != nil {
		return rep, err
	}
	if m.INS != p.INS.Matricule {
		return rep, errs.E(errs.Invalid, "the archive is another person's record (its INS is not this space's)")
	}
	sums := make(map[string]File, len(m.Files))
	for _, f := range m.Files {
		sums[f.Path] = f
	}
	checked := func(name string, b []byte) error {
		f, ok := sums[name]
		if !ok {
			return errs.E(errs.Invalid, "%s is not in the manifest", name)
		}
		sum := sha256.Sum256(b)
		if int64(len(b)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
			return errs.E(errs.Invalid, "%s does not match the manifest: the archive is damaged", name)
		}
		return nil
	}
	raw, err = read("record.json", lim.MaxMetadata)
	if err == nil {
		err = checked("record.json", raw)
	}
	if err != nil {
		return rep, err
	}
	var rawRecord struct {
		Documents json.RawMessage `json:"documents"`
	}
	if err := json.Unmarshal(raw, &rawRecord); err != nil {
		return rep, errs.E(errs.Invalid, "record.json is not valid: %v", err)
	}
	var rf recordFile
	if rf.Documents, err = decodeList[exportedDoc](rawRecord.Documents, "record.json", len(files)); err != nil {
		return rep, err
	}
	// Oldest first: a deprecated version goes in before the one that replaced it.
	items := make([]record.ImportItem, 0, record.MaxItems)
	var held int64
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		r, err := s.d.Records.Import(ctx, req, patientID, items)
		if err != nil {
			return err
		}
		rep.Imported += r.Imported
		rep.Present += r.Present
		rep.Left += r.Left
		items, held = items[:0], 0
		return nil
	}
	for i := len(rf.Documents) - 1; i >= 0; i-- {
		ed := rf.Documents[i]
		name := path.Clean(ed.Path)
		if !strings.HasPrefix(name, "documents/") || strings.Contains(name, "..") {
			return rep, errs.E(errs.Invalid, "record.json names a file outside documents/: %q", ed.Path)
		}
		b, err := read(name, lim.MaxFile)
		if err == nil {
			err = checked(name, b)
		}
		if err != nil {
			return rep, err
		}
		if held+int64(len(b)) > lim.BatchBytes || len(items) == record.MaxItems {
			if err := flush(); err != nil {
				return rep, err
			}
		}
		items = append(items, record.ImportItem{Document: ed.Document, Content: b})
		held += int64(len(b))
	}
	if err := flush(); err != nil {
		return rep, err
	}
	// The agenda and the profile, when the archive has them (an older one may not) and this
	// carnet keeps them.
	optional := func(name string, keeps bool, decode func(raw []byte) error) (bool, error) {
		if _, ok := files[name]; !ok || !keeps {
			return false, nil
		}
		raw, err := read(name, lim.MaxMetadata)
		if err == nil {
			err = checked(name, raw)
		}
		if err == nil {
			err = decode(raw)
		}
		return err == nil, err
	}
	var events []exportedEvent
	if ok, err := optional("agenda.json", s.d.Agenda != nil, listOf(&events, "agenda.json", maxListed)); err != nil {
		return rep, err
	} else if ok {
		if err := s.importEvents(ctx, req, patientID, events, &rep); err != nil {
			return rep, err
		}
	}
	var profileItems []profile.Item
	if ok, err := optional("profile.json", s.d.Profile != nil, listOf(&profileItems, "profile.json", maxListed)); err != nil {
		return rep, err
	} else if ok {
		if err := s.importProfile(ctx, req, patientID, profileItems, &rep); err != nil {
			return rep, err
		}
	}
	var settings access.Settings
	if ok, err := optional("access.json", s.d.Access != nil, func(raw []byte) error { return decodeSettings(raw, &settings) }); err != nil {
		return rep, err
	} else if ok {
		r, err := s.d.Access.ImportSettings(ctx, req.Actor, req.Channel, patientID, settings)
		if err != nil {
			return rep, fmt.Errorf("import the access settings: %w", err)
		}
		rep.SettingsAdded, rep.SettingsKept, rep.SettingsLeft, rep.SettingsDone = r.Added, r.Kept, r.Left, r.Done
	}
	var msgs []exportedMessage
	if ok, err := optional("mail.json", s.d.Mail != nil, listOf(&msgs, "mail.json", len(files))); err != nil || !ok {
		return rep, err
	}
	return rep, s.importMail(ctx, req, patientID, msgs, &rep, func(name string) ([]byte, error) {
		b, err := read(name, lim.MaxMessage)
		if err == nil {
			err = checked(name, b)
		}
		return b, err
	}, lim)
}

// importMail files the mailbox's messages, oldest first as mail.json lists them, in batches of
// at most lim.BatchBytes.
func (s *Service) importMail(ctx context.Context, req record.Request, patientID int64, msgs []exportedMessage, rep *ImportReport,
	read func(name string) ([]byte, error), lim Limits) error {
	var (
		batch []mail.ImportedMessage
		held  int64
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		r, err := s.d.Mail.Import(ctx, req.Actor, req.Channel, patientID, batch)
		if err != nil {
			return fmt.Errorf("import the mailbox: %w", err)
		}
		rep.MailImported += r.Imported
		rep.MailPresent += r.Present
		batch, held = batch[:0], 0
		return nil
	}
	for _, m := range msgs {
		name := path.Clean(m.Path)
		if !strings.HasPrefix(name, "mail/") || strings.Contains(name, "..") {
			return errs.E(errs.Invalid, "mail.json names a file outside mail/: %q", m.Path)
		}
		b, err := read(name)
		if err != nil {
			return err
		}
		if held+int64(len(b)) > lim.BatchBytes || len(batch) == maxMailBatch {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, mail.ImportedMessage{Folder: m.Folder, Seen: m.Seen, At: m.At, Data: b})
		held += int64(len(b))
	}
	return flush()
}

// maxMailBatch bounds the messages of one mail.Portal.Import call: one transaction.
const maxMailBatch = 1000

// importProfile files the profile's items, oldest first, in batches of profile.MaxImport.
func (s *Service) importProfile(ctx context.Context, req record.Request, patientID int64, items []profile.Item, rep *ImportReport) error {
	slices.Reverse(items) // profile.json is newest first
	pr := profile.Request{Actor: req.Actor, Channel: req.Channel}
	for len(items) > 0 {
		n := min(len(items), profile.MaxImport)
		r, err := s.d.Profile.Import(ctx, pr, patientID, items[:n])
		if err != nil {
			return fmt.Errorf("import the profile: %w", err)
		}
		rep.ProfileImported += r.Imported
		rep.ProfilePresent += r.Present
		rep.ProfileKept += r.Kept
		rep.ProfileLeft += r.Left
		items = items[n:]
	}
	return nil
}

// importEvents files the agenda's events by source and category, as their source would.
func (s *Service) importEvents(ctx context.Context, req record.Request, patientID int64, events []exportedEvent, rep *ImportReport) error {
	type group struct{ source, class, typ string }
	batches := map[group][]agenda.Event{}
	var order []group
	for _, e := range events {
		g := group{e.Source, e.Class, e.Type}
		if _, ok := batches[g]; !ok {
			order = append(order, g)
		}
		batches[g] = append(batches[g], agenda.Event{Kind: e.Kind, Start: e.Start, End: e.End, Title: e.Title, Detail: e.Detail,
			SourceRef: e.SourceRef, Document: e.Document, Payload: e.Payload})
	}
	ar := agenda.Request{Actor: req.Actor, Channel: req.Channel}
	for _, g := range order {
		evs := batches[g]
		for len(evs) > 0 {
			n := min(len(evs), agenda.MaxBatch)
			added, err := s.d.Agenda.Add(ctx, ar, patientID, agenda.Batch{Source: g.source, Class: g.class, Type: g.typ, Events: evs[:n]})
			switch {
			case errs.Is(err, errs.Forbidden):
				rep.EventsRefused += len(evs)
				evs = nil
				continue
			case err != nil:
				return err
			}
			rep.EventsImported += added.Created
			rep.EventsPresent += added.Existed
			evs = evs[n:]
		}
	}
	return nil
}

// readBounded reads a zip entry whole, at most max bytes, whatever its header says.
func readBounded(f *zip.File, max int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(max) {
		return nil, errs.E(errs.Invalid, "%s is larger than %d bytes", f.Name, max)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, errs.E(errs.Invalid, "%s cannot be read: %v", f.Name, err)
	}
	defer rc.Close()
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(rc, max+1))
	if err != nil {
		return nil, errs.E(errs.Invalid, "%s cannot be read: %v", f.Name, err)
	}
	if n > max {
		return nil, errs.E(errs.Invalid, "%s is larger than %d bytes", f.Name, max)
	}
	return b.Bytes(), nil
}

// maxListed bounds the entries of the agenda's and the profile's lists in one archive: far
// more than a lifetime's.
const maxListed = 200_000

// maxSettings bounds each list of the access settings.
const maxSettings = 10_000

// decodeList reads raw, a JSON list (or null), an entry at a time, refusing one of more than
// max entries before it holds them: the entries' memory is bounded by max, not by how many
// tiny entries a file of its size can state.
func decodeList[T any](raw []byte, name string, max int) ([]T, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, errs.E(errs.Invalid, "%s is not valid: a list is expected", name)
	}
	var out []T
	for dec.More() {
		if len(out) >= max {
			return nil, errs.E(errs.Invalid, "%s lists more than %d entries", name, max)
		}
		var v T
		if err := dec.Decode(&v); err != nil {
			return nil, errs.E(errs.Invalid, "%s is not valid: %v", name, err)
		}
		out = append(out, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, errs.E(errs.Invalid, "%s is not valid: %v", name, err)
	}
	return out, nil
}

// listOf decodes into dst a list of at most max entries (decodeList).
func listOf[T any](dst *[]T, name string, max int) func([]byte) error {
	return func(raw []byte) (err error) {
		*dst, err = decodeList[T](raw, name, max)
		return err
	}
}

// decodeSettings reads access.json, each of its lists bounded.
func decodeSettings(raw []byte, st *access.Settings) error {
	var v struct {
		Oppositions                                          access.Oppositions
		MedecinsTraitants, Blocked, CareTeam, Authorisations json.RawMessage
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return errs.E(errs.Invalid, "access.json is not valid: %v", err)
	}
	var err error
	st.Oppositions = v.Oppositions
	if st.MedecinsTraitants, err = decodeList[access.Member](v.MedecinsTraitants, "access.json", maxSettings); err != nil {
		return err
	}
	if st.Blocked, err = decodeList[access.Member](v.Blocked, "access.json", maxSettings); err != nil {
		return err
	}
	if st.CareTeam, err = decodeList[access.CareTeamMember](v.CareTeam, "access.json", maxSettings); err != nil {
		return err
	}
	st.Authorisations, err = decodeList[access.AuthorisationRecord](v.Authorisations, "access.json", maxSettings)
	return err
}

// zipEntries reads how many entries a zip file's end of central directory states (its
// zip64 record's, when it has one), before the central directory itself is read: an archive
// of millions of empty entries is refused for its count, not parsed into memory first.
func zipEntries(r io.ReaderAt, size int64) (uint64, error) {
	const eocdLen, maxComment = 22, 65535
	n := min(size, eocdLen+maxComment)
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, size-n); err != nil && err != io.EOF {
		return 0, err
	}
	i := bytes.LastIndex(buf, []byte("PK\x05\x06"))
	if i < 0 || len(buf)-i < eocdLen {
		return 0, errs.E(errs.Invalid, "the file is not a zip archive: no end of central directory")
	}
	count := uint64(binary.LittleEndian.Uint16(buf[i+10:]))
	if count != 0xffff {
		return count, nil
	}
	// zip64: the locator just before the record gives the zip64 record's offset.
	loc := size - n + int64(i) - 20
	if loc < 0 {
		return 0, errs.E(errs.Invalid, "the file is not a zip archive: a damaged zip64 locator")
	}
	var l [20]byte
	if _, err := r.ReadAt(l[:], loc); err != nil || string(l[:4]) != "PK\x06\x07" {
		return count, nil // no zip64 record: 65,535 entries
	}
	off := int64(binary.LittleEndian.Uint64(l[8:]))
	var rec [40]byte
	if off < 0 || off > size-40 {
		return 0, errs.E(errs.Invalid, "the file is not a zip archive: a damaged zip64 record")
	}
	if _, err := r.ReadAt(rec[:], off); err != nil || string(rec[:4]) != "PK\x06\x06" {
		return 0, errs.E(errs.Invalid, "the file is not a zip archive: a damaged zip64 record")
	}
	return binary.LittleEndian.Uint64(rec[32:]), nil
}
