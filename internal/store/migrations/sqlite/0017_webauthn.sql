-- Passkeys (internal/auth/webauthn.go): the WebAuthn credentials a person registered as a
-- second factor. Only public material is kept (W3C WebAuthn Level 3 §4 "credential record"):
-- the credential's id, its public key, its signature counter, the flags of its registration
-- (backup eligibility must never change, §6.1 "BE"), and what lets the person tell their
-- passkeys apart. The private key never leaves the authenticator.
--
-- Bytes are stored as base64url text (the public key a COSE_Key, RFC 9052 §7), so that the
-- two dialects share the same table and the same queries.
CREATE TABLE webauthn_credentials (
    credential_id   TEXT PRIMARY KEY,            -- base64url of the credential id: unique across accounts (§7.1 step 26)
    account_id      BIGINT NOT NULL REFERENCES accounts(id),
    user_handle     TEXT NOT NULL,               -- base64url of the random user.id given to the authenticator (§5.4.3)
    name            TEXT NOT NULL,               -- the person's label ("Téléphone de Marie")
    public_key      TEXT NOT NULL,               -- base64url of the COSE_Key
    sign_count      BIGINT NOT NULL,             -- §6.1.1 signature counter (uint32), 0 when the authenticator keeps none
    transports      TEXT NOT NULL DEFAULT '',    -- the authenticator's transport hints, comma-separated
    aaguid          TEXT NOT NULL DEFAULT '',    -- the authenticator model (UUID), all zeros with attestation "none"
    flags           INTEGER NOT NULL,            -- authenticator data flags of the last ceremony (UP, UV, BE, BS)
    attestation_fmt TEXT NOT NULL DEFAULT 'none',
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT                       -- NULL until its first sign-in
);
CREATE INDEX webauthn_credentials_account ON webauthn_credentials (account_id, created_at);
