package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/space"
)

// Envelope is an SMTP transaction as the adapter collected it.
type Envelope struct {
	Channel    Channel
	From       Address // MAIL FROM; null for a bounce or a receipt
	Sender     *Sender // submission: who authenticated
	Recipients []Recipient
	ClientAddr string // IP address
	Helo       string // what the client said in EHLO
	TLS        bool   // the transaction runs over TLS
	Size       int64  // declared with MAIL FROM SIZE=, 0 when not
	// PeerDN is the subject of the client certificate the sending operator presented, once
	// the listener verified it against the health PKI's roots; "" when none.
	PeerDN string
}

// Recipient is a recipient accepted at RCPT.
type Recipient struct {
	Address   Address
	Mailbox   Mailbox // a local one; for a patient whose mailbox does not exist yet, ID 0
	PatientID int64   // a local patient's
	Remote    bool    // another operator's: queued for outbound delivery
}

// StoredMessage is a message as received.
type StoredMessage struct {
	ID           int64
	Channel      Channel
	EnvelopeFrom string
	HeaderFrom   string
	MessageID    string // the Message-ID field, as written (with its angle brackets)
	Blob         blob.Ref
	ReceivedAt   time.Time
}

// Receipt says what became of an accepted message.
type Receipt struct {
	MessageID int64
	Local     int     // deliveries into local mailboxes
	Outbound  []int64 // queued deliveries to other operators, one per domain
}

// Conversation is a professional's exchange with a patient.
type Conversation struct {
	PatientAddress      string
	ProfessionalAddress string
	StartedAt           time.Time
	EndedAt             time.Time // a [FIN]; zero while open
}

// DeliveryJob asks the outbound queue to deliver one Outbound. It names the row only: the
// recipients and the message are read when it runs.
type DeliveryJob struct {
	OutboundID int64 `json:"outbound_id"`
}

// Kind names the job.
func (DeliveryJob) Kind() string { return "mail.outbound" }

// CheckSender checks MAIL FROM. Relay: the sending domain must be in the allowlist (the null
// reverse-path of bounces is checked on its From field at DATA instead), and none of ours
// (our own mail comes through submission). Submission: the authenticated mailbox only.
func (s *Service) CheckSender(ctx context.Context, env *Envelope, from string) error {
	a, err := ParseAddress(from)
	if err != nil {
		return err
	}
	switch env.Channel {
	case Submission:
		if env.Sender == nil {
			return refuse(ReasonAuthRequired, "authentication required")
		}
		if a != env.Sender.Mailbox.Address {
			return refuse(ReasonSenderNotOwn, "you may send only from your own mailbox <%s>", env.Sender.Mailbox.Address)
		}
	default:
		if !a.IsNull() {
			if err := s.checkSenderDomain(ctx, env, a.Domain); err != nil {
				return err
			}
		}
	}
	env.From = a
	return nil
}

func (s *Service) checkSenderDomain(ctx context.Context, env *Envelope, domain string) error {
	if s.IsLocal(domain) {
		return refuse(ReasonSenderDomain, "mail from %s comes through the submission port, with authentication", domain)
	}
	ok, err := s.Allowed(ctx, domain)
	if err != nil {
		return err
	}
	if !ok {
		return refuse(ReasonSenderDomain, "the sending domain %s is not in the MSSanté allowlist", domain)
	}
	if s.cfg.OperatorCertificates && env.Channel == Relay {
		return s.checkOperatorCertificate(ctx, env.PeerDN, domain)
	}
	return nil
}

// checkOperatorCertificate: the certificate the sending operator presented must be one the
// allowlist publishes for the sending domain, so that an operator of the trust space cannot
// send as another's domain.
func (s *Service) checkOperatorCertificate(ctx context.Context, peerDN, domain string) error {
	if peerDN == "" {
		return refuse(ReasonSenderDomain, "mail from %s must come with its operator's certificate of the health PKI", domain)
	}
	peer, err := NormalizeDN(peerDN)
	if err != nil {
		return refuse(ReasonSenderDomain, "the certificate presented has a subject that cannot be read")
	}
	var dns []string
	if err := s.store.ViewMail(ctx, func(tx Tx) error {
		var err error
		dns, err = tx.OperatorDNs(ctx, strings.ToLower(domain))
		return err
	}); err != nil {
		return errs.Wrap(errs.Unavailable, err, "read the allowlist")
	}
	for _, dn := range dns {
		if n, err := NormalizeDN(dn); err == nil && n == peer {
			return nil
		}
	}
	return refuse(ReasonSenderDomain, "the certificate presented is not the one the MSSanté allowlist publishes for %s", domain)
}

// CheckRecipient checks RCPT TO and returns the recipient to add to the envelope. A local
// recipient must exist and receive: a professional mailbox that is not disabled nor
// no-reply, or the mailbox of a patient whose space is open. A remote one is accepted on
// submission only, in an allowlisted domain. The patients' rules apply here already, on the
// envelope sender (and again at DATA, on the From field).
func (s *Service) CheckRecipient(ctx context.Context, env *Envelope, to string) (Recipient, error) {
	a, err := ParseAddress(to)
	if err != nil {
		return Recipient{}, err
	}
	if a.IsNull() {
		return Recipient{}, refuse(ReasonBadAddress, "a recipient address is required")
	}
	if slices.ContainsFunc(env.Recipients, func(r Recipient) bool { return r.Address == a }) {
		return Recipient{}, refuse(ReasonBadAddress, "<%s> is already a recipient of this message", a)
	}
	var r Recipient
	if s.IsLocal(a.Domain) {
		r, err = s.localRecipient(ctx, env, a)
	} else {
		r, err = s.remoteRecipient(ctx, env, a)
	}
	if err != nil {
		return Recipient{}, err
	}
	if err := s.checkPair(ctx, env.From, r); err != nil {
		if r.PatientID != 0 {
			s.traceRefusal(ctx, env, r.PatientID, err)
		}
		return Recipient{}, err
	}
	if q := s.cfg.QuotaBytes; q > 0 && r.Mailbox.UsedBytes+env.Size > q {
		return Recipient{}, refuse(ReasonMailboxFull, "the mailbox <%s> is full", a)
	}
	return r, nil
}

func (s *Service) localRecipient(ctx context.Context, env *Envelope, a Address) (Recipient, error) {
	r := Recipient{Address: a}
	unknown := refuse(ReasonUnknownMailbox, "no mailbox <%s> here", a)
	var notOpen error
	err := s.store.ViewMail(ctx, func(tx Tx) error {
		if a.Domain == s.PatientDomain() {
			ins, ok := PatientINS(a)
			if !ok {
				return unknown
			}
			p, err := tx.PatientByINS(ctx, ins)
			if errs.Is(err, errs.NotFound) {
				return unknown
			}
			if err != nil {
				return err
			}
			r.PatientID = p.ID
			sp, err := tx.Space(ctx, p.ID)
			if err != nil {
				return err
			}
			if sp.State != space.Open {
				notOpen = spaceNotOpen(a)
				return nil
			}
		}
		m, err := tx.MailboxByAddress(ctx, a.String())
		switch {
		case errs.Is(err, errs.NotFound) && r.PatientID != 0:
			r.Mailbox = Mailbox{Address: a, Kind: PAT, PatientID: r.PatientID} // created at first delivery
			return nil
		case errs.Is(err, errs.NotFound):
			return unknown
		case err != nil:
			return err
		}
		r.Mailbox = m
		return nil
	})
	if err != nil {
		return Recipient{}, err
	}
	if notOpen != nil {
		s.traceRefusal(ctx, env, r.PatientID, notOpen)
		return Recipient{}, notOpen
	}
	switch {
	case !r.Mailbox.DisabledAt.IsZero():
		return Recipient{}, refuse(ReasonDisabled, "the mailbox <%s> no longer receives mail", a)
	case r.Mailbox.Kind == APP:
		return Recipient{}, refuse(ReasonNoReply, "<%s> is an applicative no-reply mailbox: it cannot be written to", a)
	}
	return r, nil
}

func spaceNotOpen(a Address) error {
	return refuse(ReasonSpaceNotOpen, "the health space of the patient <%s> is not open: it cannot receive messages", a)
}

func (s *Service) remoteRecipient(ctx context.Context, env *Envelope, a Address) (Recipient, error) {
	if env.Channel != Submission {
		return Recipient{}, refuse(ReasonRelayDenied, "relay denied: this server receives mail for %s and %s only", s.cfg.Domain, s.PatientDomain())
	}
	ok, err := s.Allowed(ctx, a.Domain)
	if err != nil {
		return Recipient{}, err
	}
	if !ok {
		return Recipient{}, refuse(ReasonRelayDenied, "the domain %s is outside the MSSanté trust space (not in the allowlist)", a.Domain)
	}
	return Recipient{Address: a, Remote: true}, nil
}

// checkPair applies the patients' rules to a sender and a recipient (DOMAIN.md): a patient
// never writes first: they may answer a professional who wrote to them, until the
// professional ends the exchange with [FIN]; they may write first to an ORG mailbox that
// accepts patients (a pharmacy); never to another patient.
func (s *Service) checkPair(ctx context.Context, from Address, r Recipient) error {
	if from.IsNull() || !IsPatient(from) {
		return nil
	}
	return s.store.ViewMail(ctx, func(tx Tx) error { return patientRule(ctx, tx, from, r) })
}

// patientRule is checkPair's rule for a patient author, read through tx.
func patientRule(ctx context.Context, tx Tx, from Address, r Recipient) error {
	if IsPatient(r.Address) {
		return refuse(ReasonPatientFirst, "a patient cannot write to another patient")
	}
	if !r.Remote && r.Mailbox.Kind == ORG && r.Mailbox.AcceptsPatients {
		return nil
	}
	c, err := tx.Conversation(ctx, from.String(), r.Address.String())
	return conversationRule(c, err)
}

func conversationRule(c Conversation, err error) error {
	if errs.Is(err, errs.NotFound) {
		return refuse(ReasonPatientFirst, "a patient can only answer a professional who wrote to them first")
	}
	if err != nil {
		return err
	}
	if !c.EndedAt.IsZero() {
		return refuse(ReasonPatientFirst, "the professional ended this conversation ([FIN]): it can no longer be answered")
	}
	return nil
}

// traceRefusal traces a refused delivery to a patient on their chain (DESIGN invariant 2:
// allowed or refused, every access leaves a trace). A failure to trace is logged: the mail
// is refused anyway.
func (s *Service) traceRefusal(ctx context.Context, env *Envelope, patientID int64, refusal error) {
	e := audit.Entry{At: s.clock.Now(), Actor: envelopeActor(env, ""), Channel: audit.ChannelSMTP, Action: "mail.deliver",
		PatientID: patientID, Object: "mailbox"}
	e.Outcome, e.Reason = audit.Failure(refusal)
	if err := s.store.UpdateMail(ctx, func(tx Tx) error { _, err := tx.AppendTrace(ctx, e); return err }); err != nil {
		s.log.Error("refused delivery not traced", "patient", patientID, "err", err)
	}
}

// envelopeActor names the sender in traces: the authenticated professional or software on
// submission, the sending address (and its display name) on relay.
func envelopeActor(env *Envelope, name string) audit.Actor {
	if env.Sender != nil {
		return env.Sender.Actor()
	}
	if env.From.IsNull() {
		return audit.Actor{Kind: audit.ActorSystem, ID: "mailer-daemon", Name: "MSSanté"}
	}
	return audit.Actor{Kind: audit.ActorProfessional, ID: "mail:" + env.From.String(), Name: name, Org: env.From.Domain}
}

// sizeLimit fails a read past max bytes with a refusal, so that the blob store stops early.
type sizeLimit struct {
	r   io.Reader
	n   int64
	max int64
}

func (l *sizeLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, refuse(ReasonTooBig, "the message is larger than %d bytes", l.max)
	}
	return n, err
}

// Accept stores a message for the envelope's recipients and returns once it is durable: its
// bytes (a Received field first, RFC 5321 §4.4) encrypted in the blob store and synced, then
// in one transaction the message's row, its delivery into each local mailbox with a trace
// and a notice for each patient, the conversations it opens or ends, and a queued delivery
// per other operator's domain. Only then may the adapter answer 250. The message is refused
// whole (nothing kept) when its header cannot be read, when its From field breaks the rules,
// or when a patient's space closed since RCPT.
func (s *Service) Accept(ctx context.Context, env Envelope, data io.Reader) (Receipt, error) {
	if len(env.Recipients) == 0 {
		return Receipt{}, refuse(ReasonBadAddress, "no recipient")
	}
	now := s.clock.Now()
	sniff := &sniffer{max: MaxHeaderBytes}
	body := &sizeLimit{r: io.TeeReader(data, sniff), max: s.cfg.MaxMessageBytes}
	ref, err := s.blobs.Put(ctx, io.MultiReader(strings.NewReader(s.received(env, now)), body))
	if err != nil {
		var r *Refusal
		if errors.As(err, &r) {
			return Receipt{}, r
		}
		return Receipt{}, fmt.Errorf("store message: %w", err)
	}
	kept := false
	defer func() {
		if !kept {
			if err := s.blobs.Delete(context.WithoutCancel(ctx), ref.ID); err != nil {
				s.log.Error("refused message's blob not deleted", "blob", ref.ID, "err", err)
			}
		}
	}()
	h, err := ParseHeader(sniff.buf, len(sniff.buf) < sniff.max)
	if err != nil {
		return Receipt{}, err
	}
	from, name, err := h.From()
	if err != nil {
		return Receipt{}, err
	}
	if err := s.checkFrom(ctx, &env, from); err != nil {
		return Receipt{}, err
	}
	author := from // whose rules apply: the From field's author
	msg := StoredMessage{Channel: env.Channel, EnvelopeFrom: env.From.String(), HeaderFrom: from.String(),
		MessageID: bounded(h.Get("Message-Id"), 250), Blob: ref, ReceivedAt: now}
	fin := h.EndsConversation()
	inspect := needsInspection(h)
	var rec Receipt
	var refusedPatient int64
	err = s.store.UpdateMail(ctx, func(tx Tx) error {
		rec, refusedPatient = Receipt{}, 0
		if err := tx.InsertMessage(ctx, &msg); err != nil {
			return err
		}
		rec.MessageID = msg.ID
		byDomain := map[string][]string{}
		for _, r := range env.Recipients {
			if IsPatient(author) {
				if err := patientRule(ctx, tx, author, r); err != nil {
					refusedPatient = r.PatientID
					return err
				}
			} else if IsPatient(r.Address) {
				c := Conversation{PatientAddress: r.Address.String(), ProfessionalAddress: author.String(), StartedAt: now}
				if fin {
					c.EndedAt = now
				}
				if err := tx.SaveConversation(ctx, c); err != nil {
					return err
				}
			}
			if r.Remote {
				byDomain[r.Address.Domain] = append(byDomain[r.Address.Domain], r.Address.String())
				continue
			}
			if err := s.deliverLocal(ctx, tx, env, name, r, msg, inspect, now); err != nil {
				if r.PatientID != 0 && audit.IsRefusal(err) {
					refusedPatient = r.PatientID
				}
				return err
			}
			rec.Local++
		}
		for _, domain := range slices.Sorted(maps.Keys(byDomain)) {
			o := Outbound{MessageRef: msg.ID, Domain: domain, Sender: author.String(), Pending: byDomain[domain],
				State: OutboundQueued, CreatedAt: now, UpdatedAt: now}
			if err := tx.InsertOutbound(ctx, &o); err != nil {
				return err
			}
			if err := tx.Enqueue(ctx, DeliveryJob{OutboundID: o.ID}); err != nil {
				return err
			}
			rec.Outbound = append(rec.Outbound, o.ID)
		}
		return nil
	})
	if err != nil {
		if refusedPatient != 0 {
			s.traceRefusal(ctx, &env, refusedPatient, err)
		}
		return Receipt{}, err
	}
	kept = true
	return rec, nil
}

// checkFrom checks the From field against the envelope. Submission: the authenticated
// mailbox. Relay: an allowlisted domain; and a patient's address must be the envelope's too,
// so that nobody passes a patient's mail as a professional's or the reverse.
func (s *Service) checkFrom(ctx context.Context, env *Envelope, from Address) error {
	if env.Channel == Submission {
		if env.Sender == nil || from != env.Sender.Mailbox.Address {
			return refuse(ReasonSenderNotOwn, "the From field must be your own mailbox <%s>", env.Sender.Mailbox.Address)
		}
		return nil
	}
	if env.Channel == System {
		return nil
	}
	if err := s.checkSenderDomain(ctx, env, from.Domain); err != nil {
		return err
	}
	if (IsPatient(from) || IsPatient(env.From)) && !env.From.IsNull() && from != env.From {
		return refuse(ReasonSenderNotOwn, "a patient's message must have the same address in MAIL FROM and From")
	}
	return nil
}

// deliverLocal files msg into a local mailbox, in tx: a patient's is made at its first
// message, after checking again that the space is open, and each delivery to a patient is
// traced on their chain and queues a notice, and its inspection when it may carry something
// for the record, the agenda or the portal (inspect.go).
func (s *Service) deliverLocal(ctx context.Context, tx Tx, env Envelope, name string, r Recipient, msg StoredMessage, inspect bool, now time.Time) error {
	m := r.Mailbox
	if r.PatientID != 0 {
		sp, err := tx.Space(ctx, r.PatientID)
		if err != nil {
			return err
		}
		if sp.State != space.Open {
			return spaceNotOpen(r.Address)
		}
		if m.ID == 0 {
			if m, err = s.patientMailbox(ctx, tx, r, now); err != nil {
				return err
			}
		}
	}
	if _, err := tx.Deliver(ctx, m.ID, "INBOX", msg.ID, msg.Blob.Size, now); err != nil {
		return err
	}
	if r.PatientID == 0 {
		return nil
	}
	e := audit.Entry{At: now, Actor: envelopeActor(&env, name), Channel: audit.ChannelSMTP, Action: "mail.deliver",
		PatientID: r.PatientID, Object: "message/" + strconv.FormatInt(msg.ID, 10), Outcome: audit.Allowed}
	if _, err := tx.AppendTrace(ctx, e); err != nil {
		return err
	}
	if inspect && len(s.inspectors) > 0 {
		job := InspectJob{MessageID: msg.ID, MailboxID: m.ID, PatientID: r.PatientID}
		if env.Sender != nil && env.Sender.Professional.ID != 0 {
			job.Sender = env.Sender.Professional.IdNat.String()
		}
		if err := tx.Enqueue(ctx, job); err != nil {
			return err
		}
	}
	return tx.QueueNotice(ctx, r.PatientID, "msg-"+strconv.FormatInt(msg.ID, 10), now.Add(s.cfg.NoticeDelay), now)
}

// patientMailbox returns the patient's mailbox, making it on first use. Made on demand rather
// than when the space opens: a space opens in internal/space (by the sweep, by activation),
// which knows nothing of mail; the address follows from the INS and never changes, so
// existing "in principle" while the space is open and "in fact" from the first message is the
// same to a sender.
func (s *Service) patientMailbox(ctx context.Context, tx Tx, r Recipient, now time.Time) (Mailbox, error) {
	m, err := tx.MailboxByAddress(ctx, r.Address.String())
	if err == nil || !errs.Is(err, errs.NotFound) {
		return m, err
	}
	m = Mailbox{Address: r.Address, Kind: PAT, DisplayName: r.Address.Local, PatientID: r.PatientID, Hidden: true, CreatedAt: now}
	return m, tx.InsertMailbox(ctx, &m, DirectoryKeys{})
}

// received is the trace field this server prepends (RFC 5321 §4.4; "with" per RFC 3848).
func (s *Service) received(env Envelope, now time.Time) string {
	with := "ESMTP"
	if env.TLS {
		with = "ESMTPS"
	}
	if env.Sender != nil {
		with += "A"
	}
	helo := sanitizeToken(env.Helo)
	return fmt.Sprintf("Received: from %s ([%s])\r\n\tby %s (carnet) with %s;\r\n\t%s\r\n",
		helo, sanitizeToken(env.ClientAddr), s.cfg.Hostname, with, now.Format(time.RFC1123Z))
}

// sanitizeToken keeps what a client said fit for a header: printable ASCII, no spaces, bounded.
func sanitizeToken(s string) string {
	s = strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' || r == '(' || r == ')' || r == '[' || r == ']' {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return "unknown"
	}
	return bounded(s, 100)
}

func bounded(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
