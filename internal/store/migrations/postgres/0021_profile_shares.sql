-- The summaries of medical profiles a patient gives a professional by a one-time code
-- (internal/profile/share): the code itself is never kept, only its SHA-256 hash (hex), which
-- finds the share when the professional types it. Used, revoked or expired, a row stays: the
-- patient's list says what became of each code.
CREATE TABLE profile_shares (
    id              TEXT PRIMARY KEY,
    patient_id      BIGINT NOT NULL REFERENCES patients(id),
    code_hash       TEXT NOT NULL UNIQUE,
    created_by_kind TEXT NOT NULL,
    created_by_id   TEXT NOT NULL,
    created_by_name TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    used_by         TEXT NOT NULL DEFAULT '',
    revoked_at      BIGINT
);
CREATE INDEX profile_shares_patient ON profile_shares (patient_id, created_at);
