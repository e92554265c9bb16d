// Package alert tells a patient's médecins traitants of an emergency access to the record:
// a professional who broke the glass, or the regulating doctor of a SAMU - centre 15, read it
// without the patient's consent, which the law allows and requires them to be told of after
// the fact (CSP R1111-48, for both situations of L1111-17 I).
//
// The access's transaction queues the alert in the notice outbox, one a day per accessing
// professional (access.Tell, access.AlertKey); the outbox job turns it into a Job, whose
// worker calls Send. Send reads who the médecins traitants are and who accessed, in one
// traced transaction on the patient's chain, then tells each:
//
//   - through the secure health messaging, in their carnet PER mailbox, with the patient's
//     name, birth date and INS, who accessed, when and on what ground: a message that names
//     a patient belongs in MSSanté, never in an ordinary e-mail;
//   - otherwise by an ordinary e-mail to the address of their carnet account, which names no
//     patient and says where to look (the professional pages), as the patient's own notices
//     do.
//
// A médecin traitant carnet cannot reach either way is traced as such, so the patient's
// trail and the operator both see it.
package alert

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// Job asks the queue to send the alert of one notice key. It names the patient and the key
// only: who is told, and what, is read when the job runs.
type Job struct {
	PatientID int64  `json:"patient_id"`
	Key       string `json:"key"` // access.AlertKey
}

// Kind names the job for the queue.
func (Job) Kind() string { return "access.alert" }

// Tx is what Send reads, in one transaction that it traces.
type Tx interface {
	audit.Appender
	Patient(ctx context.Context, id int64) (space.Patient, error)
	AccessSettings(ctx context.Context, patientID int64) (access.Settings, error)
	ProfessionalByIdNat(ctx context.Context, idnat string) (account.Professional, error)
	// ProfessionalMailbox returns the professional's PER mailbox that still receives;
	// NotFound when they have none.
	ProfessionalMailbox(ctx context.Context, professionalID int64) (mail.Mailbox, error)
}

// Store opens the transaction.
type Store interface {
	UpdateAlerts(ctx context.Context, fn func(Tx) error) error
}

// Mailer delivers carnet's own messages into a local mailbox (mail.Service).
type Mailer interface {
	DeliverSystem(ctx context.Context, m mail.SystemMessage) (bool, error)
}

// Deps are what the service needs.
type Deps struct {
	Store       Store
	Mail        Mailer               // nil: no secure messaging; every médecin traitant gets the e-mail
	Sender      notify.Sender        // the ordinary e-mail of notices
	Professions *terminology.Catalog // names professions; nil: the code is shown
	Clock       clock.Clock
	PublicURL   string // where the e-mail sends professionals
	Log         *slog.Logger
}

// Service sends the alerts.
type Service struct{ d Deps }

// NewService returns the service.
func NewService(d Deps) (*Service, error) {
	if d.Store == nil || d.Sender == nil || d.Clock == nil {
		return nil, errs.E(errs.Internal, "alert: a store, a notice sender and a clock are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d}, nil
}

// delivery is one médecin traitant's alert: a secure message or an e-mail.
type delivery struct {
	idnat  string
	secure *mail.SystemMessage
	email  *notify.Message
}

// Report says what one Send did.
type Report struct {
	Secure, Email, Unreachable int
}

// Send tells the patient's current médecins traitants of the access the job's key names.
// The médecin traitant who accessed is not told of their own access. Sending is idempotent
// per key and médecin traitant (a retried job sends nothing twice to the mailbox, and the
// same Message-ID by e-mail).
func (s *Service) Send(ctx context.Context, j Job) (Report, error) {
	a, ok := access.ParseAlertKey(j.Key)
	if !ok {
		return Report{}, errs.E(errs.Invalid, "not an alert key")
	}
	var (
		out []delivery
		rep Report
	)
	e := audit.Entry{At: s.d.Clock.Now(), Actor: audit.System("alert"), Channel: audit.ChannelJob, Action: "access.alert",
		PatientID: j.PatientID, Object: "alert/" + string(a.Basis) + "/" + a.IdNat}
	err := audit.Do(ctx, s.d.Store.UpdateAlerts, e, func(tx Tx, e *audit.Entry) error {
		out, rep = nil, Report{}
		p, err := tx.Patient(ctx, j.PatientID)
		if err != nil {
			return err
		}
		st, err := tx.AccessSettings(ctx, j.PatientID)
		if err != nil {
			return err
		}
		who, err := tx.ProfessionalByIdNat(ctx, a.IdNat)
		if err != nil && !errs.Is(err, errs.NotFound) {
			return err
		}
		var told, unreachable []string
		for _, mt := range st.MedecinsTraitants {
			if mt.IdNat == a.IdNat {
				continue
			}
			d, err := s.deliveryFor(ctx, tx, j, a, p, who, mt.IdNat)
			if err != nil {
				return err
			}
			switch {
			case d.secure != nil:
				rep.Secure++
				told = append(told, mt.IdNat+" (messagerie sécurisée)")
			case d.email != nil:
				rep.Email++
				told = append(told, mt.IdNat+" (courriel)")
			default:
				rep.Unreachable++
				unreachable = append(unreachable, mt.IdNat)
				continue
			}
			out = append(out, d)
		}
		// The trace says whom carnet told and whom it could not: the patient's trail shows it.
		switch {
		case len(told) == 0 && len(unreachable) == 0:
			e.Reason = "aucun médecin traitant à prévenir"
		default:
			var parts []string
			if len(told) > 0 {
				parts = append(parts, "médecin traitant prévenu : "+strings.Join(told, ", "))
			}
			if len(unreachable) > 0 {
				parts = append(parts, "injoignable (ni messagerie sécurisée ni courriel) : "+strings.Join(unreachable, ", "))
			}
			e.Reason = strings.Join(parts, " ; ")
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	for _, d := range out {
		if d.secure != nil {
			if _, err := s.d.Mail.DeliverSystem(ctx, *d.secure); err != nil {
				return rep, err
			}
			continue
		}
		if err := s.d.Sender.Send(ctx, *d.email); err != nil {
			return rep, err
		}
	}
	if rep.Unreachable > 0 {
		// No names here: logs hold no health data, and the trace has them.
		s.d.Log.Warn("médecin traitant not reachable for an emergency access alert", "patient", j.PatientID, "count", rep.Unreachable)
	}
	return rep, nil
}

// deliveryFor builds the alert to one médecin traitant; a delivery with neither message when
// they cannot be reached.
func (s *Service) deliveryFor(ctx context.Context, tx Tx, j Job, a access.Alert, p space.Patient, who account.Professional, idnat string) (delivery, error) {
	d := delivery{idnat: idnat}
	mt, err := tx.ProfessionalByIdNat(ctx, idnat)
	if errs.Is(err, errs.NotFound) {
		return d, nil // designated by an IdNat carnet has no account for
	}
	if err != nil {
		return d, err
	}
	id := fmt.Sprintf("alert.%d.%s.%s", j.PatientID, sanitize(j.Key), sanitize(idnat))
	if s.d.Mail != nil {
		box, err := tx.ProfessionalMailbox(ctx, mt.ID)
		if err != nil && !errs.Is(err, errs.NotFound) {
			return d, err
		}
		if err == nil {
			d.secure = &mail.SystemMessage{To: box.Address, ID: id, Subject: secureSubject(a, p), Text: s.secureText(a, p, who, mt)}
			return d, nil
		}
	}
	if mt.Email != "" {
		d.email = &notify.Message{To: mt.Email, ID: id, Date: s.d.Clock.Now(), Subject: "Accès en urgence au dossier d'un de vos patients",
			Text: s.emailText(a, mt)}
	}
	return d, nil
}

func secureSubject(a access.Alert, p space.Patient) string {
	return "Accès en urgence au dossier de " + patientName(p)
}

func ground(b access.Reason) string {
	if b == access.ReasonRegulation {
		return "par le médecin régulateur d'un SAMU - centre 15, hors de son consentement (article L1111-17 I, alinéa 2, du code de la santé publique)"
	}
	return "en urgence (« bris de glace »), le patient n'étant pas en état de donner son accord (article L1111-17 I, alinéa 1, du code de la santé publique)"
}

func (s *Service) secureText(a access.Alert, p space.Patient, who, mt account.Professional) string {
	accessor := a.IdNat
	if who.ID != 0 {
		accessor = who.DisplayName() + ", " + s.profession(who.Profession) + " (" + a.IdNat + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Bonjour %s,\n\n", mt.DisplayName())
	fmt.Fprintf(&b, "Vous êtes médecin traitant de %s, né(e) le %s (INS %s).\n\n", patientName(p), frenchDate(p.BirthDate), p.INS.Matricule)
	fmt.Fprintf(&b, "Le %s, %s a accédé à son dossier médical partagé %s.\n\n", frenchDate(a.Day), accessor, ground(a.Basis))
	b.WriteString("La loi prévoit que vous en soyez informé(e) (article R1111-48 du code de la santé publique). " +
		"Le patient l'est aussi ; l'historique des accès de son espace santé dit quels documents ont été consultés.\n\n")
	b.WriteString("-- \ncarnet — message automatique, merci de ne pas y répondre.\n")
	return b.String()
}

func (s *Service) emailText(a access.Alert, mt account.Professional) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Bonjour %s,\n\n", mt.DisplayName())
	fmt.Fprintf(&b, "Le %s, un professionnel de santé a accédé en urgence au dossier médical partagé d'un patient "+
		"dont vous êtes médecin traitant.\n", frenchDate(a.Day))
	b.WriteString("Ce courriel ne nomme pas le patient : les données de santé ne circulent que par la messagerie sécurisée de santé.\n")
	fmt.Fprintf(&b, "Ouvrez une boîte aux lettres de messagerie sécurisée dans votre espace professionnel, sur %s/pro, "+
		"pour recevoir le détail de ces alertes.\n\n-- \ncarnet\n", strings.TrimRight(s.d.PublicURL, "/"))
	return b.String()
}

func (s *Service) profession(code string) string {
	if s.d.Professions != nil {
		if p, err := s.d.Professions.Profession(code); err == nil && p.Label != "" {
			return strings.ToLower(p.Label[:1]) + p.Label[1:]
		}
	}
	return code
}

func patientName(p space.Patient) string {
	given, _, _ := strings.Cut(p.GivenNames, " ")
	family := p.UsedName
	if family == "" {
		family = p.BirthName
	}
	return strings.TrimSpace(given + " " + strings.ToUpper(family))
}

var months = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}

func frenchDate(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	t = t.UTC()
	day := fmt.Sprint(t.Day())
	if t.Day() == 1 {
		day = "1er"
	}
	return fmt.Sprintf("%s %s %d", day, months[t.Month()-1], t.Year())
}

// sanitize keeps what a Message-ID and a file name may hold.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
}
