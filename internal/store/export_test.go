package store

import "context"

// ExecForBenchmark runs a statement in the transaction (tests and benchmarks only).
func (tx *Tx) ExecForBenchmark(ctx context.Context, q string, args ...any) error {
	_, err := tx.exec(ctx, q, args...)
	return err
}
