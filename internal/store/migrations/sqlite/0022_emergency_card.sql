-- The patient's emergency card (internal/emergency): what it shows and the hash of its link's
-- token. The token itself is never kept: only its SHA-256 hash (hex), which finds the card when
-- its link is followed. A card turned off keeps its hash, so that a scan of it is traced (and
-- refused); renewing the link replaces the hash, and the old link is unknown at once.
CREATE TABLE emergency_cards (
    patient_id  BIGINT PRIMARY KEY REFERENCES patients(id),
    token_hash  TEXT NOT NULL UNIQUE,
    enabled     INTEGER NOT NULL,
    sections    TEXT NOT NULL,           -- the sections shown, comma-separated
    issued_at   BIGINT NOT NULL,         -- when the current token was made
    updated_at  BIGINT NOT NULL,
    notice_day  TEXT NOT NULL DEFAULT '' -- the UTC day (YYYYMMDD) of the last scan notice queued
);
-- The patient's choices item by item: 'hide' unticks an item of a shown section, 'show' ticks
-- an item hidden from professionals (MASQUE_PS), which the card leaves out otherwise.
CREATE TABLE emergency_card_items (
    patient_id  BIGINT NOT NULL REFERENCES patients(id),
    item_id     TEXT NOT NULL,
    choice      TEXT NOT NULL,
    PRIMARY KEY (patient_id, item_id)
);
