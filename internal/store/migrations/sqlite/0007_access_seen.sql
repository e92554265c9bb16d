-- The professionals who have accessed each patient's record, with the first time: the patient
-- is told of the first access by a new professional (a row inserted means a notice queued).
CREATE TABLE access_seen (
    patient_id  BIGINT NOT NULL REFERENCES patients(id),
    idnat_ps    TEXT NOT NULL,
    first_at    BIGINT NOT NULL,
    PRIMARY KEY (patient_id, idnat_ps)
) WITHOUT ROWID;
