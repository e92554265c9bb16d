package imapd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
)

func TestTLSRequiredBeforeSignIn(t *testing.T) {
	e := newEnv(t, mailtest.Options{})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	c, err := imapclient.DialInsecure(e.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Has(imap.CapLoginDisabled) || !caps.Has(imap.CapStartTLS) || caps.Has("AUTH=PLAIN") {
		t.Fatalf("capabilities before STARTTLS: %v", caps)
	}
	wantNo(t, c.Login(pro.Address, pro.Password).Wait(), "")
	if err := c.Authenticate(sasl.NewPlainClient("", pro.Address, pro.Password)); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("AUTHENTICATE PLAIN before STARTTLS: %v", err)
	}
	if c.State() != imap.ConnStateNotAuthenticated {
		t.Fatalf("state after refused sign-ins: %v", c.State())
	}
	// Over TLS, the same credentials work, and the server offers the mechanisms.
	s := e.dial(t, nil)
	caps, err = s.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []imap.Cap{"AUTH=PLAIN", "AUTH=XOAUTH2", "AUTH=OAUTHBEARER", imap.CapIMAP4rev2} {
		if !caps.Has(want) {
			t.Fatalf("capabilities after STARTTLS lack %s: %v", want, caps)
		}
	}
	if err := s.Login(pro.Address, pro.Password).Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestSignInFailuresAlike(t *testing.T) {
	e := newEnv(t, mailtest.Options{})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	other := e.Professional(t, 2, "jean.dupont", "DUPONT", "Jean")
	var texts []string
	for _, cred := range [][2]string{
		{pro.Address, "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH"}, // wrong password
		{"nobody@" + mailtest.Domain, pro.Password},              // unknown mailbox
		{other.Address, pro.Password},                            // another mailbox's password
	} {
		c := e.dial(t, nil)
		err := c.Login(cred[0], cred[1]).Wait()
		var ie *imap.Error
		if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeAuthenticationFailed {
			t.Fatalf("LOGIN %s: %v", cred[0], err)
		}
		texts = append(texts, ie.Text)
	}
	if texts[0] != texts[1] || texts[1] != texts[2] {
		t.Fatalf("failures answered differently: %q", texts)
	}
	// AUTHENTICATE PLAIN answers alike.
	c := e.dial(t, nil)
	err := c.Authenticate(sasl.NewPlainClient("", "nobody@"+mailtest.Domain, pro.Password))
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Text != texts[0] {
		t.Fatalf("AUTHENTICATE PLAIN: %v", err)
	}
	// Acting for another mailbox with one's own password: refused alike.
	err = c.Authenticate(sasl.NewPlainClient(other.Address, pro.Address, pro.Password))
	if !errors.As(err, &ie) || ie.Text != texts[0] {
		t.Fatalf("AUTHENTICATE PLAIN with another identity: %v", err)
	}
	// A patient's mailbox is never served, and says so.
	_, patient := e.Patient(t, 1)
	err = c.Login(patient, pro.Password).Wait()
	wantNo(t, err, "patient mailboxes are not served over IMAP")
	// Successes are traced on the actor's chain.
	e.login(t, pro, nil)
	var n int
	if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM traces WHERE action = 'mail.sign_in' AND actor_id = $1`, pro.IdNat).Scan(&n); err != nil || n != 1 {
		t.Fatalf("sign-in traces: %d %v", n, err)
	}
}

func TestThrottledLikeSMTP(t *testing.T) {
	e := newEnv(t, mailtest.Options{Config: func(c *mail.Config) { c.User = mailtest.Throttle }})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	c := e.dial(t, nil)
	var last error
	for range 4 {
		last = c.Login(pro.Address, "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH").Wait()
	}
	var ie *imap.Error
	if !errors.As(last, &ie) || ie.Code != imap.ResponseCodeUnavailable || !strings.Contains(ie.Text, "try again in") {
		t.Fatalf("fourth failure: %v", last)
	}
	// Even the right password waits.
	wantNo(t, c.Login(pro.Address, pro.Password).Wait(), "try again in")
}

func TestBearerTokens(t *testing.T) {
	e := newEnv(t, mailtest.Options{})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	other := e.Professional(t, 2, "jean.dupont", "DUPONT", "Jean")
	org := e.Organisation(t, "750100125", "Centre de santé", "Paris")
	ctx := context.Background()
	sec, err := e.Mail.CreateMailbox(ctx, e.Admin, mail.NewMailbox{Kind: mail.ORG, LocalPart: "secretariat", StructureID: org})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Mail.AddMember(ctx, e.Admin, sec.Address.String(), other.IdNat); err != nil {
		t.Fatal(err)
	}
	tok, otherTok := e.token(t, pro), e.token(t, other)
	for _, tc := range []struct {
		name   string
		client sasl.Client
		ok     bool
	}{
		{"XOAUTH2 owner", xoauth2{pro.Address, tok}, true},
		{"OAUTHBEARER owner", sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: pro.Address, Token: tok}), true},
		{"XOAUTH2 ORG member", xoauth2{sec.Address.String(), otherTok}, true},
		{"XOAUTH2 not a member", xoauth2{sec.Address.String(), tok}, false},
		{"XOAUTH2 someone else's mailbox", xoauth2{other.Address, tok}, false},
		{"XOAUTH2 unknown token", xoauth2{pro.Address, "carnet_" + strings.Repeat("A", 43)}, false},
		{"OAUTHBEARER someone else's mailbox", sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: other.Address, Token: tok}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial(t, nil)
			err := c.Authenticate(tc.client)
			if (err == nil) != tc.ok {
				t.Fatalf("AUTHENTICATE: %v, want success %v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// xoauth2 is the client side of XOAUTH2.
type xoauth2 struct{ user, token string }

func (x xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}
func (x xoauth2) Next([]byte) ([]byte, error) { return []byte{}, nil }

func TestMailboxesApart(t *testing.T) {
	e := newEnv(t, mailtest.Options{})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	other := e.Professional(t, 2, "jean.dupont", "DUPONT", "Jean")
	e.conversation(t, other, patientAddr(1), "Suivi", "Tout va bien, docteur.")
	c := e.login(t, pro, nil)
	for _, name := range []string{other.Address + "/INBOX", "../" + other.Address + "/INBOX", "user/jean.dupont", "#shared/INBOX", "Archives"} {
		if _, err := c.Select(name, nil).Wait(); err == nil {
			t.Fatalf("SELECT %q succeeded", name)
		}
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 0 {
		t.Fatalf("own INBOX: %+v %v", sel, err)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil || len(list) != 4 {
		t.Fatalf("LIST: %+v %v", list, err)
	}
	// The other's INBOX has the answer.
	oc := e.login(t, other, nil)
	if sel, err := oc.Select("INBOX", nil).Wait(); err != nil || sel.NumMessages != 1 {
		t.Fatalf("other's INBOX: %+v %v", sel, err)
	}
}

func TestClientFlow(t *testing.T) {
	e := newEnv(t, mailtest.Options{})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	for i := 1; i <= 3; i++ {
		e.conversation(t, pro, patientAddr(i), fmt.Sprintf("Suivi %d", i), fmt.Sprintf("Bonjour docteur, la tension est à %d.", 12+i))
	}
	c := e.login(t, pro, nil)

	list, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Mailbox)
	}
	if strings.Join(names, ",") != "INBOX,Sent,Drafts,Trash" {
		t.Fatalf("LIST: %v", names)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, NumUnseen: true, UIDNext: true, UIDValidity: true}).Wait()
	if err != nil || *st.NumMessages != 3 || *st.NumUnseen != 3 || st.UIDNext != 4 || st.UIDValidity == 0 {
		t.Fatalf("STATUS: %+v %v", st, err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 3 || sel.UIDValidity != st.UIDValidity {
		t.Fatalf("SELECT: %+v %v", sel, err)
	}

	// FETCH: envelope, structure, flags, size, date, and the body (peek first).
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true, BodyStructure: &imap.FetchItemBodyStructure{},
		Flags: true, RFC822Size: true, InternalDate: true, UID: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}, {Specifier: imap.PartSpecifierHeader, Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH: %v %v", msgs, err)
	}
	m := msgs[0]
	if m.Envelope == nil || m.Envelope.Subject != "Re: Suivi 1" || len(m.Envelope.From) != 1 || m.Envelope.From[0].Addr() != patientAddr(1) {
		t.Fatalf("ENVELOPE: %+v", m.Envelope)
	}
	if bs, ok := m.BodyStructure.(*imap.BodyStructureSinglePart); !ok || bs.Type != "text" || bs.Subtype != "plain" {
		t.Fatalf("BODYSTRUCTURE: %#v", m.BodyStructure)
	}
	full := m.FindBodySection(&imap.FetchItemBodySection{Peek: true})
	header := m.FindBodySection(&imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true})
	if !bytes.Contains(full, []byte("la tension est à 13")) || !bytes.HasPrefix(full, header) || bytes.Contains(header, []byte("tension")) ||
		int64(len(full)) != m.RFC822Size || m.UID != 1 || len(m.Flags) != 0 || m.InternalDate.IsZero() {
		t.Fatalf("FETCH data: size %d uid %d flags %v body %q", m.RFC822Size, m.UID, m.Flags, full)
	}
	// A partial fetch.
	part, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{
		{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: 10}}}}).Collect()
	if err != nil || len(part) != 1 || len(part[0].BodySection[0].Bytes) != 10 {
		t.Fatalf("partial FETCH: %v %v", part, err)
	}
	// BODY[] without PEEK sets \Seen.
	msgs, err = c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierText}}}).Collect()
	if err != nil || len(msgs) != 1 || !hasFlag(msgs[0].Flags, imap.FlagSeen) {
		t.Fatalf("FETCH BODY[TEXT]: %+v %v", msgs, err)
	}

	// SEARCH: flags, header fields, text (in the decrypted body, accents ignored), dates, UIDs.
	for _, tc := range []struct {
		name string
		c    imap.SearchCriteria
		want []uint32
	}{
		{"unseen", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, []uint32{1, 3}},
		{"seen", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, []uint32{2}},
		{"subject", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "suivi 3"}}}, []uint32{3}},
		{"from", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: mailtest.INS(2)}}}, []uint32{2}},
		{"body", imap.SearchCriteria{Body: []string{"TENSION EST A 14"}}, []uint32{2}},
		{"text", imap.SearchCriteria{Text: []string{"Lucie Durand"}}, []uint32{1, 2, 3}},
		{"since", imap.SearchCriteria{Since: mailtest.T0.AddDate(0, 0, -1)}, []uint32{1, 2, 3}},
		{"before", imap.SearchCriteria{Before: mailtest.T0.AddDate(0, 0, -1)}, nil},
		{"uid", imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(2, 3)}}, []uint32{2, 3}},
		{"not", imap.SearchCriteria{Not: []imap.SearchCriteria{{Body: []string{"tension est à 13"}}}}, []uint32{2, 3}},
	} {
		d, err := c.Search(&tc.c, nil).Wait()
		if err != nil {
			t.Fatalf("SEARCH %s: %v", tc.name, err)
		}
		if got := d.AllSeqNums(); fmt.Sprint(got) != fmt.Sprint(tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Fatalf("SEARCH %s: %v, want %v", tc.name, got, tc.want)
		}
	}

	// STORE, then COPY to Trash keeps the flags; MOVE empties the source.
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, imap.FlagAnswered}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	cp, err := c.Copy(imap.SeqSetNum(1), "Trash").Wait()
	if err != nil || cp.DestUIDs.String() != "1" {
		t.Fatalf("COPY: %+v %v", cp, err)
	}
	mv, err := c.Move(imap.SeqSetNum(3), "Trash").Wait()
	if err != nil || mv.DestUIDs.String() != "2" || mv.SourceUIDs.String() != "3" {
		t.Fatalf("MOVE: %+v %v", mv, err)
	}
	// Expunge message 1 (flagged \Deleted): message 2, still UID 2, becomes number 1.
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	exp, err := c.Expunge().Collect()
	if err != nil || fmt.Sprint(exp) != "[1]" {
		t.Fatalf("EXPUNGE: %v %v", exp, err)
	}
	msgs, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 2 || !hasFlag(msgs[0].Flags, imap.FlagSeen) {
		t.Fatalf("after EXPUNGE: %+v %v", msgs, err)
	}
	if _, err := c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{UID: true}).Collect(); err != nil {
		t.Fatal(err)
	}

	// Trash has both, with their flags; UID EXPUNGE removes one of them only.
	if _, err := c.Select("Trash", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err = c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{UID: true, Flags: true, Envelope: true}).Collect()
	if err != nil || len(msgs) != 2 || !hasFlag(msgs[0].Flags, imap.FlagFlagged) || msgs[1].Envelope.Subject != "Re: Suivi 3" {
		t.Fatalf("Trash: %+v %v", msgs, err)
	}
	if _, err := c.Store(imap.SeqSetNum(1, 2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if exp, err := c.UIDExpunge(imap.UIDSetNum(2)).Collect(); err != nil || fmt.Sprint(exp) != "[2]" {
		t.Fatalf("UID EXPUNGE: %v %v", exp, err)
	}
	// No message is left that no folder and no outbound delivery holds: an expunge that took
	// the last copy erased its row and queued its bytes for erasure.
	var orphans, garbage int
	if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM mail_messages m WHERE NOT EXISTS (SELECT 1 FROM mail_deliveries d WHERE d.message_ref = m.id)
		AND NOT EXISTS (SELECT 1 FROM mail_outbound o WHERE o.message_ref = m.id)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM blob_garbage`).Scan(&garbage); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 || garbage == 0 {
		t.Errorf("after the expunges: %d messages held by nothing, %d blobs queued for erasure", orphans, garbage)
	}

	// APPEND a copy into Sent, and a draft; not into INBOX.
	sent := mailtest.Message(pro.Address, patientAddr(1), "Ordonnance", "Voici votre ordonnance.")
	ap := c.Append("Sent", int64(len(sent)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: mailtest.T0})
	ap.Write([]byte(sent))
	ap.Close()
	ad, err := ap.Wait()
	if err != nil || ad.UID != 1 {
		t.Fatalf("APPEND Sent: %+v %v", ad, err)
	}
	ap = c.Append("INBOX", int64(len(sent)), nil)
	ap.Write([]byte(sent))
	ap.Close()
	if _, err := ap.Wait(); err == nil {
		t.Fatal("APPEND to INBOX accepted")
	}
	if _, err := c.Select("Sent", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 || string(msgs[0].BodySection[0].Bytes) != sent || !msgs[0].InternalDate.Equal(mailtest.T0) ||
		!hasFlag(msgs[0].Flags, imap.FlagSeen) {
		t.Fatalf("Sent: %+v %v", msgs, err)
	}
	// Stored like received mail: a message row over a blob of the (encrypting) blob store.
	var id int64
	if err := e.DB.SQL().QueryRow(`SELECT id FROM mail_messages WHERE channel = 'append'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if got := e.ReadMessage(t, id); got != sent {
		t.Fatalf("the appended message reads back as %q", got)
	}

	// Fixed folders; read-only EXAMINE.
	if err := c.Create("Archives", nil).Wait(); err == nil {
		t.Fatal("CREATE accepted")
	}
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err == nil {
		t.Fatal("STORE in EXAMINE accepted")
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, x := range flags {
		if strings.EqualFold(string(x), string(f)) {
			return true
		}
	}
	return false
}

// TestIdleSeesDelivery: a session idling on INBOX is told of a message delivered by SMTP,
// and another session's expunge reaches it too, with sequence numbers that stay right.
func TestIdleSeesDelivery(t *testing.T) {
	e := newEnv(t, mailtest.Options{})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	e.conversation(t, pro, patientAddr(1), "Suivi", "Première réponse")
	exists := make(chan uint32, 10)
	expunged := make(chan uint32, 10)
	c := e.login(t, pro, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
		Expunge: func(seq uint32) { expunged <- seq },
	}})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	e.smtpSend(t, e.Relay, "", "", patientAddr(1), []string{pro.Address},
		mailtest.Message("Lucie Durand <"+patientAddr(1)+">", pro.Address, "Re: Suivi", "Deuxième réponse"))
	select {
	case n := <-exists:
		if n != 2 {
			t.Fatalf("EXISTS %d, want 2", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the idling session was not told of the delivery")
	}
	// Another session deletes the first message: the idling one is told EXPUNGE 1.
	o := e.login(t, pro, nil)
	if _, err := o.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-expunged:
		if n != 1 {
			t.Fatalf("EXPUNGE %d, want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the idling session was not told of the expunge")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 2 {
		t.Fatalf("after IDLE: %+v %v", msgs, err)
	}
}

// A folder missing (a mailbox made before it existed) is made on first use, with the
// mailbox's UIDVALIDITY.
func TestFoldersMadeOnFirstUse(t *testing.T) {
	e := newEnv(t, mailtest.Options{})
	pro := e.Professional(t, 1, "claire.martin", "MARTIN", "Claire")
	if _, err := e.DB.SQL().Exec(`DELETE FROM mail_folders WHERE mailbox_id = $1 AND name = 'Drafts'`, pro.Mailbox.ID); err != nil {
		t.Fatal(err)
	}
	c := e.login(t, pro, nil)
	drafts, err := c.Select("Drafts", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := c.Select("INBOX", nil).Wait()
	if err != nil || drafts.UIDValidity != inbox.UIDValidity || drafts.UIDNext != 1 {
		t.Fatalf("Drafts %+v, INBOX %+v, %v", drafts, inbox, err)
	}
	if list, err := c.List("", "*", nil).Collect(); err != nil || len(list) != 4 {
		t.Fatalf("LIST: %v %v", list, err)
	}
}
