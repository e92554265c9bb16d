-- The agenda of care, beyond its page (issue 8): the patient's iCalendar feed and reminder
-- setting, one row per patient who set either. Only the SHA-256 of the feed's secret is kept
-- (hex), so a copy of the database gives no calendar away; revoking deletes the hash, renewing
-- replaces it. feed_details: 1 when the patient chose to show titles and places in the feed
-- (a calendar app copies it to third-party clouds), 0 for minimal titles.
-- remind_email: 1 (the default) sends the day-before e-mail of upcoming events; 0 opts out.
-- reminded_until: the end of the last day whose reminder was sent, so that the job sends
-- each day's reminder once however often it runs.
CREATE TABLE agenda_settings (
    patient_id       BIGINT PRIMARY KEY REFERENCES patients(id),
    feed_hash        TEXT UNIQUE,
    feed_details     INTEGER NOT NULL DEFAULT 0,
    feed_created_at  BIGINT,
    remind_email     INTEGER NOT NULL DEFAULT 1,
    reminded_until   BIGINT NOT NULL DEFAULT 0
);
-- The reminder job walks the events of the next day across patients.
CREATE INDEX agenda_events_by_start ON agenda_events (starts_at);
