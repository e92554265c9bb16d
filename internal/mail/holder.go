package mail

import (
	"context"
	"strings"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// AuthenticateHolder signs in to a mailbox with an OAuth or API bearer token (IMAP
// AUTHENTICATE XOAUTH2 / OAUTHBEARER) that the caller resolved to a professional, idnat (an
// IdNat_PS; "" when the token is no professional's, or unknown): the professional must own
// the PER mailbox at username, or be a member of the ORG one. The attempt counts on the same
// keys as Authenticate (the username as typed, the client address), and every failure gets
// Authenticate's one answer.
func (s *Service) AuthenticateHolder(ctx context.Context, username, idnat, addr string) (Sender, error) {
	if len(username) > maxAddress {
		return Sender{}, AuthFailed()
	}
	user := strings.ToLower(strings.TrimSpace(username))
	userL := limit{"smtp-user:" + s.mac("user", user)[:32], s.cfg.User}
	addrL := limit{"smtp-addr:" + s.mac("addr", addrPrefix(addr))[:32], s.cfg.Address}
	if err := s.admit(ctx, userL, addrL); err != nil {
		return Sender{}, err
	}
	var (
		m   Mailbox
		pro account.Professional
		ok  bool
	)
	err := s.store.ViewMail(ctx, func(tx Tx) error {
		if idnat == "" {
			return nil
		}
		a, err := ParseAddress(user)
		if err != nil || a.IsNull() {
			return nil
		}
		if m, err = tx.MailboxByAddress(ctx, a.String()); errs.Is(err, errs.NotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if pro, err = tx.ProfessionalByIdNat(ctx, idnat); errs.Is(err, errs.NotFound) {
			return nil
		} else if err != nil {
			return err
		}
		switch m.Kind {
		case PER:
			ok = m.ProfessionalID == pro.ID
		case ORG:
			ok, err = tx.IsMember(ctx, m.ID, pro.ID)
		}
		return err
	})
	if err != nil {
		return Sender{}, err
	}
	if !ok || !m.DisabledAt.IsZero() {
		s.log.Info("mail authentication refused", "key", userL.key, "client", addrL.key)
		return Sender{}, AuthFailed()
	}
	err = s.store.UpdateMail(ctx, func(tx Tx) error {
		if err := s.settle(ctx, tx, []limit{addrL}, []limit{userL}); err != nil {
			return err
		}
		return tx.TouchMailbox(ctx, m.ID, s.clock.Now())
	})
	if err != nil {
		return Sender{}, err
	}
	return Sender{Mailbox: m, Professional: pro}, nil
}

// TraceSignIn records a mail client's successful sign-in (IMAP) on the chain of the actor who
// signed in; the refusals are logged by Authenticate and AuthenticateHolder, as an unknown
// caller has no chain.
func (s *Service) TraceSignIn(ctx context.Context, sender Sender, ch audit.Channel, mechanism string) error {
	return s.do(ctx, By{Actor: sender.Actor(), Channel: ch}, "mail.sign_in", "mailbox/"+sender.Mailbox.Address.String(),
		func(_ Tx, e *audit.Entry) error {
			e.Detail = "mechanism=" + mechanism
			if sender.PasswordID != "" {
				e.Detail += " app_password=" + sender.PasswordID
			}
			return nil
		})
}
