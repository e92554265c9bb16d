package auth

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/password"
)

// RequestReset sends a password reset link to the account an identifier names, if any. The
// answer is the same, and comes as fast, whether there is an account or not: after the
// rate limits (keyed by the identifier typed), everything that depends on the account —
// looking it up, storing the link's hash, tracing, sending the e-mail — runs after the
// answer, in the background. The link goes to the account's e-mail login, never to an
// address the request names.
func (s *Service) RequestReset(ctx context.Context, identifier string, c Client) error {
	id, err := ParseIdentifier(identifier)
	if err != nil {
		return err
	}
	if _, err := s.admit(ctx, "reset", s.resetLimit(id), s.addrLimit(c.Addr)); err != nil {
		return err
	}
	s.background("reset", func(ctx context.Context) {
		if err := s.sendReset(ctx, id, c); err != nil {
			s.log.Error("password reset link not sent", "err", err)
		}
	})
	return nil
}

func (s *Service) sendReset(ctx context.Context, id Identifier, c Client) error {
	var p Principal
	err := s.store.ViewAuth(ctx, func(tx Tx) error {
		var err error
		p, err = tx.PrincipalBy(ctx, id)
		return err
	})
	if errs.Is(err, errs.NotFound) || err == nil && p.Disabled {
		var who *Principal
		if err == nil {
			who = &p
		}
		return s.trace(ctx, denied(s.entry(who, c, "auth.reset.request"), "no_account", identDetail(id, c)))
	}
	if err != nil {
		return err
	}
	secret, hash := newSecret()
	now := s.clock.Now()
	err = s.store.UpdateAuth(ctx, func(tx Tx) error {
		if err := tx.InsertResetToken(ctx, hash, p.AccountID, now, now.Add(s.cfg.ResetValidity)); err != nil {
			return err
		}
		_, err := tx.AppendTrace(ctx, allowed(s.entry(&p, c, "auth.reset.request"), identDetail(id, c)))
		return err
	})
	if err != nil {
		return err
	}
	link := s.cfg.ResetURL + "?token=" + url.QueryEscape(secret)
	minutes := int(s.cfg.ResetValidity / time.Minute)
	return s.mail.Send(ctx, notify.Message{
		To:      p.Login,
		Subject: "Réinitialisation de votre mot de passe carnet",
		Text: fmt.Sprintf("Bonjour,\n\nPour choisir un nouveau mot de passe, ouvrez ce lien dans les %d minutes :\n\n%s\n\n"+
			"Il ne sert qu'une fois. Si vous n'avez rien demandé, ignorez ce message : votre mot de passe ne change pas.\n",
			minutes, link),
		ID: "reset-" + hash[:24],
	})
}

// ResetPassword sets a new password with the secret of a reset link. The link serves once
// (every other link of the account dies with it) and every session of the account is ended:
// whoever knew the old password is signed out. The account's rate limits are cleared, since
// its owner just proved they read its e-mail.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string, c Client) error {
	invalid := errs.E(errs.Unauthenticated, "this link is invalid, already used or expired: ask for a new one")
	hash, err := ParseSecret(token)
	if err != nil {
		return invalid
	}
	if err := s.params.CheckNew(newPassword); err != nil {
		return err
	}
	addrL := s.addrLimit(c.Addr)
	if _, err := s.admit(ctx, "reset_link", addrL); err != nil {
		return err
	}
	pwHash, err := password.Hash(newPassword, s.params)
	if err != nil {
		return err
	}
	var p Principal
	var refused error
	err = s.store.UpdateAuth(ctx, func(tx Tx) error {
		refused = nil
		now := s.clock.Now()
		accountID, err := tx.UseResetToken(ctx, hash, now)
		if errs.Is(err, errs.NotFound) {
			refused = invalid
			_, err := tx.AppendTrace(ctx, denied(s.entry(nil, c, "auth.reset"), "invalid_link", "addr="+c.Addr))
			return err
		}
		if err != nil {
			return err
		}
		if p, err = tx.PrincipalByAccount(ctx, accountID); err != nil {
			return err
		}
		if p.Disabled {
			refused = invalid
			_, err := tx.AppendTrace(ctx, denied(s.entry(&p, c, "auth.reset"), "disabled", "addr="+c.Addr))
			return err
		}
		if err := tx.SetPasswordHash(ctx, p.AccountID, pwHash); err != nil {
			return err
		}
		n, err := tx.RevokeSessions(ctx, p.AccountID, now, "password reset")
		if err != nil {
			return err
		}
		_, err = tx.AppendTrace(ctx, allowed(s.entry(&p, c, "auth.reset"), fmt.Sprintf("sessions_revoked=%d addr=%s", n, c.Addr)))
		return err
	})
	s.metrics.check("reset", err == nil && refused == nil)
	if err != nil {
		return err
	}
	if refused != nil {
		return refused
	}
	clear := []limit{s.codeLimit(p.AccountID)}
	for _, id := range p.identifiers() {
		clear = append(clear, s.identLimit(id))
	}
	if err := s.store.UpdateAuth(ctx, func(tx Tx) error { return s.settle(ctx, tx, []limit{addrL}, clear) }); err != nil {
		s.log.Warn("rate limits not settled after a password reset", "err", err)
	}
	return nil
}
