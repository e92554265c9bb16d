// Package imapd is carnet's IMAP adapter (go-imap v2's imapserver): professionals' mail
// clients read their PER, ORG or APP mailbox's folders (INBOX, Sent, Drafts, Trash) with
// IMAP4rev1 or IMAP4rev2, after STARTTLS (TLS 1.2 at least) and a sign-in with an app
// password of the mailbox (LOGIN, AUTHENTICATE PLAIN: the same rate limits and answers as
// SMTP AUTH, mail.Service.Authenticate) or with an OAuth / API bearer token of a professional
// who owns or is a member of the mailbox (AUTHENTICATE XOAUTH2, OAUTHBEARER).
//
// A patient's mailbox is not served: patients read and answer their messages in their space.
//
// The folders live in the store (mail.FolderStore); message bytes in the blob store,
// encrypted, read through the mail service. Each session keeps the list of the selected
// folder's UIDs it has told its client about, and compares it with the store's after each
// command and, while idling, at each signal of the store's in-process hub (a delivery by
// SMTP, a change by another session) or every PollInterval: new messages are announced with
// EXISTS, flags changed elsewhere with FETCH, and removed messages with EXPUNGE when the
// protocol allows it, so that sequence numbers stay right.
package imapd

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/smtpd"
)

// Options configure the listener.
type Options struct {
	Addr string // host:port
	// Hostname names the generated certificate (default: the mail service's hostname).
	Hostname string
	// TLS, when set, is the STARTTLS configuration (the SMTP listeners' in carnet serve); its
	// MinVersion is raised to TLS 1.2. Otherwise the certificate SMTP generates
	// (smtpd.SelfSigned) is taken from, or made into, CertDir for Hostname and CertHosts.
	TLS       *tls.Config
	CertDir   string
	CertHosts []string
	// Tokens checks the bearer tokens of XOAUTH2 and OAUTHBEARER; nil turns both off.
	Tokens *apitoken.Service
	// PollInterval: how often an idling session looks at its folder when nothing signalled
	// (changes made by another carnet process); default 30 s.
	PollInterval time.Duration
	Clock        clock.Clock
	Log          *slog.Logger
}

// Server is the IMAP listener.
type Server struct {
	svc     *mail.Service
	folders mail.FolderStore
	opts    Options
	log     *slog.Logger
	tls     *tls.Config
	srv     *imapserver.Server
	ln      net.Listener
	served  sync.WaitGroup
	base    context.Context
	cancel  context.CancelFunc
}

// New prepares the listener; Start opens it.
func New(svc *mail.Service, folders mail.FolderStore, o Options) (*Server, error) {
	if svc == nil || folders == nil {
		return nil, errs.E(errs.Internal, "imap: a mail service and a folder store are required")
	}
	if o.Hostname == "" {
		o.Hostname = svc.Config().Hostname
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 30 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	cfg := o.TLS
	if cfg == nil {
		if o.CertDir == "" {
			return nil, errs.E(errs.Invalid, "imap: a TLS configuration or a directory for a generated certificate is required")
		}
		cert, err := smtpd.SelfSigned(o.CertDir, append([]string{o.Hostname}, o.CertHosts...), o.Clock.Now())
		if err != nil {
			return nil, fmt.Errorf("imap certificate: %w", err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	s := &Server{svc: svc, folders: folders, opts: o, log: o.Log.With("component", "imap"), tls: cfg}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.srv = imapserver.New(&imapserver.Options{
		NewSession: s.newSession,
		Caps: imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}, imap.CapNamespace: {}, imap.CapUIDPlus: {},
			imap.CapMove: {}, imap.CapSpecialUse: {}, imap.CapStatusSize: {}, imap.CapSearchRes: {}, imap.CapESearch: {},
			imap.CapListStatus: {}, imap.CapListExtended: {}},
		Logger:       errorLog{s.log},
		TLSConfig:    cfg,
		InsecureAuth: false, // RFC 8314: no password, nor token, in clear
	})
	return s, nil
}

// TLSConfig returns the STARTTLS configuration (tests trust its certificate).
func (s *Server) TLSConfig() *tls.Config { return s.tls }

// Start opens the listener and serves it in the background; it returns its address.
func (s *Server) Start(ctx context.Context) (net.Addr, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("imap: listen on %s: %w", s.opts.Addr, err)
	}
	s.ln = ln
	s.served.Add(1)
	go func() {
		defer s.served.Done()
		if err := s.srv.Serve(ln); err != nil {
			s.log.Error("imap listener stopped", "err", err)
		}
	}()
	return ln.Addr(), nil
}

// Shutdown closes the listener and every connection. A command in progress is cut: what it
// wrote is either committed or rolled back (each change is one transaction).
func (s *Server) Shutdown(ctx context.Context) error {
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.srv.Close()
		s.served.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errorLog routes imapserver's own errors (a connection that failed) to slog. They name no
// message content.
type errorLog struct{ log *slog.Logger }

func (e errorLog) Printf(format string, v ...any) { e.log.Warn(fmt.Sprintf(format, v...)) }

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	host, _, _ := net.SplitHostPort(c.NetConn().RemoteAddr().String())
	return &session{s: s, conn: c, client: host}, &imapserver.GreetingData{}, nil
}
