-- Sign-in and sessions (internal/auth). No secret is stored: a session, a pending sign-in
-- challenge and a reset link are kept by the SHA-256 (hex) of their 256-bit secret; a
-- one-time code by an HMAC under a server key (six digits would fall to a plain hash at once).

CREATE TABLE auth_sessions (
    hash           TEXT PRIMARY KEY,
    session_id     TEXT NOT NULL UNIQUE,       -- first 16 hex digits of hash: what lists and revocation name
    account_id     BIGINT NOT NULL REFERENCES accounts(id),
    method         TEXT NOT NULL,              -- the second factor that opened it
    created_at     BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,            -- absolute end
    revoked_at     BIGINT,
    revoke_reason  TEXT NOT NULL DEFAULT '',
    client_addr    TEXT NOT NULL DEFAULT '',
    user_agent     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX auth_sessions_live ON auth_sessions (account_id) WHERE revoked_at IS NULL;
CREATE INDEX auth_sessions_expires ON auth_sessions (expires_at);

-- A password accepted, a second factor awaited.
CREATE TABLE auth_challenges (
    hash         TEXT PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts(id),
    method       TEXT NOT NULL,
    state        TEXT NOT NULL,                -- a code's HMAC; a WebAuthn challenge
    ident_key    TEXT NOT NULL,                -- rate-limit key of the identifier typed, cleared at success
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX auth_challenges_expires ON auth_challenges (expires_at);

CREATE TABLE auth_reset_tokens (
    hash         TEXT PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts(id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX auth_reset_tokens_unused ON auth_reset_tokens (account_id) WHERE used_at IS NULL;

-- Rate limits with progressive delays, shared by every node. The key is a class and an HMAC
-- of what it counts (an identifier typed, an address), never the thing in clear.
CREATE TABLE auth_throttle (
    throttle_key  TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    last_at       BIGINT NOT NULL,
    next_at       BIGINT NOT NULL
);
CREATE INDEX auth_throttle_last ON auth_throttle (last_at);
