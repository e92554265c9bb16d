package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/config"
	"github.com/carnet-sante/carnet/internal/demo"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
)

const demoUsage = `usage: carnet demo seed [--size N] [--seed S] [--documents D] [--password P] [flags]

Generates a synthetic French population (valid INS of the demonstration OID, families with
their children, organisations, professionals of every health profession, care teams,
médecins traitants, documents of every type with real PDF bodies, doctors' messages to patients,
answered or ended by [FIN]) and puts it into carnet
through its services, traced like everything else. The same seed gives the same population;
seeding again adds nothing. With --password, three sign-ins are created (a patient, a doctor,
an operator) and printed. carnet serve --demo does the same with a small population.`

// demoPassword is the password of the sign-ins carnet serve --demo creates and prints.
const demoPassword = "carnet-demo-2026"

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "seed" {
		fmt.Fprintln(stderr, demoUsage)
		return errUsage
	}
	var size, docs int
	var seed uint64
	var pass string
	a, _, err := openAdmin(ctx, "demo seed", args[1:], stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&size, "size", 50, "adults (children come with some families)")
		fs.Uint64Var(&seed, "seed", 1, "the population's seed")
		fs.IntVar(&docs, "documents", 4, "mean documents per person")
		fs.StringVar(&pass, "password", "", "creates the demonstration sign-ins with this password (12 characters or more)")
	})
	if err != nil {
		return err
	}
	defer a.db.Close()
	rep, err := seedDemo(ctx, a.db, a.cfg, a.key, a.spaces, demo.Options{Seed: seed, People: size, DocumentsPerPerson: docs, Password: pass},
		newLogger(a.cfg, stderr), func(done, total int) {
			if done%25 == 0 || done == total {
				fmt.Fprintf(stderr, "demo: %d/%d people\n", done, total)
			}
		})
	if err != nil {
		return err
	}
	printDemo(stdout, rep)
	return nil
}

// seedDemo builds what the seeder goes through, as serve does, and seeds.
func seedDemo(ctx context.Context, db *store.DB, cfg *config.Config, k keys, spaces *space.Service, opts demo.Options, log *slog.Logger,
	progress func(done, total int)) (demo.Report, error) {
	clk := clock.System{}
	blobs, err := blob.NewFS(filepath.Join(cfg.DataDir, "blobs"), k.master, blob.WithPreviousKeys(cfg.PreviousMasterKeys()...))
	if err != nil {
		return demo.Report{}, err
	}
	rs, err := newRecordServices(ctx, db, clk, cfg, k, spaces, blobs, log)
	if err != nil {
		return demo.Report{}, err
	}
	sender, err := notify.New(notifyConfig(cfg), clk)
	if err != nil {
		return demo.Report{}, err
	}
	signin, err := newAuth(db, clk, cfg, k, sender, log, nil)
	if err != nil {
		return demo.Report{}, err
	}
	defer signin.Close()
	accounts, err := account.NewService(db.Accounts(), clk, password.DefaultParams(), rs.catalog)
	if err != nil {
		return demo.Report{}, err
	}
	// The conversations go through a mail service over the same store and blobs as the one
	// serve starts with its listeners (mailserve), which is not running yet: the messages are
	// accepted, encrypted, delivered, traced and notified as the portal's are. Nothing is sent
	// outside (every recipient is local), so no outbound queue is needed.
	mailKey, err := mail.DeriveKey(k.seal)
	if err != nil {
		return demo.Report{}, err
	}
	mc := mail.DefaultConfig(cfg.Domain)
	messaging, err := mail.NewService(mail.Deps{Store: db.Mail(nil), Blobs: blobs, Clock: clk, Key: mailKey,
		Password: password.DefaultParams(), Config: mc, Log: log.With("component", "mail")})
	if err != nil {
		return demo.Report{}, err
	}
	inbox, err := mail.NewPortal(messaging, db.MailPortal(nil), rs.access, rs.records)
	if err != nil {
		return demo.Report{}, err
	}
	return demo.Seed(ctx, demo.Deps{Spaces: spaces, Accounts: accounts, Auth: signin, Records: rs.records, Access: rs.access,
		Catalog: rs.catalog, Clock: clk, Messages: inbox}, opts, progress)
}

func printDemo(w io.Writer, rep demo.Report) {
	fmt.Fprintf(w, "demo: %d adults, %d children, %d professionals, %d organisations, %d documents, %d messages in %d conversations (%d ended) created\n",
		rep.People, rep.Children, rep.Professionals, rep.Organisations, rep.Documents, rep.Messages, rep.Conversations, rep.Ended)
	for _, s := range rep.SignIns {
		fmt.Fprintf(w, "demo sign-in (%s, %s): %s / %s\n", s.Role, s.Name, s.Login, s.Password)
	}
}
