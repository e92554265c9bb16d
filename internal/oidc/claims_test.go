package oidc

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/space"
)

func TestNormaliseName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Dupont", "DUPONT"},
		{"  dupont  ", "DUPONT"},
		{"Lefèvre", "LEFEVRE"},
		{"LEFÈVRE", "LEFEVRE"},
		{"Hélène  Marie", "HELENE MARIE"},
		{"Jean-Pierre", "JEAN-PIERRE"},
		{"Jean - Pierre", "JEAN-PIERRE"},
		{"d’Arc", "D'ARC"},
		{"d' Arc", "D'ARC"},
		{"Œuvray", "OEUVRAY"},
		{"Lætitia", "LAETITIA"},
		{"Müller", "MULLER"},
		{"Nuñez", "NUNEZ"},
		{"Le Gall", "LE GALL"},
		{"Çelik", "CELIK"},
		{"Dupont2", "DUPONT"},
		{"", ""},
		{"---", "---"},
	} {
		if got := normaliseName(c.in); got != c.want {
			t.Errorf("normaliseName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if firstGivenName("Marie Louise") != "MARIE" || firstGivenName("Jean-Paul Louis") != "JEAN-PAUL" || firstGivenName(" ") != "" {
		t.Error("firstGivenName")
	}
}

func TestProfessionCode(t *testing.T) {
	for in, want := range map[string]string{
		"10": "G15_10", "G15_60": "G15_60", "10^1.2.250.1.213.1.1.5.5": "G15_10", " 21 ": "G15_21",
		"1": "", "100": "", "SM26": "", "G15_": "", "": "", "^10": "",
	} {
		if got := professionCode(in); got != want {
			t.Errorf("professionCode(%q) = %q, want %q", in, got, want)
		}
	}
	if got := professionCodes([]string{"10", "G15_10", "10^x", "60", "bad"}); !slices.Equal(got, []string{"G15_10", "G15_60"}) {
		t.Errorf("professionCodes: %v", got)
	}
}

func TestParseIdNat(t *testing.T) {
	for in, want := range map[string]string{
		"810100534436":      "810100534436", // 8 + RPPS
		"10100534436":       "810100534436", // a bare RPPS
		" 810100534436 ":    "810100534436",
		"ANS20231122132732": "", // the identifiers of Pro Santé Connect's test accounts
		"81010053443":       "",
		"":                  "",
	} {
		got, ok := parseIdNat(in)
		if got != want || ok != (want != "") {
			t.Errorf("parseIdNat(%q) = %q, %t; want %q", in, got, ok, want)
		}
	}
}

func claimsOf(t *testing.T, js string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestClaimPaths reads the claims of a real Pro Santé Connect UserInfo answer's shape.
func TestClaimPaths(t *testing.T) {
	c := claimsOf(t, `{"sub":"f:550dc1c8:810100534436","preferred_username":"810100534436","SubjectNameID":"810100534436",
		"SubjectRefPro":{"codeCivilite":"M","exercices":[
			{"codeProfession":"10","codeSavoirFaire":"SM26","activities":[{"codeModeExercice":"L"}]},
			{"codeProfession":"21","codeSavoirFaire":""}]},
		"SubjectRole":["10^1.2.250.1.213.1.1.5.5","21^1.2.250.1.213.1.1.5.5"],
		"num":10, "frac":1.5, "weird.key":"direct", "empty":"  "}`)
	d := DefaultClaims()
	if got := firstClaim(c, d.IdNat...); got != "810100534436" {
		t.Errorf("IdNat: %q", got)
	}
	if got := professionCodes(allClaims(c, d.Profession...)); !slices.Equal(got, []string{"G15_10", "G15_21"}) {
		t.Errorf("professions: %v", got)
	}
	if got := allClaims(c, d.Specialty...); !slices.Equal(got, []string{"SM26"}) {
		t.Errorf("specialties: %v", got)
	}
	for path, want := range map[string][]string{
		"num": {"10"}, "frac": nil, "weird.key": {"direct"}, "empty": nil, "SubjectRefPro": nil,
		"SubjectRefPro.exercices.activities.codeModeExercice": {"L"}, "missing.path": nil, "sub.x": nil,
	} {
		if got := claimStrings(c, path); !slices.Equal(got, want) {
			t.Errorf("claimStrings(%q) = %v, want %v", path, got, want)
		}
	}
	// Bounded, whatever the provider sends.
	many := map[string]any{"a": make([]any, 1000)}
	for i := range many["a"].([]any) {
		many["a"].([]any)[i] = "x"
	}
	if got := claimStrings(many, "a"); len(got) != maxClaimValues {
		t.Errorf("%d values collected", len(got))
	}
}

func TestPatientTraits(t *testing.T) {
	d := DefaultClaims()
	tr, ok := patientTraits(claimsOf(t, `{"given_name":"Hélène Marie","family_name":"Lefèvre","birthdate":"1980-05-12",
		"gender":"female","birthplace":"75056","birthcountry":"99100"}`), d)
	if !ok || tr.BirthName != "LEFEVRE" || tr.GivenName != "HELENE" || tr.Sex != space.Female ||
		!tr.BirthDate.Equal(time.Date(1980, 5, 12, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("traits: %+v %t", tr, ok)
	}
	for _, js := range []string{
		`{"given_name":"A","family_name":"B","birthdate":"1980-05-12"}`,                  // no gender
		`{"given_name":"A","family_name":"B","birthdate":"1980-05-12","gender":"other"}`, // neither F nor M
		`{"given_name":"A","family_name":"B","birthdate":"1980-05-00","gender":"male"}`,  // partial date
		`{"given_name":"A","family_name":"B","birthdate":"12/05/1980","gender":"male"}`,
		`{"given_name":" ","family_name":"B","birthdate":"1980-05-12","gender":"male"}`,
		`{"given_name":"A","family_name":"123","birthdate":"1980-05-12","gender":"male"}`,
		`{"given_name":["A"],"family_name":{"x":"B"},"birthdate":19800512,"gender":true}`,
	} {
		if tr, ok := patientTraits(claimsOf(t, js), d); ok {
			t.Errorf("%s: read as %+v", js, tr)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/moi": true, "/pro/patients?x=1#y": true, "/": true,
		"": false, "moi": false, "//evil.example": false, "/\\evil.example": false, "https://evil.example/": false,
		"/a\r\nSet-Cookie: x": false, "/\x00": false, "/" + strings.Repeat("a", 1024): false,
	} {
		if got := localPath(p); got != want {
			t.Errorf("localPath(%q) = %t", p, got)
		}
	}
}

func TestACR(t *testing.T) {
	rp := &relyingParty{cfg: Provider{ACR: "eidas2", ACRLevels: DefaultACRLevels}}
	for acr, want := range map[string]bool{"eidas1": false, "eidas2": true, "eidas3": true, "": false, "loa3": false, "EIDAS3": false} {
		if got := rp.acrEnough(acr); got != want {
			t.Errorf("acr %q: %t", acr, got)
		}
	}
	rp.cfg.ACR = ""
	if !rp.acrEnough("") || !rp.acrEnough("anything") {
		t.Error("no requirement refused something")
	}
}

func TestProviderValidation(t *testing.T) {
	good := Provider{Name: "psc", Kind: KindProfessional, Issuer: "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet",
		ClientID: "c", ClientSecret: "s", RedirectURL: "https://carnet.example/connexion/oidc/psc/retour",
		ACR: "eidas1", ACRLevels: DefaultACRLevels, Provision: ProvisionNone}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(p *Provider){
		"name":             func(p *Provider) { p.Name = "PSC!" },
		"kind":             func(p *Provider) { p.Kind = "operator" },
		"issuer":           func(p *Provider) { p.Issuer = "auth.example" },
		"secret":           func(p *Provider) { p.ClientSecret = "" },
		"redirect":         func(p *Provider) { p.RedirectURL = "https://carnet.example/callback" },
		"acr":              func(p *Provider) { p.ACR = "loa2" },
		"provision":        func(p *Provider) { p.Provision = "all" },
		"patient accounts": func(p *Provider) { p.Kind, p.Provision = KindPatient, ProvisionAccount },
	} {
		p := good
		f(&p)
		if err := p.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if got := withOpenID([]string{"scope_all", "profile scope_all"}); !slices.Equal(got, []string{"openid", "scope_all", "profile"}) {
		t.Errorf("scopes: %v", got)
	}
}

func TestFlowSeal(t *testing.T) {
	s, err := newSealer([]byte("oidc-flow-key-for-tests-32-bytes"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	f := flow{Provider: "psc", State: randomToken(), Nonce: randomToken(), Verifier: randomToken(), Return: "/pro", Expires: now.Add(time.Minute).Unix()}
	v, err := s.seal(f)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(v, f.State) || strings.Contains(v, f.Verifier) {
		t.Fatal("the sealed flow shows its secrets")
	}
	got, err := s.open(v, now)
	if err != nil || got != f {
		t.Fatalf("open: %+v, %v", got, err)
	}
	if _, err := s.open(v, now.Add(time.Minute)); err != errFlowExpired {
		t.Fatalf("expired flow: %v", err)
	}
	other, _ := newSealer([]byte("another-key-for-tests-32-bytes!!"))
	if _, err := other.open(v, now); err == nil {
		t.Fatal("opened under another key")
	}
	b := []byte(v)
	b[len(b)/2] ^= 1
	if _, err := s.open(string(b), now); err == nil {
		t.Fatal("opened an altered flow")
	}
	for _, bad := range []string{"", "x", strings.Repeat("A", maxSealed+1), v + "=", "!!!!"} {
		if _, err := s.open(bad, now); err == nil {
			t.Errorf("opened %q", bad)
		}
	}
	if _, err := newSealer([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestParseFlow(t *testing.T) {
	if _, err := parseFlow([]byte(`{"p":"psc","s":"s","n":"n","v":"v","r":"","e":1}`)); err != nil {
		t.Fatal(err)
	}
	for _, js := range []string{
		`{"p":"psc","s":"s","n":"n","v":"v","r":"","e":1,"x":1}`,
		`{"p":"psc","s":"s","n":"n","v":"v","r":"//evil","e":1}`,
		`{"p":"psc","s":"","n":"n","v":"v","r":"","e":1}`,
		`{"p":"psc","s":"s","n":"n","v":"v","r":"","e":0}`,
		`{"p":"psc","s":"s","n":"n","v":"v","r":"","e":1} {}`,
		`null`, `[]`, ``,
	} {
		if f, err := parseFlow([]byte(js)); err == nil {
			t.Errorf("%s: parsed as %+v", js, f)
		}
	}
}

func TestMessages(t *testing.T) {
	for code, m := range messages {
		if m.status < 400 || Message(code, "FranceConnect") == "" || strings.Contains(Message(code, "X"), "%") {
			t.Errorf("message %q", code)
		}
	}
	if Message("nope", "X") != "" {
		t.Error("unknown code has a message")
	}
	if got := Message(codeNoMatch, "FranceConnect"); !strings.Contains(got, "FranceConnect") {
		t.Errorf("label not put in: %q", got)
	}
}
