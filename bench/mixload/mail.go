package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/carnet-sante/carnet/bench/benchseed"
	"github.com/carnet-sante/carnet/bench/smtpclient"
)

// The messaging and measurement operations of the mix:
//
//	smtp   a professional's message (about 20 KB, a PDF attached) to a patient's mailbox
//	       <INS>@patient.<domain>, over SMTP submission (STARTTLS, AUTH PLAIN with the app
//	       password of their PER mailbox): one transaction on one of --smtp-sessions sessions
//	       opened before the clock starts, as mail clients that stay connected
//	imap   a professional's mail client checking their mail: a whole IMAP session (STARTTLS,
//	       LOGIN with the app password, SELECT INBOX, FETCH of the last N messages' envelopes
//	       and of the newest one's body, LOGOUT)
//	pch01  a connected app's measurement push (IHE PCH-01): a transaction Bundle of a Device
//	       (ifNoneExist on its identifier) and a weight Observation, with the app's token

// messaging holds what the mail operations share.
type messaging struct {
	o     options
	boxes []benchseed.Mailbox
	gens  []*smtpclient.Generator // one per mailbox (its From field)
	tls   *tls.Config
	// idle holds authenticated SMTP sessions between messages.
	idle chan *smtpSession
	// reading holds a token per mailbox while an IMAP session of it runs: a professional's
	// mail client does not log in twice at once (and carnet counts logins in flight against
	// the mailbox's sign-in throttle, as attempts not yet proven).
	reading []chan struct{}
}

type smtpSession struct {
	s   *smtpclient.Session
	box int
}

func newMessaging(o options, seed *benchseed.File) (*messaging, error) {
	if len(seed.Mailboxes) == 0 || seed.Domain == "" {
		return nil, errors.New("the seed file has no mailbox (mhdload seed --mailboxes N)")
	}
	m := &messaging{o: o, boxes: seed.Mailboxes, idle: make(chan *smtpSession, max(o.smtpSessions, 1)),
		// carnet serve generates a self-signed certificate for its mail listeners unless
		// given one: --insecure accepts it.
		tls: &tls.Config{InsecureSkipVerify: o.insecure, MinVersion: tls.VersionTLS12}}
	for _, b := range m.boxes {
		m.gens = append(m.gens, smtpclient.NewGenerator(b.Address, "mixload.localhost", o.mailSize))
		m.reading = append(m.reading, make(chan struct{}, 1))
	}
	return m, nil
}

func (m *messaging) close() {
	for {
		select {
		case s := <-m.idle:
			if s.s != nil {
				s.s.Quit()
			}
		default:
			return
		}
	}
}

// patientAddress is the mailbox of a patient of this operator.
func patientAddress(matricule, domain string) string {
	return strings.ToLower(matricule) + "@patient." + domain
}

// open opens the SMTP sessions, one after the other before the clock starts, spread over the
// mailboxes: carnet throttles a burst of logins from one address (and counts the logins in
// flight against it), and what the mix measures is mail, not sign-in.
func (m *messaging) open(n int) error {
	for i := range n {
		s, err := m.dial(i % len(m.boxes))
		if err != nil {
			return fmt.Errorf("SMTP session %d: %w", i+1, err)
		}
		m.idle <- s
	}
	return nil
}

func (m *messaging) dial(box int) (*smtpSession, error) {
	c, err := smtpclient.Dial(smtpclient.Options{Addr: m.o.smtpAddr, Helo: "mixload.localhost", StartTLS: true,
		Insecure: m.o.insecure, User: m.boxes[box].Address, Password: m.boxes[box].Password})
	if err != nil {
		return nil, err
	}
	return &smtpSession{s: c, box: box}, nil
}

// send sends one message to the patient on a free session (waiting for one, in the
// operation's time, when all are busy). A broken session is opened again for the next
// message.
func (m *messaging) send(ctx context.Context, to string) error {
	var s *smtpSession
	select {
	case s = <-m.idle:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.s == nil {
		c, err := m.dial(s.box)
		if err != nil {
			m.idle <- s
			return fmt.Errorf("SMTP session: %w", err)
		}
		s = c
	}
	if dl, ok := ctx.Deadline(); ok {
		s.s.SetDeadline(dl)
	}
	from := m.boxes[s.box].Address
	_, err := s.s.Send(from, []string{to}, m.gens[s.box].Message([]string{to}))
	if err != nil && (!smtpclient.IsReply(err) || s.s.Reset() != nil) {
		s.s.Close()
		s.s = nil
	}
	m.idle <- s
	return err
}

// read runs one mail client's visit: login, INBOX, the last messages' envelopes, the newest
// one's body.
func (m *messaging) read(ctx context.Context, seq uint64) error {
	// The mailbox of seq, or the next one whose client is not reading already; when every
	// one is, wait for seq's (the wait is part of the operation's time).
	i, start := -1, int(seq%uint64(len(m.boxes)))
	for k := range m.boxes {
		j := (start + k) % len(m.boxes)
		select {
		case m.reading[j] <- struct{}{}:
			i = j
		default:
			continue
		}
		break
	}
	if i < 0 {
		select {
		case m.reading[start] <- struct{}{}:
			i = start
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-m.reading[i] }()
	box := m.boxes[i]
	c, err := imapclient.DialStartTLS(m.o.imapAddr, &imapclient.Options{TLSConfig: m.tls})
	if err != nil {
		return fmt.Errorf("IMAP: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Login(box.Address, box.Password).Wait(); err != nil {
		return fmt.Errorf("LOGIN: %w", err)
	}
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return fmt.Errorf("SELECT: %w", err)
	}
	if sel.NumMessages == 0 {
		return fmt.Errorf("the INBOX of %s is empty (mhdload seed --inbox)", box.Address)
	}
	first := uint32(1)
	if n := uint32(m.o.imapFetch); sel.NumMessages > n {
		first = sel.NumMessages - n + 1
	}
	var set imap.SeqSet
	set.AddRange(first, sel.NumMessages)
	heads, err := c.Fetch(set, &imap.FetchOptions{Envelope: true, Flags: true, RFC822Size: true, UID: true}).Collect()
	if err != nil {
		return fmt.Errorf("FETCH envelopes: %w", err)
	}
	if len(heads) == 0 {
		return errors.New("FETCH envelopes: nothing")
	}
	body := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(sel.NumMessages), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{body}}).Collect()
	if err != nil {
		return fmt.Errorf("FETCH body: %w", err)
	}
	if len(msgs) != 1 || len(msgs[0].FindBodySection(body)) == 0 {
		return errors.New("FETCH body: no body")
	}
	return c.Logout().Wait()
}

// pusher sends PCH-01 bundles.
type pusher struct {
	url  string
	apps []benchseed.App
	http *http.Client
	run  uint64
}

func newPusher(o options, seed *benchseed.File) (*pusher, error) {
	if len(seed.Apps) == 0 {
		return nil, errors.New("the seed file has no app token (mhdload seed --apps N)")
	}
	return &pusher{url: strings.TrimSuffix(o.url, "/") + "/fhir", apps: seed.Apps, run: rand.Uint64() & 0xffffffffffff,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.inflight}}}, nil
}

var pushSeq struct {
	sync.Mutex
	n uint64
}

// push sends one measurement of the app of patient seq: a weight, from the app's scale.
func (p *pusher) push(ctx context.Context, seq uint64) error {
	i := int(seq % uint64(len(p.apps)))
	app := p.apps[i]
	pushSeq.Lock()
	pushSeq.n++
	n := pushSeq.n
	pushSeq.Unlock()
	sys, val := app.INS.FHIR()
	device := fmt.Sprintf("FE-ED-%02X-%02X-%02X-00-00-01", byte(i>>16), byte(i>>8), byte(i)) // the patient's own scale
	obsID := fmt.Sprintf("00000000-0000-4000-8000-%012x", (p.run+n)&0xffffffffffff)
	weight := 50 + float64(seq%400)/10
	body := `{"resourceType":"Bundle","type":"transaction","entry":[
{"fullUrl":"urn:uuid:3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b","resource":{"resourceType":"Device","identifier":[{"system":"urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680","value":"` + device + `"}],"manufacturer":"Acme Santé","modelNumber":"S-200"},
 "request":{"method":"POST","url":"Device","ifNoneExist":"identifier=urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680|` + device + `"}},
{"fullUrl":"urn:uuid:9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","resource":{"resourceType":"Observation","identifier":[{"system":"urn:ietf:rfc:3986","value":"urn:uuid:` + obsID + `"}],"status":"final",
 "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
 "code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"identifier":{"system":"` + sys + `","value":"` + val + `"}},
 "effectiveDateTime":"` + time.Now().Add(-time.Minute).Format(time.RFC3339) + `","valueQuantity":{"value":` + fmt.Sprintf("%.1f", weight) + `,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"},
 "device":{"reference":"urn:uuid:3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b"}},"request":{"method":"POST","url":"Observation"}}]}`
	req, err := http.NewRequestWithContext(ctx, "POST", p.url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+app.Token)
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Accept", "application/fhir+json")
	res, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("PCH-01: HTTP %d: %.200s", res.StatusCode, b)
	}
	return nil
}
