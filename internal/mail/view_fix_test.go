package mail_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/mail"
)

var pdfBytes = []byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")

// twoFiles is a text, a real PDF, and an HTML page declared as a PDF.
func twoFiles(end string) string {
	return "From: a@b.fr\r\nTo: x@patient.b.fr\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
		"--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour\r\n" +
		"--x\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"vrai.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(pdfBytes) + "\r\n" +
		"--x\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"faux.pdf\"\r\n\r\n<html><script>alert(1)</script></html>\r\n" + end
}

// A conversation page keeps no attachment's bytes; a download keeps the one asked for.
func TestParseViewModeKeepsOnlyWhatIsAsked(t *testing.T) {
	raw := twoFiles("--x--\r\n")
	v, err := mail.ParseViewMode(strings.NewReader(raw), mail.KeepNone)
	if err != nil || len(v.Attachments) != 2 || v.Text != "Bonjour" {
		t.Fatalf("%v %+v", err, v)
	}
	for _, a := range v.Attachments {
		if a.Data() != nil || a.Size == 0 {
			t.Fatalf("KeepNone kept %d bytes of %+v", len(a.Data()), a)
		}
	}
	if v.Attachments[0].Size != int64(len(pdfBytes)) {
		t.Fatalf("size %d, want %d", v.Attachments[0].Size, len(pdfBytes))
	}
	v, err = mail.ParseViewMode(strings.NewReader(raw), 0)
	if err != nil || !bytes.Equal(v.Attachments[0].Data(), pdfBytes) || v.Attachments[1].Data() != nil {
		t.Fatalf("keep 0: %v %+v", err, v.Attachments)
	}
}

// A file's type is what its bytes are: an HTML page declared as a PDF is octet-stream.
func TestParseViewSniffsTheType(t *testing.T) {
	v, err := mail.ParseView(strings.NewReader(twoFiles("--x--\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	if a := v.Attachments[0]; a.MimeType != "application/pdf" || mail.SniffType(a.Data()) != "application/pdf" {
		t.Fatalf("the real PDF: %+v", a)
	}
	if a := v.Attachments[1]; a.MimeType != "application/octet-stream" || a.Declared != "application/pdf" || mail.Savable(a.MimeType) {
		t.Fatalf("the spoofed PDF: %+v", a)
	}
	for b, want := range map[string]string{"\x89PNG\r\n\x1a\n...": "image/png", "\xff\xd8\xff\xe0": "image/jpeg", "%PDF-1.7": "application/pdf",
		"GIF89a": "application/octet-stream", "": "application/octet-stream", "<svg>": "application/octet-stream"} {
		if got := mail.SniffType([]byte(b)); got != want {
			t.Errorf("SniffType(%q) = %s, want %s", b, got, want)
		}
	}
}

// A broken part does not take the message with it: the parts read are kept, the broken
// attachment marked.
func TestParseViewKeepsWhatItRead(t *testing.T) {
	// No final boundary: the message was cut short.
	v, err := mail.ParseView(strings.NewReader(twoFiles("")))
	if err != nil || v.Text != "Bonjour" || len(v.Attachments) < 1 || v.Attachments[0].Broken ||
		!bytes.Equal(v.Attachments[0].Data(), pdfBytes) {
		t.Fatalf("a missing final boundary: %v %+v", err, v)
	}
	// An attachment whose base64 is broken: marked, the others intact.
	bad := "From: a@b.fr\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
		"--x\r\nContent-Type: text/plain\r\n\r\nLe texte\r\n" +
		"--x\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"casse.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBER!!!@@@###\r\n" +
		"--x\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"bon.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(pdfBytes) + "\r\n--x--\r\n"
	v, err = mail.ParseView(strings.NewReader(bad))
	if err != nil || v.Text != "Le texte" || len(v.Attachments) != 2 || !v.Incomplete {
		t.Fatalf("a bad base64 attachment: %v %+v", err, v)
	}
	if a := v.Attachments[0]; !a.Broken || a.Data() != nil || mail.Savable(a.MimeType) {
		t.Fatalf("the broken attachment: %+v", a)
	}
	if a := v.Attachments[1]; a.Broken || !bytes.Equal(a.Data(), pdfBytes) {
		t.Fatalf("the good attachment: %+v", a)
	}
}

// File names lose their bidirectional controls; subjects are kept to the form's bound.
func TestParseViewCleansNamesAndSubjects(t *testing.T) {
	subject := strings.Repeat("é", 150)
	raw := "From: a@b.fr\r\nSubject: " + subject + "\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
		"--x\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"facture\u202Efdp.exe\"\r\n\r\n%PDF-1.4\r\n--x--\r\n"
	v, err := mail.ParseView(strings.NewReader(raw))
	if err != nil || len(v.Attachments) != 1 {
		t.Fatalf("%v %+v", err, v)
	}
	if n := v.Attachments[0].Name; strings.ContainsRune(n, '\u202E') || n != "facturefdp.exe" {
		t.Fatalf("file name %q", n)
	}
	if v.Subject != subject {
		t.Fatalf("a subject of 150 characters became %d", len([]rune(v.Subject)))
	}
	if got := mail.CleanSubject(strings.Repeat("a", 300) + "\u202E"); len(got) != mail.MaxSubject {
		t.Fatalf("CleanSubject kept %d characters", len(got))
	}
}

// FuzzParseViewMode: whatever the mode, the view is the same but for the bytes kept.
func FuzzParseViewMode(f *testing.F) {
	f.Add(twoFiles("--x--\r\n"), 1)
	f.Add(twoFiles(""), -2)
	f.Fuzz(func(t *testing.T, raw string, keep int) {
		all, err1 := mail.ParseView(strings.NewReader(raw))
		some, err2 := mail.ParseViewMode(strings.NewReader(raw), keep)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("errors differ: %v, %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		if all.Text != some.Text || len(all.Attachments) != len(some.Attachments) {
			t.Fatalf("views differ")
		}
		for i, a := range some.Attachments {
			b := all.Attachments[i]
			if a.Size != b.Size || a.MimeType != b.MimeType || a.Broken != b.Broken || a.Name != b.Name {
				t.Fatalf("attachment %d differs: %+v %+v", i, a, b)
			}
			kept := keep == mail.KeepAll || keep == i
			if (!kept && a.Data() != nil) || (kept && !a.Broken && int64(len(a.Data())) != a.Size) {
				t.Fatalf("attachment %d kept %d bytes with keep %d", i, len(a.Data()), keep)
			}
		}
	})
}
