package mail

import (
	"context"
	"strings"
	"time"
)

// The folders of every professional mailbox (IMAP's INBOX and the special-use ones of RFC
// 6154). They are fixed: mail clients cannot create, rename or delete folders.
var FolderNames = []string{"INBOX", "Sent", "Drafts", "Trash"}

// FolderName returns the canonical name of a folder named name by a client (INBOX in any
// case, RFC 9051 §5.1; the others too, since clients differ in how they spell them), and
// false when there is no such folder.
func FolderName(name string) (string, bool) {
	for _, f := range FolderNames {
		if strings.EqualFold(f, name) {
			return f, true
		}
	}
	return "", false
}

// The system flags a message may carry (RFC 9051 §2.3.2); \Recent is gone from IMAP4rev2.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// SystemFlags are the flags kept on messages, in their canonical spelling.
var SystemFlags = []string{FlagSeen, FlagAnswered, FlagFlagged, FlagDeleted, FlagDraft}

// CanonicalFlag returns a system flag in its canonical spelling (flags are case-insensitive)
// and false for any other flag.
func CanonicalFlag(f string) (string, bool) {
	for _, s := range SystemFlags {
		if strings.EqualFold(s, f) {
			return s, true
		}
	}
	return "", false
}

// Folder is a folder's identity for IMAP.
type Folder struct {
	Name        string
	UIDValidity uint32
	UIDNext     uint32
	ModSeq      uint64 // counts the changes to its messages
}

// FolderMessage is a message filed in a folder.
type FolderMessage struct {
	UID     uint32
	Message StoredMessage
	Flags   []string  // canonical system flags, in SystemFlags order
	At      time.Time // when it was filed: IMAP's INTERNALDATE
}

// FolderStore is what the IMAP server needs of the store: the folders of one mailbox and the
// messages in them. Each method runs in a transaction of its own, and signals the mailbox's
// watchers (Watch) once a change is committed.
type FolderStore interface {
	// Folders returns a mailbox's folders, making the missing ones (with the mailbox's
	// UIDVALIDITY, so that it never changes).
	Folders(ctx context.Context, mailboxID int64) ([]Folder, error)
	// FolderState returns a folder, without its messages.
	FolderState(ctx context.Context, mailboxID int64, folder string) (Folder, error)
	// FolderMessages returns a folder and its messages by UID.
	FolderMessages(ctx context.Context, mailboxID int64, folder string) (Folder, []FolderMessage, error)
	// SetFlags replaces the flags of messages by UID; UIDs no longer there are skipped.
	SetFlags(ctx context.Context, mailboxID int64, folder string, flags map[uint32][]string) error
	// CopyMessages files the messages of UIDs from folder into to under new UIDs (with their
	// flags and dates), in UID order, and with move removes them from folder in the same
	// transaction. It returns to's UIDVALIDITY and the source and new UIDs, pair by pair.
	CopyMessages(ctx context.Context, mailboxID int64, from string, uids []uint32, to string, move bool) (uint32, []uint32, []uint32, error)
	// Expunge removes the messages of UIDs from folder.
	Expunge(ctx context.Context, mailboxID int64, folder string, uids []uint32) error
	// AppendMessage stores a message (m's bytes already in the blob store) and files it in
	// folder with flags; it sets m.ID and returns the folder's UIDVALIDITY and the new UID.
	AppendMessage(ctx context.Context, mailboxID int64, folder string, m *StoredMessage, flags []string) (uint32, uint32, error)
	// Watch signals changes to a mailbox committed through the store (see Hub).
	Watch(mailboxID int64) (<-chan struct{}, func())
}
