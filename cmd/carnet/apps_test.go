package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The catalogue from the CLI, and carnet serve's side of it: a candidate cannot be connected,
// a referenced app reaches the sign-in, SMART discovery is served at the root and under /fhir.
func TestAppsFromTheCLI(t *testing.T) {
	dir := t.TempDir()
	db := dbArgs(t, dir)
	cmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, db...), &out, &errb)
		return code, out.String(), errb.String()
	}
	logo := filepath.Join(dir, "logo.png")
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logo, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	add := []string{"apps", "add", "--id", "suivi-tension", "--name", "Suivi Tension", "--publisher", "Santé Connectée SAS",
		"--category", "mesures", "--description", "Suivez votre tension.", "--website", "https://tension.example",
		"--privacy", "https://tension.example/confidentialite", "--data", "11=Enregistrer vos mesures de tension.",
		"--redirect-uri", "https://tension.example/callback", "--scope", "patient/Observation.c", "--logo", logo}
	if code, _, errOut := cmd(slicesWith(add, "--data", "11")...); code == 0 || !strings.Contains(errOut, "CLASS=JUSTIFICATION") {
		t.Fatalf("bad --data: %d %s", code, errOut)
	}
	code, out, errOut := cmd(add...)
	if code != 0 || !strings.Contains(out, "app suivi-tension (Suivi Tension) recorded as a candidate") ||
		!regexp.MustCompile(`client secret \(shown once\):\ncarnetcs_\S+\n`).MatchString(out) || !strings.Contains(out, "logo of suivi-tension saved") {
		t.Fatalf("apps add: %d %s %s", code, out, errOut)
	}
	if code, out, _ := cmd("apps", "list"); code != 0 || !strings.Contains(out, "suivi-tension\tSuivi Tension\tSanté Connectée SAS\tmesures\tcandidate") {
		t.Fatalf("apps list: %d %s", code, out)
	}
	if code, out, _ := cmd("apps", "update", "--id", "suivi-tension", "--description", "Nouvelle description."); code != 0 {
		t.Fatalf("apps update: %d %s", code, out)
	}
	code, out, _ = cmd("apps", "show", "--id", "suivi-tension")
	for _, want := range []string{"status\tcandidate", "data\t11 (Synthèse)\tEnregistrer vos mesures de tension.", "logo\timage/png",
		"description\tNouvelle description.", "redirect\thttps://tension.example/callback", "scopes\tpatient/Observation.c"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("apps show without %q: %d %s", want, code, out)
		}
	}

	s := startServe(t, db)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authorize := s.base + "/oauth/authorize?" + url.Values{"response_type": {"code"}, "client_id": {"suivi-tension"},
		"redirect_uri": {"https://tension.example/callback"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"}}.Encode()
	res, err := c.Get(authorize)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("a candidate's authorisation: %d", res.StatusCode)
	}
	if code, out, errOut := cmd("apps", "set-status", "--id", "suivi-tension", "--status", "referenced", "--reason", "dossier complet"); code != 0 ||
		!strings.Contains(out, "app suivi-tension is referenced") {
		t.Fatalf("set-status: %d %s %s", code, out, errOut)
	}
	if res, err = c.Get(authorize); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/connexion?") {
		t.Fatalf("a referenced app's authorisation, not signed in: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	for _, path := range []string{"/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"} {
		res, err := http.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
	}
	if code, out, _ := cmd("apps", "set-status", "--id", "suivi-tension", "--status", "withdrawn"); code != 0 ||
		!strings.Contains(out, "every grant and token of the app is revoked") {
		t.Fatalf("withdraw: %d %s", code, out)
	}
	if code, _, errOut := cmd("apps", "set-status", "--id", "suivi-tension", "--status", "referenced"); code == 0 ||
		!strings.Contains(errOut, "cannot become referenced") {
		t.Fatalf("a withdrawn app referenced again: %d %s", code, errOut)
	}
}

// slicesWith returns args with the value after flag replaced by v.
func slicesWith(args []string, flag, v string) []string {
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == flag {
			out[i+1] = v
		}
	}
	return out
}
