-- The medical profile (issue 8): one row per version of a profile item, keyed by patient first
-- so that every query reads one patient's rows, as documents are.
--
-- item_id is stable across versions (the FHIR id); version_id is new for each version; is_current
-- marks the latest version of an item, the one reads see. A deleted item keeps its versions, its
-- current one saying status 'deleted'. class_code and type_code are the record category the item
-- is decided as (internal/profile categories.go). dated_at dates the item (a measurement when it was
-- taken, another item when it was created): lists and charts read by it. code is what the item
-- is about (a measurement's LOINC code), for the searches by code and the series. identifier is
-- the sender's ("system|value", '' when none), unique among current versions: a measurement
-- pushed twice is stored once. What no query filters on (the section's content, the authors'
-- names) is in data, a JSON object.
CREATE TABLE profile_items (
    patient_id     BIGINT NOT NULL REFERENCES patients(id),
    version_id     TEXT NOT NULL,
    item_id        TEXT NOT NULL,
    version        INTEGER NOT NULL CHECK (version >= 1),
    is_current     BOOLEAN NOT NULL,
    section        TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('active', 'deleted')),
    hidden         BOOLEAN NOT NULL,   -- MASQUE_PS
    class_code     TEXT NOT NULL,
    type_code      TEXT NOT NULL,
    deposited_by   TEXT NOT NULL,
    author_kind    TEXT NOT NULL,
    author_id      TEXT NOT NULL,      -- a professional's IdNat_PS, the account or app otherwise
    written_at     BIGINT NOT NULL,
    changed_at     BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    dated_at       BIGINT NOT NULL,
    code           TEXT NOT NULL,
    identifier     TEXT NOT NULL,
    device_id      TEXT NOT NULL,      -- the device of a pushed measurement, '' when none
    data           TEXT NOT NULL,
    PRIMARY KEY (patient_id, version_id)
);
CREATE UNIQUE INDEX profile_items_by_item ON profile_items (item_id, version);
CREATE UNIQUE INDEX profile_items_current ON profile_items (item_id) WHERE is_current;
-- The sections' listings, newest first; the series and latest values of a measure.
CREATE INDEX profile_items_listing ON profile_items (patient_id, section, dated_at DESC, item_id DESC) WHERE is_current;
CREATE INDEX profile_items_by_code ON profile_items (patient_id, code, dated_at, item_id) WHERE is_current;
CREATE UNIQUE INDEX profile_items_by_identifier ON profile_items (identifier) WHERE is_current AND identifier <> '';

-- The personal health devices that push measurements (IHE PCH-01), each bound to the patient it
-- first pushed for: its identifier ("system|value") names one device of one person.
CREATE TABLE profile_devices (
    id               TEXT PRIMARY KEY,
    patient_id       BIGINT NOT NULL REFERENCES patients(id),
    identifier       TEXT NOT NULL UNIQUE,
    created_by_kind  TEXT NOT NULL,
    created_by_id    TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    data             TEXT NOT NULL      -- manufacturer, model, name, type (JSON)
);
CREATE INDEX profile_devices_by_patient ON profile_devices (patient_id);
