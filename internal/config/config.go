// Package config is in charge of carnet's settings: one typed Config, built once in main from
// flags, the environment and an optional file (in that order of precedence, then defaults),
// validated as a whole, then handed piece by piece to the constructors that need it.
//
// Secrets (the master keys, the SMTP password) are never taken from the command line, may be
// read from a file named by a _FILE form, and never appear in printed or logged output.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Config is carnet's validated configuration.
//
// The fmt verbs all print the String form, which leaves secrets out.
type Config struct {
	DataDir         string
	DB              DB
	HTTPAddr        string
	PublicURL       *url.URL // absolute http(s), no trailing slash, no query
	Domain          string   // lower case, ASCII
	Notify          Notify
	JobsWorkers     int
	LogLevel        slog.Level
	LogFormat       string // LogText or LogJSON
	ShutdownTimeout time.Duration
	// OIDCProvidersFile names the file of the OpenID Connect providers, "" for none.
	OIDCProvidersFile string
	// SMTPRelayAddr and SMTPSubmissionAddr are the mail listeners ("" turns one off);
	// MailAllowlistFile the MSSanté allowlist imported at start while none is in force.
	SMTPRelayAddr, SMTPSubmissionAddr, MailAllowlistFile string
	// IMAPAddr is the IMAP listener ("" turns it off).
	IMAPAddr string
	// The messaging's certificates (mail_*_file keys): the listeners' own, the health PKI's
	// roots verifying other operators (as clients of the relay, and as servers carnet delivers
	// to), and the operator certificate carnet presents to them. "" for each left unset.
	MailTLSCertFile, MailTLSKeyFile           string
	MailRelayClientCAFile, MailOutboundCAFile string
	MailOutboundCertFile, MailOutboundKeyFile string

	// masterKey is the configured key; when it is zero the key lives in masterKeyPath and is
	// generated there on first use. Unexported so that only MasterKey hands it out.
	masterKey     Secret
	masterKeyFrom string // where the configured key came from, for String
	masterKeyPath string
	// previousKeys are the master keys before masterKey, which blobs may still need.
	previousKeys []Secret
	// sealKey, when set, keys the trace log and the activation codes instead of the master key.
	sealKey          Secret
	previousKeysFrom string
}

// Notify is how e-mails leave carnet.
type Notify struct {
	Mode      string // NotifyOutbox or NotifySMTP
	OutboxDir string
	SMTP      SMTP // meaningful when Mode is NotifySMTP
	From      mail.Address
}

// SMTP is the submission server used when Notify.Mode is NotifySMTP.
type SMTP struct {
	Addr     string // host:port
	TLS      string // TLSStartTLS, TLSImplicit or TLSNone
	Username string // "" for no authentication
	Password Secret
}

// Values of the enumerated settings.
const (
	NotifyOutbox = "outbox"
	NotifySMTP   = "smtp"

	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
	TLSNone     = "none"

	LogText = "text"
	LogJSON = "json"
)

// MasterKeySize is the length in bytes of the master key.
const MasterKeySize = 32

// Load registers the configuration flags on fs, parses args, merges flags, environment
// (through getenv, usually os.Getenv; nil means an empty environment), the configuration
// file and defaults, and validates the result. It defines flags on fs, so call it once per
// FlagSet; a subcommand defines its own flags on fs before calling it.
//
// fs.Usage is set to print Help followed by any flag the caller registered on fs before, so
// that "carnet serve --help" documents every setting; Load then returns flag.ErrHelp as is.
// Any other failure is an *errs.Error with code Invalid listing every problem found, each
// naming the key and where its value came from.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	flags := registerFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errs.Wrap(errs.Invalid, err, "command line")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	flagValue := func(name string) (string, bool) {
		if p, ok := flags[name]; ok && set[name] && *p != "" {
			return *p, true
		}
		return "", false
	}

	var probs []string
	layers := []layer{
		func(name string, fileForm bool) (string, origin, bool) {
			k := lookupKey(name)
			f := k.flagName()
			if fileForm {
				f = k.fileFlag()
			}
			if f == "" {
				return "", origin{}, false
			}
			v, ok := flagValue(f)
			return v, origin{kind: fromFlag, name: f}, ok
		},
		func(name string, fileForm bool) (string, origin, bool) {
			k := lookupKey(name)
			e := k.env()
			if fileForm {
				e = k.fileEnv()
			}
			v := getenv(e)
			return v, origin{kind: fromEnv, name: e}, v != ""
		},
	}

	path, pathFrom := "", origin{}
	if v, ok := flagValue(configFlag); ok {
		path, pathFrom = v, origin{kind: fromFlag, name: configFlag}
	} else if v := getenv(configEnv); v != "" {
		path, pathFrom = v, origin{kind: fromEnv, name: configEnv}
	}
	if path != "" {
		l, p := fileLayer(path, pathFrom)
		layers = append(layers, l)
		probs = append(probs, p...)
	}

	vals, p := merge(layers)
	probs = append(probs, p...)
	c, p := build(vals)
	probs = append(probs, p...)
	if len(probs) > 0 {
		return nil, errs.E(errs.Invalid, "invalid configuration:\n  - %s", strings.Join(probs, "\n  - "))
	}
	return c, nil
}

// registerFlags defines the configuration flags on fs and returns their values by name.
func registerFlags(fs *flag.FlagSet) map[string]*string {
	vals := map[string]*string{}
	vals[configFlag] = fs.String(configFlag, "", "configuration file of key = value lines")
	for _, k := range keys {
		if f := k.flagName(); f != "" {
			vals[f] = fs.String(f, "", k.help)
		}
		if k.fileForm {
			vals[k.fileFlag()] = fs.String(k.fileFlag(), "", "file holding "+k.name)
		}
	}
	own := map[string]bool{}
	for name := range vals {
		own[name] = true
	}
	fs.Usage = usage(fs, own)
	return vals
}

// originKind says which source a value came from.
type originKind int

const (
	fromDefault originKind = iota
	fromFile
	fromEnv
	fromFlag
)

// origin says where a value came from, so that a problem sends the operator to the right place.
type origin struct {
	kind originKind
	name string // flag, environment variable or configuration file
	line int    // in the configuration file
	path string // file the value was read from, for a _FILE form
}

func (o origin) String() string {
	var s string
	switch o.kind {
	case fromFlag:
		s = "flag --" + o.name
	case fromEnv:
		s = "env " + o.name
	case fromFile:
		s = fmt.Sprintf("file %s line %d", o.name, o.line)
	default:
		s = "default"
	}
	if o.path != "" {
		s += ", read from " + o.path
	}
	return s
}

// setting is a value with its origin.
type setting struct {
	value string
	from  origin
}

// layer looks a key up in one source; fileForm asks for the _FILE form of the key.
type layer func(name string, fileForm bool) (string, origin, bool)

// fileLayer reads the configuration file at path.
func fileLayer(path string, from origin) (layer, []string) {
	none := func(string, bool) (string, origin, bool) { return "", origin{}, false }
	data, err := readLimited(path, 1<<20)
	if err != nil {
		return none, []string{fmt.Sprintf("configuration file (%s): %v", from, err)}
	}
	known := fileKeys()
	entries, probs := parseFile(data, func(k string) bool { _, ok := known[k]; return ok })
	for i := range probs {
		probs[i] = "file " + path + " " + probs[i]
	}
	byKey := make(map[string]entry, len(entries))
	for _, e := range entries {
		byKey[e.key] = e
	}
	return func(name string, fileForm bool) (string, origin, bool) {
		k := lookupKey(name)
		fk := k.name
		if fileForm {
			fk = k.fileKey()
		}
		e, ok := byKey[fk]
		return e.value, origin{kind: fromFile, name: path, line: e.line}, ok && e.value != ""
	}, probs
}

// merge takes each key from the first layer that sets it, else its default, and replaces the
// _FILE forms by the content of the file they name.
func merge(layers []layer) (map[string]setting, []string) {
	var probs []string
	vals := make(map[string]setting, len(keys))
	for _, k := range keys {
		var (
			won   bool
			s     setting
			isRef bool // s.value names a file holding the value
		)
		for _, l := range layers {
			v, o, ok := l(k.name, false)
			var fv string
			var fo origin
			fok := false
			if k.fileForm {
				fv, fo, fok = l(k.name, true)
			}
			if ok && fok {
				// Ambiguous even when a higher source overrides both: reported, not guessed.
				probs = append(probs, fmt.Sprintf("%s: both %s and %s are set; keep one", k.name, o, fo))
				continue
			}
			if won || !(ok || fok) {
				continue
			}
			won = true
			if ok {
				s = setting{value: v, from: o}
			} else {
				s, isRef = setting{value: fv, from: fo}, true
			}
		}
		if !won {
			s = setting{value: k.def, from: origin{kind: fromDefault}}
		}
		if isRef {
			data, err := readLimited(s.value, 64<<10)
			s.from.path = s.value
			s.value = strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
			switch {
			case err != nil:
				probs = append(probs, fmt.Sprintf("%s (%s): %v", k.name, s.from, err))
			case s.value == "":
				probs = append(probs, fmt.Sprintf("%s (%s): the file is empty", k.name, s.from))
			}
		}
		vals[k.name] = s
	}
	return vals, probs
}

// readLimited reads a file of at most limit bytes: a configuration or secret file pointed at
// /dev/zero by mistake must not exhaust memory.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}
