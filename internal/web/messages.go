package web

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// The patient's secure messages (internal/mail's Portal): the inbox, a conversation with one
// professional, its attachments (downloaded, previewed in the page, saved into the record),
// the reply; and the professional's "write to the patient". Messages are named in URLs by the
// delivery's internal id, never by anything of their content.

// SetMessages gives the pages the messaging, which `carnet serve` starts after the pages.
// Until it is set, the messages pages are not found.
func (w *Web) SetMessages(p *mail.Portal) { w.msgs = p }

// messagesRoutes mounts the messages pages.
func (w *Web) messagesRoutes() {
	m := w.mux
	for _, base := range []struct {
		prefix string
		wrap   func(func(http.ResponseWriter, *http.Request, auth.Identity, record.Request)) http.HandlerFunc
	}{{"/moi", w.patient}, {"/proches/{patient}", w.represented}} {
		m.HandleFunc("GET "+base.prefix+"/messages", base.wrap(w.inbox))
		m.HandleFunc("GET "+base.prefix+"/messages/pharmacie", base.wrap(w.pharmacyForm)) // messages_pharmacy.go
		m.HandleFunc("POST "+base.prefix+"/messages/pharmacie", base.wrap(w.pharmacyWrite))
		m.HandleFunc("GET "+base.prefix+"/messages/{id}", base.wrap(w.thread))
		m.HandleFunc("POST "+base.prefix+"/messages/{id}/repondre", base.wrap(w.reply))
		m.HandleFunc("GET "+base.prefix+"/messages/{id}/pieces/{n}", base.wrap(w.attachmentPage))
		m.HandleFunc("GET "+base.prefix+"/messages/{id}/pieces/{n}/contenu", base.wrap(w.attachmentContent))
		m.HandleFunc("POST "+base.prefix+"/messages/{id}/pieces/{n}/enregistrer", base.wrap(w.saveAttachment))
	}
	m.HandleFunc("GET /pro/patients/{patient}/message", w.pro(w.proWriteForm))
	m.HandleFunc("POST /pro/patients/{patient}/message", w.pro(w.proWrite))
	m.HandleFunc("GET /pro/messages/nouveau", w.pro(w.colleagueForm)) // colleague.go
	m.HandleFunc("POST /pro/messages/nouveau", w.pro(w.colleagueWrite))
}

// msgRow is a message as the inbox lists it.
type msgRow struct {
	ID, From, Subject, Date              string
	Unread, Sent, Attachment, Unreadable bool
}

func msgRowOf(l Lang, s mail.Summary) msgRow {
	r := msgRow{ID: strconv.FormatInt(s.ID, 10), From: s.Correspondent, Subject: s.Subject, Date: frDateTime(s.At),
		Unread: s.Unread, Sent: !s.Incoming, Attachment: s.Attachments, Unreadable: s.Unreadable}
	if r.Subject == "" && !r.Unreadable {
		r.Subject = l.T("msg.nosubject")
	}
	return r
}

func (w *Web) portalOrNotFound(rw http.ResponseWriter, r *http.Request) bool {
	if w.msgs == nil {
		w.notFound(rw, r)
		return false
	}
	return true
}

// inbox: GET /moi/messages.
func (w *Web) inbox(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if !w.portalOrNotFound(rw, r) {
		return
	}
	in, err := w.msgs.Inbox(r.Context(), req.Actor, req.Channel, req.Actor.PatientID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v := struct {
		patientPage
		Rows   []msgRow
		Unread int
	}{patientPage: w.patientPage(r, id, "msg.title", "messages"), Unread: in.Unread}
	for _, s := range in.Messages {
		v.Rows = append(v.Rows, msgRowOf(v.Lang, s))
	}
	w.render(rw, r, http.StatusOK, "messages", v)
}

// threadMsg is one message of a conversation as the page shows it.
type threadMsg struct {
	msgRow
	Paragraphs  []string
	FromHTML    bool
	Incomplete  bool
	Attachments []attRow
}

type attRow struct {
	Index, Name, Mime, Size string
	Savable, Broken         bool
}

type threadView struct {
	patientPage
	ID            string
	Correspondent string
	Subject       string
	Messages      []threadMsg
	ReplyTo       string
	Ended         bool
	NoReply       bool
	Error         string
	Done          bool
	// Questionnaires the received messages carry, by message (questionnaire.go).
	Questionnaires map[string][]qOffer
}

// pathID reads the path's {id}.
func pathID(r *http.Request, name string) (int64, bool) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return n, err == nil && n > 0
}

func (w *Web) threadView(r *http.Request, id auth.Identity, req record.Request) (threadView, error) {
	mid, ok := pathID(r, "id")
	if !ok {
		return threadView{}, errs.E(errs.NotFound, "no such message")
	}
	t, err := w.msgs.Thread(r.Context(), req.Actor, req.Channel, mid)
	if err != nil {
		return threadView{}, err
	}
	v := threadView{patientPage: w.patientPage(r, id, "msg.title", "messages"), ID: strconv.FormatInt(mid, 10),
		Correspondent: t.Correspondent, Subject: t.Subject, Ended: t.Ended, NoReply: t.NoReply}
	if v.Subject == "" {
		v.Subject = v.T("msg.nosubject")
	}
	v.Title = v.T("msg.thread.with", t.Correspondent)
	if t.ReplyTo != 0 {
		v.ReplyTo = strconv.FormatInt(t.ReplyTo, 10)
	}
	for _, m := range t.Messages {
		tm := threadMsg{msgRow: msgRowOf(v.Lang, m.Summary), FromHTML: m.FromHTML, Incomplete: m.Incomplete}
		if tm.Sent {
			tm.From = v.T("msg.from.you")
		}
		for _, p := range strings.Split(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n") {
			tm.Paragraphs = append(tm.Paragraphs, p)
		}
		for _, a := range m.Attachments {
			tm.Attachments = append(tm.Attachments, attRow{Index: strconv.Itoa(a.Index), Name: a.Name, Mime: a.MimeType,
				Size: humanSize(a.Size), Savable: mail.Savable(a.MimeType) && !a.Broken, Broken: a.Broken})
		}
		v.Messages = append(v.Messages, tm)
	}
	v.Questionnaires = w.threadQuestionnaires(r, req, v.Lang, t)
	return v, nil
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " Mo"
	case n >= 1<<10:
		return strconv.FormatInt(n>>10, 10) + " Ko"
	}
	return strconv.FormatInt(n, 10) + " o"
}

// thread: GET /moi/messages/{id}, the conversation the message is part of.
func (w *Web) thread(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if !w.portalOrNotFound(rw, r) {
		return
	}
	v, err := w.threadView(r, id, req)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v.Done = r.FormValue("fait") == "reponse"
	w.render(rw, r, http.StatusOK, "messages_thread", v)
}

// maxUpload bounds a form with files: the attachments' limit and room for the text.
const maxUpload = 12 << 20

// formFiles reads the files of a multipart form's field.
func formFiles(r *http.Request, field string) ([]mail.File, error) {
	if r.MultipartForm == nil {
		if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			return nil, errors.Join(errs.E(errs.Invalid, "the form could not be read (files too large?)"), errFormUnreadable)
		}
	}
	if r.MultipartForm == nil {
		return nil, nil
	}
	var out []mail.File
	for _, fh := range r.MultipartForm.File[field] {
		if fh.Size == 0 && fh.Filename == "" {
			continue // an empty file input
		}
		f, err := fh.Open()
		if err != nil {
			return nil, errors.Join(errs.E(errs.Invalid, "a file could not be read"), errFileUnreadable)
		}
		b, err := io.ReadAll(io.LimitReader(f, maxUpload))
		f.Close()
		if err != nil {
			return nil, errors.Join(errs.E(errs.Invalid, "a file could not be read"), errFileUnreadable)
		}
		// The bytes say what a file is, never the browser's Content-Type: the portal refuses
		// anything but a PDF, PNG or JPEG by its magic numbers.
		out = append(out, mail.File{Name: fh.Filename, MimeType: mail.SniffType(b), Data: b})
	}
	return out, nil
}

// reply: POST /moi/messages/{id}/repondre.
func (w *Web) reply(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if !w.portalOrNotFound(rw, r) {
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, maxUpload+1<<20)
	files, ferr := formFiles(r, "fichiers")
	mid, _ := pathID(r, "id")
	err := ferr
	if err == nil {
		_, err = w.msgs.Reply(r.Context(), req.Actor, req.Channel, mid, r.PostFormValue("corps"), files)
	}
	if err == nil {
		http.Redirect(rw, r, baseOf(r)+"/messages/"+strconv.FormatInt(mid, 10)+"?fait=reponse", http.StatusSeeOther)
		return
	}
	var refusal *mail.Refusal
	if !errors.As(err, &refusal) && !errs.Is(err, errs.Invalid) {
		w.fail(rw, r, err)
		return
	}
	v, verr := w.threadView(r, id, req)
	if verr != nil {
		w.fail(rw, r, verr)
		return
	}
	status := http.StatusBadRequest
	msg := v.T(invalidKey(err))
	if refusal != nil {
		status = http.StatusForbidden
		msg = v.T(refusalKey(refusal.Reason))
		if refusal.Reason == mail.ReasonPatientFirst && v.Ended {
			msg = v.T("msg.ended")
		}
	}
	v.Error = v.T("msg.refused", msg)
	w.render(rw, r, status, "messages_thread", v)
}

type attView struct {
	patientPage
	ID, Index, Name, Mime, Size string
	Preview, Savable, Saved     bool
	Types                       []terminology.TypeCode
}

// attachmentPage: GET /moi/messages/{id}/pieces/{n}: the attachment, its preview, and the
// form that files it into the record.
func (w *Web) attachmentPage(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if !w.portalOrNotFound(rw, r) {
		return
	}
	mid, ok1 := pathID(r, "id")
	n, err := strconv.Atoi(r.PathValue("n"))
	if !ok1 || err != nil {
		w.notFound(rw, r)
		return
	}
	a, err := w.msgs.Attachment(r.Context(), req.Actor, req.Channel, mid, n)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	// MimeType is what the bytes are (mail.SniffType): only a real PDF or image is previewed.
	v := attView{patientPage: w.patientPage(r, id, "msg.title", "messages"), ID: strconv.FormatInt(mid, 10), Index: strconv.Itoa(n),
		Name: a.Name, Mime: a.MimeType, Size: humanSize(a.Size), Preview: mail.Savable(a.MimeType), Savable: mail.Savable(a.MimeType),
		Saved: r.FormValue("fait") == "enregistre"}
	v.Title = v.T("msg.att.title", a.Name)
	for _, t := range w.d.Catalog.Types() {
		if t.Space == terminology.SpacePersonal {
			v.Types = append(v.Types, t)
		}
	}
	w.render(rw, r, http.StatusOK, "messages_attachment", v)
}

// attachmentContent: GET /moi/messages/{id}/pieces/{n}/contenu, the bytes: shown in the
// attachment's page (PDF, images) or downloaded.
func (w *Web) attachmentContent(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if !w.portalOrNotFound(rw, r) {
		return
	}
	mid, ok1 := pathID(r, "id")
	n, err := strconv.Atoi(r.PathValue("n"))
	if !ok1 || err != nil {
		w.notFound(rw, r)
		return
	}
	a, err := w.msgs.Attachment(r.Context(), req.Actor, req.Channel, mid, n)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	h := rw.Header()
	ct := a.MimeType
	disposition := "attachment"
	if mail.Savable(ct) && r.FormValue("telecharger") == "" {
		disposition = "inline"
	} else {
		ct = "application/octet-stream" // anything else is downloaded, never rendered
	}
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	// A sandbox without scripts for images and anything else; a PDF keeps the browser's viewer,
	// which a sandboxed document cannot open (the file's own scripts run in the viewer, not in
	// our origin).
	csp := "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
	if ct != "application/pdf" {
		csp += "; sandbox"
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Disposition", contentDisposition(disposition, a.Name))
	h.Set("Content-Length", strconv.Itoa(len(a.Data())))
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(a.Data())
}

// contentDisposition writes the header with the file's name, as RFC 6266 says: filename*
// (RFC 5987, UTF-8) for a name beyond ASCII, mime.FormatMediaType doing the quoting; an
// ASCII fallback when it cannot.
func contentDisposition(disposition, name string) string {
	if v := mime.FormatMediaType(disposition, map[string]string{"filename": name}); v != "" {
		return v
	}
	return disposition + `; filename="` + asciiName(name) + `"`
}

// asciiName keeps a file name safe in a Content-Disposition header.
func asciiName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, s)
	if s == "" {
		return "piece-jointe"
	}
	return s
}

// saveAttachment: POST /moi/messages/{id}/pieces/{n}/enregistrer.
func (w *Web) saveAttachment(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if !w.portalOrNotFound(rw, r) {
		return
	}
	mid, ok1 := pathID(r, "id")
	n, err := strconv.Atoi(r.PathValue("n"))
	if !ok1 || err != nil {
		w.notFound(rw, r)
		return
	}
	if _, err := w.msgs.SaveAttachment(r.Context(), req, mid, n, r.PostFormValue("type"), r.PostFormValue("titre")); err != nil {
		w.msgFail(rw, r, err)
		return
	}
	http.Redirect(rw, r, baseOf(r)+"/messages/"+strconv.FormatInt(mid, 10)+"/pieces/"+strconv.Itoa(n)+"?fait=enregistre", http.StatusSeeOther)
}

type proWriteView struct {
	patientPage
	PatientID, Name string
	Subject, Body   string
	End             bool
	Error           string
	Done            bool
	Refused         bool // the access decision refused: no name, no form
}

// proWriteView is the page without the patient's name: Recipient gives it after the decision.
func (w *Web) proWriteView(r *http.Request) (proWriteView, int64, error) {
	pid, ok := pathID(r, "patient")
	if !ok {
		return proWriteView{}, 0, errs.E(errs.NotFound, "no such patient")
	}
	return proWriteView{patientPage: patientPage{Page: w.page(r, "pro.write.title"), Nav: "pro"}, PatientID: strconv.FormatInt(pid, 10),
		Done: r.FormValue("fait") == "message"}, pid, nil
}

// proWriteRefused answers a professional the access decision refused: the reason, in their
// language, and nothing of the patient.
func (w *Web) proWriteRefused(rw http.ResponseWriter, r *http.Request, v proWriteView, err error) bool {
	if access.RefusalOf(err) == "" {
		return false
	}
	v.Refused, v.Name, v.Subject, v.Body = true, "", "", ""
	v.Error = v.T("pro.write.blocked", w.refusal(v.Lang, err))
	w.render(rw, r, http.StatusForbidden, "messages_pro", v)
	return true
}

// proWriteForm: GET /pro/patients/{patient}/message, after the decision that the professional
// may write to this patient (traced).
func (w *Web) proWriteForm(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if !w.portalOrNotFound(rw, r) {
		return
	}
	v, pid, err := w.proWriteView(r)
	if err == nil {
		v.Name, err = w.msgs.Recipient(r.Context(), req.Actor, req.Channel, pid)
	}
	if err != nil {
		if !w.proWriteRefused(rw, r, v, err) {
			w.fail(rw, r, err)
		}
		return
	}
	w.render(rw, r, http.StatusOK, "messages_pro", v)
}

// proWrite: POST /pro/patients/{patient}/message, sent from the professional's PER mailbox
// through the acceptance of submitted mail (mail.Portal.Write decides and traces).
func (w *Web) proWrite(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if !w.portalOrNotFound(rw, r) {
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, maxUpload+1<<20)
	v, pid, err := w.proWriteView(r)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	files, err := formFiles(r, "fichiers")
	v.Subject, v.Body, v.End = r.PostFormValue("objet"), r.PostFormValue("corps"), r.PostFormValue("fin") == "1"
	if err == nil {
		_, err = w.msgs.Write(r.Context(), req.Actor, req.Channel, pid, v.Subject, v.Body, v.End, files)
	}
	if err == nil {
		http.Redirect(rw, r, "/pro/patients/"+v.PatientID+"/message?fait=message", http.StatusSeeOther)
		return
	}
	if w.proWriteRefused(rw, r, v, err) {
		return
	}
	status, text, ok := writeRefusal(v.Lang, err, "pro.write.refused")
	if !ok {
		w.fail(rw, r, err)
		return
	}
	v.Error = text
	// The page shows the patient's name again, after a decision like the form's.
	name, nerr := w.msgs.Recipient(r.Context(), req.Actor, req.Channel, pid)
	if nerr != nil {
		if !w.proWriteRefused(rw, r, v, nerr) {
			w.fail(rw, r, nerr)
		}
		return
	}
	v.Name = name
	w.render(rw, r, status, "messages_pro", v)
}

// MaxSubject is the form's bound of a subject, the one the messaging keeps (mail.CleanSubject).
func (proWriteView) MaxSubject() int { return mail.MaxSubject }
