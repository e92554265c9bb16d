package web

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/archive"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/terminology"
	"github.com/carnet-sante/carnet/internal/trail"
)

// patientPage is what every page of the patient's space carries.
type patientPage struct {
	Page
	Nav string // the current section, for the menu
	// Base is where the pages of the space shown are: /moi for one's own, /proches/{id} for
	// the space of a person one represents; Holder names that person ("" for one's own).
	Base, Holder string
	// Represented are the spaces the person signed in may switch to.
	Represented []switchTarget
	// HasMessages: the messaging is served and this space's messages may be read here (one's
	// own, a minor's; never an adult's, whose representative does not read them).
	HasMessages bool
}

// switchTarget is a space of the switcher.
type switchTarget struct {
	Name, Base string
	Current    bool
}

// patient runs h for a signed-in patient, with the request they act through; anyone else is
// sent to sign in (and back here after).
func (w *Web) patient(h func(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		id, ok := auth.FromContext(r.Context())
		if !ok || id.Kind != account.KindPatient {
			q := url.Values{"retour": {r.URL.Path}}
			http.Redirect(rw, r, "/connexion?"+q.Encode(), http.StatusSeeOther)
			return
		}
		h(rw, r, id, record.Request{Actor: id.Actor(), Channel: audit.ChannelWeb})
	}
}

func (w *Web) patientPage(r *http.Request, id auth.Identity, titleKey, nav string) patientPage {
	p := patientPage{Page: w.page(r, titleKey), Nav: nav, Base: baseOf(r)}
	p.HasMessages = w.msgs != nil && p.Base == "/moi"
	if p.Base != "/moi" {
		if holder, _, err := w.d.Spaces.Get(r.Context(), idOfBase(p.Base)); err == nil {
			p.Holder = strings.TrimSpace(holder.GivenNames + " " + holder.BirthName)
			p.HasMessages = w.msgs != nil && holder.AgeAt(w.d.Clock.Now()) < 18
		}
	}
	if w.d.Representation != nil {
		if reps, err := w.d.Representation.Represented(r.Context(), id.PatientID); err == nil && len(reps) > 0 {
			p.Represented = append(p.Represented, switchTarget{Name: p.T("switch.me"), Base: "/moi", Current: p.Base == "/moi"})
			for _, rep := range reps {
				base := "/proches/" + strconv.FormatInt(rep.PatientID, 10)
				name := base
				if holder, _, err := w.d.Spaces.Get(r.Context(), rep.PatientID); err == nil {
					name = strings.TrimSpace(holder.GivenNames + " " + holder.BirthName)
				}
				p.Represented = append(p.Represented, switchTarget{Name: name, Base: base, Current: p.Base == base})
			}
		}
	}
	return p
}

// baseOf says where the pages of the space r shows are: /moi, or /proches/{id}.
func baseOf(r *http.Request) string {
	if pid := r.PathValue("patient"); pid != "" && strings.HasPrefix(r.URL.Path, "/proches/") {
		return "/proches/" + pid
	}
	return "/moi"
}

func idOfBase(base string) int64 {
	id, _ := strconv.ParseInt(strings.TrimPrefix(base, "/proches/"), 10, 64)
	return id
}

// docRow is a document as the pages list it.
type docRow struct {
	ID, Title, Type, Author, Date, Space string
	Masked, HeldFromReps, Archived, New  bool
}

func (w *Web) docRow(l Lang, d *record.Document, now time.Time) docRow {
	row := docRow{ID: d.LogicalID, Title: d.Title, Type: d.Type, Date: frDate(d.ServiceStart), Space: l.T("space." + string(d.Space)),
		Masked: d.Labels.MasquePS, HeldFromReps: d.Labels.InvisibleRepresentants, Archived: d.Archived,
		New: now.Sub(d.Submitted) < 7*24*time.Hour && d.DepositedBy != access.DepositedByPatient}
	if t, err := w.d.Catalog.Type(d.Type); err == nil {
		row.Type = t.Label
	}
	var names []string
	for _, a := range d.Authors {
		switch {
		case a.Name != "":
			names = append(names, a.Name)
		case a.OrgName != "":
			names = append(names, a.OrgName)
		}
	}
	if len(names) == 0 && d.DepositedBy == access.DepositedByPatient {
		names = append(names, l.T("doc.by.you"))
	}
	row.Author = strings.Join(names, ", ")
	return row
}

// paris is the time zone of the dates the pages write.
var paris = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Paris"); err == nil {
		return l
	}
	return time.UTC
}()

// frDate writes a date as the pages do: day/month/year, in Paris.
func frDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(paris).Format("02/01/2006")
}

func frDateTime(t time.Time) string { return t.In(paris).Format("02/01/2006 15:04") }

// me: GET /moi, what is new.
func (w *Web) me(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	v := struct {
		patientPage
		Documents   []docRow
		Accesses    []trailRow
		Messages    bool // the messaging is served: the home says what is new in it
		NewMessages int
	}{patientPage: w.patientPage(r, id, "me.title", "home")}
	// The representative of an adult does not read their messages: not even asked.
	if w.msgs != nil && (req.Actor.Kind != audit.ActorRepresentative || req.Actor.RepresentsMinor) {
		n, err := w.msgs.Unread(r.Context(), req.Actor, req.Channel, req.Actor.PatientID)
		switch {
		case err == nil:
			v.Messages, v.NewMessages = true, n
		case !errs.Is(err, errs.NotFound):
			// A representative of an adult does not read their messages: the home says nothing of them.
			w.fail(rw, r, err)
			return
		}
	}
	page, err := w.d.Records.Search(r.Context(), req, record.Query{PatientID: req.Actor.PatientID, Limit: 5})
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	now := w.d.Clock.Now()
	for i := range page.Documents {
		v.Documents = append(v.Documents, w.docRow(v.Lang, &page.Documents[i], now))
	}
	tr, err := w.d.Trail.List(r.Context(), req.Actor, req.Channel, req.Actor.PatientID, trail.Filter{ActorKind: audit.ActorProfessional, Limit: 5})
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	for _, it := range tr.Items {
		v.Accesses = append(v.Accesses, trailRowOf(it))
	}
	w.render(rw, r, http.StatusOK, "me", v)
}

// spaces are the parts of the record, in the order the pages show them.
var spaces = []terminology.Space{terminology.SpaceDocuments, terminology.SpaceProfile, terminology.SpaceReimbursements, terminology.SpacePersonal}

type spaceTab struct {
	Key, Label string
	Current    bool
}

// documents: GET /moi/documents, by part of the record, with a search on titles.
func (w *Web) documents(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	v := struct {
		patientPage
		Tabs         []spaceTab
		Documents    []docRow
		Archived     bool
		Search       string
		Since        string
		More         bool
		PatientTypes []terminology.TypeCode
		Uploaded     bool
	}{patientPage: w.patientPage(r, id, "docs.title", "documents"), Search: strings.TrimSpace(r.FormValue("q")),
		Archived: r.FormValue("archives") == "1", Uploaded: r.FormValue("fait") == "depot"}
	sp := terminology.Space(r.FormValue("espace"))
	if sp == "" {
		sp = terminology.SpaceDocuments
	}
	for _, s := range spaces {
		v.Tabs = append(v.Tabs, spaceTab{Key: string(s), Label: v.T("space." + string(s)), Current: s == sp})
	}
	q := record.Query{PatientID: req.Actor.PatientID, Spaces: []terminology.Space{sp}, All: true, Limit: 200}
	if v.Archived {
		q.Archived = record.OnlyArchived
	}
	page, err := w.d.Records.Search(r.Context(), req, q)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	now := w.d.Clock.Now()
	needle := strings.ToLower(v.Search)
	for i := range page.Documents {
		d := &page.Documents[i]
		if needle != "" && !strings.Contains(strings.ToLower(d.Title), needle) {
			continue
		}
		v.Documents = append(v.Documents, w.docRow(v.Lang, d, now))
	}
	v.More = page.More
	if sp == terminology.SpacePersonal {
		for _, t := range w.d.Catalog.Types() {
			if t.Space == terminology.SpacePersonal {
				v.PatientTypes = append(v.PatientTypes, t)
			}
		}
	}
	w.render(rw, r, http.StatusOK, "documents", v)
}

// documentView: GET /moi/documents/{id}.
func (w *Web) documentView(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	d, err := w.d.Records.Get(r.Context(), req, r.PathValue("id"))
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v := struct {
		patientPage
		Doc     docRow
		Created string
		Mime    string
		Preview bool
		Done    string
	}{patientPage: w.patientPage(r, id, "doc.title", "documents"), Created: frDate(d.Created), Mime: d.MimeType,
		Preview: inline(d.MimeType)}
	v.Doc = w.docRow(v.Lang, &d, w.d.Clock.Now())
	switch r.FormValue("fait") {
	case "masque":
		v.Done = v.T("doc.masked.done")
	case "demasque":
		v.Done = v.T("doc.unmasked.done")
	}
	w.render(rw, r, http.StatusOK, "document", v)
}

// inline reports whether a document of this type is shown in the page (the browser renders
// it itself); the others are downloaded.
func inline(mime string) bool {
	switch mime {
	case "application/pdf", "image/jpeg", "image/png", "text/plain":
		return true
	}
	return false
}

// documentContent: GET /moi/documents/{id}/contenu, the bytes, read and traced as a read.
func (w *Web) documentContent(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	d, b, err := w.d.Records.ReadAll(r.Context(), req, r.PathValue("id"))
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", d.MimeType)
	// Shown in the document's page only; nothing in it runs.
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	disposition := "attachment"
	if inline(d.MimeType) && r.FormValue("telecharger") == "" {
		disposition = "inline"
	}
	h.Set("Content-Disposition", disposition+`; filename="`+d.LogicalID+extensionOf(d.MimeType)+`"`)
	http.ServeContent(rw, r, "", d.Updated, bytes.NewReader(b))
}

func extensionOf(mime string) string {
	switch mime {
	case "application/pdf":
		return ".pdf"
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "text/plain":
		return ".txt"
	}
	return ".xml"
}

// mask: POST /moi/documents/{id}/masquer and /demasquer.
func (w *Web) mask(hide bool) func(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	return func(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
		doc, done := r.PathValue("id"), "demasque"
		var err error
		if hide {
			_, err = w.d.Records.Mask(r.Context(), req, doc)
			done = "masque"
		} else {
			_, err = w.d.Records.Unmask(r.Context(), req, doc)
		}
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		http.Redirect(rw, r, baseOf(r)+"/documents/"+url.PathEscape(doc)+"?fait="+done, http.StatusSeeOther)
	}
}

// upload: POST /moi/documents, a document of the person's own into their Espace personnel.
func (w *Web) upload(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	max := w.d.Records.Policy().MaxSize
	r.Body = http.MaxBytesReader(rw, r.Body, max+1<<20)
	f, hdr, err := r.FormFile("fichier")
	if err != nil {
		w.fail(rw, r, errs.E(errs.Invalid, "choose a file"))
		return
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		w.fail(rw, r, errs.E(errs.Invalid, "the file could not be read"))
		return
	}
	title := strings.TrimSpace(r.PostFormValue("titre"))
	if title == "" {
		title = strings.TrimSuffix(hdr.Filename, extensionOf(hdr.Header.Get("Content-Type")))
	}
	holder, _, err := w.d.Spaces.Get(r.Context(), req.Actor.PatientID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	dep := record.Deposit{INS: holder.INS, Title: title, Type: r.PostFormValue("type"),
		MimeType: hdr.Header.Get("Content-Type")}
	if _, err := w.d.Records.Deposit(r.Context(), req, dep, b); err != nil {
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, baseOf(r)+"/documents?espace="+string(terminology.SpacePersonal)+"&fait=depot", http.StatusSeeOther)
}

// trailRow is one access as the trail page shows it.
type trailRow struct {
	At, Who, Action, Outcome, Reason string
	Allowed, Emergency               bool
}

func trailRowOf(it trail.Item) trailRow {
	return trailRow{At: frDateTime(it.At), Who: it.Who, Action: it.ActionLabel, Outcome: string(it.Outcome), Reason: it.ReasonLabel,
		Allowed: it.Outcome == audit.Allowed, Emergency: it.Emergency}
}

// trailPage: GET /moi/historique, every access to the space, newest first, with filters.
func (w *Web) trailPage(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	v := struct {
		patientPage
		Rows    []trailRow
		Who     string
		Refused bool
		Next    string
	}{patientPage: w.patientPage(r, id, "trail.title", "trail"), Who: r.FormValue("qui"), Refused: r.FormValue("refus") == "1"}
	f := trail.Filter{Limit: 50}
	switch v.Who {
	case "pro":
		f.ActorKind = audit.ActorProfessional
	case "moi":
		f.ActorKind = audit.ActorPatient
	default:
		v.Who = ""
	}
	if v.Refused {
		f.Outcome = audit.Denied
	}
	if before, err := strconv.ParseInt(r.FormValue("avant"), 10, 64); err == nil && before > 0 {
		f.Before = before
	}
	page, err := w.d.Trail.List(r.Context(), req.Actor, req.Channel, req.Actor.PatientID, f)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	for _, it := range page.Items {
		v.Rows = append(v.Rows, trailRowOf(it))
	}
	if page.Next != 0 {
		q := url.Values{"avant": {strconv.FormatInt(page.Next, 10)}}
		if v.Who != "" {
			q.Set("qui", v.Who)
		}
		if v.Refused {
			q.Set("refus", "1")
		}
		v.Next = baseOf(r) + "/historique?" + q.Encode()
	}
	w.render(rw, r, http.StatusOK, "trail", v)
}

// sessionRow is a signed-in browser in the sessions page.
type sessionRow struct {
	ID, Since, LastSeen, Device string
	Current                     bool
}

// sessions: GET /moi/sessions, where the person is signed in.
func (w *Web) sessions(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	list, err := w.d.Auth.Sessions(r.Context(), id)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v := struct {
		patientPage
		Sessions []sessionRow
	}{patientPage: w.patientPage(r, id, "sessions.title", "settings")}
	for _, s := range list {
		v.Sessions = append(v.Sessions, sessionRow{ID: s.ID, Since: frDateTime(s.CreatedAt), LastSeen: frDateTime(s.LastSeenAt),
			Device: s.UserAgent, Current: s.Current})
	}
	w.render(rw, r, http.StatusOK, "sessions", v)
}

// revokeSession: POST /moi/sessions/{id}/fermer.
func (w *Web) revokeSession(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if err := w.d.Auth.Revoke(r.Context(), id, w.d.HTTP.Client(r), r.PathValue("id")); err != nil {
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, "/moi/sessions", http.StatusSeeOther)
}

// signoutEverywhere: POST /moi/sessions/toutes, this browser included.
func (w *Web) signoutEverywhere(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if _, err := w.d.Auth.SignOutEverywhere(r.Context(), id, w.d.HTTP.Client(r)); err != nil {
		w.fail(rw, r, err)
		return
	}
	w.d.HTTP.ClearSession(rw)
	http.Redirect(rw, r, "/connexion", http.StatusSeeOther)
}

// export: GET /moi/export, the whole space as one archive (internal/archive), written as it
// is read. The decisions are taken before the first byte: a refusal is still a page.
func (w *Web) export(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := w.d.Archive.Export(r.Context(), req, req.Actor.PatientID, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	var first [1]byte
	n, rerr := io.ReadFull(pr, first[:])
	if n == 0 {
		err := <-done
		if err == nil {
			err = rerr
		}
		w.fail(rw, r, err)
		return
	}
	rw.Header().Set("Content-Type", "application/zip")
	rw.Header().Set("Content-Disposition", `attachment; filename="mon-espace-sante-`+w.d.Clock.Now().In(paris).Format("2006-01-02")+`.zip"`)
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(first[:n])
	_, _ = io.Copy(rw, pr)
	pr.Close()
	<-done
}

// Our defaults for the archives patients upload: up to 1 GiB (a lifetime's record of scans; a
// larger one goes through the operator's carnet import), read for at most 30 minutes, and two
// imports at once across the server (the others are asked to come back).
const (
	maxArchiveUpload  = 1 << 30
	archiveUploadTime = 30 * time.Minute
	maxImports        = 2
)

// archiveLimits bound what a patient's archive may make the import read: the files' and the
// lists' counts, the metadata's size (archive.DefaultLimits is the operator's).
func (w *Web) archiveLimits() archive.Limits {
	lim := archive.DefaultLimits(w.d.Records.Policy().MaxSize)
	lim.MaxFiles, lim.MaxMetadata, lim.MaxTotal = 50_000, 64<<20, 2*maxArchiveUpload
	return lim
}

// importArchive: POST /moi/import, a former record brought into the space (internal/archive):
// a carnet archive, or an IHE XDM package, as the patient downloaded it. The upload is
// spooled to a temporary file by the form's parsing; the import reads it there.
func (w *Web) importArchive(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	f, hdr, err := r.FormFile("archive")
	if err != nil {
		w.fail(rw, r, errs.E(errs.Invalid, "choose a file"))
		return
	}
	defer f.Close()
	select {
	case w.imports <- struct{}{}:
		defer func() { <-w.imports }()
	default:
		w.fail(rw, r, errs.E(errs.Unavailable, "other imports are running: try again in a few minutes"))
		return
	}
	rep, err := w.d.Archive.Import(r.Context(), req, req.Actor.PatientID, f, hdr.Size, w.archiveLimits())
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v := struct {
		patientPage
		Report archive.ImportReport
	}{patientPage: w.patientPage(r, id, "import.title", "home"), Report: rep}
	w.render(rw, r, http.StatusOK, "import", v)
}

// fail answers an error as a page: what the person can do about it, never the inner detail.
func (w *Web) fail(rw http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	v := struct {
		Page
		Message string
	}{Page: w.page(r, "error.title")}
	switch status {
	case http.StatusNotFound:
		v.Title, v.Message = v.T("error.notfound.title"), v.T("error.notfound.text")
	case http.StatusForbidden:
		v.Message = v.T("error.forbidden")
	case http.StatusBadRequest, http.StatusConflict:
		v.Message = errs.MessageOf(err)
	case http.StatusUnauthorized:
		http.Redirect(rw, r, "/connexion", http.StatusSeeOther)
		return
	default:
		w.d.Log.Error("page failed", "route", r.Pattern, "err", err)
		v.Message = v.T("error.internal")
	}
	w.render(rw, r, status, "error", v)
}
