package imapd_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/carnet-sante/carnet/internal/mail/mailtest"
)

// panicLog records whether imapserver logged a panic it recovered from: a command that
// panics closes its connection only, but is a bug all the same.
type panicLog struct {
	mu     sync.Mutex
	panics []string
}

func (p *panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		p.mu.Lock()
		p.panics = append(p.panics, r.Message)
		p.mu.Unlock()
	}
	return nil
}
func (p *panicLog) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicLog) WithGroup(string) slog.Handler      { return p }

// FuzzIMAPCommands feeds arbitrary bytes to a live server on a signed-in connection (after
// STARTTLS and LOGIN), with a message in INBOX: the server must not panic, and another
// session must keep working. The signed-in connection is kept from one input to the next
// while the server answers a marker command after the input (then UNSELECT puts it back in
// the authenticated state); otherwise a new one is opened. Signing in on each input would
// spend nearly all the time in the sign-in's transactions.
func FuzzIMAPCommands(f *testing.F) {
	logs := &panicLog{}
	e := newEnv(f, mailtest.Options{Log: slog.New(logs)})
	pro := e.Professional(f, 1, "claire.martin", "MARTIN", "Claire")
	e.conversation(f, pro, patientAddr(1), "Suivi", "Bonjour docteur.")
	control := e.login(f, pro, nil)
	for _, seed := range []string{
		"a SELECT INBOX\r\nb FETCH 1:* (BODY[] BODYSTRUCTURE ENVELOPE FLAGS INTERNALDATE RFC822.SIZE UID)\r\n",
		"a SELECT INBOX\r\nb UID FETCH 1:* (BODY.PEEK[1.MIME]<0.10> BINARY[1] BINARY.SIZE[1])\r\n",
		"a SELECT INBOX\r\nb SEARCH OR TEXT docteur NOT SEEN SINCE 1-Jan-2020 HEADER Subject suivi UID 1:*\r\n",
		"a SELECT INBOX\r\nb STORE 1 +FLAGS (\\Deleted \\Seen $Junk)\r\nc EXPUNGE\r\n",
		"a SELECT INBOX\r\nb COPY 1:* Trash\r\nc MOVE * Drafts\r\nd UID EXPUNGE 1:*\r\n",
		"a APPEND Drafts (\\Draft) {11}\r\nFrom: x\r\n\r\nb\r\nb APPEND INBOX {1}\r\nx\r\n",
		"a LIST \"\" *\r\nb LIST (SPECIAL-USE) \"\" * RETURN (STATUS (MESSAGES UNSEEN SIZE))\r\nc STATUS Trash (UIDNEXT UIDVALIDITY DELETED)\r\n",
		"a SELECT INBOX\r\nb IDLE\r\nDONE\r\nc NOOP\r\n",
		"a EXAMINE INBOX\r\nb STORE 1 FLAGS (\\Flagged)\r\nc SEARCH $\r\nd UNSELECT\r\n",
		"a CREATE x\r\nb DELETE INBOX\r\nc RENAME Sent y\r\nd NAMESPACE\r\ne ENABLE IMAP4rev2\r\n",
		"a SELECT INBOX\r\nb FETCH 4294967295:* (BODY[HEADER.FIELDS (FROM)])\r\nc FETCH 0 FLAGS\r\n",
		"a LOGOUT\r\n",
		"\x00\xff{99999999999}\r\n)))(((\r\n",
	} {
		f.Add([]byte(seed))
	}
	var fc *fuzzConn
	f.Cleanup(func() {
		if fc != nil {
			fc.conn.Close()
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if fc == nil {
			fc = signIn(t, e, pro)
		}
		if !fc.feed(data) {
			fc.conn.Close()
			fc = nil
		}
		if err := control.Noop().Wait(); err != nil {
			t.Fatalf("another session broke: %v", err)
		}
		logs.mu.Lock()
		defer logs.mu.Unlock()
		if len(logs.panics) > 0 {
			t.Fatalf("the server panicked on %q: %v", data, logs.panics)
		}
	})
	if _, err := control.Status("Trash", &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
		f.Fatalf("another session broke: %v", err)
	}
}

// fuzzConn is a signed-in connection.
type fuzzConn struct {
	conn net.Conn
	r    *bufio.Reader
	n    int
}

// signIn opens a connection and signs in: STARTTLS, then LOGIN.
func signIn(t *testing.T, e *env, pro mailtest.Pro) *fuzzConn {
	conn, err := net.Dial("tcp", e.Addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(conn)
	expect := func(r *bufio.Reader, tag string) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("waiting for %s: %v", tag, err)
			}
			if strings.HasPrefix(line, tag+" ") {
				if !strings.HasPrefix(line, tag+" OK") {
					t.Fatalf("%s", line)
				}
				return
			}
		}
	}
	expect(r, "*")
	fmt.Fprintf(conn, "s STARTTLS\r\n")
	expect(r, "s")
	tc := tls.Client(conn, e.ClientTLS)
	tr := bufio.NewReader(tc)
	fmt.Fprintf(tc, "l LOGIN %s %s\r\n", strconv.Quote(pro.Address), strconv.Quote(pro.Password))
	expect(tr, "l")
	return &fuzzConn{conn: tc, r: tr}
}

// feed writes data, then a marker command (UNSELECT, which also leaves any selected folder),
// and reads until the marker's answer; false when the connection is no longer usable (the
// server closed it, or it waits for more, e.g. the rest of a literal; a slow answer too, at
// the cost of a new sign-in only).
func (c *fuzzConn) feed(data []byte) bool {
	c.n++
	tag := "Zq9" + strconv.Itoa(c.n)
	c.conn.SetDeadline(time.Now().Add(400 * time.Millisecond))
	if _, err := c.conn.Write(data); err != nil {
		return false
	}
	if _, err := fmt.Fprintf(c.conn, "\r\n%s UNSELECT\r\n", tag); err != nil {
		return false
	}
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return false
		}
		if strings.HasPrefix(line, tag+" ") {
			return true
		}
	}
}
