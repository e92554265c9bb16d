package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/mail/mailtest"
)

// The load tool against carnet's submission listener, over STARTTLS and AUTH PLAIN: every
// message is acknowledged and delivered, spread over the recipients in turn; its JSON file reads
// back; a refused recipient counts as an error with its reply, and the session goes on.
func TestLoadAgainstSubmission(t *testing.T) {
	e := mailtest.New(t, mailtest.Options{})
	from := e.Professional(t, 1, "claire.martin", "Martin", "Claire")
	a := e.Professional(t, 2, "paul.durand", "Durand", "Paul")
	b := e.Professional(t, 3, "lea.petit", "Petit", "Léa")
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte(from.Password+"\n"), 0o600)
	out := filepath.Join(dir, "carnet.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"run", "--addr", e.Submission, "--insecure", "--sessions", "3", "--messages", "30",
		"--warmup", "3", "--size", "20480", "--user", from.Address, "--password-file", pw, "--from", from.Address,
		"--to", a.Address + "," + b.Address, "--spread", "--label", "carnet", "--json", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var rep Report
	raw, err := os.ReadFile(out)
	if err != nil || json.Unmarshal(raw, &rep) != nil {
		t.Fatalf("report: %v %s", err, raw)
	}
	if rep.Messages != 30 || rep.Errors != 0 || rep.PerSecond <= 0 || rep.P50 <= 0 || rep.P99 < rep.P50 || !rep.AUTH || !rep.TLS {
		t.Fatalf("report: %+v", rep)
	}
	if rep.SizeBytes < 20480*98/100 || rep.SizeBytes > 20480*102/100 {
		t.Fatalf("messages of %d bytes, want about 20480", rep.SizeBytes)
	}
	if !strings.Contains(stdout.String(), "carnet") || !strings.Contains(stdout.String(), "msgs/s") {
		t.Fatalf("table: %s", stdout.String())
	}
	da, db := e.Deliveries(t, a.Address), e.Deliveries(t, b.Address)
	if len(da)+len(db) != 33 || len(da) < 16 || len(db) < 16 {
		t.Fatalf("delivered %d and %d, want 33 spread over both", len(da), len(db))
	}
	// What was stored is a well-formed MIME message with its PDF.
	msg, err := mail.ReadMessage(strings.NewReader(e.ReadMessage(t, da[0].MessageID)))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, p.Header.Get("Content-Type"))
	}
	if len(types) != 2 || !strings.HasPrefix(types[1], "application/pdf") {
		t.Fatalf("parts: %v", types)
	}

	// A recipient carnet does not know: every message refused at RCPT, counted, reported.
	stdout.Reset()
	err = run(context.Background(), []string{"run", "--addr", e.Submission, "--insecure", "--sessions", "2", "--messages", "4",
		"--user", from.Address, "--password-file", pw, "--from", from.Address, "--to", "nobody@" + mailtest.Domain,
		"--json", filepath.Join(dir, "bad.json")}, &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "first error: RCPT nobody@") {
		t.Fatalf("refusals: %s", stdout.String())
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"compare", out, filepath.Join(dir, "bad.json")}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(stdout.String(), "\n"); lines != 3 {
		t.Fatalf("compare: %s", stdout.String())
	}
	if err := run(context.Background(), []string{"run", "--from", "x@y"}, io.Discard, io.Discard); err == nil {
		t.Fatal("a run without --to")
	}
}
