-- IMAP (internal/mail/imapd): a change counter per folder. Every change to a folder's
-- messages (a delivery, an APPEND, a COPY or MOVE into it, flags stored, an expunge) adds one,
-- so that an IMAP session finds out whether anything changed with one row read, and reads
-- the folder's messages again only then (each command and each signal of an idling session
-- asks).
ALTER TABLE mail_folders ADD COLUMN modseq BIGINT NOT NULL DEFAULT 0;
