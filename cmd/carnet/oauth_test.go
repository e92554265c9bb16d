package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// A professional's software registered with carnet oauth add gets a token by
// client_credentials from carnet serve, and the FHIR API accepts it; disabled, it gets none.
func TestOAuthClientFromTheCLI(t *testing.T) {
	db := dbArgs(t, t.TempDir())
	cmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, db...), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errOut := cmd("account", "add-professional", "--idnat", "810100534436", "--family-name", "Martin",
		"--given-name", "Claire", "--profession", "G15_10"); code != 0 {
		t.Fatalf("add-professional: %d %s %s", code, out, errOut)
	}
	code, out, errOut := cmd("oauth", "add", "--name", "LGC cabinet Martin", "--grant", "client_credentials", "--idnat", "810100534436",
		"--scope", "system/DocumentReference.rs")
	m := regexp.MustCompile(`client (\S+) \(.*\n.*\n(\S+)\n`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("oauth add: %d %q %s", code, out, errOut)
	}
	id, secret := m[1], m[2]
	if code, out, _ := cmd("oauth", "list"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "enabled") {
		t.Fatalf("oauth list: %d %s", code, out)
	}

	s := startServe(t, db)
	token := func() (int, string) {
		req, _ := http.NewRequest("POST", s.base+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			AccessToken string `json:"access_token"`
		}
		b, _ := io.ReadAll(res.Body)
		json.Unmarshal(b, &body)
		return res.StatusCode, body.AccessToken
	}
	status, tok := token()
	if status != 200 || !strings.HasPrefix(tok, "carnet_") {
		t.Fatalf("token: %d %q", status, tok)
	}
	req, _ := http.NewRequest("GET", s.base+"/fhir/Patient?identifier="+url.QueryEscape("urn:oid:1.2.250.1.213.1.4.8|279035121518989"), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusUnauthorized {
		t.Fatalf("the FHIR API refuses the OAuth token: %d", res.StatusCode)
	}
	res, err = http.Get(s.base + "/.well-known/oauth-authorization-server")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("metadata: %v %v", res, err)
	}
	res.Body.Close()
	if code, out, errOut := cmd("oauth", "disable", "--id", id); code != 0 {
		t.Fatalf("disable: %d %s %s", code, out, errOut)
	}
	if status, _ := token(); status != http.StatusUnauthorized {
		t.Fatalf("a disabled client's token request: %d", status)
	}
}
