package imapd_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/mail/mailtest"
)

// pythonIMAP is a client not written in Go: Python's imaplib, as Debian ships it. It tries
// LOGIN before STARTTLS, then does what a professional's mail client does: STARTTLS
// (verifying the certificate), LOGIN with the app password, LIST, SELECT INBOX, SEARCH the
// unread messages, read the patient's answer, flag it, MOVE it to Trash, and look there. It
// prints what each step got as JSON.
const pythonIMAP = `
import imaplib, json, ssl, sys

cfg = json.loads(sys.argv[1])
out = {}
host, port = cfg["imap"].rsplit(":", 1)
ctx = ssl.create_default_context(cafile=cfg["ca"])
ctx.minimum_version = ssl.TLSVersion.TLSv1_2

m = imaplib.IMAP4(host, int(port), timeout=30)
try:
    m.login(cfg["user"], cfg["password"])
    out["login_before_tls"] = "accepted"
except imaplib.IMAP4.error as e:
    out["login_before_tls"] = str(e)
m.logout()

m = imaplib.IMAP4(host, int(port), timeout=30)
m.starttls(ssl_context=ctx)
typ, _ = m.login(cfg["user"], cfg["password"])
out["login"] = typ
typ, boxes = m.list()
out["list"] = [b.decode() for b in boxes]
typ, data = m.select("INBOX")
out["exists"] = int(data[0])
typ, data = m.uid("SEARCH", None, "UNSEEN")
uids = data[0].split()
out["unseen"] = [u.decode() for u in uids]
typ, data = m.uid("FETCH", uids[0], "(RFC822 FLAGS)")
out["message"] = data[0][1].decode("utf-8")
typ, data = m.uid("FETCH", uids[0], "(FLAGS)")
out["flags_after_read"] = data[0].decode()
typ, data = m.uid("STORE", uids[0], "+FLAGS", "(\\Flagged)")
out["store"] = typ
typ, data = m.uid("MOVE", uids[0], "Trash")
out["move"] = typ
typ, data = m.select("INBOX")
out["inbox_after_move"] = int(data[0])
typ, data = m.select("Trash")
out["trash"] = int(data[0])
typ, data = m.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
out["trash_flags"] = data[0][0].decode()
out["trash_subject"] = data[0][1].decode().strip()
m.logout()
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

func TestPythonImaplib(t *testing.T) {
	py := debianPython(t)
	e := newEnv(t, mailtest.Options{})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	e.conversation(t, pro, patientAddr(1), "Résultats", "Merci docteur, je prendrai rendez-vous la semaine prochaine.")
	cfg, _ := json.Marshal(map[string]string{"ca": e.CertFile, "imap": e.Addr, "user": pro.Address, "password": pro.Password})
	script := filepath.Join(t.TempDir(), "client.py")
	if err := os.WriteFile(script, []byte(pythonIMAP), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, script, string(cfg)).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var got struct {
		LoginBeforeTLS string   `json:"login_before_tls"`
		Login          string   `json:"login"`
		List           []string `json:"list"`
		Exists         int      `json:"exists"`
		Unseen         []string `json:"unseen"`
		Message        string   `json:"message"`
		FlagsAfterRead string   `json:"flags_after_read"`
		Store, Move    string
		InboxAfterMove int    `json:"inbox_after_move"`
		Trash          int    `json:"trash"`
		TrashFlags     string `json:"trash_flags"`
		TrashSubject   string `json:"trash_subject"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python said: %s", out)
	}
	switch {
	case got.LoginBeforeTLS == "accepted" || !strings.Contains(got.LoginBeforeTLS, "TLS is required"):
		t.Errorf("LOGIN before STARTTLS: %q", got.LoginBeforeTLS)
	case got.Login != "OK" || len(got.List) != 4 || !strings.Contains(strings.Join(got.List, "\n"), `\Trash`):
		t.Errorf("LOGIN, LIST: %s %q", got.Login, got.List)
	case got.Exists != 1 || len(got.Unseen) != 1:
		t.Errorf("INBOX: %d messages, unseen %v", got.Exists, got.Unseen)
	case !strings.Contains(got.Message, "je prendrai rendez-vous") || !strings.Contains(got.Message, "From: Lucie Durand <"+patientAddr(1)+">"):
		t.Errorf("the patient's answer: %q", got.Message)
	case !strings.Contains(got.FlagsAfterRead, `\Seen`):
		t.Errorf("flags after reading: %q", got.FlagsAfterRead)
	case got.Store != "OK" || got.Move != "OK" || got.InboxAfterMove != 0 || got.Trash != 1:
		t.Errorf("STORE %s, MOVE %s, INBOX %d, Trash %d", got.Store, got.Move, got.InboxAfterMove, got.Trash)
	case !strings.Contains(got.TrashFlags, `\Flagged`) || !strings.Contains(got.TrashFlags, `\Seen`) || !strings.Contains(got.TrashSubject, "Re: Résultats"):
		t.Errorf("in Trash: %q %q", got.TrashFlags, got.TrashSubject)
	}
}
