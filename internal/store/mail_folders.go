package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
)

// MailFolders adapts the store to the IMAP server (mail.FolderStore). Its changes, and the
// deliveries of the mail service, signal the same in-process hub.
func (db *DB) MailFolders() mail.FolderStore { return folderStore{db: db} }

type folderStore struct{ db *DB }

func (s folderStore) Watch(mailboxID int64) (<-chan struct{}, func()) {
	return s.db.mailHub.Watch(mailboxID)
}

// update runs fn in a write transaction and signals the mailbox's watchers once committed.
func (s folderStore) update(ctx context.Context, mailboxID int64, fn func(mailTx) error) error {
	err := s.db.Update(ctx, func(tx *Tx) error { return fn(mailTx{Tx: tx}) })
	if err == nil {
		s.db.mailHub.Changed(mailboxID)
	}
	return err
}

func (s folderStore) Folders(ctx context.Context, mailboxID int64) ([]mail.Folder, error) {
	var out []mail.Folder
	read := func(tx *Tx) error {
		out = out[:0]
		rows, err := tx.query(ctx, `SELECT name, uid_validity, uid_next, modseq FROM mail_folders WHERE mailbox_id = $1`, mailboxID)
		if err != nil {
			return fmt.Errorf("list mail folders: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var f mail.Folder
			var validity, next, modseq int64
			if err := rows.Scan(&f.Name, &validity, &next, &modseq); err != nil {
				return err
			}
			f.UIDValidity, f.UIDNext, f.ModSeq = uint32(validity), uint32(next), uint64(modseq)
			out = append(out, f)
		}
		return rows.Err()
	}
	if err := s.db.View(ctx, read); err != nil {
		return nil, err
	}
	if len(out) < len(mail.FolderNames) {
		// A mailbox made before one of the folders existed: the missing ones are made now,
		// with the mailbox's UIDVALIDITY (its creation second, as InsertMailbox gives).
		err := s.db.Update(ctx, func(tx *Tx) error {
			var created int64
			if err := tx.queryRow(ctx, `SELECT created_at FROM mailboxes WHERE id = $1`, mailboxID).Scan(&created); err != nil {
				return notFound(err, "mailbox")
			}
			validity := fromMicros(created).Unix() & 0xffffffff
			for _, f := range mail.FolderNames {
				if _, err := tx.exec(ctx, `INSERT INTO mail_folders (mailbox_id, name, uid_validity, uid_next) VALUES ($1, $2, $3, 1)
					ON CONFLICT (mailbox_id, name) DO NOTHING`, mailboxID, f, validity); err != nil {
					return fmt.Errorf("insert mail folder: %w", err)
				}
			}
			return read(tx)
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b mail.Folder) int {
		return slices.Index(mail.FolderNames, a.Name) - slices.Index(mail.FolderNames, b.Name)
	})
	return out, nil
}

func folderOf(ctx context.Context, tx *Tx, mailboxID int64, name string) (mail.Folder, error) {
	f := mail.Folder{Name: name}
	var validity, next, modseq int64
	err := tx.queryRow(ctx, `SELECT uid_validity, uid_next, modseq FROM mail_folders WHERE mailbox_id = $1 AND name = $2`,
		mailboxID, name).Scan(&validity, &next, &modseq)
	if err != nil {
		return f, notFound(err, "mail folder")
	}
	f.UIDValidity, f.UIDNext, f.ModSeq = uint32(validity), uint32(next), uint64(modseq)
	return f, nil
}

// changed counts a change to a folder's messages (migration 0018).
func changed(ctx context.Context, tx mailTx, mailboxID int64, folder string) error {
	if _, err := tx.exec(ctx, `UPDATE mail_folders SET modseq = modseq + 1 WHERE mailbox_id = $1 AND name = $2`, mailboxID, folder); err != nil {
		return fmt.Errorf("count folder change: %w", err)
	}
	return nil
}

func (s folderStore) FolderState(ctx context.Context, mailboxID int64, folder string) (mail.Folder, error) {
	var f mail.Folder
	err := s.db.View(ctx, func(tx *Tx) error {
		var err error
		f, err = folderOf(ctx, tx, mailboxID, folder)
		return err
	})
	return f, err
}

func (s folderStore) FolderMessages(ctx context.Context, mailboxID int64, folder string) (mail.Folder, []mail.FolderMessage, error) {
	var f mail.Folder
	var out []mail.FolderMessage
	err := s.db.View(ctx, func(tx *Tx) error {
		var err error
		if f, err = folderOf(ctx, tx, mailboxID, folder); err != nil {
			return err
		}
		rows, err := tx.query(ctx, `SELECT d.uid, d.flags, d.delivered_at, m.id, m.channel, m.envelope_from, m.header_from,
			m.message_id, m.blob_id, m.size, m.sha256, m.received_at
			FROM mail_deliveries d JOIN mail_messages m ON m.id = d.message_ref
			WHERE d.mailbox_id = $1 AND d.folder = $2 ORDER BY d.uid`, mailboxID, folder)
		if err != nil {
			return fmt.Errorf("list folder: %w", err)
		}
		defer rows.Close()
		out = out[:0]
		for rows.Next() {
			var fm mail.FolderMessage
			var uid, at, received int64
			var flags, channel string
			m := &fm.Message
			if err := rows.Scan(&uid, &flags, &at, &m.ID, &channel, &m.EnvelopeFrom, &m.HeaderFrom, &m.MessageID,
				&m.Blob.ID, &m.Blob.Size, &m.Blob.SHA256, &received); err != nil {
				return err
			}
			fm.UID, fm.Flags, fm.At = uint32(uid), splitFlags(flags), fromMicros(at)
			m.Channel, m.ReceivedAt = mail.Channel(channel), fromMicros(received)
			out = append(out, fm)
		}
		return rows.Err()
	})
	return f, out, err
}

// splitFlags reads the flags column: canonical system flags separated by spaces.
func splitFlags(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		if c, ok := mail.CanonicalFlag(f); ok && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		return slices.Index(mail.SystemFlags, a) - slices.Index(mail.SystemFlags, b)
	})
	return out
}

func joinFlags(flags []string) string { return strings.Join(splitFlags(strings.Join(flags, " ")), " ") }

func (s folderStore) SetFlags(ctx context.Context, mailboxID int64, folder string, flags map[uint32][]string) error {
	uids := slices.Sorted(func(yield func(uint32) bool) {
		for u := range flags {
			if !yield(u) {
				return
			}
		}
	})
	return s.update(ctx, mailboxID, func(tx mailTx) error {
		for _, uid := range uids {
			if _, err := tx.exec(ctx, `UPDATE mail_deliveries SET flags = $4 WHERE mailbox_id = $1 AND folder = $2 AND uid = $3`,
				mailboxID, folder, int64(uid), joinFlags(flags[uid])); err != nil {
				return fmt.Errorf("store flags: %w", err)
			}
		}
		return changed(ctx, tx, mailboxID, folder)
	})
}

func (s folderStore) CopyMessages(ctx context.Context, mailboxID int64, from string, uids []uint32, to string, move bool) (uint32, []uint32, []uint32, error) {
	var validity uint32
	var src, dst []uint32
	uids = slices.Sorted(slices.Values(uids))
	err := s.update(ctx, mailboxID, func(tx mailTx) error {
		src, dst = src[:0], dst[:0]
		f, err := folderOf(ctx, tx.Tx, mailboxID, to)
		if err != nil {
			return err
		}
		validity = f.UIDValidity
		for _, uid := range uids {
			var ref, at, size int64
			var flags string
			err := tx.queryRow(ctx, `SELECT d.message_ref, d.flags, d.delivered_at, m.size FROM mail_deliveries d
				JOIN mail_messages m ON m.id = d.message_ref WHERE d.mailbox_id = $1 AND d.folder = $2 AND d.uid = $3`,
				mailboxID, from, int64(uid)).Scan(&ref, &flags, &at, &size)
			if errs.Is(notFound(err, "message"), errs.NotFound) {
				continue // expunged by another session meanwhile
			}
			if err != nil {
				return fmt.Errorf("read message to copy: %w", err)
			}
			newUID, err := tx.Deliver(ctx, mailboxID, to, ref, size, fromMicros(at))
			if err != nil {
				return err
			}
			if _, err := tx.exec(ctx, `UPDATE mail_deliveries SET flags = $4 WHERE mailbox_id = $1 AND folder = $2 AND uid = $3`,
				mailboxID, to, newUID, flags); err != nil {
				return fmt.Errorf("copy flags: %w", err)
			}
			if move {
				if err := expungeOne(ctx, tx, mailboxID, from, uid); err != nil {
					return err
				}
			}
			src, dst = append(src, uid), append(dst, uint32(newUID))
		}
		if move && len(src) > 0 {
			return changed(ctx, tx, mailboxID, from)
		}
		return nil
	})
	return validity, src, dst, err
}

// expungeOne removes a message from a folder and gives its size back to the mailbox. The
// message's row and bytes go too when nothing else holds it (another folder or mailbox, the
// outbound queue): its bytes are queued for the blob garbage job, which erases them after the
// commit.
func expungeOne(ctx context.Context, tx mailTx, mailboxID int64, folder string, uid uint32) error {
	var size, msgID int64
	var blobID string
	err := tx.queryRow(ctx, `SELECT m.size, m.id, m.blob_id FROM mail_deliveries d JOIN mail_messages m ON m.id = d.message_ref
		WHERE d.mailbox_id = $1 AND d.folder = $2 AND d.uid = $3`, mailboxID, folder, int64(uid)).Scan(&size, &msgID, &blobID)
	if errs.Is(notFound(err, "message"), errs.NotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read message to expunge: %w", err)
	}
	if _, err := tx.exec(ctx, `DELETE FROM mail_deliveries WHERE mailbox_id = $1 AND folder = $2 AND uid = $3`,
		mailboxID, folder, int64(uid)); err != nil {
		return fmt.Errorf("expunge: %w", err)
	}
	if _, err := tx.exec(ctx, `UPDATE mailboxes SET used_bytes = CASE WHEN used_bytes > $2 THEN used_bytes - $2 ELSE 0 END WHERE id = $1`,
		mailboxID, size); err != nil {
		return fmt.Errorf("count mailbox size: %w", err)
	}
	var held int
	if err := tx.queryRow(ctx, `SELECT (SELECT COUNT(*) FROM mail_deliveries WHERE message_ref = $1)
		+ (SELECT COUNT(*) FROM mail_outbound WHERE message_ref = $1)`, msgID).Scan(&held); err != nil {
		return fmt.Errorf("expunge: %w", err)
	}
	if held > 0 {
		return nil
	}
	if _, err := tx.exec(ctx, `INSERT INTO blob_garbage (blob_id, since) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		blobID, micros(time.Now())); err != nil {
		return fmt.Errorf("expunge: %w", err)
	}
	if _, err := tx.exec(ctx, `DELETE FROM mail_messages WHERE id = $1`, msgID); err != nil {
		return fmt.Errorf("expunge: %w", err)
	}
	return nil
}

func (s folderStore) Expunge(ctx context.Context, mailboxID int64, folder string, uids []uint32) error {
	return s.update(ctx, mailboxID, func(tx mailTx) error {
		for _, uid := range uids {
			if err := expungeOne(ctx, tx, mailboxID, folder, uid); err != nil {
				return err
			}
		}
		return changed(ctx, tx, mailboxID, folder)
	})
}

func (s folderStore) AppendMessage(ctx context.Context, mailboxID int64, folder string, m *mail.StoredMessage, flags []string) (uint32, uint32, error) {
	var validity, uid uint32
	err := s.update(ctx, mailboxID, func(tx mailTx) error {
		f, err := folderOf(ctx, tx.Tx, mailboxID, folder)
		if err != nil {
			return err
		}
		validity = f.UIDValidity
		if err := tx.InsertMessage(ctx, m); err != nil {
			return err
		}
		u, err := tx.Deliver(ctx, mailboxID, folder, m.ID, m.Blob.Size, m.ReceivedAt)
		if err != nil {
			return err
		}
		uid = uint32(u)
		return tx.FlagDelivery(ctx, mailboxID, folder, u, flags)
	})
	return validity, uid, err
}
