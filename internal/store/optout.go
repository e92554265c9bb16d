package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/carnet-sante/carnet/internal/optout"
	"github.com/carnet-sante/carnet/internal/space"
)

var _ optout.Checkpoints = (*DB)(nil)

// LoadCheckpoint returns the progress of the import of a file.
func (db *DB) LoadCheckpoint(ctx context.Context, fileSHA256 string) (optout.Checkpoint, error) {
	var c optout.Checkpoint
	var started, updated int64
	var finished sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT file_sha256, file_name, next_line, next_offset, rows_read, created,
		existed, duplicates, rejected, started_at, updated_at, finished_at, rejects_size, postal_size
		FROM optout_imports WHERE file_sha256 = $1`, fileSHA256).
		Scan(&c.FileSHA256, &c.FileName, &c.NextLine, &c.NextOffset, &c.Counts.Rows, &c.Counts.Created, &c.Counts.Existed,
			&c.Counts.Duplicates, &c.Counts.Rejected, &started, &updated, &finished, &c.RejectsSize, &c.PostalSize)
	if err != nil {
		return c, notFound(err, "import checkpoint")
	}
	c.StartedAt, c.UpdatedAt, c.FinishedAt = fromMicros(started), fromMicros(updated), fromNullMicros(finished)
	return c, nil
}

// SaveCheckpoint records the progress of the import of a file.
func (db *DB) SaveCheckpoint(ctx context.Context, c optout.Checkpoint) error {
	return db.Update(ctx, func(tx *Tx) error { return tx.saveCheckpoint(ctx, c) })
}

// SaveCheckpointIn records the progress of the import of a file in tx, the transaction of the
// batch it records (a space.Tx of this store).
func (db *DB) SaveCheckpointIn(ctx context.Context, tx space.Tx, c optout.Checkpoint) error {
	t, ok := tx.(*Tx)
	if !ok || t.db != db {
		return fmt.Errorf("save import checkpoint: %T is not a transaction of this store", tx)
	}
	return t.saveCheckpoint(ctx, c)
}

func (tx *Tx) saveCheckpoint(ctx context.Context, c optout.Checkpoint) error {
	_, err := tx.exec(ctx, `INSERT INTO optout_imports (file_sha256, file_name, next_line, next_offset,
		rows_read, created, existed, duplicates, rejected, started_at, updated_at, finished_at, rejects_size, postal_size)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (file_sha256) DO UPDATE SET file_name = excluded.file_name, next_line = excluded.next_line,
			next_offset = excluded.next_offset, rows_read = excluded.rows_read, created = excluded.created,
			existed = excluded.existed, duplicates = excluded.duplicates, rejected = excluded.rejected,
			started_at = excluded.started_at, updated_at = excluded.updated_at, finished_at = excluded.finished_at,
			rejects_size = excluded.rejects_size, postal_size = excluded.postal_size`,
		c.FileSHA256, c.FileName, c.NextLine, c.NextOffset, c.Counts.Rows, c.Counts.Created, c.Counts.Existed,
		c.Counts.Duplicates, c.Counts.Rejected, micros(c.StartedAt), micros(c.UpdatedAt), nullMicros(c.FinishedAt),
		c.RejectsSize, c.PostalSize)
	if err != nil {
		return fmt.Errorf("save import checkpoint: %w", err)
	}
	return nil
}

// TuneForBulkImport sets the writer connection up for a bulk import, for the rest of the
// process (SQLite; PostgreSQL manages its own memory), within bounds that do not grow with
// the file:
//   - a page cache of cacheMiB: a batch of thousands of creations dirties pages all over the
//     index of INS (people come in no INS order), and with the default cache of 2 MB they
//     were written out to the WAL and read back several times within one transaction;
//   - statement journals in memory (temp_store): each multi-row insert keeps a copy of the
//     pages it changes, to undo itself alone if a row fails, and past 64 KiB SQLite writes
//     that copy to a temporary file: 40 % of the import's writes, all thrown away. In memory
//     it is bounded by what one statement changes (a few hundred KiB);
//   - a checkpoint every 64 MiB of WAL instead of every 4 MiB: each batch's commit went
//     through a checkpoint that wrote back the pages the next batch changed again (the index
//     of INS, the right edges of the others); about a tenth less CPU and a quarter less written
//     on a million people. The WAL stays bounded by that size plus one batch.
//
// Only the CLI's import process calls it: with temp_store in memory the server's large sorts
// would stay in memory too.
func (db *DB) TuneForBulkImport(ctx context.Context, cacheMiB int) error {
	if db.dialect != SQLite {
		return nil
	}
	for _, p := range []string{fmt.Sprintf(`PRAGMA cache_size = -%d`, cacheMiB*1024), `PRAGMA temp_store = MEMORY`, `PRAGMA wal_autocheckpoint = 16384`} {
		if _, err := db.write.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("tune the writer for a bulk import: %w", err)
		}
	}
	return nil
}
