package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/store"
)

const accessUsage = `usage: carnet access matrix <action>

  matrix show          print the habilitation matrix in force (TSV), the embedded default
                       when none was loaded
  matrix list          the versions loaded, the active one marked
  matrix load FILE     check FILE (same format as show prints) and make it the matrix in force;
                       a version names one content forever: change the version line with the cells
The server reads the matrix in force when it starts.`

func runAccess(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[0] != "matrix" {
		fmt.Fprintln(stderr, accessUsage)
		return errUsage
	}
	action, rest := args[1], args[2:]
	var file string
	if action == "load" {
		if len(rest) == 0 || len(rest[0]) == 0 || rest[0][0] == '-' {
			fmt.Fprintln(stderr, accessUsage)
			return errUsage
		}
		file, rest = rest[0], rest[1:]
	}
	a, _, err := openAdmin(ctx, "access matrix "+action, rest, stderr, nil)
	if err != nil {
		return err
	}
	defer a.db.Close()
	switch action {
	case "show":
		m, err := activeMatrix(ctx, a.db)
		if err != nil {
			return err
		}
		return m.WriteTSV(stdout)
	case "list":
		var ms []store.StoredMatrix
		if err := a.db.View(ctx, func(tx *store.Tx) error {
			var err error
			ms, err = tx.Matrices(ctx)
			return err
		}); err != nil {
			return err
		}
		if len(ms) == 0 {
			d, err := access.DefaultMatrix()
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "* %s (embedded default; none loaded)\n", d.Version())
		}
		for _, m := range ms {
			mark := " "
			if m.Active {
				mark = "*"
			}
			fmt.Fprintf(stdout, "%s %s  loaded %s by %s  digest %.16s\n", mark, m.Version, m.LoadedAt.Format(time.RFC3339), m.LoadedBy, m.Digest)
		}
		return nil
	case "load":
		body, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		m, err := access.ParseMatrix(bytes.NewReader(body))
		if err != nil {
			return err
		}
		e := audit.Entry{At: time.Now().UTC(), Actor: a.by, Channel: audit.ChannelCLI, Action: "access.matrix_load",
			Object: "matrix/" + m.Version(), Detail: "digest=" + m.Digest()}
		err = audit.Do(ctx, a.db.Update, e, func(tx *store.Tx, _ *audit.Entry) error {
			return tx.PutMatrix(ctx, store.StoredMatrix{Version: m.Version(), Digest: m.Digest(), Body: string(body),
				LoadedAt: e.At, LoadedBy: a.by.ID})
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "matrix %s in force (%d cells); restart the server to decide with it\n", m.Version(), len(m.Cells()))
		return nil
	}
	fmt.Fprintln(stderr, accessUsage)
	return errUsage
}

// activeMatrix returns the matrix in force: the one the operator loaded last, else the
// embedded default.
func activeMatrix(ctx context.Context, db *store.DB) (*access.Matrix, error) {
	var sm store.StoredMatrix
	err := db.View(ctx, func(tx *store.Tx) error {
		var err error
		sm, err = tx.ActiveMatrix(ctx)
		return err
	})
	switch {
	case errs.Is(err, errs.NotFound):
		return access.DefaultMatrix()
	case err != nil:
		return nil, err
	}
	m, err := access.ParseMatrix(bytes.NewReader([]byte(sm.Body)))
	if err != nil {
		return nil, fmt.Errorf("the matrix in force, %s: %w", sm.Version, err)
	}
	if m.Digest() != sm.Digest {
		return nil, errs.E(errs.Internal, "the matrix in force, %s, does not match its digest: load it again", sm.Version)
	}
	return m, nil
}
