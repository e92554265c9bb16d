package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/notify"
)

// Method names a second factor.
type Method string

const (
	MethodEmailCode Method = "otp-email" // a one-time code sent to the account's e-mail address
	MethodSMSCode   Method = "otp-sms"   // a one-time code sent by SMS to the patient's mobile
	// MethodWebAuthn is a passkey (WebAuthn Level 3), a stronger second factor than a code:
	// it resists phishing. See webauthn.go; offered when Config.WebAuthn is set.
	MethodWebAuthn Method = "webauthn"
)

// Challenge is a pending sign-in: the password was accepted, the second factor is awaited.
type Challenge struct {
	AccountID int64
	Method    Method
	// State is what the factor keeps between Begin and Verify: for a code, its HMAC; for
	// WebAuthn, the random challenge sent to the authenticator. Never a secret in clear.
	State string
	// IdentKey is the rate-limit key of the identifier the person typed, cleared when they
	// complete the sign-in.
	IdentKey  string
	Attempts  int
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// Prompt tells the person what the second factor expects of them.
type Prompt struct {
	Method      Method
	Destination string // where the code went, masked: "m•••@example.fr", "•• •• •• •• 89"
	// Options is what the browser needs for WebAuthn (PublicKeyCredentialRequestOptions,
	// JSON); empty for codes.
	Options []byte
}

// Started is a factor's challenge, ready to be stored, then delivered.
type Started struct {
	State  string
	Prompt Prompt
	// Deliver sends what the person needs (the code), once the challenge is stored; nil when
	// nothing is sent (WebAuthn: the browser asks the authenticator).
	Deliver func(ctx context.Context) error
}

// Factor is a second factor. The service owns everything around it (the pending challenge,
// its expiry, single use, the attempt count, rate limits, traces, the session); a factor only
// starts a challenge and checks a response.
//
// The passkey factor (webauthn.go) is Available to principals with a registered credential;
// its Begin draws a 32-byte challenge and returns it in State and in Prompt.Options with the
// allowed credential ids; it checks the assertion (client data, authenticator data, signature
// with the stored public key, sign count) in the sign-in's transaction: see TxFactor.
type Factor interface {
	Method() Method
	Available(p Principal) bool
	Begin(ctx context.Context, p Principal, challengeHash string) (Started, error)
	// Verify reports whether response answers the challenge; an error is a fault, not a
	// wrong answer.
	Verify(ctx context.Context, p Principal, challengeHash, state, response string) (bool, error)
}

// codeFactor is a six-digit one-time code, by e-mail or by SMS.
type codeFactor struct {
	method Method
	s      *Service
	sms    SMSSender
}

func (f codeFactor) Method() Method { return f.method }

func (f codeFactor) Available(p Principal) bool {
	if f.method == MethodSMSCode {
		return f.sms != nil && p.Phone != ""
	}
	return p.Login != ""
}

func (f codeFactor) Begin(_ context.Context, p Principal, challengeHash string) (Started, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return Started{}, errs.Wrap(errs.Unavailable, err, "no randomness for a code")
	}
	code := fmt.Sprintf("%06d", n.Int64())
	minutes := int(f.s.cfg.CodeValidity.Round(time.Minute) / time.Minute)
	st := Started{State: f.s.codeMAC(challengeHash, code), Prompt: Prompt{Method: f.method}}
	if f.method == MethodSMSCode {
		st.Prompt.Destination = maskPhone(p.Phone)
		text := fmt.Sprintf("carnet : votre code de connexion est %s. Il expire dans %d minutes. Ne le communiquez à personne.", code, minutes)
		st.Deliver = func(ctx context.Context) error { return f.sms.SendSMS(ctx, p.Phone, text) }
		return st, nil
	}
	st.Prompt.Destination = maskEmail(p.Login)
	m := notify.Message{
		To:      p.Login,
		Subject: "Votre code de connexion à carnet",
		Text: fmt.Sprintf("Bonjour,\n\nVotre code de connexion est : %s\n\nIl expire dans %d minutes et ne sert qu'une fois. "+
			"Ne le communiquez à personne : carnet ne vous le demandera jamais par téléphone.\n\n"+
			"Si vous n'essayez pas de vous connecter, quelqu'un connaît votre mot de passe : changez-le.\n", code, minutes),
		ID: "code-" + challengeHash[:24],
	}
	st.Deliver = func(ctx context.Context) error { return f.s.mail.Send(ctx, m) }
	return st, nil
}

func (f codeFactor) Verify(_ context.Context, _ Principal, challengeHash, state, response string) (bool, error) {
	code := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, response)
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return false, nil
	}
	return hmac.Equal([]byte(f.s.codeMAC(challengeHash, code)), []byte(state)), nil
}

// codeMAC binds a code to its challenge under the server key: a copy of the database does
// not give the code, and a code is worth nothing on another challenge.
func (s *Service) codeMAC(challengeHash, code string) string {
	return s.mac("code", challengeHash, code)
}

func maskEmail(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 1 {
		return "•••"
	}
	return addr[:1] + "•••" + addr[at:]
}

func maskPhone(phone string) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, phone)
	if len(digits) < 2 {
		return "••"
	}
	return "•• •• •• •• " + digits[len(digits)-2:]
}

// SMSSender sends one text message. Like notify.Sender, an errs.Invalid error means
// retrying cannot help and errs.Unavailable means try later. A provider's API (an SMPP
// gateway, an HTTP one) implements it in the wiring; SMSFile is the default.
type SMSSender interface {
	SendSMS(ctx context.Context, to, text string) error
}

// SMSFile is the default SMSSender: it writes each message as a file in a folder, as
// notify.Outbox does for e-mail, so that a machine without a provider works and tests and
// developers read the codes there. Files are "<date>-<n>.sms", holding "To: …", a blank line
// and the text; each is on disk (file and folder synced) before SendSMS returns.
type SMSFile struct {
	dir   string
	clock clock.Clock
}

// NewSMSFile returns the sink writing into dir (created, mode 0700: messages hold codes).
func NewSMSFile(dir string, clk clock.Clock) (*SMSFile, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "cannot create the SMS folder")
	}
	if clk == nil {
		clk = clock.System{}
	}
	return &SMSFile{dir: dir, clock: clk}, nil
}

// SendSMS writes the message.
func (f *SMSFile) SendSMS(ctx context.Context, to, text string) error {
	if err := ctx.Err(); err != nil {
		return errs.Wrap(errs.Unavailable, err, "SMS not written: cancelled")
	}
	if to == "" || strings.ContainsAny(to, "\r\n") || len(text) > 640 {
		return errs.E(errs.Invalid, "an SMS needs one recipient and at most 640 bytes of text")
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("%s-%x.sms", f.clock.Now().UTC().Format("20060102T150405Z"), rnd)
	tmp, err := os.CreateTemp(f.dir, ".sms-*")
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "cannot write the SMS")
	}
	defer os.Remove(tmp.Name())
	_, werr := fmt.Fprintf(tmp, "To: %s\n\n%s\n", to, text)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), filepath.Join(f.dir, name))
	}
	if werr == nil {
		werr = syncDir(f.dir)
	}
	if werr != nil {
		return errs.Wrap(errs.Unavailable, werr, "cannot write the SMS")
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
