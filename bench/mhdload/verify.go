package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/carnet-sante/carnet/bench/benchseed"
	"io"
	"time"

	"github.com/carnet-sante/carnet/bench/mhdclient"
)

// runVerify reads back every deposit of a journal and checks it against its hashes.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		url, seedPath, journalPath string
		clients                    int
	)
	fs := flag.NewFlagSet("mhdload verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&url, "url", "http://127.0.0.1:8080", "carnet's base URL")
	fs.StringVar(&seedPath, "seed", "seed.txt", "the file mhdload seed wrote (for the token)")
	fs.StringVar(&journalPath, "journal", "", "the journal a load wrote")
	fs.IntVar(&clients, "clients", 8, "concurrent reads")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if journalPath == "" {
		return fmt.Errorf("--journal is required")
	}
	seed, err := benchseed.ReadFile(seedPath)
	if err != nil {
		return err
	}
	recs, err := mhdclient.ReadJournal(journalPath)
	if err != nil {
		return err
	}
	c := mhdclient.New(url, seed.Token, clients)
	defer c.Close()
	began := time.Now()
	sum := mhdclient.CheckAll(ctx, c, recs, clients)
	fmt.Fprintf(stdout, "%d acknowledged deposits checked in %s: %d intact, %d missing, %d mismatched, %d unreadable\n",
		len(recs), time.Since(began).Round(time.Millisecond), sum.OK, len(sum.Missing), len(sum.Mismatched), len(sum.Failed))
	for _, l := range sum.Lines(20) {
		fmt.Fprintln(stdout, l)
	}
	if !sum.Intact() {
		return fmt.Errorf("%d of %d acknowledged deposits are lost or damaged", len(recs)-sum.OK, len(recs))
	}
	return nil
}
