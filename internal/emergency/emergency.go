// Package emergency is in charge of the patient's emergency card: a minimal summary of their
// medical profile (allergies, blood group, current treatments, emergency contacts, wishes)
// that whoever holds the card's link reads without signing in, through a QR code the patient
// prints or keeps on their phone.
//
// The patient chooses what the card shows, section by section and item by item, and turns it
// on and off. Items hidden from professionals (MASQUE_PS) are not on the card unless the
// patient ticks them on the card's own page: hiding an item says "not to strangers", and a
// rescuer is one. The link holds a random token of 160 bits, kept only as its SHA-256 hash;
// renewing the link replaces the hash, so the old link is unknown at once.
//
// Every scan of a known card is decided through internal/access (ActionReadEmergencyCard, the
// public with the card on and the current token) and traced on the patient's chain, naming the
// network the scan came from (an IPv4 /24 or IPv6 /64, never the address nor the token); the
// patient is told "your card was read", with nothing of it, at most once a day. A token that
// finds no card names no patient: nothing is traced and the answer is the same plain 404.
package emergency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/space"
)

// Sections are the sections a card may show, in the card's order: what a rescuer needs first.
func Sections() []profile.Section {
	return []profile.Section{profile.SectionAllergies, profile.SectionBloodGroup, profile.SectionTreatments,
		profile.SectionEmergencyContacts, profile.SectionWishes}
}

// CardSection reports whether s is one of the sections a card may show.
func CardSection(s profile.Section) bool { return slices.Contains(Sections(), s) }

// Choice is the patient's choice for one item.
type Choice string

const (
	// Hide unticks an item of a section the card shows.
	Hide Choice = "hide"
	// Show ticks an item hidden from professionals, which the card leaves out otherwise.
	Show Choice = "show"
)

// Card is a patient's emergency card as stored.
type Card struct {
	PatientID int64
	On        bool
	// Sections are the sections shown, in the card's order.
	Sections []profile.Section
	// Choices are the patient's choices item by item (profile item id → choice); an item
	// without a choice is shown unless it is hidden from professionals.
	Choices   map[string]Choice
	IssuedAt  time.Time // when the current token was made
	UpdatedAt time.Time
	// NoticeDay is the UTC day (YYYYMMDD) the last "your card was read" notice was queued.
	NoticeDay string
}

// Shows reports whether the card shows it: an active item of a section the card shows, not
// unticked, and, if the patient hid it from professionals, ticked for the card.
func (c *Card) Shows(it *profile.Item) bool {
	if it.PatientID != c.PatientID || it.Status != profile.Active || !slices.Contains(c.Sections, it.Section) {
		return false
	}
	if it.Hidden {
		return c.Choices[it.ID] == Show
	}
	return c.Choices[it.ID] != Hide
}

// Ref names a card in traces.
const Ref = "emergency-card"

// Tx is what the service needs of a store transaction.
type Tx interface {
	access.DecisionTx
	// QueueNotice is access.Teller's: a notice for the patient.
	QueueNotice(ctx context.Context, patientID int64, key string, notBefore, now time.Time) error
	// EmergencyCard returns the patient's card; NotFound when they have none.
	EmergencyCard(ctx context.Context, patientID int64) (Card, error)
	// EmergencyCardByHash returns the card of a token's hash and the hash as stored; NotFound
	// when no card has it.
	EmergencyCardByHash(ctx context.Context, hash []byte) (Card, []byte, error)
	// PutEmergencyCard stores c (choices included, replacing those stored); hash replaces the
	// token's hash when not nil. A new card needs one.
	PutEmergencyCard(ctx context.Context, c *Card, hash []byte) error
	// SetEmergencyCardNoticeDay records the day of the last scan notice.
	SetEmergencyCardNoticeDay(ctx context.Context, patientID int64, day string) error
	// ProfileItems is profile.Tx's: the items of a query, hidden ones included.
	ProfileItems(ctx context.Context, q profile.Query) ([]profile.Item, error)
	// Patient returns the patient's identity, Space their space's state.
	Patient(ctx context.Context, id int64) (space.Patient, error)
	Space(ctx context.Context, patientID int64) (space.Space, error)
}

// Store opens transactions.
type Store interface {
	UpdateEmergency(ctx context.Context, fn func(Tx) error) error
	ViewEmergency(ctx context.Context, fn func(Tx) error) error
}

// Service keeps the cards.
type Service struct {
	store   Store
	access  *access.Service
	profile *profile.Service
	clock   clock.Clock
}

// NewService returns the service.
func NewService(st Store, acc *access.Service, prof *profile.Service, clk clock.Clock) (*Service, error) {
	if st == nil || acc == nil || prof == nil || clk == nil {
		return nil, errs.E(errs.Internal, "emergency card service: store, access, profile and clock are required")
	}
	return &Service{store: st, access: acc, profile: prof, clock: clk}, nil
}

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// TokenLen is the length of a token: 20 random bytes (160 bits) in base32, lower case.
const TokenLen = 32

// ParseToken returns a token as hashed (lower case), from a link's path where a QR code
// reader may have put it in upper case; ok is false when it cannot be a token.
func ParseToken(s string) (string, bool) {
	if len(s) != TokenLen {
		return "", false
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + ('a' - 'A')
		case c >= 'a' && c <= 'z', c >= '2' && c <= '7':
		default:
			return "", false
		}
	}
	return string(b), true
}

func newToken() (string, error) {
	var raw [20]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	return strings.ToLower(enc.EncodeToString(raw[:])), nil
}

func hashOf(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// holder checks that by is the patient themselves: the card speaks for them to strangers,
// which is theirs alone to decide (our default: a representative does not).
func holder(by access.Actor, patientID int64) error {
	if by.Kind != audit.ActorPatient || by.PatientID != patientID || by.ID == "" || patientID == 0 {
		return errs.E(errs.Forbidden, "only the patient manages their emergency card")
	}
	return nil
}

// Get returns the patient's card; ok is false when they never turned one on.
func (s *Service) Get(ctx context.Context, by access.Actor, patientID int64) (c Card, ok bool, err error) {
	if err := holder(by, patientID); err != nil {
		return Card{}, false, err
	}
	err = s.store.ViewEmergency(ctx, func(tx Tx) error {
		c, err = tx.EmergencyCard(ctx, patientID)
		return err
	})
	if errs.Is(err, errs.NotFound) {
		return Card{PatientID: patientID, Sections: Sections()}, false, nil
	}
	return c, err == nil, err
}

// Candidates returns the items of the patient's profile in the card's sections, hidden ones
// included, for the patient to choose from: read through the profile service (decided and
// traced as the patient's reading of their profile).
func (s *Service) Candidates(ctx context.Context, r profile.Request, patientID int64) ([]profile.Item, error) {
	if err := holder(r.Actor, patientID); err != nil {
		return nil, err
	}
	page, err := s.profile.List(ctx, r, profile.Query{PatientID: patientID, Sections: Sections(), Limit: profile.MaxLimit})
	if err != nil {
		return nil, err
	}
	return page.Items, nil
}

// change runs fn on the patient's card in a transaction that traces action.
func (s *Service) change(ctx context.Context, by access.Actor, ch audit.Channel, patientID int64, action string,
	fn func(tx Tx, now time.Time) error) error {
	if err := holder(by, patientID); err != nil {
		return err
	}
	now := s.clock.Now()
	e := audit.Entry{At: now, Actor: by.Audit(), Channel: ch, Action: action, PatientID: patientID, Object: Ref,
		Outcome: audit.Allowed, Reason: string(access.ReasonSelf)}
	return audit.Do(ctx, s.store.UpdateEmergency, e, func(tx Tx, _ *audit.Entry) error { return fn(tx, now) })
}

// TurnOn turns the patient's card on. A patient who never had one gets a new card showing
// every section and a new token, returned once (never stored nor shown again); a card turned
// off comes back with its link as it was, so the printed card works again, and token is "".
func (s *Service) TurnOn(ctx context.Context, by access.Actor, ch audit.Channel, patientID int64) (token string, err error) {
	err = s.change(ctx, by, ch, patientID, "emergency_card.on", func(tx Tx, now time.Time) error {
		c, err := tx.EmergencyCard(ctx, patientID)
		switch {
		case errs.Is(err, errs.NotFound):
			if token, err = newToken(); err != nil {
				return err
			}
			c = Card{PatientID: patientID, On: true, Sections: Sections(), Choices: map[string]Choice{}, IssuedAt: now, UpdatedAt: now}
			return tx.PutEmergencyCard(ctx, &c, hashOf(token))
		case err != nil:
			return err
		}
		c.On, c.UpdatedAt = true, now
		return tx.PutEmergencyCard(ctx, &c, nil)
	})
	return token, err
}

// TurnOff turns the card off: its link answers as an unknown one until the patient turns it
// on again.
func (s *Service) TurnOff(ctx context.Context, by access.Actor, ch audit.Channel, patientID int64) error {
	return s.change(ctx, by, ch, patientID, "emergency_card.off", func(tx Tx, now time.Time) error {
		c, err := tx.EmergencyCard(ctx, patientID)
		if err != nil {
			return err
		}
		c.On, c.UpdatedAt = false, now
		return tx.PutEmergencyCard(ctx, &c, nil)
	})
}

// Renew gives the card a new token, returned once; the old link stops at once. The card stays
// on or off as it was.
func (s *Service) Renew(ctx context.Context, by access.Actor, ch audit.Channel, patientID int64) (token string, err error) {
	err = s.change(ctx, by, ch, patientID, "emergency_card.renew", func(tx Tx, now time.Time) error {
		c, err := tx.EmergencyCard(ctx, patientID)
		if err != nil {
			return err
		}
		if token, err = newToken(); err != nil {
			return err
		}
		c.IssuedAt, c.UpdatedAt = now, now
		return tx.PutEmergencyCard(ctx, &c, hashOf(token))
	})
	return token, err
}

// MaxChoices bounds the choices of one card: far more items than a profile's sections hold.
const MaxChoices = 2000

// Save sets what the card shows: its sections, and the choices item by item. An unknown
// section or choice is refused (Invalid) and changes nothing.
func (s *Service) Save(ctx context.Context, by access.Actor, ch audit.Channel, patientID int64,
	sections []profile.Section, choices map[string]Choice) error {
	var keep []profile.Section
	for _, sec := range Sections() {
		if slices.Contains(sections, sec) {
			keep = append(keep, sec)
		}
	}
	for _, sec := range sections {
		if !CardSection(sec) {
			return errs.E(errs.Invalid, "the emergency card has no section %q", string(sec))
		}
	}
	if len(choices) > MaxChoices {
		return errs.E(errs.Invalid, "too many choices: at most %d", MaxChoices)
	}
	for id, c := range choices {
		if c != Hide && c != Show || id == "" || len(id) > 128 {
			return errs.E(errs.Invalid, "a choice is either hide or show, for an item id")
		}
	}
	return s.change(ctx, by, ch, patientID, "emergency_card.settings", func(tx Tx, now time.Time) error {
		c, err := tx.EmergencyCard(ctx, patientID)
		if err != nil {
			return err
		}
		c.Sections, c.Choices, c.UpdatedAt = keep, choices, now
		return tx.PutEmergencyCard(ctx, &c, nil)
	})
}

// View is what the public card page shows.
type View struct {
	// GivenName (the first given name), FamilyName (the used name, else the birth name) and
	// BirthYear: enough for a rescuer to tell that the card is this person's and how old they
	// are; not an identity document (no full date of birth, no INS, no address).
	GivenName, FamilyName string
	BirthYear             int
	Sections              []SectionView
}

// SectionView is a section of the card with the items it shows.
type SectionView struct {
	Section profile.Section
	Items   []profile.Item
}

// NoticeKeyPrefix starts the outbox key of the notice telling the patient their card was read
// (internal/jobs maps it to space.NoticeEmergencyCard).
const NoticeKeyPrefix = "card-read-"

// Reader returns the actor of a scan from the client's address: the public, named by its
// network (IPv4 /24, IPv6 /64) so that the trail can tell one place from another without
// keeping the address.
func Reader(remote string) access.Actor {
	net := Prefix(remote)
	return access.Actor{Kind: audit.ActorPublic, ID: net, Name: "Personne non connectée, réseau " + net}
}

// Prefix returns the network of an address ("host:port" or a bare address): its IPv4 /24 or
// IPv6 /64, "unknown" when it is no address.
func Prefix(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	a := ap.Addr()
	if err != nil {
		if a, err = netip.ParseAddr(remote); err != nil {
			return "unknown"
		}
	}
	a = a.Unmap().WithZone("")
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return "unknown"
	}
	return p.String()
}

// dummy is compared with the hash of a token that finds no card, so that such an answer does
// the same work as one that finds a card.
var dummy = hashOf(strings.Repeat("a", TokenLen))

// Read answers the scan of a card's link by reader (Reader): the card as the patient chose it,
// decided and traced on the patient's chain (allowed or refused), with the "your card was
// read" notice queued at most once a day. A token that is malformed, unknown, replaced, or of
// a card turned off is NotFound, the same error for all.
func (s *Service) Read(ctx context.Context, reader access.Actor, ch audit.Channel, token string) (View, error) {
	notFound := errs.E(errs.NotFound, "no such emergency card")
	tok, ok := ParseToken(token)
	if !ok {
		tok = strings.Repeat("a", TokenLen)
	}
	hash := hashOf(tok)
	var (
		c      Card
		stored []byte
	)
	err := s.store.ViewEmergency(ctx, func(tx Tx) error {
		var err error
		c, stored, err = tx.EmergencyCardByHash(ctx, hash)
		return err
	})
	if errs.Is(err, errs.NotFound) {
		subtle.ConstantTimeCompare(hash, dummy)
		return View{}, notFound
	}
	if err != nil {
		return View{}, err
	}
	match := ok && subtle.ConstantTimeCompare(stored, hash) == 1
	var v View
	target := access.Target{Ref: Ref, Card: access.Card{On: c.On, TokenMatches: match}}
	_, err = access.Do(ctx, s.access, s.store.UpdateEmergency, reader, ch, c.PatientID, access.ActionReadEmergencyCard, target, nil,
		func(tx Tx, _ access.Decision) error {
			// The card as this transaction sees it: turned off or renewed since it was found,
			// it is not read (the failure is traced).
			cur, st, err := tx.EmergencyCardByHash(ctx, hash)
			if err != nil {
				return err
			}
			if cur.PatientID != c.PatientID || !cur.On || subtle.ConstantTimeCompare(st, hash) != 1 {
				return notFound
			}
			// A space closed (or not yet open) shows nothing, its card included.
			if sp, err := tx.Space(ctx, c.PatientID); err != nil {
				return err
			} else if sp.State != space.Open {
				return notFound
			}
			if v, err = s.view(ctx, tx, &cur); err != nil {
				return err
			}
			return s.tell(ctx, tx, &cur)
		})
	if err != nil {
		if errs.Is(err, errs.NotFound) || access.RefusalOf(err) != "" {
			return View{}, notFound
		}
		return View{}, err
	}
	return v, nil
}

// view reads what the card shows.
func (s *Service) view(ctx context.Context, tx Tx, c *Card) (View, error) {
	p, err := tx.Patient(ctx, c.PatientID)
	if err != nil {
		return View{}, err
	}
	v := View{GivenName: strings.Fields(p.GivenNames + " ")[0], FamilyName: p.UsedName, BirthYear: p.BirthDate.Year()}
	if strings.TrimSpace(v.FamilyName) == "" {
		v.FamilyName = p.BirthName
	}
	for _, sec := range c.Sections {
		items, err := tx.ProfileItems(ctx, profile.Query{PatientID: c.PatientID, Sections: []profile.Section{sec}, Limit: profile.MaxLimit})
		if err != nil {
			return View{}, err
		}
		sv := SectionView{Section: sec}
		for i := range items {
			if c.Shows(&items[i]) {
				sv.Items = append(sv.Items, items[i])
			}
		}
		v.Sections = append(v.Sections, sv)
	}
	return v, nil
}

// tell queues the "your card was read" notice, once a day: the outbox drops a key only when
// it sends it, so the card remembers the day of the last one.
func (s *Service) tell(ctx context.Context, tx Tx, c *Card) error {
	now := s.clock.Now()
	day := now.UTC().Format("20060102")
	if c.NoticeDay == day {
		return nil
	}
	if err := tx.QueueNotice(ctx, c.PatientID, NoticeKeyPrefix+day, now, now); err != nil {
		return err
	}
	return tx.SetEmergencyCardNoticeDay(ctx, c.PatientID, day)
}
