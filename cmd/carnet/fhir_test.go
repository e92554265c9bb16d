package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// The FHIR API is served by `carnet serve`, and a token issued by `carnet account token` opens
// it; a revoked token no longer does.
func TestFHIRWithATokenFromTheCLI(t *testing.T) {
	dir := t.TempDir()
	db := dbArgs(t, dir)
	cmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, db...), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errOut := cmd("space", "create", "--ins", "279035121518989", "--birth-name", "DUPONT",
		"--given-names", "Marie", "--birth-date", "1979-03-05", "--sex", "F"); code != 0 {
		t.Fatalf("create: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := cmd("account", "add-professional", "--idnat", "810100534436", "--family-name", "Martin",
		"--given-name", "Claire", "--profession", "G15_10"); code != 0 {
		t.Fatalf("add-professional: %d %s %s", code, out, errOut)
	}
	code, out, errOut := cmd("account", "token", "--idnat", "810100534436", "--days", "30", "--label", "LGC")
	m := regexp.MustCompile(`token ([0-9a-f]{16}) for professional, valid until \S+:\n(carnet_\S+)\n`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("token: %d %q %s", code, out, errOut)
	}
	id, secret := m[1], m[2]

	s := startServe(t, db)
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", s.base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/fhir/metadata", ""); code != 200 || !strings.Contains(body, `"CapabilityStatement"`) {
		t.Fatalf("metadata: %d %.300s", code, body)
	}
	lookup := "/fhir/Patient?identifier=" + url.QueryEscape("urn:oid:1.2.250.1.213.1.4.8|279035121518989")
	if code, body := get(lookup, secret); code != 200 || !strings.Contains(body, `"valueCode":"pending"`) {
		t.Fatalf("patient lookup: %d %.500s", code, body)
	}
	if code, _ := get(lookup, ""); code != 401 {
		t.Fatalf("without a token: %d", code)
	}
	if code, out, errOut := cmd("account", "revoke-token", "--id", id); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %d %s %s", code, out, errOut)
	}
	if code, body := get(lookup, secret); code != 401 {
		t.Fatalf("revoked token: %d %.300s", code, body)
	}
}
