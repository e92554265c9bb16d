-- Foundation: people, organisations, accounts, patient spaces, representatives, the trace log.
-- Times are microseconds since the Unix epoch (UTC) in BIGINT columns named *_at, the same in
-- both dialects so that comparisons, hashes and tests agree to the microsecond.

CREATE TABLE organisations (
    id            INTEGER PRIMARY KEY,
    structure_id  TEXT NOT NULL UNIQUE,      -- prefix + id, e.g. 1 + FINESS
    finess        TEXT UNIQUE,
    name          TEXT NOT NULL,
    town          TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL
);

CREATE TABLE professionals (
    id               INTEGER PRIMARY KEY,
    idnat_ps         TEXT NOT NULL UNIQUE,   -- 8 + RPPS, 0 + ADELI
    family_name      TEXT NOT NULL,
    given_name       TEXT NOT NULL,
    profession_code  TEXT NOT NULL,          -- e.g. G15_10 (médecin)
    specialty_code   TEXT NOT NULL DEFAULT '',
    organisation_id  BIGINT REFERENCES organisations(id),
    email            TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL
);

CREATE TABLE patients (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    ins                TEXT NOT NULL UNIQUE, -- matricule (15 characters)
    ins_oid            TEXT NOT NULL,
    birth_name         TEXT NOT NULL,
    given_names        TEXT NOT NULL,
    used_name          TEXT NOT NULL DEFAULT '',
    birth_date         TEXT NOT NULL,        -- YYYY-MM-DD
    sex                TEXT NOT NULL CHECK (sex IN ('F', 'M', 'U')),
    email              TEXT NOT NULL DEFAULT '',
    phone              TEXT NOT NULL DEFAULT '',
    postal_address     TEXT NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL
);

CREATE TABLE spaces (
    patient_id          BIGINT PRIMARY KEY REFERENCES patients(id),
    state               TEXT NOT NULL CHECK (state IN ('pending', 'open', 'opposed', 'closed', 'purged')),
    created_at          BIGINT NOT NULL,
    opens_at            BIGINT,              -- end of the opt-out period while pending
    opened_at           BIGINT,
    activated           INTEGER NOT NULL DEFAULT 0,
    opposed_at          BIGINT,
    closed_at           BIGINT,
    purge_at            BIGINT,              -- while closed: end of archive or of the deletion delay
    deletion_requested  INTEGER NOT NULL DEFAULT 0,
    purged_at           BIGINT,
    activation_hash     TEXT NOT NULL DEFAULT '',
    version             BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX spaces_opens_at ON spaces (opens_at) WHERE state = 'pending';
CREATE INDEX spaces_purge_at ON spaces (purge_at) WHERE state = 'closed';

CREATE TABLE representatives (
    patient_id         BIGINT NOT NULL REFERENCES patients(id),
    representative_id  BIGINT NOT NULL REFERENCES patients(id),
    role               TEXT NOT NULL CHECK (role IN ('parent', 'guardian', 'curator')),
    since              BIGINT NOT NULL,
    PRIMARY KEY (patient_id, representative_id)
);
CREATE INDEX representatives_by_rep ON representatives (representative_id);

CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('patient', 'professional', 'operator')),
    login            TEXT NOT NULL UNIQUE,
    display_name     TEXT NOT NULL,
    password_hash    TEXT NOT NULL DEFAULT '',
    patient_id       BIGINT UNIQUE REFERENCES patients(id),
    professional_id  BIGINT UNIQUE REFERENCES professionals(id),
    created_at       BIGINT NOT NULL,
    disabled_at      BIGINT
);

-- The trace log: one hash chain per patient, and one per actor for actions on no patient, so
-- that writers on different patients never wait for each other and a chain can be sharded with
-- its patient. audit_chains holds each chain's head, sealed (HMAC) so that a truncated tail
-- cannot be hidden by rewinding the head; each chain's creation is itself traced in one of 16
-- anchor chains, so that a chain deleted with its head is missed.
CREATE TABLE audit_chains (
    chain      TEXT PRIMARY KEY,
    last_seq   BIGINT NOT NULL,
    last_hash  TEXT NOT NULL,
    seal       TEXT NOT NULL
);

CREATE TABLE traces (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    chain       TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    actor_org   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    action      TEXT NOT NULL,
    patient_id  BIGINT,
    object      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '', -- what the actor stated (a break-glass reason), if anything
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    UNIQUE (chain, seq),
    CHECK (seq >= 1)
);
CREATE INDEX traces_by_patient ON traces (patient_id, at);
CREATE INDEX traces_anchors ON traces (object) WHERE action = 'trace.chain_open';

-- Append-only, enforced by the database too: no code path of carnet updates or deletes a
-- trace, and a bug that tried would fail loudly. (Someone with the rights to drop these
-- triggers can rewrite rows; `carnet audit verify` is what catches that.)
CREATE TRIGGER traces_no_update BEFORE UPDATE ON traces
BEGIN SELECT RAISE(ABORT, 'the trace log is append-only'); END;
CREATE TRIGGER traces_no_delete BEFORE DELETE ON traces
BEGIN SELECT RAISE(ABORT, 'the trace log is append-only'); END;
CREATE TRIGGER audit_chains_no_delete BEFORE DELETE ON audit_chains
BEGIN SELECT RAISE(ABORT, 'the trace log is append-only'); END;
