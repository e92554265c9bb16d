-- Progress of bulk opt-out imports, so that an interrupted import resumes where its last
-- committed batch ended instead of reading the file again from the top. (Resuming from the
-- top would still be correct: the import is idempotent; this only makes it fast.)
CREATE TABLE optout_imports (
    file_sha256  TEXT PRIMARY KEY,
    file_name    TEXT NOT NULL,
    next_line    BIGINT NOT NULL,  -- line number of the next record to read
    next_offset  BIGINT NOT NULL,  -- byte offset of that record
    rows_read    BIGINT NOT NULL,
    created      BIGINT NOT NULL,
    existed      BIGINT NOT NULL,
    duplicates   BIGINT NOT NULL,
    rejected     BIGINT NOT NULL,
    started_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    finished_at  BIGINT
);
