package space

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/notify"
)

// The notices carry no health content (DOMAIN: "The patient is notified on their personal
// e-mail, without any health content"): only that a space exists or changed, and where to go.

// Notice kinds.
const (
	NoticeCreated    = "created"     // opt-out notice, with the activation code
	NoticeOpened     = "opened"      // the space opened at the end of the opt-out period
	NoticeClosed     = "closed"      // the space was closed
	NoticeNewContent = "new_content" // something new in the space
)

// NoticeJob asks the job queue to send a notice. It names the patient and the notice only: the
// addresses and the text are read and written when the job runs, so the queue holds no
// personal data and never the activation code.
type NoticeJob struct {
	PatientID int64  `json:"patient_id"`
	Notice    string `json:"notice"`
	Version   int64  `json:"version,omitempty"` // the space version the notice is about
	Key       string `json:"key,omitempty"`     // idempotency key of a new-content notice
}

// Kind names the job for the queue.
func (NoticeJob) Kind() string { return "space.notice" }

// SendNotice sends a queued notice, if it still applies: an opening notice for a space that was
// closed meanwhile is dropped. The creation notice draws a fresh activation code, stores its
// hash, and sends it; a retry after a failed send draws another, and the last one sent is the
// one that works. A minor's notices go to their representatives.
func (s *Service) SendNotice(ctx context.Context, j NoticeJob) error {
	if s.sender == nil {
		return errs.E(errs.Internal, "no notification sender configured")
	}
	var msgs []notify.Message
	err := s.store.UpdateSpaces(ctx, func(tx Tx) error {
		p, err := tx.Patient(ctx, j.PatientID)
		if err != nil {
			return err
		}
		sp, err := tx.Space(ctx, j.PatientID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		to, err := s.recipients(ctx, tx, p, now)
		if err != nil || len(to) == 0 {
			return err
		}
		var build func(to Patient, id string) notify.Message
		switch j.Notice {
		case NoticeCreated:
			if sp.State != Pending {
				return nil
			}
			code, hash, err := newActivationCode()
			if err != nil {
				return err
			}
			if err := tx.SetActivationHash(ctx, p.ID, hash); err != nil {
				return err
			}
			build = func(r Patient, id string) notify.Message {
				return creationNotice(r.Email, firstName(p), code, s.publicURL, sp.OpensAt, r.ID != p.ID, id)
			}
		case NoticeOpened:
			if sp.State != Open {
				return nil
			}
			build = func(r Patient, id string) notify.Message {
				return openedNotice(r.Email, firstName(r), spaceOf(p, r), s.publicURL, id)
			}
		case NoticeClosed:
			if sp.State != Closed {
				return nil
			}
			build = func(r Patient, id string) notify.Message {
				return closureNotice(r.Email, firstName(r), spaceOf(p, r), s.publicURL, sp.PurgeAt, sp.DeletionRequested, id)
			}
		case NoticeNewContent:
			if sp.State != Open {
				return nil
			}
			build = func(r Patient, id string) notify.Message {
				return newContentNotice(r.Email, firstName(r), spaceOf(p, r), s.publicURL, id)
			}
		default:
			return errs.E(errs.Invalid, "unknown notice %q", j.Notice)
		}
		ref := strconv.FormatInt(j.Version, 10)
		if j.Key != "" {
			ref = j.Key
		}
		for _, r := range to {
			m := build(r, fmt.Sprintf("notice-%s-%d-%s-%d", strings.ReplaceAll(j.Notice, "_", "-"), p.ID, ref, r.ID))
			m.Date = now
			msgs = append(msgs, m)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := s.sender.Send(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// recipients: the person, or for a minor their representatives; those with an address.
func (s *Service) recipients(ctx context.Context, tx Tx, p Patient, now time.Time) ([]Patient, error) {
	if p.AgeAt(now) >= s.policy.MajorityAge {
		if p.Email == "" {
			return nil, nil
		}
		return []Patient{p}, nil
	}
	reps, err := tx.Representatives(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	var out []Patient
	for _, r := range reps {
		rep, err := tx.Patient(ctx, r.RepresentativeID)
		if err != nil {
			return nil, err
		}
		if rep.Email != "" {
			out = append(out, rep)
		}
	}
	return out, nil
}

// spaceOf names the space for the recipient: theirs, or the child's they represent.
func spaceOf(p, recipient Patient) string {
	if p.ID == recipient.ID {
		return "votre espace santé"
	}
	return "l'espace santé de " + firstName(p)
}

func firstName(p Patient) string {
	first, _, _ := strings.Cut(strings.TrimSpace(p.GivenNames), " ")
	return first
}

var frenchMonths = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet",
	"août", "septembre", "octobre", "novembre", "décembre"}

func frenchDate(t time.Time) string {
	t = t.In(paris)
	return fmt.Sprintf("%d %s %d", t.Day(), frenchMonths[t.Month()-1], t.Year())
}

var paris = func() *time.Location {
	if loc, err := time.LoadLocation("Europe/Paris"); err == nil {
		return loc
	}
	return time.UTC
}()

func creationNotice(to, name, code, publicURL string, opensAt time.Time, forChild bool, id string) notify.Message {
	var b strings.Builder
	whose := "votre espace santé"
	if forChild {
		whose = "l'espace santé de " + name + ", dont vous êtes représentant légal,"
		fmt.Fprintf(&b, "Bonjour,\n\n")
	} else {
		fmt.Fprintf(&b, "Bonjour %s,\n\n", name)
	}
	fmt.Fprintf(&b, "L'Assurance Maladie va créer %s sur carnet.\n", whose)
	fmt.Fprintf(&b, "Sans opposition de votre part, il sera ouvert automatiquement le %s.\n\n", frenchDate(opensAt))
	fmt.Fprintf(&b, "Pour l'activer dès maintenant ou vous y opposer, rendez-vous sur %s\n", publicURL)
	fmt.Fprintf(&b, "avec ce code d'activation : %s\n\n", code)
	fmt.Fprintf(&b, "Ce code est personnel : ne le communiquez à personne.\n")
	fmt.Fprintf(&b, "Vous pourrez fermer cet espace à tout moment.\n\n-- \ncarnet\n")
	return notify.Message{To: to, Subject: "Création de votre espace santé", Text: b.String(), ID: id}
}

func openedNotice(to, name, space, publicURL, id string) notify.Message {
	text := fmt.Sprintf("Bonjour %s,\n\n%s est désormais ouvert.\n"+
		"Connectez-vous sur %s pour le consulter et choisir qui peut y accéder.\n"+
		"Il peut être fermé à tout moment.\n\n-- \ncarnet\n", name, capitalise(space), publicURL)
	return notify.Message{To: to, Subject: "Ouverture de " + space, Text: text, ID: id}
}

func newContentNotice(to, name, space, publicURL, id string) notify.Message {
	text := fmt.Sprintf("Bonjour %s,\n\nDu nouveau vous attend dans %s.\n"+
		"Connectez-vous sur %s pour le consulter.\n\n-- \ncarnet\n", name, space, publicURL)
	return notify.Message{To: to, Subject: "Du nouveau dans " + space, Text: text, ID: id}
}

func closureNotice(to, name, space, publicURL string, purgeAt time.Time, deletion bool, id string) notify.Message {
	what := fmt.Sprintf("Ses données sont archivées jusqu'au %s ; il peut être rouvert d'ici là.", frenchDate(purgeAt))
	if deletion {
		what = fmt.Sprintf("Ses données seront supprimées au plus tard le %s.", frenchDate(purgeAt))
	}
	text := fmt.Sprintf("Bonjour %s,\n\n%s a été fermé. %s\n"+
		"Si vous n'êtes pas à l'origine de cette demande, rendez-vous sur %s.\n\n-- \ncarnet\n", name, capitalise(space), what, publicURL)
	return notify.Message{To: to, Subject: "Fermeture de " + space, Text: text, ID: id}
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
