package mail

import (
	"bytes"
	"errors"
	"html"
	"io"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // the charsets of French mail (ISO-8859-1/15, windows-1252)
	gomail "github.com/emersion/go-message/mail"

	"github.com/carnet-sante/carnet/internal/errs"
)

// View is a message as the portal shows it: its text and its attachments, never its raw
// HTML. An HTML body without a text alternative is turned into text (htmlToText): what a
// sender writes must not run, style or load anything in the patient's page.
type View struct {
	FromName    string
	From        string // the author's address; the pages show FromName
	To          []string
	Subject     string
	Date        time.Time
	MessageID   string
	Text        string
	FromHTML    bool // Text was made from an HTML body
	Attachments []Attachment
	// Incomplete: a part could not be read to its end (a missing final boundary, a broken
	// encoding): what was read is kept, the rest is missing.
	Incomplete bool
}

// Attachment is a part of a message the sender attached (or a leaf that is not a text body).
type Attachment struct {
	Index int // its rank among the message's attachments, from 0: how the pages name it
	Name  string
	// MimeType is what the bytes are by their magic numbers (SniffType), never the sender's
	// word: application/octet-stream for anything but a PDF, PNG or JPEG. Declared is the
	// sender's word, for the page only.
	MimeType string
	Declared string
	Size     int64
	// Broken: its content could not be decoded (bad base64, a message cut short); the other
	// parts are still shown, this one cannot be opened.
	Broken bool
	data   []byte
}

// SniffType names a file by its first bytes: a PDF, a PNG or a JPEG image, else
// application/octet-stream. Only these three are previewed, filed or sent from the portal.
func SniffType(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return "application/pdf"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return "image/jpeg"
	}
	return "application/octet-stream"
}

// Which attachments' bytes ParseViewMode keeps: all, none (their sizes only), or the one of
// that index (from 0).
const (
	KeepAll  = -1
	KeepNone = -2
)

// Limits of a message taken apart for the portal: deep and wide enough for real mail (a
// signed message with an XDM zip and a PDF nests three levels), small enough that a hostile
// one costs little. The whole message is already bounded by MaxMessageBytes.
const (
	maxViewDepth = 8
	maxViewParts = 200
	maxViewText  = 1 << 20 // a body longer than this is cut: nobody reads a megabyte of text
)

// errUnreadable is a message the portal cannot take apart.
var errUnreadable = errs.E(errs.Invalid, "this message cannot be read")

// ParseView takes a message apart (RFC 5322, MIME): its header, its first text body (text/plain
// preferred to text/html), and its attachments with their bytes. It is the portal's parser of
// mail from outside: it refuses a header it cannot read rather than guessing, keeps the parts
// it could read of a broken body (View.Incomplete, Attachment.Broken), and never panics.
func ParseView(r io.Reader) (View, error) { return ParseViewMode(r, KeepAll) }

// ParseViewMode is ParseView keeping the bytes of the attachments keep says (KeepAll,
// KeepNone, or an index): the others are streamed through, counted and sniffed, never held,
// so that a conversation page costs its text, not its files.
func ParseViewMode(r io.Reader, keep int) (View, error) {
	e, err := message.Read(r)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return View{}, errUnreadable
	}
	h := gomail.Header{Header: e.Header}
	var v View
	if list, err := h.AddressList("From"); err == nil && len(list) > 0 {
		v.FromName, v.From = cleanName(list[0].Name), strings.ToLower(list[0].Address)
	}
	if list, err := h.AddressList("To"); err == nil {
		for _, a := range list {
			v.To = append(v.To, strings.ToLower(a.Address))
		}
	}
	if s, err := h.Subject(); err == nil {
		v.Subject = CleanSubject(s)
	} else {
		v.Subject = CleanSubject(h.Get("Subject"))
	}
	v.Date, _ = h.Date()
	v.MessageID = bounded(strings.TrimSpace(h.Get("Message-Id")), 250)
	w := walker{v: &v, keep: keep}
	if err := w.walk(e, 0); err != nil {
		return View{}, err
	}
	if w.text == "" && w.html != "" {
		v.Text, v.FromHTML = htmlToText(w.html), true
	} else {
		v.Text = w.text
	}
	return v, nil
}

type walker struct {
	v          *View
	keep       int
	parts      int
	text, html string
}

// typeSniffer counts what goes through it and keeps its first bytes, to name the file's type.
type typeSniffer struct {
	n    int64
	head []byte
}

func (s *typeSniffer) Write(p []byte) (int, error) {
	if len(s.head) < 16 {
		s.head = append(s.head, p[:min(len(p), 16-len(s.head))]...)
	}
	s.n += int64(len(p))
	return len(p), nil
}

func (w *walker) walk(e *message.Entity, depth int) error {
	w.parts++
	if depth > maxViewDepth || w.parts > maxViewParts {
		return errUnreadable
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				// A body cut short or a broken boundary: keep the parts read before it.
				w.v.Incomplete = true
				return nil
			}
			if err := w.walk(p, depth+1); err != nil {
				return err
			}
		}
	}
	ct, params, err := e.Header.ContentType()
	if err != nil || ct == "" {
		ct = "text/plain"
	}
	disp, dparams, _ := e.Header.ContentDisposition()
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if d, err := new(mime.WordDecoder).DecodeHeader(name); err == nil {
		name = d
	}
	attached := disp == "attachment" || name != ""
	if !attached && (ct == "text/plain" || ct == "text/html") {
		b, err := io.ReadAll(io.LimitReader(e.Body, maxViewText))
		if err != nil {
			w.v.Incomplete = true // the text read so far is kept
		}
		s := strings.ToValidUTF8(string(b), "\uFFFD")
		switch {
		case ct == "text/plain" && w.text == "":
			w.text = s
		case ct == "text/html" && w.html == "":
			w.html = s
		}
		return nil
	}
	if ct == "message/rfc822" && !attached {
		name = "message.eml"
	}
	i := len(w.v.Attachments)
	sn := &typeSniffer{}
	var dst io.Writer = sn
	var kept *bytes.Buffer
	if w.keep == KeepAll || w.keep == i {
		kept = new(bytes.Buffer)
		dst = io.MultiWriter(kept, sn)
	}
	_, err = io.Copy(dst, e.Body)
	a := Attachment{Index: i, Name: cleanFileName(name, i), MimeType: SniffType(sn.head), Declared: strings.ToLower(ct), Size: sn.n}
	if err != nil {
		a.Broken, a.MimeType = true, "application/octet-stream"
		w.v.Incomplete = true
	} else if kept != nil {
		a.data = kept.Bytes()
	}
	w.v.Attachments = append(w.v.Attachments, a)
	return nil
}

// MaxSubject bounds a subject, in characters: the portal's form allows as many.
const MaxSubject = 200

// CleanSubject keeps a subject fit for a page: one line, no bidirectional controls, at most
// MaxSubject characters.
func CleanSubject(s string) string {
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		if isBidiControl(r) {
			return -1
		}
		return r
	}, s)), " ")
	if r := []rune(s); len(r) > MaxSubject {
		s = string(r[:MaxSubject])
	}
	return s
}

// isBidiControl reports the characters that reorder text (U+202E RIGHT-TO-LEFT OVERRIDE and
// its kin): in a file name they show "facture.exe" reversed as "exe.erutcaf" would, hiding
// its real extension.
func isBidiControl(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// cleanFileName keeps a file name fit for a page and a download: its last path element, one
// line, no quotes, no bidirectional controls, bounded; "piece-jointe-N" when it says nothing.
func cleanFileName(s string, i int) string {
	if j := strings.LastIndexAny(s, `/\`); j >= 0 {
		s = s[j+1:]
	}
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '"' || r == ';' || isBidiControl(r) {
			return -1
		}
		return r
	}, cleanName(s))
	s = strings.TrimLeft(s, ". ")
	if s == "" {
		return "piece-jointe-" + itoa(i+1)
	}
	if len(s) > 120 {
		s = s[:120]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// htmlToText keeps the text of an HTML body: tags dropped, the content of script, style and
// head dropped, line breaks where blocks end, entities decoded. The result is plain text the
// page escapes like any other: nothing of the sender's markup reaches the browser.
func htmlToText(s string) string {
	var b strings.Builder
	skip := ""
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			if skip == "" {
				b.WriteString(html.UnescapeString(s))
			}
			break
		}
		if skip == "" {
			b.WriteString(html.UnescapeString(s[:i]))
		}
		s = s[i:]
		j := strings.IndexByte(s, '>')
		if j < 0 {
			break
		}
		tag := strings.ToLower(strings.TrimSpace(strings.Trim(s[1:j], "/ ")))
		closing := strings.HasPrefix(s[1:], "/")
		if k := strings.IndexAny(tag, " \t\r\n/"); k >= 0 {
			tag = tag[:k]
		}
		s = s[j+1:]
		switch {
		case skip != "":
			if closing && tag == skip {
				skip = ""
			}
		case !closing && (tag == "script" || tag == "style" || tag == "head" || tag == "title"):
			skip = tag
		case tag == "br" || tag == "p" || tag == "div" || tag == "tr" || tag == "li" || tag == "h1" || tag == "h2" || tag == "h3":
			b.WriteString("\n")
		}
	}
	lines := strings.Split(b.String(), "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" {
			blank++
			if blank > 1 || len(out) == 0 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// Data returns an attachment's bytes.
func (a Attachment) Data() []byte { return a.data }

// File is an attachment to send.
type File struct {
	Name     string
	MimeType string
	Data     []byte
}

// Outgoing is a message the portal composes.
type Outgoing struct {
	From, To          Address
	FromName, ToName  string
	Subject, Body     string
	InReplyTo         string // the Message-ID answered, with its angle brackets
	End               bool   // X-MSS-MES: FIN, the professional ends the exchange
	Files             []File
	Date              time.Time
	MessageIDHostname string
}

// Compose writes o as a MIME message: text/plain alone, or multipart/mixed with the files.
func Compose(o Outgoing) ([]byte, error) {
	var h gomail.Header
	h.SetDate(o.Date)
	h.SetAddressList("From", []*gomail.Address{{Name: o.FromName, Address: o.From.String()}})
	h.SetAddressList("To", []*gomail.Address{{Name: o.ToName, Address: o.To.String()}})
	h.SetSubject(o.Subject)
	if err := h.GenerateMessageIDWithHostname(o.MessageIDHostname); err != nil {
		return nil, err
	}
	if o.InReplyTo != "" {
		h.Set("In-Reply-To", o.InReplyTo)
		h.Set("References", o.InReplyTo)
	}
	if o.End {
		h.Set("X-MSS-MES", "FIN")
	}
	var buf bytes.Buffer
	body := strings.ReplaceAll(strings.ReplaceAll(o.Body, "\r\n", "\n"), "\n", "\r\n")
	if len(o.Files) == 0 {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w, err := gomail.CreateSingleInlineWriter(&buf, h)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(w, body); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	mw, err := gomail.CreateWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	var th gomail.InlineHeader
	th.Set("Content-Type", "text/plain; charset=utf-8")
	tw, err := mw.CreateSingleInline(th)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(tw, body); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	for _, f := range o.Files {
		var ah gomail.AttachmentHeader
		ah.Set("Content-Type", f.MimeType)
		ah.SetFilename(f.Name)
		w, err := mw.CreateAttachment(ah)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.Data); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, errors.Join(errs.E(errs.Internal, "compose message"), err)
	}
	return buf.Bytes(), nil
}
