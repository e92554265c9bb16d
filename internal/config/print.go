package config

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

const redacted = "[redacted]"

// Secret holds a value that must never be shown. Whatever the fmt verb, and in slog or JSON,
// it prints as [redacted] when set and as "" when not; Reveal gives the value to the code that
// uses it.
type Secret struct{ v string }

// NewSecret wraps s, for instance to build an SMTP configuration in a test.
func NewSecret(s string) Secret { return Secret{s} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is unset.
func (s Secret) IsZero() bool { return s.v == "" }

func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return redacted
}

// Format makes every verb print String, %x and %#v included.
func (s Secret) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// LogValue keeps the secret out of structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps the secret out of JSON and other encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Database drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// DB is the parsed database_url. DSN is the file path for SQLite (carnet adds the connection
// options itself) and the URL as given for PostgreSQL, password included: print Redacted, not
// DSN. The fmt verbs and slog print Redacted.
type DB struct {
	Driver string // DriverSQLite or DriverPostgres
	DSN    string
}

// ParseDB parses a database URL: sqlite:PATH, sqlite://PATH, file:PATH, postgres://… or
// postgresql://…. Its errors never quote the URL, which may hold a password.
func ParseDB(s string) (DB, error) {
	const accepted = "want sqlite:PATH, sqlite://PATH, file:PATH, postgres://… or postgresql://…"
	scheme, rest, ok := strings.Cut(s, ":")
	switch strings.ToLower(scheme) {
	case "sqlite", "file":
		path := strings.TrimPrefix(rest, "//")
		switch {
		case path == "":
			return DB{}, fmt.Errorf("no file path after %s:", scheme)
		case strings.ContainsRune(path, '?'):
			// Connection options (WAL, busy_timeout, foreign keys) are carnet's to set, so that
			// every connection gets them; a query string here would fight them.
			return DB{}, fmt.Errorf("a query string (?…) in a SQLite URL is not supported; carnet sets the connection options")
		}
		return DB{Driver: DriverSQLite, DSN: path}, nil
	case "postgres", "postgresql":
		if _, err := url.Parse(s); err != nil || !strings.HasPrefix(rest, "//") {
			return DB{}, fmt.Errorf("not a valid %s:// URL", scheme)
		}
		return DB{Driver: DriverPostgres, DSN: s}, nil
	}
	if !ok {
		return DB{}, fmt.Errorf("no scheme; %s", accepted)
	}
	return DB{}, fmt.Errorf("scheme %q is not supported; %s", scheme, accepted)
}

// Redacted returns the database URL with any password replaced, fit for printing.
func (d DB) Redacted() string {
	switch d.Driver {
	case DriverSQLite:
		return "sqlite:" + d.DSN
	case "":
		return ""
	}
	u, err := url.Parse(d.DSN)
	if err != nil {
		return d.Driver + "://" + redacted
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	// libpq also takes the password, and the client key's passphrase, as query parameters.
	q := u.Query()
	changed := false
	for name := range q {
		if n := strings.ToLower(name); n == "password" || n == "sslpassword" {
			q.Set(name, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func (d DB) String() string { return d.Redacted() }

// Format makes every verb print Redacted.
func (d DB) Format(f fmt.State, _ rune) { io.WriteString(f, d.Redacted()) }

// LogValue keeps the password out of structured logs.
func (d DB) LogValue() slog.Value { return slog.StringValue(d.Redacted()) }

// masterKeyDesc says where the master key comes from, never what it is.
func (c *Config) masterKeyDesc() string {
	if !c.masterKey.IsZero() {
		return "configured (" + c.masterKeyFrom + ")"
	}
	return "file " + c.masterKeyPath + " (generated if absent)"
}

// previousKeysDesc says how many previous master keys there are and where from, never what.
func (c *Config) previousKeysDesc() string {
	switch len(c.previousKeys) {
	case 0:
		return "none"
	case 1:
		return "1 key (" + c.previousKeysFrom + ")"
	}
	return strconv.Itoa(len(c.previousKeys)) + " keys (" + c.previousKeysFrom + ")"
}

// LogValue is the configuration for the start-up log line, without secrets.
func (c *Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("data_dir", c.DataDir),
		slog.String("database", c.DB.Redacted()),
		slog.String("http_addr", c.HTTPAddr),
		slog.String("public_url", urlString(c.PublicURL)),
		slog.String("domain", c.Domain),
		slog.String("master_key", c.masterKeyDesc()),
		slog.String("previous_master_keys", c.previousKeysDesc()),
		slog.Bool("seal_key_set", !c.sealKey.IsZero()),
		slog.String("notify_mode", c.Notify.Mode),
	}
	if c.Notify.Mode == NotifySMTP {
		attrs = append(attrs,
			slog.String("notify_smtp_addr", c.Notify.SMTP.Addr),
			slog.String("notify_smtp_tls", c.Notify.SMTP.TLS),
			slog.String("notify_smtp_username", c.Notify.SMTP.Username),
			slog.Bool("notify_smtp_password_set", !c.Notify.SMTP.Password.IsZero()))
	} else {
		attrs = append(attrs, slog.String("notify_outbox_dir", c.Notify.OutboxDir))
	}
	attrs = append(attrs,
		slog.String("notify_from", c.Notify.From.String()),
		slog.Int("jobs_workers", c.JobsWorkers),
		slog.String("log_level", levelString(c.LogLevel)),
		slog.String("log_format", c.LogFormat),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout))
	return slog.GroupValue(attrs...)
}

// String is the configuration on one line of key=value pairs, without secrets.
func (c *Config) String() string {
	var b strings.Builder
	for i, a := range c.LogValue().Group() {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := a.Value.String()
		if v == "" || strings.ContainsAny(v, " \"=") {
			v = strconv.Quote(v)
		}
		b.WriteString(a.Key + "=" + v)
	}
	return b.String()
}

// Format makes every fmt verb print String. Without it %+v or %#v would print the unexported
// master key: fmt reads unexported fields but cannot call their methods.
func (c Config) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

func urlString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}
