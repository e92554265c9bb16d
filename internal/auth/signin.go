package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/password"
)

// Credentials are what a person gives at the first step of a sign-in.
type Credentials struct {
	Identifier string // e-mail, INS or RPPS / IdNat_PS: see ParseIdentifier
	Password   string
	Method     Method // the second factor the person prefers; "" for the strongest available
	Client     Client
}

// Pending is the answer to a correct password: a challenge awaiting the second factor.
type Pending struct {
	Token     string // the challenge's secret: the HTTP layer keeps it in a cookie (SetChallenge)
	Prompt    Prompt
	ExpiresAt time.Time
}

// badCredentials is the one answer to an unknown identifier, a wrong password, a disabled
// account and an unreadable stored hash alike.
func badCredentials() error {
	return errs.E(errs.Unauthenticated, "unknown identifier or wrong password")
}

// badCode is the one answer to a wrong, used, expired or exhausted code, or an unknown challenge.
func badCode() error {
	return errs.E(errs.Unauthenticated, "the code is wrong or has expired")
}

// SignIn checks an identifier and a password and, when they match, starts the second factor:
// it stores a pending challenge, sends the code, and returns the challenge's secret.
//
// What an attacker sees is the same for an identifier with no account and for a wrong
// password: the same error, the same argon2id work (a dummy hash for an unknown identifier),
// the same rate-limit keys (the identifier as typed, known or not), the same writes (a
// counted attempt, a trace). A throttled attempt is refused before any look-up.
func (s *Service) SignIn(ctx context.Context, c Credentials) (Pending, error) {
	id, err := ParseIdentifier(c.Identifier)
	if err != nil {
		return Pending{}, err
	}
	if len(c.Password) > s.params.MaxBytes {
		return Pending{}, badCredentials()
	}
	identL, addrL := s.identLimit(id), s.addrLimit(c.Client.Addr)
	ad, err := s.admit(ctx, "password", identL, addrL)
	if err != nil {
		return Pending{}, err
	}
	var p Principal
	err = s.store.ViewAuth(ctx, func(tx Tx) error {
		var err error
		p, err = tx.PrincipalBy(ctx, id)
		return err
	})
	found := err == nil
	if err != nil && !errs.Is(err, errs.NotFound) {
		return Pending{}, err
	}
	ok, rehash := s.verifyPassword(found, p, c.Password)
	s.metrics.check("password", ok)
	if !ok {
		var who *Principal
		if found {
			who = &p
		}
		if err := s.failed(ctx, who, c.Client, "auth.password", "bad_credentials", identDetail(id, c.Client), ad, identL); err != nil {
			return Pending{}, err
		}
		return Pending{}, badCredentials()
	}
	var newHash string
	if rehash {
		newHash, _ = password.Hash(c.Password, s.params) // an upgrade; the sign-in goes on without it
	}
	f := s.pickFactor(p, c.Method)
	secret, hash := newSecret()
	started, err := f.Begin(ctx, p, hash)
	if err != nil {
		return Pending{}, err
	}
	now := s.clock.Now()
	ch := Challenge{AccountID: p.AccountID, Method: f.Method(), State: started.State, IdentKey: identL.key,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.CodeValidity)}
	err = s.store.UpdateAuth(ctx, func(tx Tx) error {
		if err := s.settle(ctx, tx, []limit{identL, addrL}, nil); err != nil {
			return err
		}
		if newHash != "" {
			if err := tx.SetPasswordHash(ctx, p.AccountID, newHash); err != nil {
				return err
			}
		}
		if err := tx.InsertChallenge(ctx, hash, ch); err != nil {
			return err
		}
		e := allowed(s.entry(&p, c.Client, "auth.password"),
			fmt.Sprintf("%s second_factor=%s challenge=%s", identDetail(id, c.Client), f.Method(), publicID(hash)))
		_, err := tx.AppendTrace(ctx, e)
		return err
	})
	if err != nil {
		return Pending{}, err
	}
	if started.Deliver != nil {
		if err := started.Deliver(ctx); err != nil {
			s.log.Error("second factor not delivered", "method", f.Method(), "account", p.AccountID, "err", err)
			return Pending{}, errs.Wrap(errs.Unavailable, err, "the code could not be sent; try again in a moment")
		}
	}
	return Pending{Token: secret, Prompt: started.Prompt, ExpiresAt: ch.ExpiresAt}, nil
}

// verifyPassword runs argon2id once whatever happens: against the account's hash, or the
// dummy hash when there is no account or its hash cannot be read (a purged space's account
// keeps an empty one), so that every answer costs the same.
func (s *Service) verifyPassword(found bool, p Principal, plain string) (ok, rehash bool) {
	hash := s.dummy
	if found {
		hash = p.PasswordHash
	}
	ok, rehash, err := s.params.Verify(plain, hash)
	if err != nil {
		_, _, _ = s.params.Verify(plain, s.dummy)
		return false, false
	}
	return ok && found && !p.Disabled, rehash
}

// pickFactor returns the factor the person asked for if they can use it, else the first
// available: the extra factors (WebAuthn, the strongest) before e-mail, then SMS.
func (s *Service) pickFactor(p Principal, want Method) Factor {
	if f, ok := s.factors[want]; ok && f.Available(p) {
		return f
	}
	for _, m := range s.order {
		if f := s.factors[m]; f.Available(p) {
			return f
		}
	}
	return s.factors[MethodEmailCode] // every account has an e-mail login
}

func identDetail(id Identifier, c Client) string {
	return fmt.Sprintf("identifier=%s addr=%s", id.Kind, c.Addr)
}

// failed traces a refused credential check, and reports the key of the one being guessed
// when its count crossed a threshold: a trace in the account's chain (or the unknown
// identifiers' chain), a log line naming the account id only, and a counter.
func (s *Service) failed(ctx context.Context, p *Principal, c Client, action, reason, detail string, ad *admission, guessed limit) error {
	es := []audit.Entry{denied(s.entry(p, c, action), reason, detail)}
	if r, ok := ad.reportOf(guessed); ok {
		subject := "unknown"
		if p != nil {
			subject = fmt.Sprintf("account/%d", p.AccountID)
		}
		s.log.Warn("credential guessing suspected", "check", action, "class", classOf(r.key), "subject", subject,
			"key", r.key, "failures", r.failures)
		es = append(es, denied(s.entry(p, c, "auth.guessing"), "rate_limit",
			fmt.Sprintf("check=%s failures=%d key=%s addr=%s", action, r.failures, r.key, c.Addr)))
	}
	return s.trace(ctx, es...)
}

// settle gives back the attempts of a successful check (release) and forgets the failures
// of keys whose owner proved themselves (clear), locking the keys in one order.
func (s *Service) settle(ctx context.Context, tx Tx, release, clear []limit) error {
	all := sortedLimits(append(append([]limit{}, release...), clear...))
	cleared := map[string]bool{}
	for _, l := range clear {
		cleared[l.key] = true
	}
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
		st.NextAt = st.LastAt.Add(l.policy.delay(st.Failures))
		if err := tx.SaveThrottle(ctx, l.key, st); err != nil {
			return err
		}
	}
	return nil
}

// Proof is what a person gives at the second step.
type Proof struct {
	Challenge string // the secret of Pending.Token
	Response  string // the code typed, or the WebAuthn assertion (PublicKeyCredential as JSON)
	// Previous is the session secret the browser already held, if any: it is revoked, so a
	// sign-in always starts a session under a new id (no session fixation).
	Previous string
	Client   Client
}

// SignedIn is a new session.
type SignedIn struct {
	Token    string // the session's secret: the HTTP layer sets it as a cookie (SetSession)
	Identity Identity
}

// CompleteSignIn checks the second factor of a pending challenge and opens a session. A code
// serves once, dies after Config.CodeValidity or Config.CodeAttempts wrong tries; wrong codes
// also count on the account (Config.Code), so starting new challenges with a stolen password
// does not give an attacker fresh tries.
func (s *Service) CompleteSignIn(ctx context.Context, pr Proof) (SignedIn, error) {
	hash, err := ParseSecret(pr.Challenge)
	if err != nil {
		return SignedIn{}, badCode()
	}
	var ch Challenge
	err = s.store.ViewAuth(ctx, func(tx Tx) error {
		var err error
		ch, err = tx.Challenge(ctx, hash)
		return err
	})
	if errs.Is(err, errs.NotFound) {
		return SignedIn{}, badCode()
	}
	if err != nil {
		return SignedIn{}, err
	}
	codeL, addrL := s.codeLimit(ch.AccountID), s.addrLimit(pr.Client.Addr)
	ad, err := s.admit(ctx, "code", codeL, addrL)
	if err != nil {
		return SignedIn{}, err
	}
	if pr.Previous != "" {
		s.revokeSecret(ctx, pr.Previous, pr.Client, "replaced by a new sign-in")
	}
	var out SignedIn
	var refused error
	err = s.store.UpdateAuth(ctx, func(tx Tx) error {
		refused = nil
		ch, err := tx.Challenge(ctx, hash)
		if err != nil {
			return err
		}
		p, err := tx.PrincipalByAccount(ctx, ch.AccountID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		e := s.entry(&p, pr.Client, "auth.code")
		detail := fmt.Sprintf("method=%s challenge=%s addr=%s", ch.Method, publicID(hash), pr.Client.Addr)
		f := s.factors[ch.Method]
		if !ch.UsedAt.IsZero() || !now.Before(ch.ExpiresAt) || ch.Attempts >= s.cfg.CodeAttempts || p.Disabled || f == nil {
			refused = badCode()
			_, err := tx.AppendTrace(ctx, denied(e, "challenge_over", detail))
			return err
		}
		ok, err := verify(ctx, tx, f, p, pr.Client, hash, ch.State, pr.Response)
		if err != nil {
			return err
		}
		var used time.Time
		if ok || ch.Attempts+1 >= s.cfg.CodeAttempts {
			used = now
		}
		if err := tx.UpdateChallenge(ctx, hash, ch.Attempts+1, used); err != nil {
			return err
		}
		s.metrics.check("code", ok)
		if !ok {
			refused = badCode()
			es := []audit.Entry{denied(e, "wrong_code", fmt.Sprintf("%s attempt=%d", detail, ch.Attempts+1))}
			if r, rep := ad.reportOf(codeL); rep {
				s.log.Warn("credential guessing suspected", "check", "auth.code", "class", "code",
					"subject", fmt.Sprintf("account/%d", p.AccountID), "failures", r.failures)
				es = append(es, denied(s.entry(&p, pr.Client, "auth.guessing"), "rate_limit",
					fmt.Sprintf("check=auth.code failures=%d addr=%s", r.failures, pr.Client.Addr)))
			}
			for _, e := range es {
				if _, err := tx.AppendTrace(ctx, e); err != nil {
					return err
				}
			}
			return nil
		}
		if err := s.settle(ctx, tx, []limit{addrL}, []limit{codeL, {key: ch.IdentKey}}); err != nil {
			return err
		}
		out, err = s.openSession(ctx, tx, p, ch.Method, pr.Client, now, now.Add(s.cfg.AbsoluteTimeout), "auth.signin")
		return err
	})
	if err != nil {
		return SignedIn{}, err
	}
	if refused != nil {
		return SignedIn{}, refused
	}
	return out, nil
}

// openSession stores a new session for p and traces it as action, in tx.
func (s *Service) openSession(ctx context.Context, tx Tx, p Principal, m Method, c Client, now, expires time.Time, action string) (SignedIn, error) {
	secret, hash := newSecret()
	ua := c.UserAgent
	if len(ua) > 200 {
		ua = ua[:200]
	}
	sess := Session{ID: publicID(hash), AccountID: p.AccountID, Method: m, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: expires, ClientAddr: c.Addr, UserAgent: ua}
	if err := tx.InsertSession(ctx, hash, sess); err != nil {
		return SignedIn{}, err
	}
	e := allowed(s.entry(&p, c, action), fmt.Sprintf("method=%s session=%s addr=%s", m, sess.ID, c.Addr))
	if _, err := tx.AppendTrace(ctx, e); err != nil {
		return SignedIn{}, err
	}
	p.PasswordHash = ""
	return SignedIn{Token: secret, Identity: Identity{Principal: p, Session: sess, hash: hash, csrf: s.csrfFor(hash)}}, nil
}
