package mail

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/notify"
)

// Mailbox inactivity (DOMAIN.md: "A mailbox inactive for 1 year is deleted after a warning").
// A mailbox is active when its holder uses it: a mail client signs in to it (SMTP AUTH, IMAP),
// its patient opens their messages, a professional writes from the web (TouchMailbox). A
// mailbox unused for a year less a month is warned of, by an ordinary e-mail to its holders
// that names no patient and holds no message; one still unused a month after the warning is
// deleted: its messages go (those no other mailbox holds, their bytes queued for erasure), a
// professional mailbox stays as a disabled, unlisted address that never serves anyone else,
// and a patient's goes whole (the next message to the patient makes it again, empty).
// Any use after the warning cancels it.

// RetentionPolicy says how long a mailbox may stay unused.
type RetentionPolicy struct {
	InactiveFor time.Duration // unused this long: deleted (default 365 days)
	WarnBefore  time.Duration // the warning comes this long before (default 30 days)
	Batch       int           // mailboxes handled a run, of each kind of action (default 500)
}

// DefaultRetention is DOMAIN.md's year, with a month's warning (our default).
func DefaultRetention() RetentionPolicy {
	return RetentionPolicy{InactiveFor: 365 * 24 * time.Hour, WarnBefore: 30 * 24 * time.Hour, Batch: 500}
}

// Inactive is a mailbox found unused, with when it was last used and who holds it.
type Inactive struct {
	Mailbox    Mailbox
	LastActive time.Time // or its creation, when never used
	WarnedAt   time.Time // zero: not warned since its last use
	Contacts   []string  // the e-mail addresses of its holders (a professional, members, the patient)
}

// RetentionReport says what a run did.
type RetentionReport struct {
	Warned, Deleted, Failed int
}

// String is the report as a trace's detail and a log line.
func (r RetentionReport) String() string {
	return "warned=" + strconv.Itoa(r.Warned) + " deleted=" + strconv.Itoa(r.Deleted) + " failed=" + strconv.Itoa(r.Failed)
}

// Retention runs the inactivity rule.
type Retention struct {
	svc    *Service
	sender notify.Sender
	policy RetentionPolicy
}

// NewRetention returns the rule, warning by sender.
func NewRetention(svc *Service, sender notify.Sender, p RetentionPolicy) (*Retention, error) {
	if svc == nil || sender == nil {
		return nil, errs.E(errs.Internal, "mail retention: a mail service and a notice sender are required")
	}
	d := DefaultRetention()
	if p.InactiveFor <= 0 {
		p.InactiveFor = d.InactiveFor
	}
	if p.WarnBefore <= 0 || p.WarnBefore >= p.InactiveFor {
		p.WarnBefore = d.WarnBefore
	}
	if p.Batch <= 0 {
		p.Batch = d.Batch
	}
	return &Retention{svc: svc, sender: sender, policy: p}, nil
}

// TouchMailbox records that the mailbox's holder used it now (at most one write a day).
func (s *Service) TouchMailbox(ctx context.Context, id int64) error {
	now := s.clock.Now()
	return s.store.UpdateMail(ctx, func(tx Tx) error { return tx.TouchMailbox(ctx, id, now) })
}

// Sweep warns of the mailboxes unused for InactiveFor - WarnBefore and deletes those still
// unused WarnBefore after their warning; each warning and deletion is traced (on the
// patient's chain for a patient's mailbox), and the run itself. A mailbox that fails is
// counted and left for the next run.
func (r *Retention) Sweep(ctx context.Context) (RetentionReport, error) {
	s := r.svc
	now := s.clock.Now()
	var rep RetentionReport
	var warn, del []Inactive
	err := s.store.ViewMail(ctx, func(tx Tx) error {
		var err error
		if warn, err = tx.InactiveMailboxes(ctx, now.Add(-(r.policy.InactiveFor - r.policy.WarnBefore)), time.Time{}, r.policy.Batch); err != nil {
			return err
		}
		del, err = tx.InactiveMailboxes(ctx, now.Add(-r.policy.InactiveFor), now.Add(-r.policy.WarnBefore), r.policy.Batch)
		return err
	})
	if err != nil {
		return rep, err
	}
	for _, in := range del {
		if err := r.delete(ctx, in, now); err != nil {
			s.log.Warn("inactive mailbox not deleted", "mailbox", in.Mailbox.ID, "code", errs.CodeOf(err))
			rep.Failed++
			continue
		}
		rep.Deleted++
	}
	for _, in := range warn {
		if err := r.warn(ctx, in, now); err != nil {
			s.log.Warn("inactive mailbox not warned", "mailbox", in.Mailbox.ID, "code", errs.CodeOf(err))
			rep.Failed++
			continue
		}
		rep.Warned++
	}
	e := audit.Entry{At: now, Actor: audit.System("mail-retention"), Channel: audit.ChannelJob, Action: "mail.retention",
		Object: "mailboxes", Outcome: audit.Allowed, Detail: rep.String()}
	if err := s.store.UpdateMail(ctx, func(tx Tx) error { _, err := tx.AppendTrace(ctx, e); return err }); err != nil {
		return rep, err
	}
	return rep, nil
}

func (r *Retention) entry(in Inactive, action string, now time.Time) audit.Entry {
	return audit.Entry{At: now, Actor: audit.System("mail-retention"), Channel: audit.ChannelJob, Action: action,
		PatientID: in.Mailbox.PatientID, Object: "mailbox/" + strconv.FormatInt(in.Mailbox.ID, 10), Outcome: audit.Allowed,
		Detail: "last_active=" + in.LastActive.UTC().Format(time.DateOnly)}
}

// warn e-mails the holders, then records the warning with its trace. A mailbox nobody can be
// told of is warned all the same (the trace says so): its deletion must not wait forever.
func (r *Retention) warn(ctx context.Context, in Inactive, now time.Time) error {
	goes := now.Add(r.policy.WarnBefore)
	for i, to := range in.Contacts {
		m := notify.Message{To: to, Date: now, Subject: warningSubject(in.Mailbox), Text: r.warningText(in, goes),
			ID: fmt.Sprintf("mailbox-inactive-%d-%s-%d", in.Mailbox.ID, now.UTC().Format("20060102"), i)}
		if err := r.sender.Send(ctx, m); err != nil {
			return err
		}
	}
	e := r.entry(in, "mail.inactivity_warning", now)
	if len(in.Contacts) == 0 {
		e.Detail += " nobody_to_tell"
	}
	return r.svc.store.UpdateMail(ctx, func(tx Tx) error {
		if err := tx.MarkInactivityWarned(ctx, in.Mailbox.ID, now); err != nil {
			return err
		}
		_, err := tx.AppendTrace(ctx, e)
		return err
	})
}

// delete empties the mailbox and retires it, in one transaction with its trace, if it is
// still unused (a client may have signed in since the list was read).
func (r *Retention) delete(ctx context.Context, in Inactive, now time.Time) error {
	return r.svc.store.UpdateMail(ctx, func(tx Tx) error {
		deleted, err := tx.DeleteInactiveMailbox(ctx, in.Mailbox, in.LastActive, now)
		if err != nil || !deleted {
			return err
		}
		_, err = tx.AppendTrace(ctx, r.entry(in, "mail.inactivity_delete", now))
		return err
	})
}

func warningSubject(m Mailbox) string {
	if m.Kind == PAT {
		return "Votre messagerie de santé sera bientôt vidée"
	}
	return "Votre boîte aux lettres sécurisée " + m.Address.String() + " sera bientôt supprimée"
}

func (r *Retention) warningText(in Inactive, goes time.Time) string {
	var b strings.Builder
	b.WriteString("Bonjour,\n\n")
	if in.Mailbox.Kind == PAT {
		fmt.Fprintf(&b, "Vous n'avez pas consulté la messagerie de votre espace santé depuis le %s.\n", frenchDate(in.LastActive))
		fmt.Fprintf(&b, "Sans consultation d'ici le %s, ses messages seront supprimés (les règles de la messagerie sécurisée de santé le prévoient après un an sans utilisation).\n", frenchDate(goes))
		b.WriteString("Pour les garder, il suffit d'ouvrir vos messages dans votre espace santé.\n")
	} else {
		fmt.Fprintf(&b, "La boîte aux lettres sécurisée %s n'a pas été utilisée depuis le %s.\n", in.Mailbox.Address, frenchDate(in.LastActive))
		fmt.Fprintf(&b, "Sans utilisation d'ici le %s, elle sera supprimée avec ses messages (un an sans utilisation, règle de l'espace de confiance MSSanté).\n", frenchDate(goes))
		b.WriteString("Pour la garder, il suffit de vous y connecter une fois depuis votre logiciel de messagerie.\n")
	}
	b.WriteString("\n-- \ncarnet\n")
	return b.String()
}

var frenchMonths = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}

func frenchDate(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%d %s %d", t.Day(), frenchMonths[t.Month()-1], t.Year())
}
