-- The agenda of care (DOMAIN.md "Agenda"; fed first by the insurer's reimbursements, issue 10):
-- one row per event of a patient's timeline. Each event is filed by a source under a reference
-- of its own: (source, source_ref, patient_id) is unique, so a source that files an event
-- twice makes one event; the same index finds a reference whoever's it is (an insurer's act
-- reference names one act of one person). The timeline index serves the reading by period.
-- AUTOINCREMENT: traces name events by id ("event/<id>"), which must never be reused.
CREATE TABLE agenda_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id       BIGINT NOT NULL REFERENCES patients(id),
    kind             TEXT NOT NULL,
    starts_at        BIGINT NOT NULL,
    ends_at          BIGINT,
    title            TEXT NOT NULL,
    detail           TEXT NOT NULL,
    class_code       TEXT NOT NULL,   -- the record category the event belongs to (60, REMB…)
    type_code        TEXT NOT NULL,
    source           TEXT NOT NULL,
    source_ref       TEXT NOT NULL,
    document_id      TEXT NOT NULL,   -- logicalId of the record document it comes from, '' when none
    payload          TEXT NOT NULL,   -- what the source keeps of the event (JSON), '' when nothing
    created_by_kind  TEXT NOT NULL,
    created_by_id    TEXT NOT NULL,
    created_by_name  TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    CHECK (ends_at IS NULL OR ends_at >= starts_at)
);
CREATE UNIQUE INDEX agenda_events_by_source ON agenda_events (source, source_ref, patient_id);
CREATE INDEX agenda_events_timeline ON agenda_events (patient_id, starts_at, id);
