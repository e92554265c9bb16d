package space

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
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
	// NoticeNewProfessional: a professional accessed the record for the first time (issue 5:
	// "told of the first access by a new professional"). Names no one: the trail does.
	NoticeNewProfessional = "new_professional"
	// NoticeEmergencyAccess: a professional accessed the record in an emergency (break-glass
	// or emergency regulation), which the patient is told of after the fact (CSP R1111-48).
	NoticeEmergencyAccess = "emergency_access"
	// NoticeEmergencyCard: someone read the patient's emergency card through its link
	// (internal/emergency), told at most once a day, without what they read.
	NoticeEmergencyCard = "emergency_card"
	// NoticeAgendaReminder: the patient has an appointment or an event in their agenda
	// tomorrow (internal/agenda), without a word of what it is.
	NoticeAgendaReminder = "agenda_reminder"
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

// createdPrefix starts the outbox key of a creation notice. A batch of creations (the opt-out
// import, a million people at a time) queues its notices in the outbox, a small row each,
// rather than a job each: the outbox job turns them into notice jobs at its own pace.
const createdPrefix = "created-"

// CreatedNoticeKey is the outbox key of the creation notice of a space at version v.
func CreatedNoticeKey(v int64) string { return createdPrefix + strconv.FormatInt(v, 10) }

// CreatedNoticeVersion reads the space version of a creation notice's outbox key; ok is
// false for the key of any other notice.
func CreatedNoticeVersion(key string) (v int64, ok bool) {
	s, ok := strings.CutPrefix(key, createdPrefix)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// SendNotice sends a queued notice, if it still applies: a notice about a version of the space
// that has changed since (closed then reopened, say) is dropped. The creation notice carries
// the activation code, derived from the patient and the version, so that a retry sends the
// same code. A minor's notices go to their representatives, a protected adult's to them and
// their guardians. Reading the addresses is an access to the patient's data: it is traced.
func (s *Service) SendNotice(ctx context.Context, j NoticeJob) error {
	if s.sender == nil {
		return errs.E(errs.Internal, "no notification sender configured")
	}
	var msgs []notify.Message
	e := audit.Entry{At: s.clock.Now(), Actor: audit.System("notice"), Channel: audit.ChannelJob, Action: "space.notice",
		PatientID: j.PatientID, Object: "notice/" + j.Notice}
	err := audit.Do(ctx, s.store.UpdateSpaces, e, func(tx Tx, _ *audit.Entry) error {
		p, err := tx.Patient(ctx, j.PatientID)
		if err != nil {
			return err
		}
		sp, err := tx.Space(ctx, j.PatientID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		var build func(to Patient, id string) notify.Message
		switch j.Notice {
		case NoticeCreated:
			if sp.State != Pending {
				return errNoLongerApplies
			}
			code, hash := s.activationCode(p.ID, sp.Version)
			if err := tx.SetActivationHash(ctx, p.ID, hash); err != nil {
				return err
			}
			build = func(r Patient, id string) notify.Message {
				return creationNotice(r.Email, firstName(p), code, s.publicURL, sp.OpensAt, r.ID != p.ID, id)
			}
		case NoticeOpened, NoticeClosed:
			if sp.Version != j.Version {
				return errNoLongerApplies
			}
			build = func(r Patient, id string) notify.Message {
				if j.Notice == NoticeOpened {
					return openedNotice(r.Email, firstName(r), spaceOf(p, r), s.publicURL, id)
				}
				return closureNotice(r.Email, firstName(r), spaceOf(p, r), s.publicURL, sp.PurgeAt, sp.DeletionRequested, id)
			}
		case NoticeNewContent:
			if sp.State != Open {
				return errNoLongerApplies
			}
			build = func(r Patient, id string) notify.Message {
				return newContentNotice(r.Email, firstName(r), spaceOf(p, r), s.publicURL, id)
			}
		case NoticeNewProfessional, NoticeEmergencyAccess:
			if sp.State != Open {
				return errNoLongerApplies
			}
			build = func(r Patient, id string) notify.Message {
				return accessNotice(r.Email, firstName(r), spaceOf(p, r), s.publicURL, j.Notice == NoticeEmergencyAccess, id)
			}
		case NoticeEmergencyCard:
			build = func(r Patient, id string) notify.Message {
				return cardNotice(r.Email, firstName(r), spaceOf(p, r), s.publicURL, id)
			}
		case NoticeAgendaReminder:
			if sp.State != Open {
				return errNoLongerApplies
			}
			build = func(r Patient, id string) notify.Message {
				return agendaReminderNotice(r.Email, firstName(r), spaceOf(p, r), s.publicURL, id)
			}
		default:
			return errs.E(errs.Invalid, "unknown notice %q", j.Notice)
		}
		to, err := s.recipients(ctx, tx, p, now)
		if err != nil {
			return err
		}
		if len(to) == 0 {
			// Decided reachable when queued, unreachable now (an address removed, a child come
			// of age without one): the operator must send this one by post.
			return errs.E(errs.Invalid, "nobody to send the %s notice to by e-mail any more", j.Notice)
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
	if errors.Is(err, errNoLongerApplies) {
		return nil
	}
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

// errNoLongerApplies drops a notice whose occasion has passed; audit.Do traces the notice as
// refused, with this reason.
var errNoLongerApplies = errs.E(errs.Conflict, "the notice no longer applies")

// recipients: for an adult, the person and their guardians; for a minor, the representatives;
// those with an address.
func (s *Service) recipients(ctx context.Context, tx Tx, p Patient, now time.Time) ([]Patient, error) {
	adult := p.AgeAt(now) >= s.policy.MajorityAge
	var out []Patient
	if adult && p.Email != "" {
		out = append(out, p)
	}
	reps, err := tx.Representatives(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range reps {
		if adult && r.Role != Guardian {
			continue
		}
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

// accessNotice tells the patient that a new professional, or one in an emergency, accessed
// their record. It names nobody and no document (a mail is no safe place for that): the trail
// in the space says who, when and why.
func accessNotice(to, name, space, publicURL string, emergency bool, id string) notify.Message {
	what, subject := "Un professionnel de santé a accédé pour la première fois à votre dossier médical dans "+space+".",
		"Un nouveau professionnel a accédé à "+space
	if emergency {
		what, subject = "Un professionnel de santé a accédé en urgence à votre dossier médical dans "+space+
			", comme la loi le permet quand vous ne pouvez pas donner votre accord.", "Accès en urgence à "+space
	}
	text := fmt.Sprintf("Bonjour %s,\n\n%s\n"+
		"Vous pouvez voir qui, quand et pourquoi dans l'historique des accès, sur %s,\n"+
		"et y bloquer un professionnel si vous le souhaitez.\n\n-- \ncarnet\n", name, what, publicURL)
	return notify.Message{To: to, Subject: subject, Text: text, ID: id}
}

// cardNotice tells that an emergency card was read: no content, no reader; the trail says
// when and from which network.
func cardNotice(to, name, space, publicURL, id string) notify.Message {
	text := fmt.Sprintf("Bonjour %s,\n\nLa carte d'urgence enregistrée dans %s a été consultée aujourd'hui, avec son lien ou son QR code.\n"+
		"Vous pouvez voir quand dans l'historique des accès, et désactiver la carte ou renouveler son lien, sur %s.\n\n-- \ncarnet\n",
		name, space, publicURL)
	return notify.Message{To: to, Subject: "Votre carte d'urgence a été consultée", Text: text, ID: id}
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
