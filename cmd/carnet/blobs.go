package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/config"
	"github.com/carnet-sante/carnet/internal/errs"
)

const blobsUsage = `usage: carnet blobs rewrap|verify [flags]

  rewrap   wrap the key of every blob under the current master key (master_key), taking
           the old wrappings from previous_master_keys; the blobs themselves are not
           rewritten. Run it after every node was restarted with the new master_key and the
           old one among previous_master_keys; remove the old key once it ends without error.
           An interrupted run is resumed by running it again.
  verify   read every blob to its end, decrypting and authenticating it, and list those
           that are corrupted or that no configured key opens; exits 1 if there is any.

The settings are those of ` + "`carnet serve --help`" + `.`

// progressEvery is how often the blob commands say how far they are, on stderr.
const progressEvery = 5 * time.Second

func runBlobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(stderr, blobsUsage)
		return flag.ErrHelp
	}
	if len(args) == 0 || (args[0] != "rewrap" && args[0] != "verify") {
		fmt.Fprintln(stderr, blobsUsage)
		return errUsage
	}
	cfg, _, err := loadConfig("blobs "+args[0], args[1:], stderr, nil)
	if err != nil {
		return err
	}
	s, err := openBlobs(cfg, stdout)
	if err != nil {
		return err
	}
	if args[0] == "rewrap" {
		return rewrapBlobs(ctx, s, stdout, stderr)
	}
	return verifyBlobs(ctx, s, stdout, stderr)
}

// openBlobs opens the blob store of cfg with every configured master key, and says which keys
// those are by their IDs. The keys must exist already: with a wrong data_dir, a key made up
// on the spot would make every blob look corrupted.
func openBlobs(cfg *config.Config, stdout io.Writer) (*blob.FS, error) {
	dir := filepath.Join(cfg.DataDir, "blobs") // where serve keeps them
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, errs.E(errs.Invalid, "no blob directory at %s: is data_dir right?", dir)
	}
	master, err := cfg.ExistingMasterKey()
	if err != nil {
		return nil, err
	}
	previous := cfg.PreviousMasterKeys()
	defer func() {
		clear(master)
		for _, k := range previous {
			clear(k)
		}
	}()
	ids := make([]string, len(previous))
	for i, k := range previous {
		ids[i] = blob.KeyID(k)
	}
	prev := "none"
	if len(ids) > 0 {
		prev = strings.Join(ids, ", ")
	}
	fmt.Fprintf(stdout, "blobs in %s; current master key %s; previous keys: %s\n", dir, blob.KeyID(master), prev)
	return blob.NewFS(dir, master, blob.WithPreviousKeys(previous...))
}

func rewrapBlobs(ctx context.Context, s *blob.FS, stdout, stderr io.Writer) error {
	began := time.Now()
	last := began
	var done, changed int
	err := s.RewrapAll(ctx, func(d, c int) {
		done, changed = d, c
		if now := time.Now(); now.Sub(last) >= progressEvery {
			fmt.Fprintf(stderr, "%d blobs done, %d rewrapped\n", done, changed)
			last = now
		}
	})
	fmt.Fprintf(stdout, "%d blobs in %s: %d rewrapped, %d already under the current key\n",
		done, time.Since(began).Round(time.Millisecond), changed, done-changed)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "every blob is wrapped under the current master key: the previous keys are no longer needed by the blobs")
	return nil
}

func verifyBlobs(ctx context.Context, s *blob.FS, stdout, stderr io.Writer) error {
	began := time.Now()
	last := began
	var n, bad, pending int
	var bytes int64
	err := s.Walk(ctx, func(id string) error {
		ref, current, err := s.Verify(ctx, id)
		switch {
		case errs.Is(err, errs.NotFound):
			return nil // deleted since the directory was listed
		case errs.Is(err, errs.Unavailable) && ctx.Err() != nil:
			return err
		case err != nil:
			// Corrupted, or unreadable: either way it would not be served.
			bad++
			if msg := err.Error(); strings.Contains(msg, id) {
				fmt.Fprintln(stdout, msg)
			} else {
				fmt.Fprintf(stdout, "blob %s: %s\n", id, msg)
			}
		default:
			bytes += ref.Size
			if !current {
				pending++
			}
		}
		n++
		if now := time.Now(); now.Sub(last) >= progressEvery {
			fmt.Fprintf(stderr, "%d blobs checked, %d bad\n", n, bad)
			last = now
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d blobs (%d bytes) checked in %s: ", n, bytes, time.Since(began).Round(time.Millisecond))
	if bad > 0 {
		fmt.Fprintf(stdout, "%d bad\n", bad)
		return fmt.Errorf("%d of %d blobs are corrupted or unreadable", bad, n)
	}
	fmt.Fprintln(stdout, "all intact")
	if pending > 0 {
		fmt.Fprintf(stdout, "%d blobs are not yet wrapped under the current master key: run `carnet blobs rewrap`\n", pending)
	}
	return nil
}
