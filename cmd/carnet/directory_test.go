package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// `carnet serve` publishes the MSSanté directory over FHIR once the messaging runs: a mailbox
// made by `carnet mail mailbox add` is found by a professional's token, and the
// CapabilityStatement lists the directory's resources.
func TestServeDirectory(t *testing.T) {
	dir := t.TempDir()
	db := dbArgs(t, dir)
	cmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, db...), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errOut := cmd("account", "add-professional", "--idnat", "810100534436", "--family-name", "Martin",
		"--given-name", "Claire", "--profession", "G15_10"); code != 0 {
		t.Fatalf("add-professional: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := cmd("mail", "mailbox", "add", "--kind", "PER", "--local", "claire.martin", "--idnat", "810100534436"); code != 0 {
		t.Fatalf("mailbox add: %d %s %s", code, out, errOut)
	}
	code, out, errOut := cmd("account", "token", "--idnat", "810100534436", "--days", "1", "--label", "LGC")
	m := regexp.MustCompile(`\n(carnet_\S+)\n`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("token: %d %q %s", code, out, errOut)
	}
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
	if code, body := get("/fhir/metadata", ""); code != 200 || !strings.Contains(body, `"type":"PractitionerRole"`) {
		t.Fatalf("metadata: %d %.300s", code, body)
	}
	if code, body := get("/fhir/PractitionerRole?practitioner=Practitioner/810100534436", m[1]); code != 200 ||
		!strings.Contains(body, `"system":"email","value":"claire.martin@`) || !strings.Contains(body, `"total":1`) {
		t.Fatalf("directory: %d %.500s", code, body)
	}
	if code, _ := get("/fhir/Practitioner?name=martin", ""); code != 401 {
		t.Fatalf("without a token: %d", code)
	}
}
