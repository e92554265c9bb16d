package smtpd_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/mail/mailtest"
)

// pythonSMTP is a client not written in Go: Python's smtplib, as Debian ships it, through
// STARTTLS (verifying the server's certificate) and AUTH LOGIN and PLAIN. It sends a professional's
// message to a patient, then tries an unknown recipient, a non-allowlisted sender on the
// relay, and AUTH with a wrong password, and prints what each step got as JSON.
const pythonSMTP = `
import json, smtplib, ssl, sys
from email.message import EmailMessage

cfg = json.loads(sys.argv[1])
out = {}
ctx = ssl.create_default_context(cafile=cfg["ca"])
ctx.minimum_version = ssl.TLSVersion.TLSv1_2

def reply(e):
    return [e.smtp_code, e.smtp_error.decode()] if hasattr(e, "smtp_code") else [0, str(e)]

host, port = cfg["submission"].rsplit(":", 1)
with smtplib.SMTP(host, int(port), local_hostname="python.example", timeout=30) as s:
    s.starttls(context=ctx)
    s.ehlo("python.example")
    out["auth_mechanisms"] = s.esmtp_features.get("auth", "")
    s.user, s.password = cfg["user"], cfg["password"]
    s.auth("LOGIN", s.auth_login)  # with the user name as initial response; PLAIN is below
    msg = EmailMessage()
    msg["From"] = "Dr Claire Martin <%s>" % cfg["user"]
    msg["To"] = cfg["patient"]
    msg["Subject"] = "Ordonnance"
    msg.set_content("Bonjour, voici votre ordonnance.")
    refused = s.send_message(msg)
    out["sent"] = {"refused": list(refused)}
    try:
        s.send_message(msg, to_addrs=["nobody@" + cfg["domain"]])
        out["unknown"] = [250, ""]
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        out["unknown"] = [code, text.decode()]

with smtplib.SMTP(host, int(port), local_hostname="python.example", timeout=30) as s:
    s.starttls(context=ctx)
    s.ehlo("python.example")
    try:
        s.login(cfg["user"], "WRONG-WRONG-WRONG-WRONG")  # PLAIN, smtplib's first choice here
        out["bad_login"] = [235, ""]
    except smtplib.SMTPAuthenticationError as e:
        out["bad_login"] = reply(e)

rhost, rport = cfg["relay"].rsplit(":", 1)
with smtplib.SMTP(rhost, int(rport), local_hostname="python.example", timeout=30) as s:
    s.starttls(context=ctx)
    s.ehlo("python.example")
    try:
        s.sendmail("someone@gmail.com", [cfg["user"]], "From: someone@gmail.com\r\n\r\nhello\r\n")
        out["foreign_sender"] = [250, ""]
    except smtplib.SMTPSenderRefused as e:
        out["foreign_sender"] = reply(e)

print(json.dumps(out))
`

// debianPython finds Debian's python3 (/usr/bin), or any python3 on the PATH.
func debianPython(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed (Debian's package python3): the test of a client not written in Go cannot run")
	}
	return p
}

func TestPythonSmtplib(t *testing.T) {
	py := debianPython(t)
	e := mailtest.New(t, mailtest.Options{})
	e.Allow(t, OtherDomain)
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	_, patient := e.Patient(t, 1)
	cfg, _ := json.Marshal(map[string]string{"ca": e.CertFile, "submission": e.Submission, "relay": e.Relay, "user": pro.Address,
		"password": pro.Password, "patient": patient, "domain": mailtest.Domain})
	script := filepath.Join(t.TempDir(), "client.py")
	if err := os.WriteFile(script, []byte(pythonSMTP), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, script, string(cfg)).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var got struct {
		AuthMechanisms string `json:"auth_mechanisms"`
		Sent           struct {
			Refused []string `json:"refused"`
		} `json:"sent"`
		Unknown       []any `json:"unknown"`
		BadLogin      []any `json:"bad_login"`
		ForeignSender []any `json:"foreign_sender"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python said: %s", out)
	}
	if !strings.Contains(got.AuthMechanisms, "PLAIN") || !strings.Contains(got.AuthMechanisms, "LOGIN") || len(got.Sent.Refused) != 0 {
		t.Fatalf("python: %s", out)
	}
	for name, r := range map[string]struct {
		got  []any
		code float64
		enh  string
	}{"unknown recipient": {got.Unknown, 550, "5.1.1"}, "wrong password": {got.BadLogin, 535, "5.7.8"},
		"sender off the allowlist": {got.ForeignSender, 550, "5.7.1"}} {
		if len(r.got) != 2 || r.got[0] != r.code || !strings.HasPrefix(r.got[1].(string), r.enh) {
			t.Errorf("%s: %v, want %v %s", name, r.got, r.code, r.enh)
		}
	}
	if n := len(e.Deliveries(t, patient)); n != 1 {
		t.Fatalf("the patient got %d messages, want 1", n)
	}
}
