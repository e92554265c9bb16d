package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/carnet-sante/carnet/internal/optout"
)

var _ optout.Checkpoints = (*DB)(nil)

// LoadCheckpoint returns the progress of the import of a file.
func (db *DB) LoadCheckpoint(ctx context.Context, fileSHA256 string) (optout.Checkpoint, error) {
	var c optout.Checkpoint
	var started, updated int64
	var finished sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT file_sha256, file_name, next_line, next_offset, rows_read, created,
		existed, duplicates, rejected, started_at, updated_at, finished_at FROM optout_imports WHERE file_sha256 = $1`, fileSHA256).
		Scan(&c.FileSHA256, &c.FileName, &c.NextLine, &c.NextOffset, &c.Counts.Rows, &c.Counts.Created, &c.Counts.Existed,
			&c.Counts.Duplicates, &c.Counts.Rejected, &started, &updated, &finished)
	if err != nil {
		return c, notFound(err, "import checkpoint")
	}
	c.StartedAt, c.UpdatedAt, c.FinishedAt = fromMicros(started), fromMicros(updated), fromNullMicros(finished)
	return c, nil
}

// SaveCheckpoint records the progress of the import of a file.
func (db *DB) SaveCheckpoint(ctx context.Context, c optout.Checkpoint) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO optout_imports (file_sha256, file_name, next_line, next_offset,
		rows_read, created, existed, duplicates, rejected, started_at, updated_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (file_sha256) DO UPDATE SET file_name = excluded.file_name, next_line = excluded.next_line,
			next_offset = excluded.next_offset, rows_read = excluded.rows_read, created = excluded.created,
			existed = excluded.existed, duplicates = excluded.duplicates, rejected = excluded.rejected,
			started_at = excluded.started_at, updated_at = excluded.updated_at, finished_at = excluded.finished_at`,
		c.FileSHA256, c.FileName, c.NextLine, c.NextOffset, c.Counts.Rows, c.Counts.Created, c.Counts.Existed,
		c.Counts.Duplicates, c.Counts.Rejected, micros(c.StartedAt), micros(c.UpdatedAt), nullMicros(c.FinishedAt))
	if err != nil {
		return fmt.Errorf("save import checkpoint: %w", err)
	}
	return nil
}
