package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailserve"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/store"
)

const mailUsage = `usage: carnet mail <action> [flags]

The secure messaging's mailboxes, app passwords and allowlist (the mail domain is the
setting "domain" of carnet serve):

  mailbox add      --kind PER --local L --idnat IDNAT [--name N]
  mailbox add      --kind ORG|APP --local L --structure ID [--name N] [--accepts-patients]
                   makes L@<domain>; address and kind are final. PER: a recorded professional's
                   IdNat_PS (8 + RPPS, 0 + ADELI); ORG, APP: a recorded organisation's
                   IdNat_Struct (1 + FINESS…). --accepts-patients (ORG only): patients may
                   write first (a pharmacy).
  mailbox list     [--kind PER|ORG|APP] [--mailbox A]   (patient mailboxes are not listed)
  mailbox hide     --mailbox A      (on the "liste rouge": left out of the directory)
  mailbox show     --mailbox A      (back in the directory)
  mailbox member add --mailbox A --idnat IDNAT   (an ORG mailbox's member)
  app-password add --mailbox A --label L [--holder IDNAT]
                   a password for one mail client, printed once; held by the PER mailbox's
                   owner (the default), an ORG mailbox's member (--holder), or an APP
                   mailbox's software (no holder)
  app-password revoke --mailbox A --id PUBLIC-ID
  allowlist refresh FILE   import the published allowlist of operators (XML), in one go
  allowlist status         what is in force

Every change is traced as the operator running the command.`

// mailActions are the actions, each as words before the flags.
var mailActions = [][]string{
	{"mailbox", "add"}, {"mailbox", "list"}, {"mailbox", "hide"}, {"mailbox", "show"},
	{"mailbox", "member", "add"}, {"app-password", "add"}, {"app-password", "revoke"},
	{"allowlist", "refresh"}, {"allowlist", "status"},
}

func runMail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var action string
	for _, words := range mailActions {
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == strings.Join(words, " ") {
			action, args = strings.Join(words, " "), args[len(words):]
			break
		}
	}
	if action == "" {
		fmt.Fprintln(stderr, mailUsage)
		return errUsage
	}
	var kind, local, idnat, structure, name, address, label, holder, publicID, file string
	if action == "allowlist refresh" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:] // the file first, the settings after it
	}
	var acceptsPatients bool
	a, fs, err := openAdmin(ctx, "mail "+action, args, stderr, func(fs *flag.FlagSet) {
		switch action {
		case "mailbox add":
			fs.StringVar(&kind, "kind", "", "PER, ORG or APP")
			fs.StringVar(&local, "local", "", "the part of the address before @<domain>")
			fs.StringVar(&idnat, "idnat", "", "PER: the owner's IdNat_PS")
			fs.StringVar(&structure, "structure", "", "ORG, APP: the organisation's IdNat_Struct")
			fs.StringVar(&name, "name", "", "display name (default the owner's name)")
			fs.BoolVar(&acceptsPatients, "accepts-patients", false, "ORG only: patients may write first")
		case "mailbox list":
			fs.StringVar(&kind, "kind", "", "only PER, ORG or APP")
			fs.StringVar(&address, "mailbox", "", "only this address")
		case "mailbox hide", "mailbox show":
			fs.StringVar(&address, "mailbox", "", "the mailbox's address")
		case "mailbox member add":
			fs.StringVar(&address, "mailbox", "", "the ORG mailbox's address")
			fs.StringVar(&idnat, "idnat", "", "the member's IdNat_PS")
		case "app-password add":
			fs.StringVar(&address, "mailbox", "", "the mailbox's address")
			fs.StringVar(&label, "label", "", "the mail client it is for")
			fs.StringVar(&holder, "holder", "", "the professional holding it (IdNat_PS; default a PER mailbox's owner)")
		case "app-password revoke":
			fs.StringVar(&address, "mailbox", "", "the mailbox's address")
			fs.StringVar(&publicID, "id", "", "the password's public id (its first 8 characters)")
		}
	})
	if err != nil {
		return err
	}
	defer a.db.Close()
	if action == "allowlist refresh" && file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintln(stderr, mailUsage)
		return errs.E(errs.Invalid, "unexpected argument %q", fs.Arg(0))
	}
	if action == "allowlist refresh" && file == "" {
		fmt.Fprintln(stderr, mailUsage)
		return errs.E(errs.Invalid, "allowlist refresh takes one file, the published allowlist")
	}
	svc, err := a.mailService()
	if err != nil {
		return err
	}
	by := mail.By{Actor: a.by, Channel: audit.ChannelCLI}
	need := func(flagName, v string) error {
		if strings.TrimSpace(v) == "" {
			return errs.E(errs.Invalid, "--%s is required", flagName)
		}
		return nil
	}
	switch action {
	case "mailbox add":
		k := mail.Kind(strings.ToUpper(strings.TrimSpace(kind)))
		switch k {
		case mail.PER:
			if structure != "" || acceptsPatients {
				return errs.E(errs.Invalid, "a PER mailbox takes --idnat, not --structure or --accepts-patients")
			}
			if err := need("idnat", idnat); err != nil {
				return err
			}
		case mail.ORG, mail.APP:
			if idnat != "" {
				return errs.E(errs.Invalid, "an %s mailbox takes --structure, not --idnat (members: carnet mail mailbox member add)", k)
			}
			if err := need("structure", structure); err != nil {
				return err
			}
		default:
			return errs.E(errs.Invalid, "--kind is PER, ORG or APP (patient mailboxes come with the space)")
		}
		if err := need("local", local); err != nil {
			return err
		}
		m, err := svc.CreateMailbox(ctx, by, mail.NewMailbox{Kind: k, LocalPart: local, DisplayName: name,
			IdNat: strings.TrimSpace(idnat), StructureID: strings.TrimSpace(structure), AcceptsPatients: acceptsPatients})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "mailbox %s (%s, %s) created\n", m.Address, m.Kind, m.DisplayName)
		return nil
	case "mailbox list":
		q := store.MailboxListQuery{Kind: mail.Kind(strings.ToUpper(strings.TrimSpace(kind)))}
		if q.Kind != "" && q.Kind != mail.PER && q.Kind != mail.ORG && q.Kind != mail.APP {
			return errs.E(errs.Invalid, "--kind is PER, ORG or APP")
		}
		if address != "" {
			addr, err := mail.ParseAddress(strings.TrimSpace(address))
			if err != nil || addr.IsNull() {
				return errs.E(errs.Invalid, "--mailbox is not a mailbox address")
			}
			q.Address = addr.String()
		}
		rows, err := a.db.ListMailboxes(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range rows {
			owner := r.OwnerIdNat
			if owner == "" {
				owner = r.StructureID
			}
			var flags []string
			if r.Hidden {
				flags = append(flags, "hidden")
			}
			if r.AcceptsPatients {
				flags = append(flags, "accepts-patients")
			}
			if !r.DisabledAt.IsZero() {
				flags = append(flags, "disabled")
			}
			if len(flags) == 0 {
				flags = append(flags, "listed")
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\tmembers=%d\tpasswords=%d\t%s\t%s\n", r.Address, r.Kind, r.DisplayName, owner,
				r.Members, r.LivePasswords, strings.Join(flags, ","), r.CreatedAt.Format(time.DateOnly))
		}
		return nil
	case "mailbox hide", "mailbox show":
		if err := need("mailbox", address); err != nil {
			return err
		}
		hide := action == "mailbox hide"
		if err := svc.SetHidden(ctx, by, address, hide); err != nil {
			return err
		}
		if hide {
			fmt.Fprintf(stdout, "mailbox %s hidden from the directory\n", address)
		} else {
			fmt.Fprintf(stdout, "mailbox %s listed in the directory\n", address)
		}
		return nil
	case "mailbox member add":
		if err := need("mailbox", address); err != nil {
			return err
		}
		if err := need("idnat", idnat); err != nil {
			return err
		}
		if err := svc.AddMember(ctx, by, address, strings.TrimSpace(idnat)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is a member of %s\n", strings.TrimSpace(idnat), address)
		return nil
	case "app-password add":
		if err := need("mailbox", address); err != nil {
			return err
		}
		if err := need("label", label); err != nil {
			return err
		}
		m, err := svc.Mailbox(ctx, address)
		if err != nil {
			return err
		}
		holder = strings.TrimSpace(holder)
		switch {
		case m.Kind == mail.PER && holder == "":
			// The owner, who is the only one who may hold it.
			rows, err := a.db.ListMailboxes(ctx, store.MailboxListQuery{Address: m.Address.String()})
			if err != nil {
				return err
			}
			if len(rows) != 1 {
				return errs.E(errs.NotFound, "mailbox %s not found", m.Address)
			}
			holder = rows[0].OwnerIdNat
		case m.Kind == mail.ORG && holder == "":
			return errs.E(errs.Invalid, "an ORG mailbox's password is held by one of its members: give --holder IDNAT")
		}
		plain, p, err := svc.CreateAppPassword(ctx, by, m.Address.String(), holder, label)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "app password %s (%s) for %s; sign in with the address as username.\npassword (shown once):\n%s\n",
			p.PublicID, p.Label, m.Address, plain)
		return nil
	case "app-password revoke":
		if err := need("mailbox", address); err != nil {
			return err
		}
		if err := need("id", publicID); err != nil {
			return err
		}
		if err := svc.RevokeAppPassword(ctx, by, address, strings.TrimSpace(publicID)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "app password %s of %s revoked\n", strings.ToUpper(strings.TrimSpace(publicID)), address)
		return nil
	case "allowlist refresh":
		rep, err := mailserve.RefreshAllowlist(ctx, svc, file, a.by, audit.ChannelCLI)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "allowlist of %s imported: %d entries, %d domains; %d added, %d removed, %d entries skipped\n",
			rep.GeneratedAt.Format(time.RFC3339), rep.Entries, rep.Domains, len(rep.Added), len(rep.Removed), len(rep.Skipped))
		listDomains(stdout, "+", rep.Added)
		listDomains(stdout, "-", rep.Removed)
		for _, s := range rep.Skipped {
			fmt.Fprintf(stdout, "skipped: %s\n", s)
		}
		return nil
	case "allowlist status":
		st, err := svc.AllowlistStatus(ctx)
		if err != nil {
			return err
		}
		if st.ImportedAt.IsZero() {
			fmt.Fprintln(stdout, "no allowlist imported: only this operator's own domains are trusted")
			return nil
		}
		fmt.Fprintf(stdout, "allowlist of %s, imported %s: %d entries, %d domains\n", st.GeneratedAt.Format(time.RFC3339),
			st.ImportedAt.Format(time.RFC3339), st.Entries, st.Domains)
		return nil
	}
	return errs.E(errs.Invalid, "unknown action %q", action)
}

// mailService builds the mail service as carnet serve does, without its listeners or queue:
// the operator's changes go through the same rules and traces.
func (a *admin) mailService() (*mail.Service, error) {
	key, err := mail.DeriveKey(a.key.seal)
	if err != nil {
		return nil, err
	}
	blobs, err := blob.NewFS(filepath.Join(a.cfg.DataDir, "blobs"), a.key.master, blob.WithPreviousKeys(a.cfg.PreviousMasterKeys()...))
	if err != nil {
		return nil, err
	}
	return mail.NewService(mail.Deps{Store: a.db.Mail(nil), Blobs: blobs, Clock: clock.System{}, Key: key,
		Password: password.DefaultParams(), Config: mail.DefaultConfig(a.cfg.Domain)})
}

// listDomains prints the domains a refresh added or removed: all of them when a routine
// refresh changes a few, the first ones when it is the first import.
func listDomains(w io.Writer, sign string, domains []string) {
	const most = 50
	for i, d := range domains {
		if i == most {
			fmt.Fprintf(w, "%s … and %d more\n", sign, len(domains)-most)
			return
		}
		fmt.Fprintf(w, "%s %s\n", sign, d)
	}
}
