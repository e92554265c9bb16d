package space

import (
	"context"
	"net/mail"
	"strings"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// The address and the mobile number notices go to. Notices never carry health content (they
// say that something is new, that someone accessed the record, that the space changed state),
// but they carry the activation code of a new space and reach the person first: the holder
// changes them after the access decision (ActionAdminister), and the change is traced.

// ContactTx is the write a change of contact needs.
type ContactTx interface {
	// SetPatientContact replaces the e-mail address and phone number of a patient; NotFound
	// if there is no such patient.
	SetPatientContact(ctx context.Context, patientID int64, email, phone string) error
}

// Contact problems, each about one field, so that a form shows it next to that field.
var (
	ErrEmail = errs.E(errs.Invalid, "the e-mail address is not valid: one address, name@domain, without accents")
	ErrPhone = errs.E(errs.Invalid, "the phone number is not a French mobile number (06 or 07, or +33 6 / +33 7)")
)

// maxEmail is the longest address SMTP carries (RFC 5321 path limit less the brackets).
const maxEmail = 254

// NormaliseEmail checks an e-mail address: a single bare address (no display name, no list),
// ASCII only (the notices go through ordinary SMTP), with a dotted domain. "" stays "" (no
// e-mail: notices go by post).
func NormaliseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > maxEmail {
		return "", ErrEmail
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return "", ErrEmail
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", ErrEmail
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if at < 1 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.Contains(domain, "..") || strings.ContainsAny(domain, "[]") {
		return "", ErrEmail
	}
	return s, nil
}

// NormalisePhone checks a French mobile number and writes it in E.164: "06 12 34 56 78",
// "07.12.34.56.78", "+33 6 12 34 56 78" and "0033612345678" all give "+33612345678". Spaces,
// dots, dashes and brackets between digits are separators. "" stays "" (no text messages).
func NormalisePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > 32 {
		return "", ErrPhone
	}
	var digits strings.Builder
	plus := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '.' || r == '-' || r == '(' || r == ')':
		default:
			return "", ErrPhone
		}
	}
	d := digits.String()
	var national string // the nine digits after the 0 or the +33
	switch {
	case plus && strings.HasPrefix(d, "33"):
		national = strings.TrimPrefix(d[2:], "0") // "+33 (0)6…" is common on cards
	case !plus && strings.HasPrefix(d, "0033"):
		national = d[4:]
	case !plus && strings.HasPrefix(d, "0"):
		national = d[1:]
	default:
		return "", ErrPhone
	}
	if len(national) != 9 || (national[0] != '6' && national[0] != '7') {
		return "", ErrPhone
	}
	return "+33" + national, nil
}

// SetContact replaces where the patient's notices go, after the caller's access decision
// (ActionAdminister) allowed by to. It checks both fields before changing anything, refuses a
// purged space (only its INS remains), and traces the change ("space.contact") in the
// patient's chain, without the values: the trail of a space is no place for them.
func (s *Service) SetContact(ctx context.Context, by By, patientID int64, email, phone string) (Patient, error) {
	var p Patient
	err := s.do(ctx, s.entry(by, "space.contact", patientID), func(tx Tx, _ *audit.Entry) error {
		em, err := NormaliseEmail(email)
		if err != nil {
			return err
		}
		ph, err := NormalisePhone(phone)
		if err != nil {
			return err
		}
		sp, err := tx.Space(ctx, patientID)
		if err != nil {
			return err
		}
		if sp.State == Purged {
			return errs.E(errs.Conflict, "this space was deleted")
		}
		if err := tx.SetPatientContact(ctx, patientID, em, ph); err != nil {
			return err
		}
		p, err = tx.Patient(ctx, patientID)
		return err
	})
	return p, err
}
