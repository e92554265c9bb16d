package auth

import (
	"context"
	"fmt"
	"strings"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/space"
)

// Activation is what a person gives to activate a space created by opt-out: the INS and the
// activation code of the notice (postal or e-mail), and the credentials they choose.
type Activation struct {
	INS      string
	Code     string
	Email    string
	Password string
	Client   Client
}

// Activated is the result of an activation.
type Activated struct {
	Space     space.Space
	AccountID int64
	Login     string
	// Created: a new account; false when the operator had made one already, whose login
	// and password are now the person's.
	Created bool
}

// activationActor signs the space service's trace: who holds the code is not known until
// it is checked. The account's own trace that follows names the patient.
var activationActor = audit.Actor{Kind: audit.ActorPatient, ID: "activation", Name: "titulaire du code d'activation"}

// Activate checks the notice's code through the space service (space.Service.Activate) and
// sets the person's credentials, in one transaction: a login already taken, say, rolls the
// activation back and the code still works for another try. The person then signs in as
// usual, which proves the e-mail address reaches them.
//
// The code is guessed against rate limits on the INS typed and on the address, like a
// password; an INS without a space gets the same answer as a wrong code (the space
// service's), after the same argon2id work (the new password is hashed first in every case).
func (s *Service) Activate(ctx context.Context, a Activation) (Activated, error) {
	ins, err := identity.ParseINS(a.INS)
	if err != nil {
		return Activated{}, errs.E(errs.Invalid, "the INS is the 15-character number on your health insurance card or notice")
	}
	login, err := account.NormaliseLogin(a.Email)
	if err != nil {
		return Activated{}, err
	}
	if len(a.Code) > 64 {
		return Activated{}, errs.E(errs.Forbidden, "this INS and activation code do not match")
	}
	hash, err := password.Hash(a.Password, s.params)
	if err != nil {
		return Activated{}, err
	}
	actL, addrL := s.activationLimit(ins.Matricule), s.addrLimit(a.Client.Addr)
	ad, err := s.admit(ctx, "activation", actL, addrL)
	if err != nil {
		return Activated{}, err
	}
	by := space.By{Actor: activationActor, Channel: a.Client.channel()}
	var out Activated
	var refused error
	var p Principal
	err = s.store.UpdateAuth(ctx, func(tx Tx) error {
		refused = nil
		spaces, err := space.NewService(space.Deps{Store: tx.SpacesInTx(), Clock: s.clock, Policy: space.DefaultPolicy(), CodeKey: s.codeKey})
		if err != nil {
			return err
		}
		sp, err := spaces.Activate(ctx, by, ins, a.Code)
		if audit.IsRefusal(err) {
			refused = err // the space service traced the refusal here: commit that trace
			return nil
		}
		if err != nil {
			return err
		}
		out = Activated{Space: sp, Login: login}
		p, err = tx.PrincipalBy(ctx, Identifier{Kind: IdentINS, Value: ins.Matricule})
		switch {
		case err == nil:
			if err := tx.SetLogin(ctx, p.AccountID, login); err != nil {
				return err
			}
			if err := tx.SetPasswordHash(ctx, p.AccountID, hash); err != nil {
				return err
			}
			if _, err := tx.RevokeSessions(ctx, p.AccountID, s.clock.Now(), "credentials set at activation"); err != nil {
				return err
			}
		case errs.Is(err, errs.NotFound):
			pat, err := tx.Patient(ctx, sp.PatientID)
			if err != nil {
				return err
			}
			acc := account.Account{Kind: account.KindPatient, Login: login, DisplayName: displayName(pat),
				PatientID: pat.ID, CreatedAt: s.clock.Now(), PasswordHash: hash}
			if err := tx.InsertAccount(ctx, &acc); err != nil {
				return err
			}
			out.Created = true
			p = Principal{AccountID: acc.ID, Kind: account.KindPatient, Login: login, DisplayName: acc.DisplayName, PatientID: pat.ID}
		default:
			return err
		}
		out.AccountID = p.AccountID
		e := allowed(s.entry(&p, a.Client, "auth.activate"), fmt.Sprintf("created=%t addr=%s", out.Created, a.Client.Addr))
		_, err = tx.AppendTrace(ctx, e)
		return err
	})
	s.metrics.check("activation", err == nil && refused == nil)
	switch {
	case refused != nil:
		if r, ok := ad.reportOf(actL); ok {
			s.log.Warn("credential guessing suspected", "check", "auth.activate", "class", "act", "key", r.key, "failures", r.failures)
			_ = s.trace(ctx, denied(s.entry(nil, a.Client, "auth.guessing"), "rate_limit",
				fmt.Sprintf("check=auth.activate failures=%d key=%s addr=%s", r.failures, r.key, a.Client.Addr)))
		}
		return Activated{}, refused
	case err != nil:
		if audit.IsRefusal(err) && out.Space.PatientID != 0 {
			// The code was right but the credentials were refused (a login taken): all of it
			// rolled back, the refusal is traced on the person's chain.
			who := Principal{Kind: account.KindPatient, PatientID: out.Space.PatientID}
			e := denied(s.entry(&who, a.Client, "auth.activate"), string(errs.CodeOf(err))+": "+errs.MessageOf(err), "addr="+a.Client.Addr)
			e.Object = "account"
			if terr := s.trace(ctx, e); terr != nil {
				return Activated{}, terr
			}
		}
		return Activated{}, err
	}
	if err := s.store.UpdateAuth(ctx, func(tx Tx) error {
		return s.settle(ctx, tx, []limit{addrL}, []limit{actL})
	}); err != nil {
		s.log.Warn("rate limits not settled after an activation", "err", err)
	}
	return out, nil
}

func displayName(p space.Patient) string {
	first, _, _ := strings.Cut(strings.TrimSpace(p.GivenNames), " ")
	last := p.UsedName
	if last == "" {
		last = p.BirthName
	}
	return strings.TrimSpace(first + " " + last)
}
