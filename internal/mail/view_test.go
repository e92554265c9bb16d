package mail_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/mail"
)

const htmlOnly = "From: \"Dr Claire Martin\" <claire.martin@carnet.example>\r\nTo: x@patient.carnet.example\r\n" +
	"Subject: =?utf-8?q?R=C3=A9sultats?=\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n" +
	"<html><head><title>t</title><style>p{color:red}</style></head><body><p>Vos r\xe9sultats sont bons.</p>" +
	"<script>alert(1)</script><p>&lt;b&gt; &amp; co</p><img src=\"https://tracker.example/x.png\"></body></html>\r\n"

func TestParseViewHTMLBecomesText(t *testing.T) {
	v, err := mail.ParseView(strings.NewReader(htmlOnly))
	if err != nil {
		t.Fatal(err)
	}
	if v.FromName != "Dr Claire Martin" || v.Subject != "Résultats" || !v.FromHTML {
		t.Fatalf("header: %+v", v)
	}
	if v.Text != "Vos résultats sont bons.\n\n<b> & co" {
		t.Fatalf("text %q", v.Text)
	}
	for _, bad := range []string{"alert", "color", "tracker", "<p>"} {
		if strings.Contains(v.Text, bad) {
			t.Fatalf("%q kept in %q", bad, v.Text)
		}
	}
}

func TestComposeThenParse(t *testing.T) {
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 300)...)
	from, _ := mail.ParseAddress("claire.martin@carnet.example")
	to, _ := mail.ParseAddress("180017505600118@patient.carnet.example")
	raw, err := mail.Compose(mail.Outgoing{From: from, To: to, FromName: "Dr Claire Martin", ToName: "Lucie Durand",
		Subject: "Compte rendu d'échographie", Body: "Bonjour,\nvoici le compte rendu.\n", End: true,
		Files: []mail.File{{Name: "échographie.pdf", MimeType: "application/pdf", Data: pdf}}, Date: time.Now(), MessageIDHostname: "carnet.example"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := mail.ParseHeader(raw, true)
	if err != nil || !h.EndsConversation() || h.Subject() != "Compte rendu d'échographie" {
		t.Fatalf("header: %v %q", err, h.Subject())
	}
	v, err := mail.ParseView(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if v.From != "claire.martin@carnet.example" || len(v.To) != 1 || v.To[0] != to.String() || !strings.Contains(v.Text, "voici le compte rendu.") {
		t.Fatalf("view: %+v", v)
	}
	if len(v.Attachments) != 1 || v.Attachments[0].Name != "échographie.pdf" || v.Attachments[0].MimeType != "application/pdf" ||
		!bytes.Equal(v.Attachments[0].Data(), pdf) {
		t.Fatalf("attachments: %+v", v.Attachments)
	}
}

func TestParseViewRefusesWhatItCannotRead(t *testing.T) {
	deep := "Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
	for i := 0; i < 12; i++ {
		deep += fmt.Sprintf("--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
	}
	for name, raw := range map[string]string{
		"not a header": "this is not mail at all\x00\x01",
		"too deep":     deep,
	} {
		if _, err := mail.ParseView(strings.NewReader(raw)); err == nil {
			t.Errorf("%s: read", name)
		}
	}
}

// FuzzParseView: the portal's MIME-to-view never panics, keeps its text valid UTF-8 and bounded,
// and numbers attachments in order with clean names.
func FuzzParseView(f *testing.F) {
	f.Add(htmlOnly)
	f.Add("From: a@b.fr\r\nSubject: s\r\n\r\nbody\r\n")
	f.Add("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nt\r\n--x\r\n" +
		"Content-Type: application/pdf; name=\"../../a\\\"b.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--x--\r\n")
	f.Add("Content-Type: multipart/alternative; boundary=\"\"\r\n\r\n--\r\n")
	f.Add("Content-Type: text/plain; charset=klingon\r\nContent-Transfer-Encoding: rot13\r\n\r\nabc")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := mail.ParseView(strings.NewReader(raw))
		if err != nil {
			return
		}
		if len(v.Text) > 2<<20 {
			t.Fatalf("text of %d bytes", len(v.Text))
		}
		for i, a := range v.Attachments {
			if a.Index != i || a.Name == "" || strings.ContainsAny(a.Name, "\"\r\n/\\") || (!a.Broken && int64(len(a.Data())) != a.Size) {
				t.Fatalf("attachment %d: %+v", i, a)
			}
		}
	})
}
