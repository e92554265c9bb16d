package mail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
)

// The portal's side of the messaging: the patient reads the messages of their mailbox in
// their space, answers the professionals who wrote to them, downloads an attachment or files
// it into their record; a professional writes to a patient from the web pages. Every read of
// a patient's mailbox is decided by internal/access (ActionReadMail: the patient, the legal
// representative of a minor, never a professional) and traced on the patient's chain. What
// is sent goes through the same acceptance as SMTP submission (CheckSender, CheckRecipient,
// Accept): the same rules, the same refusals, the same storage and delivery.

// PortalTx is what the portal needs of a store transaction, on top of Tx.
type PortalTx interface {
	Tx
	access.SettingsReader // what a decision reads, so that one is taken in the transaction it governs
	// PatientMailbox returns the patient's mailbox; NotFound when none was made yet.
	PatientMailbox(ctx context.Context, patientID int64) (Mailbox, error)
	// ProfessionalMailbox returns the professional's PER mailbox; NotFound when none.
	ProfessionalMailbox(ctx context.Context, professionalID int64) (Mailbox, error)
	// MailboxItems lists a mailbox's INBOX and Sent, newest first, at most limit.
	MailboxItems(ctx context.Context, mailboxID int64, limit int) ([]Item, error)
	// MailboxItem returns a delivery by id with the patient of its mailbox (0 for a
	// professional's mailbox); NotFound when none.
	MailboxItem(ctx context.Context, id int64) (Item, error)
	// MarkSeen sets \Seen on deliveries of the mailbox.
	MarkSeen(ctx context.Context, mailboxID int64, ids []int64) error
	// UnreadCount counts the patient's INBOX messages without \Seen, from the flags alone.
	UnreadCount(ctx context.Context, patientID int64) (int, error)
	Patient(ctx context.Context, id int64) (space.Patient, error)
}

// PortalStore opens the portal's transactions.
type PortalStore interface {
	UpdatePortal(ctx context.Context, fn func(PortalTx) error) error
	ViewPortal(ctx context.Context, fn func(PortalTx) error) error
}

// Item is a message filed in a mailbox's folder.
type Item struct {
	ID          int64
	MailboxID   int64
	PatientID   int64 // the mailbox's patient, for a patient mailbox
	Folder      string
	Seen        bool
	DeliveredAt time.Time
	Message     StoredMessage
}

// Decider takes the access decisions and commits their traces (access.Service).
type Decider interface {
	Decide(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64, action access.Action,
		target access.Target, bg *access.BreakGlass) (access.Decision, error)
	// DecideTx decides in the caller's transaction, and appends the trace to it.
	DecideTx(ctx context.Context, tx access.DecisionTx, actor access.Actor, ch audit.Channel, patientID int64,
		action access.Action, target access.Target, bg *access.BreakGlass) (access.Decision, error)
}

// Depositor deposits a document into a record (record.Service).
type Depositor interface {
	Deposit(ctx context.Context, r record.Request, dep record.Deposit, content []byte) (record.Document, error)
}

// Portal serves the patient's messages and the professionals' web writing.
type Portal struct {
	mail    *Service
	store   PortalStore
	access  Decider
	records Depositor
	// MaxAttachments bounds the files of one message written in the portal, MaxAttachmentBytes
	// their total size (default 10 MB: a few scanned pages; the message limit still applies).
	MaxAttachments     int
	MaxAttachmentBytes int64
}

// NewPortal returns the portal's service.
func NewPortal(m *Service, st PortalStore, dec Decider, records Depositor) (*Portal, error) {
	if m == nil || st == nil || dec == nil || records == nil {
		return nil, errs.E(errs.Internal, "mail portal: the mail service, a store, the access decision and the record are required")
	}
	return &Portal{mail: m, store: st, access: dec, records: records, MaxAttachments: 5,
		MaxAttachmentBytes: min(10<<20, m.cfg.MaxMessageBytes*2/3)}, nil
}

// Summary is a message in a list.
type Summary struct {
	ID            int64
	Incoming      bool   // received; false for the patient's own replies
	Correspondent string // the professional's name, never their address
	Subject       string
	At            time.Time
	Unread        bool
	Attachments   bool
	Unreadable    bool
	// Imported: the message came from the patient's former mailbox (an export archive), not
	// through the acceptance of mail; its sender is named as the message names them.
	Imported    bool
	counterpart string
}

// Inbox is the patient's messages, newest first.
type Inbox struct {
	Messages []Summary
	Unread   int
}

// maxListed bounds the messages a page lists.
const maxListed = 200

func objectMessage(id int64) string { return "message/" + strconv.FormatInt(id, 10) }

// decide asks whether actor may act on the patient's mailbox; a refusal is traced by the
// decider and answered as absent, so that a page reveals nothing of another's messages.
func (p *Portal) decide(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64, action access.Action, ref string) error {
	_, err := p.access.Decide(ctx, actor, ch, patientID, action, access.Target{Ref: ref}, nil)
	if err != nil && (errs.Is(err, errs.Forbidden) || access.RefusalOf(err) != "") {
		return errs.E(errs.NotFound, "no such message")
	}
	return err
}

// Inbox lists the patient's messages (received and answered), newest first, with the count of
// unread ones. A patient without a mailbox yet has none.
func (p *Portal) Inbox(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64) (Inbox, error) {
	if err := p.decide(ctx, actor, ch, patientID, access.ActionReadMail, "mailbox"); err != nil {
		return Inbox{}, err
	}
	mailboxID, items, err := p.items(ctx, patientID, maxListed)
	if err != nil {
		return Inbox{}, err
	}
	if mailboxID != 0 && (actor.Kind == audit.ActorPatient || actor.Kind == audit.ActorRepresentative) {
		// The patient (or a minor's representative, the only one the decision lets read)
		// opened the messages: the mailbox is in use (retention.go).
		if err := p.mail.TouchMailbox(ctx, mailboxID); err != nil {
			return Inbox{}, err
		}
	}
	var in Inbox
	names := map[string]string{}
	for _, it := range items {
		s := p.summary(ctx, it, names)
		if s.Unread {
			in.Unread++
		}
		in.Messages = append(in.Messages, s)
	}
	return in, nil
}

// items lists the patient's INBOX and Sent, newest first, at most limit, with their mailbox's
// id; none, and 0, when the patient has no mailbox yet.
func (p *Portal) items(ctx context.Context, patientID int64, limit int) (int64, []Item, error) {
	var (
		items     []Item
		mailboxID int64
	)
	err := p.store.ViewPortal(ctx, func(tx PortalTx) error {
		m, err := tx.PatientMailbox(ctx, patientID)
		if errs.Is(err, errs.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		mailboxID = m.ID
		items, err = tx.MailboxItems(ctx, m.ID, limit)
		return err
	})
	return mailboxID, items, err
}

// summary reads an item's header (its bytes are in the blob store, encrypted: the database
// holds no subject). A message whose header cannot be read is listed as unreadable.
func (p *Portal) summary(ctx context.Context, it Item, names map[string]string) Summary {
	s := Summary{ID: it.ID, Incoming: it.Folder == "INBOX", At: it.DeliveredAt, Unread: it.Folder == "INBOX" && !it.Seen}
	if s.Incoming {
		s.counterpart = it.Message.HeaderFrom
	}
	h, err := p.header(ctx, it.Message)
	if err != nil {
		s.Unreadable = true
		s.Correspondent = p.nameOf(ctx, s.counterpart, "", names)
		return s
	}
	name := ""
	if _, n, err := h.From(); err == nil && s.Incoming {
		name = n
	}
	if !s.Incoming {
		if v, err := ParseView(strings.NewReader(headerOnly(h))); err == nil && len(v.To) > 0 {
			s.counterpart = v.To[0]
		}
	}
	s.Subject = CleanSubject(h.Subject())
	s.Attachments = strings.HasPrefix(strings.ToLower(strings.TrimSpace(h.Get("Content-Type"))), "multipart/mixed")
	if it.Message.Channel == Imported {
		// Not vouched for by the acceptance of mail: never named after a directory entry.
		s.Imported = true
		s.Correspondent = p.nameOf(ctx, "", name, map[string]string{})
		if s.Correspondent == "" {
			_, d, _ := strings.Cut(s.counterpart, "@")
			s.Correspondent = "MSSanté " + d
		}
		s.Correspondent += " (message importé)"
		return s
	}
	s.Correspondent = p.nameOf(ctx, s.counterpart, name, names)
	return s
}

// headerOnly writes back the fields ParseView needs of a header.
func headerOnly(h Header) string {
	var b strings.Builder
	for _, f := range h.fields {
		if strings.EqualFold(f[0], "To") || strings.EqualFold(f[0], "From") {
			b.WriteString(f[0] + ": " + f[1] + "\r\n")
		}
	}
	return b.String() + "\r\n"
}

func (p *Portal) header(ctx context.Context, m StoredMessage) (Header, error) {
	rc, err := p.mail.OpenMessage(ctx, m)
	if err != nil {
		return Header{}, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxHeaderBytes))
	if err != nil {
		return Header{}, err
	}
	return ParseHeader(b, len(b) < MaxHeaderBytes)
}

// nameOf names a correspondent as the patient sees them: a local mailbox's display name, the
// name their message gave, or "a professional of <domain>": never the address (DOMAIN.md).
func (p *Portal) nameOf(ctx context.Context, address, given string, cache map[string]string) string {
	if n, ok := cache[address]; ok {
		return n
	}
	n := ""
	if a, err := ParseAddress(address); err == nil && !a.IsNull() && p.mail.IsLocal(a.Domain) {
		if m, err := p.mail.Mailbox(ctx, address); err == nil {
			n = m.DisplayName
		}
	}
	if n == "" {
		n = given
	}
	if n == "" {
		if _, d, ok := strings.Cut(address, "@"); ok {
			n = "MSSanté " + d
		}
	}
	cache[address] = n
	return n
}

// Thread is a conversation with one professional, in order.
type Thread struct {
	Correspondent string
	Subject       string
	Messages      []Message
	// ReplyTo is the last message received in it, which a reply answers; 0 for none.
	ReplyTo int64
	Ended   bool // the professional ended it ([FIN]): it cannot be answered
	NoReply bool // an applicative (no-reply) mailbox wrote it
	Remote  bool // another operator's professional
}

// Message is one message of a thread.
type Message struct {
	Summary
	Text        string
	FromHTML    bool
	Attachments []Attachment // sizes and types only: Attachment gives one's bytes
	Incomplete  bool         // a part could not be read to its end; the rest is shown
}

// Thread returns the conversation the message id belongs to, and marks its received
// messages read. The message must be in the actor's patient's mailbox: another's is answered
// as absent, and the refusal traced on that patient's chain.
func (p *Portal) Thread(ctx context.Context, actor access.Actor, ch audit.Channel, id int64) (Thread, error) {
	it, err := p.item(ctx, actor, ch, id, access.ActionReadMail)
	if err != nil {
		return Thread{}, err
	}
	var items []Item
	var patientAddr Address
	if err := p.store.ViewPortal(ctx, func(tx PortalTx) error {
		pt, err := tx.Patient(ctx, it.PatientID)
		if err != nil {
			return err
		}
		patientAddr = p.mail.PatientAddress(pt.INS.Matricule)
		items, err = tx.MailboxItems(ctx, it.MailboxID, maxListed)
		return err
	}); err != nil {
		return Thread{}, err
	}
	names := map[string]string{}
	sel := p.summary(ctx, it, names)
	t := Thread{Correspondent: sel.Correspondent, Subject: sel.Subject}
	var unread []int64
	for i := len(items) - 1; i >= 0; i-- {
		s := p.summary(ctx, items[i], names)
		if s.counterpart != sel.counterpart {
			continue
		}
		msg := Message{Summary: s}
		if !s.Unreadable {
			if v, err := p.view(ctx, items[i].Message, KeepNone); err == nil {
				msg.Text, msg.FromHTML, msg.Attachments, msg.Incomplete = v.Text, v.FromHTML, v.Attachments, v.Incomplete
			} else {
				msg.Unreadable = true
			}
		}
		if s.Incoming {
			t.ReplyTo = s.ID
			if s.Unread {
				unread = append(unread, s.ID)
			}
		}
		t.Messages = append(t.Messages, msg)
	}
	if err := p.store.ViewPortal(ctx, func(tx PortalTx) error {
		c, err := tx.Conversation(ctx, patientAddr.String(), sel.counterpart)
		switch {
		case errs.Is(err, errs.NotFound):
		case err != nil:
			return err
		default:
			t.Ended = !c.EndedAt.IsZero()
		}
		if a, err := ParseAddress(sel.counterpart); err == nil && !p.mail.IsLocal(a.Domain) {
			t.Remote = true
		} else if m, err := tx.MailboxByAddress(ctx, sel.counterpart); err == nil && m.Kind == APP {
			t.NoReply = true
		}
		return nil
	}); err != nil {
		return Thread{}, err
	}
	if len(unread) > 0 {
		if err := p.store.UpdatePortal(ctx, func(tx PortalTx) error { return tx.MarkSeen(ctx, it.MailboxID, unread) }); err != nil {
			return Thread{}, err
		}
	}
	return t, nil
}

// item finds a delivery in a patient's mailbox and decides the actor's action on it.
func (p *Portal) item(ctx context.Context, actor access.Actor, ch audit.Channel, id int64, action access.Action) (Item, error) {
	var it Item
	err := p.store.ViewPortal(ctx, func(tx PortalTx) error {
		var err error
		it, err = tx.MailboxItem(ctx, id)
		return err
	})
	if err != nil {
		return Item{}, err
	}
	if it.PatientID == 0 {
		return Item{}, errs.E(errs.NotFound, "no such message")
	}
	if err := p.decide(ctx, actor, ch, it.PatientID, action, objectMessage(it.Message.ID)); err != nil {
		return Item{}, err
	}
	return it, nil
}

// view takes a stored message apart as it streams from the blob store, keeping the bytes of
// the attachments keep says (ParseViewMode): a page costs its text, not its files. What is
// read is bounded by the message limit: a stored message is never larger.
func (p *Portal) view(ctx context.Context, m StoredMessage, keep int) (View, error) {
	rc, err := p.mail.OpenMessage(ctx, m)
	if err != nil {
		return View{}, err
	}
	defer rc.Close()
	lr := &io.LimitedReader{R: rc, N: p.mail.cfg.MaxMessageBytes + 1}
	v, perr := ParseViewMode(lr, keep)
	// The blob reader checks the content's digest at its end: the rest is read (and
	// discarded) before anything parsed is trusted.
	if _, err := io.Copy(io.Discard, lr); err != nil {
		return View{}, err
	}
	if lr.N <= 0 {
		return View{}, errUnreadable
	}
	return v, perr
}

// Attachment returns one attachment of a message of the actor's patient's mailbox.
func (p *Portal) Attachment(ctx context.Context, actor access.Actor, ch audit.Channel, id int64, index int) (Attachment, error) {
	_, a, err := p.attachment(ctx, actor, ch, id, index)
	return a, err
}

func (p *Portal) attachment(ctx context.Context, actor access.Actor, ch audit.Channel, id int64, index int) (Item, Attachment, error) {
	it, err := p.item(ctx, actor, ch, id, access.ActionReadMail)
	if err != nil {
		return Item{}, Attachment{}, err
	}
	if index < 0 {
		return Item{}, Attachment{}, errs.E(errs.NotFound, "no such attachment")
	}
	// Only the part asked for is kept in memory.
	v, err := p.view(ctx, it.Message, index)
	if err != nil {
		return Item{}, Attachment{}, err
	}
	if index >= len(v.Attachments) || v.Attachments[index].Broken {
		return Item{}, Attachment{}, errs.E(errs.NotFound, "no such attachment")
	}
	return it, v.Attachments[index], nil
}

// Savable reports whether an attachment of this type may be filed into the record.
func Savable(mimeType string) bool {
	switch mimeType {
	case "application/pdf", "image/jpeg", "image/png":
		return true
	}
	return false
}

// SaveAttachment files a PDF or image attachment into the patient's Espace personnel, as a
// document of their own (record.Deposit decides and traces the deposit).
func (p *Portal) SaveAttachment(ctx context.Context, req record.Request, id int64, index int, typeCode, title string) (record.Document, error) {
	it, a, err := p.attachment(ctx, req.Actor, req.Channel, id, index)
	if err != nil {
		return record.Document{}, err
	}
	// MimeType is what the bytes are (SniffType), never what the sender declared.
	if !Savable(a.MimeType) {
		return record.Document{}, ErrNotSavable
	}
	var ins identity.INS
	if err := p.store.ViewPortal(ctx, func(tx PortalTx) error {
		pt, err := tx.Patient(ctx, req.Actor.PatientID)
		ins = pt.INS
		return err
	}); err != nil {
		return record.Document{}, err
	}
	title = strings.TrimSpace(title)
	if title == "" {
		title = strings.TrimSuffix(a.Name, extOf(a.Name))
	}
	doc, err := p.records.Deposit(ctx, req, record.Deposit{INS: ins, Title: title, Type: typeCode, MimeType: a.MimeType}, a.data)
	if err != nil {
		return record.Document{}, err
	}
	// The deposit is traced on the document; this trace ties it to the message it came from.
	err = p.store.UpdatePortal(ctx, func(tx PortalTx) error {
		_, err := tx.AppendTrace(ctx, audit.Entry{At: p.mail.clock.Now(), Actor: req.Actor.Audit(), Channel: req.Channel,
			Action: "mail.attachment_save", PatientID: req.Actor.PatientID, Object: objectMessage(it.Message.ID),
			Outcome: audit.Allowed})
		return err
	})
	return doc, err
}

func extOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}

// maxBody bounds the text typed in the portal.
const maxBody = 100 << 10

// The portal's refusals of what was typed or attached, one value each, so that the pages say
// them in the reader's language (errors.Is) rather than showing these English texts.
var (
	ErrNoText        = errs.E(errs.Invalid, "write a message")
	ErrTextTooLong   = errs.E(errs.Invalid, "the message must be text of at most %d bytes", maxBody)
	ErrNoSubject     = errs.E(errs.Invalid, "give the message a subject")
	ErrTooManyFiles  = errs.E(errs.Invalid, "too many attachments")
	ErrFileType      = errs.E(errs.Invalid, "an attachment must be a PDF, JPEG or PNG file")
	ErrFilesTooLarge = errs.E(errs.Invalid, "the attachments are too large in all")
	ErrNotReceived   = errs.E(errs.Invalid, "only a message received can be answered")
	ErrNotSavable    = errs.E(errs.Invalid, "only a PDF, JPEG or PNG attachment can be saved into the record")
)

func (p *Portal) checkFiles(files []File) error {
	if len(files) > p.MaxAttachments {
		return ErrTooManyFiles
	}
	var total int64
	for i, f := range files {
		total += int64(len(f.Data))
		// The bytes say what a file is, never the browser: a file that is not a PDF, PNG or
		// JPEG by its magic numbers is refused, and the type sent is the one found.
		files[i].MimeType = SniffType(f.Data)
		if !Savable(files[i].MimeType) {
			return ErrFileType
		}
	}
	if total > p.MaxAttachmentBytes {
		return ErrFilesTooLarge
	}
	return nil
}

// checkNew checks a new message written in the pages (to a patient, a colleague, a
// pharmacy) and returns its subject cleaned: a subject, a text, files the portal sends.
func (p *Portal) checkNew(subject, body string, files []File) (string, error) {
	subject = CleanSubject(subject)
	if subject == "" {
		return "", ErrNoSubject
	}
	if err := checkText(body); err != nil {
		return "", err
	}
	return subject, p.checkFiles(files)
}

func checkText(body string) error {
	if !utf8.ValidString(body) || len(body) > maxBody {
		return ErrTextTooLong
	}
	if strings.TrimSpace(body) == "" {
		return ErrNoText
	}
	return nil
}

// Reply answers, from the patient's mailbox, the professional of the thread of message id.
// It goes through the acceptance of submitted mail: a reply after [FIN], to a no-reply mailbox
// or to a professional who never wrote is refused (a Refusal: ReasonOf says which) and nothing
// is stored. An accepted reply is delivered or queued like any submitted message, and filed in
// the patient's Sent folder.
func (p *Portal) Reply(ctx context.Context, actor access.Actor, ch audit.Channel, id int64, body string, files []File) (Receipt, error) {
	if err := checkText(body); err != nil {
		return Receipt{}, err
	}
	if err := p.checkFiles(files); err != nil {
		return Receipt{}, err
	}
	return p.reply(ctx, actor, ch, id, body, files)
}

// reply is Reply once the text and the files were checked (portal_response.go sends a file
// of its own kind through it).
func (p *Portal) reply(ctx context.Context, actor access.Actor, ch audit.Channel, id int64, body string, files []File) (Receipt, error) {
	it, err := p.item(ctx, actor, ch, id, access.ActionSendMail)
	if err != nil {
		return Receipt{}, err
	}
	if it.Folder != "INBOX" {
		return Receipt{}, ErrNotReceived
	}
	var box Mailbox
	var pt space.Patient
	if err := p.store.ViewPortal(ctx, func(tx PortalTx) error {
		var err error
		if pt, err = tx.Patient(ctx, it.PatientID); err != nil {
			return err
		}
		box, err = tx.PatientMailbox(ctx, it.PatientID)
		return err
	}); err != nil {
		return Receipt{}, err
	}
	h, err := p.header(ctx, it.Message)
	if err != nil {
		return Receipt{}, refuse(ReasonMalformed, "the message answered cannot be read")
	}
	to, name, err := h.From()
	if err != nil {
		return Receipt{}, err
	}
	subject := h.Subject()
	if !strings.HasPrefix(strings.ToLower(subject), "re:") {
		subject = "Re: " + subject
	}
	raw, err := Compose(Outgoing{From: box.Address, To: to, FromName: strings.TrimSpace(pt.GivenNames + " " + pt.BirthName), ToName: name,
		Subject: CleanSubject(subject), Body: body, InReplyTo: it.Message.MessageID, Files: files, Date: p.mail.clock.Now(),
		MessageIDHostname: p.mail.cfg.Hostname})
	if err != nil {
		return Receipt{}, err
	}
	rec, err := p.submit(ctx, Sender{Mailbox: box}, to, raw)
	return rec, p.traceRefused(ctx, actor, ch, access.ActionSendMail, it.PatientID, objectMessage(it.Message.ID), err)
}

// traceRefused traces, on the patient's chain, a message the rules of the messaging refused
// ([FIN], a no-reply sender, a patient writing first, a space not open) with the refusal's
// reason: the access decision before it only said the actor could use the mailbox, and the
// trail must not show a refused send as the last word. err is returned as it came.
func (p *Portal) traceRefused(ctx context.Context, actor access.Actor, ch audit.Channel, action access.Action, patientID int64, object string, err error) error {
	var r *Refusal
	if !errors.As(err, &r) {
		return err
	}
	if terr := p.store.UpdatePortal(ctx, func(tx PortalTx) error {
		_, err := tx.AppendTrace(ctx, audit.Entry{At: p.mail.clock.Now(), Actor: actor.Audit(), Channel: ch, Action: string(action),
			PatientID: patientID, Object: object, Outcome: audit.Denied, Reason: string(r.Reason)})
		return err
	}); terr != nil {
		return terr
	}
	return err
}

// submit runs a composed message through the acceptance of SMTP submission and files a copy
// in the sender's Sent folder.
func (p *Portal) submit(ctx context.Context, sender Sender, to Address, raw []byte) (Receipt, error) {
	env := Envelope{Channel: Submission, Sender: &sender, ClientAddr: "portal", Helo: "portal", TLS: true, Size: int64(len(raw))}
	if err := p.mail.CheckSender(ctx, &env, sender.Mailbox.Address.String()); err != nil {
		return Receipt{}, err
	}
	r, err := p.mail.CheckRecipient(ctx, &env, to.String())
	if err != nil {
		return Receipt{}, err
	}
	env.Recipients = append(env.Recipients, r)
	rec, err := p.mail.Accept(ctx, env, bytes.NewReader(raw))
	if err != nil {
		return Receipt{}, err
	}
	err = p.store.UpdatePortal(ctx, func(tx PortalTx) error {
		m, err := tx.StoredMessage(ctx, rec.MessageID)
		if err != nil {
			return err
		}
		_, err = tx.Deliver(ctx, sender.Mailbox.ID, "Sent", m.ID, m.Blob.Size, p.mail.clock.Now())
		return err
	})
	if err != nil {
		// The message is sent; only the sender's copy is missing.
		p.mail.log.Error("sent copy not filed", "mailbox", sender.Mailbox.ID, "err", err)
	}
	return rec, nil
}

// Recipient names the patient a professional is about to write to, after the decision
// (access.ActionWriteMail, traced) that lets them: a professional the patient blocked is
// refused (an access refusal: access.RefusalOf says why) and learns nothing of them.
func (p *Portal) Recipient(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64) (string, error) {
	if _, err := p.access.Decide(ctx, actor, ch, patientID, access.ActionWriteMail, access.Target{Ref: "mailbox"}, nil); err != nil {
		return "", err
	}
	var pt space.Patient
	if err := p.store.ViewPortal(ctx, func(tx PortalTx) error {
		var err error
		pt, err = tx.Patient(ctx, patientID)
		return err
	}); err != nil {
		return "", err
	}
	return strings.TrimSpace(pt.GivenNames + " " + pt.BirthName), nil
}

// Write sends a professional's message to a patient from the professional's PER mailbox,
// made on first use when they have none and hold an RPPS or ADELI number. end ends the
// exchange (X-MSS-MES: FIN): the patient can no longer answer it. The professional's writing
// is decided (access.ActionWriteMail) and traced on the patient's chain before anything is
// read of the patient; a message the messaging refuses (a space not open) is traced refused.
func (p *Portal) Write(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64, subject, body string, end bool, files []File) (Receipt, error) {
	subject, err := p.checkNew(subject, body, files)
	if err != nil {
		return Receipt{}, err
	}
	if actor.Kind != audit.ActorProfessional {
		return Receipt{}, errs.E(errs.Forbidden, "only a professional writes to a patient first")
	}
	if _, err := p.access.Decide(ctx, actor, ch, patientID, access.ActionWriteMail, access.Target{Ref: "mailbox"}, nil); err != nil {
		return Receipt{}, err
	}
	idnat := actor.ID
	var sender Sender
	var pt space.Patient
	err = p.store.ViewPortal(ctx, func(tx PortalTx) error {
		var err error
		if sender.Professional, err = tx.ProfessionalByIdNat(ctx, idnat); err != nil {
			return err
		}
		if pt, err = tx.Patient(ctx, patientID); err != nil {
			return err
		}
		sender.Mailbox, err = tx.ProfessionalMailbox(ctx, sender.Professional.ID)
		return err
	})
	if errs.Is(err, errs.NotFound) && sender.Professional.ID != 0 && pt.ID != 0 {
		sender.Mailbox, err = p.ownMailbox(ctx, sender)
	}
	if err != nil {
		return Receipt{}, err
	}
	if err := p.mail.TouchMailbox(ctx, sender.Mailbox.ID); err != nil {
		return Receipt{}, err
	}
	to := p.mail.PatientAddress(pt.INS.Matricule)
	raw, err := Compose(Outgoing{From: sender.Mailbox.Address, To: to, FromName: sender.Mailbox.DisplayName,
		ToName: strings.TrimSpace(pt.GivenNames + " " + pt.BirthName), Subject: subject, Body: body, End: end, Files: files,
		Date: p.mail.clock.Now(), MessageIDHostname: p.mail.cfg.Hostname})
	if err != nil {
		return Receipt{}, err
	}
	rec, err := p.submit(ctx, sender, to, raw)
	return rec, p.traceRefused(ctx, actor, ch, access.ActionWriteMail, patientID, "mailbox", err)
}

// ownMailbox makes a professional's PER mailbox at <given>.<family>@domain (a number added
// when taken), as the operator would.
func (p *Portal) ownMailbox(ctx context.Context, s Sender) (Mailbox, error) {
	pro := s.Professional
	local := strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r == ' ' || r == '.':
			return '.'
		}
		return -1
	}, Fold(pro.GivenName+"."+pro.FamilyName)), ".")
	for strings.Contains(local, "..") {
		local = strings.ReplaceAll(local, "..", ".")
	}
	if local == "" {
		local = "ps"
	}
	by := By{Actor: audit.Actor{Kind: audit.ActorProfessional, ID: pro.IdNat.String(), Name: pro.DisplayName()}, Channel: audit.ChannelWeb}
	for i := 0; i < 20; i++ {
		lp := local
		if i > 0 {
			lp += "." + strconv.Itoa(i+1)
		}
		m, err := p.mail.CreateMailbox(ctx, by, NewMailbox{Kind: PER, LocalPart: lp, IdNat: pro.IdNat.String()})
		if errs.Is(err, errs.Conflict) {
			continue
		}
		return m, err
	}
	return Mailbox{}, errs.E(errs.Conflict, "no free mailbox address for this professional")
}

// Unread counts the patient's unread messages, for the home page, from the deliveries' flags:
// nothing is decrypted. The holder counting their own is not decided nor traced: a count
// reveals nothing of any message, and the trail is there for who reads, not for the holder's
// every home page. Anyone else (the representative of a minor) is decided and traced as a
// read of the mailbox, and refused (as absent) when the rules say so.
func (p *Portal) Unread(ctx context.Context, actor access.Actor, ch audit.Channel, patientID int64) (int, error) {
	if actor.Kind != audit.ActorPatient || actor.PatientID != patientID {
		if err := p.decide(ctx, actor, ch, patientID, access.ActionReadMail, "mailbox"); err != nil {
			return 0, err
		}
	}
	var n int
	err := p.store.ViewPortal(ctx, func(tx PortalTx) error {
		var err error
		n, err = tx.UnreadCount(ctx, patientID)
		return err
	})
	return n, err
}
