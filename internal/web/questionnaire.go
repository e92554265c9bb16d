package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/carnet-sante/carnet/internal/auth"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/questionnaire"
	"github.com/carnet-sante/carnet/internal/record"
)

// The questionnaires professionals send to patients (internal/questionnaire): the
// conversation shows each one a message carries, with a link to its form; the form is made
// here from the questionnaire's items, with the DSFR's form components, and its answers go
// back to the sender as a reply (Service.Answer). A questionnaire answered is shown read-only.
// Questionnaires are named in URLs by carnet's id, never by anything they say.

// SetQuestionnaires gives the pages the questionnaires, which `carnet serve` starts with the
// messaging. Until it is set, the questionnaires' pages are not found and the conversations
// show none.
func (w *Web) SetQuestionnaires(s *questionnaire.Service) { w.questionnaires = s }

// questionnaireRoutes mounts the form pages, for one's own space and a represented one's.
func (w *Web) questionnaireRoutes() {
	for _, base := range []struct {
		prefix string
		wrap   func(func(http.ResponseWriter, *http.Request, auth.Identity, record.Request)) http.HandlerFunc
	}{{"/moi", w.patient}, {"/proches/{patient}", w.represented}} {
		w.mux.HandleFunc("GET "+base.prefix+"/questionnaires/{id}", base.wrap(w.questionnaireForm))
		w.mux.HandleFunc("POST "+base.prefix+"/questionnaires/{id}", base.wrap(w.questionnaireAnswer))
	}
}

// qOffer is a questionnaire as a conversation shows it.
type qOffer struct {
	ID, Title string
	Answered  bool
}

// threadQuestionnaires lists, by message, the questionnaires the received messages of a
// conversation carry. The conversation shows without them if they cannot be listed.
func (w *Web) threadQuestionnaires(r *http.Request, req record.Request, l Lang, t mail.Thread) map[string][]qOffer {
	if w.questionnaires == nil {
		return nil
	}
	var ids []int64
	for _, m := range t.Messages {
		if m.Incoming {
			ids = append(ids, m.ID)
		}
	}
	offers, err := w.questionnaires.Offered(r.Context(), req.Actor, req.Channel, req.Actor.PatientID, ids)
	if err != nil {
		w.d.Log.Warn("questionnaires of a conversation not listed", "err", err)
		return nil
	}
	out := map[string][]qOffer{}
	for _, o := range offers {
		title := o.Title
		if title == "" {
			title = l.T("q.untitled")
		}
		k := strconv.FormatInt(o.DeliveryID, 10)
		out[k] = append(out[k], qOffer{ID: strconv.FormatInt(o.ID, 10), Title: title, Answered: o.Answered})
	}
	return out
}

// qField is an item of the form: a group with its items, a text shown, or a question.
type qField struct {
	Name     string // the form field's name
	Kind     string // the item's type
	Label    string
	Prefix   string
	Required bool
	Repeats  bool
	ReadOnly bool
	Max      int
	Hint     string
	Error    string
	Value    string // what was typed (shown again after an error)
	Other    string // an open choice's other answer
	Options  []qOption
	Answers  []string // an answered questionnaire's answers, as shown
	Items    []qField // a group's
	Level    int      // a group's heading level
	// The texts the sub-template needs, which has no page to translate with.
	Yes, No, OtherLabel, RequiredLabel, NoAnswer string
}

type qOption struct {
	Value, Label string
	Checked      bool
}

type qView struct {
	patientPage
	ID, MessageID  string
	QTitle, Sender string
	Items          []qField
	Answered       bool
	AnsweredAt     string
	Done           bool
	Error          string
	FieldErrors    bool
	Closed         string // why the form cannot be sent ([FIN], a no-reply sender); "" when it can
}

// questionnaireForm: GET /moi/questionnaires/{id}.
func (w *Web) questionnaireForm(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if w.questionnaires == nil {
		w.notFound(rw, r)
		return
	}
	qid, ok := pathID(r, "id")
	if !ok {
		w.notFound(rw, r)
		return
	}
	f, err := w.questionnaires.Form(r.Context(), req.Actor, req.Channel, qid)
	if err != nil {
		w.qFail(rw, r, err)
		return
	}
	v := w.qView(r, id, f, nil, nil)
	v.Done = r.FormValue("fait") == "envoye" && v.Answered
	w.render(rw, r, http.StatusOK, "questionnaire", v)
}

// questionnaireAnswer: POST /moi/questionnaires/{id}: the answers, sent to the professional.
func (w *Web) questionnaireAnswer(rw http.ResponseWriter, r *http.Request, id auth.Identity, req record.Request) {
	if w.questionnaires == nil {
		w.notFound(rw, r)
		return
	}
	qid, ok := pathID(r, "id")
	if !ok {
		w.notFound(rw, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		w.msgFail(rw, r, errors.Join(errs.E(errs.Invalid, "the form could not be read"), errFormUnreadable))
		return
	}
	f, err := w.questionnaires.Form(r.Context(), req.Actor, req.Channel, qid)
	if err != nil {
		w.qFail(rw, r, err)
		return
	}
	answers := answersOf(f.Questionnaire, r)
	_, err = w.questionnaires.Answer(r.Context(), req.Actor, req.Channel, qid, answers)
	if err == nil {
		http.Redirect(rw, r, baseOf(r)+"/questionnaires/"+strconv.FormatInt(qid, 10)+"?fait=envoye", http.StatusSeeOther)
		return
	}
	var fe questionnaire.FieldErrors
	var refusal *mail.Refusal
	status := http.StatusBadRequest
	l := language(r)
	var msg string
	switch {
	case errors.As(err, &fe):
	case errors.As(err, &refusal):
		status = http.StatusForbidden
		msg = l.T(refusalKey(refusal.Reason))
		if refusal.Reason == mail.ReasonPatientFirst {
			// The professional wrote first (the questionnaire came in their message): what
			// stops the answer is the end of the exchange.
			msg = l.T("q.ended")
		}
	case errors.Is(err, questionnaire.ErrAnswered):
		status = http.StatusConflict
		msg = l.T("q.already")
		if f2, ferr := w.questionnaires.Form(r.Context(), req.Actor, req.Channel, qid); ferr == nil {
			f = f2
		}
	case errs.Is(err, errs.Invalid):
		msg = l.T(invalidKey(err))
	default:
		w.qFail(rw, r, err)
		return
	}
	v := w.qView(r, id, f, answers, fe)
	if msg != "" {
		v.Error = v.T("q.refused", msg)
	}
	w.render(rw, r, status, "questionnaire", v)
}

// qFail answers an error of the questionnaires' pages.
func (w *Web) qFail(rw http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, questionnaire.ErrNotReady) {
		v := struct {
			Page
			Message string
		}{Page: w.page(r, "error.title")}
		v.Message = v.T("q.unreadable")
		w.render(rw, r, http.StatusServiceUnavailable, "error", v)
		return
	}
	w.fail(rw, r, err)
}

// fieldName names a question's field by its rank among the questions: a linkId is the
// sender's text, kept out of the page's names.
func fieldName(i int) string { return "q" + strconv.Itoa(i) }

// answersOf reads the form's answers, by linkId.
func answersOf(q questionnaire.Questionnaire, r *http.Request) questionnaire.Answers {
	out := questionnaire.Answers{}
	for i, it := range q.Questions() {
		name := fieldName(i)
		var a questionnaire.Answer
		switch it.Type {
		case questionnaire.Choice, questionnaire.OpenChoice:
			for _, v := range r.PostForm[name] {
				n, err := strconv.Atoi(v)
				if err != nil {
					n = -1 // not an option: refused as such
				}
				a.Options = append(a.Options, n)
			}
			if it.Type == questionnaire.OpenChoice {
				a.Values = append(a.Values, r.PostForm[name+"-autre"]...)
			}
		default:
			a.Values = r.PostForm[name]
		}
		out[it.LinkID] = a
	}
	return out
}

// qView builds the form's page: the questionnaire's items, the answers given (read-only)
// or typed (after an error), and the errors next to their fields.
func (w *Web) qView(r *http.Request, id auth.Identity, f questionnaire.Form, typed questionnaire.Answers, fe questionnaire.FieldErrors) qView {
	v := qView{patientPage: w.patientPage(r, id, "q.title", "messages"), ID: strconv.FormatInt(f.Received.ID, 10),
		MessageID: strconv.FormatInt(f.Received.DeliveryID, 10), QTitle: f.Questionnaire.DisplayTitle(), FieldErrors: len(fe) > 0}
	if v.QTitle == "" {
		v.QTitle = v.T("q.untitled")
	}
	switch {
	case f.Response != nil:
	case f.Reply.Ended:
		v.Closed = v.T("q.closed.ended")
	case f.Reply.NoReply:
		v.Closed = v.T("q.closed.noreply")
	}
	v.Title = v.QTitle
	v.Sender = v.T("q.from", f.Received.SenderName, frDateTime(f.Received.ReceivedAt))
	var given map[string][]questionnaire.AnswerValue
	if f.Response != nil {
		v.Answered = true
		given = questionnaire.Answered(*f.Response)
		if f.Received.Response != nil {
			v.AnsweredAt = frDateTime(f.Received.Response.AuthoredAt)
		}
	}
	b := qBuilder{v: &v, typed: typed, fe: fe, given: given, loc: w.questionnaires.Location()}
	v.Items = b.fields(f.Questionnaire.Items, 2)
	return v
}

type qBuilder struct {
	v     *qView
	typed questionnaire.Answers
	fe    questionnaire.FieldErrors
	given map[string][]questionnaire.AnswerValue
	loc   *time.Location
	n     int // questions seen, for their fields' names
}

func (b *qBuilder) fields(items []questionnaire.Item, level int) []qField {
	var out []qField
	l := b.v.Lang
	for _, it := range items {
		f := qField{Kind: string(it.Type), Label: it.Text, Prefix: it.Prefix, Required: it.Required, Repeats: it.Repeats,
			ReadOnly: b.v.Answered, Max: it.MaxLength, Yes: l.T("q.yes"), No: l.T("q.no"), OtherLabel: l.T("q.other"),
			RequiredLabel: l.T("q.required"), NoAnswer: l.T("q.noanswer")}
		switch it.Type {
		case questionnaire.Group:
			f.Level = min(level, 6)
			f.Items = b.fields(it.Items, level+1)
			out = append(out, f)
			continue
		case questionnaire.Display:
			out = append(out, f)
			continue
		}
		f.Name = fieldName(b.n)
		b.n++
		switch it.Type {
		case questionnaire.Date:
			f.Hint = l.T("q.hint.date")
		case questionnaire.DateTime:
			f.Hint = l.T("q.hint.datetime")
		case questionnaire.Integer:
			f.Hint = l.T("q.hint.integer")
		case questionnaire.Decimal:
			f.Hint = l.T("q.hint.decimal")
		}
		if it.MaxLength > 0 {
			f.Hint = l.T("q.hint.max", it.MaxLength)
		}
		if it.Repeats {
			f.Hint = l.T("q.hint.repeats")
		}
		if code, ok := b.fe[it.LinkID]; ok {
			key := "q.err." + code
			if _, known := catalogue[key]; !known {
				key = "q.err.other"
			}
			f.Error = l.T(key)
		}
		typed := b.typed[it.LinkID]
		chosen := map[int]bool{}
		for _, o := range typed.Options {
			chosen[o] = true
		}
		if len(typed.Values) > 0 {
			if it.Type == questionnaire.OpenChoice {
				f.Other = typed.Values[0]
			} else {
				f.Value = typed.Values[0]
			}
		}
		for i, o := range it.Options {
			f.Options = append(f.Options, qOption{Value: strconv.Itoa(i), Label: o.Label(), Checked: chosen[i]})
		}
		if it.Type == questionnaire.Boolean {
			f.Options = []qOption{{Value: "true", Label: f.Yes, Checked: f.Value == "true"}, {Value: "false", Label: f.No, Checked: f.Value == "false"}}
		}
		if b.v.Answered {
			for _, a := range b.given[it.LinkID] {
				f.Answers = append(f.Answers, a.Display(f.Yes, f.No, b.loc))
			}
		}
		out = append(out, f)
	}
	return out
}
