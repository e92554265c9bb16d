package mail_test

import (
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
)

// The parsers of outside input (STYLE.md "Tests"): addresses from SMTP commands, message
// headers, the allowlist file. Each must refuse or accept without panicking, and what it
// accepts must keep its invariants.

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"", "a@b.fr", "Claire.Martin@Carnet.Example", "279035121518989@patient.mssante.fr",
		"a..b@c.d", "@b.c", "a@", "a@b", "a@-b.c", "\"q\"@b.c", "é@b.c", strings.Repeat("a", 65) + "@b.c", "a@b.c@d.e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := mail.ParseAddress(s)
		if err != nil {
			if mail.ReasonOf(err) != mail.ReasonBadAddress {
				t.Fatalf("refusal without its reason: %v", err)
			}
			return
		}
		if a.IsNull() {
			if s != "" {
				t.Fatalf("%q read as the null address", s)
			}
			return
		}
		again, err := mail.ParseAddress(a.String())
		if err != nil || again != a {
			t.Fatalf("%q → %q → %q, %v", s, a, again, err)
		}
		if a.String() != strings.ToLower(a.String()) || len(a.String()) > 254 {
			t.Fatalf("not canonical: %q", a)
		}
		if ins, ok := mail.PatientINS(a); ok && len(ins) != 15 {
			t.Fatalf("patient address %q with INS %q", a, ins)
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte(mailtest.Message("a@b.fr", "c@d.fr", "[FIN]", "body")), true)
	f.Add([]byte("From: \"Dr =?utf-8?q?H=C3=A9l=C3=A8ne?=\" <a@b.fr>\r\nSubject: =?utf-8?b?W0ZJTl0=?=\r\nX-MSS-MES: fin\r\n folded\r\n\r\n"), false)
	f.Add([]byte("From a@b\r\n\r\n"), true)
	f.Add([]byte(" leading continuation\r\n"), true)
	f.Add([]byte("From: a@b.fr, c@d.fr\r\n\r\n"), true)
	f.Fuzz(func(t *testing.T, b []byte, complete bool) {
		h, err := mail.ParseHeader(b, complete)
		if err != nil {
			if mail.ReasonOf(err) != mail.ReasonMalformed {
				t.Fatalf("refusal without its reason: %v", err)
			}
			return
		}
		if a, name, err := h.From(); err == nil {
			if a.IsNull() || strings.ContainsAny(name, "\r\n") || len([]rune(name)) > 100 {
				t.Fatalf("From %q %q", a, name)
			}
		}
		_ = h.Subject()
		_ = h.EndsConversation()
	})
}

func FuzzDecodeAllowlist(f *testing.F) {
	f.Add(mailtest.AllowlistXML("a.example", "b.example"))
	f.Add(mailtest.AllowlistXML())
	f.Add(`<ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema"><DateDeGeneration>2025-03-13T14:54:10Z</DateDeGeneration><ListeDomaines><Domaine><Nom>x.fr</Nom><x:Extra xmlns:x="urn:x"><Nom>y</Nom></x:Extra></Domaine></ListeDomaines></ListeBlancheMSSante>`)
	f.Fuzz(func(t *testing.T, doc string) {
		list, err := mail.DecodeAllowlist(strings.NewReader(doc), mail.AllowlistLimits{MaxBytes: 1 << 16, MaxEntries: 100, MaxField: 256})
		if err != nil {
			if mail.ReasonOf(err) != mail.ReasonBadAllowlist {
				t.Fatalf("refusal without its reason: %v", err)
			}
			return
		}
		if list.GeneratedAt.IsZero() || len(list.Entries) == 0 || len(list.Entries) > 100 {
			t.Fatalf("accepted %d entries generated %v", len(list.Entries), list.GeneratedAt)
		}
		seen := map[[2]string]bool{}
		for _, e := range list.Entries {
			if mail.CheckDomain(e.Domain) != nil || e.Domain != strings.ToLower(e.Domain) {
				t.Fatalf("entry with domain %q", e.Domain)
			}
			k := [2]string{e.Domain, e.OperatorDN}
			if seen[k] {
				t.Fatalf("duplicate entry %v", k)
			}
			seen[k] = true
		}
	})
}
