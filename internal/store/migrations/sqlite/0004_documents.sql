-- The shared medical record (issue 4): one row per metadata version of a document (an XDS
-- DocumentEntry), keyed by patient first so that every hot query reads one patient's rows.
--
-- entry_uuid is new for each metadata version; logical_id is kept across metadata versions
-- (the FHIR id) and new on replacement; unique_id is the sender's, kept across replacements.
-- is_current marks the latest metadata version of a logical_id: the one searches see.
-- What no query filters on (title, authors' names, codes) is in metadata, a JSON object.
-- WITHOUT ROWID: the table is its primary key index, a patient's rows sit together.
CREATE TABLE documents (
    patient_id               BIGINT NOT NULL REFERENCES patients(id),
    entry_uuid               TEXT NOT NULL,
    logical_id               TEXT NOT NULL,
    version                  INTEGER NOT NULL CHECK (version >= 1),
    is_current               INTEGER NOT NULL,
    unique_id                TEXT NOT NULL,
    status                   TEXT NOT NULL CHECK (status IN ('approved', 'deprecated', 'deleted')),
    archived                 INTEGER NOT NULL DEFAULT 0,
    class_code               TEXT NOT NULL,
    type_code                TEXT NOT NULL,
    space                    TEXT NOT NULL,
    created                  BIGINT NOT NULL,  -- creationTime
    service_start            BIGINT NOT NULL,
    service_end              BIGINT,
    submitted                BIGINT NOT NULL,
    updated                  BIGINT NOT NULL,
    masque_ps                INTEGER NOT NULL,
    invisible_patient        INTEGER NOT NULL,
    visible_at               BIGINT,           -- end of the announcement delay
    invisible_representants  INTEGER NOT NULL,
    deposited_by             TEXT NOT NULL,
    depositor                TEXT NOT NULL,
    blob_id                  TEXT NOT NULL,
    size                     BIGINT NOT NULL,
    sha256                   TEXT NOT NULL,
    sha1                     TEXT NOT NULL,
    metadata                 TEXT NOT NULL,
    PRIMARY KEY (patient_id, entry_uuid)
) WITHOUT ROWID;
CREATE UNIQUE INDEX documents_by_logical ON documents (logical_id, version);
CREATE UNIQUE INDEX documents_current ON documents (logical_id) WHERE is_current;
-- The listing: a patient's current documents, newest first. It covers the default listing (the
-- status, archived and current flags and the update time ride along; the entry's id is the table's key, which
-- every index of a WITHOUT ROWID table holds), so a page reads no table row.
CREATE INDEX documents_listing ON documents (patient_id, created DESC, logical_id DESC, status, archived, updated, is_current) WHERE is_current;
CREATE INDEX documents_by_unique ON documents (patient_id, unique_id) WHERE is_current;

-- The authors of each metadata version, for the search by author.
CREATE TABLE document_authors (
    patient_id  BIGINT NOT NULL,
    entry_uuid  TEXT NOT NULL,
    idnat_ps    TEXT NOT NULL,
    PRIMARY KEY (patient_id, entry_uuid, idnat_ps),
    FOREIGN KEY (patient_id, entry_uuid) REFERENCES documents (patient_id, entry_uuid)
) WITHOUT ROWID;

-- The document types, loaded from the project's embedded table (internal/terminology) at each
-- migration and start: what a report or another system joins on. The record checks deposits
-- against the same table in memory.
CREATE TABLE document_types (
    code        TEXT PRIMARY KEY,
    system      TEXT NOT NULL,
    label       TEXT NOT NULL,
    class_code  TEXT NOT NULL,
    space       TEXT NOT NULL
);

-- Blobs no document refers to any more (a purged space), erased by a job.
CREATE TABLE blob_garbage (
    blob_id  TEXT PRIMARY KEY,
    since    BIGINT NOT NULL
);
