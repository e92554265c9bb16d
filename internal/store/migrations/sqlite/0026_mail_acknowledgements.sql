-- Acknowledgements of messages delivered to patients (issue 6, internal/mail/mdn.go): a
-- message disposition notification (RFC 8098) is sent at most once for each delivery
-- (RFC 8098 §2.1), however often the delivery's inspection is retried. An MDN is a message of
-- ours (channel 'system') whose Message-ID names the delivery, <mdn.MESSAGE.MAILBOX@host>:
-- this index makes a second one fail in the transaction that would send it. Other system
-- messages (bounces, alerts) and every received message are outside it, whatever their
-- Message-ID.
CREATE UNIQUE INDEX mail_messages_mdn ON mail_messages (message_id) WHERE channel = 'system' AND message_id LIKE '<mdn.%';
