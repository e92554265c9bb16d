package imapd

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // search text in the charsets French mail uses
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/carnet-sante/carnet/internal/mail"
)

func envelope(buf []byte) *imap.Envelope {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(buf)))
	if err != nil {
		return &imap.Envelope{}
	}
	return imapserver.ExtractEnvelope(h)
}

// AppendLimit is the largest message APPEND takes (advertised as APPENDLIMIT).
func (se *session) AppendLimit() uint32 {
	return uint32(min(se.s.svc.Config().MaxMessageBytes, 1<<32-1))
}

// appendable: a client files its copies of sent mail and its drafts; mail reaches INBOX
// through SMTP only, where the rules of the messaging apply, and Trash by MOVE.
var appendable = map[string]bool{"Sent": true, "Drafts": true}

func (se *session) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	f, err := folder(name)
	if err != nil {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: errNoFolder.Text}
	}
	if !appendable[f] {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
			Text: "messages are appended to Sent or Drafts only: mail reaches INBOX through SMTP"}
	}
	max := se.s.svc.Config().MaxMessageBytes
	if r.Size() > max {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "the message is too large"}
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	var flags []string
	for _, fl := range options.Flags {
		if c, ok := mail.CanonicalFlag(string(fl)); ok {
			flags = append(flags, c)
		}
	}
	ctx, cancel := se.ctx()
	defer cancel()
	validity, uid, err := se.s.svc.AppendMessage(ctx, se.s.folders, *se.sender, f, data, flags, options.Time)
	if err != nil {
		switch mail.ReasonOf(err) {
		case mail.ReasonMailboxFull:
			return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: mail.MessageOf(err)}
		case mail.ReasonTooBig:
			return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: mail.MessageOf(err)}
		}
		return nil, se.toIMAP(err, "append")
	}
	return &imap.AppendData{UID: imap.UID(uid), UIDValidity: validity}, nil
}

func (se *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, _ *imap.StoreOptions) error {
	sel := se.sel
	if sel.readOnly {
		return errReadOnly
	}
	var given []string
	for _, f := range flags.Flags {
		if c, ok := mail.CanonicalFlag(string(f)); ok {
			given = append(given, c)
		}
	}
	idx := sel.resolve(numSet)
	changes := map[uint32][]string{}
	for _, i := range idx {
		m := sel.msgs[i]
		if m.gone {
			continue
		}
		var next []string
		switch flags.Op {
		case imap.StoreFlagsSet:
			next = sortFlags(given)
		case imap.StoreFlagsAdd:
			next = sortFlags(append(slices.Clone(m.Flags), given...))
		case imap.StoreFlagsDel:
			next = slices.DeleteFunc(slices.Clone(m.Flags), func(f string) bool { return hasFlag(given, f) })
		}
		if !slices.Equal(next, m.Flags) {
			changes[m.UID] = next
		}
	}
	if len(changes) > 0 {
		ctx, cancel := se.ctx()
		defer cancel()
		if err := se.s.folders.SetFlags(ctx, se.sender.Mailbox.ID, sel.name, changes); err != nil {
			return se.toIMAP(err, "store")
		}
		for _, i := range idx {
			if f, ok := changes[sel.msgs[i].UID]; ok {
				sel.msgs[i].Flags = f
			}
		}
	}
	if flags.Silent {
		return nil
	}
	for _, i := range idx {
		m := sel.msgs[i]
		if m.gone {
			continue
		}
		r := w.CreateMessage(uint32(i + 1))
		r.WriteUID(imap.UID(m.UID))
		r.WriteFlags(sel.flagsOf(m))
		if err := r.Close(); err != nil {
			return err
		}
	}
	return nil
}

// copyTo files the messages of numSet into dest (and with move takes them out of the
// selected folder); it returns the copy's data and the indexes of the messages copied.
func (se *session) copyTo(numSet imap.NumSet, dest string, move bool) (*imap.CopyData, []int, error) {
	sel := se.sel
	to, ok := mail.FolderName(dest)
	if !ok {
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: errNoFolder.Text}
	}
	if move && to == sel.name {
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
			Text: "the message is already in this folder"}
	}
	idx := slices.DeleteFunc(sel.resolve(numSet), func(i int) bool { return sel.msgs[i].gone })
	var uids []uint32
	var size int64
	for _, i := range idx {
		uids, size = append(uids, sel.msgs[i].UID), size+sel.msgs[i].Message.Blob.Size
	}
	ctx, cancel := se.ctx()
	defer cancel()
	if !move {
		m, err := se.s.svc.Mailbox(ctx, se.sender.Mailbox.Address.String())
		if err != nil {
			return nil, nil, se.toIMAP(err, "copy")
		}
		if q := se.s.svc.Config().QuotaBytes; q > 0 && m.UsedBytes+size > q {
			return nil, nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "the mailbox is full"}
		}
	}
	validity, src, dst, err := se.s.folders.CopyMessages(ctx, se.sender.Mailbox.ID, sel.name, uids, to, move)
	if err != nil {
		return nil, nil, se.toIMAP(err, "copy")
	}
	d := &imap.CopyData{UIDValidity: validity}
	for k := range src {
		d.SourceUIDs.AddNum(imap.UID(src[k]))
		d.DestUIDs.AddNum(imap.UID(dst[k]))
	}
	copied := slices.DeleteFunc(idx, func(i int) bool { return !slices.Contains(src, sel.msgs[i].UID) })
	return d, copied, nil
}

func (se *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	d, _, err := se.copyTo(numSet, dest, false)
	return d, err
}

func (se *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	if se.sel.readOnly {
		return errReadOnly
	}
	d, moved, err := se.copyTo(numSet, dest, true)
	if err != nil {
		return err
	}
	if err := w.WriteCopyData(d); err != nil {
		return err
	}
	return se.expunged(moved, w.WriteExpunge)
}

// expunged tells the client of removed messages (indexes ascending), from the last, and
// takes them out of the selection.
func (se *session) expunged(idx []int, write func(uint32) error) error {
	for k := len(idx) - 1; k >= 0; k-- {
		i := idx[k]
		if err := write(uint32(i + 1)); err != nil {
			return err
		}
		se.sel.msgs = slices.Delete(se.sel.msgs, i, i+1)
	}
	return nil
}

func (se *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	sel := se.sel
	if sel.readOnly {
		return errReadOnly
	}
	ctx, cancel := se.ctx()
	defer cancel()
	// The flags as stored now: another session may have set \Deleted since this one last
	// looked. Only the messages this session's client knows of are removed.
	_, msgs, err := se.s.folders.FolderMessages(ctx, se.sender.Mailbox.ID, sel.name)
	if err != nil {
		return se.toIMAP(err, "expunge")
	}
	deleted := map[uint32]bool{}
	for _, m := range msgs {
		deleted[m.UID] = hasFlag(m.Flags, mail.FlagDeleted)
	}
	var idx []int
	var del []uint32
	for i, m := range sel.msgs {
		if !m.gone && deleted[m.UID] && (uids == nil || uids.Contains(imap.UID(m.UID))) {
			idx, del = append(idx, i), append(del, m.UID)
		}
	}
	if len(del) == 0 {
		return nil
	}
	if err := se.s.folders.Expunge(ctx, se.sender.Mailbox.ID, sel.name, del); err != nil {
		return se.toIMAP(err, "expunge")
	}
	return se.expunged(idx, w.WriteExpunge)
}

func (se *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	sel := se.sel
	ctx, cancel := se.ctx()
	defer cancel()
	se.staticCriteria(criteria)
	var (
		d      imap.SearchData
		seqSet imap.SeqSet
		uidSet imap.UIDSet
	)
	for i, m := range sel.msgs {
		if m.gone {
			continue
		}
		mt := &matcher{se: se, ctx: ctx, m: m, seq: uint32(i + 1)}
		ok := mt.match(criteria)
		if mt.err != nil {
			return nil, se.toIMAP(mt.err, "search")
		}
		if !ok {
			continue
		}
		uidSet.AddNum(imap.UID(m.UID))
		num := uint32(i + 1)
		if kind == imapserver.NumKindUID {
			num = m.UID
		} else {
			seqSet.AddNum(num)
		}
		if d.Min == 0 || num < d.Min {
			d.Min = num
		}
		d.Max = max(d.Max, num)
		d.Count++
	}
	if kind == imapserver.NumKindUID {
		d.All = uidSet
	} else {
		d.All = seqSet
	}
	if options.ReturnSave {
		sel.searchRes = uidSet
	}
	return &d, nil
}

// staticCriteria replaces "*" and "$" in criteria's sets by what they stand for now.
func (se *session) staticCriteria(c *imap.SearchCriteria) {
	sel := se.sel
	var seqs []imap.SeqSet
	for _, s := range c.SeqNum {
		if imap.IsSearchRes(s) {
			c.UID = append(c.UID, sel.searchRes)
			continue
		}
		var set imap.SeqSet
		for _, i := range sel.resolve(s) {
			set.AddNum(uint32(i + 1))
		}
		seqs = append(seqs, set)
	}
	c.SeqNum = seqs
	for k, u := range c.UID {
		var set imap.UIDSet
		for _, i := range sel.resolve(u) {
			set.AddNum(imap.UID(sel.msgs[i].UID))
		}
		c.UID[k] = set
	}
	for k := range c.Not {
		se.staticCriteria(&c.Not[k])
	}
	for k := range c.Or {
		se.staticCriteria(&c.Or[k][0])
		se.staticCriteria(&c.Or[k][1])
	}
}

// matcher checks one message against search criteria, reading (and decrypting) its bytes
// only when a criterion needs them, once.
type matcher struct {
	se     *session
	ctx    context.Context
	m      *message
	seq    uint32
	buf    []byte
	loaded bool
	err    error
}

func (mt *matcher) bytes() []byte {
	if !mt.loaded && mt.err == nil {
		mt.buf, mt.err = mt.se.body(mt.ctx, mt.m)
		mt.loaded = true
	}
	return mt.buf
}

func (mt *matcher) entity() *gomessage.Entity {
	e, err := gomessage.Read(bytes.NewReader(mt.bytes()))
	if e == nil {
		_ = err
		e, _ = gomessage.New(gomessage.Header{}, bytes.NewReader(nil))
	}
	return e
}

func (mt *matcher) match(c *imap.SearchCriteria) bool {
	m := mt.m
	for _, s := range c.SeqNum {
		if !s.Contains(mt.seq) {
			return false
		}
	}
	for _, s := range c.UID {
		if !s.Contains(imap.UID(m.UID)) {
			return false
		}
	}
	if !matchDate(m.At, c.Since, c.Before) {
		return false
	}
	for _, f := range c.Flag {
		if !hasFlag(m.Flags, canonical(f)) {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if hasFlag(m.Flags, canonical(f)) {
			return false
		}
	}
	if c.Larger != 0 && m.Message.Blob.Size <= c.Larger {
		return false
	}
	if c.Smaller != 0 && m.Message.Blob.Size >= c.Smaller {
		return false
	}
	if len(c.Header) > 0 || !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		h := gomail.Header{Header: mt.entity().Header}
		if mt.err != nil {
			return false
		}
		for _, hc := range c.Header {
			if !matchFields(h.FieldsByKey(hc.Key), hc.Value) {
				return false
			}
		}
		if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
			t, err := h.Date()
			if err != nil || !matchDate(t, c.SentSince, c.SentBefore) {
				return false
			}
		}
	}
	for _, t := range c.Text {
		if !matchEntity(mt.entity(), t, true) || mt.err != nil {
			return false
		}
	}
	for _, b := range c.Body {
		if !matchEntity(mt.entity(), b, false) || mt.err != nil {
			return false
		}
	}
	for k := range c.Not {
		if mt.match(&c.Not[k]) {
			return false
		}
	}
	for k := range c.Or {
		if !mt.match(&c.Or[k][0]) && !mt.match(&c.Or[k][1]) {
			return false
		}
	}
	return mt.err == nil
}

func canonical(f imap.Flag) string {
	if c, ok := mail.CanonicalFlag(string(f)); ok {
		return c
	}
	return string(f) // a keyword: no message has one
}

// matchDate compares dates only, in UTC (RFC 9051 §6.4.4: time and zone are ignored).
func matchDate(t, since, before time.Time) bool {
	t = t.UTC()
	t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && t.Before(since) {
		return false
	}
	if !before.IsZero() && !t.Before(before) {
		return false
	}
	return true
}

// contains is SEARCH's substring match: case-insensitive, and accent-insensitive for French
// ("Hélène" finds "HELENE").
func contains(s, pattern string) bool {
	return strings.Contains(mail.Fold(s), mail.Fold(pattern))
}

func matchFields(fields gomessage.HeaderFields, pattern string) bool {
	if pattern == "" {
		return fields.Len() > 0
	}
	for fields.Next() {
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		if contains(v, pattern) {
			return true
		}
	}
	return false
}

func matchEntity(e *gomessage.Entity, pattern string, withHeader bool) bool {
	if pattern == "" {
		return true
	}
	if withHeader && matchFields(e.Header.Fields(), pattern) {
		return true
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			part, err := mr.NextPart()
			if err != nil {
				return false
			}
			if matchEntity(part, pattern, withHeader) {
				return true
			}
		}
	}
	t, _, err := e.Header.ContentType()
	if err != nil {
		t = "text/plain" // RFC 2045 §5.2: the default
	}
	if !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return false
	}
	b, err := io.ReadAll(io.LimitReader(e.Body, 32<<20))
	if err != nil && len(b) == 0 {
		return false
	}
	return contains(string(b), pattern)
}
