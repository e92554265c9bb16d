package oidc

import (
	"bufio"
	"io"
	"strings"

	"github.com/carnet-sante/carnet/internal/errs"
)

// ParseProviders reads the operator's providers file (the config key oidc_providers_file):
// lines of "<provider>.<key> = <value>", blank lines and "#" comments ignored, one block of
// keys per provider, in the order the providers first appear:
//
//	psc.kind          = professional
//	psc.label         = Pro Santé Connect
//	psc.issuer        = https://auth.bas.esw.esante.gouv.fr/auth/realms/esante-wallet
//	psc.client_id     = carnet
//	psc.client_secret = …            (the file holds secrets: keep it readable by carnet only)
//	psc.scopes        = openid scope_all
//	psc.acr           = eidas1
//
// Other keys: acr_levels (comma-separated, lowest first), skip_userinfo (true/false),
// provision (none, account, directory), claim_idnat, claim_profession, claim_specialty,
// claim_family_name, claim_given_name, claim_birthdate, claim_gender (comma-separated claim
// names, replacing the defaults). Each provider's redirect URL is
// <publicURL>/connexion/oidc/<provider>/retour. A file of 1 MB at most.
func ParseProviders(r io.Reader, publicURL string) ([]Provider, error) {
	byName := map[string]*Provider{}
	var order []string
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		name, key, dotted := strings.Cut(strings.TrimSpace(k), ".")
		if !ok || !dotted {
			return nil, errs.E(errs.Invalid, "oidc providers, line %d: expected <provider>.<key> = <value>", n)
		}
		v = strings.TrimSpace(v)
		p := byName[name]
		if p == nil {
			p = &Provider{Name: name, Claims: DefaultClaims(), RedirectURL: strings.TrimSuffix(publicURL, "/") + "/connexion/oidc/" + name + "/retour"}
			byName[name] = p
			order = append(order, name)
		}
		list := func() []string {
			var out []string
			for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
				out = append(out, s)
			}
			return out
		}
		switch key {
		case "kind":
			p.Kind = Kind(v)
		case "label":
			p.Label = v
		case "issuer":
			p.Issuer = v
		case "client_id":
			p.ClientID = v
		case "client_secret":
			p.ClientSecret = v
		case "scopes":
			p.Scopes = strings.Fields(v)
		case "redirect_url":
			p.RedirectURL = v
		case "acr":
			p.ACR = v
		case "acr_levels":
			p.ACRLevels = list()
		case "skip_userinfo":
			p.SkipUserInfo = v == "true" || v == "yes" || v == "1"
		case "provision":
			p.Provision = Provision(v)
		case "claim_idnat":
			p.Claims.IdNat = list()
		case "claim_profession":
			p.Claims.Profession = list()
		case "claim_specialty":
			p.Claims.Specialty = list()
		case "claim_family_name":
			p.Claims.FamilyName = v
		case "claim_given_name":
			p.Claims.GivenName = v
		case "claim_birthdate":
			p.Claims.BirthDate = v
		case "claim_gender":
			p.Claims.Gender = v
		default:
			return nil, errs.E(errs.Invalid, "oidc providers, line %d: unknown key %q", n, key)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, errs.E(errs.Invalid, "oidc providers: %v", err)
	}
	out := make([]Provider, 0, len(order))
	for _, name := range order {
		p := *byName[name]
		if p.Label == "" {
			p.Label = name
		}
		if p.Provision == "" {
			p.Provision = ProvisionNone
		}
		if len(p.ACRLevels) == 0 {
			p.ACRLevels = DefaultACRLevels
		}
		if err := p.validate(); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
