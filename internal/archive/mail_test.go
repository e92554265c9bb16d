package archive_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/archive"
	"github.com/carnet-sante/carnet/internal/archive/archivetest"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/record/recordtest"
	"github.com/carnet-sante/carnet/internal/store"
)

// withMailbox is an instance whose exports carry the patient's mailbox: the messaging runs
// on the instance's store (SMTP listeners on loopback), the archive reads it through the
// portal.
func withMailbox(t *testing.T) (*instance, *mailtest.Env, *mail.Portal) {
	t.Helper()
	e := recordtest.New(t)
	mx := mailtest.New(t, mailtest.Options{Store: func(testing.TB) *store.DB { return e.DB }})
	box, err := mail.NewPortal(mx.Mail, e.DB.MailPortal(mx.Queue), e.Access, e.Records)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := archivetest.New(t, e, func(d *archive.Deps) { d.Mail = box })
	return &instance{Env: e, archive: a}, mx, box
}

// The mailbox goes with the space: each message's bytes as received, attachments included,
// in mail/, listed in mail.json and the index page, in the manifest; read through the
// mailbox's own decision and traced.
func TestMailboxTravelsWithTheExport(t *testing.T) {
	ctx := context.Background()
	in, mx, box := withMailbox(t)
	pid, addr := mx.Patient(t, 1)
	pro := mx.Professional(t, 1, "paul.martin", "MARTIN", "Paul")
	raw := "From: Dr Paul Martin <" + pro.Address + ">\r\nTo: " + addr + "\r\nSubject: Vos résultats\r\nMessage-ID: <res.1@carnet.example>\r\n" +
		"Date: " + mailtest.T0.Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Vos résultats sont normaux.\r\n"
	mx.Submit(t, pro, addr, raw)
	holder := recordtest.Holder(pid)
	inbox, err := box.Inbox(ctx, holder.Actor, holder.Channel, pid)
	if err != nil || len(inbox.Messages) != 1 {
		t.Fatalf("inbox: %+v %v", inbox, err)
	}
	if _, err := box.Thread(ctx, holder.Actor, holder.Channel, inbox.Messages[0].ID); err != nil { // read: \Seen
		t.Fatal(err)
	}
	if _, err := box.Reply(ctx, holder.Actor, holder.Channel, inbox.Messages[0].ID, "Merci docteur.", nil); err != nil {
		t.Fatal(err)
	}
	mx.Submit(t, pro, addr, strings.Replace(strings.Replace(raw, "res.1@", "res.2@", 1), "Vos résultats", "Rendez-vous", 1))

	zipped := export(t, in, holder, pid)
	files := unzip(t, zipped)
	var msgs []struct {
		Path, Folder, Subject, Correspondent string
		Incoming, Seen                       bool
		MessageID                            string `json:"message_id"`
	}
	if err := json.Unmarshal(files["mail.json"], &msgs); err != nil {
		t.Fatalf("mail.json: %v\n%s", err, files["mail.json"])
	}
	if len(msgs) != 3 || msgs[0].Folder != "INBOX" || !msgs[0].Incoming || !msgs[0].Seen || msgs[2].Seen || msgs[0].Subject != "Vos résultats" ||
		msgs[0].MessageID != "res.1@carnet.example" || msgs[1].Folder != "Sent" || msgs[1].Incoming || msgs[2].Subject != "Rendez-vous" {
		t.Fatalf("mail.json: %s", files["mail.json"])
	}
	if got := string(files[msgs[0].Path]); !strings.Contains(got, "Vos résultats sont normaux.") || !strings.Contains(got, "Message-ID: <res.1@carnet.example>") {
		t.Fatalf("%s is not the message received:\n%s", msgs[0].Path, got)
	}
	if got := string(files[msgs[1].Path]); !strings.Contains(got, "Merci docteur.") || !strings.Contains(got, pro.Address) {
		t.Fatalf("%s is not the reply sent:\n%s", msgs[1].Path, got)
	}
	index := string(files["index.html"])
	for _, want := range []string{"Messagerie de santé", "Vos résultats", `href="` + msgs[0].Path + `"`, "envoyé"} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html does not say %q", want)
		}
	}
	var m archive.Manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mail.json", msgs[0].Path, msgs[1].Path} {
		i := slices.IndexFunc(m.Files, func(f archive.File) bool { return f.Path == want })
		if i < 0 {
			t.Fatalf("%s is not in the manifest", want)
		}
		if sum := sha256.Sum256(files[want]); hex.EncodeToString(sum[:]) != m.Files[i].SHA256 {
			t.Fatalf("%s does not match the manifest", want)
		}
	}
	if traces := in.Traces(t, pid); !slices.ContainsFunc(traces, func(s string) bool {
		return strings.HasPrefix(s, "mail.read allowed self") && strings.HasSuffix(s, " mailbox")
	}) {
		t.Fatalf("no trace of the mailbox's read: %q", traces)
	}

	// An operator on a legal request takes the mailbox with the rest.
	files = unzip(t, export(t, in, operator("TJ Nantes 2026/3"), pid))
	if !bytes.Contains(files["mail.json"], []byte("Vos résultats")) {
		t.Fatalf("the legal request's export has no mail: %s", files["mail.json"])
	}
	if traces := in.Traces(t, pid); !slices.Contains(traces, "space.export allowed legal_request matrix=default-v1 mailbox legal_request=TJ Nantes 2026/3") {
		t.Fatalf("the legal request's reading of the mailbox does not name it: %q", traces)
	}
	// Imported into a fresh instance, the mailbox is the original: each message's folder,
	// date, read state and bytes; a second import files nothing.
	b, mxB, boxB := withMailbox(t)
	pidB, _ := mxB.Patient(t, 1)
	lim := archive.DefaultLimits(20 << 20)
	rep, err := b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(zipped), int64(len(zipped)), lim)
	if err != nil || rep.MailImported != 3 || rep.MailPresent != 0 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	again := unzip(t, export(t, b, recordtest.Holder(pidB), pidB))
	// The correspondent's name is the directory's where they have a mailbox here, the
	// message's own elsewhere: everything else must be the same.
	listed := func(raw []byte) string {
		var l []map[string]any
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatal(err)
		}
		for _, m := range l {
			delete(m, "correspondent")
		}
		return jsonOf(t, l)
	}
	if got, want := listed(again["mail.json"]), listed(files["mail.json"]); got != want {
		t.Fatalf("mail.json after the import:\n%s\nwant\n%s", got, want)
	}
	for _, m := range msgs {
		if !bytes.Equal(again[m.Path], files[m.Path]) {
			t.Fatalf("%s differs after the import", m.Path)
		}
	}
	// In the portal, an imported message is named as it names its sender, and said imported.
	inboxB, err := boxB.Inbox(ctx, recordtest.Holder(pidB).Actor, audit.ChannelWeb, pidB)
	if err != nil || len(inboxB.Messages) != 3 || !inboxB.Messages[0].Imported ||
		inboxB.Messages[2].Correspondent != "Dr Paul Martin (message importé)" {
		t.Fatalf("the inbox after the import: %+v %v", inboxB, err)
	}
	rep, err = b.archive.Import(ctx, operator(""), pidB, bytes.NewReader(zipped), int64(len(zipped)), lim)
	if err != nil || rep.MailImported != 0 || rep.MailPresent != 3 {
		t.Fatalf("second import: %+v %v", rep, err)
	}
	if n := importTraces(t, b, pidB, "message/"); n != 3 {
		t.Fatalf("%d messages traced as imported, want 3", n)
	}

	// The FHIR Bundle alone ($everything as JSON) neither reads nor traces the mailbox.
	before := len(in.Traces(t, pid))
	if _, err := in.archive.Bundle(ctx, holder, pid); err != nil {
		t.Fatal(err)
	}
	for _, s := range in.Traces(t, pid)[before:] {
		if strings.HasSuffix(s, " mailbox") {
			t.Fatalf("the Bundle read the mailbox: %q", s)
		}
	}
}

// Messages that are not a patient mailbox's are refused before anything is decided or
// stored, and the batch files none of its messages.
func TestMailImportRefusesWhatIsNotAMailbox(t *testing.T) {
	ctx := context.Background()
	in, mx, box := withMailbox(t)
	pid, addr := mx.Patient(t, 2)
	holder := recordtest.Holder(pid)
	good := mail.ImportedMessage{Folder: "INBOX", At: mailtest.T0, Data: []byte("From: a@b.example\r\nTo: " + addr + "\r\nSubject: x\r\n\r\nbody\r\n")}
	before := len(in.Traces(t, pid))
	for name, bad := range map[string]mail.ImportedMessage{
		"a folder a patient has not": {Folder: "Trash", At: mailtest.T0, Data: good.Data},
		"sent, but not by them":      {Folder: "Sent", At: mailtest.T0, Data: good.Data},
		"no date":                    {Folder: "INBOX", Data: good.Data},
		"empty":                      {Folder: "INBOX", At: mailtest.T0},
		"an unreadable header":       {Folder: "INBOX", At: mailtest.T0, Data: []byte("not a header at all\r\n\r\nbody")},
	} {
		_, err := box.Import(ctx, holder.Actor, holder.Channel, pid, []mail.ImportedMessage{good, bad})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "message 2") {
			t.Errorf("%s: %v, want Invalid naming message 2", name, err)
		}
	}
	if n := len(in.Traces(t, pid)); n != before {
		t.Fatalf("messages refused for what they are left %d trace(s)", n-before)
	}
	inbox, err := box.Inbox(ctx, holder.Actor, holder.Channel, pid)
	if err != nil || len(inbox.Messages) != 0 {
		t.Fatalf("a refused import filed %d message(s): %v", len(inbox.Messages), err)
	}
	// A mailbox's quota holds for what is imported too: all or none.
	big := func(fill string) mail.ImportedMessage {
		return mail.ImportedMessage{Folder: "INBOX", At: mailtest.T0, Data: append(append([]byte{}, good.Data...), bytes.Repeat([]byte(fill), 3<<20)...)}
	}
	cfg := mx.Mail.Config()
	cfg.QuotaBytes = 5 << 20
	limited, err := mail.NewService(mail.Deps{Store: in.DB.Mail(nil), Blobs: mx.Blobs, Clock: mx.Clock, Key: bytes.Repeat([]byte{7}, 32),
		Password: mailtest.CheapParams, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	small, err := mail.NewPortal(limited, in.DB.MailPortal(mx.Queue), in.Access, in.Records)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Import(ctx, holder.Actor, holder.Channel, pid, []mail.ImportedMessage{good, big("x"), big("y")}); err == nil ||
		!strings.Contains(err.Error(), "quota") {
		t.Fatalf("an import over the quota: %v", err)
	}
	if traces := in.Traces(t, pid); !strings.HasPrefix(traces[len(traces)-1], "space.import denied") {
		t.Fatalf("the failed import is not traced as such: %q", traces[len(traces)-1])
	}
	if inbox, _ := box.Inbox(ctx, holder.Actor, holder.Channel, pid); len(inbox.Messages) != 0 {
		t.Fatalf("an import over the quota filed %d message(s)", len(inbox.Messages))
	}
	// A message the patient received in Bcc names them nowhere: it comes back all the same,
	// said imported.
	bcc := mail.ImportedMessage{Folder: "INBOX", At: mailtest.T0, Data: []byte("From: Dr Jeanne Durand <jeanne@carnet.example>\r\n" +
		"To: undisclosed-recipients:;\r\nSubject: Rappel vaccin\r\n\r\nbody\r\n")}
	if r, err := box.Import(ctx, holder.Actor, holder.Channel, pid, []mail.ImportedMessage{bcc}); err != nil || r.Imported != 1 {
		t.Fatalf("a message received in Bcc: %+v %v", r, err)
	}
	if inbox, _ := box.Inbox(ctx, holder.Actor, holder.Channel, pid); len(inbox.Messages) != 1 ||
		inbox.Messages[0].Correspondent != "Dr Jeanne Durand (message importé)" {
		t.Fatalf("inbox: %+v", inbox.Messages)
	}
	// A professional imports nothing into a patient's mailbox.
	doc := recordtest.Doctor(recordtest.RPPS(t, 3))
	if _, err := box.Import(ctx, doc.Actor, doc.Channel, pid, []mail.ImportedMessage{good}); access.RefusalOf(err) == "" && !errs.Is(err, errs.Forbidden) {
		t.Fatalf("a professional's import: %v, want a refusal", err)
	}
}
