// Package agendamail files into the patient's agenda the appointments and convocations that
// professionals send as iCalendar invitations (a text/calendar part, RFC 5545/5546) in a
// message delivered to the patient's mailbox: a mail.Inspector over the agenda service. It is
// an adapter between the messaging and the agenda, so that neither knows the other.
//
// Who files. The event is decided as a deposit by the message's sender (agenda.FileInvitation,
// access.ActionDeposit of a "Notification de rendez-vous"), so the patient's blocking, and the
// rules on who feeds a record, hold as for an Appointment sent over FHIR. The access decision
// knows professionals by their IdNat_PS; a message knows its sender by an address. What binds
// them, honestly:
//   - a message submitted here (mail.Submission) comes from the mailbox its sender
//     authenticated to (the acceptance checks the From field against it), so the directory
//     entry of that address is the sender: a PER mailbox's owner by their IdNat_PS, profession
//     and specialty; an ORG or APP mailbox (a hospital's convocations software) by its
//     organisation, as the national nomenclature names staff known to an organisation only:
//     the structure's identifier and an internal one (IdNat_PS "3" + FINESS + "/" + the
//     mailbox's local part, identity.PSFINESS; "5" + SIRET…);
//   - a message relayed by another operator of the trust space carries an address only: this
//     operator's directory does not hold it, and the message no national identifier. Its
//     invitation is not filed (a Finding says why): filing it under an address would let the
//     decision pass a sender it cannot check against the patient's blocking.
package agendamail

import (
	"context"
	"path"
	"strings"
	"sync/atomic"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/mail"
)

// Name names the inspector in findings and logs.
const Name = "agenda"

// Directory finds a mailbox of this operator and its owner (mail.Service).
type Directory interface {
	Directory(ctx context.Context, q mail.DirectoryQuery) ([]mail.DirectoryEntry, error)
}

// Inspector files the invitations of delivered messages into the agenda.
type Inspector struct {
	agenda *agenda.Service
	dir    atomic.Pointer[Directory]
}

// New returns the inspector. The directory is the messaging service, which is built with its
// inspectors: give it here or later with Use; until then an inspection fails and is retried.
func New(a *agenda.Service, dir Directory) *Inspector {
	i := &Inspector{agenda: a}
	if dir != nil {
		i.Use(dir)
	}
	return i
}

// Use sets the directory senders are found in.
func (i *Inspector) Use(dir Directory) { i.dir.Store(&dir) }

// Failure codes of the findings (the "code^label" of an MSSanté acknowledgement's error).
const (
	codeUnreadable = "AGENDA_ILLISIBLE"
	codeSender     = "AGENDA_EXPEDITEUR"
	codeRefused    = "AGENDA_REFUS"
)

// isCalendar reports whether an attachment is an iCalendar object: by its declared type, or
// by its file name when the sender's software declared a generic one.
func isCalendar(a *mail.Attachment) bool {
	switch a.Declared {
	case "text/calendar", "application/ics", "text/x-vcalendar":
		return true
	}
	return strings.EqualFold(path.Ext(a.Name), ".ics")
}

// Inspect files the events of every iCalendar object the message carries. A message without
// one is no business of the agenda (an empty Finding). A calendar that does not read, an
// event the agenda refuses, a sender who cannot be identified: a Failure, nothing filed from
// that object. A store or a decision that fails: an error, and the job is retried (filing is
// idempotent: the same version of an event changes nothing the second time).
func (i *Inspector) Inspect(ctx context.Context, d mail.Delivered) (mail.Finding, error) {
	var cals []*mail.Attachment
	for k := range d.View.Attachments {
		if a := &d.View.Attachments[k]; isCalendar(a) {
			cals = append(cals, a)
		}
	}
	f := mail.Finding{Inspector: Name}
	if len(cals) == 0 || d.Message.Channel == mail.System {
		return f, nil
	}
	actor, why, err := i.sender(ctx, d)
	if err != nil {
		return f, err
	}
	if why != "" {
		f.Failure = codeSender + "^" + why
		return f, nil
	}
	r := agenda.Request{Actor: actor, Channel: audit.ChannelSMTP}
	var failures []string
	for _, a := range cals {
		if a.Broken {
			failures = append(failures, codeUnreadable+"^Le fichier d'agenda "+a.Name+" est illisible (contenu mal encodé).")
			continue
		}
		cal, err := agenda.ParseICalendar(a.Data())
		if err != nil {
			failures = append(failures, codeUnreadable+"^Le fichier d'agenda "+a.Name+" est illisible ("+errs.MessageOf(err)+").")
			continue
		}
		for _, ev := range cal.Events {
			filed, _, err := i.agenda.FileInvitation(ctx, r, d.Job.PatientID, cal.Method, ev, d.View.Subject)
			switch {
			case err == nil:
				if filed != agenda.FiledUnchanged {
					f.Processed = true
				}
			case refusal(err):
				failures = append(failures, codeRefused+"^L'invitation "+a.Name+" n'est pas ajoutée à l'agenda : "+refusalFR(err))
			default:
				return mail.Finding{}, err
			}
		}
	}
	if len(failures) > 0 {
		f.Failure = strings.Join(failures, " ; ")
	}
	return f, nil
}

// refusal reports whether err is the agenda's (or the decision's) answer to what the message
// carries, rather than a failure worth retrying.
func refusal(err error) bool {
	switch errs.CodeOf(err) {
	case errs.Invalid, errs.Forbidden, errs.Conflict, errs.NotFound:
		return true
	}
	return false
}

// refusalFR says a refusal in French, with the service's own words (in English) for the
// detail.
func refusalFR(err error) string {
	switch errs.CodeOf(err) {
	case errs.Forbidden, errs.NotFound:
		return "l'expéditeur n'est pas autorisé à alimenter le dossier de ce patient."
	case errs.Conflict:
		return "l'espace du patient n'accepte pas de nouvel événement (" + errs.MessageOf(err) + ")."
	}
	return "l'invitation est incomplète ou incohérente (" + errs.MessageOf(err) + ")."
}

// sender builds the actor of the message's sender, or says why there is none.
func (i *Inspector) sender(ctx context.Context, d mail.Delivered) (access.Actor, string, error) {
	if d.Message.Channel != mail.Submission {
		return access.Actor{}, "l'expéditeur relève d'un autre opérateur : son identité nationale (RPPS, FINESS) n'est pas connue ici, l'invitation n'est pas ajoutée à l'agenda.", nil
	}
	dp := i.dir.Load()
	if dp == nil {
		return access.Actor{}, "", errs.E(errs.Unavailable, "the agenda's inspector has no directory yet")
	}
	es, err := (*dp).Directory(ctx, mail.DirectoryQuery{Address: d.From.String(), Operator: true, Limit: 1})
	if err != nil {
		return access.Actor{}, "", err
	}
	if len(es) == 0 {
		return access.Actor{}, "la boîte d'expédition n'est pas dans l'annuaire.", nil
	}
	e := es[0]
	switch e.Kind {
	case mail.PER:
		if e.IdNat != "" {
			name := strings.TrimSpace(e.GivenName + " " + e.FamilyName)
			if name == "" {
				name = e.DisplayName
			}
			return access.Actor{Kind: audit.ActorProfessional, ID: e.IdNat, Name: name, Org: e.StructureID,
				Profession: e.Profession, Specialty: e.Specialty}, "", nil
		}
	case mail.ORG, mail.APP:
		if id, ok := staffID(e.StructureID, d.From.Local); ok {
			name := e.DisplayName
			if e.OrganisationName != "" && !strings.Contains(name, e.OrganisationName) {
				name = strings.TrimSpace(name + " — " + e.OrganisationName)
			}
			return access.Actor{Kind: audit.ActorProfessional, ID: id, Name: name, Org: e.StructureID}, "", nil
		}
	}
	return access.Actor{}, "la boîte d'expédition n'est rattachée à aucun professionnel ni aucune structure identifiés.", nil
}

// structurePS maps an IdNat_Struct's prefix to the IdNat_PS prefix of staff known to that
// structure (CI-SIS "Identifiants des acteurs": 1 + FINESS gives 3 + FINESS / id…).
var structurePS = map[string]identity.PSKind{
	"0": identity.PSADELICabinet,
	"1": identity.PSFINESS,
	"2": identity.PSSIREN,
	"3": identity.PSSIRET,
	"4": identity.PSRPPSCabinet,
}

// staffID names an organisation's mailbox as the access decision names professionals: the
// structure's IdNat_PS with the mailbox's local part as the internal identifier.
func staffID(structureID, local string) (string, bool) {
	if len(structureID) < 2 {
		return "", false
	}
	k, ok := structurePS[structureID[:1]]
	if !ok {
		return "", false
	}
	id, err := identity.ParseIdNatPS(string(k) + structureID[1:] + "/" + local)
	if err != nil {
		return "", false
	}
	return id.String(), true
}
