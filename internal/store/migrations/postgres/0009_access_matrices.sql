-- The habilitation matrices the operator loaded (issue 5): every version kept, one active.
-- The server decides with the active one (or the embedded default when none was loaded); every
-- decision and trace names its version. body is the matrix as loaded (TSV), digest its hash.
CREATE TABLE access_matrices (
    version    TEXT PRIMARY KEY,
    digest     TEXT NOT NULL,
    body       TEXT NOT NULL,
    loaded_at  BIGINT NOT NULL,
    loaded_by  TEXT NOT NULL,
    active     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX access_matrices_one_active ON access_matrices (active) WHERE active;
