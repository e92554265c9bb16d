package mail

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"log/slog"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/space"
)

// Tx is what the service needs of a store transaction.
type Tx interface {
	audit.Appender
	// Enqueue queues a job (an outbound delivery) to run once the transaction commits.
	Enqueue(ctx context.Context, job interface{ Kind() string }) error
	// QueueNotice records that the patient is to be told of something new (no health content).
	QueueNotice(ctx context.Context, patientID int64, key string, notBefore, now time.Time) error

	ProfessionalByIdNat(ctx context.Context, idnat string) (account.Professional, error)
	ProfessionalByID(ctx context.Context, id int64) (account.Professional, error)
	Organisation(ctx context.Context, id int64) (account.Organisation, error)
	OrganisationByStructureID(ctx context.Context, structureID string) (account.Organisation, error)
	PatientByINS(ctx context.Context, matricule string) (space.Patient, error)
	Patient(ctx context.Context, id int64) (space.Patient, error)
	Space(ctx context.Context, patientID int64) (space.Space, error)

	// InsertMailbox stores m with its folders and sets its id; Conflict on a known address.
	InsertMailbox(ctx context.Context, m *Mailbox, dir DirectoryKeys) error
	// MailboxByAddress returns a mailbox; NotFound when none.
	MailboxByAddress(ctx context.Context, address string) (Mailbox, error)
	SetMailboxHidden(ctx context.Context, id int64, hidden bool) error
	AddMember(ctx context.Context, mailboxID, professionalID int64, at time.Time) error // Conflict when a member already
	IsMember(ctx context.Context, mailboxID, professionalID int64) (bool, error)
	SearchDirectory(ctx context.Context, q DirectoryQuery) ([]DirectoryEntry, error)

	InsertAppPassword(ctx context.Context, p *AppPassword) error
	// AppPassword returns a password by its public id, with its mailbox; NotFound when none.
	AppPassword(ctx context.Context, publicID string) (AppPassword, Mailbox, error)
	RevokeAppPassword(ctx context.Context, mailboxID, id int64, at time.Time) error // NotFound when not live
	TouchAppPassword(ctx context.Context, id int64, at time.Time) error
	LockThrottle(ctx context.Context, key string) (auth.ThrottleState, error)
	SaveThrottle(ctx context.Context, key string, st auth.ThrottleState) error
	DeleteThrottle(ctx context.Context, key string) error

	// AllowedDomain reports whether domain is in the allowlist.
	AllowedDomain(ctx context.Context, domain string) (bool, error)
	// OperatorDNs returns the operator certificate DNs the allowlist publishes for domain.
	OperatorDNs(ctx context.Context, domain string) ([]string, error)
	// ReplaceAllowlist makes list the allowlist, and returns the domains it adds and removes.
	ReplaceAllowlist(ctx context.Context, list Allowlist, at time.Time) (added, removed []string, err error)
	AllowlistStatus(ctx context.Context) (AllowlistStatus, error)

	InsertMessage(ctx context.Context, m *StoredMessage) error
	StoredMessage(ctx context.Context, id int64) (StoredMessage, error)
	// Deliver files message into the mailbox's folder under the next UID, counts its size
	// against the mailbox, and returns the UID.
	Deliver(ctx context.Context, mailboxID int64, folder string, messageID, size int64, at time.Time) (int64, error)
	// Holds reports whether the mailbox holds, in any folder, the stored message messageRef.
	Holds(ctx context.Context, mailboxID, messageRef int64) (bool, error)
	// HasMessage reports whether the mailbox holds, in any folder, a message of that Message-ID.
	HasMessage(ctx context.Context, mailboxID int64, messageID string) (bool, error)
	// HoldsContent reports whether the mailbox's folder holds a message of these bytes (their
	// SHA-256, hex).
	HoldsContent(ctx context.Context, mailboxID int64, folder, sha256 string) (bool, error)
	// FlagDelivery sets the IMAP flags of the message delivered under uid.
	FlagDelivery(ctx context.Context, mailboxID int64, folder string, uid int64, flags []string) error

	// TouchMailbox records that the mailbox was used at at (a write at most once a day).
	TouchMailbox(ctx context.Context, id int64, at time.Time) error
	// InactiveMailboxes lists up to limit mailboxes still receiving and unused since before
	// activeBefore, with their holders' e-mail addresses: those not warned since their last use
	// when warnedBefore is zero, else those warned since their last use, before warnedBefore.
	InactiveMailboxes(ctx context.Context, activeBefore, warnedBefore time.Time, limit int) ([]Inactive, error)
	MarkInactivityWarned(ctx context.Context, id int64, at time.Time) error
	// DeleteInactiveMailbox empties the mailbox and retires it (a patient's goes whole), if it
	// was not used after lastActive; it reports whether it did.
	DeleteInactiveMailbox(ctx context.Context, m Mailbox, lastActive, now time.Time) (bool, error)
	Conversation(ctx context.Context, patientAddr, proAddr string) (Conversation, error) // NotFound when none
	SaveConversation(ctx context.Context, c Conversation) error

	InsertOutbound(ctx context.Context, o *Outbound) error
	// Outbound returns a delivery, locked for update in a write transaction.
	Outbound(ctx context.Context, id int64) (Outbound, error)
	SaveOutbound(ctx context.Context, o Outbound) error
	// QueuedOutbound lists deliveries still queued and untouched since before.
	QueuedOutbound(ctx context.Context, before time.Time, limit int) ([]int64, error)
}

// Store opens transactions.
type Store interface {
	UpdateMail(ctx context.Context, fn func(Tx) error) error
	ViewMail(ctx context.Context, fn func(Tx) error) error
}

// Config holds the tunable values.
type Config struct {
	// Domain is the operator's mail domain: professional mailboxes are local@Domain, patient
	// mailboxes <INS>@patient.Domain.
	Domain string
	// Hostname names this server in Received fields and bounces (default Domain).
	Hostname string
	// MaxMessageBytes bounds a message (default 20 MB, our default: MSSanté operators
	// commonly accept 10 to 25 MB).
	MaxMessageBytes int64
	// QuotaBytes bounds a mailbox's stored mail; 0 for none (default 10 GiB).
	QuotaBytes int64
	// User and Address rate-limit SMTP AUTH per username typed and per client address, with
	// the progressive delays of sign-in (auth.Policy).
	User    auth.Policy
	Address auth.Policy
	// NoticeDelay: a patient is told of new mail this long after it came (0: at the next
	// notice run, every 30 s), so that a burst of messages makes one e-mail.
	NoticeDelay time.Duration
	// OperatorCertificates: the relay takes mail from another operator only over TLS with
	// that operator's client certificate, verified by the listener against the health PKI's
	// roots, whose subject is the DN the allowlist publishes for the sending domain
	// (DNCertificatOperateur). Off, the sending domain alone is checked (a development
	// machine, with no certificate of the health PKI).
	OperatorCertificates bool
}

// DefaultConfig returns our defaults for domain.
func DefaultConfig(domain string) Config {
	a := auth.DefaultConfig()
	return Config{Domain: domain, MaxMessageBytes: 20 << 20, QuotaBytes: 10 << 30, User: a.Identifier, Address: a.Address}
}

// Deps are what the service needs.
type Deps struct {
	Store    Store
	Blobs    blob.Store
	Clock    clock.Clock
	Key      []byte          // DeriveKey of the master key: rate-limit keys
	Password password.Params // argon2id of the app passwords made before the keyed hash (apppass.go), still checked
	Config   Config
	Log      *slog.Logger
	// Inspectors act on what messages delivered to patients carry (inspect.go).
	Inspectors []Inspector
}

// Service runs mailboxes and the acceptance of messages.
type Service struct {
	store  Store
	blobs  blob.Store
	clock  clock.Clock
	key    []byte
	params password.Params
	cfg    Config
	log    *slog.Logger

	inspectors []Inspector
}

// DeriveKey derives this package's key (rate-limit keys) from the master key (RFC 5869).
func DeriveKey(master []byte) ([]byte, error) {
	if len(master) < 32 {
		return nil, errs.E(errs.Invalid, "master key too short: %d bytes, want 32", len(master))
	}
	return hkdf.Key(sha256.New, master, nil, "carnet mail v1", 32)
}

// NewService returns the service.
func NewService(d Deps) (*Service, error) {
	if d.Store == nil || d.Blobs == nil || d.Clock == nil {
		return nil, errs.E(errs.Internal, "mail: a store, a blob store and a clock are required")
	}
	if len(d.Key) < 32 {
		return nil, errs.E(errs.Internal, "mail: a key of 32 bytes is required")
	}
	c := d.Config
	c.Domain = strings.ToLower(strings.TrimSpace(c.Domain))
	if err := checkDomain(c.Domain); err != nil {
		return nil, errs.E(errs.Invalid, "mail: the mail domain %q is not a domain name", c.Domain)
	}
	if c.Hostname == "" {
		c.Hostname = c.Domain
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 20 << 20
	}
	def := DefaultConfig(c.Domain)
	if c.User.Free == 0 {
		c.User = def.User
	}
	if c.Address.Free == 0 {
		c.Address = def.Address
	}
	if err := d.Password.Validate(); err != nil {
		return nil, err
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Service{store: d.Store, blobs: d.Blobs, clock: d.Clock, key: d.Key, params: d.Password, cfg: c, log: d.Log,
		inspectors: d.Inspectors}, nil
}

// Config returns the configuration in force.
func (s *Service) Config() Config { return s.cfg }

// PatientDomain is the domain of this operator's patient mailboxes.
func (s *Service) PatientDomain() string { return PatientDomainPrefix + s.cfg.Domain }

// IsLocal reports whether a domain is one of this operator's.
func (s *Service) IsLocal(domain string) bool {
	return domain == s.cfg.Domain || domain == s.PatientDomain()
}

// PatientAddress is the mailbox address of the patient of this INS matricule.
func (s *Service) PatientAddress(matricule string) Address {
	return Address{Local: strings.ToLower(matricule), Domain: s.PatientDomain()}
}

func (s *Service) do(ctx context.Context, by By, action, object string, act func(Tx, *audit.Entry) error) error {
	e := audit.Entry{At: s.clock.Now(), Actor: by.Actor, Channel: by.Channel, Action: action, Object: object}
	return audit.Do(ctx, s.store.UpdateMail, e, act)
}
