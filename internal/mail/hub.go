package mail

import "sync"

// Hub tells the sessions watching a mailbox (IMAP IDLE) that something changed in it: a
// message delivered, flags changed, a message expunged or moved by another session. It is
// in-process and carries no content: a watcher reads the folder again from the store. A
// watcher that misses a signal (its channel was full) still sees the change, as one signal
// stands for all those since its last read.
//
// The zero Hub is ready to use.
type Hub struct {
	mu       sync.Mutex
	watchers map[int64]map[chan struct{}]struct{}
}

// Watch returns a channel signalled after each change to the mailbox, and a function that
// stops the watch.
func (h *Hub) Watch(mailboxID int64) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.watchers == nil {
		h.watchers = map[int64]map[chan struct{}]struct{}{}
	}
	if h.watchers[mailboxID] == nil {
		h.watchers[mailboxID] = map[chan struct{}]struct{}{}
	}
	h.watchers[mailboxID][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.watchers[mailboxID], ch)
		if len(h.watchers[mailboxID]) == 0 {
			delete(h.watchers, mailboxID)
		}
	}
}

// Changed signals the watchers of each mailbox; it never blocks.
func (h *Hub) Changed(mailboxIDs ...int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range mailboxIDs {
		for ch := range h.watchers[id] {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}
