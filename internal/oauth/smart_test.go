package oauth_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/oauth"
	"github.com/carnet-sante/carnet/internal/terminology"
)

// SMART App Launch discovery names the endpoints and what is supported, so that a SMART
// client library finds its way without configuration; every scope it lists is accepted.
func TestSmartConfiguration(t *testing.T) {
	e := newEnv(t)
	res, err := http.Get(e.srv.URL + "/.well-known/smart-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var conf struct {
		Issuer        string   `json:"issuer"`
		Authorize     string   `json:"authorization_endpoint"`
		Token         string   `json:"token_endpoint"`
		Introspection string   `json:"introspection_endpoint"`
		Revocation    string   `json:"revocation_endpoint"`
		Methods       []string `json:"code_challenge_methods_supported"`
		Scopes        []string `json:"scopes_supported"`
		Grants        []string `json:"grant_types_supported"`
		Capabilities  []string `json:"capabilities"`
	}
	if err := json.NewDecoder(res.Body).Decode(&conf); err != nil || res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("smart-configuration: %d %s %v", res.StatusCode, res.Header.Get("Content-Type"), err)
	}
	if conf.Issuer != e.srv.URL || conf.Authorize != e.srv.URL+"/oauth/authorize" || conf.Token != e.srv.URL+"/oauth/token" ||
		conf.Introspection != e.srv.URL+"/oauth/introspect" || conf.Revocation != e.srv.URL+"/oauth/revoke" ||
		!slices.Equal(conf.Methods, []string{"S256"}) || !slices.Contains(conf.Grants, "authorization_code") ||
		!slices.Contains(conf.Capabilities, "launch-standalone") || !slices.Contains(conf.Capabilities, "permission-v2") {
		t.Fatalf("smart-configuration: %+v", conf)
	}
	for _, s := range conf.Scopes {
		if _, err := oauth.ParseScope(s, e.Catalog); err != nil {
			t.Errorf("supported scope %q refused: %v", s, err)
		}
	}
}

// The profile's resources in SMART form: their permissions on the categories the document
// scopes (or the registration) name.
func TestProfileResourceScopes(t *testing.T) {
	e := newEnv(t)
	sc, err := oauth.ParseScope("patient/Observation.c patient/Immunization.rs patient/DocumentReference.r?category=11,52", e.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	// Each type keeps its own permissions (least privilege): Observation.c deposits no
	// document, and Immunization.rs creates no vaccination.
	if got := sc.String(); got != "patient/DocumentReference.r?category="+oauth.ClassSystem+"|11,"+oauth.ClassSystem+"|52 patient/Observation.c patient/Immunization.rs" {
		t.Fatalf("canonical: %s", got)
	}
	if got := oauth.ResourceGrants(sc.String()); !slices.Equal(got, []string{"DocumentReference.r", "Immunization.rs", "Observation.c"}) {
		t.Fatalf("resource grants: %v", got)
	}
	if got := oauth.ResourceGrants("patient/*.rs patient/Observation.c"); len(got) != 12 || !slices.Contains(got, "Observation.crs") ||
		!slices.Contains(got, "AuditEvent.rs") || !slices.Contains(got, "Patient.rs") {
		t.Fatalf("resource grants of *: %v", got)
	}
	if !slices.Contains(sc.Actions(), access.ActionDeposit) || !slices.Equal(sc.AppClasses(), []string{"11", "52"}) {
		t.Fatalf("actions %v classes %v", sc.Actions(), sc.AppClasses())
	}
	for _, bad := range []string{"patient/Observation.rs?category=11", "patient/Device.c", "patient/Observation.x"} {
		if _, err := oauth.ParseScope(bad, e.Catalog); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// ParseScope reads what clients send: whatever the string, it answers Invalid or a scope
// whose canonical form reads back the same, and never panics.
func FuzzParseScope(f *testing.F) {
	cat, err := terminology.Default()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range append(oauth.SupportedScopes(), "patient/Observation.c patient/DocumentReference.rs?category=11,"+oauth.ClassSystem+"|10",
		"patient/*.read offline_access launch/patient openid", "system/DocumentReference.cruds", "patient/Immunization.rs?category=52") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := oauth.ParseScope(s, cat)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		again, err := oauth.ParseScope(sc.String(), cat)
		if err != nil || again.String() != sc.String() {
			t.Fatalf("%q: canonical %q reads back as %q, %v", s, sc.String(), again.String(), err)
		}
	})
}
