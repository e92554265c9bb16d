package mail

import (
	"bytes"
	"context"
	"time"
)

// Appended is the channel of a message a mail client filed itself (IMAP APPEND): a copy of
// what it sent, a draft.
const Appended Channel = "append"

// AppendMessage files a message a mail client of the sender's mailbox hands over (IMAP
// APPEND, into Sent or Drafts) with flags, as received mail is stored: its bytes encrypted
// in the blob store and synced, then its row and its place in the folder in one
// transaction. It counts against the mailbox's quota. It returns the folder's UIDVALIDITY
// and the message's UID.
func (s *Service) AppendMessage(ctx context.Context, folders FolderStore, sender Sender, folder string, data []byte,
	flags []string, at time.Time) (uint32, uint32, error) {
	if int64(len(data)) > s.cfg.MaxMessageBytes {
		return 0, 0, refuse(ReasonTooBig, "the message is larger than %d bytes", s.cfg.MaxMessageBytes)
	}
	m, err := s.Mailbox(ctx, sender.Mailbox.Address.String())
	if err != nil {
		return 0, 0, err
	}
	if q := s.cfg.QuotaBytes; q > 0 && m.UsedBytes+int64(len(data)) > q {
		return 0, 0, refuse(ReasonMailboxFull, "the mailbox <%s> is full", m.Address)
	}
	head := headerOf(data)
	// A draft may lack a From field, or have one the client has not finished: it is kept
	// as written, and checked when it is sent (submission).
	msg := StoredMessage{Channel: Appended, ReceivedAt: at}
	if h, err := ParseHeader(head[:min(len(head), MaxHeaderBytes)], len(head) <= MaxHeaderBytes); err == nil {
		if from, _, err := h.From(); err == nil {
			msg.HeaderFrom = from.String()
		}
		msg.MessageID = bounded(h.Get("Message-Id"), 250)
	}
	if at.IsZero() {
		msg.ReceivedAt = s.clock.Now()
	}
	ref, err := s.blobs.Put(ctx, bytes.NewReader(data))
	if err != nil {
		return 0, 0, err
	}
	msg.Blob = ref
	validity, uid, err := folders.AppendMessage(ctx, m.ID, folder, &msg, flags)
	if err != nil {
		if derr := s.blobs.Delete(context.WithoutCancel(ctx), ref.ID); derr != nil {
			s.log.Error("appended message's blob not deleted", "blob", ref.ID, "err", derr)
		}
		return 0, 0, err
	}
	return validity, uid, nil
}

// headerOf returns the header of a message: its bytes up to the empty line that ends it, that
// line's first line break included; the whole message when it has no body.
func headerOf(data []byte) []byte {
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		return data[:i+2]
	}
	if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
		return data[:i+1]
	}
	return data
}
