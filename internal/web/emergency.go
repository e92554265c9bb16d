package web

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"

	qr "github.com/piglig/go-qr"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/emergency"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/record"
)

// The emergency card (internal/emergency): the patient chooses on /moi/urgence what the card
// shows and turns it on, off, or renews its link; the card itself is /urgence/{token}, read
// without signing in. The token is shown once, in the answer that made it (as a QR code, the
// link, and a printable card); it is never in a URL of the patient's pages, and the request
// log writes /urgence/ paths without it (internal/server).

// emergencyRoutes mounts the card's pages.
func (w *Web) emergencyRoutes() {
	m := w.mux
	m.HandleFunc("GET /moi/urgence", w.patient(w.cardPage))
	m.HandleFunc("POST /moi/urgence", w.patient(w.cardSave))
	m.HandleFunc("POST /moi/urgence/{action}", w.patient(w.cardChange))
	m.HandleFunc("GET /urgence/{token}", w.cardPublic)
}

// cardLine is an item as the card writes it.
type cardLine struct {
	ID, Text string
	Severe   bool
	Phone    string // a contact's, for a tel: link
	Hidden   bool   // hidden from professionals
	Shown    bool   // the card shows it (its section aside)
}

// cardSection is a section of the card: its heading in French and English, and its lines.
type cardSection struct {
	Key, FR, EN string
	On          bool
	Lines       []cardLine
}

type cardView struct {
	patientPage
	Exists, On  bool
	Sections    []cardSection
	Done, Error string
	// Token is set only in the answer that made it: then Link and QR show it.
	Link  string
	QR    template.HTML
	Name  string
	Birth int
	// Preview are the sections as the card shows them.
	Preview []cardSection
}

// sectionHeads returns the French and English headings of a section.
func sectionHeads(s profile.Section) (string, string) {
	k := "card.section." + string(s)
	return French.T(k), English.T(k)
}

// cardDescribe writes an item as the card shows it, in French (what the patient wrote stays as
// written).
func cardDescribe(l Lang, it *profile.Item) cardLine {
	line := cardLine{ID: it.ID, Hidden: it.Hidden}
	join := func(parts ...string) string {
		var out []string
		for _, p := range parts {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return strings.Join(out, " — ")
	}
	pick := func(text string, c profile.Code) string {
		if strings.TrimSpace(text) != "" {
			return text
		}
		if c.Display != "" {
			return c.Display
		}
		return c.Code
	}
	switch {
	case it.Allergy != nil:
		a := it.Allergy
		line.Severe = a.Criticality == "high"
		line.Text = join(pick(a.Text, a.Substance), a.Reaction, a.Note)
	case it.BloodGroup != nil:
		line.Text = it.BloodGroup.String()
	case it.Treatment != nil:
		t := it.Treatment
		line.Text = join(pick(t.Text, t.Medication), t.Dosage, t.Reason)
	case it.Contact != nil:
		c := it.Contact
		line.Text, line.Phone = join(c.Name, pick("", c.Relationship), c.Email, c.Note), c.Phone
	case it.Wish != nil:
		wsh := it.Wish
		kind := l.T("card.wish." + wsh.Kind)
		if strings.HasPrefix(kind, "?") {
			kind = l.T("card.wish.other")
		}
		consent := ""
		if wsh.Consent == "yes" || wsh.Consent == "no" {
			consent = l.T("card.wish." + wsh.Consent)
		}
		line.Text = join(kind, consent, wsh.Text)
	}
	return line
}

// cardView reads the patient's card and the items they may choose from.
func (w *Web) cardView(r *http.Request, id auth.Identity, req record.Request) (cardView, []profile.Item, error) {
	v := cardView{patientPage: w.patientPage(r, id, "card.title", "profile")}
	pid := req.Actor.PatientID
	c, ok, err := w.d.Emergency.Get(r.Context(), req.Actor, pid)
	if err != nil {
		return v, nil, err
	}
	v.Exists, v.On = ok, c.On
	items, err := w.d.Emergency.Candidates(r.Context(), profile.Request{Actor: req.Actor, Channel: req.Channel}, pid)
	if err != nil {
		return v, nil, err
	}
	for _, sec := range emergency.Sections() {
		fr, en := sectionHeads(sec)
		cs := cardSection{Key: string(sec), FR: fr, EN: en, On: slices.Contains(c.Sections, sec)}
		pv := cardSection{Key: cs.Key, FR: fr, EN: en, On: cs.On}
		for i := range items {
			if items[i].Section != sec {
				continue
			}
			line := cardDescribe(v.Lang, &items[i])
			// Shown as if its section were ticked: the box says the item's own choice.
			all := c
			all.Sections = emergency.Sections()
			line.Shown = all.Shows(&items[i])
			cs.Lines = append(cs.Lines, line)
			if c.Shows(&items[i]) {
				pv.Lines = append(pv.Lines, cardDescribe(French, &items[i]))
			}
		}
		v.Sections = append(v.Sections, cs)
		if cs.On {
			v.Preview = append(v.Preview, pv)
		}
	}
	return v, items, nil
}

// cardPage: GET /moi/urgence.
func (w *Web) cardPage(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	v, _, err := w.cardView(r, id, req)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	switch r.FormValue("fait") {
	case "enregistre":
		v.Done = v.T("card.done.saved")
	case "desactive":
		v.Done = v.T("card.done.off")
	case "active":
		v.Done = v.T("card.done.on")
	}
	w.render(rw, r, http.StatusOK, "emergency", v)
}

// cardSave: POST /moi/urgence, the sections and items ticked.
func (w *Web) cardSave(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, errs.E(errs.Invalid, "unreadable form"))
		return
	}
	_, items, err := w.cardView(r, id, req)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	var sections []profile.Section
	for _, s := range r.PostForm["section"] {
		sections = append(sections, profile.Section(s))
	}
	ticked := r.PostForm["item"]
	choices := map[string]emergency.Choice{}
	for i := range items {
		on := slices.Contains(ticked, items[i].ID)
		switch {
		case items[i].Hidden && on:
			choices[items[i].ID] = emergency.Show
		case !items[i].Hidden && !on:
			choices[items[i].ID] = emergency.Hide
		}
	}
	if err := w.d.Emergency.Save(r.Context(), req.Actor, req.Channel, req.Actor.PatientID, sections, choices); err != nil {
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, "/moi/urgence?fait=enregistre", http.StatusSeeOther)
}

// cardChange: POST /moi/urgence/{activer,desactiver,renouveler}. Turning a card on for the
// first time and renewing its link answer with the page itself, the only one that shows the
// new token.
func (w *Web) cardChange(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	ctx, pid := r.Context(), req.Actor.PatientID
	var (
		token, done string
		err         error
	)
	switch r.PathValue("action") {
	case "activer":
		token, err = w.d.Emergency.TurnOn(ctx, req.Actor, req.Channel, pid)
		done = "card.done.on"
	case "desactiver":
		err = w.d.Emergency.TurnOff(ctx, req.Actor, req.Channel, pid)
		if err == nil {
			http.Redirect(rw, r, "/moi/urgence?fait=desactive", http.StatusSeeOther)
			return
		}
	case "renouveler":
		token, err = w.d.Emergency.Renew(ctx, req.Actor, req.Channel, pid)
		done = "card.done.renew"
	default:
		w.notFound(rw, r)
		return
	}
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if token == "" {
		http.Redirect(rw, r, "/moi/urgence?fait=active", http.StatusSeeOther)
		return
	}
	v, _, err := w.cardView(r, id, req)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v.Done = v.T(done)
	v.Link = w.publicBase(r) + "/urgence/" + token
	if p, _, err := w.d.Spaces.Get(ctx, pid); err == nil {
		first, _, _ := strings.Cut(strings.TrimSpace(p.GivenNames), " ")
		family := p.UsedName
		if strings.TrimSpace(family) == "" {
			family = p.BirthName
		}
		v.Name, v.Birth = strings.TrimSpace(first+" "+family), p.BirthDate.Year()
	}
	svg, err := qrSVG(v.Link, v.T("card.qr.alt", v.Name))
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v.QR = svg
	w.render(rw, r, http.StatusOK, "emergency", v)
}

type cardPublicView struct {
	Page
	GivenName, FamilyName string
	BirthYear             int
	Sections              []cardSection
}

// Both returns a string of the catalogue in French and in English: the public card says
// everything in both, for a rescuer from abroad.
func (cardPublicView) Both(key string) [2]string { return [2]string{French.T(key), English.T(key)} }

// cardPublic: GET /urgence/{token}, the card read by whoever holds its link. Any failure to
// find the card is the site's plain 404 page.
func (w *Web) cardPublic(rw http.ResponseWriter, r *http.Request) {
	h := rw.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	cv, err := w.d.Emergency.Read(r.Context(), emergency.Reader(w.d.HTTP.Client(r).Addr), audit.ChannelWeb, r.PathValue("token"))
	if errs.Is(err, errs.NotFound) {
		// The site's 404 page, the same for every token: the path is not written in it (the
		// language switcher's return), so a known token's answer is a stranger's too.
		v := struct {
			Page
			Message string
		}{Page: w.page(r, "error.notfound.title")}
		v.Path, v.Message = "/", v.T("error.notfound.text")
		w.render(rw, r, http.StatusNotFound, "error", v)
		return
	}
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	v := cardPublicView{Page: w.page(r, "card.public.title"), GivenName: cv.GivenName, FamilyName: cv.FamilyName, BirthYear: cv.BirthYear}
	// The path holds the token: the language switcher must not carry it into a query.
	v.Path = "/"
	for _, s := range cv.Sections {
		fr, en := sectionHeads(s.Section)
		cs := cardSection{Key: string(s.Section), FR: fr, EN: en, On: true}
		for i := range s.Items {
			cs.Lines = append(cs.Lines, cardDescribe(French, &s.Items[i]))
		}
		v.Sections = append(v.Sections, cs)
	}
	w.render(rw, r, http.StatusOK, "emergency_public", v)
}

// qrSVG draws the QR code of text as an inline SVG image named by label: one path of unit
// squares on a white ground with the standard quiet zone of four modules, scaled by CSS. Error
// correction is medium (15 %): a printed card gets creased.
func qrSVG(text, label string) (template.HTML, error) {
	code, err := qr.EncodeText(text, qr.Medium)
	if err != nil {
		return "", errs.Wrap(errs.Internal, err, "QR code")
	}
	n, quiet := code.Size(), 4
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="carnet-qr" viewBox="0 0 %d %d" role="img" aria-label="%s" shape-rendering="crispEdges">`,
		n+2*quiet, n+2*quiet, template.HTMLEscapeString(label))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n+2*quiet, n+2*quiet)
	for y := range n {
		for x := range n {
			if code.Module(x, y) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}
