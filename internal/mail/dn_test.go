package mail_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"os"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/shareddata"
)

func TestNormalizeDN(t *testing.T) {
	published := "CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR"
	want, err := mail.NormalizeDN(published)
	if err != nil {
		t.Fatal(err)
	}
	goName := pkix.Name{CommonName: "medimail-asip.mipih.fr", OrganizationalUnit: []string{"318310021300028"},
		Organization: []string{"GIP MIPIH"}, Province: []string{"Haute-Garonne (31)"}, Country: []string{"FR"}}
	for _, same := range []string{
		goName.String(), // as crypto/x509 writes a certificate's subject
		"C=FR, ST=Haute-Garonne (31), O=GIP MIPIH, OU=318310021300028, CN=medimail-asip.mipih.fr",    // the other order, spaces
		"cn=MEDIMAIL-ASIP.MIPIH.FR;ou=318310021300028;o=\"GIP MIPIH\";s=Haute-Garonne (31);c=fr",     // RFC 1779's separators, quotes
		`2.5.4.3=medimail-asip.mipih.fr,OU=318310021300028,O=GIP\20MIPIH,ST=Haute-Garonne (31),C=FR`, // an OID, a hex escape
	} {
		got, err := mail.NormalizeDN(same)
		if err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", same, got, err, want)
		}
	}
	for _, other := range []string{
		"CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,C=FR",                                    // an attribute fewer
		"CN=medimail-asip.mipih.fr.evil.example,OU=318310021300028,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR", // another name
		`CN=medimail-asip.mipih.fr\,OU=318310021300028,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR`,             // an escaped comma joins two
	} {
		if got, err := mail.NormalizeDN(other); err == nil && got == want {
			t.Errorf("%q is taken for %q", other, published)
		}
	}
	// Look-alikes beyond ASCII never fold into the name they imitate.
	for _, lookalike := range []string{
		"CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MİPİH,ST=Haute-Garonne (31),C=FR", // Turkish dotted İ
		"CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP\u00a0MIPIH,ST=Haute-Garonne (31),C=FR",
	} {
		if got, err := mail.NormalizeDN(lookalike); err == nil && got == want {
			t.Errorf("%q is taken for %q", lookalike, published)
		}
	}
	// A value in its BER form (#hex of a UTF8String), as some writers give attributes.
	if got, err := mail.NormalizeDN("CN=medimail-asip.mipih.fr,OU=318310021300028,O=#0c09474950204d49504948,ST=Haute-Garonne (31),C=FR"); err != nil || got != want {
		t.Errorf("#hex value: %q %v", got, err)
	}
	// A certificate subject with an attribute Go has no short name for (emailAddress): read
	// from its parsed attributes, it matches the published DN that names it.
	withMail := goName
	withMail.ExtraNames = []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "ops@mipih.fr"}}
	der := mustSubjectDER(t, withMail)
	var rdn pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &rdn); err != nil {
		t.Fatal(err)
	}
	var parsed pkix.Name
	parsed.FillFromRDNSequence(&rdn)
	got, err := mail.CertificateDN(parsed)
	wantMail, _ := mail.NormalizeDN(published + ",E=ops@mipih.fr")
	if err != nil || got != wantMail {
		t.Errorf("certificate with emailAddress: %q %v, want %q (Go writes it %q)", got, err, wantMail, parsed.String())
	}
	for _, bad := range []string{"", "CN", "CN=", "FOO=bar", "CN=a,", `CN=a\`, "CN=\xff", strings.Repeat("CN=a,", 500)} {
		if _, err := mail.NormalizeDN(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Every DN of the published allowlist reads.
func TestNormalizePublishedDNs(t *testing.T) {
	f, err := os.Open(shareddata.Dir(t, "mssante", "listeblanchemssante-2025-03-14.xml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	list, err := mail.DecodeAllowlist(f, mail.AllowlistLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Entries) < 6000 {
		t.Fatalf("%d entries read", len(list.Entries))
	}
	for _, e := range list.Entries {
		if _, err := mail.NormalizeDN(e.OperatorDN); err != nil {
			t.Errorf("%q: %v", e.OperatorDN, err)
		}
	}
}

func FuzzNormalizeDN(f *testing.F) {
	for _, s := range []string{"0=\\09", "CN=a,O=b,C=FR", `CN=a\,b+OU=c;O="d e"`, `2.5.4.3=x\41`, "C=FR, ST=Haute-Garonne (31)", `CN=\`, "=", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := mail.NormalizeDN(s)
		if err != nil {
			return
		}
		// The canonical form is itself a DN, and canonical.
		again, err := mail.NormalizeDN(n)
		if err != nil || again != n {
			t.Fatalf("%q → %q → %q %v", s, n, again, err)
		}
	})
}

// mustSubjectDER encodes a name as a certificate's subject is.
func mustSubjectDER(t *testing.T, n pkix.Name) []byte {
	t.Helper()
	der, err := asn1.Marshal(n.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	return der
}
