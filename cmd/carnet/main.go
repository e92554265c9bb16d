// Command carnet is the patient health space server and its operator tools, in one binary.
//
//	carnet serve          run the server (HTTP, background jobs)
//	carnet migrate        bring the database schema up to this version
//	carnet audit verify   check that the trace log is intact
//	carnet space …        operator actions on patient spaces
//	carnet account …      operator accounts, organisations, professionals, API tokens
//	carnet access matrix  the habilitation matrix in force
//	carnet mail …         mailboxes, app passwords and the allowlist of the secure messaging
//	carnet blobs …        blob key rotation and checks
//	carnet optout import  spaces in bulk from the insurer's file
//	carnet reimbursements import  the insurer's reimbursement feed, into records and agendas
//	carnet version        print the version
//
// main only wires: it reads the configuration and hands each part what it needs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	// The time zone database in the binary (about 450 kB): invitations name their zones
	// (Europe/Paris, America/Cayenne…) and the agenda reads days in Paris; a host or container
	// without zoneinfo would otherwise refuse every zone but UTC, or read Paris as a fixed +1.
	_ "time/tzdata"

	"github.com/carnet-sante/carnet/internal/errs"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// stdin is where commands read secrets from; tests replace it.
var stdin io.Reader = os.Stdin

func commands() []command {
	return []command{
		{"serve", "run the server on the configured database and listeners", runServe},
		{"migrate", "apply the pending database migrations", runMigrate},
		{"audit", "audit verify: check the integrity of the trace log", runAudit},
		{"space", "create, show, oppose, close, delete, reopen a patient space; sweep deadlines", runSpace},
		{"optout", "optout import FILE: create spaces in bulk from the insurer's file", runOptout},
		{"reimbursements", "reimbursements import FILE: file the insurer's reimbursement feed (record and agenda)", runReimbursements},
		{"blobs", "blobs rewrap | verify: wrap blob keys under the current master key; check every blob", runBlobs},
		{"backup", "backup --to DIR: copy the database and its blobs consistently while the server runs", runBackup},
		{"restore", "restore --from DIR: restore a backup into a new data directory and verify it", runRestore},
		{"export", "export --ins INS --legal-request REF --to FILE: a patient's whole space as one archive", runExport},
		{"import", "import --ins INS FILE: bring a former record (carnet archive, IHE XDM) into a space", runImport},
		{"account", "add operator accounts, organisations and professionals", func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return runAccount(ctx, args, stdin, stdout, stderr)
		}},
		{"access", "access matrix show | list | load FILE: the habilitation matrix in force", runAccess},
		{"mail", "mail mailbox | app-password | allowlist: mailboxes, mail clients' passwords, the operators' allowlist", runMail},
		{"oauth", "oauth add | list | disable | rotate-secret: the clients of the OAuth 2 server", runOAuth},
		{"apps", "apps add | list | show | set-status | update: the catalogue of referenced health apps", runApps},
		{"demo", "demo seed: a synthetic French population, through the services", runDemo},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintf(stderr, "carnet %s: %s\n", c.name, describe(err))
		return 1
	}
	fmt.Fprintf(stderr, "carnet: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

var errUsage = errors.New("usage")

// describe shows an error to the operator: the safe message, and the cause when it helps.
func describe(err error) string {
	var e *errs.Error
	if errors.As(err, &e) && e.Code == errs.Invalid {
		return e.Error()
	}
	return err.Error()
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "carnet %s: the patient health space.\n\nUsage: carnet <command> [flags]\n\nCommands:\n", version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nEvery command takes the settings of `carnet serve --help`.\n")
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	v := version
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + info.GoVersion
	}
	fmt.Fprintf(stdout, "carnet %s\n", v)
	return nil
}
