package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// subjectRef names a provider's subject in traces and logs: the first 16 hex digits of a
// SHA-256 of the provider and the subject. Someone who knows the subject (the provider, an
// investigator with its logs) can find the traces; the traces alone do not give it away.
func subjectRef(provider, subject string) string {
	h := sha256.Sum256([]byte(provider + "\x00" + subject))
	return hex.EncodeToString(h[:8])
}

// mapAccount finds the account of the person the provider vouched for. detail is traced;
// it holds no identity trait.
func (s *Service) mapAccount(ctx context.Context, p Provider, a assertion) (accountID int64, detail string, err error) {
	if p.Kind == KindProfessional {
		return s.professional(ctx, p, a)
	}
	return s.patient(ctx, p, a)
}

// professional maps a professional by the IdNat_PS the provider states. The directory is
// the reference for the profession (the access decision and the habilitation matrix read
// it): a provider that states another one is refused rather than believed, and the
// operator corrects whichever is wrong.
func (s *Service) professional(ctx context.Context, p Provider, a assertion) (int64, string, error) {
	raw := firstClaim(a.Claims, p.Claims.IdNat...)
	if raw == "" {
		return 0, "", refuse(codeClaims, "no_idnat", nil)
	}
	idnat, ok := parseIdNat(raw)
	if !ok {
		return 0, "", refuse(codeUnknownPro, "idnat_invalid", nil)
	}
	stated := professionCodes(allClaims(a.Claims, p.Claims.Profession...))
	detail := "idnat=" + idnat
	var accountID int64
	for try := 0; ; try++ {
		err := s.store.UpdateOIDC(ctx, func(tx Tx) error {
			accountID = 0
			pro, err := tx.ProfessionalForSignIn(ctx, idnat)
			switch {
			case errs.Is(err, errs.NotFound):
				if p.Provision != ProvisionDirectory {
					return refuse(codeUnknownPro, "unknown_professional", nil)
				}
				if pro, err = s.recordProfessional(ctx, tx, p, idnat, stated, a); err != nil {
					return err
				}
			case err != nil:
				return err
			}
			accountID = pro.AccountID // traced on their chain if refused below
			if len(stated) > 0 && !slices.Contains(stated, pro.Profession) {
				return refuse(codeProfession, "profession_mismatch",
					fmt.Errorf("stated %s, directory %s", strings.Join(stated, ","), pro.Profession))
			}
			if pro.AccountID == 0 {
				if p.Provision == ProvisionNone {
					return refuse(codeNoAccount, "no_account", nil)
				}
				if pro.AccountID, err = s.createAccount(ctx, tx, p, pro); err != nil {
					return err
				}
			}
			accountID = pro.AccountID
			return nil
		})
		// Two first sign-ins of one professional at once: the second one's insert clashes
		// with the first's, and a second look finds what the first recorded.
		if errs.Is(err, errs.Conflict) && try == 0 {
			continue
		}
		var ref *refusal
		if err != nil && !errors.As(err, &ref) {
			accountID = 0
		}
		return accountID, detail, err
	}
}

// system is the actor of what a provider's sign-in records in the directory.
func system(p Provider) audit.Actor {
	return audit.Actor{Kind: audit.ActorSystem, ID: string(Method(p.Name)), Name: p.Label}
}

// recordProfessional records a professional from the provider's claims (ProvisionDirectory).
func (s *Service) recordProfessional(ctx context.Context, tx Tx, p Provider, idnat string, stated []string, a assertion) (Professional, error) {
	family, given := firstClaim(a.Claims, p.Claims.FamilyName), firstClaim(a.Claims, p.Claims.GivenName)
	if family == "" || given == "" {
		return Professional{}, refuse(codeClaims, "no_names", nil)
	}
	var prof string
	for _, c := range stated {
		if pr, err := s.professions.Profession(c); err == nil && pr.Profession == c {
			prof = c
			break
		}
	}
	if prof == "" {
		return Professional{}, refuse(codeClaims, "no_profession", nil)
	}
	var spec string
	for _, v := range allClaims(a.Claims, p.Claims.Specialty...) {
		if _, err := s.professions.Profession(prof + "/" + v); err == nil {
			spec = v
			break
		}
	}
	id, err := identity.ParseIdNatPS(idnat)
	if err != nil {
		return Professional{}, err
	}
	ap := account.Professional{IdNat: id, FamilyName: family, GivenName: given, Profession: prof, Specialty: spec,
		CreatedAt: s.clock.Now()}
	if err := tx.InsertProfessional(ctx, &ap); err != nil {
		return Professional{}, err
	}
	e := audit.Entry{At: s.clock.Now(), Actor: system(p), Channel: audit.ChannelWeb, Action: "professional.create",
		Object: "professional/" + idnat, Outcome: audit.Allowed, Detail: "recorded from the provider's claims"}
	if _, err := tx.AppendTrace(ctx, e); err != nil {
		return Professional{}, err
	}
	return Professional{ID: ap.ID, IdNat: idnat, Profession: prof, Specialty: spec, FamilyName: family, GivenName: given}, nil
}

// createAccount gives a directory professional an account without a password: they sign in
// through the provider only (an empty hash matches no password). Its login is made up, under
// the reserved .invalid domain (RFC 2606), so that no mail is ever sent to it.
func (s *Service) createAccount(ctx context.Context, tx Tx, p Provider, pro Professional) (int64, error) {
	local := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
			return r
		}
		return '-'
	}, pro.IdNat)
	a := account.Account{Kind: account.KindProfessional, Login: strings.ToLower(local + "@" + p.Name + ".oidc.invalid"),
		DisplayName: strings.TrimSpace(pro.GivenName + " " + pro.FamilyName), ProfessionalID: pro.ID, CreatedAt: s.clock.Now()}
	if a.DisplayName == "" {
		a.DisplayName = pro.IdNat
	}
	if err := tx.InsertAccount(ctx, &a); err != nil {
		return 0, err
	}
	e := audit.Entry{At: s.clock.Now(), Actor: system(p), Channel: audit.ChannelWeb, Action: "account.create",
		Object: "account/" + strconv.FormatInt(a.ID, 10), Outcome: audit.Allowed,
		Detail: "for professional " + pro.IdNat + ", signing in through " + p.Name + " only"}
	if _, err := tx.AppendTrace(ctx, e); err != nil {
		return 0, err
	}
	return a.ID, nil
}

// patient maps a patient: by the link of an earlier sign-in, else by the identity traits,
// which must designate exactly one space, activated (with an account). The match is linked.
// On a refusal that concerns one account, its id is returned too, so that the refusal is
// traced where the patient sees it.
func (s *Service) patient(ctx context.Context, p Provider, a assertion) (int64, string, error) {
	var accountID int64
	var detail string
	err := s.store.UpdateOIDC(ctx, func(tx Tx) error {
		accountID, detail = 0, ""
		now := s.clock.Now()
		id, err := tx.LinkedAccount(ctx, p.Name, a.Subject)
		if err == nil {
			accountID, detail = id, "by=link"
			return tx.TouchLink(ctx, p.Name, a.Subject, now)
		}
		if !errs.Is(err, errs.NotFound) {
			return err
		}
		t, ok := patientTraits(a.Claims, p.Claims)
		if !ok {
			detail = "by=traits"
			return refuse(codeClaims, "traits_missing", nil)
		}
		cands, err := tx.PatientCandidates(ctx, t.BirthDate, t.Sex)
		if err != nil {
			return err
		}
		var match []Candidate
		for _, c := range cands {
			if normaliseName(c.BirthName) == t.BirthName && firstGivenName(c.GivenNames) == t.GivenName {
				match = append(match, c)
			}
		}
		detail = fmt.Sprintf("by=traits matches=%d", len(match))
		switch {
		case len(match) == 0:
			return refuse(codeNoMatch, "no_match", nil)
		case len(match) > 1:
			return refuse(codeAmbiguous, "ambiguous", nil)
		case match[0].AccountID == 0:
			return refuse(codeNotActivated, "not_activated", nil)
		}
		accountID = match[0].AccountID
		err = tx.InsertLink(ctx, Link{Provider: p.Name, Subject: a.Subject, AccountID: accountID, CreatedAt: now})
		if errs.Is(err, errs.Conflict) {
			// Linked in the meantime by the same person (two tabs), or linked to another
			// subject of this provider: only the first is this person.
			if id, lerr := tx.LinkedAccount(ctx, p.Name, a.Subject); lerr == nil && id == accountID {
				return nil
			}
			return refuse(codeLinkedElsewhere, "linked_elsewhere", nil)
		}
		return err
	})
	var ref *refusal
	if err != nil && !errors.As(err, &ref) {
		accountID = 0
	}
	return accountID, detail, err
}
