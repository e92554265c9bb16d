package config

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// builder turns merged settings into a Config, collecting every problem rather than stopping
// at the first: an operator fixing a deployment wants the whole list at once.
type builder struct {
	vals  map[string]setting
	probs []string
}

func (b *builder) get(name string) string {
	lookupKey(name) // catches a misspelt name in this file
	return b.vals[name].value
}

// fail records a problem with key name. The message must not quote a secret's value.
func (b *builder) fail(name, format string, args ...any) {
	b.probs = append(b.probs, fmt.Sprintf("%s (%s): %s", name, b.vals[name].from, fmt.Sprintf(format, args...)))
}

// build validates the merged settings and resolves the defaults derived from other keys.
func build(vals map[string]setting) (*Config, []string) {
	b := &builder{vals: vals}
	c := &Config{}

	c.DataDir = b.get("data_dir")
	if fi, err := os.Stat(c.DataDir); err == nil && !fi.IsDir() {
		b.fail("data_dir", "%q exists and is not a directory", c.DataDir)
	}

	if v := b.get("database_url"); v == "" {
		c.DB = DB{Driver: DriverSQLite, DSN: filepath.Join(c.DataDir, "carnet.db")}
	} else if db, err := ParseDB(v); err != nil {
		b.fail("database_url", "%v", err) // ParseDB does not quote the URL, which may hold a password
	} else {
		c.DB = db
	}

	c.HTTPAddr = b.get("http_addr")
	addrOK := true
	if err := checkHostPort(c.HTTPAddr, true); err != nil {
		b.fail("http_addr", "%q: %v", c.HTTPAddr, err)
		addrOK = false
	}

	if v := b.get("public_url"); v != "" {
		u, err := parsePublicURL(v)
		if err != nil {
			b.fail("public_url", "%q: %v", v, err)
		}
		c.PublicURL = u
	} else if addrOK {
		c.PublicURL = defaultPublicURL(c.HTTPAddr)
	}

	c.OIDCProvidersFile = b.get("oidc_providers_file")
	c.SMTPRelayAddr, c.SMTPSubmissionAddr = b.get("smtp_relay_addr"), b.get("smtp_submission_addr")
	c.MailAllowlistFile = b.get("mail_allowlist_file")
	c.IMAPAddr = b.get("imap_addr")
	c.MailTLSCertFile, c.MailTLSKeyFile = b.get("mail_tls_cert_file"), b.get("mail_tls_key_file")
	c.MailRelayClientCAFile, c.MailOutboundCAFile = b.get("mail_relay_client_ca_file"), b.get("mail_outbound_ca_file")
	c.MailOutboundCertFile, c.MailOutboundKeyFile = b.get("mail_outbound_cert_file"), b.get("mail_outbound_key_file")
	for _, pair := range [][2]string{{"mail_tls_cert_file", "mail_tls_key_file"}, {"mail_outbound_cert_file", "mail_outbound_key_file"}} {
		if (b.get(pair[0]) == "") != (b.get(pair[1]) == "") {
			b.fail(pair[0], "%s and %s go together: a certificate and its key", pair[0], pair[1])
		}
	}
	c.Domain = strings.ToLower(b.get("domain"))
	domainOK := true
	if err := checkDomain(c.Domain); err != nil {
		b.fail("domain", "%q: %v", c.Domain, err)
		domainOK = false
	}

	if v := b.get("master_key"); v != "" {
		key, err := decodeKey(v)
		if err != nil {
			b.fail("master_key", "%v", err)
		}
		c.masterKey, c.masterKeyFrom = Secret{string(key)}, b.vals["master_key"].from.String()
	} else {
		c.masterKeyPath = filepath.Join(c.DataDir, "master.key")
	}

	if v := b.get("seal_key"); v != "" {
		key, err := decodeKey(v)
		if err != nil {
			b.fail("seal_key", "%v", err)
		}
		c.sealKey = Secret{string(key)}
	}

	if v := b.get("previous_master_keys"); v != "" {
		keys, err := decodeKeyList(v)
		if err != nil {
			b.fail("previous_master_keys", "%v", err)
		}
		for _, k := range keys {
			c.previousKeys = append(c.previousKeys, Secret{string(k)})
		}
		c.previousKeysFrom = b.vals["previous_master_keys"].from.String()
	}

	b.notify(c, domainOK)

	if n, err := strconv.Atoi(b.get("jobs_workers")); err != nil || n < 1 || n > 1000 {
		b.fail("jobs_workers", "%q is not a whole number from 1 to 1000", b.get("jobs_workers"))
	} else {
		c.JobsWorkers = n
	}

	switch v := strings.ToLower(b.get("log_level")); v {
	case "debug", "info", "warn", "error":
		_ = c.LogLevel.UnmarshalText([]byte(v)) // cannot fail on these four
	default:
		b.fail("log_level", "%q is not one of debug, info, warn, error", b.get("log_level"))
	}

	switch v := b.get("log_format"); v {
	case LogText, LogJSON:
		c.LogFormat = v
	default:
		b.fail("log_format", "%q is not one of text, json", v)
	}

	if d, err := time.ParseDuration(b.get("shutdown_timeout")); err != nil || d <= 0 {
		b.fail("shutdown_timeout", "%q is not a positive Go duration such as 30s or 2m", b.get("shutdown_timeout"))
	} else {
		c.ShutdownTimeout = d
	}
	return c, b.probs
}

// notify fills c.Notify.
func (b *builder) notify(c *Config, domainOK bool) {
	n := &c.Notify
	n.Mode = b.get("notify_mode")
	if n.Mode != NotifyOutbox && n.Mode != NotifySMTP {
		b.fail("notify_mode", "%q is not one of outbox, smtp", n.Mode)
	}
	n.OutboxDir = b.get("notify_outbox_dir")
	if n.OutboxDir == "" {
		n.OutboxDir = filepath.Join(c.DataDir, "outbox")
	}

	s := &n.SMTP
	s.Addr = b.get("notify_smtp_addr")
	switch {
	case s.Addr != "":
		if err := checkHostPort(s.Addr, false); err != nil {
			b.fail("notify_smtp_addr", "%q: %v", s.Addr, err)
		}
	case n.Mode == NotifySMTP:
		b.fail("notify_smtp_addr", "required when notify_mode is smtp")
	}
	s.TLS = b.get("notify_smtp_tls")
	if s.TLS != TLSStartTLS && s.TLS != TLSImplicit && s.TLS != TLSNone {
		b.fail("notify_smtp_tls", "%q is not one of starttls, tls, none", s.TLS)
	}
	s.Username = b.get("notify_smtp_username")
	s.Password = Secret{b.get("notify_smtp_password")}
	switch {
	case s.Username != "" && s.Password.IsZero():
		b.fail("notify_smtp_username", "set without notify_smtp_password")
	case s.Username == "" && !s.Password.IsZero():
		b.fail("notify_smtp_password", "set without notify_smtp_username")
	case s.Username != "" && s.TLS == TLSNone && s.Addr != "" && !loopback(s.Addr):
		// The password would cross the network in clear; net/smtp refuses this too.
		b.fail("notify_smtp_tls", "none would send the SMTP password in clear to %s; use starttls or tls", s.Addr)
	}

	from := b.get("notify_from")
	if from == "" {
		if !domainOK {
			return
		}
		from = "carnet <no-reply@" + c.Domain + ">"
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		b.fail("notify_from", "%q is not an e-mail address: %v", from, err)
		return
	}
	n.From = *a
}

// checkHostPort validates host:port with a numeric port. The listen address may leave the host
// empty (every interface) and use port 0 (a free port, for tests); a server to dial may not.
func checkHostPort(s string, listen bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("not HOST:PORT: %v", err)
	}
	if host == "" && !listen {
		return fmt.Errorf("no host")
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if p == 0 && !listen {
		return fmt.Errorf("port 0")
	}
	if host != "" && strings.ContainsAny(host, " /\\@") {
		return fmt.Errorf("host %q is not a name or an IP address", host)
	}
	return nil
}

func loopback(hostport string) bool {
	host, _, _ := net.SplitHostPort(hostport)
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func parsePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, err
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("not an absolute http:// or https:// URL")
	case u.Host == "":
		return nil, fmt.Errorf("no host")
	case u.User != nil:
		return nil, fmt.Errorf("user information has no place in a link sent by e-mail")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("query or fragment: links are built by appending paths")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// defaultPublicURL is http://<http_addr>, with localhost for an address that listens on every
// interface, since "0.0.0.0" or "" is no address to give a user.
func defaultPublicURL(addr string) *url.URL {
	host, port, _ := net.SplitHostPort(addr)
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}
}

// checkDomain validates an ASCII DNS name (RFC 1035 §2.3.1, with digits allowed first per
// RFC 1123 §2.1).
func checkDomain(s string) error {
	if s == "" || len(s) > 253 {
		return fmt.Errorf("a DNS name has 1 to 253 characters")
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("each dot-separated label has 1 to 63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("label %q begins or ends with a hyphen", label)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("label %q holds %q; only letters, digits and hyphens (IDNs in xn-- form)", label, r)
			}
		}
	}
	return nil
}

// decodeKey decodes a master key in base64 or hex. The error never quotes the input.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	// Hex first: 64 hex digits are valid base64 too, of 48 bytes. No base64 form of 32 bytes
	// (43 or 44 characters) is 64 characters long, so the two never compete.
	if len(s) == 2*MasterKeySize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != MasterKeySize {
			return nil, fmt.Errorf("decodes to %d bytes, want %d (make one with: head -c 32 /dev/urandom | base64)", len(key), MasterKeySize)
		}
		return key, nil
	}
	return nil, fmt.Errorf("not base64, standard or URL alphabet, nor hex (make one with: head -c 32 /dev/urandom | base64)")
}

// decodeKeyList decodes previous_master_keys: keys one per line, or separated by commas or
// spaces; blank lines and lines starting with # are skipped. A problem names the key by its
// rank, never by its value.
func decodeKeyList(s string) ([][]byte, error) {
	var keys [][]byte
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			key, err := decodeKey(f)
			if err != nil {
				return nil, fmt.Errorf("key #%d: %v", len(keys)+1, err)
			}
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// levelString names a level as log_level spells it.
func levelString(l slog.Level) string { return strings.ToLower(l.String()) }
