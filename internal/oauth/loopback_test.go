package oauth

import (
	"slices"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/access"
)

func TestRedirectMatchesLoopbackAnyPort(t *testing.T) {
	for _, c := range []struct {
		registered, asked string
		want              bool
	}{
		{"https://app.example/cb", "https://app.example/cb", true},
		{"https://app.example/cb", "https://app.example:8443/cb", false},
		{"http://127.0.0.1/cb", "http://127.0.0.1:51234/cb", true},
		{"http://127.0.0.1:8080/cb", "http://127.0.0.1:51234/cb", true},
		{"http://127.0.0.1:8080/cb", "http://127.0.0.1/cb", true},
		{"http://[::1]:8080/cb?x=1", "http://[::1]:9/cb?x=1", true},
		{"http://127.0.0.1/cb", "http://127.0.0.1:51234/cb2", false},
		{"http://127.0.0.1/cb", "http://127.0.0.1:51234/cb?x=1", false},
		{"http://127.0.0.1/cb", "http://127.0.0.1:51234/cb#f", false},
		{"http://127.0.0.1/cb", "http://[::1]:51234/cb", false},
		{"http://127.0.0.1/cb", "http://127.0.0.2:51234/cb", false},
		{"http://127.0.0.1/cb", "http://127.0.0.1.evil.example:80/cb", false},
		{"http://127.0.0.1/cb", "http://127.0.0.1:0/cb", false},
		{"http://127.0.0.1/cb", "http://127.0.0.1:65536/cb", false},
		{"http://127.0.0.1/cb", "http://127.0.0.1:/cb", false},
		{"http://127.0.0.1/cb", "http://127.0.0.1:+80/cb", false},
		{"http://127.0.0.1/cb", "http://user@127.0.0.1:80/cb", false},
		{"http://127.0.0.1/cb", "https://127.0.0.1:80/cb", false},
		{"http://localhost/cb", "http://localhost:8080/cb", false},
	} {
		if got := redirectMatches(c.registered, c.asked); got != c.want {
			t.Errorf("redirectMatches(%q, %q) = %v", c.registered, c.asked, got)
		}
	}
}

// Whatever is asked, a match differs from the registered URI by the port of a loopback
// IP literal at most.
func FuzzRedirectMatches(f *testing.F) {
	for _, s := range [][2]string{{"http://127.0.0.1/cb", "http://127.0.0.1:5000/cb"}, {"http://[::1]:1/a?b", "http://[::1]/a?b"},
		{"https://x.example/cb", "https://x.example/cb"}, {"http://127.0.0.1", "http://127.0.0.1:99999"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, registered, asked string) {
		if !redirectMatches(registered, asked) || registered == asked {
			return
		}
		rh, rr, ok1 := loopbackParts(registered)
		ah, ar, ok2 := loopbackParts(asked)
		if !ok1 || !ok2 || rh != ah || rr != ar || strings.Contains(asked, "#") || !strings.HasPrefix(asked, "http://"+ah) {
			t.Fatalf("%q matched %q", asked, registered)
		}
	})
}

func TestPatientScope(t *testing.T) {
	for _, s := range []string{"patient/Patient.r", "patient/Patient.rs", "patient/Patient.read"} {
		sc, err := ParseScope("launch/patient openid fhirUser "+s, nil)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if sc.Patient&PermRead == 0 || sc.Empty() || sc.HasData() {
			t.Fatalf("%s: %+v", s, sc)
		}
		if !slices.Equal(sc.Actions(), []access.Action{access.ActionSearch}) {
			t.Fatalf("%s: actions %v", s, sc.Actions())
		}
		if got := ResourceGrants(sc.String()); len(got) != 1 || !strings.HasPrefix(got[0], "Patient.r") {
			t.Fatalf("%s: grants %v of %q", s, got, sc.String())
		}
	}
	// An app reads the identity, never writes it; the consent page lets the patient refuse it.
	sc, err := ParseScope("patient/Patient.cruds patient/Observation.rs", nil)
	if err != nil {
		t.Fatal(err)
	}
	app := sc.forApp()
	if app.Patient != PermRead|PermSearch || app.String() != "patient/Observation.rs patient/Patient.rs" {
		t.Fatalf("for an app: %q", app.String())
	}
	if !slices.Contains(app.permItems(), permIdentity) {
		t.Fatalf("consent items %v", app.permItems())
	}
	if n := app.narrow([]string{permReadDocs}, nil, nil); n.Patient != 0 || n.Resources["Observation"] == 0 {
		t.Fatalf("narrowed: %q", n.String())
	}
	// Beyond the registration: refused, like any other type.
	if _, err := app.within(Scope{Context: ContextPatient, Resources: map[string]Perm{"Observation": PermRead | PermSearch}}); err == nil {
		t.Fatal("Patient.rs granted beyond the registration")
	}
	if got := app.intersect(Scope{Context: ContextPatient, Patient: PermRead}); got.Patient != PermRead {
		t.Fatalf("intersect: %q", got.String())
	}
}
