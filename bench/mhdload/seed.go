package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/carnet-sante/carnet/bench/benchseed"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/config"
	"github.com/carnet-sante/carnet/internal/password"
)

// runSeed fills the configured store: patients with open spaces, a professional and their
// token, synthetic documents spread over the patients, a "hot" patient with many, and what
// mixload's messages and measurement pushes need: PER mailboxes with an app password and
// messages in their INBOX, and patients who connected a measurement app.
func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		patients, docs, hot, batch, workers, first, prof int
		mailboxes, inbox, mailSize, apps                 int
		out, cpuprofile                                  string
		ttl                                              time.Duration
	)
	fs := flag.NewFlagSet("mhdload seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&patients, "patients", 1000, "patients to create, each with an open space")
	fs.IntVar(&docs, "docs", 0, "synthetic documents spread at random over those patients (metadata only)")
	fs.IntVar(&hot, "hot", 0, "synthetic documents of one more, \"hot\", patient (0: no hot patient)")
	fs.IntVar(&batch, "batch", 1000, "rows per transaction")
	fs.IntVar(&workers, "workers", 0, "document transactions at once (default 1 on SQLite, 4 on PostgreSQL)")
	fs.IntVar(&first, "first", 0, "number of the first synthetic INS (to add patients to a seeded store)")
	fs.IntVar(&prof, "professional", 1, "number of the synthetic professional (IdNat_PS 81999…)")
	fs.IntVar(&mailboxes, "mailboxes", 16, "professionals (the first is the token's) given a PER mailbox and an app password, for mixload's SMTP and IMAP")
	fs.IntVar(&inbox, "inbox", 20, "messages delivered into each of those mailboxes' INBOX, for the IMAP reads")
	fs.IntVar(&mailSize, "mail-size", 20<<10, "size of those messages in bytes")
	fs.IntVar(&apps, "apps", 100, "patients (the first ones) who connect a measurement app, for mixload's PCH-01 pushes")
	fs.StringVar(&out, "out", "seed.txt", "file to write the token and the INS list to")
	fs.DurationVar(&ttl, "token-ttl", 30*24*time.Hour, "lifetime of the token")
	fs.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the seeding to this file")
	cfg, err := config.Load(fs, args, os.Getenv)
	if err != nil {
		return err
	}
	if workers == 0 {
		workers = 1
		if cfg.DB.Driver == config.DriverPostgres {
			workers = 4
		}
	}
	if cpuprofile != "" {
		stop, err := startCPUProfile(cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	began := time.Now()
	db, err := benchseed.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now().UTC().Truncate(time.Second)
	step := func(what string, n int, since time.Time) {
		d := time.Since(since)
		fmt.Fprintf(stdout, "%s: %d in %s (%.0f/s)\n", what, n, d.Round(time.Millisecond), float64(n)/d.Seconds())
	}

	p, err := benchseed.Professional(ctx, db, prof, now)
	if err != nil {
		return err
	}
	token, err := benchseed.Token(ctx, db, p, ttl)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "professional %s, token issued\n", p.IdNat)

	t := time.Now()
	progress := func(n int) {
		if n%50_000 == 0 {
			fmt.Fprintf(stderr, "  %d patients…\n", n)
		}
	}
	made, err := benchseed.Patients(ctx, db, first, patients, batch, now, progress)
	if err != nil {
		return err
	}
	step("patients", len(made), t)

	seed := &benchseed.File{Token: token, Professional: p.IdNat.String()}
	for _, m := range made {
		seed.Patients = append(seed.Patients, m.INS)
	}
	if docs > 0 && len(made) > 0 {
		t = time.Now()
		nextReport := 100_000
		err := benchseed.Documents(ctx, db, benchseed.DocSpec{Count: docs, Author: p.IdNat.String(), Now: now,
			Batch: batch, Workers: workers,
			Patient: func(i int) benchseed.Patient { return made[i*len(made)/docs] },
			Progress: func(n int) {
				if n >= nextReport {
					fmt.Fprintf(stderr, "  %d documents…\n", n)
					nextReport += 100_000
				}
			}})
		if err != nil {
			return err
		}
		step("documents", docs, t)
	}
	if hot > 0 {
		hp, err := benchseed.Patients(ctx, db, first+patients, 1, 1, now, nil)
		if err != nil {
			return err
		}
		if err := benchseed.JoinCareTeam(ctx, db, hp[0].ID, p.IdNat.String(), now); err != nil {
			return err
		}
		t = time.Now()
		err = benchseed.Documents(ctx, db, benchseed.DocSpec{Count: hot, Author: p.IdNat.String(), Now: now,
			Batch: batch, Workers: 1, Patient: func(int) benchseed.Patient { return hp[0] }})
		if err != nil {
			return err
		}
		step("hot patient documents", hot, t)
		seed.Hot, seed.HotDocs = hp[0].INS, hot
	}
	if mailboxes > 0 {
		t = time.Now()
		master, err := cfg.MasterKey()
		if err != nil {
			return err
		}
		blobs, err := blob.NewFS(filepath.Join(cfg.DataDir, "blobs"), master, blob.WithPreviousKeys(cfg.PreviousMasterKeys()...))
		if err != nil {
			return err
		}
		boxes, err := benchseed.Mailboxes(ctx, db, benchseed.MailSpec{Domain: cfg.Domain, Seal: cfg.SealKey(master), Blobs: blobs,
			First: prof, Count: mailboxes, Inbox: inbox, Size: mailSize, Password: password.DefaultParams()}, now)
		if err != nil {
			return err
		}
		step("mailboxes", len(boxes), t)
		seed.Mailboxes = boxes
	}
	seed.Domain = cfg.Domain
	if n := min(apps, len(made)); n > 0 {
		t = time.Now()
		tokens, err := benchseed.AppTokens(ctx, db, made[:n], ttl)
		if err != nil {
			return err
		}
		for i, tok := range tokens {
			seed.Apps = append(seed.Apps, benchseed.App{INS: made[i].INS, Token: tok})
		}
		step("app grants", n, t)
	}
	header := fmt.Sprintf("mhdload seed %s on %s: %d patients, %d documents, hot patient with %d",
		now.Format(time.RFC3339), cfg.DB.Redacted(), patients, docs, hot)
	if err := seed.Write(out, header); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded in %s; token and INS list in %s (hot patient %s)\n",
		time.Since(began).Round(time.Millisecond), out, seed.Hot.Matricule)
	return nil
}
