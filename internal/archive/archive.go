// Package archive takes a patient's whole space away as one zip file, and brings a former
// record into a space (issue 10; CSP L1111-7, RGPD art. 20 — the right to one's data in a
// form one can keep and take elsewhere).
//
// An archive holds, in this order:
//
//	index.html          a page in French listing everything, readable without any software
//	bundle.json         a FHIR R4 Bundle (collection): the Patient, a DocumentReference per
//	                    document (its attachment URL is the document's file), the medical
//	                    profile's resources (AllergyIntolerance, Condition, Observation…), an
//	                    AuditEvent per trace
//	record.json         carnet's own metadata of each document, exactly as the record keeps it,
//	                    for a re-import that loses nothing
//	traces.json         the trail of every access to the space, as the holder reads it
//	agenda.json         the agenda's events (reimbursements, appointments…), when carnet keeps one
//	profile.json        the medical profile's items (history, treatments, allergies, measurements…),
//	                    as the profile keeps them, newest first
//	mail.json           the secure health mailbox's messages (received and sent), oldest first:
//	                    folder, date, correspondent, subject, and the path of each one's bytes
//	mail/<n>.eml        the original bytes of each message (RFC 5322), attachments included
//	access.json         the access settings: médecins traitants, care team, blocked
//	                    professionals, authorisations, oppositions to emergency access
//	emergency.json      the emergency card's settings, in the holder's own export: on or off,
//	                    the sections and items it shows (never its link's token, kept only as
//	                    a hash); not brought back by an import, since a card in a new space
//	                    needs a new link the patient turns on
//	documents/<id>.<ext> the original bytes of each document
//	manifest.json       the format, and the size and SHA-256 of every file above (last: a
//	                    truncated archive has none)
//
// Every read goes through the services that decide and trace it (record.Export,
// trail.List, agenda.List, profile.List, mail.Portal.Export, access.ExportSettings); the
// archive package reads nothing of its own. The
// import reads a carnet archive, or an IHE XDM package (internal/xdm), and hands the
// documents to record.Import, the events to agenda.Add and the profile's items to
// profile.Import, each of which decides (access.ActionImport for the record and the profile)
// and traces what it files. The trail is not replayed: the new space's trail says what
// happened in it, the import first.
package archive

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/emergency"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/terminology"
	"github.com/carnet-sante/carnet/internal/trail"
)

// Format names carnet's archives in their manifest; Version is the layout written: 2 added
// the mailbox, the access settings and the emergency card to version 1 (documents, agenda,
// profile, trail). An import reads both; a carnet that reads only version 1 refuses a version
// 2 archive rather than import part of it and say nothing.
const (
	Format  = "carnet-export"
	Version = 2
)

// Spaces reads the identity of a space's holder: what the index page and the Patient resource
// show. It is no health data.
type Spaces interface {
	Get(ctx context.Context, patientID int64) (space.Patient, space.Space, error)
}

// Deps are what the service is built from.
type Deps struct {
	Records *record.Service
	Trail   *trail.Service
	Spaces  Spaces
	Catalog *terminology.Catalog
	Clock   clock.Clock
	// Agenda, when set, adds the patient's agenda (agenda.json) to exports and imports.
	Agenda *agenda.Service
	// Profile, when set, adds the medical profile (profile.json, its table in index.html, its
	// resources in bundle.json) to exports and imports.
	Profile *profile.Service
	// Mail, when set, adds the patient's mailbox (mail.json, mail/, its table in index.html)
	// to exports and imports.
	Mail Mailbox
	// Access, when set, adds the access settings (access.json, their table in index.html) to
	// exports and imports.
	Access *access.Service
	// Emergency, when set, adds the emergency card's settings (emergency.json) to the
	// holder's exports.
	Emergency Cards
}

// Cards reads a patient's emergency card (emergency.Service): the patient's own only.
type Cards interface {
	Get(ctx context.Context, by access.Actor, patientID int64) (emergency.Card, bool, error)
}

// exportedCard is emergency.json.
type exportedCard struct {
	On        bool                        `json:"on"`
	Sections  []profile.Section           `json:"sections"`
	Choices   map[string]emergency.Choice `json:"choices,omitempty"` // profile item id → hide or show
	IssuedAt  time.Time                   `json:"link_issued_at"`
	UpdatedAt time.Time                   `json:"updated_at"`
}

// Mailbox reads a patient's mailbox for an export, and files a former one's messages for an
// import (mail.Portal).
type Mailbox interface {
	Export(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64) (*mail.ExportedMail, error)
	Import(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64, msgs []mail.ImportedMessage) (mail.MailImport, error)
}

// Service exports and imports spaces.
type Service struct{ d Deps }

// NewService returns the service.
func NewService(d Deps) (*Service, error) {
	if d.Records == nil || d.Trail == nil || d.Spaces == nil || d.Catalog == nil || d.Clock == nil {
		return nil, errs.E(errs.Internal, "archive: records, trail, spaces, catalog and clock are required")
	}
	return &Service{d: d}, nil
}

// Manifest is the archive's table of contents.
type Manifest struct {
	Format     string    `json:"format"`
	Version    int       `json:"version"`
	ExportedAt time.Time `json:"exported_at"`
	// INS of the holder, so that an import into another person's space is refused.
	INS       string `json:"ins"`
	INSSystem string `json:"ins_system"`
	Documents int    `json:"documents"`
	Traces    int    `json:"traces"`
	Files     []File `json:"files"`
}

// File is one file of the archive.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// recordFile is record.json: the documents as the record keeps them.
type recordFile struct {
	Documents []exportedDoc `json:"documents"`
}

// exportedDoc is a document's metadata in record.json, with the path of its bytes.
type exportedDoc struct {
	Path     string          `json:"path"`
	Document record.Document `json:"document"`
}

// exportedEvent is an agenda event in agenda.json.
type exportedEvent struct {
	Kind      agenda.Kind `json:"kind"`
	Start     time.Time   `json:"start"`
	End       time.Time   `json:"end,omitzero"`
	Title     string      `json:"title"`
	Detail    string      `json:"detail,omitempty"`
	Class     string      `json:"class"`
	Type      string      `json:"type"`
	Source    string      `json:"source"`
	SourceRef string      `json:"source_ref"`
	Document  string      `json:"document,omitempty"`
	Payload   []byte      `json:"payload,omitempty"`
}

// content is what an export read, after its decisions.
type content struct {
	patient space.Patient
	state   space.State
	docs    *record.Exported
	trail   []trail.Item
	events  []agenda.Event
	profile []profile.Item
	mail    *mail.ExportedMail // nil when left out
	access  *access.Settings   // nil when left out
	card    *exportedCard      // nil when left out, or when the patient never had one
	at      time.Time
}

// exportedMessage is a message in mail.json.
type exportedMessage struct {
	Path          string    `json:"path"`
	Folder        string    `json:"folder"` // INBOX or Sent
	Incoming      bool      `json:"incoming"`
	Seen          bool      `json:"seen"`
	At            time.Time `json:"delivered_at"`
	Correspondent string    `json:"correspondent"`
	Subject       string    `json:"subject"`
	Attachments   bool      `json:"attachments"`
	MessageID     string    `json:"message_id,omitempty"`
	Unreadable    bool      `json:"unreadable,omitempty"` // its header could not be read: its bytes are still here
}

// messagePath is where the i-th message's bytes lie in the archive.
func messagePath(i int) string { return fmt.Sprintf("mail/%05d.eml", i+1) }

// read gathers the space through the deciding services: the documents (record.Export,
// access.ActionExport), the agenda, the profile, when whole the mailbox and the access
// settings (what the archive holds besides the FHIR Bundle), then the trail (trail.List,
// access.ActionReadTraces).
func (s *Service) read(ctx context.Context, req record.Request, patientID int64, whole bool) (content, error) {
	c := content{at: s.d.Clock.Now()}
	var err error
	if c.docs, err = s.d.Records.Export(ctx, req, patientID); err != nil {
		return content{}, err
	}
	p, sp, err := s.d.Spaces.Get(ctx, patientID)
	if err != nil {
		return content{}, err
	}
	c.patient, c.state = p, sp.State
	if s.d.Agenda != nil {
		if c.events, err = s.d.Agenda.List(ctx, agenda.Request{Actor: req.Actor, Channel: req.Channel}, patientID, time.Time{}, time.Time{}); err != nil {
			return content{}, fmt.Errorf("read the agenda: %w", err)
		}
	}
	if s.d.Profile != nil {
		pr := profile.Request{Actor: req.Actor, Channel: req.Channel}
		q := profile.Query{PatientID: patientID, Limit: profile.MaxLimit}
		for {
			page, err := s.d.Profile.List(ctx, pr, q)
			if err != nil {
				return content{}, fmt.Errorf("read the profile: %w", err)
			}
			c.profile = append(c.profile, page.Items...)
			if !page.More || len(page.Items) == 0 {
				break
			}
			last := page.Items[len(page.Items)-1]
			q.AfterAt, q.AfterID = last.At, last.ID
		}
	}
	if s.d.Mail != nil && whole {
		c.mail, err = s.d.Mail.Export(ctx, req.Actor, req.Channel, patientID)
		switch {
		case errs.Is(err, errs.Forbidden):
			// Not the actor's to read (an adult's correspondence, for their representative):
			// the refusal is traced, the rest of the space goes.
			c.mail = nil
		case err != nil:
			return content{}, fmt.Errorf("read the mailbox: %w", err)
		}
	}
	if s.d.Access != nil && whole {
		st, err := s.d.Access.ExportSettings(ctx, req.Actor, req.Channel, patientID)
		switch {
		case errs.Is(err, errs.Forbidden): // the refusal is traced; the rest goes
		case err != nil:
			return content{}, fmt.Errorf("read the access settings: %w", err)
		default:
			st.PatientID = 0 // this instance's own key
			c.access = &st
		}
	}
	if s.d.Emergency != nil && whole && req.Actor.Kind == audit.ActorPatient {
		card, ok, err := s.d.Emergency.Get(ctx, req.Actor, patientID)
		switch {
		case errs.Is(err, errs.Forbidden): // another's card: not theirs to take
		case err != nil:
			return content{}, fmt.Errorf("read the emergency card: %w", err)
		case ok:
			c.card = &exportedCard{On: card.On, Sections: card.Sections, Choices: card.Choices, IssuedAt: card.IssuedAt.UTC(),
				UpdatedAt: card.UpdatedAt.UTC()}
		}
	}
	f := trail.Filter{Limit: trail.MaxLimit}
	for {
		page, err := s.d.Trail.List(ctx, req.Actor, req.Channel, patientID, f)
		if err != nil {
			return content{}, fmt.Errorf("read the trail: %w", err)
		}
		c.trail = append(c.trail, page.Items...)
		if page.Next == 0 {
			return c, nil
		}
		f.Before = page.Next
	}
}

// Bundle returns the space as one FHIR Bundle, without the documents' bytes
// (Patient/$everything).
func (s *Service) Bundle(ctx context.Context, req record.Request, patientID int64) (r4.Bundle, error) {
	c, err := s.read(ctx, req, patientID, false) // the Bundle holds no message
	if err != nil {
		return r4.Bundle{}, err
	}
	return s.bundle(c, func(d *record.Document) string { return "Binary/" + d.LogicalID })
}

func (s *Service) bundle(c content, url func(d *record.Document) string) (r4.Bundle, error) {
	sc := fhir.SpaceContent{Patient: c.patient, State: c.state, Documents: c.docs.Documents, Profile: c.profile, Trail: c.trail, At: c.at}
	if s.d.Profile != nil {
		sc.Measures = s.d.Profile.Measures()
	}
	return fhir.EverythingBundle(sc, s.d.Catalog, url)
}

// documentPath is where a document's bytes lie in the archive.
func documentPath(d *record.Document) string {
	return "documents/" + d.LogicalID + extension(d.MimeType)
}

// extension returns the usual file extension of a media type.
func extension(mimeType string) string {
	switch strings.ToLower(mimeType) {
	case "application/pdf":
		return ".pdf"
	case "text/xml", "application/xml", "application/hl7-v3+xml":
		return ".xml"
	case "text/plain":
		return ".txt"
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	}
	if exts, _ := mime.ExtensionsByType(mimeType); len(exts) > 0 {
		return exts[0]
	}
	return ".bin"
}

// Export writes the patient's whole space to w as a zip archive, as the request's actor may
// take it (the holder; an operator on a legal request). The decisions and their traces come
// first: a refusal writes nothing.
func (s *Service) Export(ctx context.Context, req record.Request, patientID int64, w io.Writer) error {
	c, err := s.read(ctx, req, patientID, true)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	m := Manifest{Format: Format, Version: Version, ExportedAt: c.at.UTC(), INS: c.patient.INS.Matricule,
		INSSystem: string(c.patient.INS.System), Documents: len(c.docs.Documents), Traces: len(c.trail)}
	put := func(path string, modified time.Time, write func(io.Writer) error) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: path, Method: zip.Deflate, Modified: modified})
		if err != nil {
			return err
		}
		h := &hashingWriter{w: fw, h: sha256.New()}
		if err := write(h); err != nil {
			return fmt.Errorf("archive %s: %w", path, err)
		}
		m.Files = append(m.Files, File{Path: path, Size: h.n, SHA256: hex.EncodeToString(h.h.Sum(nil))})
		return nil
	}
	putJSON := func(path string, v any) error {
		return put(path, c.at, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		})
	}
	if err := put("index.html", c.at, func(w io.Writer) error { return writeIndex(w, c, s.d.Catalog) }); err != nil {
		return err
	}
	b, err := s.bundle(c, documentPath)
	if err != nil {
		return err
	}
	if err := putJSON("bundle.json", b); err != nil {
		return err
	}
	rf := recordFile{Documents: make([]exportedDoc, len(c.docs.Documents))}
	for i, d := range c.docs.Documents {
		d.BlobID, d.PatientID = "", 0 // this instance's own keys: meaningless elsewhere
		rf.Documents[i] = exportedDoc{Path: documentPath(&d), Document: d}
	}
	if err := putJSON("record.json", rf); err != nil {
		return err
	}
	if err := putJSON("traces.json", c.trail); err != nil {
		return err
	}
	if s.d.Agenda != nil {
		events := make([]exportedEvent, len(c.events))
		for i, e := range c.events {
			events[i] = exportedEvent{Kind: e.Kind, Start: e.Start, End: e.End, Title: e.Title, Detail: e.Detail, Class: e.Class,
				Type: e.Type, Source: e.Source, SourceRef: e.SourceRef, Document: e.Document, Payload: e.Payload}
		}
		if err := putJSON("agenda.json", events); err != nil {
			return err
		}
	}
	if s.d.Profile != nil {
		items := make([]profile.Item, len(c.profile))
		for i, it := range c.profile {
			it.PatientID = 0 // this instance's own key: meaningless elsewhere
			items[i] = it
		}
		if err := putJSON("profile.json", items); err != nil {
			return err
		}
	}
	if c.access != nil {
		if err := putJSON("access.json", c.access); err != nil {
			return err
		}
	}
	if c.card != nil {
		if err := putJSON("emergency.json", c.card); err != nil {
			return err
		}
	}
	if c.mail != nil {
		msgs := make([]exportedMessage, len(c.mail.Messages))
		for i, m := range c.mail.Messages {
			msgs[i] = exportedMessage{Path: messagePath(i), Folder: m.Folder, Incoming: m.Incoming, Seen: m.Seen, At: m.At.UTC(),
				Correspondent: m.Correspondent, Subject: m.Subject, Attachments: m.Attachments, MessageID: m.MessageID, Unreadable: m.Unreadable}
		}
		if err := putJSON("mail.json", msgs); err != nil {
			return err
		}
	}
	for i := range c.docs.Documents {
		d := &c.docs.Documents[i]
		if err := put(documentPath(d), d.Created, copied(func() (io.ReadCloser, error) { return c.docs.Open(ctx, i) })); err != nil {
			return err
		}
	}
	if c.mail != nil {
		for i, m := range c.mail.Messages {
			if err := put(messagePath(i), m.At, copied(func() (io.ReadCloser, error) { return c.mail.Open(ctx, i) })); err != nil {
				return err
			}
		}
	}
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: "manifest.json", Method: zip.Deflate, Modified: c.at})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(fw)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return err
	}
	return zw.Close()
}

// copied writes what open reads. The readers check the blobs' hashes: a corrupted blob is an
// error, and the export fails.
func copied(open func() (io.ReadCloser, error)) func(io.Writer) error {
	return func(w io.Writer) error {
		rc, err := open()
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(w, rc)
		return err
	}
}

// hashingWriter counts and hashes what goes through it.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}
