package catalogue_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/catalogue"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/oauth"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

var (
	ctx      = context.Background()
	operator = audit.Actor{Kind: audit.ActorOperator, ID: "op-1", Name: "Équipe catalogue"}
)

type env struct {
	*recordtest.Env
	svc      *catalogue.Service
	registry *oauth.Registry
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := recordtest.New(t)
	reg := oauth.NewRegistry(e.DB.OAuth(), e.Clock, e.Catalog)
	return &env{Env: e, svc: catalogue.NewService(e.DB.Catalogue(), e.Clock, e.Catalog, reg), registry: reg}
}

func input(id string) catalogue.Input {
	return catalogue.Input{ID: id, Name: "Suivi Tension", Publisher: "Santé Connectée SAS", Category: "mesures",
		Description: "Suivez votre tension.\nPartagez vos mesures.", Website: "https://tension.example",
		PrivacyPolicy: "https://tension.example/confidentialite",
		Data: []catalogue.DataCategory{{Class: "11", Justification: "Enregistrer vos mesures de tension."},
			{Class: "10", Justification: "Afficher les comptes rendus de votre cardiologue."}},
		RedirectURIs: []string{"https://tension.example/callback"}, Scopes: "patient/DocumentReference.rs patient/Observation.c", Offline: true}
}

// An app is recorded as a candidate whose OAuth client is disabled; its client's scope is its
// SMART scopes restricted to its data categories; every change is traced with the operator.
func TestAddMakesADisabledClient(t *testing.T) {
	e := newEnv(t)
	a, secret, err := e.svc.Add(ctx, operator, audit.ChannelCLI, input("suivi-tension"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != catalogue.Candidate || !strings.HasPrefix(secret, oauth.SecretPrefix) {
		t.Fatalf("added: %+v secret %q", a, secret)
	}
	// Observation.c stays Observation's: it deposits no document (least privilege, issue 9 review).
	want := "patient/DocumentReference.rs?category=" + oauth.ClassSystem + "|10," + oauth.ClassSystem + "|11 patient/Observation.c offline_access"
	if a.ClientScope != want {
		t.Fatalf("client scope %q, want %q", a.ClientScope, want)
	}
	c, err := e.registry.Client(ctx, "suivi-tension")
	if err != nil || c.Enabled() || c.Scope != want || !c.Allows(oauth.GrantRefreshToken) || c.Type != oauth.Confidential {
		t.Fatalf("client: %+v %v", c, err)
	}
	got, err := e.svc.Get(ctx, "suivi-tension")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Suivi Tension" || len(got.Data) != 2 || got.Data[0].Class != "10" || got.Scopes != input("").Scopes ||
		!slices.Equal(got.RedirectURIs, []string{"https://tension.example/callback"}) || !got.Offline || got.Public {
		t.Fatalf("read back: %+v", got)
	}
	if _, _, err := e.svc.Add(ctx, operator, audit.ChannelCLI, input("suivi-tension")); !errs.Is(err, errs.Conflict) {
		t.Fatalf("same id twice: %v", err)
	}
	var n int
	if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM traces WHERE action = 'catalogue.add' AND actor_kind = 'operator' AND actor_id = 'op-1' AND object = 'app/suivi-tension'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("traces of add (one allowed, one refused): %d %v", n, err)
	}
}

// Bad input is refused with a clear error and records nothing.
func TestAddRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	for name, edit := range map[string]func(*catalogue.Input){
		"no publisher":          func(in *catalogue.Input) { in.Publisher = " " },
		"unknown category":      func(in *catalogue.Input) { in.Category = "jeux" },
		"no description":        func(in *catalogue.Input) { in.Description = "" },
		"http website":          func(in *catalogue.Input) { in.Website = "http://tension.example" },
		"privacy not a URL":     func(in *catalogue.Input) { in.PrivacyPolicy = "confidentialité" },
		"unknown class":         func(in *catalogue.Input) { in.Data[0].Class = "12" },
		"class twice":           func(in *catalogue.Input) { in.Data[1].Class = "11" },
		"short justification":   func(in *catalogue.Input) { in.Data[0].Justification = "parce que" },
		"no data for documents": func(in *catalogue.Input) { in.Data = nil },
		"data without scope":    func(in *catalogue.Input) { in.Scopes = "patient/AuditEvent.rs" },
		"system scope":          func(in *catalogue.Input) { in.Scopes = "system/DocumentReference.rs" },
		"category in scope":     func(in *catalogue.Input) { in.Scopes = "patient/DocumentReference.rs?category=10" },
		"unknown resource":      func(in *catalogue.Input) { in.Scopes = "patient/Encounter.rs" },
		"no redirect":           func(in *catalogue.Input) { in.RedirectURIs = nil },
		"http redirect":         func(in *catalogue.Input) { in.RedirectURIs = []string{"http://tension.example/cb"} },
		"bad id":                func(in *catalogue.Input) { in.ID = "-x" },
		"no name":               func(in *catalogue.Input) { in.Name = "" },
	} {
		in := input("app-" + strings.ReplaceAll(name, " ", "-"))
		in.Data = slices.Clone(in.Data)
		edit(&in)
		if _, _, err := e.svc.Add(ctx, operator, audit.ChannelCLI, in); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	apps, err := e.svc.List(ctx, catalogue.Filter{})
	if err != nil || len(apps) != 0 {
		t.Fatalf("refused input left %d apps (%v)", len(apps), err)
	}
	if cs, err := e.registry.Clients(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("refused input left %d clients (%v)", len(cs), err)
	}
}

// The status transitions: which are allowed, and what each does to the OAuth client.
func TestStatusTransitions(t *testing.T) {
	all := catalogue.Statuses()
	allowed := map[[2]catalogue.Status]bool{
		{catalogue.Candidate, catalogue.Referenced}: true, {catalogue.Candidate, catalogue.Withdrawn}: true,
		{catalogue.Referenced, catalogue.Suspended}: true, {catalogue.Referenced, catalogue.Withdrawn}: true,
		{catalogue.Suspended, catalogue.Referenced}: true, {catalogue.Suspended, catalogue.Withdrawn}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := from.CanBecome(to); got != allowed[[2]catalogue.Status{from, to}] {
				t.Errorf("%s -> %s: %v", from, to, got)
			}
		}
	}
	e := newEnv(t)
	if _, _, err := e.svc.Add(ctx, operator, audit.ChannelCLI, input("app")); err != nil {
		t.Fatal(err)
	}
	enabled := func() bool {
		c, err := e.registry.Client(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		return c.Enabled()
	}
	for _, step := range []struct {
		to      catalogue.Status
		ok      bool
		enabled bool
	}{
		{catalogue.Suspended, false, false}, // a candidate is not suspended
		{catalogue.Referenced, true, true},
		{catalogue.Candidate, false, true},
		{catalogue.Suspended, true, false},
		{catalogue.Referenced, true, true},
		{catalogue.Withdrawn, true, false},
		{catalogue.Referenced, false, false}, // withdrawn for good
		{"deleted", false, false},
	} {
		_, err := e.svc.SetStatus(ctx, operator, audit.ChannelWeb, "app", step.to, "contrôle")
		if (err == nil) != step.ok || (err != nil && !errs.Is(err, errs.Conflict) && !errs.Is(err, errs.Invalid)) {
			t.Fatalf("-> %s: %v", step.to, err)
		}
		if enabled() != step.enabled {
			t.Fatalf("-> %s: client enabled %v", step.to, !step.enabled)
		}
	}
	if _, err := e.svc.SetStatus(ctx, operator, audit.ChannelWeb, "nobody", catalogue.Referenced, ""); !errs.Is(err, errs.NotFound) {
		t.Fatalf("unknown app: %v", err)
	}
	if _, err := e.svc.Update(ctx, operator, audit.ChannelWeb, "app", input("")); !errs.Is(err, errs.Conflict) {
		t.Fatalf("a withdrawn app updated: %v", err)
	}
}

// grantFor stores a grant of app to patient pid with an access token under it, as the token
// endpoint does, and returns the token's secret.
func (e *env) grantFor(t *testing.T, app string, pid int64, scope string) string {
	t.Helper()
	sc, err := oauth.ParseScope(scope, e.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	secret, hash, tok, err := apitoken.Mint(apitoken.Token{Subject: apitoken.Subject{Kind: audit.ActorApp, PatientID: pid,
		Scopes: sc.Actions(), Classes: sc.AppClasses()}, ClientID: app, Label: "Suivi Tension", Scope: scope}, e.Clock.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	g := oauth.Grant{ID: "g-" + app + tok.ID[:6], ClientID: app, PatientID: pid, GrantedBy: "account-1", Scope: scope, CreatedAt: e.Clock.Now()}
	err = e.DB.OAuth().UpdateOAuth(ctx, func(tx oauth.Tx) error {
		if err := tx.InsertOAuthGrant(ctx, g); err != nil {
			return err
		}
		if err := tx.InsertAPIToken(ctx, hash, tok); err != nil {
			return err
		}
		return tx.LinkOAuthToken(ctx, tok.ID, g.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// Suspending revokes every grant and token at once; so does an update that changes what the
// app may be granted (patients consented to something else); an update that does not keeps them.
func TestSuspensionAndScopeChangeRevoke(t *testing.T) {
	e := newEnv(t)
	tokens := apitoken.NewService(e.DB.Tokens(), e.Clock)
	if _, _, err := e.svc.Add(ctx, operator, audit.ChannelCLI, input("app")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetStatus(ctx, operator, audit.ChannelCLI, "app", catalogue.Referenced, ""); err != nil {
		t.Fatal(err)
	}
	pid := e.Patient(t, recordtest.TestINS(t, 11))
	scope := "patient/DocumentReference.rs?category=" + oauth.ClassSystem + "|10"
	works := func(secret string) bool {
		_, err := tokens.Authenticate(ctx, secret)
		return err == nil
	}
	tok := e.grantFor(t, "app", pid, scope)
	// Same scope: a new description changes nothing for the patient.
	in := input("")
	in.Description = "Nouvelle description."
	a, err := e.svc.Update(ctx, operator, audit.ChannelWeb, "app", in)
	if err != nil || a.Description != "Nouvelle description." || !works(tok) {
		t.Fatalf("update keeping the scope: %v, token works %v", err, works(tok))
	}
	// A category less: the grants given under the former scope end; the app stays connectable.
	in.Data = []catalogue.DataCategory{{Class: "11", Justification: "Enregistrer vos mesures de tension."}}
	if a, err = e.svc.Update(ctx, operator, audit.ChannelWeb, "app", in); err != nil || works(tok) || len(a.Data) != 1 {
		t.Fatalf("update narrowing the scope: %v, token works %v", err, works(tok))
	}
	if c, _ := e.registry.Client(ctx, "app"); !c.Enabled() || strings.Contains(c.Scope, "|10") {
		t.Fatalf("client after the update: %+v", c)
	}
	conns, err := e.svc.Connected(ctx, pid)
	if err != nil || len(conns) != 1 || conns[0].Active || conns[0].App.ID != "app" {
		t.Fatalf("connections: %+v %v", conns, err)
	}
	tok = e.grantFor(t, "app", pid, scope)
	if !works(tok) {
		t.Fatal("a new grant's token does not work")
	}
	if _, err := e.svc.SetStatus(ctx, operator, audit.ChannelCLI, "app", catalogue.Suspended, "signalement"); err != nil {
		t.Fatal(err)
	}
	if works(tok) {
		t.Fatal("a suspended app's token still works")
	}
	if conns, _ = e.svc.Connected(ctx, pid); len(conns) != 2 || conns[0].Active || conns[1].Active {
		t.Fatalf("connections after suspension: %+v", conns)
	}
	var detail string
	if err := e.DB.SQL().QueryRow(`SELECT detail FROM traces WHERE action = 'catalogue.status' AND object = 'app/app' ORDER BY id DESC LIMIT 1`).Scan(&detail); err != nil ||
		!strings.Contains(detail, "referenced -> suspended") || !strings.Contains(detail, "signalement") {
		t.Fatalf("status trace: %q %v", detail, err)
	}
}

// The catalogue patients browse: referenced apps only, by category, by words whatever their
// accents and case.
func TestCatalogueListsReferencedApps(t *testing.T) {
	e := newEnv(t)
	for _, a := range []struct{ id, name, category, desc string }{
		{"tension", "Tension Facile", "mesures", "Mesurez votre tension artérielle."},
		{"glycemie", "Glycémie Suivi", "maladie-chronique", "Suivi du diabète."},
		{"sommeil", "Sommeil", "prevention", "Dormez mieux."},
	} {
		in := input(a.id)
		in.Name, in.Category, in.Description = a.name, a.category, a.desc
		if _, _, err := e.svc.Add(ctx, operator, audit.ChannelCLI, in); err != nil {
			t.Fatal(err)
		}
		if a.id != "sommeil" {
			if _, err := e.svc.SetStatus(ctx, operator, audit.ChannelCLI, a.id, catalogue.Referenced, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	ids := func(category, q string) []string {
		apps, err := e.svc.Catalogue(ctx, category, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range apps {
			out = append(out, a.ID)
		}
		return out
	}
	for _, tc := range []struct {
		category, q string
		want        []string
	}{
		{"", "", []string{"glycemie", "tension"}},
		{"mesures", "", []string{"tension"}},
		{"", "GLYCEMIE", []string{"glycemie"}},
		{"", "artérielle tension", []string{"tension"}},
		{"", "dormez", nil},
		{"prevention", "", nil},
	} {
		if got := ids(tc.category, tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("catalogue %q %q: %v, want %v", tc.category, tc.q, got, tc.want)
		}
	}
	if _, err := e.svc.Referenced(ctx, "sommeil"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("a candidate read as referenced: %v", err)
	}
	d, err := e.svc.Description(ctx, "tension")
	if err != nil || d.Publisher != "Santé Connectée SAS" || d.Categories["11"].Justification != "Enregistrer vos mesures de tension." ||
		!strings.Contains(d.Categories["11"].Includes, "allergies") || d.Categories["10"].Includes != "" {
		t.Fatalf("description: %+v %v", d, err)
	}
	if _, err := e.svc.Description(ctx, "sommeil"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("a candidate described for consent: %v", err)
	}
}

func testPNG(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A logo is a real PNG or JPEG, bounded; anything else is refused and nothing is stored.
func TestLogo(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.svc.Add(ctx, operator, audit.ChannelCLI, input("app")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Logo(ctx, "app", false); !errs.Is(err, errs.NotFound) {
		t.Fatalf("no logo yet: %v", err)
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 4, 4)), nil); err != nil {
		t.Fatal(err)
	}
	good := testPNG(t, 16, 16)
	for name, tc := range map[string]struct {
		data []byte
		typ  string
	}{
		"png":       {good, "image/png"},
		"jpeg":      {jpg.Bytes(), "image/jpeg"},
		"svg":       {[]byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), ""},
		"truncated": {good[:len(good)/2], ""},
		"too wide":  {testPNG(t, 2000, 1), ""},
		"empty":     {nil, ""},
		"html":      {[]byte("<html><script>x</script>"), ""},
		"too big":   {append(slices.Clone(good), make([]byte, catalogue.MaxLogoBytes)...), ""},
	} {
		typ, err := catalogue.CheckLogo(tc.data)
		if typ != tc.typ || (tc.typ == "") != errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %q %v", name, typ, err)
		}
		if tc.typ == "" {
			if err := e.svc.SetLogo(ctx, operator, audit.ChannelCLI, "app", tc.data); !errs.Is(err, errs.Invalid) {
				t.Errorf("%s: set: %v", name, err)
			}
		}
	}
	for _, logo := range [][]byte{good, jpg.Bytes()} {
		if err := e.svc.SetLogo(ctx, operator, audit.ChannelCLI, "app", logo); err != nil {
			t.Fatal(err)
		}
	}
	typ, data, err := e.svc.Logo(ctx, "app", false)
	if err != nil || typ != "image/jpeg" || !bytes.Equal(data, jpg.Bytes()) {
		t.Fatalf("logo kept: %q %d %v", typ, len(data), err)
	}
	if _, _, err := e.svc.Logo(ctx, "app", true); !errs.Is(err, errs.NotFound) {
		t.Fatalf("a candidate's logo served to patients: %v", err)
	}
}

// CheckLogo reads images from outside: whatever the bytes, it answers a type it decoded or
// Invalid, and never panics.
func FuzzCheckLogo(f *testing.F) {
	f.Add(testPNG(f, 3, 3))
	var jpg bytes.Buffer
	jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 2, 2)), nil)
	f.Add(jpg.Bytes())
	f.Add([]byte("GIF89a"))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, err := catalogue.CheckLogo(data)
		switch {
		case err == nil && typ != "image/png" && typ != "image/jpeg":
			t.Fatalf("accepted as %q", typ)
		case err != nil && (!errs.Is(err, errs.Invalid) || typ != ""):
			t.Fatalf("refusal %q %v", typ, err)
		}
	})
}
