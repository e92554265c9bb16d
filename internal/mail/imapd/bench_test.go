package imapd_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailtest"
)

// BenchmarkIMAPFetch: one FETCH 1:100 (BODY.PEEK[] FLAGS UID) of 100 messages of 20 KB over
// TLS, each read from the blob store (decrypted) per fetch; MB/s counts message bytes.
func BenchmarkIMAPFetch(b *testing.B) {
	e := newEnv(b, mailtest.Options{})
	pro := e.Professional(b, 1, "claire.martin", "MARTIN", "Claire")
	ctx := context.Background()
	body := strings.Repeat(strings.Repeat("Compte rendu de consultation, examen clinique normal. ", 1)+"\r\n", 20<<10/56)
	var size int64
	for i := range 100 {
		msg := mailtest.Message(patientAddr(1), pro.Address, fmt.Sprintf("Compte rendu %d", i), body)
		size += int64(len(msg))
		if _, _, err := e.Mail.AppendMessage(ctx, e.DB.MailFolders(), mail.Sender{Mailbox: pro.Mailbox}, "INBOX", []byte(msg), nil, mailtest.T0); err != nil {
			b.Fatal(err)
		}
	}
	c := e.login(b, pro, nil)
	if sel, err := c.Select("INBOX", nil).Wait(); err != nil || sel.NumMessages != 100 {
		b.Fatalf("SELECT: %+v %v", sel, err)
	}
	opts := &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 100}}, opts).Collect()
		if err != nil || len(msgs) != 100 {
			b.Fatalf("FETCH: %d %v", len(msgs), err)
		}
	}
}
