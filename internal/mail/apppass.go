package mail

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
)

// AppPassword is a password for one mail client of one mailbox: created by the mailbox's
// owner (or an ORG member, for themselves), shown once, revocable. Only a keyed hash of it is
// kept (hashAppPassword); its first characters (PublicID) find it.
type AppPassword struct {
	ID             int64
	PublicID       string
	MailboxID      int64
	ProfessionalID int64 // the holder: PER owner or ORG member; 0 for an APP mailbox's software
	Label          string
	Hash           string
	CreatedAt      time.Time
	LastUsedAt     time.Time
	RevokedAt      time.Time
}

// An app password is 32 base32 characters (160 bits), shown in groups of four: the first 8
// are its public id, the other 24 (120 bits) its secret. Mail clients store it; people paste
// it; spaces, dashes and case are ignored when it is checked.
const (
	publicIDLen = 8
	passwordLen = 32
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func newAppPassword() (plain, publicID string) {
	var b [20]byte
	rand.Read(b[:])
	s := b32.EncodeToString(b[:])
	var groups []string
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:i+4])
	}
	return strings.Join(groups, "-"), s[:publicIDLen]
}

// normalisePassword undoes the grouping; ok is false when s cannot be an app password.
func normalisePassword(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() <= passwordLen; i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ':
		case c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case c >= 'A' && c <= 'Z', c >= '2' && c <= '7':
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	return b.String(), b.Len() == passwordLen
}

// CreateAppPassword makes a new password for mailbox, held by the professional holder (an
// IdNat_PS: the owner of a PER mailbox, a member of an ORG one; "" for an APP mailbox's
// software), and returns it in clear, once.
func (s *Service) CreateAppPassword(ctx context.Context, by By, mailbox, holder, label string) (string, AppPassword, error) {
	plain, publicID := newAppPassword()
	norm, _ := normalisePassword(plain)
	p := AppPassword{PublicID: publicID, Label: strings.TrimSpace(label), Hash: s.hashAppPassword(norm), CreatedAt: s.clock.Now()}
	err := s.do(ctx, by, "mailbox.app_password_create", "mailbox/"+mailbox, func(tx Tx, e *audit.Entry) error {
		if p.Label == "" || len(p.Label) > 100 || strings.ContainsAny(p.Label, "\r\n") {
			return errs.E(errs.Invalid, "an app password needs a label of one line (the mail client it is for)")
		}
		m, err := s.mailbox(ctx, tx, mailbox)
		if err != nil {
			return err
		}
		if !m.DisabledAt.IsZero() {
			return errs.E(errs.Conflict, "the mailbox is disabled")
		}
		p.MailboxID = m.ID
		switch m.Kind {
		case PAT:
			return errs.E(errs.Invalid, "a patient reads and answers their mail in their space, not with a mail client")
		case APP:
			if holder != "" {
				return errs.E(errs.Invalid, "an applicative (APP) mailbox's password belongs to its software, not to a person")
			}
		default:
			pro, err := tx.ProfessionalByIdNat(ctx, holder)
			if err != nil {
				return err
			}
			ok := m.Kind == PER && pro.ID == m.ProfessionalID
			if m.Kind == ORG {
				if ok, err = tx.IsMember(ctx, m.ID, pro.ID); err != nil {
					return err
				}
			}
			if !ok {
				return errs.E(errs.Forbidden, "only the owner of a PER mailbox, or a member of an ORG one, may hold its passwords")
			}
			p.ProfessionalID = pro.ID
		}
		e.Detail = "app_password=" + publicID
		return tx.InsertAppPassword(ctx, &p)
	})
	if err != nil {
		return "", AppPassword{}, err
	}
	p.Hash = ""
	return plain, p, nil
}

// RevokeAppPassword revokes a mailbox's password by its public id.
func (s *Service) RevokeAppPassword(ctx context.Context, by By, mailbox, publicID string) error {
	return s.do(ctx, by, "mailbox.app_password_revoke", "mailbox/"+mailbox, func(tx Tx, e *audit.Entry) error {
		m, err := s.mailbox(ctx, tx, mailbox)
		if err != nil {
			return err
		}
		p, _, err := tx.AppPassword(ctx, strings.ToUpper(publicID))
		if err != nil || p.MailboxID != m.ID {
			return errs.E(errs.NotFound, "no such app password for this mailbox")
		}
		e.Detail = "app_password=" + p.PublicID
		return tx.RevokeAppPassword(ctx, m.ID, p.ID, s.clock.Now())
	})
}

// Sender is who submits mail once authenticated: a mailbox, and the professional holding the
// password (none for an APP mailbox).
type Sender struct {
	Mailbox      Mailbox
	Professional account.Professional // zero for an APP mailbox
	PasswordID   string               // public id of the password used
}

// Actor is the sender as traces name them.
func (s Sender) Actor() audit.Actor {
	if s.Professional.ID != 0 {
		return audit.Actor{Kind: audit.ActorProfessional, ID: s.Professional.IdNat.String(), Name: s.Professional.DisplayName(),
			Org: s.Mailbox.Address.String()}
	}
	return audit.Actor{Kind: audit.ActorApp, ID: s.Mailbox.Address.String(), Name: s.Mailbox.DisplayName}
}

// AuthFailed is the one answer to an unknown mailbox, an unknown or revoked password, a wrong
// one and a disabled mailbox alike.
func AuthFailed() error {
	return refuse(ReasonAuthFailed, "authentication credentials invalid")
}

// Authenticate checks an SMTP AUTH (or IMAP LOGIN) username, the mailbox address, and an app
// password, from a client at addr (an IP address). As for sign-in (auth.Service.SignIn):
// an unknown account gets the same answer and costs the same work as a wrong password; the attempt counts, before the check, on a key of the username as typed and on
// one of the client address, each with progressive delays; a throttled attempt is refused
// before any look-up, with how long to wait.
func (s *Service) Authenticate(ctx context.Context, username, pass, addr string) (Sender, error) {
	if len(username) > maxAddress || len(pass) > 256 {
		return Sender{}, AuthFailed()
	}
	user := strings.ToLower(strings.TrimSpace(username))
	userL := limit{"smtp-user:" + s.mac("user", user)[:32], s.cfg.User}
	addrL := limit{"smtp-addr:" + s.mac("addr", addrPrefix(addr))[:32], s.cfg.Address}
	if err := s.admit(ctx, userL, addrL); err != nil {
		return Sender{}, err
	}
	norm, shaped := normalisePassword(pass)
	var (
		p     AppPassword
		m     Mailbox
		pro   account.Professional
		found bool
	)
	if shaped {
		err := s.store.ViewMail(ctx, func(tx Tx) error {
			var err error
			p, m, err = tx.AppPassword(ctx, norm[:publicIDLen])
			if err != nil {
				return err
			}
			if p.ProfessionalID != 0 {
				pro, err = tx.ProfessionalByID(ctx, p.ProfessionalID)
			}
			return err
		})
		if err != nil && !errs.Is(err, errs.NotFound) {
			return Sender{}, err
		}
		found = err == nil
	}
	ok := s.checkAppPassword(norm, p.Hash, found)
	ok = ok && found && m.Address.String() == user && p.RevokedAt.IsZero() && m.DisabledAt.IsZero()
	if !ok {
		s.log.Info("mail authentication refused", "key", userL.key, "client", addrL.key)
		return Sender{}, AuthFailed()
	}
	now := s.clock.Now()
	err := s.store.UpdateMail(ctx, func(tx Tx) error {
		if err := s.settle(ctx, tx, []limit{addrL}, []limit{userL}); err != nil {
			return err
		}
		if err := tx.TouchMailbox(ctx, m.ID, now); err != nil {
			return err
		}
		return tx.TouchAppPassword(ctx, p.ID, now)
	})
	if err != nil {
		return Sender{}, err
	}
	return Sender{Mailbox: m, Professional: pro, PasswordID: p.PublicID}, nil
}

// appPasswordScheme marks the hashes of app passwords made since the keyed hash; older ones
// are argon2id ("$argon2id$…") and are still checked as such.
const appPasswordScheme = "hmac-sha256$"

// hashAppPassword is what the store keeps of an app password: an HMAC-SHA-256 under the
// mail key (derived from the seal key, which is kept apart from the data), as API tokens keep
// a digest of theirs. A slow hash (argon2id) protects passwords people choose, which a
// dictionary can reach; an app password is 120 random secret bits that no dictionary holds,
// and whoever steals the table still lacks the key. Slow hashing them only made every mail
// client's login cost ~40 ms of CPU and 19 MiB (IMAP sessions under load, bench/mixload).
func (s *Service) hashAppPassword(norm string) string {
	return appPasswordScheme + s.mac("app-password", norm)
}

// checkAppPassword compares norm with a stored hash in constant time. An unknown password
// costs the same as a wrong one: a hash is computed and compared either way.
func (s *Service) checkAppPassword(norm, stored string, found bool) bool {
	if found && !strings.HasPrefix(stored, appPasswordScheme) {
		// A password made before the keyed hash: argon2id, checked as it was made.
		ok, _, err := s.params.Verify(norm, stored)
		return err == nil && ok
	}
	want := s.hashAppPassword(norm)
	if !found {
		stored = appPasswordScheme + strings.Repeat("0", len(want)-len(appPasswordScheme))
	}
	return hmac.Equal([]byte(want), []byte(stored)) && found
}

// addrPrefix counts by IPv4 address or IPv6 /64, as sign-in does; an unreadable address
// shares one key.
func addrPrefix(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return "unknown"
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func (s *Service) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(strconv.Itoa(len(p)) + ":" + p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// limit is a rate-limit key and its policy. The rules are sign-in's (auth.Policy): the first
// Free attempts in a row go through, then each waits Base, doubling up to Max; the count is
// taken before the check and given back when it succeeds; no lock-out.
type limit struct {
	key    string
	policy auth.Policy
}

func delay(p auth.Policy, n int) time.Duration {
	if n < p.Free {
		return 0
	}
	shift := n - p.Free
	if shift > 30 {
		return p.Max
	}
	d := p.Base << shift
	if d > p.Max || d <= 0 {
		return p.Max
	}
	return d
}

// admit counts an attempt on every key, or refuses it when one is still waiting out its
// delay (and then counts nothing). Keys are locked in one order.
func (s *Service) admit(ctx context.Context, limits ...limit) error {
	sorted := slices.SortedFunc(slices.Values(limits), func(a, b limit) int { return strings.Compare(a.key, b.key) })
	err := s.store.UpdateMail(ctx, func(tx Tx) error {
		states := make([]auth.ThrottleState, len(sorted))
		for i, l := range sorted {
			st, err := tx.LockThrottle(ctx, l.key)
			if err != nil {
				return err
			}
			states[i] = st
		}
		// Read once every key is locked (see auth's admit): a login that waited for a lock
		// judges the delay a concurrent one just wrote by the time after it.
		now := s.clock.Now()
		var wait time.Duration
		for i, l := range sorted {
			st := states[i]
			if !st.LastAt.IsZero() && now.Sub(st.LastAt) >= l.policy.Window {
				st = auth.ThrottleState{}
			}
			wait = max(wait, st.NextAt.Sub(now))
			states[i] = st
		}
		if wait > 0 {
			return &auth.Throttled{RetryAfter: wait}
		}
		for i, l := range sorted {
			st := states[i]
			st.Failures++
			st.LastAt, st.NextAt = now, now.Add(delay(l.policy, st.Failures))
			if err := tx.SaveThrottle(ctx, l.key, st); err != nil {
				return err
			}
		}
		return nil
	})
	var t *auth.Throttled
	if errors.As(err, &t) {
		wait, _ := auth.RetryAfter(t)
		s.log.Warn("mail authentication throttled", "wait", wait)
		r := refuse(ReasonThrottled, "too many failed attempts: try again in %s", wait).(*Refusal)
		r.RetryAfter = wait
		return r
	}
	return err
}

// settle gives back the attempt of a successful check on release, and forgets the failures
// of clear (the username, once its owner proved themselves).
func (s *Service) settle(ctx context.Context, tx Tx, release, clear []limit) error {
	cleared := map[string]bool{}
	for _, l := range clear {
		cleared[l.key] = true
	}
	all := slices.SortedFunc(slices.Values(append(slices.Clone(release), clear...)), func(a, b limit) int { return strings.Compare(a.key, b.key) })
	for _, l := range all {
		if cleared[l.key] {
			if err := tx.DeleteThrottle(ctx, l.key); err != nil {
				return err
			}
			continue
		}
		st, err := tx.LockThrottle(ctx, l.key)
		if err != nil {
			return err
		}
		if st.Failures > 0 {
			st.Failures--
		}
		st.NextAt = st.LastAt.Add(delay(l.policy, st.Failures))
		if err := tx.SaveThrottle(ctx, l.key, st); err != nil {
			return err
		}
	}
	return nil
}
