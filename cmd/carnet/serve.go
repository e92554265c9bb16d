package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/account"
	"github.com/carnet-sante/carnet/internal/agenda"
	"github.com/carnet-sante/carnet/internal/agenda/agendamail"
	"github.com/carnet-sante/carnet/internal/alert"
	"github.com/carnet-sante/carnet/internal/apitoken"
	"github.com/carnet-sante/carnet/internal/archive"
	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/blob"
	"github.com/carnet-sante/carnet/internal/catalogue"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/config"
	"github.com/carnet-sante/carnet/internal/demo"
	"github.com/carnet-sante/carnet/internal/emergency"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir"
	"github.com/carnet-sante/carnet/internal/jobs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/mail/mailserve"
	"github.com/carnet-sante/carnet/internal/mailfile"
	"github.com/carnet-sante/carnet/internal/notify"
	"github.com/carnet-sante/carnet/internal/oauth"
	"github.com/carnet-sante/carnet/internal/oidc"
	"github.com/carnet-sante/carnet/internal/operations"
	"github.com/carnet-sante/carnet/internal/password"
	"github.com/carnet-sante/carnet/internal/profile"
	"github.com/carnet-sante/carnet/internal/profile/share"
	"github.com/carnet-sante/carnet/internal/questionnaire"
	"github.com/carnet-sante/carnet/internal/record"
	"github.com/carnet-sante/carnet/internal/server"
	"github.com/carnet-sante/carnet/internal/space"
	"github.com/carnet-sante/carnet/internal/store"
	"github.com/carnet-sante/carnet/internal/terminology"
	"github.com/carnet-sante/carnet/internal/trail"
	"github.com/carnet-sante/carnet/internal/web"
)

func notifyConfig(cfg *config.Config) notify.Config {
	n := cfg.Notify
	return notify.Config{
		Mode: n.Mode, OutboxDir: n.OutboxDir, From: n.From.String(),
		SMTPAddr: n.SMTP.Addr, SMTPTLS: n.SMTP.TLS, Username: n.SMTP.Username, Password: n.SMTP.Password.Reveal(),
	}
}

// runServe starts everything and runs until ctx ends (SIGINT, SIGTERM), then lets in-flight
// requests and jobs finish within the shutdown timeout.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var demoMode bool
	cfg, _, err := loadConfig("serve", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&demoMode, "demo", false, "seed a small synthetic population (once) and print its demonstration sign-ins")
	})
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	log.Info("carnet starting", "version", version, "config", cfg)
	clk := clock.System{}

	db, key, err := openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := prepareSchema(ctx, db, clk, log); err != nil {
		return err
	}

	// Document and attachment bytes, encrypted at rest; the record capability will use them.
	blobs, err := blob.NewFS(filepath.Join(cfg.DataDir, "blobs"), key.master, blob.WithPreviousKeys(cfg.PreviousMasterKeys()...))
	if err != nil {
		return err
	}
	sender, err := notify.New(notifyConfig(cfg), clk)
	if err != nil {
		return err
	}
	spaces, err := newSpaces(db, clk, cfg, key, sender)
	if err != nil {
		return err
	}
	if demoMode {
		rep, err := seedDemo(ctx, db, cfg, key, spaces, demo.Options{Seed: 1, People: 12, DocumentsPerPerson: 3, Password: demoPassword}, log, nil)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		printDemo(stdout, rep)
	}
	rs, err := newRecordServices(ctx, db, clk, cfg, key, spaces, blobs, log)
	if err != nil {
		return err
	}
	medical := rs.profile
	api, records := newFHIR(db, clk, cfg, rs, medical, log), rs.records
	// The médecins traitants' alerts and the mailbox inactivity rule go through the messaging,
	// which starts after the queue.
	mailer := &lateMail{}
	alerts, err := alert.NewService(alert.Deps{Store: db.Alerts(), Mail: mailer, Sender: sender, Professions: rs.catalog,
		Clock: clk, PublicURL: cfg.PublicURL.String(), Log: log})
	if err != nil {
		return err
	}
	queue, err := jobs.New(db, jobs.Config{Workers: cfg.JobsWorkers, Logger: log},
		jobs.Deps{Spaces: spaces, Blobs: blobs, DB: db, Records: records, Alerts: alerts, MailRetention: mailer})
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(db.SQL(), "carnet"))
	srv := server.New(log, reg, map[string]server.Pinger{"database": db, "blobs": blobs})
	srv.Handle("/fhir/", api)
	srv.Handle("/fhir", api)
	signin, err := newAuth(db, clk, cfg, key, sender, log, reg)
	if err != nil {
		return err
	}
	defer signin.Close()
	tls := cfg.PublicURL.Scheme == "https"
	directory, err := account.NewService(db.Accounts(), clk, password.DefaultParams(), rs.catalog)
	if err != nil {
		return err
	}
	// Over plain HTTP (a developer's machine) the cookies cannot be Secure: browsers would drop them.
	cookies, err := signin.HTTP(auth.HTTPOptions{Insecure: !tls})
	if err != nil {
		return err
	}
	providers, err := newOIDC(db, clk, cfg, key, signin, cookies, rs.catalog, log, !tls)
	if err != nil {
		return err
	}
	var signInWith []web.SignInProvider
	if providers != nil {
		srv.Handle("GET /connexion/oidc/", providers)
		for _, p := range providers.Providers() {
			signInWith = append(signInWith, web.SignInProvider{Label: p.Label, URL: p.StartURL, Professional: p.Kind == oidc.KindProfessional})
		}
	}
	// The app catalogue: its pages, and the consent page's words and gate (only referenced apps connect).
	apps := catalogue.NewService(db.Catalogue(), clk, rs.catalog, oauth.NewRegistry(db.OAuth(), clk, rs.catalog))
	careAgenda, err := agenda.NewService(agenda.Deps{Store: db.Agenda(), Access: rs.access, Clock: clk, Documents: rs.records})
	if err != nil {
		return err
	}
	shares, err := share.NewService(db.Shares(), clk, 0)
	if err != nil {
		return err
	}
	cards := rs.cards
	pages, err := web.New(web.Deps{Apps: apps, SignInWith: signInWith, Auth: signin, HTTP: cookies, Records: rs.records, Trail: rs.trail, Archive: rs.archive,
		Spaces: spaces, SpaceLife: spaces, Representation: spaces, Access: rs.access, Matrices: access.NewMatrices(db.Matrices(), clk), Directory: directory, Catalog: rs.catalog, Clock: clk, TLS: tls, Log: log,
		Operations: operations.NewService(db.Operations(), clk), SpaceFinder: spaces,
		Profile: medical, Agenda: careAgenda, Shares: shares, Emergency: cards, PublicURL: cfg.PublicURL.String()})
	if err != nil {
		return err
	}
	srv.Handle("/", pages)
	as, err := newOAuth(db, clk, cfg, key, rs.catalog, apps, log)
	if err != nil {
		return err
	}
	// The consent page needs who is signed in (the session middleware); the token, introspection
	// and revocation endpoints are for machine clients, which have no session.
	for _, path := range oauth.Paths() {
		srv.Handle(path, cookies.Middleware(as))
	}
	// SMART discovery relative to the FHIR base too, where SMART client libraries look first.
	srv.Handle("GET /fhir/.well-known/smart-configuration", as.SmartConfiguration())

	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	// The queue's own context outlives the signal: cancelling it would cancel running jobs,
	// whereas Stop below lets them finish within the grace period.
	if err := queue.Start(context.WithoutCancel(ctx)); err != nil {
		l.Close()
		return err
	}
	// The agenda files the invitations of messages, finding their senders in the messaging's
	// directory once it runs (agendamail).
	invitations := agendamail.New(careAgenda, nil)
	// The questionnaires professionals send, kept for the portal's forms (internal/questionnaire).
	forms, err := questionnaire.NewInspector(db.Questionnaires(), blobs, clk, log)
	if err != nil {
		l.Close()
		return err
	}
	// The IHE XDM packages professionals send, filed into the record (internal/mailfile).
	filer, err := mailfile.New(mailfile.Deps{Store: db.MailFiling(), Records: rs.records, Clock: clk, Log: log})
	if err != nil {
		l.Close()
		return err
	}
	messaging, err := mailserve.Start(context.WithoutCancel(ctx), mailserve.Config{Domain: cfg.Domain, RelayAddr: cfg.SMTPRelayAddr,
		SubmissionAddr: cfg.SMTPSubmissionAddr, IMAPAddr: cfg.IMAPAddr, CertDir: filepath.Join(cfg.DataDir, "mail-tls"),
		AllowlistFile: cfg.MailAllowlistFile, CertFile: cfg.MailTLSCertFile, KeyFile: cfg.MailTLSKeyFile,
		RelayClientCAFile: cfg.MailRelayClientCAFile, OutboundCAFile: cfg.MailOutboundCAFile,
		OutboundCertFile: cfg.MailOutboundCertFile, OutboundKeyFile: cfg.MailOutboundKeyFile},
		mailserve.Deps{DB: db, Blobs: blobs, Clock: clk, Seal: key.seal, Password: password.DefaultParams(), SharedJobs: true,
			Tokens: apitoken.NewService(db.Tokens(), clk), Log: log,
			// What a message delivered to a patient carries, acted on by the capability it concerns.
			Inspectors: []mail.Inspector{invitations, forms, filer}})
	if err != nil {
		l.Close()
		return fmt.Errorf("mail: %w", err)
	}
	invitations.Use(messaging.Service)
	retention, err := mail.NewRetention(messaging.Service, sender, mail.DefaultRetention())
	if err != nil {
		l.Close()
		return err
	}
	mailer.set(messaging.Service, retention)
	// The patient's messages in the portal, over the messaging just started.
	inbox, err := mail.NewPortal(messaging.Service, db.MailPortal(messaging.Queue), rs.access, rs.records)
	if err != nil {
		l.Close()
		return errors.Join(err, messaging.Shutdown(context.WithoutCancel(ctx)))
	}
	pages.SetMessages(inbox)
	// The questionnaires' forms, answered as replies, and their responses over FHIR.
	answers, err := questionnaire.NewService(questionnaire.Deps{Store: db.Questionnaires(), Blobs: blobs, Access: rs.access,
		Mail: inbox, Clock: clk, Log: log})
	if err != nil {
		l.Close()
		return errors.Join(err, messaging.Shutdown(context.WithoutCancel(ctx)))
	}
	pages.SetQuestionnaires(answers)
	api.SetQuestionnaires(answers)
	// The MSSanté directory, on the professionals' page and as FHIR (Practitioner…).
	pages.SetDirectory(messaging.Service)
	pages.SetMailAdmin(messaging.Service) // the operator's allowlist and directory page
	api.SetDirectory(messaging.Service)
	for _, ml := range messaging.Listeners {
		fmt.Fprintf(stdout, "carnet SMTP %s listening on %s\n", ml.Channel, ml.Addr)
	}
	if messaging.IMAPAddr != nil {
		fmt.Fprintf(stdout, "carnet IMAP listening on %s\n", messaging.IMAPAddr)
	}
	fmt.Fprintf(stdout, "carnet %s listening on http://%s (database %s, data in %s)\n", version, l.Addr(), cfg.DB.Redacted(), cfg.DataDir)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err = <-served:
	case <-ctx.Done():
	}
	log.Info("carnet stopping", "grace", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = errors.Join(err, srv.Shutdown(sctx), messaging.Shutdown(sctx), queue.Stop(sctx))
	log.Info("carnet stopped")
	return err
}

// lateMail hands the jobs the mail service once it has started; a job that runs before is
// retried.
type lateMail struct {
	svc       atomic.Pointer[mail.Service]
	retention atomic.Pointer[mail.Retention]
}

func (m *lateMail) set(s *mail.Service, r *mail.Retention) { m.retention.Store(r); m.svc.Store(s) }

var errMailNotStarted = errs.E(errs.Unavailable, "the messaging is not started yet")

func (m *lateMail) DeliverSystem(ctx context.Context, msg mail.SystemMessage) (bool, error) {
	s := m.svc.Load()
	if s == nil {
		return false, errMailNotStarted
	}
	return s.DeliverSystem(ctx, msg)
}

func (m *lateMail) Sweep(ctx context.Context) (mail.RetentionReport, error) {
	r := m.retention.Load()
	if r == nil {
		return mail.RetentionReport{}, errMailNotStarted
	}
	return r.Sweep(ctx)
}

// recordServices are the record and what reads it whole: built alike by serve and by the
// operator's commands that export and import spaces.
type recordServices struct {
	catalog *terminology.Catalog
	access  *access.Service
	records *record.Service
	trail   *trail.Service
	profile *profile.Service
	cards   *emergency.Service
	archive *archive.Service
}

func newRecordServices(ctx context.Context, db *store.DB, clk clock.Clock, cfg *config.Config, k keys, spaces *space.Service, blobs blob.Store,
	log *slog.Logger) (*recordServices, error) {
	catalog, err := terminology.Default()
	if err != nil {
		return nil, err
	}
	matrix, err := activeMatrix(ctx, db)
	if err != nil {
		return nil, err
	}
	log.Info("access decisions under habilitation matrix", "version", matrix.Version())
	acc := access.NewService(db.Access(), clk, matrix, access.ServicePolicy{})
	records, err := record.NewService(record.Deps{Store: db.Records(), Access: acc, Blobs: blobs, Catalog: catalog, Clock: clk, Log: log})
	if err != nil {
		return nil, err
	}
	tr, err := trail.NewService(db.Trail(), acc, matrix)
	if err != nil {
		return nil, err
	}
	ag, err := agenda.NewService(agenda.Deps{Store: db.Agenda(), Access: acc, Clock: clk})
	if err != nil {
		return nil, err
	}
	medical, err := profile.NewService(profile.Deps{Store: db.Profile(), Access: acc, Catalog: catalog, Clock: clk})
	if err != nil {
		return nil, err
	}
	cards, err := emergency.NewService(db.Emergency(), acc, medical, clk)
	if err != nil {
		return nil, err
	}
	// The mailbox goes with the space: read through a mail service over the same store and
	// blobs as the one serve starts with its listeners, here without any (it only reads).
	mailKey, err := mail.DeriveKey(k.seal)
	if err != nil {
		return nil, err
	}
	messaging, err := mail.NewService(mail.Deps{Store: db.Mail(nil), Blobs: blobs, Clock: clk, Key: mailKey,
		Password: password.DefaultParams(), Config: mail.DefaultConfig(cfg.Domain), Log: log.With("component", "mail")})
	if err != nil {
		return nil, err
	}
	mailbox, err := mail.NewPortal(messaging, db.MailPortal(nil), acc, records)
	if err != nil {
		return nil, err
	}
	arch, err := archive.NewService(archive.Deps{Records: records, Trail: tr, Spaces: spaces, Catalog: catalog, Clock: clk, Agenda: ag,
		Profile: medical, Mail: mailbox, Access: acc, Emergency: cards})
	if err != nil {
		return nil, err
	}
	return &recordServices{catalog: catalog, access: acc, records: records, trail: tr, profile: medical, cards: cards, archive: arch}, nil
}

// newFHIR builds the FHIR API over the record's services.
func newFHIR(db *store.DB, clk clock.Clock, cfg *config.Config, rs *recordServices, medical *profile.Service, log *slog.Logger) *fhir.API {
	// The agenda's Appointment. NewService fails only on a missing dependency, never so here.
	careAgenda, _ := agenda.NewService(agenda.Deps{Store: db.Agenda(), Access: rs.access, Clock: clk})
	return fhir.New(fhir.Deps{Records: rs.records, Tokens: apitoken.NewService(db.Tokens(), clk), Catalog: rs.catalog, Trail: rs.trail,
		Exporter: rs.archive, Profile: medical, Agenda: careAgenda, BaseURL: strings.TrimSuffix(cfg.PublicURL.String(), "/") + "/fhir", Version: version, Log: log})
}

// newAuth builds sign-in and sessions: one-time codes by e-mail (the notice sender), and by
// SMS into data_dir/sms until an SMS provider is configured.
func newAuth(db *store.DB, clk clock.Clock, cfg *config.Config, k keys, mail notify.Sender, log *slog.Logger, reg prometheus.Registerer) (*auth.Service, error) {
	key, err := auth.DeriveKey(k.seal)
	if err != nil {
		return nil, err
	}
	codeKey, err := space.CodeKey(k.seal)
	if err != nil {
		return nil, err
	}
	sms, err := auth.NewSMSFile(filepath.Join(cfg.DataDir, "sms"), clk)
	if err != nil {
		return nil, err
	}
	ac := auth.DefaultConfig()
	ac.ResetURL = strings.TrimSuffix(cfg.PublicURL.String(), "/") + "/mot-de-passe/nouveau"
	// Passkeys need a domain name (and https but on localhost): off on a bare IP address.
	if wa, err := auth.WebAuthnFromURL(cfg.PublicURL.String()); err == nil {
		ac.WebAuthn = wa
	} else {
		log.Info("passkeys off", "reason", err.Error())
	}
	var metrics *auth.Metrics
	if reg != nil {
		metrics = auth.NewMetrics(reg)
	}
	return auth.NewService(auth.Deps{Store: db.Auth(), Clock: clk, Key: key, CodeKey: codeKey, Password: password.DefaultParams(),
		Mail: mail, SMS: sms, Config: ac, Log: log, Metrics: metrics})
}

// newOAuth builds the OAuth 2 authorisation server of machine clients and patients' apps. Its
// consent page sends a person who is not signed in to the sign-in page, and back.
func newOAuth(db *store.DB, clk clock.Clock, cfg *config.Config, k keys, cat *terminology.Catalog, apps *catalogue.Service, log *slog.Logger) (*oauth.Server, error) {
	consentKey, err := hkdf.Key(sha256.New, k.seal, nil, "carnet oauth consent v1", 32)
	if err != nil {
		return nil, err
	}
	return oauth.New(oauth.Config{Issuer: strings.TrimSuffix(cfg.PublicURL.String(), "/"), ConsentKey: consentKey},
		oauth.Deps{Store: db.OAuth(), Clock: clk, Catalog: cat, Log: log, Describe: apps.Description,
			SignedIn: func(r *http.Request) (access.Actor, bool) {
				id, ok := auth.FromContext(r.Context())
				if !ok || id.Kind != account.KindPatient {
					return access.Actor{}, false
				}
				return id.Actor(), true
			},
			SignIn: func(w http.ResponseWriter, r *http.Request, returnTo string) {
				http.Redirect(w, r, "/connexion?"+url.Values{"retour": {returnTo}}.Encode(), http.StatusSeeOther)
			}})
}

// newOIDC builds OpenID Connect sign-in when providers are configured (oidc_providers_file);
// nil when there are none.
func newOIDC(db *store.DB, clk clock.Clock, cfg *config.Config, k keys, signin *auth.Service, cookies *auth.HTTP,
	cat *terminology.Catalog, log *slog.Logger, insecure bool) (*oidc.Service, error) {
	if cfg.OIDCProvidersFile == "" {
		return nil, nil
	}
	f, err := os.Open(cfg.OIDCProvidersFile)
	if err != nil {
		return nil, fmt.Errorf("oidc_providers_file: %w", err)
	}
	defer f.Close()
	providers, err := oidc.ParseProviders(f, cfg.PublicURL.String())
	if err != nil {
		return nil, err
	}
	key, err := oidc.DeriveKey(k.seal)
	if err != nil {
		return nil, err
	}
	return oidc.New(oidc.Deps{Store: db.OIDC(), Auth: signin, HTTP: cookies, Clock: clk, Key: key, Professions: cat, Log: log,
		Config: oidc.Config{Providers: providers, Insecure: insecure}})
}
