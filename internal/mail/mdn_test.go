package mail

import (
	"strings"
	"testing"
)

func header(t testing.TB, s string) Header {
	t.Helper()
	h, err := ParseHeader([]byte(s), true)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// RFC 8098 §2.1 and §2.2: when a request for an acknowledgement is answered automatically.
func TestMDNRequest(t *testing.T) {
	const pro = "dr.martin@hopital.example"
	cases := []struct {
		name, header, envelope string
		want                   bool
	}{
		{"the sender asks", "Disposition-Notification-To: Dr Martin <Dr.Martin@Hopital.example>\r\n", pro, true},
		{"no request", "Subject: x\r\n", pro, false},
		{"to someone else than the Return-Path", "Disposition-Notification-To: <other@hopital.example>\r\n", pro, false},
		{"no Return-Path (a bounce)", "Disposition-Notification-To: <" + pro + ">\r\n", "", false},
		{"two distinct addresses", "Disposition-Notification-To: <" + pro + ">, <other@hopital.example>\r\n", pro, false},
		{"the same address twice", "Disposition-Notification-To: <" + pro + ">, " + pro + "\r\n", pro, true},
		{"two fields", "Disposition-Notification-To: <" + pro + ">\r\nDisposition-Notification-To: <" + pro + ">\r\n", pro, false},
		{"unreadable", "Disposition-Notification-To: <<<\r\n", pro, false},
		{"an MDN", "Disposition-Notification-To: <" + pro + ">\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary=x\r\n", pro, false},
		{"a DSN asking for one", "Disposition-Notification-To: <" + pro + ">\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=x\r\n", pro, true},
		{"an optional option", "Disposition-Notification-To: <" + pro + ">\r\nDisposition-Notification-Options: signed-receipt-protocol=optional,pkcs7-signature\r\n", pro, true},
		{"a required option", "Disposition-Notification-To: <" + pro + ">\r\nDisposition-Notification-Options: signed-receipt-protocol=optional,pkcs7; x-carnet=required,1\r\n", pro, false},
		{"an unreadable option", "Disposition-Notification-To: <" + pro + ">\r\nDisposition-Notification-Options: what\r\n", pro, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			to, ok := mdnRequest(header(t, "From: <"+pro+">\r\n"+c.header+"\r\n"), c.envelope)
			if ok != c.want {
				t.Fatalf("mdnRequest = %v, want %v", ok, c.want)
			}
			if ok && to.String() != pro {
				t.Fatalf("to %s", to)
			}
		})
	}
}

// The fields of message/disposition-notification are US-ASCII (RFC 8098 §3.1).
func TestASCIILine(t *testing.T) {
	got := asciiLine("904^L’INS n'est pas celui\r\n du destinataire — é\u200e")
	if got != "904^L'INS n'est pas celui du destinataire  e" {
		t.Fatalf("%q", got)
	}
	for _, r := range got {
		if r < ' ' || r > '~' {
			t.Fatalf("%q is not printable ASCII", got)
		}
	}
}

// The request's fields come from outside: whatever they hold, the decision never panics, and
// an acknowledgement goes only to the envelope sender.
func FuzzMDNRequest(f *testing.F) {
	f.Add("<a@b.example>", "", "a@b.example", "")
	f.Add("A <a@b.example>, a@b.example", "x=optional,1;y=required,2", "a@b.example", "multipart/report; report-type=disposition-notification")
	f.Add("=?utf-8?q?=C3=A9?= <a@b.example>", "=", "a@b.example", "text/plain")
	f.Add("\"\\\"\" <a@b.example>", ";;", "", "multipart/report")
	f.Fuzz(func(t *testing.T, dnt, options, envelope, ctype string) {
		for _, v := range []string{dnt, options, ctype} {
			if strings.ContainsAny(v, "\r\n") {
				return
			}
		}
		raw := "From: <x@y.example>\r\nDisposition-Notification-To: " + dnt + "\r\n"
		if options != "" {
			raw += "Disposition-Notification-Options: " + options + "\r\n"
		}
		if ctype != "" {
			raw += "Content-Type: " + ctype + "\r\n"
		}
		h, err := ParseHeader([]byte(raw+"\r\n"), true)
		if err != nil {
			return
		}
		to, ok := mdnRequest(h, envelope)
		if !ok {
			return
		}
		from, err := ParseAddress(envelope)
		if err != nil || from != to || to.IsNull() {
			t.Fatalf("acknowledgement to %s for the envelope sender %q", to, envelope)
		}
		if isMDN(h) || requiresOption(options) && options != "" {
			t.Fatalf("acknowledgement of an MDN or of a required option: %q %q", ctype, options)
		}
		_ = asciiLine(dnt)
	})
}
