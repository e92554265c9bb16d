package imapd

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
)

// session is one IMAP connection.
type session struct {
	s      *Server
	conn   *imapserver.Conn
	client string // IP address

	sender  *mail.Sender // once signed in
	changes <-chan struct{}
	unwatch func()
	sel     *selection // the selected folder
}

var (
	_ imapserver.SessionIMAP4rev2 = (*session)(nil)
	_ imapserver.SessionSASL      = (*session)(nil)
)

// cmdTimeout bounds the store and blob work of one command.
const cmdTimeout = 5 * time.Minute

func (se *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(se.s.base, cmdTimeout)
}

func (se *session) Close() error {
	if se.unwatch != nil {
		se.unwatch()
	}
	return nil
}

// Refusals, worded for the person reading their mail client's error.
var (
	errPatient = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNoPerm,
		Text: "patient mailboxes are not served over IMAP: patients read and answer their messages in their health space"}
	errTLS = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodePrivacyRequired,
		Text: "TLS is required to authenticate: use STARTTLS first"}
	errNoFolder = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent,
		Text: "no such folder: the folders are INBOX, Sent, Drafts and Trash"}
	errFixedFolders = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
		Text: "the folders are fixed: INBOX, Sent, Drafts and Trash"}
	errReadOnly = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
		Text: "the folder is open read-only (EXAMINE)"}
	errTemporary = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable,
		Text: "temporary failure, please try again later"}
)

// toIMAP maps the mail service's refusals to IMAP answers; a fault of ours is logged (it
// names no content) and answered with a generic text.
func (se *session) toIMAP(err error, op string) error {
	var ie *imap.Error
	if err == nil || errors.As(err, &ie) {
		return err
	}
	switch mail.ReasonOf(err) {
	case mail.ReasonAuthFailed:
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: mail.MessageOf(err)}
	case mail.ReasonThrottled:
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: mail.MessageOf(err)}
	case mail.ReasonTemporary:
		se.s.log.Error("imap command failed", "op", op, "err", err)
		return errTemporary
	default:
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: mail.MessageOf(err)}
	}
}

func (se *session) isTLS() bool {
	_, ok := se.conn.NetConn().(*tls.Conn)
	return ok
}

// isPatientAddress: the patient domain's mailboxes are refused before any check, with the
// same answer whether the address exists or not.
func (se *session) isPatientAddress(username string) bool {
	at := strings.LastIndexByte(username, '@')
	return at >= 0 && strings.EqualFold(strings.TrimSpace(username[at+1:]), se.s.svc.PatientDomain())
}

// Login is LOGIN (and AUTHENTICATE PLAIN): an app password of the mailbox.
func (se *session) Login(username, password string) error {
	return se.signIn("LOGIN", username, func(ctx context.Context) (mail.Sender, error) {
		return se.s.svc.Authenticate(ctx, username, password, se.client)
	})
}

// signIn runs check for a sign-in by mech and sets the session's mailbox. Every outcome is
// logged without the credentials; a success is traced on the actor's chain.
func (se *session) signIn(mech, username string, check func(context.Context) (mail.Sender, error)) error {
	if !se.isTLS() {
		return errTLS // imapserver refuses already (LOGINDISABLED); kept should that change
	}
	if se.isPatientAddress(username) {
		se.s.log.Info("imap sign-in refused", "mechanism", mech, "reason", "patient_mailbox")
		return errPatient
	}
	ctx, cancel := se.ctx()
	defer cancel()
	sender, err := check(ctx)
	if err == nil && sender.Mailbox.Kind == mail.PAT {
		err = errPatient
	}
	if err != nil {
		se.s.log.Info("imap sign-in refused", "mechanism", mech, "reason", mail.ReasonOf(err))
		return se.toIMAP(err, "sign-in")
	}
	if err := se.s.svc.TraceSignIn(ctx, sender, audit.ChannelIMAP, mech); err != nil {
		return se.toIMAP(err, "sign-in")
	}
	se.s.log.Info("imap sign-in", "mechanism", mech, "mailbox", sender.Mailbox.ID)
	se.sender = &sender
	se.changes, se.unwatch = se.s.folders.Watch(sender.Mailbox.ID)
	return nil
}

// AuthenticateMechanisms: PLAIN always (over TLS: imapserver advertises nothing before),
// the bearer mechanisms when tokens are checked.
func (se *session) AuthenticateMechanisms() []string {
	if se.s.opts.Tokens == nil {
		return []string{sasl.Plain}
	}
	return []string{sasl.Plain, mechXOAuth2, sasl.OAuthBearer}
}

const mechXOAuth2 = "XOAUTH2"

func (se *session) Authenticate(mech string) (sasl.Server, error) {
	switch {
	case mech == sasl.Plain:
		return sasl.NewPlainServer(se.signInPlain), nil
	case mech == mechXOAuth2 && se.s.opts.Tokens != nil:
		return &xoauth2Server{auth: se.signInBearer(mechXOAuth2)}, nil
	case mech == sasl.OAuthBearer && se.s.opts.Tokens != nil:
		bearer := se.signInBearer(sasl.OAuthBearer)
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if err := bearer(o.Username, o.Token); err != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
			}
			return nil
		}), nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
		Text: "unsupported authentication mechanism"}
}

func (se *session) signInPlain(identity, username, password string) error {
	return se.signIn(sasl.Plain, username, func(ctx context.Context) (mail.Sender, error) {
		sender, err := se.s.svc.Authenticate(ctx, username, password, se.client) // counted and costed alike in any case
		if err == nil && identity != "" && identity != username {
			return mail.Sender{}, mail.AuthFailed() // no acting for another mailbox
		}
		return sender, err
	})
}

// signInBearer checks a bearer token for a mailbox: the token's holder must be a
// professional who owns it or is a member (mail.Service.AuthenticateHolder).
func (se *session) signInBearer(mech string) func(username, token string) error {
	return func(username, token string) error {
		return se.signIn(mech, username, func(ctx context.Context) (mail.Sender, error) {
			var idnat string
			if r, err := se.s.opts.Tokens.Authenticate(ctx, strings.TrimSpace(token)); err == nil &&
				r.Actor.Kind == audit.ActorProfessional {
				idnat = r.Actor.ID
			}
			// An unknown token and a token of someone else alike: AuthenticateHolder
			// counts the attempt and answers the one failure.
			return se.s.svc.AuthenticateHolder(ctx, username, idnat, se.client)
		})
	}
}

// xoauth2Server is Google's XOAUTH2 mechanism, which go-sasl offers to clients only: one
// message "user=<address>\x01auth=Bearer <token>\x01\x01".
type xoauth2Server struct {
	auth func(username, token string) error
	done bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.done {
		return nil, false, errors.New("XOAUTH2: unexpected response")
	}
	if resp == nil {
		return []byte{}, false, nil // ask for the initial response
	}
	x.done = true
	var user, token string
	for _, f := range strings.Split(string(resp), "\x01") {
		switch {
		case strings.HasPrefix(f, "user="):
			user = strings.TrimPrefix(f, "user=")
		case strings.HasPrefix(f, "auth="):
			v := strings.TrimPrefix(f, "auth=")
			if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
				token = v[7:]
			}
		}
	}
	if user == "" || token == "" {
		return nil, false, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "malformed XOAUTH2 response"}
	}
	if err := x.auth(user, token); err != nil {
		return nil, false, err
	}
	return nil, true, nil
}

// folder resolves a client's folder name.
func folder(name string) (string, error) {
	f, ok := mail.FolderName(name)
	if !ok {
		return "", errNoFolder
	}
	return f, nil
}

func (se *session) Create(string, *imap.CreateOptions) error         { return errFixedFolders }
func (se *session) Delete(string) error                              { return errFixedFolders }
func (se *session) Rename(string, string, *imap.RenameOptions) error { return errFixedFolders }

// Subscribe and Unsubscribe: the four folders are always subscribed.
func (se *session) Subscribe(name string) error {
	_, err := folder(name)
	return err
}

func (se *session) Unsubscribe(name string) error {
	if _, err := folder(name); err != nil {
		return err
	}
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "the four folders are always subscribed"}
}

func (se *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: delim}}}, nil
}

const delim = '/'

var specialUse = map[string]imap.MailboxAttr{"Sent": imap.MailboxAttrSent, "Drafts": imap.MailboxAttrDrafts, "Trash": imap.MailboxAttrTrash}

func (se *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 1 && patterns[0] == "" && !options.SelectSubscribed && !options.SelectSpecialUse {
		// RFC 9051 §6.3.9: the hierarchy delimiter.
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim})
	}
	ctx, cancel := se.ctx()
	defer cancel()
	folders, err := se.s.folders.Folders(ctx, se.sender.Mailbox.ID)
	if err != nil {
		return se.toIMAP(err, "list")
	}
	for _, f := range folders {
		match := false
		for _, p := range patterns {
			match = match || imapserver.MatchList(f.Name, delim, ref, p)
		}
		if !match || (options.SelectSpecialUse && specialUse[f.Name] == "") {
			continue
		}
		d := imap.ListData{Mailbox: f.Name, Delim: delim, Attrs: []imap.MailboxAttr{imap.MailboxAttrHasNoChildren, imap.MailboxAttrSubscribed}}
		if a := specialUse[f.Name]; a != "" {
			d.Attrs = append(d.Attrs, a)
		}
		if options.ReturnStatus != nil {
			if d.Status, err = se.status(ctx, f.Name, options.ReturnStatus); err != nil {
				return err
			}
		}
		if err := w.WriteList(&d); err != nil {
			return err
		}
	}
	return nil
}

func (se *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	f, err := folder(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := se.ctx()
	defer cancel()
	return se.status(ctx, f, options)
}

func (se *session) status(ctx context.Context, name string, o *imap.StatusOptions) (*imap.StatusData, error) {
	f, msgs, err := se.folderMessages(ctx, name)
	if err != nil {
		return nil, se.toIMAP(err, "status")
	}
	var unseen, deleted, zero uint32
	var size int64
	for _, m := range msgs {
		if !hasFlag(m.Flags, mail.FlagSeen) {
			unseen++
		}
		if hasFlag(m.Flags, mail.FlagDeleted) {
			deleted++
		}
		size += m.Message.Blob.Size
	}
	n := uint32(len(msgs))
	d := &imap.StatusData{Mailbox: name}
	if o.NumMessages {
		d.NumMessages = &n
	}
	if o.UIDNext {
		d.UIDNext = imap.UID(f.UIDNext)
	}
	if o.UIDValidity {
		d.UIDValidity = f.UIDValidity
	}
	if o.NumUnseen {
		d.NumUnseen = &unseen
	}
	if o.NumDeleted {
		d.NumDeleted = &deleted
	}
	if o.Size {
		d.Size = &size
	}
	if o.NumRecent {
		d.NumRecent = &zero
	}
	return d, nil
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

// folderMessages reads a folder, made first if it is missing (folders are made on first use).
func (se *session) folderMessages(ctx context.Context, name string) (mail.Folder, []mail.FolderMessage, error) {
	f, msgs, err := se.s.folders.FolderMessages(ctx, se.sender.Mailbox.ID, name)
	if errs.Is(err, errs.NotFound) {
		if _, err := se.s.folders.Folders(ctx, se.sender.Mailbox.ID); err != nil {
			return f, nil, err
		}
		f, msgs, err = se.s.folders.FolderMessages(ctx, se.sender.Mailbox.ID, name)
	}
	return f, msgs, err
}
