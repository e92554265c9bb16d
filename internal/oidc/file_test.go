package oidc

import (
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/errs"
)

func TestParseProviders(t *testing.T) {
	file := `# the two national providers
psc.kind = professional
psc.label = Pro Santé Connect
psc.issuer = https://auth.bas.esw.esante.gouv.fr/auth/realms/esante-wallet
psc.client_id = carnet
psc.client_secret = s3cret
psc.scopes = openid scope_all
psc.acr = eidas1

fc.kind = patient
fc.label = FranceConnect
fc.issuer = https://fcp.integ01.dev-franceconnect.fr
fc.client_id = carnet-fc
fc.client_secret = other
fc.claim_gender = sexe
`
	ps, err := ParseProviders(strings.NewReader(file), "https://carnet.example/")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Name != "psc" || ps[0].Kind != KindProfessional || ps[0].ACR != "eidas1" || ps[0].ClientSecret != "s3cret" ||
		ps[0].RedirectURL != "https://carnet.example/connexion/oidc/psc/retour" || strings.Join(ps[0].Scopes, " ") != "openid scope_all" {
		t.Fatalf("psc: %+v", ps[0])
	}
	if ps[1].Kind != KindPatient || ps[1].Claims.Gender != "sexe" || ps[1].Claims.BirthDate != DefaultClaims().BirthDate {
		t.Fatalf("fc: %+v", ps[1])
	}
	for _, bad := range []string{"psc = x", "psc.colour = blue", "psc.kind = robot\npsc.issuer = https://x\npsc.client_id = c", "Bad Name.kind = patient"} {
		if _, err := ParseProviders(strings.NewReader(bad), "https://carnet.example"); !errs.Is(err, errs.Invalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseProviders(f *testing.F) {
	f.Add("psc.kind = professional\npsc.issuer = https://x.example\npsc.client_id = c\n")
	f.Add("# c\n\nfc.claim_idnat = a, b\n")
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseProviders(strings.NewReader(s), "https://carnet.example")
		if err != nil && !errs.Is(err, errs.Invalid) {
			t.Fatalf("error not Invalid: %v", err)
		}
		for _, p := range ps {
			if err := p.validate(); err != nil {
				t.Fatalf("returned an invalid provider: %v", err)
			}
		}
	})
}
