package web

import (
	"math"
	"net/url"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/profile"
)

// The number typed in the measurement form: whatever it is, a finite number or a refusal.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"72,5", "72.5", " 1e3 ", "NaN", "Inf", "-0", "1,2,3", "", "0x10", strings.Repeat("9", 400)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := parseNumber(s)
		if ok && (math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("parseNumber(%q) = %v", s, v)
		}
	})
}

// The profile's forms: whatever is posted, the page reads an item of the form's section, and
// accepts it only with every required field filled and every choice one of those offered.
func FuzzProfileForm(f *testing.F) {
	f.Add("allergies", "substance=Arachide&type=allergy&status=active")
	f.Add("family_history", "relative=MTH&condition=Diab%C3%A8te&onset_age=55")
	f.Add("wishes", "wish_kind=organ_donation&consent=yes")
	f.Add("emergency_contacts", "name=Jean&phone=06")
	f.Add("vaccinations", "vaccine=ROR&date=2025-13-01")
	f.Add("blood_group", "abo=AB&rh=-")
	f.Fuzz(func(t *testing.T, section, body string) {
		s, ok := formSection(section)
		if !ok {
			return
		}
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		fields := fieldsOf(French, s, nil)
		it, valid := itemOf(French, s, fields, form)
		if it.Section != s {
			t.Fatalf("an item of %s read from a form of %s", it.Section, s)
		}
		if !valid {
			return
		}
		for _, fl := range fields {
			if fl.Error != "" {
				t.Fatalf("accepted with an error on %s: %s", fl.Name, fl.Error)
			}
			if fl.Required && fl.Value == "" {
				t.Fatalf("accepted without %s", fl.Name)
			}
			if fl.Kind == "select" && fl.Value != "" {
				found := false
				for _, o := range fl.Options {
					found = found || o.Value == fl.Value
				}
				if !found {
					t.Fatalf("accepted %s=%q, not offered", fl.Name, fl.Value)
				}
			}
			if fl.Hint == French.T("profile.hint.date") && fl.Value != "" && !profile.Date(fl.Value).Valid() {
				t.Fatalf("accepted the date %q", fl.Value)
			}
		}
	})
}
