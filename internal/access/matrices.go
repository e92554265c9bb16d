package access

import (
	"bytes"
	"context"
	"fmt"

	"time"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
)

// StoredMatrix is a habilitation matrix as the operator loaded it.
type StoredMatrix struct {
	Version, Digest, Body, LoadedBy string
	LoadedAt                        time.Time
	Active                          bool
}

// MatrixTx is what the matrices' administration needs of a store transaction.
type MatrixTx interface {
	audit.Appender
	// PutMatrix stores a version and makes it the active one; the same version with other
	// content is a Conflict (a version names one content forever: traces name versions).
	PutMatrix(ctx context.Context, m StoredMatrix) error
	// ActiveMatrix returns the active matrix; NotFound when none was ever loaded.
	ActiveMatrix(ctx context.Context) (StoredMatrix, error)
	// Matrices lists the versions loaded, without their bodies, the latest first.
	Matrices(ctx context.Context) ([]StoredMatrix, error)
}

// MatrixStore opens transactions on the matrices.
type MatrixStore interface {
	UpdateMatrices(ctx context.Context, fn func(MatrixTx) error) error
	ViewMatrices(ctx context.Context, fn func(MatrixTx) error) error
}

// Matrices is the operator's administration of the habilitation matrix: the versions loaded,
// the one in force, loading a new one (CLI and admin page alike). The server decides with the
// matrix in force when it starts.
type Matrices struct {
	store MatrixStore
	clock clock.Clock
}

// NewMatrices returns the administration of the matrices.
func NewMatrices(st MatrixStore, clk clock.Clock) *Matrices { return &Matrices{store: st, clock: clk} }

// Active returns the matrix in force: the one the operator loaded last, else the embedded
// default. A stored matrix whose content no longer matches its digest is refused.
func (m *Matrices) Active(ctx context.Context) (*Matrix, error) {
	var sm StoredMatrix
	err := m.store.ViewMatrices(ctx, func(tx MatrixTx) error {
		var err error
		sm, err = tx.ActiveMatrix(ctx)
		return err
	})
	switch {
	case errs.Is(err, errs.NotFound):
		return DefaultMatrix()
	case err != nil:
		return nil, err
	}
	mx, err := ParseMatrix(bytes.NewReader([]byte(sm.Body)))
	if err != nil {
		return nil, fmt.Errorf("the matrix in force, %s: %w", sm.Version, err)
	}
	if mx.Digest() != sm.Digest {
		return nil, errs.E(errs.Internal, "the matrix in force, %s, does not match its digest: load it again", sm.Version)
	}
	return mx, nil
}

// List returns the versions loaded, the latest first; empty when only the embedded default
// was ever in force.
func (m *Matrices) List(ctx context.Context) ([]StoredMatrix, error) {
	var out []StoredMatrix
	err := m.store.ViewMatrices(ctx, func(tx MatrixTx) error {
		var err error
		out, err = tx.Matrices(ctx)
		return err
	})
	return out, err
}

// Load checks a matrix (the TSV format WriteTSV writes) and makes it the one in force, traced
// as the operator's in the same transaction.
func (m *Matrices) Load(ctx context.Context, by audit.Actor, ch audit.Channel, body []byte) (*Matrix, error) {
	mx, err := ParseMatrix(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	e := audit.Entry{At: m.clock.Now(), Actor: by, Channel: ch, Action: TraceMatrixLoad, Object: "matrix/" + mx.Version(),
		Detail: "digest=" + mx.Digest()}
	err = audit.Do(ctx, m.store.UpdateMatrices, e, func(tx MatrixTx, _ *audit.Entry) error {
		return tx.PutMatrix(ctx, StoredMatrix{Version: mx.Version(), Digest: mx.Digest(), Body: string(body), LoadedAt: e.At, LoadedBy: by.ID})
	})
	if err != nil {
		return nil, err
	}
	return mx, nil
}

// TraceMatrixLoad is the trace of a matrix loaded.
const TraceMatrixLoad = "access.matrix_load"
