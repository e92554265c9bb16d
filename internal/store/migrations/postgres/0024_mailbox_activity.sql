-- Mailbox inactivity (DOMAIN.md: "A mailbox inactive for 1 year is deleted after a warning"):
-- when its holder last used it (a mail client signed in, the patient opened their messages, a
-- message written from the web), and when carnet warned that it would go. NULL last_active_at
-- means never: the creation date counts.
ALTER TABLE mailboxes ADD COLUMN last_active_at BIGINT;
ALTER TABLE mailboxes ADD COLUMN inactivity_warned_at BIGINT;
