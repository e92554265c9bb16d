package main

import (
	"regexp"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// carnet serve starts the IMAP listener and says where it listens; it offers STARTTLS and
// refuses LOGIN before it.
func TestServeStartsIMAP(t *testing.T) {
	s := startServe(t, dbArgs(t, t.TempDir()))
	m := regexp.MustCompile(`carnet IMAP listening on (\S+)`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("no IMAP listener printed:\n%s", s.stdout.String())
	}
	c, err := imapclient.DialInsecure(m[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Has(imap.CapStartTLS) || !caps.Has(imap.CapLoginDisabled) {
		t.Fatalf("capabilities: %v", caps)
	}
}
