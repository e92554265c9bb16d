// Package mailfile files into a patient's record the IHE XDM packages professionals send to
// the patient's secure mailbox (DOMAIN.md "Secure health messaging": an IHE_XDM.ZIP attachment,
// IHE_XDM/SUBSET01/METADATA.XML and the documents it describes). It is a mail.Inspector: the
// messaging hands it each message delivered to a patient once the delivery committed, and its
// Finding is what the sender's acknowledgement (MDN) says.
//
// It decides nothing itself. A package is read by internal/xdm (bounded, checked); it must be
// for the patient whose mailbox received it (the INS of its metadata); its documents are
// deposited through the record service (record.DepositAll), which takes the one access
// decision with the sending professional as actor, checks each document as any deposit and
// traces it. Who that professional is depends on how the message came:
//
//   - from a mailbox of ours by a professional who signed in (their PER mailbox, or an ORG
//     mailbox with their own app password; mail.InspectJob.Sender): that professional, from
//     our accounts, whoever the metadata names;
//   - from an APP mailbox of ours (software), or from another operator (relay): the author the XDM
//     metadata names by IdNat_PS (the submission set's, else the first document's), taken
//     from our accounts when we know them, else as the metadata states (profession and
//     specialty from authorSpecialty). Within the trust space the sending operator, or the
//     organisation owning the mailbox, answers for that statement; we cannot check it.
//
// A retried inspection files nothing twice: a document already in the record under its
// uniqueId, with the same bytes and deposited by the same professional, counts as filed.
// What the sender got wrong is a Finding in the "code^label" form of MSSanté
// acknowledgements (codes of HL7 table 0357 and of the ANS volet "Transmission de documents
// CDA en HL7v2 et par courriel MSSanté"); nothing the message holds reaches a log.
package mailfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/xdm"
)

// Name is the inspector's name in findings and logs.
const Name = "xdm"

// Tx is what the inspector reads and writes in a store transaction.
type Tx interface {
	audit.Appender
	MailboxByAddress(ctx context.Context, address string) (mail.Mailbox, error)
	ProfessionalByID(ctx context.Context, id int64) (account.Professional, error)
	ProfessionalByIdNat(ctx context.Context, idnat string) (account.Professional, error)
	Organisation(ctx context.Context, id int64) (account.Organisation, error)
	Patient(ctx context.Context, id int64) (space.Patient, error)
	Space(ctx context.Context, patientID int64) (space.Space, error)
	// DocumentByUniqueID returns the patient's current, approved document of that uniqueId;
	// NotFound when none.
	DocumentByUniqueID(ctx context.Context, patientID int64, uniqueID string) (record.Document, error)
}

// Store opens the inspector's transactions.
type Store interface {
	ViewFiling(ctx context.Context, fn func(Tx) error) error
	UpdateFiling(ctx context.Context, fn func(Tx) error) error
}

// Depositor deposits the documents of one submission, all or none (record.Service).
type Depositor interface {
	DepositAll(ctx context.Context, r record.Request, items []record.Item) ([]record.Document, error)
}

// Deps are what the inspector needs.
type Deps struct {
	Store   Store
	Records Depositor
	Clock   clock.Clock
	// Limits bound the packages read (zero fields: xdm.DefaultLimits).
	Limits xdm.Limits
	Log    *slog.Logger
}

// Inspector files XDM packages (a mail.Inspector).
type Inspector struct {
	store   Store
	records Depositor
	clock   clock.Clock
	limits  xdm.Limits
	log     *slog.Logger
}

// New returns the inspector.
func New(d Deps) (*Inspector, error) {
	if d.Store == nil || d.Records == nil || d.Clock == nil {
		return nil, errs.E(errs.Internal, "mailfile: a store, the record and a clock are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Inspector{store: d.Store, records: d.Records, clock: d.Clock, limits: d.Limits, log: d.Log}, nil
}

var _ mail.Inspector = (*Inspector)(nil)

// The refusals, "code^label": HL7 table 0357 (messageErrorCondition) and the ANS volet's
// 9xx codes, the labels in French. They say what to correct, never what the message holds.
const (
	failNoAuthor    = "101^Auteur professionnel (IdNat_PS) absent des metadonnees XDM"
	failUnreadable  = "102^Archive IHE_XDM illisible ou non conforme"
	failRefusedDocs = "102^Document ou metadonnees refuses par le dossier medical"
	failDuplicate   = "205^Un autre document porte deja cet identifiant (uniqueId) dans le dossier"
	failNotOpen     = "206^Espace sante du patient non ouvert"
	failNotAllowed  = "901^Auteur non autorise a alimenter le dossier de ce patient"
	failNoINS       = "903^INS non present dans le document"
	failOtherINS    = "904^L'INS transmis ne correspond pas a celui du destinataire"
)

// Inspect files the XDM packages a delivered message carries. A message with none is no
// business of this inspector (a zero Finding).
func (in *Inspector) Inspect(ctx context.Context, d mail.Delivered) (mail.Finding, error) {
	if d.Message.Channel == mail.System {
		return mail.Finding{}, nil // our own messages carry nothing to file
	}
	var found []mail.Attachment
	for _, a := range d.View.Attachments {
		if !a.Broken && IsXDM(a.Name, a.Data()) {
			found = append(found, a)
		}
	}
	if len(found) == 0 {
		return mail.Finding{}, nil
	}
	f := mail.Finding{Inspector: Name}
	var p space.Patient
	if err := in.store.ViewFiling(ctx, func(tx Tx) error {
		var err error
		p, err = tx.Patient(ctx, d.Job.PatientID)
		return err
	}); err != nil {
		return mail.Finding{}, err
	}
	sender := senderActor(d)
	// X-MSS-INS: N is the sender saying the documents do not carry the patient's qualified
	// INS (ANS, Référentiel socle MSSanté #2, ECO.2.4.2): they cannot be filed under it.
	if strings.EqualFold(strings.TrimSpace(d.Header.Get("X-MSS-INS")), "N") {
		return in.refuse(ctx, f, d, sender, failNoINS)
	}
	pkgs := make([]*xdm.Package, 0, len(found))
	for _, a := range found {
		data := a.Data()
		pkg, err := xdm.Read(bytes.NewReader(data), int64(len(data)), in.limits)
		if err != nil {
			return in.refuse(ctx, f, d, sender, failUnreadable)
		}
		if fail := checkINS(pkg, p.INS); fail != "" {
			return in.refuse(ctx, f, d, sender, fail)
		}
		pkgs = append(pkgs, pkg)
	}
	for _, pkg := range pkgs {
		actor, fail, err := in.actor(ctx, d, pkg)
		if err != nil {
			return mail.Finding{}, err
		}
		if fail != "" {
			return in.refuse(ctx, f, d, sender, fail)
		}
		filed, fail, err := in.file(ctx, d, actor, pkg)
		if err != nil {
			return mail.Finding{}, err
		}
		if fail != "" {
			return in.refuse(ctx, f, d, actor.Audit(), fail)
		}
		f.Processed = true
		if filed > 0 {
			if err := in.trace(ctx, d, actor.Audit(), audit.Allowed, "", strconv.Itoa(filed)+" document(s)"); err != nil {
				return mail.Finding{}, err
			}
		}
	}
	return f, nil
}

// checkINS returns the refusal of a package some document (or the submission set) of which is
// not the patient's: no INS, or another one.
func checkINS(pkg *xdm.Package, ins identity.INS) string {
	if len(pkg.Documents) == 0 {
		return failUnreadable
	}
	for _, s := range append([]xdm.Submission{pkg.Submission}, pkg.Others...) {
		if s.INS.Matricule != "" && s.INS.Matricule != ins.Matricule {
			return failOtherINS
		}
	}
	for _, doc := range pkg.Documents {
		switch {
		case doc.INS.Matricule == "":
			return failNoINS
		case doc.INS.Matricule != ins.Matricule:
			return failOtherINS
		}
	}
	return ""
}

// file deposits the package's documents that are not in the record yet, and returns how many.
func (in *Inspector) file(ctx context.Context, d mail.Delivered, actor access.Actor, pkg *xdm.Package) (int, string, error) {
	var (
		sp    space.Space
		items []record.Item
	)
	err := in.store.ViewFiling(ctx, func(tx Tx) error {
		var err error
		if sp, err = tx.Space(ctx, d.Job.PatientID); err != nil {
			return err
		}
		items = items[:0]
		for _, doc := range pkg.Documents {
			if doc.UniqueID == "" { // xdm.Read refuses it; the record would give one
				items = append(items, record.Item{Deposit: doc.Deposit(), Content: doc.Content})
				continue
			}
			prior, err := tx.DocumentByUniqueID(ctx, d.Job.PatientID, doc.UniqueID)
			switch {
			case err != nil && !errs.Is(err, errs.NotFound):
				return err
			case err == nil && prior.SHA256 == sha256Hex(doc.Content) && prior.Depositor == actor.ID:
				// Filed by an earlier run of this inspection (or an earlier sending of the same).
			default:
				// New, or another document under its uniqueId: the record decides, and refuses
				// the latter (Conflict) once the professional may deposit at all.
				items = append(items, record.Item{Deposit: doc.Deposit(), Content: doc.Content})
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return 0, "", err
	case sp.State != space.Open:
		return 0, failNotOpen, nil
	case len(items) == 0:
		return 0, "", nil
	}
	req := record.Request{Actor: actor, Channel: audit.ChannelSMTP}
	filed := len(items)
	for len(items) > 0 {
		n := min(len(items), record.MaxItems)
		// Traced by the record: the decision, allowed or refused, and each document deposited.
		if _, err := in.records.DepositAll(ctx, req, items[:n]); err != nil {
			return 0, in.refusalOf(ctx, d, err), retryable(err)
		}
		items = items[n:]
	}
	return filed, "", nil
}

// refusalOf names the refusal of a deposit; "" for a fault of ours (retried).
func (in *Inspector) refusalOf(ctx context.Context, d mail.Delivered, err error) string {
	if retryable(err) != nil {
		return ""
	}
	switch {
	case access.RefusalOf(err) != "" || errs.Is(err, errs.Forbidden):
		return failNotAllowed
	case errs.Is(err, errs.Conflict):
		// The space closed since, or a document of that uniqueId came meanwhile.
		var sp space.Space
		if verr := in.store.ViewFiling(ctx, func(tx Tx) error {
			var err error
			sp, err = tx.Space(ctx, d.Job.PatientID)
			return err
		}); verr == nil && sp.State != space.Open {
			return failNotOpen
		}
		return failDuplicate
	}
	return failRefusedDocs
}

// retryable returns err when it is a fault of ours rather than a refusal of what was sent.
func retryable(err error) error {
	if err == nil || audit.IsRefusal(err) || access.RefusalOf(err) != "" {
		return nil
	}
	return err
}

// refuse traces the refusal on the patient's chain and returns it as the finding.
func (in *Inspector) refuse(ctx context.Context, f mail.Finding, d mail.Delivered, actor audit.Actor, failure string) (mail.Finding, error) {
	code, _, _ := strings.Cut(failure, "^")
	if err := in.trace(ctx, d, actor, audit.Denied, "mailfile."+code, ""); err != nil {
		return mail.Finding{}, err
	}
	f.Failure = failure
	return f, nil
}

// trace ties the filing to the message on the patient's chain: the record traces each
// document; this says where they came from, or why nothing was filed.
func (in *Inspector) trace(ctx context.Context, d mail.Delivered, actor audit.Actor, outcome audit.Outcome, reason, detail string) error {
	e := audit.Entry{At: in.clock.Now(), Actor: actor, Channel: audit.ChannelSMTP, Action: "mail.xdm_file",
		PatientID: d.Job.PatientID, Object: "message/" + strconv.FormatInt(d.Job.MessageID, 10), Outcome: outcome,
		Reason: reason, Detail: detail}
	return in.store.UpdateFiling(ctx, func(tx Tx) error {
		_, err := tx.AppendTrace(ctx, e)
		return err
	})
}

// senderActor names the sender as the delivery's trace did, before anything is known of the
// package: the sending address.
func senderActor(d mail.Delivered) audit.Actor {
	return audit.Actor{Kind: audit.ActorProfessional, ID: "mail:" + d.From.String(), Name: d.Name, Org: d.From.Domain}
}

// actor works out the professional who files the package (see the package comment). A
// package naming no professional it can be filed for is refused (fail).
func (in *Inspector) actor(ctx context.Context, d mail.Delivered, pkg *xdm.Package) (a access.Actor, fail string, err error) {
	err = in.store.ViewFiling(ctx, func(tx Tx) error {
		org := d.From.Domain
		if d.Message.Channel == mail.Submission && d.Job.Sender != "" {
			// The professional who signed in to send it, from their PER mailbox or with their
			// own app password on an ORG mailbox: they act, whatever the metadata says, so
			// that a professional the patient blocked cannot file through a shared mailbox.
			pro, err := tx.ProfessionalByIdNat(ctx, d.Job.Sender)
			if err != nil {
				return err
			}
			a, err = professional(ctx, tx, pro)
			return err
		}
		if d.Message.Channel == mail.Submission {
			box, err := tx.MailboxByAddress(ctx, d.Message.HeaderFrom)
			if err != nil {
				return err
			}
			if box.Kind == mail.PER && box.ProfessionalID != 0 {
				pro, err := tx.ProfessionalByID(ctx, box.ProfessionalID)
				if err != nil {
					return err
				}
				a, err = professional(ctx, tx, pro)
				return err
			}
			if box.OrganisationID != 0 {
				o, err := tx.Organisation(ctx, box.OrganisationID)
				if err != nil {
					return err
				}
				org = o.StructureID.String()
			}
		}
		author, ok := authorOf(pkg)
		if !ok {
			fail = failNoAuthor
			return nil
		}
		id, _ := author.Person.IdNatPS()
		pro, err := tx.ProfessionalByIdNat(ctx, id.String())
		switch {
		case err == nil:
			a, err = professional(ctx, tx, pro)
			return err
		case !errs.Is(err, errs.NotFound):
			return err
		}
		a = access.Actor{Kind: audit.ActorProfessional, ID: id.String(), Org: org,
			Name: strings.TrimSpace(author.Person.Given + " " + author.Person.Family)}
		if d.Message.Channel != mail.Submission && len(author.Institutions) > 0 && author.Institutions[0].ID != "" {
			// Another operator's sender: the organisation the metadata names. Ours: the
			// organisation whose mailbox sent it, which authenticated.
			a.Org = author.Institutions[0].ID
		}
		if len(author.Specialties) > 0 {
			// JDV_J01 writes a specialty under its profession: G15_10/SM26.
			s := author.Specialties[0].Code
			a.Profession, _, _ = strings.Cut(s, "/")
			if strings.Contains(s, "/") {
				a.Specialty = s
			}
		}
		return nil
	})
	return a, fail, err
}

// professional is one of our professionals as the access decision sees them (as sign-in and
// bearer tokens build them).
func professional(ctx context.Context, tx Tx, p account.Professional) (access.Actor, error) {
	a := access.Actor{Kind: audit.ActorProfessional, ID: p.IdNat.String(), Name: p.DisplayName(), Profession: p.Profession}
	if p.Specialty != "" {
		a.Specialty = p.Profession + "/" + p.Specialty
	}
	if p.OrganisationID != 0 {
		o, err := tx.Organisation(ctx, p.OrganisationID)
		if err != nil && !errs.Is(err, errs.NotFound) {
			return access.Actor{}, err
		}
		a.Org = o.StructureID.String()
	}
	return a, nil
}

// authorOf returns the professional the package names as its author: the submission set's
// first author named by an IdNat_PS, else the first document's.
func authorOf(pkg *xdm.Package) (xdm.Author, bool) {
	candidates := append([]xdm.Author(nil), pkg.Submission.Authors...)
	for _, doc := range pkg.Documents {
		candidates = append(candidates, doc.Authors...)
	}
	for _, a := range candidates {
		if _, err := a.Person.IdNatPS(); err == nil {
			return a, true
		}
	}
	return xdm.Author{}, false
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// IsXDM says whether an attachment is an IHE XDM package: named IHE_XDM.ZIP (the name MSSanté
// gives it), or a zip whose entries' names hold IHE_XDM/<subset>/METADATA.XML (a sender that
// named it otherwise). It looks at names only, in one pass over the attachment: xdm.Read
// checks the rest.
func IsXDM(name string, data []byte) bool {
	// A zip is read from its end: its end of central directory record is in the last 64 KiB
	// and 22 bytes (APPNOTE.TXT §4.3.16), whatever comes first (archive/zip reads it so).
	tail := data[max(0, len(data)-(0xffff+22)):]
	if !bytes.Contains(tail, []byte("PK\x05\x06")) {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(name), "IHE_XDM.ZIP") {
		return true
	}
	// A zip's local and central headers hold every entry's name uncompressed; compressed
	// bytes that happen to spell one only make xdm.Read refuse the package.
	upper := asciiUpper(data)
	for rest := upper; ; {
		i := bytes.Index(rest, []byte("IHE_XDM/"))
		if i < 0 {
			return false
		}
		rest = rest[i+len("IHE_XDM/"):]
		name := rest[:min(len(rest), 255)] // a name is short; its end is the next header's bytes
		if j := bytes.IndexByte(name, '/'); j > 0 && bytes.HasPrefix(name[j+1:], []byte("METADATA.XML")) {
			return true
		}
	}
}

// asciiUpper returns b with its ASCII letters in upper case, every byte in its place.
func asciiUpper(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return out
}
