-- Secure health messaging (MSSanté, internal/mail): mailboxes and their directory entries, the
-- app-specific passwords of SMTP submission, the operators' allowlist, stored messages and
-- their deliveries, conversations with patients, and the outbound queue's state.
--
-- Message bytes are never in these tables: they are blobs (internal/blob, encrypted at rest),
-- and a message row keeps only the blob's reference and what the rules need (addresses,
-- Message-ID). No subject, no body: those are health content.

-- A mailbox. Its address and its type never change (MSSanté); the triggers below refuse an
-- update of either. PER: a professional's (needs an RPPS / ADELI); ORG: an organisation's,
-- shared by members; APP: an organisation's software (no-reply); PAT: a patient's, one per
-- space, at <matricule INS>@patient.<domain>.
CREATE TABLE mailboxes (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address           TEXT NOT NULL UNIQUE,          -- lower case local@domain
    kind              TEXT NOT NULL CHECK (kind IN ('PER', 'ORG', 'APP', 'PAT')),
    display_name      TEXT NOT NULL,
    professional_id   BIGINT REFERENCES professionals(id),
    organisation_id   BIGINT REFERENCES organisations(id),
    patient_id        BIGINT UNIQUE REFERENCES patients(id),
    hidden            BOOLEAN NOT NULL DEFAULT FALSE,    -- "liste rouge": left out of the directory
    accepts_patients  BOOLEAN NOT NULL DEFAULT FALSE,    -- ORG (a pharmacy): patients may write first
    used_bytes        BIGINT NOT NULL DEFAULT 0,
    dir_name          TEXT NOT NULL DEFAULT '',      -- directory search keys, folded (lower case, no accents)
    dir_org           TEXT NOT NULL DEFAULT '',
    dir_town          TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    disabled_at       BIGINT,
    CHECK ((kind = 'PER' AND professional_id IS NOT NULL AND patient_id IS NULL)
        OR (kind IN ('ORG', 'APP') AND organisation_id IS NOT NULL AND professional_id IS NULL AND patient_id IS NULL)
        OR (kind = 'PAT' AND patient_id IS NOT NULL AND professional_id IS NULL AND organisation_id IS NULL)),
    CHECK (NOT accepts_patients OR kind = 'ORG')
);
CREATE INDEX mailboxes_professional ON mailboxes (professional_id);
CREATE INDEX mailboxes_directory ON mailboxes (dir_name) WHERE NOT hidden AND kind <> 'PAT';

CREATE FUNCTION mailboxes_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a mailbox address and type never change';
END $$;
CREATE TRIGGER mailboxes_immutable BEFORE UPDATE OF address, kind ON mailboxes
    FOR EACH ROW WHEN (NEW.address <> OLD.address OR NEW.kind <> OLD.kind) EXECUTE FUNCTION mailboxes_immutable();

-- The members of an ORG mailbox.
CREATE TABLE mailbox_members (
    mailbox_id       BIGINT NOT NULL REFERENCES mailboxes(id),
    professional_id  BIGINT NOT NULL REFERENCES professionals(id),
    added_at         BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, professional_id)
);

-- App-specific passwords for SMTP submission (and IMAP): one per mail client, revocable, shown
-- once. public_id (the first characters of the password) finds the row, so that checking a
-- password costs one argon2id whether the mailbox exists or not.
CREATE TABLE mail_app_passwords (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id        TEXT NOT NULL UNIQUE,
    mailbox_id       BIGINT NOT NULL REFERENCES mailboxes(id),
    professional_id  BIGINT REFERENCES professionals(id), -- who holds it (PER owner, ORG member); NULL for APP
    label            TEXT NOT NULL,
    hash             TEXT NOT NULL,                      -- argon2id, PHC string
    created_at       BIGINT NOT NULL,
    last_used_at     BIGINT,
    revoked_at       BIGINT
);
CREATE INDEX mail_app_passwords_mailbox ON mail_app_passwords (mailbox_id);

-- The MSSanté allowlist (ListeBlancheMSSante): a domain may appear several times, once per
-- operator certificate.
CREATE TABLE mail_allowlist (
    domain               TEXT NOT NULL,
    operator_dn          TEXT NOT NULL,
    description          TEXT NOT NULL,
    responsible_contact  TEXT NOT NULL,
    support_contact      TEXT NOT NULL,
    updated_at           BIGINT NOT NULL,               -- DateMAJ
    PRIMARY KEY (domain, operator_dn)
);

-- The last import: one row.
CREATE TABLE mail_allowlist_import (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    generated_at  BIGINT NOT NULL,                      -- DateDeGeneration
    imported_at   BIGINT NOT NULL,
    entries       INTEGER NOT NULL,
    domains       INTEGER NOT NULL
);

-- A message as received, once, whatever its number of recipients.
CREATE TABLE mail_messages (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel        TEXT NOT NULL,                       -- relay, submission, system
    envelope_from  TEXT NOT NULL,                       -- '' for the null reverse-path
    header_from    TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    blob_id        TEXT NOT NULL,
    size           BIGINT NOT NULL,
    sha256         TEXT NOT NULL,
    received_at    BIGINT NOT NULL
);

-- Folders of a mailbox, with the next IMAP UID to give (RFC 9051 §2.3.1.1).
CREATE TABLE mail_folders (
    mailbox_id    BIGINT NOT NULL REFERENCES mailboxes(id),
    name          TEXT NOT NULL,
    uid_validity  BIGINT NOT NULL,
    uid_next      BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, name)
);

-- A message in a mailbox's folder.
CREATE TABLE mail_deliveries (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mailbox_id    BIGINT NOT NULL REFERENCES mailboxes(id),
    folder        TEXT NOT NULL,
    uid           BIGINT NOT NULL,
    message_ref   BIGINT NOT NULL REFERENCES mail_messages(id),
    flags         TEXT NOT NULL DEFAULT '',
    delivered_at  BIGINT NOT NULL,
    UNIQUE (mailbox_id, folder, uid)
);
CREATE INDEX mail_deliveries_message ON mail_deliveries (message_ref);

-- A professional's exchange with a patient address (ours or another operator's): the patient
-- may answer only while it is open; a [FIN] from the professional ends it.
CREATE TABLE mail_conversations (
    patient_address       TEXT NOT NULL,
    professional_address  TEXT NOT NULL,
    started_at            BIGINT NOT NULL,
    ended_at              BIGINT,
    PRIMARY KEY (patient_address, professional_address)
);

-- Outbound delivery of a submitted message to one destination domain: one River job each.
CREATE TABLE mail_outbound (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_ref   BIGINT NOT NULL REFERENCES mail_messages(id),
    domain        TEXT NOT NULL,
    sender        TEXT NOT NULL,                        -- the local mailbox that gets a bounce
    pending       TEXT NOT NULL,                        -- recipients still to deliver, one per line
    failed        TEXT NOT NULL DEFAULT '',             -- recipient TAB status TAB diagnostic, one per line
    state         TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'bounced')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (message_ref, domain)
);
CREATE INDEX mail_outbound_queued ON mail_outbound (updated_at) WHERE state = 'queued';
