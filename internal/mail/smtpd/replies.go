package smtpd

import (
	"errors"
	"log/slog"

	"github.com/emersion/go-smtp"

	"github.com/carnet-sante/carnet/internal/mail"
)

// reply is an SMTP reply code with its enhanced status code (RFC 3463).
type reply struct {
	code int
	enh  smtp.EnhancedCode
}

// replies maps every refusal of the mail service to its SMTP reply: the one place where
// carnet's reasons become SMTP's vocabulary (STYLE.md "Errors").
var replies = map[mail.Reason]reply{
	mail.ReasonBadAddress:     {553, smtp.EnhancedCode{5, 1, 3}}, // RCPT; MAIL uses 5.1.7 (see stage)
	mail.ReasonUnknownMailbox: {550, smtp.EnhancedCode{5, 1, 1}}, // bad destination mailbox address
	mail.ReasonSenderDomain:   {550, smtp.EnhancedCode{5, 7, 1}}, // delivery not authorized
	mail.ReasonRelayDenied:    {550, smtp.EnhancedCode{5, 7, 1}},
	mail.ReasonSpaceNotOpen:   {550, smtp.EnhancedCode{5, 2, 1}}, // mailbox disabled, not accepting messages
	mail.ReasonDisabled:       {550, smtp.EnhancedCode{5, 2, 1}},
	mail.ReasonNoReply:        {550, smtp.EnhancedCode{5, 7, 1}},
	mail.ReasonPatientFirst:   {550, smtp.EnhancedCode{5, 7, 1}},
	mail.ReasonSenderNotOwn:   {550, smtp.EnhancedCode{5, 7, 1}},
	mail.ReasonMailboxFull:    {452, smtp.EnhancedCode{4, 2, 2}}, // mailbox full (temporary: RFC 5321 §4.5.3.1.10)
	mail.ReasonTooBig:         {552, smtp.EnhancedCode{5, 3, 4}}, // message too big for system
	mail.ReasonMalformed:      {550, smtp.EnhancedCode{5, 6, 0}}, // other media error
	mail.ReasonTLSRequired:    {530, smtp.EnhancedCode{5, 7, 0}}, // RFC 3207 §4: must issue STARTTLS first
	mail.ReasonAuthRequired:   {530, smtp.EnhancedCode{5, 7, 0}}, // RFC 4954 §6
	mail.ReasonAuthFailed:     {535, smtp.EnhancedCode{5, 7, 8}}, // RFC 4954 §6: credentials invalid
	mail.ReasonThrottled:      {454, smtp.EnhancedCode{4, 7, 0}}, // RFC 4954 §6: temporary authentication failure
	mail.ReasonTooManyRcpts:   {452, smtp.EnhancedCode{4, 5, 3}},
	mail.ReasonTemporary:      {451, smtp.EnhancedCode{4, 3, 0}},
	mail.ReasonBadAllowlist:   {451, smtp.EnhancedCode{4, 3, 0}},
}

// stage is the command an error answers.
type stage int

const (
	atMail stage = iota
	atRcpt
	atData
	atAuth
)

// toSMTP maps an error of the mail service to the reply the client gets. A fault of ours
// (no refusal) becomes 451 4.3.0 with a generic text: the client retries, and the details go
// to the log only.
func (s *Server) toSMTP(err error, at stage, channel mail.Channel) error {
	if errors.Is(err, smtp.ErrDataTooLarge) {
		return smtp.ErrDataTooLarge
	}
	reason := mail.ReasonOf(err)
	r, ok := replies[reason]
	if !ok {
		r = replies[mail.ReasonTemporary]
	}
	if reason == mail.ReasonBadAddress && at == atMail {
		r.enh = smtp.EnhancedCode{5, 1, 7} // bad sender's mailbox address syntax
	}
	msg := mail.MessageOf(err)
	if reason == mail.ReasonTemporary {
		s.log.Error("mail transaction failed", "channel", channel, "stage", at, "err", err)
	} else {
		// The reason only: addresses may name a patient (their INS).
		s.log.Info("mail refused", "channel", channel, "stage", at, "reason", reason)
	}
	return &smtp.SMTPError{Code: r.code, EnhancedCode: r.enh, Message: msg}
}

var errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "shutting down, try again later"}

func (st stage) LogValue() slog.Value {
	return slog.StringValue([...]string{"MAIL", "RCPT", "DATA", "AUTH"}[st])
}
