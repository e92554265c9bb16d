-- OpenID Connect sign-in (internal/oidc): Pro Santé Connect for professionals, FranceConnect
-- for patients, or any configured provider.
--
-- A provider names a person by its subject ("sub"), stable for that person and that client
-- (OpenID Connect Core §2; FranceConnect's is pairwise). A patient's first sign-in through a
-- provider is matched on the identity traits it vouches for; the match is kept here, so that
-- later sign-ins use the subject alone and survive a correction of the traits on either side.
-- One subject per account and provider: a second identity at the same provider claiming an
-- account already linked is refused, not added.
CREATE TABLE oidc_links (
    provider      TEXT NOT NULL,              -- the provider's name in carnet's configuration
    subject       TEXT NOT NULL,              -- the provider's "sub", as it sent it
    account_id    BIGINT NOT NULL REFERENCES accounts(id),
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, subject),
    UNIQUE (provider, account_id)
);
CREATE INDEX oidc_links_account ON oidc_links (account_id);

-- The traits match of a first sign-in looks patients up by birth date and sex (a few hundred
-- a day and sex nationally), then compares the names, normalised, in the application.
CREATE INDEX patients_birth ON patients (birth_date, sex);
