-- An import of a former mailbox (an export archive) files a message once: it looks for the
-- same bytes in the folder by their SHA-256, from the message to its deliveries
-- (mail_deliveries_message), instead of reading every delivery of the folder for each
-- message it brings.
CREATE INDEX mail_messages_by_sha256 ON mail_messages (sha256);
