package oauth

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/terminology"
)

func catalog(tb testing.TB) *terminology.Catalog {
	tb.Helper()
	cat, err := terminology.Default()
	if err != nil {
		tb.Fatal(err)
	}
	return cat
}

// Least privilege: each resource type keeps the permissions asked for it. Observation.c does
// not deposit documents, Immunization.rs creates nothing, and narrowing on the consent page or
// to a registration applies to every type.
func TestScopeResourcesApart(t *testing.T) {
	cat := catalog(t)
	sc, err := ParseScope("patient/Observation.c patient/Immunization.rs patient/DocumentReference.r", cat)
	if err != nil {
		t.Fatal(err)
	}
	if got := ResourceGrants(sc.String()); !slices.Equal(got, []string{"DocumentReference.r", "Immunization.rs", "Observation.c"}) {
		t.Fatalf("grants %v of %s", got, sc)
	}
	if got := sc.narrow([]string{permReadDocs}, []string{"11"}, []string{"10", "11", "52"}).String(); got != "patient/DocumentReference.r?category="+ClassSystem+"|11 patient/Immunization.rs" {
		t.Errorf("narrowed to reading: %s", got)
	}
	reg, err := ParseScope("patient/Observation.crs patient/DocumentReference.rs", cat)
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.intersect(reg).String(); got != "patient/DocumentReference.r patient/Observation.c" {
		t.Errorf("within a narrower registration: %s", got)
	}
	if _, err := sc.within(reg); err == nil {
		t.Errorf("Immunization.rs within a registration without it")
	}
	// Categories without a document scope ride on the profile scopes, and read back the same.
	obs := Scope{Context: ContextPatient, Resources: map[string]Perm{"Observation": PermCreate}, Classes: []string{"11"}}
	again, err := ParseScope(obs.String(), cat)
	if err != nil || again.String() != obs.String() || !slices.Equal(again.Classes, []string{"11"}) || again.Documents != 0 {
		t.Errorf("%s reads back as %+v, %v", obs, again, err)
	}
	if _, err := ParseScope("patient/Observation.c?category=11", cat); err == nil {
		t.Errorf("a profile resource's category without its system (FHIR's observation categories are another)")
	}
	if got := ResourceGrants("patient/Observation.c?category=11 nonsense patient/Device.r patient/AuditEvent.x"); !slices.Equal(got, []string{"Observation.c"}) {
		t.Errorf("grants of a malformed scope: %v", got)
	}
}

func TestParseScope(t *testing.T) {
	cat := catalog(t)
	for _, tc := range []struct {
		in, canonical string
		actions       []access.Action
		classes       []string
	}{
		{"patient/DocumentReference.rs", "patient/DocumentReference.rs",
			[]access.Action{access.ActionRead, access.ActionList, access.ActionSearch}, []string{"*"}},
		{"patient/DocumentReference.read", "patient/DocumentReference.rs",
			[]access.Action{access.ActionRead, access.ActionList, access.ActionSearch}, []string{"*"}},
		{"patient/DocumentReference.c?category=90 patient/DocumentReference.s?category=" + ClassSystem + "|90",
			"patient/DocumentReference.cs?category=" + ClassSystem + "|90",
			[]access.Action{access.ActionSearch, access.ActionList, access.ActionDeposit}, []string{"90"}},
		{"patient/DocumentReference.r?category=11," + classSystemURL + "|10", "patient/DocumentReference.r?category=" + ClassSystem + "|10," + ClassSystem + "|11",
			[]access.Action{access.ActionRead, access.ActionList}, []string{"10", "11"}},
		{"patient/AuditEvent.s", "patient/AuditEvent.s", []access.Action{access.ActionReadTraces}, []string{"*"}},
		{"patient/*.rs  offline_access launch/patient openid fhirUser", "launch/patient patient/*.rs offline_access",
			[]access.Action{access.ActionRead, access.ActionList, access.ActionSearch, access.ActionReadTraces}, []string{"*"}},
		{"system/DocumentReference.cruds", "system/DocumentReference.cruds",
			[]access.Action{access.ActionRead, access.ActionList, access.ActionSearch, access.ActionDeposit}, []string{"*"}},
		{"", "", nil, []string{"*"}},
	} {
		sc, err := ParseScope(tc.in, cat)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := sc.String(); got != tc.canonical {
			t.Errorf("%q: canonical %q, want %q", tc.in, got, tc.canonical)
		}
		if got := sc.Actions(); !slices.Equal(got, tc.actions) {
			t.Errorf("%q: actions %v, want %v", tc.in, got, tc.actions)
		}
		if got := sc.AppClasses(); !slices.Equal(got, tc.classes) {
			t.Errorf("%q: classes %v, want %v", tc.in, got, tc.classes)
		}
		// The canonical form reads back the same.
		again, err := ParseScope(sc.String(), cat)
		if err != nil || again.String() != sc.String() {
			t.Errorf("%q: canonical form %q reads back as %q, %v", tc.in, sc.String(), again.String(), err)
		}
	}
	for _, bad := range []string{
		"patient/Encounter.rs", "patient/Observation.rs?category=11", "user/DocumentReference.rs", "patient/DocumentReference", "patient/DocumentReference.sr",
		"patient/DocumentReference.rr", "patient/DocumentReference.x", "patient/DocumentReference.rs?category=12",
		"patient/DocumentReference.rs?category=http://loinc.org|10", "patient/DocumentReference.rs?type=11488-4",
		"patient/AuditEvent.rs?category=10", "patient/DocumentReference.rs system/DocumentReference.rs",
		"patient/DocumentReference.rs?category=10 patient/DocumentReference.c?category=90",
		"patient/DocumentReference.rs?category=10 patient/*.c", "patient/DocumentReference.rs\u00e9", "patient/DocumentReference.\"rs\"",
		"admin", strings.Repeat("patient/AuditEvent.rs ", 100),
	} {
		if _, err := ParseScope(bad, cat); !errs.Is(err, errs.Invalid) {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
}

func TestScopeWithinAndNarrow(t *testing.T) {
	cat := catalog(t)
	parse := func(s string) Scope {
		t.Helper()
		sc, err := ParseScope(s, cat)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return sc
	}
	allowed := parse("patient/DocumentReference.crs?category=10,11,90 patient/AuditEvent.rs offline_access")
	for _, tc := range []struct{ req, want string }{
		{"patient/DocumentReference.rs", "patient/DocumentReference.rs?category=" + ClassSystem + "|10," + ClassSystem + "|11," + ClassSystem + "|90"},
		{"patient/DocumentReference.r?category=11", "patient/DocumentReference.r?category=" + ClassSystem + "|11"},
		{"patient/AuditEvent.rs offline_access", "patient/AuditEvent.rs offline_access"},
		{"patient/DocumentReference.cruds?category=90", "patient/DocumentReference.crs?category=" + ClassSystem + "|90"},
	} {
		got, err := parse(tc.req).forApp().within(allowed)
		if err != nil || got.String() != tc.want {
			t.Errorf("%q within: %q, %v; want %q", tc.req, got.String(), err, tc.want)
		}
	}
	for _, beyond := range []string{"patient/DocumentReference.rs?category=31", "system/DocumentReference.rs"} {
		if _, err := parse(beyond).forApp().within(allowed); err == nil {
			t.Errorf("%q within the registration", beyond)
		}
	}
	if _, err := parse("patient/AuditEvent.rs offline_access").within(parse("patient/AuditEvent.rs")); err == nil {
		t.Error("offline_access beyond the registration")
	}

	all := []string{"10", "11", "31", "42", "43", "44", "45", "52", "60", "90", "95"}
	every := parse("patient/DocumentReference.crs patient/AuditEvent.rs offline_access")
	for _, tc := range []struct {
		perms, classes []string
		want           string
	}{
		{[]string{"read", "deposit", "trail", "offline"}, all, every.String()},
		{[]string{"read"}, []string{"10", "90", "99"}, "patient/DocumentReference.rs?category=" + ClassSystem + "|10," + ClassSystem + "|90"},
		{[]string{"deposit", "trail"}, nil, "patient/AuditEvent.rs"},
		{[]string{"trail", "admin"}, all, "patient/AuditEvent.rs"},
		{nil, all, ""},
	} {
		if got := every.narrow(tc.perms, tc.classes, all).String(); got != tc.want {
			t.Errorf("narrow %v %v: %q, want %q", tc.perms, tc.classes, got, tc.want)
		}
	}
	// Narrowing never widens: a category not asked stays out.
	some := parse("patient/DocumentReference.rs?category=10")
	if got := some.narrow([]string{"read", "deposit"}, all, all).String(); got != "patient/DocumentReference.rs?category="+ClassSystem+"|10" {
		t.Errorf("narrow widened: %q", got)
	}
}

func TestRedirectURIs(t *testing.T) {
	for _, ok := range []string{"https://app.example/cb", "https://app.example/cb?x=1", "http://127.0.0.1:8765/cb", "http://[::1]/cb",
		"http://localhost:3000/cb", "com.example.app:/oauth2redirect"} {
		if err := validRedirectURI(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/cb", "https://app.example/cb#x", "http://app.example/cb", "https://user:pw@app.example/cb",
		"myapp:/cb", "javascript:alert(1)", "https:///cb", "https://app.example/c b"} {
		if err := validRedirectURI(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRegistrationRules(t *testing.T) {
	r := NewRegistry(nil, nil, catalog(t))
	app := func(mod func(*Client)) Client {
		c := Client{ID: "app-1", Name: "App", Type: Public, GrantTypes: []GrantType{GrantAuthorizationCode},
			Scope: "patient/DocumentReference.rs", RedirectURIs: []string{"https://a.example/cb"}}
		mod(&c)
		return c
	}
	for name, c := range map[string]Client{
		"bad id":                    app(func(c *Client) { c.ID = "-x" }),
		"no name":                   app(func(c *Client) { c.Name = " " }),
		"bad type":                  app(func(c *Client) { c.Type = "secret" }),
		"no grant":                  app(func(c *Client) { c.GrantTypes = nil }),
		"password grant":            app(func(c *Client) { c.GrantTypes = []GrantType{"password"} }),
		"refresh alone":             app(func(c *Client) { c.GrantTypes = []GrantType{GrantRefreshToken} }),
		"public client_credentials": app(func(c *Client) { c.GrantTypes = []GrantType{GrantClientCredentials}; c.RedirectURIs = nil }),
		"app with update":           app(func(c *Client) { c.Scope = "patient/DocumentReference.ru" }),
		"app with system scope":     app(func(c *Client) { c.Scope = "system/DocumentReference.rs" }),
		"app without redirect":      app(func(c *Client) { c.RedirectURIs = nil }),
		"app with a bad redirect":   app(func(c *Client) { c.RedirectURIs = []string{"http://a.example/cb"} }),
		"app with a subject":        app(func(c *Client) { c.Subject.Kind = "professional"; c.Subject.ProfessionalID = 1 }),
		"system client without subject": app(func(c *Client) {
			c.Type = Confidential
			c.GrantTypes = []GrantType{GrantClientCredentials}
			c.RedirectURIs = nil
			c.Scope = "system/*.rs"
		}),
	} {
		if _, err := r.validate(&c); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	c := app(func(c *Client) {
		c.GrantTypes = []GrantType{GrantRefreshToken, GrantAuthorizationCode, GrantAuthorizationCode}
	})
	sc, err := r.validate(&c)
	if err != nil || !sc.Offline || len(c.GrantTypes) != 2 {
		t.Errorf("app with refresh: %v %+v %v", sc, c, err)
	}
}

// TestLimiterBounded: the table never holds more than MaxKeys, and what it forgets first is
// what failed longest ago.
func TestLimiterBounded(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l, _ := newLimiters(clk, Limits{Free: 1, MaxKeys: 100})
	for i := range 1000 {
		clk.Advance(time.Millisecond)
		l.fail(strings.Repeat("k", i%7) + string(rune('a'+i%26)) + string(rune(i)))
		if len(l.entries) > 100 {
			t.Fatalf("%d entries", len(l.entries))
		}
	}
	l.fail("hot")
	l.fail("hot")
	if l.wait("hot") != time.Second {
		t.Errorf("hot key waits %s", l.wait("hot"))
	}
	clk.Advance(time.Second)
	if l.wait("hot") != 0 {
		t.Error("still shut after its delay")
	}
	for range 20 {
		l.fail("hot")
	}
	if w := l.wait("hot"); w != DefaultLimits().Max {
		t.Errorf("delay not capped: %s", w)
	}
}

// ResourceGrants reads the scope a token stores: whatever the string, it never panics and
// answers only types carnet serves, each with permissions in SMART v2's order.
func FuzzResourceGrants(f *testing.F) {
	for _, s := range []string{"patient/*.rs patient/Observation.c", "patient/DocumentReference.r?category=" + ClassSystem + "|10 patient/Immunization.rs",
		"system/DocumentReference.cruds", "patient/Observation.c?category=11 x/y.z patient/.r patient/AuditEvent."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, g := range ResourceGrants(s) {
			typ, perms, ok := strings.Cut(g, ".")
			p, valid := parsePerm(perms)
			if !ok || !valid || p.String() != perms || (typ != resDocuments && typ != resTrail && typ != resPatient && !slices.Contains(profileResources, typ)) {
				t.Fatalf("%q: grant %q", s, g)
			}
		}
	})
}
