package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/carnet-sante/carnet/internal/audit"
	appcat "github.com/carnet-sante/carnet/internal/catalogue"
	"github.com/carnet-sante/carnet/internal/fhir/fhirtest"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
)

// smartRedirect is registered without a port: a native SMART app listens on the loopback
// at whatever port it got (RFC 8252 §7.3), here another one at each request.
const smartRedirect = "http://127.0.0.1/callback"

// What a SMART client library does first, with golang.org/x/oauth2: discovery from the FHIR
// base, a standalone patient launch with PKCE S256 and the scopes SMART apps commonly ask
// (openid and fhirUser among them, which carnet drops), the token answer's patient, then the
// Patient of that context and the patient's Observations. Its loopback redirect URI comes
// back with a port of its own.
func TestSmartClientLibraryEndToEnd(t *testing.T) {
	p := newAppsPortal(t)
	ctx := context.Background()
	by := audit.Actor{Kind: audit.ActorOperator, ID: "op-3", Name: "Équipe catalogue"}
	a, secret, err := p.apps.Add(ctx, by, audit.ChannelCLI, appcat.Input{ID: "smart-tension", Name: "Tension SMART", Publisher: "Éditeur SMART",
		Category: "mesures", Description: "Vos mesures, sur votre ordinateur.", Website: "https://smart.example",
		PrivacyPolicy: "https://smart.example/vie-privee",
		Data:          []appcat.DataCategory{{Class: "11", Justification: "Afficher vos mesures de tension."}},
		RedirectURIs:  []string{smartRedirect}, Scopes: "launch/patient patient/Patient.rs patient/Observation.rs offline_access", Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.apps.SetStatus(ctx, by, audit.ChannelCLI, a.ID, appcat.Referenced, ""); err != nil {
		t.Fatal(err)
	}

	b, pid, ins, _ := p.patientSignedIn(t, 430)
	// Another app pushes a measurement, for the SMART app to find.
	pusher := p.healthApp(t, "mon-carnet-plus")
	pushTok := grant(t, b, pusher, nil, nil)
	if st, body := fhirCall(t, p.srv.URL, pushTok, "POST", "/Observation", fmt.Sprintf(bloodPressure, pid)); st != http.StatusCreated {
		t.Fatalf("push: %d %.500s", st, body)
	}
	// That app was not granted Patient: it does not read the identity.
	if st, body := fhirCall(t, p.srv.URL, pushTok, "GET", fmt.Sprint("/Patient/", pid), ""); st != http.StatusForbidden {
		t.Fatalf("Patient read without Patient.r: %d %.300s", st, body)
	}

	endpoint, conf := discovery(t, p.srv.URL)
	if !slices.Contains(strings.Fields(strings.Trim(fmt.Sprint(conf["scopes_supported"]), "[]")), "patient/Patient.rs") {
		t.Fatalf("scopes_supported: %v", conf["scopes_supported"])
	}
	scopes := []string{"launch/patient", "openid", "fhirUser", "patient/Patient.rs", "patient/Observation.rs", "offline_access"}
	app := func(port int) *oauth2.Config {
		return &oauth2.Config{ClientID: a.ID, ClientSecret: secret, Endpoint: endpoint, Scopes: scopes,
			RedirectURL: fmt.Sprintf("http://127.0.0.1:%d/callback", port)}
	}

	// A redirect URI that differs elsewhere than the loopback's port is unknown.
	for _, bad := range []string{"http://127.0.0.1:53682/callback2", "http://localhost:53682/callback", "http://[::1]:53682/callback"} {
		c := app(0)
		c.RedirectURL = bad
		req, _ := http.NewRequest("GET", c.AuthCodeURL("x", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
		if pg := b.do(req); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "Adresse de retour inconnue") {
			t.Fatalf("redirect %s: %d %.300s", bad, pg.status, pg.body)
		}
	}

	connect := func(port int, edit func(url.Values)) (*oauth2.Config, *oauth2.Token, string) {
		t.Helper()
		c := app(port)
		verifier := oauth2.GenerateVerifier()
		code, page := smartConsent(t, b, c.AuthCodeURL("etat-smart", oauth2.S256ChallengeOption(verifier)), c.RedirectURL, edit)
		tok, err := c.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		return c, tok, page
	}
	c, tok, page := connect(53682, nil)
	if !strings.Contains(page, "Connaître votre identité") {
		t.Fatalf("the consent page does not say the app reads the identity: %.3000s", page)
	}
	if tok.Extra("patient") != strconv.FormatInt(pid, 10) || tok.RefreshToken == "" {
		t.Fatalf("token answer: patient %v, refresh %q", tok.Extra("patient"), tok.RefreshToken)
	}
	granted := strings.Fields(fmt.Sprint(tok.Extra("scope")))
	for _, want := range []string{"launch/patient", "patient/Patient.rs", "offline_access"} {
		if !slices.Contains(granted, want) {
			t.Fatalf("granted scope %v without %s", granted, want)
		}
	}
	if slices.Contains(granted, "openid") || slices.Contains(granted, "fhirUser") {
		t.Fatalf("granted scope %v holds what is not served", granted)
	}

	// The launch context's Patient, as the library's first call reads it.
	patient := fmt.Sprint(tok.Extra("patient"))
	st, body := fhirCall(t, p.srv.URL, tok.AccessToken, "GET", "/Patient/"+patient, "")
	if st != http.StatusOK {
		t.Fatalf("Patient/%s: %d %.500s", patient, st, body)
	}
	fhirtest.Validate(t, []byte(body))
	var pat r4.Patient
	if err := json.Unmarshal([]byte(body), &pat); err != nil {
		t.Fatal(err)
	}
	sys, val := ins.FHIR()
	if pat.ID != patient || len(pat.Identifier) != 1 || pat.Identifier[0].System != sys || pat.Identifier[0].Value != val ||
		pat.Gender != "female" || string(pat.BirthDate) != "1980-05-12" || len(pat.Name) == 0 || pat.Name[0].Family != "DUPONT" {
		t.Fatalf("the Patient: %s", body)
	}
	st, body = fhirCall(t, p.srv.URL, tok.AccessToken, "GET", "/Patient?_id="+patient, "")
	if st != http.StatusOK || searchTotal(t, body) != 1 {
		t.Fatalf("Patient?_id: %d %.300s", st, body)
	}
	fhirtest.Validate(t, []byte(body))
	st, body = fhirCall(t, p.srv.URL, tok.AccessToken, "GET", "/Observation?patient=Patient/"+patient, "")
	if st != http.StatusOK || searchTotal(t, body) != 1 || !strings.Contains(body, "85354-9") {
		t.Fatalf("Observation search: %d %.500s", st, body)
	}
	fhirtest.Validate(t, []byte(body))
	// Observation.rs writes nothing.
	if st, _ := fhirCall(t, p.srv.URL, tok.AccessToken, "POST", "/Observation", fmt.Sprintf(bloodPressure, pid)); st != http.StatusForbidden {
		t.Fatalf("push with Observation.rs: %d", st)
	}

	// Another patient's Patient, existing or not: 404 alike, nothing of them.
	other := p.Patient(t, recordtest.TestINS(t, 431))
	for _, id := range []string{strconv.FormatInt(other, 10), "987654321"} {
		st, body := fhirCall(t, p.srv.URL, tok.AccessToken, "GET", "/Patient/"+id, "")
		if st != http.StatusNotFound || strings.Contains(body, "DUPONT") {
			t.Fatalf("Patient/%s: %d %.300s", id, st, body)
		}
		fhirtest.Validate(t, []byte(body))
	}

	// The reads are traced in the patient's chain with the app as actor; the other patient's
	// chain holds nothing of this app.
	var n int
	if err := p.DB.SQL().QueryRow(`SELECT COUNT(*) FROM traces WHERE patient_id = $1 AND actor_kind = 'app' AND actor_name = 'Tension SMART'
		AND action = 'record.search' AND outcome = 'allowed'`, pid).Scan(&n); err != nil || n < 3 {
		t.Fatalf("the app's reads traced: %d %v", n, err)
	}
	if err := p.DB.SQL().QueryRow(`SELECT COUNT(*) FROM traces WHERE patient_id = $1 AND actor_kind = 'app'`, other).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the other patient's chain names the app: %d %v", n, err)
	}

	// A refreshed token keeps the launch context.
	fresh, err := c.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := fhirCall(t, p.srv.URL, fresh.AccessToken, "GET", "/Patient/"+patient, ""); st != http.StatusOK {
		t.Fatalf("refreshed token: %d", st)
	}

	// Connected again from another port, the patient keeps their identity to themselves: the
	// app reads the Observations, not the Patient.
	_, tok, _ = connect(61001, func(f url.Values) {
		f["perm"] = slices.DeleteFunc(f["perm"], func(s string) bool { return s == "identity" })
	})
	if slices.Contains(strings.Fields(fmt.Sprint(tok.Extra("scope"))), "patient/Patient.rs") {
		t.Fatalf("identity unticked but granted: %v", tok.Extra("scope"))
	}
	if st, _ := fhirCall(t, p.srv.URL, tok.AccessToken, "GET", "/Patient/"+patient, ""); st != http.StatusForbidden {
		t.Fatalf("Patient read with the identity refused: %d", st)
	}
	if st, _ := fhirCall(t, p.srv.URL, tok.AccessToken, "GET", "/Observation?patient=Patient/"+patient, ""); st != http.StatusOK {
		t.Fatalf("Observation search after a narrower consent: %d", st)
	}
}

// smartConsent is consent for a redirect URI of the app's choosing: it opens authURL in b,
// allows what the form offers (edit may change it), and checks that the browser is sent back
// to redirect with the state and a code.
func smartConsent(t *testing.T, b *browser, authURL, redirect string, edit func(url.Values)) (string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", authURL, nil)
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("consent page: %d %.500s", res.StatusCode, body)
	}
	f := url.Values{}
	for _, m := range consentHidden.FindAllStringSubmatch(string(body), -1) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	for _, m := range consentCheckbox.FindAllStringSubmatch(string(body), -1) {
		f.Add(m[1], html.UnescapeString(m[2]))
	}
	if edit != nil {
		edit(f)
	}
	f.Set("decision", "allow")
	pg := b.post("/oauth/authorize", f)
	loc, err := url.Parse(pg.location)
	if pg.status != http.StatusSeeOther || err != nil || !strings.HasPrefix(pg.location, redirect+"?") {
		t.Fatalf("consent answered %d %s, not %s: %.500s", pg.status, pg.location, redirect, pg.body)
	}
	if loc.Query().Get("state") != "etat-smart" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect without state or code: %s", pg.location)
	}
	return loc.Query().Get("code"), html.UnescapeString(string(body))
}
