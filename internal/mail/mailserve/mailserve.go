// Package mailserve wires the secure messaging together for `carnet serve`: the mail service
// over the store and the blob store, the outbound queue, and the SMTP relay and submission
// listeners, and the IMAP listener, started and stopped as one.
package mailserve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/imapd"
	"github.com/carnet-sante/carnet/internal/mail/relay"
	"github.com/carnet-sante/carnet/internal/mail/smtpd"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/store"
)

// Config is what `carnet serve` reads for mail (see the keys in the package's README entry).
type Config struct {
	Domain         string // mail_domain
	Hostname       string // smtp_hostname (default Domain)
	RelayAddr      string // smtp_relay_addr: "" turns the relay off
	SubmissionAddr string // smtp_submission_addr: "" turns submission off
	IMAPAddr       string // imap_addr: "" turns IMAP off
	// CertFile and KeyFile (smtp_tls_cert_file, smtp_tls_key_file) are the listeners'
	// certificate; without them one is generated into CertDir (<data_dir>/mail-tls).
	CertFile, KeyFile string
	CertDir           string
	MaxMessageBytes   int64         // smtp_max_message_bytes
	QuotaBytes        int64         // mail_quota_bytes
	ReadTimeout       time.Duration // smtp_read_timeout
	WriteTimeout      time.Duration // smtp_write_timeout
	// Outbound delivery.
	Routes           map[string]string // mail_routes: "domain=host:port,*=host:port"
	OutboundCAFile   string            // mail_outbound_ca_file: roots that verify other operators
	OutboundCertFile string            // mail_outbound_cert_file: the operator's client certificate
	OutboundKeyFile  string            // mail_outbound_key_file
	OutboundAttempts int               // mail_outbound_attempts
	OutboundWorkers  int               // mail_outbound_workers
	// RelayClientCAFile (mail_relay_client_ca_file): the health PKI's roots. When set, the
	// relay takes mail from another operator only with that operator's client certificate,
	// verified against them, whose subject the allowlist publishes for the sending domain.
	RelayClientCAFile string
	// AllowlistFile (mail_allowlist_file) is imported at start while no allowlist is in force;
	// later refreshes go through RefreshAllowlist (a command).
	AllowlistFile string
}

// Deps are what the mail needs from the rest of carnet.
type Deps struct {
	DB       *store.DB
	Blobs    blob.Store
	Clock    clock.Clock
	Seal     []byte          // the master key (seal key) the rate-limit keys derive from
	Password password.Params // argon2id of app passwords
	// SharedJobs: another River client (internal/jobs) runs on the same database and leads it.
	SharedJobs bool
	// Tokens checks the bearer tokens of IMAP's XOAUTH2 and OAUTHBEARER; nil turns them off.
	Tokens *apitoken.Service
	// Inspectors act on what messages delivered to patients carry (mail.Inspector).
	Inspectors []mail.Inspector
	Log        *slog.Logger
}

// Mail is the running messaging.
type Mail struct {
	Service   *mail.Service
	SMTP      *smtpd.Server
	Queue     *relay.Queue
	Listeners []smtpd.Listener
	IMAP      *imapd.Server // nil when off
	IMAPAddr  net.Addr
}

// Start builds and starts the messaging. The listeners' addresses are in Listeners.
func Start(ctx context.Context, cfg Config, d Deps) (*Mail, error) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Clock == nil {
		d.Clock = clock.System{}
	}
	key, err := mail.DeriveKey(d.Seal)
	if err != nil {
		return nil, err
	}
	outTLS := &tls.Config{}
	if cfg.OutboundCAFile != "" {
		if outTLS.RootCAs, err = readCAs(cfg.OutboundCAFile); err != nil {
			return nil, fmt.Errorf("mail_outbound_ca_file: %w", err)
		}
	}
	if cfg.OutboundCertFile != "" {
		c, err := tls.LoadX509KeyPair(cfg.OutboundCertFile, cfg.OutboundKeyFile)
		if err != nil {
			return nil, fmt.Errorf("mail outbound certificate: %w", err)
		}
		outTLS.Certificates = []tls.Certificate{c}
	}
	mc := mail.DefaultConfig(cfg.Domain)
	mc.Hostname = cfg.Hostname
	mc.OperatorCertificates = cfg.RelayClientCAFile != ""
	if cfg.MaxMessageBytes > 0 {
		mc.MaxMessageBytes = cfg.MaxMessageBytes
	}
	if cfg.QuotaBytes != 0 {
		mc.QuotaBytes = max(cfg.QuotaBytes, 0)
	}
	host := cfg.Hostname
	if host == "" {
		host = cfg.Domain
	}
	q, err := relay.New(d.DB, relay.Config{Hostname: host, Routes: cfg.Routes, TLS: outTLS, Attempts: cfg.OutboundAttempts,
		Workers: cfg.OutboundWorkers, Lead: !d.SharedJobs, Log: d.Log})
	if err != nil {
		return nil, err
	}
	svc, err := mail.NewService(mail.Deps{Store: d.DB.Mail(q), Blobs: d.Blobs, Clock: d.Clock, Key: key, Password: d.Password, Inspectors: d.Inspectors,
		Config: mc, Log: d.Log.With("component", "mail")})
	if err != nil {
		return nil, err
	}
	if cfg.AllowlistFile != "" {
		if err := importIfNone(ctx, svc, cfg.AllowlistFile, d.Log); err != nil {
			return nil, err
		}
	}
	var operatorCAs *x509.CertPool
	if cfg.RelayClientCAFile != "" {
		if operatorCAs, err = readCAs(cfg.RelayClientCAFile); err != nil {
			return nil, fmt.Errorf("mail_relay_client_ca_file: %w", err)
		}
	} else if cfg.RelayAddr != "" {
		d.Log.Info("the mail relay checks the sending domain only, not the operator's certificate: set mail_relay_client_ca_file in production")
	}
	opts := smtpd.Options{OperatorCAs: operatorCAs, RelayAddr: cfg.RelayAddr, SubmissionAddr: cfg.SubmissionAddr, Hostname: host, CertDir: cfg.CertDir,
		MaxMessageBytes: mc.MaxMessageBytes, ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout, Clock: d.Clock, Log: d.Log}
	if cfg.CertFile != "" {
		c, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("smtp certificate: %w", err)
		}
		opts.TLS = &tls.Config{Certificates: []tls.Certificate{c}}
	}
	srv, err := smtpd.New(svc, opts)
	if err != nil {
		return nil, err
	}
	if err := q.Start(context.WithoutCancel(ctx), svc); err != nil {
		return nil, err
	}
	ls, err := srv.Start(ctx)
	if err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return nil, errors.Join(err, q.Stop(sctx))
	}
	m := &Mail{Service: svc, SMTP: srv, Queue: q, Listeners: ls}
	if cfg.IMAPAddr != "" {
		// The same certificate as the SMTP listeners: one name, one certificate for clients.
		m.IMAP, err = imapd.New(svc, d.DB.MailFolders(), imapd.Options{Addr: cfg.IMAPAddr, Hostname: host, TLS: srv.TLSConfig(),
			Tokens: d.Tokens, Clock: d.Clock, Log: d.Log})
		if err == nil {
			m.IMAPAddr, err = m.IMAP.Start(ctx)
		}
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return nil, errors.Join(err, srv.Shutdown(sctx), q.Stop(sctx))
		}
	}
	return m, nil
}

// Shutdown stops the listeners (letting messages being stored finish), then the queue.
func (m *Mail) Shutdown(ctx context.Context) error {
	var err error
	if m.IMAP != nil {
		err = m.IMAP.Shutdown(ctx)
	}
	return errors.Join(err, m.SMTP.Shutdown(ctx), m.Queue.Stop(ctx))
}

func importIfNone(ctx context.Context, svc *mail.Service, path string, log *slog.Logger) error {
	st, err := svc.AllowlistStatus(ctx)
	if err != nil || !st.ImportedAt.IsZero() {
		return err
	}
	rep, err := RefreshAllowlist(ctx, svc, path, audit.System("mail-start"), audit.ChannelCLI)
	if err != nil {
		return err
	}
	log.Info("mail allowlist imported", "domains", rep.Domains, "entries", rep.Entries, "generated", rep.GeneratedAt)
	return nil
}

// RefreshAllowlist imports the allowlist file at path, as the operator's refresh command does.
func RefreshAllowlist(ctx context.Context, svc *mail.Service, path string, actor audit.Actor, ch audit.Channel) (mail.AllowlistReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return mail.AllowlistReport{}, fmt.Errorf("allowlist file: %w", err)
	}
	defer f.Close()
	return svc.RefreshAllowlist(ctx, mail.By{Actor: actor, Channel: ch}, f)
}

// readCAs reads a PEM file of root certificates.
func readCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errs.E(errs.Invalid, "%s holds no PEM certificate", path)
	}
	return pool, nil
}
