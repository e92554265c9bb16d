package mailserve_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net/smtp"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailserve"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/mail/smtpd"
	"github.com/carnet-sante/carnet/internal/shareddata"
	"github.com/carnet-sante/carnet/internal/store/storetest"
)

func TestStart(t *testing.T) {
	allowlist := shareddata.Dir(t, "mssante", "listeblanchemssante-2025-03-14.xml")
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
		RelayAddr: "127.0.0.1:0", SubmissionAddr: "127.0.0.1:0", CertDir: filepath.Join(dir, "mail-tls"), AllowlistFile: allowlist},
		mailserve.Deps{DB: db, Blobs: blobs, Clock: clock.System{}, Seal: master, Password: mailtest.CheapParams})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := m.Shutdown(sctx); err != nil {
			t.Error(err)
		}
	}()
	if len(m.Listeners) != 2 || m.Listeners[0].Channel != mail.Relay || m.Listeners[1].Channel != mail.Submission {
		t.Fatalf("listeners: %+v", m.Listeners)
	}
	// The allowlist was imported at start.
	if ok, err := m.Service.Allowed(ctx, "zenidoc.mssante.fr"); !ok || err != nil {
		t.Fatalf("allowlist not imported: %v %v", ok, err)
	}
	// The generated certificate: ECDSA P-256, for the host name.
	pem, err := os.ReadFile(filepath.Join(dir, "mail-tls", smtpd.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	for _, l := range m.Listeners {
		c, err := smtp.Dial(l.Addr.String())
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := c.Extension("STARTTLS"); !ok {
			t.Fatalf("%s: no STARTTLS", l.Channel)
		}
		if err := c.StartTLS(&tls.Config{RootCAs: pool, ServerName: "mail.carnet.example"}); err != nil {
			t.Fatalf("%s: %v", l.Channel, err)
		}
		st, _ := c.TLSConnectionState()
		key, ok := st.PeerCertificates[0].PublicKey.(*ecdsa.PublicKey)
		if !ok || key.Curve != elliptic.P256() || st.Version < tls.VersionTLS12 {
			t.Fatalf("%s: certificate key %T, TLS version %x", l.Channel, st.PeerCertificates[0].PublicKey, st.Version)
		}
		c.Close()
		// TLS 1.1 is refused (MSSanté: TLS 1.2 at least).
		old, err := smtp.Dial(l.Addr.String())
		if err != nil {
			t.Fatal(err)
		}
		if err := old.StartTLS(&tls.Config{RootCAs: pool, ServerName: "mail.carnet.example", MaxVersion: tls.VersionTLS11}); err == nil {
			t.Fatalf("%s: TLS 1.1 accepted", l.Channel)
		}
		old.Close()
	}
}
