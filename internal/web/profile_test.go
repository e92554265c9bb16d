package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/archive/archivetest"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/profile/share"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/space"
)

// healthPortal is the portal with the medical profile, the agenda and the sharing of the
// summary, over the same real stack as newPortal's.
type healthPortal struct {
	*portal
	prof   *profile.Service
	agenda *agenda.Service
	shares *share.Service
}

func newHealthPortal(t *testing.T) *healthPortal {
	t.Helper()
	e := recordtest.New(t)
	p := &portal{Env: e, mail: &outbox{}}
	codeKey := make([]byte, 32)
	for i := range codeKey {
		codeKey[i] = 9 // archivetest's spaces use the same
	}
	var err error
	p.spaces, err = space.NewService(space.Deps{Store: e.DB.Spaces(), Clock: e.Clock, Policy: space.DefaultPolicy(),
		PublicURL: "https://carnet.test", CodeKey: codeKey})
	if err != nil {
		t.Fatal(err)
	}
	if p.accounts, err = account.NewService(e.DB.Accounts(), e.Clock, cheapParams, e.Catalog); err != nil {
		t.Fatal(err)
	}
	cfg := auth.DefaultConfig()
	cfg.ResetURL = "https://carnet.test/mot-de-passe/nouveau"
	svc, err := auth.NewService(auth.Deps{Store: e.DB.Auth(), Clock: e.Clock, Key: testKey, CodeKey: codeKey, Password: cheapParams,
		Mail: p.mail, Config: cfg, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	h, err := svc.HTTP(auth.HTTPOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	hp := &healthPortal{portal: p}
	if hp.prof, err = profile.NewService(profile.Deps{Store: e.DB.Profile(), Access: e.Access, Catalog: e.Catalog, Clock: e.Clock}); err != nil {
		t.Fatal(err)
	}
	if hp.agenda, err = agenda.NewService(agenda.Deps{Store: e.DB.Agenda(), Access: e.Access, Clock: e.Clock, Documents: e.Records}); err != nil {
		t.Fatal(err)
	}
	if hp.shares, err = share.NewService(e.DB.Shares(), e.Clock, 0); err != nil {
		t.Fatal(err)
	}
	arch, tr := archivetest.New(t, e)
	w, err := New(Deps{Auth: svc, HTTP: h, Records: e.Records, Trail: tr, Archive: arch, Spaces: p.spaces, SpaceLife: p.spaces, Representation: p.spaces,
		Access: e.Access, Matrices: access.NewMatrices(e.DB.Matrices(), e.Clock), Directory: p.accounts, Catalog: e.Catalog, Clock: e.Clock,
		Profile: hp.prof, Agenda: hp.agenda, Shares: hp.shares, PublicURL: "https://carnet.test"})
	if err != nil {
		t.Fatal(err)
	}
	p.srv = httptest.NewServer(w)
	t.Cleanup(p.srv.Close)
	return hp
}

// patientIn opens and activates patient seq's space and signs them in.
func (p *healthPortal) patientIn(t *testing.T, seq int, given string) (*browser, int64, identity.INS) {
	t.Helper()
	b := p.browser(t)
	pid, ins := p.portal.patientIn(t, b, seq, "MARTIN", given, strings.ToLower(given)+strconv.Itoa(seq)+"@example.fr")
	return b, pid, ins
}

var (
	hrefs      = regexp.MustCompile(`(?:href|action|src)="([^"]*)"`)
	fieldError = regexp.MustCompile(`(?s)<p class="fr-error-text" id="e-([a-z_]+)">(.*?)</p>`)
)

// noHealthDataInURLs fails when a link, a form's action or a redirect of the page holds one
// of the words.
func noHealthDataInURLs(t *testing.T, pg page, words ...string) {
	t.Helper()
	urls := []string{pg.location}
	for _, m := range hrefs.FindAllStringSubmatch(pg.body, -1) {
		urls = append(urls, m[1])
	}
	for _, u := range urls {
		dec, _ := url.QueryUnescape(u)
		for _, w := range words {
			if w != "" && strings.Contains(strings.ToLower(dec), strings.ToLower(w)) {
				t.Errorf("a URL holds %q: %s", w, u)
			}
		}
	}
}

// traced reports whether a trace begins with prefix (action, outcome, reason) and holds object.
func traced(traces []string, prefix, object string) bool {
	for _, tr := range traces {
		if strings.HasPrefix(tr, prefix) && strings.Contains(tr, object) {
			return true
		}
	}
	return false
}

// errorsOf returns the errors said next to the fields of a page.
func errorsOf(body string) map[string]string {
	out := map[string]string{}
	for _, m := range fieldError.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// The patient's profile through the pages: every section listed, items added with who wrote
// them and when, a form refused with the reason next to each faulty field and nothing stored,
// an edit, hiding from professionals with who still sees the item, deletion. A professional
// never reads what the patient hid, and no URL holds what the items say.
func TestProfilePages(t *testing.T) {
	p := newHealthPortal(t)
	b, pid, _ := p.patientIn(t, 601, "Camille")
	ctx := context.Background()

	pg := b.get("/moi/profil")
	if pg.status != 200 {
		t.Fatalf("profile: %d %.500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	for _, s := range []string{"Allergies et intolérances", "Traitements en cours", "Antécédents médicaux et chirurgicaux", "Antécédents familiaux",
		"Vaccinations", "Mesures de santé", "Groupe sanguin", "Volontés", "Contacts en cas d'urgence", "Personne de confiance"} {
		if !strings.Contains(pg.body, s) {
			t.Errorf("the profile page lacks the section %q", s)
		}
	}
	if !strings.Contains(pg.body, `href="/moi/profil"`) || !strings.Contains(pg.body, `href="/moi/agenda"`) {
		t.Error("the menu does not lead to the profile and the agenda")
	}

	// A form with faults: each reason next to its field, nothing stored.
	form := b.get("/moi/profil/ajouter?rubrique=allergies")
	if form.status != 200 || !strings.Contains(form.body, `for="f-substance"`) {
		t.Fatalf("allergy form: %d %.500s", form.status, form.body)
	}
	checkHTML(t, form.body, "fr")
	token := csrfOf(t, form.body)
	pg = b.post("/moi/profil/ajouter", url.Values{"csrf_token": {token}, "rubrique": {"allergies"}, "substance": {""}, "type": {"allergy"},
		"status": {"active"}, "onset": {"1995-13"}})
	if pg.status != http.StatusBadRequest {
		t.Fatalf("a faulty form: %d", pg.status)
	}
	checkHTML(t, pg.body, "fr")
	fe := errorsOf(pg.body)
	if !strings.Contains(fe["substance"], "obligatoire") || !strings.Contains(fe["onset"], "pas une date") || !strings.Contains(pg.body, `aria-invalid="true"`) {
		t.Errorf("errors next to the fields: %v", fe)
	}
	if got, _ := p.prof.List(ctx, profile.Request{Actor: recordtest.Holder(pid).Actor, Channel: audit.ChannelWeb},
		profile.Query{PatientID: pid}); len(got.Items) != 0 {
		t.Fatalf("a refused form stored %d items", len(got.Items))
	}
	if pg = b.post("/moi/profil/ajouter", url.Values{"rubrique": {"allergies"}, "substance": {"Arachide"}}); pg.status != http.StatusForbidden {
		t.Errorf("a form without its CSRF token: %d", pg.status)
	}

	add := func(section string, fields url.Values) page {
		t.Helper()
		fields.Set("csrf_token", token)
		fields.Set("rubrique", section)
		pg := b.post("/moi/profil/ajouter", fields)
		if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, "/moi/profil?fait=ajoute") {
			t.Fatalf("add %s: %d %s %v %.300s", section, pg.status, pg.location, errorsOf(pg.body), pg.body)
		}
		noHealthDataInURLs(t, pg, fields.Get("substance"), fields.Get("medication"), fields.Get("condition"))
		return pg
	}
	add("allergies", url.Values{"substance": {"Arachide"}, "type": {"allergy"}, "criticality": {"high"}, "status": {"active"}, "reaction": {"urticaire"}})
	add("treatments", url.Values{"medication": {"Ventoline"}, "dosage": {"2 bouffées si besoin"}, "status": {"active"}, "start": {"2018"}})
	add("history", url.Values{"condition": {"Asthme"}, "kind": {"medical"}, "status": {"active"}, "onset": {"2001-06"}})
	add("family_history", url.Values{"relative": {"FTH"}, "condition": {"Infarctus"}, "onset_age": {"62"}})
	add("vaccinations", url.Values{"vaccine": {"Grippe saisonnière"}, "date": {"2025-10-20"}, "dose": {"1"}})
	add("blood_group", url.Values{"abo": {"A"}, "rh": {"+"}})
	add("emergency_contacts", url.Values{"name": {"Jean Martin"}, "relationship": {"SPS"}, "phone": {"0601020304"}})

	// Faults the service's rules name, said by the page next to the field.
	for _, c := range []struct {
		section, field, want string
		form                 url.Values
	}{
		{"wishes", "consent", "position sur le don", url.Values{"wish_kind": {"organ_donation"}}},
		{"emergency_contacts", "phone", "téléphone ou une adresse", url.Values{"name": {"Paul"}}},
		{"history", "status", "Résolu", url.Values{"condition": {"Fracture"}, "kind": {"surgical"}, "status": {"active"}, "end": {"2010"}}},
		{"family_history", "onset_age", "nombre entier", url.Values{"relative": {"MTH"}, "condition": {"Diabète"}, "onset_age": {"deux cents"}}},
		{"blood_group", "abo", "valeurs proposées", url.Values{"abo": {"Z"}, "rh": {"+"}}},
	} {
		c.form.Set("csrf_token", token)
		c.form.Set("rubrique", c.section)
		pg := b.post("/moi/profil/ajouter", c.form)
		if pg.status != http.StatusBadRequest || !strings.Contains(errorsOf(pg.body)[c.field], c.want) {
			t.Errorf("%s: %d, errors %v, want %q next to %s", c.section, pg.status, errorsOf(pg.body), c.want, c.field)
		}
	}

	pg = b.get("/moi/profil?fait=ajoute")
	checkHTML(t, pg.body, "fr")
	for _, want := range []string{"L'information est ajoutée", "Allergie : Arachide", "gravité élevée", "Ventoline", "Asthme", "Père : Infarctus",
		"Grippe saisonnière — 20/10/2025", "Groupe A+", "Jean Martin", "Saisie par vous le 10/03/2026"} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("the profile does not show %q", want)
		}
	}
	if strings.Contains(pg.body, `rubrique=blood_group"`) {
		t.Error("the page offers a second blood group")
	}
	noHealthDataInURLs(t, pg, "Arachide", "Ventoline", "Asthme", "Infarctus", "Grippe", "Jean Martin")

	items, err := p.prof.List(ctx, profile.Request{Actor: recordtest.Holder(pid).Actor, Channel: audit.ChannelWeb},
		profile.Query{PatientID: pid, Sections: []profile.Section{profile.SectionHistory}})
	if err != nil || len(items.Items) != 1 {
		t.Fatalf("history: %v %v", items, err)
	}
	asthma := items.Items[0]

	// An edit: the form holds the item, a new version replaces it.
	pg = b.get("/moi/profil/" + asthma.ID + "/modifier")
	if pg.status != 200 || !strings.Contains(pg.body, `value="Asthme"`) {
		t.Fatalf("edit form: %d %.500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	if !strings.Contains(pg.body, `name="version" value="1"`) {
		t.Error("the edit form does not say which version it edits")
	}
	pg = b.post("/moi/profil/"+asthma.ID+"/modifier", url.Values{"csrf_token": {token}, "condition": {"Asthme allergique"}, "kind": {"medical"},
		"status": {"active"}, "onset": {"2001-06"}, "version": {"1"}})
	if pg.status != http.StatusSeeOther || !strings.Contains(pg.location, "fait=modifie") {
		t.Fatalf("edit: %d %v", pg.status, errorsOf(pg.body))
	}
	if pg = b.get("/moi/profil"); !strings.Contains(pg.body, "Asthme allergique") {
		t.Error("the edit is not shown")
	}
	// An edit of a version that is no longer the current one is refused, and says why.
	pg = b.post("/moi/profil/"+asthma.ID+"/modifier", url.Values{"csrf_token": {token}, "condition": {"Asthme ancien"}, "kind": {"medical"},
		"status": {"active"}, "version": {"1"}})
	if pg.status != http.StatusConflict || !strings.Contains(pg.body, "n'a pas été enregistrée") {
		t.Errorf("a stale edit: %d %.300s", pg.status, pg.body)
	}

	// A doctor of the care team reads the history; hidden, it is no longer theirs to read, and
	// the page says who still sees it.
	doctor := recordtest.Doctor(recordtest.RPPS(t, 61))
	if _, err := p.Records.Deposit(ctx, doctor, recordtest.Report(recordtest.TestINS(t, 601), "Consultation"), recordtest.PDF(1000, 61)); err != nil {
		t.Fatal(err)
	}
	doc := profile.Request{Actor: doctor.Actor, Channel: doctor.Channel}
	seen := func() string {
		page, err := p.prof.List(ctx, doc, profile.Query{PatientID: pid})
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, it := range page.Items {
			if it.Condition != nil {
				s = append(s, it.Condition.Text)
			}
		}
		return strings.Join(s, ",")
	}
	if seen() != "Asthme allergique" {
		t.Fatalf("the doctor reads %q", seen())
	}
	// What a professional writes is named as theirs, and is not the patient's to edit.
	byDoctor, err := p.prof.Add(ctx, doc, pid, profile.Item{Section: profile.SectionTreatments, Treatment: &profile.Treatment{Text: "Montélukast", Dosage: "10 mg le soir"}})
	if err != nil {
		t.Fatal(err)
	}
	pg = b.get("/moi/profil")
	if !strings.Contains(pg.body, "Montélukast") || !strings.Contains(pg.body, "Saisie par Dr Martin le 10/03/2026") {
		t.Errorf("the doctor's entry: %.3000s", pg.body)
	}
	if strings.Contains(pg.body, "/moi/profil/"+byDoctor.ID+"/modifier") || !strings.Contains(pg.body, "/moi/profil/"+byDoctor.ID+"/masquer") {
		t.Error("the patient is offered to edit a professional's entry, or not to hide it")
	}
	if pg = b.post("/moi/profil/"+asthma.ID+"/masquer", url.Values{"csrf_token": {token}}); pg.status != http.StatusSeeOther {
		t.Fatalf("hide: %d %.300s", pg.status, pg.body)
	}
	pg = b.get(pg.location)
	if !strings.Contains(pg.body, "Masquée aux professionnels") || !strings.Contains(pg.body, "Seuls son auteur et votre médecin traitant la voient") {
		t.Errorf("the hidden item and who still sees it: %.2000s", pg.body)
	}
	if s := seen(); s != "" {
		t.Errorf("a professional reads a hidden item: %q", s)
	}
	if _, err := p.prof.Get(ctx, doc, asthma.ID); err == nil {
		t.Error("a professional reads a hidden item by its id")
	}
	if pg = b.post("/moi/profil/"+asthma.ID+"/demasquer", url.Values{"csrf_token": {token}}); pg.status != http.StatusSeeOther || seen() != "Asthme allergique" {
		t.Errorf("unhide: %d, the doctor reads %q", pg.status, seen())
	}

	// Deletion.
	if pg = b.post("/moi/profil/"+asthma.ID+"/supprimer", url.Values{"csrf_token": {token}}); pg.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", pg.status)
	}
	if pg = b.get("/moi/profil"); strings.Contains(pg.body, "Asthme") || !strings.Contains(pg.body, "Aucun antécédent renseigné") {
		t.Error("the deleted item is still shown")
	}

	// Someone else's item is not found, and so is an unknown section.
	other, otherPID, _ := p.patientIn(t, 602, "Hugo")
	_ = other
	theirs, err := p.prof.Add(ctx, profile.Request{Actor: recordtest.Holder(otherPID).Actor, Channel: audit.ChannelWeb}, otherPID,
		profile.Item{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Latex"}})
	if err != nil {
		t.Fatal(err)
	}
	if pg = b.get("/moi/profil/" + theirs.ID + "/modifier"); pg.status != http.StatusNotFound || strings.Contains(pg.body, "Latex") {
		t.Errorf("another's item: %d", pg.status)
	}
	if pg = b.post("/moi/profil/"+theirs.ID+"/supprimer", url.Values{"csrf_token": {token}}); pg.status != http.StatusNotFound {
		t.Errorf("deleting another's item: %d", pg.status)
	}
	if pg = b.get("/moi/profil/ajouter?rubrique=nope"); pg.status != http.StatusNotFound {
		t.Errorf("an unknown section: %d", pg.status)
	}

	// English too.
	b.get("/langue/en?retour=/moi")
	if pg = b.get("/moi/profil"); !strings.Contains(pg.body, "Allergies and intolerances") || !strings.Contains(pg.body, "Written by you") ||
		!strings.Contains(pg.body, "Allergy: Arachide") || !strings.Contains(pg.body, "high severity") || !strings.Contains(pg.body, "Father: Infarctus") {
		t.Errorf("the profile in English: %.500s", pg.body)
	}
	checkHTML(t, pg.body, "en")

	traces := p.Traces(t, pid)
	for _, want := range [][2]string{{"document.deposit allowed self", "profile/"}, {"document.mask allowed self", "profile/" + asthma.ID},
		{"document.delete allowed self", "profile/" + asthma.ID}, {"document.read denied masked", "profile/" + asthma.ID},
		{"record.search allowed self", " profile shown="}} {
		if !traced(traces, want[0], want[1]) {
			t.Errorf("no trace %q of %s in\n%s", want[0], want[1], strings.Join(traces, "\n"))
		}
	}
}

// Measurements: an implausible value is refused with the reason next to the field and nothing
// stored; the values are on an SVG chart (CSP-safe, accessible) and in the table under it.
func TestMeasuresPage(t *testing.T) {
	p := newHealthPortal(t)
	b, pid, _ := p.patientIn(t, 611, "Lina")
	pg := b.get("/moi/profil/mesures")
	if pg.status != 200 || !strings.Contains(pg.body, "Aucune mesure pour l'instant") {
		t.Fatalf("measures: %d %.500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)
	post := func(f url.Values) page {
		f.Set("csrf_token", token)
		return b.post("/moi/profil/mesures", f)
	}
	pg = post(url.Values{"mesure": {"29463-7"}, "valeur": {"900"}, "date": {"2026-03-09"}, "heure": {"08:00"}})
	if pg.status != http.StatusBadRequest || !strings.Contains(errorsOf(pg.body)["valeur"], "900 kg n'est pas une valeur plausible : elle doit être comprise entre 0,3 et 400 kg") {
		t.Fatalf("an implausible weight: %d %v", pg.status, errorsOf(pg.body))
	}
	checkHTML(t, pg.body, "fr")
	if !strings.Contains(pg.body, `value="900"`) {
		t.Error("the form does not keep what was typed")
	}
	pg = post(url.Values{"mesure": {"29463-7"}, "valeur": {"70"}, "date": {"2027-01-01"}})
	if !strings.Contains(errorsOf(pg.body)["date"], "futur") {
		t.Errorf("a measurement in the future: %v", errorsOf(pg.body))
	}
	pg = post(url.Values{"mesure": {"85354-9"}, "valeur": {"80"}, "diastolique": {"120"}, "date": {"2026-03-09"}})
	if !strings.Contains(errorsOf(pg.body)["diastolique"], "inférieure à la pression systolique") {
		t.Errorf("a diastolic above the systolic: %v", errorsOf(pg.body))
	}
	pg = post(url.Values{"mesure": {"72514-3"}, "valeur": {"4,5"}, "date": {"2026-03-09"}})
	if !strings.Contains(errorsOf(pg.body)["valeur"], "nombre entier") {
		t.Errorf("a pain score of 4.5: %v", errorsOf(pg.body))
	}
	got, _ := p.prof.List(context.Background(), profile.Request{Actor: recordtest.Holder(pid).Actor, Channel: audit.ChannelWeb}, profile.Query{PatientID: pid})
	if len(got.Items) != 0 {
		t.Fatalf("refused measurements stored: %d", len(got.Items))
	}

	for _, f := range []url.Values{
		{"mesure": {"29463-7"}, "valeur": {"72,5"}, "date": {"2026-01-15"}, "heure": {"07:30"}},
		{"mesure": {"29463-7"}, "valeur": {"71.2"}, "date": {"2026-02-15"}, "heure": {"07:30"}},
		{"mesure": {"29463-7"}, "valeur": {"70,8"}, "date": {"2026-03-09"}, "heure": {"07:30"}},
		{"mesure": {"85354-9"}, "valeur": {"128"}, "diastolique": {"84"}, "date": {"2026-03-09"}, "heure": {"08:00"}},
	} {
		if pg = post(f); pg.status != http.StatusSeeOther || pg.location != "/moi/profil/mesures?fait=ajoute" {
			t.Fatalf("add %v: %d %v", f, pg.status, errorsOf(pg.body))
		}
	}
	pg = b.get("/moi/profil/mesures?fait=ajoute")
	checkHTML(t, pg.body, "fr")
	for _, want := range []string{"La mesure est ajoutée", `role="img"`, "<title id=", "<desc id=", "Évolution : Poids", "3 mesures, la première le 15/01/2026 07:30 (72,5 kg)",
		"Valeurs plausibles : de 0,3 à 400 kg", "15/01/2026 07:30", "72,5 kg", "71,2 kg", "70,8 kg", "128/84 mmHg", "Pression systolique", "Pression diastolique"} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("the measures page does not show %q", want)
		}
	}
	svgs := regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(pg.body, -1)
	if len(svgs) != 2 {
		t.Fatalf("%d charts, want 2 (weight and blood pressure)", len(svgs))
	}
	for _, s := range svgs {
		if strings.Contains(s, "style=") || strings.Contains(s, "<script") {
			t.Error("a chart carries an inline style or script, which the CSP forbids")
		}
	}
	if strings.Count(svgs[0], "<circle") != 3 || !strings.Contains(svgs[0], `fill="#b8fec9"`) {
		t.Errorf("the weight chart: %s", svgs[0])
	}
	noHealthDataInURLs(t, pg, "72,5", "72.5", "128/84", "Poids")

	// English: a decimal point.
	b.get("/langue/en?retour=/moi")
	if pg = b.get("/moi/profil/mesures"); !strings.Contains(pg.body, "72.5 kg") || !strings.Contains(pg.body, "Trend: Weight") ||
		!strings.Contains(pg.body, "Systolic pressure") {
		t.Errorf("measures in English: %.500s", pg.body)
	}
	checkHTML(t, pg.body, "en")
}

var popplerOnce sync.Once

// pdfText extracts a PDF's text with poppler's pdftotext.
func pdfText(t *testing.T, pdf string) string {
	t.Helper()
	popplerOnce.Do(func() {
		if _, err := exec.LookPath("pdftotext"); err != nil {
			// As the browser tests do: install what is missing rather than skip.
			out, err := exec.Command("bash", filepath.Join("..", "..", ".ci", "install-test-deps")).CombinedOutput()
			if err != nil {
				t.Logf("install-test-deps: %v %s", err, out)
			}
		}
	})
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatalf("pdftotext is not installed: run .ci/install-test-deps (%v)", err)
	}
	f := filepath.Join(t.TempDir(), "s.pdf")
	if err := os.WriteFile(f, []byte(pdf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// The summary: downloaded as a PDF holding the whole profile, its reading traced; filed in the
// record as a DOCPAT08 document without what the patient hid from professionals.
func TestSummaryDownloadAndFiling(t *testing.T) {
	p := newHealthPortal(t)
	b, pid, _ := p.patientIn(t, 621, "Inès")
	ctx := context.Background()
	me := profile.Request{Actor: recordtest.Holder(pid).Actor, Channel: audit.ChannelWeb}
	if _, err := p.prof.Add(ctx, me, pid, profile.Item{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Pénicilline", Criticality: "high"}}); err != nil {
		t.Fatal(err)
	}
	secret, err := p.prof.Add(ctx, me, pid, profile.Item{Section: profile.SectionHistory, Condition: &profile.Condition{Text: "Interruption de grossesse"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.prof.Hide(ctx, me, secret.ID); err != nil {
		t.Fatal(err)
	}
	before := len(p.Traces(t, pid))
	pg := b.get("/moi/profil/resume.pdf")
	if pg.status != 200 || pg.header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pg.body, "%PDF-") ||
		!strings.Contains(pg.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("summary: %d %s", pg.status, pg.header.Get("Content-Type"))
	}
	text := pdfText(t, pg.body)
	for _, want := range []string{"Synthèse du profil médical", "Inès MARTIN", "Allergie : Pénicilline", "gravité élevée", "Interruption de grossesse", "Page 1/1"} {
		if !strings.Contains(text, want) {
			t.Errorf("the summary lacks %q:\n%s", want, text)
		}
	}
	traces := p.Traces(t, pid)[before:]
	if len(traces) != 2 || !traced(traces, "record.search allowed self", " profile shown=2 ") {
		t.Errorf("the summary's reading is not traced: %v", traces)
	}

	page := b.get("/moi/profil")
	pg = b.post("/moi/profil/resume/deposer", url.Values{"csrf_token": {csrfOf(t, page.body)}})
	if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, "/moi/documents/") {
		t.Fatalf("file the summary: %d %s %.300s", pg.status, pg.location, pg.body)
	}
	id := strings.TrimPrefix(pg.location, "/moi/documents/")
	d, content, err := p.Records.ReadAll(ctx, recordtest.Holder(pid), id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Type != "DOCPAT08" || d.MimeType != "application/pdf" {
		t.Errorf("filed as %s %s", d.Type, d.MimeType)
	}
	filed := pdfText(t, string(content))
	if !strings.Contains(filed, "Pénicilline") || strings.Contains(filed, "grossesse") {
		t.Errorf("the filed summary shows what was hidden from professionals, or not the allergy:\n%s", filed)
	}
	if pg = b.get(pg.location); pg.status != 200 || !strings.Contains(pg.body, "Synthèse de mon profil médical du 10/03/2026") {
		t.Errorf("the filed document's page: %d", pg.status)
	}
}

var shareCode = regexp.MustCompile(`id="code-partage">([A-Z2-7-]+)<`)

// Sharing the summary by a one-time code: a signed-in professional gets it once, without what
// the patient hid; a used, expired or revoked code is refused; each step is traced.
func TestShareSummaryByCode(t *testing.T) {
	p := newHealthPortal(t)
	b, pid, _ := p.patientIn(t, 631, "Léa")
	ctx := context.Background()
	me := profile.Request{Actor: recordtest.Holder(pid).Actor, Channel: audit.ChannelWeb}
	if _, err := p.prof.Add(ctx, me, pid, profile.Item{Section: profile.SectionAllergies, Allergy: &profile.Allergy{Text: "Aspirine"}}); err != nil {
		t.Fatal(err)
	}
	hidden, err := p.prof.Add(ctx, me, pid, profile.Item{Section: profile.SectionTreatments, Treatment: &profile.Treatment{Text: "Sertraline"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.prof.Hide(ctx, me, hidden.ID); err != nil {
		t.Fatal(err)
	}
	pg := b.get("/moi/profil/partages")
	if pg.status != 200 || !strings.Contains(pg.body, "Vous n'avez créé aucun code") {
		t.Fatalf("shares: %d %.300s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	token := csrfOf(t, pg.body)
	newCode := func() string {
		t.Helper()
		pg := b.post("/moi/profil/partages", url.Values{"csrf_token": {token}})
		m := shareCode.FindStringSubmatch(pg.body)
		if pg.status != 200 || m == nil {
			t.Fatalf("create a code: %d %.500s", pg.status, pg.body)
		}
		checkHTML(t, pg.body, "fr")
		if !strings.Contains(pg.body, `href="https://carnet.test/pro/partage/`+m[1]+`"`) {
			t.Errorf("no link to give with the code: %.2000s", pg.body)
		}
		return m[1]
	}
	code := newCode()

	p.professional(t, 63, "dr.bernard@example.fr", "mot de passe du docteur")
	pro := p.browser(t)
	p.signIn(t, pro, "dr.bernard@example.fr", "dr.bernard@example.fr", "mot de passe du docteur")
	pg = pro.get("/pro/partage/" + code)
	if pg.status != 200 || !strings.Contains(pg.body, `value="`+code+`"`) {
		t.Fatalf("the link's form: %d %.500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	proToken := csrfOf(t, pg.body)
	use := func(c string) page {
		return pro.post("/pro/partage", url.Values{"csrf_token": {proToken}, "code": {c}})
	}
	if pg = use("AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GG"); pg.status != http.StatusNotFound || !strings.Contains(pg.body, "Ce code n'existe pas") {
		t.Errorf("an unknown code: %d", pg.status)
	}
	pg = use(strings.ToLower(code))
	if pg.status != 200 || pg.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("use the code: %d %.300s", pg.status, pg.body)
	}
	text := pdfText(t, pg.body)
	if !strings.Contains(text, "Aspirine") || strings.Contains(text, "Sertraline") {
		t.Errorf("the shared summary shows what was hidden, or not the allergy:\n%s", text)
	}
	if pg = use(code); pg.status != http.StatusForbidden || !strings.Contains(pg.body, "déjà servi") {
		t.Errorf("a code used twice: %d", pg.status)
	}

	revoked := newCode()
	pg = b.get("/moi/profil/partages")
	ids := regexp.MustCompile(`/moi/profil/partages/([a-z2-7]+)/revoquer`).FindAllStringSubmatch(pg.body, -1)
	if len(ids) != 1 || !strings.Contains(pg.body, "Utilisé") || !strings.Contains(pg.body, "Valable") {
		t.Fatalf("the list of codes: %d active, %.1500s", len(ids), pg.body)
	}
	expiring := newCode()
	if pg = b.post("/moi/profil/partages/"+ids[0][1]+"/revoquer", url.Values{"csrf_token": {token}}); pg.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", pg.status)
	}
	if pg = use(revoked); pg.status != http.StatusForbidden {
		t.Errorf("a revoked code: %d", pg.status)
	}
	p.Clock.Advance(share.DefaultLifetime + time.Minute)
	p.signIn(t, pro, "dr.bernard@example.fr", "dr.bernard@example.fr", "mot de passe du docteur")
	pg = pro.get("/pro/partage")
	if pg = pro.post("/pro/partage", url.Values{"csrf_token": {csrfOf(t, pg.body)}, "code": {expiring}}); pg.status != http.StatusForbidden {
		t.Errorf("an expired code: %d", pg.status)
	}
	// The patient's page is not a professional's, nor the reverse.
	if pg = pro.get("/moi/profil/partages"); pg.status != http.StatusSeeOther {
		t.Errorf("a professional on the patient's sharing page: %d", pg.status)
	}
	p.signIn(t, b, "léa631@example.fr", "léa631@example.fr", patientPass) // the session ended in the day
	if pg = b.get("/moi/historique"); !strings.Contains(pg.body, "Utilisation d'un code de partage de la synthèse par un professionnel") ||
		!strings.Contains(pg.body, "Dr Anne Bernard") || !strings.Contains(pg.body, "ce code de partage avait déjà servi") {
		t.Errorf("the patient's trail does not tell the uses of their code: %.3000s", pg.body)
	}
	traces := p.Traces(t, pid)
	for _, want := range []string{"profile.share.create allowed self", "profile.share.use allowed share", "profile.share.use denied share_used",
		"profile.share.revoke allowed self", "profile.share.use denied share_revoked", "profile.share.use denied share_expired"} {
		if !traced(traces, want, "profile-share/") {
			t.Errorf("no trace %q in\n%s", want, strings.Join(traces, "\n"))
		}
	}
}

// The agenda: upcoming and past events, the most recent past first, a link to the document an
// event comes from; the reading traced.
func TestAgendaPage(t *testing.T) {
	p := newHealthPortal(t)
	b, pid, ins := p.patientIn(t, 641, "Noé")
	ctx := context.Background()
	pg := b.get("/moi/agenda")
	// Nothing filed yet: nothing to come; the prevention reminders of the patient's age (the
	// agenda's timeline, shown to the patient only) are there, due or past.
	if pg.status != 200 || !strings.Contains(pg.body, "Aucun événement à venir") || !strings.Contains(pg.body, "Rappel de prévention") {
		t.Fatalf("empty agenda: %d %.3000s", pg.status, pg.body[strings.Index(pg.body, "<main"):])
	}
	checkHTML(t, pg.body, "fr")
	doctor := recordtest.Doctor(recordtest.RPPS(t, 64))
	d, err := p.Records.Deposit(ctx, doctor, recordtest.Report(ins, "Compte rendu"), recordtest.PDF(1000, 64))
	if err != nil {
		t.Fatal(err)
	}
	now := p.Clock.Now()
	insurer := agenda.Request{Channel: audit.ChannelCLI, Actor: access.Actor{Kind: audit.ActorOperator, ID: "cli:ops", Name: "ops"}}
	day := func(n int) time.Time {
		return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, n)
	}
	if _, err := p.agenda.Add(ctx, insurer, pid, agenda.Batch{Source: agenda.SourceReimbursement, Class: "60", Type: "REMB", Events: []agenda.Event{
		{Kind: agenda.KindReimbursement, Start: day(-40), Title: "Remboursement : consultation — DURAND Paul", SourceRef: "a1"},
		{Kind: agenda.KindReimbursement, Start: day(-3), Title: "Remboursement : radiographie — CLINIQUE DU PARC", Detail: "Payé 40,00 €", SourceRef: "a2", Document: d.LogicalID},
		{Kind: agenda.KindReimbursement, Start: day(5), Title: "Remboursement : acte à venir", SourceRef: "a3"},
	}}); err != nil {
		t.Fatal(err)
	}
	pg = b.get("/moi/agenda")
	checkHTML(t, pg.body, "fr")
	up, past := strings.Index(pg.body, "acte à venir"), strings.Index(pg.body, "radiographie")
	older := strings.Index(pg.body, "DURAND Paul")
	if up < 0 || past < 0 || older < 0 || !(up < past && past < older) {
		t.Errorf("upcoming then past, most recent first: %d %d %d", up, past, older)
	}
	if !strings.Contains(pg.body, `href="/moi/documents/`+d.LogicalID+`"`) || !strings.Contains(pg.body, "Payé 40,00 €") ||
		!strings.Contains(pg.body, day(-3).Format("02/01/2006")) {
		t.Errorf("the event's date, detail and document: %.3000s", pg.body)
	}
	noHealthDataInURLs(t, pg, "radiographie", "DURAND")
	if tr := p.Traces(t, pid); !traced(tr, "record.search allowed self", " agenda shown=3 ") {
		t.Errorf("the agenda's reading is not traced:\n%s", strings.Join(tr, "\n"))
	}
}

// A parent reads and writes their child's profile under /proches/{id}/…, as themselves; the
// child's summary is theirs to download.
func TestRepresentativeProfile(t *testing.T) {
	p := newHealthPortal(t)
	ctx := context.Background()
	b, _, parentINS := p.patientIn(t, 651, "Sarah")
	by := space.By{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Channel: audit.ChannelCLI}
	childINS := recordtest.TestINS(t, 652)
	child, err := p.spaces.Create(ctx, by, space.NewSpace{Patient: space.Patient{INS: childINS, BirthName: "MARTIN", GivenNames: "Tom",
		BirthDate: p.Clock.Now().AddDate(-6, 0, 0).Truncate(24 * time.Hour), Sex: space.Male},
		Representatives: []space.NewRepresentative{{INS: parentINS.Matricule, Role: space.Parent}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.spaces.Activate(ctx, by, childINS, child.ActivationCode); err != nil {
		t.Fatal(err)
	}
	childPID, _ := p.Records.PatientID(ctx, childINS)
	base := "/proches/" + strconv.FormatInt(childPID, 10)
	pg := b.get(base + "/profil")
	if pg.status != 200 || !strings.Contains(pg.body, "Tom MARTIN") {
		t.Fatalf("the child's profile: %d %.500s", pg.status, pg.body)
	}
	checkHTML(t, pg.body, "fr")
	if strings.Contains(pg.body, "/profil/partages") {
		t.Error("a representative is offered the holder's sharing")
	}
	pg = b.post(base+"/profil/ajouter", url.Values{"csrf_token": {csrfOf(t, pg.body)}, "rubrique": {"vaccinations"}, "vaccine": {"ROR"}, "date": {"2025-06-01"}, "dose": {"2"}})
	if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, base+"/profil?") {
		t.Fatalf("add for the child: %d %s %v", pg.status, pg.location, errorsOf(pg.body))
	}
	if pg = b.get(base + "/profil"); !strings.Contains(pg.body, "ROR — 01/06/2025") || !strings.Contains(pg.body, "Saisie par vous") {
		t.Errorf("the child's vaccination: %.2000s", pg.body)
	}
	if pg = b.get(base + "/profil/resume.pdf"); pg.status != 200 || !strings.Contains(pdfText(t, pg.body), "Tom MARTIN") {
		t.Errorf("the child's summary: %d", pg.status)
	}
	pg = b.get(base + "/profil")
	if pg = b.post(base+"/profil/resume/deposer", url.Values{"csrf_token": {csrfOf(t, pg.body)}}); pg.status != http.StatusSeeOther ||
		!strings.HasPrefix(pg.location, base+"/documents/") {
		t.Errorf("the parent files the child's summary: %d %s %.300s", pg.status, pg.location, pg.body)
	}
	if pg = b.get("/proches/999999/profil"); pg.status != http.StatusNotFound {
		t.Errorf("someone else's child: %d", pg.status)
	}
	if tr := p.Traces(t, childPID); !traced(tr, "document.deposit allowed", "profile/") {
		t.Errorf("no trace of the parent's entry:\n%s", strings.Join(tr, "\n"))
	}
}
