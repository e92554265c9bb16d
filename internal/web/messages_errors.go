package web

import (
	"errors"
	"net/http"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
)

// The refusals of the messages pages, in the reader's language: each reason of the messaging
// (mail.Reason) and each problem of what was typed or attached has its catalogue key. The
// refusals' own texts are English and may name an address; the pages never show them.

// errFormUnreadable and errFileUnreadable are a form the pages could not read.
var (
	errFormUnreadable = errors.New("the form could not be read")
	errFileUnreadable = errors.New("a file could not be read")
)

// refusalKey is the catalogue key that says a refusal of the messaging.
func refusalKey(r mail.Reason) string {
	if _, ok := catalogue["msg.reason."+string(r)]; ok {
		return "msg.reason." + string(r)
	}
	return "msg.reason.other"
}

// invalidKey is the catalogue key that says what is wrong with a message typed in the portal.
func invalidKey(err error) string {
	for _, c := range []struct {
		err error
		key string
	}{
		{mail.ErrNoText, "msg.invalid.notext"}, {mail.ErrTextTooLong, "msg.invalid.toolong"},
		{mail.ErrNoSubject, "msg.invalid.nosubject"}, {mail.ErrTooManyFiles, "msg.invalid.files"},
		{mail.ErrFileType, "msg.invalid.filetype"}, {mail.ErrFilesTooLarge, "msg.invalid.toolarge"},
		{mail.ErrNotReceived, "msg.invalid.notreceived"}, {mail.ErrNotSavable, "msg.att.notsavable"},
		{errFormUnreadable, "msg.invalid.form"}, {errFileUnreadable, "msg.invalid.form"},
	} {
		if errors.Is(err, c.err) {
			return c.key
		}
	}
	return "msg.invalid.other"
}

func init() {
	for k, v := range map[string][2]string{
		"msg.reason." + string(mail.ReasonBadAddress):     {"l'adresse du destinataire n'est pas valide.", "the recipient's address is not valid."},
		"msg.reason." + string(mail.ReasonUnknownMailbox): {"cette boîte aux lettres n'existe pas.", "this mailbox does not exist."},
		"msg.reason." + string(mail.ReasonSenderDomain):   {"le domaine de l'expéditeur n'est pas dans l'espace de confiance MSSanté.", "the sender's domain is not in the MSSanté trust space."},
		"msg.reason." + string(mail.ReasonRelayDenied):    {"ce destinataire est hors de l'espace de confiance MSSanté.", "this recipient is outside the MSSanté trust space."},
		"msg.reason." + string(mail.ReasonSpaceNotOpen):   {"l'espace santé de ce patient n'est pas ouvert : il ne peut pas recevoir de message.", "this patient's health space is not open: it cannot receive messages."},
		"msg.reason." + string(mail.ReasonDisabled):       {"cette boîte aux lettres ne reçoit plus de message.", "this mailbox no longer receives messages."},
		"msg.reason." + string(mail.ReasonNoReply):        {"ce correspondant ne reçoit pas de réponse.", "this correspondent receives no replies."},
		"msg.reason." + string(mail.ReasonPatientFirst):   {"vous ne pouvez répondre qu'à un professionnel qui vous a écrit, tant qu'il n'a pas clos l'échange.", "you can only answer a professional who wrote to you, until they close the exchange."},
		"msg.reason." + string(mail.ReasonSenderNotOwn):   {"ce message ne peut partir que de votre propre boîte aux lettres.", "this message can only leave from your own mailbox."},
		"msg.reason." + string(mail.ReasonMailboxFull):    {"la boîte aux lettres du destinataire est pleine ; réessayez plus tard.", "the recipient's mailbox is full; try again later."},
		"msg.reason." + string(mail.ReasonTooBig):         {"le message est trop volumineux.", "the message is too large."},
		"msg.reason." + string(mail.ReasonMalformed):      {"le message auquel vous répondez ne peut pas être lu.", "the message you answer cannot be read."},
		"msg.reason." + string(mail.ReasonTLSRequired):    {"une connexion chiffrée est nécessaire.", "an encrypted connection is required."},
		"msg.reason." + string(mail.ReasonAuthRequired):   {"vous devez être connecté.", "you must be signed in."},
		"msg.reason." + string(mail.ReasonAuthFailed):     {"l'identification a échoué.", "the sign-in failed."},
		"msg.reason." + string(mail.ReasonThrottled):      {"trop de messages en peu de temps ; réessayez dans quelques minutes.", "too many messages in a short time; try again in a few minutes."},
		"msg.reason." + string(mail.ReasonTooManyRcpts):   {"trop de destinataires.", "too many recipients."},
		"msg.reason." + string(mail.ReasonTemporary):      {"le service de messagerie est momentanément indisponible ; réessayez plus tard.", "the messaging service is unavailable for now; try again later."},
		"msg.reason." + string(mail.ReasonBadAllowlist):   {"la liste des domaines de confiance n'a pas pu être lue.", "the list of trusted domains could not be read."},
		"msg.reason.other":        {"la messagerie a refusé ce message.", "the messaging refused this message."},
		"msg.invalid.notext":      {"écrivez un message.", "write a message."},
		"msg.invalid.toolong":     {"le message doit être un texte de 100 000 caractères au plus.", "the message must be a text of at most 100,000 characters."},
		"msg.invalid.nosubject":   {"donnez un objet au message.", "give the message a subject."},
		"msg.invalid.files":       {"5 fichiers au plus peuvent être joints.", "at most 5 files can be attached."},
		"msg.invalid.filetype":    {"un fichier joint doit être un PDF, une image JPEG ou PNG.", "an attached file must be a PDF, a JPEG or a PNG image."},
		"msg.invalid.toolarge":    {"les fichiers joints dépassent 10 Mo en tout.", "the attached files exceed 10 MB in all."},
		"msg.invalid.notreceived": {"seul un message reçu peut recevoir une réponse.", "only a message received can be answered."},
		"msg.invalid.form":        {"le formulaire n'a pas pu être lu (fichiers trop volumineux ?).", "the form could not be read (files too large?)."},
		"msg.invalid.other":       {"le message n'est pas valide.", "the message is not valid."},
		"msg.incomplete":          {"Une partie de ce message n'a pas pu être lue : ce qui a pu l'être est affiché.", "Part of this message could not be read: what could be read is shown."},
		"msg.att.broken":          {"pièce jointe illisible", "unreadable attachment"},
		"pro.write.blocked":       {"Vous ne pouvez pas écrire à ce patient : %s", "You cannot write to this patient: %s"},
	} {
		catalogue[k] = v
	}
}

// pageError names, for writeRefusal, an error of a page's own with its catalogue key.
type pageError struct {
	err error
	key string
}

// writeRefusal says, in the reader's language and inside the sentence of format, why a
// message written in the pages was not sent: a refusal of the messaging (403), or something
// wrong with what was typed or attached (400), the page's own errors first, in their order. ok
// is false for any other error, which the caller answers as every page does.
func writeRefusal(l Lang, err error, format string, own ...pageError) (status int, text string, ok bool) {
	var refusal *mail.Refusal
	if errors.As(err, &refusal) {
		return http.StatusForbidden, l.T(format, l.T(refusalKey(refusal.Reason))), true
	}
	for _, e := range own {
		if errors.Is(err, e.err) {
			return http.StatusBadRequest, l.T(format, l.T(e.key)), true
		}
	}
	if errs.Is(err, errs.Invalid) {
		return http.StatusBadRequest, l.T(format, l.T(invalidKey(err))), true
	}
	return 0, "", false
}

// msgFail answers an error of the messages pages: what was wrong with the request in the
// reader's language (never the error's English text), anything else as every page does.
func (w *Web) msgFail(rw http.ResponseWriter, r *http.Request, err error) {
	if !errs.Is(err, errs.Invalid) {
		w.fail(rw, r, err)
		return
	}
	v := struct {
		Page
		Message string
	}{Page: w.page(r, "error.title")}
	v.Message = v.T(invalidKey(err))
	w.render(rw, r, http.StatusBadRequest, "error", v)
}
