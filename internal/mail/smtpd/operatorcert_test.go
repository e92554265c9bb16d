package smtpd_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/smtp"
	"os"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/mail/smtpd"
	"github.com/carnet-sante/carnet/internal/shareddata"
)

// pki is a test certification authority standing for the health PKI.
type pki struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newPKI(t *testing.T, name string) pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name, Organization: []string{"Test PKI"}},
		NotBefore: mailtest.T0.Add(-time.Hour), NotAfter: mailtest.T0.Add(24 * 365 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return pki{cert, key}
}

func (p pki) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.cert)
	return pool
}

// client issues an operator's client certificate for subject.
func (p pki) client(t *testing.T, serial int64, subject pkix.Name) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: subject, NotBefore: mailtest.T0.Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// With operator certificates required, the relay takes a domain's mail only from the
// operator whose certificate's subject the published allowlist gives for that domain: the
// real file's DNs (in their own attribute order) against certificates written by Go; another
// operator of the trust space cannot send as that domain, nor can anyone without a certificate
// or with one the health PKI did not issue; a bounce's From is held to the same rule.
func TestRelayChecksOperatorCertificates(t *testing.T) {
	health, foreign := newPKI(t, "Test health PKI"), newPKI(t, "Another PKI")
	e := mailtest.New(t, mailtest.Options{
		SMTP:   func(o *smtpd.Options) { o.OperatorCAs = health.pool() },
		Config: func(c *mail.Config) { c.OperatorCertificates = true },
	})
	f, err := os.Open(shareddata.Dir(t, "mssante", "listeblanchemssante-2025-03-14.xml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := e.Mail.RefreshAllowlist(context.Background(), e.Admin, f); err != nil {
		t.Fatal(err)
	}
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	// Published for adsea29.mssante.fr (and 2,781 other domains):
	// CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR
	mipih := pkix.Name{CommonName: "medimail-asip.mipih.fr", OrganizationalUnit: []string{"318310021300028"},
		Organization: []string{"GIP MIPIH"}, Province: []string{"Haute-Garonne (31)"}, Country: []string{"FR"}}
	// Published for 15-20.mssante.fr: another operator of the trust space.
	enovacom := pkix.Name{CommonName: "mss.enovacom.fr", OrganizationalUnit: []string{"344368557300034"},
		Organization: []string{"ENOVACOM"}, Province: []string{"Bouches-du-Rhône (13)"}, Country: []string{"FR"}}

	relay := func(cert *tls.Certificate) (*smtp.Client, error) {
		c, err := smtp.Dial(e.Relay)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Hello("relay.test"); err != nil {
			t.Fatal(err)
		}
		cfg := e.ClientTLS.Clone()
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		return c, c.StartTLS(cfg)
	}
	good := health.client(t, 2, mipih)
	c, err := relay(&good)
	if err != nil {
		t.Fatal(err)
	}
	from := "secretariat@adsea29.mssante.fr"
	if stage, err := send(c, from, []string{pro.Address}, mailtest.Message(from, pro.Address, "Avis", "texte")); err != nil {
		t.Fatalf("the domain's own operator: %s: %v", stage, err)
	}
	if n := len(e.Deliveries(t, pro.Address)); n != 1 {
		t.Fatalf("%d delivered", n)
	}

	other := health.client(t, 3, enovacom)
	c, err = relay(&other)
	if err != nil {
		t.Fatal(err)
	}
	_, err = send(c, from, []string{pro.Address}, mailtest.Message(from, pro.Address, "Avis", "texte"))
	wantReply(t, err, 550, "5.7.1")
	// That operator's own domain passes.
	if stage, err := send(c, "regulation@15-20.mssante.fr", []string{pro.Address},
		mailtest.Message("regulation@15-20.mssante.fr", pro.Address, "Avis", "texte")); err != nil {
		t.Fatalf("another operator's own domain: %s: %v", stage, err)
	}
	// A bounce (null reverse-path) is judged on its From field, at DATA.
	_, err = send(c, "", []string{pro.Address}, mailtest.Message("mailer-daemon@adsea29.mssante.fr", pro.Address, "Non remis", "texte"))
	wantReply(t, err, 550, "5.7.1")

	c, err = relay(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = send(c, from, []string{pro.Address}, mailtest.Message(from, pro.Address, "Avis", "texte"))
	wantReply(t, err, 550, "5.7.1")

	// A certificate of the right subject from another authority fails the handshake (with TLS
	// 1.3 the client learns it at its next read).
	forged := foreign.client(t, 4, mipih)
	if c, err := relay(&forged); err == nil {
		if _, err := send(c, from, []string{pro.Address}, mailtest.Message(from, pro.Address, "Avis", "texte")); err == nil {
			t.Fatal("a certificate the health PKI did not issue was taken")
		}
	}
	if n := len(e.Deliveries(t, pro.Address)); n != 2 {
		t.Fatalf("%d delivered, want 2", n)
	}
}
