package fhir_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/fhir"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
)

// dirEnv is the API with the messaging's directory over one store: a hospital with a
// cardiologist and an ORG mailbox, a pharmacy with a pharmacist, a doctor on the liste rouge,
// a patient with their mailbox.
type dirEnv struct {
	*env
	m *mailtest.Env
	// Tokens: the cardiologist's, the hidden doctor's, the operator's, the patient's.
	cardio, hidden, operator, patient string
	// IdNat_PS of the cardiologist, the pharmacist, the hidden doctor.
	cardioID, pharmaID, hiddenID string
	// IdNat_Struct of the hospital and the pharmacy.
	hospital, pharmacy string
	patientAddr        string
	hospitalBox        mail.Mailbox
}

func newDirEnv(t *testing.T) *dirEnv {
	t.Helper()
	e := &env{Env: recordtest.New(t)}
	var api *fhir.API
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL + "/fhir"
	e.tokens = apitoken.NewService(e.DB.Tokens(), e.Clock)
	api = fhir.New(fhir.Deps{Records: e.Records, Tokens: e.tokens, Catalog: e.Catalog, BaseURL: e.base, Version: "test"})
	m := mailtest.New(t, mailtest.Options{NoSMTP: true, Store: func(testing.TB) *store.DB { return e.DB }})
	api.SetDirectory(m.Mail)
	d := &dirEnv{env: e, m: m}

	d.hospital = m.Organisation(t, "750100125", "Hôpital de la Pitié-Salpêtrière", "Paris")
	d.pharmacy = m.Organisation(t, "130783293", "Pharmacie du Vieux-Port", "Marseille")
	var err error
	if d.hospitalBox, err = m.Mail.CreateMailbox(ctx, m.Admin, mail.NewMailbox{Kind: mail.ORG, LocalPart: "secretariat.cardio", StructureID: d.hospital}); err != nil {
		t.Fatal(err)
	}
	var cardioPro, hiddenPro account.Professional
	d.cardioID, cardioPro = d.pro(t, 1, "cardio.lefevre", "LEFÈVRE", "Hélène", "G15_10", "SM04", d.hospital)
	d.pharmaID, _ = d.pro(t, 2, "pharma.durand", "DURAND", "Marc", "G15_21", "", d.pharmacy)
	d.hiddenID, hiddenPro = d.pro(t, 3, "discret", "DISCRET", "Jean", "G15_10", "", d.hospital)
	if err := m.Mail.SetHidden(ctx, m.Admin, "discret@"+mailtest.Domain, true); err != nil {
		t.Fatal(err)
	}
	// The hidden doctor is a member of the hospital's ORG mailbox, which goes on the liste rouge too.
	if err := m.Mail.AddMember(ctx, m.Admin, d.hospitalBox.Address.String(), d.hiddenID); err != nil {
		t.Fatal(err)
	}
	d.cardio = e.token(t, apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: cardioPro.ID})
	d.hidden = e.token(t, apitoken.Subject{Kind: audit.ActorProfessional, ProfessionalID: hiddenPro.ID})
	op, err := m.Accounts.CreateAccount(ctx, account.By{Actor: m.Admin.Actor, Channel: m.Admin.Channel},
		account.NewAccount{Kind: account.KindOperator, Login: "exploitation@example.fr", DisplayName: "Exploitation", Password: "mot de passe de l'exploitant"})
	if err != nil {
		t.Fatal(err)
	}
	d.operator = e.token(t, apitoken.Subject{Kind: audit.ActorOperator, AccountID: op.ID})
	pid, addr := m.Patient(t, 1)
	d.patientAddr = addr
	// The patient's mailbox, as its first message makes it; here off the liste rouge and with
	// search keys, so that only its kind keeps it out of the directory.
	a, err := mail.ParseAddress(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.DB.Mail(m.Queue).UpdateMail(ctx, func(tx mail.Tx) error {
		return tx.InsertMailbox(ctx, &mail.Mailbox{Address: a, Kind: mail.PAT, DisplayName: "Lucie DURAND", PatientID: pid,
			CreatedAt: m.Clock.Now()}, mail.DirectoryKeys{Name: "durand lucie", Town: "paris"})
	}); err != nil {
		t.Fatal(err)
	}
	d.patient = e.token(t, apitoken.Subject{Kind: audit.ActorPatient, PatientID: pid})
	return d
}

// pro records a professional with a PER mailbox and returns their IdNat_PS.
func (d *dirEnv) pro(t *testing.T, n int, local, family, given, profession, specialty, structure string) (string, account.Professional) {
	t.Helper()
	id, err := identity.ParseIdNatPS("8" + mailtest.RPPS(n))
	if err != nil {
		t.Fatal(err)
	}
	p := account.Professional{IdNat: id, FamilyName: family, GivenName: given, Profession: profession, Specialty: specialty}
	if structure != "" {
		var o account.Organisation
		if err := d.DB.Update(ctx, func(tx *store.Tx) error {
			var err error
			o, err = tx.OrganisationByStructureID(ctx, structure)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		p.OrganisationID = o.ID
	}
	by := account.By{Actor: d.m.Admin.Actor, Channel: d.m.Admin.Channel}
	if p, err = d.m.Accounts.CreateProfessional(ctx, by, p); err != nil {
		t.Fatal(err)
	}
	if _, err := d.m.Mail.CreateMailbox(ctx, d.m.Admin, mail.NewMailbox{Kind: mail.PER, LocalPart: local, IdNat: id.String()}); err != nil {
		t.Fatal(err)
	}
	return id.String(), p
}

// get answers a GET, checks that the answer is valid FHIR, and returns it.
func (d *dirEnv) get(t *testing.T, path, token string) response {
	t.Helper()
	res := d.do(t, http.MethodGet, path, token, "", nil)
	fhirtest.Validate(t, res.body)
	return res
}

// bundle reads a searchset answer.
func bundleOf(t *testing.T, res response) r4.Bundle {
	t.Helper()
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	var b r4.Bundle
	if err := json.Unmarshal(res.body, &b); err != nil || b.Type != r4.BundleTypeSearchset {
		t.Fatalf("not a searchset (%v): %s", err, res.body)
	}
	return b
}

// ids are the resource ids of a searchset's entries.
func idsOf(t *testing.T, b r4.Bundle) []string {
	t.Helper()
	var out []string
	for _, e := range b.Entry {
		var v struct {
			ResourceType, ID string
		}
		if err := json.Unmarshal(e.Resource, &v); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(e.FullURL, "/"+v.ResourceType+"/"+v.ID) {
			t.Errorf("fullUrl %s for %s/%s", e.FullURL, v.ResourceType, v.ID)
		}
		out = append(out, v.ID)
	}
	return out
}

func TestDirectorySearches(t *testing.T) {
	d := newDirEnv(t)
	cardioBox := d.roleID(t, "cardio.lefevre@"+mailtest.Domain)
	for name, tc := range map[string]struct {
		path string
		want []string
	}{
		"practitioner by name, no accents":   {"/Practitioner?name=lefevre", []string{d.cardioID}},
		"practitioner by given name":         {"/Practitioner?name=MARC", []string{d.pharmaID}},
		"practitioner by IdNat_PS":           {"/Practitioner?identifier=" + url.QueryEscape(fhir.SystemIdNatPS+"|"+d.pharmaID), []string{d.pharmaID}},
		"practitioner by RPPS":               {"/Practitioner?identifier=" + mailtest.RPPS(1), []string{d.cardioID}},
		"practitioner on the liste rouge":    {"/Practitioner?name=discret", nil},
		"practitioner: the patient":          {"/Practitioner?name=durand", []string{d.pharmaID}},
		"role by practitioner":               {"/PractitionerRole?practitioner=Practitioner/" + d.cardioID, []string{cardioBox}},
		"role by organisation":               {"/PractitionerRole?organization=Organization/" + d.hospital, []string{cardioBox}},
		"role by profession":                 {"/PractitionerRole?role=" + url.QueryEscape("urn:oid:1.2.250.1.213.1.1.4.5|G15_21"), []string{d.roleID(t, "pharma.durand@"+mailtest.Domain)}},
		"role by town":                       {"/PractitionerRole?address-city=paris", []string{cardioBox}},
		"role by email":                      {"/PractitionerRole?email=CARDIO.lefevre@" + mailtest.Domain, []string{cardioBox}},
		"role: hidden by email":              {"/PractitionerRole?email=discret@" + mailtest.Domain, nil},
		"role: a patient's mailbox":          {"/PractitionerRole?email=" + url.QueryEscape(d.patientAddr), nil},
		"organisation by name":               {"/Organization?name=pitie", []string{d.hospital}},
		"organisation by FINESS":             {"/Organization?identifier=" + url.QueryEscape(fhir.SystemFINESS+"|130783293"), []string{d.pharmacy}},
		"organisation by IdNat_Struct":       {"/Organization?identifier=" + url.QueryEscape(fhir.SystemIdNatStruct+"|"+d.hospital), []string{d.hospital}},
		"organisation by FINESS alone":       {"/Organization?identifier=750100125", []string{d.hospital}},
		"organisation by town":               {"/Organization?address-city=MARSEILLE", []string{d.pharmacy}},
		"organisation, no match":             {"/Organization?address-city=lyon", nil},
		"practitioner, wildcards are text":   {"/Practitioner?name=%25", nil},
		"practitioner by name and IdNat_PS":  {"/Practitioner?name=lefevre&identifier=" + d.pharmaID, nil},
		"role by practitioner, bare IdNat":   {"/PractitionerRole?practitioner=" + d.pharmaID, []string{d.roleID(t, "pharma.durand@"+mailtest.Domain)}},
		"organisation by name of the other":  {"/Organization?name=vieux-port", []string{d.pharmacy}},
		"organisation by name, any accents":  {"/Organization?name=PITIÉ", []string{d.hospital}},
		"practitioner by name, several hits": {"/Practitioner?name=r", []string{d.pharmaID, d.cardioID}},
	} {
		t.Run(name, func(t *testing.T) {
			b := bundleOf(t, d.get(t, tc.path, d.cardio))
			if got := idsOf(t, b); !slices.Equal(got, tc.want) {
				t.Errorf("%v, want %v", got, tc.want)
			}
			if b.Total == nil || *b.Total != len(tc.want) {
				t.Errorf("total %v, want %d", b.Total, len(tc.want))
			}
		})
	}
	// A search as a form (FHIR's POST _search).
	res := d.do(t, http.MethodPost, "/Practitioner/_search", d.cardio, "application/x-www-form-urlencoded", []byte("name=lefevre"))
	fhirtest.Validate(t, res.body)
	if got := idsOf(t, bundleOf(t, res)); !slices.Equal(got, []string{d.cardioID}) {
		t.Errorf("POST _search: %v", got)
	}
}

// roleID is the PractitionerRole id of a mailbox: found by email.
func (d *dirEnv) roleID(t *testing.T, address string) string {
	t.Helper()
	got, err := d.m.Mail.Directory(ctx, mail.DirectoryQuery{Address: address, Viewer: d.hiddenID})
	if err != nil || len(got) != 1 {
		t.Fatalf("mailbox %s: %v %v", address, got, err)
	}
	return itoa(got[0].MailboxID)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestDirectoryResources(t *testing.T) {
	d := newDirEnv(t)
	// The practitioner: IdNat_PS, name, profession and specialty from the catalogue.
	var p r4.Practitioner
	res := d.get(t, "/Practitioner/"+d.cardioID, d.cardio)
	if err := json.Unmarshal(res.body, &p); err != nil || res.status != http.StatusOK {
		t.Fatalf("read Practitioner: %d %s", res.status, res.body)
	}
	if p.Identifier[0].System != fhir.SystemIdNatPS || p.Identifier[0].Value != d.cardioID || p.Name[0].Family != "LEFÈVRE" ||
		len(p.Qualification) != 2 || p.Qualification[0].Code.Coding[0].Code != "G15_10" || p.Qualification[1].Code.Coding[0].Code != "G15_10/SM04" ||
		p.Qualification[0].Code.Coding[0].Display != "Médecin" {
		t.Errorf("Practitioner: %s", res.body)
	}
	// The role: the mailbox as telecom, its practitioner, organisation and profession.
	id := d.roleID(t, "cardio.lefevre@"+mailtest.Domain)
	var pr r4.PractitionerRole
	res = d.get(t, "/PractitionerRole/"+id, d.cardio)
	if err := json.Unmarshal(res.body, &pr); err != nil || res.status != http.StatusOK {
		t.Fatalf("read PractitionerRole: %d %s", res.status, res.body)
	}
	if len(pr.Telecom) != 1 || pr.Telecom[0].System != "email" || pr.Telecom[0].Value != "cardio.lefevre@"+mailtest.Domain ||
		pr.Practitioner.Reference != "Practitioner/"+d.cardioID || pr.Organization.Reference != "Organization/"+d.hospital ||
		pr.Code[0].Coding[0].Code != "G15_10" || pr.Specialty[0].Coding[0].Code != "G15_10/SM04" {
		t.Errorf("PractitionerRole: %s", res.body)
	}
	// The organisation: IdNat_Struct and FINESS, town; its ORG mailbox is on the liste rouge
	// below, listed for now.
	var o r4.Organization
	res = d.get(t, "/Organization/"+d.hospital, d.cardio)
	if err := json.Unmarshal(res.body, &o); err != nil || res.status != http.StatusOK {
		t.Fatalf("read Organization: %d %s", res.status, res.body)
	}
	if o.Name != "Hôpital de la Pitié-Salpêtrière" || len(o.Identifier) != 2 || o.Identifier[1].System != fhir.SystemFINESS ||
		o.Identifier[1].Value != "750100125" || o.Address[0].City != "Paris" || len(o.Telecom) != 1 || o.Telecom[0].Value != d.hospitalBox.Address.String() {
		t.Errorf("Organization: %s", res.body)
	}
	// Not found: unknown, malformed, the patient's mailbox, a hidden one for others.
	patientBox, err := d.m.Mail.Mailbox(ctx, d.patientAddr)
	if err != nil {
		t.Fatal(err)
	}
	hiddenRole := d.roleID(t, "discret@"+mailtest.Domain)
	for _, path := range []string{"/Practitioner/" + d.hiddenID, "/Practitioner/8" + mailtest.RPPS(40), "/Practitioner/x..y",
		"/Practitioner/" + mailtest.RPPS(1), "/PractitionerRole/" + hiddenRole, "/PractitionerRole/" + itoa(patientBox.ID),
		"/PractitionerRole/0" + id, "/PractitionerRole/" + itoa(d.hospitalBox.ID), "/Organization/1130783290", "/Organization/abc"} {
		res := d.get(t, path, d.cardio)
		if res.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404: %s", path, res.status, res.body)
		}
	}
	// A mailbox owner sees their own on the liste rouge: as a search, as a read.
	if got := idsOf(t, bundleOf(t, d.get(t, "/Practitioner?name=discret", d.hidden))); !slices.Equal(got, []string{d.hiddenID}) {
		t.Errorf("the owner's own search: %v", got)
	}
	for _, path := range []string{"/Practitioner/" + d.hiddenID, "/PractitionerRole/" + hiddenRole} {
		if res := d.get(t, path, d.hidden); res.status != http.StatusOK {
			t.Errorf("the owner reads %s: %d %s", path, res.status, res.body)
		}
	}
	// An ORG mailbox on the liste rouge leaves the organisation's telecom, but for its members.
	if err := d.m.Mail.SetHidden(ctx, d.m.Admin, d.hospitalBox.Address.String(), true); err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]int{d.cardio: 0, d.hidden: 1} {
		var o r4.Organization
		res := d.get(t, "/Organization/"+d.hospital, token)
		if err := json.Unmarshal(res.body, &o); err != nil || len(o.Telecom) != want {
			t.Errorf("hidden ORG mailbox: %d telecom, want %d: %s", len(o.Telecom), want, res.body)
		}
	}
}

func TestDirectoryPaging(t *testing.T) {
	d := newDirEnv(t)
	var want []string
	for i := range 7 {
		id, _ := d.pro(t, 10+i, "page"+itoa(int64(i)), "PAGE", "Anne"+string(rune('A'+i)), "G15_60", "", "")
		want = append(want, id)
	}
	var got []string
	path := "/Practitioner?name=page&_count=3"
	pages := 0
	for path != "" {
		b := bundleOf(t, d.get(t, path, d.cardio))
		pages++
		ids := idsOf(t, b)
		got = append(got, ids...)
		path = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				path = strings.TrimPrefix(l.URL, d.base)
			}
		}
		if path != "" && (len(ids) != 3 || b.Total != nil) {
			t.Errorf("a page with a next one: %d entries, total %v", len(ids), b.Total)
		}
		if pages > 5 {
			t.Fatal("the next links do not end")
		}
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Errorf("%d pages: %v, want %v", pages, got, want)
	}
	// One page: the total.
	b := bundleOf(t, d.get(t, "/PractitionerRole?role=G15_60&_count=10", d.cardio))
	if b.Total == nil || *b.Total != 7 || len(b.Entry) != 7 {
		t.Errorf("one page: total %v, %d entries", b.Total, len(b.Entry))
	}
	// _count is bounded, and a practitioner with two mailboxes is listed once.
	if _, err := d.m.Mail.CreateMailbox(ctx, d.m.Admin, mail.NewMailbox{Kind: mail.PER, LocalPart: "page.bis", IdNat: want[0]}); err != nil {
		t.Fatal(err)
	}
	if got := idsOf(t, bundleOf(t, d.get(t, "/Practitioner?name=page&_count=1000", d.cardio))); !slices.Equal(got, want) {
		t.Errorf("two mailboxes, one practitioner: %v", got)
	}
	if got := idsOf(t, bundleOf(t, d.get(t, "/PractitionerRole?practitioner="+want[0], d.cardio))); len(got) != 2 {
		t.Errorf("two mailboxes, two roles: %v", got)
	}
}

func TestDirectoryRefusals(t *testing.T) {
	d := newDirEnv(t)
	// Without a token, or a wrong one: 401.
	for _, tok := range []string{"", "carnet_nope"} {
		res := d.get(t, "/Practitioner?name=lefevre", tok)
		if res.status != http.StatusUnauthorized || res.header.Get("WWW-Authenticate") == "" {
			t.Errorf("token %q: %d", tok, res.status)
		}
	}
	// A patient, or an app they connected: 403. The operator may search.
	app, hash, tok, err := apitoken.Mint(apitoken.Token{Subject: apitoken.Subject{Kind: audit.ActorApp, PatientID: 1,
		Scopes: []access.Action{access.ActionRead}},
		Label: "app", ClientID: "app"}, d.Clock.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.DB.Update(ctx, func(tx *store.Tx) error { return tx.InsertAPIToken(ctx, hash, tok) }); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		token, path string
		status      int
	}{
		"patient":                 {d.patient, "/Practitioner?name=lefevre", http.StatusForbidden},
		"patient read":            {d.patient, "/Organization/" + d.hospital, http.StatusForbidden},
		"app":                     {app, "/PractitionerRole?address-city=paris", http.StatusForbidden},
		"operator":                {d.operator, "/Practitioner?name=lefevre", http.StatusOK},
		"no criterion":            {d.cardio, "/Practitioner", http.StatusUnprocessableEntity},
		"only _count":             {d.cardio, "/Organization?_count=5", http.StatusUnprocessableEntity},
		"unknown parameter":       {d.cardio, "/Practitioner?family=x", http.StatusUnprocessableEntity},
		"twice":                   {d.cardio, "/Practitioner?name=a&name=b", http.StatusUnprocessableEntity},
		"bad identifier":          {d.cardio, "/Practitioner?identifier=123", http.StatusUnprocessableEntity},
		"foreign system":          {d.cardio, "/Practitioner?identifier=" + url.QueryEscape("http://example.org|"+d.cardioID), http.StatusUnprocessableEntity},
		"bad organisation":        {d.cardio, "/PractitionerRole?organization=Organization/x", http.StatusUnprocessableEntity},
		"bad email":               {d.cardio, "/PractitionerRole?email=nobody", http.StatusUnprocessableEntity},
		"bad _count":              {d.cardio, "/Organization?name=a&_count=0", http.StatusUnprocessableEntity},
		"bad _offset":             {d.cardio, "/Organization?name=a&_offset=-1", http.StatusUnprocessableEntity},
		"too far":                 {d.cardio, "/Organization?name=a&_offset=99999999", http.StatusUnprocessableEntity},
		"organisation identifier": {d.cardio, "/Organization?identifier=" + url.QueryEscape(fhir.SystemFINESS+"|12"), http.StatusUnprocessableEntity},
	} {
		t.Run(name, func(t *testing.T) {
			if res := d.get(t, tc.path, tc.token); res.status != tc.status {
				t.Errorf("%d, want %d: %s", res.status, tc.status, res.body)
			}
		})
	}
}

func TestDirectoryCapability(t *testing.T) {
	d := newDirEnv(t)
	res := d.get(t, "/metadata", "")
	var cs r4.CapabilityStatement
	if err := json.Unmarshal(res.body, &cs); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"Practitioner":     {"name", "identifier", "_count"},
		"PractitionerRole": {"practitioner", "organization", "role", "address-city", "email", "_count"},
		"Organization":     {"name", "identifier", "address-city", "_count"},
	}
	for _, r := range cs.Rest[0].Resource {
		if params, ok := want[r.Type]; ok {
			var got []string
			for _, p := range r.SearchParam {
				got = append(got, p.Name)
			}
			if !slices.Equal(got, params) || len(r.Interaction) != 2 {
				t.Errorf("%s: %v", r.Type, got)
			}
			delete(want, r.Type)
		}
	}
	if len(want) != 0 {
		t.Errorf("not in the CapabilityStatement: %v", want)
	}
	// Without a directory, the API has none of it.
	plain := newEnv(t)
	res = plain.do(t, http.MethodGet, "/metadata", "", "", nil)
	if strings.Contains(string(res.body), `"Practitioner"`) {
		t.Error("a CapabilityStatement without directory lists Practitioner")
	}
	_, tok := plain.professional(t, 1)
	if res := plain.do(t, http.MethodGet, "/Practitioner?name=x", tok, "", nil); res.status != http.StatusNotFound {
		t.Errorf("no directory: %d", res.status)
	}
}
