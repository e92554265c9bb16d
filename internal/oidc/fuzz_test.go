package oidc

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzOpenFlow: the flow cookie comes from the browser. Whatever it holds, open answers
// without panicking, and only what the key sealed opens.
func FuzzOpenFlow(f *testing.F) {
	s, err := newSealer([]byte("oidc-flow-key-for-tests-32-bytes"))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	sealed := flow{Provider: "psc", State: "s", Nonce: "n", Verifier: "v", Return: "/moi", Expires: now.Add(time.Hour).Unix()}
	good, _ := s.seal(sealed) // the only flow ever sealed under this key, in any fuzzing process
	for _, seed := range []string{good, "", "A", strings.Repeat("A", 64), good[:len(good)-1], good + "A"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		fl, err := s.open(v, now)
		if err == nil && fl != sealed {
			t.Fatalf("opened a value the key did not seal: %q → %+v", v, fl)
		}
	})
}

// FuzzParseFlow: the decrypted payload is parsed strictly (a flow sealed by an older binary
// reaches a newer one): what parses is complete and its return path is local.
func FuzzParseFlow(f *testing.F) {
	f.Add([]byte(`{"p":"psc","s":"s","n":"n","v":"v","r":"/moi","e":1}`))
	f.Add([]byte(`{"p":"psc","s":"s","n":"n","v":"v","r":"//x","e":1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := parseFlow(b)
		if err != nil {
			return
		}
		if fl.Provider == "" || fl.State == "" || fl.Nonce == "" || fl.Verifier == "" || fl.Expires <= 0 ||
			(fl.Return != "" && !localPath(fl.Return)) {
			t.Fatalf("accepted %+v", fl)
		}
	})
}

// FuzzClaims: claims are the provider's JSON. Every reader takes any shape without
// panicking, stays bounded, and normalised names are stable.
func FuzzClaims(f *testing.F) {
	f.Add([]byte(`{"SubjectNameID":"810100534436","SubjectRefPro":{"exercices":[{"codeProfession":"10","codeSavoirFaire":"SM26"}]},
		"SubjectRole":["10^1.2.250.1.213.1.1.5.5"],"given_name":"Hélène Marie","family_name":"Lefèvre-d’Arc",
		"birthdate":"1980-05-12","gender":"female"}`))
	f.Add([]byte(`{"SubjectRefPro":[[[{"exercices":{"codeProfession":[10,"21",null]}}]]]}`))
	f.Add([]byte(`{"given_name":"  - ' Œ ß","family_name":"\u0301\u0301"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var claims map[string]any
		if json.Unmarshal(b, &claims) != nil {
			return
		}
		d := DefaultClaims()
		for _, p := range append(append(append([]string{}, d.IdNat...), d.Profession...), d.Specialty...) {
			if vs := claimStrings(claims, p); len(vs) > maxClaimValues {
				t.Fatalf("%d values at %s", len(vs), p)
			}
		}
		if id, ok := parseIdNat(firstClaim(claims, d.IdNat...)); ok && id == "" {
			t.Fatal("empty IdNat_PS accepted")
		}
		for _, c := range professionCodes(allClaims(claims, d.Profession...)) {
			if len(c) != len("G15_10") || !strings.HasPrefix(c, "G15_") {
				t.Fatalf("profession code %q", c)
			}
		}
		if tr, ok := patientTraits(claims, d); ok {
			if tr.BirthName == "" || tr.GivenName == "" || tr.BirthDate.IsZero() || (tr.Sex != "F" && tr.Sex != "M") {
				t.Fatalf("incomplete traits accepted: %+v", tr)
			}
		}
		for _, v := range allClaims(claims, d.FamilyName, d.GivenName) {
			n := normaliseName(v)
			if normaliseName(n) != n || !utf8.ValidString(n) || n != strings.TrimSpace(n) || strings.Contains(n, "  ") {
				t.Fatalf("normaliseName(%q) = %q is not a fixed point", v, n)
			}
		}
	})
}
