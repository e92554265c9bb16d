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
//   - a message submitted here (mail.Submission) was sent by whoever signed in to its mailbox
//     (the acceptance checks the From field against it). A professional signs in with their
//     own app password, to their PER mailbox or to an ORG mailbox they are a member of; the
//     job names them (mail.InspectJob.Sender), and they are the actor, with the organisation
//     whose mailbox it left from: a professional the patient blocked files nothing through a
//     shared mailbox. An organisation's UIDs are one namespace whoever of its members sends:
//     the event of a convocation is the ORG mailbox's, whichever secretary moves it.
//   - an APP mailbox's software (a hospital's convocations system) signs in as no person: it
//     is named as the national nomenclature names staff known to an organisation only, the
//     structure's identifier and an internal one (IdNat_PS "3" + FINESS + "/" + the mailbox's
//     local part, identity.PSFINESS; "5" + SIRET…). An ORG mailbox without a person named is
//     refused: a shared mailbox must not stand in for the person who used it;
//   - a message relayed by another operator of the trust space carries an address only: this
//     operator's directory does not hold it, and the message no national identifier. Its
//     invitation is not filed (a Finding says why): filing it under an address would let the
//     decision pass a sender it cannot check against the patient's blocking.
//
// The practitioner the event names is the actor as the directory knows them, never the
// ORGANIZER's CN, which is whatever the sender wrote.
package agendamail

import (
	"context"
	"path"
	"strconv"
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
	actor, scope, why, err := i.sender(ctx, d)
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
		what := partName(a)
		if a.Broken {
			failures = append(failures, codeUnreadable+"^"+capitalise(what)+" est illisible : son contenu est mal encodé.")
			continue
		}
		cal, err := agenda.ParseICalendar(a.Data())
		if err != nil {
			failures = append(failures, codeUnreadable+"^"+capitalise(what)+" est illisible : ce n'est pas un agenda iCalendar valide (RFC 5545).")
			continue
		}
		switch cal.Method {
		case "", agenda.MethodPublish, agenda.MethodRequest, agenda.MethodCancel:
		default:
			failures = append(failures, codeRefused+"^"+capitalise(what)+" n'est pas ajoutée à l'agenda : ce n'est pas une invitation (méthode iTIP autre que PUBLISH, REQUEST ou CANCEL).")
			continue
		}
		for _, ev := range cal.Events {
			filed, _, err := i.agenda.FileInvitationFrom(ctx, r, d.Job.PatientID, scope, cal.Method, ev, d.View.Subject)
			switch {
			case err == nil:
				if filed != agenda.FiledUnchanged {
					f.Processed = true
				}
			case refusal(err):
				failures = append(failures, codeRefused+"^"+capitalise(what)+" n'est pas ajoutée à l'agenda : "+refusalFR(err))
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

// partName names a calendar part in a finding: by the file name its sender gave it, and as
// "l'invitation" when it has none (the messaging names such a part "piece-jointe-N", which
// means nothing to whoever sent an invitation as an alternative part, RFC 6047).
func partName(a *mail.Attachment) string {
	if a.Name == "" || a.Name == "piece-jointe-"+strconv.Itoa(a.Index+1) {
		return "l'invitation"
	}
	return "l'invitation « " + a.Name + " »"
}

// capitalise puts the first letter of a French label in upper case ("l'invitation" begins a
// sentence).
func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
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

// refusalFR says a refusal in French. The service's messages are English, for logs and
// developers: none is embedded in what the sender reads.
func refusalFR(err error) string {
	switch errs.CodeOf(err) {
	case errs.Forbidden:
		return "l'expéditeur n'est pas autorisé à alimenter le dossier de ce patient."
	case errs.NotFound:
		return "l'espace santé du patient destinataire n'existe plus."
	case errs.Conflict:
		return "l'espace santé du patient n'accepte plus de nouvel événement (il est fermé ou en cours de fermeture)."
	}
	return "l'invitation est incomplète ou incohérente (identifiant, date de début ou de fin manquant ou invalide)."
}

// sender builds the actor of the message's sender and the scope of its UIDs (see the package
// comment), or says why there is none.
func (i *Inspector) sender(ctx context.Context, d mail.Delivered) (actor access.Actor, scope, why string, err error) {
	if d.Message.Channel != mail.Submission {
		return access.Actor{}, "", "l'expéditeur relève d'un autre opérateur : son identité nationale (RPPS, FINESS) n'est pas connue ici, l'invitation n'est pas ajoutée à l'agenda.", nil
	}
	dp := i.dir.Load()
	if dp == nil {
		return access.Actor{}, "", "", errs.E(errs.Unavailable, "the agenda's inspector has no directory yet")
	}
	es, err := (*dp).Directory(ctx, mail.DirectoryQuery{Address: d.From.String(), Operator: true, Limit: 1})
	if err != nil {
		return access.Actor{}, "", "", err
	}
	if len(es) == 0 {
		return access.Actor{}, "", "la boîte d'expédition n'est pas dans l'annuaire.", nil
	}
	e := es[0]
	if d.Job.Sender != "" {
		// The professional who signed in to send it: they act, whatever mailbox it left from.
		a, err := i.agenda.Professional(ctx, d.Job.Sender)
		switch {
		case errs.Is(err, errs.NotFound):
			return access.Actor{}, "", "la personne qui a envoyé le message n'est plus dans l'annuaire des professionnels.", nil
		case err != nil:
			return access.Actor{}, "", "", err
		}
		if e.Kind == mail.ORG {
			// On behalf of the organisation whose mailbox it left from, which the trace
			// names; its members share the UIDs of its convocations.
			if e.StructureID != "" {
				a.Org = e.StructureID
			}
			scope = "mailbox:" + strings.ToLower(e.Address)
		}
		return a, scope, "", nil
	}
	switch e.Kind {
	case mail.PER:
		// A job queued before the messaging named who signed in: a PER mailbox's passwords
		// are its owner's only.
		if e.IdNat != "" {
			a, err := i.agenda.Professional(ctx, e.IdNat)
			if err == nil {
				return a, "", "", nil
			}
			if !errs.Is(err, errs.NotFound) {
				return access.Actor{}, "", "", err
			}
		}
	case mail.APP:
		if id, ok := staffID(e.StructureID, d.From.Local); ok {
			name := e.DisplayName
			if e.OrganisationName != "" && !strings.Contains(name, e.OrganisationName) {
				name = strings.TrimSpace(name + " — " + e.OrganisationName)
			}
			return access.Actor{Kind: audit.ActorProfessional, ID: id, Name: name, Org: e.StructureID}, "", "", nil
		}
	case mail.ORG:
		return access.Actor{}, "", "la boîte partagée d'une structure a envoyé le message sans que la personne qui l'a utilisée soit identifiée : l'invitation n'est pas ajoutée à l'agenda.", nil
	}
	return access.Actor{}, "", "la boîte d'expédition n'est rattachée à aucun professionnel ni aucune structure identifiés.", nil
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
