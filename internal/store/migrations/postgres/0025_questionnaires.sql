-- Questionnaires (issue 6, internal/questionnaire): a FHIR Questionnaire a professional sent
-- to a patient's mailbox, found by the inspection of the delivery, and the patient's
-- QuestionnaireResponse sent back in the conversation.
--
-- The resources' JSON is health content: it is never in these tables but in blobs
-- (internal/blob, encrypted at rest), as the messages are; a row keeps the blob's reference
-- and what the pages, the rules and the FHIR API need to find it. Not even the title nor the
-- url, which may name a care ("pré-opératoire de chirurgie bariatrique"), as a subject
-- would: the FHIR search by questionnaire matches SHA-256 digests of the url and of
-- url|version.

-- A questionnaire received: one per attachment of a delivery (the inspection is retried: the
-- UNIQUE makes it idempotent). message_ref and delivery_id name the message without a foreign
-- key, so that the mailbox's retention deletes messages without knowing of questionnaires.
CREATE TABLE questionnaires (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id         BIGINT NOT NULL REFERENCES patients(id),
    mailbox_id         BIGINT NOT NULL REFERENCES mailboxes(id), -- the patient's
    message_ref        BIGINT NOT NULL,                          -- mail_messages.id
    delivery_id        BIGINT NOT NULL,                          -- mail_deliveries.id, in the patient's INBOX
    attachment         INTEGER NOT NULL,                         -- the attachment's rank in the message
    sender             TEXT NOT NULL,                            -- the From address, lower case
    sender_name        TEXT NOT NULL,                            -- as the patient sees them: never the address
    sender_mailbox_id  BIGINT,                                   -- the sender's mailbox when it is one of ours
    url_hash           TEXT NOT NULL,                            -- hex SHA-256 of Questionnaire.url ('' when none)
    canonical_hash     TEXT NOT NULL,                            -- of url|version ('' without a version)
    blob_id            TEXT NOT NULL,
    size               BIGINT NOT NULL,
    sha256             TEXT NOT NULL,
    received_at        BIGINT NOT NULL,
    UNIQUE (message_ref, mailbox_id, attachment)
);
CREATE INDEX questionnaires_delivery ON questionnaires (delivery_id);
CREATE INDEX questionnaires_patient ON questionnaires (patient_id);

-- A response: one per questionnaire (answered once). state 'sending' is the claim taken
-- before the reply leaves; 'sent' once it did, with the message that carried it.
CREATE TABLE questionnaire_responses (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    questionnaire_id   BIGINT NOT NULL UNIQUE REFERENCES questionnaires(id),
    patient_id         BIGINT NOT NULL REFERENCES patients(id),
    state              TEXT NOT NULL CHECK (state IN ('sending', 'sent')),
    sent_message_ref   BIGINT,                                   -- mail_messages.id of the reply
    blob_id            TEXT NOT NULL,
    size               BIGINT NOT NULL,
    sha256             TEXT NOT NULL,
    authored_at        BIGINT NOT NULL
);
CREATE INDEX questionnaire_responses_patient ON questionnaire_responses (patient_id);
