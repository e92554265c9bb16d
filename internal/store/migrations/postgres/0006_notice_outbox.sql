-- Notices waiting to be sent: "something new in your space" when a document arrives (or when
-- its announcement delay ends). A row per patient and cause, cheap to write in the deposit's
-- transaction; a periodic job turns the due rows into one notice job per patient, so that
-- twenty documents of a hospital stay make one e-mail, not twenty.
CREATE TABLE notice_outbox (
    patient_id  BIGINT NOT NULL REFERENCES patients(id),
    notice_key  TEXT NOT NULL,
    not_before  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (patient_id, notice_key)
);
CREATE INDEX notice_outbox_due ON notice_outbox (not_before);
