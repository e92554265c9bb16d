// Package share lets a patient give the summary of their medical profile to a professional by
// a one-time code (or the link that carries it): the code is random (128 bits), shown to the
// patient once and kept only as its SHA-256 hash, good for one use within its lifetime (24
// hours by default), revocable until then. Creating, revoking and using a code are traced in
// the patient's trail, the use naming the professional who used it.
//
// The code is the patient's consent to give this summary: the professional who uses it needs
// no ground of their own, and the summary they receive is the one the patient would download
// (read, decided and traced as the patient's reading of their profile).
package share

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Share is a code given to a professional.
type Share struct {
	ID        string
	PatientID int64
	// CreatedBy is the holder who created it: the summary is read as theirs.
	CreatedBy            audit.Actor
	CreatedAt, ExpiresAt time.Time
	// UsedAt, UsedBy: when and by whom (the professional's IdNat_PS and name) it was used;
	// zero until then. RevokedAt: when the patient revoked it, zero when they did not.
	UsedAt    time.Time
	UsedBy    string
	RevokedAt time.Time
}

// State is what a share is at a time.
type State string

const (
	Active  State = "active"
	Used    State = "used"
	Expired State = "expired"
	Revoked State = "revoked"
)

// StateAt says what the share is at now.
func (s *Share) StateAt(now time.Time) State {
	switch {
	case !s.UsedAt.IsZero():
		return Used
	case !s.RevokedAt.IsZero():
		return Revoked
	case !now.Before(s.ExpiresAt):
		return Expired
	}
	return Active
}

// Ref names the share in traces.
func (s *Share) Ref() string { return "profile-share/" + s.ID }

// Tx is what the service needs of a store transaction.
type Tx interface {
	AppendTrace(ctx context.Context, e audit.Entry) (audit.Trace, error)
	// InsertProfileShare stores s with the hash of its code.
	InsertProfileShare(ctx context.Context, s *Share, hash []byte) error
	// ProfileShareByHash returns the share of a code's hash, locked for update where the
	// database can; NotFound when there is none.
	ProfileShareByHash(ctx context.Context, hash []byte) (Share, error)
	// ProfileShares returns the patient's shares, newest first, at most limit.
	ProfileShares(ctx context.Context, patientID int64, limit int) ([]Share, error)
	// UseProfileShare marks the share used at at by who, if it is still active then; it
	// reports whether it did.
	UseProfileShare(ctx context.Context, id string, at time.Time, who string) (bool, error)
	// RevokeProfileShare marks the patient's share revoked at at, if it is still active then;
	// it reports whether it did.
	RevokeProfileShare(ctx context.Context, patientID int64, id string, at time.Time) (bool, error)
}

// Store opens transactions.
type Store interface {
	UpdateShares(ctx context.Context, fn func(Tx) error) error
	ViewShares(ctx context.Context, fn func(Tx) error) error
}

// DefaultLifetime is how long a code is good for: a day, time to see the professional it was
// made for. Our default.
const DefaultLifetime = 24 * time.Hour

// MaxActive bounds the codes a patient has active at once: each is a way into their summary.
const MaxActive = 10

// Service keeps the shares.
type Service struct {
	store    Store
	clock    clock.Clock
	lifetime time.Duration
}

// NewService returns the service; a lifetime of zero is DefaultLifetime.
func NewService(st Store, clk clock.Clock, lifetime time.Duration) (*Service, error) {
	if st == nil || clk == nil {
		return nil, errs.E(errs.Internal, "share service: store and clock are required")
	}
	if lifetime <= 0 {
		lifetime = DefaultLifetime
	}
	return &Service{store: st, clock: clk, lifetime: lifetime}, nil
}

// Lifetime is how long a new code is good for.
func (s *Service) Lifetime() time.Duration { return s.lifetime }

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// codeLen is the length of a code's characters: 16 random bytes in base32.
const codeLen = 26

// Normalize returns a code as stored (its hash's input): upper case, without the spaces and
// dashes people type; ok is false when it cannot be a code.
func Normalize(code string) (string, bool) {
	var b strings.Builder
	for _, r := range code {
		switch {
		case r == '-' || r == ' ':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		if !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7') {
			return "", false
		}
		b.WriteRune(r)
		if b.Len() > codeLen {
			return "", false
		}
	}
	if b.Len() != codeLen {
		return "", false
	}
	return b.String(), true
}

// Format writes a code in groups of four characters, easier to read out and type.
func Format(code string) string {
	var parts []string
	for len(code) > 4 {
		parts = append(parts, code[:4])
		code = code[4:]
	}
	return strings.Join(append(parts, code), "-")
}

func hashOf(code string) []byte {
	h := sha256.Sum256([]byte(code))
	return h[:]
}

// holder checks that the actor is the patient themselves: a code gives away their summary,
// which is theirs to give.
func holder(by access.Actor, patientID int64) error {
	if by.Kind != audit.ActorPatient || by.PatientID != patientID || by.ID == "" {
		return errs.E(errs.Forbidden, "only the patient gives a code to their summary")
	}
	return nil
}

func auditActor(a access.Actor) audit.Actor {
	return audit.Actor{Kind: a.Kind, ID: a.ID, Name: a.Name}
}

// Create makes a code for the patient's summary, traced. It returns the share and the code,
// which is never stored nor shown again.
func (s *Service) Create(ctx context.Context, by access.Actor, ch audit.Channel, patientID int64) (Share, string, error) {
	if err := holder(by, patientID); err != nil {
		return Share{}, "", err
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Share{}, "", err
	}
	code := enc.EncodeToString(raw[:])
	now := s.clock.Now()
	sh := Share{ID: newID(), PatientID: patientID, CreatedBy: auditActor(by), CreatedAt: now, ExpiresAt: now.Add(s.lifetime)}
	err := s.store.UpdateShares(ctx, func(tx Tx) error {
		list, err := tx.ProfileShares(ctx, patientID, 100)
		if err != nil {
			return err
		}
		n := 0
		for i := range list {
			if list[i].StateAt(now) == Active {
				n++
			}
		}
		if n >= MaxActive {
			return errs.E(errs.Conflict, "you have %d codes in use: revoke one first", n)
		}
		if err := tx.InsertProfileShare(ctx, &sh, hashOf(code)); err != nil {
			return err
		}
		_, err = tx.AppendTrace(ctx, audit.Entry{At: now, Actor: sh.CreatedBy, Channel: ch, Action: "profile.share.create",
			PatientID: patientID, Object: sh.Ref(), Outcome: audit.Allowed, Reason: "self"})
		return err
	})
	if err != nil {
		return Share{}, "", err
	}
	return sh, code, nil
}

// List returns the patient's shares, newest first.
func (s *Service) List(ctx context.Context, by access.Actor, patientID int64) ([]Share, error) {
	if err := holder(by, patientID); err != nil {
		return nil, err
	}
	var out []Share
	err := s.store.ViewShares(ctx, func(tx Tx) error {
		var err error
		out, err = tx.ProfileShares(ctx, patientID, 50)
		return err
	})
	return out, err
}

// Revoke ends an active share, traced.
func (s *Service) Revoke(ctx context.Context, by access.Actor, ch audit.Channel, patientID int64, id string) error {
	if err := holder(by, patientID); err != nil {
		return err
	}
	now := s.clock.Now()
	return s.store.UpdateShares(ctx, func(tx Tx) error {
		ok, err := tx.RevokeProfileShare(ctx, patientID, id, now)
		if err != nil {
			return err
		}
		if !ok {
			return errs.E(errs.NotFound, "no code in use with this id")
		}
		_, err = tx.AppendTrace(ctx, audit.Entry{At: now, Actor: auditActor(by), Channel: ch, Action: "profile.share.revoke",
			PatientID: patientID, Object: "profile-share/" + id, Outcome: audit.Allowed, Reason: "self"})
		return err
	})
}

// Use spends a code for the professional by: the share, once. A code that is unknown says
// nothing (NotFound, untraced: it names no patient); one used, expired or revoked is refused
// (Forbidden, with the reason) and the attempt traced in the patient's trail, as is the use.
func (s *Service) Use(ctx context.Context, by access.Actor, ch audit.Channel, code string) (Share, error) {
	if by.Kind != audit.ActorProfessional || by.ID == "" {
		return Share{}, errs.E(errs.Forbidden, "a code is used by a signed-in professional")
	}
	norm, ok := Normalize(code)
	if !ok {
		return Share{}, errs.E(errs.NotFound, "unknown code")
	}
	now := s.clock.Now()
	var (
		sh     Share
		refuse error
	)
	err := s.store.UpdateShares(ctx, func(tx Tx) error {
		var err error
		sh, err = tx.ProfileShareByHash(ctx, hashOf(norm))
		if err != nil {
			return err
		}
		e := audit.Entry{At: now, Actor: auditActor(by), Channel: ch, Action: "profile.share.use", PatientID: sh.PatientID,
			Object: sh.Ref(), Outcome: audit.Allowed, Reason: "share"}
		switch st := sh.StateAt(now); st {
		case Active:
			who := by.ID
			if by.Name != "" {
				who += " " + by.Name
			}
			if ok, err := tx.UseProfileShare(ctx, sh.ID, now, who); err != nil {
				return err
			} else if !ok {
				st = Used
				e.Outcome, e.Reason = audit.Denied, "share_"+string(st)
				refuse = errs.E(errs.Forbidden, "this code was already used")
			} else {
				sh.UsedAt, sh.UsedBy = now, who
			}
		default:
			e.Outcome, e.Reason = audit.Denied, "share_"+string(st)
			refuse = errs.E(errs.Forbidden, "this code was %s", map[State]string{Used: "already used", Expired: "good until " +
				sh.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"), Revoked: "revoked by the patient"}[st])
		}
		_, err = tx.AppendTrace(ctx, e)
		return err
	})
	if errs.Is(err, errs.NotFound) {
		return Share{}, errs.E(errs.NotFound, "unknown code")
	}
	if err != nil {
		return Share{}, err
	}
	if refuse != nil {
		return Share{}, refuse
	}
	return sh, nil
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(enc.EncodeToString(b[:]))
}
