-- The patient's access settings (DOMAIN.md "Who may read what"; CSP L1110-4, L1110-12,
-- L1111-15 to L1111-17): médecins traitants, blocked professionals, oppositions to emergency
-- access, care team, authorisations.
--
-- Every table is keyed by patient first: a decision reads one patient's rows and nothing else,
-- and the rows of a patient sit together (WITHOUT ROWID: the table is its primary key index).
-- idnat_ps is the canonical IdNat_PS (identity.ParseIdNatPS, then String()). It has no foreign
-- key to professionals: a patient may name a professional who has no account in carnet.

CREATE TABLE access_medecins_traitants (
    patient_id  BIGINT NOT NULL REFERENCES patients(id),
    idnat_ps    TEXT NOT NULL,
    since       BIGINT NOT NULL,
    PRIMARY KEY (patient_id, idnat_ps)
) WITHOUT ROWID;

-- A blocked professional gets no access at all, even with an authorisation, a care team
-- membership or a médecin traitant designation, which stay stored: unblocking restores them.
CREATE TABLE access_blocked (
    patient_id  BIGINT NOT NULL REFERENCES patients(id),
    idnat_ps    TEXT NOT NULL,
    since       BIGINT NOT NULL,
    PRIMARY KEY (patient_id, idnat_ps)
) WITHOUT ROWID;

-- No row: the patient opposed nothing.
CREATE TABLE access_oppositions (
    patient_id   BIGINT PRIMARY KEY REFERENCES patients(id),
    break_glass  INTEGER NOT NULL DEFAULT 0,  -- opposes access in an emergency (L1111-17 I al. 1)
    regulation   INTEGER NOT NULL DEFAULT 0,  -- opposes access by the SAMU - centre 15 (I al. 2)
    updated_at   BIGINT NOT NULL
);

CREATE TABLE access_care_team (
    patient_id  BIGINT NOT NULL REFERENCES patients(id),
    idnat_ps    TEXT NOT NULL,
    since       BIGINT NOT NULL,
    basis       TEXT NOT NULL CHECK (basis IN ('deposit', 'designated')),
    PRIMARY KEY (patient_id, idnat_ps)
) WITHOUT ROWID;

-- No row: no authorisation. "expired" is not stored: it is a valid row whose valid_until has
-- passed, so that no job has to flip states on time.
CREATE TABLE access_authorisations (
    patient_id   BIGINT NOT NULL REFERENCES patients(id),
    idnat_ps     TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('valid', 'refused')),
    granted_at   BIGINT,          -- last grant; NULL when refused before any grant
    valid_until  BIGINT,          -- end of a valid authorisation; NULL when refused, or without end
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (patient_id, idnat_ps),
    CHECK (state = 'valid' OR valid_until IS NULL)
) WITHOUT ROWID;
