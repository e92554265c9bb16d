package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

func TestConfigValidate(t *testing.T) {
	smtpOK := Config{Mode: ModeSMTP, SMTPAddr: "relay.example.fr:587", From: "noreply@carnet.test", Username: "notices", Password: "s3cr3t-relay-password"}
	tests := []struct {
		name   string
		cfg    Config
		wantOK bool
		want   []string // parts of the message
	}{
		{name: "outbox", cfg: Config{OutboxDir: "/var/lib/carnet/outbox"}, wantOK: true},
		{name: "outbox with sender", cfg: Config{Mode: ModeOutbox, OutboxDir: "x", From: testFrom}, wantOK: true},
		{name: "smtp with STARTTLS by default", cfg: smtpOK, wantOK: true},
		{name: "smtp implicit TLS", cfg: with(smtpOK, func(c *Config) { c.SMTPTLS = TLSImplicit; c.SMTPAddr = "relay.example.fr:465" }), wantOK: true},
		{name: "none to 127.0.0.1", cfg: with(smtpOK, func(c *Config) { c.SMTPTLS = TLSNone; c.SMTPAddr = "127.0.0.1:25"; c.Username, c.Password = "", "" }), wantOK: true},
		{name: "none to ::1", cfg: with(smtpOK, func(c *Config) { c.SMTPTLS = TLSNone; c.SMTPAddr = "[::1]:25"; c.Username, c.Password = "", "" }), wantOK: true},
		{name: "none to localhost", cfg: with(smtpOK, func(c *Config) { c.SMTPTLS = TLSNone; c.SMTPAddr = "localhost:25"; c.Username, c.Password = "", "" }), wantOK: true},

		{name: "unknown mode", cfg: Config{Mode: "sendmail"}, want: []string{`mode "sendmail" is unknown`}},
		{name: "outbox without folder", cfg: Config{}, want: []string{"outbox folder is required"}},
		{name: "outbox with bad sender", cfg: Config{OutboxDir: "x", From: "nobody"}, want: []string{"sender address"}},
		{name: "none to a remote host", cfg: with(smtpOK, func(c *Config) { c.SMTPTLS = TLSNone; c.Username, c.Password = "", "" }),
			want: []string{`TLS mode "none" is only allowed for a relay on this machine`, `"relay.example.fr"`}},
		{name: "none to a remote IP", cfg: with(smtpOK, func(c *Config) { c.SMTPTLS = TLSNone; c.SMTPAddr = "10.0.0.25:25"; c.Username, c.Password = "", "" }),
			want: []string{"only allowed for a relay on this machine"}},
		{name: "none to a name that merely starts like localhost", cfg: with(smtpOK, func(c *Config) {
			c.SMTPTLS = TLSNone
			c.SMTPAddr = "localhost.evil.test:25"
			c.Username, c.Password = "", ""
		}),
			want: []string{"only allowed for a relay on this machine"}},
		{name: "AUTH without TLS, even on loopback", cfg: with(smtpOK, func(c *Config) { c.SMTPTLS = TLSNone; c.SMTPAddr = "127.0.0.1:25" }),
			want: []string{"authentication needs TLS"}},
		{name: "unknown TLS mode", cfg: with(smtpOK, func(c *Config) { c.SMTPTLS = "ssl" }), want: []string{`TLS mode "ssl" is unknown`}},
		{name: "no relay address", cfg: with(smtpOK, func(c *Config) { c.SMTPAddr = "" }), want: []string{"relay address (host:port) is required"}},
		{name: "relay without port", cfg: with(smtpOK, func(c *Config) { c.SMTPAddr = "relay.example.fr" }), want: []string{"not host:port"}},
		{name: "relay with a bad port", cfg: with(smtpOK, func(c *Config) { c.SMTPAddr = "relay.example.fr:smtp" }), want: []string{"not a number"}},
		{name: "username without password", cfg: with(smtpOK, func(c *Config) { c.Password = "" }), want: []string{"password is required"}},
		{name: "password without username", cfg: with(smtpOK, func(c *Config) { c.Username = "" }), want: []string{"without a username"}},
		{name: "smtp without sender", cfg: with(smtpOK, func(c *Config) { c.From = "" }), want: []string{"sender address is required"}},
		{name: "negative timeout", cfg: with(smtpOK, func(c *Config) { c.Timeout = -time.Second }), want: []string{"timeout must not be negative"}},
		{name: "every problem at once", cfg: Config{Mode: ModeSMTP, SMTPTLS: "ssl", Password: "hunter2"},
			want: []string{"relay address", `TLS mode "ssl"`, "without a username", "sender address is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("Validate error = %v, want code invalid", err)
			}
			msg := errs.MessageOf(err)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not mention %q", msg, w)
				}
			}
			if tt.cfg.Password != "" && strings.Contains(msg, tt.cfg.Password) {
				t.Errorf("message reveals the password: %q", msg)
			}
			if _, err := New(tt.cfg, nil); !errs.Is(err, errs.Invalid) {
				t.Errorf("New accepted a configuration Validate refuses: %v", err)
			}
		})
	}
}

func with(c Config, change func(*Config)) Config {
	change(&c)
	return c
}
