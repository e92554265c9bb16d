-- Bearer tokens of the API's machine clients (internal/apitoken). Only the SHA-256 of the
-- secret is kept; token_id (its first 16 hex digits) is what operators list and revoke.
CREATE TABLE api_tokens (
    hash             TEXT PRIMARY KEY,
    token_id         TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL CHECK (kind IN ('professional', 'operator', 'patient')),
    professional_id  BIGINT REFERENCES professionals(id),
    account_id       BIGINT REFERENCES accounts(id),
    patient_id       BIGINT REFERENCES patients(id),
    label            TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    revoked_at       BIGINT
);
