package mail

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/carnet-sante/carnet/internal/access"
	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/errs"
)

// The patient's answer to a questionnaire (internal/questionnaire) leaves as a reply in the
// conversation with the QuestionnaireResponse attached. The portal's replies otherwise carry
// only what the patient uploads, PDF and images by their magic numbers (checkFiles): this is
// the one other kind of file, made by carnet and checked here to be a FHIR
// QuestionnaireResponse in JSON, never a file the browser sent.

// ResponseFileName and ResponseMimeType name the attached response (FHIR R4 §2.6.2: the
// media type of FHIR JSON).
const (
	ResponseFileName = "QuestionnaireResponse.json"
	ResponseMimeType = "application/fhir+json"
)

// maxResponseBytes bounds an attached response (our default): far above any form's answers.
const maxResponseBytes = 2 << 20

// ErrNotResponse refuses a file that is not a QuestionnaireResponse.
var ErrNotResponse = errs.E(errs.Invalid, "only a FHIR QuestionnaireResponse can be attached this way")

// ReplyWithResponse answers, from the patient's mailbox, the professional of the thread of
// message id with body and the QuestionnaireResponse response attached. Everything of Reply
// applies: the decision (access.ActionSendMail, traced), the rules of the messaging ([FIN],
// no-reply, a professional who wrote first), the Sent copy.
func (p *Portal) ReplyWithResponse(ctx context.Context, actor access.Actor, ch audit.Channel, id int64, body string, response []byte) (Receipt, error) {
	if err := checkText(body); err != nil {
		return Receipt{}, err
	}
	if len(response) == 0 || len(response) > maxResponseBytes || !json.Valid(response) {
		return Receipt{}, ErrNotResponse
	}
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.NewDecoder(bytes.NewReader(response)).Decode(&head); err != nil || head.ResourceType != "QuestionnaireResponse" {
		return Receipt{}, ErrNotResponse
	}
	f := File{Name: ResponseFileName, MimeType: ResponseMimeType, Data: response}
	return p.reply(ctx, actor, ch, id, body, []File{f})
}

// ReplyState says whether the message can still be answered, for a page that offers to.
type ReplyState struct {
	Ended   bool // the professional ended the exchange ([FIN])
	NoReply bool // an applicative (no-reply) mailbox sent it
	Remote  bool // another operator's professional sent it
}

// ReplyState tells, for message id of the actor's patient's mailbox, what Thread tells of its
// conversation, without reading the conversation: the page of a questionnaire it carries
// shows no form that the messaging would refuse. It is decided and traced as a read of the
// message (access.ActionReadMail); another's is answered as absent.
func (p *Portal) ReplyState(ctx context.Context, actor access.Actor, ch audit.Channel, id int64) (ReplyState, error) {
	it, err := p.item(ctx, actor, ch, id, access.ActionReadMail)
	if err != nil {
		return ReplyState{}, err
	}
	if it.Folder != "INBOX" {
		return ReplyState{}, ErrNotReceived
	}
	var st ReplyState
	from := it.Message.HeaderFrom
	err = p.store.ViewPortal(ctx, func(tx PortalTx) error {
		pt, err := tx.Patient(ctx, it.PatientID)
		if err != nil {
			return err
		}
		c, err := tx.Conversation(ctx, p.mail.PatientAddress(pt.INS.Matricule).String(), from)
		switch {
		case errs.Is(err, errs.NotFound):
		case err != nil:
			return err
		default:
			st.Ended = !c.EndedAt.IsZero()
		}
		if a, err := ParseAddress(from); err == nil && !p.mail.IsLocal(a.Domain) {
			st.Remote = true
		} else if m, err := tx.MailboxByAddress(ctx, from); err == nil && m.Kind == APP {
			st.NoReply = true
		}
		return nil
	})
	return st, err
}
