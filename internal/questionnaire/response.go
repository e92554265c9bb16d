package questionnaire

import (
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Answer is what the form sent for one question: the options chosen (their ranks in the
// item's answerOption) and the values typed (the answer of a typed question, the "other"
// answer of an open choice).
type Answer struct {
	Options []int
	Values  []string
}

// Answers are the form's answers by linkId.
type Answers map[string]Answer

// What is wrong with an answer, one code each: the pages say it in the reader's language.
const (
	ErrRequired = "required" // a required question left unanswered
	ErrOne      = "one"      // several answers to a question that takes one
	ErrBoolean  = "boolean"
	ErrInteger  = "integer"
	ErrDecimal  = "decimal"
	ErrDate     = "date"
	ErrDateTime = "datetime"
	ErrTooLong  = "toolong" // beyond the item's maxLength (or our bound)
	ErrChoice   = "choice"  // not one of the options
	ErrLine     = "line"    // a line break in a one-line answer
)

// maxAnswer bounds a typed answer without maxLength, in characters.
const maxAnswer = 20000

// FieldErrors are the answers refused, by linkId.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	ids := make([]string, 0, len(f))
	for id := range f {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	b.WriteString("questionnaire answers refused:")
	for _, id := range ids {
		b.WriteString(" " + strconv.Quote(id) + "=" + f[id])
	}
	return b.String()
}

// Response is a FHIR R4 QuestionnaireResponse as encoding/json writes it.
type Response struct {
	ResourceType  string         `json:"resourceType"`
	ID            string         `json:"id,omitempty"`
	Questionnaire string         `json:"questionnaire,omitempty"`
	Status        string         `json:"status"`
	Subject       *Reference     `json:"subject,omitempty"`
	Authored      string         `json:"authored,omitempty"`
	Author        *Reference     `json:"author,omitempty"`
	Item          []ResponseItem `json:"item,omitempty"`
}

// Reference is a FHIR Reference.
type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// Identifier is a FHIR Identifier.
type Identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

// ResponseItem is QuestionnaireResponse.item.
type ResponseItem struct {
	LinkID string         `json:"linkId"`
	Text   string         `json:"text,omitempty"`
	Answer []AnswerValue  `json:"answer,omitempty"`
	Item   []ResponseItem `json:"item,omitempty"`
}

// AnswerValue is QuestionnaireResponse.item.answer: exactly one value[x].
type AnswerValue struct {
	ValueBoolean  *bool       `json:"valueBoolean,omitempty"`
	ValueDecimal  json.Number `json:"valueDecimal,omitempty"`
	ValueInteger  *int64      `json:"valueInteger,omitempty"`
	ValueDate     string      `json:"valueDate,omitempty"`
	ValueDateTime string      `json:"valueDateTime,omitempty"`
	ValueString   string      `json:"valueString,omitempty"`
	ValueCoding   *Coding     `json:"valueCoding,omitempty"`
}

// FHIR R4 decimal, without the exponent a form never sends.
var decimalRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)

// Build checks the answers against the questionnaire and returns the response's items: every
// answer of the right type for its item, required questions answered, one answer where the
// item does not repeat, options among those offered. Dates and times typed without a zone
// are in loc (the patient's, Europe/Paris). A refusal is FieldErrors, by linkId.
func Build(q Questionnaire, a Answers, loc *time.Location) ([]ResponseItem, error) {
	if loc == nil {
		loc = time.UTC
	}
	fe := FieldErrors{}
	items := buildItems(q.Items, a, loc, fe)
	if len(fe) > 0 {
		return nil, fe
	}
	return items, nil
}

func buildItems(items []Item, a Answers, loc *time.Location, fe FieldErrors) []ResponseItem {
	var out []ResponseItem
	for _, it := range items {
		switch it.Type {
		case Display:
			continue
		case Group:
			if sub := buildItems(it.Items, a, loc, fe); len(sub) > 0 {
				out = append(out, ResponseItem{LinkID: it.LinkID, Text: it.Text, Item: sub})
			}
			continue
		}
		values, code := answer(it, a[it.LinkID], loc)
		if code != "" {
			fe[it.LinkID] = code
			continue
		}
		if len(values) > 0 {
			out = append(out, ResponseItem{LinkID: it.LinkID, Text: it.Text, Answer: values})
		}
	}
	return out
}

// answer checks one question's answer and returns its values, or the code of what is wrong.
func answer(it Item, a Answer, loc *time.Location) ([]AnswerValue, string) {
	var typed []string
	for _, v := range a.Values {
		if v = strings.TrimSpace(strings.ReplaceAll(v, "\r\n", "\n")); v != "" {
			typed = append(typed, v)
		}
	}
	n := len(typed) + len(a.Options)
	switch {
	case n == 0 && it.Required:
		return nil, ErrRequired
	case n == 0:
		return nil, ""
	case n > 1 && !it.Repeats:
		return nil, ErrOne
	}
	var out []AnswerValue
	if it.Type == Choice || it.Type == OpenChoice {
		if it.Type == Choice && len(typed) > 0 {
			return nil, ErrChoice
		}
		seen := map[int]bool{}
		for _, o := range a.Options {
			if o < 0 || o >= len(it.Options) || seen[o] {
				return nil, ErrChoice
			}
			seen[o] = true
			opt := it.Options[o]
			if opt.Coding != nil {
				c := *opt.Coding
				out = append(out, AnswerValue{ValueCoding: &c})
			} else {
				out = append(out, AnswerValue{ValueString: opt.String})
			}
		}
		for _, v := range typed {
			if code := checkString(it, v, false); code != "" {
				return nil, code
			}
			out = append(out, AnswerValue{ValueString: v})
		}
		return out, ""
	}
	if len(a.Options) > 0 {
		return nil, ErrChoice
	}
	v := typed[0]
	switch it.Type {
	case Boolean:
		switch strings.ToLower(v) {
		case "true", "oui":
			t := true
			out = append(out, AnswerValue{ValueBoolean: &t})
		case "false", "non":
			f := false
			out = append(out, AnswerValue{ValueBoolean: &f})
		default:
			return nil, ErrBoolean
		}
	case Integer:
		// FHIR integer: 32 bits, signed.
		i, err := strconv.ParseInt(strings.ReplaceAll(v, " ", ""), 10, 32)
		if err != nil {
			return nil, ErrInteger
		}
		out = append(out, AnswerValue{ValueInteger: &i})
	case Decimal:
		// The French decimal comma is what a patient types.
		d := strings.ReplaceAll(strings.ReplaceAll(v, " ", ""), ",", ".")
		if !decimalRE.MatchString(d) || len(d) > 40 {
			return nil, ErrDecimal
		}
		out = append(out, AnswerValue{ValueDecimal: json.Number(d)})
	case Date:
		t, ok := parseDate(v)
		if !ok {
			return nil, ErrDate
		}
		out = append(out, AnswerValue{ValueDate: t.Format("2006-01-02")})
	case DateTime:
		t, ok := parseDateTime(v, loc)
		if !ok {
			return nil, ErrDateTime
		}
		out = append(out, AnswerValue{ValueDateTime: t.Format(time.RFC3339)})
	case String, Text:
		if code := checkString(it, v, it.Type == Text); code != "" {
			return nil, code
		}
		out = append(out, AnswerValue{ValueString: v})
	}
	return out, ""
}

func checkString(it Item, v string, multiline bool) string {
	if !utf8.ValidString(v) {
		return ErrTooLong
	}
	n := utf8.RuneCountInString(v)
	if (it.MaxLength > 0 && n > it.MaxLength) || n > maxAnswer {
		return ErrTooLong
	}
	if !multiline && strings.ContainsAny(v, "\r\n") {
		return ErrLine
	}
	return ""
}

// parseDate reads a date as a browser's date input sends it (2006-01-02) or as a French
// patient types it (02/01/2006).
func parseDate(v string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02", "02/01/2006"} {
		if t, err := time.Parse(layout, v); err == nil && t.Year() >= 1800 && t.Year() <= 2200 {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseDateTime reads a date and time as a browser's datetime-local input sends it, or typed
// the French way, in loc: FHIR wants a zone on a dateTime with a time.
func parseDateTime(v string, loc *time.Location) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "02/01/2006 15:04"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil && t.Year() >= 1800 && t.Year() <= 2200 {
			return t, true
		}
	}
	return time.Time{}, false
}

// Answered reads back the answers a response holds, by linkId, for the form shown read-only.
func Answered(r Response) map[string][]AnswerValue {
	out := map[string][]AnswerValue{}
	var walk func([]ResponseItem)
	walk = func(items []ResponseItem) {
		for _, it := range items {
			if len(it.Answer) > 0 {
				out[it.LinkID] = it.Answer
			}
			walk(it.Item)
		}
	}
	walk(r.Item)
	return out
}

// Display is how a page shows an answer value.
func (v AnswerValue) Display(boolTrue, boolFalse string, loc *time.Location) string {
	switch {
	case v.ValueBoolean != nil && *v.ValueBoolean:
		return boolTrue
	case v.ValueBoolean != nil:
		return boolFalse
	case v.ValueInteger != nil:
		return strconv.FormatInt(*v.ValueInteger, 10)
	case v.ValueDecimal != "":
		return strings.ReplaceAll(string(v.ValueDecimal), ".", ",")
	case v.ValueDate != "":
		if t, err := time.Parse("2006-01-02", v.ValueDate); err == nil {
			return t.Format("02/01/2006")
		}
		return v.ValueDate
	case v.ValueDateTime != "":
		if t, err := time.Parse(time.RFC3339, v.ValueDateTime); err == nil {
			if loc != nil {
				t = t.In(loc)
			}
			return t.Format("02/01/2006 15:04")
		}
		return v.ValueDateTime
	case v.ValueCoding != nil:
		if v.ValueCoding.Display != "" {
			return v.ValueCoding.Display
		}
		return v.ValueCoding.Code
	}
	return v.ValueString
}

// ParseResponse reads a stored response (ours: written by Build and the service).
func ParseResponse(b []byte) (Response, error) {
	var r Response
	if err := json.Unmarshal(b, &r); err != nil {
		return Response{}, err
	}
	if r.ResourceType != "QuestionnaireResponse" {
		return Response{}, invalid("resourceType", "la ressource n'est pas une QuestionnaireResponse")
	}
	return r, nil
}
