package relay

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/carnet-sante/carnet/internal/mail"
)

type fakeMX map[string][]*net.MX

func (f fakeMX) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	if mx, ok := f[name]; ok {
		return mx, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func TestHosts(t *testing.T) {
	q := &Queue{cfg: Config{Routes: map[string]string{"routed.example": "10.0.0.1:2525"}, Resolver: fakeMX{
		"mx.example":     {{Host: "b.mx.example.", Pref: 20}, {Host: "a.mx.example.", Pref: 10}},
		"nomail.example": {{Host: ".", Pref: 0}},
	}}}
	for domain, want := range map[string][]string{
		"routed.example": {"10.0.0.1:2525"},
		"mx.example":     {"a.mx.example:25", "b.mx.example:25"}, // by preference (RFC 5321 §5.1)
		"bare.example":   {"bare.example:25"},                    // no MX: the domain itself
	} {
		got, err := q.hosts(context.Background(), domain)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %v %v, want %v", domain, got, err, want)
		}
	}
	if _, err := q.hosts(context.Background(), "nomail.example"); err != errNullMX {
		t.Errorf("null MX (RFC 7505): %v", err)
	}
	q.cfg.Routes["*"] = "10.0.0.2:25"
	if got, _ := q.hosts(context.Background(), "mx.example"); !slices.Equal(got, []string{"10.0.0.2:25"}) {
		t.Errorf("default route: %v", got)
	}
}

// A destination that does not offer STARTTLS gets nothing: the attempt is deferred, with
// the reason, and the message is never sent in clear.
func TestNoDeliveryWithoutTLS(t *testing.T) {
	got := make(chan string, 1)
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return plainSession{got}, nil }))
	srv.Domain = "plain.example"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	q := &Queue{cfg: Config{Hostname: "mail.carnet.example", Routes: map[string]string{"*": l.Addr().String()},
		TLS: &tls.Config{MinVersion: tls.VersionTLS12}, Timeout: 5e9}}
	a := q.attempt(context.Background(), mail.Delivery{Outbound: mail.Outbound{Domain: "plain.example", Sender: "a@carnet.example",
		Pending: []string{"b@plain.example"}}})
	if len(a.Delivered) != 0 || len(a.Failed) != 0 || !strings.Contains(a.Temporary, "STARTTLS") {
		t.Fatalf("attempt: %+v", a)
	}
	select {
	case m := <-got:
		t.Fatalf("sent in clear: %s", m)
	default:
	}
}

type plainSession struct{ got chan string }

func (p plainSession) Mail(from string, _ *smtp.MailOptions) error {
	p.got <- "MAIL " + from
	return nil
}
func (plainSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (plainSession) Data(io.Reader) error                 { return nil }
func (plainSession) Reset()                               {}
func (plainSession) Logout() error                        { return nil }
