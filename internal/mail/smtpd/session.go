package smtpd

import (
	"context"
	"errors"
	"io"
	"strconv"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/carnet-sante/carnet/internal/mail"
)

// session is one SMTP connection's transaction state.
type session struct {
	s     *Server
	conn  *smtp.Conn
	env   mail.Envelope
	inTxn bool // counted in flight from the first accepted recipient until the transaction ends (Reset)
}

func (se *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(se.s.base, se.s.opts.ReadTimeout)
}

func (se *session) Mail(from string, opts *smtp.MailOptions) error {
	if se.s.isDraining() {
		return errShuttingDown
	}
	if se.env.Channel == mail.Relay && !se.env.TLS && !se.s.opts.PlainRelay {
		return errNoTLS
	}
	se.env.Recipients, se.env.Size = nil, 0
	if opts != nil {
		se.env.Size = opts.Size
	}
	ctx, cancel := se.ctx()
	defer cancel()
	if err := se.s.svc.CheckSender(ctx, &se.env, from); err != nil {
		return se.s.toSMTP(err, atMail, se.env.Channel)
	}
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ctx, cancel := se.ctx()
	defer cancel()
	r, err := se.s.svc.CheckRecipient(ctx, &se.env, to)
	if err != nil {
		return se.s.toSMTP(err, atRcpt, se.env.Channel)
	}
	// From its first recipient, the transaction counts as in flight: the client may send DATA
	// and its body at any moment, and go-smtp answers 354 before it calls Data, so counting
	// only there would let a shutdown close the connection under a message already sent.
	if !se.inTxn {
		if !se.s.enter() {
			return errShuttingDown
		}
		se.inTxn = true
	}
	se.env.Recipients = append(se.env.Recipients, r)
	return nil
}

// Data stores the message and answers 250 only once it is durable (mail.Service.Accept).
func (se *session) Data(r io.Reader) error {
	if !se.inTxn {
		if !se.s.enter() {
			return errShuttingDown
		}
		se.inTxn = true
	}
	// Left in Reset, which go-smtp calls once the reply is written: a shutdown must not close
	// the connection between the commit and the 250 that acknowledges it.
	ctx, cancel := context.WithTimeout(se.s.base, se.s.opts.DataTimeout)
	defer cancel()
	rec, err := se.s.svc.Accept(ctx, se.env, r)
	if err != nil {
		return se.s.toSMTP(err, atData, se.env.Channel)
	}
	// go-smtp answers a nil error with a fixed text; this one says what was done.
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0},
		Message: "OK: stored as message " + strconv.FormatInt(rec.MessageID, 10)}
}

func (se *session) Reset() {
	se.env.From, se.env.Recipients, se.env.Size = mail.Address{}, nil, 0
	if se.inTxn {
		se.inTxn = false
		se.s.leave()
	}
}

func (se *session) Logout() error {
	se.Reset()
	return nil
}

// authSession is a submission session: AUTH PLAIN and LOGIN, over TLS only.
type authSession struct{ *session }

func (a *authSession) AuthMechanisms() []string {
	if !a.env.TLS {
		return nil // RFC 4954 §4: not advertised, and refused, before STARTTLS
	}
	return []string{sasl.Plain, sasl.Login}
}

func (a *authSession) Auth(mech string) (sasl.Server, error) {
	if !a.env.TLS {
		return nil, &smtp.SMTPError{Code: 523, EnhancedCode: smtp.EnhancedCode{5, 7, 10}, Message: "TLS is required"}
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			err := a.authenticate(username, password) // counted and costed alike in any case
			if err == nil && identity != "" && identity != username {
				a.env.Sender = nil // no acting for another mailbox
				return a.s.toSMTP(mail.AuthFailed(), atAuth, a.env.Channel)
			}
			return err
		}), nil
	case sasl.Login:
		return &loginServer{auth: a.authenticate}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (a *authSession) authenticate(username, password string) error {
	ctx, cancel := a.ctx()
	defer cancel()
	sender, err := a.s.svc.Authenticate(ctx, username, password, a.env.ClientAddr)
	if err != nil {
		return a.s.toSMTP(err, atAuth, a.env.Channel)
	}
	a.env.Sender = &sender
	return nil
}

// loginServer is the LOGIN mechanism (draft-murchison-sasl-login), which go-sasl offers to
// clients only: "Username:", then "Password:", each answered in base64. Some clients send
// the username as the initial response.
type loginServer struct {
	step int
	user string
	auth func(user, pass string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		if len(resp) > 0 {
			l.user, l.step = string(resp), 2
			return []byte("Password:"), false, nil
		}
		l.step = 1
		return []byte("Username:"), false, nil
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.auth(l.user, string(resp))
	}
	return nil, false, errors.New("unexpected response")
}
