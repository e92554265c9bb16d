package imapd

import (
	"bytes"
	"context"
	"io"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/carnet-sante/carnet/internal/mail"
)

// selection is the selected folder as this session's client knows it: the messages by
// sequence number (index + 1). A message another session expunged stays, marked gone, until
// the client may be told (EXPUNGE is not sent during FETCH, STORE and SEARCH).
type selection struct {
	name      string
	readOnly  bool
	validity  uint32
	uidNext   uint32
	modseq    uint64 // the folder's as last read
	gone      bool   // some messages are gone but not yet reported
	msgs      []*message
	searchRes imap.UIDSet // SEARCH RETURN (SAVE), for "$"
}

type message struct {
	mail.FolderMessage
	gone bool
}

func (sel *selection) flagsOf(m *message) []imap.Flag {
	out := make([]imap.Flag, len(m.Flags))
	for i, f := range m.Flags {
		out[i] = imap.Flag(f)
	}
	return out
}

var systemFlags = func() []imap.Flag {
	out := make([]imap.Flag, len(mail.SystemFlags))
	for i, f := range mail.SystemFlags {
		out[i] = imap.Flag(f)
	}
	return out
}()

func (se *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	f, err := folder(name)
	if err != nil {
		return nil, err
	}
	se.sel = nil
	ctx, cancel := se.ctx()
	defer cancel()
	fo, msgs, err := se.folderMessages(ctx, f)
	if err != nil {
		return nil, se.toIMAP(err, "select")
	}
	sel := &selection{name: f, readOnly: options != nil && options.ReadOnly, validity: fo.UIDValidity, uidNext: fo.UIDNext, modseq: fo.ModSeq}
	d := &imap.SelectData{Flags: systemFlags, PermanentFlags: systemFlags, UIDNext: imap.UID(fo.UIDNext), UIDValidity: fo.UIDValidity}
	if sel.readOnly {
		d.PermanentFlags = []imap.Flag{}
	}
	for i, m := range msgs {
		sel.msgs = append(sel.msgs, &message{FolderMessage: m})
		if d.FirstUnseenSeqNum == 0 && !hasFlag(m.Flags, mail.FlagSeen) {
			d.FirstUnseenSeqNum = uint32(i + 1)
		}
	}
	d.NumMessages = uint32(len(sel.msgs))
	se.sel = sel
	return d, nil
}

func (se *session) Unselect() error {
	se.sel = nil
	return nil
}

// Poll tells the client what changed in the selected folder since it last knew.
func (se *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if se.sel == nil {
		return nil
	}
	ctx, cancel := se.ctx()
	defer cancel()
	return se.sync(ctx, w, allowExpunge)
}

func (se *session) sync(ctx context.Context, w *imapserver.UpdateWriter, allowExpunge bool) error {
	sel := se.sel
	st, err := se.s.folders.FolderState(ctx, se.sender.Mailbox.ID, sel.name)
	if err != nil {
		return se.toIMAP(err, "poll")
	}
	if st.ModSeq == sel.modseq && !(allowExpunge && sel.gone) {
		return nil // nothing changed: one row read
	}
	fo, msgs, err := se.s.folders.FolderMessages(ctx, se.sender.Mailbox.ID, sel.name)
	if err != nil {
		return se.toIMAP(err, "poll")
	}
	now := make(map[uint32]mail.FolderMessage, len(msgs))
	for _, m := range msgs {
		now[m.UID] = m
	}
	// Removed messages, from the last: each EXPUNGE shifts the numbers after it only.
	for i := len(sel.msgs) - 1; i >= 0; i-- {
		m := sel.msgs[i]
		if _, ok := now[m.UID]; ok && !m.gone {
			continue
		}
		m.gone = true
		if allowExpunge {
			if err := w.WriteExpunge(uint32(i + 1)); err != nil {
				return err
			}
			sel.msgs = slices.Delete(sel.msgs, i, i+1)
		}
	}
	sel.gone = !allowExpunge && slices.ContainsFunc(sel.msgs, func(m *message) bool { return m.gone })
	var last uint32
	for i, m := range sel.msgs {
		last = max(last, m.UID)
		n, ok := now[m.UID]
		if !ok || slices.Equal(n.Flags, m.Flags) {
			continue
		}
		m.Flags = n.Flags
		if err := w.WriteMessageFlags(uint32(i+1), imap.UID(m.UID), sel.flagsOf(m)); err != nil {
			return err
		}
	}
	added := false
	for _, m := range msgs { // UIDs only grow, in commit order: the new ones are above the last known
		if m.UID > last {
			sel.msgs = append(sel.msgs, &message{FolderMessage: m})
			added = true
		}
	}
	if added {
		if err := w.WriteNumMessages(uint32(len(sel.msgs))); err != nil {
			return err
		}
	}
	sel.uidNext, sel.modseq = fo.UIDNext, fo.ModSeq
	return nil
}

// Idle tells the client of each change as it happens: at each signal of the hub (a delivery,
// another session's change), and every PollInterval for changes made by another process.
func (se *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	t := time.NewTicker(se.s.opts.PollInterval)
	defer t.Stop()
	for {
		if se.sel != nil {
			ctx, cancel := se.ctx()
			err := se.sync(ctx, w, true)
			cancel()
			if err != nil {
				return err
			}
		}
		select {
		case <-stop:
			return nil
		case <-se.s.base.Done():
			return nil
		case <-se.changes:
		case <-t.C:
		}
	}
}

// resolve returns the messages of numSet with their sequence numbers. "*" is the last
// message (or UID); "$" the last saved search.
func (sel *selection) resolve(numSet imap.NumSet) []int {
	if imap.IsSearchRes(numSet) {
		numSet = sel.searchRes
	}
	var out []int
	switch set := numSet.(type) {
	case imap.SeqSet:
		set = slices.Clone(set)
		n := uint32(len(sel.msgs))
		for i := range set {
			staticRange(&set[i].Start, &set[i].Stop, n)
		}
		for i := range sel.msgs {
			if set.Contains(uint32(i + 1)) {
				out = append(out, i)
			}
		}
	case imap.UIDSet:
		set = slices.Clone(set)
		var maxUID uint32
		if len(sel.msgs) > 0 {
			maxUID = sel.msgs[len(sel.msgs)-1].UID
		}
		for i := range set {
			staticRange((*uint32)(&set[i].Start), (*uint32)(&set[i].Stop), maxUID)
		}
		for i, m := range sel.msgs {
			if set.Contains(imap.UID(m.UID)) {
				out = append(out, i)
			}
		}
	}
	return out
}

// staticRange replaces "*" (0) by max; a range is unordered (RFC 9051 §9 seq-range).
func staticRange(start, stop *uint32, max uint32) {
	if *start == 0 {
		*start = max
	}
	if *stop == 0 {
		*stop = max
	}
	if *start > *stop {
		*start, *stop = *stop, *start
	}
}

// body reads a message's bytes (decrypted, checked) whole: a message is bounded by the
// service's MaxMessageBytes.
func (se *session) body(ctx context.Context, m *message) ([]byte, error) {
	rc, err := se.s.svc.OpenMessage(ctx, m.Message)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := bytes.NewBuffer(make([]byte, 0, m.Message.Blob.Size))
	if _, err := io.Copy(buf, rc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (se *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	sel := se.sel
	idx := sel.resolve(numSet)
	ctx, cancel := se.ctx()
	defer cancel()
	// Reading a body section without PEEK sets \Seen (RFC 9051 §6.4.5), stored before the
	// answer, which then carries the new flags.
	markSeen := false
	for _, bs := range options.BodySection {
		markSeen = markSeen || !bs.Peek
	}
	seen := map[uint32]bool{}
	if markSeen && !sel.readOnly {
		changes := map[uint32][]string{}
		for _, i := range idx {
			m := sel.msgs[i]
			if !m.gone && !hasFlag(m.Flags, mail.FlagSeen) {
				changes[m.UID] = append(slices.Clone(m.Flags), mail.FlagSeen)
			}
		}
		if len(changes) > 0 {
			if err := se.s.folders.SetFlags(ctx, se.sender.Mailbox.ID, sel.name, changes); err != nil {
				return se.toIMAP(err, "fetch")
			}
			for _, i := range idx {
				m := sel.msgs[i]
				if f, ok := changes[m.UID]; ok {
					m.Flags, seen[m.UID] = sortFlags(f), true
				}
			}
		}
	}
	needBody := options.Envelope || options.BodyStructure != nil || len(options.BodySection) > 0 ||
		len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0
	for _, i := range idx {
		m := sel.msgs[i]
		if m.gone {
			continue // expunged elsewhere; the client learns it at its next command
		}
		var buf []byte
		if needBody {
			var err error
			if buf, err = se.body(ctx, m); err != nil {
				return se.toIMAP(err, "fetch")
			}
		}
		r := w.CreateMessage(uint32(i + 1))
		r.WriteUID(imap.UID(m.UID))
		if options.Flags || seen[m.UID] {
			r.WriteFlags(sel.flagsOf(m))
		}
		if options.InternalDate {
			r.WriteInternalDate(m.At)
		}
		if options.RFC822Size {
			r.WriteRFC822Size(m.Message.Blob.Size)
		}
		if options.Envelope {
			r.WriteEnvelope(envelope(buf))
		}
		if options.BodyStructure != nil {
			r.WriteBodyStructure(imapserver.ExtractBodyStructure(bytes.NewReader(buf)))
		}
		for _, bs := range options.BodySection {
			b := imapserver.ExtractBodySection(bytes.NewReader(buf), bs)
			if err := writeAll(r.WriteBodySection(bs, int64(len(b))), b); err != nil {
				return err
			}
		}
		for _, bs := range options.BinarySection {
			b := imapserver.ExtractBinarySection(bytes.NewReader(buf), bs)
			if err := writeAll(r.WriteBinarySection(bs, int64(len(b))), b); err != nil {
				return err
			}
		}
		for _, bss := range options.BinarySectionSize {
			r.WriteBinarySectionSize(bss, imapserver.ExtractBinarySectionSize(bytes.NewReader(buf), bss))
		}
		if err := r.Close(); err != nil {
			return err
		}
	}
	return nil
}

func writeAll(w io.WriteCloser, b []byte) error {
	_, err := w.Write(b)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

func sortFlags(flags []string) []string {
	var out []string
	for _, f := range mail.SystemFlags {
		if hasFlag(flags, f) {
			out = append(out, f)
		}
	}
	return out
}
