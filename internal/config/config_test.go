package config

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

// testKey is a valid master key: bytes 0xE0…0xFF, whose base64 differs between the standard
// and URL alphabets.
var testKey = func() []byte {
	k := make([]byte, MasterKeySize)
	for i := range k {
		k[i] = byte(0xE0 + i)
	}
	return k
}()

// load runs Load with args, a fake environment, and, when file is not "", a configuration file
// holding it (named by CARNET_CONFIG unless env or args already name one).
func load(tb testing.TB, args []string, env map[string]string, file string) (*Config, error) {
	tb.Helper()
	e := map[string]string{}
	for k, v := range env {
		e[k] = v
	}
	if file != "" {
		p := filepath.Join(tb.TempDir(), "carnet.conf")
		writeFile(tb, p, file, 0o600)
		if e[configEnv] == "" {
			e[configEnv] = p
		}
	}
	fs := flag.NewFlagSet("carnet serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Load(fs, args, func(k string) string { return e[k] })
}

func mustLoad(tb testing.TB, args []string, env map[string]string, file string) *Config {
	tb.Helper()
	c, err := load(tb, args, env, file)
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return c
}

func writeFile(tb testing.TB, path, content string, mode os.FileMode) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is filtered by the umask
		tb.Fatal(err)
	}
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil, "")
	checks := []struct{ name, got, want string }{
		{"DataDir", c.DataDir, "./carnet-data"},
		{"DB.Driver", c.DB.Driver, DriverSQLite},
		{"DB.DSN", c.DB.DSN, filepath.Join("carnet-data", "carnet.db")},
		{"HTTPAddr", c.HTTPAddr, "127.0.0.1:8080"},
		{"PublicURL", c.PublicURL.String(), "http://127.0.0.1:8080"},
		{"Domain", c.Domain, "carnet.localhost"},
		{"masterKeyPath", c.masterKeyPath, filepath.Join("carnet-data", "master.key")},
		{"Notify.Mode", c.Notify.Mode, NotifyOutbox},
		{"Notify.OutboxDir", c.Notify.OutboxDir, filepath.Join("carnet-data", "outbox")},
		{"Notify.SMTP.TLS", c.Notify.SMTP.TLS, TLSStartTLS},
		{"Notify.From", c.Notify.From.String(), `"carnet" <no-reply@carnet.localhost>`},
		{"JobsWorkers", fmt.Sprint(c.JobsWorkers), "10"},
		{"LogLevel", c.LogLevel.String(), "INFO"},
		{"LogFormat", c.LogFormat, LogText},
		{"ShutdownTimeout", c.ShutdownTimeout.String(), "30s"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if !c.masterKey.IsZero() || !c.Notify.SMTP.Password.IsZero() || len(c.PreviousMasterKeys()) != 0 {
		t.Error("a secret is set by default")
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want string
	}{
		{"flag over env", []string{"--http-addr", "127.0.0.1:1"}, map[string]string{"CARNET_HTTP_ADDR": "127.0.0.1:2"}, "", "127.0.0.1:1"},
		{"flag over file", []string{"--http-addr=127.0.0.1:1"}, nil, "http_addr = 127.0.0.1:3", "127.0.0.1:1"},
		{"env over file", nil, map[string]string{"CARNET_HTTP_ADDR": "127.0.0.1:2"}, "http_addr = 127.0.0.1:3", "127.0.0.1:2"},
		{"file over default", nil, nil, "http_addr = 127.0.0.1:3", "127.0.0.1:3"},
		{"env over default", nil, map[string]string{"CARNET_HTTP_ADDR": "127.0.0.1:2"}, "", "127.0.0.1:2"},
		{"all three", []string{"--http-addr", "127.0.0.1:1"}, map[string]string{"CARNET_HTTP_ADDR": "127.0.0.1:2"}, "http_addr = 127.0.0.1:3", "127.0.0.1:1"},
		{"empty flag falls through", []string{"--http-addr="}, map[string]string{"CARNET_HTTP_ADDR": "127.0.0.1:2"}, "", "127.0.0.1:2"},
		{"empty file value falls through", nil, nil, `http_addr = ""`, "127.0.0.1:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLoad(t, tt.args, tt.env, tt.file).HTTPAddr; got != tt.want {
				t.Errorf("HTTPAddr = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConfigFileFlagOverEnv(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.conf"), filepath.Join(dir, "b.conf")
	writeFile(t, a, "domain = a.example\n", 0o600)
	writeFile(t, b, "domain = b.example\n", 0o600)
	c := mustLoad(t, []string{"--config", a}, map[string]string{configEnv: b}, "")
	if c.Domain != "a.example" {
		t.Errorf("Domain = %q, want a.example from the file named by --config", c.Domain)
	}
}

// Derived defaults follow the merged value of the key they derive from, whichever source set it.
func TestDerivedDefaults(t *testing.T) {
	dir := t.TempDir()
	c := mustLoad(t, []string{"--http-addr", ":0"}, map[string]string{"CARNET_DATA_DIR": dir}, "domain = Example.FR")
	if want := filepath.Join(dir, "carnet.db"); c.DB.DSN != want {
		t.Errorf("DB.DSN = %q, want %q", c.DB.DSN, want)
	}
	if want := filepath.Join(dir, "outbox"); c.Notify.OutboxDir != want {
		t.Errorf("OutboxDir = %q, want %q", c.Notify.OutboxDir, want)
	}
	if want := filepath.Join(dir, "master.key"); c.masterKeyPath != want {
		t.Errorf("masterKeyPath = %q, want %q", c.masterKeyPath, want)
	}
	if got := c.PublicURL.String(); got != "http://localhost:0" {
		t.Errorf("PublicURL = %q, want http://localhost:0", got)
	}
	if got := c.Notify.From.Address; got != "no-reply@example.fr" {
		t.Errorf("Notify.From = %q, want no-reply@example.fr", got)
	}
}

func TestSecretForms(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	writeFile(t, keyFile, base64.URLEncoding.EncodeToString(testKey)+"\n", 0o444) // Docker secrets are world-readable
	pwFile := filepath.Join(dir, "pw")
	writeFile(t, pwFile, " p#ss word \r\n", 0o400)
	smtp := map[string]string{"CARNET_NOTIFY_MODE": "smtp", "CARNET_NOTIFY_SMTP_ADDR": "smtp.example:587", "CARNET_NOTIFY_SMTP_USERNAME": "u"}
	with := func(m map[string]string) map[string]string {
		for k, v := range smtp {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		file     string
		password string
	}{
		{"env values", nil, with(map[string]string{"CARNET_MASTER_KEY": base64.StdEncoding.EncodeToString(testKey), "CARNET_NOTIFY_SMTP_PASSWORD": "pw"}), "", "pw"},
		{"env _FILE", nil, with(map[string]string{"CARNET_MASTER_KEY_FILE": keyFile, "CARNET_NOTIFY_SMTP_PASSWORD_FILE": pwFile}), "", " p#ss word "},
		{"file values", nil, smtp, "master_key = " + base64.RawStdEncoding.EncodeToString(testKey) + "\nnotify_smtp_password = \" pw \"\n", " pw "},
		{"file _file", nil, smtp, "master_key_file = " + keyFile + "\nnotify_smtp_password_file = " + pwFile + "\n", " p#ss word "},
		{"flag _file", []string{"--master-key-file", keyFile, "--notify-smtp-password-file", pwFile}, smtp, "", " p#ss word "},
		{"flag _file over env value", []string{"--notify-smtp-password-file", pwFile},
			with(map[string]string{"CARNET_MASTER_KEY_FILE": keyFile, "CARNET_NOTIFY_SMTP_PASSWORD": "env"}), "", " p#ss word "},
		{"env value over file _file", nil, with(map[string]string{"CARNET_MASTER_KEY_FILE": keyFile, "CARNET_NOTIFY_SMTP_PASSWORD": "env"}),
			"notify_smtp_password_file = " + pwFile, "env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.args, tt.env, tt.file)
			key, err := c.MasterKey()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(key, testKey) {
				t.Errorf("MasterKey = %x, want %x", key, testKey)
			}
			if got := c.Notify.SMTP.Password.Reveal(); got != tt.password {
				t.Errorf("password = %q, want %q", got, tt.password)
			}
		})
	}
}

func TestDatabaseURLFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "db")
	writeFile(t, p, "postgres://carnet:s3cret@db.internal/carnet\n", 0o600)
	c := mustLoad(t, nil, map[string]string{"CARNET_DATABASE_URL_FILE": p}, "")
	if c.DB.Driver != DriverPostgres || c.DB.DSN != "postgres://carnet:s3cret@db.internal/carnet" {
		t.Errorf("DB = %+v", c.DB.Redacted())
	}
}

// Every problem names the key and where the value came from.
func TestInvalid(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "plain")
	writeFile(t, notDir, "", 0o600)
	keyFile := filepath.Join(dir, "key")
	writeFile(t, keyFile, "k", 0o600)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want []string
	}{
		{"both value and _FILE in env", nil, map[string]string{"CARNET_MASTER_KEY": "x", "CARNET_MASTER_KEY_FILE": keyFile}, "",
			[]string{"master_key: both env CARNET_MASTER_KEY and env CARNET_MASTER_KEY_FILE are set"}},
		{"both value and _file in the file", nil, nil, "notify_smtp_password = x\nnotify_smtp_password_file = " + keyFile,
			[]string{"notify_smtp_password: both file ", " line 1 and file ", " line 2 are set"}},
		{"both flags", []string{"--database-url", "sqlite:x", "--database-url-file", keyFile}, nil, "",
			[]string{"database_url: both flag --database-url and flag --database-url-file are set"}},
		{"both, even when overridden", []string{"--master-key-file", keyFile}, map[string]string{"CARNET_MASTER_KEY": "x", "CARNET_MASTER_KEY_FILE": keyFile}, "",
			[]string{"master_key: both env CARNET_MASTER_KEY and env CARNET_MASTER_KEY_FILE"}},
		{"missing _FILE", nil, map[string]string{"CARNET_MASTER_KEY_FILE": filepath.Join(dir, "absent")}, "",
			[]string{"master_key (env CARNET_MASTER_KEY_FILE, read from ", "no such file"}},
		{"empty _FILE", nil, map[string]string{"CARNET_NOTIFY_SMTP_PASSWORD_FILE": notDir, "CARNET_NOTIFY_SMTP_USERNAME": "u"}, "",
			[]string{"notify_smtp_password (env CARNET_NOTIFY_SMTP_PASSWORD_FILE, read from " + notDir + "): the file is empty"}},
		{"database scheme", []string{"--database-url", "mysql://x"}, nil, "",
			[]string{`database_url (flag --database-url): scheme "mysql" is not supported; want sqlite:PATH, sqlite://PATH, file:PATH, postgres://`}},
		{"database no scheme", nil, map[string]string{"CARNET_DATABASE_URL": "carnet.db"}, "",
			[]string{"database_url (env CARNET_DATABASE_URL): no scheme; want sqlite:PATH"}},
		{"http_addr", nil, map[string]string{"CARNET_HTTP_ADDR": "localhost"}, "",
			[]string{`http_addr (env CARNET_HTTP_ADDR): "localhost": not HOST:PORT`}},
		{"http_addr port", nil, nil, "# listen\nhttp_addr = 127.0.0.1:99999\n",
			[]string{`http_addr (file `, ` line 2): "127.0.0.1:99999": port "99999" is not a number`}},
		{"public_url relative", []string{"--public-url", "/carnet"}, nil, "",
			[]string{`public_url (flag --public-url): "/carnet": not an absolute http:// or https:// URL`}},
		{"public_url scheme", nil, map[string]string{"CARNET_PUBLIC_URL": "ftp://x.example"}, "",
			[]string{`public_url (env CARNET_PUBLIC_URL): "ftp://x.example"`}},
		{"public_url query", nil, map[string]string{"CARNET_PUBLIC_URL": "https://x.example/?a=b"}, "",
			[]string{`public_url (env CARNET_PUBLIC_URL)`, "query"}},
		{"domain", []string{"--domain", "bad_name.example"}, nil, "",
			[]string{`domain (flag --domain): "bad_name.example": label "bad_name"`}},
		{"data_dir is a file", []string{"--data-dir", notDir}, nil, "",
			[]string{"data_dir (flag --data-dir): ", "is not a directory"}},
		{"master key length", nil, map[string]string{"CARNET_MASTER_KEY": base64.StdEncoding.EncodeToString(testKey[:16])}, "",
			[]string{"master_key (env CARNET_MASTER_KEY): decodes to 16 bytes, want 32"}},
		{"master key base64", nil, nil, "master_key = not*base64",
			[]string{"master_key (file ", " line 1): not base64"}},
		{"previous key length", nil, map[string]string{"CARNET_PREVIOUS_MASTER_KEYS": base64.StdEncoding.EncodeToString(testKey) + "," + base64.StdEncoding.EncodeToString(testKey[:16])}, "",
			[]string{"previous_master_keys (env CARNET_PREVIOUS_MASTER_KEYS): key #2: decodes to 16 bytes, want 32"}},
		{"previous key file", []string{"--previous-master-keys-file", keyFile}, nil, "",
			[]string{"previous_master_keys (flag --previous-master-keys-file, read from " + keyFile + "): key #1: not base64"}},
		{"previous key both forms", nil, map[string]string{"CARNET_PREVIOUS_MASTER_KEYS": "x", "CARNET_PREVIOUS_MASTER_KEYS_FILE": keyFile}, "",
			[]string{"previous_master_keys: both env CARNET_PREVIOUS_MASTER_KEYS and env CARNET_PREVIOUS_MASTER_KEYS_FILE are set"}},
		{"previous key flag refused", []string{"--previous-master-keys", "x"}, nil, "", []string{"flag provided but not defined: -previous-master-keys"}},
		{"notify_mode", nil, map[string]string{"CARNET_NOTIFY_MODE": "pigeon"}, "",
			[]string{`notify_mode (env CARNET_NOTIFY_MODE): "pigeon" is not one of outbox, smtp`}},
		{"smtp without addr", []string{"--notify-mode", "smtp"}, nil, "",
			[]string{"notify_smtp_addr (default): required when notify_mode is smtp"}},
		{"smtp tls", nil, map[string]string{"CARNET_NOTIFY_SMTP_TLS": "ssl"}, "",
			[]string{`notify_smtp_tls (env CARNET_NOTIFY_SMTP_TLS): "ssl" is not one of starttls, tls, none`}},
		{"smtp password in clear", nil, map[string]string{"CARNET_NOTIFY_SMTP_ADDR": "mx.example:25", "CARNET_NOTIFY_SMTP_TLS": "none",
			"CARNET_NOTIFY_SMTP_USERNAME": "u", "CARNET_NOTIFY_SMTP_PASSWORD": "p"}, "",
			[]string{"notify_smtp_tls (env CARNET_NOTIFY_SMTP_TLS): none would send the SMTP password in clear"}},
		{"mail certificate without its key", []string{"--mail-tls-cert-file", "cert.pem"}, nil, "",
			[]string{"mail_tls_cert_file (flag --mail-tls-cert-file): mail_tls_cert_file and mail_tls_key_file go together: a certificate and its key"}},
		{"outbound key without its certificate", nil, map[string]string{"CARNET_MAIL_OUTBOUND_KEY_FILE": "key.pem"}, "",
			[]string{"mail_outbound_cert_file (default): mail_outbound_cert_file and mail_outbound_key_file go together: a certificate and its key"}},
		{"smtp username alone", nil, map[string]string{"CARNET_NOTIFY_SMTP_USERNAME": "u"}, "",
			[]string{"notify_smtp_username (env CARNET_NOTIFY_SMTP_USERNAME): set without notify_smtp_password"}},
		{"notify_from", []string{"--notify-from", "nobody"}, nil, "",
			[]string{`notify_from (flag --notify-from): "nobody" is not an e-mail address`}},
		{"jobs_workers", nil, map[string]string{"CARNET_JOBS_WORKERS": "0"}, "",
			[]string{`jobs_workers (env CARNET_JOBS_WORKERS): "0" is not a whole number from 1 to 1000`}},
		{"log_level", []string{"--log-level", "verbose"}, nil, "",
			[]string{`log_level (flag --log-level): "verbose" is not one of debug, info, warn, error`}},
		{"log_format", nil, nil, "log_format = xml",
			[]string{`log_format (file `, ` line 1): "xml" is not one of text, json`}},
		{"shutdown_timeout", nil, map[string]string{"CARNET_SHUTDOWN_TIMEOUT": "30"}, "",
			[]string{`shutdown_timeout (env CARNET_SHUTDOWN_TIMEOUT): "30" is not a positive Go duration`}},
		{"shutdown_timeout negative", nil, nil, "shutdown_timeout = -1s",
			[]string{`shutdown_timeout (file `, ` line 1): "-1s" is not a positive`}},
		{"file unknown key", nil, nil, "\n# comment\nhttp_port = 8080\n",
			[]string{`carnet.conf line 3: unknown key "http_port"`}},
		{"missing config file", nil, map[string]string{configEnv: filepath.Join(dir, "none.conf")}, "",
			[]string{"configuration file (env CARNET_CONFIG): open ", "none.conf"}},
		{"unknown flag", []string{"--data-dri", "x"}, nil, "", []string{"command line: flag provided but not defined: -data-dri"}},
		{"secret flag refused", []string{"--master-key", "x"}, nil, "", []string{"flag provided but not defined: -master-key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.args, tt.env, tt.file)
			if err == nil {
				t.Fatalf("Load succeeded: %v", c)
			}
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("code = %q, want invalid", errs.CodeOf(err))
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", msg, w)
				}
			}
		})
	}
}

// One error lists every problem, not just the first.
func TestInvalidListsAll(t *testing.T) {
	_, err := load(t, []string{"--http-addr", "x", "--jobs-workers", "many"}, map[string]string{"CARNET_LOG_LEVEL": "loud"}, "domain = -x-")
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, k := range []string{"http_addr (flag", "jobs_workers (flag", "log_level (env", "domain (file"} {
		if !strings.Contains(errs.MessageOf(err), k) {
			t.Errorf("message %q lacks %q", errs.MessageOf(err), k)
		}
	}
}

func TestValidForms(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		ok   func(*Config) bool
	}{
		{"listen on every interface", map[string]string{"CARNET_HTTP_ADDR": ":8080"},
			func(c *Config) bool { return c.PublicURL.String() == "http://localhost:8080" }},
		{"IPv6 listen", map[string]string{"CARNET_HTTP_ADDR": "[::1]:0"},
			func(c *Config) bool { return c.PublicURL.String() == "http://[::1]:0" }},
		{"public_url trailing slash", map[string]string{"CARNET_PUBLIC_URL": "https://carnet.example/app/"},
			func(c *Config) bool { return c.PublicURL.String() == "https://carnet.example/app" }},
		{"smtp", map[string]string{"CARNET_NOTIFY_MODE": "smtp", "CARNET_NOTIFY_SMTP_ADDR": "smtp.example:465", "CARNET_NOTIFY_SMTP_TLS": "tls",
			"CARNET_NOTIFY_SMTP_USERNAME": "u", "CARNET_NOTIFY_SMTP_PASSWORD": "p"},
			func(c *Config) bool {
				return c.Notify.SMTP.Addr == "smtp.example:465" && c.Notify.SMTP.TLS == TLSImplicit
			}},
		{"plain smtp to loopback with auth", map[string]string{"CARNET_NOTIFY_MODE": "smtp", "CARNET_NOTIFY_SMTP_ADDR": "127.0.0.1:25", "CARNET_NOTIFY_SMTP_TLS": "none",
			"CARNET_NOTIFY_SMTP_USERNAME": "u", "CARNET_NOTIFY_SMTP_PASSWORD": "p"},
			func(c *Config) bool { return c.Notify.SMTP.TLS == TLSNone }},
		{"notify_from", map[string]string{"CARNET_NOTIFY_FROM": "Carnet Santé <contact@example.fr>"},
			func(c *Config) bool {
				return c.Notify.From.Name == "Carnet Santé" && c.Notify.From.Address == "contact@example.fr"
			}},
		{"level in capitals", map[string]string{"CARNET_LOG_LEVEL": "DEBUG"},
			func(c *Config) bool { return c.LogLevel == slog.LevelDebug }},
		{"duration", map[string]string{"CARNET_SHUTDOWN_TIMEOUT": "1m30s"},
			func(c *Config) bool { return c.ShutdownTimeout == 90*time.Second }},
		{"postgresql", map[string]string{"CARNET_DATABASE_URL": "postgresql:///carnet?host=/run/postgresql"},
			func(c *Config) bool { return c.DB.Driver == DriverPostgres }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, nil, tt.env, "")
			if !tt.ok(c) {
				t.Errorf("unexpected config: %v", c)
			}
		})
	}
}

func TestParseDB(t *testing.T) {
	tests := []struct {
		in, driver, dsn, redacted string
	}{
		{"sqlite:carnet.db", DriverSQLite, "carnet.db", "sqlite:carnet.db"},
		{"sqlite:///var/lib/carnet/carnet.db", DriverSQLite, "/var/lib/carnet/carnet.db", "sqlite:/var/lib/carnet/carnet.db"},
		{"sqlite://data/c.db", DriverSQLite, "data/c.db", "sqlite:data/c.db"},
		{"file:/tmp/c.db", DriverSQLite, "/tmp/c.db", "sqlite:/tmp/c.db"},
		{"postgres://carnet@db/carnet", DriverPostgres, "postgres://carnet@db/carnet", "postgres://carnet@db/carnet"},
		{"postgres://carnet:s3cret@db:5432/carnet?sslmode=verify-full", DriverPostgres,
			"postgres://carnet:s3cret@db:5432/carnet?sslmode=verify-full", "postgres://carnet:xxxxx@db:5432/carnet?sslmode=verify-full"},
		{"postgresql://db/carnet?password=s3cret", DriverPostgres, "postgresql://db/carnet?password=s3cret", "postgresql://db/carnet?password=xxxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			db, err := ParseDB(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if db.Driver != tt.driver || db.DSN != tt.dsn || db.Redacted() != tt.redacted {
				t.Errorf("got %s %q %q, want %s %q %q", db.Driver, db.DSN, db.Redacted(), tt.driver, tt.dsn, tt.redacted)
			}
			if s := fmt.Sprintf("%v %+v %#v %s", db, db, db, db); strings.Contains(s, "s3cret") {
				t.Errorf("fmt prints the password: %s", s)
			}
		})
	}
	for _, bad := range []string{"", "sqlite:", "file://", "sqlite:c.db?_pragma=x", "mysql://x", "postgres:db", "postgres://a:b@[bad/x"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if _, err := ParseDB(bad); err == nil {
				t.Errorf("ParseDB(%q) succeeded", bad)
			} else if strings.Contains(err.Error(), "a:b@") {
				t.Errorf("error quotes the URL: %v", err)
			}
		})
	}
}

// Secrets reach neither String, the fmt verbs, slog, JSON, the help, nor error messages.
func TestSecretsNotPrinted(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(testKey)
	prev := hex.EncodeToString(bytes.Repeat([]byte{0x5A}, MasterKeySize))
	secrets := []string{key, prev, "hunter2-smtp", "hunter3-db"}
	env := map[string]string{
		"CARNET_MASTER_KEY":           key,
		"CARNET_PREVIOUS_MASTER_KEYS": prev,
		"CARNET_NOTIFY_MODE":          "smtp",
		"CARNET_NOTIFY_SMTP_ADDR":     "smtp.example:587",
		"CARNET_NOTIFY_SMTP_USERNAME": "carnet",
		"CARNET_NOTIFY_SMTP_PASSWORD": "hunter2-smtp",
		"CARNET_DATABASE_URL":         "postgres://carnet:hunter3-db@db/carnet",
	}
	c := mustLoad(t, nil, env, "")

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("start", "config", c)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("start", "config", c, "smtp", c.Notify.SMTP)
	outputs := map[string]string{
		"String": c.String(),
		"fmt":    fmt.Sprintf("%v|%+v|%#v|%s|%d|%x|%v|%+v|%#v", c, c, c, c, c, c, *c, *c, *c),
		"fmt notify": fmt.Sprintf("%v|%+v|%#v|%v|%#v", c.Notify, c.Notify, c.Notify, c.Notify.SMTP.Password,
			c.Notify.SMTP.Password),
		"slog": logged.String(),
		"Help": Help(),
	}
	if _, err := load(t, []string{"--jobs-workers", "0"}, env, ""); err != nil {
		outputs["error"] = err.Error()
	} else {
		t.Fatal("Load with a bad jobs_workers succeeded")
	}
	bad := map[string]string{"CARNET_MASTER_KEY": key[:20], "CARNET_DATABASE_URL": "pg://carnet:hunter3-db@db/carnet",
		"CARNET_PREVIOUS_MASTER_KEYS": prev + " " + prev[:30]}
	if _, err := load(t, nil, bad, ""); err != nil {
		outputs["error with bad secrets"] = err.Error()
		secrets = append(secrets, key[:20], prev[:30])
	} else {
		t.Fatal("Load with a bad key succeeded")
	}
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output holds a secret:\n%s", name, out)
			}
		}
	}
	if !strings.Contains(outputs["String"], "notify_smtp_password_set=true") || !strings.Contains(outputs["String"], "master_key=\"configured (env CARNET_MASTER_KEY)\"") ||
		!strings.Contains(outputs["String"], "previous_master_keys=\"1 key (env CARNET_PREVIOUS_MASTER_KEYS)\"") {
		t.Errorf("String does not say which secrets are set: %s", outputs["String"])
	}
}

// "carnet serve --help" documents every key in all its spellings, and the caller's own flags.
func TestHelpFlag(t *testing.T) {
	var out bytes.Buffer
	fs := flag.NewFlagSet("carnet serve", flag.ContinueOnError)
	fs.SetOutput(&out)
	fs.Bool("migrate", false, "apply pending migrations before serving")
	_, err := Load(fs, []string{"--help"}, nil)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	help := out.String()
	want := []string{"Usage: carnet serve [flags]", "--config FILE", configEnv, "--migrate", "apply pending migrations"}
	for _, k := range keys {
		want = append(want, k.name, k.env(), "Default: ")
		if k.secret {
			want = append(want, "(no flag)")
		} else {
			want = append(want, "--"+k.flagName()+" "+k.metavar)
		}
		if k.fileForm {
			want = append(want, "--"+k.fileFlag()+" FILE", k.fileEnv(), k.fileKey())
		}
	}
	for _, w := range want {
		if !strings.Contains(help, w) {
			t.Errorf("help lacks %q", w)
		}
	}
	for i, line := range strings.Split(help, "\n") {
		if len(line) > 110 {
			t.Errorf("help line %d is %d columns: %q", i+1, len(line), line)
		}
	}
}
