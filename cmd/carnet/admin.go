package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/config"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// admin is what the operator commands work with: the store and the services, with a job
// queue that only inserts (the server works the jobs).
type admin struct {
	db       *store.DB
	spaces   *space.Service
	accounts *account.Service
	by       audit.Actor
	cfg      *config.Config
	key      keys
}

func openAdmin(ctx context.Context, name string, args []string, stderr io.Writer, flags func(*flag.FlagSet)) (*admin, *flag.FlagSet, error) {
	cfg, fs, err := loadConfig(name, args, stderr, flags)
	if err != nil {
		return nil, nil, err
	}
	db, key, err := openStore(ctx, cfg, false)
	if err != nil {
		return nil, nil, err
	}
	if err := prepareSchema(ctx, db, clock.System{}, newLogger(cfg, stderr)); err != nil {
		db.Close()
		return nil, nil, err
	}
	if _, err := jobs.New(db, jobs.Config{}, jobs.Deps{}); err != nil {
		db.Close()
		return nil, nil, err
	}
	clk := clock.System{}
	catalog, err := terminology.Default()
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	accounts, err := account.NewService(db.Accounts(), clk, password.DefaultParams(), catalog)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	spaces, err := newSpaces(db, clk, cfg, key, nil)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return &admin{db: db, spaces: spaces, accounts: accounts, by: operatorActor(), cfg: cfg, key: key}, fs, nil
}

// operatorActor names the person at the terminal in traces: the system account running the
// command, as the operator's own access control knows it.
func operatorActor() audit.Actor {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return audit.Actor{Kind: audit.ActorOperator, ID: "cli:" + name, Name: name}
}

func (a *admin) spaceBy() space.By     { return space.By{Actor: a.by, Channel: audit.ChannelCLI} }
func (a *admin) accountBy() account.By { return account.By{Actor: a.by, Channel: audit.ChannelCLI} }

const spaceUsage = `usage: carnet space <action> [flags]

  create   --ins INS --birth-name N --given-names "N M" --birth-date YYYY-MM-DD --sex F|M|U
           [--email E] [--parent INS]... [--guardian INS]
  show     --ins INS
  oppose   --ins INS
  close    --ins INS [--delete]
  delete   --ins INS            (deletion on request of a closed space)
  reopen   --ins INS
  sweep                          (apply the deadlines that have passed, as the server does)`

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func runSpace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, spaceUsage)
		return errUsage
	}
	action := args[0]
	var insFlag, birthName, given, birthDate, sex, email string
	var parents, guardians multi
	var deletion bool
	a, _, err := openAdmin(ctx, "space "+action, args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&insFlag, "ins", "", "the person's INS (matricule, or urn:oid:OID|matricule)")
		if action == "create" {
			fs.StringVar(&birthName, "birth-name", "", "birth name")
			fs.StringVar(&given, "given-names", "", "given names, the first one first")
			fs.StringVar(&birthDate, "birth-date", "", "date of birth, YYYY-MM-DD")
			fs.StringVar(&sex, "sex", "", "F, M or U")
			fs.StringVar(&email, "email", "", "where the notice goes")
			fs.Var(&parents, "parent", "INS of a parent (repeatable), for a minor")
			fs.Var(&guardians, "guardian", "INS of a guardian (repeatable)")
		}
		if action == "close" {
			fs.BoolVar(&deletion, "delete", false, "delete the data within 3 months instead of archiving them 10 years")
		}
	})
	if err != nil {
		return err
	}
	defer a.db.Close()
	if action == "sweep" {
		rep, err := a.spaces.Sweep(ctx)
		fmt.Fprintf(stdout, "opened %d, purged %d, failed %d\n", rep.Opened, rep.Purged, rep.Failed)
		return err
	}
	ins, err := parseINSFlag(insFlag)
	if err != nil {
		return err
	}
	if action == "create" {
		return a.createSpace(ctx, stdout, ins, birthName, given, birthDate, sex, email, parents, guardians)
	}
	p, _, err := a.spaces.ByINS(ctx, ins.Matricule)
	if err != nil {
		return err
	}
	var sp space.Space
	switch action {
	case "show":
		_, sp, err = a.spaces.Get(ctx, p.ID)
	case "oppose":
		sp, err = a.spaces.Oppose(ctx, a.spaceBy(), p.ID)
	case "close":
		sp, err = a.spaces.Close(ctx, a.spaceBy(), p.ID, deletion)
	case "delete":
		sp, err = a.spaces.RequestDeletion(ctx, a.spaceBy(), p.ID)
	case "reopen":
		sp, err = a.spaces.Reopen(ctx, a.spaceBy(), p.ID)
	default:
		fmt.Fprintln(stderr, spaceUsage)
		return errUsage
	}
	if err != nil {
		return err
	}
	printSpace(stdout, sp)
	return nil
}

func parseINSFlag(s string) (identity.INS, error) {
	if s == "" {
		return identity.INS{}, errs.E(errs.Invalid, "--ins is required")
	}
	ins, err := identity.ParseINS(s)
	if err != nil {
		return ins, err
	}
	if ins.System == "" {
		ins.System = identity.OIDNIR // a bare matricule from the insurer's files is a NIR
	}
	return ins, nil
}

func (a *admin) createSpace(ctx context.Context, stdout io.Writer, ins identity.INS, birthName, given, birthDate, sex, email string, parents, guardians multi) error {
	born, err := time.Parse(space.DateLayout, birthDate)
	if err != nil {
		return errs.E(errs.Invalid, "--birth-date must be YYYY-MM-DD")
	}
	n := space.NewSpace{Patient: space.Patient{INS: ins, BirthName: birthName, GivenNames: given, BirthDate: born,
		Sex: space.Sex(strings.ToUpper(sex)), Email: email}}
	for _, p := range parents {
		n.Representatives = append(n.Representatives, space.NewRepresentative{INS: p, Role: space.Parent})
	}
	for _, g := range guardians {
		n.Representatives = append(n.Representatives, space.NewRepresentative{INS: g, Role: space.Guardian})
	}
	c, err := a.spaces.Create(ctx, a.spaceBy(), n)
	if err != nil {
		return err
	}
	printSpace(stdout, c.Space)
	if email == "" && len(n.Representatives) == 0 {
		// No e-mail: the operator prints the postal notice, which needs the code.
		fmt.Fprintf(stdout, "activation code (for the postal notice): %s\n", c.ActivationCode)
	}
	return nil
}

func printSpace(w io.Writer, sp space.Space) {
	fmt.Fprintf(w, "space of patient %d: %s", sp.PatientID, sp.State)
	day := func(t time.Time) string { return t.Format("2006-01-02 15:04 MST") }
	switch sp.State {
	case space.Pending:
		fmt.Fprintf(w, ", opens on %s unless the person objects", day(sp.OpensAt))
	case space.Open:
		fmt.Fprintf(w, " since %s, activated: %v", day(sp.OpenedAt), sp.Activated)
	case space.Closed:
		fmt.Fprintf(w, " since %s, purged on %s (deletion requested: %v)", day(sp.ClosedAt), day(sp.PurgeAt), sp.DeletionRequested)
	case space.Purged:
		fmt.Fprintf(w, " on %s", day(sp.PurgedAt))
	}
	fmt.Fprintln(w)
}

const accountUsage = `usage: carnet account <action> [flags]

  add-operator      --login EMAIL --name NAME        (password read from standard input)
  add-organisation  --structure-id ID --name NAME [--town T]   (ID = 1 + FINESS, 3 + SIRET, …)
  add-professional  --idnat ID --family-name N --given-name N --profession G15_10
                    [--specialty SM26] [--organisation STRUCTURE-ID] [--email E]
  token             --idnat ID | --operator EMAIL | --ins INS  [--days 90] [--label L]
                    (prints a bearer token for the FHIR API, shown once)
  revoke-token      --id TOKEN-ID`

func runAccount(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, accountUsage)
		return errUsage
	}
	action := args[0]
	var login, name, structure, town, idnat, family, givenName, profession, specialty, org, email string
	var insFlag, label, tokenID string
	days := 90
	a, _, err := openAdmin(ctx, "account "+action, args[1:], stderr, func(fs *flag.FlagSet) {
		switch action {
		case "add-operator":
			fs.StringVar(&login, "login", "", "e-mail address used to sign in")
			fs.StringVar(&name, "name", "", "display name")
		case "add-organisation":
			fs.StringVar(&structure, "structure-id", "", "IdNat_Struct, e.g. 1750100125 (1 + FINESS)")
			fs.StringVar(&name, "name", "", "name")
			fs.StringVar(&town, "town", "", "town")
		case "add-professional":
			fs.StringVar(&idnat, "idnat", "", "IdNat_PS: 8 + RPPS, or 0 + ADELI")
			fs.StringVar(&family, "family-name", "", "family name")
			fs.StringVar(&givenName, "given-name", "", "given name")
			fs.StringVar(&profession, "profession", "", "TRE_G15 profession code, e.g. G15_10")
			fs.StringVar(&specialty, "specialty", "", "specialty code, e.g. SM26")
			fs.StringVar(&org, "organisation", "", "structure id of the organisation, if recorded")
			fs.StringVar(&email, "email", "", "e-mail address")
		case "token":
			fs.StringVar(&idnat, "idnat", "", "the professional's IdNat_PS")
			fs.StringVar(&login, "operator", "", "an operator account's login")
			fs.StringVar(&insFlag, "ins", "", "a patient's INS")
			fs.IntVar(&days, "days", 90, "days the token lives (at most 366)")
			fs.StringVar(&label, "label", "", "what the token is for, e.g. the software using it")
		case "revoke-token":
			fs.StringVar(&tokenID, "id", "", "the token's id, as token printed it")
		}
	})
	if err != nil {
		return err
	}
	defer a.db.Close()
	switch action {
	case "add-operator":
		pw, err := readSecretLine(stdin)
		if err != nil {
			return err
		}
		acc, err := a.accounts.CreateAccount(ctx, a.accountBy(), account.NewAccount{Kind: account.KindOperator, Login: login, DisplayName: name, Password: pw})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "operator account %d created for %s\n", acc.ID, acc.Login)
	case "add-organisation":
		sid, err := identity.ParseStructureID(structure)
		if err != nil {
			return err
		}
		o, err := a.accounts.CreateOrganisation(ctx, a.accountBy(), account.Organisation{StructureID: sid, Name: name, Town: town})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "organisation %d recorded: %s\n", o.ID, o.StructureID.String())
	case "add-professional":
		id, err := identity.ParseIdNatPS(idnat)
		if err != nil {
			return err
		}
		p := account.Professional{IdNat: id, FamilyName: family, GivenName: givenName, Profession: profession, Specialty: specialty, Email: email}
		if org != "" {
			o, err := a.accounts.OrganisationByStructureID(ctx, org)
			if err != nil {
				return err
			}
			p.OrganisationID = o.ID
		}
		if p, err = a.accounts.CreateProfessional(ctx, a.accountBy(), p); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "professional %d recorded: %s\n", p.ID, p.IdNat.String())
	case "token":
		subject, err := a.tokenSubject(ctx, idnat, login, insFlag)
		if err != nil {
			return err
		}
		secret, t, err := apitoken.NewService(a.db.Tokens(), clock.System{}).Issue(ctx, a.by, audit.ChannelCLI, subject, label,
			time.Duration(days)*24*time.Hour)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %s for %s, valid until %s:\n%s\n", t.ID, subject.Kind, t.ExpiresAt.Format(time.RFC3339), secret)
	case "revoke-token":
		if tokenID == "" {
			return errs.E(errs.Invalid, "--id is required")
		}
		if err := apitoken.NewService(a.db.Tokens(), clock.System{}).Revoke(ctx, a.by, audit.ChannelCLI, tokenID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %s revoked\n", tokenID)
	default:
		fmt.Fprintln(stderr, accountUsage)
		return errUsage
	}
	return nil
}

// tokenSubject finds whom a token is for: exactly one of a professional, an operator account,
// a patient.
func (a *admin) tokenSubject(ctx context.Context, idnat, login, ins string) (apitoken.Subject, error) {
	n := 0
	for _, v := range []string{idnat, login, ins} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return apitoken.Subject{}, errs.E(errs.Invalid, "give exactly one of --idnat, --operator, --ins")
	}
	var s apitoken.Subject
	err := a.db.View(ctx, func(tx *store.Tx) error {
		switch {
		case idnat != "":
			id, err := identity.ParseIdNatPS(idnat)
			if err != nil {
				return err
			}
			p, err := tx.ProfessionalByIdNat(ctx, id.String())
			if err != nil {
				return err
			}
			s = apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: p.ID}
		case login != "":
			acc, err := tx.AccountByLogin(ctx, strings.ToLower(strings.TrimSpace(login)))
			if err != nil {
				return err
			}
			if acc.Kind != account.KindOperator {
				return errs.E(errs.Invalid, "%s is not an operator account", login)
			}
			s = apitoken.Subject{Kind: audit.ActorOperator, AccountID: acc.ID}
		default:
			i, err := parseINSFlag(ins)
			if err != nil {
				return err
			}
			p, err := tx.PatientByINS(ctx, i.Matricule)
			if err != nil {
				return err
			}
			s = apitoken.Subject{Kind: audit.ActorPatient, PatientID: p.ID}
		}
		return nil
	})
	return s, err
}

// readSecretLine reads one line (a password) from standard input: a pipe or a terminal, never
// the command line, which other local users can read.
func readSecretLine(r io.Reader) (string, error) {
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprint(os.Stderr, "password: ")
		}
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && line == "" {
		return "", errs.E(errs.Invalid, "a password is expected on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
