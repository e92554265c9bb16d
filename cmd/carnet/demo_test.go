package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// carnet serve --demo seeds a small population once and prints sign-ins that work; carnet
// demo seed adds more, deterministically.
func TestServeDemo(t *testing.T) {
	dir := t.TempDir()
	db := dbArgs(t, dir)
	s := startServe(t, append([]string{"--demo"}, db...))
	out := s.stdout.String()
	m := regexp.MustCompile(`demo sign-in \(patient, [^)]*\): (\S+) / (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "demo: 12 adults") {
		t.Fatalf("serve --demo printed:\n%s", out)
	}
	// Conversations too, some of them ended by the professional.
	if mm := regexp.MustCompile(`(\d+) messages in (\d+) conversations \((\d+) ended\)`).FindStringSubmatch(out); mm == nil ||
		mm[1] == "0" || mm[2] == "0" || mm[3] == "0" {
		t.Fatalf("serve --demo sent no messages, or ended no conversation:\n%s", out)
	}
	login, pass := m[1], m[2]
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(s.base+"/connexion", url.Values{"identifiant": {login}, "mot_de_passe": {pass}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/connexion/code") {
		t.Fatalf("sign-in with the demonstration password: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	// The code is in the outbox, as an e-mail.
	var code string
	for deadline := time.Now().Add(10 * time.Second); code == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if bytes.Contains(b, []byte(login)) {
				if mm := regexp.MustCompile(`\b(\d{6})\b`).FindSubmatch(b); mm != nil {
					code = string(mm[1])
				}
			}
		}
	}
	if code == "" {
		t.Fatal("no sign-in code in the outbox")
	}
	res, err = c.PostForm(s.base+"/connexion/code", url.Values{"code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = c.Get(s.base + "/moi/documents")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "/moi/documents/") {
		t.Fatalf("the demonstration patient's documents: %d %.500s", res.StatusCode, body)
	}
	s.cancel()
	<-s.done

	var o, e bytes.Buffer
	if code := run(context.Background(), append([]string{"demo", "seed", "--size", "3", "--seed", "9"}, db...), &o, &e); code != 0 ||
		!strings.Contains(o.String(), "demo: 3 adults") {
		t.Fatalf("demo seed: %d %s %s", code, o.String(), e.String())
	}
}
