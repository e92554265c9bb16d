package mailserve_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/smtp"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/mail/mailserve"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/mail/smtpd"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

// The IMAP listener starts with the others, speaks STARTTLS with the SMTP listeners'
// certificate, and stops with them.
func TestStartIMAP(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	if _, err := jobs.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	master := []byte("0123456789abcdef0123456789abcdef")
	dir := t.TempDir()
	blobs, err := blob.NewFS(filepath.Join(dir, "blobs"), master)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mailserve.Start(ctx, mailserve.Config{Domain: "carnet.example", Hostname: "mail.carnet.example",
		SubmissionAddr: "127.0.0.1:0", IMAPAddr: "127.0.0.1:0", CertDir: filepath.Join(dir, "mail-tls")},
		mailserve.Deps{DB: db, Blobs: blobs, Clock: clock.System{}, Seal: master, Password: mailtest.CheapParams,
			Tokens: apitoken.NewService(db.Tokens(), clock.System{})})
	if err != nil {
		t.Fatal(err)
	}
	if m.IMAP == nil || m.IMAPAddr == nil {
		t.Fatal("no IMAP listener")
	}
	pem, err := os.ReadFile(filepath.Join(dir, "mail-tls", smtpd.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool, ServerName: "mail.carnet.example"}
	var imapCert []byte
	icfg := cfg.Clone()
	icfg.VerifyConnection = func(cs tls.ConnectionState) error {
		imapCert = cs.PeerCertificates[0].Raw
		if cs.Version < tls.VersionTLS12 {
			t.Errorf("TLS version %x", cs.Version)
		}
		return nil
	}
	c, err := imapclient.DialStartTLS(m.IMAPAddr.String(), &imapclient.Options{TLSConfig: icfg})
	if err != nil {
		t.Fatal(err)
	}
	caps, err := c.Capability().Wait()
	if err != nil || !caps.Has("AUTH=XOAUTH2") {
		t.Fatalf("capabilities: %v %v", caps, err)
	}
	c.Close()
	// The same certificate as SMTP submission's.
	sc, err := smtp.Dial(m.Listeners[0].Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.StartTLS(cfg); err != nil {
		t.Fatal(err)
	}
	smtpState, _ := sc.TLSConnectionState()
	sc.Close()
	if !bytes.Equal(imapCert, smtpState.PeerCertificates[0].Raw) {
		t.Fatal("IMAP and SMTP present different certificates")
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := m.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if _, err := imapclient.DialStartTLS(m.IMAPAddr.String(), &imapclient.Options{TLSConfig: cfg}); err == nil {
		t.Fatal("IMAP still listening after Shutdown")
	}
}
