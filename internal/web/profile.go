package web

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/profile/summary"
	"github.com/carnet-sante/carnet/internal/record"
)

// The medical profile in the pages (internal/profile): every section with who wrote each item
// and when, the forms to add and edit the patient's own items, hiding an item from
// professionals, the measurements with their charts (measures.go), the summary as a PDF. The
// same pages serve a representative under /proches/{patient}/… (represented.go).
//
// URLs carry no health data: an item is named by its random id, what a form says goes in its
// body, and the page after a change is told what was done by a word (?fait=ajoute).

// profileRoutes mounts the profile's and the agenda's pages when the server has them.
func (w *Web) profileRoutes() {
	if w.d.Profile == nil {
		return
	}
	for _, b := range []struct {
		prefix string
		wrap   func(func(http.ResponseWriter, *http.Request, auth.Identity, record.Request)) http.HandlerFunc
	}{{"/moi", w.patient}, {"/proches/{patient}", w.represented}} {
		m, p, h := w.mux, b.prefix, b.wrap
		m.HandleFunc("GET "+p+"/profil", h(w.profilePage))
		m.HandleFunc("GET "+p+"/profil/ajouter", h(w.profileForm))
		m.HandleFunc("POST "+p+"/profil/ajouter", h(w.profileAdd))
		m.HandleFunc("GET "+p+"/profil/{id}/modifier", h(w.profileForm))
		m.HandleFunc("POST "+p+"/profil/{id}/modifier", h(w.profileEdit))
		m.HandleFunc("POST "+p+"/profil/{id}/masquer", h(w.profileHide(true)))
		m.HandleFunc("POST "+p+"/profil/{id}/demasquer", h(w.profileHide(false)))
		m.HandleFunc("POST "+p+"/profil/{id}/supprimer", h(w.profileDelete))
		m.HandleFunc("GET "+p+"/profil/mesures", h(w.measuresPage))
		m.HandleFunc("POST "+p+"/profil/mesures", h(w.measureAdd))
		m.HandleFunc("GET "+p+"/profil/resume.pdf", h(w.summaryPDF))
		m.HandleFunc("POST "+p+"/profil/resume/deposer", h(w.summaryFile))
		if w.d.Agenda != nil {
			m.HandleFunc("GET "+p+"/agenda", h(w.agendaPage))
		}
	}
	if w.d.Shares != nil {
		w.shareRoutes()
	}
}

func profileReq(req record.Request) profile.Request {
	return profile.Request{Actor: req.Actor, Channel: req.Channel, BreakGlass: req.BreakGlass}
}

// itemRow is an item as the profile page lists it.
type itemRow struct {
	ID, Title, Detail, Author, Written, Changed string
	Hidden, Own                                 bool
}

// authorName says who wrote an item, in the page's language.
func authorName(l Lang, a profile.Author, self access.Actor) string {
	switch a.Kind {
	case audit.ActorPatient:
		if self.Kind == audit.ActorPatient {
			return l.T("profile.by.you")
		}
		return l.T("profile.by.patient")
	case audit.ActorRepresentative:
		if self.Kind == audit.ActorRepresentative && a.ID == self.ID {
			return l.T("profile.by.you")
		}
		return l.T("profile.by.representative", a.Name)
	case audit.ActorApp:
		return l.T("profile.by.app", a.Name)
	}
	if a.Name != "" {
		return a.Name
	}
	return l.T("profile.by.professional")
}

func (w *Web) itemRow(l Lang, it *profile.Item, self access.Actor) itemRow {
	title, detail := describe(l, it, w.d.Profile.Measures())
	row := itemRow{ID: it.ID, Title: title, Detail: detail, Author: authorName(l, it.Author, self), Written: frDateTime(it.Written),
		Hidden: it.Hidden, Own: it.DepositedBy == access.DepositedByPatient}
	if it.Version > 1 && !it.Changed.Equal(it.Written) {
		row.Changed = frDateTime(it.Changed)
	}
	return row
}

// sectionView is a section of the profile page.
type sectionView struct {
	Key, Title, Empty string
	Items             []itemRow
	// Add is false for the sections of one item that already has it (blood group, trusted person).
	Add bool
}

// profilePage: GET /moi/profil, every section.
func (w *Web) profilePage(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	pr := profileReq(req)
	pid := req.Actor.PatientID
	v := struct {
		patientPage
		Sections []sectionView
		Latest   []itemRow
		Done     string
		Sharing  bool
	}{patientPage: w.patientPage(r, id, "profile.title", "profile"), Sharing: w.d.Shares != nil && baseOf(r) == "/moi"}
	if d := r.FormValue("fait"); d != "" && catalogueHas("profile.done."+d) {
		v.Done = v.T("profile.done." + d)
	}
	var sections []profile.Section
	for _, s := range profile.Sections() {
		if s != profile.SectionMeasurements {
			sections = append(sections, s)
		}
	}
	page, err := w.d.Profile.List(r.Context(), pr, profile.Query{PatientID: pid, Sections: sections, Limit: profile.MaxLimit})
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	by := map[profile.Section][]itemRow{}
	for i := range page.Items {
		it := &page.Items[i]
		by[it.Section] = append(by[it.Section], w.itemRow(v.Lang, it, req.Actor))
	}
	for _, s := range sections {
		v.Sections = append(v.Sections, sectionView{Key: string(s), Title: v.T("profile.section." + string(s)),
			Empty: v.T("profile.empty." + string(s)), Items: by[s],
			Add: !(s == profile.SectionBloodGroup || s == profile.SectionTrustedPerson) || len(by[s]) == 0})
	}
	latest, err := w.d.Profile.Latest(r.Context(), pr, pid)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	for i := range latest {
		v.Latest = append(v.Latest, w.itemRow(v.Lang, &latest[i], req.Actor))
	}
	w.render(rw, r, http.StatusOK, "profile", v)
}

func catalogueHas(key string) bool { _, ok := catalogue[key]; return ok }

// A form field of the profile's forms: what the template draws, and the error said next to it.
type formField struct {
	Name, Label, Hint, Kind, Value, Error string
	Options                               []formOption
	Required                              bool
}

type formOption struct{ Value, Label string }

// Type is the input's type: a number is typed as text (inputmode numeric), which every
// browser takes as written.
func (f formField) Type() string {
	if f.Kind == "number" {
		return "text"
	}
	return f.Kind
}

const roleCodeSystem = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"

// fieldsOf are the fields of a section's form, in the page's language, filled from it (an item
// being edited, nil for a new one).
func fieldsOf(l Lang, s profile.Section, it *profile.Item) []formField {
	opt := func(prefix string, values ...string) []formOption {
		var out []formOption
		for _, v := range values {
			out = append(out, formOption{Value: v, Label: l.T(prefix + v)})
		}
		return out
	}
	text := func(name string, required bool, value string) formField {
		return formField{Name: name, Label: l.T("profile.field." + name), Kind: "text", Value: value, Required: required}
	}
	date := func(name string, value profile.Date) formField {
		return formField{Name: name, Label: l.T("profile.field." + name), Hint: l.T("profile.hint.date"), Kind: "text", Value: string(value)}
	}
	area := func(name string, value string) formField {
		return formField{Name: name, Label: l.T("profile.field." + name), Kind: "textarea", Value: value}
	}
	sel := func(name string, required bool, value string, opts []formOption) formField {
		return formField{Name: name, Label: l.T("profile.field." + name), Kind: "select", Value: value, Options: opts, Required: required}
	}
	num := func(name, value string) formField {
		return formField{Name: name, Label: l.T("profile.field." + name), Kind: "number", Value: value}
	}
	itoa := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	relatives := opt("profile.rel.", "MTH", "FTH", "SIS", "BRO", "GRMTH", "GRFTH", "CHILD")
	contacts := append([]formOption{{"", l.T("profile.opt.none")}}, opt("profile.rel.", "SPS", "PRN", "CHILD", "SIB", "FAMMEMB", "FRND", "NBOR")...)
	switch s {
	case profile.SectionAllergies:
		a := profile.Allergy{Type: "allergy", Status: "active"}
		if it != nil && it.Allergy != nil {
			a = *it.Allergy
		}
		return []formField{text("substance", true, a.Text),
			sel("type", true, a.Type, opt("profile.opt.", "allergy", "intolerance")),
			sel("criticality", false, a.Criticality, append([]formOption{{"", l.T("profile.opt.unknown")}}, opt("profile.opt.", "low", "high")...)),
			text("reaction", false, a.Reaction), date("onset", a.Onset),
			sel("status", true, a.Status, opt("profile.opt.", "active", "inactive", "resolved")), area("note", a.Note)}
	case profile.SectionTreatments:
		t := profile.Treatment{Status: "active"}
		if it != nil && it.Treatment != nil {
			t = *it.Treatment
		}
		return []formField{text("medication", true, t.Text), text("dosage", false, t.Dosage), text("reason", false, t.Reason),
			date("start", t.Start), date("end", t.End),
			sel("status", true, t.Status, opt("profile.opt.", "active", "completed", "stopped")), area("note", t.Note)}
	case profile.SectionHistory:
		c := profile.Condition{Status: "active"}
		if it != nil && it.Condition != nil {
			c = *it.Condition
		}
		kind := "medical"
		if c.Surgical {
			kind = "surgical"
		}
		return []formField{text("condition", true, c.Text), sel("kind", true, kind, opt("profile.opt.", "medical", "surgical")),
			date("onset", c.Onset), date("end", c.End), sel("status", true, c.Status, opt("profile.opt.", "active", "resolved")), area("note", c.Note)}
	case profile.SectionFamilyHistory:
		f := profile.FamilyHistory{}
		if it != nil && it.Family != nil {
			f = *it.Family
		}
		return []formField{sel("relative", true, f.Relationship.Code, relatives), text("condition", true, f.Text),
			num("onset_age", itoa(f.OnsetAge)), area("note", f.Note)}
	case profile.SectionVaccinations:
		v := profile.Vaccination{}
		if it != nil && it.Vaccination != nil {
			v = *it.Vaccination
		}
		d := date("date", v.Date)
		d.Required = true
		return []formField{text("vaccine", true, v.Text), d, num("dose", itoa(v.Dose)), text("lot", false, v.Lot), area("note", v.Note)}
	case profile.SectionBloodGroup:
		b := profile.BloodGroup{}
		if it != nil && it.BloodGroup != nil {
			b = *it.BloodGroup
		}
		return []formField{sel("abo", true, b.ABO, []formOption{{"A", "A"}, {"B", "B"}, {"AB", "AB"}, {"O", "O"}}),
			sel("rh", true, b.Rh, []formOption{{"+", l.T("profile.opt.rh+")}, {"-", l.T("profile.opt.rh-")}})}
	case profile.SectionWishes:
		wi := profile.Wish{Kind: profile.WishAdvanceDirectives}
		if it != nil && it.Wish != nil {
			wi = *it.Wish
		}
		return []formField{sel("wish_kind", true, wi.Kind, opt("profile.opt.", profile.WishAdvanceDirectives, profile.WishOrganDonation, profile.WishOther)),
			sel("consent", false, wi.Consent, append([]formOption{{"", l.T("profile.opt.notsaid")}}, opt("profile.opt.consent.", "yes", "no")...)),
			area("wish", wi.Text), date("written", wi.Date)}
	case profile.SectionEmergencyContacts, profile.SectionTrustedPerson:
		c := profile.Contact{}
		if it != nil && it.Contact != nil {
			c = *it.Contact
		}
		phone := text("phone", false, c.Phone)
		phone.Kind = "tel"
		email := text("email", false, c.Email)
		email.Kind = "email"
		return []formField{text("name", true, c.Name), sel("relationship", false, c.Relationship.Code, contacts), phone, email, area("note", c.Note)}
	}
	return nil
}

// itemOf reads a section's form into an item, each problem said next to its field (fields are
// changed in place). The service checks again, and says in its words what it still refuses.
func itemOf(l Lang, s profile.Section, fields []formField, form url.Values) (profile.Item, bool) {
	get := func(name string) string { return strings.TrimSpace(form.Get(name)) }
	ok := true
	for i := range fields {
		f := &fields[i]
		f.Value = get(f.Name)
		if f.Required && f.Value == "" {
			f.Error, ok = l.T("profile.err.required"), false
			continue
		}
		if len(f.Value) > 4096 {
			f.Error, ok = l.T("profile.err.long"), false
			continue
		}
		if f.Kind == "select" && f.Value != "" && !slices.ContainsFunc(f.Options, func(o formOption) bool { return o.Value == f.Value }) {
			f.Error, ok = l.T("profile.err.choice"), false
		}
		if f.Hint == l.T("profile.hint.date") && f.Value != "" && !profile.Date(f.Value).Valid() {
			f.Error, ok = l.T("profile.err.date"), false
		}
		if f.Kind == "number" && f.Value != "" {
			if n, err := strconv.Atoi(f.Value); err != nil || n < 0 || n > 130 {
				f.Error, ok = l.T("profile.err.number"), false
			}
		}
	}
	it := profile.Item{Section: s}
	num := func(name string) int { n, _ := strconv.Atoi(get(name)); return n }
	rel := func(name string) profile.Code {
		if v := get(name); v != "" {
			return profile.Code{System: roleCodeSystem, Code: v}
		}
		return profile.Code{}
	}
	switch s {
	case profile.SectionAllergies:
		it.Allergy = &profile.Allergy{Text: get("substance"), Type: get("type"), Criticality: get("criticality"), Reaction: get("reaction"),
			Onset: profile.Date(get("onset")), Status: get("status"), Note: get("note")}
	case profile.SectionTreatments:
		it.Treatment = &profile.Treatment{Text: get("medication"), Dosage: get("dosage"), Reason: get("reason"), Start: profile.Date(get("start")),
			End: profile.Date(get("end")), Status: get("status"), Note: get("note")}
	case profile.SectionHistory:
		it.Condition = &profile.Condition{Text: get("condition"), Surgical: get("kind") == "surgical", Onset: profile.Date(get("onset")),
			End: profile.Date(get("end")), Status: get("status"), Note: get("note")}
		if it.Condition.End != "" && it.Condition.Status == "active" {
			for i := range fields {
				if fields[i].Name == "status" {
					fields[i].Error, ok = l.T("profile.err.ended"), false
				}
			}
		}
	case profile.SectionFamilyHistory:
		it.Family = &profile.FamilyHistory{Relationship: rel("relative"), Text: get("condition"), OnsetAge: num("onset_age"), Note: get("note")}
	case profile.SectionVaccinations:
		it.Vaccination = &profile.Vaccination{Text: get("vaccine"), Date: profile.Date(get("date")), Dose: num("dose"), Lot: get("lot"), Note: get("note")}
	case profile.SectionBloodGroup:
		it.BloodGroup = &profile.BloodGroup{ABO: get("abo"), Rh: get("rh")}
	case profile.SectionWishes:
		it.Wish = &profile.Wish{Kind: get("wish_kind"), Consent: get("consent"), Text: get("wish"), Date: profile.Date(get("written"))}
		for i := range fields {
			f := &fields[i]
			switch {
			case f.Name == "consent" && it.Wish.Kind == profile.WishOrganDonation && f.Value == "":
				f.Error, ok = l.T("profile.err.consent"), false
			case f.Name == "consent" && it.Wish.Kind != profile.WishOrganDonation && f.Value != "":
				f.Error, ok = l.T("profile.err.consent.only"), false
			case f.Name == "wish" && it.Wish.Kind != profile.WishOrganDonation && f.Value == "":
				f.Error, ok = l.T("profile.err.required"), false
			}
		}
	case profile.SectionEmergencyContacts, profile.SectionTrustedPerson:
		it.Contact = &profile.Contact{Name: get("name"), Relationship: rel("relationship"), Phone: get("phone"), Email: get("email"), Note: get("note")}
		for i := range fields {
			f := &fields[i]
			switch {
			case f.Name == "email" && f.Value != "" && !strings.Contains(f.Value, "@"):
				f.Error, ok = l.T("profile.err.email"), false
			case f.Name == "phone" && s == profile.SectionEmergencyContacts && f.Value == "" && get("email") == "":
				f.Error, ok = l.T("profile.err.reach"), false
			}
		}
	default:
		return it, false
	}
	return it, ok
}

// formView is the page of a section's form.
type formView struct {
	patientPage
	Section, SectionTitle, Action string
	Fields                        []formField
	Error                         string
	Edit                          bool
	// Version is the version of the item the edit form shows: a later one, written meanwhile,
	// makes the edit a conflict rather than overwriting it unseen.
	Version int
}

// formSection is the section a form is for: the item's when it edits one, the form's
// (?rubrique=) for a new one. Measurements have their own page.
func formSection(v string) (profile.Section, bool) {
	s := profile.Section(v)
	return s, s.Valid() && s != profile.SectionMeasurements
}

// profileForm: GET /moi/profil/ajouter?rubrique=…, GET /moi/profil/{id}/modifier.
func (w *Web) profileForm(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	v := formView{patientPage: w.patientPage(r, id, "profile.add.title", "profile")}
	base := baseOf(r)
	if itemID := r.PathValue("id"); itemID != "" {
		it, err := w.d.Profile.Get(r.Context(), profileReq(req), itemID)
		if err != nil {
			w.fail(rw, r, notFound(err))
			return
		}
		if it.PatientID != req.Actor.PatientID || it.Section == profile.SectionMeasurements {
			w.fail(rw, r, errs.E(errs.NotFound, "no such profile item"))
			return
		}
		v.Section, v.Edit, v.Action, v.Version = string(it.Section), true, base+"/profil/"+it.ID+"/modifier", it.Version
		v.Title = v.T("profile.edit.title")
		v.Fields = fieldsOf(v.Lang, it.Section, &it)
	} else {
		s, ok := formSection(r.FormValue("rubrique"))
		if !ok {
			w.notFound(rw, r)
			return
		}
		v.Section, v.Action = string(s), base+"/profil/ajouter"
		v.Fields = fieldsOf(v.Lang, s, nil)
	}
	v.SectionTitle = v.T("profile.section." + v.Section)
	w.render(rw, r, http.StatusOK, "profile_form", v)
}

// profileAdd: POST /moi/profil/ajouter.
func (w *Web) profileAdd(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	s, ok := formSection(r.PostFormValue("rubrique"))
	if !ok {
		w.fail(rw, r, errs.E(errs.Invalid, "choose a section of the profile"))
		return
	}
	v := formView{patientPage: w.patientPage(r, id, "profile.add.title", "profile"), Section: string(s), Action: baseOf(r) + "/profil/ajouter"}
	v.SectionTitle = v.T("profile.section." + v.Section)
	v.Fields = fieldsOf(v.Lang, s, nil)
	it, valid := itemOf(v.Lang, s, v.Fields, r.PostForm)
	if !valid {
		v.Error = v.T("profile.err.form")
		w.render(rw, r, http.StatusBadRequest, "profile_form", v)
		return
	}
	if _, err := w.d.Profile.Add(r.Context(), profileReq(req), req.Actor.PatientID, it); err != nil {
		w.formFailed(rw, r, v, err)
		return
	}
	http.Redirect(rw, r, baseOf(r)+"/profil?fait=ajoute#"+string(s), http.StatusSeeOther)
}

// formFailed shows the form again with what the service refused, or fails as a page.
func (w *Web) formFailed(rw http.ResponseWriter, r *http.Request, v formView, err error) {
	switch errs.CodeOf(err) {
	case errs.Invalid, errs.Conflict:
		v.Error = v.T("profile.err.refused", errs.MessageOf(err))
		w.render(rw, r, statusOf(err), "profile_form", v)
	default:
		w.fail(rw, r, err)
	}
}

// profileEdit: POST /moi/profil/{id}/modifier, a new version of the item.
func (w *Web) profileEdit(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	pr := profileReq(req)
	cur, err := w.d.Profile.Get(r.Context(), pr, r.PathValue("id"))
	if err != nil {
		w.fail(rw, r, notFound(err))
		return
	}
	if cur.PatientID != req.Actor.PatientID || cur.Section == profile.SectionMeasurements {
		w.fail(rw, r, errs.E(errs.NotFound, "no such profile item"))
		return
	}
	ver, _ := strconv.Atoi(r.PostFormValue("version"))
	v := formView{patientPage: w.patientPage(r, id, "profile.edit.title", "profile"), Section: string(cur.Section), Edit: true,
		Action: baseOf(r) + "/profil/" + cur.ID + "/modifier", Version: ver}
	v.SectionTitle = v.T("profile.section." + v.Section)
	v.Fields = fieldsOf(v.Lang, cur.Section, nil)
	it, valid := itemOf(v.Lang, cur.Section, v.Fields, r.PostForm)
	if !valid {
		v.Error = v.T("profile.err.form")
		w.render(rw, r, http.StatusBadRequest, "profile_form", v)
		return
	}
	if _, err := w.d.Profile.Update(r.Context(), pr, cur.ID, it, ver); err != nil {
		w.formFailed(rw, r, v, err)
		return
	}
	http.Redirect(rw, r, baseOf(r)+"/profil?fait=modifie#"+string(cur.Section), http.StatusSeeOther)
}

// notFound answers a refusal to read an item as its absence: the pages of one space name only
// its own items, and must not tell that an id is another person's (the refusal is traced).
func notFound(err error) error {
	if errs.Is(err, errs.Forbidden) {
		return errs.E(errs.NotFound, "no such profile item")
	}
	return err
}

// ownItem checks that the item of the path is of the space shown, before a change: the
// decision would refuse another's, but the page must not even say it exists.
func (w *Web) ownItem(r *http.Request, req record.Request) (profile.Item, error) {
	it, err := w.d.Profile.Get(r.Context(), profileReq(req), r.PathValue("id"))
	if err != nil {
		return profile.Item{}, notFound(err)
	}
	if it.PatientID != req.Actor.PatientID {
		return profile.Item{}, errs.E(errs.NotFound, "no such profile item")
	}
	return it, nil
}

// profileHide: POST /moi/profil/{id}/masquer and /demasquer.
func (w *Web) profileHide(hide bool) func(http.ResponseWriter, *http.Request, auth.Identity, record.Request) {
	return func(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
		it, err := w.ownItem(r, req)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		done := "demasque"
		if hide {
			_, err = w.d.Profile.Hide(r.Context(), profileReq(req), it.ID)
			done = "masque"
		} else {
			_, err = w.d.Profile.Unhide(r.Context(), profileReq(req), it.ID)
		}
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		back := baseOf(r) + "/profil?fait=" + done + "#" + string(it.Section)
		if it.Section == profile.SectionMeasurements {
			back = baseOf(r) + "/profil/mesures?fait=" + done
		}
		http.Redirect(rw, r, back, http.StatusSeeOther)
	}
}

// profileDelete: POST /moi/profil/{id}/supprimer.
func (w *Web) profileDelete(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	it, err := w.ownItem(r, req)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if err := w.d.Profile.Delete(r.Context(), profileReq(req), it.ID); err != nil {
		w.fail(rw, r, err)
		return
	}
	back := baseOf(r) + "/profil?fait=supprime#" + string(it.Section)
	if it.Section == profile.SectionMeasurements {
		back = baseOf(r) + "/profil/mesures?fait=supprime"
	}
	http.Redirect(rw, r, back, http.StatusSeeOther)
}

// summaryOf renders the summary of the space shown as the actor may read it (each reading
// decided and traced by the profile service). forProfessionals leaves out what the patient
// hid from professionals: the summary filed in the record (which professionals read) and the
// one given by a code are theirs to read.
func (w *Web) summaryOf(r *http.Request, req record.Request, forProfessionals bool) ([]byte, error) {
	pid := req.Actor.PatientID
	holder, _, err := w.d.Spaces.Get(r.Context(), pid)
	if err != nil {
		return nil, err
	}
	items, latest, err := summary.Collect(r.Context(), w.d.Profile, profileReq(req), pid)
	if err != nil {
		return nil, err
	}
	if forProfessionals {
		items, latest = shown(items), shown(latest)
	}
	sex := map[string]string{"F": "Femme", "M": "Homme"}[string(holder.Sex)]
	return summary.Render(summary.Summary{Identity: summary.Identity{Name: strings.TrimSpace(holder.GivenNames + " " + holder.BirthName),
		BirthDate: holder.BirthDate, Sex: sex, INS: holder.INS.Matricule}, Items: items, Latest: latest,
		Measures: w.d.Profile.Measures(), Generated: w.d.Clock.Now(), Loc: paris})
}

// summaryPDF: GET /moi/profil/resume.pdf, the summary to download.
func (w *Web) summaryPDF(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	b, err := w.summaryOf(r, req, false)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	writePDF(rw, b, "synthese-profil-medical-"+w.d.Clock.Now().In(paris).Format("2006-01-02")+".pdf")
}

// shown keeps the items not hidden from professionals.
func shown(items []profile.Item) []profile.Item {
	var out []profile.Item
	for _, it := range items {
		if !it.Hidden {
			out = append(out, it)
		}
	}
	return out
}

func writePDF(rw http.ResponseWriter, b []byte, name string) {
	h := rw.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(b)
}

// SummaryType is the national type of the summary filed in the record: DOCPAT08, "Profil
// médical Mon espace santé", a document the patient deposits in their personal space.
const SummaryType = "DOCPAT08"

// summaryFile: POST /moi/profil/resume/deposer, the summary filed in the record as a DOCPAT08
// document, through the record's deposit (decided and traced there).
func (w *Web) summaryFile(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	b, err := w.summaryOf(r, req, true)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	holder, _, err := w.d.Spaces.Get(r.Context(), req.Actor.PatientID)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	now := w.d.Clock.Now()
	l := language(r)
	dep := record.Deposit{INS: holder.INS, Title: l.T("profile.summary.doctitle", now.In(paris).Format("02/01/2006")), Type: SummaryType,
		MimeType: "application/pdf", Created: now, ServiceStart: now}
	d, err := w.d.Records.Deposit(r.Context(), req, dep, b)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, baseOf(r)+"/documents/"+url.PathEscape(d.LogicalID), http.StatusSeeOther)
}

// svg marks a chart drawn by internal/chart, which escapes every text it writes, as HTML.
func svg(s string) template.HTML { return template.HTML(s) }
