package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
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
	matrices := access.NewMatrices(a.db.Matrices(), clock.System{})
	switch action {
	case "show":
		m, err := matrices.Active(ctx)
		if err != nil {
			return err
		}
		return m.WriteTSV(stdout)
	case "list":
		ms, err := matrices.List(ctx)
		if err != nil {
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
		m, err := matrices.Load(ctx, a.by, audit.ChannelCLI, body)
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
	return access.NewMatrices(db.Matrices(), clock.System{}).Active(ctx)
}
