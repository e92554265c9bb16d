package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

var feedURL = regexp.MustCompile(`https://carnet\.test/agenda/([A-Za-z0-9_-]{43})\.ics`)

// A patient adds a personal event, sees it in their agenda, edits it, fails a form, deletes it.
func TestAgendaPersonalEventPages(t *testing.T) {
	p := newHealthPortal(t)
	b, pid, _ := p.patientIn(t, 651, "Léa")
	pg := b.get("/moi/agenda/ajouter")
	if pg.status != http.StatusOK || !strings.Contains(pg.body, "Ajouter un événement") {
		t.Fatalf("the form: %d %.300s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	csrf := csrfOf(t, pg.body)
	day := p.Clock.Now().AddDate(0, 0, 3).Format("2006-01-02")

	// Errors per field, nothing filed.
	pg = b.post("/moi/agenda/ajouter", url.Values{"csrf_token": {csrf}, "titre": {""}, "jour": {"demain"}, "debut": {"9h"}})
	if pg.status != http.StatusBadRequest {
		t.Fatalf("a bad form: %d", pg.status)
	}
	checkHTML(t, pg.body, "fr")
	got := map[string]bool{}
	for _, m := range fieldError.FindAllStringSubmatch(pg.body, -1) {
		got[m[1]] = true
	}
	if !got["titre"] || !got["jour"] || !got["debut"] {
		t.Fatalf("field errors: %v", got)
	}
	pg = b.post("/moi/agenda/ajouter", url.Values{"csrf_token": {csrf}, "titre": {"x"}, "jour": {day}, "debut": {"10:00"}, "fin": {"09:00"}})
	if pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "La fin doit être après le début") {
		t.Fatalf("an end before the start: %d", pg.status)
	}
	// Without the CSRF token, refused.
	if pg = b.post("/moi/agenda/ajouter", url.Values{"titre": {"x"}, "jour": {day}, "journee": {"1"}}); pg.status != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", pg.status)
	}
	if evs, _ := p.agenda.List(context.Background(), holderReq(pid), pid, timeZero, timeZero); len(evs) != 0 {
		t.Fatalf("bad forms filed %d events", len(evs))
	}

	pg = b.post("/moi/agenda/ajouter", url.Values{"csrf_token": {csrf}, "titre": {"Séance de kiné"}, "jour": {day}, "debut": {"09:30"},
		"fin": {"10:15"}, "lieu": {"Cabinet du port"}, "note": {"ordonnance"}})
	if pg.status != http.StatusSeeOther || pg.location != "/moi/agenda/ajouter?fait=ajoute" {
		t.Fatalf("add: %d %s %.300s", pg.status, pg.location, pg.body)
	}
	pg = b.get(pg.location)
	if !strings.Contains(pg.body, "L'événement est ajouté") || !strings.Contains(pg.body, "Séance de kiné") {
		t.Fatalf("after adding: %.2000s", pg.body)
	}
	edit := regexp.MustCompile(`/moi/agenda/(\d+)/modifier`).FindStringSubmatch(pg.body)
	if edit == nil {
		t.Fatal("no edit link")
	}
	if pg = b.get("/moi/agenda"); !strings.Contains(pg.body, "Séance de kiné") {
		t.Fatalf("the agenda does not show the event: %.2000s", pg.body)
	}
	pg = b.get(edit[0])
	checkHTML(t, pg.body, "fr")
	if !strings.Contains(pg.body, `value="09:30"`) || !strings.Contains(pg.body, `value="10:15"`) || !strings.Contains(pg.body, "Cabinet du port") {
		t.Fatalf("the edit form: %.3000s", pg.body)
	}
	pg = b.post(edit[0], url.Values{"csrf_token": {csrf}, "titre": {"Cure thermale"}, "jour": {day}, "journee": {"1"}})
	if pg.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %.300s", pg.status, pg.body)
	}
	evs, err := p.agenda.List(context.Background(), holderReq(pid), pid, timeZero, timeZero)
	if err != nil || len(evs) != 1 || evs[0].Title != "Cure thermale" || !evs[0].AllDay() {
		t.Fatalf("after the edit: %+v %v", evs, err)
	}
	// Another patient finds no such event.
	other, _, _ := p.patientIn(t, 652, "Tom")
	if pg = other.get(edit[0]); pg.status != http.StatusNotFound {
		t.Fatalf("another patient's event: %d", pg.status)
	}
	del := "/moi/agenda/" + edit[1] + "/supprimer"
	if pg = other.post(del, url.Values{"csrf_token": {csrfOf(t, other.get("/moi/agenda/ajouter").body)}}); pg.status != http.StatusNotFound {
		t.Fatalf("another patient deletes: %d", pg.status)
	}
	if pg = b.post(del, url.Values{"csrf_token": {csrf}}); pg.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", pg.status)
	}
	if evs, _ := p.agenda.List(context.Background(), holderReq(pid), pid, timeZero, timeZero); len(evs) != 0 {
		t.Fatalf("after the deletion: %+v", evs)
	}
	if pg = b.get("/langue/en"); pg.status >= 400 {
		t.Fatal(pg.status)
	}
	pg = b.get("/moi/agenda/ajouter")
	checkHTML(t, pg.body, "en")
	if !strings.Contains(pg.body, "Add an event") {
		t.Fatalf("in English: %.300s", pg.body)
	}
}

// A patient makes a feed, fetches it without a session, renews it and revokes it.
func TestAgendaFeedPages(t *testing.T) {
	p := newHealthPortal(t)
	b, pid, _ := p.patientIn(t, 653, "Ana")
	pg := b.get("/moi/agenda/abonnement")
	if pg.status != http.StatusOK || !strings.Contains(pg.body, "Vous n'avez pas d'abonnement") || !strings.Contains(pg.body, "Rendez-vous médical") {
		t.Fatalf("the page: %d %.500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	csrf := csrfOf(t, pg.body)
	if _, err := p.agenda.AddPersonal(context.Background(), holderReq(pid), pid, personalTomorrow(p, "IRM du genou")); err != nil {
		t.Fatal(err)
	}
	pg = b.post("/moi/agenda/abonnement", url.Values{"action": {"creer"}, "csrf_token": {csrf}, "details": {"0"}})
	m := feedURL.FindStringSubmatch(pg.body)
	if pg.status != http.StatusOK || m == nil || pg.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %q %.1000s", pg.status, pg.header.Get("Cache-Control"), pg.body)
	}
	checkHTML(t, pg.body, "fr")
	if !strings.Contains(pg.body, "webcal://carnet.test/agenda/"+m[1]+".ics") {
		t.Fatal("no webcal link")
	}
	// Shown once: the page read again has no address.
	if pg = b.get("/moi/agenda/abonnement"); feedURL.MatchString(pg.body) || !strings.Contains(pg.body, "Un abonnement est actif") {
		t.Fatalf("the address is shown again: %.500s", pg.body)
	}
	anon := p.browser(t)
	ics := anon.get("/agenda/" + m[1] + ".ics")
	if ics.status != http.StatusOK || !strings.HasPrefix(ics.header.Get("Content-Type"), "text/calendar") ||
		!strings.HasPrefix(ics.body, "BEGIN:VCALENDAR\r\n") || !strings.Contains(ics.body, "SUMMARY:Événement personnel\r\n") ||
		strings.Contains(ics.body, "IRM") {
		t.Fatalf("the minimal feed: %d %q\n%s", ics.status, ics.header.Get("Content-Type"), ics.body)
	}
	// The record's stays and consultations are off unless chosen; the choice keeps the address.
	if pg = b.get("/moi/agenda/abonnement"); !strings.Contains(pg.body, `id="sejours" name="sejours" value="1">`) {
		t.Fatalf("the stays are chosen by default: %.3000s", pg.body)
	}
	pg = b.post("/moi/agenda/abonnement", url.Values{"action": {"contenu"}, "csrf_token": {csrf}, "details": {"0"}, "sejours": {"1"}})
	if pg.status != http.StatusSeeOther {
		t.Fatalf("the choice: %d %.500s", pg.status, pg.body)
	}
	if st, err := p.agenda.Settings(context.Background(), holderReq(pid), pid); err != nil || !st.FeedCare || st.FeedDetails || !st.Feed {
		t.Fatalf("after the choice: %+v %v", st, err)
	}
	if pg = b.get(pg.location); !strings.Contains(pg.body, "Votre choix est enregistré") ||
		!strings.Contains(pg.body, `id="sejours" name="sejours" value="1" checked>`) {
		t.Fatalf("after the choice: %.3000s", pg.body)
	}
	checkHTML(t, pg.body, "fr")
	if ics = anon.get("/agenda/" + m[1] + ".ics"); ics.status != http.StatusOK {
		t.Fatalf("the address after the choice: %d", ics.status)
	}
	// Renewed with details: the old address is dead.
	pg = b.post("/moi/agenda/abonnement", url.Values{"action": {"creer"}, "csrf_token": {csrf}, "details": {"1"}})
	m2 := feedURL.FindStringSubmatch(pg.body)
	if m2 == nil || m2[1] == m[1] {
		t.Fatal("not renewed")
	}
	if ics = anon.get("/agenda/" + m[1] + ".ics"); ics.status != http.StatusNotFound || strings.Contains(ics.body, m[1]) {
		t.Fatalf("the old address: %d %s", ics.status, ics.body)
	}
	if ics = anon.get("/agenda/" + m2[1] + ".ics"); !strings.Contains(ics.body, "SUMMARY:IRM du genou") {
		t.Fatalf("the detailed feed: %s", ics.body)
	}
	if pg = b.post("/moi/agenda/abonnement", url.Values{"action": {"revoquer"}, "csrf_token": {csrf}}); pg.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", pg.status)
	}
	for _, path := range []string{"/agenda/" + m2[1] + ".ics", "/agenda/" + m2[1], "/agenda/x.ics"} {
		if ics = anon.get(path); ics.status != http.StatusNotFound {
			t.Fatalf("%s: %d", path, ics.status)
		}
	}
	// The reminders' opt-out.
	if pg = b.post("/moi/agenda/abonnement", url.Values{"action": {"rappels"}, "csrf_token": {csrf}}); pg.status != http.StatusSeeOther {
		t.Fatalf("opt out: %d", pg.status)
	}
	st, err := p.agenda.Settings(context.Background(), holderReq(pid), pid)
	if err != nil || st.RemindEmail || st.Feed {
		t.Fatalf("settings: %+v %v", st, err)
	}
	if pg = b.get(pg.location); !strings.Contains(pg.body, "Vous ne recevrez plus de courriel") {
		t.Fatalf("after opting out: %.500s", pg.body)
	}
}

var timeZero time.Time

func holderReq(pid int64) agenda.Request {
	r := recordtest.Holder(pid)
	return agenda.Request{Actor: r.Actor, Channel: r.Channel}
}

func personalTomorrow(p *healthPortal, title string) agenda.Personal {
	start := p.Clock.Now().Add(24 * time.Hour).Truncate(time.Hour)
	return agenda.Personal{Title: title, Start: start, End: start.Add(time.Hour)}
}

// The personal event form reads whatever a browser sends: it never panics, and what it
// accepts has a start and ends after it.
func FuzzPersonalForm(f *testing.F) {
	f.Add("Kiné", "2026-04-02", "09:30", "", "10:15", "", false)
	f.Add("Cure", "2026-04-02", "", "2026-04-09", "", "", true)
	f.Add("", "2026-02-30", "25:00", "x", "9h", "lieu", false)
	f.Fuzz(func(t *testing.T, title, day, start, endDay, end, place string, allDay bool) {
		form := url.Values{"titre": {title}, "jour": {day}, "debut": {start}, "fin_jour": {endDay}, "fin": {end}, "lieu": {place}}
		if allDay {
			form.Set("journee", "1")
		}
		_, p, problems := personalOfForm(French, form)
		if len(problems) > 0 {
			return
		}
		if p.Start.IsZero() || strings.TrimSpace(p.Title) == "" || (!p.End.IsZero() && p.End.Before(p.Start)) {
			t.Fatalf("accepted %+v", p)
		}
	})
}
