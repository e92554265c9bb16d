-- OAuth 2 authorisation server (internal/oauth).
--
-- API tokens learn the OAuth client they were issued to, the scope granted, and a fourth kind
-- of subject: an app a patient connected, with the actions and document classes granted.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt (nothing refers to it).
CREATE TABLE api_tokens_new (
    hash               TEXT PRIMARY KEY,
    token_id           TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL CHECK (kind IN ('professional', 'operator', 'patient', 'app')),
    professional_id    BIGINT REFERENCES professionals(id),
    account_id         BIGINT REFERENCES accounts(id),
    patient_id         BIGINT REFERENCES patients(id),
    label              TEXT NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    revoked_at         BIGINT,
    client_id          TEXT NOT NULL DEFAULT '',
    scope              TEXT NOT NULL DEFAULT '',
    app_actions        TEXT NOT NULL DEFAULT '',
    app_classes        TEXT NOT NULL DEFAULT '',
    by_representative  BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO api_tokens_new (hash, token_id, kind, professional_id, account_id, patient_id, label, created_at, expires_at, revoked_at)
    SELECT hash, token_id, kind, professional_id, account_id, patient_id, label, created_at, expires_at, revoked_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;
CREATE INDEX api_tokens_client ON api_tokens (client_id) WHERE client_id <> '';

-- OAuth 2 clients are registered by the operator. A confidential client's secret is kept as
-- the SHA-256 (hex) of its 256-bit value, like the API tokens; a public client has none.
-- Lists (redirect URIs, grant types, scopes) are space-separated: none of their items may hold
-- a space (RFC 6749 §3.3 scope-token, RFC 3986 URI).
CREATE TABLE oauth_clients (
    client_id        TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    client_type      TEXT NOT NULL CHECK (client_type IN ('confidential', 'public')),
    secret_hash      TEXT NOT NULL DEFAULT '',
    redirect_uris    TEXT NOT NULL DEFAULT '',
    grant_types      TEXT NOT NULL,
    scope            TEXT NOT NULL DEFAULT '',
    -- client_credentials: whom the client acts for (a professional, or an operator account).
    subject_kind     TEXT NOT NULL DEFAULT '' CHECK (subject_kind IN ('', 'professional', 'operator')),
    professional_id  BIGINT REFERENCES professionals(id),
    account_id       BIGINT REFERENCES accounts(id),
    may_introspect   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       BIGINT NOT NULL,
    disabled_at      BIGINT
);

-- A grant: what a patient (or their representative) allowed an app, from one consent. Its
-- refresh tokens and access tokens die with it.
CREATE TABLE oauth_grants (
    grant_id           TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL REFERENCES oauth_clients(client_id),
    patient_id         BIGINT NOT NULL REFERENCES patients(id),
    by_representative  BOOLEAN NOT NULL DEFAULT FALSE,
    granted_by         TEXT NOT NULL,            -- the signed-in actor's id, as traced
    scope              TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    revoked_at         BIGINT,
    revoke_reason      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX oauth_grants_patient ON oauth_grants (patient_id);
CREATE INDEX oauth_grants_client ON oauth_grants (client_id);

-- Authorisation codes (60 s, single use), by the SHA-256 of the code. A used code is kept until
-- swept so that a second use is recognised and revokes the grant it produced (RFC 6749 §4.1.2).
CREATE TABLE oauth_codes (
    hash               TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL REFERENCES oauth_clients(client_id),
    redirect_uri       TEXT NOT NULL,
    code_challenge     TEXT NOT NULL,            -- RFC 7636 S256
    patient_id         BIGINT NOT NULL REFERENCES patients(id),
    by_representative  BOOLEAN NOT NULL DEFAULT FALSE,
    granted_by         TEXT NOT NULL,
    scope              TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    used_at            BIGINT,
    grant_id           TEXT NOT NULL DEFAULT ''  -- the grant it was exchanged for
);
CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);

-- Refresh tokens, by the SHA-256 of the secret. Each is used once: its use issues the next one
-- of the same grant; a second use revokes the grant (refresh token rotation, RFC 9700 §4.14.2).
CREATE TABLE oauth_refresh_tokens (
    hash        TEXT PRIMARY KEY,
    grant_id    TEXT NOT NULL REFERENCES oauth_grants(grant_id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens (grant_id);

-- The access tokens (api_tokens) issued under a grant.
CREATE TABLE oauth_grant_tokens (
    token_id  TEXT PRIMARY KEY,
    grant_id  TEXT NOT NULL REFERENCES oauth_grants(grant_id)
);
CREATE INDEX oauth_grant_tokens_grant ON oauth_grant_tokens (grant_id);
