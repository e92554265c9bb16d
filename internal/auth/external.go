package auth

import (
	"context"
	"fmt"

	"github.com/carnet-sante/carnet/internal/errs"
)

// External is a sign-in whose credential someone else checked: an OpenID Connect provider
// (Pro Santé Connect, FranceConnect) vouched for the person, and the caller (internal/oidc)
// mapped what the provider said to one of carnet's accounts. This package then does what it
// does for its own sign-ins: rate limit, rotation, session, traces, metrics.
type External struct {
	// AccountID is the account the person was mapped to; 0 in a refusal that names none.
	AccountID int64
	// Method says how the person proved themselves, e.g. "oidc:psc": traced, and kept on the
	// session as a local second factor's would be. It may not be a local factor's.
	Method Method
	// Detail is what the trace adds (the provider's subject as a hash, the assurance level):
	// no secret, no health data.
	Detail string
	// Previous is the session secret the browser already held, if any: it is revoked, so a
	// sign-in always starts a session under a new id (no session fixation).
	Previous string
	Client   Client
}

func (x External) detail() string {
	d := fmt.Sprintf("method=%s addr=%s", x.Method, x.Client.Addr)
	if x.Detail != "" {
		d += " " + x.Detail
	}
	return d
}

// AdmitExternal counts an outside credential check (an OpenID Connect callback) from the
// client's address against Config.Address, before any work is done on it; while the address
// waits out a delay it is refused with a Throttled error (see RetryAfter). SignInExternal
// gives the attempt back; a refusal leaves it counted, as a wrong password would.
func (s *Service) AdmitExternal(ctx context.Context, c Client) error {
	_, err := s.admit(ctx, "external", s.addrLimit(c.Addr))
	return err
}

// SignInExternal opens a session for the account of x: it revokes the session the browser
// held (x.Previous), traces the provider's assertion (auth.external) and the new session
// (auth.signin) in the account's chain, and gives back the address's attempt. A disabled
// account is refused (Forbidden) and the refusal traced.
func (s *Service) SignInExternal(ctx context.Context, x External) (SignedIn, error) {
	if x.Method == "" || s.factors[x.Method] != nil || x.Method == MethodWebAuthn {
		return SignedIn{}, errs.E(errs.Internal, "auth: an outside sign-in needs a method of its own, not %q", x.Method)
	}
	if x.Previous != "" {
		s.revokeSecret(ctx, x.Previous, x.Client, "replaced by a new sign-in")
	}
	var out SignedIn
	var refused error
	err := s.store.UpdateAuth(ctx, func(tx Tx) error {
		refused = nil
		p, err := tx.PrincipalByAccount(ctx, x.AccountID)
		if err != nil {
			return err
		}
		if p.Disabled {
			refused = errs.E(errs.Forbidden, "this account is disabled")
			_, err := tx.AppendTrace(ctx, denied(s.entry(&p, x.Client, "auth.external"), "disabled", x.detail()))
			return err
		}
		if err := s.settle(ctx, tx, []limit{s.addrLimit(x.Client.Addr)}, nil); err != nil {
			return err
		}
		if _, err := tx.AppendTrace(ctx, allowed(s.entry(&p, x.Client, "auth.external"), x.detail())); err != nil {
			return err
		}
		now := s.clock.Now()
		out, err = s.openSession(ctx, tx, p, x.Method, x.Client, now, now.Add(s.cfg.AbsoluteTimeout), "auth.signin")
		return err
	})
	s.metrics.check("external", err == nil && refused == nil)
	if err != nil {
		return SignedIn{}, err
	}
	if refused != nil {
		return SignedIn{}, refused
	}
	return out, nil
}

// RefuseExternal traces a refused outside sign-in (auth.external, denied, with reason): a
// provider's answer that failed a check, or a person it vouched for whom carnet could not
// map. The trace goes to the account's chain when x names one, else to the chain of
// attempts on no account.
func (s *Service) RefuseExternal(ctx context.Context, x External, reason string) error {
	s.metrics.check("external", false)
	var who *Principal
	if x.AccountID != 0 {
		err := s.store.ViewAuth(ctx, func(tx Tx) error {
			p, err := tx.PrincipalByAccount(ctx, x.AccountID)
			if err == nil {
				who = &p
			}
			return err
		})
		if err != nil && !errs.Is(err, errs.NotFound) {
			return err
		}
	}
	return s.trace(ctx, denied(s.entry(who, x.Client, "auth.external"), reason, x.detail()))
}
