package config

import (
	"flag"
	"fmt"
	"strings"
)

// key describes one setting. The environment variable and the flag are derived from the
// name, so that the three spellings of a setting cannot drift apart.
type key struct {
	name    string // as written in the configuration file
	group   string // heading in the help text
	metavar string // placeholder for the value in the help text
	def     string // literal default; "" when there is none or it is derived
	defNote string // default as shown in the help when def does not say it all
	help    string
	// secret values are never printed and have no flag for the value itself: any local user
	// can read a process's command line (ps, /proc/PID/cmdline).
	secret bool
	// fileForm adds <name>_file, CARNET_<NAME>_FILE and --<name>-file, naming a file that
	// holds the value: the shape secret stores (Docker, systemd credentials, Kubernetes) use.
	fileForm bool
}

func (k key) env() string      { return "CARNET_" + strings.ToUpper(k.name) }
func (k key) fileKey() string  { return k.name + "_file" }
func (k key) fileEnv() string  { return k.env() + "_FILE" }
func (k key) fileFlag() string { return strings.ReplaceAll(k.name, "_", "-") + "-file" }

// flagName is the flag for the value itself, "" for a secret.
func (k key) flagName() string {
	if k.secret {
		return ""
	}
	return strings.ReplaceAll(k.name, "_", "-")
}

const (
	groupStorage = "Storage and keys"
	groupWeb     = "Web"
	groupMail    = "Mail and notifications"
	groupRuntime = "Running"

	configFlag = "config"
	configEnv  = "CARNET_CONFIG"
)

var keys = []key{
	{name: "data_dir", group: groupStorage, metavar: "DIR", def: "./carnet-data",
		help: "Directory holding the SQLite database, the blobs, the outbox and the generated master key."},
	{name: "database_url", group: groupStorage, metavar: "URL", fileForm: true,
		defNote: "sqlite:<data_dir>/carnet.db",
		help: "Database: sqlite:PATH, sqlite://PATH, file:PATH, or postgres://USER@HOST:PORT/NAME " +
			"(postgresql:// too). A password in the URL is redacted when printed; give it through " +
			"the environment or the _FILE form rather than the flag, which ps shows."},
	{name: "master_key", group: groupStorage, metavar: "BASE64", secret: true, fileForm: true,
		defNote: "generated on first start into <data_dir>/master.key",
		help: "32 random bytes in base64 (standard or URL alphabet) or hex, e.g. the output of " +
			"`head -c 32 /dev/urandom | base64`. It wraps each blob's key and keys the chain of " +
			"the trace log: without it the documents cannot be read, so back it up, apart from the data."},
	{name: "previous_master_keys", group: groupStorage, metavar: "KEYS", secret: true, fileForm: true,
		defNote: "none",
		help: "For a key rotation, the master keys that were current before master_key: blobs whose " +
			"key one of them wraps still open, and `carnet blobs rewrap` wraps those keys again " +
			"under master_key, without rewriting the blobs. Each key is 32 bytes in base64 or hex; " +
			"in the _FILE form one per line (blank lines and lines starting with # are skipped, so a " +
			"former master.key file serves as it is), in a value separated by commas or spaces. " +
			"Remove a key only once `carnet blobs rewrap` has ended without error, after every " +
			"node was restarted with the new master_key. Before the first rotation, set seal_key to " +
			"the master key in use, so that the trace log's seals and the activation codes keep their key."},
	{name: "seal_key", group: groupStorage, metavar: "BASE64", secret: true, fileForm: true,
		defNote: "the master key",
		help: "The key the trace log's chain and seals and the activation codes are derived from, " +
			"32 bytes in base64 or hex. It does not rotate: set it to the master key in use before " +
			"the first master key rotation (then the seals made so far still verify), and keep it, " +
			"like the master key, apart from the data."},
	{name: "http_addr", group: groupWeb, metavar: "HOST:PORT", def: "127.0.0.1:8080",
		help: "Address the HTTP server listens on; port 0 picks a free port."},
	{name: "public_url", group: groupWeb, metavar: "URL", defNote: "http://<http_addr>",
		help: "Absolute http(s) URL at which users reach carnet, used for the links in e-mails."},
	{name: "smtp_relay_addr", group: groupMail, metavar: "HOST:PORT", def: "127.0.0.1:2525",
		help: "Address of the MSSanté relay listener (other operators deliver here; 25 in production); empty turns it off."},
	{name: "smtp_submission_addr", group: groupMail, metavar: "HOST:PORT", def: "127.0.0.1:2587",
		help: "Address of the SMTP submission listener (mail clients with app passwords, over TLS; 587 in production); empty turns it off."},
	{name: "imap_addr", group: groupMail, metavar: "HOST:PORT", def: "127.0.0.1:2143",
		help: "Address of the IMAP listener (professionals' mail clients read their mailboxes with app passwords or bearer tokens, after STARTTLS; 143 in production); empty turns it off."},
	{name: "mail_allowlist_file", group: groupMail, metavar: "FILE", defNote: "none",
		help: "The published MSSanté allowlist (ListeBlancheMSSante XML), imported at start while none is in force."},
	{name: "mail_tls_cert_file", group: groupMail, metavar: "FILE", defNote: "a self-signed certificate generated into <data_dir>/mail-tls",
		help: "PEM certificate (chain) of the SMTP and IMAP listeners: the operator's server certificate of the health PKI in production; needs mail_tls_key_file."},
	{name: "mail_tls_key_file", group: groupMail, metavar: "FILE", defNote: "none",
		help: "PEM private key of mail_tls_cert_file. It is a secret: make it readable by carnet only."},
	{name: "mail_relay_client_ca_file", group: groupMail, metavar: "FILE", defNote: "none: the sending domain alone is checked",
		help: "PEM roots of the health PKI. When set, the relay takes another operator's mail only with that operator's " +
			"client certificate, verified against these roots, whose subject is the DN the allowlist publishes for the sending domain."},
	{name: "mail_outbound_ca_file", group: groupMail, metavar: "FILE", defNote: "the system's roots",
		help: "PEM roots that verify the other operators' relays when carnet delivers to them (the health PKI's in production)."},
	{name: "mail_outbound_cert_file", group: groupMail, metavar: "FILE", defNote: "none",
		help: "PEM client certificate carnet presents to the other operators' relays (its operator certificate); needs mail_outbound_key_file."},
	{name: "mail_outbound_key_file", group: groupMail, metavar: "FILE", defNote: "none",
		help: "PEM private key of mail_outbound_cert_file. It is a secret: make it readable by carnet only."},
	{name: "oidc_providers_file", group: groupWeb, metavar: "FILE", defNote: "none",
		help: "OpenID Connect providers people may sign in with (Pro Santé Connect for professionals, " +
			"FranceConnect for patients): a file of <provider>.<key> = <value> lines (kind, label, issuer, " +
			"client_id, client_secret, scopes, acr…; see internal/oidc.ParseProviders). It holds secrets: " +
			"make it readable by carnet only."},
	{name: "domain", group: groupMail, metavar: "NAME", def: "carnet.localhost",
		help: "The operator's mail domain, a DNS name (IDNs in their xn-- form)."},
	{name: "notify_mode", group: groupMail, metavar: "MODE", def: "outbox",
		help: "How e-mails leave: outbox (one file per message in notify_outbox_dir, for " +
			"development and tests) or smtp (handed to notify_smtp_addr)."},
	{name: "notify_outbox_dir", group: groupMail, metavar: "DIR", defNote: "<data_dir>/outbox",
		help: "Where the outbox mode writes messages."},
	{name: "notify_smtp_addr", group: groupMail, metavar: "HOST:PORT", defNote: "none; required when notify_mode is smtp",
		help: "SMTP submission server."},
	{name: "notify_smtp_tls", group: groupMail, metavar: "MODE", def: "starttls",
		help: "starttls (upgrade in the session, usually port 587), tls (TLS from the first byte, " +
			"usually port 465) or none (plain text; authentication then only to a loopback address)."},
	{name: "notify_smtp_username", group: groupMail, metavar: "NAME", defNote: "none: no authentication",
		help: "SMTP username; needs notify_smtp_password."},
	{name: "notify_smtp_password", group: groupMail, metavar: "PASSWORD", secret: true, fileForm: true,
		defNote: "none", help: "SMTP password; needs notify_smtp_username."},
	{name: "notify_from", group: groupMail, metavar: "ADDRESS", defNote: "carnet <no-reply@<domain>>",
		help: "From address of the e-mails sent (RFC 5322 form)."},
	{name: "jobs_workers", group: groupRuntime, metavar: "N", def: "10",
		help: "Background jobs run at once, 1 to 1000."},
	{name: "log_level", group: groupRuntime, metavar: "LEVEL", def: "info",
		help: "debug, info, warn or error."},
	{name: "log_format", group: groupRuntime, metavar: "FORMAT", def: "text",
		help: "text (key=value) or json."},
	{name: "shutdown_timeout", group: groupRuntime, metavar: "DURATION", def: "30s",
		help: "On SIGTERM, how long requests and jobs in flight may run before being cut " +
			"(a Go duration: 30s, 2m)."},
}

// lookupKey returns the key named name. An unknown name is a bug in this package.
func lookupKey(name string) key {
	for _, k := range keys {
		if k.name == name {
			return k
		}
	}
	panic("config: no key " + name)
}

// fileKeys maps every name the configuration file accepts to its key.
func fileKeys() map[string]key {
	m := make(map[string]key, 2*len(keys))
	for _, k := range keys {
		m[k.name] = k
		if k.fileForm {
			m[k.fileKey()] = k
		}
	}
	return m
}

// Help documents every setting: its flag, environment variable, file key, default, meaning,
// and whether it is a secret. It holds no configured value, so it cannot leak one.
func Help() string {
	type row struct{ flag, env, file, note string }
	var rows [][]row // per key
	var wFlag, wEnv, wFile int
	add := func(rs []row) {
		for _, r := range rs {
			wFlag, wEnv, wFile = max(wFlag, len(r.flag)), max(wEnv, len(r.env)), max(wFile, len(r.file))
		}
		rows = append(rows, rs)
	}
	add([]row{{flag: "--" + configFlag + " FILE", env: configEnv}})
	for _, k := range keys {
		var rs []row
		if k.secret {
			rs = append(rs, row{flag: "(no flag)", env: k.env(), file: k.name, note: "secret"})
		} else {
			rs = append(rs, row{flag: "--" + k.flagName() + " " + k.metavar, env: k.env(), file: k.name})
		}
		if k.fileForm {
			rs = append(rs, row{flag: "--" + k.fileFlag() + " FILE", env: k.fileEnv(), file: k.fileKey()})
		}
		add(rs)
	}

	var b strings.Builder
	wrap(&b, "", "Each setting is taken from its flag, else its environment variable, else its "+
		"line in the configuration file, else its default; an empty value counts as not set. "+
		"Secrets have no flag, because any local user can read a command line; set them in the "+
		"environment, in the file, or name a file holding them with the _FILE form (one trailing "+
		"newline is removed). Setting both a value and its _FILE form is an error. Relative paths "+
		"are relative to the working directory.")
	line := func(r row) {
		s := fmt.Sprintf("  %-*s  %-*s  %-*s  %s", wFlag, r.flag, wEnv, r.env, wFile, r.file, r.note)
		b.WriteString(strings.TrimRight(s, " "))
		b.WriteByte('\n')
	}
	const indent = "        "
	b.WriteByte('\n')
	line(rows[0][0])
	wrap(&b, indent, `File of "key = value" lines, with the names of the third column below as `+
		`keys; blank lines and lines starting with # are skipped; the value may be put in double `+
		`quotes, taken verbatim between them. Unknown keys are refused.`)
	b.WriteString(indent + "Default: none\n")
	group := ""
	for i, k := range keys {
		if k.group != group {
			group = k.group
			b.WriteString("\n" + group + "\n")
		}
		for _, r := range rows[i+1] {
			line(r)
		}
		wrap(&b, indent, k.help)
		def := k.defNote
		if def == "" {
			def = k.def
		}
		b.WriteString(indent + "Default: " + def + "\n")
	}
	return b.String()
}

// wrap writes text as lines of at most 92 columns, each starting with indent. A `quoted`
// span is kept on one line, so that a command can be copied from the help.
func wrap(b *strings.Builder, indent, text string) {
	const width = 92
	spans := strings.Split(text, "`")
	for i := 1; i < len(spans); i += 2 {
		spans[i] = strings.ReplaceAll(spans[i], " ", "\x00")
	}
	words := strings.Fields(strings.Join(spans, "`"))
	n := 0
	for _, w := range words {
		switch {
		case n == 0:
			b.WriteString(indent)
			n = len(indent)
		case n+1+len(w) > width:
			b.WriteString("\n" + indent)
			n = len(indent)
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(strings.ReplaceAll(w, "\x00", " "))
		n += len(w)
	}
	b.WriteByte('\n')
}

// usage prints the help for a subcommand's flag set: the configuration, then any flag the
// subcommand registered itself.
func usage(fs *flag.FlagSet, own map[string]bool) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s [flags]\n\n%s", fs.Name(), Help())
		first := true
		fs.VisitAll(func(f *flag.Flag) {
			if own[f.Name] {
				return
			}
			if first {
				fmt.Fprintf(w, "\nOther flags\n")
				first = false
			}
			name, use := flag.UnquoteUsage(f)
			fmt.Fprintf(w, "  --%s %s\n        %s", f.Name, name, use)
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
				fmt.Fprintf(w, " Default: %s.", f.DefValue)
			}
			fmt.Fprintln(w)
		})
	}
}
