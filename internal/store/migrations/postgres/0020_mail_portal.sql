-- The patient's messages in the portal (internal/mail portal.go): a mailbox's messages are
-- listed newest first, INBOX and Sent together, on every visit of the inbox and the home page.
-- Read markers need no table: they are IMAP's \Seen flag in mail_deliveries.flags, which the
-- portal and the IMAP server share.
CREATE INDEX mail_deliveries_recent ON mail_deliveries (mailbox_id, delivered_at);
