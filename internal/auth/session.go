package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// Session is a signed-in browser, as stored (without its secret).
type Session struct {
	ID           string // public: the first 16 hex digits of the secret's hash; what lists and revocation name
	AccountID    int64
	Method       Method // the second factor that opened it
	CreatedAt    time.Time
	LastSeenAt   time.Time
	ExpiresAt    time.Time // absolute end, whatever the use
	RevokedAt    time.Time
	RevokeReason string
	ClientAddr   string
	UserAgent    string // cut to 200 bytes: lets a person tell their devices apart in the list
	// Current is set in listings on the session of the request.
	Current bool
}

// Identity is who a request is from: the principal and their session. The HTTP middleware
// puts it in the request's context (FromContext).
type Identity struct {
	Principal
	Session Session
	hash    string // the session's stored hash
	csrf    string // the CSRF token of the session (see CSRFToken)
}

// Actor is the identity as the access decision sees it.
func (i Identity) Actor() access.Actor { return i.Principal.Actor() }

func notSignedIn() error {
	return errs.E(errs.Unauthenticated, "you are not signed in, or your session has ended")
}

// Authenticate resolves a session secret (the cookie's value) to its identity. A session
// ends when revoked, when unused for Config.IdleTimeout, at Config.AbsoluteTimeout after its
// sign-in, or when its account is disabled; every such case gets the same answer.
func (s *Service) Authenticate(ctx context.Context, secret string) (Identity, error) {
	hash, err := ParseSecret(secret)
	if err != nil {
		return Identity{}, notSignedIn()
	}
	var sess Session
	var p Principal
	err = s.store.ViewAuth(ctx, func(tx Tx) error {
		var err error
		sess, p, err = tx.SessionBy(ctx, hash)
		return err
	})
	if errs.Is(err, errs.NotFound) {
		return Identity{}, notSignedIn()
	}
	if err != nil {
		return Identity{}, err
	}
	now := s.clock.Now()
	if !sess.RevokedAt.IsZero() || p.Disabled || !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.cfg.IdleTimeout {
		return Identity{}, notSignedIn()
	}
	if now.Sub(sess.LastSeenAt) >= s.cfg.TouchEvery {
		err := s.store.UpdateAuth(ctx, func(tx Tx) error { return tx.TouchSession(ctx, hash, now) })
		if err != nil {
			return Identity{}, err
		}
		sess.LastSeenAt = now
	}
	p.PasswordHash = ""
	sess.Current = true
	return Identity{Principal: p, Session: sess, hash: hash, csrf: s.csrfFor(hash)}, nil
}

// Sessions lists the live sessions of the identity's account, the current one marked.
func (s *Service) Sessions(ctx context.Context, id Identity) ([]Session, error) {
	var out []Session
	err := s.store.ViewAuth(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Sessions(ctx, id.AccountID, s.clock.Now())
		return err
	})
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	live := out[:0]
	for _, sess := range out {
		if now.Sub(sess.LastSeenAt) >= s.cfg.IdleTimeout {
			continue
		}
		sess.Current = sess.ID == id.Session.ID
		live = append(live, sess)
	}
	return live, nil
}

// Revoke ends one of the identity's own sessions, named by its public id (from Sessions).
func (s *Service) Revoke(ctx context.Context, id Identity, c Client, sessionID string) error {
	e := s.entry(&id.Principal, c, "auth.session.revoke")
	e.Object = "session/" + sessionID
	e.Detail = "by session " + id.Session.ID
	now := s.clock.Now()
	return audit.Do(ctx, s.store.UpdateAuth, e, func(tx Tx, _ *audit.Entry) error {
		return tx.RevokeSession(ctx, id.AccountID, sessionID, now, "revoked by its owner")
	})
}

// SignOut ends the identity's current session.
func (s *Service) SignOut(ctx context.Context, id Identity, c Client) error {
	e := s.entry(&id.Principal, c, "auth.signout")
	e.Object = "session/" + id.Session.ID
	now := s.clock.Now()
	return audit.Do(ctx, s.store.UpdateAuth, e, func(tx Tx, _ *audit.Entry) error {
		err := tx.RevokeSession(ctx, id.AccountID, id.Session.ID, now, "signed out")
		if errs.Is(err, errs.NotFound) {
			return nil // already ended: signing out again is no error
		}
		return err
	})
}

// SignOutEverywhere ends every session of the identity's account, the current one included,
// and says how many were live.
func (s *Service) SignOutEverywhere(ctx context.Context, id Identity, c Client) (int, error) {
	var n int
	e := s.entry(&id.Principal, c, "auth.signout_everywhere")
	now := s.clock.Now()
	err := audit.Do(ctx, s.store.UpdateAuth, e, func(tx Tx, e *audit.Entry) error {
		var err error
		n, err = tx.RevokeSessions(ctx, id.AccountID, now, "signed out everywhere")
		e.Detail = fmt.Sprintf("sessions=%d by session %s", n, id.Session.ID)
		return err
	})
	return n, err
}

// Rotate gives the identity's session a new id, for a change of privilege (a stronger
// factor, acting for a represented person): the old secret stops working at once, the
// absolute end stays where the sign-in put it. reason is traced.
func (s *Service) Rotate(ctx context.Context, id Identity, c Client, reason string) (SignedIn, error) {
	var out SignedIn
	now := s.clock.Now()
	err := s.store.UpdateAuth(ctx, func(tx Tx) error {
		if err := tx.RevokeSession(ctx, id.AccountID, id.Session.ID, now, "rotated: "+reason); err != nil {
			return err
		}
		var err error
		out, err = s.openSession(ctx, tx, id.Principal, id.Session.Method, c, now, id.Session.ExpiresAt, "auth.session.rotate")
		return err
	})
	if errs.Is(err, errs.NotFound) {
		return SignedIn{}, notSignedIn()
	}
	return out, err
}

// revokeSecret ends the session of a secret, if it is a live one (rotation at sign-in).
func (s *Service) revokeSecret(ctx context.Context, secret string, c Client, reason string) {
	hash, err := ParseSecret(secret)
	if err != nil {
		return
	}
	var sess Session
	var p Principal
	if err := s.store.ViewAuth(ctx, func(tx Tx) error {
		var err error
		sess, p, err = tx.SessionBy(ctx, hash)
		return err
	}); err != nil || !sess.RevokedAt.IsZero() {
		return
	}
	e := s.entry(&p, c, "auth.session.revoke")
	e.Object, e.Detail = "session/"+sess.ID, reason
	now := s.clock.Now()
	if err := audit.Do(ctx, s.store.UpdateAuth, e, func(tx Tx, _ *audit.Entry) error {
		return tx.RevokeSession(ctx, p.AccountID, sess.ID, now, reason)
	}); err != nil && !audit.IsRefusal(err) {
		s.log.Warn("previous session not revoked", "err", err)
	}
}

// Sweep deletes what no longer serves: sessions and challenges over for a day, expired
// reset links, rate-limit keys idle for longer than the longest window. The periodic job
// calls it; until then those rows only take space (none of them grants anything).
func (s *Service) Sweep(ctx context.Context) (int64, error) {
	window := max(s.cfg.Identifier.Window, s.cfg.Address.Window, s.cfg.Code.Window, s.cfg.Reset.Window, 24*time.Hour)
	var n int64
	err := s.store.UpdateAuth(ctx, func(tx Tx) error {
		var err error
		n, err = tx.SweepAuth(ctx, s.clock.Now().Add(-window))
		return err
	})
	return n, err
}
